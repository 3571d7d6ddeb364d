"""The reverse sweep against its oracles: sympy.diff of the composed loss, finite differences,
textbook derivations and Mazur's published worked example."""

import itertools
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from corpus import EXPRESSIONS, NETWORKS, SMALL, network, on_simplex, random_point
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import central_differences

import symbackprop as sb
from symbackprop import naming
from symbackprop.simplify import min_max_of, tree_size


def numeric(expr, point) -> float:
    return float(expr.xreplace(point).evalf(30))


def network_point(graph, seed):
    return random_point(graph.inputs + graph.params, seed, graph.targets if graph.fused else ())


def fill_targets(graph, point, seed):
    if not graph.fused:
        point.update(random_point(graph.targets, seed + 1000))
    return point


@pytest.mark.parametrize("name", NETWORKS)
def test_network_gradients_equal_sympy_diff_at_random_points(name):
    graph = network(name)
    d = sb.backprop(graph)
    loss = graph.loss
    for seed in range(2):
        point = fill_targets(graph, network_point(graph, seed), seed)
        for p in graph.params:
            assert numeric(d[p], point) == pytest.approx(numeric(sp.diff(loss, p), point), rel=1e-12, abs=1e-14), p


@pytest.mark.parametrize("name", SMALL)
def test_small_network_gradients_equal_sympy_diff_symbolically(name):
    graph = network(name)
    d = sb.backprop(graph)
    simplex = on_simplex(graph)
    for p in graph.params:
        difference = (d[p] - sp.diff(graph.loss, p)).xreplace(simplex)
        assert sp.cancel(sp.expand(difference)) == 0, p


@pytest.mark.parametrize("name", NETWORKS)
def test_network_gradients_match_finite_differences(name):
    graph = network(name)
    d = sb.backprop(graph)
    point = fill_targets(graph, network_point(graph, 7), 7)
    data = [float(point[s]) for s in graph.inputs + graph.targets]
    theta = np.array([float(point[p]) for p in graph.params])
    symbols = graph.inputs + graph.targets + graph.params
    loss = sp.lambdify(symbols, graph.loss, "numpy")
    gradient = sp.lambdify(symbols, [d[p] for p in graph.params], "numpy")
    numeric_grad = central_differences(lambda th: loss(*data, *th), theta)
    np.testing.assert_allclose(gradient(*data, *theta), numeric_grad, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_expression_gradients_equal_sympy_diff_and_finite_differences(name):
    expr = EXPRESSIONS[name]
    d = sb.backprop(expr)
    symbols = d.wrt
    assert set(symbols) == expr.free_symbols
    point = random_point(symbols, 3)
    f = sp.lambdify(symbols, expr, "numpy")
    values = np.array([float(point[s]) for s in symbols])
    fd = central_differences(lambda v: f(*v), values)
    for i, s in enumerate(symbols):
        assert numeric(d[s], point) == pytest.approx(numeric(sp.diff(expr, s), point), rel=1e-12, abs=1e-14), s
        assert numeric(d[s], point) == pytest.approx(fd[i], rel=1e-6, abs=1e-8), s


@pytest.mark.parametrize("name", list(NETWORKS)[:6])
def test_chain_view_sums_paths_to_the_closed_form(name):
    graph = network(name)
    d = sb.backprop(graph)
    point = fill_targets(graph, network_point(graph, 11), 11)
    for p in graph.params:
        chain = d.chain(p)
        assert chain.paths and all(path.factors[0].of == graph.output for path in chain.paths)
        assert all(path.factors[-1].wrt == p for path in chain.paths)
        assert numeric(d.closed(chain.expr), point) == pytest.approx(numeric(d[p], point), rel=1e-12, abs=1e-14)


def test_chain_of_the_first_weight_of_2_2_2_1_has_one_path_per_second_layer_neuron():
    net = sb.mlp([2, 2, 2, 1])
    chain = sb.backprop(net).chain(sp.Symbol("w1"))
    assert len(chain.paths) == 2
    assert [(f.of, f.wrt) for f in chain.paths[0].factors] == [
        (sp.Symbol(a), sp.Symbol(b)) for a, b in
        [("J", "a5"), ("a5", "z5"), ("z5", "a3"), ("a3", "z3"), ("z3", "a1"), ("a1", "z1"), ("z1", "w1")]]
    a1 = sp.Symbol("a1")
    assert chain.paths[0].factors[5].expr == a1 * (1 - a1)  # σ' written in terms of σ


def test_chain_refuses_exponentially_many_paths():
    net = sb.mlp([1, 3, 3, 3, 1])
    with pytest.raises(ValueError, match="9 chain-rule paths"):  # 3 × 3 neurons between w1 and J
        sb.backprop(net).chain(sp.Symbol("w1"), max_paths=8)


def test_delta_view_grows_linearly_with_depth():
    def size(depth):
        d = sb.backprop(sb.mlp([2] + [3] * depth + [1]))
        return sum(sp.count_ops(e) for _, e in d.deltas) + sum(sp.count_ops(e) for e in d.gradients.values())

    sizes = [size(depth) for depth in (2, 3, 4, 5)]
    steps = {b - a for a, b in itertools.pairwise(sizes)}
    assert len(steps) == 1, sizes  # exactly an arithmetic progression


@pytest.mark.parametrize("func", [sp.Max, sp.Min])
def test_max_and_min_of_many_arguments_equal_sympy_diff(func):
    xs = sp.symbols("x1:8")
    expr = func(*xs) * xs[0] + 1
    d = sb.backprop(expr)
    rng = np.random.default_rng(7)
    for _ in range(3):
        values = rng.permutation(7) + rng.uniform(0.1, 0.9)  # distinct: no ties
        point = {x: sp.Float(v) for x, v in zip(xs, values)}
        for x in xs:
            assert numeric(d[x], point) == numeric(sp.diff(expr, x), point), (x, values)


def test_a_wide_max_derives_into_two_argument_steps_whose_size_grows_linearly():
    def size(n):
        d = sb.backprop(min_max_of(sp.Max, sp.symbols(f"x1:{n + 1}")))
        assert all(len(step.expr.args) == 2 for step in d.graph.steps)
        return sum(map(tree_size, d.partials.values())) + sum(tree_size(e) for _, e in d.deltas) + sum(map(tree_size, d.gradients.values()))

    sizes = [size(n) for n in (16, 32, 64)]
    steps = [b - a for a, b in itertools.pairwise(sizes)]
    assert steps[1] == 2 * steps[0], sizes  # linear in n: one H(a - b) per argument and step


def test_a_wide_max_is_derived_and_closed_without_comparing_or_sign_testing_symbols(monkeypatch):
    # SymPy's Max compares every pair of its arguments, and H(a - b) asks a - b for its sign:
    # milliseconds each, minutes for a max of hundreds of arguments, and nothing decided.
    calls = []
    for cls, name in [(sp.Max, "_find_localzeros"), (sp.Min, "_find_localzeros"), (sp.Heaviside, "eval")]:
        original = getattr(cls, name)
        monkeypatch.setattr(cls, name, classmethod(lambda c, *a, _f=original, **k: calls.append(c) or _f.__func__(c, *a, **k)))
    xs = sp.symbols("x1:65")
    d = sb.backprop(min_max_of(sp.Min, xs) + min_max_of(sp.Max, xs))
    closed = [d[x] for x in xs]
    assert calls == []
    point = dict(zip(xs, np.random.default_rng(5).permutation(64)))
    assert [numeric(c, point) for c in closed] == [float(point[x] in (0, 63)) for x in xs]


def test_a_long_product_derives_each_factor_as_the_product_of_the_others():
    xs = sp.symbols("x0:40")
    factors = [x + 1 for x in xs]
    product = sp.Mul(*factors)
    d = sb.backprop(product)
    (last,) = [s for s in d.graph.steps if s.symbol == d.graph.output]
    assert len(last.expr.args) == len(xs)  # one step: the product as written, no chain of pairs
    point = random_point(xs, 3)
    for x in xs[:5] + xs[-5:]:
        assert d[x] == sp.diff(product, x)
        assert numeric(d[x], point) == pytest.approx(numeric(sp.diff(product, x), point), rel=1e-12)


@pytest.mark.parametrize("command", [["derive"], ["derive", "--format", "latex"], ["check"], ["verify", "--wrt", "x1", "--claim", "0"]])
def test_longest_products_and_widest_max_go_through_every_command_within_a_generous_timeout(command):
    product = "*".join(f"(x{i}+1)" for i in range(220))  # 1,869 characters: took 42 s to check
    widest = "max(" + ",".join(f"x{i}" for i in range(40)) + ")"  # took 58 s to derive
    for formula in (product, widest):
        done = subprocess.run([sys.executable, "-m", "symbackprop", *command, "--expr", formula], check=False,
                              capture_output=True, text=True, timeout=40)
        assert done.returncode in (0, 1), done.stderr[-300:]  # verify: 1, the claim is wrong


# ----------------------------------------------------------------------------- classic derivations

def test_binary_cross_entropy_after_sigmoid_collapses_to_yhat_minus_y():
    net = sb.mlp([1, 1, 1], activation="sigmoid", loss="bce")  # two layers of one neuron each
    d = sb.backprop(net)
    a1, a2, y1, x1, w1, w2, b1, b2 = sp.symbols("a1 a2 y1 x1 w1 w2 b1 b2")
    assert d.delta(sp.Symbol("z2")) == a2 - y1
    delta2 = naming.delta(sp.Symbol("z2"))
    assert d.gradient(w2) == delta2 * a1
    assert d.delta(sp.Symbol("z1")) == delta2 * w2 * a1 * (1 - a1)
    h = sb.sigmoid(w1 * x1 + b1)
    yhat = sb.sigmoid(w2 * h + b2)
    assert d[w2] == (yhat - y1) * h
    assert d[w1] == (yhat - y1) * w2 * h * (1 - h) * x1


def test_one_hidden_layer_logistic_network_matches_the_textbook_formulas():
    # dZ2 = A2 − Y, dW2 = dZ2 A1ᵀ, db2 = dZ2, dZ1 = W2ᵀ dZ2 ⊙ (1 − A1²), dW1 = dZ1 Xᵀ, db1 = dZ1.
    net = sb.mlp([2, 3, 1], activation=["tanh", "sigmoid"], loss="bce")
    d = sb.backprop(net)
    A1 = sp.symbols("a1:4")
    X = sp.symbols("x1:3")
    W1 = [sp.symbols(f"w{2 * j + 1}:{2 * j + 3}") for j in range(3)]  # row j: x1→h_j, x2→h_j
    W2 = sp.symbols("w7:10")
    dZ2 = sp.Symbol("a4") - sp.Symbol("y1")
    assert d.delta(sp.Symbol("z4")) == dZ2
    delta2 = naming.delta(sp.Symbol("z4"))
    for j in range(3):
        assert d.gradient(W2[j]) == delta2 * A1[j]
        assert d.delta(sp.Symbol(f"z{j + 1}")) == W2[j] * delta2 * (1 - A1[j] ** 2)
        for k in range(2):
            assert d.gradient(W1[j][k]) == naming.delta(sp.Symbol(f"z{j + 1}")) * X[k]
        assert d.gradient(sp.Symbol(f"b{j + 1}")) == naming.delta(sp.Symbol(f"z{j + 1}"))
    assert d.gradient(sp.Symbol("b4")) == delta2


def test_softmax_cross_entropy_delta_is_p_minus_y():
    net = sb.mlp([2, 3], activation="softmax", loss="cross_entropy")
    d = sb.backprop(net)
    for k in (1, 2, 3):
        assert d.delta(sp.Symbol(f"z{k}")) == sp.Symbol(f"a{k}") - sp.Symbol(f"y{k}")


MAZUR_VALUES = dict(w1=0.15, w2=0.20, w3=0.25, w4=0.30, w5=0.40, w6=0.45, w7=0.50, w8=0.55, b1=0.35, b2=0.60,
                    x1=0.05, x2=0.10, y1=0.01, y2=0.99)
# Published in Mazur, "A Step by Step Backpropagation Example" (2015), rounded to 9 decimals.
MAZUR_LOSS = 0.298371109
MAZUR_GRADIENTS = dict(w1=0.000438568, w2=0.000877135, w3=0.000497713, w4=0.000995425,
                       w5=0.082167041, w6=0.082667628, w7=-0.022602540, w8=-0.022740242)


def test_mazur_worked_example():
    net = sb.mlp([2, 2, 2], activation="sigmoid", loss="half_sse", bias="per_layer")
    d = sb.backprop(net)
    values = {sp.Symbol(k): v for k, v in MAZUR_VALUES.items()}
    assert float(net.loss.subs(values).evalf()) == pytest.approx(MAZUR_LOSS, abs=1e-9)
    for name, published in MAZUR_GRADIENTS.items():
        assert float(d[sp.Symbol(name)].subs(values).evalf()) == pytest.approx(published, abs=1e-9), name


# ----------------------------------------------------------------------------- random expression graphs

LEAVES = sp.symbols("p q r")
UNARY = [sb.sigmoid, sp.tanh, sb.softplus, sp.sin, lambda u: sp.exp(u / 4), lambda u: u**2, lambda u: 1 / (1 + u**2)]
BINARY = [sp.Add, sp.Mul, lambda u, v: u - v, lambda u, v: u / (2 + sp.cos(v))]


def expressions():
    leaf = st.sampled_from(LEAVES) | st.integers(-3, 3).map(sp.Integer)
    return st.recursive(
        leaf,
        lambda inner: st.tuples(st.sampled_from(UNARY), inner).map(lambda t: t[0](t[1]))
        | st.tuples(st.sampled_from(BINARY), inner, inner).map(lambda t: t[0](t[1], t[2])),
        max_leaves=10,
    ).filter(lambda e: bool(e.free_symbols))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(), st.integers(0, 10**6))
def test_random_expression_graphs_match_sympy_diff(expr, seed):
    d = sb.backprop(expr)
    point = random_point(d.wrt, seed)
    for s in d.wrt:
        assert numeric(d[s], point) == pytest.approx(numeric(sp.diff(expr, s), point), rel=1e-10, abs=1e-12)


# ----------------------------------------------------------------------------- evaluation and bad input

def test_returned_expressions_evaluate_with_subs_evalf_and_lambdify():
    graph = network("2-2-3 softplus/softmax cross_entropy")
    d = sb.backprop(graph)
    point = fill_targets(graph, network_point(graph, 5), 5)
    symbols = graph.variables
    for expr in [graph.loss] + [d[p] for p in graph.params]:
        value = expr.subs(point).evalf()
        assert value.is_Float
        lambdified = sp.lambdify(symbols, expr, "numpy")(*[float(point[s]) for s in symbols])
        assert float(lambdified) == pytest.approx(float(value), rel=1e-12)


def test_wrt_accepts_symbols_and_names_and_rejects_strangers():
    x, y, z = sp.symbols("x y z")
    assert sb.backprop(x * y, wrt="y").wrt == (y,)
    assert sb.backprop(x * y, wrt=[y, x]).wrt == (y, x)
    with pytest.raises(ValueError, match="with respect to z: it does not occur.*its symbols: x, y"):
        sb.backprop(x * y, wrt=[z])
    with pytest.raises(ValueError, match="does not occur"):
        sb.backprop(sb.mlp([1, 1]), wrt=[sp.Symbol("w9")])


def test_backprop_of_something_that_is_not_an_expression():
    assert sb.backprop("x*y")["x"] == sp.Symbol("y")  # a formula as text is read by the parser
    with pytest.raises(TypeError, match="scalar SymPy expression"):
        sb.backprop(sp.Matrix([1, 2]))
    with pytest.raises(TypeError, match="cannot use"):
        sb.backprop(object())
    with pytest.raises(ValueError, match="no symbols"):
        sb.backprop(sp.Integer(3))
