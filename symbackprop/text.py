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


class PositiveFirst:
    """Printer mixin: sums printed in the order of :func:`positive_first`."""

    def _print_Add(self, expr, order=None):
        return super()._print_Add(sp.Add(*positive_first(expr), evaluate=False), order="none")


class TextPrinter(PositiveFirst, StrPrinter):
    """SymPy's string printer, with deltas written δ_v and sums led by a positive term."""

    def _print_Symbol(self, expr):
        return naming.display(expr)


def plain(expr) -> str:
    """``expr`` as plain text (:class:`TextPrinter`).

    >>> plain(sp.Symbol("delta_z2") * (sp.Symbol("y") - sp.Symbol("a")))
    'δ_z2*(y - a)'
    """
    return TextPrinter().doprint(expr)


def _partial(of: sp.Symbol, wrt: sp.Symbol) -> str:
    return f"∂{plain(of)}/∂{plain(wrt)}"


def gradient_lines(d: Derivation, p: sp.Symbol) -> list[tuple[str, str]]:
    """∂J/∂p as text: the chain of partials, their values, the delta form, the closed form."""
    printer = TextPrinter()
    chain = d.chain(p)
    factors = " + ".join(" · ".join(_partial(f.of, f.wrt) for f in path.factors) for path in chain.paths)
    values = " + ".join(" · ".join(printer.parenthesize(f.expr, PRECEDENCE["Mul"]) for f in path.factors) for path in chain.paths)
    return [(_partial(d.graph.output, p), factors), ("", values), ("", plain(d.gradient(p))), ("", plain(d[p]))]


def derivation_text(d: Derivation, show_chain=None) -> str:
    """The whole derivation as text, with the chain rule written out for the variables in
    ``show_chain`` (one symbol or a list; default: the first variable)."""
    graph = d.graph
    output = graph.output
    chains = [d.wrt[0]] if show_chain is None else list(show_chain) if isinstance(show_chain, (list, tuple)) else [show_chain]
    sections = [
        ("Forward pass", [(plain(s.symbol), plain(s.expr)) for s in graph.steps]),
        ("Backward pass: deltas δ_v = ∂%s/∂v, output first" % output, [(plain(s), plain(e)) for s, e in d.deltas]),
        ("Gradients", [(_partial(output, q), plain(d.gradient(q))) for q in d.wrt]),
    ]
    sections += [(f"Chain rule for {p}", gradient_lines(d, p)) for p in chains]
    title = f"Backpropagation through {graph.description}"
    return render("derivation.txt.j2", title=title, sections=sections)
