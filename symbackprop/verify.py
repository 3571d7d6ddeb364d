"""Check a derivation done by hand, and say which factor is wrong and what it should be.

A claim is a SymPy expression or a formula as text (read by :func:`symbackprop.parse.parse_expr`,
never evaluated). It may use every name the library prints (:func:`naming.accepted_names`): the
graph's own (``x1``, ``w2``, ``z2``, ``a1``, ``J``), a network's output as ``ŷ`` / ``yhat`` /
``y_hat`` (``ŷ1``, ``yhat1``, … when there are several), ``y`` for a single target, and deltas
(``δ_2``, ``δ2``, ``delta_2``, ``delta_z2``), which stand for their value. Equality is decided
by a bounded symbolic test and then by numeric probes at random points where both sides are
defined; a wrong claim comes with a counterexample.

A gradient with respect to a matrix (a function of SymPy matrices: ``MatrixSymbol``, ``Trace``,
``MatMul``, …) is claimed in matrix notation (``2*X^T*(X*W - Y)``, ``2*X.T@(X@W - Y)``,
``2 Xᵀ (X W − Y)``), with the shapes of the derivation's matrices; :func:`verify_matrix` checks
its shape first (the Matrix Cookbook's convention: ∂J/∂W has W's shape), then its value at random
points with a different small number for each size, and shows the right form where it is wrong.

>>> import sympy as sp
>>> from symbackprop import mlp, sigmoid
>>> z = sp.Symbol("z")
>>> bool(verify("sigmoid(z)*(1 - sigmoid(z))", sigmoid(z), wrt=z))
True
>>> verdict = verify(["y/yhat + (1 - y)/(1 - yhat)", "z2*(1 - z2)", "a1"], mlp([1, 1, 1], loss="bce"), wrt="w2")
>>> [bool(v) for _, v in verdict.factors]
[False, False, True]
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from . import naming
from .api import backprop
from .derive import Derivation, Factor
from .errors import InputError
from .evaluate import evaluate, random_point
from .latex import BackpropLatexPrinter
from .matrices import has_matrices, shape_text
from .matrices import misfit as matrix_misfit
from .matrices import sizes as matrix_sizes
from .network import Graph, as_expression
from .parse import GREEK, ShapeError, parse_expr, refuse_undefined
from .simplify import recognize_activations, tree_size
from .text import TextPrinter
from .values import LARGEST

PROBES = 24
SYMBOLIC_LIMIT = 300  # tree nodes: larger differences go straight to the numeric probes
PRECISION = 30  # digits of the numeric probes
TOLERANCE = 1e-9  # relative, at that precision


@dataclass(frozen=True)
class Verdict:
    """Whether ``claimed`` equals ``correct``; if not, a point where they differ and both values."""

    equal: bool
    claimed: sp.Expr
    correct: sp.Expr
    how: str
    counterexample: Mapping[sp.Symbol, float] | None = None
    claimed_value: float | None = None
    correct_value: float | None = None
    graph: Graph | None = field(default=None, repr=False, compare=False)  # gives the names it is shown with

    def __bool__(self) -> bool:
        return self.equal

    def _printers(self):
        return _printers(self.graph)

    def __str__(self) -> str:
        text = self._printers()[0].doprint
        if self.equal:
            return f"right ({self.how}): {text(self.claimed)}"
        lines = [f"wrong: claimed {text(self.claimed)}", f"  should be {text(self.correct)}"]
        if self.counterexample:
            lines.append(f"  at {self._point(text)}: claimed {self.claimed_value:.10g}, correct {self.correct_value:.10g}")
        return "\n".join(lines)

    def _point(self, show) -> str:
        return ", ".join(f"{show(s)} = {v:.6g}" for s, v in self.counterexample.items())

    def _repr_markdown_(self) -> str:
        latex = self._printers()[1].doprint
        if self.equal:
            return f"**right** ({self.how}): ${latex(self.claimed)}$"
        lines = [f"**wrong**: claimed ${latex(self.claimed)}$, should be ${latex(self.correct)}$"]
        if self.counterexample:
            lines.append(f"at ${self._point(latex)}$: claimed {self.claimed_value:.10g}, correct {self.correct_value:.10g}")
        return "\n\n".join(lines)


def _printers(graph: Graph | None):
    """Text and LaTeX printers with the names of ``graph`` (plain names without one)."""
    if graph is None:
        return TextPrinter(), BackpropLatexPrinter()
    return TextPrinter(naming.text_names(graph)), BackpropLatexPrinter(naming.latex_names(graph))


@dataclass(frozen=True)
class ChainVerdict:
    """One verdict per chain-rule factor (output first) and one for their product."""

    wrt: sp.Symbol
    factors: tuple[tuple[Factor, Verdict], ...]
    product: Verdict
    graph: Graph | None = field(default=None, repr=False, compare=False)  # gives the names it is shown with

    def __bool__(self) -> bool:
        return all(self.factors_right)

    @property
    def factors_right(self) -> list[bool]:
        return [bool(v) for _, v in self.factors]

    def _summary(self) -> str:
        return "every factor is right" if self else f"{self.factors_right.count(False)} factor(s) wrong"

    def __str__(self) -> str:
        text = _printers(self.graph)[0].doprint
        output = text(self.graph.output) if self.graph is not None else "J"
        lines = []
        for i, (factor, verdict) in enumerate(self.factors, start=1):
            body = str(verdict).replace("\n", "\n   ")
            lines.append(f"{i}. ∂{text(factor.of)}/∂{text(factor.wrt)}: {body}")
        return f"chain rule for ∂{output}/∂{text(self.wrt)}: {self._summary()}\n" + "\n".join(lines)

    def _repr_markdown_(self) -> str:
        latex = _printers(self.graph)[1]
        output = self.graph.output if self.graph is not None else sp.Symbol("J")
        lines = [f"chain rule for ${_partial(latex, output, self.wrt)}$: **{self._summary()}**", ""]
        for i, (factor, verdict) in enumerate(self.factors, start=1):
            lines.append(f"{i}. ${_partial(latex, factor.of, factor.wrt)}$: {verdict._repr_markdown_()}".replace("\n\n", "; "))
        return "\n".join(lines)


def _partial(printer, of, wrt) -> str:
    return rf"\frac{{\partial {printer.doprint(of)}}}{{\partial {printer.doprint(wrt)}}}"


def _read(claim, names: Mapping[str, sp.Symbol]) -> sp.Expr:
    """A claim as an expression in the symbols ``names`` gives: a formula is parsed, a SymPy
    expression has its symbols renamed (a symbol named ``ŷ`` becomes the output)."""
    if isinstance(claim, str):
        return parse_expr(naming.typed(claim), names)
    try:
        expr = sp.sympify(claim, strict=True)
    except (sp.SympifyError, TypeError, ValueError):
        raise InputError(f"a claim must be a formula or a SymPy expression, got {type(claim).__name__}") from None
    refuse_undefined(expr, "claim")
    unknown = {s for s in expr.free_symbols if s.name not in names}
    if unknown:
        raise InputError(f"the claim uses {', '.join(sorted(map(str, unknown)))}, not in the expression; "
                         f"its symbols: {naming.listing(sorted(set(map(str, names.values()))))}")
    return expr.xreplace({s: names[s.name] for s in expr.free_symbols})


# Where probes are drawn: the first PROBES points from the first MILD ranges in turn (every variable
# from the same one: small values give readable counterexamples), then each variable from a range
# chosen at random: also around zero, negatives, and larger positives that reach shifted domains
# (sqrt(x - 5)).
RANGES = ((0.05, 0.95), (-2.0, 2.0), (0.1, 3.0), (-10.0, 10.0), (1.0, 10.0), (5.0, 50.0), (-10.0, -0.1))
MILD = 3
CONFIRM_PRECISION = 3 * PRECISION  # digits at which a disagreement is confirmed before it is reported


def _real(value) -> bool:
    return bool(value.is_real and value.is_finite)


def _in_domain(point, steps, domain) -> bool:
    """Whether every step of ``steps`` (a graph's, evaluated forward from ``point``) and every
    expression of ``domain`` has a finite real value at ``point``: the function is defined there."""
    values = dict(point)
    for step in steps:
        value = step.expr.xreplace(values).evalf(PRECISION)
        if not _real(value):
            return False
        values[step.symbol] = value
    return all(_real(e.xreplace(point).evalf(PRECISION)) for e in domain)


def same(claimed: sp.Expr, correct: sp.Expr, closed: Mapping[sp.Symbol, sp.Expr] | None = None, seed: int = 0,
         graph: Graph | None = None, domain: Sequence[sp.Expr] = ()) -> Verdict:
    """Decide ``claimed == correct`` once step symbols are replaced by their values in the
    variables (``closed``): symbolically when that is cheap, else at random points of the
    function's domain, where every step of ``graph`` and every expression of ``domain`` is real
    and finite (a claim may differ from the truth outside it: 1/|x| for ∂log(x)/∂x). The verdict
    is shown with the names of ``graph``.

    >>> x = sp.Symbol("x")
    >>> bool(same(1 / sp.Abs(x), 1 / x, domain=[sp.log(x)]))
    True
    """
    closed = dict(closed or {})
    left, right = claimed.xreplace(closed), correct.xreplace(closed)
    difference = left - right
    if difference == 0:
        return Verdict(True, claimed, correct, "symbolically", graph=graph)
    # Function applications stay opaque: both sides are then rational in the same atoms, which
    # keeps cancel cheap (rewriting σ into exp and expanding can explode).
    if (tree_size(difference) <= SYMBOLIC_LIMIT and expanded_terms(difference) <= SYMBOLIC_LIMIT
            and sp.cancel(recognize_activations(difference)) == 0):
        return Verdict(True, claimed, correct, "symbolically", graph=graph)

    steps = graph.steps if graph is not None else ()
    variables = set(graph.variables) if graph is not None else set()
    variables |= left.free_symbols | right.free_symbols | set().union(*(e.free_symbols for e in domain))
    symbols = sorted(variables, key=sp.default_sort_key)
    shown = sorted(claimed.free_symbols | correct.free_symbols, key=sp.default_sort_key)
    rng = random.Random(seed)
    agreed = 0
    for attempt in range(PROBES * 8):
        if attempt < PROBES:
            point = {s: sp.Float(rng.uniform(*RANGES[attempt % MILD]), PRECISION) for s in symbols}
        else:
            point = {s: sp.Float(rng.uniform(*rng.choice(RANGES)), PRECISION) for s in symbols}
        if not _in_domain(point, steps, domain):
            continue
        a, b = (e.xreplace(point).evalf(PRECISION) for e in (left, right))
        if not (_real(a) and _real(b)) or max(abs(a), abs(b)) > LARGEST:
            continue  # outside the domain of one side, or beyond float64 (a counterexample must print)
        if abs(a - b) > TOLERANCE * (1 + abs(b)) and _differ(left, right, point):
            where = {s: float(s.xreplace(closed).xreplace(point).evalf(PRECISION)) for s in shown}
            return Verdict(False, claimed, correct, "at a random point", where, float(a), float(b), graph)
        agreed += 1
        if agreed == PROBES:
            return Verdict(True, claimed, correct, f"numerically, at {PROBES} random points", graph=graph)
    if agreed >= PROBES // 4:
        return Verdict(True, claimed, correct, f"numerically, at the {agreed} random points of the function's domain found",
                       graph=graph)
    found = f"only {agreed} point(s)" if agreed else "no point"
    raise InputError(f"found {found} of the function's domain where both sides are defined, in {PROBES * 8} random tries: "
                     "cannot decide the claim")


def expanded_terms(expr: sp.Expr, limit: int = SYMBOLIC_LIMIT) -> int:
    """About how many terms ``expr`` has once multiplied out (function applications count as one
    term each), capped just above ``limit``: the cost of cancelling it symbolically, which a short
    formula can make astronomical ((x + 1)**999).

    >>> x, y = sp.symbols("x y")
    >>> expanded_terms((x + y) ** 3 * (x + 1)), expanded_terms((x + 1) ** 999) > SYMBOLIC_LIMIT
    (16, True)
    """
    cap = limit + 1
    terms: dict[sp.Basic, int] = {}
    for node in sp.postorder_traversal(expr):
        if node in terms:
            continue
        if isinstance(node, sp.Add):
            count = sum(terms[a] for a in node.args)
        elif isinstance(node, sp.Mul):
            count = math.prod(terms[a] for a in node.args)
        elif isinstance(node, sp.Pow) and node.exp.is_Integer:
            count = terms[node.base] ** min(abs(int(node.exp)), 64) if terms[node.base] > 1 else 1
        else:
            count = 1
        terms[node] = min(count, cap)
    return terms[expr]


def _differ(left: sp.Expr, right: sp.Expr, point) -> bool:
    """Whether ``left`` and ``right`` still differ at ``point`` at :data:`CONFIRM_PRECISION`
    digits (a difference at working precision may be rounding in a cancelling sum)."""
    precise = {s: sp.Float(v, CONFIRM_PRECISION) for s, v in point.items()}
    a, b = (e.xreplace(precise).evalf(CONFIRM_PRECISION) for e in (left, right))
    return not (_real(a) and _real(b)) or abs(a - b) > TOLERANCE * (1 + abs(b))


def verify(claimed, of, wrt=None, seed: int = 0, shapes=None) -> Verdict | ChainVerdict | MatrixVerdict:
    """Check a hand derivation against the engine.

    ``expr`` may be a SymPy expression or a formula as text (read by :func:`parse_expr`, with
    ``shapes`` for its matrices). Claims are checked on the function's domain, where it and every
    step of its computation are real.

    - ``verify(claim, expr)``: is the claim equal to ``expr``?
    - ``verify(claim, expr, wrt=x)``: is it ∂expr/∂x?
    - ``verify(claim, network_or_derivation, wrt=p)``: is it ∂J/∂p?
    - ``verify([f1, f2, …], network_or_expr, wrt=p)``: are these the chain-rule factors of ∂J/∂p,
      output first (one path)? Says which factor is wrong and what it should be.

    Where ``expr`` holds matrices, a claim (text in the same names, or a SymPy expression) is
    checked for its shape and then by value at random points (:func:`verify_matrix`).
    """
    if isinstance(of, (Graph, Derivation)):
        d = of if isinstance(of, Derivation) else backprop(of)
    else:
        expr = parse_expr(of, shapes=shapes) if isinstance(of, str) and shapes else of
        if wrt is None and has_matrices(expr):  # is the claim equal to a matrix (or a function of matrices)?
            return verify_matrix(claimed, expr, seed=seed)
        expr = as_expression(expr)
        if wrt is None:
            names = {s.name: s for s in expr.free_symbols}
            return same(_read(claimed, names), expr, seed=seed, domain=[expr])
        d = backprop(expr, wrt=[wrt])
    graph = d.graph
    if wrt is None:
        raise InputError("say which variable the claimed derivative is with respect to (wrt)")
    if graph.has_matrices:
        return verify_matrix(claimed, d, wrt, seed)
    p = d.symbol(wrt) if isinstance(wrt, str) and naming.typed(wrt) in d._names else wrt
    if p not in d.gradients:
        raise InputError(f"cannot differentiate with respect to {wrt}: it is not a variable of {graph.description}")
    names = naming.accepted_names(graph, [naming.delta(s.symbol) for s in graph.steps[:-1]])
    closed = graph.closed_steps()
    # A network's step names (z2, a1) are the user's own; an expression's (v1, f) are not.
    stated = d.in_steps if any(step.role != "operation" for step in graph.steps) else d.closed
    show = TextPrinter(naming.text_names(graph)).doprint

    def read(claim) -> sp.Expr:
        expr = _read(claim, names)
        for symbol in expr.free_symbols:  # a delta stands for its value
            if naming.is_delta(symbol) and symbol not in closed:
                closed[symbol] = d.closed(d.delta(naming.delta_step(symbol)))
        return expr

    if isinstance(claimed, Sequence) and not isinstance(claimed, str):
        paths = d.chain(p).paths
        if len(paths) != 1:
            raise InputError(f"∂{show(graph.output)}/∂{show(p)} sums {len(paths)} chain-rule paths; claim the whole gradient instead")
        factors = paths[0].factors
        if len(claimed) != len(factors):
            expected = " · ".join(f"∂{show(f.of)}/∂{show(f.wrt)}" for f in factors)
            raise InputError(f"the chain rule for ∂{show(graph.output)}/∂{show(p)} has {len(factors)} factors ({expected}); "
                             f"got {len(claimed)}")
        claims = [read(c) for c in claimed]
        verdicts = tuple((f, same(c, f.expr, closed, seed, graph)) for f, c in zip(factors, claims))
        return ChainVerdict(p, verdicts, same(sp.Mul(*claims), stated(d.gradient(p)), closed, seed, graph), graph)
    return same(read(claimed), stated(d.gradient(p)), closed, seed, graph)


# ---------------------------------------------------------------- matrix claims ---------------

MATRIX_PROBES = 3  # random points at which a matrix claim must agree
MATRIX_TRIES = 30  # random points drawn to find those where the function is defined
MATRIX_TOLERANCE = 1e-8  # relative to the largest entry of the correct value


@dataclass(frozen=True)
class MatrixVerdict:
    """Whether a claimed matrix formula is right: ``problem`` says what is wrong (its shape, or
    its value at the point ``point`` with the sizes ``sizes``, where ``claimed_value`` and
    ``correct_value`` differ); ``correct`` is the right form (``d[W]``, as a textbook prints it).
    ``claimed`` is the claim, or its text where its own shapes do not fit together."""

    equal: bool
    claimed: sp.Expr | str
    correct: sp.Expr
    how: str
    problem: str | None = None
    wrt: sp.Basic | None = None
    sizes: Mapping[sp.Symbol, int] = field(default_factory=dict)
    point: Mapping[sp.Basic, object] | None = field(default=None, repr=False)
    claimed_value: object = field(default=None, repr=False)
    correct_value: object = field(default=None, repr=False)
    graph: Graph | None = field(default=None, repr=False, compare=False)

    def __bool__(self) -> bool:
        return self.equal

    def __str__(self) -> str:
        text = _printers(self.graph)[0].doprint
        shown = self.claimed if isinstance(self.claimed, str) else text(self.claimed)
        if self.equal:
            return f"right ({self.how}): {shown}"
        return "\n".join([f"wrong: claimed {shown}", f"  {self.problem}", f"  should be {text(self.correct)}"])

    def _repr_markdown_(self) -> str:
        latex = _printers(self.graph)[1].doprint
        shown = f"`{self.claimed}`" if isinstance(self.claimed, str) else f"${latex(self.claimed)}$"
        if self.equal:
            return f"**right** ({self.how}): {shown}"
        return f"**wrong**: claimed {shown}, should be ${latex(self.correct)}$\n\n{self.problem}"


def verify_matrix(claimed, of, wrt=None, seed: int = 0) -> MatrixVerdict:
    """Is ``claimed`` ∂J/∂``wrt`` for the derivation ``of`` of a function of matrices (or, with
    ``of`` an expression and no ``wrt``, equal to it)? The claim is text in the derivation's
    names (sizes, deltas and steps included) or a SymPy expression. It must have the shape of
    ``wrt`` (the gradient convention of the Matrix Cookbook); then it is compared with ``d[wrt]``
    at :data:`MATRIX_PROBES` random points where the function is defined, with a different small
    number for each size and square matrices drawn invertible (:func:`~symbackprop.evaluate.random_point`).

    >>> import sympy as sp
    >>> from symbackprop import backprop
    >>> X, W, Y = (sp.MatrixSymbol(s, *shape) for s, shape in (("X", (3, 2)), ("W", (2, 4)), ("Y", (3, 4))))
    >>> d = backprop(sp.trace((X*W - Y).T*(X*W - Y)), wrt=[W])
    >>> bool(verify_matrix("2*X^T*(X*W - Y)", d, W)), bool(verify_matrix("X^T*(X*W - Y)", d, W))
    (True, False)
    >>> print(verify_matrix("2*X*(X*W - Y)", d, W).problem)
    its shapes do not fit: cannot multiply 2*X (3×2) by X*W - Y (3×4): 2 columns, 3 rows
    """
    if isinstance(of, Derivation):
        d, graph = of, of.graph
        if isinstance(wrt, str) and wrt not in d._names and GREEK.get(wrt) in d._names:
            wrt = GREEK[wrt]  # λ for lambda
        p = d.symbol(wrt)
        correct = d[p]
        names = dict(d._names) | {s.name: s for s in graph.sizes}
        closed = _closed_claim(d)
        variables = list(graph.variables)
        function = d.closed(graph.output)
        sizes = tuple(graph.sizes)
    else:
        d = graph = p = None
        correct = function = of
        names = {s.name: s for s in of.free_symbols} | {s.name: s for s in of.atoms(sp.MatrixSymbol)}
        variables = sorted(set(names.values()), key=sp.default_sort_key)
        sizes = matrix_sizes(of)
        names |= {s.name: s for s in sizes}

        def closed(expr):
            return expr

    if isinstance(claimed, (list, tuple)):
        raise InputError("a gradient of matrices has no chain-rule factors to claim: claim the whole gradient")
    text = claimed if isinstance(claimed, str) else None
    try:
        wanted = p.shape if isinstance(p, sp.MatrixExpr) else None  # sizes a claim of I or 𝟏 alone
        claim = parse_expr(naming.typed(claimed), names, shape=wanted) if text is not None else _read(claimed, names)
    except ShapeError as error:
        return MatrixVerdict(False, text, correct, "its shapes", f"its shapes do not fit: {error}", p, graph=graph)
    misfit = matrix_misfit(claim)
    if misfit:
        return MatrixVerdict(False, claim, correct, "its shapes", f"its shapes do not fit: {misfit}", p, graph=graph)
    wanted = p.shape if isinstance(p, sp.MatrixExpr) else (correct.shape if isinstance(correct, sp.MatrixExpr) else None)
    shape_problem = _shape_problem(claim, wanted, p)
    if shape_problem:
        return MatrixVerdict(False, claim, correct, "its shape", shape_problem, p, graph=graph)
    return _compare(claim, closed(claim), correct, function, variables, sizes, seed, p, graph)


def _closed_claim(d):
    """A function giving a claim in the variables only: deltas replaced by their values, steps by theirs."""
    deltas = {symbol for symbol, _ in d.deltas}

    def closed(expr):
        values = {s: d.delta(s) for s in expr.free_symbols if s in deltas}
        return d.closed(expr.xreplace(values)) if values or expr.free_symbols - set(d.graph.variables) else expr
    return closed


def _shape_problem(claim, wanted, p) -> str | None:
    """Why ``claim`` cannot be a value of the shape ``wanted`` (None for a scalar, which a 1×1
    matrix may stand for), or None where it can."""
    got = tuple(claim.shape) if isinstance(claim, sp.MatrixExpr) else None
    wanted = tuple(wanted) if wanted is not None else None
    if got == wanted or {got, wanted} <= {None, (1, 1)}:
        return None
    shown = "a scalar" if got is None else shape_text(got)
    if wanted is None:
        return f"its shape: it is {shown}, but " + (f"∂J/∂{p} is a scalar, as {p} is" if p is not None else "should be a scalar")
    wanted = shape_text(wanted)
    return f"its shape: it is {shown}, but " + (f"∂J/∂{p} has the shape of {p}, {wanted}" if p is not None else f"should be {wanted}")


def _compare(claim, claim_closed, correct, function, variables, sizes, seed, p, graph) -> MatrixVerdict:
    """Compare ``claim_closed`` with ``correct`` at random points where ``function`` is defined,
    each at its own sizes (:func:`_probe_sizes`): a derivation in symbolic sizes holds at every
    size, a network's widths included, and a claim must too."""
    rng = random.Random(seed)
    used: list[dict] = []
    for attempt in range(MATRIX_TRIES):
        concrete = _probe_sizes(sizes, attempt)
        point = random_point(variables, concrete, rng)
        if not np.all(np.isfinite(evaluate(function, point, concrete))):
            continue
        right = np.asarray(evaluate(correct, point, concrete), dtype=float)
        if not np.all(np.isfinite(right)):
            continue
        got = np.asarray(evaluate(claim_closed, point, concrete), dtype=float)
        if got.size == 1 and right.size == 1:
            got, right = got.reshape(1, 1), right.reshape(1, 1)
        scale = max(1.0, float(np.max(np.abs(right))))
        if got.shape != right.shape or not np.all(np.abs(got - right) <= MATRIX_TOLERANCE * scale):
            return MatrixVerdict(False, claim, correct, "at a random point", _difference(got, right, _sizes_text([concrete])), p,
                                 concrete, point, got, right, graph)
        used.append(concrete)
        if len(used) == MATRIX_PROBES:
            break
    if not used:
        raise InputError(f"found no point where the function is defined in {MATRIX_TRIES} random tries: cannot decide the claim")
    where = _sizes_text(used)
    return MatrixVerdict(True, claim, correct, f"numerically, at {len(used)} random points" + (f" with {where}" if where else ""),
                         None, p, used[0], graph=graph)


def _probe_sizes(sizes, attempt: int) -> dict:
    """A different small number for each of ``sizes``, and other numbers at each ``attempt``, so
    that no claim passes by a size being equal to another (m = n_2) or to a number.

    >>> m, n, k = sp.symbols("m n k")
    >>> _probe_sizes([k, m, n], 0), _probe_sizes([k, m, n], 1)
    ({k: 2, m: 3, n: 4}, {k: 3, m: 4, n: 5})
    """
    return {size: 2 + attempt + i for i, size in enumerate(sizes)}


def _sizes_text(points: list[dict]) -> str:
    """The sizes of the points checked: ``n = 3, m = 4`` (``m ∈ {4, 5, 6}`` where they differ)."""
    if not points:
        return ""
    values = {size: sorted({point[size] for point in points}) for size in points[0]}
    return ", ".join(f"{size} = {numbers[0]}" if len(numbers) == 1 else f"{size} ∈ {{{', '.join(map(str, numbers))}}}"
                     for size, numbers in values.items())


def _difference(got, right, where: str) -> str:
    """Where a claimed value and the correct one differ most, in words."""
    if got.shape != right.shape:
        return f"its value is {shape_text(got.shape)}, but should be {shape_text(right.shape)}"
    i, j = np.unravel_index(int(np.argmax(np.abs(got - right))), right.shape)
    at = f"with {where} and" if where else "at"
    return (f"its value: {at} random values of the variables, entry ({i + 1}, {j + 1}) is {got[i, j]:.6g}, "
            f"but should be {right[i, j]:.6g}")
