"""Each vector-Jacobian rule against the oracle: sympy.diff of J written out entry by entry, at
concrete sizes, where J isolates the rule (one operation between the variable and a trace)."""

import pytest
import sympy as sp

import symbackprop as sb
from symbackprop.errors import InputError
from symbackprop.primitives import ColumnSoftmax
from symbackprop.rules import RULES, vjp

X = sp.MatrixSymbol("X", 2, 2)
A = sp.MatrixSymbol("A", 2, 2)
B = sp.MatrixSymbol("B", 2, 3)
C = sp.MatrixSymbol("C", 3, 2)
s = sp.Symbol("s")

# J → the variable; each J reaches X through the rule named first.
CASES = {
    "MatMul": (sp.Trace(A * X * B * C), X),
    "MatMul coefficient": (sp.Trace(s * A * X), s),
    "MatAdd": (sp.Trace(C * (X + A) * B), X),
    "Transpose": (sp.Trace(C * sp.Transpose(X) * B), X),
    "Inverse": (sp.Trace(A * X.I), X),
    "MatPow": (sp.Trace(A * X**3), X),
    "Trace": (sp.Trace(X) ** 2, X),
    "Determinant": (sp.det(X) ** 2, X),
    "HadamardProduct": (sp.Trace(A * sp.HadamardProduct(X, X, A)), X),
    "HadamardPower": (sp.Trace(A * sp.HadamardPower(X, 3)), X),
    "HadamardPower exponent": (sp.Trace(A * sp.HadamardPower(X, s)), s),
    "ElementwiseApplyFunction": (sp.Trace(A * X.applyfunc(sp.sin)), X),
    "library primitive": (sp.Trace(A * X.applyfunc(sb.sigmoid)), X),
    "ColumnSoftmax": (sp.Trace(B.T * sb.softmax(X * B)), X),
}


def explicit(expr):
    """``expr`` with every matrix written out entry by entry, every operation evaluated."""
    symbols = {M: sp.Matrix([[sp.Symbol(f"{M.name}_{i}{j}") for j in range(M.cols)] for i in range(M.rows)])
               for M in expr.atoms(sp.MatrixSymbol)}

    def out(node):
        if isinstance(node, sp.MatrixSymbol):
            return symbols[node]
        if isinstance(node, (sp.Identity, sp.OneMatrix, sp.ZeroMatrix)):
            return node.as_explicit()
        if not node.args or isinstance(node, sp.Lambda):
            return node
        args = [out(a) for a in node.args]
        if isinstance(node, sp.HadamardProduct):
            return _hadamard(args)
        if isinstance(node, sp.HadamardPower):
            return args[0].applyfunc(lambda e: e ** args[1])
        if type(node).__name__ == "ElementwiseApplyFunction":
            return args[1].applyfunc(node.function)
        if isinstance(node, ColumnSoftmax):  # each column: exp, divided by the column's sum
            exponentials = args[0].applyfunc(sp.exp)
            return sp.Matrix(exponentials.rows, exponentials.cols,
                             lambda i, j: exponentials[i, j] / sum(exponentials[:, j]))
        if isinstance(node, sp.Trace):
            return args[0].trace()
        if isinstance(node, sp.Determinant):
            return args[0].det()
        if isinstance(node, sp.Inverse):
            return args[0].inv()
        if isinstance(node, sp.MatPow):
            return args[0] ** args[1]
        if isinstance(node, sp.Transpose):
            return args[0].T
        if isinstance(node, (sp.MatMul, sp.Mul)):
            return sp.prod(args[1:], start=args[0])
        if isinstance(node, (sp.MatAdd, sp.Add)):
            return sum(args[1:], start=args[0])
        return node.func(*args)

    return out(expr), symbols


def _hadamard(args):
    result = args[0]
    for other in args[1:]:
        result = result.multiply_elementwise(other)
    return result


@pytest.mark.parametrize("name", CASES)
def test_each_rule_agrees_with_sympy_diff_of_the_explicit_matrices(name):
    J, variable = CASES[name]
    gradient = sb.backprop(J, wrt=[variable])[variable]
    J_explicit, symbols = explicit(J)
    got, _ = explicit(gradient)
    if isinstance(variable, sp.MatrixSymbol):
        expected = symbols[variable].applyfunc(lambda e: sp.diff(J_explicit, e))
        assert gradient.shape == variable.shape
    else:
        expected, got = sp.Matrix([[sp.diff(J_explicit, variable)]]), sp.Matrix([[got]])
    point = {e: sp.Rational(k % 7 + 2, 5 + k % 3) for k, e in enumerate(sorted(J_explicit.free_symbols, key=str))}
    point.update({e: 2 * (i == j) + sp.Rational(1, 3 + i + j) for M in symbols.values()
                  for i in range(M.rows) for j in range(M.cols) for e in [M[i, j]] if M.rows == M.cols})
    difference = (got - expected).subs(point).evalf(30)
    assert max(abs(v) for v in difference) < 1e-20, (gradient, difference)


def test_every_rule_of_the_table_is_checked():
    checked = {type(node) for J, _ in CASES.values() for node in sp.preorder_traversal(J)}
    assert set(RULES) <= checked


def test_an_operation_without_a_rule_is_named():
    with pytest.raises(InputError, match="no vector-Jacobian rule for KroneckerProduct"):
        vjp(sp.KroneckerProduct(X, A), X, X)
    with pytest.raises(InputError, match="no vector-Jacobian rule for KroneckerProduct"):
        sb.backprop(sp.Trace(sp.KroneckerProduct(X, A)), wrt=[X])
