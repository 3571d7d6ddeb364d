"""Formulas typed by people, read without ``eval``: a whitelist over Python's syntax tree.

Allowed: numbers, names of symbols, ``+ - * / **`` (``^`` also means power; ``·`` and ``×``
multiply, ``−`` subtracts), parentheses, and calls of known functions with positional arguments,
spelled as people write them or as SymPy and the library print them (``Abs``, ``Max``,
``Heaviside(x, 0)``, ``sinc'(x)``). Everything else (attributes, subscripts,
lambdas, comprehensions, keywords, strings, dunder names, unknown functions) is refused with a
:class:`ParseError` that names it, and so is a formula with no value (1/0, log(0), 0/0). No
code in the text ever runs. A constant part with no real value (``acos(2)``, ``sqrt(-1)``) and
the names ``inf``, ``nan``, ``oo``, ``zoo``, ``I``, ``infinity`` are refused: a formula is real.

The functions (:data:`FUNCTIONS`) are those the library can both differentiate and turn into
NumPy code; the constants are ``pi`` (π) and ``e`` (``E``), Euler's number, unless the caller
declares the name a variable.

>>> parse_expr("σ(z)*(1 - sigmoid(z)) + 2^x")
2**x + (1 - sigmoid(z))*sigmoid(z)
>>> parse_expr("e^x"), parse_expr("e^x", variables=["e"])
(exp(x), e**x)
>>> parse_expr("x.__class__")
Traceback (most recent call last):
...
symbackprop.parse.ParseError: attribute access (a.b) is not allowed in a formula
"""

from __future__ import annotations

import ast
import math
import unicodedata
from collections.abc import Iterable, Mapping

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from . import naming
from .errors import InputError
from .primitives import leaky_relu, relu, sigmoid, sinc_derivative, softmax, softplus
from .simplify import min_max_of, undefined_part
from .values import LARGEST, SMALLEST

# max and min of many arguments, built without comparing every pair of symbols (SymPy's Max does)
_MAX, _MIN = (lambda *args: min_max_of(sp.Max, args)), (lambda *args: min_max_of(sp.Min, args))
# Every function here differentiates and generates NumPy code. (gamma, loggamma and erfinv are
# not offered: their derivatives or values need scipy.special.)
FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs, "sign": sp.sign,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
    "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan, "atan2": sp.atan2,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "asinh": sp.asinh, "acosh": sp.acosh, "atanh": sp.atanh,
    "erf": sp.erf, "erfc": sp.erfc, "sinc": sp.sinc, "max": _MAX, "min": _MIN,
    "Abs": sp.Abs, "Max": _MAX, "Min": _MIN, "Heaviside": sp.Heaviside, "sinc_derivative": sinc_derivative,
    "sigmoid": sigmoid, "σ": sigmoid, "relu": relu, "leaky_relu": leaky_relu, "softplus": softplus, "softmax": softmax,
}
CONSTANTS = {"pi": sp.pi, "π": sp.pi, "E": sp.E, "e": sp.E}
NOT_REAL = frozenset({"inf", "nan", "oo", "zoo", "I", "infinity"})  # SymPy's and NumPy's names of numbers a formula may not hold
# How printed text is typed back: one table of spellings read as another (longest first).
# (Subscript digits are read as digits by naming.typed.)
SPELLINGS = {"sinc'(": "sinc_derivative(", "·": "*", "×": "*", "⋅": "*", "−": "-", "–": "-", "^": "**"}
MAX_LENGTH = 2000  # characters of formula
MAX_POWER_DIGITS = 1000  # a number raised to a number with a larger result is refused, not computed
MAX_DIGITS = 50  # digits of one number
MAX_DEPTH = 100  # levels of nesting of a formula (deeper ones exhaust Python's recursion in SymPy)


class ParseError(InputError):
    """A formula that cannot be read, and why."""


_OPERATORS = {ast.Add: sp.Add, ast.Sub: lambda a, b: a - b, ast.Mult: sp.Mul, ast.Div: lambda a, b: a / b,
              ast.Pow: "power"}


def parse_expr(text: str, symbols: Mapping[str, sp.Symbol] | None = None, variables: Iterable[str] = ()) -> sp.Expr:
    """Read ``text`` as a SymPy expression.

    A name becomes ``symbols[name]`` when ``symbols`` is given and holds it, else a known
    constant (``pi``, ``e`` and ``E`` for Euler's number), else a new plain symbol when ``symbols``
    is None; with ``symbols`` given, any other name is an error that lists the known ones.
    ``variables`` names symbols that are never read as constants (``variables=["e"]`` makes ``e``
    a variable); a ``symbols`` mapping that holds a name does the same for it.

    >>> parse_expr("x*e"), parse_expr("x*e", variables=["e"]), parse_expr("x*e", {"x": sp.Symbol("x"), "e": sp.Symbol("e")})
    (E*x, e*x, e*x)
    >>> parse_expr("log(0)*x")
    Traceback (most recent call last):
    ...
    symbackprop.parse.ParseError: the formula is undefined: it contains 1/0 or log(0) (complex infinity)
    """
    if not isinstance(text, str):
        raise ParseError(f"a formula must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"the formula is {len(text)} characters long; at most {MAX_LENGTH} are read")
    variables = {variables} if isinstance(variables, str) else set(variables)
    source = _respelled(text)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise ParseError(f"syntax error in {text!r}: {error.msg} (at column {error.offset})") from None
    except (ValueError, MemoryError, RecursionError):
        raise ParseError(f"cannot read {text!r}") from None
    try:
        expr = _Reader(symbols, variables, source).read(tree.body)
    except RecursionError:
        raise ParseError("the formula is nested too deeply") from None
    refuse_undefined(expr, "formula", ParseError)
    return expr


def refuse_undefined(expr: sp.Expr, what: str = "expression", error: type[Exception] = InputError) -> None:
    """Raise ``error`` where ``expr`` cannot be computed: it is nested more than
    :data:`MAX_DEPTH` levels deep, contains 1/0, log(0), nan or ∞, or a constant that is not a
    finite real number within float64's range.

    >>> refuse_undefined(sp.Symbol("x") + sp.acos(2))
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: the expression cannot be computed: acos(2) is not a finite real number
    >>> refuse_undefined(sp.Symbol("x") * sp.exp(sp.exp(10)))
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: the expression cannot be computed: exp(exp(10)) is beyond float64's range (|x| <= 1.8e308)
    """
    depth = nesting(expr)
    if depth > MAX_DEPTH:
        raise error(f"the {what} is nested {depth} levels deep; at most {MAX_DEPTH} are read")
    undefined = undefined_part(expr)
    if undefined:
        raise error(f"the {what} is undefined: it contains {undefined}")
    problem = constant_problem(expr)
    if problem is not None:
        raise error(f"the {what} cannot be computed: {problem}")
    for power in expr.atoms(sp.Pow):
        if power.base.is_number and power.base.is_negative and power.exp.free_symbols:
            raise error(f"the {what} is not real: {naming.clipped(power, 60)} raises a negative number to a variable power, "
                        f"which is not real except at whole numbers")


def nesting(expr: sp.Basic) -> int:
    """How many levels deep ``expr`` nests (a symbol or number is 1), counted without recursion.

    >>> x = sp.Symbol("x")
    >>> nesting(x), nesting(sp.sin(sp.exp(x) + 1))
    (1, 4)
    """
    depth: dict[sp.Basic, int] = {}
    stack = [expr]
    while stack:
        node = stack[-1]
        waiting = [a for a in node.args if a not in depth]
        if waiting:
            stack.extend(waiting)
            continue
        stack.pop()
        depth[node] = 1 + max((depth[a] for a in node.args), default=0)
    return depth[expr]


def _respelled(text: str) -> str:
    """``text`` with every spelling of :data:`SPELLINGS` replaced, in NFC (``ŷ`` typed as y and a
    combining hat is ``ŷ``). ``^`` becomes ``**``, with its precedence (as a BitXor node it would
    bind looser than +); ``·`` must go before Python reads it, since it may continue a name."""
    text = naming.typed(unicodedata.normalize("NFC", text))
    for spelled, meant in SPELLINGS.items():
        text = text.replace(spelled, meant)
    return text


# Constants that are not numbers: functions, constant matrices (Identity(2)) and their traces.
_NOT_NUMBERS = (sp.Lambda, MatrixExpr, sp.Trace, sp.Determinant)


def constant_problem(expr: sp.Expr) -> str | None:
    """Why the first (innermost) part of ``expr`` without symbols cannot be computed, or None:
    it is not a finite real number (``acos(2)``, ``sqrt(-1)``), or it lies beyond float64's range
    (``exp(exp(10))``). Decided numerically, at 15 digits.

    >>> x = sp.Symbol("x")
    >>> constant_problem(sp.acos(2) * x), constant_problem(sp.acos(sp.Rational(1, 2)) * x)
    ('acos(2) is not a finite real number', None)
    """
    for node in sp.postorder_traversal(expr):
        if not isinstance(node, sp.Expr) or node.free_symbols or isinstance(node, _NOT_NUMBERS):
            continue
        shown = naming.clipped(node, 60)
        if node.is_Rational:
            if abs(node) > LARGEST:
                return f"the number {_scientific(node)} is beyond float64's range (|x| <= 1.8e308)"
            if node != 0 and abs(node) < SMALLEST:
                return f"the number {_scientific(node)} is too small for float64 (it would read as 0)"
            continue
        try:
            value = node.evalf(15)
        except (OverflowError, ValueError):
            return f"{shown} is beyond float64's range (|x| <= 1.8e308)"
        if not (value.is_extended_real and value.is_finite):
            return f"{shown} is not a finite real number"
        if value.is_Number and abs(value) > LARGEST:
            return f"{shown} is beyond float64's range (|x| <= 1.8e308)"
    return None


class _Reader:
    def __init__(self, symbols, variables, text: str):
        self.symbols = symbols
        self.variables = variables
        self.text = text  # the source the syntax tree was read from

    def read(self, node) -> sp.Expr:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise ParseError(f"{_describe(node)} is not allowed in a formula")
        return method(node)

    def _Constant(self, node):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParseError(f"{value!r} is not a number")
        if len(repr(value)) > MAX_DIGITS or not math.isfinite(value):
            raise ParseError(f"the number {repr(value)[:20]} is too large or has too many digits")
        written = ast.get_source_segment(self.text, node) or ""
        if value == 0 and any(digit in "123456789" for digit in written.lower().split("e")[0]):
            raise ParseError(f"the number {naming.clipped(written, 20)} is too small for float64 (it would read as 0)")
        return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))

    def _Name(self, node):
        name = node.id
        if name.startswith("__"):
            raise ParseError(f"{name!r} is not allowed: names may not start with '__'")
        if name in FUNCTIONS:
            raise ParseError(f"{name!r} is a function: call it, as in {name}(x)")
        if name in NOT_REAL and name not in (self.symbols or {}) and name not in self.variables:
            raise ParseError(f"{name!r} is not a finite real number: a formula may not hold it")
        if self.symbols is not None:
            if name in self.symbols:
                return self.symbols[name]
            if name in CONSTANTS and name not in self.variables:
                return CONSTANTS[name]
            first: dict[sp.Symbol, str] = {}  # one name per symbol: the mapping spells each many ways
            for known_name, symbol in self.symbols.items():
                first.setdefault(symbol, known_name)
            known = list(first.values())
            raise ParseError(f"unknown symbol {name!r}; the symbols here are: {naming.listing(known)}")
        if name in CONSTANTS and name not in self.variables:
            return CONSTANTS[name]
        return sp.Symbol(name)

    def _UnaryOp(self, node):
        operand = self.read(node.operand)
        if isinstance(node.op, ast.USub):
            return _bounded(-operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        raise ParseError(f"the operator {type(node.op).__name__} is not allowed in a formula")

    def _BinOp(self, node):
        rule = _OPERATORS.get(type(node.op))
        if rule is None:
            raise ParseError(f"the operator {type(node.op).__name__} is not allowed in a formula")
        left, right = self.read(node.left), self.read(node.right)
        if rule == "power":
            if _digits(left, right) > MAX_POWER_DIGITS:
                raise ParseError(f"the power {_short(left)}**{_short(right)} in the formula is too large to compute")
            return _bounded(sp.Pow(left, right))
        return _bounded(rule(left, right))

    def _Call(self, node):
        if not isinstance(node.func, ast.Name):
            raise ParseError(f"{_describe(node.func)} cannot be called in a formula")
        name = node.func.id
        if name not in FUNCTIONS:
            raise ParseError(f"unknown function {name!r}; known functions: {', '.join(FUNCTIONS)}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ParseError(f"{name}() takes plain arguments only")
        if not node.args:
            raise ParseError(f"{name}() needs an argument, as in {name}(x)")
        arguments = [self.read(a) for a in node.args]  # outside the try: their own errors stay theirs
        try:
            return _bounded(FUNCTIONS[name](*arguments))
        except TypeError:
            raise ParseError(f"{name}() was given {len(node.args)} arguments") from None
        except ValueError as error:
            raise ParseError(f"{name}() was given {len(node.args)} arguments: {naming.clipped(error, 120)}") from None


def _size(number: sp.Rational) -> int:
    """Decimal digits of the larger of a rational's numerator and denominator."""
    return max(len(str(abs(number.p))), len(str(number.q)))


def _digits(base: sp.Expr, exponent: sp.Expr) -> float:
    """About how many decimal digits SymPy would compute for ``base ** exponent`` (0 when it stays symbolic).

    Numerator and denominator both count, so a base below 1 (``(1/2)**-10**300``) is bounded too, and a
    base that holds rationals without being one (``sqrt(2)**10**300`` expands to ``2**(5*10**299)``).
    """
    if not exponent.is_Rational or base.free_symbols or base in (0, 1, -1):
        return 0.0
    atoms = [_size(a) for a in base.atoms(sp.Rational) if a not in (1, -1)]
    if not atoms:
        return 0.0  # pi**n, E**n stay symbolic
    return abs(float(exponent)) * max(atoms) if abs(exponent) < 10**MAX_DIGITS else math.inf


def _bounded(expr: sp.Expr) -> sp.Expr:
    """``expr``, refused if it is a rational whose numerator or denominator has too many digits to go on with."""
    if expr.is_Rational and _size(expr) > MAX_POWER_DIGITS:
        raise ParseError(f"a number in the formula has {_size(expr)} digits; at most {MAX_POWER_DIGITS} are computed")
    return expr


def _scientific(number: sp.Rational) -> str:
    """A rational of any size to three digits, as 1.00e+400."""
    return str(sp.Float(number, 3)).replace("E", "e")


def _short(expr: sp.Expr) -> str:
    return naming.clipped(str(expr) if (expr.is_Integer and not expr.is_negative) or expr.is_Symbol else f"({expr})", 40)


def _describe(node) -> str:
    kinds = {"Attribute": "attribute access (a.b)", "Subscript": "indexing (a[b])", "Lambda": "a lambda",
             "ListComp": "a comprehension", "SetComp": "a comprehension", "DictComp": "a comprehension",
             "GeneratorExp": "a comprehension", "Compare": "a comparison", "BoolOp": "and/or",
             "IfExp": "an if-expression", "NamedExpr": "an assignment (:=)", "JoinedStr": "an f-string",
             "List": "a list", "Tuple": "a tuple", "Dict": "a dict", "Set": "a set", "Await": "await",
             "Yield": "yield", "Starred": "*args", "Call": "a call"}
    return kinds.get(type(node).__name__, type(node).__name__)
