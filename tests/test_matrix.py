"""Networks in matrix form (``sb.mlp(..., form="matrix")``): the textbook formulas, one name for
the output everywhere, gradients equal to the per-weight network's, to finite differences and to
``jax.grad``, float32, extreme pre-activations, clear errors, clean deterministic code, training."""

import itertools
import os
import shutil
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
from symbackprop.text import TextPrinter, derivation_text

SPECS = {
    "sigmoid half_sse": dict(layers=[3, 4, 2]),
    "relu/softmax cross_entropy": dict(layers=[3, 5, 4], activation=["relu", "softmax"], loss="cross_entropy"),
    "tanh/sigmoid bce": dict(layers=[2, 3, 1], activation=["tanh", "sigmoid"], loss="bce"),
    "leaky_relu/identity mse no bias": dict(layers=[2, 3, 2], activation=["leaky_relu", "identity"], loss="mse", bias=None),
    "softplus/softmax half_sse": dict(layers=[2, 3, 3], activation=["softplus", "softmax"]),
    "deep tanh": dict(layers=[2, 3, 3, 3, 1], activation="tanh"),
}
BIASES = ["per_neuron", "per_layer", None]
RELU_SOFTMAX = dict(activation=["relu", "softmax"], loss="cross_entropy")


def matrix_module(spec, **changes):
    return sb.compile(sb.backprop(sb.mlp(**(spec | changes), form="matrix")))


def shapes(module, layers):
    """Each parameter's shape at these layer sizes (SHAPES holds the size names n_0, n_1, …)."""
    return [tuple(layers[int(s[2:])] if isinstance(s, str) else s for s in module.SHAPES[name]) for name in module.PARAMETERS]


def random_params(module, layers, seed=0, scale=0.6):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, scale, shape) if shape else float(rng.normal(0, scale)) for shape in shapes(module, layers)]


def data(spec, batch, seed=0):
    """Inputs and targets, one row per sample; probability vectors for cross-entropy."""
    rng = np.random.default_rng(seed)
    layers = spec["layers"]
    X = rng.uniform(-1.5, 1.5, (batch, layers[0]))
    Y = rng.uniform(0.05, 0.95, (batch, layers[-1]))
    if spec.get("loss") == "cross_entropy":
        Y /= Y.sum(axis=1, keepdims=True)
    return X, Y


def flat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays])


# ------------------------------------------------------------------ the formulas, in text --------

def printed(net):
    """The deltas and gradients of ``net`` as (name, formula) strings in the network's text names."""
    d = sb.backprop(net)
    show = TextPrinter(naming.text_names(net)).doprint
    return d, [(show(s), show(e)) for s, e in d.deltas], [(show(p), show(e)) for p, e in d.gradients.items()]


def test_textbook_formulas_of_the_784_128_10_relu_softmax_network():
    net = sb.mlp([784, 128, 10], **RELU_SOFTMAX, form="matrix")
    d, deltas, gradients = printed(net)
    assert deltas == [("δ_Z_2", "(Ŷ - Y) / m"), ("δ_Z_1", "(W_2ᵀ δ_Z_2) ⊙ 1[Z_1 > 0]")]
    assert gradients == [("W_1", "δ_Z_1 Xᵀ"), ("b_1", "δ_Z_1 𝟏"), ("W_2", "δ_Z_2 A_1ᵀ"), ("b_2", "δ_Z_2 𝟏")]
    text = derivation_text(d)
    for line in ("Z_1 = W_1 X + b_1 𝟏ᵀ   (n_1×m)", "Ŷ = softmax(Z_2)   (n_2×m)", "δ_Z_2 = (Ŷ - Y) / m   (n_2×m)",
                 "δ_Z_1 = (W_2ᵀ δ_Z_2) ⊙ 1[Z_1 > 0]   (n_1×m)", "∂J/∂W_1 = δ_Z_1 Xᵀ   (n_1×n_0)",
                 "∂J/∂b_1 = δ_Z_1 𝟏   (n_1×1)", "∂J/∂W_2 = δ_Z_2 A_1ᵀ   (n_2×n_1)"):
        assert f"\n  {line}\n" in text
    assert net.sizes == tuple(sp.Symbol(n, positive=True, integer=True) for n in ("n_0", "n_1", "n_2", "m"))


@pytest.mark.parametrize("hidden, derivative", [("tanh", "(𝟏_{n_1×m} - A_1^∘2)"), ("sigmoid", "(𝟏_{n_1×m} - A_1) ⊙ A_1"),
                                                ("relu", "1[Z_1 > 0]")])
def test_sigmoid_and_binary_cross_entropy_collapse_to_yhat_minus_y(hidden, derivative):
    net = sb.mlp([2, 4, 1], activation=[hidden, "sigmoid"], loss="bce", form="matrix")
    _, deltas, gradients = printed(net)
    assert deltas == [("δ_Z_2", "(Ŷ - Y) / m"), ("δ_Z_1", f"(W_2ᵀ δ_Z_2) ⊙ {derivative}")]
    assert gradients[0] == ("W_1", "δ_Z_1 Xᵀ") and gradients[3] == ("b_2", "δ_Z_2 𝟏")


def test_the_deltas_equal_the_textbook_formulas_numerically():
    """δ_Z_2 = (Ŷ − Y)/m and δ_Z_1 = (W_2ᵀ δ_Z_2) ⊙ 1[Z_1 > 0], written here in NumPy, against the
    gradients of the generated module: ∂J/∂W_l = δ_Z_l A_{l-1}ᵀ, ∂J/∂b_l = δ_Z_l 𝟏."""
    spec = dict(layers=[3, 5, 4], **RELU_SOFTMAX)
    module = matrix_module(spec)
    W1, b1, W2, b2 = random_params(module, spec["layers"], seed=7)
    inputs, targets = data(spec, 6)
    X, Y = inputs.T, targets.T
    Z1 = W1 @ X + b1
    A1 = np.maximum(Z1, 0)
    Z2 = W2 @ A1 + b2
    Yhat = np.exp(Z2) / np.exp(Z2).sum(axis=0)
    dZ2 = (Yhat - Y) / X.shape[1]
    dZ1 = (W2.T @ dZ2) * (Z1 > 0)
    expected = [dZ1 @ X.T, dZ1.sum(axis=1, keepdims=True), dZ2 @ A1.T, dZ2.sum(axis=1, keepdims=True)]
    _, gradients = module.loss_and_gradients([W1, b1, W2, b2], inputs, targets)
    for g, e in zip(gradients, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(module.forward([W1, b1, W2, b2], inputs), Yhat.T, rtol=1e-12)


def test_the_mse_delta_is_not_ambiguous_in_text():
    _, deltas, _ = printed(sb.mlp([2, 3, 2], activation=["relu", "identity"], loss="mse", form="matrix"))
    assert "/ m*n_2" not in deltas[0][1] and "*" not in deltas[0][1]


def test_the_loss_step_is_written_in_matrix_notation():
    text = derivation_text(sb.backprop(sb.mlp([3, 4, 2], form="matrix")))
    forward = text.split("Forward pass")[1].split("Backward pass")[0]
    assert "\n  J = " in forward and "*" not in forward


def test_the_text_is_titled_with_the_network():
    net = sb.mlp([784, 128, 10], **RELU_SOFTMAX, form="matrix")
    assert "784-128-10" in net.description
    assert derivation_text(sb.backprop(net)).startswith(f"Backpropagation through {net.description}")


# --------------------------------------------------------------- one name for the output ---------

OUTPUT_NAMED = {
    "2 layers": {"layers": [2, 3, 1]},
    "3 layers": {"layers": [3, 4, 4, 2], "activation": ["tanh", "relu", "softmax"], "loss": "cross_entropy"},
}


@pytest.mark.parametrize("name", OUTPUT_NAMED)
def test_the_output_has_one_name_in_text_latex_code_and_the_command_line(name, capsys, tmp_path, monkeypatch):
    spec = OUTPUT_NAMED[name]
    net = sb.mlp(**spec, form="matrix")
    d = sb.backprop(net)
    last = len(spec["layers"]) - 1
    A_L = sp.MatrixSymbol(f"A_{last}", net.sizes[-2], net.sizes[-1])
    assert net.outputs == (A_L,)
    assert d.symbol("Ŷ") == d.symbol("Yhat") == A_L
    text = derivation_text(d)
    assert "\n  Ŷ = " in text and "(Ŷ - Y) / m" in text and f"\n  A_{last - 1} = " in text
    assert f"A_{last} " not in text and f"A_{last}\n" not in text
    tex = sb.document_latex(d)
    assert r"\hat{Y} & = " in tex and r"\hat{Y} - Y" in tex and f"A_{{{last}}}" not in tex
    source = sb.numpy_module(d)
    assert "    Yhat = " in source and "return Yhat\n" in source and "# Ŷ = " in source
    assert f"A_{last} =" not in source and f"A_{last} " not in source
    module = sb.compile(d)
    params = random_params(module, spec["layers"])
    inputs, _ = data(spec, 3)
    assert module.forward(params, inputs).shape == (3, spec["layers"][-1])

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
    assert "\n  Yhat = " in console.stdout.decode("ascii") and "delta_Z_2" in console.stdout.decode("ascii")


def test_the_matrix_form_is_looked_up_by_name():
    d = sb.backprop(sb.mlp([3, 4, 2], activation=["tanh", "softmax"], loss="cross_entropy", form="matrix"))
    for p, formula in d.gradients.items():
        assert d.gradient(p.name) is formula and d.gradient(p) is formula
        assert d[p.name] == d[p]
    assert list(d) == list(d.gradients) and len(d) == 4
    for delta, formula in d.deltas:
        step = delta.name.removeprefix("delta_")
        assert d.delta(step) is formula and d.delta(delta.name) is formula and d.delta(f"δ_{step}") is formula
    for wrong, call in [("W_9", d.__getitem__), ("Q", d.gradient), ("Q", d.delta)]:
        with pytest.raises(InputError, match=r"W_1") as error:
            call(wrong)
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="no chain of scalar factors") as error:
        d.chain("W_1")
    assert "\n" not in str(error.value)


def test_a_parameter_is_found_without_its_underscore():
    d = sb.backprop(sb.mlp([3, 4, 2], form="matrix"))
    assert d["W1"] == d["W_1"] and d.gradient("b2") is d.gradient("b_2")


# ------------------------------------------------------------------ one derivation, any width ----

def test_one_derivation_serves_every_width():
    huge = sb.mlp([99999999999999999999, 1], form="matrix")
    d = sb.backprop(huge)
    assert "99999999999999999999-1" in huge.description
    small = sb.backprop(sb.mlp([3, 1], form="matrix"))
    assert d.deltas == small.deltas and d.gradients == small.gradients
    assert sb.backprop(sb.mlp([3, 4, 2], form="matrix")).deltas == sb.backprop(sb.mlp([784, 512, 10], form="matrix")).deltas
    module = sb.compile(d)  # the sizes are read from the arrays
    for width in (1, 3):
        params = random_params(module, [width, 1])
        inputs, targets = data({"layers": [width, 1]}, 4)
        assert np.isfinite(module.loss(params, inputs, targets))


# --------------------------------------------------------- gradients against independent oracles --

def scalar_order(layers, matrix_params, names, bias):
    """The matrix form's parameters in the per-weight network's order: the weights layer by layer,
    each W_l row-major (target neuron first, then source), then the biases layer by layer."""
    by_name = dict(zip(names, matrix_params))
    L = len(layers) - 1
    biases = [np.ravel(by_name[f"b_{l}"]) for l in range(1, L + 1)] if bias else []
    return flat([by_name[f"W_{l}"] for l in range(1, L + 1)] + biases)


@pytest.mark.parametrize("bias", BIASES, ids=["per_neuron", "per_layer", "no_bias"])
@pytest.mark.parametrize("name", SPECS)
def test_gradients_equal_the_per_weight_networks(name, bias):
    spec = SPECS[name] | {"bias": bias}
    layers = spec["layers"]
    scalar = sb.compile(sb.backprop(sb.mlp(**spec)))
    matrix = matrix_module(spec)
    params = random_params(matrix, layers, seed=1)
    theta = scalar_order(layers, params, matrix.PARAMETERS, bias)
    assert len(theta) == len(scalar.PARAMETERS)
    X, Y = data(spec, 6)
    J, gradients = matrix.loss_and_gradients(params, X, Y)
    J_scalar, g_scalar = scalar.loss_and_gradients(theta, X, Y)
    assert J == pytest.approx(J_scalar, rel=1e-12)
    np.testing.assert_allclose(scalar_order(layers, gradients, matrix.PARAMETERS, bias), g_scalar, rtol=1e-10, atol=1e-14)
    for g, p in zip(gradients, params, strict=True):
        assert np.shape(g) == np.shape(p)
    np.testing.assert_allclose(matrix.forward(params, X)[0], scalar.forward(theta, X[0]), rtol=1e-12)


@pytest.mark.parametrize("bias", BIASES, ids=["per_neuron", "per_layer", "no_bias"])
@pytest.mark.parametrize("name", SPECS)
def test_gradients_match_finite_differences(name, bias):
    """Also: gradients() alone returns exactly what loss_and_gradients() does."""
    spec = SPECS[name] | {"bias": bias}
    module = matrix_module(spec)
    params = random_params(module, spec["layers"], seed=2)
    X, Y = data(spec, 5, seed=3)
    _, gradients = module.loss_and_gradients(params, X, Y)
    for alone, with_loss in zip(module.gradients(params, X, Y), gradients, strict=True):
        np.testing.assert_array_equal(alone, with_loss)
    sizes = [int(np.prod(np.shape(p))) for p in params]

    def loss(values):
        pieces = np.split(values, np.cumsum(sizes)[:-1])
        return module.loss([v.reshape(np.shape(p)) if np.ndim(p) else float(v[0]) for v, p in zip(pieces, params)], X, Y)

    np.testing.assert_allclose(flat(gradients), central_differences(loss, flat(params)), rtol=1e-6, atol=1e-8)


def jax_loss(jnp, jax, spec, bias):
    """J(params, X, Y) of the network ``spec``, written in jax.numpy: samples as columns, the mean
    over the batch of each sample's loss."""
    layers = spec["layers"]
    names = spec.get("activation", "sigmoid")
    names = [names] * (len(layers) - 1) if isinstance(names, str) else names
    activations = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": lambda z: jnp.maximum(z, 0.0),
                   "leaky_relu": lambda z: jnp.where(z > 0, z, 0.01 * z), "softplus": jax.nn.softplus,
                   "identity": lambda z: z, "softmax": lambda z: jax.nn.softmax(z, axis=0)}
    losses = {"half_sse": lambda y, a: 0.5 * ((a - y) ** 2).sum(axis=0), "mse": lambda y, a: ((a - y) ** 2).mean(axis=0),
              "bce": lambda y, a: -(y * jnp.log(a) + (1 - y) * jnp.log(1 - a)).sum(axis=0),
              "cross_entropy": lambda y, a: -(y * jnp.log(a)).sum(axis=0)}

    def J(params, X, Y):
        weights = params[::2] if bias else params
        biases = params[1::2] if bias else [0.0] * len(names)
        A = X
        for W, b, g in zip(weights, biases, names, strict=True):
            A = activations[g](W @ A + b)
        return losses[spec.get("loss", "half_sse")](Y, A).mean()
    return J


@pytest.mark.parametrize("bias", BIASES, ids=["per_neuron", "per_layer", "no_bias"])
@pytest.mark.parametrize("name", SPECS)
def test_gradients_equal_jax_grad(name, bias):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    spec = SPECS[name] | {"bias": bias}
    module = matrix_module(spec)
    params = random_params(module, spec["layers"], seed=8)
    X, Y = data(spec, 7, seed=9)
    J, gradients = module.loss_and_gradients(params, X, Y)
    as_jax = [jnp.asarray(p, dtype=jnp.float64) for p in params]
    J_jax, g_jax = jax.value_and_grad(jax_loss(jnp, jax, spec, bias))(as_jax, jnp.asarray(X.T), jnp.asarray(Y.T))
    assert J == pytest.approx(float(J_jax), rel=1e-12)
    for g, expected in zip(gradients, g_jax, strict=True):
        np.testing.assert_allclose(g, np.asarray(expected), rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------------------ number types ------

def test_lists_and_integers_are_read_as_float64():
    module = matrix_module({"layers": [2, 3, 2]})
    ones = [np.ones(shape) for shape in shapes(module, [2, 3, 2])]
    as_arrays = module.loss_and_gradients(ones, np.array([[1.0, 2.0]]), np.array([[0.0, 1.0]]))
    as_lists = module.loss_and_gradients([np.ones(p.shape, dtype=int).tolist() for p in ones], [[1, 2]], [[0, 1]])
    one_sample = module.loss_and_gradients([p.tolist() for p in ones], [1, 2], [0, 1])
    for J, gradients in (as_lists, one_sample):
        assert J == as_arrays[0] and np.asarray(J).dtype == np.float64
        for a, b in zip(gradients, as_arrays[1], strict=True):
            assert a.dtype == np.float64
            np.testing.assert_array_equal(a, b)
    assert module.forward(ones, [1, 2]).dtype == np.float64


FLOAT32 = {name: SPECS[name] for name in ("relu/softmax cross_entropy", "tanh/sigmoid bce", "sigmoid half_sse",
                                          "softplus/softmax half_sse")}
FLOAT32["leaky_relu/identity mse"] = dict(layers=[2, 3, 2], activation=["leaky_relu", "identity"], loss="mse")


@pytest.mark.parametrize("spec", FLOAT32.values(), ids=list(FLOAT32))
def test_float32_in_float32_out_and_close_to_float64(spec):
    module = matrix_module(spec)
    params = random_params(module, spec["layers"], seed=4, scale=0.5)
    X, Y = data(spec, 32)
    J64, g64 = module.loss_and_gradients(params, X, Y)
    to32 = [np.asarray(p, dtype=np.float32) for p in params]
    J32, g32 = module.loss_and_gradients(to32, X.astype(np.float32), Y.astype(np.float32))
    assert all(g.dtype == np.float32 for g in g32) and np.asarray(J32).dtype == np.float32
    assert module.forward(to32, X.astype(np.float32)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in module.gradients(to32, X.astype(np.float32), Y.astype(np.float32)))
    assert J32 == pytest.approx(J64, rel=1e-5)
    for a, b in zip(g32, g64, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)


def test_scalar_biases_per_layer_keep_float32_and_come_back_as_numbers():
    module = matrix_module({"layers": [2, 3, 1], "activation": ["tanh", "sigmoid"], "loss": "bce", "bias": "per_layer"})
    W_1, b_1, W_2, b_2 = random_params(module, [2, 3, 1], seed=12)
    X, Y = data({"layers": [2, 3, 1]}, 5)
    params = [W_1.astype(np.float32), b_1, W_2.astype(np.float32), b_2]  # the biases as Python floats
    J, gradients = module.loss_and_gradients(params, X.astype(np.float32), Y.astype(np.float32))
    assert np.asarray(J).dtype == np.float32 and [np.shape(g) for g in gradients] == [(3, 2), (), (1, 3), ()]
    assert all(np.asarray(g).dtype == np.float32 for g in gradients)
    J64, g64 = module.loss_and_gradients([W_1, b_1, W_2, b_2], X, Y)
    assert J == pytest.approx(J64, rel=1e-5) and gradients[1] == pytest.approx(g64[1], rel=1e-4, abs=1e-6)


def test_an_empty_batch_and_arrays_that_are_not_real_numbers_are_refused(relu_softmax, monkeypatch):
    module, params, X, Y = relu_softmax
    _no_arithmetic(monkeypatch, module)
    with pytest.raises(ValueError, match=r"^inputs must have shape \(m, n_0\) with m >= 1; got \(0, 3\)$"):
        module.loss(params, X[:0], Y[:0])
    with pytest.raises(ValueError, match=r"^inputs must hold numbers; got an array of complex128$"):
        module.loss(params, X.astype(complex), Y)
    with pytest.raises(ValueError, match=r"^parameter W_2 must hold numbers; got an array of <U"):
        module.gradients([params[0], params[1], params[2].astype(str), params[3]], X, Y)


# ------------------------------------------------------------------------ extreme values ----------

def _accepted():
    for activation, loss in itertools.product(sb.ACTIVATIONS, sb.LOSSES):
        try:
            sb.mlp([2, 2], activation=activation, loss=loss, form="matrix")
        except InputError:
            continue
        yield activation, loss


ACCEPTED = list(_accepted())


def test_the_accepted_combinations_are_the_expected_ones():
    assert ("softmax", "cross_entropy") in ACCEPTED and ("sigmoid", "bce") in ACCEPTED and ("relu", "half_sse") in ACCEPTED
    assert ("identity", "bce") not in ACCEPTED and ("softmax", "bce") not in ACCEPTED
    assert ("identity", "cross_entropy") not in ACCEPTED


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers", [[2, 2], [2, 3, 2]], ids=["2-2", "2-3-2"])
@pytest.mark.parametrize("activation, loss", ACCEPTED, ids=[f"{a}-{l}" for a, l in ACCEPTED])
def test_pre_activations_of_800_stay_finite_and_silent(activation, loss, layers, dtype):
    """Every first-layer pre-activation is ±800 (both signs in every sample): the loss, the output
    and every gradient are finite, with every warning an error; in float64 they equal the
    per-weight network's (which tests/test_codegen.py checks against mpmath)."""
    spec = {"layers": layers, "activation": activation, "loss": loss}
    module = matrix_module(spec)
    params = [np.where(np.indices(shape)[0] % 2, -200.0, 200.0) for shape in shapes(module, layers)]
    params = [np.zeros_like(p) if name.startswith("b") else p for p, name in zip(params, module.PARAMETERS)]
    X = np.array([[2.0, 2.0], [-2.0, -2.0]])
    Y = np.array([[0.25, 0.75], [0.75, 0.25]])
    assert np.array_equal(np.abs(params[0] @ X.T), np.full((layers[1], 2), 800.0))
    cast = [p.astype(dtype) for p in params]
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        J, gradients = module.loss_and_gradients(cast, X.astype(dtype), Y.astype(dtype))
        outputs = module.forward(cast, X.astype(dtype))
        alone = module.gradients(cast, X.astype(dtype), Y.astype(dtype))
        J_alone = module.loss(cast, X.astype(dtype), Y.astype(dtype))
    assert np.isfinite(J) and np.isfinite(J_alone) and np.all(np.isfinite(outputs))
    assert all(np.all(np.isfinite(g)) for g in gradients + alone)
    if dtype == np.float64:
        scalar = sb.compile(sb.backprop(sb.mlp(**spec)))
        theta = scalar_order(layers, params, module.PARAMETERS, "per_neuron")
        J_scalar, g_scalar = scalar.loss_and_gradients(theta, X, Y)
        assert J == pytest.approx(J_scalar, rel=1e-9)
        scale = max(1.0, *np.abs(g_scalar))
        np.testing.assert_allclose(scalar_order(layers, gradients, module.PARAMETERS, "per_neuron"), g_scalar,
                                   rtol=1e-9, atol=1e-10 * scale)


# -------------------------------------------------------------------------------- errors ---------

@pytest.fixture
def relu_softmax():
    """The 3-5-4 relu/softmax module, valid parameters and a batch of 4."""
    spec = dict(layers=[3, 5, 4], **RELU_SOFTMAX)
    module = matrix_module(spec)
    params = random_params(module, spec["layers"], seed=5)
    X, Y = data(spec, 4)
    return module, params, X, Y


def _no_arithmetic(monkeypatch, module):
    """Make the module's steps fail the test if they are ever reached."""
    def reached(*args):
        raise AssertionError("the steps ran before the arguments were checked")
    for steps in ("_forward", "_loss", "_loss_and_gradients", "_gradients"):
        monkeypatch.setattr(module, steps, reached)


@pytest.mark.parametrize("change, message", [
    (lambda p, X, Y: (p, X[:, :2], Y), (r"^n_0 must be the same everywhere: parameter W_1 has n_0 = 3 \(columns\) "
                                        r"but inputs has n_0 = 2 \(columns\)$")),
    (lambda p, X, Y: ([p[0][:, :2], *p[1:]], X, Y), r"^n_0 must be the same everywhere: .*W_1 has n_0 = 2"),
    (lambda p, X, Y: ([p[0].T, *p[1:]], X, Y), r"parameter W_1 has n_1 = 3 \(rows\) but parameter b_1 has n_1 = 5"),
    (lambda p, X, Y: ([p[0], p[1].ravel(), *p[2:]], X, Y), r"^parameter b_1 must have shape \(n_1, 1\); got \(5,\)$"),
    (lambda p, X, Y: (p[:3], X, Y), r"^params must hold 4 values \(W_1, b_1, W_2, b_2\); got 3$"),
    (lambda p, X, Y: (p, X, Y[:3]), r"^m must be the same everywhere: inputs has m = 4 \(rows\) but targets has m = 3 \(rows\)$"),
    (lambda p, X, Y: (p, X, Y[:, :, None]), r"^targets must have shape \(m, n_2\); got \(4, 4, 1\)$"),
    (lambda p, X, Y: (p, X, Y[:, :3]), r"^n_2 must be the same everywhere: .* but targets has n_2 = 3 \(columns\)$"),
])
def test_shape_errors_are_named_before_any_arithmetic(relu_softmax, monkeypatch, change, message):
    module, params, X, Y = relu_softmax
    _no_arithmetic(monkeypatch, module)
    for function in (module.loss, module.gradients, module.loss_and_gradients):
        with pytest.raises(ValueError, match=message):
            function(*change(params, X, Y))
    if "targets" not in message:
        broken, inputs, _ = change(params, X, Y)
        with pytest.raises(ValueError, match=message):
            module.forward(broken, inputs)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_values_that_are_not_finite_are_named(relu_softmax, monkeypatch, bad):
    module, params, X, Y = relu_softmax
    _no_arithmetic(monkeypatch, module)
    shown = str(bad)
    for function in (module.loss, module.gradients, module.loss_and_gradients):
        for k, name in enumerate(module.PARAMETERS):
            for index in [(0, 0), (np.shape(params[k])[0] - 1, np.shape(params[k])[1] - 1)]:
                broken = [p.copy() for p in params]
                broken[k][index] = bad
                with pytest.raises(ValueError, match=rf"^parameter {name} is not finite at \({index[0]}, {index[1]}\): {shown}$"):
                    function(broken, X, Y)
        inputs = X.copy()
        inputs[1, 2] = bad
        with pytest.raises(ValueError, match=rf"^input x3 is not finite in row 1: {shown}$"):
            function(params, inputs, Y)
        targets = Y.copy()
        targets[3, 1] = bad
        with pytest.raises(ValueError, match=rf"^target y2 is not finite in row 3: {shown}$"):
            function(params, X, targets)
    inputs = X.copy()
    inputs[1, 2] = bad
    with pytest.raises(ValueError, match=rf"^input x3 is not finite in row 1: {shown}$"):
        module.forward(params, inputs)


def test_targets_that_are_not_probability_vectors_are_refused_after_a_softmax(relu_softmax, monkeypatch):
    module, params, X, Y = relu_softmax
    _no_arithmetic(monkeypatch, module)
    half = Y / 2
    with pytest.raises(ValueError, match=r"^cross-entropy after a softmax needs targets that sum to 1 \(a probability "
                                         r"vector\); row 0: y1 \+ y2 \+ y3 \+ y4 = 0\.5$"):
        module.loss_and_gradients(params, X, half)
    negative = Y.copy()
    negative[2] = [1.5, -0.5, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"needs targets that are not negative \(a probability vector\); row 2: y2 = -0\.5$"):
        module.loss(params, X, negative)
    one = sb.compile(sb.backprop(sb.mlp([3, 2], activation="softmax", loss="cross_entropy", form="matrix")))
    with pytest.raises(ValueError, match=r"row 0: y1 \+ y2 = 0\.5$"):
        one.gradients(random_params(one, [3, 2]), X, [[0.25, 0.25]] * 4)


def test_targets_of_a_sigmoid_output_need_not_sum_to_1():
    module = matrix_module({"layers": [3, 2], "activation": "sigmoid", "loss": "bce"})
    params = random_params(module, [3, 2])
    X = np.ones((2, 3))
    J, gradients = module.loss_and_gradients(params, X, [[1.0, 1.0], [0.0, 0.0]])
    assert np.isfinite(J) and all(np.all(np.isfinite(g)) for g in gradients)


@pytest.mark.parametrize("kwargs, message", [
    ({"layers": [2, 2], "activation": "swish"}, "unknown activation 'swish'; known activations: sigmoid"),
    ({"layers": [2, 1], "activation": "softmax", "loss": "cross_entropy"}, "softmax needs at least 2 units in its layer"),
    ({"layers": [2, 3, 1], "activation": ["relu", "softmax"]}, "layer 2 has 1"),
    ({"layers": [2, 2], "activation": "identity", "loss": "bce"}, "loss bce needs outputs in (0, 1): use sigmoid"),
    ({"layers": [2, 2], "activation": "softmax", "loss": "bce"}, "loss bce after softmax cannot be computed stably"),
    ({"layers": [2, 2], "loss": "hinge"}, "unknown loss 'hinge'"),
    ({"layers": [2, 2], "bias": "per_weight"}, "unknown bias mode 'per_weight'"),
    ({"layers": [2], "activation": "sigmoid"}, "layers needs at least an input and an output size"),
    ({"layers": [2, 0]}, "layer sizes must be positive integers"),
])
def test_bad_networks_are_refused_in_one_line(kwargs, message):
    with pytest.raises(InputError) as error:
        sb.mlp(**kwargs, form="matrix")
    assert message in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(InputError, match="unknown form 'tensor'"):
        sb.mlp([2, 2], form="tensor")


# -------------------------------------------------------------------------- generated code -------

NETWORK_SOURCE = ("import sys, symbackprop as sb; sys.stdout.write(sb.numpy_module(sb.backprop(sb.mlp([784, 128, 10], "
                  "activation=['relu', 'softmax'], loss='cross_entropy', form='matrix'))))")


def _lint(path):
    """ruff, else pyflakes, on ``path``: (returncode, output); None where neither is installed."""
    ruff = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
    if ruff:
        run = subprocess.run([ruff, "check", "--isolated", "--no-cache", str(path)], capture_output=True, text=True, check=False)
        return run.returncode, run.stdout + run.stderr
    try:
        import pyflakes  # noqa: F401
    except ImportError:
        return None
    run = subprocess.run([sys.executable, "-m", "pyflakes", str(path)], capture_output=True, text=True, check=False)
    return run.returncode, run.stdout + run.stderr


@pytest.mark.parametrize("name", SPECS)
def test_generated_code_is_clean(name, tmp_path):
    source = sb.numpy_module(sb.backprop(sb.mlp(**SPECS[name], form="matrix")))
    compile(source, "grads.py", "exec")
    assert "import sympy" not in source and "PARAMETERS = (" in source and "SHAPES = {" in source
    (tmp_path / "grads.py").write_text(source)
    linted = _lint(tmp_path / "grads.py")
    if linted is not None:
        assert linted[0] == 0, linted[1]


def test_generated_code_is_byte_deterministic_across_processes():
    runs = [subprocess.run([sys.executable, "-c", NETWORK_SOURCE], capture_output=True, check=False,
                           env=dict(os.environ, PYTHONHASHSEED=seed)) for seed in ("1", "2")]
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    assert runs[0].stdout == runs[1].stdout
    assert runs[0].stdout.decode() == sb.numpy_module(sb.backprop(sb.mlp([784, 128, 10], **RELU_SOFTMAX, form="matrix")))


def test_the_generated_module_describes_its_arrays():
    module = matrix_module({"layers": [784, 128, 10], **RELU_SOFTMAX})
    assert module.PARAMETERS == ("W_1", "b_1", "W_2", "b_2")
    assert {k: module.SHAPES[k] for k in module.PARAMETERS} == {"W_1": ("n_1", "n_0"), "b_1": ("n_1", 1),
                                                                "W_2": ("n_2", "n_1"), "b_2": ("n_2", 1)}
    per_layer = matrix_module({"layers": [2, 3, 1], "bias": "per_layer"})
    assert per_layer.PARAMETERS == ("W_1", "b_1", "W_2", "b_2") and per_layer.SHAPES["b_1"] == ()
    assert matrix_module({"layers": [2, 3, 1], "bias": None}).PARAMETERS == ("W_1", "W_2")


# -------------------------------------------------------------------------------- LaTeX ----------

def test_latex_in_matrix_notation():
    d = sb.backprop(sb.mlp([784, 128, 10], activation=["sigmoid", "softmax"], loss="cross_entropy", form="matrix"))
    tex = sb.document_latex(d)
    assert r"Z_{1} & = W_{1} X + b_{1} \mathbf{1}^{T}" in tex
    assert r"\hat{Y} & = \operatorname{softmax}" in tex or r"\hat{Y} & = " in tex
    assert r"\delta_{Z_{2}} & = \frac{1}{m} \left(\hat{Y} - Y\right)" in tex
    assert r"\frac{\partial J}{\partial W_{1}} & = \delta_{Z_{1}} X^{T}" in tex
    assert sb.gradient_latex(d, "W_1").startswith(r"\frac{\partial J}{\partial W_{1}} = \delta_{Z_{1}} X^{T}")


def test_the_latex_of_a_relu_derivative_is_mathematics():
    tex = sb.document_latex(sb.backprop(sb.mlp([4, 3, 2], activation=["relu", "sigmoid"], loss="bce", form="matrix")))
    assert r"\textbackslash" not in tex and r"\text{Z\_" not in tex
    assert r"\mathbb{1}\left[Z_{1} > 0\right]" in tex


@needs_pdflatex
def test_the_matrix_document_compiles(tmp_path):
    d = sb.backprop(sb.mlp([4, 3, 2], activation=["tanh", "softmax"], loss="cross_entropy", form="matrix"))
    tex = sb.document_latex(d)
    assert r"\hat{Y}" in tex
    assert sb.pdflatex(tex, tmp_path / "m.pdf").read_bytes().startswith(b"%PDF")


# ----------------------------------------------------------------------------- training ----------

def test_training_lowers_the_loss_on_xor_like_data():
    module = matrix_module({"layers": [2, 4, 1], "activation": ["tanh", "sigmoid"], "loss": "bce"})
    rng = np.random.default_rng(3)
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    X = np.repeat(corners, 4, axis=0) + rng.normal(0, 0.05, (16, 2))
    Y = np.repeat([[0.0], [1.0], [1.0], [0.0]], 4, axis=0)
    start = random_params(module, [2, 4, 1], seed=11, scale=1.0)
    before = [p.copy() for p in start]
    params, losses = sb.train(module, start, X, Y, learning_rate=1.0, epochs=2000)
    assert len(losses) == 2001 and losses[-1] < 0.1 * losses[0]
    assert np.array_equal(module.forward(params, X) > 0.5, Y > 0.5)
    for p, b in zip(start, before, strict=True):  # the given arrays are left alone
        np.testing.assert_array_equal(p, b)
    manual = [p.copy() for p in start]  # the same as gradient descent written out
    for _ in range(3):
        _, gradients = module.loss_and_gradients(manual, X, Y)
        manual = [p - 0.5 * g for p, g in zip(manual, gradients)]
    three, _ = sb.train(module, [p.astype(np.float32) for p in start], X.astype(np.float32), Y.astype(np.float32),
                        learning_rate=0.5, epochs=3)
    for p, m in zip(three, manual, strict=True):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, m, rtol=1e-4, atol=1e-6)


BAD_CALLS = {
    "targets None": (lambda P, X, Y: (P, X, None), TypeError, "targets must be an array of numbers, one row per sample; got NoneType"),
    "inputs None": (lambda P, X, Y: (P, None, Y), TypeError, "inputs must be an array of numbers, one row per sample; got NoneType"),
    "inputs as a dict": (lambda P, X, Y: (P, {"x": X}, Y), TypeError, "inputs must be an array of numbers, one row per sample; got dict"),
    "ragged inputs": (lambda P, X, Y: (P, [[1.0, 2.0, 3.0], [1.0]], Y), ValueError,
                      "inputs must be an array of numbers, one row per sample; got rows of different lengths"),
    "ragged weights": (lambda P, X, Y: ([[[1.0], [1.0, 2.0]], *P[1:]], X, Y), ValueError,
                       "parameter W_1 must be an array of numbers; got rows of different lengths"),
    "a bias None": (lambda P, X, Y: ([P[0], None, *P[2:]], X, Y), ValueError, "parameter b_1 must hold numbers; got an array of object"),
    "params as a dict": (lambda P, X, Y: (dict(zip("abcd", P)), X, Y), TypeError, "params and inputs are sequences of arrays"),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_a_call_with_values_that_are_not_arrays_of_numbers_is_one_clear_line(name, relu_softmax):
    module, params, X, Y = relu_softmax
    arguments, kind, message = BAD_CALLS[name]
    for call in (module.loss, module.loss_and_gradients, module.gradients):
        with pytest.raises(kind) as error:
            call(*arguments(params, X, Y))
        assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_scalar_bias_that_is_not_finite_is_named_without_an_index():
    module = matrix_module({"layers": [2, 3, 1], "bias": "per_layer"})
    params = random_params(module, [2, 3, 1], seed=3)
    X, Y = data({"layers": [2, 3, 1]}, 3)
    with pytest.raises(ValueError, match=r"^parameter b_1 is not finite: nan$"):
        module.loss([params[0], float("nan"), *params[2:]], X, Y)


def test_code_for_some_parameters_of_a_network_in_matrix_form_is_refused_in_one_line():
    d = sb.backprop(sb.mlp([3, 4, 2], **RELU_SOFTMAX, form="matrix"), wrt=["W_2"])
    assert sb.verify("δ_Z_2 A_1ᵀ", d, wrt="W_2")  # the derivation itself is there
    for output in (sb.numpy_module, sb.compile, sb.gradcheck):
        with pytest.raises(InputError, match="is generated for all its parameters .*: derive it without wrt$"):
            output(d)


@pytest.mark.parametrize("spec", [dict(layers=[3, 4, 2], **RELU_SOFTMAX),
                                  dict(layers=[3, 4, 2], activation=["leaky_relu", "sigmoid"], loss="bce"),
                                  dict(layers=[2, 3, 2], activation=["softplus", "softmax"], bias="per_layer")],
                         ids=["relu/softmax", "leaky_relu/sigmoid", "softplus/softmax per_layer"])
def test_every_gradient_the_text_prints_is_accepted_back_by_verify(spec):
    d = sb.backprop(sb.mlp(**spec, form="matrix"))
    lines = [line for line in derivation_text(d).splitlines() if line.startswith("  ∂J/∂")]
    assert len(lines) == 2 * len(d.wrt)  # the delta form and the closed form of each
    for line in lines:
        lhs, rhs = line.split(" = ", 1)
        assert sb.verify(rhs.rsplit("   (", 1)[0], d, wrt=lhs.strip().removeprefix("∂J/∂")), line


@needs_pdflatex
@pytest.mark.parametrize("spec", [dict(layers=[3, 4, 2], **RELU_SOFTMAX), dict(layers=[784, 128, 10], **RELU_SOFTMAX),
                                  dict(layers=[3, 4, 4, 2], activation=["tanh", "relu", "sigmoid"], loss="bce")],
                         ids=["3-4-2", "784-128-10", "3-4-4-2"])
def test_the_document_of_a_network_in_matrix_form_fits_the_page(spec, tmp_path):
    (tmp_path / "d.tex").write_text(sb.document_latex(sb.backprop(sb.mlp(**spec, form="matrix"))), encoding="utf-8")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "d.tex"], cwd=tmp_path, capture_output=True,
                   check=True, timeout=120)
    log = (tmp_path / "d.log").read_text(encoding="utf-8", errors="replace")
    assert "Overfull \\hbox" not in log
