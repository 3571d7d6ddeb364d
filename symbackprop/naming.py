"""Every name the library gives: symbols of networks, steps and deltas.

One place for the conventions, so the engine, the printers and generated code agree.

>>> weight(3), pre_activation(2), activation(2), delta(pre_activation(2))
(w3, z2, a2, delta_z2)
"""

from __future__ import annotations

import itertools

import sympy as sp

INPUT = "x"
TARGET = "y"
WEIGHT = "w"
BIAS = "b"
PRE_ACTIVATION = "z"  # z_i = Σ w a + b of neuron i (neurons numbered across the network)
ACTIVATION = "a"  # a_i = g(z_i)
LOSS = "J"
EXPRESSION_STEP = "v"  # intermediate steps of an arbitrary expression: v1, v2, …
EXPRESSION_OUTPUT = "f"
DELTA = "delta_"  # delta_z3 stands for δ_{z3} = ∂J/∂z3


def _numbered(prefix: str, i: int) -> sp.Symbol:
    return sp.Symbol(f"{prefix}{i}")


def input_(i: int) -> sp.Symbol:
    return _numbered(INPUT, i)


def target(i: int) -> sp.Symbol:
    return _numbered(TARGET, i)


def weight(i: int) -> sp.Symbol:
    return _numbered(WEIGHT, i)


def bias(i: int) -> sp.Symbol:
    return _numbered(BIAS, i)


def pre_activation(i: int) -> sp.Symbol:
    return _numbered(PRE_ACTIVATION, i)


def activation(i: int) -> sp.Symbol:
    return _numbered(ACTIVATION, i)


def loss() -> sp.Symbol:
    return sp.Symbol(LOSS)


def delta(step: sp.Symbol) -> sp.Symbol:
    """The symbol δ_v standing for ∂J/∂v in the delta view."""
    return sp.Symbol(DELTA + step.name)


def fresh(prefix: str, taken: set[str]):
    """Endless numbered symbols ``prefix1, prefix2, …`` whose names are not in ``taken``.

    >>> names = fresh("v", {"v2"})
    >>> next(names), next(names)
    (v1, v3)
    """
    for i in itertools.count(1):
        name = f"{prefix}{i}"
        if name not in taken:
            yield sp.Symbol(name)


def fresh_one(name: str, taken: set[str]) -> sp.Symbol:
    """``name`` itself if free, else ``name_1``, ``name_2``, …

    >>> fresh_one("f", {"f"})
    f_1
    """
    if name not in taken:
        return sp.Symbol(name)
    return next(s for s in fresh(name + "_", taken))


def display(symbol: sp.Symbol) -> str:
    """The name of ``symbol`` for plain-text output: ``δ_z3`` for a delta, the name otherwise.

    >>> display(delta(pre_activation(3))), display(weight(1))
    ('δ_z3', 'w1')
    """
    if symbol.name.startswith(DELTA):
        return "δ_" + symbol.name[len(DELTA):]
    return symbol.name


def _split_index(name: str) -> tuple[str, str]:
    """``"w12"`` → ``("w", "12")``; a name without a trailing number → ``(name, "")``."""
    stem = name.rstrip("0123456789")
    return stem, name[len(stem):]


def _latex_plain(name: str) -> str:
    stem, index = _split_index(name)
    if stem and index and "_" not in stem:
        return r"%s_{%s}" % (sp.latex(sp.Symbol(stem)), index)
    return sp.latex(sp.Symbol(name))


def latex_names(graph) -> dict[sp.Symbol, str]:
    """LaTeX for every symbol of ``graph`` and of its deltas: ``w_{1}``, ``z_{3}``, ``\\hat{y}``
    for a network's output (``\\hat{y}_{k}`` for several), ``\\delta_{3}`` for δ of neuron 3's z.

    >>> from symbackprop import mlp
    >>> names = latex_names(mlp([2, 1]))
    >>> names[sp.Symbol("a1")], names[sp.Symbol("w2")], names[sp.Symbol("delta_z1")]
    ('\\\\hat{y}', 'w_{2}', '\\\\delta_{1}')
    """
    names = {symbol: _latex_plain(symbol.name) for symbol in graph.variables}
    last = max((s.layer for s in graph.steps if s.role == "activation"), default=None)
    outputs = [s.symbol for s in graph.steps if s.role == "activation" and s.layer == last]
    for step in graph.steps:
        names[step.symbol] = _latex_plain(step.symbol.name)
    for k, symbol in enumerate(outputs, start=1):
        names[symbol] = r"\hat{y}" if len(outputs) == 1 else r"\hat{y}_{%d}" % k
    for step in graph.steps:
        index = _split_index(step.symbol.name)[1] if step.role == "pre_activation" else ""
        names[delta(step.symbol)] = r"\delta_{%s}" % (index or names[step.symbol])
    return names
