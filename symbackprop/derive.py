"""The chain rule as one reverse sweep over a graph's steps, with local partials only.

For each step ``v = f(u_1, …, u_k)``, taken from the output backwards, every argument gets
``δ_u += δ_v · ∂f/∂u`` (``δ_v = ∂J/∂v``); a variable ``p`` gets ``∂J/∂p = Σ_c δ_c · ∂f_c/∂p``
over the steps ``c`` that use it. The sweep records each local partial once; from them come the
three views of every gradient:

- the **chain view** (:meth:`Derivation.chain`): per path from J down to p, the product of local
  factors ``∂J/∂a₃ · ∂a₃/∂z₃ · ∂z₃/∂w₅``;
- the **delta view** (:attr:`Derivation.deltas`, :meth:`Derivation.gradient`): ``∂J/∂w₅ = δ₃ a₁``
  with every shared δ named once, linear in the size of the network;
- the **closed form** (``derivation[p]``): deltas and steps substituted back, in the variables only.

>>> import sympy as sp
>>> from symbackprop import mlp
>>> net = mlp([1, 1, 1], activation="sigmoid", loss="bce")
>>> d = derive(net, net.params)
>>> d.delta(sp.Symbol("z2"))
a2 - y1
>>> d.gradient(sp.Symbol("w2"))
a1*delta_2
>>> d["w2"]
(-y1 + sigmoid(b2 + w2*sigmoid(b1 + w1*x1)))*sigmoid(b1 + w1*x1)

Wherever a symbol is asked for, any name the library prints for it will do (``"w2"``, ``"ŷ"``,
``"δ_2"``; see :func:`symbackprop.naming.accepted_names`):

>>> d.delta("ŷ") == d.delta(sp.Symbol("a2")), d.delta("delta_2")
(True, a2 - y1)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import sympy as sp

from . import naming
from .errors import InputError
from .matrices import EntrywiseSteps, has_matrices, is_matrix, textbook, total
from .network import Graph
from .progress import Progress
from .rules import vjp
from .simplify import local_partial, step_values, substitute

MAX_PATHS = 10_000


# How a derivation or a chain shows itself in Jupyter, as LaTeX: the printers (symbackprop.latex,
# a later stage) register a function per type when they are imported, so that this module never
# imports them.
LATEX_DISPLAYS: dict[type, Callable[[object], str]] = {}


def latex_display(value) -> str | None:
    """``value`` as LaTeX, by the printer registered for its type; None (its plain repr) without one."""
    show = LATEX_DISPLAYS.get(type(value))
    return show(value) if show is not None else None


@dataclass(frozen=True)
class Factor:
    """One local factor ``∂of/∂wrt = expr`` of a chain (``expr`` in step symbols)."""

    of: sp.Symbol
    wrt: sp.Symbol
    expr: sp.Expr


@dataclass(frozen=True)
class Path:
    """The factors along one path from the output down to a variable, output first."""

    factors: tuple[Factor, ...]

    @property
    def expr(self) -> sp.Expr:
        return sp.Mul(*[factor.expr for factor in self.factors])


@dataclass(frozen=True)
class Chain:
    """∂J/∂wrt as a sum over paths of products of local factors (the textbook view); ``graph``
    (when known) gives the names it is shown with."""

    wrt: sp.Symbol
    paths: tuple[Path, ...]
    graph: Graph | None = field(default=None, repr=False, compare=False)

    @property
    def expr(self) -> sp.Expr:
        return sp.Add(*[path.expr for path in self.paths])

    def _repr_latex_(self) -> str | None:
        return latex_display(self)


@dataclass(frozen=True, eq=False)
class Derivation:
    """The result of one reverse sweep over ``graph`` for the variables ``wrt``.

    ``partials`` maps each edge ``(step, argument)`` to its local partial; ``consumers`` maps each
    step or variable to the steps that use it; ``deltas`` lists the named deltas of the delta view
    in sweep order as ``(δ symbol, expression)``; ``gradients`` maps each variable to ∂J/∂p in the
    delta view.
    """

    graph: Graph
    wrt: tuple[sp.Symbol, ...]
    partials: Mapping[tuple[sp.Symbol, sp.Symbol], sp.Expr]
    consumers: Mapping[sp.Symbol, tuple[sp.Symbol, ...]]
    deltas: tuple[tuple[sp.Symbol, sp.Expr], ...]
    gradients: Mapping[sp.Symbol, sp.Expr]
    _inline: Mapping[sp.Symbol, sp.Expr] = field(repr=False, compare=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)
    _textbook_memo: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)  # shared parts

    def __repr__(self) -> str:
        names = ", ".join(map(str, self.wrt[:6])) + (", …" if len(self.wrt) > 6 else "")
        return f"<Derivation of {self.graph.output} with respect to {names}: {len(self.deltas)} named deltas>"

    def _repr_latex_(self) -> str | None:
        return latex_display(self)

    def __getitem__(self, p: sp.Symbol | str) -> sp.Expr:
        """The closed form of ∂J/∂p, in the graph's variables only (built on first access)."""
        p = self.symbol(p)
        if p not in self._cache:
            self._cache[p] = self.closed(self.gradient(p))
        return self._cache[p]

    def __iter__(self):
        return iter(self.wrt)

    def __len__(self) -> int:
        return len(self.wrt)

    @cached_property
    def _names(self) -> dict[str, sp.Symbol]:
        return naming.accepted_names(self.graph, [naming.delta(s.symbol) for s in self.graph.steps[:-1]])

    def symbol(self, name: sp.Symbol | str) -> sp.Symbol:
        """The symbol ``name`` stands for: any name the library prints (``"w1"``, ``"z3"``,
        ``"ŷ"``, ``"yhat1"``, ``"δ_3"``, ``"delta_z3"``, see :func:`naming.accepted_names`); a
        symbol is returned as it is. An unknown name is an :class:`InputError` listing the known ones.

        >>> from symbackprop import backprop, mlp
        >>> backprop(mlp([1, 1])).symbol("yhat")
        a1
        """
        if isinstance(name, sp.MatrixSymbol) or isinstance(name, sp.Symbol) and not self.graph.has_matrices:
            return name
        if isinstance(name, sp.Symbol):  # W_1 written as a Symbol, where W_1 is a matrix
            name = name.name
        if not isinstance(name, str):
            raise InputError(f"expected a name or a SymPy symbol, got {type(name).__name__}")
        name = naming.typed(name)
        if name not in self._names:
            known = [s.name for s in self.graph.variables] + [s.symbol.name for s in self.graph.steps]
            raise InputError(f"unknown name {name!r}; known names: {naming.listing(known)}")
        return self._names[name]

    def gradient(self, p: sp.Symbol | str) -> sp.Expr:
        """∂J/∂p in the delta view: named deltas times local partials."""
        p = self.symbol(p)
        if p not in self.gradients:
            raise InputError(f"{p} is not among the variables of this derivation ({naming.listing(self.wrt)})")
        return self.gradients[p]

    def delta(self, step: sp.Symbol | str) -> sp.Expr:
        """δ_step = ∂J/∂step in the delta view: in terms of step symbols and later named deltas.
        ``step`` may also be given by its delta (``"δ_3"``)."""
        step = self.symbol(step)
        by_name = {s.symbol.name: s.symbol for s in self.graph.steps}
        if naming.is_delta(step) and step.name not in by_name:
            step = by_name.get(naming.delta_step(step).name, step)
        symbol = naming.delta(step)
        for name, expr in self.deltas:
            if name == symbol:
                return expr
        if step in self._inline:
            return self._inline[step]
        raise InputError(f"{step} is not a step on a path from the variables to {self.graph.output}")

    def chain(self, p: sp.Symbol | str, max_paths: int = MAX_PATHS) -> Chain:
        """∂J/∂p as a sum over paths, each a product of local factors from the output down to p.

        The number of paths grows exponentially with depth; beyond ``max_paths`` this raises
        and the delta view (:meth:`gradient`) is the one to use.
        """
        p = self.symbol(p)
        self.gradient(p)  # validates p
        if self.graph.has_matrices:
            raise InputError(f"∂{self.graph.output}/∂{p} has no chain of scalar factors: the graph has matrix steps; use the delta view "
                             f"(gradient({p.name!r})) or the closed form")
        counts: dict[sp.Symbol, int] = {}
        for step in reversed(self.graph.steps):
            s = step.symbol
            counts[s] = 1 if s == self.graph.output or s in self.graph.fused else sum(counts.get(c, 0) for c in self.consumers.get(s, ()))
        total = sum(counts.get(c, 0) for c in self.consumers[p])
        if total > max_paths:
            raise InputError(f"∂J/∂{p} has {total} chain-rule paths (more than max_paths={max_paths}); use the delta view")

        memo: dict[sp.Symbol, list[tuple[Factor, ...]]] = {}

        def paths_from_output(s: sp.Symbol) -> list[tuple[Factor, ...]]:
            if s == self.graph.output:
                return [()]
            if s in self.graph.fused:
                return [(Factor(self.graph.output, s, self.graph.fused[s]),)]
            if s not in memo:
                memo[s] = [path + (Factor(c, s, self.partials[c, s]),) for c in self.consumers[s] for path in paths_from_output(c)]
            return memo[s]

        paths = [path + (Factor(c, p, self.partials[c, p]),) for c in self.consumers[p] for path in paths_from_output(c)]
        return Chain(p, tuple(Path(path) for path in paths), self.graph)

    def in_steps(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with the named deltas written out: in step symbols and variables only
        (``a1*(a2 - y1)`` rather than ``a1*delta_2``), as a hand derivation writes it."""
        value = substitute(expr, self._step_values)
        return textbook(value, self._textbook_memo) if self.graph.has_matrices else value

    @cached_property
    def _step_values(self) -> dict[sp.Symbol, sp.Expr]:
        return self._with_deltas({})

    def closed(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with named deltas and step symbols replaced by their values in the variables
        (a matrix expression in a textbook's form: :func:`~symbackprop.matrices.textbook`)."""
        value = substitute(expr, self._closed_values)
        return textbook(value, self._textbook_memo) if self.graph.has_matrices else value

    @cached_property
    def _closed_values(self) -> dict[sp.Symbol, sp.Expr]:
        return self._with_deltas(self.graph.closed_steps())

    def _with_deltas(self, values: dict) -> dict:
        """``values`` and every named delta written in them, each built once from the ones
        before it (sweep order: a delta uses later deltas only)."""
        for symbol, expr in self.deltas:
            values[symbol] = substitute(expr, values)
        return values


def derive(graph: Graph, wrt: Sequence[sp.Symbol]) -> Derivation:
    """One reverse sweep over ``graph``: local partials, named deltas and delta-view gradients.

    A scalar step passes ``δ_v · ∂f/∂u`` to each argument u; a step with matrices in it passes
    the shares of its operations' vector-Jacobian rules (:func:`symbackprop.rules.vjp`).
    """
    wrt = tuple(wrt)
    steps = graph.steps
    step_symbols = {step.symbol for step in steps}

    # Forward: which steps depend on a variable of wrt. Only those need a delta.
    active = set(wrt)
    for step in steps:
        if step.expr.free_symbols & active:
            active.add(step.symbol)

    matrix_graph = graph.has_matrices  # (a network weight by weight has none: no step is searched)

    def with_matrices(step) -> bool:
        return matrix_graph and has_matrices(step.expr)

    # Local partials of every active edge of a scalar step, and who consumes what.
    values = step_values(steps)
    partials: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr] = {}
    consumers: dict[sp.Symbol, list[sp.Symbol]] = {}
    with Progress("local partials", total=len(steps)) as bar:
        for step in steps:
            used = sorted(step.expr.free_symbols & active, key=sp.default_sort_key)
            if not with_matrices(step):
                for u in used:
                    partials[step.symbol, u] = local_partial(step.expr, u, values)
            for u in used:
                consumers.setdefault(u, []).append(step.symbol)
            bar.advance()

    # A delta is named when a variable's gradient uses it or more than one other delta does;
    # a delta used once is written into its user instead. The output's delta is 1.
    uses = {s: 0 for s in step_symbols}
    for u, users in consumers.items():
        if u in step_symbols:
            for step in users:
                uses[step] += 1
    named = {step for u, users in consumers.items() for step in users if u not in step_symbols or uses[step] > 1}
    named.discard(graph.output)

    entrywise_steps = EntrywiseSteps(steps)
    delta_of: dict[sp.Symbol, sp.Expr] = {graph.output: sp.S.One}  # how a delta appears in others
    shares: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr] = {}  # (matrix step, argument) → its rule's share
    definition: dict[sp.Symbol, sp.Expr] = {}

    def share(step: sp.Symbol, u: sp.Symbol) -> sp.Expr:
        return delta_of[step] * partials[step, u] if (step, u) in partials else shares[step, u]

    for step in reversed(steps):
        s = step.symbol
        if s not in active:
            continue
        if s != graph.output:
            definition[s] = graph.fused[s] if s in graph.fused else total(share(c, s) for c in consumers.get(s, ()))
            if is_matrix(s):
                definition[s] = entrywise_steps.simplified(definition[s])
                if not definition[s].free_symbols - set(graph.sizes) or naming.is_delta(definition[s]):
                    named.discard(s)  # a constant (I, 𝟏) or another delta is written out
            delta_of[s] = naming.delta(s) if s in named else definition[s]
        if with_matrices(step):
            for u, part in vjp(step.expr, delta_of[s], s, frozenset(graph.sizes)).items():
                if u in active:
                    shares[s, u] = part

    gradients = {p: total((share(c, p) for c in consumers.get(p, ())), like=p) for p in wrt}

    # Keep only the named deltas that a gradient needs, in sweep order.
    step_of = {naming.delta(s): s for s in named}
    needed: set[sp.Symbol] = set()
    frontier = list(gradients.values())
    while frontier:
        for symbol in frontier.pop().free_symbols & step_of.keys():
            if symbol not in needed:
                needed.add(symbol)
                frontier.append(definition[step_of[symbol]])
    deltas = tuple((naming.delta(st.symbol), definition[st.symbol]) for st in reversed(steps) if naming.delta(st.symbol) in needed)
    inline = {s: expr for s, expr in definition.items() if s not in named}
    return Derivation(graph, wrt, MappingProxyType(partials), MappingProxyType({u: tuple(cs) for u, cs in consumers.items()}),
                      deltas, MappingProxyType(gradients), MappingProxyType(inline))
