"""Shared test oracles: central finite differences, and a mark for tests that need pdflatex."""

import os
import shutil

import numpy as np
import pytest

# CI installs pdflatex, so there a missing pdflatex fails these tests instead of skipping them.
needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None and not os.environ.get("CI"),
                                    reason="pdflatex is not installed (CI installs it and runs this test)")


needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"),
                                    reason="Graphviz is not installed (CI installs it and runs this test)")


def central_differences(f, values, h=1e-6):
    """∂f/∂values_i ≈ (f(v + h e_i) − f(v − h e_i)) / 2h, in float64; ``f`` takes an array."""
    values = np.asarray(values, dtype=float)
    grad = np.empty(len(values))
    for i in range(len(values)):
        up, down = values.copy(), values.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad
