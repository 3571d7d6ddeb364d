"""Gradient checks: analytic gradients against central finite differences, in float64.

Defaults are as strict as ``torch.autograd.gradcheck``: step 1e-6, ``|analytic − numeric| ≤
atol + rtol·|numeric|`` with atol 1e-5 and rtol 1e-3. A parameter whose one-sided slopes
disagree sits on a kink (ReLU at 0): it is reported as such, not as a failure. For large networks,
``directions=k`` checks k random directions instead of every parameter.

>>> from symbackprop import backprop, mlp
>>> report = gradcheck(backprop(mlp([2, 2, 1])))
>>> report.passed, len(report.rows)
(True, 9)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .api import backprop
from .compile import compile as compile_module
from .derive import Derivation
from .matrix import MatrixDerivation


@dataclass(frozen=True)
class Row:
    """One checked parameter (or direction)."""

    name: str
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    status: str  # "pass", "fail" or "kink"


@dataclass(frozen=True)
class GradcheckReport:
    """The rows of a gradient check and the tolerances they were held to."""

    rows: tuple[Row, ...]
    eps: float
    atol: float
    rtol: float

    @property
    def passed(self) -> bool:
        """No row failed (kinks are not failures)."""
        return all(row.status != "fail" for row in self.rows)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        width = max([len(r.name) for r in self.rows] + [9])
        lines = [f"{'parameter':<{width}}  {'analytic':>14}  {'numeric':>14}  {'abs error':>9}  {'rel error':>9}  status"]
        for r in self.rows:
            lines.append(f"{r.name:<{width}}  {r.analytic:>14.8g}  {r.numeric:>14.8g}  {r.abs_error:>9.2e}  {r.rel_error:>9.2e}  {r.status}")
        counts = {s: sum(r.status == s for r in self.rows) for s in ("pass", "fail", "kink")}
        verdict = "all gradients match" if self.passed else "some gradients do not match"
        lines.append(f"{verdict}: {counts['pass']} pass, {counts['fail']} fail, {counts['kink']} on a kink "
                     f"(eps {self.eps:g}, atol {self.atol:g}, rtol {self.rtol:g})")
        return "\n".join(lines)


def as_module(target):
    """A generated module from a module, a derivation, a network or an expression; a matrix-form
    module is seen through one flat parameter vector (:class:`FlatMatrixModule`)."""
    if not hasattr(target, "loss_and_gradients"):
        target = compile_module(target if isinstance(target, (Derivation, MatrixDerivation)) else backprop(target))
    return FlatMatrixModule(target) if hasattr(target, "SHAPES") else target


class FlatMatrixModule:
    """A matrix-form module with the interface of a per-weight one: one flat parameter vector
    (entries named like ``W_1[0, 2]``), and one sample given as a row of inputs."""

    def __init__(self, module):
        self.module = module
        self.PARAMETERS = tuple(f"{name}[{i}, {j}]" for name, (rows, columns) in zip(module.PARAMETERS, module.SHAPES)
                                for i in range(rows) for j in range(columns))
        self.INPUTS = tuple(f"x{i + 1}" for i in range(module.N_INPUTS))
        self.TARGETS = tuple(f"y{i + 1}" for i in range(module.N_OUTPUTS))
        self.PROBABILITY_TARGETS = module.PROBABILITY_TARGETS
        self._offsets = np.cumsum([rows * columns for rows, columns in module.SHAPES])[:-1]

    def _arrays(self, theta):
        pieces = np.split(np.asarray(theta, dtype=float), self._offsets)
        return [piece.reshape(shape) for piece, shape in zip(pieces, self.module.SHAPES)]

    def loss(self, theta, inputs, targets):
        return self.module.loss(self._arrays(theta), np.atleast_2d(inputs), np.atleast_2d(targets))

    def loss_and_gradients(self, theta, inputs, targets):
        J, gradients = self.module.loss_and_gradients(self._arrays(theta), np.atleast_2d(inputs), np.atleast_2d(targets))
        return J, np.concatenate([g.ravel() for g in gradients])


def random_values(module, seed: int = 0):
    """Parameters and inputs in (−1, 1), targets in (0.05, 0.95) (a probability vector when the
    loss needs one), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    params = rng.uniform(-1.0, 1.0, len(module.PARAMETERS))
    inputs = rng.uniform(-1.0, 1.0, len(module.INPUTS))
    targets = rng.uniform(0.05, 0.95, len(module.TARGETS))
    if getattr(module, "PROBABILITY_TARGETS", False):
        targets /= targets.sum()
    return params, inputs, targets


def gradcheck(target, params=None, inputs=None, targets=None, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, directions: int | None = None, seed: int = 0) -> GradcheckReport:
    """Check ``target``'s gradients (a derivation, network, expression or generated module) at
    the given values, or at random ones drawn with ``seed``."""
    module = as_module(target)
    drawn = random_values(module, seed)
    params = np.asarray(drawn[0] if params is None else params, dtype=float)
    inputs = drawn[1] if inputs is None else inputs
    targets = drawn[2] if targets is None else targets

    def loss(theta):
        return float(module.loss(theta, inputs, targets))

    analytic = np.asarray(module.loss_and_gradients(params, inputs, targets)[1], dtype=float)
    if directions is None:
        probes = [(name, np.eye(len(params))[i]) for i, name in enumerate(module.PARAMETERS)]
    else:
        rng = np.random.default_rng(seed + 1)
        vectors = rng.normal(size=(directions, len(params)))
        probes = [(f"direction {k + 1}", v / np.linalg.norm(v)) for k, v in enumerate(vectors)]

    at = loss(params)

    def slope_gap(v, step):
        """How much the one-sided slopes along v differ with this step."""
        return abs((loss(params + step * v) - at) / step - (at - loss(params - step * v)) / step)

    rows = []
    for name, v in probes:
        numeric = (loss(params + eps * v) - loss(params - eps * v)) / (2 * eps)
        expected = float(analytic @ v)
        error = abs(expected - numeric)
        status = "pass" if error <= atol + rtol * abs(numeric) else "fail"
        if status == "fail":
            # On a smooth function the one-sided slopes differ by about step·f'', so the gap
            # shrinks with the step; where the gradient jumps (ReLU at 0) it does not.
            big, small = slope_gap(v, eps), slope_gap(v, eps / 4)
            if small > atol + rtol * abs(numeric) and small > big / 2:
                status = "kink"
        rows.append(Row(name, expected, numeric, error, error / max(abs(numeric), 1e-300), status))
    return GradcheckReport(tuple(rows), eps, atol, rtol)
