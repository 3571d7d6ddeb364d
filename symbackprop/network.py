"""Networks and expressions as graphs: straight-line programs of named SymPy steps.

A :class:`Graph` is an ordered tuple of :class:`Step` assignments ``symbol = expr``; each ``expr``
uses the graph's variables (inputs, targets, parameters) and the symbols of earlier steps only.
The last step is the output (the loss ``J`` of a network, ``f`` of an expression).

>>> net = scalar_mlp([2, 1], activation="sigmoid", loss="half_sse")
>>> [f"{s.symbol} = {s.expr}" for s in net.steps]
['z1 = b1 + w1*x1 + w2*x2', 'a1 = sigmoid(z1)', 'J = (-a1 + y1)**2/2']
>>> net.loss
(y1 - sigmoid(b1 + w1*x1 + w2*x2))**2/2
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

import sympy as sp

from . import naming
from .errors import InputError
from .matrices import LEAVES, elementwise, has_matrices, is_matrix, normalised, product, shared_transposes, sizes
from .parse import parse_expr, refuse_undefined
from .primitives import ACTIVATIONS, FUSED_DELTAS, LOSSES
from .simplify import recognize_activations, substitute

BIAS_MODES = ("per_neuron", "per_layer", None)
MAX_WEIGHTS = 100_000  # of a network weight by weight; larger ones take the matrix form

# Losses that take logarithms of the outputs → the output activations that keep them in range
# and with which they are computed stably, on the logits (primitives' ``on_logits``).
PROBABILITY_LOSSES = {
    "bce": ("outputs in (0, 1)", ("sigmoid",)),
    "cross_entropy": ("positive outputs (probabilities)", ("softmax", "sigmoid")),
}
# (output activation, loss) pairs that are defined but cannot be computed stably → why, and what to use.
UNSTABLE = {
    ("softmax", "bce"): "its gradient divides by ŷ(1 − ŷ), which is 0 in float64 once the logits are about 40 "
                        "apart; use cross_entropy after softmax, or bce after sigmoid",
}


class _ExpressionTypeError(InputError, TypeError):
    """Something that is not a scalar SymPy expression where one is needed (also a TypeError)."""


@dataclass(frozen=True)
class Step:
    """One named assignment ``symbol = expr`` of a graph.

    ``role`` says what the step is: ``"pre_activation"`` (z), ``"activation"`` (a), ``"loss"`` (J)
    or ``"operation"`` (an intermediate of an expression). ``layer`` and ``neuron`` number the
    steps of a network (1-based, neurons across the whole network); they are ``None`` elsewhere.
    """

    symbol: sp.Symbol
    expr: sp.Expr
    role: str = "operation"
    layer: int | None = None
    neuron: int | None = None


@dataclass(frozen=True)
class Layer:
    """One fully connected layer as :func:`scalar_mlp` builds it: ``z = W a + b``, ``a = g(z)``.

    ``weights`` holds one row of weight symbols per neuron, ``biases`` each neuron's bias (its
    own, the layer's shared one, or 0), ``pre_activations`` and ``activations`` the step symbols
    z and a of its neurons, ``activation`` the name of g (:data:`~symbackprop.primitives.ACTIVATIONS`).
    """

    index: int
    weights: tuple[tuple[sp.Symbol, ...], ...]
    biases: tuple[sp.Expr, ...]
    pre_activations: tuple[sp.Symbol, ...]
    activations: tuple[sp.Symbol, ...]
    activation: str


@dataclass(frozen=True)
class NetworkSpec:
    """How :func:`symbackprop.mlp` built a network: its layer sizes, one activation per
    non-input layer, its loss and its bias mode; the same network in either form.

    >>> scalar_mlp([2, 1], loss="bce").spec
    NetworkSpec(sizes=(2, 1), activations=('sigmoid',), loss='bce', bias='per_neuron')
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    bias: str | None


@dataclass(frozen=True)
class Graph:
    """A straight-line program of named SymPy steps, the input of :func:`symbackprop.backprop`.

    ``fused`` maps a step to its delta ∂J/∂step where a rule collapses the chain further than the
    generic sweep would (softmax + cross-entropy); ``description`` says in words what it computes;
    ``sizes`` are the symbols that stand for sizes of its matrices (``n`` of an n×m ``X``),
    ``given_sizes`` the numbers given for some of them (a network's layer widths);
    ``layers`` the layers of a network as it was built (:class:`Layer`), first to last, and
    ``spec`` how :func:`symbackprop.mlp` built it (:class:`NetworkSpec`; None for any other graph).
    A step or variable with a matrix value has a ``MatrixSymbol`` of that shape as its symbol.
    """

    steps: tuple[Step, ...]
    inputs: tuple[sp.Symbol, ...] = ()
    targets: tuple[sp.Symbol, ...] = ()
    params: tuple[sp.Symbol, ...] = ()
    fused: Mapping[sp.Symbol, sp.Expr] = field(default_factory=dict, hash=False)
    description: str = ""
    sizes: tuple[sp.Symbol, ...] = ()
    layers: tuple[Layer, ...] = ()
    given_sizes: Mapping[sp.Symbol, int] = field(default_factory=dict, hash=False)
    spec: NetworkSpec | None = None
    _closed: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "fused", MappingProxyType(dict(self.fused)))
        object.__setattr__(self, "given_sizes", MappingProxyType(dict(self.given_sizes)))
        if not self.steps:
            raise InputError("a graph needs at least one step")
        known = set(self.variables) | set(self.sizes)
        for step in self.steps:
            if step.symbol in known:
                raise InputError(f"step {step.symbol} reuses the name of a variable or an earlier step")
            unknown = step.expr.free_symbols - known
            if unknown:
                names = ", ".join(sorted(map(str, unknown)))
                raise InputError(f"step {step.symbol} = {naming.clipped(step.expr)} uses {names}, defined neither as a variable nor earlier")
            known.add(step.symbol)
        missing = set(self.fused) - {s.symbol for s in self.steps}
        if missing:
            raise InputError(f"fused deltas name steps that do not exist: {sorted(map(str, missing))}")

    def __repr__(self) -> str:
        return f"<Graph of {self.description or self.output}: {len(self.steps)} steps>"

    @property
    def variables(self) -> tuple[sp.Symbol, ...]:
        """The leaves: inputs, targets and parameters."""
        return self.inputs + self.targets + self.params

    @property
    def is_network(self) -> bool:
        """Whether the graph is a network, with inputs and targets, not a function of its variables.

        >>> scalar_mlp([1, 1]).is_network, Graph.from_expr("x*y").is_network
        (True, False)
        """
        return bool(self.inputs and self.targets)

    @cached_property
    def has_matrices(self) -> bool:
        """Whether any variable or step of the graph is a matrix.

        >>> Graph.from_expr(sp.Trace(sp.MatrixSymbol("X", 2, 2))).has_matrices, scalar_mlp([1, 1]).has_matrices
        (True, False)
        """
        return any(is_matrix(s) for s in self.variables) or any(is_matrix(s.symbol) for s in self.steps)

    @property
    def output(self) -> sp.Symbol:
        """The symbol of the last step (``J`` of a network)."""
        return self.steps[-1].symbol

    @property
    def outputs(self) -> tuple[sp.Symbol, ...]:
        """What the graph predicts: a network's last-layer activations, else the output itself."""
        last = max((s.layer for s in self.steps if s.role == "activation"), default=None)
        found = tuple(s.symbol for s in self.steps if s.role == "activation" and s.layer == last)
        return found or (self.output,)

    @property
    def loss(self) -> sp.Expr:
        """The output as one composed expression in the variables only."""
        return self.closed_steps()[self.output]

    def step(self, symbol: sp.Symbol) -> Step:
        """The step that defines ``symbol``.

        >>> scalar_mlp([1, 1]).step(sp.Symbol("a1")).expr
        sigmoid(z1)
        """
        for step in self.steps:
            if step.symbol == symbol:
                return step
        raise KeyError(f"{symbol} is not a step of this graph; steps: {', '.join(str(s.symbol) for s in self.steps)}")

    def closed_steps(self) -> dict[sp.Symbol, sp.Expr]:
        """Every step symbol → its value in the variables only.

        Built once, step by step, each from its arguments' closed forms: the work follows the DAG,
        never the (exponentially larger) tree of a deep network's composition.
        """
        if not self._closed:
            closed: dict[sp.Symbol, sp.Expr] = {}
            for step in self.steps:
                closed[step.symbol] = substitute(step.expr, closed)
            self._closed.update(closed)
        return dict(self._closed)

    @classmethod
    def from_expr(cls, expr, name: str = naming.EXPRESSION_OUTPUT) -> Graph:
        """Break any SymPy expression, or a formula as text (read by
        :func:`~symbackprop.parse.parse_expr`, never evaluated), into one step per operation (its
        DAG, shared parts once); a max or min of more than two arguments becomes two-argument
        steps paired level by level (:func:`_in_pairs`), so its derivation grows linearly with them.

        Its free symbols become the parameters (sorted by name); hand-written sigmoids
        ``1/(1 + exp(-u))`` and softpluses ``log(1 + exp(u))`` are recognised as such. An
        expression with no value (it contains 1/0, log(0), 0/0 or ∞) or an unevaluated operation
        (Derivative, Integral, Sum) is refused with an :class:`InputError`; a function without a
        derivative rule (Mod, floor, an undefined ``f(x)``) is refused when it must be differentiated.

        >>> x, y = sp.symbols("x y")
        >>> from symbackprop import sigmoid
        >>> g = Graph.from_expr(x * sigmoid(y) + x)
        >>> [f"{s.symbol} = {s.expr}" for s in g.steps]
        ['v1 = sigmoid(y)', 'v2 = v1*x', 'f = v2 + x']
        >>> Graph.from_expr("x*σ(y) + x").description
        'f = x*sigmoid(y) + x'
        """
        expr = as_expression(expr)
        matrix_sizes = sizes(expr)
        expr = shared_transposes(expr) if has_matrices(expr) else recognize_activations(expr)
        variables = tuple(sorted(expr.free_symbols - set(matrix_sizes), key=lambda s: s.name))
        if not variables:
            raise InputError(f"the expression {naming.clipped(expr)} has no symbols to differentiate with respect to")
        names = sorted(s.name for s in variables + matrix_sizes)
        for first, second in itertools.pairwise(names):
            if first == second:
                raise InputError(f"the expression holds two different symbols named {first!r} (a size of a matrix and a "
                                 f"variable, or two sizes SymPy tells apart by their assumptions); give them different names")
        taken = set(names)
        taken |= {name[len(naming.DELTA):] for name in names if name.startswith(naming.DELTA)}  # δ of no step is a variable
        output = naming.fresh_one(name, taken)
        taken.add(output.name)
        fresh = naming.fresh(naming.EXPRESSION_STEP, taken)

        symbol_of: dict[sp.Expr, sp.Symbol] = {}
        steps: list[Step] = []
        for node in _postorder(expr, set(matrix_sizes)):
            args = [symbol_of.get(arg, arg) for arg in node.args]
            if isinstance(node, sp.Transpose):  # written where it is used: no step of its own
                symbol_of[node] = sp.Transpose(args[0])
                continue
            if isinstance(node, (sp.Max, sp.Min)):
                rebuilt = node.func(*_in_pairs(node.func, args, fresh, steps), evaluate=False)
            else:
                rebuilt = node.func(*args)
            symbol = output if node == expr else next(fresh)
            if is_matrix(node):
                symbol = sp.MatrixSymbol(symbol.name, *node.shape)
            steps.append(Step(symbol, rebuilt))
            symbol_of[node] = symbol
        if not steps:  # the expression is a single symbol
            steps.append(Step(output, expr))
        return cls(tuple(steps), params=variables, description=f"{output} = {expr}", sizes=matrix_sizes)


def as_expression(expr) -> sp.Expr:
    """``expr`` (a formula, read by the safe parser, or a scalar SymPy expression, which may be
    made of matrices: :func:`~symbackprop.matrices.normalised`) checked for use: not too deep,
    defined, real, and with no unevaluated derivative, integral or sum.

    >>> as_expression("x*sigmoid(y)"), as_expression(sp.Symbol("x") ** 2)
    (x*sigmoid(y), x**2)
    """
    if isinstance(expr, str):
        return parse_expr(expr)  # checked as it is read
    try:
        expr = sp.sympify(expr, strict=True)
    except (sp.SympifyError, TypeError):
        raise _ExpressionTypeError(f"cannot use {naming.clipped(expr)} ({type(expr).__name__}) as an expression") from None
    if isinstance(expr, sp.MatrixBase):
        raise _ExpressionTypeError(f"expected a scalar SymPy expression, got the explicit matrix {naming.clipped(expr)}: "
                                   f"write matrices as MatrixSymbol('X', n, m)")
    if has_matrices(expr):
        expr = normalised(expr)
    if not isinstance(expr, sp.Expr) or isinstance(expr, sp.Lambda) or not expr.is_commutative:
        raise _ExpressionTypeError(f"expected a scalar SymPy expression, got {type(expr).__name__}: {naming.clipped(expr)}")
    refuse_undefined(expr)
    named: dict[str, sp.Symbol] = {}
    for symbol in sorted(expr.free_symbols, key=sp.default_sort_key):
        other = named.setdefault(symbol.name, symbol)
        if other != symbol:  # SymPy keeps them apart (assumptions, Dummy); every output would merge them
            raise InputError(f"the expression holds two different symbols named {symbol.name!r} (SymPy tells them apart by "
                             f"their assumptions or as a Dummy); give them different names")
    for kind in _UNEVALUATED:
        if expr.has(kind):
            raise InputError(f"the expression contains an unevaluated {kind.__name__}: evaluate it first (.doit()) or write it out")
    return expr


# Operations whose variables are bound inside them, or that stand for a computation not done yet.
_UNEVALUATED = (sp.Derivative, sp.Subs, sp.Integral, sp.Sum, sp.Product, sp.Limit)


def _in_pairs(func, args: list, fresh, steps: list[Step]) -> list:
    """The arguments of a max or min of more than two, paired into two-argument steps level by
    level until two are left (max(a, b, c, d, e) = max(max(max(a, b), max(c, d)), e)): each step's
    local derivative is H(a − b), so the derivation grows linearly with the number of arguments,
    and the nesting only as log₂ of it. The steps are appended to ``steps``; the last two returned.

    >>> a, b, c, d, e = sp.symbols("a b c d e")
    >>> steps = []
    >>> _in_pairs(sp.Max, [a, b, c, d, e], iter(sp.symbols("v1:9")), steps), [s.expr for s in steps]
    ([v3, e], [Max(a, b), Max(c, d), Max(v1, v2)])
    """
    if len(args) > 2:  # neighbours in the names' order: max(x1, x2) first, not SymPy's max(x1, x10)
        args = sorted(args, key=lambda a: (0, *naming.natural_key(a.name)) if a.is_Symbol else (1, sp.default_sort_key(a)))
    while len(args) > 2:
        level = []
        for first, second in zip(args[::2], args[1::2]):
            level.append(next(fresh))
            steps.append(Step(level[-1], func(first, second, evaluate=False)))
        args = level + args[2 * len(level):]
    return args


def _postorder(expr: sp.Expr, constants: set = frozenset()):
    """Compound sub-expressions that involve a variable (a symbol not in ``constants``), each
    once, children before parents; matrices without arguments to differentiate are leaves."""
    seen: set = set()
    stack = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if (node in seen or not isinstance(node, sp.Expr) or node.is_Atom or isinstance(node, LEAVES)
                or not node.free_symbols - constants):
            continue
        if expanded:
            seen.add(node)
            yield node
        else:
            stack.append((node, True))
            stack.extend((arg, False) for arg in reversed(node.args))


def weight_count(layers: Sequence[int]) -> int:
    """How many weights a fully connected network with these layer sizes has.

    >>> weight_count([784, 128, 10])
    101632
    """
    return sum(a * b for a, b in itertools.pairwise(layers))


def scalar_mlp(layers: Sequence[int], activation="sigmoid", loss: str = "half_sse", bias: str | None = "per_neuron") -> Graph:
    """A fully connected network weight by weight, as a graph of named steps z_i = Σ w a + b,
    a_i = g(z_i), J: what :func:`symbackprop.mlp` builds in its default form, ``form="scalar"``.

    ``layers`` is ``[n_inputs, hidden…, n_outputs]``; ``activation`` one name or one per
    non-input layer (names in :data:`symbackprop.primitives.ACTIVATIONS`); ``loss`` one of
    :data:`symbackprop.primitives.LOSSES`; ``bias`` ``"per_neuron"``, ``"per_layer"`` (one bias
    shared by a layer's neurons) or ``None``. Neurons are numbered across the network; weights
    layer by layer, target neuron first, then source neuron; ``params`` lists weights, then biases.
    Cross-entropy after a softmax takes the targets to be a probability vector (Σ y = 1).
    ``bce`` and ``cross_entropy`` take logarithms of the outputs, so they need a sigmoid (or, for
    cross_entropy, a softmax) on the output layer (:data:`PROBABILITY_LOSSES`), with which they are
    computed on the logits, finite for every logit; other output activations are refused.

    >>> net = scalar_mlp([2, 2, 2, 1], bias="per_layer")
    >>> net.params
    (w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, b1, b2, b3)
    >>> net.step(sp.Symbol("z3")).expr
    a1*w5 + a2*w6 + b2
    """
    layers = _check_layers(layers)
    weights = weight_count(layers)
    if weights > MAX_WEIGHTS:
        raise InputError(f"the {'-'.join(map(str, layers))} network has {weights:,} weights; weight by weight, at most "
                         f"{MAX_WEIGHTS:,} are derived (a symbol and a formula each): use the matrix form")
    activations = _check_activations(activation, layers)
    _check_loss(loss, activations[-1])
    if not isinstance(bias, (str, type(None))) or bias not in BIAS_MODES:
        raise InputError(f"unknown bias mode {naming.clipped(bias)!r}; use one of: {', '.join(map(repr, BIAS_MODES))}")

    inputs = tuple(naming.input_(i) for i in range(1, layers[0] + 1))
    targets = tuple(naming.target(i) for i in range(1, layers[-1] + 1))
    weights: list[sp.Symbol] = []
    biases: list[sp.Symbol] = []
    steps: list[Step] = []
    built: list[Layer] = []
    previous: tuple[sp.Symbol, ...] = inputs
    neuron = 0
    for layer, (width, name) in enumerate(zip(layers[1:], activations), start=1):
        if bias == "per_layer":
            biases.append(naming.bias(len(biases) + 1))
        zs, rows, offsets = [], [], []
        for _ in range(width):
            neuron += 1
            row = tuple(naming.weight(len(weights) + j) for j in range(1, len(previous) + 1))
            weights.extend(row)
            if bias == "per_neuron":
                biases.append(naming.bias(len(biases) + 1))
            offset = biases[-1] if bias else sp.S.Zero
            z = naming.pre_activation(neuron)
            steps.append(Step(z, sp.Add(*[w * a for w, a in zip(row, previous)], offset), "pre_activation", layer, neuron))
            zs.append(z)
            rows.append(row)
            offsets.append(offset)
        first = neuron - width + 1
        previous = tuple(naming.activation(i) for i in range(first, neuron + 1))
        for k, (z, a) in enumerate(zip(zs, previous), start=1):
            value = ACTIVATIONS[name](k, *zs) if name == "softmax" else ACTIVATIONS[name](z)
            steps.append(Step(a, value, "activation", layer, first + k - 1))
        built.append(Layer(layer, tuple(rows), tuple(offsets), tuple(zs), previous, name))
    steps.append(Step(naming.loss(), LOSSES[loss](targets, previous), "loss"))

    rule = FUSED_DELTAS.get((activations[-1], loss))
    fused = {z: rule(a, y) for z, a, y in zip(zs, previous, targets)} if rule else {}
    names = activations[0] if len(set(activations)) == 1 else ", ".join(activations)
    description = f"the {'-'.join(map(str, layers))} network, {names}, loss {loss}, bias {bias or 'none'}"
    return Graph(tuple(steps), inputs, targets, tuple(weights + biases), fused, description, layers=tuple(built),
                 spec=NetworkSpec(layers, activations, loss, bias))


BATCH = sp.Symbol("m", positive=True, integer=True)  # samples in a batch of the matrix form: its columns


def matrix_mlp(layers: Sequence[int], activation="sigmoid", loss: str = "half_sse", bias: str | None = "per_neuron") -> Graph:
    """The network of :func:`scalar_mlp` in matrix form, a graph of matrix steps for a batch of
    ``m`` samples, one per column: ``Z_l = W_l A_{l-1} + b_l 𝟏ᵀ``, ``A_l = g∘Z_l`` (a softmax
    column by column), and the loss J, the mean over the batch of each sample's loss. ``X`` is
    ``A_0``, ``Y`` the targets; layer l has ``n_l`` units, a symbol, so that one derivation serves
    every width (the widths given are checked, named in the description and kept as the graph's
    ``given_sizes`` for where numbers are needed). ``bias`` is ``"per_neuron"`` (a column
    ``b_l``), ``"per_layer"`` (one number ``b_l``) or None.

    >>> net = matrix_mlp([784, 128, 10], activation=["relu", "softmax"], loss="cross_entropy")
    >>> [f"{s.symbol} = {s.expr}" for s in net.steps][:2]
    ['Z_1 = W_1*X + b_1*1', 'A_1 = Lambda(_d, relu(_d)).(Z_1)']
    >>> net.params, dict(net.fused)
    ((W_1, b_1, W_2, b_2), {Z_2: 1/m*(A_2 - Y)})
    """
    sizes = _check_layers(layers)
    activations = _check_activations(activation, sizes)
    _check_loss(loss, activations[-1])
    if not isinstance(bias, (str, type(None))) or bias not in BIAS_MODES:
        raise InputError(f"unknown bias mode {naming.clipped(bias)!r}; use one of: {', '.join(map(repr, BIAS_MODES))}")
    units = [sp.Symbol(f"n_{l}", positive=True, integer=True) for l in range(len(sizes))]
    X, Y = sp.MatrixSymbol("X", units[0], BATCH), sp.MatrixSymbol("Y", units[-1], BATCH)
    t = sp.Dummy("t")
    steps, params, previous = [], [], X
    for layer, name in enumerate(activations, start=1):
        rows = units[layer]
        W = sp.MatrixSymbol(f"W_{layer}", rows, units[layer - 1])
        Z, A = sp.MatrixSymbol(f"Z_{layer}", rows, BATCH), sp.MatrixSymbol(f"A_{layer}", rows, BATCH)
        params.append(W)
        affine = W * previous
        if bias == "per_neuron":
            params.append(sp.MatrixSymbol(f"b_{layer}", rows, 1))
            affine = affine + params[-1] * sp.OneMatrix(1, BATCH)
        elif bias == "per_layer":
            params.append(sp.Symbol(f"b_{layer}"))
            affine = affine + product(params[-1], sp.OneMatrix(rows, BATCH))
        steps.append(Step(Z, affine, "pre_activation", layer))
        value = ACTIVATIONS[name](Z) if name == "softmax" else elementwise(ACTIVATIONS[name](t), {t: Z})
        steps.append(Step(A, value, "activation", layer))
        previous = A
    y, a = sp.symbols("y a")  # one output's loss, entry by entry (mse's mean over the outputs: 1/n_L each)
    each = elementwise(LOSSES[loss]((y,), (a,)).rewrite(sp.exp) / (units[-1] if loss == "mse" else 1), {y: Y, a: previous})
    J = normalised(sp.OneMatrix(1, units[-1]) * each * sp.OneMatrix(BATCH, 1) / BATCH)
    steps.append(Step(naming.loss(), J, "loss"))
    rule = FUSED_DELTAS.get((activations[-1], loss))
    fused = {steps[-3].symbol: product(1 / BATCH, rule(previous, Y))} if rule else {}
    names = activations[0] if len(set(activations)) == 1 else ", ".join(activations)
    description = f"the {'-'.join(map(str, sizes))} network in matrix form, {names}, loss {loss}, bias {bias or 'none'}"
    return Graph(tuple(steps), (X,), (Y,), tuple(params), fused, description, (*units, BATCH), given_sizes=dict(zip(units, sizes)),
                 spec=NetworkSpec(sizes, activations, loss, bias))


def _check_layers(layers) -> tuple[int, ...]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise InputError(f"layers must be a list of layer sizes like [2, 2, 1], got {naming.clipped(repr(layers))}")
    if len(layers) < 2:
        raise InputError(f"layers needs at least an input and an output size, got {naming.clipped(list(layers))}")
    for size in layers:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise InputError(f"layer sizes must be positive integers, got {naming.clipped(list(layers))}")
    return tuple(int(size) for size in layers)


def _check_activations(activation, layers: tuple[int, ...]) -> tuple[str, ...]:
    """One known activation name per non-input layer of ``layers`` (checked sizes); a softmax
    needs at least two units in its layer.

    >>> _check_activations("sigmoid", (2, 3, 1))
    ('sigmoid', 'sigmoid')
    >>> _check_activations(["relu", "softmax"], (2, 3, 1))
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: softmax needs at least 2 units in its layer (the softmax of one unit is always 1): layer 2 has 1
    """
    count = len(layers) - 1
    if isinstance(activation, str):
        names = (activation,) * count
    elif isinstance(activation, Sequence):
        names = tuple(activation)
    else:
        raise InputError(f"activation must be a name or a list of names, got {naming.clipped(repr(activation))}")
    if len(names) != count:
        raise InputError(f"got {len(names)} activations for {count} non-input layers; give one name or one per layer")
    for name in names:
        if not isinstance(name, str) or name not in ACTIVATIONS:
            raise InputError(f"unknown activation {naming.clipped(repr(name))}; known activations: {', '.join(ACTIVATIONS)}")
    for layer, (name, width) in enumerate(zip(names, layers[1:]), start=1):
        if name == "softmax" and width < 2:
            raise InputError(f"softmax needs at least 2 units in its layer (the softmax of one unit is always 1): layer {layer} has {width}")
    return names


def _check_loss(loss, output_activation: str) -> None:
    """The loss is known, and the output activation gives it values it is defined on.

    >>> _check_loss("bce", "identity")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: loss bce needs outputs in (0, 1): use sigmoid on the output layer, not identity
    >>> _check_loss("bce", "softmax")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: loss bce after softmax cannot be computed stably: its gradient divides by ŷ(1 − ŷ), which is 0 in float64 once the logits are about 40 apart; use cross_entropy after softmax, or bce after sigmoid
    """
    if not isinstance(loss, str) or loss not in LOSSES:
        raise InputError(f"unknown loss {naming.clipped(repr(loss))}; known losses: {', '.join(LOSSES)}")
    if (output_activation, loss) in UNSTABLE:
        raise InputError(f"loss {loss} after {output_activation} cannot be computed stably: {UNSTABLE[output_activation, loss]}")
    if loss in PROBABILITY_LOSSES:
        needs, fits = PROBABILITY_LOSSES[loss]
        if output_activation not in fits:
            raise InputError(f"loss {loss} needs {needs}: use {' or '.join(fits)} on the output layer, not {output_activation}")
