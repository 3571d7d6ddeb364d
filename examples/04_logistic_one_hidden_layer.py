"""Example 4: logistic regression with one hidden layer (W_1, b_1, W_2, b_2), every derivative
from δ_Ŷ to ∂J/∂b_1, in the notation of the classic course notes (samples as columns, m of them;
the output A_2 reads Ŷ). Hidden tanh, output sigmoid, binary cross-entropy.

Each δ_V is ∂J/∂V with J the mean over the batch, so the 1/m sits in the deltas: the course
notes' dZ2 = Ŷ − Y and dW2 = dZ2 A1ᵀ / m are m δ_Z_2 and ∂J/∂W_2 here.
"""

import sympy as sp
from _common import output_folder, write

import symbackprop as sb
from symbackprop import naming
from symbackprop.text import TextPrinter, plain

net = sb.mlp([2, 4, 1], activation=["tanh", "sigmoid"], loss="bce", form="matrix")
d = sb.backprop(net)
show = TextPrinter(naming.text_names(net)).doprint  # the network's names: Ŷ for the output A_2
deltas = [s for s, _ in d.deltas]
tanh_derivative = next(f for f in d.delta("Z_1").args if not f.has(*deltas))  # δ_Z_1 = (W_2ᵀ δ_Z_2) ⊙ g'(Z_1)
steps = [
    ("δ_Ŷ", "dŶ / m", d.delta("Ŷ")),                    # ∂J/∂Ŷ, elementwise
    ("δ_Z_2", "dZ2 / m", d.delta("Z_2")),            # δ_Ŷ ⊙ σ'(Z_2) collapses to (Ŷ − Y) / m
    ("∂J/∂W_2", "dW2", d.gradient("W_2")),
    ("∂J/∂b_2", "db2", d.gradient("b_2")),
    ("δ_A_1", "dA1 / m", d.delta("A_1")),
    ("g'(Z_1)", "g'(Z1)", tanh_derivative),          # written with A_1 = tanh(Z_1)
    ("δ_Z_1", "dZ1 / m", d.delta("Z_1")),
    ("∂J/∂W_1", "dW1", d.gradient("W_1")),
    ("∂J/∂b_1", "db1", d.gradient("b_1")),
]
for name, classic, formula in steps:
    print(f"{name:8s} = {show(formula):50s} ({classic} in the course notes)")

# Why δ_Z_2 is so short: per entry, ∂ℓ/∂ŷ · σ'(z) with σ'(z) = ŷ (1 − ŷ) cancels to ŷ − y.
y, yhat = sp.symbols("y ŷ")
per_entry = sp.diff(-(y * sp.log(yhat) + (1 - y) * sp.log(1 - yhat)), yhat)
collapsed = sp.factor(per_entry * yhat * (1 - yhat))
print(f"per entry: ∂ℓ/∂ŷ = {plain(sp.together(per_entry))}, times ŷ(1 - ŷ): {plain(collapsed)}")
assert sp.expand(collapsed - (yhat - y)) == 0

folder = output_folder("04_logistic_one_hidden_layer")
write(folder, "derivation.tex", sb.document_latex(d))
write(folder, "grads.py", sb.numpy_module(d))
