"""The nodes behind a tensor: one per op and per leaf, in forward order, or one per layer call.

``collect(output)`` walks back from ``output`` through ``tensor.grad_fn`` and each node's ``inputs``
(iteratively, so deep graphs are fine) and returns the :class:`GraphNode` list every picture and trace is
drawn from. Leaves are named, in this order of preference, by the ``params`` mapping, by ``tensor.name``,
or by the caller's variable names. With ``modules=record_modules(model)`` every recorded layer call
collapses into one ``"module"`` node.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deepgrad.tensor import Tensor


@dataclass(eq=False)
class GraphNode:
    """One box of the picture: an op application, a leaf tensor, or a collapsed layer call.

    ``kind`` is ``"op"``, ``"input"`` (a leaf that requires grad), ``"const"`` (a leaf that does not) or
    ``"module"``; ``tensor`` is the value the node produces; ``fn`` the recorded op (``type(fn).name()``
    is its name); ``inputs`` the nodes feeding it, one per argument (so ``x * x`` lists x twice).
    """

    id: str
    kind: str
    label: str
    tensor: Any
    fn: Any = None
    inputs: list[GraphNode] = field(default_factory=list)
    name: str | None = None
    members: list[Any] = field(default_factory=list)
    params: list[tuple[str, Any]] = field(default_factory=list)
    module_type: str = ""

    @property
    def title(self) -> str:
        """The op or layer and the name of its value: ``add x+y``, ``add (n4)``, ``fc1 (Linear)``, ``x``."""
        if self.kind == "op":
            return f"{self.label} {self.name}" if self.name else f"{self.label} ({self.id})"
        if self.kind == "module":
            return f"{self.label} ({self.module_type})"
        return self.label

    def __repr__(self) -> str:
        return f"<GraphNode {self.id} {self.kind} {self.title!r}>"


def edges_of(nodes: list[GraphNode]) -> list[tuple[GraphNode, GraphNode, int]]:
    """Every input edge as (source, target, input position), in the targets' forward order."""
    return [(source, node, position) for node in nodes for position, source in enumerate(node.inputs)]


def node_key(tensor: Any) -> Any:
    """What identifies a value in the walk: an op output by its node (one node, one output), a leaf by itself."""
    return tensor.grad_fn if tensor.grad_fn is not None else ("leaf", id(tensor))


def edge_key(tensor: Any, parent: Any) -> Any:
    """The key of the value an op read: its creator when the op was recorded (``Function.parents``; a tensor
    updated in place since has a new one), or the leaf."""
    return parent if parent is not None else ("leaf", id(tensor))


def value_key(node: GraphNode) -> Any:
    """The key of the value a graph node stands for (its op, or the leaf)."""
    return node.fn if node.fn is not None else ("leaf", id(node.tensor))


def freed_graph_error(fn: Any, who: str) -> RuntimeError:
    return RuntimeError(
        f"{who}: the graph behind this tensor was freed by backward() (at {fn!r}). Build the value again, "
        "or pass retain_graph=True to backward(); deepgrad.viz.trace keeps the graph by default."
    )


def caller_names(depth: int = 2) -> dict[int, str]:
    """Variable names of the Tensors in the caller's frame (id -> name), to label leaves and outputs."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return {}
    names: dict[int, str] = {}
    for name, value in list(frame.f_locals.items()):
        if isinstance(value, Tensor) and not name.startswith("_") and id(value) not in names:
            names[id(value)] = name
    return names


def _param_names(params: Any) -> dict[int, str]:
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    items = params.items() if isinstance(params, Mapping) else params
    names: dict[int, str] = {}
    for item in items:
        try:
            name, tensor = item
        except (TypeError, ValueError):
            raise TypeError(
                "graph: params must map names to tensors (a dict, or pairs like model.named_parameters()), "
                f"got an item {item!r}"
            ) from None
        if not isinstance(tensor, Tensor):
            raise TypeError(f"graph: params[{name!r}] is a {type(tensor).__name__}, not a Tensor")
        names[id(tensor)] = str(name)
    return names


def _op_node(tensor: Any, fn: Any, nodes: dict[Any, GraphNode], name: str | None) -> GraphNode:
    node = GraphNode(
        id="",
        kind="op",
        label=type(fn).name() if hasattr(type(fn), "name") else type(fn).__name__.lower(),
        tensor=tensor,
        fn=fn,
        inputs=[nodes[edge_key(t, parent)] for t, parent in zip(fn.inputs, fn.parents)],
        name=name,
    )
    if hasattr(fn, "user_class"):  # a user-defined Function: show its class name
        node.label = fn.user_class.__name__
    return node


def collect(
    output: Any,
    params: Any = None,
    modules: Any = None,
    names: Mapping[int, str] | None = None,
    who: str = "graph",
) -> list[GraphNode]:
    """The nodes behind ``output`` in forward (topological) order; the last one produces ``output``."""
    if not isinstance(output, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(output).__name__}")
    given = _param_names(params)
    guessed = dict(names or {})

    def name_of(tensor: Any) -> str | None:
        return given.get(id(tensor)) or tensor.name or guessed.get(id(tensor))

    nodes: dict[Any, GraphNode] = {}
    order: list[GraphNode] = []
    visited: set[Any] = set()
    # Iterative depth-first walk; a node is emitted after all its inputs (post-order = forward order).
    stack: list[tuple[Any, Any, bool]] = [(output, output.grad_fn, False)]  # (value, its creator, expanded)
    while stack:
        tensor, fn, expanded = stack.pop()
        key = edge_key(tensor, fn)
        if expanded:
            nodes[key] = _op_node(tensor, fn, nodes, name_of(tensor))
            order.append(nodes[key])
            continue
        if key in visited:
            continue
        visited.add(key)
        if fn is None:
            name = name_of(tensor)
            kind = "input" if tensor.requires_grad else "const"
            nodes[key] = GraphNode(id="", kind=kind, label=name or kind, tensor=tensor, name=name)
            order.append(nodes[key])
            continue
        if fn.inputs is None:
            raise freed_graph_error(fn, who)
        stack.append((tensor, fn, True))
        stack.extend(
            (t, parent, False)
            for t, parent in zip(reversed(fn.inputs), reversed(fn.parents))
            if edge_key(t, parent) not in visited
        )
    if modules is not None:
        order = _collapse(order, nodes, modules)
    for index, node in enumerate(order):
        node.id = f"n{index}"
    return order


# ---------------------------------------------------------------------------------------------------
# Collapsing layer calls into one node each


@dataclass(eq=False)
class _Groups:
    """The layer nodes found so far: which op node belongs to which layer, and each layer call's inputs."""

    groups: list[GraphNode] = field(default_factory=list)
    of: dict[int, GraphNode] = field(default_factory=dict)  # id(op node) -> layer node
    call_inputs: dict[int, set[int]] = field(default_factory=dict)  # id(layer node) -> ids of its inputs

    def representative(self, node: GraphNode) -> GraphNode:
        return self.of.get(id(node), node)


def _call_members(
    out_node: GraphNode, stops: set[int], nodes: dict[Any, GraphNode], taken: dict[int, GraphNode]
) -> list[GraphNode]:
    """The op nodes of one layer call: back from its output op, stopping at the call's inputs and at leaves."""
    members: list[GraphNode] = []
    seen: set[int] = set()
    stack = [out_node]
    while stack:
        node = stack.pop()
        if id(node) in seen or id(node) in taken:
            continue
        seen.add(id(node))
        members.append(node)
        for t, parent in zip(node.fn.inputs, node.fn.parents):
            inner = nodes[edge_key(t, parent)]
            if id(t) not in stops and inner.kind == "op":
                stack.append(inner)
    return members


def _group_calls(nodes: dict[Any, GraphNode], modules: Any) -> _Groups:
    """One layer node per recorded call whose single output is in this graph, owning the call's op nodes."""
    found = _Groups()
    for call in modules.calls:
        outs = [t for t in call.outputs if t.grad_fn is not None and t.grad_fn in nodes]
        if len(outs) != 1:
            continue  # the call's output is not part of this graph (or several outputs: keep ops)
        out = outs[0]
        stops = {id(t) for t in call.inputs}
        members = _call_members(nodes[out.grad_fn], stops, nodes, found.of)
        if not members:
            continue
        group = GraphNode(
            id="",
            kind="module",
            label=call.name,
            tensor=out,
            fn=out.grad_fn,
            members=[m.fn for m in members],
            module_type=type(call.module).__name__,
        )
        found.call_inputs[id(group)] = stops
        for member in members:
            found.of[id(member)] = group
        found.groups.append(group)
    return found


def _absorb_leaves(order: list[GraphNode], found: _Groups, modules: Any) -> dict[int, GraphNode]:
    """Leaves used only inside one layer (its own parameters and constants) -> that layer node.

    The layer's inputs stay outside (the data batch); absorbed parameters are listed in ``group.params``.
    """
    consumers: dict[int, set[int]] = {}
    for node in order:
        if node.kind == "op":
            owner = found.representative(node)
            for source in node.inputs:
                consumers.setdefault(id(source), set()).add(id(owner))
    param_names: dict[int, str] = {}
    for call in modules.calls:
        for name, p in call.parameters:
            param_names.setdefault(id(p), name)
    by_id = {id(group): group for group in found.groups}
    absorbed: dict[int, GraphNode] = {}
    for node in order:
        owners = consumers.get(id(node), set())
        if node.kind not in ("input", "const") or len(owners) != 1:
            continue
        group = by_id.get(next(iter(owners)))
        if group is not None and id(node.tensor) not in found.call_inputs[id(group)]:
            absorbed[id(node)] = group
            if node.kind == "input":
                group.params.append((param_names.get(id(node.tensor), node.label), node.tensor))
    return absorbed


def _external_inputs(
    group: GraphNode, order: list[GraphNode], found: _Groups, absorbed: dict[int, GraphNode]
) -> list[GraphNode]:
    """The nodes outside a layer that feed it, each once, in the order its ops use them."""
    member_ids = {id(m) for m in order if found.of.get(id(m)) is group}
    externals: list[GraphNode] = []
    for member in order:
        if id(member) not in member_ids:
            continue
        for source in member.inputs:
            if id(source) in member_ids or absorbed.get(id(source)) is group:
                continue
            source = found.representative(source)
            if all(source is not e for e in externals):
                externals.append(source)
    return externals


def _collapse(order: list[GraphNode], nodes: dict[Any, GraphNode], modules: Any) -> list[GraphNode]:
    """Replace the op nodes of each recorded layer call by one node (see ``record_modules``)."""
    found = _group_calls(nodes, modules)
    if not found.groups:
        return order
    absorbed = _absorb_leaves(order, found, modules)
    result: list[GraphNode] = []
    for node in order:
        if id(node) in absorbed:
            continue
        group = found.of.get(id(node))
        if group is None:
            node.inputs = [found.representative(source) for source in node.inputs]
            result.append(node)
        elif node.fn is group.fn:
            # Emit the layer where its output op stood: every external input comes earlier in forward order.
            group.inputs = _external_inputs(group, order, found, absorbed)
            result.append(group)
    return result


# ---------------------------------------------------------------------------------------------------
# Layer calls, recorded with forward hooks


@dataclass
class ModuleCall:
    """One call of a layer: its qualified name, the module, its tensor inputs and outputs, its parameters."""

    name: str
    module: Any
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]
    parameters: list[tuple[str, Any]]


class record_modules:  # noqa: N801  (used like a function, as deepgrad.no_grad)
    """Record every layer call inside ``with`` (forward hooks), so graphs and traces show one node per layer.

    ``depth=None`` records the leaf modules (modules without children: Linear, ReLU, ...); ``depth=k``
    records the modules ``k`` levels below ``model`` (and leaf modules above that level).

    >>> with record_modules(model) as layers:      # doctest: +SKIP
    ...     loss = loss_fn(model(x), y)
    >>> graph(loss, modules=layers)                # doctest: +SKIP
    """

    def __init__(self, model: Any, depth: int | None = None) -> None:
        if not hasattr(model, "named_modules") or not hasattr(model, "register_forward_hook"):
            raise TypeError(f"record_modules: expected a deepgrad.nn.Module, got {type(model).__name__}")
        self.model = model
        self.depth = depth
        self.calls: list[ModuleCall] = []
        self._handles: list[Any] = []

    def _selected(self) -> Iterable[tuple[str, Any]]:
        for name, module in self.model.named_modules():
            level = 0 if name == "" else name.count(".") + 1
            is_leaf = next(iter(module.children()), None) is None
            if self.depth is None:
                if is_leaf:
                    yield (name or type(module).__name__), module
            elif level == self.depth or (is_leaf and level < self.depth):
                yield (name or type(module).__name__), module

    def __enter__(self) -> record_modules:
        for name, module in self._selected():
            own = [(f"{p_name}", p) for p_name, p in module.named_parameters()]
            self._handles.append(module.register_forward_hook(self._hook(name, own)))
        return self

    def _hook(self, name: str, own: list[tuple[str, Any]]) -> Any:
        def hook(module: Any, args: Any, output: Any) -> None:
            inputs = tuple(a for a in _flatten(args) if isinstance(a, Tensor))
            outputs = tuple(o for o in _flatten(output) if isinstance(o, Tensor))
            self.calls.append(ModuleCall(name, module, inputs, outputs, own))

        return hook

    def __exit__(self, *exc_info: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [item for part in value for item in _flatten(part)]
    if isinstance(value, dict):
        return [item for part in value.values() for item in _flatten(part)]
    return [value]
