"""The derivation as plain text."""

import sympy as sp

import symbackprop as sb
from symbackprop import naming
from symbackprop.text import derivation_text


def test_expression_derivation_lists_steps_deltas_gradients_and_chain():
    x, y = sp.symbols("x y")
    text = derivation_text(sb.backprop(x * sb.sigmoid(y)), show_chain=y)
    assert text.splitlines()[0] == "Backpropagation through f = x*sigmoid(y)"
    assert "  v1 = sigmoid(y)\n  f = v1*x\n" in text
    assert "  ∂f/∂y = ∂f/∂v1 · ∂v1/∂y\n   = x · (v1*(1 - v1))\n   = δ_v1*v1*(1 - v1)\n   = x*(1 - sigmoid(y))*sigmoid(y)\n" in text


def test_a_weight_reached_through_two_neurons_shows_both_paths():
    net = sb.mlp([1, 2, 1], bias=None)
    text = derivation_text(sb.backprop(net))
    yhat = naming.text_names(net)[sp.Symbol("a3")]
    chain_line = next(line for line in text.splitlines() if line.startswith(f"  ∂J/∂w1 = ∂J/∂{yhat}"))
    assert chain_line.count("∂z3/∂a1") == 1 and " + " not in chain_line  # w1 feeds neuron 1 only
    text = derivation_text(sb.backprop(sb.mlp([1, 1, 2], bias=None)))
    chain_line = next(line for line in text.splitlines() if line.startswith("  ∂J/∂w1 = ∂J/∂"))
    assert chain_line.count(" + ") == 1  # w1 reaches J through both outputs
