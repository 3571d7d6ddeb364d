"""The NumPy evaluator of matrix expressions, against SymPy's own explicit matrices."""

import random

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.errors import InputError
from symbackprop.evaluate import evaluate, probe_sizes, random_point

n, m = (sp.Symbol(s, integer=True, positive=True) for s in "nm")
X, A = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("A", n, n)
a, b = sp.MatrixSymbol("a", n, 1), sp.MatrixSymbol("b", n, 1)
s = sp.Symbol("s")

EXPRESSIONS = [
    A * X + 2 * X, X.T * A.T * a, A.I * b, sp.Inverse(A.T) * a, A**3, sp.Inverse(A**2),
    sp.Trace(A * A.T) + sp.log(sp.det(A)) * s, sp.det(A) * A, sp.HadamardProduct(X, X, 2 * X), sp.HadamardPower(X, 3),
    X.applyfunc(sp.sin), (A * X).applyfunc(sb.sigmoid), sp.OneMatrix(1, n) * X * sp.OneMatrix(m, 1),
    sp.Identity(n) * s + A, sp.exp(sp.Trace(a.T * b)) * a, sp.ZeroMatrix(n, m) + X, sp.Trace(A) / n + m * s,
]


def explicit(expr, point, sizes):
    """``expr`` at ``point`` computed by SymPy alone: every matrix made explicit, then evaluated."""
    concrete = expr.xreplace(sizes)
    values = {}
    for symbol, value in point.items():
        key = symbol.xreplace(sizes) if isinstance(symbol, sp.MatrixSymbol) else symbol
        values[key] = sp.Matrix(value) if isinstance(symbol, sp.MatrixSymbol) else sp.Float(value)
    result = concrete.xreplace(values).doit()
    if isinstance(result, sp.MatrixExpr):
        result = result.as_explicit()
    if isinstance(result, sp.MatrixBase):
        return np.array(result.evalf(), dtype=float)
    return float(result.evalf())


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_the_evaluator_agrees_with_sympy(expr):
    sizes = {n: 3, m: 2}
    symbols = sorted(expr.free_symbols | expr.atoms(sp.MatrixSymbol), key=sp.default_sort_key)
    point = random_point([x for x in symbols if x not in sizes], sizes, random.Random(5))
    np.testing.assert_allclose(evaluate(expr, point, sizes), explicit(expr, point, sizes), rtol=1e-10, atol=1e-12)


def test_random_points_are_defined_where_textbooks_need_them():
    sizes = probe_sizes([m, n])
    assert sizes == {m: 2, n: 3}  # one small size each, in order
    rng = random.Random(0)
    for _ in range(20):
        point = random_point([A, X, s], sizes, rng)
        assert point[X].shape == (3, 2) and 0.5 <= point[s] <= 1.5
        assert np.linalg.det(point[A]) > 0  # log det A is defined
        assert np.all(np.linalg.eigvalsh(point[A] + point[A].T) > 0)  # and xᵀAx > 0


def test_values_that_are_not_real_are_nan_and_unknown_ones_are_named():
    assert np.isnan(evaluate(sp.log(sp.Trace(A)), {A: -np.eye(2)}))
    assert np.isnan(evaluate(sp.sqrt(s), {s: -1.0}))
    with pytest.raises(InputError, match="X has no value here"):
        evaluate(sp.Trace(X.T * X), {})
    with pytest.raises(InputError, match="the size n has no value here"):
        evaluate(sp.Trace(sp.Identity(n)), {})
