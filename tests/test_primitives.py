"""Activations and losses: derivatives in terms of themselves, exact values, stable NumPy code."""

import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.errors import InputError
from symbackprop.primitives import logsumexp, softmax

z, u, y = sp.symbols("z u y")
ONE_ARGUMENT = [sb.sigmoid, sb.tanh, sb.relu, sb.leaky_relu, sb.softplus]
EXTREMES = np.array([-800.0, -30.0, -1.0, 0.0, 1e-3, 2.5, 30.0, 800.0])


def elementary(expr):
    """``expr`` with every library function written out in exp / log / Max."""
    return expr.rewrite(sp.exp)


@pytest.mark.parametrize("f", ONE_ARGUMENT, ids=lambda f: f.__name__)
def test_derivative_agrees_with_the_elementary_form(f):
    derivative = sp.diff(f(z), z)
    reference = sp.diff(elementary(f(z)), z)
    for value in (-1.7, -0.2, 0.4, 2.3):
        point = {z: sp.Float(value, 30)}
        assert float(derivative.subs(point).evalf(30)) == pytest.approx(float(reference.subs(point).evalf(30)), rel=1e-12)


def test_derivatives_are_written_in_terms_of_the_function_itself():
    assert sp.diff(sb.sigmoid(z), z) == sb.sigmoid(z) * (1 - sb.sigmoid(z))
    assert sp.diff(sb.tanh(z), z) == 1 - sb.tanh(z) ** 2
    assert sp.diff(sb.softplus(z), z) == sb.sigmoid(z)
    z1, z2, z3 = sp.symbols("z1:4")
    s = [sb.softmax(k, z1, z2, z3) for k in (1, 2, 3)]
    assert sp.diff(s[0], z1) == s[0] * (1 - s[0])
    assert sp.diff(s[0], z2) == -s[0] * s[1]


def test_relu_derivative_at_the_kink_is_zero_and_leaky_relu_takes_the_slope():
    assert sp.diff(sb.relu(z), z).subs(z, 0) == 0
    assert sp.diff(sb.relu(z), z).subs(z, 2) == 1
    assert sp.diff(sb.leaky_relu(z), z).subs(z, 0) == sp.Rational(1, 100)
    assert sp.diff(sb.leaky_relu(z, sp.Rational(1, 5)), z).subs(z, -3) == sp.Rational(1, 5)
    assert sb.relu(-3) == 0 and sb.relu(sp.Rational(5, 2)) == sp.Rational(5, 2)


def test_exact_and_floating_values():
    assert sb.sigmoid(0) == sp.S.Half
    assert sb.sigmoid(sp.Float(1.0)) == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-15)
    assert float(sb.sigmoid(sp.Integer(2)).evalf()) == pytest.approx(1 / (1 + np.exp(-2.0)), rel=1e-15)
    assert float(sb.softplus(sp.Integer(1)).evalf()) == pytest.approx(np.log1p(np.e), rel=1e-15)
    assert float(sb.softmax(2, sp.Integer(0), sp.Integer(1)).evalf()) == pytest.approx(np.e / (1 + np.e), rel=1e-15)
    assert sb.softmax(1, z) == 1
    with pytest.raises(ValueError, match="softmax index must be an integer from 1 to 2"):
        sb.softmax(3, z, u)


def lambdified(expr, *symbols):
    return sp.lambdify(symbols, expr, "numpy")


def reference(expr, *values):
    """``expr`` (in z, u, y) evaluated with 400-digit mpmath: enough for 1 − σ(800) ≈ 1e-348."""
    with mpmath.workdps(400):
        f = sp.lambdify([z, u, y], elementary(expr), "mpmath")
        return float(f(*[mpmath.mpf(v) for v in values]))


@pytest.mark.parametrize("f", ONE_ARGUMENT + [lambda t: sb.softmax(1, t, u)], ids=lambda f: getattr(f, "__name__", "softmax"))
def test_numpy_code_is_finite_accurate_and_silent_at_extreme_inputs(f):
    g = lambdified(f(z), z, u)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        values = g(EXTREMES, 0.5)
    assert np.all(np.isfinite(values))
    for value, got in zip(EXTREMES, values):
        assert got == pytest.approx(reference(f(z), value, 0.5, 0.0), rel=1e-12, abs=1e-300)


def test_losses_print_stably_on_the_logits():
    bce = sb.binary_cross_entropy(y, sb.sigmoid(z))
    xent = sb.cross_entropy(y, sb.softmax(1, z, u))
    xent_sigmoid = sb.cross_entropy(y, sb.sigmoid(z))  # −y ln σ(z) ≈ 800 y at z = −800, not inf
    for loss in (bce, xent, xent_sigmoid):
        g = lambdified(loss, z, u, y)
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("error")
            values = g(EXTREMES, 0.5, 0.3)
        assert np.all(np.isfinite(values))
        for value, got in zip(EXTREMES, values):
            assert got == pytest.approx(reference(loss, value, 0.5, 0.3), rel=1e-10)


@pytest.mark.parametrize("loss", [sb.binary_cross_entropy, sb.cross_entropy], ids=["bce", "cross_entropy"])
@pytest.mark.parametrize("activation", [sb.sigmoid, lambda t: softmax(2, u, t)], ids=["sigmoid", "softmax"])
def test_the_stable_form_on_the_logits_is_the_same_loss(loss, activation):
    if loss is sb.binary_cross_entropy and activation is not sb.sigmoid:
        assert loss.on_logits(y, activation(z)) is None  # refused when a network is built
        return
    stable = loss.on_logits(y, activation(z))
    assert stable is not None and not stable.atoms(sp.log)
    for point in ({z: -3.5, u: 0.25, y: 0.3}, {z: 0.8, u: -1.5, y: 1.0}):
        exact = {s: sp.Float(v, 40) for s, v in point.items()}
        assert float(elementary(stable).subs(exact).evalf(40)) == pytest.approx(
            float(elementary(loss(y, activation(z))).subs(exact).evalf(40)), rel=1e-30)


def test_logsumexp_differentiates_to_the_softmax_and_prints_without_overflow():
    assert sp.diff(logsumexp(z, u), u) == softmax(2, z, u)
    g = lambdified(logsumexp(z, u), z, u)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert g(np.array([800.0, -800.0]), 0.0) == pytest.approx([800.0, 0.0], abs=1e-12)


def test_loss_derivatives():
    p = sp.Symbol("p")
    assert sp.diff(sb.binary_cross_entropy(y, p), p) == (p - y) / (p * (1 - p))
    assert sp.diff(sb.binary_cross_entropy(y, sb.sigmoid(z)), z) == sb.sigmoid(z) - y
    assert sp.diff(sb.cross_entropy(y, p), p) == -y / p
    for loss in (sb.binary_cross_entropy(y, p), sb.cross_entropy(y, p)):
        for s in (y, p):
            point = {y: sp.Float("0.3", 30), p: sp.Float("0.6", 30)}
            assert float(sp.diff(loss, s).subs(point).evalf(30)) == pytest.approx(
                float(sp.diff(elementary(loss), s).subs(point).evalf(30)), rel=1e-12)


def test_latex_uses_the_usual_notation():
    assert sp.latex(sb.sigmoid(z)) == r"\sigma\left(z\right)"
    assert sp.latex(sb.relu(z)) == r"\operatorname{ReLU}\left(z\right)"
    assert sp.latex(sb.softmax(2, z, u)) == r"\operatorname{softmax}_{2}\left(z, u\right)"


def test_sinc_derivative_is_finite_and_accurate_near_zero_in_numpy():
    from symbackprop.primitives import sinc, sinc_derivative

    assert sp.diff(sinc(z), z) == sinc_derivative(z) and sinc_derivative(0) == 0
    values = np.array([0.0, 1e-12, -1e-6, 9e-5, 1.1e-4, 0.09, -0.11, 0.3, -2.0, 40.0])
    g = lambdified(sinc_derivative(z), z)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        got = g(values)
        scalar = g(0.0)
    assert scalar == 0.0
    for value, result in zip(values, got):
        with mpmath.workdps(60):  # sinc'(u) = (cos u − sin(u)/u)/u, with its limit 0 at 0
            u = mpmath.mpf(value)
            exact = 0.0 if value == 0 else float((mpmath.cos(u) - mpmath.sin(u) / u) / u)
        assert result == pytest.approx(exact, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("args", [([sp.Symbol("x"), sp.Symbol("y")],), (1,), (0, sp.Symbol("x")), (3, sp.Symbol("x"), sp.Symbol("y"))])
def test_softmax_called_wrongly_says_how_to_call_it(args):
    with pytest.raises(InputError, match="softmax") as error:
        softmax(*args)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, activation", [
    ("swish", lambda z: z * sb.sigmoid(z)),  # z·σ(z), from the library's own primitives
    ("gelu", lambda z: z * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (z + sp.Float("0.044715") * z**3))) / 2),  # from SymPy's
])
def test_an_activation_registered_in_one_place_runs_through_every_output(name, activation, monkeypatch, tmp_path):
    """Adding an activation touches one module: one entry in ACTIVATIONS, and every output has it."""
    from symbackprop import cli, primitives
    monkeypatch.setitem(primitives.ACTIVATIONS, name, activation)
    net = sb.mlp([2, 3, 1], activation=[name, "sigmoid"], loss="bce")
    d = sb.backprop(net)
    assert sb.gradcheck(d).passed and sb.gradcheck(sb.mlp([2, 3, 1], activation=[name, "sigmoid"], loss="bce",
                                                          form="matrix")).passed
    values = {v.name: 0.3 for v in net.variables}
    z1 = sp.Symbol("z1")
    w = sb.walkthrough(d, values)
    assert abs({s: v for s, _, v in w.forward}[sp.Symbol("a1")] - float(activation(z1).subs(z1, 0.3 * 0.3 * 2 + 0.3))) < 1e-12
    assert r"\frac{\partial J}{\partial w_{1}}" in sb.document_latex(d) and "a_{1}" in sb.walkthrough_markdown(w)
    assert "a1" in sb.picture(net, values).dot
    assert sb.verify(sp.diff(activation(z1), z1), activation(z1), wrt=z1)
    module = sb.compile(d)  # finite at extreme pre-activations, one sample and a batch alike
    for z in (-800.0, 800.0):
        params = [z] * len(module.PARAMETERS)
        J, gradients = module.loss_and_gradients(params, [1.0, 1.0], [1.0])
        batch = module.loss_and_gradients(np.array(params), np.ones((4, 2)), np.ones((4, 1)))
        assert np.isfinite(J) and np.all(np.isfinite(gradients)) and np.all(np.isfinite(batch[1]))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check", "--layers", "2,3,1", "--activation", f"{name},sigmoid", "--loss", "bce"]) == 0
