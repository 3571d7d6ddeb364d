"""A layered network as layer blocks, for vectorised code.

The delta view of a network holds one formula per neuron. Neurons of a layer share their shape,
so a batch computes a layer at once: ``Z = W A + b``, ``A = g(Z)``, and backwards
``dZ = g'(A) ⊙ (Wᵀ dZ_next)``, ``dW = dZ Aᵀ``, ``db = Σ dZ``. The forward blocks are the layers
:func:`~symbackprop.mlp` kept on the graph; the loss and delta blocks are taken from the
per-neuron formulas and checked against each of them (symbolically, on small expressions); a
network whose deltas do not fit gets ``None`` and the per-neuron code instead.

>>> from symbackprop import backprop, mlp
>>> blocks = layer_blocks(backprop(mlp([2, 2, 1])))
>>> blocks.weights[1]
Matrix([[w5, w6]])
>>> blocks.hidden_delta[0]
A_1*(1 - A_1)
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from . import naming
from .derive import Derivation
from .primitives import ACTIVATIONS
from .text import TextPrinter


class softmax_columns(sp.Function):
    """The softmax of each column of a block of logits (one column per sample)."""

    nargs = 1
    index = 1

    @property
    def logits(self) -> tuple:
        return self.args


class matmul(sp.Function):
    """The matrix product of two blocks (not commutative, unlike the elementwise ``*``)."""

    nargs = 2


class transpose(sp.Function):
    """The transpose of a block."""

    nargs = 1


class BlockTextPrinter(TextPrinter):
    """Block formulas as text: ⊙ for elementwise products, juxtaposition for matrix ones; with
    ``upstream`` a product's factor that holds one of those symbols (a delta, the targets) comes first.

    >>> A, W, G = sp.symbols("A_1 W_2 dZ_2")
    >>> BlockTextPrinter(upstream={G}).doprint(A*(1 - A)*matmul(transpose(W), G))
    '(W_2ᵀ dZ_2) ⊙ A_1 ⊙ (1 - A_1)'
    """

    def __init__(self, names=None, settings=None, upstream=()):
        super().__init__(names, settings)
        self.upstream = frozenset(upstream)

    def _print_Mul(self, expr):
        numerator, denominator = sp.fraction(expr)
        if denominator != 1:
            return (f"{self.parenthesize(numerator, PRECEDENCE['Mul'], strict=True)} / "
                    f"{self.parenthesize(denominator, PRECEDENCE['Mul'])}")
        coefficient, rest = expr.as_coeff_Mul()
        factors = sorted(sp.Mul.make_args(rest), key=lambda f: 0 if f.free_symbols & self.upstream else 1)
        factors = [self.parenthesize(f, PRECEDENCE["Mul"], strict=True) if not isinstance(f, matmul) else f"({self._print(f)})"
                   for f in factors]
        head = "" if coefficient == 1 else ("-" if coefficient == -1 else self._print(coefficient) + "·")
        return head + " ⊙ ".join(factors) if len(factors) > 1 or not head else head + factors[0]

    def _print_matmul(self, expr):
        return " ".join(self.parenthesize(a, PRECEDENCE["Mul"], strict=True) for a in expr.args)

    def _print_transpose(self, expr):
        return self.parenthesize(expr.args[0], 1000, strict=True) + "ᵀ"

    def _print_Heaviside(self, expr):
        return f"1[{self._print(expr.args[0])} > 0]"

    def _print_softmax_columns(self, expr):
        return f"softmax({self._print(expr.args[0])}), column by column"


def block(name: str, layer: int | None = None) -> sp.Symbol:
    """The symbol of a layer block: ``Z_2``, ``A_2``, ``dZ_2``; ``X`` and ``Y`` for the data."""
    return sp.Symbol(name if layer is None else f"{name}_{layer}")


@dataclass(frozen=True)
class LayerBlocks:
    """The network as layer blocks (layers numbered from 1; block 0 of ``A`` is ``X``).

    ``weights[l]`` / ``biases[l]``: matrices of parameters (or constants) with ``z = W a + b``;
    ``activation[l]``: ``A_l`` as a function of ``Z_l`` (:class:`softmax_columns` for a softmax layer);
    ``loss``: one sample's loss as a function of ``Y`` and ``A_L``, summed over outputs;
    ``output_delta``: ``dZ_L`` in ``A_L``, ``Y``, ``Z_L``; ``hidden_delta[l]``: the factor ``g'``
    with ``dZ_l = g' ⊙ (W_{l+1}ᵀ dZ_{l+1})``.
    """

    sizes: tuple[int, ...]
    weights: tuple[sp.Matrix, ...]
    biases: tuple[sp.Matrix, ...]
    activation: tuple[sp.Expr, ...]
    loss: sp.Expr
    output_delta: sp.Expr
    hidden_delta: tuple[sp.Expr, ...]


def _same(templates) -> sp.Expr | None:
    templates = list(templates)
    return templates[0] if templates and all(t == templates[0] for t in templates) else None


def layer_blocks(d: Derivation) -> LayerBlocks | None:
    """``d``'s network as layer blocks, from the layers :func:`~symbackprop.mlp` kept on its graph,
    or None when it has none or its loss or deltas do not fit the blocks (derived for some
    parameters only, or an output delta that mixes the outputs)."""
    graph = d.graph
    if not graph.layers or set(d.wrt) != set(graph.params):
        return None
    weights = [sp.Matrix(layer.weights) for layer in graph.layers]
    biases = [sp.Matrix(layer.biases) for layer in graph.layers]
    activation = [softmax_columns(block("Z", layer.index)) if layer.activation == "softmax"
                  else ACTIVATIONS[layer.activation](block("Z", layer.index)) for layer in graph.layers]
    count = len(graph.layers)
    z_steps = {layer.index: [graph.step(z) for z in layer.pre_activations] for layer in graph.layers}
    a_steps = {layer.index: [graph.step(a) for a in layer.activations] for layer in graph.layers}

    last = count
    A, Y, Z = block("A", last), block("Y"), block("Z", last)
    outputs = [s.symbol for s in a_steps[last]]
    last_zs = [s.symbol for s in z_steps[last]]
    per_output = [{a: A, y: Y, z: Z} for a, y, z in zip(outputs, graph.targets, last_zs)]
    terms = sp.Add.make_args(graph.steps[-1].expr)
    if len(terms) != len(outputs) or len(outputs) != len(graph.targets):
        return None
    by_output = {}
    for term in terms:
        owner = [k for k, a in enumerate(outputs) if a in term.free_symbols]
        if len(owner) != 1:
            return None
        by_output[owner[0]] = term.xreplace(per_output[owner[0]])
    loss = _same(by_output[k] for k in range(len(outputs)))
    deltas = dict(d.deltas)
    output_delta = _same(deltas.get(naming.delta(z), sp.nan).xreplace(m) for z, m in zip(last_zs, per_output))
    if loss is None or output_delta is None or output_delta.has(sp.nan) or (loss.free_symbols | output_delta.free_symbols) - {A, Y, Z}:
        return None

    hidden_delta = []
    for layer in range(1, last):
        following = [naming.delta(s.symbol) for s in z_steps[layer + 1]]
        W = weights[layer]  # the next layer's matrix
        templates = []
        for j, (z_step, a_step) in enumerate(zip(z_steps[layer], a_steps[layer])):
            expr = deltas.get(naming.delta(z_step.symbol))
            if expr is None:
                return None
            factors = sp.Mul.make_args(expr)
            local = sp.Mul(*[f for f in factors if not f.free_symbols & (set(following) | set(graph.params))])
            incoming = sp.Mul(*[f for f in factors if f.free_symbols & (set(following) | set(graph.params))])
            if sp.expand(incoming - sp.Add(*[W[k, j] * following[k] for k in range(len(following))])) != 0:
                return None
            templates.append(local.xreplace({a_step.symbol: block("A", layer), z_step.symbol: block("Z", layer)}))
        template = _same(templates)
        if template is None or template.free_symbols - {block("A", layer), block("Z", layer)}:
            return None
        hidden_delta.append(template)

    sizes = (len(graph.inputs), *(len(z_steps[layer]) for layer in range(1, last + 1)))
    return LayerBlocks(sizes, tuple(weights), tuple(biases), tuple(activation), loss, output_delta, tuple(hidden_delta))
