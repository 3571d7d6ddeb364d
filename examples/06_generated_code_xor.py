"""Example 6: generated code used for real. A small classifier for XOR (made here, with noise) is
trained with the generated NumPy module alone: the module is written to a file and imported,
and the training loop below uses nothing but NumPy and that module.
"""

import importlib.util

import numpy as np
from _common import output_folder, write

import symbackprop as sb

folder = output_folder("06_generated_code_xor")
net = sb.mlp([2, 4, 1], activation=["tanh", "sigmoid"], loss="bce")
write(folder, "xor_grads.py", sb.numpy_module(sb.backprop(net)))

spec = importlib.util.spec_from_file_location("xor_grads", folder / "xor_grads.py")
grads = importlib.util.module_from_spec(spec)
spec.loader.exec_module(grads)

rng = np.random.default_rng(0)
corners = rng.integers(0, 2, size=(400, 2))
X = corners + rng.normal(0, 0.15, size=corners.shape)
Y = (corners[:, :1] ^ corners[:, 1:]).astype(float)
params = rng.normal(0, 1.0, size=len(grads.PARAMETERS))
for epoch in range(1500):
    loss, gradient = grads.loss_and_gradients(params, X, Y)
    params -= 1.0 * gradient
    if epoch % 300 == 0:
        print(f"epoch {epoch:4d}: loss {loss:.4f}")
accuracy = np.mean((grads.forward(params, X)[:, 0] > 0.5) == (Y[:, 0] > 0.5))
print(f"final loss {grads.loss(params, X, Y):.4f}, accuracy {accuracy:.1%}")
