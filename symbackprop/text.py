"""A derivation as plain text: forward pass, deltas, gradients, one chain and its closed form.

>>> from symbackprop import backprop, mlp
>>> print(derivation_text(backprop(mlp([1, 1]))).splitlines()[0])
Backpropagation through the 1-1 network, sigmoid, loss half_sse, bias per_neuron
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from . import naming
from .derive import Derivation
from .templates_ import render


def positive_first(expr: sp.Add) -> list:
    """The terms of a sum in SymPy's order, but led by a positive one, as people write it:
    ``y - a`` rather than ``-a + y`` (which as code is also one operation less).

    >>> a, y = sp.symbols("a y")
    >>> positive_first(y - a)
    [y, -a]
    """
    terms = list(expr.as_ordered_terms())
    positive = next((t for t in terms if not t.could_extract_minus_sign()), None)
    if positive is not None and terms[0].could_extract_minus_sign():
        terms.remove(positive)
        terms.insert(0, positive)
    return terms


class TextPrinter(StrPrinter):
    """SymPy's string printer, with deltas written δ_v and sums led by a positive term."""

    def _print_Symbol(self, expr):
        return naming.display(expr)

    def _print_Add(self, expr, order=None):
        return super()._print_Add(sp.Add(*positive_first(expr), evaluate=False), order="none")


def _text(expr) -> str:
    return TextPrinter().doprint(expr)


def _partial(of: sp.Symbol, wrt: sp.Symbol) -> str:
    return f"∂{_text(of)}/∂{_text(wrt)}"


def derivation_text(d: Derivation, show_chain=None) -> str:
    """The whole derivation as text; the chain and closed form are shown for ``show_chain``
    (default: the first variable)."""
    graph = d.graph
    output = graph.output
    p = d.wrt[0] if show_chain is None else show_chain
    chain = d.chain(p)
    factors = " + ".join(" · ".join(_partial(f.of, f.wrt) for f in path.factors) for path in chain.paths)
    printer = TextPrinter()
    values = " + ".join(" · ".join(printer.parenthesize(f.expr, PRECEDENCE["Mul"]) for f in path.factors) for path in chain.paths)
    sections = [
        ("Forward pass", [(_text(s.symbol), _text(s.expr)) for s in graph.steps]),
        ("Backward pass: deltas δ_v = ∂%s/∂v, output first" % output, [(_text(s), _text(e)) for s, e in d.deltas]),
        ("Gradients", [(_partial(output, q), _text(d.gradient(q))) for q in d.wrt]),
        (f"Chain rule for {p}", [(_partial(output, p), factors), ("", values), ("", _text(d[p]))]),
    ]
    title = f"Backpropagation through {graph.description}"
    return render("derivation.txt.j2", title=title, sections=sections)
