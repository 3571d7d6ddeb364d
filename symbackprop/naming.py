"""Every name the library gives: symbols of networks, steps and deltas.

One place for the conventions, so the engine, the printers and generated code agree.

>>> weight(3), pre_activation(2), activation(2), delta(pre_activation(2))
(w3, z2, a2, delta_z2)
"""

from __future__ import annotations

import itertools
import keyword

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
    outputs = [s for s in graph.outputs if s != graph.output]
    for step in graph.steps:
        names[step.symbol] = _latex_plain(step.symbol.name)
    for k, symbol in enumerate(outputs, start=1):
        names[symbol] = r"\hat{y}" if len(outputs) == 1 else r"\hat{y}_{%d}" % k
    for step in graph.steps:
        index = _split_index(step.symbol.name)[1] if step.role == "pre_activation" else ""
        names[delta(step.symbol)] = r"\delta_{%s}" % (index or names[step.symbol])
    return names


# The names a generated module gives itself: its imports, functions and constants, and the
# arguments and locals of its functions; its helpers all start with "_".
RESERVED = frozenset({"np", "math", "forward", "loss", "loss_and_gradients", "gradients", "PARAMETERS", "INPUTS",
                      "TARGETS", "OUTPUTS", "PROBABILITY_TARGETS", "params", "inputs", "targets", "function", "want",
                      "rows", "n", "inv_n", "J"})


def _identifier(name: str, taken: set[str]) -> str:
    """``name`` made a fresh Python identifier: bad characters become ``_``, a leading digit or
    ``_`` gets a ``v`` before it, keywords, reserved names and names already taken a trailing ``_``."""
    clean = "".join(c if (c.isalnum() or c == "_") and c.isascii() else "_" for c in name) or "_"
    if clean[0].isdigit() or clean[0] == "_":
        clean = "v" + clean
    while keyword.iskeyword(clean) or clean in taken or clean in RESERVED:
        clean += "_"
    taken.add(clean)
    return clean


def _stepped(name: str) -> str:
    """``z12`` → ``z_12``: a step's number set off, as in the math."""
    stem, index = _split_index(name)
    return f"{stem}_{index}" if stem and index and not stem.endswith("_") else name


def code_names(graph) -> dict[sp.Symbol, str]:
    """Python names for generated code: variables keep their own names (``w5``, ``x1``), steps set
    their number off (``z_2``, ``a_2``), deltas of neurons are ``delta_2``, others ``delta_v_3``,
    gradients ``dJ_dw5``; the loss is ``J``.

    >>> from symbackprop import mlp
    >>> names = code_names(mlp([2, 1]))
    >>> [names[sp.Symbol(s)] for s in ("x1", "z1", "a1", "delta_z1", "J")], names[gradient_symbol(sp.Symbol("w1"))]
    (['x1', 'z_1', 'a_1', 'delta_1', 'J'], 'dJ_dw1')
    """
    taken: set[str] = set()
    names = {s: _identifier(s.name, taken) for s in graph.variables}
    for step in graph.steps:
        names[step.symbol] = "J" if step.symbol == graph.output else _identifier(_stepped(step.symbol.name), taken)
    for step in graph.steps:
        index = _split_index(step.symbol.name)[1] if step.role == "pre_activation" else ""
        names[delta(step.symbol)] = _identifier(f"delta_{index or names[step.symbol]}", taken)
    for p in graph.variables:
        names[gradient_symbol(p)] = _identifier(f"dJ_d{names[p]}", taken)
    return names


def gradient_symbol(variable: sp.Symbol) -> sp.Symbol:
    """The symbol standing for ∂J/∂variable in generated code."""
    return sp.Symbol("dJ_d" + variable.name)
