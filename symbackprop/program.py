"""A derivation as a program: a list of named assignments, each with the equation it computes.

A back end (the NumPy printer of :mod:`symbackprop.codegen`) turns a :class:`Program` into source;
what to compute, in which order and under which name is decided here, once, for every back end.
The program has three parts, in order: the forward steps (the output last), the named deltas in
sweep order (output first) and the gradients (in the order of ``wrt``). Which statements a result
needs is found on symbols (:func:`needed`), never on printed text.

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

from dataclasses import dataclass

import sympy as sp
from sympy import Determinant, MatMul, MatrixExpr, MatrixSymbol, Trace

from . import naming


@dataclass(frozen=True)
class Assignment:
    """``lhs = rhs``: one statement of a program; ``equation`` says in the library's notation what
    it computes (a generated comment)."""

    lhs: sp.Symbol | MatrixSymbol
    rhs: sp.Basic
    equation: str


@dataclass(frozen=True)
class Program:
    """The statements that compute a derivation's loss and gradients.

    ``params`` are the variables differentiated (in the order of ``wrt``), ``inputs`` the other
    variables, ``sizes`` the dimension symbols (read from the arrays at run time), ``loss`` the
    output symbol and ``gradients`` the symbols holding ∂loss/∂param, one per param.
    """

    params: tuple
    inputs: tuple
    sizes: tuple
    forward: tuple[Assignment, ...]
    backward: tuple[Assignment, ...]
    gradient_statements: tuple[Assignment, ...]
    loss: sp.Symbol

    @property
    def statements(self) -> tuple[Assignment, ...]:
        return self.forward + self.backward + self.gradient_statements

    @property
    def gradients(self) -> tuple:
        return tuple(a.lhs for a in self.gradient_statements)

    def for_loss(self) -> tuple[Assignment, ...]:
        """The statements the loss alone needs."""
        return needed(self.forward, {self.loss})

    def for_gradients(self, with_loss: bool = True) -> tuple[Assignment, ...]:
        """The statements the gradients need (and the loss, with ``with_loss``), in order."""
        return needed(self.statements, set(self.gradients) | ({self.loss} if with_loss else set()))


def gradient_symbol(variable):
    """The symbol holding ∂J/∂``variable``: ``dJ_dW``, of ``variable``'s shape for a matrix.

    >>> gradient_symbol(MatrixSymbol("W", 2, 3)).shape, gradient_symbol(sp.Symbol("lam"))
    ((2, 3), dJ_dlam)
    """
    scalar = naming.gradient_symbol(variable)
    return MatrixSymbol(scalar.name, *variable.shape) if isinstance(variable, MatrixExpr) else scalar


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
    """How many statements use each symbol."""
    count: dict = {}
    for statement in statements:
        for symbol in statement.rhs.free_symbols:
            count[symbol] = count.get(symbol, 0) + 1
    return count


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
    forward = [Assignment(step.symbol, step.expr, f"{text(step.symbol)} = {text(step.expr)}") for step in graph.steps]
    backward = [Assignment(delta, expr, f"{text(delta)} = {text(expr)}") for delta, expr in d.deltas]
    output = graph.output
    gradients = [Assignment(gradient_symbol(p), d.gradient(p), f"∂{text(output)}/∂{text(p)} = {text(d.gradient(p))}")
                 for p in wrt]
    statements = fused(forward + backward + gradients)
    split = (len(forward), len(forward) + len(backward))
    return Program(params=wrt, inputs=inputs, sizes=tuple(getattr(graph, "sizes", ())),
                   forward=statements[:split[0]], backward=statements[split[0]:split[1]],
                   gradient_statements=statements[split[1]:], loss=output)
