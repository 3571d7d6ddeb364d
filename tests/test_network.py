"""Networks and expressions as step graphs: names, structure and bad input."""

import pytest
import sympy as sp
from corpus import NETWORKS

import symbackprop as sb
from symbackprop.errors import InputError


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
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        sb.mlp(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"layers": "2,1"}, "layers must be a list"),
    ({"layers": 3}, "layers must be a list"),
    ({"layers": None}, "layers must be a list"),
    ({"layers": [2, "x"]}, "positive integers"),
    ({"layers": [2, True]}, "positive integers"),
    ({"layers": [2, 1], "activation": None}, "activation must be a name or a list"),
    ({"layers": [2, 1], "activation": [None]}, "unknown activation None"),
    ({"layers": [2, 1], "activation": [["relu"]]}, "unknown activation"),
    ({"layers": [2, 1], "loss": None}, "unknown loss None"),
    ({"layers": [2, 1], "loss": ["bce"]}, "unknown loss"),
    ({"layers": [2, 1], "bias": ["per_neuron"]}, "unknown bias mode"),
    ({"layers": [2, 1], "bias": 0}, "unknown bias mode"),
    ({"layers": [2, 1], "form": "tensor"}, "unknown form 'tensor'"),
    ({"layers": [2, 1], "form": "matrix", "bias": "per_row"}, "unknown bias mode 'per_row'"),
    ({"layers": [2, 1], "form": "matrix", "activation": "sigmod"}, "unknown activation 'sigmod'"),
])
def test_every_bad_option_is_an_input_error_in_one_line(kwargs, message):
    with pytest.raises(InputError, match=message) as error:
        sb.mlp(**kwargs)
    assert "\n" not in str(error.value) and len(str(error.value)) < 300


@pytest.mark.parametrize("form", ["scalar", "matrix"])
@pytest.mark.parametrize("output", ["identity", "relu", "leaky_relu", "tanh", "softplus"])
@pytest.mark.parametrize("loss", ["bce", "cross_entropy"])
def test_losses_on_probabilities_refuse_outputs_that_are_not_probabilities(loss, output, form):
    with pytest.raises(InputError, match=rf"^loss {loss} needs .*: use .*sigmoid.* on the output layer, not {output}$"):
        sb.mlp([2, 3, 2], activation=["tanh", output], loss=loss, form=form)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
@pytest.mark.parametrize("output, loss", [("sigmoid", "bce"), ("sigmoid", "cross_entropy"), ("softmax", "cross_entropy")])
def test_losses_on_probabilities_take_sigmoid_and_softmax_outputs_and_give_finite_gradients(loss, output, form):
    net = sb.mlp([2, 2], activation=output, loss=loss, form=form)
    if form == "scalar":
        d = sb.backprop(net)
        point = {v: sp.Rational(3, 10) for v in net.variables}
        assert all(sp.N(d[p].subs(point)).is_finite for p in net.params)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
@pytest.mark.parametrize("layers, activation, loss, layer", [
    ([2, 2, 1], "softmax", "half_sse", 2),
    ([2, 1], "softmax", "cross_entropy", 1),
    ([2, 1, 3], ["softmax", "softmax"], "cross_entropy", 1),
    ([3, 1, 2], ["softmax", "sigmoid"], "bce", 1),
])
def test_a_softmax_of_one_unit_is_refused_in_one_line(layers, activation, loss, layer, form):
    message = rf"^softmax needs at least 2 units in its layer \(the softmax of one unit is always 1\): layer {layer} has 1$"
    with pytest.raises(InputError, match=message):
        sb.mlp(layers, activation=activation, loss=loss, form=form)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_bce_after_softmax_is_refused_in_one_line_as_it_cannot_be_computed_stably(form):
    # Its delta (ŷ − y)/(ŷ(1 − ŷ)) divides by zero where float64 rounds a softmax output to 1.
    with pytest.raises(InputError, match=r"^loss bce after softmax cannot be computed stably: .*cross_entropy after softmax"):
        sb.mlp([2, 3, 2], activation=["tanh", "softmax"], loss="bce", form=form)


def test_a_softmax_of_two_units_or_more_is_taken():
    net = sb.mlp([2, 1, 2], activation=["sigmoid", "softmax"], loss="cross_entropy")
    assert len(net.outputs) == 2


def test_expressions_with_no_value_are_refused():
    x, y = sp.symbols("x y")
    for expr, words in [(x / sp.S.Zero, "1/0"), (sp.log(sp.S.Zero) * x, "1/0"), (x * sp.nan, "nan"), (x + sp.oo, "infinity")]:
        with pytest.raises(InputError, match=f"the expression is undefined: it contains .*{words}"):
            sb.Graph.from_expr(expr)
    with pytest.raises(TypeError):  # also a TypeError, as before
        sb.Graph.from_expr([x, y])


@pytest.mark.parametrize("expr, message", [
    (sp.Mod(sp.Symbol("x"), sp.Symbol("y")) * sp.Symbol("z"), r"cannot differentiate Mod\(x, y\) with respect to x: no derivative rule for Mod"),
    (sp.floor(sp.Symbol("x") ** 2) + sp.Symbol("y"), r"cannot differentiate floor\(x\*\*2\) with respect to x: no derivative rule for floor"),
    (sp.Function("g")(sp.Symbol("x")) * sp.Symbol("y"), r"cannot differentiate g\(x\) with respect to x: no derivative rule for g"),
])
def test_functions_without_a_derivative_rule_are_refused_by_name(expr, message):
    graph = sb.Graph.from_expr(expr)
    with pytest.raises(InputError, match=message):
        sb.backprop(graph)


def test_functions_without_a_derivative_rule_are_kept_where_nothing_differentiates_them():
    x, t = sp.symbols("x t")
    d = sb.backprop(x * sp.floor(t) + x**2, wrt=[x])  # t: an input, never differentiated
    assert d[x] == sp.floor(t) + 2 * x
    module = sb.compile(d)
    assert module.gradients([0.5], [2.7], []) == [3.0]


def test_unevaluated_operations_are_refused():
    x, t = sp.symbols("x t")
    for expr, kind in [(sp.Integral(t**2, (t, 0, x)), "Integral"), (sp.Sum(t * x, (t, 1, 3)), "Sum"),
                       (sp.Derivative(sp.sin(x), x) * t, "Derivative")]:
        with pytest.raises(InputError, match=f"the expression contains an unevaluated {kind}: evaluate it first"):
            sb.Graph.from_expr(expr)
    with pytest.raises(InputError, match="expected a scalar SymPy expression"):
        sb.Graph.from_expr(sp.Lambda(x, x))


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


def test_a_formula_as_text_is_read_by_the_parser():
    x, y = sp.symbols("x y")
    assert sb.Graph.from_expr("x*σ(y) + e^x").closed_steps()[sp.Symbol("f")] == x * sb.sigmoid(y) + sp.exp(x)
    assert sb.backprop("x*y")[y] == sp.diff(x * y, y)
    assert sb.gradcheck("log(x)*y + sqrt(y)").passed
    with pytest.raises(InputError, match="not allowed"):  # read, never run
        sb.backprop("x.__class__")


@pytest.mark.parametrize("expr", [sp.acos(2) * sp.Symbol("x"), sp.asin(2) + sp.Symbol("x"), sp.I * sp.Symbol("x"),
                                  "acos(2)*x", "asin(2) + x", "x*atanh(3)", "I*x", "x + inf", "nan*x", "oo - x", "zoo*x", "infinity*x"])
def test_constants_that_are_not_finite_real_numbers_are_refused(expr):
    with pytest.raises(InputError, match="not a finite real number|imaginary unit"):
        sb.Graph.from_expr(expr)


def test_a_network_too_large_for_the_per_weight_form_is_refused_before_it_is_built():
    from symbackprop.network import MAX_WEIGHTS
    with pytest.raises(InputError, match=f"network has 99,999,999,999,999,999,999 weights; .* at most {MAX_WEIGHTS:,} .*matrix form"):
        sb.mlp([99999999999999999999, 1])
    with pytest.raises(InputError, match="weights"):
        sb.mlp([MAX_WEIGHTS + 1, 1])
    assert len(sb.mlp([99999999999999999999, 1], form="matrix").params) == 2  # symbolic: any width


@pytest.mark.parametrize("other", [sp.Symbol("x", positive=True), sp.Dummy("x")])
def test_two_symbols_with_one_name_are_refused_not_merged(other):
    """SymPy keeps x and x (positive) apart; printed, generated and checked they would be one name."""
    x = sp.Symbol("x")
    with pytest.raises(InputError, match="two different symbols named 'x'"):
        sb.backprop(2 * x + other**2)
    with pytest.raises(InputError, match="two different symbols named 'x'"):
        sb.gradcheck(2 * x + other**2)


@pytest.mark.parametrize("bias", ["per_neuron", "per_layer", None])
def test_the_layers_mlp_builds_are_kept_on_the_graph(bias):
    net = sb.mlp([3, 2, 2], activation=["tanh", "softmax"], loss="cross_entropy", bias=bias)
    assert [layer.index for layer in net.layers] == [1, 2]
    assert [layer.activation for layer in net.layers] == ["tanh", "softmax"]
    previous = net.inputs
    for layer in net.layers:
        for row, b, z in zip(layer.weights, layer.biases, layer.pre_activations):
            assert net.step(z).expr == sum((w * a for w, a in zip(row, previous)), b)
        assert [net.step(a).layer for a in layer.activations] == [layer.index] * len(layer.activations)
        previous = layer.activations
    assert [w for layer in net.layers for row in layer.weights for w in row] == [p for p in net.params if p.name.startswith("w")]
    assert not sb.Graph.from_expr("x*y").layers
