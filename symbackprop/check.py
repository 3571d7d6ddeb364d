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

import math
from dataclasses import dataclass
from html import escape

import numpy as np

from . import naming
from .api import backprop
from .compile import compile as compile_module
from .derive import Derivation
from .errors import InputError
from .targets import probability_problem
from .values import number, sizes_given


@dataclass(frozen=True)
class Row:
    """One checked parameter (or direction)."""

    name: str
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    status: str  # "pass", "fail", "kink" or "zero" (analytic = numeric = 0: nothing checked)


STATUSES = ("pass", "fail", "kink", "zero")
POINT_SHOWN = 6  # values of each group shown in a report; larger groups end with a count
ROWS_SHOWN = 40  # rows of a report printed: every fail, kink and zero row first, then passing ones


@dataclass(frozen=True)
class GradcheckReport:
    """The rows of a gradient check, the tolerances they were held to, and the point checked:
    ``point`` holds ``(group, ((name, value), …))`` for the inputs, targets and parameters."""

    rows: tuple[Row, ...]
    eps: float
    atol: float
    rtol: float
    point: tuple = ()

    @property
    def passed(self) -> bool:
        """No row failed (kinks and zero gradients are not failures)."""
        return all(row.status != "fail" for row in self.rows)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def checked_nothing(self) -> bool:
        """Every row's gradient is exactly 0 on both sides (all-dead ReLU units, say): no evidence."""
        return all(row.status == "zero" for row in self.rows)

    def shown_rows(self) -> tuple[Row, ...]:
        """The rows a printed report shows: at most :data:`ROWS_SHOWN`, failures first, then
        kinks, zero gradients and passing rows (each in order)."""
        if len(self.rows) <= ROWS_SHOWN:
            return self.rows
        order = {"fail": 0, "kink": 1, "zero": 2, "pass": 3}
        return tuple(sorted(self.rows, key=lambda r: order[r.status])[:ROWS_SHOWN])

    def _more(self, shown) -> str:
        """The line that ends a report cut to :meth:`shown_rows`, or ""."""
        left = [r.status for r in self.rows]
        for r in shown:
            left.remove(r.status)
        if not left:
            return ""
        kinds = {status: left.count(status) for status in STATUSES if status in left}
        what = ("passing" if list(kinds) == ["pass"] else
                "(" + ", ".join(f"{n} {'passing' if s == 'pass' else s}" for s, n in kinds.items()) + ")")
        return (f"… {len(left)} more passing rows" if what == "passing" else f"… {len(left)} more rows {what}") + \
            " (report.rows holds them all)"

    def counts(self) -> dict[str, int]:
        """How many rows have each status."""
        return {s: sum(r.status == s for r in self.rows) for s in STATUSES}

    def point_text(self) -> str:
        """The point checked, compactly: the first values of each group and how many there are."""
        parts = []
        for group, values in self.point:
            shown = ", ".join(f"{name} = {value:.4g}" for name, value in values[:POINT_SHOWN])
            more = f", … ({len(values)} in all)" if len(values) > POINT_SHOWN else ""
            parts.append(f"{group}: {shown}{more}")
        return "; ".join(parts)

    def verdict(self) -> str:
        """The summary line, and a note when some gradients were zero (and so checked nothing)."""
        counts = self.counts()
        tolerances = f"(eps {self.eps:g}, atol {self.atol:g}, rtol {self.rtol:g})"
        tally = f"{counts['pass']} pass, {counts['fail']} fail, {counts['kink']} on a kink"
        if counts["zero"]:
            tally += f", {counts['zero']} zero"
        if not self.passed:
            line = f"some gradients do not match: {tally} {tolerances}"
        elif self.checked_nothing:
            line = f"nothing was checked: every gradient is 0 at this point: {tally} {tolerances}"
        else:
            line = f"all gradients match: {tally} {tolerances}"
        if counts["zero"]:
            line += (f"\nnote: {counts['zero']} gradient(s) are exactly 0 here, analytic and numeric (a dead ReLU unit, "
                     "say): a zero gradient checks nothing; try another seed (--seed) or other values (--values)")
        return line

    def __str__(self) -> str:
        width = max([len(r.name) for r in self.rows] + [9])
        lines = [f"checked at {self.point_text()}"] if self.point else []
        lines.append(f"{'parameter':<{width}}  {'analytic':>14}  {'numeric':>14}  {'abs error':>9}  {'rel error':>9}  status")
        shown = self.shown_rows()
        for r in shown:
            lines.append(f"{r.name:<{width}}  {r.analytic:>14.8g}  {r.numeric:>14.8g}  {r.abs_error:>9.2e}  {r.rel_error:>9.2e}  {r.status}")
        if len(shown) < len(self.rows):
            lines.append(self._more(shown))
        lines.append(self.verdict())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        shown = self.shown_rows()
        cells = "".join(f"<tr><td>{escape(r.name)}</td><td>{r.analytic:.8g}</td><td>{r.numeric:.8g}</td>"
                        f"<td>{r.abs_error:.2e}</td><td>{r.rel_error:.2e}</td><td>{r.status}</td></tr>" for r in shown)
        if len(shown) < len(self.rows):
            cells += f"<tr><td colspan=\"6\">{escape(self._more(shown))}</td></tr>"
        point = f"<p>checked at {escape(self.point_text())}</p>" if self.point else ""
        verdict = "".join(f"<p>{escape(line)}</p>" for line in self.verdict().splitlines())
        return (f"{point}<table><thead><tr><th>parameter</th><th>analytic</th><th>numeric</th><th>abs error</th>"
                f"<th>rel error</th><th>status</th></tr></thead><tbody>{cells}</tbody></table>{verdict}")


def as_module(target, sizes=None):
    """A generated module from a module, a derivation, a network or an expression; a network in
    matrix form is seen through one flat parameter vector at its layer sizes
    (:class:`FlatMatrixModule`), a module of matrix variables through flat vectors of their
    entries at concrete ``sizes`` (:class:`FlatProgramModule`)."""
    if not hasattr(target, "loss_and_gradients"):
        target = compile_module(target if isinstance(target, Derivation) else backprop(target))
    if hasattr(target, "LAYER_SIZES"):
        return FlatMatrixModule(target, sizes)
    if hasattr(target, "SIZES"):
        return FlatProgramModule(target, sizes)
    if sizes is not None:
        raise InputError("sizes are for functions of matrices; this one has none")
    return target


MAX_CHECKED = 10**6  # parameters, inputs and targets of a matrix-form network a check holds


class FlatMatrixModule:
    """The module of a network in matrix form with the interface of a per-weight one, at its
    layer sizes (``LAYER_SIZES``, or ``sizes`` by name): one flat parameter vector (entries named
    like ``W_1[0, 2]``), and one sample given as a row of inputs."""

    def __init__(self, module, sizes=None):
        widths = dict(module.LAYER_SIZES) | sizes_given(sizes, module.LAYER_SIZES, "this network's layers")
        self.shapes = [tuple(widths.get(size, size) for size in module.SHAPES[name]) for name in module.PARAMETERS]
        inputs, outputs = (widths[module.SHAPES[name][0]] for name in module.INPUTS)
        count = sum(int(np.prod(shape)) for shape in self.shapes) + inputs + outputs
        if count > MAX_CHECKED:
            raise InputError(f"a check holds every parameter, input and target by name, at most {MAX_CHECKED:,}, and this "
                             f"network has {count:,}: check a narrower one (the matrix form's formulas hold for every width)")
        self.module = module
        self.PARAMETERS = _entry_names(module.PARAMETERS, self.shapes)
        self.INPUTS = tuple(f"x{i + 1}" for i in range(inputs))
        self.TARGETS = tuple(f"y{i + 1}" for i in range(outputs))
        self.PROBABILITY_TARGETS = module.PROBABILITY_TARGETS

    def _arrays(self, theta):
        return _split(theta, self.shapes)

    def loss(self, theta, inputs, targets):
        return self.module.loss(self._arrays(theta), np.atleast_2d(inputs), np.atleast_2d(targets))

    def loss_and_gradients(self, theta, inputs, targets):
        J, gradients = self.module.loss_and_gradients(self._arrays(theta), np.atleast_2d(inputs), np.atleast_2d(targets))
        return J, np.concatenate([g.ravel() for g in gradients])


def _entry_names(names, shapes) -> tuple[str, ...]:
    """The name of every entry of matrices ``names`` of ``shapes``, row by row: ``W[0, 2]``; a scalar by its own name."""
    return tuple(f"{name}[{', '.join(map(str, index))}]" if index else name
                 for name, shape in zip(names, shapes) for index in np.ndindex(*shape))


def _split(flat, shapes) -> list:
    """A flat vector of entries as arrays of ``shapes``, in order (the inverse of ravelling them)."""
    ends = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]
    return [piece.reshape(shape) for piece, shape in zip(np.split(np.asarray(flat, dtype=float), ends), shapes)]


DEFAULT_SIZES = (2, 3, 4)  # the sizes a check gives n, m, k … when none are given (in order of their names, then 5, 6, …)


class FlatProgramModule:
    """A module of matrix variables (PARAMETERS, INPUTS, SHAPES, SIZES) with the interface of a
    per-weight one: the parameters' entries as one flat vector (named ``W[0, 2]``), the inputs'
    entries as another, at concrete sizes (``sizes``: a mapping from a size's name to a whole
    number >= 1; the others get :data:`DEFAULT_SIZES`). Points drawn for a check have each square
    matrix shifted by a multiple of I large enough to make it diagonally dominant: invertible, with
    a positive determinant."""

    TARGETS = ()
    PROBABILITY_TARGETS = False

    def __init__(self, module, sizes=None):
        given = sizes_given(sizes, module.SIZES, "this function")
        defaults = iter(DEFAULT_SIZES + tuple(range(DEFAULT_SIZES[-1] + 1, DEFAULT_SIZES[-1] + 1 + len(module.SIZES))))
        self.sizes = {name: int(given[name]) if name in given else next(defaults) for name in module.SIZES}
        self.module = module
        self.shapes = {name: tuple(self.sizes.get(size, size) for size in module.SHAPES[name]) for name in module.SHAPES}
        count = sum(int(np.prod(shape)) for shape in self.shapes.values())
        if count > MAX_CHECKED:
            raise InputError(f"a check holds every parameter and input by name, at most {MAX_CHECKED:,}, and these sizes "
                             f"give {count:,}: check smaller sizes")
        self.PARAMETERS = _entry_names(module.PARAMETERS, [self.shapes[name] for name in module.PARAMETERS])
        self.INPUTS = _entry_names(module.INPUTS, [self.shapes[name] for name in module.INPUTS])

    def _arrays(self, flat, names) -> list:
        return _split(flat, [self.shapes[name] for name in names])

    def conditioned(self, params, inputs, high: float):
        """``params`` and ``inputs`` (flat, entries at most ``high`` in size) with each square
        matrix made diagonally dominant, its diagonal raised by ``2·high·size``."""
        out = []
        for flat, names in ((params, self.module.PARAMETERS), (inputs, self.module.INPUTS)):
            arrays = self._arrays(flat, names)
            for name, array in zip(names, arrays):
                if array.ndim == 2 and array.shape[0] == array.shape[1]:
                    array += 2 * high * array.shape[0] * np.eye(array.shape[0])
            out.append(np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0))
        return tuple(out)

    def loss(self, theta, inputs, targets=None):
        return self.module.loss(self._arrays(theta, self.module.PARAMETERS), self._arrays(inputs, self.module.INPUTS))

    def loss_and_gradients(self, theta, inputs, targets=None):
        J, gradients = self.module.loss_and_gradients(self._arrays(theta, self.module.PARAMETERS),
                                                      self._arrays(inputs, self.module.INPUTS))
        return J, np.concatenate([np.ravel(g) for g in gradients])


# Where random points are drawn: first (−1, 1), then positive ranges for logarithms and roots.
RANGES = ((-1.0, 1.0), (0.05, 0.95), (0.1, 3.0))
DRAWS_PER_RANGE = 4
EVALUATION_ERRORS = (ValueError, ZeroDivisionError, OverflowError, FloatingPointError)


def random_values(module, seed: int = 0, low: float = -1.0, high: float = 1.0):
    """Parameters and inputs in (low, high), (−1, 1) by default, targets in (0.05, 0.95) (a
    probability vector when the loss needs one), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    params = rng.uniform(low, high, len(module.PARAMETERS))
    inputs = rng.uniform(low, high, len(module.INPUTS))
    targets = rng.uniform(0.05, 0.95, len(module.TARGETS))
    if getattr(module, "PROBABILITY_TARGETS", False):
        targets /= targets.sum()
    if hasattr(module, "conditioned"):
        params, inputs = module.conditioned(params, inputs, max(abs(low), abs(high)))
    return params, inputs, targets


def _evaluate(module, params, inputs, targets):
    """The loss and gradient at a point, or None where either is undefined or not finite."""
    try:
        with np.errstate(all="ignore"):  # what matters is a finite result
            J, gradient = module.loss_and_gradients(params, inputs, targets)
        J, gradient = float(J), np.asarray(gradient, dtype=float)
    except EVALUATION_ERRORS:
        return None
    return (J, gradient) if math.isfinite(J) and np.all(np.isfinite(gradient)) else None


def check_point(module, params=None, inputs=None, targets=None, seed: int = 0):
    """The point to check at: the values given, the missing ones drawn with ``seed`` from
    :data:`RANGES` in turn until the loss and its gradient are defined and finite there."""
    given = [None if v is None else given_array(v, names, group, rows=group != "params") for v, names, group in
             ((params, module.PARAMETERS, "params"), (inputs, module.INPUTS, "inputs"), (targets, module.TARGETS, "targets"))]
    if given[2] is not None and getattr(module, "PROBABILITY_TARGETS", False):
        rows = np.atleast_2d(given[2])
        for i, row in enumerate(rows):
            problem = probability_problem(module.TARGETS, row)
            if problem:
                raise InputError(problem.replace("; ", f"; row {i}: ", 1) if len(rows) > 1 else problem)
    drawing = any(g is None for g in given)
    attempt = 0
    for low, high in RANGES if drawing else RANGES[:1]:
        for _ in range(DRAWS_PER_RANGE if drawing else 1):
            drawn = random_values(module, seed + attempt * 7919, low, high)
            attempt += 1
            point = tuple(d if g is None else g for g, d in zip(given, drawn))
            if _evaluate(module, *point) is not None:
                return point
    what = function_name(module)
    if not drawing:
        raise UndefinedPoint(f"{what} or its gradient is not defined (or not finite) at the given values; choose others")
    raise InputError(f"no random point inside the function's domain was found ({what} or its gradient was undefined "
                     "or not finite at every one tried); give the values to check at (--values)")


def _sample_names(names, values) -> list[str]:
    """``names`` for one sample's values; for a batch, each with its row (``x1[0]``, ``x2[0]``, ``x1[1]`` …)."""
    return list(names) if np.ndim(values) < 2 else [f"{name}[{row}]" for row in range(len(values)) for name in names]


def given_array(value, names, group: str = "values", rows: bool = True) -> np.ndarray:
    """``value``, one sample's values of ``names`` or (with ``rows``) a batch of rows of them, as a float array.
    Each entry is held to the rule of :func:`~symbackprop.values.number`, the first that breaks
    it named, and the shape must fit ``names``.

    >>> given_array([[0.5, 1.0], [0.5, np.nan]], ["x1", "x2"])
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: the value of x2 (row 1, counted from 0 as NumPy does) must be a finite number, got nan
    >>> given_array([0.5], ["x1", "x2"], "inputs")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: inputs must hold 2 values (x1, x2), or rows of them; got 1
    """
    # a list may hold anything: every entry by the rule (True is not 1.0, "0.5" is not a number)
    array = value.astype(float) if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" else np.array(value, dtype=object)
    width = len(names)
    if not (array.shape == (width,) or (rows and array.ndim == 2 and array.shape[1] == width)):
        got = array.shape[0] if array.ndim == 1 else "one number" if array.ndim == 0 else "an array of shape " + "×".join(
            map(str, array.shape))
        raise InputError(f"{group} must hold {width} values ({naming.listing(list(names))})"
                         f"{', or rows of them' if rows else ''}; got {got}")

    def name(index) -> str:
        index = np.unravel_index(index, array.shape)
        return names[index[-1]] if len(index) < 2 else f"{names[index[-1]]} (row {index[0]}, counted from 0 as NumPy does)"

    if array.dtype == object:
        return np.array([number(v, name(i)) for i, v in enumerate(array.ravel().tolist())], dtype=float).reshape(array.shape)
    if not np.isfinite(array).all():
        first = int(np.flatnonzero(~np.isfinite(array))[0])
        number(array.flat[first], name(first))
    return array


class UndefinedPoint(InputError):
    """The function checked, or its gradient, has no finite value at the point given."""


def function_name(module) -> str:
    """How a report names what is checked: the loss of a network, the output (f) of an expression.

    >>> import sympy as sp
    >>> from symbackprop import mlp
    >>> function_name(as_module(sp.Symbol("x") ** 2)), function_name(as_module(mlp([1, 1])))
    ('f', 'the loss')
    """
    return "the loss" if len(module.TARGETS) else getattr(module, "OUTPUTS", ("f",))[0]


EPS_RANGE = (1e-12, 1.0)  # the finite-difference step, relative to max(1, |parameter|): below, rounding is all it measures
MAX_DIRECTIONS = 10_000  # random directions one check may take


def _tolerance(name: str, value, bounds: tuple[float, float] = (0.0, math.inf)) -> float:
    """``value`` as a finite float within ``bounds`` (>= 0 by default)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and bounds[0] <= number <= bounds[1]):
        allowed = "a finite number >= 0" if bounds[1] == math.inf else f"a number from {bounds[0]:g} to {bounds[1]:g}"
        raise InputError(f"{name} must be {allowed}, got {value!r}")
    return number


def _unit(size: int, index: int) -> np.ndarray:
    v = np.zeros(size)
    v[index] = 1.0
    return v


def gradcheck(target, params=None, inputs=None, targets=None, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, directions: int | None = None, seed: int = 0, sizes=None) -> GradcheckReport:
    """Check ``target``'s gradients (a derivation, network, expression or generated module) at
    the given values, or at random ones drawn with ``seed`` inside the function's domain. A
    function of matrices is checked at concrete ``sizes`` (``{"n": 3}``; the others small
    defaults, :data:`DEFAULT_SIZES`), its values given as flat vectors of entries.

    A row whose analytic and numeric gradients are both 0 (a dead ReLU unit) has the status
    ``zero``: it checks nothing, and the report says so.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> report = gradcheck(sp.log(x) * y + sp.sqrt(y))  # drawn where the logarithm is defined
    >>> report.passed, all(value > 0 for _, values in report.point for _, value in values)
    (True, True)
    """
    eps = _tolerance("eps", eps, EPS_RANGE)
    atol, rtol = _tolerance("atol", atol), _tolerance("rtol", rtol)
    if directions is not None and (isinstance(directions, bool) or not isinstance(directions, (int, np.integer))
                                   or not 1 <= directions <= MAX_DIRECTIONS):
        raise InputError(f"directions must be a whole number from 1 to {MAX_DIRECTIONS:,} (or None for every parameter), "
                         f"got {directions!r}")
    module = as_module(target, sizes)
    params, inputs, targets = check_point(module, params, inputs, targets, seed)

    def loss(theta):
        try:
            value = float(module.loss(theta, inputs, targets))
        except EVALUATION_ERRORS as error:
            raise InputError(f"{function_name(module)} is not defined a step of {eps:g} away from the point checked ({error}); "
                             "choose other values or a smaller eps") from None
        return value

    analytic = _evaluate(module, params, inputs, targets)[1]
    if directions is None:
        probes = ((name, _unit(len(params), i)) for i, name in enumerate(module.PARAMETERS))
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
        step = eps * max(1.0, abs(float(params @ v)))  # relative to the parameter's size: 1e10 ± 1e-6 is 1e10
        numeric = (loss(params + step * v) - loss(params - step * v)) / (2 * step)
        expected = float(analytic @ v)
        error = abs(expected - numeric)
        status = "pass" if error <= atol + rtol * abs(numeric) else "fail"
        if status == "fail":
            # On a smooth function the one-sided slopes differ by about step·f'', so the gap
            # shrinks with the step; where the gradient jumps (ReLU at 0) it does not.
            big, small = slope_gap(v, step), slope_gap(v, step / 4)
            if small > atol + rtol * abs(numeric) and small > big / 2:
                status = "kink"
        elif expected == 0 and numeric == 0:
            status = "zero"
        rows.append(Row(name, expected, numeric, error, error / max(abs(numeric), 1e-300), status))
    point = tuple((group, tuple(zip(_sample_names(names, values), map(float, np.ravel(values))))) for group, names, values in
                  (("inputs", module.INPUTS, inputs), ("targets", module.TARGETS, targets),
                   ("parameters", module.PARAMETERS, params)) if len(names))
    return GradcheckReport(tuple(rows), eps, atol, rtol, point)
