"""A derivation as plain text: forward pass, deltas, gradients, one chain and its closed form.

A derivation with matrix steps is written in matrix notation (:class:`MatrixNotation`: Xᵀ, X⁻¹,
X⁻ᵀ, ⊙, ^∘, tr, det, 𝟏, σ(Z)), every value with its shape, and without the chain view.

>>> from symbackprop import backprop, mlp
>>> print(derivation_text(backprop(mlp([1, 1]))).splitlines()[0])
Backpropagation through the 1-1 network, sigmoid, loss half_sse, bias per_neuron
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from . import naming
from .derive import Derivation
from .errors import InputError
from .matrices import LEAVES, has_matrices, is_matrix, shape_text
from .simplify import tree_size
from .templates_ import render


def positive_first(expr: sp.Add) -> list:
    """The terms of a sum in SymPy's order, but led by a positive one, as people write it:
    ``y - a`` rather than ``-a + y`` (which as code is also one operation less).

    >>> a, y = sp.symbols("a y")
    >>> positive_first(y - a)
    [y, -a]
    """
    return _led_by_positive(list(expr.as_ordered_terms()))


def negative(term) -> bool:
    """Whether a term of a sum prints with a minus sign: ``-b``, ``-𝟏 Z / n`` (a matrix product
    whose coefficient is negative, which SymPy's own test misses when it is a fraction).

    >>> n = sp.Symbol("n", positive=True)
    >>> Z = sp.MatrixSymbol("Z", n, n)
    >>> negative(-Z / n), negative(Z / n), negative(-sp.Symbol("b"))
    (True, False, True)
    """
    if isinstance(term, sp.MatMul):
        return term.as_coeff_matrices()[0].could_extract_minus_sign()
    return term.could_extract_minus_sign()


def _led_by_positive(terms: list) -> list:
    positive = next((t for t in terms if not negative(t)), None)
    if positive is not None and negative(terms[0]):
        terms.remove(positive)
        terms.insert(0, positive)
    return terms


def textbook_terms(expr: sp.Add) -> list:
    """The terms of a sum as a course writes them: by their weight's index, then the bias
    (:func:`naming.term_key`), and led by a positive term (:func:`positive_first`).

    >>> w9, w10, b3, x1, x2 = sp.symbols("w9 w10 b3 x1 x2")
    >>> textbook_terms(b3 + w10*x2 + w9*x1)
    [w9*x1, w10*x2, b3]
    """
    return _led_by_positive(sorted(expr.as_ordered_terms(), key=naming.term_key))


def textbook_factors(expr: sp.Mul) -> list:
    """The factors of a product after its number as a course writes them: the upstream part
    (deltas, upstream first, and factors holding a delta), the loss's derivative (a factor holding
    a target), weights and biases, then the local derivative kept whole (:func:`naming.factor_key`).

    >>> a2, a4, w6, w8, w10, y1 = sp.symbols("a2 a4 w6 w8 w10 y1")
    >>> textbook_factors(a4 * naming.delta(sp.Symbol("z5")) * w10 * (1 - a4))
    [delta_5, w10, a4, 1 - a4]
    >>> delta_3, delta_4 = naming.delta(sp.Symbol("z3")), naming.delta(sp.Symbol("z4"))
    >>> textbook_factors(a2 * (1 - a2) * (delta_3 * w6 + delta_4 * w8))
    [delta_3*w6 + delta_4*w8, a2, 1 - a2]
    >>> textbook_factors(a4 * (1 - a4) * (a4 - y1))
    [a4 - y1, a4, 1 - a4]
    """
    rest = expr.as_coeff_Mul()[1]
    return sorted(rest.as_ordered_factors() if rest.is_Mul else [rest], key=naming.factor_key)


class TextbookOrder:
    """Printer mixin: sums and products in textbook order (:func:`textbook_terms`,
    :func:`textbook_factors`). A product with nothing to move, a fraction or a number that is not
    an integer is left to the printer this is mixed into."""

    mul_separator = "*"
    minus = "-"

    def _print_Add(self, expr, order=None):
        printed = super()._print_Add(sp.Add(*textbook_terms(expr), evaluate=False), order="none")
        return printed.replace(" + -", " - ")  # a term printed with its own minus (a loss: -y ln ŷ)

    def _print_Mul(self, expr, **kwargs):
        coefficient, rest = expr.as_coeff_Mul()
        factors = sp.Mul.make_args(rest)
        if (not coefficient.is_Integer or all(naming.factor_key(f) == naming.REST for f in factors)
                or any(f.is_Pow and f.exp.could_extract_minus_sign() or not f.is_commutative for f in factors)):
            return super()._print_Mul(expr, **kwargs)
        head = [] if abs(coefficient) == 1 else [self._print(abs(coefficient))]
        parts = head + [self.parenthesize(f, PRECEDENCE["Mul"], strict=False) for f in textbook_factors(expr)]
        return (self.minus if coefficient < 0 else "") + self.mul_separator.join(parts)


PositiveFirst = TextbookOrder  # its former name


# ------------------------------------------------------------------------------------------
# Matrix notation, shared by the text and LaTeX printers: how a SymPy matrix expression reads
# in a textbook (Xᵀ, X⁻¹, X⁻ᵀ, A ⊙ B, X^∘2, tr, det, 𝟏, I, σ(Z)). The rules on structure live here
# once; each printer only spells the pieces.


# An elementwise function printed by its textbook name (any other by its own name).
ELEMENTWISE_NAMES = {"sigmoid": "σ"}

_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def matrix_terms(expr: sp.MatAdd) -> list:
    """The terms of a matrix sum in textbook order, led by a positive one (``x - μ``, not
    ``-μ + x``): a term broadcast by a ones matrix (a bias, ``b 𝟏ᵀ``) after the others, as the
    bias comes after the weights.

    >>> n, m = sp.symbols("n m", integer=True, positive=True)
    >>> x, mu = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("mu", n, 1)
    >>> W, X, b = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("b", n, 1)
    >>> matrix_terms(x - mu), matrix_terms(b * sp.OneMatrix(1, m) + W * X)
    ([x, -mu], [W*X, b*1])
    """
    def broadcast(term) -> bool:
        return isinstance(term, sp.OneMatrix) or isinstance(term, sp.MatMul) and any(isinstance(f, sp.OneMatrix) for f in term.args)

    return _led_by_positive(sorted(expr.args, key=broadcast))


def transposed_sum(expr: sp.MatAdd):
    """A sum whose every term is a transpose (up to a number; a product of transposes is the
    transpose of the product the other way round; ``𝟏ᵀ`` counts) as the transpose of one sum
    (``Wᵀ Xᵀ - Yᵀ`` is ``(X W - Y)ᵀ``); None for any other sum.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> x, mu = sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("mu", n, 1)
    >>> transposed_sum((x - mu).T)
    -mu + x
    """
    if len(expr.args) < 2:
        return None
    inner = []
    for term in expr.args:
        coefficient, factors = term.as_coeff_matrices() if isinstance(term, sp.MatMul) else (sp.S.One, [term])
        untransposed = [_untransposed(f) for f in reversed(factors)]
        if not coefficient.is_Number or None in untransposed:
            return None
        inner.append(sp.MatMul(coefficient, *untransposed).doit() if coefficient != 1 or len(untransposed) > 1 else untransposed[0])
    return sp.MatAdd(*inner)


def _untransposed(factor):
    """``A`` for the factor ``Aᵀ`` (and the column 𝟏 for the row 𝟏ᵀ), else None."""
    if isinstance(factor, sp.Transpose):
        return factor.arg
    if isinstance(factor, sp.OneMatrix) and factor.shape[0] == 1 and factor.shape[1] != 1:
        return sp.OneMatrix(factor.shape[1], 1)
    return None


def matrix_product_parts(expr: sp.MatMul) -> tuple:
    """A matrix product as ``(sign, numerator, matrices, denominator)``: its scalar coefficient
    split into a sign, a numerator (1 when none) and a denominator (1 when none), then its
    matrix factors in order. A printer writes ``-numerator matrices / denominator``. The sign of
    a multiple of one sum goes into the sum: −2 (Y − Ŷ) is 2 (Ŷ − Y).

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> S, x, y = sp.MatrixSymbol("S", n, n), sp.MatrixSymbol("x", n, 1), sp.MatrixSymbol("y", n, 1)
    >>> matrix_product_parts(-S*x/2), matrix_product_parts(sp.MatMul(-2, x - y))
    ((-1, 1, [S, x], 2), (1, 2, [-x + y], 1))
    """
    coefficient, matrices = expr.as_coeff_matrices()
    sign = -1 if coefficient.could_extract_minus_sign() else 1
    numerator, denominator = sp.fraction(sign * coefficient)
    if sign < 0 and len(matrices) == 1 and isinstance(matrices[0], sp.MatAdd):
        sign, matrices = 1, [sp.MatAdd(*[-term for term in matrices[0].args])]
    return sign, numerator, list(matrices), denominator


def elementwise_name(expr: ElementwiseApplyFunction) -> str | None:
    """The name of the one function ``f∘(M)`` applies to each entry (``"sigmoid"``), or None when
    its body is more than one function of its variable (then it is read entry by entry).

    >>> from symbackprop.primitives import sigmoid
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> Z = sp.MatrixSymbol("Z", n, 1)
    >>> elementwise_name(Z.applyfunc(sigmoid)), elementwise_name(Z.applyfunc(lambda t: t**2 + 1))
    ('sigmoid', None)
    """
    (variable,) = expr.function.variables
    body = expr.function.expr
    return type(body).__name__ if isinstance(body, sp.Function) and body.args == (variable,) else None


def superscript(exponent) -> str:
    """An integer exponent in superscript digits (``⁻¹``, ``²``); any other as ``^(…)``.

    >>> superscript(-3), superscript(sp.Symbol("k"))
    ('⁻³', '^(k)')
    """
    if getattr(exponent, "is_Integer", False) or isinstance(exponent, int):
        return str(exponent).translate(_SUPERSCRIPTS)
    return f"^({exponent})"


class MatrixNotation:
    """Printer mixin for SymPy's matrix classes in plain text: products side by side (``X W``),
    ``Xᵀ``, ``X⁻¹``, ``X⁻ᵀ``, ``A ⊙ B``, ``X^∘2``, ``tr(X)``, ``det(X)``, ``log det(X)``, ``𝟏``
    (a column of ones; ``𝟏ᵀ`` a row, ``𝟏_{n×m}`` any other shape), ``I``, ``σ(Z)``; sums
    led by a positive term. A scalar coefficient comes first, a fraction's denominator last
    (``Σ⁻ᵀ / 2``), as the matrix form of a network prints it.

    >>> n, m, k = sp.symbols("n m k", integer=True, positive=True)
    >>> X, W, Y = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, k), sp.MatrixSymbol("Y", n, k)
    >>> print(TextPrinter().doprint(2*X.T*(X*W - Y)))
    2 Xᵀ (X W - Y)
    """

    hadamard = " ⊙ "
    product = " "

    def _matrix_factor(self, expr) -> str:
        """A factor of a matrix product: parenthesised when it is a sum or a ⊙ product."""
        if isinstance(expr, sp.MatAdd) and transposed_sum(expr) is None or isinstance(expr, sp.HadamardProduct) or (
                isinstance(expr, sp.MatMul) and not _is_plain_product(expr)):
            return self._wrap(self._print(expr))
        return self._print(expr)

    def _matrix_base(self, expr) -> str:
        """A matrix under a superscript (ᵀ, ⁻¹, ², ∘2): parenthesised unless it is one symbol."""
        return self._print(expr) if isinstance(expr, LEAVES) else self._wrap(self._print(expr))

    def _wrap(self, printed: str) -> str:
        return f"({printed})"

    def _scalar_factor(self, expr) -> str:
        return self.parenthesize(expr, PRECEDENCE["Mul"], strict=False)

    def _print_MatrixSymbol(self, expr):
        return self.names.get(expr) or naming.display(sp.Symbol(expr.name))

    def _print_MatMul(self, expr):
        sign, numerator, matrices, denominator = matrix_product_parts(expr)
        scalars = [] if numerator == 1 else [self._scalar_factor(f) for f in sp.Mul.make_args(numerator)]
        parts = scalars + [self._matrix_factor(f) for f in matrices]
        printed = ("-" if sign < 0 else "") + self.product.join(parts)
        return printed if denominator == 1 else self._over(printed, denominator)

    def _over(self, printed: str, denominator) -> str:
        return f"{printed} / {self.parenthesize(denominator, PRECEDENCE['Mul'])}"  # m n_2 in parentheses

    def _print_MatAdd(self, expr):
        inner = transposed_sum(expr)
        if inner is not None:
            return self._transposed(self._wrap(self._print(inner)))
        terms = matrix_terms(expr)
        printed = self._print(terms[0])
        for term in terms[1:]:
            printed += f" - {self._print(-term)}" if negative(term) else f" + {self._print(term)}"
        return printed

    def _transposed(self, base: str) -> str:
        return base + "ᵀ"

    def _inverse(self, base: str, transposed: bool) -> str:
        return base + ("⁻ᵀ" if transposed else "⁻¹")

    def _power(self, base: str, exponent) -> str:
        return base + superscript(exponent)

    def _print_Transpose(self, expr):
        if isinstance(expr.arg, sp.Inverse):
            return self._inverse(self._matrix_base(expr.arg.arg), transposed=True)
        return self._transposed(self._matrix_base(expr.arg))

    def _print_Inverse(self, expr):
        if isinstance(expr.arg, sp.Transpose):
            return self._inverse(self._matrix_base(expr.arg.arg), transposed=True)
        return self._inverse(self._matrix_base(expr.arg), transposed=False)

    def _print_MatPow(self, expr):
        return self._power(self._matrix_base(expr.base), expr.exp)

    def _print_HadamardProduct(self, expr):
        return self.hadamard.join(self._hadamard_factor(a) for a in expr.args)

    def _hadamard_factor(self, expr) -> str:
        if isinstance(expr, sp.MatAdd) and transposed_sum(expr) is None or isinstance(expr, (sp.MatMul, sp.HadamardProduct)):
            return self._wrap(self._print(expr))
        return self._print(expr)

    def _print_HadamardPower(self, expr):
        return self._hadamard_power(self._matrix_base(expr.base) if is_matrix(expr.base) else self._print(expr.base), expr.exp)

    def _hadamard_power(self, base: str, exponent) -> str:
        exponent = sp.sympify(exponent)
        simple = exponent.is_Atom and not exponent.could_extract_minus_sign()
        return f"{base}^∘{self._print(exponent) if simple else self._wrap(self._print(exponent))}"

    def _elementwise_reciprocal(self, base: str) -> str:
        return f"1 / {base}"

    def _print_Pow(self, expr, *args, **kwargs):
        if expr.exp.is_Integer and expr.exp > 1 and has_matrices(expr.base):  # det(X)², as the matrices around it
            return self._power(self.parenthesize(expr.base, PRECEDENCE["Pow"], strict=False), expr.exp)
        return super()._print_Pow(expr, *args, **kwargs)

    def doprint(self, expr) -> str:
        if isinstance(expr, sp.Trace) and is_one_by_one(expr.arg):  # a number already, standing alone: no parentheses
            expr = expr.arg
        return super().doprint(expr)

    def _print_Trace(self, expr):
        if is_one_by_one(expr.arg):  # xᵀ A x is a number already: no tr, as a textbook writes it
            return self._wrap(self._print(expr.arg))
        return f"tr({self._print(expr.arg)})"

    def _print_Determinant(self, expr):
        return f"det({self._print(expr.arg)})"

    def _print_log(self, expr, **kwargs):
        if isinstance(expr.args[0], sp.Determinant):
            return self._log_det(self._print(expr.args[0]))
        other = getattr(super(), "_print_log", None)  # the base printer's own log, where it has one
        return other(expr, **kwargs) if other is not None else self._print_Function(expr, **kwargs)

    def _log_det(self, determinant: str) -> str:
        return f"log {determinant}"

    def _print_OneMatrix(self, expr):
        rows, columns = expr.shape
        if columns == 1:
            return "𝟏"
        if rows == 1:
            return self._transposed("𝟏")
        return f"𝟏_{{{shape_text(expr.shape)}}}"

    def _print_Identity(self, expr):
        return "I"

    def _print_ZeroMatrix(self, expr):
        return "0"

    def _print_ElementwiseApplyFunction(self, expr):
        if elementwise_name(expr) is not None:
            return self._elementwise(type(expr.function.expr), self._print(expr.expr))
        return _ElementwiseBody(self, expr).doprint()

    def _elementwise(self, function: type, argument: str) -> str:
        """``function`` applied to each entry of the matrix printed as ``argument``."""
        name = function.__name__
        return f"{ELEMENTWISE_NAMES.get(name, name)}({argument})"


def is_one_by_one(expr) -> bool:
    """Whether ``expr`` is a product or sum of matrices that is 1×1 by its shape (``xᵀ A x``):
    a number already, which a textbook writes without ``tr``.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> A, x = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("x", n, 1)
    >>> is_one_by_one(x.T * A * x), is_one_by_one(A), is_one_by_one(sp.MatrixSymbol("c", 1, 1))
    (True, False, False)
    """
    return isinstance(expr, (sp.MatMul, sp.MatAdd)) and expr.shape == (1, 1)


def _is_plain_product(expr: sp.MatMul) -> bool:
    """A product of matrices without a coefficient (printed as a factor without parentheses)."""
    return expr.as_coeff_matrices()[0] == 1


class _ElementwiseBody:
    """The scalar body of ``f∘(M)`` printed with the matrix printer, read entry by entry: the
    variable is ``M``, products are ⊙ and powers ^∘ (``σ(Z) ⊙ (1 - σ(Z))`` for σ'∘(Z))."""

    def __init__(self, printer, expr: ElementwiseApplyFunction):
        self.printer = printer
        (self.variable,) = expr.function.variables
        self.body = expr.function.expr
        self.matrix = expr.expr

    def doprint(self) -> str:
        return self._print(self.body)

    def _print(self, expr) -> str:
        printer = self.printer
        if expr == self.variable:
            return printer._print(self.matrix)
        if expr.is_Atom:
            return printer._print(expr)
        if expr.is_Add:
            terms = _led_by_positive(list(expr.as_ordered_terms()))
            printed = self._print(terms[0])
            for term in terms[1:]:
                printed += f" - {self._print(-term)}" if negative(term) else f" + {self._print(term)}"
            return printed
        if expr.is_Mul:
            coefficient, rest = expr.as_coeff_Mul()
            if coefficient == -1:
                return "-" + self._print(rest)
            factors = sp.Mul.make_args(rest)  # the scalars first, side by side, then the entries ⊙
            scalars = ([] if coefficient == 1 else [coefficient]) + [f for f in factors if self.variable not in f.free_symbols]
            entries = [self._factor(f) for f in factors if self.variable in f.free_symbols]
            return printer.product.join([printer._scalar_factor(f) for f in scalars] + [printer.hadamard.join(entries)])
        if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
            return printer._hadamard_power(self._factor(expr.base, power=True), expr.exp)
        if expr.is_Pow and expr.exp == -1:
            return printer._elementwise_reciprocal(self._factor(expr.base, power=True))
        if isinstance(expr, sp.Function) and len(expr.args) == 1:
            return printer._elementwise(type(expr), self._print(expr.args[0]))
        entry = sp.Symbol("entry of the matrix")  # any other form: as SymPy prints it, the matrix printed for its variable
        printer.names[entry] = printer._print(self.matrix)
        try:
            return printer._print(expr.xreplace({self.variable: entry}))
        finally:
            del printer.names[entry]

    def _factor(self, expr, power=False) -> str:
        printed = self._print(expr)
        if expr.is_Add or (power and (expr.is_Mul or expr.is_Pow)):
            return self.printer._wrap(printed)
        return printed


class TextPrinter(MatrixNotation, TextbookOrder, StrPrinter):
    """SymPy's string printer in the library's notation: the names of ``names`` (e.g.
    :func:`naming.text_names`: ŷ, δ_3), deltas written δ_…, and textbook order.

    >>> a4, w10 = sp.symbols("a4 w10")
    >>> print(TextPrinter().doprint(a4 * naming.delta(sp.Symbol("z5")) * w10 * (1 - a4)))
    δ_5*w10*a4*(1 - a4)
    """

    def __init__(self, names=None, settings=None):
        super().__init__(settings)
        self.names = dict(names or {})

    def doprint(self, expr) -> str:
        """``expr`` as text; in a formula with matrices, numbers and scalars are multiplied side by
        side as its matrices are (``2 (Ŷ - Y) / (m n_2)``), elsewhere with ``*``."""
        self.mul_separator = " " if has_matrices(expr) else "*"
        return super().doprint(expr)

    def _print_Symbol(self, expr):
        return self.names.get(expr) or naming.display(expr)

    def _print_Heaviside(self, expr):
        """The step function with H(0) = 0 (ReLU's derivative) as its indicator ``1[z > 0]``."""
        if len(expr.args) == 2 and expr.args[1] == 0:
            return f"1[{self._print(expr.args[0])} > 0]"
        return super()._print_Function(expr)

    def _print_Mul(self, expr, **kwargs):
        if self.mul_separator == "*":
            return super()._print_Mul(expr, **kwargs)
        coefficient, rest = expr.as_coeff_Mul()
        numerator, denominator = sp.fraction(abs(coefficient) * rest)
        factors = [self.parenthesize(f, PRECEDENCE["Mul"], strict=False) for f in sp.Mul.make_args(numerator) if f != 1]
        printed = " ".join(factors) or "1"
        if denominator != 1:
            printed += f"/{self.parenthesize(denominator, PRECEDENCE['Mul'])}"
        return ("-" if coefficient < 0 else "") + printed


def printer_for(target) -> TextPrinter:
    """A text printer with the names of a graph (or of a derivation's graph): ŷ for the output.

    >>> from symbackprop import mlp
    >>> printer_for(mlp([1, 1])).doprint(sp.Symbol("y1") - sp.Symbol("a1"))
    'y1 - ŷ'
    """
    graph = getattr(target, "graph", target)
    return TextPrinter(naming.text_names(graph))


def plain(expr, names=None) -> str:
    """``expr`` as plain text (:class:`TextPrinter`, with ``names`` when given).

    >>> plain(naming.delta(sp.Symbol("z2")) * (sp.Symbol("y") - sp.Symbol("a")))
    'δ_2*(y - a)'
    """
    return TextPrinter(names).doprint(expr)


def _partial(of: sp.Symbol, wrt: sp.Symbol, printer=None) -> str:
    show = (printer or TextPrinter()).doprint
    return f"∂{show(of)}/∂{show(wrt)}"


CHAIN_PATHS = 16  # the chain rule of a gradient is written out up to this many paths…
CHAINS_PER_LAYER = 4  # …and, in the long documents (LaTeX, walkthrough), for this many parameters of each layer
CLOSED_FORM_NODES = 400  # a closed form is printed up to this many nodes of its printed tree


def path_count(d: Derivation, p: sp.Symbol) -> int:
    """How many chain-rule paths lead from the output down to ``p`` (counted, not built; a fused
    step starts its own path).

    >>> from symbackprop import backprop, mlp
    >>> d = backprop(mlp([1, 2, 2, 1]))
    >>> path_count(d, sp.Symbol("w1")), path_count(d, sp.Symbol("w8"))
    (2, 1)
    """
    d.gradient(p)  # validates p
    return _paths_to(d, p, _paths_from_steps(d))


def _paths_from_steps(d: Derivation) -> dict[sp.Symbol, int]:
    """For every step, how many chain-rule paths lead from the output down to it: one pass over
    the steps, for counting the paths of every variable at once."""
    graph = d.graph
    counts: dict[sp.Symbol, int] = {}
    for step in reversed(graph.steps):
        s = step.symbol
        counts[s] = 1 if s == graph.output or s in graph.fused else _paths_to(d, s, counts)
    return counts


def _paths_to(d: Derivation, symbol: sp.Symbol, counts: dict[sp.Symbol, int]) -> int:
    return sum(counts.get(c, 0) for c in d.consumers.get(symbol, ()))


def short_chain(d: Derivation, p: sp.Symbol, max_paths: int = CHAIN_PATHS):
    """``d.chain(p)`` when it has at most ``max_paths`` paths, else ``None`` (never built)."""
    return d.chain(p, max_paths=max_paths) if path_count(d, p) <= max_paths else None


def chain_parameters(d: Derivation, max_paths: int, per_layer: int) -> set:
    """The variables whose chain rule a long document writes out: those with at most
    ``max_paths`` paths; of a network, per layer, the first ones while they are at most
    ``per_layer`` and sum at most ``max_paths`` paths together (the first of a layer always).
    An expression's variables are not limited by layer.

    >>> from symbackprop import backprop, mlp
    >>> sorted(chain_parameters(backprop(mlp([2, 2, 1])), max_paths=16, per_layer=1), key=str)
    [w1, w5]
    >>> sorted(chain_parameters(backprop(mlp([2, 3, 3, 1])), max_paths=6, per_layer=4), key=str)
    [b7, w1, w10, w16, w17, w18, w2, w7, w8, w9]
    """
    shown: set = set()
    count: dict = {}
    paths: dict = {}
    to_steps = _paths_from_steps(d)
    layer_of = {step.symbol: step.layer for step in d.graph.steps}
    for p in d.wrt:
        n = _paths_to(d, p, to_steps)
        layers = [layer_of[c] for c in d.consumers.get(p, ())]
        layer = min((x for x in layers if x is not None), default=None)
        first = count.get(layer, 0) == 0
        if n <= max_paths and (layer is None or first or (count[layer] < per_layer and paths[layer] + n <= max_paths)):
            shown.add(p)
            count[layer] = count.get(layer, 0) + 1
            paths[layer] = paths.get(layer, 0) + n
    return shown


def short_closed_form(d: Derivation, p: sp.Symbol, max_nodes: int = CLOSED_FORM_NODES):
    """The closed form ``d[p]`` when its printed tree has at most ``max_nodes`` nodes, else
    ``None``; measured on the expression's DAG (:func:`~symbackprop.simplify.tree_size`), never printed."""
    return d[p] if tree_size(d[p], limit=max_nodes) <= max_nodes else None


def gradient_lines(d: Derivation, p: sp.Symbol) -> list[tuple[str, str]]:
    """∂J/∂p as text: the chain of partials and their values (where the paths are few), the
    delta form, and the closed form (where it is short); a one-line note stands for a form left out.

    >>> from symbackprop import backprop, mlp
    >>> for lhs, rhs in gradient_lines(backprop(mlp([1, 1], activation="identity")), sp.Symbol("w1")):
    ...     print(lhs or "  ", "=", rhs)
    ∂J/∂w1 = ∂J/∂ŷ · ∂ŷ/∂z1 · ∂z1/∂w1
       = (ŷ - y1) · 1 · x1
       = δ_1*x1
       = (w1*x1 + b1 - y1)*x1
    """
    printer = printer_for(d)
    show = printer.doprint
    lhs = _partial(d.graph.output, p, printer)
    chain = short_chain(d, p)
    if chain is None:
        lines = [(lhs, f"(a sum over {path_count(d, p)} chain-rule paths, not written out: the delta form is the one to use)")]
    else:
        factors = " + ".join(" · ".join(_partial(f.of, f.wrt, printer) for f in path.factors) for path in chain.paths)
        values = " + ".join(" · ".join(printer.parenthesize(f.expr, PRECEDENCE["Mul"]) for f in path.factors) for path in chain.paths)
        lines = [(lhs, factors), ("", values)]
    lines.append(("", show(d.gradient(p))))
    closed = short_closed_form(d, p)
    lines.append(("", show(closed) if closed is not None else
                  f"(closed form left out: {tree_size(d[p]):,} nodes when written out; the delta form is the one to use)"))
    return lines


def shape_note(symbol) -> str:
    """The shape of a matrix symbol as ``rows×columns``; ``""`` for a scalar.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> shape_note(sp.MatrixSymbol("W", n, 3)), shape_note(sp.Symbol("c"))
    ('n×3', '')
    """
    return shape_text(symbol.shape) if is_matrix(symbol) else ""


def derivation_text(d: Derivation, show_chain=None) -> str:
    """The whole derivation as text, with the chain rule written out for the variables in
    ``show_chain`` (one symbol or name, or a list; default: the first variable). Chain rules with
    many paths and long closed forms are left out, each with a one-line note. A derivation with
    matrix steps is written in matrix notation (:func:`_matrix_derivation_text`)."""
    if d.graph.has_matrices:
        if show_chain is not None:
            raise InputError("a derivation with matrix steps has no chain view: its deltas and gradients are written in matrix notation")
        return _matrix_derivation_text(d)
    graph = d.graph
    output = graph.output
    printer = printer_for(d)
    show = printer.doprint  # the graph's names: ŷ for its output
    chosen = [d.wrt[0]] if show_chain is None else list(show_chain) if isinstance(show_chain, (list, tuple)) else [show_chain]
    chains = [d.symbol(q) for q in chosen]
    unknown = [str(q) for q in chains if q not in d.wrt]
    if unknown:
        raise InputError(f"no chain rule for {', '.join(unknown)}: not a variable of this derivation ({naming.listing(d.wrt)})")
    sections = [
        ("Forward pass", [(show(s.symbol), show(s.expr)) for s in graph.steps]),
        ("Backward pass: deltas δ_v = ∂%s/∂v, output first" % output, [(show(s), show(e)) for s, e in d.deltas]),
        ("Gradients", [(_partial(output, q, printer), show(d.gradient(q))) for q in d.wrt]),
    ]
    sections += [(f"Chain rule for {plain(p)}", gradient_lines(d, p)) for p in chains]
    title = f"Backpropagation through {graph.description}"
    return render("derivation.txt.j2", title=title, sections=sections)


def _matrix_derivation_text(d: Derivation) -> str:
    """A derivation with matrix steps as text: the variables with their shapes, every step with
    its shape, the named deltas δ_v = ∂f/∂v (each of v's shape), the gradients in the delta view
    and in closed form (each of its variable's shape; a long closed form is left out with a note)."""
    graph = d.graph
    output = graph.output
    printer = printer_for(d)
    show = printer.doprint

    def closed(p) -> str:
        expr = short_closed_form(d, p)
        return show(expr) if expr is not None else f"(left out: {tree_size(d[p]):,} nodes when written out; the delta form is the one to use)"

    sizes = graph.sizes
    sections = [
        ("Forward pass", [(show(s.symbol), show(s.expr), shape_note(s.symbol)) for s in graph.steps]),
        (f"Backward pass: deltas δ_v = ∂{show(output)}/∂v, output first", [(show(s), show(e), shape_note(s)) for s, e in d.deltas]),
        (f"Gradients ∂{show(output)}/∂p, each of p's shape", [(_partial(output, p, printer), show(d.gradient(p)), shape_note(p)) for p in d.wrt]),
        ("Closed forms", [(_partial(output, p, printer), closed(p), "") for p in d.wrt]),
    ]
    return render("derivation_matrix.txt.j2",
                  title=f"Backpropagation through {graph.description if graph.is_network else show(output) + ' = ' + show(graph.loss)}",
                  variables_heading="Variables" + (f" (sizes {', '.join(map(show, sizes))})" if sizes else ""),
                  variables=[(show(v), shape_note(v) or "scalar") for v in graph.variables],
                  sections=sections)
