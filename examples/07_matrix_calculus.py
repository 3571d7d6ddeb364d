"""Example 7: matrix calculus on SymPy's own matrix expressions, in the Matrix Cookbook's notation.

Five identities of the Cookbook, then least squares with ridge, whose gradient a hand derivation
gets wrong (the transpose forgotten), and the Gaussian negative log-likelihood: its derivation as
a document, its gradient code (a solve and a log det, never an explicit inverse) checked against
finite differences.
"""

import sympy as sp
from _common import output_folder, write

import symbackprop as sb
from symbackprop.text import derivation_text, printer_for

n, m, k = sp.symbols("n m k", integer=True, positive=True)
A, B, S, X = (sp.MatrixSymbol(name, n, n) for name in "ABSX")
a, b, x, mu = (sp.MatrixSymbol(name, n, 1) for name in ("a", "b", "x", "mu"))

identities = [
    ("(100) ∂ tr(AXB)/∂X", sp.Trace(A * X * B), X),
    ("(81) ∂ xᵀAx/∂x", x.T * A * x, x),
    ("(57) ∂ log det X/∂X", sp.log(sp.det(X)), X),
    ("(61) ∂ aᵀX⁻¹b/∂X", a.T * X.I * b, X),
    ("(70) ∂ aᵀXb/∂X", a.T * X * b, X),
]
for title, J, variable in identities:
    d = sb.backprop(J, wrt=[variable])
    print(f"{title:22s} = {printer_for(d).doprint(d[variable])}")

# Least squares with ridge: the derivation, and a hand derivation that forgot a transpose.
Xd, W, Y, lam = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, k), sp.MatrixSymbol("Y", n, k), sp.Symbol("lambda")
ridge = sb.backprop(sp.Trace((Xd * W - Y).T * (Xd * W - Y)) + lam * sp.Trace(W.T * W), wrt=[W])
print()
print(derivation_text(ridge))
print(sb.verify("2*X*(X*W - Y) + 2*lambda*W", of=ridge, wrt="W"))

# The Gaussian negative log-likelihood, Σ and μ at once.
nll = sp.log(sp.det(S)) / 2 + sp.Trace((x - mu).T * S.I * (x - mu)) / 2
gauss = sb.backprop(nll, wrt=[S, mu])
print()
for variable in gauss.wrt:
    print(f"∂f/∂{variable} = {printer_for(gauss).doprint(gauss[variable])}")
print(sb.gradcheck(gauss))

folder = output_folder("07_matrix_calculus")
write(folder, "derivation.tex", sb.document_latex(gauss, title="The Gaussian negative log-likelihood"))
write(folder, "gauss_grads.py", sb.numpy_module(gauss))
