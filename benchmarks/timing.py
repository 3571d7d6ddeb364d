"""Interleaved timing shared by the benchmarks: medians of repeats in shuffled order."""

import platform
import random
import statistics
import timeit
from pathlib import Path


def race(candidates: dict, repeats: int = 21, target: float = 0.05) -> dict:
    """Median seconds per call of each zero-argument callable; repeats are interleaved in
    shuffled order so machine noise hits all candidates alike."""
    numbers = {}
    for name, call in candidates.items():
        call()  # first call (and any compilation) outside the timing
        number, elapsed = 1, 0.0
        while elapsed < target:  # calibrate: one repeat lasts at least `target` seconds
            number *= 2
            elapsed = timeit.timeit(call, number=number)
        numbers[name] = number
    times = {name: [] for name in candidates}
    order = list(candidates)
    for _ in range(repeats):
        random.shuffle(order)
        for name in order:
            times[name].append(timeit.timeit(candidates[name], number=numbers[name]) / numbers[name])
    return {name: statistics.median(values) for name, values in times.items()}


def cpu_model() -> str:
    """The processor's model name as the kernel reports it (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
