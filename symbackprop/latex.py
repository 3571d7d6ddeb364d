"""Derivations as LaTeX: single formulas, a whole derivation document, and PDF through pdflatex.

>>> from symbackprop import backprop, mlp
>>> import sympy as sp
>>> d = backprop(mlp([1, 1, 1], loss="bce"))
>>> print(gradient_latex(d, sp.Symbol("w2"), closed=False))
\\frac{\\partial J}{\\partial w_{2}} = \\frac{\\partial J}{\\partial \\hat{y}} \\cdot \\frac{\\partial \\hat{y}}{\\partial z_{2}} \\cdot \\frac{\\partial z_{2}}{\\partial w_{2}} = \\frac{\\hat{y} - y_{1}}{\\hat{y} \\left(1 - \\hat{y}\\right)} \\cdot \\hat{y} \\left(1 - \\hat{y}\\right) \\cdot a_{1} = \\delta_{2} a_{1}
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from . import naming
from .derive import LATEX_DISPLAYS, Chain, Derivation
from .errors import InputError, MissingTool, ToolError
from .files import write_file
from .matrices import is_matrix
from .simplify import tree_size
from .templates_ import render
from .text import (
    CHAIN_PATHS,
    CHAINS_PER_LAYER,
    CLOSED_FORM_NODES,
    MatrixNotation,
    TextbookOrder,
    chain_parameters,
    is_one_by_one,
    matrix_product_parts,
    matrix_terms,
    negative,
    positive_first,
    short_chain,
    short_closed_form,
)

TITLE_WIDTH = 60  # characters of LaTeX source of a formula in a title (inline math cannot break)
DOCUMENT_LINE = 110  # printed characters (measured by width_of) that fit on one line of an A4 page, with the left side
MATRIX_LINE = DOCUMENT_LINE - 34  # the same beside a column of shapes (n_1 × n_0)


class MatrixLatexNotation(MatrixNotation):
    r"""Printer mixin: SymPy's matrix classes in LaTeX, in the notation of
    :class:`~symbackprop.text.MatrixNotation`: ``X^{T}``, ``X^{-1}``, ``X^{-T}``, ``A \odot B``,
    ``X^{\circ 2}``, ``\operatorname{tr}``, ``\det``, ``\mathbf{1}``, ``I``, ``\sigma\left(Z\right)``;
    products side by side, a scalar coefficient first (``\frac{1}{2} \Sigma^{-T}``).

    >>> n, m, k = sp.symbols("n m k", integer=True, positive=True)
    >>> X, W, Y = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, k), sp.MatrixSymbol("Y", n, k)
    >>> print(BackpropLatexPrinter().doprint(2*X.T*(X*W - Y)))
    2 X^{T} \left(X W - Y\right)
    """

    hadamard = r" \odot "

    def _wrap(self, printed: str) -> str:
        return r"\left(%s\right)" % printed

    def _print_MatrixSymbol(self, expr, style="plain"):
        return self._print_Symbol(expr, style)

    def _print_MatMul(self, expr):
        sign, numerator, matrices, denominator = matrix_product_parts(expr)
        parts = [self._matrix_factor(f) for f in matrices]
        if denominator != 1:
            parts.insert(0, r"\frac{%s}{%s}" % (self._print(numerator), self._print(denominator)))
        elif numerator != 1:
            parts[:0] = [self._scalar_factor(f) for f in sp.Mul.make_args(numerator)]
        return ("- " if sign < 0 else "") + self.product.join(parts)

    def _transposed(self, base: str) -> str:
        return base + "^{T}"

    def _inverse(self, base: str, transposed: bool) -> str:
        return base + ("^{-T}" if transposed else "^{-1}")

    def _power(self, base: str, exponent) -> str:
        return r"%s^{%s}" % (base, self._print(exponent))

    def _hadamard_power(self, base: str, exponent) -> str:
        return r"%s^{\circ %s}" % (base, self._print(exponent))

    def _elementwise_reciprocal(self, base: str) -> str:
        return r"\frac{1}{%s}" % base

    def _print_Trace(self, expr, exp=None):
        if is_one_by_one(expr.arg):
            return self._raised(self._wrap(self._print(expr.arg)), exp)
        return self._raised(r"\operatorname{tr}\left(%s\right)" % self._print(expr.arg), exp)

    def _print_Determinant(self, expr, exp=None):
        return self._raised(r"\det\left(%s\right)" % self._print(expr.arg), exp)

    def _log_det(self, determinant: str) -> str:
        return r"\log %s" % determinant

    def _print_log(self, expr, exp=None):
        if isinstance(expr.args[0], sp.Determinant):
            return self._raised(self._log_det(self._print(expr.args[0])), exp)
        return LatexPrinter._print_log(self, expr, exp)

    @staticmethod
    def _raised(body: str, exp) -> str:
        return body if exp is None else r"\left(%s\right)^{%s}" % (body, exp)

    def _print_OneMatrix(self, expr):
        rows, columns = expr.shape
        if columns == 1:
            return r"\mathbf{1}"
        if rows == 1:
            return self._transposed(r"\mathbf{1}")
        return r"\mathbf{1}_{%s}" % self._shape(expr.shape)

    def _shape(self, shape) -> str:
        """A shape as LaTeX: ``n \times m``."""
        return r" \times ".join(self._print(size) for size in shape)

    def _elementwise(self, function: type, argument: str) -> str:
        # the function's own LaTeX (\sigma for the sigmoid, \sin), applied to a placeholder
        if function is sp.exp:  # not e^{X}, which reads as the matrix exponential
            return r"\exp\left(%s\right)" % argument
        placeholder = sp.Symbol("PLACEHOLDERFORTHEMATRIX")
        return self._print(function(placeholder)).replace(self._print(placeholder), argument, 1)


class BackpropLatexPrinter(MatrixLatexNotation, TextbookOrder, LatexPrinter):
    """SymPy's LaTeX printer with the graph's own names (``\\hat{y}``, ``\\delta_{3}``, ``w_{1}``), in
    textbook order (:class:`symbackprop.text.TextbookOrder`)."""

    def __init__(self, names: Mapping[sp.Symbol, str] | None = None, **settings):
        super().__init__(settings)
        self.names = dict(names or {})

    def _print_Symbol(self, expr, style="plain"):
        return self.names.get(expr) or super()._print_Symbol(expr, style)

    def _deal_with_super_sub(self, string: str, style="plain") -> str:
        # every name SymPy prints (symbols, matrices, functions) passes here: only a plain one is
        # split into sub- and superscripts, any other becomes escaped text (naming.latex_name)
        return super()._deal_with_super_sub(string, style) if naming.is_plain_name(string) else naming.latex_name(string)

    def _print_Str(self, s):
        return s.name if naming.is_plain_name(s.name) else naming.latex_name(s.name)

    minus = "- "

    @property
    def mul_separator(self) -> str:
        return self._settings["mul_symbol_latex"]

    def _print_Heaviside(self, expr, exp=None):
        # The derivative of ReLU: 1 where z > 0, 0 elsewhere (including the kink).
        body = r"\mathbb{1}\left[%s > 0\right]" % self._print(expr.args[0])
        return body if exp is None else r"%s^{%s}" % (body, exp)

    def factor(self, expr) -> str:
        """``expr`` as one factor of a product: parenthesised when it is a sum."""
        return self.parenthesize(expr, PRECEDENCE["Mul"], strict=True)


def text(s: str) -> str:
    """Plain text made safe for LaTeX's text mode.

    >>> print(text("loss half_sse, 50%"))
    loss half\\_sse, 50\\%
    """
    return naming.latex_text(s)


def printer_for(d) -> BackpropLatexPrinter:
    return BackpropLatexPrinter(naming.latex_names(d.graph))


def partial(printer: BackpropLatexPrinter, of: sp.Symbol, wrt: sp.Symbol) -> str:
    r"""``\frac{\partial of}{\partial wrt}`` with the printer's names."""
    return r"\frac{\partial %s}{\partial %s}" % (printer._print(of), printer._print(wrt))


def closed_form(printer: BackpropLatexPrinter, d: Derivation, p: sp.Symbol, max_chars: int | None = None) -> str | None:
    """The closed form of ∂J/∂p, or None when its printed tree has more than
    :data:`~symbackprop.text.CLOSED_FORM_NODES` nodes (measured, never printed) or it prints
    longer than ``max_chars``."""
    expr = short_closed_form(d, p)
    if expr is None:
        return None
    printed = printer._print(expr)
    return printed if max_chars is None or width_of(printed) <= max_chars else None


_PLAIN_GROUPS = re.compile(r"\\(?:hat|bar|tilde|mathbf|mathrm|operatorname|text|mathbb)\{([^{}]*)\}|([_^])\{([^{}]*)\}")
_FRACTION = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_WORDS = re.compile(r"\\(ln|log|exp|sin|cos|tan|sinh|cosh|tanh|max|min|sign|det|tr)(?![a-zA-Z])")
_SPACING = re.compile(r"\\(?:left|right|[,;:!])(?![a-zA-Z])|\\(?:left|right)")


def width_of(latex: str) -> int:
    r"""About how many characters ``latex`` takes when printed: commands count as one symbol (named
    functions such as ``\ln`` as their letters), braces, sub- and superscript marks and sizing as
    none, and a fraction as its wider part.

    >>> width_of(r"\frac{\partial J}{\partial \hat{y}_{1}} \cdot a_{1}")
    9
    >>> width_of(r"\left(1 - a_{1}\right)")
    8
    """
    previous = None
    while previous != latex:
        previous = latex
        latex = _PLAIN_GROUPS.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(3), latex)
        latex = _FRACTION.sub(lambda m: max(m.group(1), m.group(2), key=len), latex)
    latex = _SPACING.sub("", latex)
    latex = _WORDS.sub(lambda m: m.group(1) + " ", latex)  # \ln prints as a word, not one symbol
    latex = re.sub(r"\\[a-zA-Z]+|\\.", "#", latex)
    return len(re.sub(r"[{}_^]", "", latex))


def broken_rows(printer: BackpropLatexPrinter, expr: sp.Expr, width: int | None = DOCUMENT_LINE, first: str = "="):
    r"""``expr`` as ``(operator, terms)`` rows of at most ``width`` characters each: a sum is broken
    between its terms (``+``/``-`` starting each continued row); ``None`` when a single term is
    wider than that.

    >>> a, b, c = sp.symbols("a b c")
    >>> broken_rows(BackpropLatexPrinter(), a - b + c, width=6)
    [('=', 'a - b'), ('+', 'c')]
    >>> broken_rows(BackpropLatexPrinter(), a - b + c, width=None)
    [('=', 'a - b + c')]
    """
    printed = printer._print(expr)
    if width is None or width_of(printed) <= width:
        return [(first, printed)]
    if isinstance(expr, sp.Mul) and not expr.could_extract_minus_sign():
        coefficient, rest = expr.as_coeff_Mul()
        factors = ([printer._print(coefficient)] if coefficient != 1 else []) + [printer.factor(f) for f in sp.Mul.make_args(rest)]
        return product_rows([factors], width, first)
    if not isinstance(expr, (sp.Add, sp.MatAdd)):
        return None
    rows: list[list] = []
    for term in (matrix_terms(expr) if isinstance(expr, sp.MatAdd) else positive_first(expr)):
        sign, body = ("-", printer._print(-term)) if negative(term) else ("+", printer._print(term))
        if width_of(body) + 2 > width:
            return None
        if rows and width_of(rows[-1][1]) + width_of(body) + 3 <= width:
            rows[-1][1] += f" {sign} {body}"
        else:
            rows.append([sign, body])
    rows[0] = [first, rows[0][1] if rows[0][0] == "+" else "- " + rows[0][1]]
    return [tuple(row) for row in rows]


def product_rows(terms: list[list[str]], width: int | None, first: str = "=") -> list[tuple[str, str]] | None:
    r"""A sum of products as rows: each product starts a row (``first`` the first, ``+`` the others)
    and continues on rows led by ``\cdot`` where it is wider than ``width``; ``None`` when a single
    factor is wider than that.

    >>> product_rows([["a", "b", "c"], ["d"]], width=6)
    [('=', 'a \\cdot b'), ('\\cdot', 'c'), ('+', 'd')]
    """
    rows: list[list[str]] = []
    for j, factors in enumerate(terms):
        rows.append([first if j == 0 else "+", factors[0]])
        for factor in factors[1:]:
            if width is None or width_of(rows[-1][1]) + width_of(factor) + 3 <= width:
                rows[-1][1] += r" \cdot " + factor
            else:
                rows.append([r"\cdot", factor])
    if width is not None and any(width_of(term) > width for _, term in rows):
        return None
    return [tuple(row) for row in rows]


def side_by_side(rows: list[tuple], width: int = DOCUMENT_LINE, most: int = 2) -> list[list[tuple]]:
    """Short rows (tuples of printed parts) up to ``most`` to a line of the page: as many as all
    of them fit in.

    >>> side_by_side([("a", "1"), ("b", "2"), ("c", "3")], width=40)
    [[('a', '1'), ('b', '2')], [('c', '3')]]
    """
    per_line = next(k for k in range(most, 0, -1) if k == 1 or all(width_of(" ".join(row)) <= width // k - 6 for row in rows))
    return [rows[i:i + per_line] for i in range(0, len(rows), per_line)]


def _left_out(note: str) -> list[tuple[str, str]]:
    return [("=", r"\text{(%s)}" % note)]


def gradient_rows(d: Derivation, p: sp.Symbol, closed: bool = True, printer=None, max_chars=None,
                  chain: bool = True) -> list[tuple[str, str]]:
    """∂J/∂p's right-hand side as ``(operator, term)`` rows: ``=`` starts the next form and ``+``
    (or ``-``) continues a sum. The forms: chain partials and their values (with ``chain``, where
    the paths are few), the delta form, the closed form (with ``closed``, where it is short, else
    a note); a form equal to the one before it is left out. ``max_chars`` breaks sums into rows
    of at most that many characters (a form that cannot be broken is left out with a note)."""
    printer = printer or printer_for(d)
    forms = []
    written = short_chain(d, p) if chain else None
    if written is not None:
        paths = written.paths
        partials = product_rows([[partial(printer, f.of, f.wrt) for f in path.factors] for path in paths], max_chars)
        values = product_rows([[printer.factor(f.expr) for f in path.factors] for path in paths], max_chars)
        if partials is None or values is None:
            forms.append(_left_out("chain-rule terms too wide for a line"))
        else:
            forms += [partials, values]
    forms.append(broken_rows(printer, d.gradient(p), max_chars) or _left_out("delta form too wide for a line"))
    if closed:
        expr = short_closed_form(d, p)
        if expr is None:
            forms.append(_left_out(f"closed form left out: {tree_size(d[p]):,} nodes; the delta form is the one to use"))
        else:
            forms.append(broken_rows(printer, expr, max_chars) or _left_out("closed form left out: too wide for a line"))
    rows = []
    for i, form in enumerate(forms):
        if i == 0 or form != forms[i - 1]:
            rows += form
    return rows


def gradient_latex(d, p: sp.Symbol | str, closed: bool = True) -> str:
    r"""One gradient as a chain of equalities: ``\frac{\partial J}{\partial p} = … = … = …``;
    ``p`` a symbol or its name."""
    printer = printer_for(d)
    p = d.symbol(p)
    rows = gradient_rows(d, p, closed, printer, chain=not d.graph.has_matrices)
    return " ".join([partial(printer, d.graph.output, p), *(f"{op} {term}" for op, term in rows)])


def delta_lines(d: Derivation, printer=None) -> list[tuple[str, str]]:
    """(δ, its expression) for every named delta, output layer first."""
    printer = printer or printer_for(d)
    return [(printer._print(symbol), printer._print(expr)) for symbol, expr in d.deltas]


def summary_latex(d) -> str:
    """Deltas and delta-form gradients as one ``aligned`` block (what Jupyter shows), for a
    derivation in scalar or in matrix form.

    >>> from symbackprop import backprop, mlp
    >>> print(summary_latex(backprop(mlp([1, 1], activation="identity"))))
    $$\\begin{aligned} \\delta_{1} &= \\hat{y} - y_{1} \\\\ \\frac{\\partial J}{\\partial w_{1}} &= \\delta_{1} x_{1} \\\\ \\frac{\\partial J}{\\partial b_{1}} &= \\delta_{1} \\end{aligned}$$
    """
    printer = printer_for(d)
    rows = delta_lines(d, printer)
    rows += [(partial(printer, d.graph.output, p), printer._print(d.gradient(p))) for p in d.wrt]
    body = r" \\ ".join(f"{lhs} &= {rhs}" for lhs, rhs in rows)
    return r"$$\begin{aligned} %s \end{aligned}$$" % body


def document_latex(d, title: str | None = None) -> str:
    """The whole derivation as a LaTeX document: notation, forward pass, loss, backward pass layer
    by layer, every gradient, and the gradient-descent update (compiles with pdflatex)."""
    if d.graph.has_matrices:
        return _matrix_steps_document(d, title)
    graph = d.graph
    printer = printer_for(d)
    output = graph.output

    def rows(expr):
        return broken_rows(printer, expr) or _left_out("too wide for a line")

    def lines(steps):
        return [(printer._print(s.symbol), rows(s.expr)) for s in steps]

    layers: dict = {}
    for symbol, expr in d.deltas:
        step = graph.step(naming.delta_step(symbol))
        layers.setdefault(step.layer, []).append((printer._print(symbol), rows(expr)))
    chains = chain_parameters(d, CHAIN_PATHS, CHAINS_PER_LAYER)
    long_closed = [p for p in d.wrt if short_closed_form(d, p) is None or broken_rows(printer, d[p]) is None]
    gradients = [(partial(printer, output, p), gradient_rows(d, p, p not in long_closed, printer, DOCUMENT_LINE, chain=p in chains))
                 for p in d.wrt]
    updates = [(printer._print(p), partial(printer, output, p), printer._print(d.gradient(p))) for p in d.wrt]
    functions = sorted({type(f).__name__ for step in graph.steps for f in step.expr.atoms(sp.Function)})  # steps, not the whole tree
    return render(
        "derivation.tex.j2",
        title=text(title or f"Backpropagation through {graph.description}"),
        variables=[(kind, _inline_list(printer, symbols)) for kind, symbols in
                   (("Inputs", graph.inputs), ("Targets", graph.targets), ("Parameters", graph.params)) if symbols],
        outputs=_inline_list(printer, [s.symbol for s in graph.steps if printer._print(s.symbol).startswith(r"\hat{y}")]),
        definitions=[FUNCTION_DEFINITIONS[name] for name in functions if name in FUNCTION_DEFINITIONS],
        forward=lines(graph.steps[:-1]),
        loss=lines(graph.steps[-1:]),
        backward=[(layer, rows) for layer, rows in layers.items()],
        gradient_blocks=_gradient_blocks(gradients),
        long_closed=len(long_closed),
        closed_form_nodes=CLOSED_FORM_NODES,
        update_rows=side_by_side(updates),
        fused=bool(graph.fused),
        chain_paths=CHAIN_PATHS,
        chains_per_layer=CHAINS_PER_LAYER,
    )


def _gradient_blocks(gradients: list) -> list[tuple[str, object]]:
    """Gradients as blocks of the document: one of rows for a gradient of several rows, and runs of
    one-row gradients side by side."""
    blocks: list[tuple[str, object]] = []
    run: list[tuple[str, str]] = []
    for lhs, rows in gradients:
        if len(rows) == 1:
            run.append((lhs, rows[0][1]))
            continue
        if run:
            blocks.append(("side by side", side_by_side(run)))
            run = []
        blocks.append(("rows", (lhs, rows)))
    if run:
        blocks.append(("side by side", side_by_side(run)))
    return blocks


def _inline_list(printer: BackpropLatexPrinter, symbols) -> str:
    """Symbols in running text, each in its own math: the line can break after every comma (and
    the source has a line for every 12 of them)."""
    printed = ["$%s$" % printer._print(s) for s in symbols]
    return ",\n".join(", ".join(printed[i:i + 12]) for i in range(0, len(printed), 12))


def _matrix_steps_document(d: Derivation, title: str | None = None) -> str:
    """A derivation with matrix steps as a LaTeX document: the variables with their shapes, the
    notation, every step with its shape, the named deltas, each gradient in the delta view and in
    closed form (where it is short), and the gradient-descent update (compiles with pdflatex)."""
    graph = d.graph
    printer = printer_for(d)
    output = graph.output

    def shape(symbol) -> str:
        return printer._shape(symbol.shape) if is_matrix(symbol) else ""

    def rows(expr):
        return broken_rows(printer, expr, MATRIX_LINE) or _left_out("too wide for a line")

    long_closed = [p for p in d.wrt if short_closed_form(d, p) is None or broken_rows(printer, d[p], MATRIX_LINE) is None]
    sizes = graph.sizes
    formula = r"%s = %s" % (printer._print(output), printer._print(graph.loss))
    subject = text(graph.description) if graph.is_network else "$%s$" % (formula if len(formula) <= TITLE_WIDTH else printer._print(output))
    return render(
        "derivation_matrix_steps.tex.j2",
        title=text(title) if title else text("Backpropagation through ") + subject,
        output=printer._print(output),
        sizes=", ".join("$%s$" % printer._print(s) for s in sizes),
        variables=[(printer._print(v), shape(v) or r"\text{scalar}") for v in graph.variables],
        forward=[(printer._print(s.symbol), rows(s.expr), shape(s.symbol)) for s in graph.steps],
        backward=[(printer._print(s), rows(e), shape(s)) for s, e in d.deltas],
        gradients=[(partial(printer, output, p), gradient_rows(d, p, p not in long_closed, printer, MATRIX_LINE, chain=False), shape(p))
                   for p in d.wrt],
        long_closed=len(long_closed),
        closed_form_nodes=CLOSED_FORM_NODES,
        updates=[(printer._print(p), partial(printer, output, p)) for p in d.wrt],
    )


# How the document defines each function it uses (LaTeX, in its own notation).
FUNCTION_DEFINITIONS = {
    "sigmoid": r"\sigma(z) = \frac{1}{1 + e^{-z}}, \quad \sigma'(z) = \sigma(z)\left(1 - \sigma(z)\right)",
    "tanh": r"\tanh'(z) = 1 - \tanh^{2}(z)",
    "relu": r"\operatorname{ReLU}(z) = \max(0, z), \quad \operatorname{ReLU}'(z) = \mathbb{1}\left[z > 0\right]",
    "leaky_relu": r"\operatorname{LeakyReLU}(z) = \max(z, s z), \quad \operatorname{LeakyReLU}'(z) = 1 \text{ for } z > 0, "
                  r"\ s \text{ otherwise}",
    "softplus": r"\operatorname{softplus}(z) = \ln\left(1 + e^{z}\right), \quad \operatorname{softplus}'(z) = \sigma(z)",
    "softmax": r"\operatorname{softmax}_{k}(z) = \frac{e^{z_{k}}}{\sum_{j} e^{z_{j}}}, \quad "
               r"\frac{\partial \operatorname{softmax}_{k}}{\partial z_{j}} = \operatorname{softmax}_{k}\left([k = j] - \operatorname{softmax}_{j}\right)",
}


# pdflatex runs without shell escape, may read and write files only in its own folder (not
# absolute paths, parent folders or dot files: "paranoid"), and dates the PDF at the epoch so
# that the same document always gives the same bytes.
_PDFLATEX_SETTINGS = {"openin_any": "p", "openout_any": "p", "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}


def _check_typesets(tex: str) -> None:
    """Refuse, in one line naming it and the name it is in, a character pdflatex cannot typeset
    (:func:`naming.typesets`), before pdflatex runs."""
    bad = next((i for i, c in enumerate(tex) if not naming.typesets(c)), None)
    if bad is None:
        return
    start, end = bad, bad + 1
    while start > 0 and (tex[start - 1].isalnum() or tex[start - 1] == "_" or tex[start - 2:start] == r"\_"):
        start -= 2 if tex[start - 2:start] == r"\_" else 1
    while end < len(tex) and (tex[end].isalnum() or tex[end] == "_" or tex[end:end + 2] == r"\_"):
        end += 2 if tex[end:end + 2] == r"\_" else 1
    word = tex[start:end].replace(r"\_", "_")
    raise InputError(f"pdflatex cannot typeset the character {tex[bad]} (U+{ord(tex[bad]):04X}) in {word!r}: rename it "
                     "(ASCII letters, accented Latin or Greek letters typeset), or compile the .tex output with xelatex")


def pdflatex(tex: str, pdf_path, force: bool = False) -> Path:
    """Compile ``tex`` with pdflatex and write the PDF to ``pdf_path`` (an existing file only with
    ``force``); raise with pdflatex's own error lines when it fails. pdflatex runs without shell
    escape, reads and writes files only in its own temporary folder, and gives the same bytes for
    the same ``tex``."""
    _check_typesets(tex)
    executable = shutil.which("pdflatex")
    if executable is None:
        raise MissingTool("pdflatex is not installed (Debian/Ubuntu: apt-get install texlive-latex-recommended)")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "document.tex"
        source.write_text(tex, encoding="utf-8")
        run = subprocess.run([executable, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", source.name],
                             check=False, cwd=folder, capture_output=True, text=True, errors="replace",
                             env={**os.environ, **_PDFLATEX_SETTINGS})
        if run.returncode != 0:
            errors = [line for line in run.stdout.splitlines() if line.startswith("!")] or run.stdout.splitlines()[-5:]
            raise ToolError("pdflatex failed: " + " | ".join(errors))
        return write_file(pdf_path, (Path(folder) / "document.pdf").read_bytes(), force=force)


def chain_latex(chain: Chain) -> str:
    r"""The chain rule of one gradient as a displayed equation: its partials, then their values.

    >>> from symbackprop import backprop, mlp
    >>> chain_latex(backprop(mlp([1, 1])).chain("w1")).startswith(r"$$\displaystyle \frac{\partial J}{\partial w_{1}}")
    True
    """
    printer = BackpropLatexPrinter(naming.latex_names(chain.graph) if chain.graph is not None else {})
    output = chain.graph.output if chain.graph is not None else chain.paths[0].factors[0].of
    partials = " + ".join(r" \cdot ".join(partial(printer, f.of, f.wrt) for f in path.factors) for path in chain.paths)
    values = " + ".join(r" \cdot ".join(printer.factor(f.expr) for f in path.factors) for path in chain.paths)
    return f"$$\\displaystyle {partial(printer, output, chain.wrt)} = {partials} = {values}$$"


# Jupyter shows derivations and chains with these (the engine never imports the printers).
LATEX_DISPLAYS.update({Chain: chain_latex, Derivation: summary_latex})
