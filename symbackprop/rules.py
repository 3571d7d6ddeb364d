"""Vector-Jacobian rules of the matrix operations: for a step ``v = f(u₁, …, u_k)`` and
``G = ∂J/∂v`` (with v's shape, the Matrix Cookbook's ∂/∂X), each argument's share of ∂J/∂uᵢ.

One line per operation in :data:`RULES`; :func:`vjp` applies them through a whole formula. A
scalar step needs no rule here: the sweep (:mod:`symbackprop.derive`) multiplies G by the step's
local derivative, written in step symbols (σ' = a(1 − a) comes from the primitive). An elementwise function uses that same local derivative
entry by entry, so the library's activations keep their textbook derivatives.

>>> n = sp.Symbol("n")
>>> X, W, G = (sp.MatrixSymbol(s, n, n) for s in "XWG")
>>> RULES[sp.MatMul](X * W, G, sp.MatrixSymbol("v", n, n))
(G*W.T, X.T*G)
>>> RULES[sp.Trace](sp.Trace(X), sp.Symbol("g"), sp.Symbol("t"))
(g*I,)
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import InputError
from .matrices import elementwise, is_matrix, product, total
from .primitives import ColumnSoftmax
from .simplify import local_partial


def _hadamard(*factors):
    return sp.HadamardProduct(*factors) if len(factors) > 1 else factors[0]


# ---------------------------------------------------------------- linear algebra ------------

def _matmul(expr, G, value):
    """``c F₁ ⋯ F_k``: ``Fᵢ`` gets ``c F_{i−1}ᵀ ⋯ F₁ᵀ G F_kᵀ ⋯ F_{i+1}ᵀ``, each scalar factor of c
    gets the others times ``tr(Gᵀ F₁ ⋯ F_k)``."""
    coeff, factors = expr.as_coeff_matrices()
    shares, i = [], 0
    for position, arg in enumerate(expr.args):
        if not is_matrix(arg):
            others = sp.Mul(*[a for k, a in enumerate(expr.args) if k != position and not is_matrix(a)])
            shares.append(product(others, _inner(G, factors)) if arg.free_symbols else None)
            continue
        left, right = factors[:i], factors[i + 1:]
        shares.append(product(coeff, *[f.T for f in reversed(left)], G, *[f.T for f in reversed(right)]))
        i += 1
    return tuple(shares)


def _inner(G, factors):
    """⟨G, F₁ ⋯ F_k⟩ = tr(Gᵀ F₁ ⋯ F_k); the sum of G's entries, 𝟏ᵀG𝟏, where the product is 𝟏 (a
    number times a ones matrix: a bias shared by a layer)."""
    if len(factors) == 1 and isinstance(factors[0], sp.OneMatrix):
        return sp.Trace(product(sp.OneMatrix(1, G.rows), G, sp.OneMatrix(G.cols, 1)))
    return sp.Trace(product(G.T, *factors))


def _matpow(expr, G, value):
    """``Mᵖ``: ``Σⱼ (Mᵀ)ʲ G (Mᵀ)^(p−1−j)``."""
    M, p = expr.args
    M_T = M.T
    terms = [product(*[M_T] * j, G, *[M_T] * (int(p) - 1 - j)) for j in range(int(p))]
    return (total(terms), None)


def _determinant(expr, G, value):
    """``det M``: ``G det(M) M⁻ᵀ``, so that log det M gives ``M⁻ᵀ``."""
    (M,) = expr.args
    return (product(G * value, sp.Inverse(M).T),)


def _hadamard_power(expr, G, value):
    """``M^∘p``: ``p G ⊙ M^∘(p−1)``; a varying exponent p gets ``tr(Gᵀ (v ⊙ log∘M))``."""
    M, p = expr.args
    base = M if p == 2 else sp.HadamardPower(M, p - 1)
    share_p = sp.Trace(product(G.T, _hadamard(value, M.applyfunc(sp.log)))) if p.free_symbols else None
    return (product(p, _hadamard(G, base)) if p != 1 else G, share_p)


def _elementwise_function(expr, G, value):
    """``f∘M``: ``G ⊙ f'∘M``, with f' the primitive's own derivative, in terms of the step's
    value ``v`` where the primitive writes it so (σ' = v ⊙ (𝟏 − v))."""
    function, M = expr.args
    (t,) = function.variables
    out = sp.Dummy("v")
    derivative = local_partial(function.expr, t, {function.expr: out})
    if t not in derivative.free_symbols:
        return (None, _hadamard(G, elementwise(derivative, {out: value})))
    return (None, _hadamard(G, elementwise(derivative.xreplace({out: function.expr}), {t: M})))


RULES = {
    # linear algebra
    sp.MatAdd: lambda expr, G, value: tuple(G for _ in expr.args),
    sp.MatMul: _matmul,
    sp.Transpose: lambda expr, G, value: (G.T,),
    sp.Inverse: lambda expr, G, value: (product(-1, value.T, G, value.T), None),
    sp.MatPow: _matpow,
    # reductions to a scalar
    sp.Trace: lambda expr, G, value: (product(G, sp.Identity(expr.arg.shape[0])),),
    sp.Determinant: _determinant,
    # elementwise
    sp.HadamardProduct: lambda expr, G, value: tuple(_hadamard(G, *expr.args[:i], *expr.args[i + 1:])
                                                     for i in range(len(expr.args))),
    sp.HadamardPower: _hadamard_power,
    ElementwiseApplyFunction: _elementwise_function,
    ColumnSoftmax: lambda expr, G, value: expr.vjp(G, value),
}


def _scalar_rule(expr, G, value):
    """A scalar operation of scalars: ``G · ∂expr/∂argᵢ`` for each argument (the default rule)."""
    stand_ins = [sp.Dummy() if a.free_symbols else a for a in expr.args]
    local = expr.func(*stand_ins)
    back = {d: a for d, a in zip(stand_ins, expr.args) if d is not a}
    return tuple(G * local_partial(local, d, {}).xreplace(back) if d is not a else None for d, a in zip(stand_ins, expr.args))


def vjp(expr, G, value, constants=frozenset()) -> dict:
    """Each symbol's share of ∂J/∂symbol from the step ``value = expr`` given ``G = ∂J/∂value``:
    the rules of :data:`RULES` applied from ``expr`` down to its symbols (a scalar operation takes
    its local derivative), so a step may be a whole formula such as ``W A + b 𝟏ᵀ``. Symbols in
    ``constants`` (sizes) get none.

    >>> x, A, g = sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("A", 3, 3), sp.Symbol("g")
    >>> vjp(sp.Trace(x.T * A * x), g, None)
    {x: g*A*x + g*A.T*x, A: g*x*x.T}
    >>> W, X, b = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("X", 3, 4), sp.MatrixSymbol("b", 2, 1)
    >>> shares = vjp(W * X + b * sp.OneMatrix(1, 4), sp.MatrixSymbol("G", 2, 4), None)
    >>> shares[W], shares[X], shares[b]
    (G*X.T, W.T*G, G*1)
    """
    shares: dict = {}
    pending = [(expr, G, value)]
    while pending:
        node, G, value = pending.pop()
        if isinstance(node, (sp.Symbol, sp.MatrixSymbol)):
            if node not in constants:
                shares[node] = total([shares[node], G]) if node in shares else G
            continue
        rule = RULES.get(type(node))
        if rule is None and is_matrix(node):
            raise InputError(f"no vector-Jacobian rule for {type(node).__name__}")
        for arg, share in zip(node.args, (rule or _scalar_rule)(node, G, value)):
            if share is not None and isinstance(arg, sp.Expr) and arg.free_symbols - constants:
                pending.append((arg, share, arg))
    return shares
