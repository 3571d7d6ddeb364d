"""Shared test oracles, independent of the library's derivative rules.

- ``central_differences``: central finite differences of a function of a flat array;
- ``needs_pdflatex`` / ``needs_graphviz``: marks for tests that need those programs;
- for matrix calculus (SymPy matrix expressions, symbolic sizes given by a ``sizes`` mapping):
  ``evaluate`` (a small NumPy evaluator, one branch per SymPy class), ``random_point``,
  ``same_matrix`` (numeric equality at several points), ``entrywise_gradient`` (∂J/∂W per entry
  by ``sympy.diff`` of the explicit J at small sizes) and ``finite_difference_gradient``.

A 1×1 matrix met where a scalar is expected is read as its one entry, as ``Trace`` reads it.

>>> import sympy as sp
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> X = sp.MatrixSymbol("X", n, n)
>>> point = random_point([X], {n: 2}, seed=0)
>>> bool(np.isclose(evaluate(sp.log(sp.det(X)), point, {n: 2}), np.log(np.linalg.det(point[X]))))
True
>>> same_matrix((X + X.T) * X, X * X + X.T * X, {n: 2})
True
>>> np.allclose(entrywise_gradient(sp.Trace(X * X), X, {n: 2}, point), 2 * point[X].T)
True
"""

import os
import shutil
import signal
import threading
from contextlib import contextmanager
from functools import cache

import numpy as np
import pytest
import sympy as sp
from sympy import (
    Determinant,
    HadamardPower,
    HadamardProduct,
    Identity,
    ImmutableMatrix,
    Inverse,
    MatAdd,
    MatMul,
    MatPow,
    MatrixExpr,
    MatrixSymbol,
    OneMatrix,
    Trace,
    Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

# CI installs pdflatex, so there a missing pdflatex fails these tests instead of skipping them.
needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None and not os.environ.get("CI"),
                                    reason="pdflatex is not installed (CI installs it and runs this test)")


needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"),
                                    reason="Graphviz is not installed (CI installs it and runs this test)")


def central_differences(f, values, h=1e-6):
    """∂f/∂values_i ≈ (f(v + h e_i) − f(v − h e_i)) / 2h, in float64; ``f`` takes an array."""
    values = np.asarray(values, dtype=float)
    grad = np.empty(len(values))
    for i in range(len(values)):
        up, down = values.copy(), values.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


# ----------------------------------------------------------------- matrix expressions ------------

def _size(d, sizes) -> int:
    d = sp.sympify(sp.sympify(d).xreplace(sizes))
    if not d.is_Integer:
        raise ValueError(f"no size given for {d}")
    return int(d)


def _shape(M, sizes) -> tuple[int, int]:
    return _size(M.rows, sizes), _size(M.cols, sizes)


def _scalar(value) -> float:
    """A value in scalar context: a number, or the entry of a 1×1 matrix."""
    value = np.asarray(value, dtype=float)
    if value.ndim == 0:
        return float(value)
    if value.shape == (1, 1):
        return float(value[0, 0])
    raise ValueError(f"a {value.shape[0]}×{value.shape[1]} matrix where a scalar is expected")


def _same_shape(values, what):
    shapes = {np.shape(v) for v in values}
    if len(shapes) != 1:
        raise ValueError(f"{what} of matrices of different shapes {sorted(shapes)}")
    return values


@cache
def _numeric_function(func, nargs: int):
    """The NumPy function for a SymPy scalar function class (log, exp, the library's primitives)."""
    dummies = sp.symbols(f"t0:{nargs}", cls=sp.Dummy)
    return sp.lambdify(dummies, func(*dummies), modules="numpy")


@cache
def _numeric_lambda(variable, body):
    return sp.lambdify([variable], body, modules="numpy")


def evaluate(expr, values, sizes=None):
    """``expr`` (a SymPy matrix or scalar expression) as a float64 array or a float.

    ``values`` maps each MatrixSymbol to an array of its shape and each scalar Symbol to a
    number; ``sizes`` maps the dimension symbols to integers. One branch per SymPy class, with
    NumPy's own linear algebra: independent of the library's rules and of SymPy's ``doit``.

    >>> import sympy as sp
    >>> A = sp.MatrixSymbol("A", 2, 2)
    >>> evaluate(sp.Trace(A.T * A) + sp.Symbol("s"), {A: np.eye(2), sp.Symbol("s"): 1.0})
    3.0
    """
    sizes = {sp.sympify(k): int(v) for k, v in (sizes or {}).items()}
    @cache  # each node once: the walk follows the DAG
    def ev(e):
        return branch(e)

    def matmul(e):
        coefficient, product = 1.0, None
        for a in e.args:
            if isinstance(a, MatrixExpr):
                product = ev(a) if product is None else product @ ev(a)
            else:
                coefficient *= _scalar(ev(a))
        return coefficient * product

    def elementwise(e):
        f = e.function
        (variable,) = f.variables
        bound = {s: sizes[s] if s in sizes else values[s] for s in f.expr.free_symbols - {variable}}
        inner = ev(e.expr)
        out = _numeric_lambda(variable, f.expr.xreplace(bound))(inner)
        return np.broadcast_to(np.asarray(out, dtype=float), inner.shape).copy()

    def hadamard_power(e):
        base, exponent = (ev(a) if isinstance(a, MatrixExpr) else _scalar(ev(a)) for a in e.args)
        return np.power(base, exponent)

    def symbol(e):
        if e in sizes:
            return float(sizes[e])
        if e not in values:
            raise KeyError(f"no value for the symbol {e}")
        return float(values[e])

    def matrix_symbol(e):
        if e not in values:
            raise KeyError(f"no value for the matrix {e}")
        value = np.asarray(values[e], dtype=float)
        if value.shape != _shape(e, sizes):
            raise ValueError(f"the value of {e} has shape {value.shape}, not {_shape(e, sizes)}")
        return value

    branches = [  # Inverse before MatPow (its subclass); constants and symbols before the rest
        (MatrixSymbol, matrix_symbol),
        (Identity, lambda e: np.eye(_size(e.rows, sizes))),
        (OneMatrix, lambda e: np.ones(_shape(e, sizes))),
        (ZeroMatrix, lambda e: np.zeros(_shape(e, sizes))),
        (ImmutableMatrix, lambda e: np.array([[_scalar(ev(v)) for v in row] for row in e.tolist()], dtype=float)),
        (MatMul, matmul),
        (MatAdd, lambda e: sum(_same_shape([ev(a) for a in e.args], "a sum"))),
        (Transpose, lambda e: ev(e.arg).T),
        (Inverse, lambda e: np.linalg.inv(ev(e.arg))),
        (MatPow, lambda e: np.linalg.matrix_power(ev(e.base), int(e.exp))),
        (HadamardProduct, lambda e: np.prod(_same_shape([ev(a) for a in e.args], "a Hadamard product"), axis=0)),
        (HadamardPower, hadamard_power),
        (ElementwiseApplyFunction, elementwise),
        (Trace, lambda e: float(np.trace(ev(e.arg)))),
        (Determinant, lambda e: float(np.linalg.det(ev(e.arg)))),
        (sp.Symbol, symbol),
        (sp.Add, lambda e: sum(_scalar(ev(a)) for a in e.args)),
        (sp.Mul, lambda e: float(np.prod([_scalar(ev(a)) for a in e.args]))),
        (sp.Pow, lambda e: _scalar(ev(e.base)) ** _scalar(ev(e.exp))),
        (sp.Function, lambda e: float(_numeric_function(e.func, len(e.args))(*(_scalar(ev(a)) for a in e.args)))),
    ]

    def branch(e):
        for cls, rule in branches:
            if isinstance(e, cls):
                value = rule(e)
                break
        else:
            if isinstance(e, sp.Expr) and e.is_number:
                value = float(e)
            else:
                raise NotImplementedError(f"the evaluator has no branch for {type(e).__name__}")
        if isinstance(e, MatrixExpr) and np.shape(value) != _shape(e, sizes):
            raise ValueError(f"{e} evaluates to shape {np.shape(value)}, not {_shape(e, sizes)}")
        return value

    return ev(sp.sympify(expr))


def variables_of(*exprs, sizes=None) -> list:
    """The MatrixSymbols and scalar Symbols of ``exprs`` (dimension symbols left out), by name."""
    sizes = sizes or {}
    found = set()
    for e in exprs:
        e = sp.sympify(e)
        found |= e.atoms(MatrixSymbol)
        found |= {s for s in e.free_symbols if isinstance(s, sp.Symbol) and not isinstance(s, MatrixSymbol)}
    return sorted((s for s in found if s not in sizes), key=lambda s: (s.name, str(getattr(s, "shape", ""))))


def random_point(symbols, sizes, seed: int = 0) -> dict:
    """Random float64 values for ``symbols``: matrix entries in (−½, ½), square matrices shifted
    by +2I (so they are invertible with positive determinant and xᵀAx > 0), scalars in (½, 3/2)."""
    rng = np.random.default_rng(seed)
    point = {}
    for s in sorted(symbols, key=lambda s: (s.name, str(getattr(s, "shape", "")))):
        if isinstance(s, MatrixSymbol):
            rows, cols = _shape(s, sizes)
            value = rng.uniform(-0.5, 0.5, (rows, cols))
            if rows == cols:
                value += 2 * np.eye(rows)
            point[s] = value
        else:
            point[s] = float(rng.uniform(0.5, 1.5))
    return point


def close(got, expected, rtol: float) -> bool:
    """Same shape, finite, and equal within ``rtol`` relative to the larger of 1 and max |expected|."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape or not np.all(np.isfinite(expected)):
        return False
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return bool(np.allclose(got, expected, rtol=rtol, atol=rtol * scale))


def same_matrix(e1, e2, sizes, draws: int = 3, rtol: float = 1e-8) -> bool:
    """Whether ``e1`` and ``e2`` have the same shape and the same value at ``draws`` random points."""
    symbols = variables_of(e1, e2, sizes=sizes)
    for seed in range(draws):
        point = random_point(symbols, sizes, seed)
        if not close(evaluate(e1, point, sizes), evaluate(e2, point, sizes), rtol):
            return False
    return True


# ----------------------------------------------------------------- the symbolic oracle -----------

@contextmanager
def time_limit(seconds: float, what: str):
    """Raise TimeoutError after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(*_):
        raise TimeoutError(f"{what} took more than {seconds} s: use smaller sizes")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def entry_symbols(M: MatrixSymbol, sizes) -> ImmutableMatrix:
    """An explicit matrix of M's shape whose entries are the symbols ``M[i,j]``."""
    rows, cols = _shape(M, sizes)
    return ImmutableMatrix(rows, cols, lambda i, j: sp.Symbol(f"{M.name}[{i},{j}]", real=True))


def explicit(expr, entries, sizes):
    """``expr`` with every matrix written out entry by entry: MatrixSymbols replaced by
    ``entries``, each node made explicit (SymPy's ``doit`` leaves HadamardPower and OneMatrix
    products unevaluated, so each class is written out here); a scalar comes back as a scalar."""
    sizes = {sp.sympify(k): int(v) for k, v in (sizes or {}).items()}
    @cache  # each node once: the walk follows the DAG
    def ex(e):
        return branch(e)

    def as_scalar(v):
        if isinstance(v, sp.MatrixBase):
            if v.shape != (1, 1):
                raise ValueError(f"a {v.shape[0]}×{v.shape[1]} matrix where a scalar is expected")
            return v[0, 0]
        return v

    def matmul(e):
        coefficient, product = sp.S.One, None
        for a in e.args:
            if isinstance(a, MatrixExpr):
                product = ex(a) if product is None else product * ex(a)
            else:
                coefficient *= as_scalar(ex(a))
        return product * coefficient

    def hadamard_power(e):
        base, exponent = (ex(a) for a in e.args)
        if isinstance(base, sp.MatrixBase):
            return base.applyfunc(lambda v: v ** as_scalar(exponent))
        return exponent.applyfunc(lambda v: base ** v)

    def hadamard_product(e):
        product = ex(e.args[0])
        for a in e.args[1:]:
            product = product.multiply_elementwise(ex(a))
        return product

    def inverse(M):  # adjugate over determinant: SymPy's inv() first tests invertibility, slowly
        return M.adjugate(method="berkowitz") / M.det(method="berkowitz")

    def matpow(e):
        p = int(e.exp)
        base = ex(e.base)
        return inverse(base) ** (-p) if p < 0 else base ** p

    branches = [
        (MatrixSymbol, lambda e: entries[e]),
        (Identity, lambda e: ImmutableMatrix(sp.eye(_size(e.rows, sizes)))),
        (OneMatrix, lambda e: ImmutableMatrix(sp.ones(*_shape(e, sizes)))),
        (ZeroMatrix, lambda e: ImmutableMatrix(sp.zeros(*_shape(e, sizes)))),
        (ImmutableMatrix, lambda e: e.applyfunc(lambda v: as_scalar(ex(v)))),
        (MatMul, matmul),
        (MatAdd, lambda e: sum((ex(a) for a in e.args[1:]), ex(e.args[0]))),
        (Transpose, lambda e: ex(e.arg).T),
        (Inverse, lambda e: inverse(ex(e.arg))),
        (MatPow, matpow),
        (HadamardProduct, hadamard_product),
        (HadamardPower, hadamard_power),
        (ElementwiseApplyFunction, lambda e: ex(e.expr).applyfunc(lambda v: e.function(v).xreplace(sizes))),
        (Trace, lambda e: ex(e.arg).trace()),
        (Determinant, lambda e: ex(e.arg).det(method="berkowitz")),
        (sp.Symbol, lambda e: sp.Integer(sizes[e]) if e in sizes else e),
    ]

    def branch(e):
        for cls, rule in branches:
            if isinstance(e, cls):
                value = rule(e)
                break
        else:
            if isinstance(e, MatrixExpr):
                raise NotImplementedError(f"the explicit oracle has no branch for {type(e).__name__}")
            if not e.args:
                return e
            value = e.func(*(as_scalar(ex(a)) for a in e.args))
        if isinstance(e, MatrixExpr) and value.shape != _shape(e, sizes):
            raise ValueError(f"{e} is explicitly of shape {value.shape}, not {_shape(e, sizes)}")
        return value if isinstance(e, MatrixExpr) else as_scalar(value)

    return ex(sp.sympify(expr))


def entrywise_gradient(J, W, sizes, point, seconds: float = 120):
    """∂J/∂W by ``sympy.diff`` of the explicit J, entry by entry, at ``point`` (an array of W's
    shape, or a float for a scalar W). Keep sizes ≤ 3: explicit determinants and inverses grow
    fast, and a case slower than ``seconds`` raises TimeoutError."""
    with time_limit(seconds, f"the sympy.diff oracle for ∂({J})/∂{W}"):
        matrices = sp.sympify(J).atoms(MatrixSymbol) | ({W} if isinstance(W, MatrixSymbol) else set())
        entries = {M: entry_symbols(M, sizes) for M in matrices}
        j = explicit(J, entries, sizes)
        if isinstance(j, sp.MatrixBase):  # a 1×1 J
            (j,) = j
        if isinstance(W, MatrixSymbol):
            derivative = entries[W].applyfunc(lambda w: sp.diff(j, w))
        else:
            derivative = ImmutableMatrix([[sp.diff(j, W)]])
        names, numbers = [], []
        for M, E in entries.items():
            names += list(E)
            numbers += list(np.asarray(point[M], dtype=float).ravel())
        scalars = sorted(derivative.free_symbols - set(names), key=str)
        # Plain identifiers: lambdify would otherwise rename "X[0,0]" by walking the tree again and again.
        arguments = {symbol: sp.Symbol(f"arg{i}") for i, symbol in enumerate(names + scalars)}
        f = sp.lambdify(list(arguments.values()), derivative.xreplace(arguments), modules="numpy")
        value = np.asarray(f(*numbers, *(float(point[s]) for s in scalars)), dtype=float)
    return value if isinstance(W, MatrixSymbol) else float(value[0, 0])


def finite_difference_gradient(J, W, point, sizes, h: float = 1e-6):
    """∂J/∂W by central differences of ``evaluate(J)`` at ``point``, with W's shape."""
    base = np.asarray(point[W], dtype=float)

    def J_at(flat):
        return _scalar(evaluate(J, {**point, W: flat.reshape(base.shape) if base.ndim else float(flat[0])}, sizes))

    grad = central_differences(J_at, base.ravel(), h).reshape(base.shape)
    return grad if base.ndim else float(grad)
