"""Generated NumPy modules: gradients against finite differences and the derivation, both batch
paths, no SymPy at run time, byte-identical regeneration, ruff, extreme inputs, bad input."""

import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp
from corpus import NETWORKS, network
from oracles import central_differences

import symbackprop as sb
from symbackprop import naming
from symbackprop.errors import InputError
from symbackprop.parse import FUNCTIONS, parse_expr

RNG = np.random.default_rng(2024)


def sample_data(graph, batch=None):
    """Random parameters, inputs and targets (targets on the simplex for softmax + cross-entropy)."""
    shape = (len(graph.targets),) if batch is None else (batch, len(graph.targets))
    targets = RNG.uniform(0.05, 1.0, size=shape)
    if graph.fused:
        targets /= targets.sum(axis=-1, keepdims=True)
    inputs = RNG.uniform(-1.5, 1.5, size=(len(graph.inputs),) if batch is None else (batch, len(graph.inputs)))
    return RNG.uniform(-1.0, 1.0, size=len(graph.params)), inputs, targets


@pytest.fixture(scope="module", params=list(NETWORKS))
def compiled(request):
    graph = network(request.param)
    return graph, sb.compile(sb.backprop(graph))


def test_one_sample_matches_finite_differences_and_the_closed_forms(compiled):
    graph, module = compiled
    theta, x, y = sample_data(graph)
    J, gradients = module.loss_and_gradients(theta.tolist(), x.tolist(), y.tolist())
    assert isinstance(gradients, list) and len(gradients) == len(module.PARAMETERS) == len(graph.params)
    assert J == pytest.approx(module.loss(theta.tolist(), x.tolist(), y.tolist()), rel=1e-15)
    numeric = central_differences(lambda th: module.loss(th.tolist(), x.tolist(), y.tolist()), theta)
    np.testing.assert_allclose(gradients, numeric, rtol=1e-6, atol=1e-8)
    assert module.gradients(theta.tolist(), x.tolist(), y.tolist()) == gradients
    d = sb.backprop(graph)
    values = dict(zip(graph.params, theta)) | dict(zip(graph.inputs, x)) | dict(zip(graph.targets, y))
    closed = [float(d[p].subs(values).evalf()) for p in graph.params[:3]]
    np.testing.assert_allclose(gradients[:3], closed, rtol=1e-12, atol=1e-14)
    assert J == pytest.approx(float(graph.loss.subs(values).evalf()), rel=1e-12)


def test_a_batch_gives_the_mean_loss_and_its_gradient(compiled):
    graph, module = compiled
    theta, X, Y = sample_data(graph, batch=7)
    J, gradients = module.loss_and_gradients(theta, X, Y)
    per_sample = [module.loss_and_gradients(theta.tolist(), x.tolist(), y.tolist()) for x, y in zip(X, Y)]
    assert J == pytest.approx(np.mean([j for j, _ in per_sample]), rel=1e-12)
    np.testing.assert_allclose(gradients, np.mean([g for _, g in per_sample], axis=0), rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(module.gradients(theta, X, Y), gradients)
    outputs = module.forward(theta, X)
    assert outputs.shape == (7, len(module.OUTPUTS))
    np.testing.assert_allclose(outputs[2], module.forward(theta.tolist(), X[2].tolist()), rtol=1e-12)


def test_networks_batch_layer_by_layer_in_their_matrix_form():
    """A network's batch runs the statements of the matrix form's module, equations included;
    a derivation for some parameters only runs neuron by neuron."""
    for name, spec in NETWORKS.items():
        source = sb.numpy_module(sb.backprop(network(name)))
        batch = source[source.index("def _batch_values"):source.index("def _is_finite")].splitlines()
        matrix = sb.numpy_module(sb.backprop(sb.mlp(**spec, form="matrix")))
        body = matrix[matrix.index("def _loss_and_gradients"):matrix.index("def _gradients")].splitlines()[1:]
        # the same equations, each computing the same name (products may be spelled for another memory order)
        statements = [line.split(" = ")[0] if not line.lstrip().startswith("#") else line for line in body if line and "return" not in line]
        assert statements and all(any(line == statement or line.startswith(statement + " = ") for line in batch) for statement in statements), name
        assert not any(line.lstrip().startswith(("z_1 =", "delta_1 =", "a_1 =")) for line in batch), name  # nothing per neuron
    source = sb.numpy_module(sb.backprop(sb.mlp([2, 2, 2], bias="per_layer")))
    assert "    # ∂J/∂W_1 = δ_Z_1 Xᵀ\n    dJ_dW_1 = delta_Z_1 @ X.T\n" in source
    graph = sb.mlp([2, 2, 1])
    some = sb.numpy_module(sb.backprop(graph, wrt=graph.params[:3]))
    assert "one array per neuron" in some and "delta_Z_1" not in some and "    z_1 = " in some


def test_a_batch_takes_the_parameters_in_the_order_derived():
    graph = sb.mlp([2, 3, 2], activation=["tanh", "softmax"], loss="cross_entropy")
    wrt = list(reversed(graph.params))
    module = sb.compile(sb.backprop(graph, wrt=wrt))
    assert module.PARAMETERS == tuple(p.name for p in wrt)
    theta, X, Y = sample_data(graph, batch=6)
    J, gradients = module.loss_and_gradients(theta, X, Y)
    per_sample = [module.loss_and_gradients(theta.tolist(), x.tolist(), y.tolist()) for x, y in zip(X, Y)]
    assert J == pytest.approx(np.mean([j for j, _ in per_sample]), rel=1e-12)
    np.testing.assert_allclose(gradients, np.mean([g for _, g in per_sample], axis=0), rtol=1e-10, atol=1e-13)
    numeric = central_differences(lambda th: module.loss(th, X, Y), theta)
    np.testing.assert_allclose(gradients, numeric, rtol=1e-6, atol=1e-8)


def test_expressions_batch_neuron_by_neuron_over_their_inputs():
    x, w, b = sp.symbols("x w b")
    expr = sb.softplus(w * x + b) * sp.tanh(x) + w**2
    module = sb.compile(sb.backprop(expr, wrt=[w, b]))
    assert module.PARAMETERS == ("b", "w") or module.PARAMETERS == ("w", "b")
    assert module.INPUTS == ("x",) and module.TARGETS == ()
    theta = np.array([0.3, -0.7])
    X = RNG.uniform(-2, 2, size=(5, 1))
    J, gradients = module.loss_and_gradients(theta, X, np.empty((5, 0)))
    per_sample = [module.loss_and_gradients(theta.tolist(), [float(v)], []) for v in X[:, 0]]
    assert J == pytest.approx(np.mean([j for j, _ in per_sample]), rel=1e-12)
    np.testing.assert_allclose(gradients, np.mean([g for _, g in per_sample], axis=0), rtol=1e-12)
    numeric = central_differences(lambda th: module.loss(th.tolist(), [0.4], []), theta)
    np.testing.assert_allclose(module.loss_and_gradients(theta.tolist(), [0.4], [])[1], numeric, rtol=1e-6)


def test_a_sigmoid_of_parameters_alone_is_one_number_for_the_batch():
    a, b, x = sp.symbols("a b x")
    module = sb.compile(sb.backprop(sb.sigmoid(a * b) + x * sb.sigmoid(-800 * a), wrt=[a, b]))
    theta, X = [0.3, -0.5], np.array([[0.2], [-1.0], [0.7]])
    J, gradients = module.loss_and_gradients(theta, X, np.empty((3, 0)))
    per_sample = [module.loss_and_gradients(theta, [float(v)], []) for v in X[:, 0]]
    assert J == pytest.approx(np.mean([j for j, _ in per_sample]), rel=1e-14)
    np.testing.assert_allclose(gradients, np.mean([g for _, g in per_sample], axis=0), rtol=1e-13)


def test_extreme_pre_activations_stay_finite_and_silent():
    for spec in (dict(layers=[1, 2, 1], loss="bce"), dict(layers=[1, 2, 3], activation=["softplus", "softmax"], loss="cross_entropy"),
                 dict(layers=[1, 2, 1], activation=["tanh", "sigmoid"])):
        graph = sb.mlp(**spec)
        module = sb.compile(sb.backprop(graph))
        theta = np.full(len(graph.params), 400.0)
        theta[1::2] = -400.0
        targets = [1.0] + [0.0] * (len(graph.targets) - 1)
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("error")
            for x in ([2.0], [-2.0]):
                J, g = module.loss_and_gradients(theta.tolist(), x, targets)
                assert np.isfinite(J) and np.all(np.isfinite(g)), spec
            J, g = module.loss_and_gradients(theta, np.array([[2.0], [-2.0]]), np.array([targets, targets]))
            assert np.isfinite(J) and np.all(np.isfinite(g)), spec


def test_inputs_as_tuples_arrays_ints_and_nested_lists():
    module = sb.compile(sb.backprop(sb.mlp([2, 2, 1])))
    theta = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.1, 0.2, 0.3]
    J, g = module.loss_and_gradients(theta, [1.0, 0.0], [1.0])
    for args in ((tuple(theta), (1.0, 0.0), (1.0,)), (np.array(theta), np.array([1.0, 0.0]), np.array([1.0])), (theta, [1, 0], [1])):
        J2, g2 = module.loss_and_gradients(*args)
        assert J2 == J and g2 == g
    J3, g3 = module.loss_and_gradients(theta, [[1, 0], [1, 0]], [[1], [1]])
    assert J3 == pytest.approx(J, rel=1e-14)
    np.testing.assert_allclose(g3, g, rtol=1e-13)


def test_variables_named_like_the_module_own_names():
    """A variable called loss, forward or _sigmoid must not shadow the module's own functions."""
    names = ["loss", "forward", "gradients", "_sigmoid", "function", "rows"]
    clashing, plain = sp.symbols(names), sp.symbols([f"q{i}" for i in range(len(names))])

    def module(s):
        return sb.compile(sb.backprop(sb.sigmoid(s[3] * s[0]) + s[1] ** 2 * s[4] - sb.sigmoid(s[5] - s[2]), wrt=list(s[:3])))

    ours, reference = module(clashing), module(plain)
    theta = np.array([0.3, -0.7, 1.1])
    for inputs in (RNG.uniform(-1, 1, (5, 3)), RNG.uniform(-1, 1, 3)):
        targets = np.empty(inputs.shape[:-1] + (0,))
        for function in ("forward", "loss", "loss_and_gradients", "gradients"):
            given = (theta, inputs) if function == "forward" else (theta, inputs, targets)
            assert repr(getattr(ours, function)(*given)) == repr(getattr(reference, function)(*given)), function


@pytest.mark.parametrize("args, message", [
    (([0.1] * 8, [1.0, 0.0], [1.0]), r"params must hold 9 values \(w1, w2, w3, w4, w5, w6, b1, b2, b3\); got 8"),
    (([0.1] * 9, [1.0, 0.0, 2.0], [1.0]), r"inputs must hold 2 values \(x1, x2\); got 3"),
    (([0.1] * 9, [1.0, 0.0], [1.0, 2.0]), r"targets must hold 1 values \(y1\); got 2"),
    (([0.1] * 9, np.ones((3, 3)), np.ones((3, 1))), r"inputs must have shape \(batch, 2\) for x1, x2; got \(3, 3\)"),
    (([0.1] * 9, np.ones((3, 2)), np.ones((4, 1))), r"got 3 input rows but 4 target rows"),
    ((np.ones(5), np.ones((3, 2)), np.ones((3, 1))), r"params must hold 9 values \(w1, .*, b3\); got shape \(5,\)"),
])
def test_bad_shapes_get_clear_errors(args, message):
    module = sb.compile(sb.backprop(sb.mlp([2, 2, 1])))
    with pytest.raises(ValueError, match=message):
        module.loss_and_gradients(*args)


def test_generated_module_runs_without_sympy_or_symbackprop(tmp_path):
    graph = network("2-3-3-2 relu/tanh/sigmoid bce")
    (tmp_path / "grads.py").write_text(sb.numpy_module(sb.backprop(graph)), encoding="utf-8")
    theta, x, y = sample_data(graph)
    script = (
        "import json, sys\n"
        "sys.modules['sympy'] = None\n"
        "sys.modules['symbackprop'] = None\n"
        "import grads\n"
        "args = json.loads(sys.argv[1])\n"
        "print(json.dumps(grads.loss_and_gradients(*args)))\n"
    )
    args = json.dumps([theta.tolist(), x.tolist(), y.tolist()])
    out = subprocess.run([sys.executable, "-c", script, args], cwd=tmp_path, capture_output=True, text=True, check=True)
    J, gradients = json.loads(out.stdout)
    expected_J, expected = sb.compile(sb.backprop(graph)).loss_and_gradients(theta.tolist(), x.tolist(), y.tolist())
    assert J == expected_J and gradients == expected


def test_regeneration_is_byte_identical_across_processes():
    script = ("import symbackprop as sb, hashlib;"
              "print(hashlib.sha256(sb.numpy_module(sb.backprop(sb.mlp([2, 3, 2], activation=['relu', 'softmax'],"
              " loss='cross_entropy', bias='per_layer'))).encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(digests) == 1


def test_generated_modules_pass_ruff(tmp_path):
    x, y = sp.symbols("x y")
    t = sp.Symbol("t")
    functions = parse_expr(" + ".join(FUNCTION_CASES.values())) + sp.Piecewise((x**2, x * t > 0), (x, True)) + sp.Heaviside(x - t) * x
    sources = [sb.backprop(network(name)) for name in NETWORKS] + [sb.backprop(sb.sigmoid(x) * y + x, wrt=[y]),
                                                                   sb.backprop(functions, wrt=[x, y])]
    for i, d in enumerate(sources):
        (tmp_path / f"module_{i}.py").write_text(sb.numpy_module(d), encoding="utf-8")
    ruff = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")  # a test dependency
    run = subprocess.run([ruff, "check", "--isolated", "--no-cache", str(tmp_path)], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


# One formula per function the parser offers, defined and off every kink at POINT.
FUNCTION_CASES = {
    "exp": "exp(x*y)", "log": "log(x + 3)*y", "ln": "ln(x*y + 2)", "sqrt": "sqrt(x + 3)*y", "abs": "abs(x)*y",
    "sign": "sign(x)*y + x", "sin": "sin(x*y)", "cos": "cos(x)*y", "tan": "tan(x*y)", "asin": "asin(x/2)*y",
    "acos": "acos(x/2)*y", "atan": "atan(x*y)", "arcsin": "arcsin(y/2)*x", "arccos": "arccos(y/2)*x", "arctan": "arctan(y)*x",
    "atan2": "atan2(y, x + 2)", "sinh": "sinh(x*y)", "cosh": "cosh(x)*y", "tanh": "tanh(x*y)", "asinh": "asinh(x*y)",
    "acosh": "acosh(x + 2)*y", "atanh": "atanh(x/2)*y", "erf": "erf(x*y)", "erfc": "erfc(x)*y", "sinc": "sinc(pi*x)*y",
    "max": "max(x, y, 1/2)*x", "min": "min(x, y)*y", "sigmoid": "sigmoid(x*y)", "σ": "σ(x)*y", "relu": "relu(x)*y",
    "leaky_relu": "leaky_relu(y)*x", "softplus": "softplus(x*y)",
    # as SymPy and the library print them
    "Abs": "Abs(x)*y", "Max": "Max(x, y)*x", "Min": "Min(x, y)*y", "Heaviside": "Heaviside(x)*y + x",
    "sinc_derivative": "sinc_derivative(x*y)", "softmax": "softmax(1, x*y, y)*x",
}
x_, y_ = sp.symbols("x y")
POINT = {x_: 0.8, y_: -0.6}


def test_every_function_the_parser_offers_has_a_case():
    assert set(FUNCTION_CASES) == set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTION_CASES)
def test_every_offered_function_derives_like_sympy_diff_and_generates_code_that_matches_finite_differences(name):
    expr = parse_expr(FUNCTION_CASES[name])
    real = {s: sp.Symbol(s.name, real=True) for s in (x_, y_)}  # formulas are functions of real variables
    d = sb.backprop(expr, wrt=[x_, y_])
    for p in (x_, y_):
        oracle = sp.diff(expr.xreplace(real), real[p]).xreplace({real[s]: v for s, v in POINT.items()})
        assert float(d[p].xreplace(POINT).evalf()) == pytest.approx(float(oracle.evalf()), rel=1e-10, abs=1e-12), p
    module = sb.compile(d)
    theta = [POINT[sp.Symbol(n)] for n in module.PARAMETERS]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradients = module.gradients(theta, [], [])
        numeric = central_differences(lambda th: module.loss(th.tolist(), [], []), theta)
        np.testing.assert_allclose(gradients, numeric, rtol=1e-6, atol=1e-8)
        # y as an input: a batch of several values runs on arrays and gives the mean of the samples
        by_sample = sb.compile(sb.backprop(expr, wrt=[x_]))
        Y = np.array([[-0.6], [-0.3], [0.4]])
        J_batch, g_batch = by_sample.loss_and_gradients([0.8], Y, np.empty((3, 0)))
        per_sample = [by_sample.loss_and_gradients([0.8], [float(v)], []) for v in Y[:, 0]]
    assert J_batch == pytest.approx(np.mean([j for j, _ in per_sample]), rel=1e-12)
    np.testing.assert_allclose(g_batch, np.mean([g for _, g in per_sample], axis=0), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("expr, message", [
    (sp.erfinv(x_) * y_, r"^erfinv has no NumPy function: code generation of erfinv needs scipy\.special, not supported$"),
    (sp.loggamma(x_) * y_, r"^digamma has no NumPy function: code generation of digamma needs scipy\.special"),
    (sp.gamma(x_) * y_, r"^digamma has no NumPy function"),
    (sp.digamma(x_) * y_, r"^digamma has no NumPy function"),
])
def test_functions_numpy_cannot_compute_are_refused_before_any_code(expr, message):
    d = sb.backprop(expr)  # they derive
    with pytest.raises(InputError, match=message):
        sb.numpy_module(d)


def test_gamma_and_erf_of_values_run_elementwise_on_a_batch():
    x, t = sp.symbols("x t")
    module = sb.compile(sb.backprop(sp.gamma(t) * x + sp.loggamma(t) * x**2 + sp.erf(t * x), wrt=[x]))  # t: an input
    T = np.array([[0.5], [1.5], [3.0]])
    J, g = module.loss_and_gradients([0.7], T, np.empty((3, 0)))
    per_sample = [module.loss_and_gradients([0.7], [float(v)], []) for v in T[:, 0]]
    assert J == pytest.approx(np.mean([j for j, _ in per_sample]), rel=1e-12)
    np.testing.assert_allclose(g, np.mean([s for _, s in per_sample], axis=0), rtol=1e-12)
    numeric = central_differences(lambda th: module.loss(th.tolist(), [1.5], []), [0.7])
    np.testing.assert_allclose(per_sample[1][1], numeric, rtol=1e-6)


def test_euler_number_in_formulas_generates_code():
    module = sb.compile(sb.backprop(parse_expr("e^x*y + exp(1)*x")))
    theta = [0.4, -1.2]
    numeric = central_differences(lambda th: module.loss(th.tolist(), [], []), theta)
    np.testing.assert_allclose(module.loss_and_gradients(theta, [], [])[1], numeric, rtol=1e-7)
    assert module.loss(theta, [], []) == pytest.approx(np.exp(0.4) * -1.2 + np.e * 0.4, rel=1e-14)


@pytest.mark.parametrize("build", [
    lambda x, y, z: sb.softmax(1, x, y) * z,
    lambda x, y, z: sb.softmax(1, x, y),  # the softmax is the output itself
    lambda x, y, z: sb.softmax(2, x, y, z) + sb.softmax(1, x, y, z) * sb.softmax(1, y, z),
    lambda x, y, z: sp.log(sb.softmax(1, x * y, z)) * x,
], ids=["times z", "alone", "two softmaxes", "log of softmax"])
def test_softmax_inside_a_plain_expression_generates_code_that_runs(build):
    x, y, z = sp.symbols("x y z")
    expr = build(x, y, z)
    module = sb.compile(sb.backprop(expr))
    theta = [0.3, -0.4, 0.9][:len(module.PARAMETERS)]
    J, gradients = module.loss_and_gradients(theta, [], [])
    assert J == pytest.approx(float(expr.subs(dict(zip(sp.symbols(module.PARAMETERS), theta))).evalf()), rel=1e-12)
    numeric = central_differences(lambda th: module.loss(th.tolist(), [], []), theta)
    np.testing.assert_allclose(gradients, numeric, rtol=1e-6, atol=1e-9)
    J_batch, g_batch = module.loss_and_gradients(np.array(theta), np.empty((2, 0)), np.empty((2, 0)))
    assert J_batch == pytest.approx(J, rel=1e-12)
    np.testing.assert_allclose(g_batch, gradients, rtol=1e-12)


def test_sinc_and_its_derivative_are_finite_at_zero():
    x, y = sp.symbols("x y")
    expr = sp.sinc(sp.pi * x) * y
    d = sb.backprop(expr, wrt=[y])  # x is an input: a batch holds x = 0 next to other values
    module = sb.compile(d)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        both = sb.compile(sb.backprop(expr))
        for x0 in (0.0, 1e-9, -1e-6):
            J, gradients = both.loss_and_gradients([x0, 2.0], [], [])
            assert J == pytest.approx(2.0 * np.sinc(x0), rel=1e-14)
            assert gradients[0] == pytest.approx(2 * np.pi * -(np.pi * x0) / 3, abs=1e-12) and gradients[1] == pytest.approx(1.0)
        X = np.array([[0.0], [1e-9], [0.5], [-2.0]])
        J, g = module.loss_and_gradients([2.0], X, np.empty((4, 0)))
        per_sample = [module.loss_and_gradients([2.0], [float(v)], []) for v in X[:, 0]]
        batch = both.loss_and_gradients(np.array([0.0, 2.0]), np.empty((1, 0)), np.empty((1, 0)))
    assert J == pytest.approx(np.mean([j for j, _ in per_sample]), rel=1e-14)
    np.testing.assert_allclose(g, np.mean([s for _, s in per_sample], axis=0), rtol=1e-14)
    np.testing.assert_allclose(batch[1], [0.0, 1.0], atol=1e-15)
    numeric = central_differences(lambda th: both.loss(th.tolist(), [], []), [0.5, 2.0])
    np.testing.assert_allclose(both.loss_and_gradients([0.5, 2.0], [], [])[1], numeric, rtol=1e-7)
    walk = sb.walkthrough(sb.backprop(expr), {"x": 0, "y": 2})  # numeric evaluation of the same derivation
    assert dict(walk.gradients) == {x: 0.0, y: 1.0}


def test_piecewise_and_heaviside_in_expressions_generate_code():
    x, y, t = sp.symbols("x y t")
    expr = sp.Piecewise((x**2, x * t > 0), (x, True)) * y + sp.Heaviside(x - t) * x
    module = sb.compile(sb.backprop(expr, wrt=[x, y]))  # t: an input
    T = np.array([[1.5], [-2.0], [0.1]])
    for theta in ([0.5, 2.0], [-0.5, 2.0]):
        per_sample = [module.loss_and_gradients(theta, [float(v)], []) for v in T[:, 0]]
        for v, (_, gradients) in zip(T[:, 0], per_sample):
            numeric = central_differences(lambda th, v=v: module.loss(th.tolist(), [float(v)], []), theta)
            np.testing.assert_allclose(gradients, numeric, rtol=1e-6, atol=1e-9)
        J, g = module.loss_and_gradients(theta, T, np.empty((3, 0)))
        assert J == pytest.approx(np.mean([j for j, _ in per_sample]), rel=1e-12)
        np.testing.assert_allclose(g, np.mean([s for _, s in per_sample], axis=0), rtol=1e-12)


def test_max_and_min_at_a_tie_share_the_gradient_as_the_walkthrough_does():
    x, y = sp.symbols("x y")
    d = sb.backprop(2 * sp.Max(x, y) + sp.Min(x, y) + sb.relu(x))
    module = sb.compile(d)
    walked = [v for _, v in sb.walkthrough(d, {"x": 0, "y": 0}).gradients]
    sample = module.gradients([0.0, 0.0], [], [])
    batch = module.gradients(np.zeros(2), np.empty((1, 0)), np.empty((1, 0)))
    np.testing.assert_allclose(sample, walked, rtol=1e-15)
    np.testing.assert_allclose(batch, walked, rtol=1e-15)
    assert sum(sample) == pytest.approx(3.0)  # ∂(2 max + min)/∂x + ∂/∂y = 3 at a tie too; relu'(0) = 0


def test_anything_else_code_cannot_compute_is_an_input_error_in_one_line():
    x, y = sp.symbols("x y")
    for expr in (x * sp.fresnels(y), x * sp.LambertW(y), x * sp.besselj(1, y)):
        with pytest.raises(InputError, match=r"^\w+ (has no NumPy|cannot be written as NumPy code)[^\n]*$"):
            sb.numpy_module(sb.backprop(expr, wrt=[x]))


@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_modules_for_softmax_cross_entropy_refuse_targets_that_are_not_probabilities(form):
    net = sb.mlp([2, 3], activation="softmax", loss="cross_entropy", form=form)
    module = sb.compile(sb.backprop(net))
    assert module.PROBABILITY_TARGETS
    if form == "scalar":
        params = RNG.uniform(-1, 1, len(module.PARAMETERS)).tolist()
    else:
        params = [RNG.uniform(-1, 1, [module.LAYER_SIZES.get(size, size) for size in module.SHAPES[name]])
                  for name in module.PARAMETERS]
    good = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    X = RNG.uniform(-1, 1, (2, 2))
    bad_cases = [
        (np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.3]]), "y1 + y2 + y3 = 0.5"),  # the second row sums to 0.5
        (np.array([[0.2, 0.3, 0.5], [1.2, -0.3, 0.1]]), "y2 = -0.3"),
    ]
    calls = [module.loss, module.loss_and_gradients, module.gradients]
    for call in calls:
        call(params, X, good)  # probability vectors pass
        for targets, message in bad_cases:
            with pytest.raises(ValueError, match="cross-entropy after a softmax needs targets") as error:
                call(params, X, targets)
            assert message in str(error.value)
        with pytest.raises(ValueError, match=r"^target y1 is not finite in row 1: nan$"):
            call(params, X, np.array([[0.2, 0.3, 0.5], [np.nan, 0.5, 0.5]]))
    if form == "scalar":  # one sample: the fast path of floats and the general one
        for call in calls:
            call(params, X[0].tolist(), [0.2, 0.3, 0.5])
            for sample in ([0.3, 0.3, 0.3], (0.3, 0.3, 0.3), np.array([0.3, 0.3, 0.3])):
                with pytest.raises(ValueError, match=r"sum to 1 \(a probability vector\); y1 \+ y2 \+ y3 = 0.9"):
                    call(params, X[0].tolist(), sample)


def test_modules_whose_loss_takes_any_targets_do_not_check_them():
    module = sb.compile(sb.backprop(sb.mlp([2, 2], activation="softmax", loss="half_sse")))
    assert not module.PROBABILITY_TARGETS
    J, _ = module.loss_and_gradients([0.1] * len(module.PARAMETERS), [0.5, -0.2], [0.3, 0.3])
    assert np.isfinite(J)


# ------------------------------------------------------------------------------------------
# Names from untrusted text (column names, a web form) reach generated source only as checked
# identifiers or escaped literals: a module compiles, importing it runs nothing, and it computes.

_TOUCH = '__import__("pathlib").Path("PWNED").touch()'
HOSTILE_NAMES = [
    f'a", {_TOUCH}, "',  # ends the string of PARAMETERS
    f"b\n{_TOUCH}\n",  # ends a comment
    f'c"""\n{_TOUCH}\n"""',  # ends the module's docstring
    f"d\r{_TOUCH}",
    "e\\",  # a backslash before the closing quote
    "f\\N",  # a malformed escape in a docstring
    "g # h",
    f"k\u2028{_TOUCH}", "m\u2029n", "p\x0bq", "r\x0cs", "t\x1cu", "v\x85w", "\x00z",
    "a\u202eb",  # a bidirectional override
    "{x}", "lambda", "class", "list", "type", "float", "len", "max", "ValueError", "np", "math", "J",
]


def _hostile_expressions(name):
    x, y = sp.Symbol(name), sp.Symbol("y")
    return [sb.sigmoid(x) * y + x**2 * y, sp.exp(x * y) - sb.relu(y)]  # the second: its output is its own derivative


def _import_source(source, path, monkeypatch):
    """``source`` written to ``path`` and imported as a module, without writing bytecode."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=[ascii(n)[1:-1][:20] for n in HOSTILE_NAMES])
def test_hostile_symbol_names_give_modules_that_only_compute(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    y = sp.Symbol("y")
    for i, expr in enumerate(_hostile_expressions(name)):
        (x,) = expr.free_symbols - {y}
        wanted = sorted(expr.free_symbols, key=lambda s: s.name)
        d = sb.backprop(expr)
        source = sb.numpy_module(d)
        compile(source, "generated.py", "exec")  # a syntax error would raise here
        for module in (_import_source(source, tmp_path / f"generated_{i}.py", monkeypatch), sb.compile(d)):
            assert sorted(os.listdir(tmp_path)) == sorted(f"generated_{k}.py" for k in range(i + 1)), "importing ran code"
            assert module.PARAMETERS == tuple(p.name for p in wanted)
            point = dict(zip(wanted, [0.4, -0.7] if wanted[0] == x else [-0.7, 0.4]))
            theta = [point[p] for p in wanted]
            J, gradients = module.loss_and_gradients(theta, [], [])
            assert J == pytest.approx(float(expr.subs(point)), rel=1e-12)
            np.testing.assert_allclose(gradients, [float(sp.diff(expr, p).subs(point)) for p in wanted], rtol=1e-12)
            batch, grads = module.loss_and_gradients(np.array(theta), np.empty((3, 0)), np.empty((3, 0)))
            assert batch == pytest.approx(J, rel=1e-12)
            np.testing.assert_allclose(grads, gradients, rtol=1e-12)
            numeric = central_differences(lambda th, m=module: m.loss(th.tolist(), [], []), theta)
            np.testing.assert_allclose(gradients, numeric, rtol=1e-6, atol=1e-8)


def test_a_hostile_name_of_an_input_and_of_the_output_stays_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = HOSTILE_NAMES[0]
    x, w = sp.Symbol(name), sp.Symbol("w")
    expr = sp.exp(w * x)
    d = sb.backprop(sb.Graph.from_expr(expr, name=HOSTILE_NAMES[2]), wrt=[w])
    module = _import_source(sb.numpy_module(d), tmp_path / "generated.py", monkeypatch)
    assert os.listdir(tmp_path) == ["generated.py"]
    assert module.PARAMETERS == ("w",) and module.INPUTS == (name,) and module.OUTPUTS == (HOSTILE_NAMES[2],)
    gradients = module.gradients([0.3], [1.5], [])
    assert gradients == pytest.approx([float(sp.diff(expr, w).subs({w: 0.3, x: 1.5}))], rel=1e-12)
    gradients = module.gradients(np.array([0.3]), np.array([[1.5], [-1.0]]), np.empty((2, 0)))
    expected = np.mean([float(sp.diff(expr, w).subs({w: 0.3, x: v})) for v in (1.5, -1.0)])
    assert gradients == pytest.approx([expected], rel=1e-12)


@pytest.mark.parametrize("text", [chr(c) for c in (10, 13, 11, 12, 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029, 0, 0x202e)]
                         + ['"', '"""', "\\", "\\N", "'''", "#"])
def test_source_comment_cannot_end_a_comment_or_a_docstring(text):
    safe = naming.source_comment(f"x{text}y")
    assert len(safe.splitlines()) == 1
    namespace: dict = {}
    exec(compile(f"# {safe}\nvalue = 1\n", "comment.py", "exec"), namespace)  # noqa: S102
    assert namespace["value"] == 1
    exec(compile(f'def f():\n    """{safe}."""\n', "docstring.py", "exec"), namespace)  # noqa: S102
    assert namespace["f"].__doc__ == f"x{text}y."


@pytest.mark.parametrize("name", ["list", "type", "float", "len", "max", "min", "abs", "sum", "zip", "range", "isinstance",
                                  "ValueError", "TypeError", "math", "np"])
def test_variables_named_like_builtins_the_module_uses(name):
    assert name in naming.RESERVED
    v, y = sp.Symbol(name), sp.Symbol("y")
    expr = v * sb.sigmoid(y) + sp.Max(v, y) + sp.exp(v) * y
    module = sb.compile(sb.backprop(expr))
    point = {v: 0.3, y: -0.2}
    wanted = sorted(expr.free_symbols, key=lambda s: s.name)
    theta = [point[p] for p in wanted]
    expected = [float(sp.diff(expr, p).subs(point)) for p in wanted]
    assert module.loss_and_gradients(theta, [], [])[1] == pytest.approx(expected, rel=1e-12)
    assert module.loss_and_gradients(np.array(theta), np.empty((2, 0)), np.empty((2, 0)))[1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("expr", ["list*sigmoid(y)", "type*y"])
def test_check_of_variables_named_like_builtins(expr):
    run = subprocess.run([sys.executable, "-m", "symbackprop", "check", "--expr", expr], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert "all gradients match" in run.stdout


# ------------------------------------------------------------------------------------------
# The scalar path at extremes: every activation × every loss it accepts, on one sample (lists),
# a batch and the matrix form, against mpmath at thousands of digits.

EXTREME_Z = [-1e4, -800.0, 800.0, 1e4]


def _accepted_combinations():
    for activation, loss in itertools.product(sb.ACTIVATIONS, sb.LOSSES):
        try:
            sb.mlp([1, 2], activation=activation, loss=loss)
        except InputError:
            continue
        yield activation, loss


ACCEPTED = list(_accepted_combinations())


def _mpmath_oracle(graph, dps=50):
    """values (variable → float) → J and ∂J/∂p (PARAMETERS order): the loss in elementary
    functions, in mpmath, whose exponents are unbounded (e^(±2·10⁴) is a number); its partial
    derivatives by mpmath's high-precision differences. 1 − σ(u) is written σ(−u) first, so no
    digit is lost to cancellation where σ(u) is 1 − e^(−2·10⁴)."""
    w, t, p = sp.Wild("w"), sp.Wild("t"), sp.Wild("p")
    loss = graph.loss.replace(sb.binary_cross_entropy(t, p), -(t * sp.log(p) + (1 - t) * sp.log(1 - p)))
    variables = list(graph.variables)
    f = sp.lambdify(variables, loss.replace(1 - sb.sigmoid(w), sb.sigmoid(-w)).rewrite(sp.exp), "mpmath")

    def at(values):
        with mpmath.workdps(dps):
            point = [mpmath.mpf(values[v]) for v in variables]
            partial = [mpmath.diff(lambda q, i=i: f(*point[:i], q, *point[i + 1:]), point[i])
                       for i in map(variables.index, graph.params)]
            return float(f(*point)), np.array([float(g) for g in partial])
    return at


def _matrix_params(layers, flat):
    """Scalar PARAMETERS order (weights layer by layer, target neuron then source; then biases)
    as the matrix form's W_1, b_1, W_2, b_2 …"""
    shapes = list(itertools.pairwise(layers))
    sizes = [n * p for p, n in shapes]
    weights = np.split(flat[:sum(sizes)], np.cumsum(sizes)[:-1])
    biases = np.split(flat[sum(sizes):], np.cumsum(layers[1:])[:-1])
    W = [w.reshape(n, p) for w, (p, n) in zip(weights, shapes)]
    return [a for pair in zip(W, [b.reshape(-1, 1) for b in biases]) for a in pair]


def _matrix_gradient_flat(gradients):
    return np.concatenate([g.ravel() for g in gradients[0::2]] + [g.ravel() for g in gradients[1::2]])


@pytest.mark.parametrize("depth", ["1-2", "2-3-2"])
@pytest.mark.parametrize("activation, loss", ACCEPTED, ids=[f"{a}-{l}" for a, l in ACCEPTED])
def test_every_accepted_combination_is_finite_and_exact_at_extreme_pre_activations_on_every_path(activation, loss, depth):
    layers = [1, 2] if depth == "1-2" else [2, 3, 2]
    graph = sb.mlp(layers, activation=activation, loss=loss)
    scalar = sb.compile(sb.backprop(graph))
    matrix = sb.compile(sb.backprop(sb.mlp(layers, activation=activation, loss=loss, form="matrix")))
    x = [1.0] if depth == "1-2" else [1.0, -0.5]
    y = [0.25, 0.75]
    # every parameter z (so z1 = z2 = 2z), or a fixed pattern times z (pre-activations far apart)
    pattern = np.ones(len(graph.params)) if depth == "1-2" else np.resize([1.0, -0.5, 0.25, -1.0, 0.75, 0.5, -0.25], len(graph.params))
    oracle = _mpmath_oracle(graph)
    assert scalar.PARAMETERS == tuple(p.name for p in graph.params)
    for z in EXTREME_Z:
        theta = z * pattern / (1 if depth == "1-2" else 2)
        values = dict(zip(graph.params, theta)) | dict(zip(graph.inputs, x)) | dict(zip(graph.targets, y))
        J_exact, g_exact = oracle(values)
        scale = max(1.0, abs(J_exact), *np.abs(g_exact))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            J_matrix, g_matrix = matrix.loss_and_gradients(_matrix_params(layers, theta), np.array([x, x]), np.array([y, y]))
            results = {
                "list": scalar.loss_and_gradients(theta.tolist(), x, y),
                "batch": scalar.loss_and_gradients(theta, np.array([x, x]), np.array([y, y])),
                "matrix": (J_matrix, _matrix_gradient_flat(g_matrix)),
            }
            results["loss alone (list)"] = (scalar.loss(theta.tolist(), x, y), g_exact)
        for path, (J, g) in results.items():
            assert np.isfinite(J) and np.all(np.isfinite(g)), (path, z)
            assert J == pytest.approx(J_exact, rel=1e-9, abs=1e-12 * scale), (path, z)
            np.testing.assert_allclose(np.asarray(g, dtype=float), g_exact, rtol=1e-9, atol=1e-12 * scale, err_msg=f"{path} at z={z}")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_a_value_that_is_not_finite_is_named_on_every_path(bad):
    graph = sb.mlp([2, 2], activation="sigmoid", loss="bce")
    scalar = sb.compile(sb.backprop(graph))
    matrix = sb.compile(sb.backprop(sb.mlp([2, 2], activation="sigmoid", loss="bce", form="matrix")))
    theta, x, y = [0.1] * len(graph.params), [0.5, -0.5], [1.0, 0.0]
    names = {"parameter": scalar.PARAMETERS, "input": scalar.INPUTS, "target": scalar.TARGETS}
    for what, position in (("parameter", 2), ("input", 1), ("target", 0)):
        values = {"parameter": list(theta), "input": list(x), "target": list(y)}
        values[what][position] = bad
        name = names[what][position]
        message = rf"^{what} {name} is not finite: {bad}$"
        with pytest.raises(ValueError, match=message):  # one sample, the fast path
            scalar.loss_and_gradients(values["parameter"], values["input"], values["target"])
        with pytest.raises(ValueError, match=message):
            scalar.loss(values["parameter"], values["input"], values["target"])
        rows = {k: np.array([v0, v]) for k, v0, v in (("input", x, values["input"]), ("target", y, values["target"]))}
        where = "" if what == "parameter" else " in row 1"
        with pytest.raises(ValueError, match=rf"^{what} {name} is not finite{where}: {bad}$"):  # a batch
            scalar.loss_and_gradients(np.array(values["parameter"]), rows["input"], rows["target"])
        if what != "target":
            with pytest.raises(ValueError, match=rf"^{what} {name} is not finite"):
                scalar.forward(values["parameter"], values["input"])
        params = [np.array([[0.1, 0.1], [0.1, 0.1]]), np.array([[0.1], [0.1]])]
        if what == "parameter":
            params[0][1, 0] = bad  # w3: the weight from x1 into neuron 2
        with pytest.raises(ValueError, match=r"^(parameter W_1 is not finite at \(1, 0\)|"
                                             rf"{what} {name} is not finite in row 1): {bad}$"):  # the matrix form
            matrix.loss_and_gradients(params, rows["input"], rows["target"])


NEGATIVE_BASES = {  # a power with a negative base and a fractional exponent: not a real number
    "cube root": (sp.Symbol("x") ** sp.Rational(1, 3) * sp.Symbol("y"), [-8.0, 2.0]),
    "square root as x**0.5": (sp.Symbol("x") ** 0.5 * sp.Symbol("y"), [-1.0, 2.0]),
    "log": (sp.log(sp.Symbol("x")) * sp.Symbol("y"), [-1.0, 2.0]),
}


@pytest.mark.parametrize("name", NEGATIVE_BASES)
def test_a_point_outside_the_domain_gives_one_clear_error_on_every_path(name):
    expr, point = NEGATIVE_BASES[name]
    module = sb.compile(sb.backprop(expr))
    calls = {
        "one sample": lambda: module.loss_and_gradients(point, [], []),
        "loss alone": lambda: module.loss(point, [], []),
        "a batch": lambda: module.loss_and_gradients(np.array(point), np.empty((2, 0)), np.empty((2, 0))),
    }
    messages = set()
    for call in calls.values():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match=r"cannot be computed at these values: a value outside the domain of a "
                                                 r"function, in the step .+ = ") as error:
                call()
        assert "\n" not in str(error.value)
        messages.add(str(error.value).replace("the loss J and its gradients", "the loss J"))
    assert len(messages) == 1, messages


def test_a_result_beyond_float64_gives_one_clear_error_on_every_path():
    graph = sb.mlp([1, 2], activation="identity", loss="half_sse")
    module = sb.compile(sb.backprop(graph))
    matrix = sb.compile(sb.backprop(sb.mlp([1, 2], activation="identity", loss="half_sse", form="matrix")))
    theta = [1e300] * len(graph.params)  # ŷ = 2e300 is a float; (ŷ − y)²/2 is not
    messages = set()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for call in (lambda: module.loss(theta, [1.0], [0.0, 0.0]),
                     lambda: module.loss(np.array(theta), np.array([[1.0]]), np.array([[0.0, 0.0]]))):
            with pytest.raises(FloatingPointError, match=r"^the loss J cannot be computed at these values: .*float64") as error:
                call()
            messages.add(str(error.value))
        with pytest.raises(FloatingPointError, match=r"^the loss J cannot be computed at these values"):
            matrix.loss([np.full((2, 1), 1e300), np.full((2, 1), 1e300)], np.array([[1.0]]), np.array([[0.0, 0.0]]))
        # the outputs are finite there, and come back
        assert module.forward(theta, [1.0]) == (2e300, 2e300)
        np.testing.assert_array_equal(module.forward(np.array(theta), np.array([[1.0]])), [[2e300, 2e300]])
    assert len(messages) == 1, messages


def test_an_overflow_inside_a_step_names_the_step_on_one_sample_and_a_batch():
    x, w = sp.symbols("x w")
    module = sb.compile(sb.backprop(sp.exp(w * x), wrt=[w]))
    for call in (lambda: module.loss([1000.0], [1.0], []), lambda: module.loss(np.array([1000.0]), np.array([[1.0]]), np.empty((1, 0)))):
        with pytest.raises(FloatingPointError, match=r"^the loss J cannot be computed at these values: a result beyond float64 "
                                                     r"\(overflow\), in the step .*exp"):
            call()


def test_a_value_that_is_not_finite_is_named_in_a_network_with_many_parameters():
    # Over 32 values, one sample's test sums the lists instead of adding each value by name.
    graph = sb.mlp([4, 8, 2], activation=["relu", "sigmoid"], loss="bce")
    module = sb.compile(sb.backprop(graph))
    assert len(graph.params) > 32
    theta, x, y = [0.1] * len(graph.params), [0.5, -0.5, 1.0, 2.0], [1.0, 0.0]
    for values, name in ((theta[:30] + [np.inf] + theta[31:], module.PARAMETERS[30]), (x[:3] + [np.nan], "x4")):
        args = (values, x, y) if len(values) == len(theta) else (theta, values, y)
        with pytest.raises(ValueError, match=rf" {name} is not finite"):
            module.loss_and_gradients(*args)
    assert np.all(np.isfinite(module.loss_and_gradients(theta, x, y)[1]))


def test_large_finite_values_whose_squares_overflow_pass_the_finiteness_checks():
    # The quick checks sum squares or values, which overflow here; the values themselves are finite.
    scalar = sb.compile(sb.backprop(sb.mlp([2, 2], activation="identity", loss="half_sse")))
    matrix = sb.compile(sb.backprop(sb.mlp([2, 2], activation="identity", loss="half_sse", form="matrix")))
    X = np.array([[-1e200, -1e200], [1e200, 1e200]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outputs = scalar.forward(np.full(len(scalar.PARAMETERS), 1e-100), X)
        np.testing.assert_allclose(outputs, [[-2e100, -2e100], [2e100, 2e100]], rtol=1e-12)
        params = [np.full((2, 2), 1e-100), np.full((2, 1), 1e-100)]
        np.testing.assert_allclose(matrix.forward(params, X), outputs, rtol=1e-12)
        assert scalar.forward([1e308, 0.0, 0.0, 1e308, 0.0, 0.0], [1.0, 1.0]) == (1e308, 1e308)


# ----------------------------------------------------------------------- functions of matrices
MATRIX_SCRIPT = ("import sympy as sp, symbackprop as sb\n"
                 "n, m = sp.symbols('n m', integer=True, positive=True)\n"
                 "X, w, S = sp.MatrixSymbol('X', n, m), sp.MatrixSymbol('w', m, 1), sp.MatrixSymbol('S', n, n)\n"
                 "r = X*w - S.I*X*w\n"
                 "J = sp.log(sp.det(S)) + sp.trace(r.T*r) + sp.trace(sp.OneMatrix(1, n)*(X*w).applyfunc(sb.softplus))\n"
                 "source = sb.numpy_module(sb.backprop(J, wrt=[w, S]))\n")


def test_matrix_modules_are_deterministic_pass_ruff_and_run_without_sympy(tmp_path):
    digests = {subprocess.run([sys.executable, "-c", MATRIX_SCRIPT + "import hashlib; print(hashlib.sha256(source.encode()).hexdigest())"],
                              capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
               for seed in ("1", "2")}
    assert len(digests) == 1
    namespace: dict = {}
    exec(MATRIX_SCRIPT, namespace)  # noqa: S102  (the script above)
    source = namespace["source"]
    assert "np.linalg.solve(" in source and "_log_det(" in source and "np.logaddexp(" in source
    (tmp_path / "grads.py").write_text(source, encoding="utf-8")
    ruff = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
    run = subprocess.run([ruff, "check", "--isolated", "--no-cache", str(tmp_path)], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    script = ("import sys\nsys.modules['sympy'] = None\nsys.modules['symbackprop'] = None\nimport numpy as np, grads\n"
              "J, (dw, dS) = grads.loss_and_gradients([np.ones((2, 1)), 3 * np.eye(3)], [np.ones((3, 2))])\n"
              "print(grads.PARAMETERS, grads.SHAPES['S'], dw.shape, dS.shape)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "('w', 'S') ('n', 'n') (2, 1) (3, 3)"


@pytest.mark.parametrize("call, kind, message", [
    (lambda m, th: m.loss(th, np.empty((0, 2)), np.empty((0, 1))), ValueError, "inputs must hold at least one row (one sample); got an empty batch"),
    (lambda m, th: m.loss(th, [[1.0, 2.0], [1.0]], [[1.0], [1.0]]), ValueError, "inputs must be numbers, one sample as a list or a batch of rows of one length"),
    (lambda m, th: m.loss({"w1": 1.0}, [[1.0, 2.0]], [[1.0]]), TypeError, "params must be numbers, one sample as a list or a batch of rows; got dict"),
    (lambda m, th: m.loss(th, [[1.0, 2.0]], [["a"]]), ValueError, "targets must be numbers, one sample as a list or a batch of rows of one length"),
], ids=["empty batch", "ragged rows", "params as a dict", "text targets"])
def test_a_per_weight_module_names_values_that_are_not_a_batch_of_numbers_in_one_line(call, kind, message):
    module = sb.compile(sb.backprop(sb.mlp([2, 2, 1])))
    with pytest.raises(kind) as error:
        call(module, np.zeros(len(module.PARAMETERS)))
    assert str(error.value) == message
