"""deepgrad.viz.graph: DOT text (exact nodes and edges), naming, rendering through Graphviz, layer collapsing."""

import importlib
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.viz import Graph, GraphvizNotFoundError, graph, record_modules, trace

# deepgrad.viz.graph is also the name of the function, so reach the module itself through importlib.
graph_module = importlib.import_module("deepgrad.viz.graph")

F64 = dg.float64
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def parse_dot(source):
    """{id: label lines} and the multiset of (source label, target label) edges of our DOT output."""
    nodes = {m[0]: m[1].split("\\n") for m in re.findall(r'^\s+(n\d+) \[label="((?:[^"\\]|\\.)*)"', source, re.M)}
    edges = re.findall(r"^\s+(n\d+) -> (n\d+);$", source, re.M)
    return nodes, edges


def lecture_graph():
    x = dg.tensor(2.0, dtype=F64, requires_grad=True)
    y = dg.tensor(3.0, dtype=F64, requires_grad=True)
    z = dg.tensor(-2.0, dtype=F64, requires_grad=True)
    return x, y, z, z * (x + y)


def test_dot_nodes_and_edges_exactly():
    x, y, z, out = lecture_graph()
    g = graph(out, params={"x": x, "y": y, "z": z})
    nodes, edges = parse_dot(g.source)
    assert nodes == {
        "n0": ["z", "-2.00"],
        "n1": ["x", "2.00"],
        "n2": ["y", "3.00"],
        "n3": ["add", "5.00"],
        "n4": ["mul", "out", "-10.00"],
    }
    assert sorted(edges) == sorted([("n1", "n3"), ("n2", "n3"), ("n0", "n4"), ("n3", "n4")])
    assert g.source.startswith("digraph deepgrad {") and g.source.rstrip().endswith("}")
    assert "rankdir=LR" in g.source
    assert [n.kind for n in g.nodes] == ["input", "input", "input", "op", "op"]
    assert g.root.fn is out.grad_fn and g.node_of(x).label == "x"


def test_gradients_appear_after_backward_and_after_trace():
    x, y, z, out = lecture_graph()
    out.backward(retain_graph=True)
    nodes, _ = parse_dot(graph(out).source)
    by_label = {lines[0]: lines for lines in nodes.values()}
    assert by_label["x"] == ["x", "2.00", "grad -2.00"]
    assert by_label["z"] == ["z", "-2.00", "grad 5.00"]
    assert by_label["add"] == ["add", "5.00"]  # intermediate gradients are not kept by backward
    x, y, z, out = lecture_graph()
    t = trace(out)
    nodes, _ = parse_dot(graph(t).source)
    by_label = {lines[0]: lines for lines in nodes.values()}
    assert by_label["add"] == ["add", "5.00", "grad -2.00"]
    assert by_label["mul"] == ["mul", "out", "-10.00", "grad 1.00"]


def test_leaf_naming_precedence():
    a = dg.tensor(1.0, requires_grad=True)
    b = dg.tensor(2.0, requires_grad=True)
    c = dg.tensor(3.0, requires_grad=True)
    c.name = "named"
    out = a * b + c
    labels = [n.label for n in graph(out, params={"given": a}).nodes if n.kind == "input"]
    assert labels == ["given", "b", "named"]  # params, then the caller's variable, then tensor.name
    labels = [n.label for n in graph(out, params=[("p0", a), ("p1", b)]).nodes if n.kind == "input"]
    assert labels == ["p0", "p1", "named"]


def test_constants_and_tensors_in_labels():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    big = dg.ones(4, 5, requires_grad=True)
    out = (x * 2).sum() + (big @ dg.ones(5)).sum()
    nodes, _ = parse_dot(graph(out).source)
    labels = list(nodes.values())
    assert ["x", "(3)", "[1.00, 2.00, 3.00]"] in labels
    assert ["big", "(4, 5)"] in labels  # too many numbers: only the shape
    assert ["2"] in labels  # a scalar constant shows its value


def test_shared_value_has_one_node_and_two_edges():
    x = dg.tensor(3.0, requires_grad=True)
    out = x * x
    g = graph(out)
    assert len(g.nodes) == 2
    _, edges = parse_dot(g.source)
    assert edges == [("n0", "n1"), ("n0", "n1")]


def test_deep_chain_is_walked_iteratively():
    x = dg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    g = graph(y)
    assert len(g.nodes) == 20_001  # x, 10,000 constants, 10,000 muls
    assert g.nodes[0].kind == "input"


def test_errors():
    x = dg.tensor(2.0, requires_grad=True)
    y = x.exp() * 3
    y.backward()
    with pytest.raises(RuntimeError, match="freed by backward.*retain_graph=True"):
        graph(y)
    with pytest.raises(TypeError, match="expected a Tensor, got list"):
        graph([1, 2])
    with pytest.raises(TypeError, match="params"):
        graph(x * 2, params=[x])
    with pytest.raises(TypeError, match=r"params\['a'\] is a int"):
        graph(x * 2, params={"a": 3})


def test_render_dot_text_without_graphviz(tmp_path, monkeypatch):
    *_, out = lecture_graph()
    g = graph(out)
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    path = g.render(tmp_path / "g.dot")
    assert path.read_text() == g.source
    with pytest.raises(GraphvizNotFoundError, match=r"dot.*not on PATH.*graphviz.*apt-get install graphviz"):
        g.render(tmp_path / "g.svg")
    with pytest.raises(ValueError, match="unknown format 'jpg'"):
        g.render(tmp_path / "g.jpg")


def test_own_svg_when_graphviz_is_missing(monkeypatch):
    x, y, z, out = lecture_graph()
    t = trace(out)
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    svg = t.graph._repr_svg_()
    root = ET.fromstring(svg)
    texts = [el.text for el in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"x", "y", "z", "+", "\u00d7"} <= set(texts)
    assert {"2.00", "5.00", "-2.00"} <= set(texts)  # forward values and gradients on the edges
    bundle = t.graph._repr_mimebundle_()
    assert bundle["image/svg+xml"] == svg and "Graph" in bundle["text/plain"]


@needs_dot
def test_render_svg_and_png_with_graphviz(tmp_path):
    x, y, z, out = lecture_graph()
    t = trace(out)
    g = graph(t)
    svg_path = g.render(tmp_path / "g.svg")
    root = ET.fromstring(svg_path.read_text())
    texts = {el.text for el in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"x", "add", "mul", "grad -2.00", "grad 5.00"} <= texts
    png = g.render(tmp_path / "g.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert g._repr_svg_().lstrip().startswith("<?xml")


def test_module_boundaries_collapse_into_layers():
    pytest.importorskip("deepgrad.nn")
    from deepgrad import nn
    from deepgrad.models import MLP

    dg.manual_seed(0)
    model = MLP(784, [512, 256], 10)
    x = dg.randn(128, 784)
    target = dg.randint(0, 10, (128,))
    with record_modules(model) as layers:
        loss = nn.CrossEntropyLoss()(model(x), target)
    g = graph(loss, modules=layers)
    nodes, edges = parse_dot(g.source)
    assert [lines[0] for lines in nodes.values()] == [
        "x",
        "0 (Linear)",
        "1 (ReLU)",
        "2 (Linear)",
        "3 (ReLU)",
        "4 (Linear)",
        nodes["n6"][0],
    ]
    assert nodes["n1"] == ["0 (Linear)", "out (128, 512)", "weight (512, 784)", "bias (512)"]
    assert edges == [(f"n{i}", f"n{i + 1}") for i in range(6)]
    full = graph(loss, params=model.named_parameters())
    assert len(full.nodes) > len(g.nodes)  # the uncollapsed graph has every op and parameter
    assert [n.label for n in full.nodes if n.kind == "input"] == [name for name, _ in model.named_parameters()]
    assert not any(m._forward_hooks for m in model.modules())  # hooks removed on exit
    loss.backward(retain_graph=True)
    nodes, _ = parse_dot(graph(loss, modules=layers).source)
    assert nodes["n1"][2].startswith("weight (512, 784), grad norm ")


def test_record_modules_depth_and_shared_layer():
    pytest.importorskip("deepgrad.nn")
    from deepgrad import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(3, 3)
            self.act = nn.Tanh()

        def forward(self, x):
            return self.act(self.inner(x)) + x  # the residual add belongs to the block

    model = nn.Sequential(Block(), Block())
    x = dg.randn(2, 3)
    with record_modules(model, depth=1) as blocks:
        out = model(x).sum()
    labels = [n.title for n in graph(out, modules=blocks).nodes]
    assert labels == ["x", "0 (Block)", "1 (Block)", labels[-1]]
    with record_modules(model) as leaves:
        out = model(x).sum()
    titles = [n.title for n in graph(out, modules=leaves).nodes]
    assert titles[:3] == ["x", "0.inner (Linear)", "0.act (Tanh)"]
    assert any(t.startswith("add") for t in titles)  # the residual add stays an op between layers

    shared = nn.Linear(2, 2)
    with record_modules(shared) as calls:
        out = shared(shared(dg.randn(1, 2))).sum()
    nodes = graph(out, modules=calls, params=shared.named_parameters()).nodes
    # the weight and bias are used by both calls, so they stay visible as inputs of each
    assert [n.title for n in nodes[:5]] == ["const", "weight", "bias", "Linear (Linear)", "Linear (Linear)"]
    assert nodes[3].inputs == [nodes[0], nodes[1], nodes[2]]
    assert nodes[4].inputs == [nodes[3], nodes[1], nodes[2]]
    assert nodes[3].params == [] and nodes[4].params == []


def test_record_modules_rejects_non_modules():
    with pytest.raises(TypeError, match="expected a deepgrad.nn.Module, got int"):
        record_modules(3)


def test_graph_is_a_graph_object():
    *_, out = lecture_graph()
    g = graph(out)
    assert isinstance(g, Graph) and repr(g) == "<deepgrad.viz.Graph: 5 nodes, 4 edges>"
    assert np.isclose(float(g.root.tensor.array), -10.0)
