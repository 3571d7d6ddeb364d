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
from .errors import InputError
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


def _led_by_positive(terms: list) -> list:
    positive = next((t for t in terms if not t.could_extract_minus_sign()), None)
    if positive is not None and terms[0].could_extract_minus_sign():
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


class TextPrinter(TextbookOrder, StrPrinter):
    """SymPy's string printer in the library's notation: the names of ``names`` (e.g.
    :func:`naming.text_names`: ŷ, δ_3), deltas written δ_…, and textbook order.

    >>> a4, w10 = sp.symbols("a4 w10")
    >>> print(TextPrinter().doprint(a4 * naming.delta(sp.Symbol("z5")) * w10 * (1 - a4)))
    δ_5*w10*a4*(1 - a4)
    """

    def __init__(self, names=None, settings=None):
        super().__init__(settings)
        self.names = dict(names or {})

    def _print_Symbol(self, expr):
        return self.names.get(expr) or naming.display(expr)


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


def derivation_text(d: Derivation, show_chain=None) -> str:
    """The whole derivation as text, with the chain rule written out for the variables in
    ``show_chain`` (one symbol or name, or a list; default: the first variable). Chain rules with
    many paths and long closed forms are left out, each with a one-line note."""
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
