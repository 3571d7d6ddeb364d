"""Reading formulas without eval: what is allowed, and a hostile corpus that must run nothing."""

import random
import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb
from symbackprop import naming, parse
from symbackprop.errors import InputError
from symbackprop.evaluate import evaluate, probe_sizes, random_point
from symbackprop.parse import ParseError, parse_expr
from symbackprop.text import TextPrinter

x, y, z = sp.symbols("x y z")


@pytest.mark.parametrize("text, expected", [
    ("x*y + 2", x * y + 2),
    ("-x**2 / (1 + y)", -x**2 / (1 + y)),
    ("2^x + 1", 2**x + 1),  # ^ is a power, with the precedence of **
    ("x + 2^3*y", x + 8 * y),
    ("σ(z)*(1 - sigmoid(z))", sb.sigmoid(z) * (1 - sb.sigmoid(z))),
    ("exp(-x) + ln(y) + log(y) + sqrt(x) + abs(y) + tanh(z)", sp.exp(-x) + 2 * sp.log(y) + sp.sqrt(x) + sp.Abs(y) + sp.tanh(z)),
    ("relu(x) + softplus(y) + leaky_relu(z)", sb.relu(x) + sb.softplus(y) + sb.leaky_relu(z)),
    ("0.5*x + 1e-3", sp.Rational(1, 2) * x + sp.Rational(1, 1000)),
    ("pi*E", sp.pi * sp.E),
    ("ŷ - y", sp.Symbol("ŷ") - y),
    ("e^x", sp.exp(x)),  # e is Euler's number, as E is
    ("exp(1) - e", sp.S.Zero),
    ("abs(x)*sign(y) + atan2(y, x) + max(x, y, 1) + min(x, 2)", sp.Abs(x) * sp.sign(y) + sp.atan2(y, x) + sp.Max(x, y, 1) + sp.Min(x, 2)),
    ("asin(x) + arcsin(y) + acosh(z) + erf(x) + erfc(y) + sinc(z)", sp.asin(x) + sp.asin(y) + sp.acosh(z) + sp.erf(x) + sp.erfc(y) + sp.sinc(z)),
])
def test_allowed_formulas(text, expected):
    assert parse_expr(text) == expected


def test_known_symbols_only_when_given():
    assert parse_expr("a2*w", {"a2": sp.Symbol("a2"), "w": sp.Symbol("w")}) == sp.Symbol("a2") * sp.Symbol("w")
    with pytest.raises(ParseError, match="unknown symbol 'q'; the symbols here are: a2, w"):
        parse_expr("q*w", {"a2": sp.Symbol("a2"), "w": sp.Symbol("w")})


def test_e_is_a_variable_only_where_declared():
    e = sp.Symbol("e")
    assert parse_expr("e^x", variables=["e"]) == e**x
    assert parse_expr("e^x", variables="e") == e**x  # one name
    assert parse_expr("e*pi", variables=["e", "pi"]) == e * sp.Symbol("pi")
    assert parse_expr("e^x", {"e": e, "x": x}) == e**x  # a mapping that holds e
    assert parse_expr("e^x", {"x": x}) == sp.exp(x)
    with pytest.raises(ParseError, match="unknown symbol 'e'"):
        parse_expr("e^x", {"x": x}, variables=["e"])  # declared a variable, but not one of these symbols


def test_verify_reads_e_as_euler_number():
    x_ = sp.Symbol("x")
    assert sb.verify("e^x", sp.exp(x_), wrt=x_).equal
    assert not sb.verify("x*e^(x - 1)", sp.exp(x_), wrt=x_).equal


@pytest.mark.parametrize("text, words", [
    ("1/0", "1/0"), ("x/0", "1/0"), ("log(0)", "log(0)"), ("0**-1 + x", "1/0"), ("0/0*x", "nan"), ("x*(1/0 - 1/0)", "nan"),
    ("sqrt(-1)*x", "imaginary"), ("log(-2)*x", "imaginary"),
])
def test_formulas_with_no_value_are_refused_in_one_line(text, words):
    with pytest.raises(ParseError, match=f"^the formula is undefined: it contains .*{re.escape(words)}") as error:
        parse_expr(text)
    assert "\n" not in str(error.value)


def test_functions_need_their_arguments():
    for text in ("max()", "sin()", "atan2(x)", "leaky_relu(x, 1, 2)"):
        with pytest.raises(ParseError, match=r"\(\) (needs an argument|was given \d arguments)"):
            parse_expr(text)


SENTINEL = "symbackprop_sentinel_file"
HOSTILE = [
    f"__import__('pathlib').Path('{SENTINEL}').touch()",
    f"open('{SENTINEL}', 'w')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "globals()",
    "eval('1')",
    "exec('import os')",
    "(lambda: __import__('os'))()",
    f"[__import__('os').system('touch {SENTINEL}') for _ in (1,)]",
    "{k: 1 for k in (1,)}",
    "(x := 1)",
    "f'{x}'",
    "'string'",
    "x if y else z",
    "x[0]",
    "x and y",
    "x < y",
    "sin(x, key=1)",
    "sin(*[x])",
    "__builtins__",
    "2**2**2**2**2",
    "9" * 80,
    "1e999",
    "x" + "+x" * 1500,
    "(" * 300 + "x" + ")" * 300,
    "exp",
    "x y",
    "2x",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_formulas_are_refused_and_run_nothing(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParseError):
        parse_expr(text)
    assert not (tmp_path / SENTINEL).exists()


def test_hostile_formulas_on_the_command_line_exit_2_and_run_nothing(tmp_path):
    for text in HOSTILE[:9]:
        run = subprocess.run([sys.executable, "-m", "symbackprop", "derive", "--expr", text], cwd=tmp_path,
                             capture_output=True, text=True, check=False)
        assert run.returncode == 2, text
        assert run.stderr.count("\n") == 1 and run.stderr.startswith("symbackprop: error: ") and "Traceback" not in run.stderr
    assert not (tmp_path / SENTINEL).exists()


@pytest.mark.parametrize("typed, meant", [
    ("x·y", "x*y"), ("2×x", "2*x"), ("x − y", "x - y"), ("x₁^2", "x1**2"),
    ("Abs(x)", "abs(x)"), ("Max(x, y) - Min(x, y)", "max(x, y) - min(x, y)"), ("sign(x)", "sign(x)"),
])
def test_printed_spellings_are_read_back(typed, meant):
    assert parse_expr(typed) == parse_expr(meant)


def test_the_functions_sympy_prints_are_read_back():
    x = sp.Symbol("x")
    for expr in [sp.Abs(x), sp.Max(x, 2 * x), sp.Min(x, 1), sp.Heaviside(x), sp.Heaviside(x, 0), sp.sign(x)]:
        assert parse_expr(str(expr)) == expr
    derivative = sb.backprop(sp.sinc(x)).gradient(x)  # printed sinc'(x)
    assert parse_expr(str(derivative)) == derivative
    assert parse_expr("sinc'(2*x)") == derivative.subs(x, 2 * x)


@pytest.mark.parametrize("text", ["acos(2)*x", "asin(2) + x", "x*acosh(0.5)", "atanh(2)*x", "I*x", "inf + x", "x*nan", "oo",
                                  "zoo*x", "x - infinity"])
def test_constants_that_are_not_finite_real_numbers_are_refused(text):
    with pytest.raises(ParseError, match="not a finite real number|imaginary unit"):
        parse_expr(text)
    assert parse_expr("acos(1/2)*x") == sp.pi / 3 * sp.Symbol("x")  # a real constant is kept


def test_the_unknown_symbol_error_lists_each_name_once_and_is_bounded():
    d = sb.backprop(sb.mlp([30, 20, 2]))
    names = naming.accepted_names(d.graph, [naming.delta(s.symbol) for s in d.graph.steps[:-1]])
    with pytest.raises(ParseError) as error:
        parse_expr("q*w1", names)
    message = str(error.value)
    assert "unknown symbol 'q'" in message and "\n" not in message and len(message) < 300
    listed = message.split(": ", 1)[1].split(", … (")[0].split(", ")
    assert len(listed) == len(set(listed))
    assert len(set(map(naming.ascii_text, listed))) == len(listed)  # also on an ASCII console


HUGE_NUMBER_FORMULAS = [
    "(1/2)**(-10**300)", "0.5**-1e300", "0.9**1e300", "(1/3)**(-10**7)", "(-1/2)**(-10**300)",
    "2**(2**(2**20))", "sqrt(2)**(10**300)*x", "(10**49)**20*(10**49)**20*(10**49)**20",
    "(10**49)**20/(10**49)**21", "-(10**49)**20*(10**49)**20", "2**(1/10**300)*x", "exp(10**40)*x",
    "sin(10**45)*x", "sqrt((10**49)**20)*x", "log((10**49)**20)*x", "(1/2)**3*x", "pi**2000*x",
]


def test_numbers_too_large_to_compute_are_refused_in_one_line_or_parsed_quickly():
    """Each formula either parses or is refused naming the problem, within seconds: a run that hangs fails."""
    script = ("import sys\nfrom symbackprop.parse import parse_expr, ParseError\n"
              "try:\n    parse_expr(sys.argv[1])\nexcept ParseError as e:\n    print(e)\n")
    for formula in HUGE_NUMBER_FORMULAS:
        try:
            done = subprocess.run([sys.executable, "-c", script, formula], check=False, capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"parsing {formula!r} did not finish")
        assert done.returncode == 0, done.stderr
        assert "\n" not in done.stdout.strip() and len(done.stdout) < 200


@pytest.mark.parametrize("formula", ["(1/2)**(-10**300)", "0.9**1e300", "2**(2**(2**20))", "sqrt(2)**(10**300)"])
def test_a_huge_power_is_refused_naming_the_power(formula):
    with pytest.raises(ParseError, match="power"):
        parse_expr(formula)


def test_a_product_of_huge_rationals_is_refused():
    with pytest.raises(ParseError, match="digits"):
        parse_expr("(10**49)**20*(10**49)**20*(10**49)**20")


def test_small_powers_still_compute_exactly():
    x = sp.Symbol("x")
    assert parse_expr("(1/2)**3*x") == x / 8
    assert parse_expr("0.5**-2*x") == 4 * x


def test_cli_refuses_a_huge_power_in_one_line():
    done = subprocess.run([sys.executable, "-m", "symbackprop", "derive", "--expr", "(1/2)**(-10**300)*x"],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "power" in done.stderr


@pytest.mark.parametrize("text", ["exp(exp(exp(exp(10))))*x", "x + exp(exp(10))", "x*exp(710)", "x*cosh(1000)", "x/exp(-1000)",
                                  "pi**1000*x", "x*sinh(-800)"])
def test_constants_beyond_float64_are_refused_naming_the_innermost(text):
    with pytest.raises(ParseError, match=r"beyond float64's range") as error:
        parse_expr(text)
    part = str(error.value).split("computed: ")[1].split(" is beyond")[0]
    assert abs(sp.sympify(part).evalf(15)) > 1.7e308 if "exp(exp(exp" not in text else part == "exp(exp(10))"
    assert parse_expr("x*exp(709)") == x * sp.exp(709)  # within range: kept


def test_nesting_is_bounded_in_the_parser_and_the_api():
    x = sp.Symbol("x")
    deep = x
    for _ in range(parse.MAX_DEPTH - 1):
        deep = sp.sin(deep)
    assert parse.nesting(deep) == parse.MAX_DEPTH
    assert sb.gradcheck(sb.backprop(deep)).passed  # the deepest accepted formula derives and checks
    inner = deep.args[0].args[0]  # its derivative, a product of cosines, is two levels deeper
    assert sb.verify(sp.diff(inner, x), inner, wrt=x)
    for formula in ["x**" * (parse.MAX_DEPTH + 1) + "x", "sin(" * 150 + "x" + ")" * 150]:
        with pytest.raises(ParseError, match=f"nested .* levels deep; at most {parse.MAX_DEPTH}"):
            parse_expr(formula)
    for call in (lambda: sb.backprop(sp.sin(deep)), lambda: sb.verify(sp.sin(deep), x), lambda: sb.verify(x, sp.sin(deep), wrt=x),
                 lambda: sb.picture(sp.sin(deep), {"x": 0.5}), lambda: sb.gradcheck(sp.sin(deep))):
        with pytest.raises(InputError, match=f"levels deep; at most {parse.MAX_DEPTH}"):
            call()


@pytest.mark.parametrize("text, words", [
    ("x*1e-400 + y", "the number 1e-400 is too small for float64 (it would read as 0)"),
    ("x*10**-400 + y", "the number 1.00e-400 is too small for float64 (it would read as 0)"),
    ("x*10**400", "the number 1.00e+400 is beyond float64's range"),
    ("x + 9**300*9**300", "the number 3.51e+572 is beyond float64's range"),
    ("x**(10**400)", "the number 1.00e+400 is beyond float64's range"),
])
def test_numbers_float64_cannot_hold_are_refused_not_read_as_0_or_inf(text, words):
    with pytest.raises(ParseError, match=re.escape(words)):
        parse_expr(text)
    assert parse_expr("x*1e-300 + y*0e5") == x * sp.Rational(1, 10**300)  # held by float64: kept, exactly


@pytest.mark.parametrize("text", ["cos(pi)**(-y)", "(-2)**x", "x*(-1/2)**(x*y)"])
def test_a_negative_number_to_a_variable_power_is_refused(text):
    """(−1)**y is complex but at whole y, and its derivative holds log(−1) = iπ."""
    with pytest.raises(ParseError, match="raises a negative number to a variable power"):
        parse_expr(text)
    with pytest.raises(InputError, match="raises a negative number to a variable power"):
        sb.backprop(sp.Integer(-2) ** sp.Symbol("x"))
    assert parse_expr("2**x*(-x)**2") == 2 ** x * x**2  # a positive base, or a variable one, is fine


# ---------------------------------------------------------------- matrix notation -------------

n_, m_, k_ = (parse.size_symbol(s) for s in "nmk")
X = sp.MatrixSymbol("X", n_, m_)
W = sp.MatrixSymbol("W", m_, k_)
Y = sp.MatrixSymbol("Y", n_, k_)
SQ = sp.MatrixSymbol("S", n_, n_)
a_, b_, v_ = (sp.MatrixSymbol(s, n_, 1) for s in "abv")
SHAPES = {"X": ("n", "m"), "W": ("m", "k"), "Y": "n,k", "S": ("n", "n"), "a": "n", "b": ("n", 1), "v": ("n", 1)}


def matrix(text):
    return parse_expr(text, shapes=SHAPES)


@pytest.mark.parametrize("text", [
    "2*X^T*(X*W - Y)", "2*X.T@(X@W - Y)", "2 Xᵀ (X W − Y)", "2*X'*(X*W - Y)", "2X'(X W - Y)", "2·Xᵀ·(X·W - Y)",
])
def test_a_least_squares_gradient_reads_the_same_in_every_notation(text):
    assert matrix(text) == 2 * X.T * (X * W - Y)


@pytest.mark.parametrize("text, expected", [
    ("inv(S)", sp.Inverse(SQ)), ("S^-1", sp.Inverse(SQ)), ("S⁻¹", sp.Inverse(SQ)), ("S**-1", sp.Inverse(SQ)),
    ("S^-T", sp.Inverse(SQ.T)), ("S⁻ᵀ", sp.Inverse(SQ.T)), ("inv(S)^T", sp.Inverse(SQ.T)),
    ("S^2", sp.MatPow(SQ, 2)), ("S²", sp.MatPow(SQ, 2)), ("S^-2", sp.Inverse(sp.MatPow(SQ, 2))), ("S⁻²", sp.Inverse(sp.MatPow(SQ, 2))), ("S¹⁰", sp.MatPow(SQ, 10)),
    ("det(S)", sp.Determinant(SQ)), ("logdet(S)", sp.log(sp.Determinant(SQ))), ("log(det(S))", sp.log(sp.Determinant(SQ))),
    ("tr(S)", sp.Trace(SQ)), ("trace(X^T X)", sp.Trace(X.T * X)),
    ("X ⊙ X", sp.HadamardPower(X, 2)), ("(X W) .* Y", sp.HadamardProduct(X * W, Y)), ("X ∘ (2*X)", sp.HadamardProduct(X, 2 * X).doit()),
    ("X.^3", sp.HadamardPower(X, 3)), ("X (.) X", sp.HadamardPower(X, 2)),
    ("2^∘X", sp.HadamardPower(2, X)), ("2.^X", sp.HadamardPower(2, X)),
    ("X^∘3", sp.HadamardPower(X, 3)), ("X^{∘3}", sp.HadamardPower(X, 3)),
    ("ones(n, 1)", sp.OneMatrix(n_, 1)), ("eye(n)", sp.Identity(n_)), ("eye(3)", sp.Identity(3)),
    ("X + 𝟏", X + sp.OneMatrix(n_, m_)), ("𝟏ᵀ X W 𝟏", sp.OneMatrix(1, n_) * X * W * sp.OneMatrix(k_, 1)),
    ("S + 2*I", SQ + 2 * sp.Identity(n_)), ("I S", SQ), ("(I - S) a", (sp.Identity(n_) - SQ) * a_),
    ("tr(S)/n", sp.Trace(SQ) / n_),  # a size name in a formula is that size
    ("sum(X)", sp.OneMatrix(1, n_) * X * sp.OneMatrix(m_, 1)), ("norm(X W - Y)^2", sp.Trace((X * W - Y).T * (X * W - Y))), ("sum(X.^2)/2 + 1", sp.Trace(sp.OneMatrix(1, n_) * sp.HadamardPower(X, 2) * sp.OneMatrix(m_, 1)) / 2 + 1),
])
def test_matrix_notation(text, expected):
    assert matrix(text) == expected


@pytest.mark.parametrize("text, function, argument", [
    ("sigmoid(X W)", sb.sigmoid, X * W), ("σ(X W)", sb.sigmoid, X * W), ("relu(X)", sb.relu, X), ("exp(S)", sp.exp, SQ),
    ("σ'(X W)", lambda t: sp.diff(sb.sigmoid(t), t), X * W), ("tanh'(X)", lambda t: 1 - sp.tanh(t) ** 2, X),
])
def test_a_function_of_a_matrix_applies_to_each_entry(text, function, argument):
    t = sp.Symbol("t")
    elementwise = matrix(text)
    assert elementwise.expr == argument
    assert elementwise.function(t) == function(t)


@pytest.mark.parametrize("text, expected", [
    # a 1×1 product beside a scalar, or as the argument of a scalar function, is that scalar
    ("log(det(S))/2 + (v - a)^T*S^-1*(v - a)/2",
     sp.log(sp.det(SQ)) / 2 + sp.Trace((v_ - a_).T * SQ.I * (v_ - a_)) / 2),
    ("aᵀ S⁻¹ b + 1", sp.Trace(a_.T * SQ.I * b_) + 1),
    ("log(aᵀ S a)", sp.log(sp.Trace(a_.T * SQ * a_))),
    ("(aᵀ b)^2", sp.Trace(a_.T * b_) ** 2),
    ("2 (aᵀ v) a", 2 * sp.Trace(a_.T * v_) * a_),  # a 1×1 factor that does not fit a product is a scalar
    ("a / (aᵀ a)", a_ / sp.Trace(a_.T * a_)),
    ("a.T*S*a", a_.T * SQ * a_),  # alone it stays a 1×1 matrix
])
def test_one_by_one_products_are_scalars_where_scalars_are_meant(text, expected):
    assert matrix(text) == expected


def test_shapes_take_numbers_and_size_names():
    A = parse_expr("A*B", shapes={"A": (2, "n"), "B": ("n", 3)})
    assert A.shape == (2, 3)
    size = parse_expr("B", shapes={"A": (2, "n"), "B": ("n", 3)}).rows
    assert size.is_integer and size.is_positive
    given = sp.MatrixSymbol("A", 2, 2)
    assert parse_expr("A^T A", {"A": given}) == given.T * given  # matrices among known symbols
    for bad in [{"X": (0, 2)}, {"X": (1, 2, 3)}, {"X": ("n", -1)}, {"exp": (2, 2)}, {"n": (2, "n")}]:
        with pytest.raises(ParseError, match="shape|name|size"):
            parse_expr("1", shapes=bad)


@pytest.mark.parametrize("text, message", [
    ("2*X*(X*W - Y)", r"cannot multiply 2\*X \(n×m\) by X\*W - Y \(n×k\)"),
    ("X*W + X", r"X \(n×m\) cannot be added to X\*W \(n×k\)"),
    ("X + 1", r"the scalar 1 is added to the n×m matrix X: write it times ones\(n, m\)"),
    ("X ⊙ W", r"W \(m×k\) cannot be multiplied elementwise by X \(n×m\)"),
    ("inv(X)", r"X \(n×m\) is inverted but is not square"),
    ("tr(X)", r"X \(n×m\) is in tr\(...\) but is not square"),
    ("X^2", r"X \(n×m\) is raised to the power 2 but is not square"),
    ("S^x", r"S \(n×n\) is raised to x: a matrix power needs a whole number"),
    ("X / W", r"division by the matrix W \(m×k\)"),
    ("𝟏 + 𝟏", r"the size of 𝟏 cannot be told"),
    ("I", r"the size of I cannot be told"),
    ("X % W", r"the operator % is not allowed"),
    ("X.I", r"attribute access"),
])
def test_shape_errors_are_one_line_and_name_the_operands(text, message):
    with pytest.raises(ParseError, match=message) as error:
        matrix(text)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("text, name", [
    ("trace(X*W)", "X"), ("X@W", "X"), ("Xᵀ W", "X"), ("X.T*W", "X"), ("det(S) + x", "S"), ("inv(A)", "A"),
])
def test_a_name_used_as_a_matrix_without_a_shape_is_named(text, name):
    with pytest.raises(parse.MissingShape, match=f"^{name} is used as a matrix .* but has no shape: give it one$") as error:
        parse_expr(text)
    assert error.value.name == name


def test_scalar_formulas_read_as_before_when_shapes_are_given():
    assert parse_expr("x^T", variables=["T"]) == x ** sp.Symbol("T")  # no matrix: T is a symbol
    assert matrix("x*y + 2^x") == x * y + 2**x
    assert matrix("sinc'(2*x)") == parse_expr("sinc'(2*x)") == parse.sinc_derivative(2 * x)


# The textbook cases whose printed forms must read back: J and its variables
_L = sp.Symbol("lambda")
_w, _y, _c = sp.MatrixSymbol("w", m_, 1), sp.MatrixSymbol("y", n_, 1), sp.MatrixSymbol("c", 1, 1)
_A = sp.MatrixSymbol("A", n_, n_)
PRINTED = {
    "least squares": (sp.trace((X * W - Y).T * (X * W - Y)), [W, X]),
    "ridge": (sp.trace((X * W - Y).T * (X * W - Y)) + _L * sp.trace(W.T * W), [W]),
    "log det": (sp.log(sp.det(SQ)), [SQ]),
    "aᵀS⁻¹b": (a_.T * SQ.I * b_, [SQ, a_]),
    "xᵀAx": (sp.trace(v_.T * _A * v_), [v_, _A]),
    "gaussian": (sp.log(sp.det(SQ)) / 2 + sp.trace((v_ - a_).T * SQ.I * (v_ - a_)) / 2, [SQ, a_]),
    "squares entrywise": (sp.trace(sp.OneMatrix(1, n_) * sp.HadamardPower(X * W - Y, 2) * sp.OneMatrix(k_, 1)), [W]),
    "sigmoid": (sp.trace(sp.OneMatrix(1, n_) * (X * W).applyfunc(sb.sigmoid) * sp.OneMatrix(k_, 1)), [W]),
    "logistic": (sp.trace(-sp.OneMatrix(1, n_) * sp.HadamardProduct(_y, (X * _w + sp.OneMatrix(n_, 1) * _c).applyfunc(
        lambda t: sp.log(sb.sigmoid(t))))), [_w, _c]),
    "cube": (sp.trace(SQ**3), [SQ]),
}


@pytest.mark.parametrize("case", PRINTED)
def test_every_printed_form_of_a_matrix_derivation_reads_back(case):
    J, wrt = PRINTED[case]
    d = sb.backprop(J, wrt=wrt)
    show = TextPrinter(naming.text_names(d.graph)).doprint
    names = dict(d._names) | {s.name: s for s in d.graph.sizes}
    forms = [(d[p], p.shape) for p in wrt] + [(d.gradient(p), p.shape) for p in wrt]
    forms += [(e, getattr(s, "shape", None)) for s, e in d.deltas] + [(s.expr, getattr(s.symbol, "shape", None)) for s in d.graph.steps]
    sizes = probe_sizes(d.graph.sizes)
    for expr, shape in forms:
        printed = show(expr)
        if "Lambda(" in printed or (expr.atoms(sp.OneMatrix) and "𝟏" not in printed):
            continue  # SymPy's own spellings, Lambda(d, f(d)).(X) and 1 for a matrix of ones, cannot be read back
        read = parse_expr(printed, names, shape=shape)
        symbols = sorted(expr.free_symbols | read.free_symbols | set(expr.atoms(sp.MatrixSymbol)), key=sp.default_sort_key)
        point = random_point([s for s in symbols if s not in d.graph.sizes], sizes, random.Random(1))
        np.testing.assert_allclose(evaluate(read, point, sizes), evaluate(expr, point, sizes), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{printed!r} read back as {read}, printed from {expr}")


@pytest.mark.parametrize("text", [t for t in HOSTILE if t not in ("x y", "2x")] + [  # side by side is a product here
    "X.T.__class__", "X.__class__", "X.I", "X.T()", "X'.__dict__", "(X')[0]", "σ'.__class__", "X % W", "~X", "X.^~2",
])
def test_hostile_formulas_are_refused_in_matrix_notation_too(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParseError):
        parse_expr(text, shapes={"X": (2, 2), "W": (2, 2)})
    assert not (tmp_path / SENTINEL).exists()
