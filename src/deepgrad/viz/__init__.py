"""See the gradients: computation-graph pictures, backward traces and a step-through page.

* ``graph(output)`` -- the ops and leaves behind a tensor, as Graphviz DOT (``.source``), SVG/PNG
  (``.render(path)``) or inline in a notebook;
* ``trace(output)`` -- run backward and list every node's upstream, local and downstream gradients;
* ``html_page(output, path)`` -- one self-contained HTML file stepping through the forward and backward pass;
* ``record_modules(model)`` -- collapse each layer call into one node in graphs and traces.

The ``deepgrad explain`` command puts them together for an expression typed on the command line.
"""

from __future__ import annotations

from deepgrad.viz.graph import Graph, GraphNode, GraphvizNotFoundError, graph, record_modules
from deepgrad.viz.html import html_page
from deepgrad.viz.trace import Step, Trace, trace

__all__ = [
    "Graph",
    "GraphNode",
    "GraphvizNotFoundError",
    "Step",
    "Trace",
    "graph",
    "html_page",
    "record_modules",
    "trace",
]
