"""The backward pass, one node at a time: upstream gradient x local gradient = downstream gradient.

``trace(output)`` runs backward the way the engine does (reverse topological order, gradients of a value
used several times summed, broadcasting summed back, hooks, ``.grad`` accumulated on the leaves) and
records at every node what the lectures write next to it:

* **upstream** -- d output / d (this node's value), the gradient arriving at the node;
* **local** -- d (this node's value) / d input, one per input: the op's backward applied to an upstream
  of ones (exactly the local derivative for scalars and elementwise ops; for other tensor ops the
  column sums of the local Jacobian);
* **downstream** -- upstream x local, the gradient the node sends to each input.

Printed, a trace is a table; tensors that are not scalars show their shape and L2 norm.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepgrad.autograd import engine
from deepgrad.tensor import Tensor
from deepgrad.viz.format import format_number, format_table, format_value, shorten, summarize
from deepgrad.viz.graph import Graph
from deepgrad.viz.nodes import GraphNode, caller_names, collect, edge_key, node_key, value_key


@dataclass(eq=False)
class Step:
    """One node of the backward pass.

    ``node`` is the graph node (``node.fn`` the recorded op, ``node.label`` its name such as ``mul``);
    ``upstream`` the gradient arriving at it; ``inputs`` the nodes it sends gradients to; ``local`` and
    ``downstream`` one entry per input (None where an input needs no gradient; ``local`` is None for a
    collapsed layer); ``params`` the gradients of a collapsed layer's own parameters.
    """

    node: GraphNode
    upstream: np.ndarray
    inputs: list[GraphNode]
    local: list[np.ndarray | None] | None
    downstream: list[np.ndarray | None]
    params: list[tuple[str, np.ndarray | None]] = field(default_factory=list)

    @property
    def op(self) -> str:
        """The op's name (``mul``, ``exp``, ...) or the layer's name."""
        return self.node.label

    @property
    def fn(self) -> Any:
        return self.node.fn

    def __repr__(self) -> str:
        return f"<Step {self.node.title!r}: upstream {summarize(self.upstream)}>"


class Trace:
    """The steps of one backward pass in the order they ran; ``print(trace)`` shows them as a table."""

    def __init__(self, output: Any, graph: Graph, steps: list[Step], precision: int = 2) -> None:
        self.output = output
        self.graph = graph
        self.steps = steps
        self.precision = precision

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __getitem__(self, index: int) -> Step:
        return self.steps[index]

    def find(self, op: str) -> list[Step]:
        """The steps of the nodes with this op (or layer) name, in backward order."""
        return [step for step in self.steps if step.op == op]

    def gradient(self, tensor: Any) -> np.ndarray | None:
        """d output / d tensor as this backward pass computed it (leaf or intermediate value)."""
        return self.graph.gradient(self.graph.node_of(tensor))

    def table(self, precision: int | None = None) -> str:
        """The trace as a text table: one row per (node, input)."""
        p = self.precision if precision is None else precision

        def show(value: Any) -> str:
            if value is None:
                return "-"
            return format_number(value, p) if np.ndim(value) == 0 else summarize(value, p)

        header = ["step", "node", "upstream", "input", "local", "downstream"]
        rows: list[list[str]] = []
        for number, step in enumerate(self.steps, 1):
            first = [str(number), shorten(step.node.title, 32), show(step.upstream)]
            cont = ["", "", ""]
            lines = []
            for position, source in enumerate(step.inputs):
                if step.downstream[position] is None:
                    continue  # a constant, or an input that needs no gradient
                local = "-" if step.local is None else show(step.local[position])
                lines.append([_input_label(source), local, show(step.downstream[position])])
            lines.extend([name, "-", show(grad)] for name, grad in step.params)
            if not lines:
                lines.append(["-", "-", "-"])
            for index, line in enumerate(lines):
                rows.append((first if index == 0 else cont) + line)
        return format_table(header, rows, right={0, 2, 4, 5})

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()


def _input_label(node: GraphNode) -> str:
    if node.kind == "op":
        return shorten(node.name, 24) if node.name else f"{node.label} ({node.id})"
    if node.kind == "module":
        return node.title
    return shorten(node.label, 24)


def trace(
    output: Any,
    gradient: Any = None,
    *,
    params: Any = None,
    modules: Any = None,
    retain_graph: bool = True,
    precision: int = 2,
    names: Mapping[int, str] | None = None,
) -> Trace:
    """Run backward from ``output`` and return every step: upstream x local = downstream, per node.

    Leaves' ``.grad`` accumulate as with ``output.backward(gradient)``; the graph is kept (pass
    ``retain_graph=False`` to free it). ``modules=record_modules(model)`` gives one step per layer.
    ``names`` labels tensors by ``id`` where neither ``params`` nor ``tensor.name`` does (default: the
    caller's variable names).

    >>> import deepgrad
    >>> x = deepgrad.tensor(2.0, requires_grad=True); y = deepgrad.tensor(3.0, requires_grad=True)
    >>> z = deepgrad.tensor(-2.0, requires_grad=True)
    >>> t = trace(z * (x + y))
    >>> [(s.op, float(s.upstream)) for s in t]
    [('mul', 1.0), ('add', -2.0)]
    """
    if names is None:
        names = caller_names(2)
    if not isinstance(output, Tensor):
        raise TypeError(f"trace: expected a Tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise RuntimeError(
            f"trace: the output (shape {output.shape}) does not require grad: no input it was computed from "
            "has requires_grad=True"
        )
    nodes = collect(output, params=params, names=names, who="trace")
    root_grad = engine.root_gradient(output, gradient, "trace", False)
    steps, grads, contributions = _walk(nodes, output, root_grad, retain_graph)
    if modules is not None:
        grouped = collect(output, params=params, modules=modules, names=names, who="trace")
        steps = _group_steps(grouped, steps, contributions, grads)
        nodes = grouped
    node_grads = {node.id: grads[value_key(node)] for node in nodes if value_key(node) in grads}
    edge_grads = {
        (step.node.id, position): grad
        for step in steps
        for position, grad in enumerate(step.downstream)
        if grad is not None
    }
    result = Graph(output, nodes, precision=precision, grads=node_grads, edge_grads=edge_grads)
    return Trace(output, result, steps, precision)


def _walk(
    nodes: list[GraphNode], output: Any, root_grad: np.ndarray, retain_graph: bool
) -> tuple[list[Step], dict[Any, np.ndarray], list[tuple[Any, Any, np.ndarray]]]:
    """Run the engine's backward and record each node it processes, in the order it processes them."""
    by_fn = {node.fn: node for node in nodes if node.kind == "op"}
    grads: dict[Any, np.ndarray] = {}
    contributions: list[tuple[Any, Any, np.ndarray]] = []  # (consumer op, key of the input, gradient)
    steps: list[Step] = []

    def observe(fn: Any, out: Any, grad: np.ndarray, sent: list) -> None:
        node = by_fn[fn]
        grads[fn] = grad
        # the local derivative: the op's backward applied to an upstream of ones
        locals_ = _as_tuple(fn.backward(np.ones_like(out.array), out.array, *[t.array for t in fn.inputs]))
        local: list[np.ndarray | None] = []
        for position, tensor in enumerate(fn.inputs):
            local_grad = locals_[position] if position < len(locals_) else None
            if sent[position] is None or local_grad is None:
                local.append(None)
                continue
            local.append(_fit(np.asarray(local_grad), tensor))
            contributions.append((fn, edge_key(tensor, fn.parents[position]), sent[position]))
        steps.append(Step(node, grad, list(node.inputs), local, list(sent)))

    engine.run_backward([output], [root_grad], retain_graph, False, engine.TraceSink(observe))
    for node in nodes:  # a leaf's gradient: the sum of what its consumers sent
        if node.kind != "op":
            key = value_key(node)
            sent_here = [g for _, source, g in contributions if source == key]
            if sent_here:
                grads[key] = sum(sent_here[1:], sent_here[0])
    return steps, grads, contributions


def _fit(grad: np.ndarray, tensor: Any) -> np.ndarray:
    """A gradient summed back to its input's shape and cast to its dtype, as the engine does."""
    if grad.shape != tensor.shape:
        grad = engine.sum_to(grad, tensor.shape)
    if grad.dtype != tensor.dtype:
        grad = grad.astype(tensor.dtype)
    return grad


def _as_tuple(grads: Any) -> tuple:
    return grads if type(grads) is tuple else (grads,)


def _group_steps(
    grouped: list[GraphNode],
    steps: list[Step],
    contributions: list[tuple[Any, Any, np.ndarray]],
    grads: dict[Any, np.ndarray],
) -> list[Step]:
    """One step per collapsed layer: the gradient reaching its output, and leaving to its inputs and parameters."""
    by_fn: dict[Any, GraphNode] = {}
    for node in grouped:
        if node.kind == "op":
            by_fn[node.fn] = node
        elif node.kind == "module":
            for fn in node.members:
                by_fn[fn] = node
    result: list[Step] = []
    done: set[int] = set()
    for step in steps:
        node = by_fn.get(step.node.fn)
        if node is None:
            continue
        if node.kind == "op":
            result.append(Step(node, step.upstream, list(node.inputs), step.local, step.downstream))
            continue
        if id(node) in done:
            continue
        done.add(id(node))
        members = set(node.members)

        def flowing_to(key: Any, members: set = members) -> np.ndarray | None:
            parts = [g for fn, source, g in contributions if source == key and fn in members]
            return None if not parts else sum(parts[1:], parts[0])

        downstream = [flowing_to(value_key(source)) for source in node.inputs]
        params = [(name, flowing_to(node_key(p))) for name, p in node.params]
        result.append(Step(node, grads[value_key(node)], list(node.inputs), None, downstream, params))
    return result


__all__ = ["Step", "Trace", "format_value", "trace"]
