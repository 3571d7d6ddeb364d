"""Numbers for matrix expressions: SymPy's matrix classes evaluated with NumPy at a point, and
random points at small concrete sizes where such expressions are defined.

One branch per class (``MatMul``, ``MatAdd``, ``Transpose``, ``Inverse``, ``MatPow``, ``Trace``,
``Determinant``, ``HadamardProduct``, ``HadamardPower``, ``ElementwiseApplyFunction``, the column softmax,
``Identity``, ``OneMatrix``, ``ZeroMatrix``) and one for every scalar expression, so that two
forms of one gradient (``A*x + A.T*x`` and ``(A + A.T)*x``) can be compared by value. Scalar
functions (the library's activations included) are evaluated by SymPy, entry by entry.

>>> import sympy as sp
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> X, a = sp.MatrixSymbol("X", n, n), sp.MatrixSymbol("a", n, 1)
>>> point = {X: np.array([[2.0, 1.0], [0.0, 1.0]]), a: np.array([[1.0], [1.0]])}
>>> evaluate(sp.Trace(a.T * X.I * a) + sp.log(sp.det(X)), point)  # 1 + log 2
1.6931471805599454
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping

import numpy as np
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from . import naming
from .errors import InputError
from .primitives import ColumnSoftmax

SIZES = (2, 3, 4, 5, 6, 7)  # the concrete sizes given to size symbols, one each, in order
SHIFT = 1.0  # a square matrix is drawn as SHIFT·I plus small entries: invertible, determinant > 0


def evaluate(expr: sp.Basic, values: Mapping[sp.Basic, object], sizes: Mapping[sp.Symbol, int] | None = None):
    """The value of ``expr`` (a float, or a 2-D float array for a matrix) where every symbol and
    ``MatrixSymbol`` has its value in ``values``; ``sizes`` gives the size symbols of
    ``Identity(n)`` and ``OneMatrix(n, 1)`` (those of a ``MatrixSymbol`` come from its value).
    A value that is not a real number (log of a negative number) is NaN, one beyond float64
    infinite, without a floating-point warning: the callers look at what comes out.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> evaluate(sp.OneMatrix(2, 1) * x, {x: 3.0})
    array([[3.],
           [3.]])
    """
    with np.errstate(all="ignore"):
        return _Evaluator(values, sizes or {}).value(expr)


class _Evaluator:
    def __init__(self, values, sizes):
        self.values = dict(values)
        self.sizes = dict(sizes)
        self.known: dict[sp.Basic, object] = {}

    def size(self, dimension) -> int:
        known = {size: sp.Integer(count) for size, count in self.sizes.items()}
        for symbol, value in self.values.items():  # a matrix's value tells the sizes of its shape
            if isinstance(symbol, sp.MatrixSymbol):
                for size, count in zip(symbol.shape, np.shape(value)):
                    if isinstance(size, sp.Symbol):
                        known.setdefault(size, sp.Integer(count))
        concrete = sp.sympify(dimension).xreplace(known)
        if not concrete.is_Integer:
            raise InputError(f"the size {dimension} has no value here: give it one")
        return int(concrete)

    def value(self, expr):
        if expr not in self.known:
            self.known[expr] = self._value(expr)
        return self.known[expr]

    def _value(self, expr):  # one branch per class, in the order of the module's docstring
        if isinstance(expr, (sp.MatrixSymbol, sp.Symbol)):
            if expr not in self.values and expr in self.sizes:  # a size in a formula (tr(X)/n)
                return float(self.sizes[expr])
            if expr not in self.values:
                raise InputError(f"{expr} has no value here")
            value = self.values[expr]
            if not isinstance(expr, sp.MatrixSymbol):
                return float(value)
            value = np.asarray(value, dtype=float)
            return value.reshape(-1, 1) if value.ndim == 1 else value
        if isinstance(expr, sp.MatMul):
            scalar, result = 1.0, None
            for factor in expr.args:
                value = self.value(factor)
                if isinstance(factor, sp.MatrixExpr):
                    result = value if result is None else result @ value
                else:
                    scalar *= value
            return scalar * result
        if isinstance(expr, sp.MatAdd):
            return sum(self.value(term) for term in expr.args)
        if isinstance(expr, sp.Transpose):
            return self.value(expr.arg).T
        if isinstance(expr, sp.Inverse):
            return _inverse(self.value(expr.arg))
        if isinstance(expr, sp.MatPow):
            base, exponent = self.value(expr.base), expr.exp
            if not exponent.is_Integer:
                raise InputError(f"the matrix power {naming.clipped(expr, 40)} needs a whole exponent")
            power = np.linalg.matrix_power(base, abs(int(exponent)))
            return _inverse(power) if exponent < 0 else power
        if isinstance(expr, sp.Trace):
            return float(np.trace(self.value(expr.arg)))
        if isinstance(expr, sp.Determinant):
            return float(np.linalg.det(self.value(expr.arg)))
        if isinstance(expr, sp.HadamardProduct):
            return math.prod(self.value(factor) for factor in expr.args)
        if isinstance(expr, sp.HadamardPower):
            with np.errstate(all="ignore"):
                return np.power(self.value(expr.base), self.value(expr.exp))
        if isinstance(expr, ElementwiseApplyFunction):
            function, argument = expr.function, self.value(expr.expr)
            (variable,) = function.variables
            return np.vectorize(lambda entry: self._scalar(function.expr, {variable: entry}), otypes=[float])(argument)
        if isinstance(expr, ColumnSoftmax):
            return ColumnSoftmax.of(self.value(expr.logits))
        if isinstance(expr, sp.Identity):
            return np.eye(self.size(expr.rows))
        if isinstance(expr, sp.OneMatrix):
            return np.ones((self.size(expr.rows), self.size(expr.cols)))
        if isinstance(expr, sp.ZeroMatrix):
            return np.zeros((self.size(expr.rows), self.size(expr.cols)))
        if isinstance(expr, sp.MatrixExpr):
            raise InputError(f"cannot evaluate {type(expr).__name__} ({naming.clipped(expr, 40)})")
        if expr.is_Number:
            return float(expr)
        if isinstance(expr, sp.Add):
            return sum(self.value(term) for term in expr.args)
        if isinstance(expr, sp.Mul):
            return math.prod(self.value(factor) for factor in expr.args)
        if isinstance(expr, sp.Pow):
            base, exponent = self.value(expr.base), self.value(expr.exp)
            return _real(sp.Pow(sp.Float(base), sp.Float(exponent))) if base < 0 or (base == 0 and exponent < 0) \
                else float(base) ** float(exponent)
        if not expr.free_symbols and not expr.atoms(sp.MatrixSymbol, sp.Identity, sp.OneMatrix):
            return _real(expr)
        return _real(expr.func(*[sp.Float(self.value(a)) for a in expr.args]))

    def _scalar(self, expr, values) -> float:
        return _Evaluator(self.values | values, self.sizes).value(expr)


def _inverse(matrix: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return np.full_like(matrix, np.nan)


def _real(expr: sp.Expr) -> float:
    """A SymPy number as a float; NaN where it is not a finite real one."""
    try:
        value = sp.N(expr, 17)
    except (TypeError, ValueError, OverflowError):
        return math.nan
    return float(value) if value.is_real and value.is_finite else math.nan


def probe_sizes(sizes: Iterable[sp.Symbol]) -> dict[sp.Symbol, int]:
    """A different small number for each size symbol (2, 3, 4, …, in their order), so that a
    transposed factor cannot pass for the right one by having the same shape.

    >>> import sympy as sp
    >>> probe_sizes(sp.symbols("k m n"))
    {k: 2, m: 3, n: 4}
    """
    sizes = list(sizes)
    if len(sizes) > len(SIZES):
        raise InputError(f"{len(sizes)} size symbols; at most {len(SIZES)} are given values")
    return dict(zip(sizes, SIZES))


def random_point(symbols: Iterable[sp.Basic], sizes: Mapping[sp.Symbol, int], rng: random.Random) -> dict[sp.Basic, object]:
    """Random values for ``symbols`` at the concrete ``sizes``: a scalar from 0.5 to 1.5, a
    matrix's entries from −1 to 1, except a square matrix (not 1×1), which is SHIFT·I plus entries
    small enough to keep it diagonally dominant: invertible, with a positive determinant, and a
    positive definite symmetric part (so that ``log det X`` and ``log(xᵀ X x)`` are defined).

    >>> import sympy as sp
    >>> X = sp.MatrixSymbol("X", 3, 3)
    >>> bool(np.linalg.det(random_point([X], {}, random.Random(0))[X]) > 0)
    True
    """
    point: dict[sp.Basic, object] = {}
    for symbol in symbols:
        if not isinstance(symbol, sp.MatrixSymbol):
            point[symbol] = rng.uniform(0.5, 1.5)
            continue
        rows, cols = (int(sp.sympify(d).xreplace(sizes)) for d in symbol.shape)
        entries = np.array([[rng.uniform(-1.0, 1.0) for _ in range(cols)] for _ in range(rows)])
        if rows == cols > 1:
            entries = SHIFT * np.eye(rows) + entries * (0.4 * SHIFT / rows)
        point[symbol] = entries
    return point
