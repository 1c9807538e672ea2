"""See the gradients: computation-graph pictures, backward traces and a step-through page.

* ``graph(output)`` -- the ops and leaves behind a tensor, as Graphviz DOT (``.source``), SVG/PNG
  (``.render(path)``) or inline in a notebook;
* ``trace(output)`` -- run backward and list every node's upstream, local and downstream gradients;
* ``html_page(output, path)`` -- one self-contained HTML file stepping through the forward and backward pass;
* ``record_modules(model)`` -- collapse each layer call into one node in graphs and traces.

The ``deepgrad explain`` command puts them together for an expression typed on the command line.

The modules import one way, each only from those above it (``tests/test_imports.py`` checks there is no
cycle, and that no ``_private`` name crosses a module boundary):

1. ``format`` -- how numbers, tensors and tables are written (text only);
2. ``nodes`` -- ``GraphNode`` and the walk from a tensor to its nodes; ``record_modules``;
3. ``layout`` -- deepgrad's own drawing of a node list as SVG (no Graphviz);
4. ``graph`` -- ``Graph``: the nodes and their gradients as data, drawn as DOT or SVG; ``graph()``;
5. ``trace`` -- the backward pass recorded step by step, returning a ``Trace`` with its ``Graph``;
6. ``html`` -- the step-through page of a ``Trace``;
7. ``explain`` -- the expressions of ``deepgrad explain``, built, traced and reported.
"""

from __future__ import annotations

from deepgrad.viz.graph import Graph, GraphvizNotFoundError, graph
from deepgrad.viz.html import html_page
from deepgrad.viz.nodes import GraphNode, record_modules
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
