"""A derivation as a program: a list of named assignments, each with the equation it computes.

A back end (the NumPy printer of :mod:`symbackprop.codegen`) turns a :class:`Program` into source;
what to compute, in which order and under which name is decided here, once, for every back end.
It starts as the forward steps (the output last), the named deltas in sweep order (output first)
and the gradients (in the order of ``wrt``), then is rewritten on symbols, never on printed text:
values that cost nothing where they are used, or that one statement alone uses, are written into
their users (:func:`simplified`); a sum with fewer transposes the other way round is computed that
way (:func:`upright`); a costly value computed twice is computed once (:func:`hoisted`); a log of
a determinant and a trace of a product are kept together for the back end (:func:`fused`); and
which statements a result needs is found on the symbols each uses (:func:`needed`).

>>> import sympy as sp
>>> from sympy import MatrixSymbol, Trace
>>> n, m = sp.symbols("n m", integer=True, positive=True)
>>> X, w = MatrixSymbol("X", n, m), MatrixSymbol("w", m, 1)
>>> v1, f = MatrixSymbol("v1", n, 1), sp.Symbol("f")
>>> steps = [Assignment(v1, X * w, "v1 = X w"), Assignment(f, Trace(v1.T * v1), "f = tr(v1ᵀ v1)")]
>>> [a.lhs for a in needed(steps, {v1})]
[v1]
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy import Determinant, Identity, Inverse, MatMul, MatrixExpr, MatrixSymbol, OneMatrix, Trace, Transpose, ZeroMatrix
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from . import naming
from .errors import InputError
from .evaluate import evaluate, probe_sizes, random_point
from .matrices import ARGUMENT, function_body, transposes
from .primitives import ColumnSoftmax, sigmoid, softplus
from .simplify import tree_size


@dataclass(frozen=True)
class Assignment:
    """``lhs = rhs``: one statement of a program; ``equation`` says in the library's notation what
    it computes (a generated comment)."""

    lhs: sp.Symbol | MatrixSymbol
    rhs: sp.Basic
    equation: str


@dataclass(frozen=True)
class Program:
    """The statements that compute a derivation's loss and gradients, each after those it uses.

    ``params`` are the variables differentiated (in the order of ``wrt``), ``inputs`` the other
    variables, ``sizes`` the dimension symbols (read from the arrays at run time), ``loss`` the
    output symbol, ``gradients`` the symbols holding ∂loss/∂param, one per param, and ``outputs``
    what a network predicts (its last activations; the loss itself for a function).
    """

    params: tuple
    inputs: tuple
    sizes: tuple
    statements: tuple[Assignment, ...]
    loss: sp.Symbol
    gradients: tuple
    outputs: tuple

    def for_outputs(self) -> tuple[Assignment, ...]:
        """The statements the outputs need."""
        return needed(self.statements, set(self.outputs))

    def for_loss(self) -> tuple[Assignment, ...]:
        """The statements the loss alone needs."""
        return needed(self.statements, {self.loss})

    def for_gradients(self, with_loss: bool = True) -> tuple[Assignment, ...]:
        """The statements the gradients need (and the loss, with ``with_loss``), in order."""
        return needed(self.statements, set(self.gradients) | ({self.loss} if with_loss else set()))


def needed(statements, results: set) -> tuple[Assignment, ...]:
    """The statements that ``results`` need, directly or through other statements, in order:
    dead code removed on the symbols each right-hand side uses."""
    live = set(results)
    kept = []
    for statement in reversed(tuple(statements)):
        if statement.lhs in live:
            kept.append(statement)
            live |= statement.rhs.free_symbols
    return tuple(kept[::-1])


def _uses(statements) -> dict:
    """How many times the statements use each symbol (twice in one statement counts twice)."""
    count: dict = {}
    for statement in statements:
        for node in sp.preorder_traversal(statement.rhs):
            if isinstance(node, (sp.Symbol, MatrixSymbol)):
                count[node] = count.get(node, 0) + 1
    return count


def _reused(statements) -> list[Assignment]:
    """``statements`` with each part of a right-hand side that an earlier statement computes
    whole taken by that statement's name (the delta of logistic regression written with v1 + v2,
    where v3 = v1 + v2)."""
    statements = list(statements)
    for i, earlier in enumerate(statements):
        if isinstance(earlier.rhs, (sp.Atom, MatrixSymbol)) or _free(earlier.rhs):
            continue
        swap = {earlier.rhs: earlier.lhs}
        statements[i + 1:] = [_rewritten(s, s.rhs.xreplace(swap)) if s.rhs.has(earlier.rhs) else s for s in statements[i + 1:]]
    return statements


def logs_on_logits(statements) -> tuple[Assignment, ...]:
    """``statements`` with each log of a sigmoid step ``P = σ∘Z`` written on the logits: ``log∘(𝟏 − P)``
    as ``−softplus∘Z`` and ``log∘P`` as ``−softplus∘(−Z)``, finite where P rounds to 0 or 1; and
    each log of a softmax step ``P = softmax(Z)`` as :class:`LogSoftmax` of Z.

    >>> Z, P, L = (MatrixSymbol(name, 3, 1) for name in "ZPL")
    >>> steps = [Assignment(P, Z.applyfunc(sigmoid), "P"), Assignment(L, (OneMatrix(3, 1) - P).applyfunc(sp.log), "L")]
    >>> logs_on_logits(steps)[1].rhs
    Lambda(_d, -softplus(_d)).(Z)
    """
    logits = {s.lhs: s.rhs.expr for s in statements
              if isinstance(s.rhs, ElementwiseApplyFunction) and function_body(s.rhs) == sigmoid(ARGUMENT)}
    softmaxes = {s.lhs: s.rhs for s in statements if isinstance(s.rhs, ColumnSoftmax)}
    d = sp.Dummy("d")
    replacements = {}
    for statement in statements:
        for node in sp.preorder_traversal(statement.rhs):
            if not (isinstance(node, ElementwiseApplyFunction) and function_body(node) == sp.log(ARGUMENT)):
                continue
            if node.expr in softmaxes:  # log softmax(Z)
                replacements[node] = LogSoftmax(softmaxes[node.expr].logits)
            elif node.expr in logits:  # log σ(Z)
                replacements[node] = ElementwiseApplyFunction(sp.Lambda(d, -softplus(-d)), logits[node.expr])
            elif isinstance(node.expr, sp.MatAdd) and len(node.expr.args) == 2:  # log(𝟏 − σ(Z))
                one, minus = sorted(node.expr.args, key=lambda a: not isinstance(a, OneMatrix))
                coefficient, (P,) = minus.as_coeff_matrices() if isinstance(minus, MatMul) else (1, [minus])
                if isinstance(one, OneMatrix) and coefficient == -1 and P in logits:
                    replacements[node] = ElementwiseApplyFunction(sp.Lambda(d, -softplus(d)), logits[P])
    if not replacements:
        return tuple(statements)
    return tuple(_rewritten(s, s.rhs.xreplace(replacements)) for s in statements)


class LogSoftmax(MatrixExpr):
    """``log∘softmax(Z)``, the log of each column's softmax: computed as Z less each column's
    log-sum-exp, finite where the softmax rounds to 0.

    >>> LogSoftmax(MatrixSymbol("Z", 3, 4))
    log(softmax(Z))
    """

    @property
    def shape(self):
        return self.args[0].shape

    def _sympystr(self, printer):
        return f"log(softmax({printer._print(self.args[0])}))"


class Largest(MatrixExpr):
    """The largest entry of each column of a matrix (``axis`` 0: a row) or of each row (``axis``
    1: a column): the shift that keeps an exponential finite.

    >>> Largest(MatrixSymbol("Z", 3, 4), 0).shape
    (1, 4)
    """

    def __new__(cls, matrix, axis):
        return super().__new__(cls, matrix, sp.Integer(axis))

    @property
    def shape(self):
        matrix, axis = self.args
        return (1, matrix.cols) if axis == 0 else (matrix.rows, 1)

    def _sympystr(self, printer):
        matrix, axis = self.args
        return f"{('column', 'row')[int(axis)]} maxima of {printer._print(matrix)}"


def shifted_exponentials(statements, sizes=()) -> tuple[Assignment, ...]:
    """``statements`` with an exponential ``E = exp∘Z`` whose column sums ``S = 𝟏ᵀE`` are taken
    (a softmax, a log-sum-exp; row sums ``E𝟏`` alike) computed from its exponent less each
    column's largest entry ``c``: ``E = exp∘(Z − 𝟏c)``, finite for every Z, and each ``log∘S`` given
    its ``c`` back. Done only where every other use of E and S is unchanged when a column of
    both is scaled (``E ⊙ (𝟏 S)^∘−1``), which is checked at random values."""
    statements = list(statements)
    fresh = naming.fresh("c", _names(statements))
    for i, statement in enumerate(statements):
        if not (isinstance(statement.rhs, ElementwiseApplyFunction) and function_body(statement.rhs) == sp.exp(ARGUMENT)):
            continue
        E, Z = statement.lhs, statement.rhs.expr
        sums = {0: {s.lhs for s in statements if s.rhs == MatMul(OneMatrix(1, E.rows), E)},
                1: {s.lhs for s in statements if s.rhs == MatMul(E, OneMatrix(E.cols, 1))}}
        axis = 0 if sums[0] else 1
        if not sums[axis] or sums[1 - axis]:
            continue
        c = MatrixSymbol(next(fresh).name, *Largest(Z, axis).shape)
        logs = {node: node + c for s in statements for node in sp.preorder_traversal(s.rhs)
                if isinstance(node, ElementwiseApplyFunction) and function_body(node) == sp.log(ARGUMENT) and node.expr in sums[axis]}
        rewritten = [_rewritten(s, s.rhs.xreplace(logs)) if s.lhs not in sums[axis] else s for s in statements]
        users = [s.rhs for j, s in enumerate(rewritten) if j != i and s.lhs not in sums[axis] and s.rhs.has(E, *sums[axis])]
        if not all(_scale_free(rhs, E, sums[axis], c, axis, sizes) for rhs in users):
            continue
        shift = MatMul(OneMatrix(E.rows, 1), c) if axis == 0 else MatMul(c, OneMatrix(1, E.cols))
        rewritten[i] = _rewritten(statement, ElementwiseApplyFunction(statement.rhs.function, Z - shift))
        rewritten.insert(i, Assignment(c, Largest(Z, axis), c.name))
        statements = rewritten
    return tuple(statements)


def _scale_free(rhs, E, sums, c, axis, sizes) -> bool:
    """Whether ``rhs`` keeps its value when each column (row, ``axis`` 1) of ``E`` and its sums
    is multiplied by a positive number and ``c`` lowered by its log, at random values."""
    try:
        concrete = probe_sizes(sizes)
    except InputError:  # more sizes than are probed: left as written
        return False
    point = random_point(sorted(rhs.free_symbols - set(sizes) | {E, c} | set(sums), key=sp.default_sort_key), concrete,
                         random.Random(0))
    point[E] = np.abs(point[E]) + 0.5
    for s in sums:
        point[s] = np.abs(point[s]) + 0.5
    scale = np.exp(np.array([[random.Random(1).uniform(-2, 2) for _ in range(point[c].shape[1])]] if axis == 0 else
                            [[random.Random(1).uniform(-2, 2)] for _ in range(point[c].shape[0])]))
    scaled = dict(point)
    scaled[E] = point[E] * scale
    for s in sums:
        scaled[s] = point[s] * scale
    scaled[c] = point[c] - np.log(scale)
    with np.errstate(all="ignore"):
        before, after = np.asarray(evaluate(rhs, point, concrete), dtype=float), np.asarray(evaluate(rhs, scaled, concrete), dtype=float)
    return bool(np.all(np.isfinite(before)) and np.allclose(before, after, rtol=1e-9, atol=1e-12))


def fused(statements) -> tuple[Assignment, ...]:
    """``statements`` with the pairs that a back end computes better together written as one:
    ``log(v)`` of a determinant step ``v = det(M)`` becomes ``log(det(M))`` (a log-determinant,
    no overflow), and a matrix product used only inside a trace, ``tr(v)`` with ``v = A B``,
    becomes ``tr(A B)`` (a sum of entrywise products, the product never formed). A step that
    nothing else uses then drops out as dead code (:func:`needed`)."""
    statements = tuple(statements)
    uses = _uses(statements)
    values = {s.lhs: s.rhs for s in statements}
    replacements = {}
    for s in statements:
        for node in sp.preorder_traversal(s.rhs):
            if isinstance(node, sp.log) and values.get(node.args[0]) is not None and isinstance(values[node.args[0]], Determinant):
                replacements[node] = sp.log(values[node.args[0]], evaluate=False)
            elif isinstance(node, Trace) and isinstance(values.get(node.arg), MatMul) and uses.get(node.arg) == 1:
                replacements[node] = Trace(values[node.arg])
    if not replacements:
        return statements
    return tuple(Assignment(s.lhs, s.rhs.xreplace(replacements), s.equation) for s in statements)


def _free(rhs, sizes=frozenset()) -> bool:
    """Whether a right-hand side costs (next to) nothing where it is used: a name, a transpose or a
    negation of one, a constant matrix or a scalar times one (λI), an inverse (a solve against what
    it multiplies), a number made of sizes."""
    if isinstance(rhs, (sp.Symbol, MatrixSymbol, Identity, ZeroMatrix, OneMatrix, Inverse)) or rhs.is_number:
        return True
    if not isinstance(rhs, MatrixExpr) and rhs.free_symbols <= sizes:
        return True  # a number made of sizes (1/m)
    if isinstance(rhs, Transpose):
        return isinstance(rhs.arg, MatrixSymbol)
    if isinstance(rhs, MatMul):  # a multiple of one of those, by a number or a constant matrix by any plain scalar (λI)
        coefficient, factors = rhs.as_coeff_matrices()
        if len(factors) != 1 or not _free(factors[0], sizes) or coefficient.has(sp.Function, Trace, Determinant):
            return False
        return not coefficient.free_symbols or isinstance(factors[0], (Identity, ZeroMatrix, OneMatrix))
    return False


def _rewritten(statement: Assignment, rhs) -> Assignment:
    return Assignment(statement.lhs, rhs, statement.equation)


@lru_cache(maxsize=4096)
def _transposed(expr):
    """``expr``ᵀ, evaluated (the same statements are compared again after each rewrite)."""
    return expr.T


def _duplicate(statements) -> tuple[int, sp.Basic] | None:
    """The first statement whose value an earlier one already holds, or its transpose, and the
    name (or transposed name) to take instead."""
    seen: dict = {}
    for i, statement in enumerate(statements):
        rhs = statement.rhs
        if rhs in seen:
            return i, seen[rhs]
        if isinstance(rhs, MatrixExpr) and _transposed(rhs) in seen:
            return i, Transpose(seen[_transposed(rhs)])
        seen.setdefault(rhs, statement.lhs)
    return None


def _names(statements) -> set[str]:
    """The names the statements assign and use."""
    return {s.lhs.name for s in statements} | {v.name for s in statements for v in s.rhs.free_symbols}


def upright(statements, keep: set) -> tuple[Assignment, ...]:
    """``statements`` with each sum of matrices (not in ``keep``) that has more transposes than its
    own transpose (``WᵀXᵀ − Yᵀ``) computed the other way round (``XW − Y``: an entrywise operation on
    contiguous arrays), under the name ``<name>_T``, and taken transposed (a transpose costs
    nothing where a product uses it). A product keeps its orientation: BLAS computes either at
    the same cost, and entrywise operations after it read it as it is."""
    statements = tuple(statements)
    taken = _names(statements)
    out = []
    for statement in statements:
        rhs = statement.rhs
        if statement.lhs not in keep and isinstance(rhs, sp.MatAdd) and transposes(_transposed(rhs)) < transposes(rhs):
            turned = MatrixSymbol(naming.fresh_one(f"{statement.lhs.name}_T", taken).name, *reversed(statement.lhs.shape))
            taken.add(turned.name)
            out += [Assignment(turned, _transposed(rhs), statement.equation + "ᵀ"), Assignment(statement.lhs, Transpose(turned), statement.equation)]
        else:
            out.append(statement)
    return tuple(out)


def simplified(statements, keep: set, sizes=frozenset()) -> tuple[Assignment, ...]:
    """``statements`` with a part that an earlier statement computes taken by its name
    (:func:`_reused`), each value that costs nothing where it is used (a transpose, a negation, a
    constant, an inverse: a solve against what it multiplies) or that is used once written into
    its user, and a value computed twice (or its transpose) taken from the first statement that
    computes it; SymPy's evaluation then merges what became equal (``Xᵀv + (vᵀX)ᵀ`` → ``2Xᵀv``).
    The symbols of ``keep`` stay, as do values used more than once; ``sizes`` are the symbols
    that a number made of them alone (1/m) is written in."""
    statements = _reused(statements)
    while True:
        uses = _uses(statements)
        target = next((s for s in statements if s.lhs not in keep and _free(s.rhs, sizes)), None) or next(
            (s for s in statements if s.lhs not in keep and uses.get(s.lhs, 0) <= 1), None)
        if target is not None:
            swap = {target.lhs: target.rhs}
            statements = [_rewritten(s, s.rhs.xreplace(swap).doit()) if target.lhs in s.rhs.free_symbols else s
                          for s in statements if s is not target]
            continue
        found = _duplicate(statements)
        if found is None:
            return tuple(statements)
        i, name = found
        statements[i] = _rewritten(statements[i], name)


def _costly(node) -> bool:
    """Whether computing ``node`` twice would cost a pass over arrays: a product of matrices, an
    elementwise function."""
    if isinstance(node, MatMul):
        return len(node.as_coeff_matrices()[1]) > 1
    return isinstance(node, ElementwiseApplyFunction)


def hoisted(statements) -> tuple[Assignment, ...]:
    """``statements`` with each product of matrices or elementwise function that they compute
    more than once computed once, on a statement of its own (``u1``, ``u2``, … named by
    :func:`naming.fresh`) placed before its first use; the largest first."""
    statements = list(statements)
    fresh = naming.fresh("u", _names(statements))
    while True:
        counts: dict = {}
        for statement in statements:
            for node in sp.preorder_traversal(statement.rhs):
                if _costly(node):
                    counts[node] = counts.get(node, 0) + 1
        repeated = [node for node, count in counts.items() if count > 1]
        if not repeated:
            return tuple(statements)
        expr = max(repeated, key=lambda e: (tree_size(e), sp.default_sort_key(e)))
        symbol = MatrixSymbol(next(fresh).name, *expr.shape)
        first = next(i for i, s in enumerate(statements) if s.rhs.has(expr))
        statements = [Assignment(s.lhs, s.rhs.xreplace({expr: symbol}), s.equation) for s in statements]
        statements.insert(first, Assignment(symbol, expr, symbol.name))


def program(d, text=str) -> Program:
    """The program of a derivation ``d`` (its graph's steps, its named deltas, its gradients in
    the delta view); ``text`` writes each equation.

    >>> import sympy as sp
    >>> x, w = sp.symbols("x w")
    >>> from symbackprop import backprop
    >>> p = program(backprop(w * x, wrt=[w]))
    >>> [str(a.lhs) for a in p.statements], p.params, p.inputs
    (['f', 'dJ_dw'], (w,), (x,))
    """
    graph = d.graph
    wrt = tuple(d.wrt)
    inputs = tuple(v for v in graph.variables if v not in wrt)
    output = graph.output
    # Each statement's equation names its value; the right-hand side is written once it is final.
    forward = [Assignment(step.symbol, step.expr, text(step.symbol)) for step in graph.steps]
    backward = [Assignment(delta, expr, text(delta)) for delta, expr in d.deltas]
    gradients = [Assignment(naming.gradient_symbol(p), d.gradient(p), f"∂{text(output)}/∂{text(p)}") for p in wrt]
    results = {output, *graph.outputs} | {a.lhs for a in gradients}
    sizes = frozenset(graph.sizes)
    statements = simplified([*logs_on_logits(forward), *backward, *gradients], results, sizes)  # a softmax's logits kept
    statements = fused(hoisted(simplified(upright(statements, results), results, sizes)))
    statements = shifted_exponentials(logs_on_logits(statements), graph.sizes)
    return Program(params=wrt, inputs=inputs, sizes=tuple(graph.sizes),
                   statements=tuple(Assignment(a.lhs, a.rhs, f"{a.equation} = {text(a.rhs)}") for a in statements),
                   loss=output, gradients=tuple(a.lhs for a in gradients), outputs=graph.outputs)
