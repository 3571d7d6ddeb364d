"""Formulas typed by people, read without ``eval``: a whitelist over Python's syntax tree.

Allowed: numbers, names of symbols, ``+ - * / **`` (``^`` also means power; ``·`` and ``×``
multiply, ``−`` subtracts), parentheses, and calls of known functions with positional arguments,
spelled as people write them or as SymPy and the library print them (``Abs``, ``Max``,
``Heaviside(x, 0)``, ``sinc'(x)``). Everything else (attributes, subscripts,
lambdas, comprehensions, keywords, strings, dunder names, unknown functions) is refused with a
:class:`ParseError` that names it, and so is a formula with no value (1/0, log(0), 0/0). No
code in the text ever runs. A constant part with no real value (``acos(2)``, ``sqrt(-1)``) and
the names ``inf``, ``nan``, ``oo``, ``zoo``, ``I``, ``infinity`` are refused: a formula is real.

Given the shapes of some names, a formula is read in matrix notation, as the library prints it
and as people type it: ``Xᵀ``, ``X.T``, ``X'``, ``X^T``; ``X⁻¹``, ``X^-1``, ``inv(X)``; ``X⁻ᵀ``,
``X^-T``; ``det``, ``logdet``, ``tr``/``trace``; ``@`` or ``*`` or side by side for products; ``⊙``,
``∘`` or ``.*`` for entrywise products and ``X^∘2``/``X.^2`` for entrywise powers; ``σ(Z)`` and
``σ'(Z)`` entry by entry; ``sum(X)`` of every entry; ``norm(X)``, Frobenius; ``ones(n, 1)``, ``𝟏_{n×1}``, ``eye(n)``, and
``𝟏`` or ``I`` sized by the formula around them. A 1×1 product beside a scalar is that scalar (its trace).

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
import io
import keyword
import math
import re
import tokenize
import unicodedata
from collections.abc import Iterable, Mapping

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixExpr

from . import naming
from .errors import InputError
from .matrices import is_matrix, scalar_of, shape_text
from .primitives import ColumnSoftmax, leaky_relu, relu, sigmoid, sinc_derivative, softmax, softplus
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
# Matrix notation, read before SPELLINGS: X⁻ᵀ, X⁻¹, Xᵀ, X², X^∘2 and X.^2 (elementwise power, read
# as ``X**~2``), X ⊙ Y and X .* Y (elementwise product, read as ``X % Y``), 𝟏 (a matrix of ones
# whose shape the formula tells). Python's own ``%`` and ``~`` are refused before this.
# The library's ASCII spellings of these read back too: X^-T, X^-1, X.^2, A (.) B.
MATRIX_SPELLINGS = {"⁻ᵀ": ".T**(-1)", "(.)": "%", "ᵀ": ".T", "^(∘": "**~(",
                    "^∘": "**~", ".^": "**~", "∘": "%", "⊙": "%", ".*": "%", "𝟏": "ones()", "𝟙": "ones()"}
# A Greek letter and its name, both ways (λ and lambda): a symbol named one way is read the other way too.
GREEK = naming.GREEK_LETTERS | {letter: name for name, letter in naming.GREEK_LETTERS.items()}  # lambda ↔ λ
MAX_LENGTH = 2000  # characters of formula
MAX_POWER_DIGITS = 1000  # a number raised to a number with a larger result is refused, not computed
MAX_DIGITS = 50  # digits of one number
MAX_DEPTH = 100  # levels of nesting of a formula (deeper ones exhaust Python's recursion in SymPy)


class ParseError(InputError):
    """A formula that cannot be read, and why."""


_OPERATORS = {ast.Add: sp.Add, ast.Sub: lambda a, b: a - b, ast.Mult: sp.Mul, ast.Div: lambda a, b: a / b,
              ast.Pow: "power"}


def parse_expr(text: str, symbols: Mapping[str, sp.Basic] | None = None, variables: Iterable[str] = (),
               shapes: Mapping[str, object] | None = None, shape: tuple | None = None) -> sp.Expr:
    """Read ``text`` as a SymPy expression.

    A name becomes ``symbols[name]`` when ``symbols`` is given and holds it, else a known
    constant (``pi``, ``e`` and ``E`` for Euler's number), else a new plain symbol when ``symbols``
    is None; with ``symbols`` given, any other name is an error that lists the known ones.
    ``variables`` names symbols that are never read as constants (``variables=["e"]`` makes ``e``
    a variable); a ``symbols`` mapping that holds a name does the same for it.

    ``shapes`` (``{"X": ("n", "m"), "w": (3, 1)}``, sizes as numbers or names) makes those names
    matrices (:func:`matrix_symbols`), and so does a ``symbols`` mapping that holds a
    ``MatrixSymbol``; the formula is then read in matrix notation (see :data:`MATRIX_SPELLINGS`
    and :func:`_juxtaposed`), and ``shape`` (rows, columns), where given, sizes a formula that is
    only ``I`` or ``𝟏`` times a scalar.

    >>> parse_expr("2 Xᵀ (X W − Y) + λ W", shapes={"X": "n,m", "W": "m,k", "Y": "n,k"}, variables=["λ"])
    λ*W + 2*X.T*(X*W - Y)

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
    matrices = matrix_symbols(shapes or {})
    in_matrices = bool(matrices) or any(isinstance(v, sp.MatrixExpr) for v in (symbols or {}).values())
    for operator in "%~":  # they stand for ⊙ and the elementwise power once respelled
        if operator in text:
            raise ParseError(f"the operator {operator} is not allowed in a formula")
    declared = set(symbols or {}) | variables | set(matrices)
    source = _respelled(text, in_matrices, [name for name in declared if keyword.iskeyword(name)])
    reader = _Reader(symbols, variables, source, matrices, in_matrices)
    try:
        tree = _syntax_tree(source, text)
    except ParseError as error:
        if not in_matrices:
            _refuse_matrix_notation(_juxtaposed(source), reader)
        raise error from None
    try:
        expr = reader.read(tree.body)
    except RecursionError:
        raise ParseError("the formula is nested too deeply") from None
    except ShapeError as error:
        unshaped = _unshaped_names(tree, matrices) if in_matrices and symbols is None else []
        if unshaped:  # X*W - Y with W given no shape reads W as a scalar: say so
            raise ShapeError(f"{error} ({naming.listing(unshaped)} {'has' if len(unshaped) == 1 else 'have'} no shape: "
                             "give one to each that is a matrix)") from None
        raise
    if isinstance(expr, _Unsized) and shape is not None:
        expr = expr.sized(*shape)
    if isinstance(expr, _Unsized):
        raise ParseError(f"the size of {expr} cannot be told from the formula: write {expr.spelled}")
    refuse_undefined(expr, "formula", ParseError)
    return expr


def _refuse_matrix_notation(source: str, reader: _Reader) -> None:
    """Raise :class:`MissingShape` where ``source``, read with products written side by side
    (``Xᵀ W``), uses a name as a matrix: the error to report, rather than the syntax."""
    reader.text = source
    try:
        reader.read(ast.parse(source, mode="eval").body)
    except MissingShape:
        raise
    except (SyntaxError, ValueError, MemoryError, RecursionError, InputError):
        pass


def _unshaped_names(tree, matrices) -> list[str]:
    """The names of ``tree`` read as scalars: neither matrices nor sizes, functions or constants."""
    names = [n.id.removesuffix(KEYWORD_MARK) for n in ast.walk(tree) if isinstance(n, ast.Name)]
    known = set(matrices) | set(FUNCTIONS) | set(MATRIX_FUNCTIONS) | set(CONSTANTS) | {"T", "I"}
    return list(dict.fromkeys(name for name in names if name not in known and not name.endswith(PRIME)))


def _syntax_tree(source: str, text: str) -> ast.Expression:
    try:
        return ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise ParseError(f"syntax error in {text!r}: {error.msg} (at column {error.offset})") from None
    except (ValueError, MemoryError, RecursionError):
        raise ParseError(f"cannot read {text!r}") from None


class ShapeError(ParseError):
    """Matrices whose shapes do not fit together (``X*W`` with X n×m and W k×k)."""


class MissingShape(ParseError):
    """A name used as a matrix that was given no shape; ``name`` says which."""

    def __init__(self, name: str, use: str):
        self.name = name
        super().__init__(f"{name} is used as a matrix ({use}) but has no shape: give it one")


def size_symbol(name: str) -> sp.Symbol:
    """The symbol of a matrix dimension: a positive integer.

    >>> size_symbol("n").is_positive, size_symbol("n").is_integer
    (True, True)
    """
    return sp.Symbol(name, integer=True, positive=True)


def matrix_symbols(shapes: Mapping[str, object]) -> dict[str, sp.Basic]:
    """A ``MatrixSymbol`` for each name of ``shapes`` and a :func:`size_symbol` for each size
    named there. A shape is a pair of sizes (numbers >= 1 or names), a single size for a column,
    or such text (``"n,m"``).

    >>> matrix_symbols({"X": ("n", "m"), "w": 3})
    {'X': X, 'w': w, 'n': n, 'm': m}
    >>> matrix_symbols({"X": (0, 2)})
    Traceback (most recent call last):
    ...
    symbackprop.parse.ParseError: the shape of X must be sizes >= 1 or size names, got 0
    """
    matrices: dict[str, sp.Basic] = {}
    sizes: dict[str, sp.Symbol] = {}
    for name, shape in shapes.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or name in FUNCTIONS:
            raise ParseError(f"{naming.clipped(name, 40)!r} cannot name a matrix: use a name such as X or W1")
        parts = shape.split(",") if isinstance(shape, str) else (list(shape) if isinstance(shape, (tuple, list)) else [shape])
        if len(parts) == 1:
            parts.append(1)
        if len(parts) != 2:
            raise ParseError(f"the shape of {name} must be two sizes (rows, columns), got {naming.clipped(shape, 40)}")
        dims = []
        for part in parts:
            dims.append(_dimension(name, part, sizes))
        matrices[name] = sp.MatrixSymbol(name, *dims)
    for size in sizes:
        if size in matrices:
            raise ParseError(f"{size} names both a matrix and a size")
    return matrices | sizes


def _dimension(name: str, part, sizes: dict[str, sp.Symbol]):
    """One size of ``name``'s shape: an Integer, or a size symbol (recorded in ``sizes``)."""
    if isinstance(part, str):
        part = part.strip()
        if part.isdigit():
            part = int(part)
    if isinstance(part, sp.Symbol):
        sizes.setdefault(part.name, part)
        return part
    if isinstance(part, str) and part.isidentifier() and not part.startswith("_"):
        return sizes.setdefault(part, size_symbol(part))
    if isinstance(part, (int, sp.Integer)) and not isinstance(part, bool) and part >= 1:
        return sp.Integer(part)
    raise ParseError(f"the shape of {name} must be sizes >= 1 or size names, got {naming.clipped(part, 20)}")


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


def _respelled(text: str, in_matrices: bool = False, keywords=()) -> str:
    """``text`` with every spelling of :data:`MATRIX_SPELLINGS` and :data:`SPELLINGS` replaced,
    in NFC (``ŷ`` typed as y and a combining hat is ``ŷ``). ``^`` becomes ``**``, with its
    precedence (as a BitXor node it would bind looser than +); ``·`` must go before Python reads
    it, since it may continue a name. In matrix notation, ``X'`` is ``X.T``, ``σ'(Z)`` the
    derivative, and a product may be written by juxtaposition (:func:`_juxtaposed`). A declared
    name that Python reserves (``lambda``, in ``keywords``) is read with :data:`KEYWORD_MARK` after it."""
    text = _HADAMARD_POWER_BRACED.sub(r"**~(\1)", naming.typed(unicodedata.normalize("NFC", text)))
    text = _SUPERSCRIPT_POWER.sub(lambda m: f"**({m.group(0).translate(_SUPERSCRIPT_DIGITS)})", text)
    text = _SIZED_ONES.sub(lambda m: f"ones({m.group(1)}, {m.group(2) or 1})", text)
    text = _SIZED_IDENTITY.sub(r"eye(\1)", text)
    for spelled, meant in MATRIX_SPELLINGS.items():
        text = text.replace(spelled, meant)
    if in_matrices:
        for spelled in (s for s in SPELLINGS if "'" in s):  # sinc'(x) has a name of its own
            text = text.replace(spelled, SPELLINGS[spelled])
        text = _PRIMED_CALL.sub(lambda m: m.group(1) + PRIME + "(" if m.group(1) in FUNCTIONS else m.group(0), text)
        text = _TRANSPOSE_MARK.sub(".T", text)
    for spelled, meant in SPELLINGS.items():
        text = text.replace(spelled, meant)
    for name in keywords:
        text = re.sub(rf"(?<![\w.]){name}(?!\w)", name + KEYWORD_MARK, text)
    return _juxtaposed(text) if in_matrices else text


KEYWORD_MARK = "__"  # lambda, a name Python reserves, is read as lambda__ where it names a symbol


_SUPERSCRIPT_POWER = re.compile("⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")  # X², X⁻¹, X⁻²
_SUPERSCRIPT_DIGITS = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
_SIZED_ONES = re.compile(r"[𝟏𝟙]_\{\s*([^{}×,]+?)\s*(?:[×,]\s*([^{}]+?)\s*)?\}")  # 𝟏_{n×k}, 𝟏_{n}
_SIZED_IDENTITY = re.compile(r"\bI_\{\s*([^{}]+?)\s*\}")  # I_{n}
_HADAMARD_POWER_BRACED = re.compile(r"\^\{∘([^{}]*)\}")  # X^{∘2}, as LaTeX writes it
_PRIMED_CALL = re.compile(r"(\w+)'\(")  # σ'(Z): the derivative of σ, elementwise
_TRANSPOSE_MARK = re.compile(r"(?<=[\w)\]])'")  # X', (A*B)'
PRIME = "_prime"  # σ'(Z) is read as σ_prime(Z)


def _juxtaposed(source: str) -> str:
    """``source`` with ``*`` between operands written side by side, as a printed product is
    (``2 Xᵀ (X W - Y)``, ``2X``): a name, number or closing parenthesis followed by a name, a
    number or an opening one. A function's name before ``(`` stays a call.

    >>> _juxtaposed("2X.T(X W - Y) + tr (A)")
    '2*X.T*(X *W - Y) + tr (A)'
    """
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type in (tokenize.NAME, tokenize.NUMBER, tokenize.OP)]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source  # Python's parser says what is wrong
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    inserted = []
    for before, token, after_dot in zip(tokens, tokens[1:], [False] + [t.string == "." for t in tokens]):
        ends_operand = ((before.type == tokenize.NAME and not keyword.iskeyword(before.string))
                        or before.type == tokenize.NUMBER or before.string in ")]")
        starts_operand = ((token.type == tokenize.NAME and not keyword.iskeyword(token.string))
                          or token.type == tokenize.NUMBER or token.string == "(")
        if not (ends_operand and starts_operand):
            continue
        apart = before.end != token.start
        is_call = (token.string == "(" and before.type == tokenize.NAME and not after_dot
                   and (not apart or before.string in FUNCTIONS or before.string in MATRIX_FUNCTIONS
                        or before.string.removesuffix(PRIME) in FUNCTIONS))
        if not is_call and (apart or before.type == tokenize.NUMBER or before.string == ")" or after_dot):
            row, column = token.start
            inserted.append(starts[row - 1] + column)
    for offset in reversed(inserted):
        source = source[:offset] + "*" + source[offset:]
    return source


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
    holds_matrices: set[sp.Basic] = set()  # matrices, functions applied to them, and what holds them
    for node in sp.postorder_traversal(expr):
        if isinstance(node, _NOT_NUMBERS) or any(a in holds_matrices for a in node.args):
            holds_matrices.add(node)
            continue
        if not isinstance(node, sp.Expr) or node.free_symbols:
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


# The matrix functions, as people write them and as SymPy prints them.
MATRIX_FUNCTIONS = {"tr": "trace", "trace": "trace", "det": "det", "logdet": "logdet", "inv": "inverse",
                    "ones": "ones", "eye": "eye", "Trace": "trace", "Determinant": "det", "Inverse": "inverse",
                    "Transpose": "transpose", "OneMatrix": "ones", "Identity": "eye", "HadamardProduct": "hadamard",
                    "HadamardPower": "hadamard power", "sum": "sum", "norm": "norm"}


class _Unsized:
    """𝟏 or I written without a size, times a scalar and perhaps transposed: the formula around
    it gives the shape (``X + I``, ``𝟏ᵀ X``, ``X w + 𝟏 c``). A column 𝟏 may be followed by a
    ``tail`` of one row (𝟏 c), a row 𝟏ᵀ preceded by a ``head`` of one column (c 𝟏ᵀ)."""

    def __init__(self, kind: str, factor=sp.S.One, transposed: bool = False, head=None, tail=None):
        self.kind, self.factor, self.transposed, self.head, self.tail = kind, factor, transposed, head, tail

    def __str__(self) -> str:
        return "I" if self.kind == "identity" else "𝟏"

    @property
    def spelled(self) -> str:
        return "eye(n)" if self.kind == "identity" else "ones(rows, columns)"

    def scaled(self, factor) -> _Unsized:
        return _Unsized(self.kind, self.factor * factor, self.transposed, self.head, self.tail)

    def transposed_(self) -> _Unsized:
        if self.kind == "identity":
            return self
        return _Unsized(self.kind, self.factor, not self.transposed, _transposed(self.tail), _transposed(self.head))

    @property
    def shape(self) -> tuple:
        """What is known of the shape: a column 𝟏 has as many columns as its tail, a row as many rows as its head."""
        if self.kind == "identity":
            return None, None
        if self.transposed:
            return (self.head.rows if self.head is not None else 1), None
        return None, (self.tail.cols if self.tail is not None else 1)

    def times(self, matrix, side: str) -> _Unsized | None:
        """𝟏 c (``matrix`` on the right of a column) or c 𝟏ᵀ (on the left of a row), or None."""
        if self.kind == "identity" or self.transposed != (side == "left"):
            return None
        rows, cols = self.shape
        if side == "right" and matrix.rows == cols:
            return _Unsized(self.kind, self.factor, False, None, matrix if self.tail is None else self.tail * matrix)
        if side == "left" and matrix.cols == rows:
            return _Unsized(self.kind, self.factor, True, matrix if self.head is None else matrix * self.head, None)
        return None

    def sized(self, rows, cols) -> sp.MatrixExpr:
        if self.kind == "identity":
            if rows != cols:
                raise ShapeError(f"I stands beside a {shape_text((rows, cols))} matrix: an identity is square")
            matrix = sp.Identity(rows)
        elif (self.tail is not None and self.tail.cols != cols) or (self.head is not None and self.head.rows != rows):
            raise ShapeError(f"{self} {naming.clipped(self.tail if self.tail is not None else self.head, 40)} stands beside "
                             f"a {shape_text((rows, cols))} matrix: the shapes differ")
        elif self.tail is not None:
            matrix = sp.MatMul(sp.OneMatrix(rows, 1), self.tail).doit(deep=False)
        elif self.head is not None:
            matrix = sp.MatMul(self.head, sp.OneMatrix(1, cols)).doit(deep=False)
        else:
            matrix = sp.OneMatrix(rows, cols)
        return matrix if self.factor == 1 else sp.MatMul(self.factor, matrix).doit(deep=False)


def _transposed(matrix):
    return None if matrix is None else matrix.T


def _shape(expr) -> str:
    return shape_text(expr.shape) if isinstance(expr, sp.MatrixExpr) else "scalar"


def _named(expr) -> str:
    """An operand in a message: its text and its shape."""
    return f"{naming.clipped(expr, 40)} ({_shape(expr)})"


def _one_by_one(expr) -> bool:
    return is_matrix(expr) and expr.shape == (1, 1)


class _Reader:
    def __init__(self, symbols, variables, text: str, matrices=None, in_matrices: bool = False):
        self.symbols = symbols
        self.variables = variables
        self.text = text  # the source the syntax tree was read from
        self.matrices = matrices or {}  # name -> MatrixSymbol or size symbol, from the shapes given
        self.in_matrices = in_matrices

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
        name = node.id.removesuffix(KEYWORD_MARK) if keyword.iskeyword(node.id.removesuffix(KEYWORD_MARK)) else node.id
        if name.startswith("__"):
            raise ParseError(f"{name!r} is not allowed: names may not start with '__'")
        if name in self.matrices:
            return self.matrices[name]
        if name in FUNCTIONS or name in MATRIX_FUNCTIONS:
            raise ParseError(f"{name!r} is a function: call it, as in {name}(x)")
        declared = name in (self.symbols or {}) or name in self.variables
        if self.in_matrices and name == "I" and not declared:
            return _Unsized("identity")
        if name in NOT_REAL and not declared:
            raise ParseError(f"{name!r} is not a finite real number: a formula may not hold it")
        if self.symbols is not None:
            if name in self.symbols:
                return self.symbols[name]
            if name in CONSTANTS and name not in self.variables:
                return CONSTANTS[name]
            if GREEK.get(name) in self.symbols:  # λ for a symbol named lambda, and lambda for λ
                return self.symbols[GREEK[name]]
            first: dict[sp.Basic, str] = {}  # one name per symbol: the mapping spells each many ways
            for known_name, symbol in self.symbols.items():
                first.setdefault(symbol, known_name)
            known = list(first.values())
            raise ParseError(f"unknown symbol {name!r}; the symbols here are: {naming.listing(known)}")
        if name in CONSTANTS and name not in self.variables:
            return CONSTANTS[name]
        return sp.Symbol(name)

    def _Subscript(self, node):
        """``1[u > 0]``, the indicator the library prints for the step function: Heaviside(u, 0)."""
        condition = node.slice
        if not (isinstance(node.value, ast.Constant) and type(node.value.value) is int and node.value.value == 1
                and isinstance(condition, ast.Compare)
                and len(condition.ops) == 1 and isinstance(condition.ops[0], ast.Gt)
                and isinstance(condition.comparators[0], ast.Constant) and condition.comparators[0].value == 0):
            raise ParseError(f"{_describe(node)} is not allowed in a formula (an indicator is written 1[u > 0])")
        argument = self.read(condition.left)
        if is_matrix(argument) or isinstance(argument, _Unsized):
            return self._elementwise("1[… > 0]", sp.Heaviside, [argument, sp.S.Zero])
        return sp.Heaviside(argument, 0)

    def _Attribute(self, node):
        if node.attr != "T":
            raise ParseError(f"{_describe(node)} is not allowed in a formula")
        return self._transpose(self.read(node.value), node.value)

    def _UnaryOp(self, node):
        operand = self.read(node.operand)
        if isinstance(node.op, ast.USub):
            return operand.scaled(-1) if isinstance(operand, _Unsized) else _bounded(-operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        raise ParseError(f"the operator {type(node.op).__name__} is not allowed in a formula")

    def _BinOp(self, node):
        if isinstance(node.op, ast.Pow) and self._is_matrix_power(node):
            return self._matrix_power(node)
        if isinstance(node.op, (ast.MatMult, ast.Mod)):
            left, right = self.read(node.left), self.read(node.right)
            if not (self.in_matrices or is_matrix(left) or is_matrix(right)):
                if isinstance(node.op, ast.Mod):
                    return _bounded(left * right)  # the elementwise product of two scalars
                raise self._missing_shape(node, "@")
            return self._product(left, right) if isinstance(node.op, ast.MatMult) else self._hadamard(left, right)
        rule = _OPERATORS.get(type(node.op))
        if rule is None:
            raise ParseError(f"the operator {type(node.op).__name__} is not allowed in a formula")
        left, right = self.read(node.left), self.read(node.right)
        if any(is_matrix(e) or isinstance(e, _Unsized) for e in (left, right)):
            if isinstance(node.op, (ast.Add, ast.Sub)):
                return self._sum(left, right, 1 if isinstance(node.op, ast.Add) else -1)
            if isinstance(node.op, ast.Mult):
                return self._product(left, right)
            if isinstance(node.op, ast.Div):
                return self._quotient(left, right)
            return self._power(left, right)
        if rule == "power":
            if _digits(left, right) > MAX_POWER_DIGITS:
                raise ParseError(f"the power {_short(left)}**{_short(right)} in the formula is too large to compute")
            return _bounded(sp.Pow(left, right))
        return _bounded(rule(left, right))

    def _Call(self, node):
        if not isinstance(node.func, ast.Name):
            raise ParseError(f"{_describe(node.func)} cannot be called in a formula")
        name = node.func.id
        derivative = name.endswith(PRIME) and name.removesuffix(PRIME) in FUNCTIONS and self.in_matrices
        if name not in FUNCTIONS and name not in MATRIX_FUNCTIONS and not derivative:
            known = ", ".join(list(FUNCTIONS) + list(MATRIX_FUNCTIONS))
            raise ParseError(f"unknown function {name!r}; known functions: {known}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ParseError(f"{name}() takes plain arguments only")
        if not node.args and name != "ones":
            raise ParseError(f"{name}() needs an argument, as in {name}(x)")
        arguments = [self.read(a) for a in node.args]  # outside the try: their own errors stay theirs
        if name in MATRIX_FUNCTIONS:
            return self._matrix_function(MATRIX_FUNCTIONS[name], name, arguments, node)
        function = FUNCTIONS[name.removesuffix(PRIME)]
        if derivative:
            variable = sp.Dummy("d")
            function = sp.Lambda(variable, sp.diff(function(variable), variable))
        if any(is_matrix(a) or isinstance(a, _Unsized) for a in arguments):
            return self._elementwise(name, function, arguments)
        try:
            return _bounded(function(*arguments))
        except TypeError:
            raise ParseError(f"{name}() was given {len(node.args)} arguments") from None
        except ValueError as error:
            raise ParseError(f"{name}() was given {len(node.args)} arguments: {naming.clipped(error, 120)}") from None

    # ------------------------------------------------------------------ matrix notation -------

    def _missing_shape(self, node, use: str) -> MissingShape:
        """The error for a name used as a matrix without a shape (the first such name in ``node``)."""
        names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id not in self.matrices
                 and n.id not in FUNCTIONS and n.id not in MATRIX_FUNCTIONS and n.id not in CONSTANTS and n.id != "T"]
        return MissingShape(names[0] if names else naming.clipped(ast.get_source_segment(self.text, node), 40), use)

    def _matrix(self, value, node, use: str):
        """``value``, which must be a matrix (a name without a shape is the error to report)."""
        if is_matrix(value):
            return value
        if isinstance(value, _Unsized):
            raise ParseError(f"the size of {value} in {use} cannot be told from the formula: write {value.spelled}")
        if isinstance(value, sp.Symbol) or value.free_symbols:
            raise self._missing_shape(node, use)
        raise ParseError(f"{use} needs a matrix, got the number {naming.clipped(value, 40)}")

    def _transpose(self, value, node):
        if isinstance(value, _Unsized):
            return value.transposed_()
        return self._matrix(value, node, "transposed").T

    def _is_matrix_power(self, node) -> bool:
        """Whether ``node`` (a power) is matrix notation: ``X**T``, ``X**-T``, ``X**~p``, or a power
        of a matrix."""
        exponent = node.right
        if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.Invert):
            return True
        if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub):
            exponent = exponent.operand
        marks_transpose = isinstance(exponent, ast.Name) and exponent.id == "T" and "T" not in (self.symbols or {})
        return marks_transpose and (self.in_matrices or "T" not in self.variables)

    def _matrix_power(self, node):
        exponent = node.right
        if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.Invert):  # X^∘p
            return self._hadamard_power(self.read(node.left), self.read(exponent.operand), node)
        base = self.read(node.left)
        if not is_matrix(base) and not self.in_matrices and isinstance(exponent, ast.Name):
            return _bounded(sp.Pow(base, self.read(exponent)))  # x^T with T a plain symbol, as always
        transposed = self._transpose(base, node.left)
        if isinstance(exponent, ast.UnaryOp):  # X^-T
            return self._inverse(transposed, node.left)
        return transposed

    def _inverse(self, matrix, node):
        matrix = self._matrix(matrix, node, "inverted")
        if matrix.shape == (1, 1):
            return 1 / scalar_of(matrix)
        self._square(matrix, "inverted")
        return sp.Inverse(matrix)

    @staticmethod
    def _square(matrix, use: str) -> None:
        if matrix.rows != matrix.cols:
            raise ShapeError(f"{_named(matrix)} is {use} but is not square")

    def _power(self, base, exponent):
        """``base ** exponent`` where one of them is a matrix."""
        if is_matrix(exponent) or isinstance(exponent, _Unsized):
            if _one_by_one(exponent):
                return self._power(base, scalar_of(exponent))
            raise ParseError(f"a power with the matrix exponent {_named(exponent)}: write it elementwise with ^∘ if meant")
        if isinstance(base, _Unsized):
            raise ParseError(f"the size of {base} cannot be told from the formula: write {base.spelled}")
        if base.shape == (1, 1):
            return _bounded(sp.Pow(scalar_of(base), exponent))
        if not exponent.is_Integer:
            raise ParseError(f"{_named(base)} is raised to {naming.clipped(exponent, 20)}: a matrix power needs a whole number "
                             "(use ^∘ for an elementwise power)")
        self._square(base, f"raised to the power {exponent}")
        if exponent < 0:
            return sp.Inverse(sp.MatPow(base, -exponent).doit(deep=False))
        return sp.MatPow(base, exponent).doit(deep=False)

    def _hadamard_power(self, base, exponent, node):
        if is_matrix(exponent):  # 2^∘X: a number to the power of each entry
            if is_matrix(base) or isinstance(base, _Unsized):
                raise ParseError(f"an elementwise power of a matrix by the matrix {_named(exponent)} is not read")
            return sp.HadamardPower(base, exponent)
        if not (is_matrix(base) or isinstance(base, _Unsized)):
            if not self.in_matrices and isinstance(base, sp.Symbol):
                raise self._missing_shape(node, "an elementwise power")
            return _bounded(sp.Pow(base, exponent))
        base = self._matrix(base, node, "an elementwise power")
        return base if exponent == 1 else sp.HadamardPower(base, exponent)

    def _sum(self, left, right, sign: int):
        """``left + sign * right``, where one of them is a matrix; a 1×1 matrix beside a scalar is
        read as the scalar it holds."""
        left, right = _fitted(left, right)
        right = right.scaled(sign) if isinstance(right, _Unsized) else (right if sign == 1 else -right)
        if isinstance(left, _Unsized) or isinstance(right, _Unsized):
            raise ParseError(f"the size of {left if isinstance(left, _Unsized) else right} cannot be told from the formula: "
                             "write eye(n) or ones(rows, columns)")
        if is_matrix(left) != is_matrix(right):
            matrix, scalar = (left, right) if is_matrix(left) else (right, left)
            name = (-scalar if scalar.could_extract_minus_sign() else scalar)
            if isinstance(name, sp.Symbol) and name.name not in self.matrices:  # Y in X*W - Y, without a shape
                raise MissingShape(name.name, f"added to the {_shape(matrix)} matrix {naming.clipped(matrix, 40)}")
            raise ShapeError(f"the scalar {naming.clipped(scalar, 40)} is added to the {_shape(matrix)} matrix "
                             f"{naming.clipped(matrix, 40)}: write it times ones({matrix.rows}, {matrix.cols}) for every entry")
        if not is_matrix(left):
            return left + right
        _same_shape(left, right, "added to")
        return sp.MatAdd(left, right).doit(deep=False)

    def _product(self, left, right):
        """``left`` times ``right`` (``*`` or ``@``): a matrix product where both are matrices, a
        scalar multiple where one is a scalar or a 1×1 matrix that does not fit as a factor."""
        if isinstance(left, _Unsized) and isinstance(right, _Unsized):
            raise ParseError(f"the size of {left} cannot be told from the formula: write {left.spelled}")
        if isinstance(left, _Unsized):
            if not is_matrix(right):
                return left.scaled(right)
            longer = left.times(right, "right")
            if longer is not None:
                return longer
            left = _sized_factor(left, right.rows, "left")
        if isinstance(right, _Unsized):
            if not is_matrix(left):
                return right.scaled(left)
            longer = right.times(left, "left")
            if longer is not None:
                return longer
            right = _sized_factor(right, left.cols, "right")
        if not (is_matrix(left) and is_matrix(right)):
            return _bounded(left * right) if not (is_matrix(left) or is_matrix(right)) else sp.MatMul(left, right).doit(deep=False)
        if left.cols == right.rows:
            return sp.MatMul(left, right).doit(deep=False)
        if left.shape == (1, 1) or right.shape == (1, 1):  # (aᵀx) a: the 1×1 factor is a scalar
            scalar, matrix = (left, right) if left.shape == (1, 1) else (right, left)
            return sp.MatMul(scalar_of(scalar), matrix).doit(deep=False)
        raise ShapeError(f"cannot multiply {_named(left)} by {_named(right)}: {left.cols} columns, {right.rows} rows")

    def _quotient(self, left, right):
        if isinstance(right, _Unsized) or (is_matrix(right) and right.shape != (1, 1)):
            raise ShapeError(f"division by the matrix {_named(right)}: multiply by its inverse, inv(...)")
        right = scalar_of(right)
        if isinstance(left, _Unsized):
            return left.scaled(1 / right)
        if _one_by_one(left) and not is_matrix(right):
            left = scalar_of(left)
        return left / right if not is_matrix(left) else sp.MatMul(1 / right, left).doit(deep=False)

    def _hadamard(self, left, right):
        if not (is_matrix(left) or isinstance(left, _Unsized)) or not (is_matrix(right) or isinstance(right, _Unsized)):
            return self._product(left, right)  # a scalar times a matrix, elementwise or not
        left, right = _fitted(left, right)
        _same_shape(left, right, "multiplied elementwise by")
        return sp.HadamardProduct(left, right).doit(deep=False)

    def _matrix_function(self, kind: str, name: str, arguments, node):
        if kind == "ones":
            if not arguments:
                return _Unsized("ones")
            if len(arguments) != 2:
                raise ParseError(f"ones() takes the number of rows and of columns, as in ones(n, 1); got {len(arguments)} arguments")
            return sp.OneMatrix(*[_size_argument(name, a) for a in arguments])
        if kind == "hadamard":
            product = arguments[0]
            for factor in arguments[1:]:
                product = self._hadamard(product, factor)
            return product
        if kind == "hadamard power":
            if len(arguments) != 2:
                raise ParseError(f"{name}() takes a matrix and an exponent, got {len(arguments)} arguments")
            return self._hadamard_power(arguments[0], arguments[1], node)
        if len(arguments) != 1:
            raise ParseError(f"{name}() takes one argument, got {len(arguments)}")
        (argument,) = arguments
        if kind == "eye":
            return sp.Identity(_size_argument(name, argument))
        if kind == "transpose":
            return self._transpose(argument, node.args[0])
        matrix = self._matrix(argument, node.args[0], f"{name}(...)")
        if kind == "sum":  # of every entry: 𝟏ᵀ M 𝟏
            return sp.MatMul(sp.OneMatrix(1, matrix.rows), matrix, sp.OneMatrix(matrix.cols, 1)).doit(deep=False)
        if kind == "norm":  # Frobenius (Euclidean for a vector)
            return sp.sqrt(sp.Trace(sp.MatMul(matrix.T, matrix).doit(deep=False)))
        if kind == "inverse":
            return self._inverse(matrix, node.args[0])
        self._square(matrix, f"in {name}(...)")
        if kind == "trace":
            return sp.Trace(matrix)
        determinant = sp.Determinant(matrix)
        return sp.log(determinant) if kind == "logdet" else determinant

    def _elementwise(self, name: str, function, arguments):
        """``function`` of a matrix, entry by entry: ``σ(Z)``, with any further arguments numbers
        (``leaky_relu(Z, 1/100)``, ``Heaviside(Z, 0)``); ``softmax(Z)`` column by column; of a 1×1
        matrix, the scalar it holds."""
        matrix, *rest = arguments
        if any(is_matrix(a) or isinstance(a, _Unsized) for a in rest):
            raise ParseError(f"{name}() of a matrix takes the matrix first, then numbers: got {len(arguments)} matrices")
        if isinstance(matrix, _Unsized):
            raise ParseError(f"the size of {matrix} cannot be told from the formula: write {matrix.spelled}")
        if function is softmax and not rest:
            return ColumnSoftmax(matrix)
        if isinstance(function, sp.Lambda) and rest:
            raise ParseError(f"{name}() of a matrix takes one argument, got {len(arguments)}")
        if matrix.shape == (1, 1):
            return _bounded(function(scalar_of(matrix), *rest))
        if not isinstance(function, sp.Lambda):
            variable = sp.Dummy("d")
            try:
                function = sp.Lambda(variable, function(variable, *rest))
            except (TypeError, ValueError):
                raise ParseError(f"{name}() was given {len(arguments)} arguments") from None
        return ElementwiseApplyFunction(function, matrix)


def _size_argument(name: str, value):
    if (value.is_Integer and value >= 1) or (isinstance(value, sp.Symbol) and value.is_integer and value.is_positive):
        return value
    raise ParseError(f"{name}() takes sizes: whole numbers >= 1 or size names, got {naming.clipped(value, 20)}")


def _sized_factor(unsized: _Unsized, size, side: str) -> sp.MatrixExpr:
    """𝟏 or I as the ``side`` factor of a product whose other factor has ``size`` rows (𝟏 on the
    left) or columns (on the right): 𝟏ᵀ X, X 𝟏, I X, X I."""
    if unsized.kind == "identity":
        return unsized.sized(size, size)
    row = unsized.transposed
    rows, cols = unsized.shape
    if (side == "left") == row:
        return unsized.sized(rows, size) if row else unsized.sized(size, cols)
    raise ParseError(f"the size of {unsized} {'ᵀ' if row else ''}in a product cannot be told from the formula: write ones(rows, columns)")


def _fitted(left, right):
    """``left`` and ``right`` with 𝟏 or I sized like the other, and a 1×1 matrix beside a scalar
    read as the scalar it holds."""
    if isinstance(left, _Unsized) and is_matrix(right):
        left = left.sized(*right.shape)
    if isinstance(right, _Unsized) and is_matrix(left):
        right = right.sized(*left.shape)
    if is_matrix(left) != is_matrix(right) and not (isinstance(left, _Unsized) or isinstance(right, _Unsized)):
        left, right = scalar_of(left), scalar_of(right)
    return left, right


def _same_shape(left, right, how: str) -> None:
    if left.shape != right.shape:
        raise ShapeError(f"{_named(right)} cannot be {how} {_named(left)}: the shapes differ")


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
