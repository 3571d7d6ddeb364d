"""Generated gradient code against hand-written backprop (and JAX when installed), one run.

The classic 2-2-2 sigmoid network (one bias per layer, half_sse): one sample given as lists,
and a batch of 4096 (loss = mean over the batch). Every implementation's gradient is checked
against the hand-written one before it is timed. Repeats are interleaved in shuffled order so
machine noise hits all alike; medians per call. NumPy is pinned to one thread.

Run:  python benchmarks/bench_codegen.py   (about a minute; JAX rows appear when jax is installed)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hand_written as hand
from timing import race

import symbackprop as sb


def jax_gradients():
    """jax.jit(jax.grad) of the same loss, single and batched, or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def loss(theta, x, t):
        h = jax.nn.sigmoid(theta[0:4].reshape(2, 2) @ x + theta[8])
        o = jax.nn.sigmoid(theta[4:8].reshape(2, 2) @ h + theta[9])
        return 0.5 * jnp.sum((o - t) ** 2)

    def batch_loss(theta, X, T):
        h = jax.nn.sigmoid(X @ theta[0:4].reshape(2, 2).T + theta[8])
        o = jax.nn.sigmoid(h @ theta[4:8].reshape(2, 2).T + theta[9])
        return 0.5 * jnp.sum((o - T) ** 2) / X.shape[0]

    single, batched = jax.jit(jax.grad(loss)), jax.jit(jax.grad(batch_loss))
    return (lambda th, x, t: single(th, x, t).block_until_ready(),
            lambda th, X, T: batched(th, X, T).block_until_ready())


def show(title: str, medians: dict, reference: str) -> None:
    print(f"\n{title}\n")
    print(f"| implementation | median per call | × {reference} |")
    print("|---|---|---|")
    for name, seconds in sorted(medians.items(), key=lambda item: item[1]):
        print(f"| {name} | {seconds * 1e6:.2f} µs | {seconds / medians[reference]:.2f}× |")


def main() -> None:
    module = sb.compile(sb.backprop(sb.mlp([2, 2, 2], activation="sigmoid", loss="half_sse", bias="per_layer")))
    jax_fns = jax_gradients()
    theta, x, t = hand.THETA0, hand.X0, hand.T0
    theta_array = np.array(theta)

    expected = hand.python_floats(theta, *x, *t)
    single = {
        "generated loss_and_gradients (lists)": lambda: module.loss_and_gradients(theta, x, t),
        "hand-written Python floats": lambda: hand.python_floats(theta, *x, *t),
    }
    checks = {"generated loss_and_gradients (lists)": module.loss_and_gradients(theta, x, t)[1]}
    if jax_fns:
        xa, ta = np.array(x), np.array(t)
        single["jax.jit(jax.grad)"] = lambda: jax_fns[0](theta_array, xa, ta)
        checks["jax.jit(jax.grad)"] = jax_fns[0](theta_array, xa, ta)
    for name, gradient in checks.items():
        assert np.allclose(gradient, expected, rtol=0, atol=1e-15), name

    X, T = hand.batch(4096)
    expected = hand.numpy_batch(theta_array, X, T)
    batch = {
        "generated loss_and_gradients": lambda: module.loss_and_gradients(theta_array, X, T),
        "hand-written NumPy": lambda: hand.numpy_batch(theta_array, X, T),
    }
    assert np.allclose(module.loss_and_gradients(theta_array, X, T)[1], expected, rtol=0, atol=1e-15)
    if jax_fns:
        batch["jax.jit(jax.grad)"] = lambda: jax_fns[1](theta_array, X, T)
        assert np.allclose(jax_fns[1](theta_array, X, T), expected, rtol=0, atol=1e-15)

    print(f"NumPy {np.__version__}, Python {sys.version.split()[0]}, "
          f"JAX {'not installed' if not jax_fns else __import__('jax').__version__}")
    show("2-2-2 sigmoid network, one sample as lists", race(single), "hand-written Python floats")
    show("2-2-2 sigmoid network, batch of 4096", race(batch), "hand-written NumPy")


if __name__ == "__main__":
    main()
