"""Example 2: two layers of one sigmoid neuron each, binary cross-entropy.

dJ/dw2 and dJ/dw1 by the chain rule, the collapse of dJ/dz2 to ŷ − y, and the three classic
mistakes of published hand derivations, each caught by verify.
"""

import sympy as sp
from _common import output_folder, write

import symbackprop as sb
from symbackprop.text import gradient_lines

net = sb.mlp([1, 1, 1], activation="sigmoid", loss="bce")
d = sb.backprop(net)
w1, w2 = sp.symbols("w1 w2")
for p in (w2, w1):
    print("\n".join(f"{lhs} = {rhs}" if lhs else f"   = {rhs}" for lhs, rhs in gradient_lines(d, p)), end="\n\n")
print(f"dJ/dz2 = {d.delta(sp.Symbol('z2'))}   (binary cross-entropy after a sigmoid: ŷ − y)\n")

z = sp.Symbol("z")
print("Mistake 1, σ(z) written as 1/(1 + e^z):")
print(sb.verify("1/(1 + exp(z))", sb.sigmoid(z)), end="\n\n")
print("Mistakes 2 and 3, dJ/dŷ with the wrong sign and dŷ/dz2 written as z2(1 − z2):")
print(sb.verify(["y/ŷ + (1 - y)/(1 - ŷ)", "z2*(1 - z2)", "a1"], net, wrt="w2"), end="\n\n")

folder = output_folder("02_two_sigmoid_neurons_bce")
write(folder, "derivation.tex", sb.document_latex(d))
