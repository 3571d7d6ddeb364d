"""Example 3: two hidden ReLU layers and a softmax output, in matrix form.

The forward pass Z_l = W_l A_(l-1) + b_l, A_l = g(Z_l) (the output A_3 reads Ŷ) and the backward
pass dZ_3 = Ŷ − Y,
dZ_l = (W_(l+1)ᵀ dZ_(l+1)) ⊙ 1[Z_l > 0], dW_l = dZ_l A_(l-1)ᵀ / m, db_l = Σ dZ_l / m, for every
width at once; then the generated NumPy module, checked on a random batch.
"""

import numpy as np
from _common import output_folder, write

import symbackprop as sb
from symbackprop.matrix import text_printer

net = sb.mlp([784, 64, 32, 10], activation=["relu", "relu", "softmax"], loss="cross_entropy", form="matrix")
d = sb.backprop(net)
text = text_printer(d).doprint  # the network's names: Ŷ for the output
print("Forward pass:")
for step in net.steps[:-1]:
    if step.op == "affine":
        W, A, b = step.args
        print(f"  {text(step.symbol)} = {text(W)} {text(A)} + {text(b)}")
    else:
        print(f"  {text(step.symbol)} = {step.args[0] if step.op == 'elementwise' else 'softmax'}({text(step.args[-1])})")
print("Backward pass:")
for delta, formula in d.deltas:
    print(f"  {text(delta)} = {text(formula)}")
for p, formula in d.gradients:
    print(f"  d{text(p)} = {text(formula)}")

folder = output_folder("03_relu_softmax_matrix")
write(folder, "derivation.tex", sb.document_latex(d))
source = sb.numpy_module(d)
write(folder, "grads.py", source)

module = sb.compile(d)
rng = np.random.default_rng(0)
params = [rng.normal(0, 0.05, shape) for shape in module.SHAPES]
X = rng.uniform(0, 1, (16, 784))
Y = np.eye(10)[rng.integers(0, 10, 16)]
J, gradients = module.loss_and_gradients(params, X, Y)
print(f"loss on a random batch of 16: {J:.4f}; gradient shapes: {[g.shape for g in gradients]}")

# One random direction V through all parameters: (J(θ + εV) − J(θ − εV)) / 2ε against Σ ⟨∇J, V⟩.
V = [rng.normal(size=shape) for shape in module.SHAPES]
eps = 1e-6
numeric = (module.loss([p + eps * v for p, v in zip(params, V)], X, Y)
           - module.loss([p - eps * v for p, v in zip(params, V)], X, Y)) / (2 * eps)
analytic = sum(float(np.vdot(g, v)) for g, v in zip(gradients, V))
print(f"directional derivative: analytic {analytic:.8f}, finite differences {numeric:.8f}")
