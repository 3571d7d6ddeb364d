"""Bounded, activation-aware rewrites. Nothing here calls ``sympy.simplify``.

Every rewrite is a single pass whose cost is linear in the size of the expression it is given:

- :func:`local_partial` differentiates one small step and writes the result in terms of the
  graph's own step symbols (σ(z₁)(1 − σ(z₁)) becomes a₁(1 − a₁)), which is what makes the
  delta view compact and lets factors cancel (binary cross-entropy after a sigmoid: ŷ − y);
- :func:`recognize_activations` turns hand-written sigmoids and softpluses into the library's
  functions, so their derivatives come out in terms of themselves;
- :func:`tree_size` measures an expression as a printed tree without walking that tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sympy as sp

from .primitives import sigmoid, softplus


def step_values(steps: Iterable) -> dict[sp.Expr, sp.Symbol]:
    """Each compound step value → its step symbol, for writing partials in step symbols."""
    return {step.expr: step.symbol for step in steps if not step.expr.is_Atom}


def local_partial(expr: sp.Expr, wrt: sp.Symbol, values: Mapping[sp.Expr, sp.Symbol]) -> sp.Expr:
    """∂expr/∂wrt of one step, with known step values replaced by their symbols.

    >>> z, a = sp.symbols("z a")
    >>> local_partial(sigmoid(z), z, {sigmoid(z): a})
    a*(1 - a)
    """
    terms = expr.args if isinstance(expr, sp.Add) else (expr,)  # sum rule: skip constant terms
    return sp.Add(*[sp.diff(term, wrt) for term in terms if wrt in term.free_symbols]).xreplace(values)


def _as_sigmoid(power: sp.Pow):
    """σ(−t) when ``power`` is 1/(1 + exp(t)), else None."""
    base = power.base
    if power.exp == -1 and isinstance(base, sp.Add) and len(base.args) == 2 and sp.S.One in base.args:
        other = base.args[0] if base.args[1] == 1 else base.args[1]
        if isinstance(other, sp.exp):
            return sigmoid(-other.args[0])
    return None


def _as_softplus(log: sp.log):
    """softplus(t) when ``log`` is log(1 + exp(t)), else None."""
    inner = log.args[0]
    if isinstance(inner, sp.Add) and len(inner.args) == 2 and sp.S.One in inner.args:
        other = inner.args[0] if inner.args[1] == 1 else inner.args[1]
        if isinstance(other, sp.exp):
            return softplus(other.args[0])
    return None


def recognize_activations(expr: sp.Expr) -> sp.Expr:
    """Replace 1/(1 + e^{−u}) by σ(u) and ln(1 + e^{u}) by softplus(u).

    >>> x = sp.Symbol("x")
    >>> recognize_activations(1 / (1 + sp.exp(-x)) + sp.log(1 + sp.exp(2 * x)))
    sigmoid(x) + softplus(2*x)
    """
    memo: dict[sp.Basic, sp.Basic] = {}

    def rewrite(node):
        if node in memo:
            return memo[node]
        result = node
        if node.args:
            args = tuple(rewrite(arg) for arg in node.args)
            if args != node.args:
                result = node.func(*args)
        if isinstance(result, sp.Pow):
            result = _as_sigmoid(result) or result
        elif isinstance(result, sp.log):
            result = _as_softplus(result) or result
        memo[node] = result
        return result

    return rewrite(expr)


def tree_size(expr: sp.Basic) -> int:
    """Nodes of ``expr`` written out as a tree, counted on the DAG (shared parts counted once
    each time they are used, but visited once).

    >>> x = sp.Symbol("x")
    >>> tree_size(sp.sin(x) + x)
    4
    """
    memo: dict[sp.Basic, int] = {}
    stack = [(expr, False)]
    while stack:  # iterative post-order: children are counted before their parents
        node, expanded = stack.pop()
        if node in memo:
            continue
        if expanded:
            memo[node] = 1 + sum(memo[arg] for arg in node.args)
        else:
            stack.append((node, True))
            stack.extend((arg, False) for arg in node.args if arg not in memo)
    return memo[expr]
