"""The computational-graph picture: values, gradients and local derivatives, rendered by Graphviz."""

import json

import pytest
import sympy as sp
from oracles import needs_graphviz

import symbackprop as sb
from symbackprop import cli
from symbackprop.graph import picture

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
    assert drawing._repr_svg_().lstrip().startswith("<?xml") and "1.546" in drawing.svg()
    assert drawing.save(tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(FileExistsError):
        drawing.save(tmp_path / "g.png")
    with pytest.raises(ValueError, match="cannot tell the format"):
        drawing.save(tmp_path / "g.jpg")


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
