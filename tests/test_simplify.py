"""Bounded rewrites: partials in step symbols, recognised activations, tree sizes on the DAG."""

import sympy as sp

import symbackprop as sb
from symbackprop.simplify import local_partial, recognize_activations, step_values, tree_size

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
