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

from deepgrad.viz.graph import OP_SYMBOLS, GraphNode, caller_names, format_value
from deepgrad.viz.layout import render_svg
from deepgrad.viz.trace import Trace, _trace

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
        result = _trace(output, None, params, modules, True, precision, caller_names(2))
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


def _page(result: Trace, title: str | None, variables: list[str] | None, p: int) -> str:
    graph = result.graph
    nodes = graph.nodes
    edges = graph.edges
    incoming: dict[str, list[int]] = {node.id: [] for node in nodes}
    outgoing: dict[str, list[int]] = {node.id: [] for node in nodes}
    for index, (source, target, _position) in enumerate(edges):
        incoming[target.id].append(index)
        outgoing[source.id].append(index)
    out_edge = len(edges)  # the edge from the output node to the "f" marker
    inputs = [node for node in nodes if node.kind == "input"]
    if variables is not None:
        order = {name: i for i, name in enumerate(variables)}
        inputs.sort(key=lambda node: order.get(node.label, len(order)))

    steps: list[dict[str, Any]] = []
    reveal: dict[tuple[str, str], int] = {}

    # Forward: the inputs, then every op in evaluation order.
    steps.append(
        {
            "phase": "forward",
            "nodes": [node.id for node in nodes if node.kind in ("input", "const")],
            "heading": "The inputs",
            "formula": "The forward pass computes every node's value from its inputs, left to right.",
            "head": ["input", "value"],
            "rows": [[node.label, format_value(node.tensor.array, p)] for node in inputs],
        }
    )
    for node in nodes:
        if node.kind in ("input", "const"):
            reveal[("node-fwd", node.id)] = 0
            for index in outgoing[node.id]:
                reveal[("edge-value", str(index))] = 0
    for node in nodes:
        if node.kind not in ("op", "module"):
            continue
        k = len(steps)
        reveal[("node-fwd", node.id)] = k
        for index in outgoing[node.id]:
            reveal[("edge-value", str(index))] = k
        rows = [[_label(source), format_value(source.tensor.array, p)] for source in node.inputs]
        rows.append(["output", format_value(node.tensor.array, p)])
        steps.append(
            {
                "phase": "forward",
                "nodes": [node.id],
                "heading": f"{node.label}  {_label(node)}" if node.name else node.title,
                "formula": _forward_formula(node, p),
                "head": ["input / output", "value"],
                "rows": rows,
            }
        )
    reveal[("edge-value", str(out_edge))] = len(steps) - 1

    # Backward: start at the output with d f / d f = 1, then each node as the trace ran them.
    root = graph.root
    start = len(steps)
    reveal[("edge-grad", str(out_edge))] = start
    root_grad = graph.gradient(root)
    steps.append(
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
    for step in result.steps:
        for source, grad in zip(step.inputs, step.downstream):
            if grad is not None:
                uses.setdefault(source.id, []).append(grad)
    for step in result.steps:
        k = len(steps)
        node = step.node
        reveal[("node-bwd", node.id)] = k
        for index in incoming[node.id]:
            reveal[("edge-grad", str(index))] = k
        rows = []
        for position, source in enumerate(step.inputs):
            grad = step.downstream[position]
            if grad is None:
                continue
            local = "-" if step.local is None or step.local[position] is None else format_value(step.local[position], p)
            rows.append([_label(source), format_value(step.upstream, p), local, format_value(grad, p)])
        rows.extend([name, format_value(step.upstream, p), "-", format_value(g, p)] for name, g in step.params)
        parts = uses.get(node.id, [])
        if len(parts) > 1:
            summed = " + ".join(format_value(g, p) for g in parts)
            note = f"Its value is used {len(parts)} times, so the upstream gradient is the sum {summed}."
        else:
            note = "downstream = upstream \u00d7 local, for each input."
        steps.append(
            {
                "phase": "backward",
                "nodes": [node.id],
                "heading": f"{node.label}  {_label(node)}" if node.name else node.title,
                "formula": note,
                "head": ["input", "upstream", "\u00d7 local", "= downstream"],
                "rows": rows,
            }
        )
    done = len(steps)
    gradients = []
    for node in inputs:
        reveal[("node-grad", node.id)] = done
        grad = graph.gradient(node)
        gradients.append(
            [node.label, format_value(node.tensor.array, p), format_value(grad, p) if grad is not None else "-"]
        )
    for node in nodes:
        if node.kind in ("input", "const"):
            reveal[("node-bwd", node.id)] = done
    steps.append(
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

    edge_grads = dict(graph.edge_grads)
    edge_grads[("out", 0)] = root_grad
    svg = render_svg(graph, edge_grads=edge_grads, reveal=reveal, output_label="f", precision=p)
    page_title = title or (f"f = {root.name}" if root.name else "Computation graph")
    data = json.dumps(steps, ensure_ascii=False).replace("</", "<\\/")
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
