"""Matrix form: the textbook formulas, equal to the per-weight scalar gradients of the same
network, finite differences on small random shapes, float32, and clear shape errors."""

import itertools
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sympy as sp
from oracles import central_differences, needs_pdflatex

import symbackprop as sb
from symbackprop import cli, naming
from symbackprop.errors import InputError
from symbackprop.matrix import matrix_text, text_printer

SPECS = {
    "sigmoid half_sse": dict(layers=[3, 4, 2]),
    "relu/softmax cross_entropy": dict(layers=[3, 5, 4], activation=["relu", "softmax"], loss="cross_entropy"),
    "tanh/sigmoid bce": dict(layers=[2, 3, 1], activation=["tanh", "sigmoid"], loss="bce"),
    "leaky_relu/identity mse no bias": dict(layers=[2, 3, 2], activation=["leaky_relu", "identity"], loss="mse", bias=None),
    "softplus/softmax half_sse": dict(layers=[2, 3, 3], activation=["softplus", "softmax"]),
    "deep tanh": dict(layers=[2, 3, 3, 3, 1], activation="tanh"),
}


def data(spec, batch, seed=0):
    rng = np.random.default_rng(seed)
    layers = spec["layers"]
    X = rng.uniform(-1.5, 1.5, (batch, layers[0]))
    Y = rng.uniform(0.05, 0.95, (batch, layers[-1]))
    if spec.get("loss") == "cross_entropy":
        Y /= Y.sum(axis=1, keepdims=True)
    return X, Y


def test_textbook_formulas():
    d = sb.backprop(sb.mlp([784, 128, 10], activation=["relu", "softmax"], loss="cross_entropy", form="matrix"))
    text = text_printer(d).doprint
    Yhat = naming.MATRIX_OUTPUT["text"]
    assert [(text(s), text(e)) for s, e in d.deltas] == [("dZ_2", f"{Yhat} - Y"), ("dZ_1", "(W_2ᵀ dZ_2) ⊙ 1[Z_1 > 0]")]
    assert [(str(p), text(e)) for p, e in d.gradients] == [
        ("W_1", "dZ_1 Xᵀ / m"), ("b_1", "Σ_batch dZ_1 / m"), ("W_2", "dZ_2 A_1ᵀ / m"), ("b_2", "Σ_batch dZ_2 / m")]


OUTPUT_NAMED = {
    "2 layers": {"layers": [2, 3, 1]},
    "3 layers": {"layers": [3, 4, 4, 2], "activation": ["tanh", "relu", "softmax"], "loss": "cross_entropy"},
}


@pytest.mark.parametrize("name", OUTPUT_NAMED)
def test_the_output_matrix_has_one_name_in_text_latex_code_and_the_command_line(name, capsys, tmp_path, monkeypatch):
    spec = OUTPUT_NAMED[name]
    net = sb.mlp(**spec, form="matrix")
    d = sb.backprop(net)
    last = len(spec["layers"]) - 1
    assert naming.matrix_output(net) == sp.Symbol(f"A_{last}")
    shown = {style: naming.matrix_names(net, style)[sp.Symbol(f"A_{last}")] for style in ("text", "ascii", "latex", "code")}
    assert naming.ascii_text(shown["text"]) == shown["ascii"] and shown["code"].isidentifier()
    as_symbol = re.compile(rf"\bA_\{{?{last}\b")  # A_2 in text and code, A_{2} in LaTeX
    hidden = f"A_{last - 1}"  # the layer below keeps its name

    text = matrix_text(d)
    assert f"\n  {shown['text']} = " in text and f"{shown['text']} - Y" in text and f"\n  {hidden} = " in text
    tex = sb.document_latex(d)
    assert f"\n{shown['latex']} &= " in tex and f"{shown['latex']} - Y" in tex and sb.latex.summary_latex(d).count(shown["latex"])
    source = sb.numpy_module(d)
    assert re.search(rf"^    {shown['code']}\b.* = ", source, re.MULTILINE) and f"return {shown['code']}.T" in source
    assert f"# {shown['text']} = " in source  # the comments in the text notation
    for printed in (text, tex, source):
        assert not as_symbol.search(printed)

    monkeypatch.chdir(tmp_path)
    args = ["--layers", ",".join(map(str, spec["layers"])), "--form", "matrix"]
    args += ["--activation", ",".join(spec["activation"])] if "activation" in spec else []
    args += ["--loss", spec["loss"]] if "loss" in spec else []
    for argv, expected in ((["derive", *args], text), (["derive", *args, "--format", "latex"], tex)):
        assert cli.main(argv) == 0 and capsys.readouterr().out.rstrip("\n") == expected.rstrip("\n")
    assert cli.main(["codegen", *args, "-o", "g.py"]) == 0 and (tmp_path / "g.py").read_text() == source
    console = subprocess.run([sys.executable, "-m", "symbackprop", "derive", *args], capture_output=True, check=False,
                             env=dict(os.environ, PYTHONIOENCODING="ascii"))
    assert console.returncode == 0 and console.stdout.decode("ascii") == naming.ascii_text(text)
    assert f"\n  {shown['ascii']} = " in console.stdout.decode("ascii")


def test_the_layer_by_layer_code_of_the_scalar_form_names_its_output_block_as_the_matrix_form():
    source = sb.numpy_module(sb.backprop(sb.mlp([2, 3, 2])))
    code, text = naming.MATRIX_OUTPUT["code"], naming.MATRIX_OUTPUT["text"]
    assert f"return {code}.T" in source and f"    {code} = _sigmoid(Z_2)" in source and f"# {text} = sigmoid(Z_2)" in source
    assert not re.search(r"\bA_2\b", source)


def test_one_derivation_serves_every_width():
    small = sb.backprop(sb.mlp([3, 4, 2], form="matrix"))
    large = sb.backprop(sb.mlp([784, 512, 10], form="matrix"))
    assert small.deltas == large.deltas and small.gradients == large.gradients


@pytest.mark.parametrize("name", SPECS)
def test_matrix_gradients_equal_the_scalar_ones_reshaped(name):
    spec = SPECS[name]
    scalar = sb.compile(sb.backprop(sb.mlp(**spec)))
    matrix = sb.compile(sb.backprop(sb.mlp(**spec, form="matrix")))
    layers, bias = spec["layers"], spec.get("bias", "per_neuron")
    rng = np.random.default_rng(1)
    weights = [rng.normal(0, 0.7, (n, p)) for p, n in itertools.pairwise(layers)]
    biases = [rng.normal(0, 0.3, (n, 1)) for n in layers[1:]] if bias else []
    matrix_params = [a for pair in zip(weights, biases) for a in pair] if bias else weights
    # scalar order: weights layer by layer (target neuron, then source), then biases
    flat = np.concatenate([w.ravel() for w in weights] + [b.ravel() for b in biases])
    X, Y = data(spec, 6)
    J, gradients = matrix.loss_and_gradients(matrix_params, X, Y)
    J_scalar, g_scalar = scalar.loss_and_gradients(flat, X, Y)
    assert J == pytest.approx(J_scalar, rel=1e-12)
    by_name = dict(zip(matrix.PARAMETERS, gradients))
    reshaped = np.concatenate([by_name[f"W_{l}"].ravel() for l in range(1, len(layers))]
                              + ([by_name[f"b_{l}"].ravel() for l in range(1, len(layers))] if bias else []))
    np.testing.assert_allclose(reshaped, g_scalar, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("name", SPECS)
def test_matrix_gradients_match_finite_differences(name):
    """Also: gradients() alone returns exactly what loss_and_gradients() does."""
    spec = SPECS[name]
    module = sb.compile(sb.backprop(sb.mlp(**spec, form="matrix")))
    rng = np.random.default_rng(2)
    params = [rng.normal(0, 0.6, shape) for shape in module.SHAPES]
    X, Y = data(spec, 5, seed=3)
    _, gradients = module.loss_and_gradients(params, X, Y)
    for alone, with_loss in zip(module.gradients(params, X, Y), gradients, strict=True):
        np.testing.assert_array_equal(alone, with_loss)
    sizes = [int(np.prod(shape)) for shape in module.SHAPES]

    def loss(flat):
        pieces = np.split(flat, np.cumsum(sizes)[:-1])
        return module.loss([p.reshape(s) for p, s in zip(pieces, module.SHAPES)], X, Y)

    flat = np.concatenate([p.ravel() for p in params])
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in gradients]), central_differences(loss, flat),
                               rtol=1e-6, atol=1e-8)


def test_lists_and_integers_are_read_as_float64():
    module = sb.compile(sb.backprop(sb.mlp([2, 3, 2], form="matrix")))
    as_arrays = module.loss_and_gradients([np.ones(shape) for shape in module.SHAPES], np.array([[1.0, 2.0]]), np.array([[0.0, 1.0]]))
    as_lists = module.loss_and_gradients([np.ones(shape, dtype=int).tolist() for shape in module.SHAPES], [[1, 2]], [[0, 1]])
    assert as_lists[0] == as_arrays[0]
    for a, b in zip(as_lists[1], as_arrays[1]):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", SPECS)
def test_weights_in_either_memory_order(name):
    """The same numbers whether the weights are stored in C or Fortran order; each gradient comes
    back in its parameter's order (a mixture of orders runs in C order)."""
    spec = SPECS[name]
    module = sb.compile(sb.backprop(sb.mlp(**spec, form="matrix")))
    rng = np.random.default_rng(5)
    params = [rng.normal(0, 0.6, shape) for shape in module.SHAPES]
    fortran = [np.asfortranarray(p) for p in params]
    cases = [(params, "C"), (fortran, "F")]
    if sum(min(shape) > 1 for shape in module.SHAPES) > 1:
        cases.append(([np.asfortranarray(p) if i == 0 else p for i, p in enumerate(params)], "C"))
    X, Y = data(spec, 7)
    J, gradients = module.loss_and_gradients(params, X, Y)
    for stored, order in cases:
        J_stored, stored_gradients = module.loss_and_gradients(stored, X, Y)
        assert J_stored == pytest.approx(J, rel=1e-13)
        np.testing.assert_allclose(module.forward(stored, X), module.forward(params, X), rtol=1e-13)
        for g, g_stored in zip(gradients, stored_gradients):
            np.testing.assert_allclose(g_stored, g, rtol=1e-12, atol=1e-15)
            assert g_stored.flags[f"{order}_CONTIGUOUS"], (order, g_stored.shape)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", SPECS)
def test_extreme_pre_activations_stay_finite_and_silent(name, dtype):
    spec = SPECS[name]
    module = sb.compile(sb.backprop(sb.mlp(**spec, form="matrix")))
    params = [np.where(np.indices(shape)[0] % 2, -400.0, 400.0).astype(dtype) for shape in module.SHAPES]  # rows ±400
    X = np.array([[2.0] * spec["layers"][0], [-2.0] * spec["layers"][0]], dtype=dtype)
    Y = np.zeros((2, spec["layers"][-1]), dtype=dtype)
    Y[:, 0] = 1.0
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        J, gradients = module.loss_and_gradients(params, X, Y)
        outputs = module.forward(params, X)
        assert np.isfinite(J) and np.all(np.isfinite(outputs))
        assert all(np.all(np.isfinite(g)) for g in gradients + module.gradients(params, X, Y))
    assert np.min(np.abs(params[0] @ X.T)) >= 800  # every first-layer pre-activation is extreme


def test_float32_in_float32_out_and_close_to_float64():
    spec = SPECS["relu/softmax cross_entropy"]
    module = sb.compile(sb.backprop(sb.mlp(**spec, form="matrix")))
    rng = np.random.default_rng(4)
    params = [rng.normal(0, 0.5, shape) for shape in module.SHAPES]
    X, Y = data(spec, 32)
    J64, g64 = module.loss_and_gradients(params, X, Y)
    J32, g32 = module.loss_and_gradients([p.astype(np.float32) for p in params], X.astype(np.float32), Y.astype(np.float32))
    assert all(g.dtype == np.float32 for g in g32) and np.asarray(J32).dtype == np.float32
    assert J32 == pytest.approx(J64, rel=1e-5)
    for a, b in zip(g32, g64):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("change, message", [
    (lambda p, X, Y: ([p[0].T, *p[1:]], X, Y), r"W_1 must have shape \(5, 3\); got \(3, 5\)"),
    (lambda p, X, Y: (p[:3], X, Y), r"params must hold 4 arrays \(W_1, b_1, W_2, b_2\); got 3"),
    (lambda p, X, Y: (p, X[:, :2], Y), r"inputs must have shape \(batch, 3\); got \(4, 2\)"),
    (lambda p, X, Y: (p, X[0], Y[:1]), r"inputs must have shape \(batch, 3\); got \(3,\)"),
    (lambda p, X, Y: (p, X, Y[:, :, None]), r"targets must have shape \(4, 4\); got \(4, 4, 1\)"),
    (lambda p, X, Y: (p, X, Y[:3]), r"targets must have shape \(4, 4\); got \(3, 4\)"),
])
def test_shape_errors_are_named_before_any_arithmetic(change, message, monkeypatch):
    module = sb.compile(sb.backprop(sb.mlp(**SPECS["relu/softmax cross_entropy"], form="matrix")))
    rng = np.random.default_rng(5)
    params = [rng.normal(size=shape) for shape in module.SHAPES]
    X, Y = data(SPECS["relu/softmax cross_entropy"], 4)
    monkeypatch.setattr(module.np, "matmul", None, raising=False)  # any arithmetic first would not reach the check
    with pytest.raises(ValueError, match=message):
        module.loss_and_gradients(*change(params, X, Y))


def test_generated_matrix_code_is_clean_and_deterministic(tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    d = sb.backprop(sb.mlp([784, 128, 10], activation=["sigmoid", "softmax"], loss="cross_entropy", form="matrix"))
    source = sb.numpy_module(d)
    assert source == sb.numpy_module(sb.backprop(sb.mlp([784, 128, 10], activation=["sigmoid", "softmax"],
                                                        loss="cross_entropy", form="matrix")))
    assert "import sympy" not in source and "Z_1 = np.matmul(W_1, X, order=order)" in source
    assert "dW_1 = np.matmul(dZ_1, X.T, order=order)" in source
    (tmp_path / "grads.py").write_text(source)
    ruff = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
    run = subprocess.run([ruff, "check", "--isolated", "--no-cache", str(tmp_path)], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_bad_matrix_networks():
    with pytest.raises(ValueError, match="bias='per_neuron'"):
        sb.mlp([2, 2], bias="per_layer", form="matrix")
    with pytest.raises(ValueError, match="unknown form 'tensor'"):
        sb.mlp([2, 2], form="tensor")
    with pytest.raises(ValueError, match="leave out wrt"):
        sb.backprop(sb.mlp([2, 2], form="matrix"), wrt=["W_1"])
    assert sp.Symbol("W_1") in sb.mlp([2, 2], form="matrix").params


def test_latex_in_matrix_notation():
    d = sb.backprop(sb.mlp([784, 128, 10], activation=["sigmoid", "softmax"], loss="cross_entropy", form="matrix"))
    assert sb.gradient_latex(d, sp.Symbol("W_1")) == r"\frac{\partial J}{\partial W_{1}} = \frac{1}{m} dZ_{1} X^{T}"
    assert sb.gradient_latex(d, sp.Symbol("b_2")) == r"\frac{\partial J}{\partial b_{2}} = \frac{1}{m} \sum_{\text{batch}} dZ_{2}"
    tex = sb.document_latex(d)
    assert r"Z_{1} &= W_{1} X + b_{1} \mathbf{1}^{T}" in tex
    assert r"dZ_{1} &= \left(W_{2}^{T} dZ_{2}\right) \odot A_{1} \odot \left(1 - A_{1}\right)" in tex
    assert rf"dZ_{{2}} &= {naming.MATRIX_OUTPUT['latex']} - Y" in tex


@needs_pdflatex
def test_the_matrix_document_compiles(tmp_path):
    d = sb.backprop(sb.mlp([4, 3, 2], activation=["relu", "sigmoid"], loss="bce", form="matrix"))
    assert sb.pdflatex(sb.document_latex(d), tmp_path / "m.pdf").read_bytes().startswith(b"%PDF")


def test_training_in_matrix_form_updates_each_array_in_its_memory_order():
    spec = SPECS["relu/softmax cross_entropy"]
    module = sb.compile(sb.backprop(sb.mlp(**spec, form="matrix")))
    rng = np.random.default_rng(6)
    start = [np.asfortranarray(rng.normal(0, 0.5, shape)).astype(np.float32, order="K") for shape in module.SHAPES]
    before = [p.copy() for p in start]
    X, Y = data(spec, 16)
    params, losses = sb.train(module, start, X, Y, learning_rate=0.5, epochs=3)
    manual = [p.copy(order="K") for p in start]
    for _ in range(3):
        _, gradients = module.loss_and_gradients(manual, X, Y)
        manual = [p - 0.5 * g for p, g in zip(manual, gradients)]
    for p, m, s in zip(params, manual, start):
        assert p.dtype == np.float32 and p.flags.f_contiguous and p is not s
        np.testing.assert_allclose(p, m, rtol=1e-6)
    assert losses[-1] < losses[0] and len(losses) == 4
    for p, b in zip(start, before):  # the given arrays are left alone
        np.testing.assert_array_equal(p, b)


def test_the_matrix_form_is_looked_up_by_name_as_the_scalar_form():
    d = sb.backprop(sb.mlp([3, 4, 2], activation=["tanh", "softmax"], loss="cross_entropy", form="matrix"))
    for p, formula in d.gradients:
        assert d[p.name] is formula and d.gradient(p.name) is formula and d[p] is formula
        assert d[p.name.replace("_", "")] is formula  # W1 as well as W_1
    assert list(d) == [p for p, _ in d.gradients] and len(d) == len(d.gradients)
    deltas = dict(d.deltas)
    for delta, formula in d.deltas:
        matrix = delta.name[len(naming.MATRIX_DELTA):]
        assert d.delta(matrix) is formula and d.delta(delta.name) is formula and d.delta(sp.Symbol(matrix)) is formula
    assert d.symbol("Ŷ") == d.symbol("Yhat") == naming.matrix_output(d.graph)
    assert set(deltas)
    for wrong, call in [("W_9", d.__getitem__), ("Q", d.gradient), ("Q", d.delta)]:
        with pytest.raises(InputError, match=r"unknown name .*W_1") as error:
            call(wrong)
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="not a parameter"):
        d.gradient("Z_1")
    with pytest.raises(InputError, match="no named delta"):
        d.delta("W_1")


@pytest.mark.parametrize("activation, loss", [("sigmoid", "half_sse"), ("relu", "cross_entropy"), ("leaky_relu", "mse"),
                                              ("tanh", "bce"), ("identity", "half_sse"), ("softplus", "cross_entropy")])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_value_that_is_not_finite_anywhere_is_named_though_only_results_are_scanned(activation, loss, bad):
    """The matrix form looks at its arguments only when a result is not finite: every entry of
    every parameter, input and target must reach a result, so that each is still named."""
    output = {"half_sse": "sigmoid", "mse": "identity", "bce": "sigmoid", "cross_entropy": "softmax"}[loss]
    module = sb.compile(sb.backprop(sb.mlp([3, 4, 2], activation=[activation, output], loss=loss, form="matrix")))
    rng = np.random.default_rng(0)
    params = [rng.normal(size=shape) for shape in module.SHAPES]
    X, Y = rng.uniform(0.1, 0.9, size=(5, 3)), np.full((5, 2), 0.5)
    for function in (module.loss, module.gradients, module.loss_and_gradients):
        for k, name in enumerate(module.PARAMETERS):
            for index in np.ndindex(module.SHAPES[k]):
                broken = [p.copy() for p in params]
                broken[k][index] = bad
                with pytest.raises(ValueError, match=rf"^parameter {name} is not finite at \({index[0]}, {index[1]}\)"):
                    function(broken, X, Y)
        for row, column in [(0, 0), (4, 2)]:
            broken = X.copy()
            broken[row, column] = bad
            with pytest.raises(ValueError, match=rf"^input x{column + 1} is not finite in row {row}"):
                function(params, broken, Y)
        broken = Y.copy()
        broken[3, 1] = bad
        with pytest.raises(ValueError, match=r"^target y2 is not finite in row 3"):
            function(params, X, broken)
