"""The computation graph behind a tensor: one node per op and per leaf, as Graphviz DOT or SVG.

``graph(output)`` walks back from ``output`` through ``tensor.grad_fn`` and each node's ``inputs`` (the
walk is iterative, so deep graphs are fine) and returns a :class:`Graph`: ``.source`` is the DOT text,
``.render(path)`` writes SVG/PNG/PDF through Graphviz's ``dot`` program, and in a notebook the graph
displays itself (through ``dot`` when it is installed, else through deepgrad's own layout).

Leaves are named, in this order of preference, by the ``params`` mapping, by ``tensor.name``, or by the
caller's variable names (``f = z * (x + y); graph(f)`` labels the leaves x, y, z and the output f).
With ``modules=record_modules(model)`` every layer call collapses into one node.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.tensor import Tensor

# Tensors with at most this many elements show their values in graph labels; larger ones their shape.
SMALL = 6

# How ops are drawn in deepgrad's own SVG (the DOT labels use the op names).
OP_SYMBOLS = {"add": "+", "sub": "\u2212", "mul": "\u00d7", "div": "\u00f7", "pow": "^", "neg": "\u2212x"}


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is needed (to write SVG/PNG) but is not installed."""


def format_number(value: Any, precision: int = 2) -> str:
    """A number as the lectures write it: fixed ``precision`` decimals, scientific when tiny or huge.

    >>> format_number(-0.5344), format_number(1.0), format_number(3.2e-7)
    ('-0.53', '1.00', '3.2e-7')
    """
    v = float(value)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return f"{0.0:.{precision}f}"
    if abs(v) >= 1e6 or abs(v) < 10.0**-precision:
        return f"{v:.{max(precision, 1)}g}".replace("e-0", "e-").replace("e+0", "e+")
    return f"{v:.{precision}f}"


def format_constant(value: Any) -> str:
    """A constant as written in an expression: ``1`` rather than ``1.00``."""
    return f"{float(value):g}"


def format_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def format_value(array: Any, precision: int = 2, small: int = SMALL) -> str:
    """Scalars as numbers, small tensors element by element, larger ones as shape and L2 norm."""
    array = np.asarray(array)
    if array.size == 1 and array.ndim == 0:
        return format_number(array, precision)
    if array.size <= small:
        return np.array2string(
            array,
            separator=", ",
            formatter={"all": lambda v: format_number(v, precision)},
        ).replace("\n", "")
    return summarize(array, precision)


def _norm(array: Any) -> float:
    array = np.asarray(array)
    return float(np.sqrt(np.sum(np.square(array, dtype=np.float64)))) if array.dtype.kind in "fciu" else 0.0


def summarize(array: Any, precision: int = 2) -> str:
    """Shape and L2 norm, e.g. ``(128, 10) norm 3.21`` (how the trace shows a tensor)."""
    array = np.asarray(array)
    if array.ndim == 0:
        return format_number(array, precision)
    return f"{format_shape(array.shape)} norm {format_number(_norm(array), precision)}"


def shorten(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


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
        self.edges: list[tuple[GraphNode, GraphNode, int]] = [
            (source, node, position) for node in nodes for position, source in enumerate(node.inputs)
        ]

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

    def label_lines(self, node: GraphNode) -> list[str]:
        """The lines of a node's DOT label: op or name, shape, value (small tensors), gradient."""
        p = self.precision
        data = np.asarray(node.tensor.array)
        lines: list[str] = []
        if node.kind == "module":
            lines.append(node.title)
            lines.append("out " + format_shape(data.shape))
            for name, t in node.params:
                norm = "" if t.grad is None else f", grad norm {format_number(_norm(t.grad.array), p)}"
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
        from deepgrad.viz.layout import render_svg

        return render_svg(self, edge_grads=self.edge_grads, precision=self.precision)

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


# ---------------------------------------------------------------------------------------------------
# Walking the graph


def _key(tensor: Any) -> Any:
    # An op output is identified by its node (one node, one output); a leaf by the tensor itself.
    return tensor.grad_fn if tensor.grad_fn is not None else ("leaf", id(tensor))


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
    stack: list[tuple[Any, bool]] = [(output, False)]
    while stack:
        tensor, expanded = stack.pop()
        key = _key(tensor)
        fn = tensor.grad_fn
        if expanded:
            node = GraphNode(
                id="",
                kind="op",
                label=type(fn).name() if hasattr(type(fn), "name") else type(fn).__name__.lower(),
                tensor=tensor,
                fn=fn,
                inputs=[nodes[_key(t)] for t in fn.inputs],
                name=name_of(tensor),
            )
            if hasattr(fn, "user_class"):  # a user-defined Function: show its class name
                node.label = fn.user_class.__name__
            nodes[key] = node
            order.append(node)
            continue
        if key in visited:
            continue
        visited.add(key)
        if fn is None:
            name = name_of(tensor)
            kind = "input" if tensor.requires_grad else "const"
            node = GraphNode(id="", kind=kind, label=name or kind, tensor=tensor, name=name)
            nodes[key] = node
            order.append(node)
            continue
        if fn.inputs is None:
            raise freed_graph_error(fn, who)
        stack.append((tensor, True))
        for t in reversed(fn.inputs):
            if _key(t) not in visited:
                stack.append((t, False))
    if modules is not None:
        order = _collapse(order, nodes, modules)
    for index, node in enumerate(order):
        node.id = f"n{index}"
    return order


def _collapse(order: list[GraphNode], nodes: dict[Any, GraphNode], modules: Any) -> list[GraphNode]:
    """Replace the op nodes of each recorded layer call by one node (see ``record_modules``)."""
    group_of: dict[int, GraphNode] = {}  # id(op node) -> module node
    groups: list[GraphNode] = []
    call_inputs: dict[int, set[int]] = {}  # id(module node) -> ids of the call's input tensors
    for call in modules.calls:
        outs = [t for t in call.outputs if t.grad_fn is not None and t.grad_fn in nodes]
        if len(outs) != 1:
            continue  # the call's output is not part of this graph (or several outputs: keep ops)
        out = outs[0]
        stops = {id(t) for t in call.inputs}
        members: list[GraphNode] = []
        seen: set[int] = set()
        stack = [nodes[out.grad_fn]]
        while stack:
            node = stack.pop()
            if id(node) in seen or id(node) in group_of:
                continue
            seen.add(id(node))
            members.append(node)
            for t in node.fn.inputs:
                inner = nodes[_key(t)]
                if id(t) not in stops and inner.kind == "op":
                    stack.append(inner)
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
        call_inputs[id(group)] = stops
        for member in members:
            group_of[id(member)] = group
        groups.append(group)
    if not groups:
        return order

    # Leaves used only inside one group (the layer's own parameters) are absorbed into it.
    consumers: dict[int, set[int]] = {}
    for node in order:
        if node.kind == "op":
            owner = group_of.get(id(node), node)
            for source in node.inputs:
                consumers.setdefault(id(source), set()).add(id(owner))
    absorbed: dict[int, GraphNode] = {}
    param_names: dict[int, str] = {}
    for call in modules.calls:
        for name, p in call.parameters:
            param_names.setdefault(id(p), name)
    for node in order:
        if node.kind in ("input", "const"):
            owners = consumers.get(id(node), set())
            if len(owners) == 1:
                (owner_id,) = owners
                group = next((g for g in groups if id(g) == owner_id), None)
                # The layer's inputs stay outside (the data batch), its parameters and constants go in.
                if group is not None and id(node.tensor) not in call_inputs[id(group)]:
                    absorbed[id(node)] = group
                    if node.kind == "input":
                        group.params.append((param_names.get(id(node.tensor), node.label), node.tensor))

    def representative(node: GraphNode) -> GraphNode:
        return group_of.get(id(node), node)

    result: list[GraphNode] = []
    for node in order:
        if id(node) in absorbed:
            continue
        group = group_of.get(id(node))
        if group is None:
            node.inputs = [representative(source) for source in node.inputs]
            result.append(node)
            continue
        if node.fn is not group.fn:
            continue
        # Emit the layer where its output op stood: every external input comes earlier in forward order.
        member_ids = {id(m) for m in order if group_of.get(id(m)) is group}
        externals: list[GraphNode] = []
        for member in order:
            if id(member) not in member_ids:
                continue
            for source in member.inputs:
                if id(source) in member_ids or absorbed.get(id(source)) is group:
                    continue
                source = representative(source)
                if all(source is not e for e in externals):
                    externals.append(source)
        group.inputs = externals
        result.append(group)
    return result


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
    from deepgrad.viz.trace import Trace

    if isinstance(output, Trace):
        return output.graph
    nodes = collect(output, params=params, modules=modules, names=caller_names(2))
    return Graph(output, nodes, precision=precision)


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
