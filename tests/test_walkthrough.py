"""The numeric worked example, against Mazur's published walkthrough, and training."""

import re
import subprocess
import sys
from decimal import Decimal

import mpmath
import numpy as np
import pytest
import sympy as sp
from oracles import central_differences, needs_pdflatex

import symbackprop as sb
from symbackprop.errors import InputError
from symbackprop.evaluate import evaluate
from symbackprop.latex import pdflatex
from symbackprop.text import CHAIN_PATHS, CHAINS_PER_LAYER, path_count

MAZUR = dict(w1=0.15, w2=0.20, w3=0.25, w4=0.30, w5=0.40, w6=0.45, w7=0.50, w8=0.55, b1=0.35, b2=0.60,
             x1=0.05, x2=0.10, y1=0.01, y2=0.99)
# Published in Mazur, "A Step by Step Backpropagation Example" (2015), learning rate 0.5.
MAZUR_FORWARD = dict(a1=0.593269992, a2=0.596884378, a3=0.75136507, a4=0.772928465)
MAZUR_W5_TERMS = (0.74136507, 0.186815602, 0.593269992)
MAZUR_UPDATED = dict(w1=0.149780716, w2=0.19956143, w3=0.24975114, w4=0.29950229,
                     w5=0.35891648, w6=0.408666186, w7=0.511301270, w8=0.561370121)



@pytest.fixture(scope="module")
def mazur():
    d = sb.backprop(sb.mlp([2, 2, 2], activation="sigmoid", loss="half_sse", bias="per_layer"))
    return sb.walkthrough(d, MAZUR, learning_rate=0.5)


def test_forward_values_loss_and_updates_match_the_published_example(mazur):
    forward = {s.name: v for s, _, v in mazur.forward}
    for name, published in MAZUR_FORWARD.items():
        assert forward[name] == pytest.approx(published, abs=1e-9)
    assert mazur.loss == pytest.approx(0.298371109, abs=1e-9)
    updated = {p.name: v for p, v in mazur.updates}
    for name, published in MAZUR_UPDATED.items():
        assert updated[name] == pytest.approx(published, abs=1e-8), name


def test_chain_terms_of_w5_are_the_published_three_terms(mazur):
    paths = dict(mazur.chains)[sp.Symbol("w5")]
    assert len(paths) == 1
    assert [v for _, v in paths[0]] == pytest.approx(MAZUR_W5_TERMS, abs=1e-9)
    gradient = dict(mazur.gradients)[sp.Symbol("w5")]
    assert gradient == pytest.approx(np.prod([v for _, v in paths[0]]), rel=1e-12)


def test_markdown_and_latex_say_what_a_textbook_says(mazur):
    markdown = sb.walkthrough_markdown(mazur, digits=9)
    assert "simultaneous update" in markdown
    assert r"$$z_{1} = w_{1} x_{1} + w_{2} x_{2} + b_{1} = 0.15 \cdot 0.05 + 0.2 \cdot 0.1 + 0.35 = 0.3775$$" in markdown
    assert r"w_{5} \leftarrow 0.4 - 0.5 \cdot 0.0821670406 = 0.35891648" in markdown
    latex = sb.walkthrough_latex(mazur, digits=4)
    assert r"\hat{y}_{1} &= \sigma\left(z_{3}\right) = \sigma\left(1.106\right) = 0.7514" in latex


@needs_pdflatex
def test_the_walkthrough_compiles_to_pdf(mazur, tmp_path):
    assert sb.walkthrough_pdf(mazur, tmp_path / "w.pdf").read_bytes().startswith(b"%PDF")


def test_exact_values_on_a_linear_network():
    d = sb.backprop(sb.mlp([2, 1], activation="identity", loss="half_sse"))
    w = sb.walkthrough(d, {"x1": Decimal("0.5"), "x2": 2, "y1": 1, "w1": 0.1, "w2": sp.Rational(1, 3), "b1": 0},
                       learning_rate=0.5, exact=True)
    z = sp.Rational(1, 20) + sp.Rational(2, 3)  # w1 x1 + w2 x2
    assert w.loss == (z - 1) ** 2 / 2
    assert dict(w.gradients)[sp.Symbol("w1")] == (z - 1) * sp.Rational(1, 2)
    assert dict(w.updates)[sp.Symbol("b1")] == -(z - 1) / 2
    assert "Exact values" in sb.walkthrough_markdown(w)


@pytest.mark.parametrize("values, message", [
    ({"x1": 1}, "values are missing for y1, w1, b1"),
    ({"x1": 1, "y1": 1, "w1": 1, "b1": 1, "q": 2}, "'q' is not a variable of the 1-1 network.*its variables: x1, y1, w1, b1"),
    ({"x1": "one", "y1": 1, "w1": 1, "b1": 1}, "the value of x1 must be a number, got text: 'one'"),
    ({"x1": "0.5", "y1": 1, "w1": 1, "b1": 1}, "the value of x1 must be a number, got text: '0.5'"),
    ({"x1": float("nan"), "y1": 1, "w1": 1, "b1": 1}, "the value of x1 must be a finite number, got nan"),
    ({"x1": 1, "y1": 1, "w1": float("-inf"), "b1": 1}, "the value of w1 must be a finite number, got -inf"),
    ({"x1": 1, "y1": 1j, "w1": 1, "b1": 1}, "the value of y1 must be a number, got a number that is not real"),
    ({"x1": 1, "y1": 1, "w1": 1, "b1": 10**400}, r"the value of b1 is beyond float64's range \(\|x\| <= 1.8e308\), got 1e\+400"),
    ({"x1": True, "y1": 1, "w1": 1, "b1": 1}, r"the value of x1 must be a number, got a boolean \(true\)"),
    ({"x1": None, "y1": 1, "w1": 1, "b1": 1}, r"the value of x1 must be a number, got nothing \(null\)"),
])
def test_bad_values_are_named(values, message):
    d = sb.backprop(sb.mlp([1, 1]))
    with pytest.raises(InputError, match=message):
        sb.walkthrough(d, values)


def test_training_makes_xor_small():
    net = sb.mlp([2, 4, 1], activation=["tanh", "sigmoid"], loss="bce")  # 19 of 20 seeds reach the target
    module = sb.compile(sb.backprop(net))
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    start = np.random.default_rng(0).normal(size=len(net.params))
    params, losses = sb.train(module, start, X, Y, learning_rate=0.5, epochs=3000)
    assert len(losses) == 3001 and losses[-1] < 0.05 < losses[0]
    predictions = module.forward(params, X)[:, 0]
    assert np.array_equal(predictions > 0.5, Y[:, 0] > 0.5)
    manual = start.copy()  # the same loop by hand, for the first three steps
    for _ in range(3):
        manual -= 0.5 * module.loss_and_gradients(manual, X, Y)[1]
    np.testing.assert_allclose(sb.train(module, start, X, Y, 0.5, 3)[0], manual, rtol=1e-15)


@pytest.mark.parametrize("kwargs, error", [
    (dict(learning_rate=0.0, epochs=3), "learning_rate must be a positive number"),
    (dict(learning_rate=0.1, epochs=-1), "epochs must be a non-negative whole number"),
    (dict(learning_rate=0.1, epochs=2.5), "epochs must be a non-negative whole number"),
])
def test_training_refuses_bad_settings(kwargs, error):
    d = sb.backprop(sb.mlp([1, 1]))
    with pytest.raises(ValueError, match=error):
        sb.train(d, [0.0, 0.0], [1.0], [1.0], **kwargs)


x, y = sp.symbols("x y")


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("expr, values, message", [
    (sp.log(x) * y, {"x": 0, "y": 1}, r"y\*log\(x\) is undefined at x = 0 \(step v\d = log\(x\)\)"),
    (sp.log(x) * y + sp.sqrt(y), {"x": 1, "y": 0}, r"is undefined at y = 0 \(∂v\d/∂y = 1/\(2\*sqrt\(y\)\)\)"),
    (sp.sqrt(x) * y, {"x": -4, "y": 1}, r"is undefined at x = -4 \(step v\d = sqrt\(x\)\)"),
    (1 / (x - y), {"x": 2, "y": 2}, r"is undefined at x = 2, y = 2 \(step "),
])
def test_a_point_outside_the_domain_names_its_variables_and_the_step(expr, values, message, exact):
    d = sb.backprop(expr)
    with pytest.raises(InputError, match=message) as error:
        sb.walkthrough(d, values, exact=exact)
    assert "\n" not in str(error.value) and len(str(error.value)) < 200


def test_overflow_is_refused_in_float64_and_exact_values_go_on():
    d = sb.backprop(sp.exp(x) * y)
    with pytest.raises(InputError, match="is undefined at x = 1000"):
        sb.walkthrough(d, {"x": 1000, "y": 1})
    assert sb.walkthrough(d, {"x": 1000, "y": 1}, exact=True).loss == sp.exp(1000)


@pytest.mark.parametrize("digits", [0, -2, 18, 2.5, True, "6"])
def test_digits_outside_what_float64_holds_are_refused(mazur, digits):
    for render in (sb.walkthrough_markdown, sb.walkthrough_latex):
        with pytest.raises(InputError, match="digits must be a whole number from 1 to 17"):
            render(mazur, digits=digits)


def test_one_and_seventeen_digits_are_printed(mazur):
    assert "w_{1} = 0.1" in sb.walkthrough_markdown(mazur, digits=1)
    loss_line = next(line for line in sb.walkthrough_markdown(mazur, digits=17).splitlines() if line.startswith("$$J = "))
    assert float(loss_line.rstrip("$").rsplit("= ", 1)[1]) == mazur.loss  # 17 digits give the float back exactly


MATRIX_NETWORK = {"X": [[0.5, -1.0, 2.0], [1.0, 0.25, -0.5]], "Y": [[1.0, 0.0, 1.0]],
                  "W_1": [[0.1, 0.2], [0.3, -0.4]], "b_1": [[0.1], [0.2]], "W_2": [[0.7, -0.8]], "b_2": [[0.1]]}


def test_the_walkthrough_of_a_network_in_matrix_form_has_the_numbers_of_its_generated_code():
    d = sb.backprop(sb.mlp([2, 2, 1], activation=["tanh", "sigmoid"], loss="bce", form="matrix"))
    w = sb.walkthrough(d, MATRIX_NETWORK, learning_rate=0.5)  # the batch size m is read from X
    module = sb.compile(d)
    params = [np.array(MATRIX_NETWORK[name]) for name in module.PARAMETERS]
    inputs, targets = np.array(MATRIX_NETWORK["X"]).T, np.array(MATRIX_NETWORK["Y"]).T  # one row per sample
    J, gradients = module.loss_and_gradients(params, inputs, targets)
    assert w.loss == pytest.approx(J, rel=1e-12)
    for (p, got), expected in zip(w.gradients, gradients):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    for (p, new), old, g in zip(w.updates, params, gradients):
        np.testing.assert_allclose(new, old - 0.5 * g, rtol=1e-12)
    markdown = sb.walkthrough_markdown(w)
    assert markdown.startswith("# A worked example: the 2-2-1 network in matrix form") and r"\hat{Y}" in markdown


def test_a_hand_derivation_of_a_network_in_matrix_form_is_verified():
    d = sb.backprop(sb.mlp([2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy", form="matrix"))
    for target in (d, d.graph):
        assert sb.verify("(Ŷ - Y)*A_1^T/m", target, wrt="W_2")
        assert sb.verify("delta_Z_2*A_1.T", target, wrt="W_2")
        verdict = sb.verify("(Ŷ - Y)*A_1^T", target, wrt="W_2")  # the mean's 1/m forgotten
        assert not verdict and "n_0 = 2, n_1 = 3, n_2 = 4, m = 5" in str(verdict)  # at sizes all different


def test_a_notebook_shows_the_walkthrough_as_markdown(mazur):
    assert mazur._repr_markdown_() == sb.walkthrough_markdown(mazur)


def test_a_large_network_writes_out_few_chains_and_every_gradient_and_update():
    net = sb.mlp([4, 8, 8, 3], activation=["sigmoid", "sigmoid", "softmax"], loss="cross_entropy")
    d = sb.backprop(net)
    values = {v.name: 0.1 + 0.02 * (i % 5) for i, v in enumerate(net.variables)}
    values.update({t.name: share for t, share in zip(net.targets, (0.2, 0.3, 0.5))})
    w = sb.walkthrough(d, values, learning_rate=0.5)
    written = [p for p, paths in w.chains if paths is not None]
    assert 0 < len(written) <= CHAINS_PER_LAYER * 3
    assert all(path_count(d, p) <= CHAIN_PATHS for p in written)
    loss = sp.lambdify(net.variables, net.closed_steps()[net.output])
    point = [values[v.name] for v in net.variables]
    numeric = dict(zip(net.variables, central_differences(lambda v: loss(*v), point)))
    gradients = dict(w.gradients)
    assert set(gradients) == set(d.wrt) and len(w.updates) == len(d.wrt)
    for p in (d.wrt[0], d.wrt[60], d.wrt[-1]):
        assert gradients[p] == pytest.approx(numeric[p], rel=1e-5, abs=1e-9)
        assert dict(w.updates)[p] == pytest.approx(values[p.name] - 0.5 * numeric[p], rel=1e-6)


SOFTMAX_POINT = {"x1": 0.5, "x2": -0.2, "w1": 0.1, "w2": 0.2, "w3": -0.3, "w4": 0.4, "b1": 0.1, "b2": -0.1}


@pytest.mark.parametrize("targets, message", [
    ({"y1": 0.3, "y2": 0.3}, "y1 + y2 = 0.6"),
    ({"y1": 1.2, "y2": -0.2}, "y2 = -0.2"),
])
def test_softmax_cross_entropy_refuses_targets_that_are_not_a_probability_vector(targets, message):
    # The fused delta ŷ − y equals ∂J/∂z only where Σy = 1: with y = (0.3, 0.3), sympy.diff of the
    # loss itself disagrees with it, so a walkthrough or a picture would print a wrong gradient.
    net = sb.mlp([2, 2], activation="softmax", loss="cross_entropy")
    d = sb.backprop(net)
    values = SOFTMAX_POINT | {"y1": 0.3, "y2": 0.3}
    exact = float(sp.diff(net.loss, sp.Symbol("b1")).subs({sp.Symbol(k): v for k, v in values.items()}))
    fused = float(d[sp.Symbol("b1")].subs({sp.Symbol(k): v for k, v in values.items()}))
    assert exact != pytest.approx(fused)
    for make in (lambda v: sb.walkthrough(d, v), lambda v: sb.picture(net, v)):
        with pytest.raises(InputError, match="probability vector") as error:
            make(SOFTMAX_POINT | targets)
        assert message in str(error.value) and "\n" not in str(error.value)
    w = sb.walkthrough(d, SOFTMAX_POINT | {"y1": 0.25, "y2": 0.75})  # a probability vector is fine
    gradient = dict(w.gradients)[sp.Symbol("b1")]
    point = {sp.Symbol(k): v for k, v in (SOFTMAX_POINT | {"y1": 0.25, "y2": 0.75}).items()}
    assert gradient == pytest.approx(float(sp.diff(net.loss, sp.Symbol("b1")).subs(point)), rel=1e-9)


SOFTMAX_VALUES = dict(x1=0.5, x2=-0.25, y1=1, y2=0, w1=0.1, w2=0.2, w3=-0.3, w4=0.4, w5=0.5, w6=-0.6, w7=0.7, w8=0.8,
                      b1=0.1, b2=0.2, b3=0.3, b4=0.4)


def test_exact_values_are_never_evaluated_or_printed_as_nested_trees(monkeypatch):
    """Exact values nest over the layers (σ of a sum of σ's…); their decimals come step by step
    from the decimals before, so nothing larger than one formula of the derivation is evaluated
    to a decimal (SymPy's own two-digit sign checks aside), and the decimals agree with the
    float64 walkthrough."""
    d = sb.backprop(sb.mlp([2, 3, 3, 2]))
    values = {v.name: round(0.1 + 0.05 * i, 2) for i, v in enumerate(d.graph.variables)}
    largest = max(sb.simplify.tree_size(e) for e in [s.expr for s in d.graph.steps] + [e for _, e in d.deltas]
                  + [f.expr for p in d.wrt for path in d.chain(p).paths for f in path.factors]
                  + [d.gradient(p) for p in d.wrt])
    evaluated = []
    evalf = sp.Expr.evalf

    def recording(self, n=15, *args, **kwargs):
        if n > 2:
            evaluated.append(sb.simplify.tree_size(self))
        return evalf(self, n, *args, **kwargs)

    monkeypatch.setattr(sp.Expr, "evalf", recording)
    w = sb.walkthrough(d, values, exact=True)
    latex = sb.walkthrough_latex(w)
    monkeypatch.undo()
    assert max(evaluated) <= largest
    floats = sb.walkthrough(d, values)
    for (symbol, _, exact), (_, _, number) in zip(w.forward + w.deltas, floats.forward + floats.deltas):
        assert float(w.decimals[exact]) == pytest.approx(number, rel=1e-12, abs=1e-15), symbol
    for (p, exact), (_, number) in zip(w.updates, floats.updates):
        assert float(w.decimals[exact]) == pytest.approx(number, rel=1e-12), p
    assert r"\sigma\left(\sigma" not in latex  # a nested exact value is shown as its decimal
    assert float(sp.N(w.loss, 20)) == pytest.approx(floats.loss, rel=1e-12)  # the exact values themselves are right
    assert float(sp.N(w.updates[-1][1], 20)) == pytest.approx(floats.updates[-1][1], rel=1e-12)


@pytest.mark.parametrize("render", [sb.walkthrough_latex, sb.walkthrough_markdown])
@pytest.mark.parametrize("exact", [False, True])
def test_every_value_has_one_relation_before_it(render, exact):
    d = sb.backprop(sb.mlp([2, 2, 2], activation=["sigmoid", "softmax"], loss="cross_entropy"))
    document = render(sb.walkthrough(d, SOFTMAX_VALUES, exact=exact))
    assert not re.search(r"(=|\\approx)\s*&?\s*(=|\\approx)", document)
    if exact:
        assert r"\approx" in document  # the softmax values are not rational: decimals beside them


@pytest.mark.parametrize("exponent", [20000, 10**5, 10**12])
def test_exact_powers_too_long_to_write_stay_powers_with_their_decimal(exponent):
    """(1/2)**20000 has 6,000 digits and (1/2)**(10**12) could never be written: the walkthrough
    keeps them as powers and gives their decimal, computed apart (mpmath), in seconds."""
    script = ("import sys\nfrom decimal import Decimal\nimport symbackprop as sb\n"
              "d = sb.backprop(sys.argv[1])\n"
              "print(sb.walkthrough_markdown(sb.walkthrough(d, {'x': Decimal('0.5')}, exact=True)))\n")
    done = subprocess.run([sys.executable, "-c", script, f"x**{exponent}"], capture_output=True, text=True, timeout=120, check=True)
    mantissa, power = mpmath.nstr(mpmath.mpf(0.5) ** exponent, 6, min_fixed=0, max_fixed=0).split("e")
    assert r"\left(\frac{1}{2}\right)^{%d}" % exponent in done.stdout
    assert r"\approx %s \times 10^{%d}" % (mantissa, int(power)) in done.stdout


def test_an_update_beyond_float64_is_refused_and_exact_mode_prints_it():
    d = sb.backprop(sp.Symbol("x") ** 2)
    with pytest.raises(InputError, match=r"the update x ← 10 − 1e\+308·20 leaves float64's range"):
        sb.walkthrough(d, {"x": 10}, learning_rate=1e308)
    w = sb.walkthrough(d, {"x": 10}, learning_rate=1e308, exact=True)
    assert dict(w.updates)[sp.Symbol("x")] == 10 - 20 * sp.Integer(10) ** 308
    assert r"\approx -2.0 \times 10^{309}" in sb.walkthrough_markdown(w)


# ------------------------------------------------------------------------------------------
# Derivations with matrix steps: float64, matrices as nested lists.

n, m, k = sp.symbols("n m k", integer=True, positive=True)
X, W, Y = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, k), sp.MatrixSymbol("Y", n, k)
S, xs, mu = sp.MatrixSymbol("S", n, n), sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("mu", n, 1)
LEAST_SQUARES = sp.trace((X * W - Y).T * (X * W - Y))
GAUSSIAN = sp.log(sp.det(S)) / 2 + sp.Trace((xs - mu).T * S.I * (xs - mu)) / 2
RNG = np.random.default_rng(13)
XV, WV, YV = RNG.normal(size=(3, 2)), RNG.normal(size=(2, 2)), RNG.normal(size=(3, 2))
SV = np.eye(3) * 2 + 0.1 * RNG.normal(size=(3, 3))
xv, muv = RNG.normal(size=(3, 1)), RNG.normal(size=(3, 1))


def gaussian_nll(Sv, xv_, muv_):
    r = xv_ - muv_
    return 0.5 * np.log(np.linalg.det(Sv)) + 0.5 * (r.T @ np.linalg.inv(Sv) @ r).item()


@pytest.mark.parametrize("expr, expected", [
    (sp.Trace(xs.T * S * xs), lambda: (xv.T @ SV @ xv).item()),
    (sp.log(sp.det(S)), lambda: np.log(np.linalg.det(SV))),
    (S.I * xs, lambda: np.linalg.solve(SV, xv)),
    (sp.HadamardPower(X, 2) + sp.HadamardProduct(X, X), lambda: 2 * XV**2),
    ((X * W).applyfunc(sb.sigmoid), lambda: 1 / (1 + np.exp(-XV @ WV))),
    (sp.OneMatrix(1, n) * X * sp.OneMatrix(m, 1), lambda: np.array([[XV.sum()]])),
    (X.T * X / n + sp.Identity(m), lambda: XV.T @ XV / 3 + np.eye(2)),
    (S**2, lambda: SV @ SV),
    (GAUSSIAN, lambda: gaussian_nll(SV, xv, muv)),
], ids=["xᵀSx", "log det", "S⁻¹x", "X∘²+X⊙X", "σ(XW)", "sum", "XᵀX/n + I", "S²", "Gaussian NLL"])
def test_matrix_values_are_numpys(expr, expected):
    table = {X: XV, W: WV, Y: YV, S: SV, xs: xv, mu: muv}
    assert np.allclose(evaluate(expr, table, {n: 3, m: 2, k: 2}), expected(), rtol=1e-12, atol=1e-12)


def test_a_least_squares_walkthrough_has_the_textbook_gradient_and_update():
    d = sb.backprop(LEAST_SQUARES, wrt=[W])
    w = sb.walkthrough(d, {"X": XV.tolist(), "W": WV.tolist(), "Y": YV.tolist()}, learning_rate=0.1, sizes={"n": 3, "m": 2, "k": 2})
    assert w.loss == pytest.approx(np.sum((XV @ WV - YV) ** 2), rel=1e-12)
    gradient = 2 * XV.T @ (XV @ WV - YV)  # ∂‖XW − Y‖²/∂W
    assert np.allclose(dict(w.gradients)[W], gradient, rtol=1e-12)
    assert np.allclose(dict(w.updates)[W], WV - 0.1 * gradient, rtol=1e-12)
    assert all(np.shape(value) == tuple(int(s.subs({n: 3, m: 2, k: 2})) for s in symbol.shape)
               for symbol, _, value in w.forward if isinstance(symbol, sp.MatrixExpr))


def test_a_gaussian_walkthrough_agrees_with_finite_differences():
    d = sb.backprop(GAUSSIAN, wrt=[mu, S])
    w = sb.walkthrough(d, {"S": SV, "x": xv, "mu": muv.ravel().tolist()}, sizes={"n": 3})
    assert w.loss == pytest.approx(gaussian_nll(SV, xv, muv), rel=1e-12)
    by_mu = central_differences(lambda v: gaussian_nll(SV, xv, v.reshape(3, 1)), muv.ravel())
    assert np.allclose(np.ravel(dict(w.gradients)[mu]), by_mu, rtol=1e-6, atol=1e-8)
    by_s = central_differences(lambda v: gaussian_nll(v.reshape(3, 3), xv, muv), SV.ravel())
    assert np.allclose(np.ravel(dict(w.gradients)[S]), by_s, rtol=1e-6, atol=1e-8)


def test_a_matrix_walkthrough_needs_its_sizes_and_matrices_of_their_shapes():
    d = sb.backprop(LEAST_SQUARES, wrt=[W])
    values = {"X": XV, "W": WV, "Y": YV}
    read = sb.walkthrough(d, values)  # the sizes read from the matrices given
    assert read.gradients == sb.walkthrough(d, values, sizes={"n": 3, "m": 2, "k": 2}).gradients
    for sizes, values_given, message in [
            ({"n": 3, "m": 2, "k": 2, "q": 1}, values, "unknown size q"), ({"n": 3, "m": 2, "k": 0}, values, "whole number >= 1"),
            (None, {"X": XV, "W": WV[0].tolist()}, "sizes k are symbolic")]:  # k only in W, given flat
        with pytest.raises(InputError) as error:
            sb.walkthrough(d, values_given, sizes=sizes)
        assert message in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(InputError, match="the value of X must be n×m = 3×2, got shape 2×3"):
        sb.walkthrough(d, {**values, "X": XV.T}, sizes={"n": 3, "m": 2, "k": 2})
    with pytest.raises(InputError, match="computed in float64"):
        sb.walkthrough(d, values, sizes={"n": 3, "m": 2, "k": 2}, exact=True)
    with pytest.raises(InputError, match="sizes are for derivations with matrices"):
        sb.walkthrough(sb.backprop(x * y), {"x": 1, "y": 2}, sizes={"n": 3})


def test_small_matrices_are_printed_entry_by_entry_and_large_ones_by_their_shape():
    B, S5 = sp.MatrixSymbol("B", 5, 5), sp.MatrixSymbol("S", 5, 5)  # concrete sizes: none to give
    w = sb.walkthrough(sb.backprop(sp.Trace(B.T * S5 * B), wrt=[S5]), {"B": np.eye(5), "S": np.eye(5)})
    markdown = sb.walkthrough_markdown(w)
    assert r"\text{a } 5 \times 5 \text{ matrix}" in markdown and "pmatrix" not in markdown
    small = sb.walkthrough(sb.backprop(LEAST_SQUARES, wrt=[W]), {"X": XV, "W": WV, "Y": YV}, sizes={"n": 3, "m": 2, "k": 2})
    assert r"W &= \begin{pmatrix} %.3g & %.3g \\ " % tuple(WV[0]) in sb.walkthrough_latex(small, digits=3)


@needs_pdflatex
def test_a_matrix_walkthrough_compiles(tmp_path):
    w = sb.walkthrough(sb.backprop(GAUSSIAN, wrt=[S, mu]), {"S": SV, "x": xv, "mu": muv}, sizes={"n": 3})
    assert pdflatex(sb.walkthrough_latex(w), tmp_path / "w.pdf").read_bytes().startswith(b"%PDF")


A3, X3, B3 = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("X", 3, 3), sp.MatrixSymbol("B", 3, 2)
a3, b3, x3 = sp.MatrixSymbol("a", 3, 1), sp.MatrixSymbol("b", 3, 1), sp.MatrixSymbol("x", 3, 1)
# One case per operation, at concrete sizes (no sizes to give): J → the variable.
CONCRETE = {
    "tr(A X B Bᵀ)": (sp.Trace(A3 * X3 * B3 * B3.T), X3),
    "aᵀ X⁻¹ b": (a3.T * X3.I * b3, X3),
    "tr(A X³)": (sp.Trace(A3 * X3**3), X3),
    "det(X)²": (sp.det(X3) ** 2, X3),
    "log det(Xᵀ X)": (sp.log(sp.det(X3.T * X3)), X3),
    "tr(A (X ⊙ X ⊙ A))": (sp.Trace(A3 * sp.HadamardProduct(X3, X3, A3)), X3),
    "tr(A X^∘3)": (sp.Trace(A3 * sp.HadamardPower(X3, 3)), X3),
    "tr(A σ(X))": (sp.Trace(A3 * X3.applyfunc(sb.sigmoid)), X3),
    "log(xᵀ A x)": (sp.log(sp.Trace(x3.T * A3 * x3)), x3),
    "(aᵀ x)²": ((a3.T * x3) ** 2, x3),
    "𝟏ᵀ sin(Bᵀ x)": (sp.OneMatrix(1, 2) * (B3.T * x3).applyfunc(sp.sin), x3),
}


@pytest.mark.parametrize("name", list(CONCRETE))
def test_matrix_walkthrough_gradients_agree_with_finite_differences(name):
    J, p = CONCRETE[name]
    d = sb.backprop(J, wrt=[p])
    rng = np.random.default_rng(7)
    values = {v: rng.normal(size=v.shape) + (3 * np.eye(v.shape[0]) if v.shape[0] == v.shape[1] else 0) for v in d.graph.variables}
    w = sb.walkthrough(d, {v.name: value.tolist() for v, value in values.items()})
    J = sp.Trace(J) if isinstance(J, sp.MatrixExpr) else J

    def loss(flat):
        return evaluate(J, {**values, p: flat.reshape(p.shape)}, {})

    assert w.loss == pytest.approx(loss(values[p].ravel()), rel=1e-12)
    assert np.allclose(np.ravel(dict(w.gradients)[p]), central_differences(loss, values[p].ravel()), rtol=1e-6, atol=1e-7)
    assert "pmatrix" in sb.walkthrough_markdown(w)


def test_a_network_in_matrix_form_refuses_targets_that_are_not_probabilities_after_a_softmax():
    d = sb.backprop(sb.mlp([2, 2, 2], activation=["tanh", "softmax"], loss="cross_entropy", form="matrix"))
    values = MATRIX_NETWORK | {"W_2": [[0.5, -0.6], [0.7, 0.8]], "b_2": [[0.0], [0.0]], "Y": [[2.0, 0.0, 1.0], [0.0, 1.0, 0.0]]}
    for show in (sb.walkthrough, sb.picture):
        with pytest.raises(InputError, match=r"sum to 1 \(a probability vector\); sample 1 \(column 0\): y1 \+ y2 = 2$"):
            show(d, values)
    values["Y"] = [[1.0, 0.0, 0.25], [0.0, 1.0, 0.75]]
    assert sb.walkthrough(d, values).loss > 0


def test_a_network_or_an_expression_is_derived_for_its_walkthrough():
    net = sb.mlp([1, 1])
    values = {"x1": 1.0, "y1": 0.0, "w1": 0.5, "b1": 0.1}
    assert sb.walkthrough(net, values).gradients == sb.walkthrough(sb.backprop(net), values).gradients
    assert sb.walkthrough("x*y", {"x": 2, "y": 3}).loss == 6
