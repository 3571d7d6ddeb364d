"""The computational graph as a picture: forward values flowing right, gradients flowing left.

Every node (input, target, parameter, step) shows its formula, its value and its gradient ∂J/∂node;
every edge its local derivative. The picture is Graphviz DOT, rendered through the ``graphviz``
package (its ``dot`` program) to any format Graphviz writes (svg, png, pdf, …); a network's layers
are drawn as clusters. Where a fused rule (softmax with cross-entropy) gives a step's gradient
directly, that step's edges to the fused part are dashed: the gradient of the step is the fused
one, the dashed edges only show the local derivatives it replaces. A graph of matrix steps is
drawn without values: each node shows its formula, its shape and its delta (:func:`matrix_picture`).

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> p = picture(x * sp.sin(y), {"x": 2.0, "y": 0.5})
>>> print(p.dot.splitlines()[6])
  "y" [label="y\\nvalue 0.5\\n∂f/∂y 1.755", shape=box, style=filled, fillcolor=lightyellow];
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import graphviz
import sympy as sp

from . import naming
from .api import backprop
from .derive import Derivation
from .errors import InputError, MissingTool, ToolError
from .files import write_file
from .matrices import shape_text
from .network import Graph
from .text import printer_for, shape_note
from .walkthrough import MATRIX_SHOWN, given_values, matrix_walkthrough, pass_values, value_at

MAX_NODES = 150
FORMULA_WIDTH = 40
DOT_SUFFIXES = (".dot", ".gv")
INSTALL_GRAPHVIZ = ("Graphviz's dot program is not installed (Debian/Ubuntu: apt-get install graphviz; "
                    "macOS: brew install graphviz); a .dot file can be written without it")


@dataclass(frozen=True)
class Picture:
    """A computational graph in DOT; :meth:`render` and :meth:`save` draw it with Graphviz."""

    dot: str

    def render(self, fmt: str) -> bytes:
        """The picture in Graphviz's format ``fmt`` (``svg``, ``png``, ``pdf``, …) as bytes.

        Raises :class:`~symbackprop.errors.MissingTool` when Graphviz's ``dot`` is not installed.
        """
        if fmt not in graphviz.FORMATS:
            raise InputError(f"Graphviz cannot write {fmt!r}; formats: svg, png, pdf, … (or dot for the text itself)")
        try:
            return graphviz.Source(self.dot).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise MissingTool(INSTALL_GRAPHVIZ) from None
        except graphviz.CalledProcessError as error:
            stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else str(error.stderr or "")
            raise ToolError(f"dot failed: {' | '.join(stderr.strip().splitlines()[-3:])}") from None

    def svg(self) -> str:
        return self.render("svg").decode("utf-8")

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """The notebook display: the SVG when Graphviz is installed, else the DOT and how to draw it."""
        try:
            return {"image/svg+xml": self.svg(), "text/plain": "<computational graph>"}
        except (ToolError, OSError) as error:
            return {"text/plain": f"{self.dot}\n({error}; the DOT above is the picture)"}

    def save(self, path, force: bool = False) -> Path:
        """Write the picture; the file's ending says how: ``.dot`` (or ``.gv``) for the DOT text,
        else any format Graphviz writes (``.svg``, ``.png``, ``.pdf``, …)."""
        suffix = Path(path).suffix.lower()
        if suffix in DOT_SUFFIXES:
            return write_file(path, self.dot, force=force)
        if suffix[1:] not in graphviz.FORMATS:
            raise InputError(f"cannot tell the format of {path}: use .dot, .svg, .png, .pdf or another ending Graphviz writes")
        return write_file(path, self.render(suffix[1:]), force=force)


def _quote(text: str) -> str:
    """``text`` as a DOT string: quotes and backslashes escaped, control characters (NUL, which
    ends a DOT file early) shown as ``\\x00``; newlines stay, to break the label's lines."""
    text = "".join(f"\\x{ord(c):02x}" if unicodedata.category(c) == "Cc" and c != "\n" else c for c in text)
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def _formatted(value) -> str:
    return f"{float(value):.4g}"


def picture(target, values: Mapping | None = None, max_nodes: int = MAX_NODES, sizes: Mapping | None = None) -> Picture:
    """The computational graph of a network, expression or derivation at ``values`` (every
    variable, by symbol or by name). A graph with matrix steps (a SymPy matrix expression or its
    derivation) shows on each node its formula, its shape and its delta or gradient in the delta
    view, and with ``values`` (matrices as nested lists; symbolic sizes in ``sizes``) their
    numbers too (:func:`matrix_picture`)."""
    graph = target.graph if isinstance(target, Derivation) else target if isinstance(target, Graph) else Graph.from_expr(target)
    if graph.has_matrices:
        return matrix_picture(target if isinstance(target, Derivation) else backprop(graph), max_nodes, values, sizes)
    if values is None:
        raise InputError("the picture needs a value for every variable (values={'x': 1.0, ...})")
    if sizes:
        raise InputError("sizes are for graphs with matrices of symbolic size; this one has none")
    count = len(graph.steps) + len(graph.variables)
    if count > max_nodes:
        raise InputError(f"the graph has {count} nodes; pictures are drawn up to {max_nodes} "
                         f"(pass max_nodes to draw it anyway, or picture a smaller network)")
    d = backprop(graph, wrt=list(graph.variables))  # every leaf gets its gradient
    table = pass_values(d, given_values(graph, values))
    text = printer_for(graph).doprint  # the library's names: ŷ for a network's output
    output = text(graph.output)

    local = {(step, argument): value_at(d, f"∂{text(step)}/∂{text(argument)} = {text(expr)}", expr, table)
             for (step, argument), expr in d.partials.items()}
    # ∂J/∂node by the chain rule on the numbers, output first; a fused rule gives its step's directly.
    gradient = {graph.output: 1.0}
    for node in [s.symbol for s in reversed(graph.steps[:-1])] + list(graph.variables):
        if node in graph.fused:
            gradient[node] = value_at(d, f"{text(naming.delta(node))} = {text(graph.fused[node])}", graph.fused[node], table)
        else:
            gradient[node] = sum(gradient[c] * local[c, node] for c in d.consumers.get(node, ()))
    fused_part = _fused_part(graph)

    def node(symbol, formula=None) -> str:
        lines = [text(symbol) if formula is None else f"{text(symbol)} = {naming.clipped(text(formula), FORMULA_WIDTH)}",
                 f"value {_formatted(table[symbol])}", f"∂{output}/∂{text(symbol)} {_formatted(gradient[symbol])}"]
        if symbol in graph.fused:
            lines.append(f"(fused: {naming.clipped(text(graph.fused[symbol]), FORMULA_WIDTH)})")
        if formula is not None:
            kind = "shape=box, style=rounded"  # a step
        elif symbol in graph.params:
            kind = "shape=box, style=filled, fillcolor=lightyellow"  # what training changes
        else:
            kind = "shape=ellipse, style=dashed" if symbol in graph.targets else "shape=ellipse"
        return f"  {_quote(text(symbol))} [label={_quote(chr(10).join(lines))}, {kind}];".replace("\n", "\\n")

    title = f"{graph.description}: values forward, gradients backward"
    if graph.fused:
        title += "; dashed edges: local derivatives that the fused softmax + cross-entropy rule replaces"
    lines = [f"digraph {_quote('backpropagation')} {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];', f"  label={_quote(title)};"]
    lines += [node(v) for v in graph.variables]
    layers: dict = {}
    for step in graph.steps:
        layers.setdefault(step.layer, []).append(node(step.symbol, step.expr))
    for layer, members in layers.items():
        if layer is None:
            lines += members
        else:
            lines += [f"  subgraph cluster_layer_{layer} {{", f"    label={_quote(f'layer {layer}')};", "    color=gray;"]
            lines += ["  " + member for member in members] + ["  }"]
    for (step, argument), value in local.items():
        label = f"∂{text(step)}/∂{text(argument)} {_formatted(value)}"
        style = ", style=dashed" if argument in graph.fused or argument in fused_part else ""
        lines.append(f"  {_quote(text(argument))} -> {_quote(text(step))} [label={_quote(label)}{style}];")
    lines.append("}")
    return Picture("\n".join(lines) + "\n")


def _fused_part(graph: Graph) -> set:
    """The steps whose own gradient a fused rule skips: those after a fused step (softmax, loss)."""
    if not graph.fused:
        return set()
    position = {step.symbol: i for i, step in enumerate(graph.steps)}
    first = min(position[s] for s in graph.fused)
    return {step.symbol for step in graph.steps[first:] if step.symbol not in graph.fused}


def _matrix_formatted(value) -> str:
    """A number, or a matrix (nested tuples) as nested lists up to 4×4, else its shape."""
    if not isinstance(value, tuple):
        return _formatted(value)
    if len(value) > MATRIX_SHOWN or len(value[0]) > MATRIX_SHOWN:
        return f"({shape_text((len(value), len(value[0])))} matrix)"
    return "[" + ", ".join("[" + ", ".join(_formatted(v) for v in row) + "]" for row in value) + "]"


def matrix_picture(d: Derivation, max_nodes: int = MAX_NODES, values: Mapping | None = None, sizes: Mapping | None = None) -> Picture:
    """The graph of a derivation with matrix steps: every variable and step with its shape, each
    step with its formula, and each named delta δ_v or gradient ∂f/∂p in the delta view; edges
    run from each argument to the steps that use it. With ``values`` (and ``sizes`` where they
    are symbolic, as :func:`~symbackprop.walkthrough.matrix_walkthrough` takes them) each node
    shows its value and each gradient and delta its number, matrices up to 4×4 as nested lists.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> A, X = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("X", n, n)
    >>> dot = matrix_picture(backprop(sp.Trace(A * X), wrt=[X])).dot
    >>> print(next(line for line in dot.splitlines() if line.startswith('  "X" [')))
      "X" [label="X\\nn×n\\n∂f/∂X = Aᵀ", shape=box, style=filled, fillcolor=lightyellow];
    """
    graph = d.graph
    count = len(graph.steps) + len(graph.variables)
    if count > max_nodes:
        raise InputError(f"the graph has {count} nodes; pictures are drawn up to {max_nodes} (pass max_nodes to draw it anyway)")
    text = printer_for(d).doprint
    output = text(graph.output)
    deltas = {s.name: (s, e) for s, e in d.deltas}  # by name: a delta is a symbol or a matrix symbol
    nodes = [v for v in graph.variables] + [s.symbol for s in graph.steps]
    numbers: dict = {}  # symbol, delta or ∂f/∂p → its value, when values are given
    if values is not None:
        w = matrix_walkthrough(d, values, sizes=sizes)
        numbers = dict(w.given) | {s: v for s, _, v in (*w.forward, *w.deltas)} | {("∂", p): g for p, g in w.gradients}

    def node(symbol, formula=None) -> str:
        lines = [text(symbol) if formula is None else f"{text(symbol)} = {naming.clipped(text(formula), FORMULA_WIDTH)}",
                 shape_note(symbol) or "scalar"]
        if symbol in numbers:
            lines.append(f"value {_matrix_formatted(numbers[symbol])}")
        delta = naming.delta(symbol).name
        if symbol in d.wrt:
            gradient = naming.clipped(text(d.gradient(symbol)), FORMULA_WIDTH)
            lines.append(f"∂{output}/∂{text(symbol)} = {gradient}" + (
                f" = {_matrix_formatted(numbers['∂', symbol])}" if ("∂", symbol) in numbers else ""))
        elif delta in deltas:
            named, expr = deltas[delta]
            lines.append(f"{text(named)} = {naming.clipped(text(expr), FORMULA_WIDTH)}" + (
                f" = {_matrix_formatted(numbers[named])}" if named in numbers else ""))
        kind = "shape=box, style=rounded" if formula is not None else (
            "shape=box, style=filled, fillcolor=lightyellow" if symbol in d.wrt else "shape=ellipse")
        return f"  {_quote(text(symbol))} [label={_quote(chr(10).join(lines))}, {kind}];".replace("\n", "\\n")

    subject = graph.description if graph.is_network else f"{output} = {naming.clipped(text(graph.loss), 2 * FORMULA_WIDTH)}"
    title = f"{subject}: " + ("values forward, deltas and gradients backward" if numbers else "shapes, and deltas in the delta view")
    lines = [f"digraph {_quote('backpropagation')} {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];', f"  label={_quote(title)};"]
    lines += [node(v) for v in graph.variables]
    lines += [node(step.symbol, step.expr) for step in graph.steps]
    known = set(nodes)
    for step in graph.steps:
        for argument in sorted(_arguments(step.expr) & known, key=lambda s: s.name):
            lines.append(f"  {_quote(text(argument))} -> {_quote(text(step.symbol))};")
    lines.append("}")
    return Picture("\n".join(lines) + "\n")


def _arguments(expr) -> set:
    """The symbols and matrix symbols a step's formula uses."""
    return set(expr.atoms(sp.Symbol, sp.MatrixSymbol))
