"""Matrix calculus through the public contract: ``sb.backprop(J, wrt)`` on scalar functions of
SymPy matrices, checked on every case of ``corpus.MATRIX_EXPRESSIONS`` against oracles that share
nothing with the library's rules (tests/oracles.py): ∂J/∂W per entry by ``sympy.diff`` of the
explicit J at sizes 2–3, central finite differences, and the textbook forms of the Matrix Cookbook.
"""

import re
from functools import cache

import numpy as np
import pytest
import sympy as sp
from corpus import MATRIX_EXPRESSIONS
from oracles import close, entrywise_gradient, evaluate, finite_difference_gradient, random_point, same_matrix, variables_of

import symbackprop as sb
from symbackprop.errors import InputError

CASES = {case.name: case for case in MATRIX_EXPRESSIONS}

# Engine bugs these tests found, by case name, with the reason; strict, so that a fix shows as an
# XPASS failure and its entry goes. (All found so far are fixed.)
ENGINE_BUGS: dict[str, str] = {}


def engine_marks(name: str) -> tuple:
    return (pytest.mark.xfail(strict=True, reason=ENGINE_BUGS[name]),) if name in ENGINE_BUGS else ()


def pairs(select=lambda case: case.wrt, engine: bool = True) -> list:
    """One parameter per (case, variable); ``engine``: marked where a known engine bug fails it."""
    return [pytest.param(case.name, W, id=f"{case.name} wrt {W}", marks=engine_marks(case.name) if engine else ())
            for case in MATRIX_EXPRESSIONS for W in select(case)]


GRADIENTS = pairs()
TEXTBOOK = pairs(lambda case: case.textbook)
PROMISED = pairs(lambda case: case.textbook if case.promised else ())
CASE_NAMES = [pytest.param(name, id=name, marks=engine_marks(name)) for name in CASES]


@cache
def derivation(name: str):
    case = CASES[name]
    return sb.backprop(case.J, wrt=list(case.wrt))


@cache
def point(name: str) -> dict:
    case = CASES[name]
    return random_point(variables_of(case.J, *case.wrt, sizes=case.sizes), case.sizes, seed=7)


@cache
def sympy_diff_oracle(name: str, W):
    case = CASES[name]
    return entrywise_gradient(case.J, W, case.sizes, point(name))


def test_the_corpus_covers_the_promised_cases():
    assert len(MATRIX_EXPRESSIONS) >= 30
    assert len(CASES) == len(MATRIX_EXPRESSIONS), "case names must be unique"
    assert len(PROMISED) >= 6
    assert set(ENGINE_BUGS) <= set(CASES)
    assert any(not case.sizes for case in MATRIX_EXPRESSIONS), "concrete sizes too"
    assert any(isinstance(W, sp.Symbol) for case in MATRIX_EXPRESSIONS for W in case.wrt), "scalar parameters too"
    assert any(getattr(W, "shape", None) == (1, 1) for case in MATRIX_EXPRESSIONS for W in case.wrt), "1×1 parameters too"
    assert all(max(case.sizes.values(), default=0) <= 3 for case in MATRIX_EXPRESSIONS), "oracle sizes stay ≤ 3"


# ---------------------------------------------------------------- the oracles agree with each other and the books --

@pytest.mark.parametrize("name, W", pairs(lambda case: case.textbook, engine=False))
def test_textbook_form_agrees_with_both_oracles(name, W):
    """The corpus itself: each textbook gradient equals sympy.diff per entry and finite differences."""
    case = CASES[name]
    expected = sympy_diff_oracle(name, W)
    assert close(finite_difference_gradient(case.J, W, point(name), case.sizes), expected, 1e-5)
    assert close(evaluate(case.textbook[W], point(name), case.sizes), expected, 1e-8), case.textbook[W]


# ---------------------------------------------------------------- the contract --------------------------------------

@pytest.mark.parametrize("name, W", GRADIENTS)
def test_gradient_has_the_shape_of_its_variable(name, W):
    g = derivation(name)[W]
    if isinstance(W, sp.MatrixSymbol):
        assert isinstance(g, sp.MatrixExpr) and g.shape == W.shape, g
    else:
        assert not isinstance(g, sp.MatrixExpr), g
    assert derivation(name)[W.name] == g


@pytest.mark.parametrize("name, W", GRADIENTS)
def test_gradient_equals_sympy_diff_per_entry(name, W):
    case = CASES[name]
    g = derivation(name)[W]
    assert close(evaluate(g, point(name), case.sizes), sympy_diff_oracle(name, W), 1e-8), g


@pytest.mark.parametrize("name, W", GRADIENTS)
def test_gradient_equals_finite_differences(name, W):
    case = CASES[name]
    g = derivation(name)[W]
    assert close(evaluate(g, point(name), case.sizes), finite_difference_gradient(case.J, W, point(name), case.sizes), 1e-5), g


@pytest.mark.parametrize("name, W", TEXTBOOK)
def test_gradient_equals_its_textbook_form(name, W):
    case = CASES[name]
    assert same_matrix(derivation(name)[W], case.textbook[W], case.sizes), (derivation(name)[W], case.textbook[W])


@pytest.mark.parametrize("name, W", PROMISED)
def test_gradient_is_printed_in_its_textbook_form(name, W):
    """The forms the library promises: AᵀBᵀ, (A + Aᵀ)x, X⁻ᵀ, −X⁻ᵀabᵀX⁻ᵀ, abᵀ, 2Xᵀ(XW − Y)."""
    expected = CASES[name].textbook[W]
    assert derivation(name)[W].doit() == expected.doit()


@pytest.mark.parametrize("name, W", GRADIENTS)
def test_delta_view_closes_to_the_gradient(name, W):
    d = derivation(name)
    assert same_matrix(d.closed(d.gradient(W)), d[W], CASES[name].sizes)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_each_named_delta_has_its_step_shape_and_name(name):
    case, d = CASES[name], derivation(name)
    values = point(name)
    for symbol, expr in d.deltas:
        assert d.symbol(symbol.name) == symbol
        value = evaluate(d.closed(expr), values, case.sizes)
        if isinstance(symbol, sp.MatrixSymbol):
            shape = tuple(int(sp.sympify(size).xreplace(case.sizes)) for size in symbol.shape)
            assert np.shape(value) == shape, (symbol, expr)
        else:
            assert np.ndim(value) == 0, (symbol, expr)


# ---------------------------------------------------------------- random compositions -----------------------------

def random_composition(seed: int):
    """A scalar J of the 2×2 matrices X, A, B and a scalar s, drawn from products, sums,
    transposes, one inverse, Hadamard products and powers, elementwise functions and reductions."""
    n = sp.Symbol("n", integer=True, positive=True)
    X, A, B = (sp.MatrixSymbol(name, n, n) for name in "XAB")
    s = sp.Symbol("s")
    functions = [sp.sin, sp.cos, sp.tanh, sb.sigmoid, sb.softplus]
    rng = np.random.default_rng(seed)

    def matrix(depth):
        if depth == 0 or rng.random() < 0.2:
            return [X, A, B, X, X.T][rng.integers(5)]
        kind, M = rng.integers(9), matrix(depth - 1)
        if kind == 0:
            return M.T
        if kind == 1:  # M Mᵀ + I is invertible; one inverse at most keeps the explicit oracle fast
            return M.T if M.has(sp.Inverse, sp.MatPow) else sp.Inverse(M * M.T + sp.Identity(n))
        if kind == 2:
            return M.applyfunc(functions[rng.integers(len(functions))])
        if kind == 3:
            return sp.HadamardPower(M, 2)
        if kind == 4:
            return s * M
        N = matrix(depth - 1)
        return [M * N, M + N, M - 2 * N, sp.HadamardProduct(M, N)][kind - 5]

    while True:
        M = matrix(3)
        J = [sp.Trace(M), sp.OneMatrix(1, n) * M * sp.OneMatrix(n, 1), sp.Trace(M) * sp.Trace(matrix(2)),
             sp.log(1 + sp.Trace(M * M.T)) if not M.has(sp.Inverse, sp.MatPow) else sp.Trace(M)][rng.integers(4)]
        if X in J.atoms(sp.MatrixSymbol):
            return J, [X] + ([s] if s in J.free_symbols else []), {n: 2}


def random_shaped_composition(seed: int):
    """A scalar J of matrices of several shapes (n×n, m×m, n×m, m×n, vectors, a 1×1 c), drawn from
    products through any inner size (1 included), transposes, sums, Hadamard products and powers,
    elementwise functions, an inverse of a square M Mᵀ + I and bias broadcasts by 𝟏ᵀ."""
    n, m, one = sp.Symbol("n", integer=True, positive=True), sp.Symbol("m", integer=True, positive=True), sp.Integer(1)
    leaves = {(n, n): sp.MatrixSymbol("P", n, n), (m, m): sp.MatrixSymbol("Q", m, m), (n, m): sp.MatrixSymbol("X", n, m),
              (m, n): sp.MatrixSymbol("Z", m, n), (n, one): sp.MatrixSymbol("u", n, 1), (m, one): sp.MatrixSymbol("v", m, 1),
              (one, one): sp.MatrixSymbol("c", 1, 1)}
    functions = [sp.sin, sp.tanh, sb.sigmoid, sb.softplus]
    rng = np.random.default_rng(seed)

    def matrix(r, c, depth):
        if (r, c) in leaves and (depth == 0 or rng.random() < 0.25):
            return leaves[r, c]
        if depth == 0:
            return leaves[c, r].T if (c, r) in leaves else sp.OneMatrix(r, c)
        kind = rng.integers(7)
        if kind == 0:
            return matrix(c, r, depth - 1).T
        if kind == 1:
            inner = [n, m, one][rng.integers(3)]
            return matrix(r, inner, depth - 1) * matrix(inner, c, depth - 1)
        if kind == 2:
            return matrix(r, c, depth - 1) + matrix(r, c, depth - 1)
        if kind == 3:
            return sp.HadamardProduct(matrix(r, c, depth - 1), matrix(r, c, depth - 1))
        if kind == 4:
            return matrix(r, c, depth - 1).applyfunc(functions[rng.integers(len(functions))])
        if kind == 5 and r == c != one:
            M = matrix(r, [n, m][rng.integers(2)], depth - 1)
            return M * M.T if M.has(sp.Inverse) else sp.Inverse(M * M.T + sp.Identity(r))
        if kind == 5 and c != one:
            return matrix(r, one, depth - 1) * sp.OneMatrix(1, c)
        return sp.HadamardPower(matrix(r, c, depth - 1), 2)

    while True:
        r, c = [(n, n), (m, m), (n, m), (m, n), (n, one)][rng.integers(5)]
        M = matrix(r, c, 4)
        J = sp.Trace(M) if r == c else sp.OneMatrix(1, r) * M * sp.OneMatrix(c, 1)
        present = sorted(J.atoms(sp.MatrixSymbol), key=lambda symbol: symbol.name)
        if present:
            return J, [present[rng.integers(len(present))]], {n: 2, m: 3}


@pytest.mark.parametrize("draw, seed", [(draw, seed) for draw in ("square", "shaped") for seed in range(40)])
def test_random_composition_matches_sympy_diff(draw, seed):
    J, wrt, sizes = (random_composition if draw == "square" else random_shaped_composition)(seed)
    d = sb.backprop(J, wrt=wrt)
    values = random_point(variables_of(J, *wrt, sizes=sizes), sizes, seed)
    for W in wrt:
        assert close(evaluate(d[W], values, sizes), entrywise_gradient(J, W, sizes, values), 1e-7), (J, W, d[W])
        assert same_matrix(d.closed(d.gradient(W)), d[W], sizes), (J, W)


# ---------------------------------------------------------------- refusals ------------------------------------------

n, m, k = sp.symbols("n m k", integer=True, positive=True)
X, A = sp.MatrixSymbol("X", n, n), sp.MatrixSymbol("A", n, n)
x = sp.MatrixSymbol("x", n, 1)
X2, B2, A4 = sp.MatrixSymbol("X", 2, 2), sp.MatrixSymbol("B", 2, 2), sp.MatrixSymbol("A", 4, 4)
h, Y = sp.MatrixSymbol("h", 1, m), sp.MatrixSymbol("Y", n, m)

REFUSALS = {  # J, wrt, patterns the one-line message must contain
    "an operation without a rule: KroneckerProduct": (
        sp.Trace(A4 * sp.KroneckerProduct(X2, B2)), [X2], ["KroneckerProduct"]),
    "an operation without a rule: DiagMatrix": (sp.Trace(A * sp.DiagMatrix(x)), [x], ["DiagMatrix"]),
    "a scalar function of a whole matrix": (sp.exp(X), [X], [r"\bexp\b", "applyfunc"]),
    "a matrix-valued J": (A * X, [X], ["(?i:scalar)"]),
    "a symbolic matrix power": (sp.Trace(X**k), [X], [r"\bk\b", "(?i:exponent|power)|MatPow"]),
    "an ill-shaped product SymPy accepts (1×m times 1×m)": (
        sp.OneMatrix(1, m) * h.applyfunc(sp.sin) * sp.OneMatrix(m, 1), [h], [r"\bm\b", "(?i:shape|size)|×"]),
    "an operation without a rule: MatrixSlice": (sp.Trace(X[:1, :1]), [X], ["MatrixSlice"]),
    "an entry of a matrix": (X[0, 0] * sp.Trace(A), [X], [r"X\[0, 0\]", "(?i:entry|entries|element)"]),
    "log of a whole matrix": (sp.log(X * A), [X], [r"\blog\b", "applyfunc"]),
    "a 1×n J": (sp.OneMatrix(1, n) * X, [X], ["(?i:scalar)"]),
    "a fractional matrix power": (sp.Trace(sp.MatPow(X, sp.Rational(1, 2))), [X], ["1/2", "(?i:integer)"]),
    "an ill-shaped sum SymPy accepts (n×n plus n×m)": (
        sp.Trace(sp.MatAdd(X, x * sp.OneMatrix(1, m))), [X], [r"\bn\b", r"\bm\b"]),
    "the determinant of an n×m matrix": (sp.Determinant(Y), [Y], ["(?i:square)"]),
    "wrt a dimension symbol": (sp.Trace(X), [n], [r"\bn\b"]),
    "wrt a matrix not in J": (sp.Trace(X), [A], [r"\bA\b"]),
}


@pytest.mark.parametrize("what", list(REFUSALS))
def test_refusal_is_one_line_naming_the_problem(what):
    J, wrt, patterns = REFUSALS[what]
    with pytest.raises(InputError) as caught:
        d = sb.backprop(J, wrt=wrt)
        [d[W] for W in wrt]
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message, message
    for pattern in patterns:
        assert re.search(pattern, message), (pattern, message)
