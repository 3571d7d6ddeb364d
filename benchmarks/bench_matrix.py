"""Matrix form, 784-128-10 (sigmoid or ReLU hidden, softmax + cross-entropy, mean over the batch):
generated gradient code against hand-written NumPy backprop, jax.jit(jax.grad), PyTorch autograd
and HIPS autograd (each when installed), in one run.

The generated module is that of mlp(form="matrix"): PARAMETERS W_1, b_1, W_2, b_2, W_l of shape
(n_l, n_{l-1}) and b_l of shape (n_l, 1), gradients(params, inputs, targets) with inputs
(batch, 784) and targets (batch, 10), one row per sample. Every configuration of batch (64, 512),
dtype (float64, float32), hidden activation and thread count (1, 2: one worker process each,
since BLAS fixes its threads at import) is timed with interleaved rounds (medians). The module's
gradients() computes what the hand-written code and jax.grad compute, the gradients alone; its
loss_and_gradients() is timed beside it, and so are its generated statements alone (_gradients on
arguments checked once: what the per-call checks of shapes, finiteness and targets cost is the
difference). It gets the hand-written code's arrays (each W_l as the transposed view of the
hand-written (inputs, outputs) matrix: the same memory), and once more C-ordered copies of them.
Each implementation's gradient is checked against the hand-written one before it is timed. Also:
forward-only time (grad/fwd), the peak memory of one gradient call (tracemalloc, which sees
NumPy's allocations), and derivation + code generation time by width.

Run:  python benchmarks/bench_matrix.py            (about 10 minutes on 2 cores)
      pip install -e '.[bench]' adds the peers (JAX; PyTorch and autograd install the same way)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
D_IN, HIDDEN, D_OUT = 784, 128, 10


def worker(threads: int, repeats: int) -> dict:
    """All configurations at one thread count (this process is pinned before NumPy loads)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if threads == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.sched_setaffinity(0, set(range(min(threads, os.cpu_count() or 1))))
    import tracemalloc

    import numpy as np

    sys.path.insert(0, str(HERE))
    from timing import race

    import symbackprop as sb

    peers = {}
    try:
        import jax
        import jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        peers["jax"] = (jax, jnp)
    except ImportError:
        pass
    try:
        import torch
        torch.set_num_threads(threads)
        peers["torch"] = torch
    except ImportError:
        pass
    try:
        import autograd
        import autograd.numpy as anp
        peers["autograd"] = (autograd, anp)
    except ImportError:
        pass

    def hidden(a, act, lib=np):
        return 1.0 / (1.0 + lib.exp(-a)) if act == "sigmoid" else lib.maximum(a, 0.0)

    def hand_loss(W1, b1, W2, b2, X, Y, act):
        z = hidden(X @ W1 + b1, act) @ W2 + b2
        zs = z - z.max(axis=1, keepdims=True)
        return -np.sum(Y * (zs - np.log(np.exp(zs).sum(axis=1, keepdims=True)))) / X.shape[0]

    def hand_grad(W1, b1, W2, b2, X, Y, act):
        A = X @ W1 + b1
        H = hidden(A, act)
        Z = H @ W2 + b2
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        dZ = (E / E.sum(axis=1, keepdims=True) - Y) * (1.0 / X.shape[0])
        dH = dZ @ W2.T
        dA = dH * H * (1.0 - H) if act == "sigmoid" else dH * (A > 0)
        return X.T @ dA, dA.sum(axis=0), H.T @ dZ, dZ.sum(axis=0)

    def configuration(module, act, dtype, batch, hand, rng):
        X = rng.uniform(0, 1, (batch, D_IN)).astype(dtype)
        Y = np.eye(D_OUT, dtype=dtype)[rng.integers(0, D_OUT, batch)]
        reference = hand_grad(*[p.astype(np.float64) for p in hand], X.astype(np.float64), Y.astype(np.float64), act)

        def as_hand(grads):
            """Any implementation's gradients in the hand-written layout, float64."""
            return [np.asarray(g, dtype=np.float64).reshape(r.shape) if np.shape(g) == r.shape or np.ndim(g) == 1 or np.shape(g)[-1] == 1
                    else np.asarray(g, dtype=np.float64).T for g, r in zip(grads, reference)]

        # The generated code gets the hand-written code's arrays: W_l of shape (n_l, n_{l-1}) is
        # the transposed view of its (n_{l-1}, n_l) matrix, the same memory in Fortran order;
        # "C order" copies them into the other memory order, as a user creating W_l fresh would.
        ours = [hand[0].T, hand[1][:, None], hand[2].T, hand[3][:, None]]
        ours_c = [np.ascontiguousarray(p) for p in ours]
        checked = module._check(ours, module._columns(X, Y))  # the arguments as the steps take them
        grads = {"generated": lambda: module.gradients(ours, X, Y),
                 "generated steps": lambda: module._gradients(*checked),
                 "generated, with the loss": lambda: module.loss_and_gradients(ours, X, Y)[1],
                 "generated, C order": lambda: module.gradients(ours_c, X, Y),
                 "hand-written NumPy": lambda: hand_grad(*hand, X, Y, act)}
        forwards = {"generated": lambda: module.loss(ours, X, Y), "generated, C order": lambda: module.loss(ours_c, X, Y),
                    "hand-written NumPy": lambda: hand_loss(*hand, X, Y, act)}
        if "jax" in peers:
            jax, jnp = peers["jax"]

            def jloss(p, X, Y):
                h = jax.nn.sigmoid(X @ p[0] + p[1]) if act == "sigmoid" else jnp.maximum(X @ p[0] + p[1], 0.0)
                return -jnp.sum(Y * jax.nn.log_softmax(h @ p[2] + p[3], axis=1)) / X.shape[0]
            jp, jX, jY = [jnp.asarray(p) for p in hand], jnp.asarray(X), jnp.asarray(Y)
            jgrad, jfwd = jax.jit(jax.grad(jloss)), jax.jit(jloss)
            grads["jax.jit(jax.grad)"] = lambda: [g.block_until_ready() for g in jgrad(jp, jX, jY)]
            forwards["jax.jit(jax.grad)"] = lambda: jfwd(jp, jX, jY).block_until_ready()
        if "torch" in peers:
            torch = peers["torch"]
            tp = [torch.tensor(p, requires_grad=True) for p in hand]
            tX, tY = torch.tensor(X), torch.tensor(Y)

            def tloss():
                a = tX @ tp[0] + tp[1]
                h = torch.sigmoid(a) if act == "sigmoid" else torch.relu(a)
                return -torch.sum(tY * torch.log_softmax(h @ tp[2] + tp[3], dim=1)) / tX.shape[0]

            def tforward():
                with torch.no_grad():
                    return tloss()
            grads["torch autograd"] = lambda: [g.numpy() for g in torch.autograd.grad(tloss(), tp)]
            forwards["torch autograd"] = tforward
        if "autograd" in peers:
            autograd, anp = peers["autograd"]

            def aloss(p):
                a = anp.dot(X, p[0]) + p[1]
                h = 1.0 / (1.0 + anp.exp(-a)) if act == "sigmoid" else anp.maximum(a, 0.0)
                z = anp.dot(h, p[2]) + p[3]
                zs = z - anp.max(z, axis=1, keepdims=True)
                return -anp.sum(Y * (zs - anp.log(anp.sum(anp.exp(zs), axis=1, keepdims=True)))) / X.shape[0]
            agrad = autograd.grad(aloss)
            grads["HIPS autograd"] = lambda: agrad(list(hand))
            forwards["HIPS autograd"] = lambda: aloss(list(hand))
        tolerance = 1e-9 if dtype == "float64" else 2e-4
        scale = max(1.0, max(float(np.max(np.abs(r))) for r in reference))
        for name, call in list(grads.items()):
            error = max(float(np.max(np.abs(g - r))) for g, r in zip(as_hand(call()), reference))
            if not error <= tolerance * scale:
                print(f"{name} disagrees with the hand-written gradient ({error:.2e}); not timed", file=sys.stderr)
                del grads[name]
                forwards.pop(name, None)
        # Short rounds (5 ms per candidate), many of them: drift on the shared machine hits all alike.
        timed = race({("grad", k): v for k, v in grads.items()} | {("fwd", k): v for k, v in forwards.items()},
                     repeats, target=0.005)
        memory = {}
        for name in ("generated", "hand-written NumPy"):
            grads[name]()
            tracemalloc.start()
            grads[name]()
            memory[name] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return {"threads": threads, "act": act, "dtype": dtype, "batch": batch, "memory": memory,
                "grad": {k: v for (kind, k), v in timed.items() if kind == "grad"},
                "fwd": {k: v for (kind, k), v in timed.items() if kind == "fwd"}}

    results = []
    for act in ("sigmoid", "relu"):
        module = sb.compile(sb.backprop(sb.mlp([D_IN, HIDDEN, D_OUT], activation=[act, "softmax"],
                                                loss="cross_entropy", form="matrix")))
        for dtype in ("float64", "float32"):
            rng = np.random.default_rng(0)
            hand = [rng.normal(0, 0.05, (D_IN, HIDDEN)), rng.normal(0, 0.05, HIDDEN),
                    rng.normal(0, 0.1, (HIDDEN, D_OUT)), rng.normal(0, 0.1, D_OUT)]
            hand = [p.astype(dtype) for p in hand]
            for batch in (64, 512):
                results.append(configuration(module, act, dtype, batch, hand, rng))
                print(f"done: {threads} thread(s), {act}, {dtype}, batch {batch}", file=sys.stderr, flush=True)
    from importlib.metadata import version
    return {"results": results, "versions": {name: version(name) for name in ("numpy", "jax", "torch", "autograd")
                                             if name == "numpy" or name in peers}}


def derivation_times() -> list[tuple[int, float]]:
    from sympy.core.cache import clear_cache

    import symbackprop as sb
    rows = []
    for width in (16, 128, 1024, 4096):
        clear_cache()  # no help from an earlier, identical derivation
        start = time.perf_counter()
        d = sb.backprop(sb.mlp([784, width, 10], activation=["relu", "softmax"], loss="cross_entropy", form="matrix"))
        sb.numpy_module(d)
        rows.append((width, time.perf_counter() - start))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=250, help="rounds of interleaved timing (default 250)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.repeats)))
        return
    sys.path.insert(0, str(HERE))
    from timing import cpu_model

    runs = [json.loads(subprocess.run([sys.executable, __file__, "--worker", str(t), "--repeats", str(args.repeats)],
                                      capture_output=True, text=True, check=True).stdout) for t in args.threads]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; Python {sys.version.split()[0]}; versions: "
          + ", ".join(f"{k} {v}" for k, v in runs[0]["versions"].items()) + "\n")
    print("| threads | hidden | dtype | batch | generated | hand NumPy | × hand | fastest peer | × fastest peer | "
          "generated steps alone (× hand) | generated with the loss (× hand) | generated, C order (× hand) | "
          "grad/fwd (generated, hand) | "
          "peak memory (generated, hand) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        for r in run["results"]:
            grad, fwd = r["grad"], r["fwd"]
            ours, hand = grad["generated"], grad["hand-written NumPy"]
            ours_c, ours_loss, steps = grad["generated, C order"], grad["generated, with the loss"], grad["generated steps"]
            peers = {k: v for k, v in grad.items() if not k.startswith("generated")}
            best = min(peers, key=peers.get)
            print(f"| {r['threads']} | {r['act']} | {r['dtype']} | {r['batch']} | {ours * 1e6:.0f} µs | {hand * 1e6:.0f} µs | "
                  f"{ours / hand:.2f}× | {best} {peers[best] * 1e6:.0f} µs | {ours / peers[best]:.2f}× | "
                  f"{steps * 1e6:.0f} µs ({steps / hand:.2f}×) | {ours_loss * 1e6:.0f} µs ({ours_loss / hand:.2f}×) | {ours_c * 1e6:.0f} µs ({ours_c / hand:.2f}×) | "
                  f"{ours / fwd['generated']:.2f}, {hand / fwd['hand-written NumPy']:.2f} | "
                  f"{r['memory']['generated'] / 2**20:.2f} MiB, {r['memory']['hand-written NumPy'] / 2**20:.2f} MiB |")
    print("\nDerivation + code generation, 784-w-10 (symbolic sizes: the same work for every width):\n")
    print("| width w | time |\n|---|---|")
    for width, seconds in derivation_times():
        print(f"| {width} | {seconds * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
