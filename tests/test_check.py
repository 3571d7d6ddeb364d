"""gradcheck: passes right gradients, catches wrong ones, reports kinks, checks directions."""

import types

import numpy as np
import pytest
import sympy as sp
from corpus import NETWORKS, network

import symbackprop as sb
from symbackprop.errors import InputError


@pytest.mark.parametrize("name", NETWORKS)
def test_right_gradients_pass_at_random_points(name):
    report = sb.gradcheck(sb.backprop(network(name)), seed=5)
    assert report.passed and {row.status for row in report.rows} <= {"pass", "kink", "zero"}
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
    # a1 = relu(0) = 0, so ∂J/∂w2 = δ·a1 is exactly 0 on both sides: it checks nothing
    assert {row.name: row.status for row in report.rows} == {"w1": "kink", "w2": "zero", "b1": "kink", "b2": "pass"}


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


def test_random_points_are_drawn_inside_the_domain():
    x, y = sp.symbols("x y")
    f = sp.log(x) * y + sp.sqrt(y) + sp.log(1 - x)  # defined on 0 < x < 1, y >= 0 only
    for seed in range(5):
        report = sb.gradcheck(f, seed=seed)
        point = {name: value for _, values in report.point for name, value in values}
        assert report.passed and 0 < point["x"] < 1 and point["y"] > 0
        assert sp.re(f.subs({x: point["x"], y: point["y"]}).evalf()).is_finite


def test_a_function_defined_nowhere_asks_for_values():
    x = sp.Symbol("x")
    with pytest.raises(sb.errors.InputError, match="no random point inside the function's domain.*values"):
        sb.gradcheck(sp.log(-1 - x**2))
    with pytest.raises(sb.errors.InputError, match="not defined .* at the given values"):
        sb.gradcheck(sp.log(x), params=[-1.0], inputs=[], targets=[])


def test_the_report_says_where_it_checked_compactly_for_large_networks():
    net = sb.mlp([3, 5, 2])
    report = sb.gradcheck(net, seed=2)
    groups = dict(report.point)
    assert [name for name, _ in groups["parameters"]] == [p.name for p in net.params]
    assert [name for name, _ in groups["inputs"]] == ["x1", "x2", "x3"]
    first = str(report).splitlines()[0]
    assert first.startswith("checked at inputs: x1 = ") and f"({len(net.params)} in all)" in first
    assert first.count(" = ") == 3 + 2 + sb.check.POINT_SHOWN  # every input and target, a few parameters


def dead_relu_values():
    """1-2-1 ReLU network whose first hidden unit is dead (z1 = −2) and second alive (z2 = 1)."""
    return {"params": [-1.0, 1.0, 1.0, 1.0, -1.0, 0.0, 0.1], "inputs": [1.0], "targets": [0.3]}


def test_zero_gradients_are_counted_apart_and_explained():
    net = sb.mlp([1, 2, 1], activation="relu")
    assert [p.name for p in net.params] == ["w1", "w2", "w3", "w4", "b1", "b2", "b3"]
    report = sb.gradcheck(net, **dead_relu_values())
    status = {row.name: row.status for row in report.rows}
    # the dead unit's own weight and bias, and the weight it feeds through, have gradient 0
    assert [name for name, s in status.items() if s == "zero"] == ["w1", "w3", "b1"]
    assert report.passed and report.counts()["zero"] == 3
    text = str(report)
    assert "all gradients match: 4 pass, 0 fail, 0 on a kink, 3 zero" in text
    assert "a zero gradient checks nothing" in text and "seed" in text


def test_a_report_with_only_zero_gradients_does_not_say_they_match():
    report = sb.gradcheck(sb.mlp([1, 1], activation="relu"), params=[-1.0, -1.0], inputs=[1.0], targets=[0.5])
    assert {row.status for row in report.rows} == {"zero"}
    assert "nothing was checked" in str(report) and "all gradients match" not in str(report)


def test_the_report_displays_as_a_table_in_notebooks():
    report = sb.gradcheck(sb.mlp([1, 2, 1], activation="relu"), **dead_relu_values())
    html = report._repr_html_()
    assert html.count("<tr>") == len(report.rows) + 1 and "<table>" in html
    assert "checked at" in html and "a zero gradient checks nothing" in html


@pytest.mark.parametrize("options, message", [
    ({"eps": 0}, "eps must be a number from 1e-12 to 1, got 0"),
    ({"eps": -1e-6}, "eps must be a number from 1e-12 to 1"),
    ({"eps": 5e-324}, "eps must be a number from 1e-12 to 1"),
    ({"eps": 10}, "eps must be a number from 1e-12 to 1"),
    ({"eps": float("nan")}, "eps must be"),
    ({"atol": -1}, "atol must be a finite number >= 0"),
    ({"rtol": float("inf")}, "rtol must be"),
    ({"directions": 0}, "directions must be a whole number from 1 to 10,000"),
    ({"directions": -3}, "directions must be"),
    ({"directions": 2.5}, "directions must be"),
    ({"directions": 10**12}, "directions must be a whole number from 1 to 10,000"),
])
def test_settings_that_would_check_nothing_or_crash_are_refused(options, message):
    with pytest.raises(sb.errors.InputError, match=message):
        sb.gradcheck(sb.mlp([2, 1]), **options)


def test_a_large_report_prints_the_rows_that_matter_and_counts_the_rest():
    net = sb.mlp([2, 6, 6, 1], activation=["relu", "relu", "sigmoid"])
    report = sb.gradcheck(net, seed=1)
    assert len(report.rows) == len(net.params) > sb.check.ROWS_SHOWN
    text = str(report)
    table = [line for line in text.splitlines() if line.split(" ", 1)[0] in {p.name for p in net.params}]
    assert len(table) == sb.check.ROWS_SHOWN
    notable = [row.name for row in report.rows if row.status != "pass"]
    assert [line.split()[0] for line in table[:len(notable)]] == notable[:sb.check.ROWS_SHOWN]
    left = len(report.rows) - sb.check.ROWS_SHOWN
    assert f"… {left} more" in text and "report.rows holds them all" in text
    assert report._repr_html_().count("<tr>") == sb.check.ROWS_SHOWN + 2  # the header, the rows, the count


def test_a_report_that_checked_nothing_says_so_as_a_property():
    report = sb.gradcheck(sb.mlp([1, 1], activation="relu"), params=[-1.0, -1.0], inputs=[1.0], targets=[0.5])
    assert report.checked_nothing and report.passed
    assert not sb.gradcheck(sb.mlp([2, 1])).checked_nothing


@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_probability_targets_that_are_not_a_probability_vector_are_refused(form):
    net = sb.mlp([2, 2], activation="softmax", loss="cross_entropy", form=form)
    with pytest.raises(sb.errors.InputError, match=r"sum to 1 \(a probability vector\); y1 \+ y2 = 0.6"):
        sb.gradcheck(net, targets=[0.3, 0.3])
    with pytest.raises(sb.errors.InputError, match="not negative .*y2 = -0.5"):
        sb.gradcheck(net, targets=[1.5, -0.5])
    assert sb.gradcheck(net, targets=[0.25, 0.75]).passed


def test_an_expression_is_named_by_its_output_not_as_a_loss():
    x = sp.Symbol("x")
    with pytest.raises(sb.errors.InputError) as error:
        sb.gradcheck(sp.sqrt(x), params=[-1.0], inputs=[], targets=[])
    assert str(error.value).startswith("f or its gradient is not defined") and "loss" not in str(error.value)


def test_a_matrix_network_too_wide_to_hold_in_memory_is_refused_before_any_array_is_made():
    from symbackprop.check import MAX_CHECKED
    wide = sb.mlp([99999999999999999999, 1], form="matrix")
    with pytest.raises(sb.errors.InputError, match=f"at most {MAX_CHECKED:,}, and this network has 200,000,000,000,000,000,000"):
        sb.gradcheck(wide, directions=2)


def test_the_step_is_relative_to_the_parameter_so_large_values_check_right():
    """At x = 1e10 a step of 1e-6 is lost in rounding (x ± 1e-6 == x): the step scales with |x|."""
    report = sb.gradcheck("x*sigmoid(y)", params=[1e10, 0.5])
    assert report.passed and {row.status for row in report.rows} == {"pass"}


@pytest.mark.parametrize("params, message", [
    ([True, 0.25], r"the value of x must be a number, got a boolean \(true\)"),
    ([0.5], r"params must hold 2 values \(x, y\); got 1"),
    ([0.5, 0.2, 0.1], r"params must hold 2 values \(x, y\); got 3"),
    ([[0.5], 0.25], "the value of x must be a number, got a list"),
    ([[0.5, 0.25]], r"params must hold 2 values \(x, y\); got an array of shape 1×2"),
    (0.5, r"params must hold 2 values \(x, y\); got one number"),
])
def test_given_values_of_the_wrong_kind_or_count_are_named(params, message):
    with pytest.raises(sb.errors.InputError, match=message):
        sb.gradcheck("x*sigmoid(y)", params=params)


# ----------------------------------------------------------------------- functions of matrices
n_, m_ = sp.symbols("n m", integer=True, positive=True)
X_, W_, Y_ = sp.MatrixSymbol("X", n_, m_), sp.MatrixSymbol("W", m_, 1), sp.MatrixSymbol("Y", n_, 1)
LEAST_SQUARES = sp.trace((X_ * W_ - Y_).T * (X_ * W_ - Y_))


def test_a_matrix_derivation_is_checked_entry_by_entry_at_small_sizes():
    report = sb.gradcheck(sb.backprop(LEAST_SQUARES, wrt=[W_]), seed=2)
    assert report.passed and [row.name for row in report.rows] == ["W[0, 0]", "W[1, 0]"]  # m = 2, n = 3: by name
    bigger = sb.gradcheck(sb.backprop(LEAST_SQUARES, wrt=[W_]), sizes={"m": 4, n_: 5})
    assert bigger.passed and len(bigger.rows) == 4 and "X[4, 3]" in dict(dict(bigger.point)["inputs"])


def test_log_det_is_checked_where_it_is_defined():
    S = sp.MatrixSymbol("S", n_, n_)
    report = sb.gradcheck(sp.log(sp.det(S)), seed=1)  # random S made diagonally dominant: det S > 0
    assert report.passed and len(report.rows) == 4


def test_a_wrong_matrix_gradient_is_caught_and_named():
    module = sb.compile(sb.backprop(LEAST_SQUARES, wrt=[W_]))

    def loss_and_gradients(params, inputs):
        J, (g,) = module.loss_and_gradients(params, inputs)
        g = g.copy()
        g[1, 0] *= 1.01
        return J, [g]
    wrong = types.SimpleNamespace(**{k: getattr(module, k) for k in ("PARAMETERS", "INPUTS", "SHAPES", "SIZES")},
                                  loss=module.loss, loss_and_gradients=loss_and_gradients)
    report = sb.gradcheck(wrong)
    assert [row.name for row in report.rows if row.status == "fail"] == ["W[1, 0]"]


@pytest.mark.parametrize(("target", "sizes", "message"), [
    (LEAST_SQUARES, {"k": 2}, "unknown size k: the sizes of this function are m, n"),
    (LEAST_SQUARES, {"n": 0}, "size n must be a whole number >= 1, got 0"),
    (LEAST_SQUARES, {"n": 2.5}, "size n must be a whole number >= 1, got 2.5"),
    (sb.mlp([1, 1]), {"n": 2}, "sizes are for functions of matrices; this one has none"),
])
def test_sizes_are_checked(target, sizes, message):
    with pytest.raises(InputError, match=f"^{message}$"):
        sb.gradcheck(target, sizes=sizes)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_a_batch_is_checked_and_its_targets_held_to_the_loss_row_by_row(form):
    d = sb.backprop(sb.mlp([3, 2], activation="softmax", loss="cross_entropy", form=form))
    inputs, targets = [[0.1, 0.2, 0.3], [0.3, 0.2, -0.1]], [[1.0, 0.0], [0.25, 0.75]]
    report = sb.gradcheck(d, inputs=inputs, targets=targets)
    assert report.passed and "x1[1] = 0.3" in report.point_text()
    with pytest.raises(InputError, match=r"sum to 1 \(a probability vector\); row 1: y1 \+ y2 = 1.1$"):
        sb.gradcheck(d, inputs=inputs, targets=[[1.0, 0.0], [0.5, 0.6]])
