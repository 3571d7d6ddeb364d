"""The derivation as plain text."""

import pytest
import sympy as sp
from sympy import Determinant, HadamardPower, HadamardProduct, Identity, Inverse, MatrixSymbol, OneMatrix, Trace
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

import symbackprop as sb
from symbackprop import naming
from symbackprop.errors import InputError
from symbackprop.latex import BackpropLatexPrinter
from symbackprop.text import TextPrinter, derivation_text


def test_expression_derivation_lists_steps_deltas_gradients_and_chain():
    x, y = sp.symbols("x y")
    text = derivation_text(sb.backprop(x * sb.sigmoid(y)), show_chain=y)
    assert text.splitlines()[0] == "Backpropagation through f = x*sigmoid(y)"
    assert "  v1 = sigmoid(y)\n  f = v1*x\n" in text
    assert "  ∂f/∂y = ∂f/∂v1 · ∂v1/∂y\n   = x · (v1*(1 - v1))\n   = δ_v1*v1*(1 - v1)\n   = x*(1 - sigmoid(y))*sigmoid(y)\n" in text


def test_a_weight_reached_through_two_neurons_shows_both_paths():
    net = sb.mlp([1, 2, 1], bias=None)
    text = derivation_text(sb.backprop(net))
    yhat = naming.text_names(net)[sp.Symbol("a3")]
    chain_line = next(line for line in text.splitlines() if line.startswith(f"  ∂J/∂w1 = ∂J/∂{yhat}"))
    assert chain_line.count("∂z3/∂a1") == 1 and " + " not in chain_line  # w1 feeds neuron 1 only
    text = derivation_text(sb.backprop(sb.mlp([1, 1, 2], bias=None)))
    chain_line = next(line for line in text.splitlines() if line.startswith("  ∂J/∂w1 = ∂J/∂"))
    assert chain_line.count(" + ") == 1  # w1 reaches J through both outputs


# ------------------------------------------------------------------------------------------
# Matrix notation. The expected strings are the textbook's (Matrix Cookbook) notation for each
# quantity: Xᵀ, X⁻¹, X⁻ᵀ, ⊙, ^∘, tr, det, 𝟏, I, σ(Z); products side by side, sums led by a
# positive term.

n, m, k = sp.symbols("n m k", integer=True, positive=True)
A, B, S, Xs = (MatrixSymbol(name, n, n) for name in ("A", "B", "S", "X"))
X, W, Y = MatrixSymbol("X", n, m), MatrixSymbol("W", m, k), MatrixSymbol("Y", n, k)
x, mu, a, b = (MatrixSymbol(name, n, 1) for name in ("x", "mu", "a", "b"))
Z = MatrixSymbol("Z", n, m)

NOTATION = [  # (expression, text, LaTeX)
    (A.T * B.T, "Aᵀ Bᵀ", r"A^{T} B^{T}"),  # ∂ tr(AXB)/∂X, Cookbook (100)
    ((A + A.T) * x, "(A + Aᵀ) x", r"\left(A + A^{T}\right) x"),  # ∂ xᵀAx/∂x, (81)
    (Xs.T.I, "X⁻ᵀ", r"X^{-T}"),  # ∂ log det X/∂X, (57)
    (Xs.I.T, "X⁻ᵀ", r"X^{-T}"),
    (Determinant(Xs) * Xs.T.I, "det(X) X⁻ᵀ", r"\det\left(X\right) X^{-T}"),  # ∂ det X/∂X, (49)
    (-Xs.T.I * a * b.T * Xs.T.I, "-X⁻ᵀ a bᵀ X⁻ᵀ", r"- X^{-T} a b^{T} X^{-T}"),  # ∂ aᵀX⁻¹b/∂X, (61)
    (2 * X.T * (X * W - Y), "2 Xᵀ (X W - Y)", r"2 X^{T} \left(X W - Y\right)"),  # ‖XW − Y‖²
    (x - mu, "x - mu", r"x - \mu"),
    ((x - mu).T * S.I * (x - mu), "(x - mu)ᵀ S⁻¹ (x - mu)", r"\left(x - \mu\right)^{T} S^{-1} \left(x - \mu\right)"),
    (S.T.I / 2, "S⁻ᵀ / 2", r"\frac{1}{2} S^{-T}"),
    (3 * A.T ** 2, "3 (Aᵀ)²", r"3 \left(A^{T}\right)^{2}"),
    (Inverse(A * B), "(A B)⁻¹", r"\left(A B\right)^{-1}"),
    (HadamardProduct(A, Xs), "A ⊙ X", r"A \odot X"),
    (HadamardProduct(A, Xs * B), "A ⊙ (X B)", r"A \odot \left(X B\right)"),
    (HadamardPower(Xs, 2), "X^∘2", r"X^{\circ 2}"),
    (Trace(A * Xs), "tr(A X)", r"\operatorname{tr}\left(A X\right)"),
    (Trace(x.T * A * x), "xᵀ A x", r"x^{T} A x"),  # a 1×1 product is a number already
    (2 * Trace(x.T * A * x), "2 (xᵀ A x)", r"2 \left(x^{T} A x\right)"),
    (A * x / Trace(x.T * A * x), "A x / (xᵀ A x)", r"\frac{1}{\left(x^{T} A x\right)} A x"),
    (sp.log(Determinant(S)), "log det(S)", r"\log \det\left(S\right)"),
    (b * OneMatrix(1, k), "b 𝟏ᵀ", r"b \mathbf{1}^{T}"),
    (W * OneMatrix(k, 1), "W 𝟏", r"W \mathbf{1}"),
    (OneMatrix(n, m), "𝟏_{n×m}", r"\mathbf{1}_{n \times m}"),
    (Trace(A) * Identity(n), "tr(A) I", r"\operatorname{tr}\left(A\right) I"),
    (Z.applyfunc(sb.sigmoid), "σ(Z)", r"\sigma\left(Z\right)"),
    (X.applyfunc(sp.sin), "sin(X)", r"\sin{\left(X \right)}"),
    (X.applyfunc(sp.exp), "exp(X)", r"\exp\left(X\right)"),  # entry by entry, not the matrix exponential e^{X}
    (Z.applyfunc(lambda t: sp.exp(sp.Symbol("s") * t)), "exp(s Z)", r"\exp\left(s Z\right)"),
    (HadamardProduct(W.T, Z.T.applyfunc(sb.sigmoid)), "Wᵀ ⊙ σ(Zᵀ)", r"W^{T} \odot \sigma\left(Z^{T}\right)"),
    (MatrixSymbol("delta_v2", n, k), "δ_v2", r"\delta_{v2}"),
]


@pytest.mark.parametrize("expr, text, latex", NOTATION, ids=[t for _, t, _ in NOTATION])
def test_matrix_expressions_print_in_textbook_notation(expr, text, latex):
    assert TextPrinter().doprint(expr) == text
    assert BackpropLatexPrinter().doprint(expr) == latex


def test_an_elementwise_function_with_a_body_is_read_entry_by_entry():
    derivative = ElementwiseApplyFunction(Z.applyfunc(sb.sigmoid)._get_function_fdiff(), Z)
    assert sorted(TextPrinter().doprint(derivative).split(" ⊙ ")) == ["(1 - σ(Z))", "σ(Z)"]  # σ' = σ ⊙ (1 − σ)
    assert TextPrinter().doprint(Z.applyfunc(lambda t: t**2 + 1)) == "Z^∘2 + 1"


# ------------------------------------------------------------------------------------------
# Derivations with matrix steps, as text.

LEAST_SQUARES = sp.trace((X * W - Y).T * (X * W - Y))  # ‖XW − Y‖²_F


def test_a_matrix_derivation_lists_shapes_steps_deltas_gradients_and_closed_forms():
    d = sb.backprop(LEAST_SQUARES, wrt=[W])
    text = derivation_text(d)
    lines = text.splitlines()
    assert "  W: m×k" in lines and "  X: n×m" in lines and "  Y: n×k" in lines
    show = TextPrinter(naming.text_names(d.graph)).doprint
    for step in d.graph.steps:  # every step, with its shape where it is a matrix
        line = next(line for line in lines if line.startswith(f"  {show(step.symbol)} = "))
        if isinstance(step.symbol, sp.MatrixExpr):
            assert line.endswith("(%s×%s)" % step.symbol.shape)
    for delta, _ in d.deltas:
        assert any(line.startswith(f"  {show(delta)} = ") for line in lines)
    assert "  ∂f/∂W = 2 Xᵀ (X W - Y)" in lines  # the closed form, as the textbook writes it
    assert "chain" not in text.lower()


@pytest.mark.parametrize("J, wrt, closed", [
    (sp.trace(A * Xs * B), Xs, "Aᵀ Bᵀ"),  # Cookbook (100)
    (sp.log(sp.det(Xs)), Xs, "X⁻ᵀ"),  # (57)
    (LEAST_SQUARES, W, "2 Xᵀ (X W - Y)"),
], ids=["tr(AXB)", "log det X", "least squares"])
def test_textbook_gradients_read_as_the_textbook_prints_them(J, wrt, closed):
    assert f"  ∂f/∂{wrt.name} = {closed}" in derivation_text(sb.backprop(J, wrt=[wrt])).splitlines()


def test_every_name_a_matrix_derivation_prints_is_accepted_back():
    gaussian = sp.log(sp.det(S)) / 2 + sp.Trace((x - mu).T * S.I * (x - mu)) / 2
    d = sb.backprop(gaussian, wrt=[S, mu])
    show = TextPrinter(naming.text_names(d.graph)).doprint
    symbols = [*d.graph.variables, *(s.symbol for s in d.graph.steps), *(delta for delta, _ in d.deltas)]
    for symbol in symbols:
        assert show(symbol) in derivation_text(d)
        assert d.symbol(show(symbol)) == symbol


def test_a_matrix_derivation_has_no_chain_view():
    d = sb.backprop(LEAST_SQUARES, wrt=[W])
    with pytest.raises(InputError, match="no chain view"):
        derivation_text(d, show_chain=W)


def test_a_matrix_term_with_a_negative_fraction_is_subtracted():
    n, m = sp.symbols("n m", positive=True, integer=True)
    Z = sp.MatrixSymbol("Z", n, m)
    centred = Z - OneMatrix(n, 1) * OneMatrix(1, n) * Z / n  # Z less each column's mean
    assert TextPrinter().doprint(centred) == "Z - 𝟏_{n×n} Z / n"
    assert BackpropLatexPrinter().doprint(centred) == r"Z - \frac{1}{n} \mathbf{1}_{n \times n} Z"
