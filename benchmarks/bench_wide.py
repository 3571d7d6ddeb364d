"""Whole-command time of the widest formulas a command reads: a max and a product of many arguments.

Each formula is run through every command that takes ``--expr`` (derive as text and as LaTeX,
codegen, check, verify, walkthrough, graph), each in its own process killed after ``--timeout``
seconds, and the wall time is printed with the exit status. The formulas:

- ``max``: max(aa, ab, …) with as many two-letter names as 2,000 characters hold (665);
- ``max40``: max(x1, …, x40);
- ``product``: (x0 + 1)*(x1 + 1)*…*(x219 + 1), 1,869 characters.

Run:  python benchmarks/bench_wide.py                 (a few minutes on 2 cores)
      python benchmarks/bench_wide.py --formulas product --commands derive check
"""

from __future__ import annotations

import argparse
import json
import keyword
import random
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from symbackprop import parse


def names() -> list[str]:
    """Two-letter names that are neither Python keywords nor names the formula reader knows."""
    known = set(parse.FUNCTIONS) | set(parse.CONSTANTS) | set(parse.NOT_REAL)
    pairs = (a + b for a in string.ascii_lowercase for b in string.ascii_lowercase)
    return [n for n in pairs if not keyword.iskeyword(n) and n not in known]


def widest_max() -> tuple[str, list[str]]:
    chosen: list[str] = []
    for name in names():
        if len(f"max({','.join(chosen + [name])})") > parse.MAX_LENGTH:
            break
        chosen.append(name)
    return f"max({','.join(chosen)})", chosen


def formulas() -> dict[str, tuple[str, list[str]]]:
    product = [f"x{i}" for i in range(220)]
    small = [f"x{i}" for i in range(1, 41)]
    return {"max": widest_max(), "max40": (f"max({','.join(small)})", small),
            "product": ("*".join(f"({x}+1)" for x in product), product)}


COMMANDS = {
    "derive": ["derive"],
    "latex": ["derive", "--format", "latex"],
    "codegen": ["codegen", "-o", "{dir}/module.py", "--force"],
    "check": ["check"],
    "verify": ["verify", "--wrt", "{first}", "--claim", "0"],
    "walkthrough": ["walkthrough", "--values", "{values}", "-o", "{dir}/walkthrough.md", "--force"],
    "graph": ["graph", "--values", "{values}", "-o", "{dir}/graph.svg", "--force", "--max-nodes", "5000"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formulas", nargs="+", default=list(formulas()), choices=list(formulas()))
    parser.add_argument("--commands", nargs="+", default=list(COMMANDS), choices=list(COMMANDS))
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    every = formulas()
    with tempfile.TemporaryDirectory() as folder:
        for key in args.formulas:
            formula, variables = every[key]
            rng = random.Random(1)
            values = Path(folder, f"{key}.json")
            values.write_text(json.dumps({v: rng.uniform(-0.9, 0.9) for v in variables}))
            print(f"{key}: {len(formula)} characters, {len(variables)} variables")
            for command in args.commands:
                words = [w.format(dir=folder, values=values, first=variables[0]) for w in COMMANDS[command]]
                start = time.perf_counter()
                try:
                    done = subprocess.run([sys.executable, "-m", "symbackprop", *words, "--expr", formula],
                                          check=False, capture_output=True, text=True, timeout=args.timeout)
                    status = f"exit {done.returncode}"
                except subprocess.TimeoutExpired:
                    status = f"killed after {args.timeout:.0f} s"
                print(f"  {command:12} {time.perf_counter() - start:7.2f} s  {status}", flush=True)


if __name__ == "__main__":
    main()
