"""Example 3: two hidden ReLU layers and a softmax output, in matrix form.

Samples are the m columns of X. The forward pass Z_l = W_l A_(l-1) + b_l 𝟏ᵀ, A_l = g(Z_l) (the
output A_3 reads Ŷ), the loss J the mean cross-entropy over the batch, and the backward pass with
δ_V = ∂J/∂V: δ_Z_3 = (Ŷ − Y) / m, δ_Z_l = (W_(l+1)ᵀ δ_Z_(l+1)) ⊙ g'(Z_l) (for ReLU the step
function 1[Z_l > 0]), ∂J/∂W_l = δ_Z_l A_(l-1)ᵀ, ∂J/∂b_l = δ_Z_l 𝟏, for every width at once;
then the generated NumPy module, checked on a random batch.
"""

import numpy as np
from _common import output_folder, write

import symbackprop as sb
from symbackprop import naming
from symbackprop.text import TextPrinter

layers = [784, 64, 32, 10]
net = sb.mlp(layers, activation=["relu", "relu", "softmax"], loss="cross_entropy", form="matrix")
d = sb.backprop(net)
show = TextPrinter(naming.text_names(net)).doprint  # the network's names: Ŷ for the output
print(f"{net.description}; sizes {', '.join(map(show, net.sizes))}")
print("Forward pass:")
for step in net.steps:
    print(f"  {show(step.symbol)} = {show(step.expr)}")
print("Backward pass:")
for delta, formula in d.deltas:
    print(f"  {show(delta)} = {show(formula)}")
for p, formula in d.gradients.items():
    print(f"  ∂J/∂{show(p)} = {show(formula)}")

folder = output_folder("03_relu_softmax_matrix")
write(folder, "derivation.tex", sb.document_latex(d))
write(folder, "grads.py", sb.numpy_module(d))

module = sb.compile(d)
sizes = {f"n_{l}": n for l, n in enumerate(layers)}  # SHAPES names the sizes: W_1 is (n_1, n_0)
shapes = [tuple(sizes.get(s, s) for s in module.SHAPES[name]) for name in module.PARAMETERS]
rng = np.random.default_rng(0)
params = [rng.normal(0, 0.05, shape) for shape in shapes]
X = rng.uniform(0, 1, (16, 784))  # one row per sample
Y = np.eye(10)[rng.integers(0, 10, 16)]
J, gradients = module.loss_and_gradients(params, X, Y)
print(f"loss on a random batch of 16: {J:.4f}; gradient shapes: {[g.shape for g in gradients]}")

# One random direction V through all parameters: (J(θ + εV) − J(θ − εV)) / 2ε against Σ ⟨∇J, V⟩.
V = [rng.normal(size=shape) for shape in shapes]
eps = 1e-6
numeric = (module.loss([p + eps * v for p, v in zip(params, V)], X, Y)
           - module.loss([p - eps * v for p, v in zip(params, V)], X, Y)) / (2 * eps)
analytic = sum(float(np.vdot(g, v)) for g, v in zip(gradients, V))
print(f"directional derivative: analytic {analytic:.8f}, finite differences {numeric:.8f}")
