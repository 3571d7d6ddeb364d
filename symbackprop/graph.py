"""The computational graph as a picture: forward values flowing right, gradients flowing left.

Every node (input, target, parameter, step) shows its formula, its value and its gradient ∂J/∂node;
every edge its local derivative. The picture is Graphviz DOT, rendered to SVG or PNG by ``dot``
when it is installed; a network's layers are drawn as clusters.

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> p = picture(x * sp.sin(y), {"x": 2.0, "y": 0.5})
>>> print(p.dot.splitlines()[6])
  "y" [label="y\\nvalue 0.5\\n∂f/∂y 1.755", shape=box, style=filled, fillcolor=lightyellow];
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .api import backprop
from .derive import Derivation
from .errors import InputError, MissingTool, ToolError
from .files import write_file
from .network import Graph
from .text import printer_for
from .walkthrough import given_values, pass_values, value_of

MAX_NODES = 150
FORMULA_WIDTH = 40


@dataclass(frozen=True)
class Picture:
    """A computational graph in DOT; ``svg()`` and ``png()`` render it with Graphviz."""

    dot: str

    def render(self, fmt: str) -> bytes:
        """The picture as ``svg`` or ``png`` bytes, through Graphviz's ``dot``."""
        executable = shutil.which("dot")
        if executable is None:
            raise MissingTool("Graphviz is not installed (Debian/Ubuntu: apt-get install graphviz); the DOT text is in .dot")
        run = subprocess.run([executable, f"-T{fmt}"], input=self.dot.encode("utf-8"), capture_output=True, check=False)
        if run.returncode != 0:
            raise ToolError(f"dot failed: {run.stderr.decode(errors='replace').strip()}")
        return run.stdout

    def svg(self) -> str:
        return self.render("svg").decode("utf-8")

    def _repr_svg_(self) -> str:
        return self.svg()

    def save(self, path, force: bool = False) -> Path:
        """Write the picture; the file's ending says how: ``.dot``, ``.svg`` or ``.png``."""
        suffix = Path(path).suffix.lower()
        if suffix not in (".dot", ".gv", ".svg", ".png"):
            raise InputError(f"cannot tell the format of {path}: use .dot, .svg or .png")
        content = self.dot if suffix in (".dot", ".gv") else self.render(suffix[1:])
        return write_file(path, content, force=force)


def _quote(text: str) -> str:
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')


def _formatted(value) -> str:
    return f"{float(value):.4g}"


def picture(target, values: Mapping, max_nodes: int = MAX_NODES) -> Picture:
    """The computational graph of a network, expression or derivation at ``values`` (every
    variable, by symbol or by name)."""
    graph = target.graph if isinstance(target, Derivation) else target if isinstance(target, Graph) else Graph.from_expr(target)
    count = len(graph.steps) + len(graph.variables)
    if count > max_nodes:
        raise InputError(f"the graph has {count} nodes; pictures are drawn up to {max_nodes} "
                         f"(pass max_nodes to draw it anyway, or picture a smaller network)")
    d = backprop(graph, wrt=list(graph.variables))  # every leaf gets its gradient
    table = pass_values(d, given_values(graph, values))
    gradient = {p: value_of(d.gradient(p), table) for p in d.wrt}
    gradient[graph.output] = 1.0
    for step in graph.steps[:-1]:
        gradient[step.symbol] = value_of(d.delta(step.symbol), table)

    text = printer_for(graph).doprint  # the library's names: ŷ for a network's output
    output = text(graph.output)

    def node(symbol, formula=None) -> str:
        lines = [text(symbol) if formula is None else f"{text(symbol)} = {_short(text(formula))}",
                 f"value {_formatted(table[symbol])}", f"∂{output}/∂{text(symbol)} {_formatted(gradient[symbol])}"]
        if formula is not None:
            kind = "shape=box, style=rounded"  # a step
        elif symbol in graph.params:
            kind = "shape=box, style=filled, fillcolor=lightyellow"  # what training changes
        else:
            kind = "shape=ellipse, style=dashed" if symbol in graph.targets else "shape=ellipse"
        return f"  {_quote(text(symbol))} [label={_quote(chr(10).join(lines))}, {kind}];".replace("\n", "\\n")

    lines = [f"digraph {_quote('backpropagation')} {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    lines.append(f"  label={_quote(f'{graph.description}: values forward, gradients backward')};")
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
    for (step, argument), local in d.partials.items():
        label = f"∂{text(step)}/∂{text(argument)} {_formatted(value_of(local, table))}"
        lines.append(f"  {_quote(text(argument))} -> {_quote(text(step))} [label={_quote(label)}];")
    lines.append("}")
    return Picture("\n".join(lines) + "\n")


def _short(formula: str) -> str:
    return formula if len(formula) <= FORMULA_WIDTH else formula[:FORMULA_WIDTH - 1] + "…"
