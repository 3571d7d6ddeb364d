"""Derivation time and delta-view size against parameter count, beside naive sympy.diff.

For scalar networks [2, w, …, w, 1] (d hidden layers of width w, sigmoid, half_sse):

- *backprop*: ``mlp`` + ``backprop`` (the reverse sweep, every gradient in the delta view),
  median of ``--repeats`` runs, SymPy's cache cleared before each;
- *delta ops*: ``count_ops`` of the delta view (named deltas + gradients), and per parameter;
- *closed w1*: time to build the closed form of ∂J/∂w1 on first access (built on the DAG);
- *naive*: ``sympy.diff`` of the composed loss (σ written as 1/(1 + e^{−z})) for every parameter, in a subprocess killed after
  ``--naive-timeout`` seconds; a width stops trying deeper nets once one is killed.

Run:  python benchmarks/bench_derive.py            (about 7 minutes on 2 cores)
      python benchmarks/bench_derive.py --widths 2 16 --depths 1 4 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import sympy as sp
from sympy.core.cache import clear_cache

import symbackprop as sb


def delta_ops(d: sb.Derivation) -> int:
    return sum(sp.count_ops(e) for _, e in d.deltas) + sum(sp.count_ops(e) for e in d.gradients.values())


def time_backprop(layers, repeats: int):
    times = []
    for _ in range(repeats):
        clear_cache()
        start = time.perf_counter()
        d = sb.backprop(sb.mlp(layers))
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    d[d.wrt[0]]
    return statistics.median(times), time.perf_counter() - start, d


NAIVE = """
import sys, time, sympy as sp, symbackprop as sb
net = sb.mlp({layers!r})
loss = net.loss.rewrite(sp.exp)  # σ written out, as a user without the engine composes it
start = time.perf_counter()
grads = [sp.diff(loss, p) for p in net.params]
print(time.perf_counter() - start)
"""


def time_naive(layers, timeout: float):
    try:
        out = subprocess.run([sys.executable, "-c", NAIVE.format(layers=list(layers))],
                             capture_output=True, text=True, timeout=timeout, check=True)
        return float(out.stdout.strip())
    except subprocess.TimeoutExpired:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[2, 3, 4, 8, 16])
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 7, 8])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-timeout", type=float, default=30.0)
    args = parser.parse_args()

    print("| w | d | params | backprop (median) | delta ops | ops / param | closed ∂J/∂w1 | naive sympy.diff | naive ÷ backprop |")
    print("|---|---|---|---|---|---|---|---|---|")
    for width in args.widths:
        naive_alive = True
        for depth in args.depths:
            layers = [2] + [width] * depth + [1]
            seconds, closed_seconds, d = time_backprop(layers, args.repeats)
            ops = delta_ops(d)
            naive = time_naive(layers, args.naive_timeout) if naive_alive else None
            if naive is None and naive_alive:
                naive_alive = False
                naive_cell = f"> {args.naive_timeout:.0f} s (killed)"
            else:
                naive_cell = "–" if naive is None else f"{naive:.3f} s"
            ratio = "–" if naive is None else f"{naive / seconds:.1f}×"
            print(f"| {width} | {depth} | {len(d.wrt)} | {seconds:.3f} s | {ops} | {ops / len(d.wrt):.2f} | "
                  f"{closed_seconds:.3f} s | {naive_cell} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
