"""The hand-derivation verifier: the published mistakes are caught, right claims pass in any
spelling, and counterexamples are real."""

import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import naming
from symbackprop.errors import InputError
from symbackprop.parse import parse_expr
from symbackprop.testing import assert_gradient
from symbackprop.text import TextPrinter

z, x, y = sp.symbols("z x y")
NET = sb.mlp([1, 1, 1], activation="sigmoid", loss="bce")  # two layers of one neuron, BCE
SHOWN = naming.text_names(NET)  # how the library prints NET's symbols (its output a2 as ŷ)
YHAT = SHOWN[sp.Symbol("a2")]


def test_the_three_published_mistakes_are_caught():
    # σ(z) written as 1/(1 + e^z)
    assert not sb.verify("1/(1 + exp(z))", sb.sigmoid(z))
    # dJ/dŷ with the wrong sign, and dŷ/dz2 as z2(1 − z2): the chain verdict names both
    verdict = sb.verify(["y/ŷ + (1 - y)/(1 - ŷ)", "z2*(1 - z2)", "a1"], NET, wrt="w2")
    assert verdict.factors_right == [False, False, True]
    a2, y1 = sp.symbols("a2 y1")
    assert verdict.factors[0][1].correct == (a2 - y1) / (a2 * (1 - a2))
    assert verdict.factors[1][1].correct == a2 * (1 - a2)
    assert not verdict and not verdict.product
    assert "2 factor(s) wrong" in str(verdict) and f"should be {YHAT}*(1 - {YHAT})" in str(verdict)


@pytest.mark.parametrize("claim", [
    ["-y/ŷ + (1 - y)/(1 - ŷ)", "ŷ*(1 - ŷ)", "a1"],
    ["(yhat - y)/(yhat*(1 - yhat))", "sigmoid(z2)*(1 - sigmoid(z2))", "sigmoid(w1*x1 + b1)"],
    ["(y_hat - y)/(y_hat - y_hat**2)", "exp(-z2)/(1 + exp(-z2))**2", "a1"],
])
def test_right_factors_pass_in_any_spelling(claim):
    verdict = sb.verify(claim, NET, wrt="w2")
    assert verdict and verdict.product


@pytest.mark.parametrize("claim, right", [
    ("(ŷ - y)*a1", True),
    ("(ŷ - y)*w2*a1*(1 - a1)*x1", False),  # that is ∂J/∂w1
    ("(sigmoid(w2*sigmoid(w1*x1 + b1) + b2) - y1)*sigmoid(w1*x1 + b1)", True),
    ("(y - ŷ)*a1", False),
])
def test_whole_gradient_claims(claim, right):
    assert bool(sb.verify(claim, NET, wrt="w2")) is right


def test_counterexamples_are_real_points():
    verdict = sb.verify("x*cos(x*y)", sp.sin(x * y), wrt=x)
    assert not verdict
    point = {s: sp.Float(v, 30) for s, v in verdict.counterexample.items()}
    assert float(verdict.claimed.xreplace(point)) == pytest.approx(verdict.claimed_value, rel=1e-9)
    assert float(sp.diff(sp.sin(x * y), x).xreplace(point)) == pytest.approx(verdict.correct_value, rel=1e-9)
    assert abs(verdict.claimed_value - verdict.correct_value) > 1e-6


def test_claims_outside_the_domain_of_one_side_are_probed_where_both_are_defined():
    assert sb.verify("1/x", sp.log(x), wrt=x)
    assert not sb.verify("1/(2*x)", sp.log(x), wrt=x)
    assert sb.verify("sqrt(x)/(2*x)", sp.sqrt(x), wrt=x)


def test_errors_name_the_problem():
    with pytest.raises(InputError, match="unknown symbol 'q'"):
        sb.verify("q*a1", NET, wrt="w2")
    with pytest.raises(InputError, match=f"has 3 factors .*∂J/∂{YHAT} · ∂{YHAT}/∂z2 · ∂z2/∂w2.*got 2"):
        sb.verify(["a1", "a1"], NET, wrt="w2")
    with pytest.raises(InputError, match="sums 2 chain-rule paths"):
        sb.verify(["1", "1", "1", "1", "1"], sb.mlp([1, 1, 2], bias=None), wrt="w1")
    with pytest.raises(InputError, match="not a variable"):
        sb.verify("1", NET, wrt="w7")
    with pytest.raises(InputError, match="the claim uses q"):
        sb.verify(sp.Symbol("q"), NET, wrt="w2")


def test_assert_gradient_shows_the_claim_the_truth_and_a_counterexample():
    assert_gradient("(ŷ - y)*a1", NET, wrt="w2")
    with pytest.raises(AssertionError) as failure:
        assert_gradient("(y - ŷ)*a1", NET, wrt="w2")
    message = str(failure.value)
    assert f"claimed (y1 - {YHAT})*a1" in message and "should be" in message and ": claimed " in message


TWO = sb.mlp([2, 2, 2])  # sigmoid, half_sse: outputs a3, a4 (ŷ1, ŷ2)


@pytest.mark.parametrize("claim", [
    "(ŷ1 - y1)*ŷ1*(1 - ŷ1)*a1",
    "(yhat1 - y1)*yhat1*(1 - yhat1)*a1",
    "(y_hat1 - y1)*y_hat1*(1 - y_hat1)*a1",
    "(a3 - y1)*a3*(1 - a3)*a1",
    "δ3*a1", "δ_3*a1", "delta_3*a1", "delta_z3*a1", "δ_z3*a1",
    "(ŷ₁ - y₁)*ŷ₁*(1 - ŷ₁)*a₁", "δ₃*a₁",  # as the LaTeX renders them
])
def test_every_name_the_library_prints_is_accepted_in_a_claim(claim):
    assert sb.verify(claim, TWO, wrt="w5")  # ∂J/∂w5 = δ_3 a1, δ_3 = (ŷ1 − y1) ŷ1 (1 − ŷ1)


def test_a_delta_in_a_claim_stands_for_its_value():
    assert not sb.verify("δ_4*a1", TWO, wrt="w5")  # the other output's delta
    assert sb.verify("δ_1*x2", TWO, wrt="w2")  # a hidden delta, itself made of later ones
    assert sb.verify("delta_1", TWO, wrt="b1")
    d = sb.backprop(TWO)
    assert sb.verify(["δ_ŷ1", "ŷ1*(1 - ŷ1)", "a1"], d, wrt="w5")  # δ of the output itself: ∂J/∂ŷ1
    assert sb.verify(sp.Symbol("δ_3") * sp.Symbol("a1"), TWO, wrt="w5")  # a SymPy claim spelled the same way
    verdict = sb.verify(sp.Symbol("yhat1") - sp.Symbol("y1"), TWO, wrt="w5")
    assert not verdict and verdict.claimed.free_symbols == {sp.Symbol("a3"), sp.Symbol("y1")}


def test_names_that_are_ambiguous_or_unknown_are_refused_in_one_line():
    for claim in ("ŷ*a1", "y*a1", "δ_9*a1"):  # two outputs, two targets, no neuron 9
        with pytest.raises(InputError) as error:
            sb.verify(claim, TWO, wrt="w5")
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="not a variable"):
        sb.verify("1", TWO, wrt="ŷ1")


def test_verdicts_are_printed_in_the_library_notation():
    shown = naming.text_names(TWO)
    text = str(sb.verify("(y1 - a3)*a1", TWO, wrt="w5"))
    assert shown[sp.Symbol("a3")] in text and "a3" not in text


# Claims that agree with the truth on the function's domain only: each is right.
@pytest.mark.parametrize("expr, claim", [
    ("acosh(x)", "1/sqrt(x**2 - 1)"),  # acosh is not real for x < 1, where the claim is
    ("log(x)*y", "y/abs(x)"),
    ("log(x - 2)", "1/abs(x - 2)"),
    ("sqrt(x - 5)", "1/(2*sqrt(abs(x - 5)))"),  # defined for x > 5 only
    ("log(x)", "1/abs(x)"),
])
def test_claims_are_checked_on_the_functions_domain(expr, claim):
    assert sb.verify(claim, expr, wrt="x"), (expr, claim)
    # the same claim off by a factor is caught inside the domain, with a counterexample there
    verdict = sb.verify(f"3*({claim})", expr, wrt="x")
    assert not verdict
    value = parse_expr(expr).subs(verdict.counterexample).evalf()
    assert value.is_real and value.is_finite, (expr, verdict.counterexample)


def test_a_claim_differing_from_the_truth_only_outside_the_domain_is_right():
    x = sp.Symbol("x")
    # acosh(x) is real for x >= 1 only; its derivative, written 1/(sqrt(x - 1) sqrt(x + 1)), is real
    # (and negative) for x < -1 too, where the claim (positive) differs from it
    assert sb.verify("1/sqrt(x**2 - 1)", sp.acosh(x), wrt=x)
    assert sb.verify("2*abs(x) + 1/abs(x)", x**2 + sp.log(x), wrt=x)  # equal to 2x + 1/x where x > 0
    assert not sb.verify("2*abs(x)", x**2, wrt=x)  # x² is defined for x < 0 too: there the claim is wrong
    assert sb.verify("y/abs(x)", "log(x)*y", wrt="x")  # the function itself as text


def test_no_point_of_the_domain_is_said_in_one_line():
    with pytest.raises(InputError, match="no point of the function's domain") as error:
        sb.verify("1", "sqrt(-x**2 - 1) + x", wrt="x")
    assert "\n" not in str(error.value) and len(str(error.value)) < 200


def _printed_gradients(d, p):
    """Every formula text.gradient_lines prints for ∂J/∂p (not the line of partials, not a note)."""
    from symbackprop.text import gradient_lines

    return [rhs for lhs, rhs in gradient_lines(d, p)[1:] if not rhs.startswith("(")]


def _corpus():
    import corpus

    yield from ((name, corpus.network(name)) for name in corpus.NETWORKS)
    yield from corpus.EXPRESSIONS.items()
    x, y = sp.symbols("x y")
    extra = {"sinc": sp.sinc(x * y), "abs, max, min, sign": sp.Abs(x) * y + sp.Max(x, y) - sp.Min(x, 2 * y) + sp.sign(x) * y,
             "relu": sb.relu(x - y) * y, "leaky relu": sb.leaky_relu(x * y), "−": x - y**2}
    yield from extra.items()


@pytest.mark.parametrize("name, target", list(_corpus()), ids=[name for name, _ in _corpus()])
def test_every_printed_gradient_reads_back_and_verifies(name, target):
    d = sb.backprop(target)
    for p in d.wrt[:3]:
        for printed in _printed_gradients(d, p):
            for spelled in (printed, naming.ascii_text(printed)):
                assert sb.verify(spelled, d, wrt=p), (name, p, spelled)
        should_be = str(sb.verify("0", d, wrt=p)).splitlines()[1].split("should be ", 1)[1]
        assert sb.verify(should_be, d, wrt=p), (name, p, should_be)
        assert sb.verify(naming.ascii_text(should_be), d, wrt=p), (name, p, should_be)


@pytest.mark.parametrize("expr, wrt, claim", [
    ("(x+1)**999*(x+2)**999", "x", "0"),
    ("(x+1)**500*(x+2)**500", "x", "x"),
    ("(x+y+z+w+v)**40", "x", "0"),
    ("(x+y+z+w+v)**40", "x", "40*(x+y+z+w+v)**39"),
])
def test_a_short_formula_that_multiplies_out_to_millions_of_terms_is_decided_in_seconds(expr, wrt, claim):
    """Cancelling (x + 1)**999 symbolically never ends: such claims go to the numeric probes, and a
    counterexample is a point where both sides are float64 numbers. A run that hangs fails."""
    script = ("import sys, symbackprop as sb\nv = sb.verify(sys.argv[1], sys.argv[2], wrt=sys.argv[3])\n"
              "print(bool(v)); print(v)\n")
    done = subprocess.run([sys.executable, "-c", script, claim, expr, wrt], capture_output=True, text=True, timeout=60, check=True)
    verdict, text = done.stdout.split("\n", 1)
    assert verdict == str(claim.startswith("40*")) and "inf" not in text


def test_expanded_terms_bounds_the_cost_of_cancelling():
    from symbackprop.verify import SYMBOLIC_LIMIT, expanded_terms
    w, v = sp.symbols("w v")
    assert expanded_terms(sp.expand((x + y) ** 3 * (x + 1))) == len(sp.expand((x + y) ** 3 * (x + 1)).args)
    assert expanded_terms((x + y + z + w + v) ** 40) > SYMBOLIC_LIMIT
    assert expanded_terms(sp.sin((x + 1) ** 999) * x) == 1  # a function application is one term


# ---------------------------------------------------------------- matrix claims ---------------

n, m, k = (sp.Symbol(s, integer=True, positive=True) for s in "nmk")
X, W, Y = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, k), sp.MatrixSymbol("Y", n, k)
S, A = sp.MatrixSymbol("S", n, n), sp.MatrixSymbol("A", n, n)
a, b, v = (sp.MatrixSymbol(s, n, 1) for s in "abv")
lam = sp.Symbol("lambda")
SQUARED = sp.trace((X * W - Y).T * (X * W - Y))  # ‖XW − Y‖²_F
# J, the variable, hand derivations that are right (the Matrix Cookbook's, in several notations),
# and the usual mistakes
MATRIX_CASES = {
    "least squares": (SQUARED, W, ["2*X^T*(X*W - Y)", "2*X.T@(X@W - Y)", "2 Xᵀ (X W − Y)", "2*X'*X*W - 2*X'*Y"],
                      ["X^T*(X*W - Y)", "2*X^T*(Y - X*W)", "2*X^T*(X*W - Y)*W^T*W"]),
    "ridge": (SQUARED + lam * sp.trace(W.T * W), W, ["2*X^T*(X*W - Y) + 2*lambda*W", "2 (Xᵀ X + λ I) W - 2 Xᵀ Y"],
              ["2*X^T*(X*W - Y) + lambda*W", "2*X^T*(X*W - Y)"]),
    "log det": (sp.log(sp.det(S)), S, ["S^-T", "inv(S)^T", "S⁻ᵀ", "inv(S.T)"], ["S^-1", "S", "1/det(S)*S^-T"]),  # Cookbook (57)
    "a^T X^-1 b": (a.T * S.I * b, S, ["-S^-T*a*b^T*S^-T", "-(S⁻¹ b aᵀ S⁻¹)ᵀ", "-inv(S).T*a*b.T*inv(S).T"],  # (61)
                   ["-S^-1*a*b^T*S^-1", "S^-T*a*b^T*S^-T", "-S^-T*b*a^T*S^-T", "-(S⁻¹ a bᵀ S⁻¹)ᵀ"]),
    "x^T A x": (sp.trace(v.T * A * v), v, ["(A + A^T)*v", "A v + Aᵀ v"], ["2*A*v", "A*v"]),  # (81)
}
CASES = [(name, claim, right) for name, (_, _, rights, wrongs) in MATRIX_CASES.items()
         for claim, right in [(c, True) for c in rights] + [(c, False) for c in wrongs]]


@pytest.mark.parametrize("name, claim, right", CASES)
def test_hand_derived_matrix_gradients_are_accepted_or_rejected(name, claim, right):
    J, p, *_ = MATRIX_CASES[name]
    d = sb.backprop(J, wrt=[p])
    verdict = sb.verify(claim, d, wrt=p.name)
    assert bool(verdict) is right
    if not right:
        assert verdict.correct == d[p]  # the right form is shown, as the derivation prints it
        assert "should be" in str(verdict) and "wrong: claimed" in str(verdict)


def test_a_claim_of_the_wrong_shape_is_told_apart_from_a_wrong_value():
    d = sb.backprop(SQUARED, wrt=[W])
    ill = sb.verify("2*X*(X*W - Y)", d, wrt="W")  # Xᵀ forgotten: X (n×m) times an n×k matrix
    assert not ill and ill.how == "its shapes"
    assert "cannot multiply 2*X (n×m) by X*W - Y (n×k)" in ill.problem
    transposed = sb.verify("2*(X*W - Y)^T*X", d, wrt="W")  # k×m where W is m×k
    assert not transposed and "it is k×m, but ∂J/∂W has the shape of W, m×k" in transposed.problem
    scalar = sb.verify("tr(X^T*X)", d, wrt="W")
    assert not scalar and "it is a scalar" in scalar.problem
    built = sb.verify(2 * X * (X * W - Y), d, wrt=W)  # SymPy accepts it: n could equal m
    assert not built and "cannot multiply" in built.problem
    added = sb.verify(sp.MatAdd(X.T * (X * W - Y), W.T), d, wrt=W)  # m×k + k×m
    assert not added and "cannot add" in added.problem
    half = sb.verify("X^T*(X*W - Y)", d, wrt="W")
    assert not half and half.how == "at a random point" and "entry (" in half.problem


def test_a_wrong_value_comes_with_the_point_and_both_values():
    d = sb.backprop(SQUARED, wrt=[W])
    verdict = sb.verify("X^T*(X*W - Y)", d, wrt="W", seed=3)
    sizes = {s.name: value for s, value in verdict.sizes.items()}
    assert len(set(sizes.values())) == 3  # a different size for each: a transposed factor cannot fit by chance
    x_, w_, y_ = (np.asarray(verdict.point[s]) for s in (X, W, Y))
    assert x_.shape == (sizes["n"], sizes["m"]) and w_.shape == (sizes["m"], sizes["k"])
    np.testing.assert_allclose(verdict.correct_value, 2 * x_.T @ (x_ @ w_ - y_))  # independent of the engine
    np.testing.assert_allclose(verdict.claimed_value, x_.T @ (x_ @ w_ - y_))


def test_a_scalar_variable_among_matrices():
    d = sb.backprop(SQUARED + lam * sp.trace(W.T * W), wrt=[lam])  # ridge, by its weight λ: ‖W‖²_F
    assert sb.verify("tr(W^T W)", d, wrt="lambda") and sb.verify("trace(W.T*W)", d, wrt="λ")
    assert not sb.verify("2*tr(W^T W)", d, wrt="lambda")
    wrong = sb.verify("W^T W", d, wrt="lambda")
    assert not wrong and "it is k×k, but ∂J/∂lambda is a scalar" in wrong.problem


def test_matrix_claims_as_sympy_expressions_and_delta_names():
    d = sb.backprop(SQUARED, wrt=[W])
    assert sb.verify(2 * X.T * (X * W - Y), d, wrt=W)
    assert not sb.verify(X.T * (X * W - Y), d, wrt=W)
    shown = naming.text_names(d.graph)
    delta_view = TextPrinter(shown).doprint(d.gradient(W))  # in named deltas, as printed
    assert sb.verify(delta_view, d, wrt="W")


def test_a_matrix_expression_as_text_with_shapes():
    shapes = {"X": ("n", "m"), "W": ("m", "k"), "Y": ("n", "k")}
    J = "trace((X*W - Y)^T*(X*W - Y))"
    assert sb.verify("2*X^T*(X*W - Y)", J, wrt="W", shapes=shapes)
    assert not sb.verify("2*X*(X*W - Y)", J, wrt="W", shapes=shapes)
    assert sb.verify("2*X^T*(X*W - Y)", "3*X^T*X*W - X^T*(Y + X*W) - X^T*Y", shapes=shapes)  # equality, no wrt
    concrete = {"X": (3, 2), "W": (2, 4), "Y": (3, 4)}
    assert sb.verify("2*X^T*(X*W - Y)", J, wrt="W", shapes=concrete)


def test_a_size_in_the_formula_is_the_size():
    mean = "tr((X W - Y)ᵀ (X W - Y))/n"  # the mean over the n rows
    shapes = {"X": ("n", "m"), "W": ("m", "k"), "Y": ("n", "k")}
    assert sb.verify("2 Xᵀ (X W - Y)/n", mean, wrt="W", shapes=shapes)
    assert not sb.verify("2 Xᵀ (X W - Y)/m", mean, wrt="W", shapes=shapes)


def test_matrix_claims_refuse_chains_and_unknown_names_in_one_line():
    d = sb.backprop(SQUARED, wrt=[W])
    with pytest.raises(InputError, match="no chain-rule factors"):
        sb.verify(["2*X", "W"], d, wrt="W")
    with pytest.raises(InputError, match="unknown symbol 'Z'"):
        sb.verify("2*X^T*Z", d, wrt="W")


def test_a_gaussian_likelihood_as_users_write_it():
    nll = "log(det(S))/2 + (v - mu)^T*S^-1*(v - mu)/2"  # the 1×1 product beside a scalar is its trace
    shapes = {"S": ("n", "n"), "v": ("n", 1), "mu": ("n", 1)}
    assert sb.verify("S^-T/2 - S^-T*(v - mu)*(v - mu)^T*S^-T/2", nll, wrt="S", shapes=shapes)
    assert sb.verify("-(S^-1 + S^-T)*(v - mu)/2", nll, wrt="mu", shapes=shapes)
    assert not sb.verify("-S^-1*(v - mu)", nll, wrt="mu", shapes=shapes)  # only for a symmetric S


@pytest.mark.parametrize("wrong", ["(Ŷ - Y) A_1ᵀ / n_2", "(Ŷ - Y) A_1ᵀ / 5", "(Ŷ - Y) A_1ᵀ / (n_0 + n_1)", "(Ŷ - Y) A_1ᵀ / (2 m)"])
def test_a_matrix_claim_cannot_pass_by_a_size_equal_to_another(wrong):
    # Each wrong claim is right where n_2, or n_0 + n_1, equals m or 5: the derivation holds at every
    # width, and a claim is checked at sizes all different, other than the network's own.
    net = sb.mlp([2, 3, 5], activation=["tanh", "softmax"], loss="cross_entropy", form="matrix")
    assert sb.verify("(Ŷ - Y) A_1ᵀ / m", net, wrt="W_2")
    assert not sb.verify(wrong, net, wrt="W_2")


def test_a_matrix_claim_cannot_pass_by_a_width_of_the_network():
    d = sb.backprop(sb.mlp([3, 2, 2], activation="relu", loss="mse", form="matrix"))  # n_1 = n_2 = 2
    assert sb.verify("(2 (Ŷ - Y) / (m n_2) ⊙ 1[Z_2 > 0]) A_1ᵀ", d, wrt="W_2")
    assert not sb.verify("((Ŷ - Y) / m ⊙ 1[Z_2 > 0]) A_1ᵀ", d, wrt="W_2")  # right only where n_2 = 2
    assert not sb.verify("(2 (Ŷ - Y) / (m n_1) ⊙ 1[Z_2 > 0]) A_1ᵀ", d, wrt="W_2")  # right only where n_1 = n_2
