"""Matrix expressions: SymPy's own matrix classes (MatrixSymbol, MatMul, MatAdd, Transpose,
Inverse, MatPow, Trace, Determinant, HadamardProduct, HadamardPower, elementwise functions,
OneMatrix, Identity) read as the steps of a graph, and their gradients put in a textbook's form.

A scalar J is built from matrices in two ways: as a scalar expression (``Trace``,
``Determinant``, ``log``, ``+`` and scalar functions of those) or as a 1×1 matrix (``aᵀX⁻¹b``).
:func:`normalised` makes one form of both: a 1×1 matrix where a scalar is meant becomes its
trace (SymPy refuses to mix them), ``X**-2`` becomes ``Inverse(X**2)``, and every shape is
checked, since SymPy accepts an ill-shaped product whenever a symbolic size could be 1.

>>> n = sp.Symbol("n", integer=True, positive=True)
>>> a, b = sp.MatrixSymbol("a", n, 1), sp.MatrixSymbol("b", n, 1)
>>> X = sp.MatrixSymbol("X", n, n)
>>> normalised(sp.log(a.T * X.I * b))
log(Trace(a.T*X**(-1)*b))
>>> textbook(a * b.T + a * a.T)
a*(a.T + b.T)
"""

from __future__ import annotations

import itertools

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from . import naming
from .errors import InputError
from .primitives import ColumnSoftmax
from .simplify import tree_size

# Matrices with no arguments to differentiate: they are constants or variables of a graph.
LEAVES = (sp.MatrixSymbol, sp.Identity, sp.OneMatrix, sp.ZeroMatrix)
# Matrix operations with a vector-Jacobian rule (symbackprop.rules); any other is refused here.
OPERATIONS = (sp.MatMul, sp.MatAdd, sp.Transpose, sp.Inverse, sp.MatPow, sp.HadamardProduct, sp.HadamardPower,
              ElementwiseApplyFunction, ColumnSoftmax)
# Scalars made of a matrix.
REDUCTIONS = (sp.Trace, sp.Determinant)


def is_matrix(expr) -> bool:
    """Whether ``expr`` is a matrix expression (a MatrixSymbol, a product of them, …).

    >>> is_matrix(sp.MatrixSymbol("X", 2, 2).T), is_matrix(sp.Trace(sp.MatrixSymbol("X", 2, 2)))
    (True, False)
    """
    return isinstance(expr, MatrixExpr)


def has_matrices(expr) -> bool:
    """Whether ``expr`` is a matrix expression or holds one (a trace, a determinant).

    >>> X = sp.MatrixSymbol("X", 2, 2)
    >>> has_matrices(sp.log(sp.det(X))), has_matrices(sp.Symbol("x"))
    (True, False)
    """
    return is_matrix(expr) or (isinstance(expr, sp.Basic) and bool(expr.atoms(sp.MatrixSymbol)))


def shape_text(shape) -> str:
    """``(n, m)`` → ``"n×m"``.

    >>> shape_text(sp.MatrixSymbol("X", sp.Symbol("n"), 3).shape)
    'n×3'
    """
    return "×".join(map(str, shape))


def sizes(expr) -> tuple[sp.Symbol, ...]:
    """The symbols that stand for sizes of matrices in ``expr``, by name.

    >>> n, m = sp.symbols("n m")
    >>> sizes(sp.trace(sp.MatrixSymbol("X", n, m) * sp.MatrixSymbol("Y", m, n)))
    (m, n)
    """
    found: set[sp.Symbol] = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, LEAVES):
            found |= set().union(*(sp.sympify(size).free_symbols for size in node.shape))
    return tuple(sorted(found, key=lambda s: s.name))


def _same_size(a, b, where: str, *matrices) -> None:
    """``a`` and ``b`` (sizes) are provably equal; refused when they differ or cannot be told
    apart, saying ``where`` with each ``{}`` filled by one of ``matrices`` (built only then)."""
    difference = sp.expand(sp.sympify(a) - b)
    if difference == 0:
        return
    where = where.format(*[f"{naming.clipped(M, 40)} ({shape_text(M.shape)})" for M in matrices])
    if difference.is_number or difference.is_zero is False:
        raise InputError(f"{where}: {a} ≠ {b}")
    raise InputError(f"{where}: cannot tell that {a} equals {b}; give the sizes as numbers or use the same size symbol")


def _check_shapes(node) -> None:
    """The operands of ``node`` fit together (SymPy only checks what it can prove wrong)."""
    args = [a for a in node.args if is_matrix(a)]
    if isinstance(node, sp.MatMul):
        for left, right in itertools.pairwise(args):
            _same_size(left.shape[1], right.shape[0], "cannot multiply {} by {}", left, right)
    elif isinstance(node, (sp.MatAdd, sp.HadamardProduct)):
        verb = "add" if isinstance(node, sp.MatAdd) else "multiply elementwise"
        for other in args[1:]:
            for i in (0, 1):
                _same_size(args[0].shape[i], other.shape[i], f"cannot {verb} {{}} and {{}}", args[0], other)
    elif isinstance(node, (sp.Inverse, sp.MatPow, *REDUCTIONS)):
        (matrix,) = args[:1]
        name = {sp.Inverse: "inverse", sp.MatPow: "power", sp.Trace: "trace", sp.Determinant: "determinant"}[type(node)]
        _same_size(matrix.shape[0], matrix.shape[1], f"the {name} of {{}} needs a square matrix", matrix)


def misfit(expr) -> str | None:
    """Where the operands of ``expr`` do not fit together (SymPy accepts ``X W`` with X n×m and
    W k×k, in case m equals k), or None.

    >>> n, m = sp.symbols("n m")
    >>> misfit(sp.MatrixSymbol("X", n, m) * sp.MatrixSymbol("W", n, n))
    'cannot multiply X (n×m) by W (n×n): cannot tell that m equals n; give the sizes as numbers or use the same size symbol'
    """
    for node in sp.preorder_traversal(expr):
        if is_matrix(node) or isinstance(node, REDUCTIONS):
            try:
                _check_shapes(node)
            except InputError as error:
                return str(error)
    return None


def scalar_of(expr):
    """A 1×1 matrix read as the scalar it holds (``tr(q)``, a number times ``I₁`` as the number);
    anything else as it is.

    >>> a = sp.MatrixSymbol("a", 3, 1)
    >>> scalar_of(2 * a.T * a), scalar_of(sp.MatMul(5, sp.Identity(1))), scalar_of(a)
    (2*Trace(a.T*a), 5, a)
    """
    if not is_matrix(expr) or expr.shape != (1, 1):
        return expr
    if not isinstance(expr, sp.MatMul):
        return sp.Trace(expr)
    coeff, matrices = expr.as_coeff_matrices()
    return coeff if matrices == [sp.Identity(1)] else coeff * sp.Trace(expr.as_coeff_mmul()[1])


def _as_scalar(arg, parent) -> sp.Expr:
    """A matrix argument of a scalar operation: the scalar it holds when it is 1×1, refused otherwise."""
    if not is_matrix(arg) or arg.shape == (1, 1):
        return scalar_of(arg)
    name = getattr(parent.func, "__name__", type(parent).__name__)
    if isinstance(parent, (sp.Add, sp.Mul, sp.Pow)):
        raise InputError(f"cannot mix the {shape_text(arg.shape)} matrix {naming.clipped(arg, 40)} with scalars in "
                         f"{naming.clipped(parent, 60)}: only a 1×1 matrix is a scalar")
    raise InputError(f"{name} of the {shape_text(arg.shape)} matrix {naming.clipped(arg, 40)} is not defined here: "
                     f"write ({naming.clipped(arg, 40)}).applyfunc({name}) for {name} of each entry")


def normalised(expr) -> sp.Expr:
    """``expr`` (a scalar or a 1×1 matrix) as a scalar expression whose matrix parts each have a
    vector-Jacobian rule: 1×1 matrices in scalar places become traces, ``X**-k`` becomes
    ``Inverse(X**k)``; shapes are checked. Anything else is an :class:`InputError` naming it.

    >>> m = sp.Symbol("m")
    >>> H = sp.MatrixSymbol("H", 1, m)  # SymPy accepts 𝟏ᵀH𝟏 in case m is 1
    >>> normalised(sp.OneMatrix(1, m) * H * sp.OneMatrix(m, 1))
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: cannot multiply 1 (1×m) by H (1×m): cannot tell that m equals 1; give the sizes as numbers or use the same size symbol
    """
    memo: dict = {}

    def rebuilt(node):
        if node in memo:
            return memo[node]
        if isinstance(node, LEAVES):
            for size in node.shape:
                size = sp.sympify(size)
                if not (size.is_Symbol or (size.is_Integer and size > 0)):
                    raise InputError(f"the size {size} of {naming.clipped(node, 40)} must be a positive integer or a symbol")
            result = node
        elif not node.args or isinstance(node, (sp.Lambda, sp.Tuple)) or not isinstance(node, sp.Basic):
            result = node
        elif isinstance(node, sp.MatrixBase):
            raise InputError(f"the explicit matrix {naming.clipped(node, 40)}: write matrices as MatrixSymbol('X', n, m)")
        elif (isinstance(node, sp.Piecewise) or not isinstance(node, sp.Expr)) and node.atoms(sp.MatrixSymbol):
            raise InputError(f"{naming.clipped(node, 60)}: a condition or a piecewise formula of matrices has no "
                             f"vector-Jacobian rule here")
        elif is_matrix(node):
            result = _matrix_node(node, [rebuilt(a) for a in node.args])
        elif isinstance(node, MatrixElement):
            raise InputError(f"the entry {naming.clipped(node, 40)} of a matrix: write the expression in whole matrices "
                             f"(aᵀXb picks entries out of X)")
        else:
            args = [rebuilt(a) for a in node.args]
            if not isinstance(node, REDUCTIONS):
                args = [_as_scalar(a, node) for a in args]
            result = node.func(*args) if tuple(args) != node.args else node
            if isinstance(node, REDUCTIONS):
                _check_shapes(result)
        memo[node] = result
        return result

    if not isinstance(expr, sp.Basic):
        raise InputError(f"expected a SymPy expression, got {type(expr).__name__}")
    result = rebuilt(expr)
    if is_matrix(result):
        if result.shape != (1, 1):
            raise InputError(f"J = {naming.clipped(result, 60)} is a {shape_text(result.shape)} matrix: backprop needs "
                             f"a scalar (a trace, a sum 𝟏ᵀM𝟏, a norm, or a 1×1 product)")
        result = _as_scalar(result, None)
    return result


def shared_transposes(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each compound matrix whose transpose also occurs written as that transpose
    (SymPy writes ``(XW − Y)ᵀ`` as ``WᵀXᵀ − Yᵀ``), so that a graph computes it once; of the two,
    the one with fewer transposes is kept.

    >>> X, W, Y = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("W", 2, 1), sp.MatrixSymbol("Y", 3, 1)
    >>> shared_transposes(sp.Trace((X*W - Y).T * (X*W - Y)))
    Trace((X*W - Y).T*(X*W - Y))
    """
    values: dict = {}  # node → its value as SymPy evaluates it, so that 𝟏bᵀ and (b𝟏ᵀ)ᵀ compare equal

    def value(node):
        if node not in values:
            values[node] = node.doit()
        return values[node]

    while True:  # the largest pair first: its parts are then written once, inside it
        compound = sorted({node for node in sp.preorder_traversal(expr) if is_matrix(node)
                           and not isinstance(node, (*LEAVES, sp.Transpose))}, key=sp.default_sort_key)
        alike: dict = {}  # (its matrices, its shape) → nodes: only these may be transposes of each other
        for node in compound:
            alike.setdefault((frozenset(node.atoms(sp.MatrixSymbol)), node.shape), []).append(node)
        pairs = []
        for node in compound:
            others = {value(other): other for other in alike.get((frozenset(node.atoms(sp.MatrixSymbol)), node.shape[::-1]), ())}
            other = others.get(value(node.T)) if others else None
            if other is not None and other != node:
                pairs.append((node, other))
        if not pairs:
            return expr
        pair = max(pairs, key=lambda pair: tree_size(pair[0]))
        keep, drop = sorted(pair, key=lambda n: (transposes(n), sp.default_sort_key(n)))
        expr = expr.xreplace({drop: sp.Transpose(keep)})


def _matrix_node(node, args) -> sp.Expr:
    """A matrix operation rebuilt on normalised arguments, checked."""
    if not isinstance(node, OPERATIONS):
        raise InputError(f"no vector-Jacobian rule for {type(node).__name__} (in {naming.clipped(node, 60)}); "
                         f"write it with products, sums, transposes, inverses, traces, determinants and elementwise functions")
    if isinstance(node, sp.MatPow):
        base, power = args
        if not power.is_Integer and base.shape == (1, 1):  # √(xᵀx): a power of the scalar it is
            return product(_as_scalar(base, node) ** power, sp.Identity(1))
        if not power.is_Integer:
            raise InputError(f"the matrix power {naming.clipped(node, 40)} needs an integer exponent, not {power}")
        node = sp.Inverse(base if power == -1 else sp.MatPow(base, -power)) if power < 0 else sp.MatPow(base, power)
        args = list(node.args)
    if isinstance(node, ElementwiseApplyFunction):
        function = node.function
        if len(function.variables) != 1 or has_matrices(function.expr):
            raise InputError(f"the elementwise function {naming.clipped(function, 40)} must be a scalar function of "
                             f"one variable")
        if function.expr.free_symbols - set(function.variables):  # exp(s t) → exp∘(s M): s is a variable too
            return elementwise(function.expr, {function.variables[0]: args[1]})
        node = ElementwiseApplyFunction(function, args[1])
    elif isinstance(node, sp.HadamardPower):
        base, power = args
        if is_matrix(power):  # c^∘X = exp∘(X log c) entry by entry
            if is_matrix(base) or (base.is_number and not base.is_positive):
                raise InputError(f"the elementwise power {naming.clipped(node, 40)} needs a positive scalar base or a scalar "
                                 f"exponent")
            t = sp.Dummy("t")
            return elementwise(base ** t if not base.free_symbols else sp.exp(sp.log(base) * t), {t: power})
        node = sp.HadamardPower(base, power)
    else:
        node = node.func(*args) if tuple(args) != node.args else node
    _check_shapes(node)
    return node


def product(*factors) -> sp.Expr:
    """The product of scalars and matrices, scalars first, as SymPy writes it (``I`` dropped,
    ``X X`` as ``X²``); a single factor as it is.

    >>> X = sp.MatrixSymbol("X", 2, 2)
    >>> product(2, X, sp.Identity(2), X)
    2*X**2
    """
    scalars = sp.Mul(*[f for f in factors if not is_matrix(f)])
    matrices = [f for f in factors if is_matrix(f)]
    if not matrices:
        return scalars
    if scalars == 1 and len(matrices) == 1:
        return matrices[0]
    return sp.MatMul(scalars, *matrices).doit(deep=False)


def total(terms, like=None) -> sp.Expr:
    """The sum of ``terms`` (scalars, or matrices of one shape) as SymPy writes it; with none,
    the zero of ``like``'s shape.

    >>> X = sp.MatrixSymbol("X", 2, 2)
    >>> total([X, X]), total([], like=X)
    (2*X, 0)
    """
    terms = list(terms)
    if not terms:
        return sp.ZeroMatrix(*like.shape) if is_matrix(like) else sp.S.Zero
    if any(is_matrix(t) for t in terms):
        return sp.MatAdd(*terms).doit(deep=False) if len(terms) > 1 else terms[0]
    return sp.Add(*terms)


def elementwise(expr: sp.Expr, entries: dict) -> sp.Expr:
    """The scalar function ``expr`` applied entry by entry, where ``entries`` maps each of its
    symbols to the matrix whose entries it stands for (all of one shape): Hadamard products,
    powers and sums where it is a polynomial, elementwise functions elsewhere.

    >>> t, A = sp.Symbol("t"), sp.MatrixSymbol("A", 2, 2)
    >>> elementwise(t * (1 - t), {t: A})
    HadamardProduct(A, -A + 1)
    """
    shape = next(iter(entries.values())).shape
    if expr in entries:
        return entries[expr]
    if not expr.free_symbols & entries.keys():
        return product(expr, sp.OneMatrix(*shape)) if expr != 0 else sp.ZeroMatrix(*shape)
    if isinstance(expr, sp.Add):
        return total(elementwise(term, entries) for term in expr.args)
    if isinstance(expr, sp.Mul):
        constant, varying = expr.as_independent(*entries, as_Add=False)
        factors = [elementwise(f, entries) for f in sp.Mul.make_args(varying)]
        return product(constant, sp.HadamardProduct(*factors) if len(factors) > 1 else factors[0])
    if isinstance(expr, sp.Pow) and not expr.exp.free_symbols & entries.keys():
        return sp.HadamardPower(elementwise(expr.base, entries), expr.exp)
    d = sp.Dummy("d")
    if len(expr.args) == 1:
        return ElementwiseApplyFunction(sp.Lambda(d, expr.func(d)), elementwise(expr.args[0], entries))
    used = [t for t in entries if t in expr.free_symbols]
    if len(used) == 1 and expr.free_symbols == {used[0]}:
        return ElementwiseApplyFunction(sp.Lambda(d, expr.xreplace({used[0]: d})), entries[used[0]])
    varying = [i for i, a in enumerate(expr.args) if a.free_symbols]
    if len(varying) == 1 and all(isinstance(a, sp.Expr) for a in expr.args) and not expr.free_symbols - entries.keys():
        (i,) = varying  # Heaviside(x + y, 0), Max(x + y, 0)
        function = sp.Lambda(d, expr.func(*expr.args[:i], d, *expr.args[i + 1:]))
        return ElementwiseApplyFunction(function, elementwise(expr.args[i], entries))
    raise InputError(f"cannot apply {naming.clipped(expr, 60)} entry by entry: other symbols may appear in an elementwise "
                     f"function only through sums, products, powers and functions of one argument")


ENTRYWISE = (sp.HadamardProduct, sp.HadamardPower, ElementwiseApplyFunction)


def entrywise_simplified(expr, memo: dict | None = None):
    """``expr`` with each maximal part that acts entry by entry (Hadamard products and powers,
    elementwise functions, sums and scalar multiples of them) simplified as the scalar function
    it is of each entry, kept where that is shorter: ``−y ⊙ σ(z)^∘−1 ⊙ σ(z) ⊙ (𝟏 − σ(z)) + …`` →
    ``σ(z) − y``. ``memo`` keeps the parts done, for the next expression that shares them.

    >>> p, y = sp.MatrixSymbol("p", 3, 1), sp.MatrixSymbol("y", 3, 1)
    >>> entrywise_simplified(sp.HadamardProduct(sp.HadamardPower(p, -1), p, y))
    y
    """
    memo = {} if memo is None else memo

    def simplified(expr):
        if not is_matrix(expr) or isinstance(expr, LEAVES):
            return expr
        if expr not in memo:
            kept = _on_arguments(expr, simplified)
            memo[expr] = kept
            if isinstance(expr, ENTRYWISE + (sp.MatAdd, sp.MatMul)) and any(isinstance(n, ENTRYWISE) for n in sp.preorder_traversal(expr)):
                simpler = _simplified_entry(expr, simplified)
                if simpler is not None and tree_size(simpler) < tree_size(kept):
                    memo[expr] = simpler
        return memo[expr]

    return simplified(expr)


def _simplified_entry(expr, simplified):
    """``expr`` simplified as the scalar function of each entry it is, or None where it is not one.
    A scalar that holds matrices (a trace) is a constant here, standing in as a symbol."""
    entries: dict = {}
    scalars: dict = {}
    scalar = _entry(expr, entries, scalars)
    if scalar is None or not entries:
        return None
    simpler = sp.factor_terms(sp.cancel(scalar))
    if tree_size(simpler) >= tree_size(expr):  # (one scalar operation per matrix operation)
        return None
    try:
        simpler = elementwise(simpler, {t: _on_arguments(M, simplified) for t, M in entries.items()})
    except InputError:  # a function of several entries: no elementwise form of one matrix
        return None
    return simpler.xreplace(scalars)


class EntrywiseSteps:
    """Deltas in step symbols simplified entry by entry (:func:`entrywise_simplified`), seeing
    through the steps that only combine others entry by entry (``𝟏 − P``, ``Y ⊙ log∘P``): the
    delta of logistic regression's logits, ``−Y ⊙ P^∘−1 ⊙ P ⊙ (𝟏 − P) + …``, is ``P − Y``.

    >>> z, p, q, y = (sp.MatrixSymbol(s, 3, 1) for s in "zpqy")
    >>> from symbackprop.network import Step
    >>> steps = [Step(p, z.applyfunc(sp.exp)), Step(q, sp.OneMatrix(3, 1) - p)]
    >>> EntrywiseSteps(steps).simplified(sp.HadamardProduct(y, sp.HadamardPower(q, -1), sp.OneMatrix(3, 1) - p))
    y
    """

    def __init__(self, steps):
        self.values: dict = {}  # an entrywise step → its formula in steps that are not
        self.symbols: dict = {}  # an elementwise function step's function and argument → its symbol
        for step in steps:
            if isinstance(step.expr, ElementwiseApplyFunction):  # keyed as it reads once entrywise steps are written out
                argument = step.expr.expr.xreplace(self.values).doit()
                self.symbols[_function_key(step.expr.func(step.expr.function, argument))] = step.symbol
            elif is_matrix(step.symbol) and (isinstance(step.expr, (sp.MatAdd, sp.HadamardProduct, sp.HadamardPower))
                                             or (isinstance(step.expr, sp.MatMul) and len(step.expr.as_coeff_matrices()[1]) == 1)):
                self.values[step.symbol] = step.expr.xreplace(self.values)

    def simplified(self, expr):
        """``expr`` simplified entry by entry where that makes it smaller, else as it is."""
        if not expr.has(*ENTRYWISE):
            return expr
        simpler = entrywise_simplified(expr.xreplace(self.values).doit().replace(
            lambda node: isinstance(node, ElementwiseApplyFunction) and _function_key(node) in self.symbols,
            lambda node: self.symbols[_function_key(node)]))
        return simpler if tree_size(simpler) < tree_size(expr) else expr


ARGUMENT = sp.Symbol("_argument")  # the argument of an elementwise function, whatever it was called


def function_body(node: ElementwiseApplyFunction) -> sp.Expr:
    """The scalar function that ``node`` applies to each entry, written in :data:`ARGUMENT`.

    >>> function_body(sp.MatrixSymbol("Z", 2, 2).applyfunc(sp.tanh))
    tanh(_argument)
    """
    return node.function.expr.xreplace({node.function.variables[0]: ARGUMENT})


def _function_key(node: ElementwiseApplyFunction) -> tuple:
    """What an elementwise function computes, and of what."""
    return function_body(node), node.expr


def _on_arguments(expr, change):
    args = [change(a) if is_matrix(a) else a for a in expr.args]
    return expr.func(*args).doit(deep=False) if tuple(args) != expr.args else expr


def _entry(expr, entries: dict, scalars: dict):
    """``expr`` as the scalar function it is of each entry, every other matrix standing for its
    entry by a symbol recorded in ``entries`` and every scalar that holds matrices by a symbol
    recorded in ``scalars``; None where ``expr`` does not act entry by entry."""
    if isinstance(expr, sp.OneMatrix):
        return sp.S.One
    if isinstance(expr, sp.ZeroMatrix):
        return sp.S.Zero
    if isinstance(expr, sp.MatAdd):
        terms = [_entry(a, entries, scalars) for a in expr.args]
        return None if None in terms else sp.Add(*terms)
    if isinstance(expr, sp.HadamardProduct):
        factors = [_entry(a, entries, scalars) for a in expr.args]
        return None if None in factors else sp.Mul(*factors)
    if isinstance(expr, sp.HadamardPower):
        base = _entry(expr.base, entries, scalars)
        return None if base is None else base ** expr.exp
    if isinstance(expr, ElementwiseApplyFunction):
        inner = _entry(expr.expr, entries, scalars)
        return None if inner is None else expr.function(inner)
    if isinstance(expr, sp.MatMul):
        coeff, matrices = expr.as_coeff_matrices()
        if len(matrices) == 1:
            inner = _entry(matrices[0], entries, scalars)
            if inner is None:
                return None
            if has_matrices(coeff):
                stand_in = next((t for t, c in scalars.items() if c == coeff), None) or sp.Dummy(f"c{len(scalars)}")
                scalars[stand_in] = coeff
                coeff = stand_in
            return coeff * inner
    for symbol, matrix in entries.items():
        if matrix == expr:
            return symbol
    symbol = sp.Dummy(f"e{len(entries)}")
    entries[symbol] = expr
    return symbol


# ---------------------------------------------------------------- textbook form ------------

def textbook(expr, memo: dict | None = None):
    """A gradient as a textbook prints it, without ``sympy.simplify``: SymPy's own evaluation
    (``.doit()``: nested products flattened, transposes moved onto the symbols, like terms
    merged), parts that act entry by entry simplified (:func:`entrywise_simplified`, with
    ``memo``), then in each sum the terms that share a right (or left) factor collected:
    ``A x + Aᵀ x`` → ``(A + Aᵀ) x``.

    >>> n = sp.Symbol("n")
    >>> A, x = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("x", n, 1)
    >>> textbook(A * x + A.T * x)
    (A + A.T)*x
    """
    if not is_matrix(expr):
        return expr.doit() if has_matrices(expr) else expr
    collected = _collected(entrywise_simplified(expr.doit(), memo))
    if isinstance(collected, sp.MatAdd) and all(isinstance(t, sp.MatMul) and t.args[0].is_Number for t in collected.args):
        return _common_number_out(collected)  # −2XW + 2Y → 2(Y − XW)
    return collected


def _collected(expr):
    if not isinstance(expr, sp.Basic) or not expr.args or isinstance(expr, LEAVES):
        return expr
    args = [_collected(a) if isinstance(a, sp.Basic) else a for a in expr.args]
    if isinstance(expr, sp.MatAdd):
        return _factored_sum(args)
    if isinstance(expr, ElementwiseApplyFunction):  # σ(Z)ᵀ, not σ(Zᵀ) with Zᵀ written out
        inner = _transpose_out(args[1])
        if isinstance(inner, sp.Transpose):
            return sp.Transpose(ElementwiseApplyFunction(args[0], inner.arg))
    if isinstance(expr, sp.MatMul):  # a sum inside a product: X(2W − 2Y) → 2X(W − Y), xᵀ − μᵀ → (x − μ)ᵀ
        args = _scalars_first([_tidy_factor(a) if is_matrix(a) else _tidy_scalar(a) for a in args])
    return expr.func(*args).doit(deep=False) if tuple(args) != expr.args else expr


def _scalars_first(factors: list) -> list:
    """A 1×1 run of a product's matrices moved to the front as the scalar it is: a xᵀ a → (xᵀa) a."""
    matrices = [f for f in factors if is_matrix(f)]
    for start in range(len(matrices)):
        for stop in range(len(matrices), start + 1, -1):
            run = matrices[start:stop]
            if (run[0].shape[0], run[-1].shape[1]) == (1, 1) and len(run) < len(matrices):
                rest = matrices[:start] + matrices[stop:]
                return [f for f in factors if not is_matrix(f)] + [sp.Trace(sp.MatMul(*run))] + _scalars_first(rest)
    return factors


def _tidy_scalar(scalar):
    """A scalar factor with its powers merged and common terms taken out, each trace and
    determinant standing as one symbol meanwhile: n det(A) det(A)ⁿ + det(A) det(A)ⁿ → (n + 1) det(A)ⁿ⁺¹."""
    stand_ins = {node: sp.Dummy() for node in scalar.atoms(*REDUCTIONS)}
    tidy = sp.factor_terms(sp.powsimp(scalar.xreplace(stand_ins)))
    return tidy.xreplace({d: node for node, d in stand_ins.items()})


def _tidy_factor(factor):
    """A sum as a factor of a product, with its transpose and its common number outside:
    ``2b𝟏ᵀ + 2WᵀXᵀ − 2Yᵀ`` → ``2(XW + 𝟏bᵀ − Y)ᵀ``."""
    factor = _transpose_out(factor)
    inner = _common_number_out(factor.arg if isinstance(factor, sp.Transpose) else factor)
    if not isinstance(factor, sp.Transpose):
        return inner
    if isinstance(inner, sp.MatMul) and not is_matrix(inner.args[0]):
        return sp.MatMul(inner.args[0], sp.Transpose(product(*inner.args[1:])))
    return sp.Transpose(inner)


def _transpose_out(expr):
    """``xᵀ − μᵀ`` → ``(x − μ)ᵀ``: a sum as the transpose of a sum where that has fewer transposes."""
    if not isinstance(expr, sp.MatAdd):
        return expr
    flipped = sp.MatAdd(*[t.T for t in expr.args])
    return sp.Transpose(flipped) if transposes(flipped) < transposes(expr) else expr


def transposes(expr) -> int:
    """How many transposes ``expr`` holds.

    >>> X = sp.MatrixSymbol("X", 2, 2)
    >>> transposes(X.T * X + X.T)
    2
    """
    return sum(isinstance(node, sp.Transpose) for node in sp.preorder_traversal(expr))


def _common_number_out(expr):
    """``2XW − 2Y`` → ``2(XW − Y)``, ``c A x + c Aᵀ x`` → ``c (A x + Aᵀ x)``: the scalar factors
    common to every term's coefficient (a number that divides them all), in front."""
    if not isinstance(expr, sp.MatAdd):
        return expr
    coefficients = [t.as_coeff_mmul()[0] if isinstance(t, sp.MatMul) else sp.S.One for t in expr.args]
    numbers, rests = zip(*[c.as_coeff_Mul() for c in coefficients])
    common = sp.gcd_list(numbers) if all(n.is_Rational for n in numbers) else sp.S.One
    if common and all(n.is_negative for n in numbers):
        common = -common
    shared = set(sp.Mul.make_args(rests[0]))
    for rest in rests[1:]:
        shared &= set(sp.Mul.make_args(rest))
    common *= sp.Mul(*shared)
    if common in (0, 1):
        return expr
    return sp.MatMul(common, sp.MatAdd(*[product(1 / common, t) for t in expr.args]))


def _factored_sum(terms):
    """``c₁ F₁ G + c₂ F₂ G`` → ``(c₁ F₁ + c₂ F₂) G`` for the largest group sharing G (or sharing a
    left factor), repeated while it shortens the sum; a number common to the group goes in front."""
    for side in (-1, 0):
        groups: dict = {}
        for term in terms:
            _, factors = term.as_coeff_mmul() if isinstance(term, sp.MatMul) else (sp.S.One, term)
            parts = list(factors.args) if isinstance(factors, sp.MatMul) else [factors]
            if len(parts) >= 2:
                groups.setdefault(parts[side], []).append(term)
        shared, group = max(groups.items(), key=lambda kv: len(kv[1]), default=(None, []))
        if len(group) > 1:
            rests = []
            for term in group:
                coeff, factors = term.as_coeff_mmul()
                parts = list(factors.args)
                rests.append(product(coeff, *(parts[:-1] if side == -1 else parts[1:])))
            inner = _common_number_out(_factored_sum(rests))
            collected = sp.MatMul(*((inner, shared) if side == -1 else (shared, inner))).doit(deep=False)
            others = [t for t in terms if not any(t is g for g in group)]
            return _factored_sum([collected, *others]) if others else collected
    return sp.MatAdd(*terms) if len(terms) > 1 else terms[0]  # (evaluating would undo (x − μ)ᵀ)
