"""A self-contained step-through page: the forward pass, then the backward pass, one node at a time.

One HTML file, no network and no server: the graph is drawn by deepgrad's own layout as inline SVG (no
Graphviz needed), the steps are embedded as JSON, and a few lines of inline JavaScript move through them
with the Next/Previous buttons or the arrow keys. Forward steps show each op's inputs and value; backward
steps show upstream x local = downstream for each input, as the trace prints; the last step lists the
gradient at every input.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from deepgrad.viz.format import OP_SYMBOLS, format_value
from deepgrad.viz.layout import render_svg
from deepgrad.viz.nodes import GraphNode, caller_names
from deepgrad.viz.trace import Trace, trace

_INFIX = {"add": "+", "sub": "\u2212", "mul": "\u00d7", "div": "\u00f7", "pow": "^"}


def html_page(
    output: Any,
    path: str | Path | None = None,
    *,
    title: str | None = None,
    variables: list[str] | None = None,
    params: Any = None,
    modules: Any = None,
    precision: int = 2,
) -> str:
    """The step-through page for ``output`` (a Tensor, traced here, or a ``Trace``); written to ``path`` if given.

    ``variables`` orders the gradient list of the last step (default: the inputs in graph order).

    >>> html_page(f, "f.html")   # doctest: +SKIP
    """
    if isinstance(output, Trace):
        result = output
    else:
        result = trace(output, params=params, modules=modules, precision=precision, names=caller_names(2))
    page = _page(result, title, variables, result.precision)
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
    return page


def _label(node: GraphNode) -> str:
    if node.kind == "op":
        return node.name or f"{node.label} ({node.id})"
    if node.kind == "module":
        return node.title
    return node.label if node.kind != "const" or node.name else format_value(node.tensor.array)


def _forward_formula(node: GraphNode, p: int) -> str:
    values = [format_value(source.tensor.array, p) for source in node.inputs]
    result = format_value(node.tensor.array, p)
    if node.kind == "module":
        return f"{node.title}: {', '.join(values)} \u2192 {result}"
    if node.label in _INFIX and len(values) == 2:
        return f"{values[0]} {_INFIX[node.label]} {values[1]} = {result}"
    if node.label == "neg":
        return f"\u2212({values[0]}) = {result}"
    return f"{node.label}({', '.join(values)}) = {result}"


class _Story:
    """The page's steps, and for each text and node of the picture the step at which it appears."""

    def __init__(self, result: Trace, p: int) -> None:
        self.result = result
        self.graph = result.graph
        self.p = p
        self.steps: list[dict[str, Any]] = []
        self.reveal: dict[tuple[str, str], int] = {}
        self.incoming: dict[str, list[int]] = {node.id: [] for node in self.graph.nodes}
        self.outgoing: dict[str, list[int]] = {node.id: [] for node in self.graph.nodes}
        for index, (source, target, _position) in enumerate(self.graph.edges):
            self.incoming[target.id].append(index)
            self.outgoing[source.id].append(index)
        self.out_edge = len(self.graph.edges)  # the edge from the output node to the "f" marker

    def show(self, kind: str, key: Any, step: int) -> None:
        self.reveal[(kind, str(key))] = step

    def forward(self, inputs: list[GraphNode]) -> None:
        """The inputs, then every op in evaluation order, each showing its value on its outgoing edges."""
        p = self.p
        self.steps.append(
            {
                "phase": "forward",
                "nodes": [node.id for node in self.graph.nodes if node.kind in ("input", "const")],
                "heading": "The inputs",
                "formula": "The forward pass computes every node's value from its inputs, left to right.",
                "head": ["input", "value"],
                "rows": [[node.label, format_value(node.tensor.array, p)] for node in inputs],
            }
        )
        for node in self.graph.nodes:
            if node.kind in ("input", "const"):
                self._evaluated(node, 0)
        for node in self.graph.nodes:
            if node.kind not in ("op", "module"):
                continue
            self._evaluated(node, len(self.steps))
            rows = [[_label(source), format_value(source.tensor.array, p)] for source in node.inputs]
            rows.append(["output", format_value(node.tensor.array, p)])
            self.steps.append(
                {
                    "phase": "forward",
                    "nodes": [node.id],
                    "heading": _heading(node),
                    "formula": _forward_formula(node, p),
                    "head": ["input / output", "value"],
                    "rows": rows,
                }
            )
        self.show("edge-value", self.out_edge, len(self.steps) - 1)

    def _evaluated(self, node: GraphNode, k: int) -> None:
        self.show("node-fwd", node.id, k)
        for index in self.outgoing[node.id]:
            self.show("edge-value", index, k)

    def backward(self) -> None:
        """Start at the output with d f / d f = 1, then each node as the trace ran them."""
        p = self.p
        root = self.graph.root
        root_grad = self.graph.gradient(root)
        self.show("edge-grad", self.out_edge, len(self.steps))
        self.steps.append(
            {
                "phase": "backward",
                "nodes": ["out", root.id],
                "heading": "Backward pass",
                "formula": f"It starts at the output: \u2202f/\u2202f = {format_value(root_grad, p)}. "
                "At every node: downstream = upstream \u00d7 local.",
                "head": ["", "gradient"],
                "rows": [["upstream at the output", format_value(root_grad, p)]],
            }
        )
        uses: dict[str, list[Any]] = {}
        for step in self.result.steps:
            for source, grad in zip(step.inputs, step.downstream):
                if grad is not None:
                    uses.setdefault(source.id, []).append(grad)
        for step in self.result.steps:
            k = len(self.steps)
            self.show("node-bwd", step.node.id, k)
            for index in self.incoming[step.node.id]:
                self.show("edge-grad", index, k)
            self.steps.append(
                {
                    "phase": "backward",
                    "nodes": [step.node.id],
                    "heading": _heading(step.node),
                    "formula": _sum_note(uses.get(step.node.id, []), p),
                    "head": ["input", "upstream", "\u00d7 local", "= downstream"],
                    "rows": _backward_rows(step, p),
                }
            )

    def done(self, inputs: list[GraphNode]) -> None:
        """The last step: the gradient at every input."""
        p = self.p
        k = len(self.steps)
        gradients = []
        for node in inputs:
            self.show("node-grad", node.id, k)
            grad = self.graph.gradient(node)
            gradients.append(
                [node.label, format_value(node.tensor.array, p), format_value(grad, p) if grad is not None else "-"]
            )
        for node in self.graph.nodes:
            if node.kind in ("input", "const"):
                self.show("node-bwd", node.id, k)
        self.steps.append(
            {
                "phase": "done",
                "nodes": [node.id for node in inputs],
                "heading": "The gradient at the inputs",
                "formula": "Each input's gradient is the sum of the gradients flowing back along its edges.",
                "head": ["input", "value", "gradient \u2202f/\u2202input"],
                "rows": gradients,
                "gradients": [[name, grad] for name, _value, grad in gradients],
            }
        )


def _heading(node: GraphNode) -> str:
    return f"{node.label}  {_label(node)}" if node.name else node.title


def _backward_rows(step: Any, p: int) -> list[list[str]]:
    """One row per input that receives a gradient (and per parameter of a layer): upstream x local = downstream."""
    rows = []
    for position, source in enumerate(step.inputs):
        grad = step.downstream[position]
        if grad is None:
            continue
        local = "-" if step.local is None or step.local[position] is None else format_value(step.local[position], p)
        rows.append([_label(source), format_value(step.upstream, p), local, format_value(grad, p)])
    rows.extend([name, format_value(step.upstream, p), "-", format_value(g, p)] for name, g in step.params)
    return rows


def _sum_note(parts: list[Any], p: int) -> str:
    """What a backward step says about its upstream: the sum over the value's uses, when there are several."""
    if len(parts) > 1:
        summed = " + ".join(format_value(g, p) for g in parts)
        return f"Its value is used {len(parts)} times, so the upstream gradient is the sum {summed}."
    return "downstream = upstream \u00d7 local, for each input."


def _page(result: Trace, title: str | None, variables: list[str] | None, p: int) -> str:
    graph = result.graph
    inputs = [node for node in graph.nodes if node.kind == "input"]
    if variables is not None:
        order = {name: i for i, name in enumerate(variables)}
        inputs.sort(key=lambda node: order.get(node.label, len(order)))
    story = _Story(result, p)
    story.forward(inputs)
    story.backward()
    story.done(inputs)

    root = graph.root
    edge_grads = dict(graph.edge_grads)
    edge_grads[("out", 0)] = graph.gradient(root)
    svg = render_svg(
        graph.nodes,
        node_grads=graph.gradients(),
        edge_grads=edge_grads,
        reveal=story.reveal,
        output_label="f",
        precision=p,
    )
    page_title = title or (f"f = {root.name}" if root.name else "Computation graph")
    data = json.dumps(story.steps, ensure_ascii=False).replace("</", "<\\/")
    table = escape(result.table(p))
    return _TEMPLATE.format(
        title=escape(page_title),
        svg=svg,
        steps=data,
        table=table,
        symbols=escape(", ".join(f"{k} {v}" for k, v in OP_SYMBOLS.items())),
        script=_SCRIPT,
        style=_STYLE,
    )


_STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0;
       background: #f8fafc; color: #111827; }
header { padding: 14px 24px 4px; }
h1 { font-size: 22px; margin: 0 0 4px; font-family: ui-monospace, Menlo, Consolas, monospace; }
header p { margin: 0; color: #4b5563; font-size: 14px; }
main { padding: 8px 24px 24px; }
#dg-graph { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px; overflow-x: auto; }
#dg-graph svg { display: block; margin: 0 auto; max-width: 100%; height: auto; }
.dg-hidden { visibility: hidden; }
.dg-graph .node.dg-pending circle, .dg-graph .node.dg-pending rect { stroke-dasharray: 4 3; opacity: 0.45; }
.dg-graph .node.dg-pending text { opacity: 0.45; }
.dg-graph .node.dg-back circle, .dg-graph .node.dg-back rect { stroke: #b91c1c; }
.dg-graph .node.dg-current circle, .dg-graph .node.dg-current rect { stroke: #f59e0b; stroke-width: 4;
       fill: #fffbeb; }
#dg-controls { display: flex; align-items: center; gap: 12px; margin: 14px 0 10px; }
#dg-controls button { font-size: 15px; padding: 6px 16px; border-radius: 6px; border: 1px solid #9ca3af;
       background: #fff; cursor: pointer; }
#dg-controls button:disabled { opacity: 0.4; cursor: default; }
#dg-counter { font-variant-numeric: tabular-nums; color: #374151; }
#dg-phase { font-weight: 600; padding: 2px 10px; border-radius: 12px; font-size: 13px; }
body[data-phase="forward"] #dg-phase { background: #dcfce7; color: #166534; }
body[data-phase="backward"] #dg-phase { background: #fee2e2; color: #991b1b; }
body[data-phase="done"] #dg-phase { background: #e0e7ff; color: #3730a3; }
#dg-panel { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px; }
#dg-heading { font-size: 18px; margin: 0 0 6px; font-family: ui-monospace, Menlo, Consolas, monospace; }
#dg-formula { margin: 0 0 10px; color: #374151; }
#dg-table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
#dg-table th, #dg-table td { padding: 4px 14px 4px 0; text-align: left; }
#dg-table th { color: #6b7280; font-weight: 600; font-size: 13px; border-bottom: 1px solid #e5e7eb; }
#dg-table td { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 15px; }
#dg-gradients { margin-top: 10px; font-size: 17px; font-weight: 600; color: #b91c1c;
       font-family: ui-monospace, Menlo, Consolas, monospace; }
details { margin-top: 14px; }
details pre { background: #fff; border: 1px solid #e5e7eb; padding: 10px; overflow-x: auto; font-size: 13px; }
.help { color: #6b7280; font-size: 13px; }
"""

_SCRIPT = """
(function () {
  "use strict";
  var steps = JSON.parse(document.getElementById("dg-steps").textContent);
  var svg = document.querySelector("#dg-graph svg");
  var timed = Array.prototype.slice.call(svg.querySelectorAll("[data-at]"));
  var nodes = Array.prototype.slice.call(svg.querySelectorAll("g.node"));
  var prev = document.getElementById("dg-prev"), next = document.getElementById("dg-next");
  var current = 0;
  function text(tag, value) { var el = document.createElement(tag); el.textContent = value; return el; }
  function show(k) {
    current = Math.max(0, Math.min(steps.length - 1, k));
    var s = steps[current];
    timed.forEach(function (el) { el.classList.toggle("dg-hidden", Number(el.dataset.at) > current); });
    nodes.forEach(function (g) {
      var f = g.dataset.fwd, b = g.dataset.bwd;
      g.classList.toggle("dg-pending", f !== undefined && Number(f) > current);
      g.classList.toggle("dg-back", b !== undefined && Number(b) <= current);
      g.classList.toggle("dg-current", s.nodes.indexOf(g.id) >= 0);
    });
    var forwardCount = steps.filter(function (t) { return t.phase === "forward"; }).length;
    var phase = s.phase === "forward" ? "Forward pass \\u00b7 step " + (current + 1) + " of " + forwardCount
      : s.phase === "backward" ? "Backward pass \\u00b7 step " + (current - forwardCount + 1) + " of "
        + (steps.length - forwardCount - 1)
      : "Done";
    document.getElementById("dg-phase").textContent = phase;
    document.getElementById("dg-heading").textContent = s.heading;
    document.getElementById("dg-formula").textContent = s.formula || "";
    var table = document.getElementById("dg-table");
    table.textContent = "";
    var head = document.createElement("tr");
    s.head.forEach(function (h) { head.appendChild(text("th", h)); });
    table.appendChild(head);
    s.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      row.forEach(function (cell) { tr.appendChild(text("td", cell)); });
      table.appendChild(tr);
    });
    var grads = document.getElementById("dg-gradients");
    grads.textContent = "";
    grads.hidden = !s.gradients;
    if (s.gradients) {
      s.gradients.forEach(function (pair, i) {
        var span = text("span", "\\u2202f/\\u2202" + pair[0] + " = " + pair[1]);
        span.dataset.variable = pair[0];
        span.className = "dg-gradient";
        if (i) { grads.appendChild(document.createTextNode(",  ")); }
        grads.appendChild(span);
      });
    }
    prev.disabled = current === 0;
    next.disabled = current === steps.length - 1;
    document.getElementById("dg-counter").textContent = (current + 1) + " / " + steps.length;
    document.body.dataset.phase = s.phase;
    document.body.dataset.step = String(current);
  }
  prev.addEventListener("click", function () { show(current - 1); });
  next.addEventListener("click", function () { show(current + 1); });
  document.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") { e.preventDefault(); show(current + 1); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); show(current - 1); }
    else if (e.key === "Home") { show(0); }
    else if (e.key === "End") { show(steps.length - 1); }
  });
  show(0);
})();
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} \u2014 deepgrad</title>
<style>{style}</style>
</head>
<body data-phase="forward" data-step="0">
<header>
<h1>{title}</h1>
<p>Forward values in <span style="color:#15803d">green</span> above the edges, gradients in
<span style="color:#b91c1c">red</span> below. Ops: {symbols}.</p>
</header>
<main>
<div id="dg-graph">
{svg}
</div>
<div id="dg-controls">
<button id="dg-prev" type="button">\u25c0 Previous</button>
<button id="dg-next" type="button">Next \u25b6</button>
<span id="dg-counter"></span>
<span id="dg-phase"></span>
<span class="help">keys: \u2190 \u2192 (Home, End)</span>
</div>
<section id="dg-panel" aria-live="polite">
<h2 id="dg-heading"></h2>
<p id="dg-formula"></p>
<table id="dg-table"></table>
<div id="dg-gradients" hidden></div>
</section>
<details><summary>The whole backward trace</summary><pre>{table}</pre></details>
</main>
<script type="application/json" id="dg-steps">{steps}</script>
<script>{script}</script>
</body>
</html>
"""
