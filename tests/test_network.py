"""Networks and expressions as step graphs: names, structure and bad input."""

import pytest
import sympy as sp
from corpus import NETWORKS

import symbackprop as sb


def names(symbols):
    return [s.name for s in symbols]


def test_parameter_numbering_follows_the_contract():
    net = sb.mlp([2, 2, 1])
    assert names(net.inputs) == ["x1", "x2"] and names(net.targets) == ["y1"]
    assert names(net.params) == ["w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3"]
    w1, w2, w3, x1, x2, b1 = sp.symbols("w1 w2 w3 x1 x2 b1")
    z1 = net.step(sp.Symbol("z1")).expr
    assert z1 == w1 * x1 + w2 * x2 + b1  # w1: x1→h1, w2: x2→h1
    assert net.step(sp.Symbol("z2")).expr.coeff(x1) == w3  # w3: x1→h2


@pytest.mark.parametrize("bias, expected", [("per_neuron", ["b1", "b2", "b3"]), ("per_layer", ["b1", "b2"]), (None, [])])
def test_bias_modes(bias, expected):
    net = sb.mlp([2, 2, 1], bias=bias)
    assert names(net.params)[6:] == expected
    if bias == "per_layer":
        assert sp.Symbol("b1") in net.step(sp.Symbol("z2")).expr.free_symbols


@pytest.mark.parametrize("name", NETWORKS)
def test_loss_is_in_inputs_targets_and_parameters_only(name):
    net = sb.mlp(**NETWORKS[name])
    assert net.loss.free_symbols <= set(net.variables)
    assert set(net.params) <= net.loss.free_symbols


def test_losses_follow_their_definitions():
    y = sp.Symbol("y1")
    half = sb.mlp([1, 1, 1], activation="identity", loss="half_sse").step(sp.Symbol("J")).expr
    assert half.subs({sp.Symbol("a2"): 3, y: 1}) == 2
    mse = sb.mlp([1, 2], activation="identity", loss="mse").step(sp.Symbol("J")).expr
    assert mse.subs({sp.Symbol("a1"): 3, sp.Symbol("a2"): 1, y: 1, sp.Symbol("y2"): 0}) == sp.Rational(5, 2)
    bce = sb.mlp([1, 1, 1], loss="bce").step(sp.Symbol("J")).expr
    assert bce == sb.binary_cross_entropy(y, sp.Symbol("a2"))
    xent = sb.mlp([1, 1, 2], activation=["relu", "softmax"], loss="cross_entropy")
    a2, a3 = sp.symbols("a2 a3")
    assert xent.step(sp.Symbol("J")).expr == sb.cross_entropy(y, a2) + sb.cross_entropy(sp.Symbol("y2"), a3)
    assert xent.fused == {sp.Symbol("z2"): a2 - y, sp.Symbol("z3"): a3 - sp.Symbol("y2")}


@pytest.mark.parametrize("kwargs, message", [
    (dict(layers=[2, 1], activation="sigmod"), "unknown activation 'sigmod'; known activations: sigmoid, tanh, relu"),
    (dict(layers=[2, 1], loss="hinge"), "unknown loss 'hinge'; known losses: half_sse, mse, bce, cross_entropy"),
    (dict(layers=[2]), "at least an input and an output size"),
    (dict(layers=[2, 0, 1]), "positive integers"),
    (dict(layers=[2, 1.5]), "positive integers"),
    (dict(layers=[2, 2, 1], activation=["tanh"]), "got 1 activations for 2 non-input layers"),
    (dict(layers=[2, 1], bias="shared"), "unknown bias mode 'shared'"),
])
def test_bad_networks_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        sb.mlp(**kwargs)


@pytest.mark.parametrize("layers", ["2,1", 3, None])
def test_layers_must_be_a_list(layers):
    with pytest.raises(TypeError, match="layers must be a list"):
        sb.mlp(layers)


def test_activation_must_be_a_name_or_list():
    with pytest.raises(TypeError, match="activation must be a name or a list"):
        sb.mlp([2, 1], activation=None)


def test_expression_graph_shares_common_parts_and_keeps_constants_inline():
    x, y = sp.symbols("x y")
    u = x * y
    graph = sb.Graph.from_expr(sp.sin(u) + sp.cos(u) + sp.sqrt(2) * x)
    values = [step.expr for step in graph.steps]
    assert values.count(x * y) == 1
    assert all(step.expr.free_symbols for step in graph.steps)  # √2 is not a step of its own
    assert graph.loss == sp.sin(u) + sp.cos(u) + sp.sqrt(2) * x


def test_expression_graph_avoids_names_the_expression_uses():
    f, v1 = sp.symbols("f v1")
    graph = sb.Graph.from_expr(sp.sin(f * v1))
    assert graph.output.name == "f_1"
    assert [s.symbol.name for s in graph.steps] == ["v2", "f_1"]


def test_hand_written_sigmoid_becomes_a_sigmoid_step():
    x = sp.Symbol("x")
    graph = sb.Graph.from_expr(1 / (1 + sp.exp(-x)))
    assert graph.steps[-1].expr == sb.sigmoid(x)


def test_graph_checks_its_steps():
    x, v = sp.symbols("x v")
    with pytest.raises(ValueError, match="uses v, defined neither"):
        sb.Graph((sb.Step(sp.Symbol("f"), x * v),), params=(x,))
    with pytest.raises(ValueError, match="reuses the name"):
        sb.Graph((sb.Step(x, x + 1),), params=(x,))
    with pytest.raises(KeyError, match="z9 is not a step"):
        sb.mlp([1, 1]).step(sp.Symbol("z9"))
