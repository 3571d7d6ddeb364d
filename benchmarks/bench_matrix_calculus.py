"""Matrix calculus: derivation + code generation time of the textbook cases, and the generated
gradient code against hand-written NumPy and jax.jit(jax.value_and_grad), side by side in one run.

(a) For each textbook case (least squares, ridge, log det, aᵀX⁻¹b, Gaussian NLL, logistic and
    softmax regression, an attention score, a 2-layer MLP), at symbolic sizes: the median time of
    ``backprop`` + ``numpy_module``.
(b) At realistic sizes (4,096 samples × 256 features for the regressions and the MLP, 512 × 64
    for the attention head), float64 and float32, one thread: the median time of one call of the
    generated ``loss_and_gradients``, of hand-written NumPy computing the same loss and
    gradients, and of JAX (when installed), with their ratios. Every implementation's result is
    checked against the hand-written one before it is timed.

The cases are those of ``tests/test_program.py``, each derived by ``backprop`` from its loss.
Prints Markdown tables and the CPU model.

Run:  python benchmarks/bench_matrix_calculus.py          (a few minutes)
      pip install -e '.[bench]' adds JAX
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # one thread: BLAS reads these when NumPy is imported
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import test_program as cases
from timing import cpu_model, race

import symbackprop as sb
from symbackprop.codegen import numpy_module

try:
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
except ImportError:
    jax = jnp = None


HEAD = "attention head (softmax)"


def derivation(name):
    """The engine's derivation of the case, from its loss."""
    if name == HEAD:
        J, wrt = cases.attention_head()
        return sb.backprop(J, wrt=wrt)
    return cases.derived(name, "engine")


def derivation_times(repeats: int) -> list[tuple]:
    """Per case: the medians of the derivation and of the code generation."""
    rows = []
    for name in [*cases.CASES, HEAD]:
        derive, generate = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            d = derivation(name)
            middle = time.perf_counter()
            numpy_module(d)
            derive.append(middle - start)
            generate.append(time.perf_counter() - middle)
        rows.append((name, statistics.median(derive), statistics.median(generate)))
    return rows


# --------------------------------------------------------------------- hand-written NumPy and JAX
def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def hand_least_squares(W, X, Y, lam=0.0):
    R = X @ W - Y
    return np.vdot(R, R) + lam * np.vdot(W, W), [2 * (X.T @ R) + 2 * lam * W]


def hand_logistic(w, c, X, y):
    m = X.shape[1]
    z = w.T @ X + c
    d = (_sigmoid(z) - y) / m
    return (np.logaddexp(0, z) - y * z).sum() / m, [X @ d.T, d.sum(axis=1, keepdims=True)]


def hand_softmax(W, X, Y):
    m = X.shape[1]
    Z = W @ X
    top = Z.max(axis=0, keepdims=True)
    E = np.exp(Z - top)
    total = E.sum(axis=0, keepdims=True)
    J = ((np.log(total) + top).sum() - np.vdot(Y, Z)) / m
    return J, [(E / total - Y) @ X.T / m]


def hand_attention(W_q, W_k, C, X):
    XWk, XWq = X @ W_k, X @ W_q
    G = C * np.exp(XWq @ XWk.T)
    return G.sum(), [X.T @ (G @ XWk), X.T @ (G.T @ XWq)]


def hand_head(W_q, W_k, W_v, C, X):
    k = W_q.shape[1]
    XWk, XWq, XWv = X @ W_k, X @ W_q, X @ W_v
    E = np.exp(XWq @ XWk.T / k**0.5)  # a Python float: float32 stays float32
    A = E / E.sum(axis=1, keepdims=True)
    dA = C @ XWv.T
    dS = A * (dA - (dA * A).sum(axis=1, keepdims=True)) / k**0.5
    return np.vdot(C, A @ XWv), [X.T @ (dS @ XWk), X.T @ (dS.T @ XWq), X.T @ (A.T @ C)]


def hand_mlp(W_1, b_1, W_2, b_2, X, y):
    m = X.shape[1]
    H = _sigmoid(W_1 @ X + b_1)
    R = W_2 @ H + b_2 - y
    dR = R / m
    dZ = (W_2.T @ dR) * H * (1 - H)
    return np.vdot(R, R) / (2 * m), [dZ @ X.T, dZ.sum(axis=1, keepdims=True), dR @ H.T, dR.sum(axis=1, keepdims=True)]


def jax_losses():
    if jax is None:
        return {}

    def least_squares(W, X, Y, lam=0.0):
        R = X @ W - Y
        return jnp.vdot(R, R) + lam * jnp.vdot(W, W)

    def logistic(w, c, X, y):
        z = w.T @ X + c
        return (jnp.logaddexp(0, z) - y * z).sum() / X.shape[1]

    def softmax(W, X, Y):
        Z = W @ X
        return (jax.nn.logsumexp(Z, axis=0).sum() - jnp.vdot(Y, Z)) / X.shape[1]

    def attention(W_q, W_k, C, X):
        return (C * jnp.exp(X @ W_q @ W_k.T @ X.T)).sum()

    def head(W_q, W_k, W_v, C, X):
        A = jax.nn.softmax(X @ W_q @ W_k.T @ X.T / jnp.sqrt(W_q.shape[1]), axis=1)
        return jnp.vdot(C, A @ X @ W_v)

    def mlp(W_1, b_1, W_2, b_2, X, y):
        R = W_2 @ jax.nn.sigmoid(W_1 @ X + b_1) + b_2 - y
        return jnp.vdot(R, R) / (2 * X.shape[1])

    return {"least squares": (least_squares, 1), "ridge": (least_squares, 1), "logistic regression": (logistic, 2),
            "softmax regression": (softmax, 1), "attention scores": (attention, 2), HEAD: (head, 3), "2-layer MLP": (mlp, 4)}


# (sizes, hand-written function, scale of the random entries)
REALISTIC = {
    "least squares": ({"n": 4096, "m": 256, "k": 10}, hand_least_squares, 1.0),
    "ridge": ({"n": 4096, "m": 256, "k": 10}, hand_least_squares, 1.0),
    "logistic regression": ({"n": 256, "m": 4096}, hand_logistic, 0.1),
    "softmax regression": ({"n": 256, "m": 4096, "k": 10}, hand_softmax, 0.1),
    "attention scores": ({"m": 512, "n": 64, "k": 64}, hand_attention, 0.1),
    HEAD: ({"m": 512, "n": 64, "k": 64}, hand_head, 0.1),
    "2-layer MLP": ({"n": 256, "m": 4096, "k": 64}, hand_mlp, 0.1),
}


def arrays(module, sizes, scale, dtype, seed=0):
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in module.SHAPES.items():
        concrete = tuple(sizes.get(size, size) for size in shape)
        values[name] = (scale * rng.standard_normal(concrete)).astype(dtype) if concrete else dtype(0.1)
    return values


def speed_rows(repeats: int) -> list[tuple]:
    peers = jax_losses()
    rows = []
    for name, (sizes, hand, scale) in REALISTIC.items():
        module = sb.compile(derivation(name))
        for dtype in (np.float64, np.float32):
            values = arrays(module, sizes, scale, dtype)
            params = [values[p] for p in module.PARAMETERS]
            inputs = [values[i] for i in module.INPUTS]
            ordered = [values[v] for v in module.PARAMETERS + module.INPUTS]  # the hand-written functions' order
            J_hand, g_hand = hand(*ordered)
            J_gen, g_gen = module.loss_and_gradients(params, inputs)
            tolerance = dict(rtol=1e-6, atol=1e-9) if dtype == np.float64 else dict(rtol=2e-2, atol=1e-4)
            assert np.allclose(J_gen, J_hand, **tolerance) and all(np.allclose(a, b, **tolerance) for a, b in zip(g_gen, g_hand)), name
            checked = module._check(params, inputs)  # the arguments as the steps take them, checks done
            candidates = {"generated": lambda m=module, p=params, i=inputs: m.loss_and_gradients(p, i),
                          "steps": lambda m=module, c=checked: m._loss_and_gradients(*c),
                          "hand": lambda h=hand, o=ordered: h(*o)}
            if name in peers:
                loss, count = peers[name]
                compiled = jax.jit(jax.value_and_grad(loss, argnums=tuple(range(count))))
                device = [jnp.asarray(v) for v in ordered]
                J_jax, g_jax = compiled(*device)
                assert np.allclose(J_jax, J_hand, **tolerance) and all(
                    np.allclose(a, b, **tolerance) for a, b in zip(g_jax, g_hand)), name
                candidates["jax"] = lambda c=compiled, v=device: jax.block_until_ready(c(*v))
            times = race(candidates, repeats=repeats)
            rows.append((name, np.dtype(dtype).name, times))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=11, help="timed rounds per configuration (median)")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; one thread; NumPy {np.__version__}" + (f", JAX {jax.__version__}" if jax else ", JAX not installed"))
    print("\n(a) derivation + code generation at symbolic sizes\n")
    print("| case | derive (ms) | generate code (ms) | total (ms) |\n|---|---:|---:|---:|")
    for name, derive, generate in derivation_times(max(3, args.repeats // 2)):
        print(f"| {name} | {1e3 * derive:.1f} | {1e3 * generate:.1f} | {1e3 * (derive + generate):.1f} |")
    print("\n(b) one loss_and_gradients call, medians (ms); ratios to hand-written NumPy. \"steps\": the generated")
    print("statements alone, without the checks of shapes and finiteness of every argument\n")
    print("| case | dtype | generated | steps | hand NumPy | JAX | generated / hand | steps / hand | JAX / hand |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, dtype, times in speed_rows(args.repeats):
        hand, jax_time = times["hand"], times.get("jax")
        jax_ms = "" if jax_time is None else f"{1e3 * jax_time:.2f}"
        jax_ratio = "" if jax_time is None else f"{jax_time / hand:.2f}"
        print(f"| {name} | {dtype} | {1e3 * times['generated']:.2f} | {1e3 * times['steps']:.2f} | {1e3 * hand:.2f} | {jax_ms} | "
              f"{times['generated'] / hand:.2f} | {times['steps'] / hand:.2f} | {jax_ratio} |")


if __name__ == "__main__":
    main()
