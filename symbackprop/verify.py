"""Check a derivation done by hand, and say which factor is wrong and what it should be.

A claim is a SymPy expression or a formula as text (read by :func:`symbackprop.parse.parse_expr`,
never evaluated). It may use the graph's names (``x1``, ``w2``, ``z2``, ``a1``, ``J``) and, for a
network with one output and one target, ``ŷ`` / ``yhat`` / ``y_hat`` and ``y``. Equality is decided
by a bounded symbolic test and then by numeric probes at random points where both sides are
defined; a wrong claim comes with a counterexample.

>>> import sympy as sp
>>> from symbackprop import mlp, sigmoid
>>> z = sp.Symbol("z")
>>> bool(verify("sigmoid(z)*(1 - sigmoid(z))", sigmoid(z), wrt=z))
True
>>> verdict = verify(["y/yhat + (1 - y)/(1 - yhat)", "z2*(1 - z2)", "a1"], mlp([1, 1, 1], loss="bce"), wrt="w2")
>>> [bool(v) for _, v in verdict.factors]
[False, False, True]
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp

from .api import backprop
from .derive import Derivation, Factor
from .network import Graph
from .parse import parse_expr
from .simplify import recognize_activations, tree_size
from .text import TextPrinter

PROBES = 24
SYMBOLIC_LIMIT = 300  # tree nodes: larger differences go straight to the numeric probes
PRECISION = 30  # digits of the numeric probes
TOLERANCE = 1e-9  # relative, at that precision


@dataclass(frozen=True)
class Verdict:
    """Whether ``claimed`` equals ``correct``; if not, a point where they differ and both values."""

    equal: bool
    claimed: sp.Expr
    correct: sp.Expr
    how: str
    counterexample: Mapping[sp.Symbol, float] | None = None
    claimed_value: float | None = None
    correct_value: float | None = None

    def __bool__(self) -> bool:
        return self.equal

    def __str__(self) -> str:
        text = TextPrinter().doprint
        if self.equal:
            return f"right ({self.how}): {text(self.claimed)}"
        lines = [f"wrong: claimed {text(self.claimed)}", f"  should be {text(self.correct)}"]
        if self.counterexample:
            point = ", ".join(f"{s} = {v:.6g}" for s, v in self.counterexample.items())
            lines.append(f"  at {point}: claimed {self.claimed_value:.10g}, correct {self.correct_value:.10g}")
        return "\n".join(lines)


@dataclass(frozen=True)
class ChainVerdict:
    """One verdict per chain-rule factor (output first) and one for their product."""

    wrt: sp.Symbol
    factors: tuple[tuple[Factor, Verdict], ...]
    product: Verdict

    def __bool__(self) -> bool:
        return all(self.factors_right)

    @property
    def factors_right(self) -> list[bool]:
        return [bool(v) for _, v in self.factors]

    def __str__(self) -> str:
        lines = []
        for i, (factor, verdict) in enumerate(self.factors, start=1):
            body = str(verdict).replace("\n", "\n   ")
            lines.append(f"{i}. ∂{factor.of}/∂{factor.wrt}: {body}")
        summary = "every factor is right" if self else f"{self.factors_right.count(False)} factor(s) wrong"
        return f"chain rule for ∂J/∂{self.wrt}: {summary}\n" + "\n".join(lines)


def _names(graph: Graph) -> dict[str, sp.Symbol]:
    """The names a claim may use: the graph's own, and ŷ / y where they are unambiguous."""
    names = {s.name: s for s in graph.variables} | {s.symbol.name: s.symbol for s in graph.steps}
    outputs = [s for s in graph.outputs if s != graph.output]
    if len(outputs) == 1:
        for alias in ("ŷ", "yhat", "y_hat"):
            names.setdefault(alias, outputs[0])
    if len(graph.targets) == 1:
        names.setdefault("y", graph.targets[0])
    return names


def _read(claim, names: Mapping[str, sp.Symbol]) -> sp.Expr:
    if isinstance(claim, str):
        return parse_expr(claim, names)
    expr = sp.sympify(claim)
    unknown = {s for s in expr.free_symbols if names.get(s.name) != s}
    if unknown:
        raise ValueError(f"the claim uses {', '.join(sorted(map(str, unknown)))}, not in the expression; "
                         f"its symbols: {', '.join(names)}")
    return expr


def same(claimed: sp.Expr, correct: sp.Expr, closed: Mapping[sp.Symbol, sp.Expr] | None = None, seed: int = 0) -> Verdict:
    """Decide ``claimed == correct`` once step symbols are replaced by their values in the
    variables (``closed``): symbolically when that is cheap, else at random points."""
    closed = dict(closed or {})
    left, right = claimed.xreplace(closed), correct.xreplace(closed)
    difference = left - right
    if difference == 0:
        return Verdict(True, claimed, correct, "symbolically")
    # Function applications stay opaque: both sides are then rational in the same atoms, which
    # keeps cancel cheap (rewriting σ into exp and expanding can explode).
    if tree_size(difference) <= SYMBOLIC_LIMIT and sp.cancel(recognize_activations(difference)) == 0:
        return Verdict(True, claimed, correct, "symbolically")

    symbols = sorted(left.free_symbols | right.free_symbols, key=sp.default_sort_key)
    shown = sorted(claimed.free_symbols | correct.free_symbols, key=sp.default_sort_key)
    rng = random.Random(seed)
    agreed = 0
    for attempt in range(PROBES * 4):
        low, high = ((0.05, 0.95), (-2.0, 2.0), (0.1, 3.0))[attempt % 3]
        point = {s: sp.Float(rng.uniform(low, high), PRECISION) for s in symbols}
        a, b = (e.xreplace(point).evalf(PRECISION) for e in (left, right))
        if not (a.is_real and b.is_real and a.is_finite and b.is_finite):
            continue  # outside the domain of one side
        if abs(a - b) > TOLERANCE * (1 + abs(b)):
            where = {s: float(s.xreplace(closed).xreplace(point).evalf(PRECISION)) for s in shown}
            return Verdict(False, claimed, correct, "at a random point", where, float(a), float(b))
        agreed += 1
        if agreed == PROBES:
            return Verdict(True, claimed, correct, f"numerically, at {PROBES} random points")
    raise ValueError(f"could not find points where both {claimed} and {correct} are defined")


def verify(claimed, of, wrt=None, seed: int = 0) -> Verdict | ChainVerdict:
    """Check a hand derivation against the engine.

    - ``verify(claim, expr)``: is the claim equal to ``expr``?
    - ``verify(claim, expr, wrt=x)``: is it ∂expr/∂x?
    - ``verify(claim, network_or_derivation, wrt=p)``: is it ∂J/∂p?
    - ``verify([f1, f2, …], network_or_expr, wrt=p)``: are these the chain-rule factors of ∂J/∂p,
      output first (one path)? Says which factor is wrong and what it should be.
    """
    from .errors import InputError
    from .matrix import MatrixDerivation, MatrixGraph

    if isinstance(of, (MatrixDerivation, MatrixGraph)):
        raise InputError('verify does not support matrix-form derivations yet; use form="scalar"')
    if isinstance(of, (Graph, Derivation)):
        d = of if isinstance(of, Derivation) else backprop(of)
    else:
        if wrt is None:
            names = {s.name: s for s in sp.sympify(of).free_symbols}
            return same(_read(claimed, names), sp.sympify(of), seed=seed)
        d = backprop(of, wrt=[wrt])
    graph = d.graph
    names = _names(graph)
    if wrt is None:
        raise ValueError("say which variable the claimed derivative is with respect to (wrt)")
    p = names.get(wrt) if isinstance(wrt, str) else wrt
    if p not in d.gradients:
        raise ValueError(f"cannot differentiate with respect to {wrt}: it is not a variable of {graph.description}")
    closed = graph.closed_steps()
    # A network's step names (z2, a1) are the user's own; an expression's (v1, f) are not.
    stated = d.in_steps if any(step.role != "operation" for step in graph.steps) else d.closed

    if isinstance(claimed, Sequence) and not isinstance(claimed, str):
        paths = d.chain(p).paths
        if len(paths) != 1:
            raise ValueError(f"∂{graph.output}/∂{p} sums {len(paths)} chain-rule paths; claim the whole gradient instead")
        factors = paths[0].factors
        if len(claimed) != len(factors):
            expected = " · ".join(f"∂{f.of}/∂{f.wrt}" for f in factors)
            raise ValueError(f"the chain rule for ∂{graph.output}/∂{p} has {len(factors)} factors ({expected}); got {len(claimed)}")
        claims = [_read(c, names) for c in claimed]
        verdicts = tuple((f, same(c, f.expr, closed, seed)) for f, c in zip(factors, claims))
        return ChainVerdict(p, verdicts, same(sp.Mul(*claims), stated(d.gradient(p)), closed, seed))
    return same(_read(claimed, names), stated(d.gradient(p)), closed, seed)
