"""The computational-graph picture: values, gradients and local derivatives, rendered by Graphviz."""

import itertools
import json

import numpy as np
import pytest
import sympy as sp
from corpus import NETWORKS, network, random_point
from oracles import central_differences, needs_graphviz

import symbackprop as sb
from symbackprop import cli
from symbackprop.errors import InputError, MissingTool
from symbackprop.graph import picture
from symbackprop.network import BIAS_MODES
from symbackprop.primitives import ACTIVATIONS, LOSSES
from symbackprop.text import printer_for

x, y = sp.symbols("x y")
CS231N = (x + sb.sigmoid(y)) / (sb.sigmoid(x) + (x + y) ** 2)


def labels(dot):
    return {line.split('"')[1]: line for line in dot.splitlines() if "[label=" in line and "->" not in line}


def test_the_cs231n_example_carries_its_published_numbers():
    dot = picture(CS231N, {"x": 3, "y": -4}).dot
    nodes = labels(dot)
    assert "value 1.546" in nodes["f"] and "∂f/∂x 2.06" in nodes["x"] and "∂f/∂y 1.592" in nodes["y"]
    assert '"v1" -> "v2" [label="∂v2/∂v1 -2"];' in dot  # v2 = v1², v1 = x + y = -1


def test_a_network_draws_layers_as_clusters_with_every_gradient():
    net = sb.mlp([2, 2, 2], bias="per_layer")
    values = dict(w1=0.15, w2=0.20, w3=0.25, w4=0.30, w5=0.40, w6=0.45, w7=0.50, w8=0.55, b1=0.35, b2=0.60,
                  x1=0.05, x2=0.10, y1=0.01, y2=0.99)
    dot = picture(net, values).dot
    assert "subgraph cluster_layer_1" in dot and "subgraph cluster_layer_2" in dot
    nodes = labels(dot)
    assert "∂J/∂w5 0.08217" in nodes["w5"] and "value 0.2984" in nodes["J"]
    assert len(nodes) == len(net.steps) + len(net.variables)
    assert dot.count(" -> ") == len(sb.backprop(net, wrt=list(net.variables)).partials)


def test_large_graphs_are_refused_with_a_clear_message():
    net = sb.mlp([4, 16, 16, 1])
    with pytest.raises(ValueError, match=r"the graph has \d+ nodes; pictures are drawn up to 150"):
        picture(net, {})


def test_values_are_checked():
    with pytest.raises(ValueError, match="values are missing for y"):
        picture(CS231N, {"x": 1})


@needs_graphviz
def test_rendered_to_svg_and_png(tmp_path):
    drawing = picture(CS231N, {"x": 3, "y": -4})
    assert drawing.svg().lstrip().startswith("<?xml") and "1.546" in drawing.svg()
    assert drawing.save(tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(FileExistsError):
        drawing.save(tmp_path / "g.png")
    with pytest.raises(ValueError, match="cannot tell the format"):
        drawing.save(tmp_path / "g.xyz")


@needs_graphviz
def test_the_graph_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "xy.json").write_text(json.dumps({"x": 3, "y": -4}))
    expr = "(x + sigmoid(y)) / (sigmoid(x) + (x + y)**2)"
    assert cli.main(["graph", "--expr", expr, "--values", "xy.json", "-o", "graph.png"]) == 0
    assert (tmp_path / "graph.png").read_bytes().startswith(b"\x89PNG")
    assert cli.main(["graph", "--expr", expr, "--values", "xy.json"]) == 0
    assert capsys.readouterr().out.count("digraph") == 1
    assert cli.main(["graph", "--layers", "4,16,16,1", "--values", "xy.json"]) == 2


def gradients_drawn(dot, output="J"):
    """Each node's name → the ∂output/∂node its label shows."""
    found = {}
    for name, line in labels(dot).items():
        marker = f"∂{output}/∂{name} "
        found[name] = float(line.split(marker)[1].split("\\n")[0].split('"')[0])
    return found


def near_domain_values(graph):
    """Values inside every activation's and loss's domain: outputs in (0, 1), no ReLU on its kink,
    targets a probability vector."""
    values = {v.name: 0.3 + 0.1 * i for i, v in enumerate(graph.inputs)}
    values.update({p.name: 0.05 if p.name.startswith("b") else 0.1 + 0.05 * i for i, p in enumerate(graph.params)})
    values.update({t.name: share for t, share in zip(graph.targets, (0.25, 0.75))})
    return values


@pytest.mark.parametrize("activation, loss, bias", list(itertools.product(ACTIVATIONS, LOSSES, BIAS_MODES)))
def test_every_network_draws_with_gradients_that_match_finite_differences(activation, loss, bias):
    try:
        net = sb.mlp([2, 2], activation=activation, loss=loss, bias=bias)
    except InputError:
        pytest.skip("a combination the library refuses")
    values = near_domain_values(net)
    dot = picture(net, values).dot
    drawn = gradients_drawn(dot)
    shown = printer_for(net).doprint  # the library's names: ŷ for the output
    assert set(drawn) == {shown(s) for s in net.variables} | {shown(s.symbol) for s in net.steps}
    loss_at = sp.lambdify(net.variables, net.closed_steps()[net.output])
    point = [values[v.name] for v in net.variables]
    numeric = central_differences(lambda p: loss_at(*p), point)
    for v, expected in zip(net.variables, numeric):
        assert drawn[v.name] == pytest.approx(expected, rel=2e-3, abs=1e-6), v


def test_a_fused_softmax_cross_entropy_network_draws_its_fused_delta():
    net = sb.mlp([2, 2], activation="softmax", loss="cross_entropy")
    values = near_domain_values(net)
    dot = picture(net, values).dot
    drawn = gradients_drawn(dot)
    table = {**{sp.Symbol(k): v for k, v in values.items()}}
    a = [float(s.expr.xreplace(net.closed_steps()).xreplace(table).evalf()) for s in net.steps if s.symbol.name.startswith("a")]
    # the fused rule: ∂J/∂z_k = ŷ_k − y_k; the true ∂J/∂ŷ_k = −y_k/ŷ_k drawn on the skipped steps
    assert drawn["z1"] == pytest.approx(a[0] - 0.25, rel=1e-3) and drawn["z2"] == pytest.approx(a[1] - 0.75, rel=1e-3)
    assert drawn[printer_for(net).doprint(sp.Symbol("a1"))] == pytest.approx(-0.25 / a[0], rel=1e-3)
    dashed = [line for line in dot.splitlines() if "->" in line and "style=dashed" in line]
    assert len(dashed) == 6  # z1, z2 into a1, a2 (4) and a1, a2 into J (2): the edges the fused rule replaces
    assert "fused" in labels(dot)["z1"]


def test_the_graph_command_draws_a_softmax_cross_entropy_network(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    values = near_domain_values(sb.mlp([2, 2], activation="softmax", loss="cross_entropy"))
    (tmp_path / "v.json").write_text(json.dumps(values))
    argv = ["graph", "--layers", "2,2", "--activation", "softmax", "--loss", "cross_entropy", "--values", "v.json"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("digraph")


def test_an_expression_draws_the_gradients_of_sympy_diff():
    expr = sp.exp(x) * sp.cos(y) / (1 + x**2)
    drawn = gradients_drawn(picture(expr, {"x": 0.4, "y": 1.1}).dot, output="f")
    for v in (x, y):
        assert drawn[v.name] == pytest.approx(float(sp.diff(expr, v).subs({x: 0.4, y: 1.1})), rel=1e-3)


@pytest.mark.parametrize("values, where", [({"x": 0, "y": 1}, "x = 0"), ({"x": -2, "y": 1}, "x = -2")])
def test_a_point_outside_the_domain_names_the_variable_and_the_step(values, where):
    with pytest.raises(InputError, match=rf"^y\*log\(x\) is undefined at {where} \(step v\d = log\(x\)\)$"):
        picture(sp.log(x) * y, values)


def test_a_network_in_matrix_form_is_drawn_with_its_shapes_and_at_values_with_its_numbers():
    d = sb.backprop(sb.mlp([2, 2, 1], form="matrix"))
    drawing = picture(d)
    assert "the 2-2-1 network in matrix form" in drawing.dot and "n_1×m" in drawing.dot and "δ_Z_1" in drawing.dot
    values = {"X": [[0.5, -1.0], [2.0, 0.25]], "Y": [[1.0, 0.0]], "W_1": [[0.1, 0.2], [0.3, -0.4]], "b_1": [[0.1], [0.2]],
              "W_2": [[0.7, -0.8]], "b_2": [[0.1]]}
    module = sb.compile(d)
    J = module.loss([np.array(values[name]) for name in module.PARAMETERS], np.array(values["X"]).T, np.array(values["Y"]).T)
    assert f"{J:.4g}" in picture(d, values).dot


def test_without_graphviz_dot_files_are_written_and_other_formats_say_how_to_install(tmp_path, monkeypatch):
    drawing = picture(CS231N, {"x": 3, "y": -4})
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    with pytest.raises(MissingTool, match=r"apt-get install graphviz.*\.dot") as error:
        drawing.save(tmp_path / "g.svg")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "g.svg").exists()
    assert drawing.save(tmp_path / "g.dot").read_text(encoding="utf-8") == drawing.dot
    bundle = drawing._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and bundle["text/plain"].startswith(drawing.dot) and "apt-get install graphviz" in bundle["text/plain"]


@needs_graphviz
def test_rendered_in_any_graphviz_format_and_shown_as_svg_in_a_notebook(tmp_path):
    drawing = picture(CS231N, {"x": 3, "y": -4})
    assert drawing.save(tmp_path / "g.pdf").read_bytes().startswith(b"%PDF")
    assert drawing.save(tmp_path / "g.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    bundle = drawing._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"] and "1.546" in bundle["image/svg+xml"]


def test_a_format_graphviz_does_not_write_is_refused():
    with pytest.raises(InputError, match="Graphviz cannot write 'docx'"):
        picture(CS231N, {"x": 3, "y": -4}).render("docx")


@pytest.mark.parametrize("name", list(NETWORKS))
def test_every_corpus_network_draws_the_gradients_of_finite_differences(name):
    net = network(name)
    point = random_point(net.variables, seed=3, targets=net.targets if net.fused else ())
    values = {v.name: float(point[v]) for v in net.variables}
    drawn = gradients_drawn(picture(net, values).dot)
    loss_at = sp.lambdify(net.variables, net.closed_steps()[net.output])
    numeric = central_differences(lambda p: loss_at(*p), [values[v.name] for v in net.variables])
    for v, expected in zip(net.variables, numeric):
        assert drawn[v.name] == pytest.approx(expected, rel=2e-3, abs=1e-6), v


@needs_graphviz
@pytest.mark.parametrize("name", ["a\x00b", "a\x07b", 'a"b', "a\\b", "a\tb"])
def test_a_name_with_control_characters_or_quotes_draws(name):
    """NUL ends a DOT file early: control characters are shown escaped, and the picture draws."""
    x, y = sp.Symbol(name), sp.Symbol("y")
    drawing = sb.picture(x * y, {name: 0.5, "y": 2.0})
    assert "\x00" not in drawing.dot and drawing.svg().lstrip().startswith(("<?xml", "<svg"))


# ------------------------------------------------------------------------------------------
# A graph of matrix steps.

n, m, k = sp.symbols("n m k", integer=True, positive=True)
X, W, Y = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("W", m, k), sp.MatrixSymbol("Y", n, k)
LEAST_SQUARES = sp.trace((X * W - Y).T * (X * W - Y))


def test_a_graph_of_matrix_steps_shows_each_shape_and_delta():
    d = sb.backprop(LEAST_SQUARES, wrt=[W])
    nodes = labels(picture(d).dot)
    assert set(nodes) == {printer_for(d).doprint(s) for s in [*d.graph.variables, *(s.symbol for s in d.graph.steps)]}
    assert "\\nm×k\\n" in nodes["W"] and "\\nn×m" in nodes["X"] and "∂f/∂W = " in nodes["W"]
    for step in d.graph.steps:
        if isinstance(step.symbol, sp.MatrixExpr):
            assert "\\n%s×%s" % step.symbol.shape in nodes[printer_for(d).doprint(step.symbol)]
    shown_deltas = sum(label.count("δ_") for name, label in nodes.items() if name != "W")
    assert shown_deltas >= len(d.deltas)  # every named delta stands at its step
    assert picture(LEAST_SQUARES).dot.count("->") == picture(d).dot.count("->") > 0  # an expression draws as its derivation


def test_a_graph_of_matrix_steps_at_values_shows_their_numbers():
    values = {"X": [[1, 2], [3, 4], [5, 6]], "W": [[1], [-1]], "Y": [[1], [2], [3]]}
    nodes = labels(picture(LEAST_SQUARES, values, sizes={"n": 3, "m": 2, "k": 1}).dot)
    X_, W_, Y_ = (np.array(values[name], dtype=float) for name in "XWY")
    residual = X_ @ W_ - Y_
    expected = {"W": 2 * X_.T @ residual, "X": 2 * residual @ W_.T, "Y": -2 * residual}  # ∂‖XW − Y‖² by hand
    for name, gradient in expected.items():
        shown = nodes[name].split(f"∂f/∂{name} = ")[1].split(" = ")[-1].split('"')[0]
        assert np.array_equal(np.array(json.loads(shown)), gradient), name
    assert "value " + json.dumps(values["X"]) in nodes["X"]
    assert f"value {np.sum(residual**2):.4g}" in nodes["f"]
    assert picture(LEAST_SQUARES, values).dot == picture(LEAST_SQUARES, values, sizes={"n": 3, "m": 2, "k": 1}).dot  # sizes read


@needs_graphviz
def test_a_graph_of_matrix_steps_renders():
    svg = picture(sb.backprop(sp.log(sp.det(sp.MatrixSymbol("S", n, n))), wrt=[sp.MatrixSymbol("S", n, n)])).svg()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "n×n" in svg
