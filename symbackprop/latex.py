"""Derivations as LaTeX: single formulas, a whole derivation document, and PDF through pdflatex.

>>> from symbackprop import backprop, mlp
>>> import sympy as sp
>>> d = backprop(mlp([1, 1, 1], loss="bce"))
>>> print(gradient_latex(d, sp.Symbol("w2"), closed=False))
\\frac{\\partial J}{\\partial w_{2}} = \\frac{\\partial J}{\\partial \\hat{y}} \\cdot \\frac{\\partial \\hat{y}}{\\partial z_{2}} \\cdot \\frac{\\partial z_{2}}{\\partial w_{2}} = \\frac{\\hat{y} - y_{1}}{\\hat{y} \\left(1 - \\hat{y}\\right)} \\cdot \\hat{y} \\left(1 - \\hat{y}\\right) \\cdot a_{1} = \\delta_{2} a_{1}
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from . import naming
from .derive import Derivation
from .errors import InputError, MissingTool, ToolError
from .files import write_file
from .matrix import MatrixDerivation, activation_value, loss_scale, loss_value, matmul
from .simplify import tree_size
from .templates_ import render
from .text import TextbookOrder

CLOSED_FORM_LIMIT = 400  # tree nodes: larger closed forms are left out of documents, not printed
DOCUMENT_LINE = 220  # characters of LaTeX source that still fit on one line of an A4 page


class BackpropLatexPrinter(TextbookOrder, LatexPrinter):
    """SymPy's LaTeX printer with the graph's own names (``\\hat{y}``, ``\\delta_{3}``, ``w_{1}``), in
    textbook order (:class:`symbackprop.text.TextbookOrder`)."""

    def __init__(self, names: Mapping[sp.Symbol, str] | None = None, **settings):
        super().__init__(settings)
        self.names = dict(names or {})

    def _print_Symbol(self, expr, style="plain"):
        return self.names.get(expr) or super()._print_Symbol(expr, style)

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


_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def text(s: str) -> str:
    """Plain text made safe for LaTeX's text mode.

    >>> print(text("loss half_sse, 50%"))
    loss half\\_sse, 50\\%
    """
    return "".join(_TEXT_ESCAPES.get(c, c) for c in s)


class MatrixLatexPrinter(BackpropLatexPrinter):
    r"""Matrix formulas: ``\odot`` for elementwise products, juxtaposition for matrix ones
    (``matmul``), ``X^{T}``, ``\sum_{\text{batch}}`` and ``\frac{1}{m}``.

    >>> from symbackprop.matrix import matmul, transpose
    >>> A, W, G = sp.symbols("A_1 W_2 dZ_2")
    >>> print(MatrixLatexPrinter().doprint(A*(1 - A)*matmul(transpose(W), G)))
    A_{1} \odot \left(1 - A_{1}\right) \odot \left(W_{2}^{T} dZ_{2}\right)
    """

    def _print_Mul(self, expr):
        numerator, denominator = sp.fraction(expr)
        if denominator != 1:
            return r"\frac{1}{%s} %s" % (self._print(denominator), self._print(numerator))
        coefficient, rest = expr.as_coeff_Mul()
        factors = sp.Mul.make_args(rest)
        printed = [r"\left(%s\right)" % self._print(f) if len(factors) > 1 and isinstance(f, matmul) else self.factor(f)
                   for f in factors]
        head = "" if coefficient == 1 else ("-" if coefficient == -1 else self._print(coefficient) + " ")
        return head + r" \odot ".join(printed)


def printer_for(d) -> BackpropLatexPrinter:
    if isinstance(d, MatrixDerivation):
        output = d.graph.steps[-1].args[2]
        return MatrixLatexPrinter({output: r"\hat{Y}"})
    return BackpropLatexPrinter(naming.latex_names(d.graph))


def partial(printer: BackpropLatexPrinter, of: sp.Symbol, wrt: sp.Symbol) -> str:
    r"""``\frac{\partial of}{\partial wrt}`` with the printer's names."""
    return r"\frac{\partial %s}{\partial %s}" % (printer._print(of), printer._print(wrt))


def closed_form(printer: BackpropLatexPrinter, d: Derivation, p: sp.Symbol, max_chars: int | None = None) -> str | None:
    """The closed form of ∂J/∂p, or None when it has more than :data:`CLOSED_FORM_LIMIT` nodes
    (or prints longer than ``max_chars``)."""
    expr = d[p]
    if tree_size(expr) > CLOSED_FORM_LIMIT:
        return None
    printed = printer._print(expr)
    return printed if max_chars is None or len(printed) <= max_chars else None


def gradient_rows(d: Derivation, p: sp.Symbol, closed: bool = True, printer=None, max_chars=None) -> list[tuple[str, str]]:
    """∂J/∂p's right-hand side as ``(operator, term)`` rows: ``=`` starts the next form and ``+``
    continues a sum over paths. The forms: chain partials, their values, delta form, closed form;
    a form equal to the one before it is left out."""
    printer = printer or printer_for(d)
    paths = d.chain(p).paths
    forms = [
        [r" \cdot ".join(partial(printer, f.of, f.wrt) for f in path.factors) for path in paths],
        [r" \cdot ".join(printer.factor(f.expr) for f in path.factors) for path in paths],
        [printer._print(d.gradient(p))],
    ]
    if closed:
        forms.append([closed_form(printer, d, p, max_chars) or r"\text{(closed form left out: see the delta form)}"])
    rows = []
    for i, form in enumerate(forms):
        if i == 0 or form != forms[i - 1]:
            rows += [("=" if j == 0 else "+", term) for j, term in enumerate(form)]
    return rows


def gradient_latex(d, p: sp.Symbol | str, closed: bool = True) -> str:
    r"""One gradient as a chain of equalities: ``\frac{\partial J}{\partial p} = … = … = …``
    (for a matrix-form derivation: the gradient in matrix notation); ``p`` a symbol or its name."""
    printer = printer_for(d)
    if isinstance(d, MatrixDerivation):
        gradients = {str(q): (q, e) for q, e in d.gradients}
        if str(p) not in gradients:
            raise InputError(f"{p} is not a parameter of this derivation ({naming.listing(gradients)})")
        q, gradient = gradients[str(p)]
        return f"{partial(printer, d.graph.output, q)} = {printer.doprint(gradient)}"
    p = d.symbol(p)
    rows = gradient_rows(d, p, closed, printer)
    return " ".join([partial(printer, d.graph.output, p), *(f"{op} {term}" for op, term in rows)])


def delta_lines(d: Derivation, printer=None) -> list[tuple[str, str]]:
    """(δ, its expression) for every named delta, output layer first."""
    printer = printer or printer_for(d)
    return [(printer._print(symbol), printer._print(expr)) for symbol, expr in d.deltas]


def summary_latex(d: Derivation) -> str:
    """Deltas and delta-form gradients as one ``aligned`` block (what Jupyter shows)."""
    printer = printer_for(d)
    rows = delta_lines(d, printer)
    rows += [(partial(printer, d.graph.output, p), printer._print(d.gradient(p))) for p in d.wrt]
    body = r" \\ ".join(f"{lhs} &= {rhs}" for lhs, rhs in rows)
    return r"$$\begin{aligned} %s \end{aligned}$$" % body


def document_latex(d, title: str | None = None) -> str:
    """The whole derivation as a LaTeX document: notation, forward pass, loss, backward pass layer
    by layer, every gradient, and the gradient-descent update (compiles with pdflatex)."""
    if isinstance(d, MatrixDerivation):
        return _matrix_document(d, title)
    graph = d.graph
    printer = printer_for(d)
    output = graph.output

    def lines(steps):
        return [(printer._print(s.symbol), printer._print(s.expr)) for s in steps]

    layers: dict = {}
    for symbol, expr in d.deltas:
        step = graph.step(naming.delta_step(symbol))
        layers.setdefault(step.layer, []).append((printer._print(symbol), printer._print(expr)))
    gradients = [(partial(printer, output, p), gradient_rows(d, p, True, printer, DOCUMENT_LINE)) for p in d.wrt]
    updates = [(printer._print(p), partial(printer, output, p), printer._print(d.gradient(p))) for p in d.wrt]
    functions = sorted({type(f).__name__ for f in graph.loss.atoms(sp.Function)})
    return render(
        "derivation.tex.j2",
        title=text(title or f"Backpropagation through {graph.description}"),
        variables=[(kind, ", ".join(printer._print(s) for s in symbols)) for kind, symbols in
                   (("Inputs", graph.inputs), ("Targets", graph.targets), ("Parameters", graph.params)) if symbols],
        outputs=[printer._print(s.symbol) for s in graph.steps if printer._print(s.symbol).startswith(r"\hat{y}")],
        definitions=[FUNCTION_DEFINITIONS[name] for name in functions if name in FUNCTION_DEFINITIONS],
        forward=lines(graph.steps[:-1]),
        loss=lines(graph.steps[-1:]),
        backward=[(layer, rows) for layer, rows in layers.items()],
        gradients=gradients,
        updates=updates,
        fused=bool(graph.fused),
    )


def _matrix_document(d: MatrixDerivation, title: str | None) -> str:
    graph = d.graph
    printer = printer_for(d)
    forward = []
    for step in graph.steps[:-1]:
        if step.op == "affine":
            W, A, b = step.args
            bias = "" if b is None else r" + %s \mathbf{1}^{T}" % printer._print(b)
            forward.append((printer._print(step.symbol), printer._print(matmul(W, A)) + bias))
        elif step.op == "softmax":
            forward.append((printer._print(step.symbol), r"\operatorname{softmax}\left(%s\right)" % printer._print(step.args[0])))
        else:
            forward.append((printer._print(step.symbol), printer._print(activation_value(step.args[0], step.args[1]))))
    name, Y, A = graph.steps[-1].args
    loss = [("J", r"\frac{1}{m} \sum_{\text{batch}} \sum_{\text{outputs}} %s" % printer._print(loss_scale(name, graph) * loss_value(name, Y, A)))]
    shapes = [(printer._print(s), r"%s \times %s" % tuple(printer._print(v) for v in shape)) for s, shape in graph.shapes.items()]
    return render(
        "derivation_matrix.tex.j2",
        title=text(title or f"Backpropagation through {graph.description}"),
        shapes=shapes, sizes=", ".join(map(str, graph.sizes)),
        forward=forward, loss=loss,
        backward=[(printer._print(s), printer._print(e)) for s, e in d.deltas],
        gradients=[(partial(printer, graph.output, p), printer._print(e)) for p, e in d.gradients],
        updates=[printer._print(p) for p, _ in d.gradients],
        fused=graph.fused is not None,
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


def pdflatex(tex: str, pdf_path, force: bool = False) -> Path:
    """Compile ``tex`` with pdflatex and write the PDF to ``pdf_path`` (an existing file only with
    ``force``); raise with pdflatex's own error lines when it fails."""
    executable = shutil.which("pdflatex")
    if executable is None:
        raise MissingTool("pdflatex is not installed (Debian/Ubuntu: apt-get install texlive-latex-recommended)")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "document.tex"
        source.write_text(tex, encoding="utf-8")
        run = subprocess.run([executable, "-interaction=nonstopmode", "-halt-on-error", source.name],
                             check=False, cwd=folder, capture_output=True, text=True, errors="replace")
        if run.returncode != 0:
            errors = [line for line in run.stdout.splitlines() if line.startswith("!")] or run.stdout.splitlines()[-5:]
            raise ToolError("pdflatex failed: " + " | ".join(errors))
        return write_file(pdf_path, (Path(folder) / "document.pdf").read_bytes(), force=force)
