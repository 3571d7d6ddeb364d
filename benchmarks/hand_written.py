"""Hand-written backprop for the classic 2-2-2 sigmoid network (Mazur's layout), the references
the generated code is timed against: pure Python floats for one sample, NumPy for a batch.

theta = [w1, …, w8, b1, b2] (one bias per layer); h = σ(W1 x + b1), o = σ(W2 h + b2),
J = ½ Σ (o − t)², a batch's J the mean over its samples.
"""

import math

import numpy as np

THETA0 = [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55, 0.35, 0.60]
X0 = [0.05, 0.10]
T0 = [0.01, 0.99]


def python_floats(th, x1, x2, t1, t2):
    w1, w2, w3, w4, w5, w6, w7, w8, b1, b2 = th
    exp = math.exp
    h1 = 1.0 / (1.0 + exp(-(w1 * x1 + w2 * x2 + b1)))
    h2 = 1.0 / (1.0 + exp(-(w3 * x1 + w4 * x2 + b1)))
    o1 = 1.0 / (1.0 + exp(-(w5 * h1 + w6 * h2 + b2)))
    o2 = 1.0 / (1.0 + exp(-(w7 * h1 + w8 * h2 + b2)))
    d1 = (o1 - t1) * o1 * (1.0 - o1)
    d2 = (o2 - t2) * o2 * (1.0 - o2)
    e1 = (w5 * d1 + w7 * d2) * h1 * (1.0 - h1)
    e2 = (w6 * d1 + w8 * d2) * h2 * (1.0 - h2)
    return [e1 * x1, e1 * x2, e2 * x1, e2 * x2, d1 * h1, d1 * h2, d2 * h1, d2 * h2, e1 + e2, d1 + d2]


def numpy_batch(theta, X, T):
    n = X.shape[0]
    W1 = theta[0:4].reshape(2, 2)
    W2 = theta[4:8].reshape(2, 2)
    H = 1.0 / (1.0 + np.exp(-(X @ W1.T + theta[8])))
    O = 1.0 / (1.0 + np.exp(-(H @ W2.T + theta[9])))
    dO = (O - T) * O * (1.0 - O) * (1.0 / n)
    dH = (dO @ W2) * H * (1.0 - H)
    g = np.empty(10)
    g[0:4] = (dH.T @ X).ravel()
    g[4:8] = (dO.T @ H).ravel()
    g[8] = dH.sum()
    g[9] = dO.sum()
    return g


def batch(n, seed=1):
    """n samples, uniform in (0, 1), the first one Mazur's."""
    rng = np.random.default_rng(seed)
    inputs, targets = rng.uniform(size=(n, 2)), rng.uniform(size=(n, 2))
    inputs[0], targets[0] = X0, T0
    return inputs, targets
