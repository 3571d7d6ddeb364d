"""Bounded rewrites: partials in step symbols, recognised activations, tree sizes on the DAG."""

import re

import numpy as np
import pytest
import sympy as sp
from corpus import EXPRESSIONS

import symbackprop as sb
from symbackprop.errors import InputError
from symbackprop.primitives import sinc_derivative
from symbackprop.simplify import (
    local_partial,
    min_max_of,
    recognize_activations,
    step_values,
    substitute,
    tree_size,
    undefined_part,
)

x, y, z, a = sp.symbols("x y z a")


def test_local_partial_writes_derivatives_in_step_symbols():
    values = step_values(sb.mlp([1, 1]).steps)
    a1, z1 = sp.symbols("a1 z1")
    assert local_partial(sb.sigmoid(z1), z1, values) == a1 * (1 - a1)
    assert local_partial(sp.tanh(z), z, {sp.tanh(z): a}) == 1 - a**2


def test_local_partial_differentiates_only_the_terms_of_a_sum_that_hold_the_variable():
    terms = sp.symbols("t1:40")
    expr = sp.Add(*[t * s for t, s in zip(terms, sp.symbols("s1:40"))]) + sp.sin(x) * terms[0]
    assert local_partial(expr, x, {}) == sp.cos(x) * terms[0]
    assert local_partial(expr, terms[0], {}) == sp.Symbol("s1") + sp.sin(x)


def test_recognize_activations_in_every_spelling():
    assert recognize_activations(1 / (1 + sp.exp(-x))) == sb.sigmoid(x)
    assert recognize_activations(1 / (1 + sp.exp(x * y))) == sb.sigmoid(-x * y)
    assert recognize_activations(sp.log(1 + sp.exp(x))) == sb.softplus(x)
    nested = 1 / (1 + sp.exp(-(1 / (1 + sp.exp(-x)))))
    assert recognize_activations(nested) == sb.sigmoid(sb.sigmoid(x))
    untouched = [1 / (2 + sp.exp(-x)), sp.log(1 + x), 1 / (1 + sp.exp(-x)) ** 2 * 0 + x]
    assert [recognize_activations(e) for e in untouched] == untouched


def test_tree_size_counts_the_tree_without_walking_it():
    expr = x
    for _ in range(60):  # a DAG of 60 levels whose tree has about 2**61 nodes
        expr = sp.Function("g")(expr, expr + 1)
    assert tree_size(expr) > 2**60
    assert tree_size(x + y) == 3


def test_local_partials_take_variables_as_real_and_give_them_back_as_given():
    assert local_partial(sp.Abs(x) * y, x, {}) == sp.sign(x) * y
    assert local_partial(sp.re(x) * y + sp.im(y), x, {}) == y
    assert local_partial(sp.Abs(x - y), y, {}) == -sp.sign(x - y)
    assert local_partial(sp.Abs(x) * y, x, {}).free_symbols == {x, y}  # the user's plain symbols, not dummies
    r = sp.Symbol("r", positive=True)
    assert local_partial(sp.Abs(r) * x, r, {}) == x  # declared symbols keep their assumptions
    assert local_partial(sp.sqrt(x**2), x, {}) == sp.sign(x)


def test_step_functions_have_derivative_zero_and_no_dirac_delta():
    for expr in (sp.sign(x) * y, sp.Heaviside(x) * y, sp.sign(x * y)):
        partial = local_partial(expr, x, {})
        assert not partial.has(sp.DiracDelta) and partial == 0
    assert local_partial(sp.Heaviside(x) * x, x, {}) == sp.Heaviside(x)


def test_functions_without_a_derivative_rule_are_refused_by_name():
    for expr, name in [(sp.Mod(x, y), "Mod(x, y)"), (sp.floor(x) * y, "floor(x)"), (sp.Function("f")(x * y), "f(x*y)")]:
        with pytest.raises(InputError, match=f"^cannot differentiate {re.escape(name)} with respect to x: no derivative rule for "):
            local_partial(expr, x, {})
    v = sp.Symbol("v")  # a step standing for x + y: the message writes it out
    with pytest.raises(InputError, match=r"^cannot differentiate ceiling\(x \+ y\) with respect to x: no derivative rule for ceiling$"):
        local_partial(sp.ceiling(v) * y, v, {x + y: v})
    assert local_partial(sp.ceiling(x) * y, y, {}) == sp.ceiling(x)  # not differentiated where it has no rule


def test_sinc_derives_to_a_derivative_that_is_finite_at_zero():
    partial = local_partial(sp.sinc(x) * y, x, {})
    assert partial == sinc_derivative(x) * y
    assert partial.subs(x, 0) == 0
    reference = sp.diff(sp.sin(x) / x, x)
    for value in ("0.3", "-2.5", "1e-3"):
        point = sp.Float(value, 30)
        assert float(sinc_derivative(point)) == pytest.approx(float(reference.subs(x, point).evalf(30)), rel=1e-12)


def test_undefined_part_names_what_has_no_value():
    assert undefined_part(x / 0) == undefined_part(sp.log(0) * x) == "1/0 or log(0) (complex infinity)"
    assert "nan" in undefined_part(x + sp.nan)
    assert "infinity" in undefined_part(x - sp.oo)
    assert "imaginary" in undefined_part(sp.sqrt(-1) * x)
    assert undefined_part(sp.exp(x) + sp.pi) is None


def _finite(value) -> bool:
    return value.is_number and value.is_finite is True


ZERO_POINT_EXPRESSIONS = {**EXPRESSIONS, "x^y": x**y, "x³": x**3, "√x x": sp.sqrt(x) * x, "(x + y)^y": (x + y) ** y,
                          "x^y sin x": x**y * sp.sin(x), "2^x y": 2**x * y}


@pytest.mark.parametrize("name", sorted(ZERO_POINT_EXPRESSIONS))
def test_local_partials_divide_by_nothing_the_true_derivative_does_not(name):
    """At points with a zero coordinate, each step's local partial (written in step symbols) is
    finite wherever the partial derivative is (sympy.diff of the step with its other symbols fixed
    at the point), and equal to it."""
    graph = sb.Graph.from_expr(ZERO_POINT_EXPRESSIONS[name])
    values = step_values(graph.steps)
    variables = sorted(graph.variables, key=str)
    for zero in variables:
        point = {v: sp.S.Zero if v == zero else sp.Integer(2) for v in variables}
        for step in graph.steps:
            point[step.symbol] = step.expr.xreplace(point)
        for step in graph.steps:
            for s in sorted(step.expr.free_symbols, key=str):
                others = {t: v for t, v in point.items() if t != s}
                expected = sp.diff(step.expr.xreplace(others), s).xreplace({s: point[s]})
                if _finite(expected):
                    got = local_partial(step.expr, s, values).xreplace(point)
                    assert _finite(got), f"∂({step.expr})/∂{s} at {zero} = 0: {local_partial(step.expr, s, values)}"
                    assert sp.N(got - expected, 30) == 0 or abs(sp.N(got - expected, 30)) < 1e-25


def test_local_partial_of_a_product_is_the_product_of_the_other_factors():
    factors = sp.symbols("u0:30")
    product = sp.Mul(3, *factors)
    for u in factors:
        assert local_partial(product, u, {}) == sp.diff(product, u)


@pytest.mark.parametrize("func", [sp.Max, sp.Min])
def test_local_partial_of_a_max_or_min_is_a_step_function_equal_to_sympys(func):
    for args in [(x, y), (x, y, z), (x, sp.Integer(3))]:
        for u in args:
            if u.is_Symbol:
                assert local_partial(func(*args), u, {}) == sp.diff(func(*args), u)


@pytest.mark.parametrize("func", [sp.Max, sp.Min])
def test_min_max_of_many_arguments_has_sympys_value_at_every_point(func):
    xs = sp.symbols("x1:13")
    built = min_max_of(func, [*xs, 2, xs[0], func(xs[1], 5)])  # repeats, numbers and a nested one
    assert set(built.args) == {*xs, func(2, 5)}
    rng = np.random.default_rng(2)
    for _ in range(5):
        point = {s: sp.Integer(int(v)) for s, v in zip(xs, rng.integers(-9, 9, size=len(xs)))}
        assert built.xreplace(point) == func(*point.values(), 2, 5)
    assert min_max_of(func, [x, y]) == func(x, y) and min_max_of(func, [x, 1, 1]) == func(x, 1)


def test_substitute_equals_xreplace_and_keeps_a_max_as_written():
    v, w = sp.symbols("v w")
    values = {v: x + y, w: sp.Max(y, z)}
    plain = sp.sin(v) * sp.exp(w) + v**2 / w
    assert substitute(plain, values) == plain.xreplace(values)
    expr = plain * sp.Heaviside(v - w) + sp.Max(v, w)
    point = {x: sp.Rational(1, 3), y: sp.Rational(-1, 2), z: sp.Rational(1, 5)}
    assert substitute(expr, values).xreplace(point) == expr.xreplace(values).xreplace(point)
    nested = substitute(sp.Max(v, w), {v: sp.Max(x, y, evaluate=False), w: sp.Max(z, 1, evaluate=False)})
    assert nested.args == tuple(sp.ordered([sp.Max(x, y), sp.Max(1, z)]))  # not flattened, not compared
    assert substitute(nested, {x: 4, y: 2, z: 7}) == 7  # with numbers only, evaluated
    assert substitute(sp.Heaviside(v - w), {v: 1, w: 3}) == 0
