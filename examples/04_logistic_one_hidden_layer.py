"""Example 4: logistic regression with one hidden layer (W1, b1, W2, b2), every derivative from
dŶ to db1, in the notation of the classic course notes (samples as columns, m of them; the
output A2 reads Ŷ).

Hidden tanh, output sigmoid, binary cross-entropy.
"""

import sympy as sp
from _common import output_folder, write

import symbackprop as sb
from symbackprop.matrix import activation_derivative, loss_derivative, matmul, text_printer, transpose

net = sb.mlp([2, 4, 1], activation=["tanh", "sigmoid"], loss="bce", form="matrix")
d = sb.backprop(net)
deltas, gradients = dict(d.deltas), dict(d.gradients)
A1, A2, Y, Z1, W2 = sp.symbols("A_1 A_2 Y Z_1 W_2")
text = text_printer(d).doprint  # the network's names: Ŷ for the output A_2
steps = [
    ("dŶ", loss_derivative("bce", Y, A2)),                             # ∂ℓ/∂Ŷ, elementwise
    ("dZ2", deltas[sp.Symbol("dZ_2")]),                                # dŶ ⊙ σ'(Z2) collapses to Ŷ − Y
    ("dW2", gradients[sp.Symbol("W_2")]),
    ("db2", gradients[sp.Symbol("b_2")]),
    ("dA1", matmul(transpose(W2), sp.Symbol("dZ_2"))),
    ("g'(Z1)", activation_derivative("tanh", Z1, A1)),                 # written with A1 = tanh(Z1)
    ("dZ1", deltas[sp.Symbol("dZ_1")]),
    ("dW1", gradients[sp.Symbol("W_1")]),
    ("db1", gradients[sp.Symbol("b_1")]),
]
for name, formula in steps:
    print(f"{name:7s} = {text(formula)}")

folder = output_folder("04_logistic_one_hidden_layer")
write(folder, "derivation.tex", sb.document_latex(d))
write(folder, "grads.py", sb.numpy_module(d))
