"""Matrix expressions as graphs: normalisation, shape checks, the graph of steps, the delta view
and the textbook pass. Every rewrite of the textbook pass is checked to keep the value (numerically,
at concrete sizes, against the expression it rewrote) as well as to give the promised form."""

import numpy as np
import pytest
import sympy as sp
from corpus import MATRIX_EXPRESSIONS
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

import symbackprop as sb
from symbackprop.errors import InputError
from symbackprop.matrices import (
    elementwise,
    entrywise_simplified,
    normalised,
    shared_transposes,
    sizes,
    textbook,
)
from symbackprop.network import Graph
from symbackprop.text import derivation_text

n, m, k = sp.symbols("n m k", integer=True, positive=True)
X, W, Y = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, k), sp.MatrixSymbol("Y", n, k)
A, S = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("S", n, n)
a, x, mu = sp.MatrixSymbol("a", n, 1), sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("mu", n, 1)
R = X * W - Y


def numeric(expr, point, concrete):
    """``expr`` at ``point`` (symbols → explicit matrices or numbers), sizes given by ``concrete``."""
    expr = expr.xreplace(concrete).replace(lambda e: isinstance(e, (sp.OneMatrix, sp.Identity, sp.ZeroMatrix)),
                                           lambda e: e.as_explicit())
    result = expr.xreplace(point).replace(lambda e: isinstance(e, sp.MatrixExpr) and not e.free_symbols,
                                          lambda e: e.as_explicit()).doit()
    return np.array(sp.N(result), dtype=float).reshape(result.shape if hasattr(result, "shape") else (1, 1))


def random_point(expr, concrete, seed=0):
    """Random matrices for the MatrixSymbols of ``expr`` (square ones shifted by 2I: invertible,
    positive determinant) and numbers for its scalars, at the sizes ``concrete``."""
    rng = np.random.default_rng(seed)
    point = {}
    for M in sorted(expr.xreplace(concrete).atoms(sp.MatrixSymbol), key=lambda s: s.name):
        rows, cols = (int(size) for size in M.shape)
        point[M] = sp.ImmutableMatrix(rng.uniform(-1, 1, (rows, cols)) + (2 * np.eye(rows) if rows == cols else 0))
    point.update({s: sp.Float(rng.uniform(0.5, 1)) for s in expr.free_symbols if isinstance(s, sp.Symbol)})
    return point


def value(expr, seed=0, size=3):
    """``expr`` at random matrices, every size ``size``."""
    concrete = {s: size for s in sizes(expr)}
    return numeric(expr, random_point(expr, concrete, seed), concrete)


def test_a_1x1_matrix_where_a_scalar_is_meant_is_its_trace():
    J = normalised(sp.log(a.T * A * x) + sp.Trace(A))
    assert J.has(sp.Trace(a.T * A * x)) and J.is_commutative
    assert normalised(a.T * S.I * x) == sp.Trace(a.T * S.I * x)


def test_negative_matrix_powers_become_inverses():
    assert normalised(sp.Trace(A ** -2)) == sp.Trace(sp.Inverse(sp.MatPow(A, 2)))
    assert normalised(sp.Trace(sp.MatPow(A, -1))) == sp.Trace(sp.Inverse(A))


@pytest.mark.parametrize(("J", "message"), [
    (sp.OneMatrix(1, m) * sp.MatrixSymbol("H", 1, m) * sp.OneMatrix(m, 1), "cannot tell that m equals 1"),
    (sp.Trace(sp.MatAdd(A, x * x.T, sp.MatrixSymbol("B", m, m), evaluate=False)), "cannot add"),
    (sp.Trace(X * W), r"the trace of X\*W \(n×k\) needs a square matrix"),
    (sp.exp(A), "exp of the n×n matrix A"),
    (sp.Add(sp.Trace(A), A, evaluate=False), "cannot mix the n×n matrix A with scalars"),
    (A, "is a n×n matrix: backprop needs a scalar"),
    (sp.Trace(A ** n), "needs an integer exponent"),
    (X[0, 1] ** 2, "the entry X\\[0, 1\\]"),
    (sp.Trace(sp.KroneckerProduct(A, A)), "no vector-Jacobian rule for KroneckerProduct"),
])
def test_what_cannot_be_derived_is_one_line_that_names_it(J, message):
    with pytest.raises(InputError, match=message) as caught:
        sb.backprop(J)
    assert "\n" not in str(caught.value)


def test_sizes_are_not_variables():
    assert sizes(sp.Trace(X.T * X) / n) == (m, n)
    graph = Graph.from_expr(sp.Trace(X.T * X) / n)
    assert graph.sizes == (m, n) and graph.variables == (X,) and graph.has_matrices
    with pytest.raises(InputError, match="n: it is a size of the matrices"):
        sb.backprop(sp.Trace(X.T * X) / n, wrt=["n"])


def test_each_step_has_the_shape_of_its_value_and_a_transpose_is_written_where_it_is_used():
    graph = Graph.from_expr(sp.Trace(R.T * R))
    for step in graph.steps[:-1]:
        assert isinstance(step.symbol, sp.MatrixSymbol)
    products = [s for s in graph.steps if isinstance(s.expr, sp.MatMul) and s.expr.has(sp.Transpose)]
    assert len(products) == 1  # RᵀR, with R computed once and no step of its own for Rᵀ
    (step,) = products
    assert step.symbol.shape == (k, k)
    assert not any(isinstance(s.expr, sp.Transpose) for s in graph.steps)
    assert shared_transposes(sp.Trace(R.T * R)) == sp.Trace(sp.MatMul(sp.Transpose(R), R))


def test_the_delta_view_names_a_shared_delta_once_and_writes_constants_out():
    d = sb.backprop(sp.Trace(R.T * R), wrt=[W])
    (delta, definition), = d.deltas
    assert delta.shape == (n, k) and definition == 2 * d.graph.steps[2].symbol  # δ = 2R
    assert d.gradient(W) == X.T * delta
    assert d.symbol("δ_" + delta.name[len("delta_"):]) == delta


def test_the_chain_view_is_refused_for_matrix_steps():
    d = sb.backprop(sp.Trace(R.T * R), wrt=[W])
    with pytest.raises(InputError, match="use the delta view"):
        d.chain(W)


@pytest.mark.parametrize(("messy", "form"), [
    (A * x + A.T * x, (A + A.T) * x),
    (x.T * A + x.T * A.T, x.T * (A + A.T)),
    (X.T * (2 * X * W - 2 * Y), 2 * X.T * (X * W - Y)),
    (S * (x - mu) * (x.T - mu.T), sp.MatMul(S, x - mu, sp.Transpose(x - mu))),
    (2 * a * x.T * a, 2 * sp.Trace(x.T * a) * a),
])
def test_the_textbook_pass_gives_the_form_and_keeps_the_value(messy, form):
    assert textbook(messy) == form
    assert np.allclose(value(messy), value(form))


def test_parts_that_act_entry_by_entry_are_simplified_as_scalars():
    z = sp.MatrixSymbol("z", n, 1)
    p = z.applyfunc(sb.sigmoid)
    one = sp.OneMatrix(n, 1)
    messy = sp.HadamardProduct(
        sp.MatAdd(sp.HadamardProduct(-x, sp.HadamardPower(p, -1)),
                  sp.HadamardProduct(one - x, sp.HadamardPower(one - p, -1))),
        p, one - p)
    assert entrywise_simplified(messy).dummy_eq(p - x)
    assert np.allclose(value(messy), value(p - x))


def test_a_scalar_function_applied_entry_by_entry_is_written_with_hadamard_operations():
    t, s = sp.symbols("t s")
    assert elementwise(t * (1 - t), {t: A}) == sp.HadamardProduct(A, sp.OneMatrix(n, n) - A)
    assert elementwise(sp.exp(s * t), {t: A}).dummy_eq(ElementwiseApplyFunction(sp.Lambda(t, sp.exp(t)), s * A))
    with pytest.raises(InputError, match="entry by entry"):
        elementwise(sp.Max(t, s), {t: A})


def test_per_weight_networks_are_derived_as_before():
    """A graph without matrices takes the scalar rule everywhere: no matrix is created."""
    d = sb.backprop(sb.mlp([2, 2, 1]))
    assert not d.graph.has_matrices
    exprs = [e for _, e in d.deltas] + list(d.gradients.values())
    assert not any(e.atoms(sp.MatrixSymbol) for e in exprs)
    x1 = d.graph.inputs[0]
    assert d.gradient("w1") == d.symbol("delta_1") * x1


def test_a_graph_of_whole_formulas_as_steps_derives_as_the_graph_of_single_operations():
    """Steps written by hand, each a formula (an affine layer, an elementwise activation, a
    loss), give the gradients of the same J broken into one step per operation."""
    h, d_in, batch = sp.symbols("h d_in batch", integer=True, positive=True)
    W1, b1 = sp.MatrixSymbol("W_1", h, d_in), sp.MatrixSymbol("b_1", h, 1)
    w2, Xb, y = sp.MatrixSymbol("w_2", 1, h), sp.MatrixSymbol("X", d_in, batch), sp.MatrixSymbol("y", 1, batch)
    Z1, A1 = sp.MatrixSymbol("Z_1", h, batch), sp.MatrixSymbol("A_1", h, batch)
    steps = (sb.Step(Z1, W1 * Xb + b1 * sp.OneMatrix(1, batch), "pre_activation", 1),
             sb.Step(A1, Z1.applyfunc(sp.tanh), "activation", 1),
             sb.Step(sp.Symbol("J"), sp.Trace((w2 * A1 - y) * (w2 * A1 - y).T) / (2 * batch), "loss"))
    graph = sb.Graph(steps, inputs=(Xb,), targets=(y,), params=(W1, b1, w2), sizes=(batch, d_in, h))
    by_hand = sb.backprop(graph)
    J = sp.Trace((w2 * (W1 * Xb + b1 * sp.OneMatrix(1, batch)).applyfunc(sp.tanh) - y)
                 * (w2 * (W1 * Xb + b1 * sp.OneMatrix(1, batch)).applyfunc(sp.tanh) - y).T) / (2 * batch)
    one_per_operation = sb.backprop(J, wrt=[W1, b1, w2])
    for p in (W1, b1, w2):
        assert by_hand[p].shape == p.shape
        assert np.allclose(value(by_hand[p], size=2), value(one_per_operation[p], size=2))
    assert by_hand.gradient(W1) == by_hand.symbol("delta_Z_1") * Xb.T  # δ_Z = ∂J/∂Z, ∂J/∂W = δ_Z Xᵀ


def test_the_delta_of_logistic_regression_by_hand_is_the_prediction_minus_the_target():
    """Through the steps that only combine others entry by entry (𝟏 − P, log∘P), the delta of
    the logits simplifies as a course writes it: P − y, never a division by P(1 − P), which
    overflows at large logits."""
    w, y = sp.MatrixSymbol("w", m, 1), sp.MatrixSymbol("y", n, 1)
    P = (X * w).applyfunc(sb.sigmoid)
    one = sp.OneMatrix(n, 1)
    J = -sp.Trace(y.T * P.applyfunc(sp.log) + (one - y).T * (one - P).applyfunc(sp.log))
    d = sb.backprop(J, wrt=[w])
    (delta, definition), = d.deltas
    p = next(s.symbol for s in d.graph.steps
             if isinstance(s.expr, ElementwiseApplyFunction) and s.expr.function.expr.func is sb.sigmoid)
    assert definition == p - y
    assert d.gradient(w) == X.T * delta


def finite_differences(J, W, point, concrete, h=1e-6):
    """∂J/∂W by central differences at ``point``."""
    base = numeric(W, point, concrete)
    result = np.zeros_like(base)
    for index in np.ndindex(*base.shape):
        for sign in (1, -1):
            moved = base.copy()
            moved[index] += sign * h
            value = sp.ImmutableMatrix(moved) if isinstance(W, sp.MatrixSymbol) else sp.Float(moved[0, 0])
            result[index] += sign * numeric(J, {**point, W.xreplace(concrete): value}, concrete)[0, 0] / (2 * h)
    return result


@pytest.mark.parametrize(("name", "J", "W"), [
    ("a repeated scalar factor", sp.Trace(sp.MatMul(sp.Symbol("s"), sp.Symbol("s"), A)), sp.Symbol("s")),
    ("relu of a sum", sp.Trace(sp.OneMatrix(1, n) * (A * x + a).applyfunc(sb.relu)), A),
    ("a norm, sqrt(xᵀx)", sp.sqrt(x.T * x), x),
    ("relu by hand, a piecewise function of each entry",
     sp.Trace(sp.OneMatrix(1, n) * (A * x - a).applyfunc(sp.Lambda(sp.Symbol("t"), sp.Piecewise(
         (sp.Symbol("t") ** 2, sp.Symbol("t") > 0), (0, True))))), A),
    ("tanh of x scaled by its norm", sp.Trace(a.T * (x / sp.sqrt(sp.Trace(x.T * x))).applyfunc(sp.tanh)), x),
    ("a broadcast bias", sp.Trace((A * x + sp.OneMatrix(n, 1) * sp.MatrixSymbol("c", 1, 1) - a).T
                                  * (A * x + sp.OneMatrix(n, 1) * sp.MatrixSymbol("c", 1, 1) - a)), A),
])
def test_corners_give_the_gradient_of_finite_differences(name, J, W):
    gradient = sb.backprop(J, wrt=[W])[W]
    concrete = {n: 3}
    point = random_point(J, concrete, seed=1)
    got = numeric(gradient, point, concrete)
    assert np.allclose(got, finite_differences(J, W, point, concrete), rtol=1e-5, atol=1e-7), name


def test_names_that_would_be_read_two_ways_are_refused_or_kept_apart():
    with pytest.raises(InputError, match="two different symbols named 'n'"):
        sb.backprop(sp.Trace(A) * sp.Symbol("n"))
    D = sp.MatrixSymbol("delta_v1", n, n)  # a variable named like the delta of a step
    d = sb.backprop(sp.Trace((A * S).T * (A * S)) + sp.Trace(D * A), wrt=[A, D])
    assert D not in {delta for delta, _ in d.deltas} and d[D] == A.T
    with pytest.raises(InputError, match="wrt must be"):
        sb.backprop(sp.Trace(A), wrt=0)


@pytest.mark.parametrize(("J", "message"), [
    (sp.Piecewise((sp.Trace(A.T * A), sp.Trace(A) > 0), (-sp.Trace(A), True)), "piecewise formula of matrices"),
    (sp.Trace(ElementwiseApplyFunction(sp.Lambda(sp.Symbol("t"), sp.Symbol("t") * S), A)), "scalar function of one variable"),
    (sp.Trace(sp.ImmutableMatrix([[1, 2], [3, 4]]) * sp.MatrixSymbol("Q", 2, 2)), "explicit matrix"),
    (sp.Trace(sp.HadamardPower(0, A) * S), "needs a positive scalar base"),
])
def test_more_that_cannot_be_derived(J, message):
    with pytest.raises(InputError, match=message):
        sb.backprop(J)


def test_sums_sharing_a_factor_are_collected_whatever_their_coefficients():
    w, y = sp.MatrixSymbol("w", m, 1), sp.MatrixSymbol("y", n, 1)
    J = sp.Trace(sp.OneMatrix(1, n) * (X * w).applyfunc(sb.softplus) - y.T * X * w)
    assert str(sb.backprop(J, wrt=[w])[w]) == str(X.T * ((X * w).applyfunc(sb.sigmoid) - y))  # Xᵀ(σ(Xw) − y)


def test_the_delta_of_probabilities_written_from_logits_is_the_prediction_minus_the_target():
    """Binary cross-entropy on σ(wᵀX + c𝟏ᵀ), written with the probabilities: SymPy merges log∘σ
    into one elementwise function, and the delta still reads (P − y)/m, never divided by P or 1 − P."""
    w, c, y = sp.MatrixSymbol("w", n, 1), sp.MatrixSymbol("c", 1, 1), sp.MatrixSymbol("y", 1, m)
    Xs = sp.MatrixSymbol("X", n, m)
    P = (w.T * Xs + c * sp.OneMatrix(1, m)).applyfunc(sb.sigmoid)
    one = sp.OneMatrix(1, m)
    J = -sp.Trace((sp.HadamardProduct(y, P.applyfunc(sp.log)) + sp.HadamardProduct(one - y, (one - P).applyfunc(sp.log)))
                  * sp.OneMatrix(m, 1)) / m
    d = sb.backprop(J, wrt=[w, c])
    (delta, definition), = d.deltas
    p = next(s.symbol for s in d.graph.steps
             if isinstance(s.expr, ElementwiseApplyFunction) and s.expr.function.expr.func is sb.sigmoid)
    assert definition == (p - y) / m
    assert d.gradient(w) == Xs * delta.T


@pytest.mark.parametrize("case", MATRIX_EXPRESSIONS, ids=[case.name for case in MATRIX_EXPRESSIONS])
def test_every_output_takes_every_matrix_derivation_of_the_corpus(case):
    """Text, the LaTeX document and generated code for each case, and the generated gradients
    against finite differences of the generated loss."""
    d = sb.backprop(case.J, wrt=list(case.wrt))
    text = derivation_text(d)
    assert all(f"∂f/∂{W.name}" in text for W in d.wrt)
    assert r"\begin{document}" in sb.document_latex(d)
    report = sb.gradcheck(d, sizes={size: value for size, value in case.sizes.items() if size in d.graph.sizes})
    assert report.passed, report
