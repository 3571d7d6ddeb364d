"""Values given by a person: one rule (finite real numbers float64 holds) in every command and function."""

import json
import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import cli, values
from symbackprop.errors import InputError

LINEAR = {"x1": 0.5, "y1": 1, "w1": 0.1, "b1": 0}  # the 1-1 network's variables

# A JSON text for w1's value, and what the refusal says (after "the value of w1 ").
REFUSED = [
    ("NaN", "must be a finite number, got nan"),
    ("Infinity", "must be a finite number, got inf"),
    ("-Infinity", "must be a finite number, got -inf"),
    ("1e400", r"is beyond float64's range .*got 1e\+400"),
    ("-1E+999999999", r"is beyond float64's range .*got -1e\+999999999"),
    ("9" * 401, r"is beyond float64's range .*got 1.00000e\+401"),
    ("1e-400", r"is too small for float64 \(it would read as 0\), got 1e-400"),
    ("0." + "1" * 150, "has 150 digits; at most 100 are read"),
    ("true", r"must be a number, got a boolean \(true\)"),
    ("false", r"must be a number, got a boolean \(false\)"),
    ('"0.1"', "must be a number, got text: '0.1'"),
    ("null", r"must be a number, got nothing \(null\)"),
    ("[0.1]", "must be a number, got a list"),
    ('{"a": 1}', "must be a number, got a JSON object"),
]


@pytest.mark.parametrize("text, message", REFUSED)
def test_a_values_file_refuses_every_value_that_is_not_a_finite_float64_number_naming_it(tmp_path, text, message):
    path = tmp_path / "v.json"
    path.write_text('{"x1": 0.5, "w1": %s}' % text)
    with pytest.raises(InputError, match="^the value of w1 " + message):
        values.read_values(path)


@pytest.mark.parametrize("command", ["walkthrough", "check", "graph"])
@pytest.mark.parametrize("text, message", [REFUSED[0], REFUSED[3], REFUSED[8], REFUSED[10], REFUSED[11]])
def test_every_command_reads_values_by_the_same_rule(command, text, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "v.json").write_text(json.dumps(LINEAR).replace('"w1": 0.1', '"w1": ' + text))
    code = cli.main([command, "--layers", "1,1", "--values", "v.json"] + (["-o", "g.svg"] if command == "graph" else []))
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert re.match("symbackprop: error: the value of w1 " + message, err)


def test_the_file_keeps_the_digits_written_so_exact_walkthroughs_read_decimals_exactly(tmp_path):
    path = tmp_path / "v.json"
    path.write_text(json.dumps(LINEAR))
    given = values.read_values(path)
    assert given["w1"] == Decimal("0.1") and values.number(given["w1"], "w1", exact=True) == sp.Rational(1, 10)
    w = sb.walkthrough(sb.backprop(sb.mlp([1, 1], activation="identity")), given, exact=True)
    assert w.loss == (sp.Rational(1, 20) - 1) ** 2 / 2  # (w1 x1 + b1 - y1)² / 2, exactly


def test_file_level_problems_are_one_line(tmp_path, monkeypatch):
    cases = {
        "dup.json": ('{"x1": 1, "x1": 2}', "gives 'x1' more than once"),
        "list.json": ("[1, 2]", "must hold a JSON object of names and numbers"),
        "broken.json": ('{"x1": ', "is not valid JSON"),
        "deep.json": ("[" * 100_000, "is nested too deeply"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError, match=message):
            values.read_values(tmp_path / name)
    (tmp_path / "latin1.json").write_bytes(b'{"x\xe9": 1}')
    with pytest.raises(InputError, match="is not UTF-8 text"):
        values.read_values(tmp_path / "latin1.json")
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(LINEAR).encode())
    assert values.read_values(tmp_path / "bom.json")["x1"] == Decimal("0.5")
    # A file larger than the limit is refused after reading just past it (/dev/zero never ends).
    monkeypatch.setattr(values, "MAX_FILE_BYTES", 1000)
    (tmp_path / "big.json").write_text(json.dumps({f"x{i}": i for i in range(500)}))
    with pytest.raises(InputError, match="is larger than"):
        values.read_values(tmp_path / "big.json")


@pytest.mark.parametrize("value", [0.5, 1, np.float32(0.5), np.int64(3), sp.Rational(1, 2), sp.Float(0.25),
                                   Fraction(1, 4), Decimal("0.125"), -7.5e300])
def test_every_kind_of_real_number_is_accepted(value):
    assert values.number(value, "x1") == float(value)
    exact = values.number(value, "x1", exact=True)
    assert isinstance(exact, sp.Rational) and float(exact) == float(value)


@pytest.mark.parametrize("value", [True, np.bool_(True), "0.5", None, 1j, sp.I, sp.Symbol("x"), [1.0], float("nan"),
                                   np.float64("inf"), 10**400, Decimal("NaN"), sp.oo])
def test_the_api_refuses_the_same_values_as_the_files(value):
    with pytest.raises(InputError, match="^the value of x1 "):
        values.number(value, "x1")
    with pytest.raises(InputError, match="^the value of x1 "):
        sb.walkthrough(sb.backprop(sb.mlp([1, 1])), LINEAR | {"x1": value})


@pytest.mark.parametrize("given, message", [
    ({"params": [0.1, np.inf]}, "the value of b1 must be a finite number, got inf"),
    ({"inputs": [np.nan]}, "the value of x1 must be a finite number, got nan"),
    ({"inputs": ["0.5"]}, "the value of x1 must be a number, got text: '0.5'"),
    ({"targets": [True]}, r"the value of y1 must be a number, got a boolean \(true\)"),
    ({"inputs": [[0.5], [np.nan]], "targets": [[1.0], [0.0]]}, r"the value of x1 \(row 1, counted from 0 as NumPy does\) must be a finite number, got nan"),
])
def test_gradcheck_holds_its_given_values_to_the_rule(given, message):
    with pytest.raises(InputError, match=message):
        sb.gradcheck(sb.mlp([1, 1]), **given)


MICRO, MU = "\u00b5", "\u03bc"  # the micro sign many keyboards type, and the Greek letter Python reads it as


def test_names_are_read_as_formulas_read_them(tmp_path):
    (tmp_path / "v.json").write_text('{"%s": 0.5, "y": 0.25}' % MICRO, encoding="utf-8")
    assert values.read_values(tmp_path / "v.json") == {MU: Decimal("0.5"), "y": Decimal("0.25")}
    (tmp_path / "twice.json").write_text('{"%s": 0.5, "%s": 0.25}' % (MICRO, MU), encoding="utf-8")
    with pytest.raises(InputError, match=f"gives '{MU}' more than once"):
        values.read_values(tmp_path / "twice.json")
    d = sb.backprop(sp.Symbol(MICRO) * sp.Symbol("y"))  # a symbol made in Python keeps the name it was given
    assert sb.walkthrough(d, {MU: 0.5, "y": 0.25}).loss == 0.125


@pytest.mark.parametrize("command", ["walkthrough", "check", "graph"])
def test_every_command_matches_a_values_file_to_the_formula_by_the_same_names(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "v.json").write_text('{"%s": 0.5, "y": 0.25}' % MICRO, encoding="utf-8")
    assert cli.main([command, "--expr", f"{MICRO}*sigmoid(y)", "--values", "v.json"]) == 0, capsys.readouterr().err
    (tmp_path / "extra.json").write_text('{"%s": 0.5, "y": 0.25, "zz": 1}' % MICRO, encoding="utf-8")
    assert cli.main([command, "--expr", f"{MICRO}*sigmoid(y)", "--values", "extra.json"]) == 2
    assert "'zz' is not a variable of" in capsys.readouterr().err


def test_a_matrix_form_check_refuses_names_it_does_not_have(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "v.json").write_text('{"zz": 1}')
    assert cli.main(["check", "--layers", "2,1", "--form", "matrix", "--values", "v.json"]) == 2
    assert capsys.readouterr().err.startswith("symbackprop: error: 'zz' is not a variable of the 2-1 network in matrix form")
