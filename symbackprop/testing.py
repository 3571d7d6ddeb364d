"""Test helpers: assert that a hand-derived gradient is right, with a useful failure message.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> assert_gradient("2*x*cos(x**2)", sp.sin(x**2), wrt=x)
>>> assert_gradient("x*cos(x**2)", sp.sin(x**2), wrt=x)
Traceback (most recent call last):
...
AssertionError: ∂/∂x is wrong: claimed x*cos(x**2)
  should be 2*x*cos(x**2)
  at x = 0.80998: claimed 0.6418258362, correct 1.283651672
"""

from __future__ import annotations

from .verify import verify


def assert_gradient(claimed, of, wrt, seed: int = 0) -> None:
    """Raise ``AssertionError`` unless ``claimed`` (a formula, or a list of chain-rule factors)
    is ∂of/∂wrt; the message shows the claimed and the correct formula and a counterexample."""
    verdict = verify(claimed, of, wrt=wrt, seed=seed)
    if not verdict:
        raise AssertionError(f"∂/∂{wrt} is {verdict}")
