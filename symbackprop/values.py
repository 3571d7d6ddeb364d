"""Numbers given by a person: one rule for every command and function that takes them.

A value is a finite real number that float64 holds: an int, a float, a NumPy or SymPy real
number, a Fraction or a Decimal. Booleans, text, None, NaN, infinities, numbers beyond float64's
range and nonzero numbers it would round to 0 are refused, each refusal naming the variable. A
values file is a JSON object of such numbers, each name once (:func:`read_values`).

>>> number(0.5, "x1"), number(0.1, "x1", exact=True)
(0.5, 1/10)
>>> number("0.5", "x1")
Traceback (most recent call last):
...
symbackprop.errors.InputError: the value of x1 must be a number, got text: '0.5'
"""

from __future__ import annotations

import json
import math
import numbers
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

import numpy as np
import sympy as sp

from . import naming
from .errors import InputError

LARGEST = sys.float_info.max  # the largest number float64 holds (1.8e308)
SMALLEST = 5e-324  # and the smallest nonzero one: a smaller number reads as 0
MAX_FILE_BYTES = 16 * 2**20  # a values file larger than this is refused before it is read whole
MAX_DIGITS = 100  # significant digits of one value (float64 holds 17)


def sizes_given(sizes, known, where: str) -> dict[str, int]:
    """The sizes a person gave (a mapping from a size symbol or its name to a whole number >= 1),
    by name; a name not among ``known`` (the sizes of ``where``) or any other value is refused.

    >>> sizes_given({sp.Symbol("n"): 3}, ["m", "n"], "this function")
    {'n': 3}
    >>> sizes_given({"k": 2}, ["m", "n"], "this function")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: unknown size k: the sizes of this function are m, n
    """
    given = {}
    for key, value in (sizes or {}).items():
        name = key.name if isinstance(key, sp.Symbol) else str(key)
        if name not in known:
            raise InputError(f"unknown size {name}: the sizes of {where} are {naming.listing(list(known)) or 'none'}")
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise InputError(f"size {name} must be a whole number >= 1, got {value!r}")
        given[name] = int(value)
    return given


def number(value, name: str, exact: bool = False):
    """``value`` as a float, or with ``exact`` as a SymPy rational read from its decimal digits
    (0.1 is 1/10, not the binary fraction nearest to it); anything but a finite real number
    within float64's range is refused, naming ``name``.

    >>> number(float("nan"), "w3")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: the value of w3 must be a finite number, got nan
    >>> number(10**400, "x1")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: the value of x1 is beyond float64's range (|x| <= 1.8e308), got 1e+400
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)) or (
            isinstance(value, sp.Basic) and not value.is_Number):
        raise InputError(f"the value of {name} must be a number, got {_kind(value)}")
    if isinstance(value, numbers.Integral) and abs(int(value)) > LARGEST:
        raise InputError(f"the value of {name} is beyond float64's range (|x| <= 1.8e308), got {_shown(value)}")
    approximate = float(value)
    if math.isnan(approximate) or (math.isinf(approximate) and not _finite(value)):
        raise InputError(f"the value of {name} must be a finite number, got {_shown(value)}")
    if math.isinf(approximate):
        raise InputError(f"the value of {name} is beyond float64's range (|x| <= 1.8e308), got {_shown(value)}")
    if approximate == 0 and value != 0 and not (isinstance(value, sp.Basic) and value.is_zero):  # SymPy's Float(0.0) != 0
        raise InputError(f"the value of {name} is too small for float64 (it would read as 0), got {_shown(value)}")
    if isinstance(value, Decimal) and value.is_finite() and len(value.as_tuple().digits) > MAX_DIGITS:
        raise InputError(f"the value of {name} has {len(value.as_tuple().digits)} digits; at most {MAX_DIGITS} are read")
    if not exact:
        return approximate
    if isinstance(value, numbers.Integral):
        return sp.Integer(int(value))
    if isinstance(value, sp.Rational):
        return value
    if isinstance(value, (Decimal, numbers.Rational)):
        return sp.Rational(*value.as_integer_ratio())
    return sp.Rational(repr(approximate))  # a float: its shortest decimal


def _finite(value) -> bool:
    """Whether ``value`` itself is finite (a huge Decimal or SymPy number is, though float() of it is not)."""
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, sp.Basic):
        return bool(value.is_finite)
    return False


def _shown(value) -> str:
    """A number as a short text: huge integers in scientific notation, never thousands of digits."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        digits = len(str(abs(int(value))))
        return str(int(value)) if digits <= 20 else f"{'-' if value < 0 else ''}1e+{digits - 1}"
    return naming.clipped(value if not isinstance(value, Decimal) else f"{value:.6g}", 40)


def _kind(value) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"text: {naming.clipped(repr(value), 40)}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, (list, tuple, dict)):
        return f"a {'list' if not isinstance(value, dict) else 'JSON object'}"
    if isinstance(value, complex) or (isinstance(value, sp.Basic) and value.is_number):
        return f"a number that is not real: {naming.clipped(value, 40)}"
    return f"{type(value).__name__} {naming.clipped(repr(value), 40)}"


def same_name(name: str) -> str:
    """``name`` as formulas read it: in Unicode's NFKC form, as Python reads identifiers (the
    micro sign µ is the Greek μ, ﬁ is fi), so a values file matches the formula it goes with.

    >>> same_name("\u00b5") == same_name("\u03bc") == "\u03bc"
    True
    """
    return unicodedata.normalize("NFKC", name)


class _RepeatedName(ValueError):
    pass


def _unique_names(pairs) -> dict:
    """A JSON object's pairs as a dict, names as formulas read them; a name given twice is refused
    (JSON would keep the last)."""
    values = {}
    for key, value in pairs:
        key = same_name(key)
        if key in values:
            raise _RepeatedName(key)
        values[key] = value
    return values


def read_values(path: str | Path, matrices: bool = False) -> dict[str, Decimal | list]:
    """The values file at ``path``: a JSON object (UTF-8, with or without a byte-order mark) of
    names and numbers, each name once and each number one :func:`number` accepts. Numbers keep
    the digits written (as Decimals), so that exact walkthroughs read 0.1 as 1/10. With
    ``matrices``, a value may also be a matrix: a list of rows of numbers (a list of numbers for
    a column or a row).

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "values.json"
    >>> _ = path.write_text('{"x1": 0.5, "y1": true}')
    >>> read_values(path)
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: the value of y1 must be a number, got a boolean (true)
    """
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise InputError(f"cannot read the values file {path}: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"the values file {path} is larger than {MAX_FILE_BYTES // 2**20} MB; a values file holds names and numbers")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"the values file {path} is not UTF-8 text (byte {error.start})") from None
    try:
        values = json.loads(text, object_pairs_hook=_unique_names, parse_float=Decimal, parse_int=Decimal)
    except _RepeatedName as error:
        raise InputError(f"the values file {path} gives {error.args[0]!r} more than once") from None
    except json.JSONDecodeError as error:
        raise InputError(f"the values file {path} is not valid JSON: {error.msg} at line {error.lineno}") from None
    except RecursionError:
        raise InputError(f"the values file {path} is nested too deeply; it holds names and numbers") from None
    if not isinstance(values, dict):
        raise InputError(f"the values file {path} must hold a JSON object of names and numbers, like {{\"x1\": 0.5}}")
    for name, value in values.items():
        if matrices and isinstance(value, list):
            matrix(value, name)
        else:
            number(value, name)
    return values


def matrix(value, name: str) -> np.ndarray:
    """``value`` as a float64 array: an array of numbers, or a list of rows of numbers (a list of
    numbers for a column or a row: one dimension), each entry one :func:`number` accepts.

    >>> matrix([[1, 2], [3, 4.5]], "X").tolist()
    [[1.0, 2.0], [3.0, 4.5]]
    >>> matrix([[1, True]], "X")
    Traceback (most recent call last):
    ...
    symbackprop.errors.InputError: the value of X[0, 1] must be a number, got a boolean (true)
    """
    if isinstance(value, sp.MatrixBase):
        value = value.tolist()
    elif isinstance(value, np.ndarray):
        value = np.asarray(value)  # an np.matrix as an array
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu" and value.ndim in (1, 2):
        bad = ~np.isfinite(value) if value.dtype.kind == "f" else np.zeros(value.shape, bool)
        if value.dtype.kind == "f" and value.dtype.itemsize > 8:  # long double: beyond float64's range too
            bad |= np.abs(value) > LARGEST
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            number(value[index].item(), f"{name}[{', '.join(map(str, index))}]")  # says what is wrong with it
        return value.astype(float)
    rows = list(value) if isinstance(value, (list, tuple, np.ndarray)) else None
    flat = rows is not None and not any(isinstance(row, (list, tuple, np.ndarray)) for row in rows)
    table = [rows] if flat else rows
    if not rows or any(not isinstance(row, (list, tuple, np.ndarray)) or not len(row) or len(row) != len(table[0]) for row in table):
        raise InputError(f"the value of {name} must be a matrix: rows of numbers, each row as long as the others")
    entries = [[float(number(entry, f"{name}[{i}, {j}]")) for j, entry in enumerate(row)] for i, row in enumerate(table)]
    return np.array(entries[0] if flat else entries)
