"""A numeric worked example: every forward value, the loss, each chain-rule term, each gradient
and each updated parameter, in the order a textbook presents them.

Values are computed in float64, or exactly (SymPy rationals and exact expressions) on request;
all gradients are taken at the original parameters, and the update is simultaneous. A derivation
with matrix steps takes its matrices as nested lists and is computed in float64
(:func:`matrix_walkthrough`).

>>> from symbackprop import backprop, mlp
>>> d = backprop(mlp([1, 1], activation="identity"))
>>> w = walkthrough(d, {"x1": 2, "y1": 1, "w1": 0.5, "b1": 0}, learning_rate=0.1, exact=True)
>>> w.gradients
((w1, 0), (b1, 0))
>>> w = walkthrough(d, {"x1": 2, "y1": 3, "w1": 0.5, "b1": 0}, learning_rate=0.1, exact=True)
>>> w.loss, dict(w.updates)
(2, {w1: 9/10, b1: 1/5})
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from . import naming
from .api import backprop
from .derive import Derivation
from .errors import InputError
from .evaluate import evaluate
from .latex import DOCUMENT_LINE, TITLE_WIDTH, BackpropLatexPrinter, partial, pdflatex, product_rows, side_by_side, text, width_of
from .matrices import is_matrix, shape_text
from .naming import latex_names
from .simplify import tree_size
from .targets import probability_problem
from .templates_ import render
from .text import CHAIN_PATHS, CHAINS_PER_LAYER, chain_parameters, plain
from .values import matrix, number, same_name, sizes_given

FORMULA_WIDTH = 60  # characters of a formula quoted in an error message
MATRIX_SHOWN = 4  # a matrix value is printed entry by entry up to this many rows and columns
DECIMAL_PRECISION = 30  # significant digits of the decimals computed beside exact values
EXACT_NODES = 40  # an exact value is printed in full up to this many nodes, else as its decimal
EXACT_DIGITS = 1000  # an exact value that would write more digits is kept as the power it is


@dataclass(frozen=True)
class Walkthrough:
    """The numbers of one forward and backward pass and one gradient-descent step.

    ``forward`` and ``deltas`` hold ``(symbol, formula, value)``; ``chains`` per parameter the
    paths of the chain rule as tuples of ``(factor, value)``, written out only where they stay
    short: for a parameter with at most :data:`~symbackprop.text.CHAIN_PATHS` paths, and of a
    network only for the first :data:`~symbackprop.text.CHAINS_PER_LAYER` such parameters of each
    layer (``None`` for the others, whose gradient the deltas give); ``gradients`` and
    ``updates`` hold ``(parameter, value)`` for every parameter. A matrix value is a tuple of
    rows (``np.array(value)`` makes it an array).
    """

    derivation: Derivation
    given: tuple[tuple[sp.Symbol, object], ...]
    learning_rate: object
    forward: tuple[tuple[sp.Symbol, sp.Expr, object], ...]
    deltas: tuple[tuple[sp.Symbol, sp.Expr, object], ...]
    chains: tuple[tuple[sp.Symbol, tuple | None], ...]
    gradients: tuple[tuple[sp.Symbol, object], ...]
    updates: tuple[tuple[sp.Symbol, object], ...]
    exact: bool
    decimals: Mapping = field(default_factory=dict, compare=False, repr=False)  # exact value → its decimal (a Float)

    @property
    def loss(self):
        return self.forward[-1][2]

    def _repr_markdown_(self) -> str:
        return walkthrough_markdown(self)


class Undefined(InputError):
    """A formula evaluated outside its domain (log 0, 1/0, √−1) or to a number too large for float64."""


def value_of(expr: sp.Expr, table: Mapping, exact: bool = False, approximate: Mapping | None = None):
    """``expr`` at the values in ``table``: exactly (SymPy numbers) or in float64; raises
    :class:`Undefined` where it has no finite real value. Exactly, whether it has one is decided
    on its decimal: from ``approximate`` (symbol → decimal of its value, see :func:`pass_values`)
    when given, so a value nested over many steps is never evaluated whole.

    >>> x = sp.Symbol("x")
    >>> value_of(x**2 / 3, {x: 2}), value_of(x**2 / 3, {x: sp.Integer(2)}, exact=True)
    (1.3333333333333333, 4/3)
    >>> value_of(sp.log(x), {x: 0.0})
    Traceback (most recent call last):
    ...
    symbackprop.walkthrough.Undefined: log(x) is undefined at x = 0
    """
    return _value_and_decimal(expr, table, exact, approximate)[0]


def _value_and_decimal(expr: sp.Expr, table: Mapping, exact: bool, approximate: Mapping | None):
    """:func:`value_of` and, exactly, the value's decimal (else None)."""
    decimal = None
    try:
        if exact:
            value = exact_value(expr, table)
            decimal = _approximate(expr, approximate) if approximate is not None else _approximate(value, {})
            defined = decimal.is_Number and decimal.is_finite is True
        else:
            symbols = sorted(expr.free_symbols, key=sp.default_sort_key)
            with np.errstate(all="ignore"):
                value = float(sp.lambdify(symbols, expr, "numpy")(*[table[s] for s in symbols]))
            defined = math.isfinite(value)
    except (ZeroDivisionError, ValueError, OverflowError, TypeError):
        defined = False
    if not defined:
        raise Undefined(f"{naming.clipped(plain(expr), FORMULA_WIDTH)} is undefined at {_point(expr.free_symbols, table)}")
    return value, decimal


def exact_value(expr: sp.Expr, table: Mapping) -> sp.Expr:
    """``expr`` at the exact values of ``table``, as compact as they allow: SymPy simplifies it
    as usual where its values are short (at most :data:`EXACT_NODES` nodes), and a long value
    (σ of a sum of σ's, deep in a network) goes in as it is, never taken apart or evaluated again.

    >>> x, y = sp.symbols("x y")
    >>> exact_value(x * y + x, {x: sp.Rational(1, 2), y: sp.Integer(3)})
    2
    """
    values = {s: sp.sympify(table[s]) for s in expr.free_symbols if s in table}
    long = {s: sp.Dummy(s.name) for s, v in values.items() if tree_size(v) > EXACT_NODES or exact_digits(v) > EXACT_DIGITS}
    short = {s: v for s, v in values.items() if s not in long}
    with sp.evaluate(False):
        if exact_digits(expr.xreplace(short)) > EXACT_DIGITS:  # x**20000 at x = 1/2: kept as a power, never multiplied out
            return expr.xreplace(values)
    value = expr.xreplace(short | long)
    if not long or not value.free_symbols & set(long.values()):
        return value
    with sp.evaluate(False):  # the long values as they are
        return value.xreplace({dummy: table[s] for s, dummy in long.items()})


def exact_digits(expr: sp.Expr) -> float:
    """About how many digits evaluating ``expr`` exactly writes: a rational's own, a power's base
    digits times its exponent, the sum of its parts' otherwise.

    >>> exact_digits(sp.Rational(1, 1000)), exact_digits(sp.Pow(sp.Rational(1, 2), 20000, evaluate=False)) > EXACT_DIGITS
    (4.0, True)
    """
    digits: dict[sp.Basic, float] = {}
    for node in sp.postorder_traversal(expr):
        if node in digits:
            continue
        if node.is_Rational:
            digits[node] = float(len(str(max(abs(node.p), node.q)))) if max(abs(node.p), node.q) < 10**100 else (
                max(abs(node.p), node.q).bit_length() * math.log10(2))
        elif isinstance(node, sp.Pow) and node.exp.is_Integer:
            digits[node] = digits[node.base] * abs(int(node.exp))
        else:
            digits[node] = sum(digits[a] for a in node.args)
    return digits[expr]


def _approximate(expr: sp.Expr, approximate: Mapping) -> sp.Expr:
    """``expr`` as a decimal of :data:`DECIMAL_PRECISION` digits, from the decimals of its symbols."""
    return sp.sympify(expr).xreplace(approximate).evalf(DECIMAL_PRECISION)


def value_at(d: Derivation, label: str, expr: sp.Expr, table: Mapping, exact: bool = False, approximate: Mapping | None = None):
    """:func:`value_of`, or an :class:`InputError` naming the formula of ``d``, the given values
    it fails at and ``label`` (the step or derivative that failed).

    >>> from symbackprop import backprop
    >>> x, y = sp.symbols("x y")
    >>> d = backprop(sp.log(x) * y)
    >>> pass_values(d, given_values(d.graph, {"x": 0, "y": 1}))
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: y*log(x) is undefined at x = 0 (step v1 = log(x))
    """
    return _value_at(d, label, expr, table, exact, approximate)[0]


def _value_at(d: Derivation, label: str, expr: sp.Expr, table: Mapping, exact: bool, approximate: Mapping | None):
    try:
        return _value_and_decimal(expr, table, exact, approximate)
    except Undefined:
        graph = d.graph
        closed = d.closed(expr).free_symbols
        formula = graph.description.split(" = ", 1)[1] if graph.description.startswith(f"{graph.output} = ") else graph.description
        point = _point([v for v in graph.variables if v in closed], table)
        raise InputError(f"{naming.clipped(formula, FORMULA_WIDTH)} is undefined at {point} ({label})") from None


def _point(symbols, table: Mapping, most: int = 6) -> str:
    """``x = 0, y = 1``: the values of ``symbols`` (the first ``most`` of them)."""
    shown = [s for s in sorted(symbols, key=sp.default_sort_key) if s in table] if not isinstance(symbols, list) else symbols
    point = ", ".join(f"{plain(s)} = {_given(table[s])}" for s in shown[:most]) or "these values"
    return point + (", …" if len(shown) > most else "")


def _given(value) -> str:
    return repr(value).removesuffix(".0") if isinstance(value, float) else str(value)


def given_values(graph, values: Mapping, exact: bool = False) -> dict:
    """Every variable of ``graph`` → its number from ``values`` (keyed by symbol or name);
    unknown names, missing variables and values that are not numbers are named in the error, and
    so are targets that are not a probability vector where the loss needs one (a fused rule).

    >>> from symbackprop import mlp
    >>> net = mlp([1, 2], activation="softmax", loss="cross_entropy")
    >>> given_values(net, {"x1": 1, "y1": 0.3, "y2": 0.3, "w1": 0, "w2": 0, "b1": 0, "b2": 0})
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: cross-entropy after a softmax needs targets that sum to 1 (a probability vector); y1 + y2 = 0.6
    """
    by_name = {same_name(v.name): v for v in graph.variables}
    given: dict[sp.Symbol, object] = {}
    for key, value in values.items():
        name = same_name(key.name if isinstance(key, sp.Symbol) else str(key))
        if name not in by_name:
            raise InputError(f"{name!r} is not a variable of {graph.description}; its variables: {', '.join(by_name)}")
        given[by_name[name]] = number(value, name, exact)
    missing = [v.name for v in graph.variables if v not in given]
    if missing:
        raise InputError(f"values are missing for {', '.join(missing)}")
    if graph.fused:  # the fused delta ŷ − y holds for probability vectors only
        problem = probability_problem([plain(t) for t in graph.targets], [given[t] for t in graph.targets])
        if problem:
            raise InputError(problem)
    return given


def pass_values(d: Derivation, given: Mapping, exact: bool = False, approximate: dict | None = None) -> dict:
    """The given variables, then every step and every named delta of ``d`` at them. Exactly,
    ``approximate`` (when given) is filled with the decimal of every value, symbol → decimal.

    >>> from symbackprop import backprop, mlp
    >>> d = backprop(mlp([1, 1], activation="identity"))
    >>> table = pass_values(d, given_values(d.graph, {"x1": 2, "y1": 3, "w1": 1, "b1": 0}))
    >>> table[sp.Symbol("a1")], table[sp.Symbol("J")]
    (2.0, 0.5)
    """
    table = dict(given)
    decimals = approximate if approximate is not None else {}
    if exact:
        decimals.update({symbol: sp.Float(value, DECIMAL_PRECISION) for symbol, value in given.items()})
    for symbol, expr, label in ([(s.symbol, s.expr, f"step {plain(s.symbol)} = {plain(s.expr)}") for s in d.graph.steps]
                                + [(s, e, f"{plain(s)} = {plain(e)}") for s, e in d.deltas]):
        table[symbol], decimal = _value_at(d, label, expr, table, exact, decimals if exact else None)
        if exact:
            decimals[symbol] = decimal
    return table


def walkthrough(d, values: Mapping, learning_rate=0.5, exact: bool = False, sizes: Mapping | None = None) -> Walkthrough:
    """Evaluate the derivation ``d`` (or of a network or expression, derived here) at ``values``
    (by symbol or by name: every input, target and parameter) and take one gradient-descent step
    of size ``learning_rate``. A derivation with matrix steps takes each matrix as nested lists
    (or an array) and, where its sizes are symbolic, their values in ``sizes`` (``{"n": 3}``) or
    from the matrices' shapes; see :func:`matrix_walkthrough`."""
    if not isinstance(d, Derivation):
        d = backprop(d)
    if d.graph.has_matrices:
        if exact:
            raise InputError("exact values are for derivations without matrices; a matrix walkthrough is computed in float64")
        return matrix_walkthrough(d, values, learning_rate, sizes)
    if sizes:
        raise InputError("sizes are for derivations with matrices of symbolic size; this one has none")
    graph = d.graph
    given = given_values(graph, values, exact)
    rate = number(learning_rate, "the learning rate", exact)

    approximate: dict = {}  # exactly: symbol → the decimal of its value, computed step by step
    table = pass_values(d, given, exact, approximate)
    decimals = {table[s]: v for s, v in approximate.items()}  # exact value → its decimal, computed once
    output = plain(graph.output)

    def evaluate(label, expr):
        value, decimal = _value_at(d, label, expr, table, exact, approximate if exact else None)
        if exact:
            decimals.setdefault(value, decimal)
        return value

    forward = tuple((step.symbol, step.expr, table[step.symbol]) for step in graph.steps)
    deltas = tuple((symbol, expr, table[symbol]) for symbol, expr in d.deltas)

    shown = chain_parameters(d, CHAIN_PATHS, CHAINS_PER_LAYER)
    chains = []
    for p in d.wrt:
        paths = None
        if p in shown:
            paths = tuple(tuple((f, evaluate(f"∂{plain(f.of)}/∂{plain(f.wrt)} = {plain(f.expr)}", f.expr)) for f in path.factors)
                          for path in d.chain(p).paths)
        chains.append((p, paths))
    gradients = tuple((p, evaluate(f"∂{output}/∂{plain(p)} = {plain(d.gradient(p))}", d.gradient(p))) for p in d.wrt)
    step = sp.Symbol("p") - sp.Symbol("alpha") * sp.Symbol("g")  # p ← p − α ∂J/∂p
    updates = tuple((p, exact_value(step, {sp.Symbol("p"): given[p], sp.Symbol("alpha"): rate, sp.Symbol("g"): g})
                     if exact else given[p] - rate * g) for p, g in gradients)
    if exact:
        for (p, new), (_, g) in zip(updates, gradients):
            decimals.setdefault(new, sp.Float(given[p], DECIMAL_PRECISION) - sp.Float(rate, DECIMAL_PRECISION) * decimals[g])
    else:
        for (p, new), (_, g) in zip(updates, gradients):
            if not math.isfinite(new):
                raise InputError(f"the update {plain(p)} ← {_given(given[p])} − {_given(rate)}·{g:.6g} leaves float64's range; "
                                 "choose a smaller learning rate (or --exact)")
    return Walkthrough(d, tuple((v, given[v]) for v in graph.variables), rate, forward, deltas,
                       tuple(chains), gradients, updates, exact, decimals)


# ------------------------------------------------------------------------------------------
# Matrices: values are float64 arrays while computed, nested tuples of floats once recorded.

def concrete_sizes(graph, sizes: Mapping | None, values: Mapping | None = None) -> dict:
    """Each size symbol of ``graph`` → its value from ``sizes`` (by symbol or by name), else from
    the graph's ``given_sizes`` (a network's widths), else from the shape of a matrix in
    ``values``; a size left out, unknown or not a positive whole number is a one-line :class:`InputError`.

    >>> from symbackprop import backprop
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> concrete_sizes(backprop(sp.Trace(sp.MatrixSymbol("X", n, n))).graph, {"n": 3})
    {n: 3}
    """
    symbols = graph.sizes
    by_name = {s.name: s for s in symbols}
    given = dict(graph.given_sizes) | {by_name[name]: value for name, value in sizes_given(sizes, by_name, graph.description).items()}
    for variable in filter(is_matrix, graph.variables):
        value = (values or {}).get(variable, (values or {}).get(variable.name))
        shape = None if value is None else _rows_and_columns(value)
        if shape is not None:
            for size, count in zip(variable.shape, shape):
                if size in symbols and size not in given and count >= 1:
                    given[size] = count
    missing = [s.name for s in symbols if s not in given]
    if missing:
        example = ", ".join(f"{m!r}: 3" for m in missing)
        raise InputError(f"the sizes {', '.join(missing)} are symbolic and no matrix given has them: give them, e.g. "
                         f"sizes={{{example}}} (--size {' --size '.join(f'{m}=3' for m in missing)} on the command line)")
    return given


def _rows_and_columns(value) -> tuple[int, int] | None:
    """The shape of a matrix given as an array or as rows of numbers; None for anything else
    (a flat list, a number, ragged rows: :func:`values.matrix` names what is wrong with it)."""
    try:
        shape = np.shape(value)
    except ValueError:  # ragged rows
        return None
    return shape if len(shape) == 2 else None


def _dimension(size, sizes: Mapping) -> int:
    return int(sp.sympify(size).xreplace(sizes))


def _given_matrices(graph, values: Mapping, sizes: Mapping) -> dict:
    """Every variable of ``graph`` → its value: a float for a scalar, a float64 array of the
    variable's shape for a matrix (nested lists; a flat list for a column or a row)."""
    by_name = {same_name(v.name): v for v in graph.variables}
    given: dict = {}
    for key, value in values.items():
        name = same_name(key.name if isinstance(key, (sp.Symbol, sp.MatrixSymbol)) else str(key))
        if name not in by_name:
            raise InputError(f"{name!r} is not a variable of {graph.description}; its variables: {', '.join(by_name)}")
        variable = by_name[name]
        if not is_matrix(variable):
            given[variable] = float(number(value, name, False))
            continue
        shape = tuple(_dimension(size, sizes) for size in variable.shape)
        array = matrix(value, name)
        if array.ndim < 2 and array.size == shape[0] * shape[1] and 1 in shape:
            array = array.reshape(shape)  # a flat list for a column or a row
        if array.shape != shape:
            wanted = shape_text(shape) if variable.shape == shape else f"{shape_text(variable.shape)} = {shape_text(shape)}"
            raise InputError(f"the value of {name} must be {wanted}, got shape {shape_text(array.shape)}")
        given[variable] = array
    missing = [v.name for v in graph.variables if v not in given]
    if missing:
        raise InputError(f"values are missing for {', '.join(missing)}")
    for target in graph.targets if graph.fused else ():  # the fused delta (Ŷ − Y)/m holds for probability vectors only
        columns = given[target].T
        for j, column in enumerate(columns):
            problem = probability_problem([f"y{k}" for k in range(1, len(column) + 1)], column)
            if problem is not None:
                raise InputError(problem.replace("; ", f"; sample {j + 1} (column {j}): ", 1) if len(columns) > 1 else problem)
    return given


def _recorded(value):
    """A computed value as the walkthrough keeps it: a float, or a matrix as nested tuples."""
    return tuple(tuple(float(v) + 0.0 for v in row) for row in value) if np.ndim(value) == 2 else float(value) + 0.0  # no -0


def _defined(d: Derivation, label: str, value):
    if np.all(np.isfinite(value)):
        return value
    graph = d.graph
    formula = naming.clipped(plain(graph.closed_steps()[graph.output]), FORMULA_WIDTH)
    raise InputError(f"{formula} has no finite value at the given values ({label})")


def matrix_walkthrough(d: Derivation, values: Mapping, learning_rate=0.5, sizes: Mapping | None = None) -> Walkthrough:
    """The walkthrough of a derivation with matrix steps, in float64: every step, named delta
    and gradient at ``values`` (each matrix as nested lists), then one gradient-descent step.
    Matrices are kept as nested tuples; the documents print them entry by entry up to
    :data:`MATRIX_SHOWN` rows and columns. Symbolic sizes take their values from ``sizes``, else
    from the shapes of the matrices given (:func:`concrete_sizes`).

    >>> from symbackprop import backprop
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> X = sp.MatrixSymbol("X", n, n)
    >>> w = matrix_walkthrough(backprop(sp.Trace(X.T * X)), {"X": [[1, 2], [3, 4]]}, 0.25, sizes={"n": 2})
    >>> w.loss, dict(w.gradients)[X], dict(w.updates)[X]
    (30.0, ((2.0, 4.0), (6.0, 8.0)), ((0.5, 1.0), (1.5, 2.0)))
    """
    graph = d.graph
    size_values = concrete_sizes(graph, sizes, values)
    given = _given_matrices(graph, values, size_values)
    rate = float(number(learning_rate, "the learning rate", False))
    table = dict(given)
    output = plain(graph.output)
    for symbol, expr, label in ([(s.symbol, s.expr, f"step {plain(s.symbol)} = {plain(s.expr)}") for s in graph.steps]
                                + [(s, e, f"{plain(s)} = {plain(e)}") for s, e in d.deltas]):
        table[symbol] = _defined(d, label, evaluate(expr, table, size_values))
    gradients = [(p, _defined(d, f"∂{output}/∂{plain(p)}", evaluate(d.gradient(p), table, size_values))) for p in d.wrt]
    updates = [(p, _defined(d, f"the update of {plain(p)}", given[p] - rate * g)) for p, g in gradients]
    return Walkthrough(
        d, tuple((v, _recorded(given[v])) for v in graph.variables), rate,
        tuple((s.symbol, s.expr, _recorded(table[s.symbol])) for s in graph.steps),
        tuple((s, e, _recorded(table[s])) for s, e in d.deltas),
        tuple((p, None) for p in d.wrt),
        tuple((p, _recorded(g)) for p, g in gradients),
        tuple((p, _recorded(new)) for p, new in updates),
        exact=False)


def _check_digits(digits) -> int:
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
        raise InputError(f"digits must be a whole number from 1 to 17 (significant digits of a float64), got {digits!r}")
    return digits


class _Numbers:
    """Formats the numbers of a walkthrough: ``digits`` significant digits, exact values as
    LaTeX with their decimal value beside them (``decimals``: exact value → its decimal, computed
    once; any other value is evaluated here)."""

    def __init__(self, exact: bool, digits: int, printer: BackpropLatexPrinter, decimals: Mapping | None = None):
        self.exact, self.digits, self.printer = exact, digits, printer
        self.decimals = decimals or {}

    def decimal(self, value) -> str:
        if self.exact:
            approximate = self.decimals.get(value)
            number = sp.Float(approximate if approximate is not None else sp.N(value, self.digits + 5), self.digits + 5)
            # beyond float64 (an exact 2**-20000) its decimal is written from the arbitrary-precision number
            text_ = f"{float(number):.{self.digits}g}" if number == 0 or 1e-300 < abs(number) < 1e300 else (
                mpmath.nstr(number._to_mpmath(number._prec), self.digits, min_fixed=0, max_fixed=0))
        else:
            text_ = f"{float(value):.{self.digits}g}"
        if "e" in text_:
            mantissa, exponent = text_.split("e")
            text_ = r"%s \times 10^{%d}" % (mantissa, int(exponent))
        return text_

    def _exact(self, value, width: int) -> str | None:
        """The exact value as LaTeX when it is short (at most ``width`` characters), else None;
        a long value is never printed in full."""
        value = sp.sympify(value)
        if tree_size(value) > EXACT_NODES or exact_digits(value) > EXACT_DIGITS:
            return None
        printed = self.printer.doprint(value)
        return printed if len(printed) < width else None

    def matrix(self, value: tuple) -> str:
        """A matrix (nested tuples) entry by entry up to :data:`MATRIX_SHOWN` rows and columns,
        else its shape."""
        rows, columns = len(value), len(value[0])
        if rows > MATRIX_SHOWN or columns > MATRIX_SHOWN:
            return r"\left(\text{a } %d \times %d \text{ matrix}\right)" % (rows, columns)
        body = r" \\ ".join(" & ".join(self.decimal(v) for v in row) for row in value)
        return r"\begin{pmatrix} %s \end{pmatrix}" % body

    def __call__(self, value) -> str:
        """The value as the result of a line, with its relation: ``= 3/4``, ``= σ(3/10) ≈ 0.574``
        (an exact value with its decimal beside it), or only ``≈ 0.574`` when the exact value is
        long; in float64 ``= 0.574``; a matrix entry by entry."""
        if isinstance(value, tuple):
            return "= " + self.matrix(value)
        if not self.exact:
            return "= " + self.decimal(value)
        rational = sp.sympify(value).is_Rational
        exact = self._exact(value, 40 if rational else 60)
        if exact is not None and rational:
            return "= " + exact
        return r"= %s \approx %s" % (exact, self.decimal(value)) if exact is not None else r"\approx %s" % self.decimal(value)

    def plain(self, value) -> str:
        """The value inside a formula: a short rational, else its decimal; negatives in parentheses."""
        if isinstance(value, tuple):
            return self.matrix(value)
        value = sp.sympify(value) if self.exact else value
        short = self.exact and value.is_Rational and self._exact(value, 40) is not None
        printed = self.printer.doprint(value) if short else self.decimal(value)
        return r"\left(%s\right)" % printed if printed.startswith("-") else printed


class _WithNumbers(BackpropLatexPrinter):
    """A formula with numbers in place of its symbols: a fraction or a number in scientific
    notation is parenthesised as the base of a power (the (1/2)^{600} of x^{600})."""

    def _print_Pow(self, expr, **kwargs):
        if expr.base.is_Symbol and expr.exp.is_Rational and expr.exp > 0:
            base = self._print(expr.base)
            if "\\frac" in base or "\\times" in base:
                return r"\left(%s\right)^{%s}" % (base, self._print(expr.exp))
        return super()._print_Pow(expr, **kwargs)


def _document_parts(w: Walkthrough, digits: int) -> dict:
    """The walkthrough as already-printed LaTeX rows, for both templates."""
    d = w.derivation
    graph = d.graph
    names = latex_names(graph)
    printer = BackpropLatexPrinter(names)
    number = _Numbers(w.exact, digits, printer, w.decimals)
    values = {s: v for s, _, v in w.forward} | dict(w.given) | {s: v for s, _, v in w.deltas}
    matrices = graph.has_matrices
    substituted = _WithNumbers({s: number.plain(v) for s, v in values.items()}, mul_symbol="dot")

    def row(symbol, formula, value):
        """The formula, then each later form with its own relation: the formula with the numbers
        in (left out when wider than a line), the value (``= 0.5``, ``= 3/4``, ``≈ 0.574``)."""
        shown = [printer.doprint(formula)]
        if formula.free_symbols and not formula.is_Symbol and not matrices:  # matrices are not written into formulas
            with_numbers = substituted.doprint(formula)
            if width_of(with_numbers) <= DOCUMENT_LINE:
                shown.append("= " + with_numbers)
        # where the formula with the numbers in is already the exact value, only its decimal follows
        result = number(value).removeprefix(f"= {shown[-1].removeprefix('= ')} ")
        return names.get(symbol, printer.doprint(symbol)), shown + [result]

    chains = []
    for (p, paths), (_, gradient) in zip(w.chains, w.gradients):
        lhs = partial(printer, graph.output, p)
        terms = None
        if paths is not None:
            partials = product_rows([[partial(printer, f.of, f.wrt) for f, _ in path] for path in paths], DOCUMENT_LINE)
            numbers = product_rows([[number.plain(v) for _, v in path] for path in paths], DOCUMENT_LINE)
            terms = (partials, numbers) if partials and numbers else None
        chains.append((lhs, terms, printer.doprint(d.gradient(p)), number(gradient)))
    rate, given = number.plain(w.learning_rate), dict(w.given)
    updates = [(printer.doprint(p), number.plain(given[p]), rate, number.plain(g), number(new))
               for (p, g), (_, new) in zip(w.gradients, w.updates)]
    return dict(
        title="A worked example: " + (graph.description if graph.is_network or not matrices else ""),
        # a function of matrices is named by its formula, in LaTeX math after the title's text
        title_formula=None if graph.is_network or not matrices else f"{printer.doprint(graph.output)} = {printer.doprint(graph.loss)}",
        given=[(names[s], number(v)) for s, v in w.given],
        learning_rate=number(w.learning_rate),
        forward=[row(*r) for r in w.forward[:-1]],
        loss=[row(*w.forward[-1])],
        deltas=[row(*r) for r in w.deltas],
        chains=chains,
        updates=updates,
        exact=w.exact,
        matrices=matrices,
        digits=digits,
        line=DOCUMENT_LINE,
        width_of=width_of,
        chain_paths=CHAIN_PATHS,
        chains_per_layer=CHAINS_PER_LAYER,
    )


def _gradient_blocks(chains: list) -> list[tuple[str, object]]:
    """The gradients as LaTeX blocks: one per gradient written out by the chain rule, and the
    runs of gradients given by their deltas alone, side by side."""
    blocks: list[tuple[str, object]] = []
    run: list[tuple] = []
    for lhs, terms, delta_form, value in chains:
        if terms:
            if run:
                blocks.append(("deltas", side_by_side(run, DOCUMENT_LINE)))
                run = []
            blocks.append(("chain", (lhs, terms, delta_form, value)))
        else:
            run.append((lhs, delta_form, value))
    if run:
        blocks.append(("deltas", side_by_side(run, DOCUMENT_LINE)))
    return blocks


def _title_formula(parts: dict) -> str:
    """The formula a title ends with, as inline math (``""`` for none; a long one is named by its output)."""
    formula = parts["title_formula"]
    if formula is None:
        return ""
    return "$%s$" % (formula if len(formula) <= TITLE_WIDTH else formula.split(" = ", 1)[0])


def walkthrough_latex(w: Walkthrough, digits: int = 6) -> str:
    """The worked example as a LaTeX document (compiles with pdflatex); gradients given by their
    deltas alone, and the updates, stand two to a line where they are short."""
    parts = _document_parts(w, _check_digits(digits))
    parts["title"] = text(parts["title"]) + _title_formula(parts)
    parts["gradient_blocks"] = _gradient_blocks(parts["chains"])
    parts["update_rows"] = side_by_side(parts["updates"], DOCUMENT_LINE)
    parts["given_rows"] = side_by_side(parts["given"], DOCUMENT_LINE, most=4)
    return render("walkthrough.tex.j2", **parts)


_MARKDOWN_SPECIAL = set("\\`*_{}[]<>#$|~^&%!")


def markdown_text(s: str) -> str:
    """Text made inert for Markdown (and the LaTeX that Markdown may pass through): every character
    that marks up Markdown or starts LaTeX backslash-escaped, every control character (a newline
    included) a space.

    >>> print(markdown_text("a*b $x$ \\\\input{f}"))
    a\\*b \\$x\\$ \\\\input\\{f\\}
    """
    return "".join(" " if unicodedata.category(c) == "Cc" else "\\" + c if c in _MARKDOWN_SPECIAL else c for c in s)


def walkthrough_markdown(w: Walkthrough, digits: int = 6) -> str:
    """The worked example as Markdown, its formulas in ``$…$`` LaTeX math."""
    parts = _document_parts(w, _check_digits(digits))
    parts["title"] = markdown_text(parts["title"]) + _title_formula(parts)
    return render("walkthrough.md.j2", **parts)


def walkthrough_pdf(w: Walkthrough, path, digits: int = 6, force: bool = False):
    """The worked example as a PDF, through pdflatex (an existing file only with ``force``)."""
    return pdflatex(walkthrough_latex(w, _check_digits(digits)), path, force=force)
