"""The front door: :func:`mlp` builds a network in either form, :func:`backprop` derives a
network or any SymPy expression."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sympy as sp

from . import naming
from .derive import Derivation, derive
from .errors import InputError
from .network import Graph, matrix_mlp, scalar_mlp


def mlp(layers, activation="sigmoid", loss: str = "half_sse", bias: str | None = "per_neuron",
        form: str = "scalar") -> Graph:
    """A fully connected network: ``form="scalar"`` (the default) weight by weight, a graph of
    named steps z_i = Σ w a + b, a_i = g(z_i), J (:func:`~symbackprop.network.scalar_mlp`, where
    ``layers``, ``activation``, ``loss`` and ``bias`` are described); ``form="matrix"`` the same
    network as a graph of matrix steps ``Z_l = W_l A_{l-1} + b_l 𝟏ᵀ``, ``A_l = g∘Z_l`` over a batch
    (:func:`~symbackprop.network.matrix_mlp`), whose derivation serves every width.

    >>> mlp([2, 2, 1]).params
    (w1, w2, w3, w4, w5, w6, b1, b2, b3)
    >>> [p.name for p in mlp([784, 128, 10], form="matrix").params]
    ['W_1', 'b_1', 'W_2', 'b_2']
    """
    if form == "matrix":
        return matrix_mlp(layers, activation, loss, bias)
    if form != "scalar":
        raise InputError(f"unknown form {naming.clipped(form)!r}; use 'scalar' (one symbol per weight) or 'matrix'")
    return scalar_mlp(layers, activation, loss, bias)


def backprop(net_or_expr, wrt=None) -> Derivation:
    """Derive ∂J/∂p for every p in ``wrt`` by one reverse sweep of the chain rule.

    ``net_or_expr`` is a :class:`Graph` (e.g. from :func:`symbackprop.mlp`), a SymPy expression
    or a formula as text (read by :func:`symbackprop.parse.parse_expr`, never evaluated);
    ``wrt`` defaults to the network's parameters, or all the symbols of an expression (by name).
    ``d[p]`` is the closed form; ``d.chain(p)``, ``d.gradient(p)`` and ``d.delta(step)`` the other views.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> backprop(x * sp.sin(y), wrt=[y])[y]
    x*cos(y)
    >>> backprop("x*sin(y)")["y"]
    x*cos(y)

    J may be made of SymPy matrices (``MatrixSymbol``, products, sums, transposes, inverses,
    powers, traces, determinants, Hadamard products and powers, ``M.applyfunc(f)``, ``OneMatrix``
    and ``Identity``), of symbolic or concrete sizes; ∂J/∂W then has W's shape:

    >>> n, m = sp.symbols("n m")
    >>> X, W, Y = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, 1), sp.MatrixSymbol("Y", n, 1)
    >>> backprop(sp.Trace((X*W - Y).T * (X*W - Y)), wrt=[W])[W]
    2*X.T*(X*W - Y)
    """
    graph = net_or_expr if isinstance(net_or_expr, Graph) else Graph.from_expr(net_or_expr)
    return derive(graph, _check_wrt(graph, wrt))


def _check_wrt(graph: Graph, wrt) -> tuple[sp.Symbol, ...]:
    if wrt is None:
        return graph.params
    if isinstance(wrt, (sp.Symbol, sp.MatrixSymbol, str)):
        wrt = [wrt]
    if not isinstance(wrt, Iterable) or isinstance(wrt, Mapping):
        raise InputError(f"wrt must be a symbol, a name or a list of them, got {naming.clipped(repr(wrt))}")
    by_name = {v.name: v for v in graph.variables}
    chosen = []
    for item in wrt:
        name = item if isinstance(item, str) else getattr(item, "name", None)
        if name in {size.name for size in graph.sizes}:
            raise InputError(f"cannot differentiate with respect to {name}: it is a size of the matrices in "
                             f"{graph.description}, not a variable")
        symbolic = isinstance(item, (sp.Symbol, sp.MatrixSymbol))
        if not (symbolic or isinstance(item, str)) or name not in by_name or (symbolic and item != by_name[name]):
            known = ", ".join(by_name)
            raise InputError(f"cannot differentiate with respect to {item!r}: it does not occur in {graph.description} "
                             f"(its symbols: {known})")
        if by_name[name] not in chosen:
            chosen.append(by_name[name])
    return tuple(chosen)
