"""A numeric worked example: every forward value, the loss, each chain-rule term, each gradient
and each updated parameter, in the order a textbook presents them.

Values are computed in float64, or exactly (SymPy rationals and exact expressions) on request;
all gradients are taken at the original parameters, and the update is simultaneous.

>>> from symbackprop import backprop, mlp
>>> d = backprop(mlp([1, 1], activation="identity"))
>>> w = walkthrough(d, {"x1": 2, "y1": 1, "w1": 0.5, "b1": 0}, learning_rate=0.1, exact=True)
>>> w.gradients
((w1, 0), (b1, 0))
>>> w = walkthrough(d, {"x1": 2, "y1": 3, "w1": 0.5, "b1": 0}, learning_rate=0.1, exact=True)
>>> w.loss, dict(w.updates)
(2, {w1: 9/10, b1: 1/5})
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from .derive import MAX_PATHS, Derivation
from .errors import InputError
from .latex import BackpropLatexPrinter, partial, pdflatex, text
from .naming import latex_names
from .templates_ import render


@dataclass(frozen=True)
class Walkthrough:
    """The numbers of one forward and backward pass and one gradient-descent step.

    ``forward`` and ``deltas`` hold ``(symbol, formula, value)``; ``chains`` per parameter the
    paths of the chain rule as tuples of ``(factor, value)`` (``None`` when there are more than
    ``MAX_PATHS``); ``gradients`` and ``updates`` hold ``(parameter, value)``.
    """

    derivation: Derivation
    given: tuple[tuple[sp.Symbol, object], ...]
    learning_rate: object
    forward: tuple[tuple[sp.Symbol, sp.Expr, object], ...]
    deltas: tuple[tuple[sp.Symbol, sp.Expr, object], ...]
    chains: tuple[tuple[sp.Symbol, tuple | None], ...]
    gradients: tuple[tuple[sp.Symbol, object], ...]
    updates: tuple[tuple[sp.Symbol, object], ...]
    exact: bool

    @property
    def loss(self):
        return self.forward[-1][2]


def _number(value, exact: bool, name: str):
    """``value`` as a float, or exactly as a rational (a float read by its decimal digits)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = sp.Rational(str(value)) if exact else float(value)
    except (TypeError, ValueError, sp.SympifyError):
        raise InputError(f"the value of {name} must be a number, got {value!r}") from None
    if not exact and not math.isfinite(number):
        raise InputError(f"the value of {name} must be finite, got {value!r}")
    return number


def value_of(expr: sp.Expr, table: Mapping, exact: bool = False):
    """``expr`` at the values in ``table``: exactly (SymPy numbers) or in float64.

    >>> x = sp.Symbol("x")
    >>> value_of(x**2 / 3, {x: 2}), value_of(x**2 / 3, {x: sp.Integer(2)}, exact=True)
    (1.3333333333333333, 4/3)
    """
    if exact:
        return expr.xreplace(dict(table))
    symbols = sorted(expr.free_symbols, key=sp.default_sort_key)
    return float(sp.lambdify(symbols, expr, "numpy")(*[table[s] for s in symbols]))


def given_values(graph, values: Mapping, exact: bool = False) -> dict:
    """Every variable of ``graph`` → its number from ``values`` (keyed by symbol or name);
    unknown names, missing variables and values that are not numbers are named in the error."""
    by_name = {v.name: v for v in graph.variables}
    given: dict[sp.Symbol, object] = {}
    for key, value in values.items():
        name = key.name if isinstance(key, sp.Symbol) else str(key)
        if name not in by_name:
            raise InputError(f"{name!r} is not a variable of {graph.description}; its variables: {', '.join(by_name)}")
        given[by_name[name]] = _number(value, exact, name)
    missing = [v.name for v in graph.variables if v not in given]
    if missing:
        raise InputError(f"values are missing for {', '.join(missing)}")
    return given


def pass_values(d: Derivation, given: Mapping, exact: bool = False) -> dict:
    """The given variables, then every step and every named delta of ``d`` at them.

    >>> from symbackprop import backprop, mlp
    >>> d = backprop(mlp([1, 1], activation="identity"))
    >>> table = pass_values(d, given_values(d.graph, {"x1": 2, "y1": 3, "w1": 1, "b1": 0}))
    >>> table[sp.Symbol("a1")], table[sp.Symbol("J")]
    (2.0, 0.5)
    """
    table = dict(given)
    for symbol, expr in [(step.symbol, step.expr) for step in d.graph.steps] + list(d.deltas):
        table[symbol] = value_of(expr, table, exact)
    return table


def walkthrough(d: Derivation, values: Mapping, learning_rate=0.5, exact: bool = False) -> Walkthrough:
    """Evaluate ``d`` at ``values`` (by symbol or by name: every input, target and parameter)
    and take one gradient-descent step of size ``learning_rate``."""
    graph = d.graph
    given = given_values(graph, values, exact)
    rate = _number(learning_rate, exact, "the learning rate")

    table = pass_values(d, given, exact)

    def evaluate(expr):
        return value_of(expr, table, exact)

    forward = tuple((step.symbol, step.expr, table[step.symbol]) for step in graph.steps)
    deltas = tuple((symbol, expr, table[symbol]) for symbol, expr in d.deltas)

    chains = []
    for p in d.wrt:
        try:
            chain = d.chain(p, max_paths=MAX_PATHS)
        except ValueError:
            chains.append((p, None))
            continue
        chains.append((p, tuple(tuple((f, evaluate(f.expr)) for f in path.factors) for path in chain.paths)))
    gradients = tuple((p, evaluate(d.gradient(p))) for p in d.wrt)
    updates = tuple((p, given[p] - rate * g) for p, g in gradients)
    return Walkthrough(d, tuple((v, given[v]) for v in graph.variables), rate, forward, deltas,
                       tuple(chains), gradients, updates, exact)


class _Numbers:
    """Formats the numbers of a walkthrough: ``digits`` significant digits, exact values as
    LaTeX with their decimal value beside them."""

    def __init__(self, exact: bool, digits: int, printer: BackpropLatexPrinter):
        self.exact, self.digits, self.printer = exact, digits, printer

    def decimal(self, value) -> str:
        number = float(sp.N(value, self.digits + 5)) if self.exact else float(value)
        text_ = f"{number:.{self.digits}g}"
        if "e" in text_:
            mantissa, exponent = text_.split("e")
            text_ = r"%s \times 10^{%d}" % (mantissa, int(exponent))
        return text_

    def __call__(self, value) -> str:
        """The value as the result of a line: exact values as they are (short rationals) or with
        their decimal beside them (``= σ(3/10) ≈ 0.574``), or only the decimal when long."""
        if not self.exact:
            return self.decimal(value)
        exact = self.printer.doprint(sp.sympify(value))
        if sp.sympify(value).is_Rational and len(exact) < 40:
            return exact
        return r"%s \approx %s" % (exact, self.decimal(value)) if len(exact) < 60 else r"\approx %s" % self.decimal(value)

    def plain(self, value) -> str:
        """The value inside a formula: a short rational, else its decimal; negatives in parentheses."""
        value = sp.sympify(value) if self.exact else value
        short = self.exact and value.is_Rational and len(self.printer.doprint(value)) < 40
        printed = self.printer.doprint(value) if short else self.decimal(value)
        return r"\left(%s\right)" % printed if printed.startswith("-") else printed


def _document_parts(w: Walkthrough, digits: int) -> dict:
    """The walkthrough as already-printed LaTeX rows, for both templates."""
    d = w.derivation
    graph = d.graph
    names = latex_names(graph)
    printer = BackpropLatexPrinter(names)
    number = _Numbers(w.exact, digits, printer)
    values = {s: v for s, _, v in w.forward} | dict(w.given) | {s: v for s, _, v in w.deltas}
    substituted = BackpropLatexPrinter({s: number.plain(v) for s, v in values.items()}, mul_symbol="dot")

    def row(symbol, formula, value):
        shown = [printer.doprint(formula)]
        if formula.free_symbols and not formula.is_Symbol:
            shown.append(substituted.doprint(formula))
        return names.get(symbol, printer.doprint(symbol)), shown + [number(value)]

    chains = []
    for (p, paths), (_, gradient) in zip(w.chains, w.gradients):
        lhs = partial(printer, graph.output, p)
        if paths is None:
            terms = None
        else:
            terms = [(r" \cdot ".join(partial(printer, f.of, f.wrt) for f, _ in path),
                      r" \cdot ".join(number.plain(v) for _, v in path)) for path in paths]
        chains.append((lhs, terms, printer.doprint(d.gradient(p)), number(gradient)))
    rate, given = number.plain(w.learning_rate), dict(w.given)
    updates = [(printer.doprint(p), number.plain(given[p]), rate, number.plain(g), number(new))
               for (p, g), (_, new) in zip(w.gradients, w.updates)]
    return dict(
        title=f"A worked example: {graph.description}",
        given=[(names[s], number(v)) for s, v in w.given],
        learning_rate=number(w.learning_rate),
        forward=[row(*r) for r in w.forward[:-1]],
        loss=[row(*w.forward[-1])],
        deltas=[row(*r) for r in w.deltas],
        chains=chains,
        updates=updates,
        exact=w.exact,
        digits=digits,
    )


def walkthrough_latex(w: Walkthrough, digits: int = 6) -> str:
    """The worked example as a LaTeX document (compiles with pdflatex)."""
    parts = _document_parts(w, digits)
    parts["title"] = text(parts["title"])
    return render("walkthrough.tex.j2", **parts)


def walkthrough_markdown(w: Walkthrough, digits: int = 6) -> str:
    """The worked example as Markdown, its formulas in ``$…$`` LaTeX math."""
    return render("walkthrough.md.j2", **_document_parts(w, digits))


def walkthrough_pdf(w: Walkthrough, path, digits: int = 6, force: bool = False):
    """The worked example as a PDF, through pdflatex (an existing file only with ``force``)."""
    return pdflatex(walkthrough_latex(w, digits), path, force=force)
