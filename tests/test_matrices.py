"""Matrix expressions as graphs: normalisation, shape checks, the graph of steps, the delta view
and the textbook pass. Every rewrite of the textbook pass is checked to keep the value (numerically,
at concrete sizes, against the expression it rewrote) as well as to give the promised form."""

import numpy as np
import pytest
import sympy as sp
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

n, m, k = sp.symbols("n m k", integer=True, positive=True)
X, W, Y = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, k), sp.MatrixSymbol("Y", n, k)
A, S = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("S", n, n)
a, x, mu = sp.MatrixSymbol("a", n, 1), sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("mu", n, 1)
R = X * W - Y


def value(expr, seed=0, size=3):
    """``expr`` evaluated at random matrices (every size ``size``), through SymPy's explicit matrices."""
    rng = np.random.default_rng(seed)
    concrete = expr.xreplace({s: size for s in sizes(expr)})
    symbols = sorted(concrete.atoms(sp.MatrixSymbol), key=lambda s: s.name)
    point = {}
    for s in symbols:
        entries = rng.uniform(-1, 1, (int(s.rows), int(s.cols))) + (2 * np.eye(int(s.rows)) if s.rows == s.cols else 0)
        point[s] = sp.ImmutableMatrix(entries)
    explicit = concrete.xreplace(point)
    return np.array(sp.N(explicit.doit().as_explicit() if hasattr(explicit, "as_explicit") else explicit.doit()), dtype=float)


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
    (sp.Trace(X * W), "the trace of X\\*W needs a square matrix"),
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
