"""Plain-text derivations stay bounded on large networks: the chain rule only where its paths are
few, closed forms only where short, each left-out form a one-line note; nothing fails for many paths."""

import pytest
import sympy as sp
from corpus import NETWORKS, network
from oracles import central_differences

import symbackprop as sb
from symbackprop.errors import InputError
from symbackprop.simplify import tree_size
from symbackprop.text import CHAIN_PATHS, CLOSED_FORM_NODES, chain_parameters, derivation_text, gradient_lines, path_count

SOFTMAX_4_8_8_3 = dict(layers=[4, 8, 8, 3], activation=["sigmoid", "sigmoid", "softmax"], loss="cross_entropy")
DEEP_1_5X7_1 = dict(layers=[1, 5, 5, 5, 5, 5, 5, 5, 1])


@pytest.mark.parametrize("name", list(NETWORKS))
def test_the_path_count_is_the_number_of_paths_the_chain_rule_sums(name):
    d = sb.backprop(network(name))
    for p in d.wrt:
        assert path_count(d, p) == len(d.chain(p).paths)


def test_a_deep_network_counts_its_paths_without_building_them():
    d = sb.backprop(sb.mlp(**DEEP_1_5X7_1))
    assert path_count(d, sp.Symbol("w1")) == 5**6  # one path through each choice of neuron in layers 2 to 7


def test_gradient_lines_never_fail_and_say_why_a_form_is_left_out():
    d = sb.backprop(sb.mlp(**DEEP_1_5X7_1))
    lines = gradient_lines(d, sp.Symbol("w1"))
    text = "\n".join(rhs for _, rhs in lines)
    assert "15625 chain-rule paths" in text and "delta form" in text
    assert f"{tree_size(d[sp.Symbol('w1')]):,} nodes" in text
    assert lines[1][1] == sb.text.plain(d.gradient(sp.Symbol("w1")))
    assert all(len(rhs) < 200 for _, rhs in lines)


@pytest.mark.parametrize("spec", [SOFTMAX_4_8_8_3, DEEP_1_5X7_1])
def test_the_default_derivation_text_of_a_large_network_is_short(spec):
    d = sb.backprop(sb.mlp(**spec))
    text = derivation_text(d)
    lines = text.splitlines()
    assert len(text) < 40_000 and max(map(len, lines)) < 400
    assert sum("Chain rule for" in line for line in lines) == 1
    assert sum(line.startswith("  ∂J/∂") for line in lines) >= len(d.wrt)  # every gradient, in the delta form


def test_the_chain_rule_for_every_parameter_stays_bounded_on_request():
    d = sb.backprop(sb.mlp(**SOFTMAX_4_8_8_3))
    text = derivation_text(d, show_chain=list(d.wrt))
    assert text.count("Chain rule for") == len(d.wrt)
    assert len(text) < 200_000 and max(map(len, text.splitlines())) < 1000
    assert text.count("closed form left out") == sum(tree_size(d[p]) > CLOSED_FORM_NODES for p in d.wrt)
    assert text.count("chain-rule paths, not written out") == sum(path_count(d, p) > CHAIN_PATHS for p in d.wrt)


def test_show_chain_takes_names():
    d = sb.backprop(network("2-2-2 sigmoid per_layer (Mazur)"))
    assert "Chain rule for w5" in derivation_text(d, show_chain="w5")
    assert "Chain rule for w1" in derivation_text(d, show_chain=["w1", "w6"])
    with pytest.raises(InputError, match="unknown name 'w9'"):
        derivation_text(d, show_chain="w9")
    with pytest.raises(InputError, match="no chain rule for z1: not a variable of this derivation"):
        derivation_text(d, show_chain="z1")


def test_a_short_closed_form_is_printed_and_is_the_derivative():
    net = network("2-2-1 tanh mse per_layer")
    d = sb.backprop(net)
    w1 = sp.Symbol("w1")
    printed = gradient_lines(d, w1)[-1][1]
    closed = sp.sympify(printed, locals={s.name: s for s in net.variables})
    loss = sp.lambdify(net.variables, net.closed_steps()[net.output])
    point = [0.3 + 0.1 * i for i in range(len(net.variables))]
    expected = central_differences(lambda v: loss(*v), point)[list(net.variables).index(w1)]
    assert float(closed.subs(dict(zip(net.variables, point)))) == pytest.approx(expected, rel=1e-6)


def test_documents_write_out_few_chains_per_layer_within_a_budget_of_paths():
    d = sb.backprop(sb.mlp(**SOFTMAX_4_8_8_3))
    shown = chain_parameters(d, max_paths=16, per_layer=4)
    by_layer: dict = {}
    for p in shown:
        layer = d.graph.step(d.consumers[p][0]).layer
        by_layer.setdefault(layer, []).append(path_count(d, p))
    assert 1 not in by_layer  # the first layer's weights sum 24 paths each
    for counts in by_layer.values():
        assert len(counts) <= 4 and (sum(counts) <= 16 or len(counts) == 1)
