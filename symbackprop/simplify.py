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
- :func:`tree_size` measures an expression as a printed tree without walking that tree;
- :func:`substitute` replaces symbols by values, rebuilding a max, min or step function as it
  is written (SymPy compares every pair of a max's arguments when it builds one: quadratic in
  their number, and slow for each pair).
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
    factors = sp.Mul.make_args(term)
    if wrt in factors and all(factor.is_Atom for factor in factors):  # w*a: the same for every kind of symbol
        return _other_factors(factors, wrt)
    if isinstance(term, (sp.Max, sp.Min)) and all(arg.is_Atom for arg in term.args):
        return _min_max_partial(term, wrt)
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


def _other_factors(factors: tuple, wrt: sp.Symbol) -> sp.Expr:
    """∂(u₁·u₂·…·uₙ)/∂u_i for distinct atoms: the product of the others, kept in the order the
    product already has (not sorted again), so each factor of a long product costs one pass."""
    others = tuple(factor for factor in factors if factor != wrt)
    return others[0] if len(others) == 1 else sp.Mul._from_args(others) if others else sp.S.One


def _min_max_partial(term: sp.Expr, wrt: sp.Symbol) -> sp.Expr:
    """∂max(a, b)/∂a = H(a − b), ∂min(a, b)/∂a = H(b − a); with more arguments the other ones'
    max (min) stands for b, written as it is (:func:`min_max_of`: not compared pair by pair)."""
    others = [arg for arg in term.args if arg != wrt]
    rest = others[0] if len(others) == 1 else term.func(*others, evaluate=False)
    difference = wrt - rest if isinstance(term, sp.Max) else rest - wrt
    return sp.Heaviside(difference, evaluate=not difference.free_symbols)  # SymPy's sign tests: milliseconds each


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


# Rebuilt as written while their arguments hold symbols: SymPy compares every pair of a max's
# arguments (flattening a max of maxes and comparing again), and asks a step function's argument
# for its sign, each a search of milliseconds that decides nothing for a symbolic argument.
_AS_WRITTEN = (sp.Max, sp.Min, sp.Heaviside)


def substitute(expr: sp.Basic, values: Mapping[sp.Basic, sp.Basic]) -> sp.Basic:
    """``expr.xreplace(values)``, each shared part rebuilt once, and a max, min or step function
    H with symbolic arguments rebuilt as it is written (:data:`_AS_WRITTEN`), not evaluated, which
    for a wide max costs minutes; with numbers only, they are evaluated.

    >>> x, y, z, v = sp.symbols("x y z v")
    >>> substitute(sp.Max(v, z) + v, {v: sp.Max(x, y)})
    Max(x, y) + Max(z, Max(x, y))
    """
    memo: dict[sp.Basic, sp.Basic] = {}
    stack = [(expr, False)]
    while stack:  # iterative post-order, as in tree_size: no recursion limit on deep formulas
        node, expanded = stack.pop()
        if node in memo:
            continue
        if node in values:
            memo[node] = sp.sympify(values[node], strict=True)
        elif not node.args:
            memo[node] = node
        elif expanded:
            args = tuple(memo[arg] for arg in node.args)
            if args == node.args:
                memo[node] = node
            elif isinstance(node, _AS_WRITTEN):
                memo[node] = node.func(*args, evaluate=not any(arg.free_symbols for arg in args))
            else:
                memo[node] = node.func(*args)
        else:
            stack.append((node, True))
            stack.extend((arg, False) for arg in node.args if arg not in memo)
    return memo[expr]


def min_max_of(func, args: Iterable) -> sp.Expr:
    """``func(*args)`` for ``func`` Max or Min, with numbers compared and repeated arguments
    dropped, but symbolic arguments not compared pair by pair beyond :data:`MIN_MAX_COMPARED` of
    them (SymPy's pairwise comparison takes about a millisecond a pair).

    >>> x, y = sp.symbols("x y")
    >>> min_max_of(sp.Max, [x, 1, y, 3, x])
    Max(3, x, y)
    >>> min_max_of(sp.Min, [x, x + 1])
    x
    """
    args = [sp.sympify(arg, strict=True) for arg in args]
    if len(args) <= MIN_MAX_COMPARED:
        return func(*args)
    flat: list[sp.Expr] = []
    for arg in args:
        flat.extend(arg.args if isinstance(arg, func) else (arg,))
    numbers = [arg for arg in flat if arg.is_Number]
    rest = list(dict.fromkeys(arg for arg in flat if not arg.is_Number))
    if numbers:
        rest.insert(0, func(*numbers))
    return rest[0] if len(rest) == 1 else func(*rest, evaluate=False)


MIN_MAX_COMPARED = 8  # a max or min of more arguments is built without comparing them pair by pair
