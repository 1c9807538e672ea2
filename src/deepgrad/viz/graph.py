"""The computation graph behind a tensor as data (:class:`Graph`), with its rendering beside it.

``graph(output)`` collects the nodes behind ``output`` (see ``deepgrad.viz.nodes``) and returns a
:class:`Graph`: ``.source`` is the DOT text, ``.render(path)`` writes SVG/PNG/PDF through Graphviz's
``dot`` program, and in a notebook the graph displays itself (through ``dot`` when it is installed, else
through deepgrad's own layout, ``deepgrad.viz.layout``).

Leaves are named, in this order of preference, by the ``params`` mapping, by ``tensor.name``, or by the
caller's variable names (``f = z * (x + y); graph(f)`` labels the leaves x, y, z and the output f).
With ``modules=record_modules(model)`` every layer call collapses into one node.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.tensor import Tensor
from deepgrad.viz.format import (
    SMALL,
    format_constant,
    format_number,
    format_shape,
    format_value,
    l2_norm,
    shorten,
    summarize,
)
from deepgrad.viz.layout import render_svg
from deepgrad.viz.nodes import GraphNode, caller_names, collect, edges_of


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is needed (to write SVG/PNG) but is not installed."""


class Graph:
    """The nodes (forward order) and edges behind a tensor, with DOT text, rendering and notebook display."""

    def __init__(
        self,
        output: Any,
        nodes: list[GraphNode],
        precision: int = 2,
        grads: Mapping[str, Any] | None = None,
        edge_grads: Mapping[tuple[str, int], Any] | None = None,
    ) -> None:
        self.output = output
        # Gradient sent along each edge, by (target node id, input position); filled by ``trace``.
        self.edge_grads: dict[tuple[str, int], Any] = dict(edge_grads or {})
        self.nodes = nodes
        self.precision = precision
        self.by_id = {node.id: node for node in nodes}
        self._grads: dict[str, Any] = dict(grads or {})
        self.edges: list[tuple[GraphNode, GraphNode, int]] = edges_of(nodes)

    @property
    def root(self) -> GraphNode:
        return self.nodes[-1]

    def node_of(self, tensor: Any) -> GraphNode:
        """The node that produces ``tensor`` (a leaf, an op output, or a collapsed layer's output)."""
        for node in self.nodes:
            if node.tensor is tensor:
                return node
        fn = getattr(tensor, "grad_fn", None)
        for node in self.nodes:
            if fn is not None and (node.fn is fn or fn in node.members):
                return node
        raise KeyError(f"graph: the tensor of shape {getattr(tensor, 'shape', '?')} is not in this graph")

    def gradient(self, node: GraphNode) -> Any:
        """The gradient of the output with respect to the node's value, when known, else None.

        Known after ``trace`` (every node), or after ``backward`` for leaves and ``retain_grad()`` values.
        """
        if node.id in self._grads:
            return self._grads[node.id]
        grad = getattr(node.tensor, "grad", None)
        return None if grad is None else grad.array

    def gradients(self) -> dict[str, Any]:
        """Every node's known gradient (see ``gradient``), by node id."""
        known = {node.id: self.gradient(node) for node in self.nodes}
        return {key: grad for key, grad in known.items() if grad is not None}

    def label_lines(self, node: GraphNode) -> list[str]:
        """The lines of a node's DOT label: op or name, shape, value (small tensors), gradient."""
        p = self.precision
        data = np.asarray(node.tensor.array)
        lines: list[str] = []
        if node.kind == "module":
            lines.append(node.title)
            lines.append("out " + format_shape(data.shape))
            for name, t in node.params:
                norm = "" if t.grad is None else f", grad norm {format_number(l2_norm(t.grad.array), p)}"
                lines.append(f"{name} {format_shape(tuple(t.shape))}{norm}")
        elif node.kind == "op":
            lines.append(node.label)
            if node.name:
                lines.append(shorten(node.name))
        elif node.kind == "const" and node.name is None and data.size == 1 and data.ndim == 0:
            return [format_constant(data)]
        else:
            lines.append(node.label)
        if node.kind != "module":
            if data.ndim > 0:
                lines.append(format_shape(data.shape))
            if data.size <= SMALL:
                lines.append(format_value(data, p))
        grad = self.gradient(node)
        if grad is not None:
            lines.append("grad " + (format_value(grad, p) if np.size(grad) <= SMALL else summarize(grad, p)))
        return lines

    @property
    def source(self) -> str:
        """The graph as Graphviz DOT text (left to right, leaves blue, ops white, layers green)."""
        styles = {
            "input": 'shape=box, style="rounded,filled", fillcolor="#dbeafe"',
            "const": 'shape=box, style="rounded,filled", fillcolor="#f3f4f6", color="#9ca3af"',
            "op": "shape=ellipse",
            "module": 'shape=box, style="filled", fillcolor="#dcfce7"',
        }
        lines = [
            "digraph deepgrad {",
            '  graph [rankdir=LR, fontname="Helvetica"];',
            '  node [fontname="Helvetica", fontsize=11];',
            '  edge [color="#555555"];',
        ]
        for node in self.nodes:
            label = "\\n".join(_dot_escape(line) for line in self.label_lines(node))
            extra = ", penwidth=2" if node is self.root else ""
            lines.append(f'  {node.id} [label="{label}", {styles[node.kind]}{extra}];')
        for source, target, _position in self.edges:
            lines.append(f"  {source.id} -> {target.id};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def render(self, path: str | Path, format: str | None = None) -> Path:
        """Write the picture to ``path``: ``.dot`` as text, ``.svg``/``.png``/``.pdf`` through Graphviz's ``dot``.

        >>> graph(f).render("f.svg")   # doctest: +SKIP
        """
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".")).lower()
        if fmt in ("dot", "gv"):
            path.write_text(self.source)
            return path
        if fmt not in ("svg", "png", "pdf"):
            raise ValueError(f"Graph.render: unknown format {fmt!r} for {path}; use .svg, .png, .pdf or .dot")
        path.write_bytes(run_dot(self.source, fmt, purpose=f"writing {path}"))
        return path

    def svg(self) -> str:
        """The picture as SVG text: Graphviz's layout when ``dot`` is installed, deepgrad's own otherwise."""
        if shutil.which("dot"):
            return run_dot(self.source, "svg", purpose="drawing the graph").decode()
        return render_svg(self.nodes, node_grads=self.gradients(), edge_grads=self.edge_grads, precision=self.precision)

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self.svg(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<deepgrad.viz.Graph: {len(self.nodes)} nodes, {len(self.edges)} edges>"


def run_dot(source: str, fmt: str, purpose: str) -> bytes:
    """Run Graphviz's ``dot -T<fmt>`` on DOT text; a clear error when Graphviz is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            f"{purpose} needs Graphviz's `dot` program, which is not on PATH: install the graphviz package "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda: conda install "
            "graphviz), or write the DOT text instead (a .dot file, or Graph.source)"
        )
    done = subprocess.run([dot, f"-T{fmt}"], input=source.encode(), capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{purpose}: dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def graph(
    output: Any,
    params: Any = None,
    *,
    modules: Any = None,
    precision: int = 2,
) -> Graph:
    """The computation graph behind ``output``: one node per op and per leaf (or per layer with ``modules``).

    ``params`` names leaves (a dict name -> tensor, or ``model.named_parameters()``); unnamed leaves take
    ``tensor.name`` or the caller's variable names. Pass a ``Trace`` instead of a tensor to label every
    node with its gradient.

    >>> import deepgrad
    >>> x = deepgrad.tensor(2.0, requires_grad=True); y = deepgrad.tensor(3.0, requires_grad=True)
    >>> g = graph(x * y)
    >>> print(g.source.splitlines()[4])
      n0 [label="x\\n2.00", shape=box, style="rounded,filled", fillcolor="#dbeafe"];
    """
    if not isinstance(output, Tensor) and isinstance(getattr(output, "graph", None), Graph):
        # A Trace (trace.py builds on this module, so it is recognised by the Graph it carries).
        return output.graph
    nodes = collect(output, params=params, modules=modules, names=caller_names(2))
    return Graph(output, nodes, precision=precision)
