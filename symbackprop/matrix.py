"""Networks in matrix form: layers as matrix expressions, backprop as vector-Jacobian rules.

A batch is a matrix with one column per sample: ``X`` is ``n_0 × m``, layer ``l`` computes
``Z_l = W_l A_{l-1} + b_l`` (``W_l``: ``n_l × n_{l-1}``, ``b_l``: ``n_l × 1``, broadcast over the
``m`` columns) and ``A_l = g(Z_l)``; the loss is the mean over the batch of the per-sample loss.
Sizes stay symbolic, so one derivation serves every width.

Formulas are SymPy expressions over symbols named after the matrices: an ordinary product of
matrices is elementwise (⊙), and :class:`matmul`, :class:`transpose` and :class:`rowsum` are
the linear algebra. The reverse sweep applies one vector-Jacobian rule per operation
(:data:`VJP_RULES`) and gives the textbook formulas: ``dZ_2 = Ŷ − Y``,
``dW_2 = dZ_2 A_1ᵀ / m``, ``db_2 = Σ dZ_2 / m``, ``dZ_1 = (W_2ᵀ dZ_2) ⊙ g'(Z_1)``. The output
matrix (the symbol ``A_2`` here) is shown as ``Ŷ`` (:func:`naming.matrix_names`, :func:`text_printer`).

>>> net = matrix_mlp([784, 128, 10], activation=["relu", "softmax"], loss="cross_entropy")
>>> d = matrix_backprop(net)
>>> dict(d.deltas)[sp.Symbol("dZ_2")], dict(d.deltas)[sp.Symbol("dZ_1")]
(A_2 - Y, Heaviside(Z_1, 0)*matmul(transpose(W_2), dZ_2))
>>> dict(d.gradients)[sp.Symbol("W_1")]
matmul(dZ_1, transpose(X))/m

Networks of your own are lists of :class:`MatrixStep` (``affine``, ``elementwise``, ``softmax``,
``loss``) with the shape of every matrix; here logistic regression with names of one's choice:

>>> n, m = sp.Symbol("n", positive=True, integer=True), BATCH
>>> x, t, w, c, s, p, J = sp.symbols("x t w c s p J")
>>> shapes = {x: (n, m), t: (1, m), w: (1, n), c: (1, 1), s: (1, m), p: (1, m)}
>>> steps = (MatrixStep(s, "affine", (w, x, c)), MatrixStep(p, "elementwise", ("sigmoid", s)),
...          MatrixStep(J, "loss", ("bce", t, p)))
>>> logistic = MatrixGraph(steps, shapes, inputs=(x,), targets=(t,), params=(w, c), sizes=(3, 1))
>>> matrix_backprop(logistic).gradients
((w, matmul(ds, transpose(x))/m), (c, rowsum(ds)/m))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from . import naming
from .derive import latex_display
from .errors import InputError
from .network import BIAS_MODES, _check_activations, _check_layers, _check_loss
from .primitives import ACTIVATIONS, FUSED_DELTAS, LOSSES
from .simplify import local_partial
from .text import TextPrinter

BATCH = sp.Symbol("m", positive=True, integer=True)  # samples in a batch: the columns


class matmul(sp.Function):
    """The matrix product of two matrices (not commutative, unlike the elementwise ``*``)."""

    nargs = 2

    def _latex(self, printer, exp=None):
        return " ".join(printer.parenthesize(a, 1000, strict=True) if isinstance(a, sp.Add) else printer._print(a)
                        for a in self.args)


class transpose(sp.Function):
    """The transpose of a matrix."""

    nargs = 1

    def _latex(self, printer, exp=None):
        return r"%s^{T}" % printer.parenthesize(self.args[0], 1000, strict=True)


class rowsum(sp.Function):
    """The sum over the columns (the samples of a batch): an ``n × 1`` column."""

    nargs = 1

    def _latex(self, printer, exp=None):
        return r"\sum_{\text{batch}} %s" % printer.parenthesize(self.args[0], 1000, strict=True)


class colsum(sp.Function):
    """The sum over the rows of each column (over a layer's neurons): a ``1 × m`` row."""

    nargs = 1

    def _latex(self, printer, exp=None):
        return r"\mathbf{1}^{T} %s" % printer.parenthesize(self.args[0], 1000, strict=True)


class MatrixTextPrinter(TextPrinter):
    """Matrix formulas as text: ⊙ for elementwise products, juxtaposition for matrix ones; with
    ``upstream`` (:func:`naming.matrix_upstream`) a product's upstream factor comes first.
    :func:`text_printer` gives one with a network's names (Ŷ) and order.

    >>> A, W, G = sp.symbols("A_1 W_2 dZ_2")
    >>> MatrixTextPrinter(upstream={G}).doprint(A*(1 - A)*matmul(transpose(W), G))
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
        factors = [self.parenthesize(f, PRECEDENCE["Mul"], strict=True) if not isinstance(f, matmul)
                   else f"({self._print(f)})" for f in textbook_factors(rest, self.upstream)]
        head = "" if coefficient == 1 else ("-" if coefficient == -1 else self._print(coefficient) + "·")
        return head + " ⊙ ".join(factors) if len(factors) > 1 or not head else head + factors[0]

    def _print_matmul(self, expr):
        return " ".join(self.parenthesize(a, PRECEDENCE["Mul"], strict=True) for a in expr.args)

    def _print_transpose(self, expr):
        return self.parenthesize(expr.args[0], 1000, strict=True) + "ᵀ"

    def _print_rowsum(self, expr):
        return "Σ_batch " + self.parenthesize(expr.args[0], 1000, strict=True)

    def _print_colsum(self, expr):
        return "Σ_rows " + self.parenthesize(expr.args[0], 1000, strict=True)

    def _print_Heaviside(self, expr):
        return f"1[{self._print(expr.args[0])} > 0]"

    def _print_softmax_columns(self, expr):
        return f"softmax({self._print(expr.args[0])}), column by column"


def textbook_factors(product, upstream) -> list:
    """The factors of a matrix-form product in textbook order (:func:`naming.matrix_factor_key`)."""
    return sorted(sp.Mul.make_args(product), key=lambda f: naming.matrix_factor_key(f, upstream))


def text_printer(target) -> MatrixTextPrinter:
    """A text printer with the names of a matrix-form network (or of its derivation's): ``Ŷ`` for
    the output, and products in textbook order.

    >>> d = matrix_backprop(matrix_mlp([2, 3, 1]))
    >>> text_printer(d).doprint(dict(d.deltas)[sp.Symbol("dZ_2")])
    '(Ŷ - Y) ⊙ Ŷ ⊙ (1 - Ŷ)'
    """
    graph = getattr(target, "graph", target)
    return MatrixTextPrinter(naming.matrix_names(graph, "text"), upstream=naming.matrix_upstream(graph))


@dataclass(frozen=True)
class MatrixStep:
    """One named matrix assignment. ``op`` is ``"affine"`` (``Z = W A + b``: args W, A, b or
    None), ``"elementwise"`` (``A = g(Z)``: args name, Z), ``"softmax"`` (over each column: args
    Z) or ``"loss"`` (``J = Σ over the batch and the outputs of ℓ(Y, A) / m``: args name, Y, A)."""

    symbol: sp.Symbol
    op: str
    args: tuple
    layer: int | None = None


@dataclass(frozen=True)
class MatrixGraph:
    """A straight-line program of matrix steps, with the shape of every matrix."""

    steps: tuple[MatrixStep, ...]
    shapes: dict
    inputs: tuple[sp.Symbol, ...]
    targets: tuple[sp.Symbol, ...]
    params: tuple[sp.Symbol, ...]
    description: str = ""
    sizes: tuple[int, ...] = ()  # the concrete layer sizes, for code; the shapes may stay symbolic

    def __post_init__(self):
        known = set(self.inputs) | set(self.targets) | set(self.params)
        for step in self.steps:
            used = {a for a in step.args if isinstance(a, sp.Symbol)}
            if used - known:
                raise InputError(f"step {step.symbol} uses {', '.join(map(str, used - known))}, defined neither as a variable nor earlier")
            known.add(step.symbol)
        for step in self.steps:
            if step.op == "affine":
                W, A, b = step.args
                if self.shapes[W][1] != self.shapes[A][0] or (b is not None and self.shapes[b][0] != self.shapes[W][0]):
                    raise InputError(f"the shapes of {W} {self.shapes[W]}, {A} {self.shapes[A]}"
                                     f"{'' if b is None else f' and {b} {self.shapes[b]}'} do not fit Z = W A + b")

    @property
    def output(self) -> sp.Symbol:
        return self.steps[-1].symbol

    @property
    def fused(self):
        """The rule giving dZ of the output layer at once (softmax + cross-entropy: A − Y), or None."""
        loss, _, A = self.steps[-1].args
        last = self.step(A)
        return FUSED_DELTAS.get(("softmax" if last.op == "softmax" else last.args[0], loss))

    def step(self, symbol) -> MatrixStep:
        return next(s for s in self.steps if s.symbol == symbol)


def matrix_mlp(layers: Sequence[int], activation="sigmoid", loss: str = "half_sse", bias: str | None = "per_neuron",
               symbolic_sizes: bool = True) -> MatrixGraph:
    """The network of :func:`symbackprop.mlp` in matrix form: ``X``, ``Y``, ``W_l``, ``b_l``.

    With ``symbolic_sizes`` the shapes are ``n_l × n_{l-1}`` (one derivation for every width);
    the layer sizes are still checked and kept in ``description``.
    """
    sizes = _check_layers(layers)
    activations = _check_activations(activation, sizes)
    _check_loss(loss, activations[-1])
    if not isinstance(bias, (str, type(None))) or bias not in BIAS_MODES or bias == "per_layer":
        raise InputError("the matrix form takes bias='per_neuron' (a vector b_l per layer) or None")
    dims = [sp.Symbol(f"n_{l}", positive=True, integer=True) if symbolic_sizes else sp.Integer(n) for l, n in enumerate(sizes)]
    X, Y = sp.Symbol("X"), sp.Symbol("Y")
    shapes = {X: (dims[0], BATCH), Y: (dims[-1], BATCH)}
    steps, params = [], []
    previous = X
    for layer, name in enumerate(activations, start=1):
        W, Z, A = sp.Symbol(f"W_{layer}"), sp.Symbol(f"Z_{layer}"), sp.Symbol(f"A_{layer}")
        b = sp.Symbol(f"b_{layer}") if bias else None
        shapes.update({W: (dims[layer], dims[layer - 1]), Z: (dims[layer], BATCH), A: (dims[layer], BATCH)})
        params.append(W)
        if b is not None:
            shapes[b] = (dims[layer], sp.Integer(1))
            params.append(b)
        steps.append(MatrixStep(Z, "affine", (W, previous, b), layer))
        steps.append(MatrixStep(A, "softmax", (Z,), layer) if name == "softmax" else MatrixStep(A, "elementwise", (name, Z), layer))
        previous = A
    steps.append(MatrixStep(sp.Symbol("J"), "loss", (loss, Y, previous)))
    names = activations[0] if len(set(activations)) == 1 else ", ".join(activations)
    description = f"the {'-'.join(map(str, sizes))} network in matrix form, {names}, loss {loss}, bias {bias or 'none'}"
    return MatrixGraph(tuple(steps), shapes, (X,), (Y,), tuple(params), description, sizes)


# ------------------------------------------------------------------------------------------
# Elementwise formulas, taken from the scalar engine: one prototype neuron per function.

_z, _a, _y = sp.symbols("z a y")


def activation_value(name: str, Z: sp.Symbol) -> sp.Expr:
    """g(Z), elementwise."""
    return ACTIVATIONS[name](Z)


def activation_derivative(name: str, Z: sp.Symbol, A: sp.Symbol) -> sp.Expr:
    """g'(Z) written, where it can be, in terms of the output A = g(Z) (σ' = A(1 − A))."""
    g = ACTIVATIONS[name](_z)
    return local_partial(g, _z, {g: _a}).xreplace({_z: Z, _a: A})


def loss_value(name: str, Y: sp.Symbol, A: sp.Symbol) -> sp.Expr:
    """One entry's loss ℓ(y, a) (for mse the 1/K stays with the sum over outputs, see loss_scale)."""
    return LOSSES[name]((_y,), (_a,)).xreplace({_y: Y, _a: A})


def loss_derivative(name: str, Y: sp.Symbol, A: sp.Symbol) -> sp.Expr:
    """∂ℓ/∂a, elementwise."""
    value = LOSSES[name]((_y,), (_a,))
    return local_partial(value, _a, {}).xreplace({_y: Y, _a: A})


# ------------------------------------------------------------------------------------------
# The vector-Jacobian rules: given the step and G = ∂L/∂(its output), the contributions to the
# deltas of its arguments (L = the loss summed over the batch; J = L / m).

def _affine(step, G, graph):
    W, A, b = step.args
    rules = {W: matmul(G, transpose(A)), A: matmul(transpose(W), G)}
    if b is not None:
        rules[b] = rowsum(G)
    return rules


def _elementwise(step, G, graph):
    name, Z = step.args
    return {Z: G * activation_derivative(name, Z, step.symbol)}


def _softmax(step, G, graph):
    (Z,) = step.args
    A = step.symbol
    return {Z: A * (G - colsum(A * G))}  # per column: A ⊙ (G − 1ᵀ(A ⊙ G))


def _loss(step, G, graph):
    name, Y, A = step.args
    return {A: loss_scale(name, graph) * loss_derivative(name, Y, A)}


VJP_RULES = {"affine": _affine, "elementwise": _elementwise, "softmax": _softmax, "loss": _loss}


def loss_scale(name: str, graph: MatrixGraph) -> sp.Expr:
    """The factor before Σ over the outputs: 1/K for mse, 1 otherwise."""
    return 1 / graph.shapes[graph.targets[0]][0] if name == "mse" else sp.S.One


@dataclass(frozen=True)
class MatrixDerivation:
    """``deltas``: ``(dZ_l or dA_l, formula)`` in sweep order; ``gradients``: ``(parameter,
    formula of ∂J/∂parameter)``, mean over the batch."""

    graph: MatrixGraph
    deltas: tuple[tuple[sp.Symbol, sp.Expr], ...]
    gradients: tuple[tuple[sp.Symbol, sp.Expr], ...]

    def __repr__(self) -> str:
        return f"<MatrixDerivation of {self.graph.description}: {len(self.deltas)} deltas, {len(self.gradients)} gradients>"

    def __getitem__(self, p: sp.Symbol | str) -> sp.Expr:
        """∂J/∂p, as :meth:`gradient`."""
        return self.gradient(p)

    def __iter__(self):
        return iter(p for p, _ in self.gradients)

    def __len__(self) -> int:
        return len(self.gradients)

    def _names(self) -> dict[str, sp.Symbol]:
        """Every name of a matrix or delta, as the printers spell it (``W_1``, ``Ŷ``, ``Yhat``,
        ``dZ_1``, ``dŶ``), and without the underscore (``W1``, ``dZ1``)."""
        names: dict[str, sp.Symbol] = {}
        symbols = [*self.graph.shapes, *(s.symbol for s in self.graph.steps), *(s for s, _ in self.deltas)]
        for symbol in symbols:
            names.setdefault(symbol.name, symbol)
        for style in ("text", "ascii", "code"):
            for symbol, name in naming.matrix_names(self.graph, style).items():
                names.setdefault(name, symbol)
        for name, symbol in list(names.items()):
            names.setdefault(name.replace("_", ""), symbol)
        return names

    def symbol(self, name: sp.Symbol | str) -> sp.Symbol:
        """The matrix or delta ``name`` stands for (a symbol is returned as it is); an unknown name
        is an :class:`InputError` listing the known ones.

        >>> from symbackprop import backprop, mlp
        >>> d = backprop(mlp([2, 3, 1], form="matrix"))
        >>> d.symbol("W_1"), d.symbol("Ŷ"), d.symbol("dZ2")
        (W_1, A_2, dZ_2)
        """
        if isinstance(name, sp.Symbol):
            return name
        if not isinstance(name, str):
            raise InputError(f"expected a name or a SymPy symbol, got {type(name).__name__}")
        names = self._names()
        symbol = names.get(naming.typed(name))
        if symbol is None:
            known = [s.name for s in self.graph.shapes] + [s.symbol.name for s in self.graph.steps]
            raise InputError(f"unknown name {name!r}; known names: {naming.listing(known)}")
        return symbol

    def gradient(self, p: sp.Symbol | str) -> sp.Expr:
        """∂J/∂p for a parameter matrix ``p`` (``"W_1"``, ``"b_2"``), mean over the batch.

        >>> from symbackprop import backprop, mlp
        >>> d = backprop(mlp([2, 3, 1], form="matrix"))
        >>> d["W_1"] == d.gradient(sp.Symbol("W_1")) == dict(d.gradients)[sp.Symbol("W_1")]
        True
        """
        p = self.symbol(p)
        for parameter, formula in self.gradients:
            if parameter == p:
                return formula
        raise InputError(f"{p} is not a parameter of {self.graph.description} "
                         f"({naming.listing(q for q, _ in self.gradients)})")

    def delta(self, step: sp.Symbol | str) -> sp.Expr:
        """The delta dV = ∂L/∂V of a matrix ``V`` with a named delta (``"Z_1"``; or the delta
        itself, ``"dZ_1"``), L the loss summed over the batch."""
        symbol = self.symbol(step)
        named = dict(self.deltas)
        if symbol in named:
            return named[symbol]
        if delta_symbol(symbol) in named:
            return named[delta_symbol(symbol)]
        raise InputError(f"{symbol} has no named delta; the named ones are of {naming.listing(s.name[1:] for s, _ in self.deltas)}")

    def _repr_latex_(self) -> str | None:
        return latex_display(self)


def delta_symbol(symbol: sp.Symbol) -> sp.Symbol:
    return naming.matrix_delta(symbol)


def matrix_backprop(graph: MatrixGraph) -> MatrixDerivation:
    """One reverse sweep over the matrix steps with :data:`VJP_RULES`. A delta used by one step
    only is written into it (dA_l into dZ_l); a fused rule replaces the chain where the math
    collapses (softmax + cross-entropy: dZ = A − Y)."""
    loss_step, *rest = reversed(graph.steps)
    _, Y, A_out = loss_step.args
    last = graph.step(A_out)
    fused = graph.fused

    contributions: dict[sp.Symbol, list] = {}
    preset: dict[sp.Symbol, sp.Expr] = {}
    if fused is None:
        contributions.update({s: [e] for s, e in _loss(loss_step, sp.S.One, graph).items()})
    else:
        preset[last.args[-1]] = fused(A_out, Y)  # dZ of the output layer, directly

    deltas = []
    for step in rest:
        if fused is not None and step is last:
            continue
        delta = preset.get(step.symbol, sp.Add(*contributions.get(step.symbol, [])))
        if step.op == "affine":  # dZ_l is named: the parameters' gradients and the layer below use it
            deltas.append((delta_symbol(step.symbol), delta))
            delta = delta_symbol(step.symbol)
        for symbol, expr in VJP_RULES[step.op](step, delta, graph).items():
            contributions.setdefault(symbol, []).append(expr)
    gradients = tuple((p, sp.Add(*contributions[p]) / BATCH) for p in graph.params)
    return MatrixDerivation(graph, tuple(deltas), gradients)


def forward_formulas(graph: MatrixGraph, show, bias: str, softmax: str) -> list[tuple[sp.Symbol, str]]:
    """Each forward step but the loss as ``(symbol, formula)``, printed by ``show``; ``bias`` spells
    ``W A`` plus a broadcast bias (two ``%s``), ``softmax`` a column softmax (one ``%s``).

    >>> from symbackprop import mlp
    >>> forward_formulas(mlp([2, 1], form="matrix"), str, "%s + %s", "softmax(%s)")
    [(Z_1, 'matmul(W_1, X) + b_1'), (A_1, 'sigmoid(Z_1)')]
    """
    rows = []
    for step in graph.steps[:-1]:
        if step.op == "affine":
            W, A, b = step.args
            product = show(matmul(W, A))
            rows.append((step.symbol, product if b is None else bias % (product, show(b))))
        elif step.op == "softmax":
            rows.append((step.symbol, softmax % show(step.args[0])))
        else:
            rows.append((step.symbol, show(activation_value(*step.args))))
    return rows


def matrix_text(d: MatrixDerivation) -> str:
    """A matrix-form derivation as text: shapes, forward pass, deltas dV = ∂L/∂V (L: the loss
    summed over the batch) and gradients, through :func:`~symbackprop.matrix.text_printer` (the
    output matrix Ŷ).

    >>> from symbackprop import backprop, mlp
    >>> d = backprop(mlp([784, 128, 10], activation=["relu", "softmax"], loss="cross_entropy", form="matrix"))
    >>> print(matrix_text(d).splitlines()[-4])
      ∂J/∂W_1 = dZ_1 Xᵀ / m
    """
    graph = d.graph
    printer = text_printer(d)
    forward = forward_formulas(graph, printer.doprint, "%s + %s", "softmax(%s), column by column")
    name, Y, A = graph.steps[-1].args
    loss = f"Σ_batch Σ_outputs {printer.doprint(loss_scale(name, graph) * loss_value(name, Y, A))} / m"
    shapes = ", ".join(f"{printer.doprint(s)} {printer.doprint(r)}×{printer.doprint(c)}" for s, (r, c) in graph.shapes.items())
    sections = [
        ("Shapes (m: samples in a batch, one column each; layer sizes " + "-".join(map(str, graph.sizes)) + ")", [("", shapes)]),
        ("Forward pass", [(printer.doprint(s), f) for s, f in forward] + [(printer.doprint(graph.output), loss)]),
        ("Backward pass: dV = ∂L/∂V, L the loss summed over the batch, output first",
         [(printer.doprint(s), printer.doprint(e)) for s, e in d.deltas]),
        ("Gradients (⊙: elementwise product; juxtaposition: matrix product)",
         [(f"∂{printer.doprint(graph.output)}/∂{printer.doprint(p)}", printer.doprint(e)) for p, e in d.gradients]),
    ]
    title = f"Backpropagation through {graph.description}"
    lines = [title, "=" * len(title)]
    for heading, rows in sections:
        lines += ["", heading, "-" * len(heading)] + [f"  {lhs} = {rhs}" if lhs else f"  {rhs}" for lhs, rhs in rows]
    return "\n".join(lines) + "\n"
