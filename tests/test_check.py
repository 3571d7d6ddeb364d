"""gradcheck: passes right gradients, catches wrong ones, reports kinks, checks directions."""

import types

import numpy as np
import pytest
from corpus import NETWORKS, network

import symbackprop as sb


@pytest.mark.parametrize("name", NETWORKS)
def test_right_gradients_pass_at_random_points(name):
    report = sb.gradcheck(sb.backprop(network(name)), seed=5)
    assert report.passed and {row.status for row in report.rows} <= {"pass", "kink"}
    assert [row.name for row in report.rows] == [p.name for p in network(name).params]


def test_defaults_are_as_strict_as_torch():
    report = sb.gradcheck(sb.mlp([1, 1]))
    assert (report.eps, report.atol, report.rtol) == (1e-6, 1e-5, 1e-3)


def broken(module, index, factor):
    """``module`` with one gradient entry scaled by ``factor``."""
    def loss_and_gradients(params, inputs, targets):
        J, g = module.loss_and_gradients(params, inputs, targets)
        g = np.array(g, dtype=float)
        g[index] *= factor
        return J, g
    return types.SimpleNamespace(**{k: getattr(module, k) for k in dir(module) if k.isupper()},
                                 loss=module.loss, loss_and_gradients=loss_and_gradients)


def test_a_wrong_gradient_is_caught_and_named():
    module = sb.compile(sb.backprop(sb.mlp([2, 2, 1])))
    report = sb.gradcheck(broken(module, 3, 1.01))
    assert not report.passed
    assert [row.name for row in report.rows if row.status == "fail"] == ["w4"]
    assert "some gradients do not match: 8 pass, 1 fail" in str(report)
    assert not sb.gradcheck(broken(module, 3, 1.01), directions=4).passed


def test_a_relu_exactly_on_its_kink_is_reported_as_a_kink():
    d = sb.backprop(sb.mlp([1, 1, 1], activation="relu"))  # z1 = w1*x1 + b1 = 0 below
    report = sb.gradcheck(d, params=[1.0, 0.5, -1.0, 0.2], inputs=[1.0], targets=[0.3])
    assert report.passed
    assert {row.name: row.status for row in report.rows} == {"w1": "kink", "w2": "pass", "b1": "kink", "b2": "pass"}


def test_random_directions_for_large_networks():
    report = sb.gradcheck(sb.mlp([4, 32, 32, 1], activation="tanh"), directions=6, seed=1)
    assert report.passed and len(report.rows) == 6 and report.rows[0].name == "direction 1"


def test_probability_targets_are_drawn_on_the_simplex():
    module = sb.compile(sb.backprop(sb.mlp([2, 3], activation="softmax", loss="cross_entropy")))
    assert module.PROBABILITY_TARGETS
    _, _, targets = sb.check.random_values(module, seed=3)
    assert targets.sum() == pytest.approx(1.0)


def test_matrix_form_networks_are_checked_through_a_flat_parameter_vector():
    d = sb.backprop(sb.mlp([3, 4, 2], activation=["tanh", "softmax"], loss="cross_entropy", form="matrix"))
    report = sb.gradcheck(d, seed=2)
    assert report.passed and len(report.rows) == 3 * 4 + 4 + 4 * 2 + 2
    assert report.rows[0].name == "W_1[0, 0]" and report.rows[-1].name == "b_2[1, 0]"
    module = sb.check.as_module(d)
    assert not sb.gradcheck(broken(module, 5, 1.01)).passed
    assert sb.gradcheck(sb.mlp([8, 16, 3], form="matrix"), directions=3).passed
