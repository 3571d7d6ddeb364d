"""Bounded, activation-aware rewrites. Nothing here calls ``sympy.simplify``.

Every rewrite is a single pass whose cost is linear in the size of the expression it is given:

- :func:`local_partial` differentiates one small step and writes the result in terms of the
  graph's own step symbols (σ(z₁)(1 − σ(z₁)) becomes a₁(1 − a₁)), which is what makes the
  delta view compact and lets factors cancel (binary cross-entropy after a sigmoid: ŷ − y).
  Variables are real numbers there (|x|' = sign x, not a formula in re x and im x); a step
  function's derivative (sign, Heaviside) is 0 away from its jump and taken as 0 at it, as
  ReLU'(0) = 0; a function without a derivative rule is refused by name;
- :func:`undefined_part` finds what has no value in a formula (1/0, log 0, 0/0);
- :func:`recognize_activations` turns hand-written sigmoids and softpluses into the library's
  functions, so their derivatives come out in terms of themselves;
- :func:`tree_size` measures an expression as a printed tree without walking that tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

import sympy as sp

from .errors import InputError
from .primitives import sigmoid, sinc, softplus


def step_values(steps: Iterable) -> dict[sp.Expr, sp.Symbol]:
    """Each compound step value → its step symbol, for writing partials in step symbols."""
    return {step.expr: step.symbol for step in steps if not step.expr.is_Atom}


def local_partial(expr: sp.Expr, wrt: sp.Symbol, values: Mapping[sp.Expr, sp.Symbol]) -> sp.Expr:
    """∂expr/∂wrt of one step, with known step values replaced by their symbols.

    Symbols are differentiated as real numbers, whatever their assumptions, and come back as
    given; the derivative of a step function (sign, Heaviside: a DiracDelta) is 0.

    >>> z, a, x, y = sp.symbols("z a x y")
    >>> local_partial(sigmoid(z), z, {sigmoid(z): a})
    a*(1 - a)
    >>> local_partial(sp.Abs(x) * y, x, {})
    y*sign(x)
    >>> local_partial(x**y, x, {x**y: a})
    x**(y - 1)*y
    >>> local_partial(sp.Mod(x, y), x, {})
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: cannot differentiate Mod(x, y) with respect to x: no derivative rule for Mod
    """
    terms = expr.args if isinstance(expr, sp.Add) else (expr,)  # sum rule: skip constant terms
    return sp.Add(*[_real_derivative(term, wrt, values) for term in terms if wrt in term.free_symbols]).xreplace(values)


@cache
def _real(symbol: sp.Symbol) -> sp.Dummy:
    return sp.Dummy(symbol.name, real=True)


def _real_derivative(term: sp.Expr, wrt: sp.Symbol, values: Mapping[sp.Expr, sp.Symbol]) -> sp.Expr:
    """d term / d wrt with the term's symbols taken as real, and the rules of :func:`local_partial`."""
    if all(factor.is_Atom for factor in sp.Mul.make_args(term)):  # w*a: the same for every kind of symbol
        return sp.diff(term, wrt)
    real = {s: _real(s) for s in term.free_symbols if s.is_real is None and s.is_commutative}
    back = {r: s for s, r in real.items()}
    written = term.xreplace(real).replace(sp.sinc, sinc).replace(_symbolic_power, lambda p: _power(*p.args))
    result = sp.diff(written, real.get(wrt, wrt)).replace(lambda e: type(e) is _power, lambda e: sp.Pow(*e.args))
    if result.has(sp.Derivative, sp.Subs):
        raise InputError(_no_rule(term, wrt, values))
    deltas = result.atoms(sp.DiracDelta)
    if deltas:
        result = result.xreplace(dict.fromkeys(deltas, sp.S.Zero))
    return result.replace(lambda e: type(e) is sinc, lambda e: sp.sinc(*e.args)).xreplace(back)


def _symbolic_power(node) -> bool:
    """A power whose exponent is not a number (x**y): SymPy differentiates it wrt its base as
    y*x**y/x, a division by x that the derivative y*x**(y - 1) does not have."""
    return isinstance(node, sp.Pow) and not node.exp.is_Number


class _power(sp.Function):
    """x**y while it is differentiated: ∂/∂x = y*x**(y - 1) (defined at x = 0 where the power
    is differentiable there), ∂/∂y = x**y*log(x)."""

    nargs = 2

    def fdiff(self, argindex=1):
        base, exponent = self.args
        return exponent * base ** (exponent - 1) if argindex == 1 else base**exponent * sp.log(base)


def _no_rule(term: sp.Expr, wrt: sp.Symbol, values: Mapping[sp.Expr, sp.Symbol]) -> str:
    """Which function of ``term`` has no derivative rule, in one line, written in the variables
    (step symbols replaced by what they stand for, as far as ``values`` tells)."""
    node = next((n for n in sp.postorder_traversal(term) if isinstance(n, sp.Function) and wrt in n.free_symbols
                 and _no_derivative(n, wrt)), term)
    meaning = {symbol: value for value, symbol in values.items()}
    for _ in range(len(meaning)):  # each round writes out one more level of steps
        written = node.xreplace(meaning)
        if written == node:
            break
        node = written
    variable = wrt
    while variable in meaning:
        variable = min(meaning[variable].free_symbols, key=lambda s: s.name)
    name = getattr(node.func, "__name__", str(node.func)) if isinstance(node, sp.Function) else "it"
    text = str(node) if len(str(node)) <= 80 else str(node)[:79] + "…"
    return f"cannot differentiate {text} with respect to {variable}: no derivative rule for {name}"


def _no_derivative(node: sp.Expr, wrt: sp.Symbol) -> bool:
    t = _real(wrt)
    return sp.diff(node.xreplace({wrt: t}).replace(sp.sinc, sinc), t).has(sp.Derivative, sp.Subs)


# What has no real value: 1/0 and log(0) are complex infinity, 0/0 is nan; sqrt(-1) is imaginary.
_UNDEFINED = {sp.zoo: "1/0 or log(0) (complex infinity)", sp.nan: "0/0 or another undefined value (nan)", sp.oo: "an infinity (oo)",
              sp.S.NegativeInfinity: "an infinity (-oo)", sp.I: "the imaginary unit (a root or logarithm of a negative number)"}


def undefined_part(expr: sp.Basic) -> str | None:
    """What ``expr`` contains that has no real value (1/0, log(0), 0/0, ∞, √−1), in words; None if nothing.

    >>> undefined_part(sp.Symbol("x") / 0), undefined_part(sp.Symbol("x") + 1)
    ('1/0 or log(0) (complex infinity)', None)
    """
    for value, words in _UNDEFINED.items():
        if expr.has(value):
            return words
    return None


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


def tree_size(expr: sp.Basic, limit: int | None = None) -> int:
    """Nodes of ``expr`` written out as a tree, counted on the DAG (shared parts counted once
    each time they are used, but visited once). With ``limit``, counting stops as soon as it
    passes ``limit``: the answer is exact up to ``limit`` and ``limit + 1`` beyond, found in at
    most ``limit + 1`` steps however large the tree (what a "short enough?" test needs).

    >>> x = sp.Symbol("x")
    >>> tree_size(sp.sin(x) + x), tree_size(sp.sin(x) + x, limit=2)
    (4, 3)
    """
    if limit is not None:
        count, stack = 0, [expr]
        while stack and count <= limit:
            count += 1
            stack.extend(stack.pop().args)
        return count
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
