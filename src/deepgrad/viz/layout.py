"""deepgrad's own graph drawing (no Graphviz needed): a left-to-right layered layout rendered as SVG.

Drawn as in the lectures: ops as circles, leaves as boxes, each edge carrying the forward value above it
(green) and, after backward, the gradient flowing back along it below it (red).

Layout: an op's column is one more than its furthest input's; a leaf sits just left of its first user.
Within a column, nodes are ordered and placed by repeatedly moving each node towards the mean height of
its neighbours (barycentre heuristic), keeping the column's order and spacing with an isotonic fit, so
chains come out straight and crossings few.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np

from deepgrad.viz.format import OP_SYMBOLS, format_constant, format_number, format_shape, l2_norm
from deepgrad.viz.nodes import GraphNode, edges_of

FONT = 14
EDGE_FONT = 12.5
SCALE = 1.25  # drawn this much larger than the layout's units (the page shrinks it to fit if needed)
LEAF_KINDS = ("input", "const")


def text_width(text: str, size: int = FONT) -> float:
    """A sans-serif text's approximate width in pixels (no font metrics without a browser)."""
    return 0.62 * size * len(text)


@dataclass(eq=False)
class Box:
    """A node's place in the picture: centre, size, shape and the lines written inside."""

    key: str
    node: GraphNode | None
    lines: list[str]
    shape: str  # "circle", "rect", "const", "output"
    w: float = 0.0
    h: float = 0.0
    x: float = 0.0
    y: float = 0.0
    rank: int = 0
    neighbours: list[Box] = field(default_factory=list)


@dataclass(eq=False)
class Edge:
    """One input edge: source box -> target box, the target's input position, and the curve's geometry."""

    index: int
    source: Box
    target: Box
    position: int
    path: str = ""
    label_x: float = 0.0
    label_y: float = 0.0
    near_target: bool = False
    via: list[Box] = field(default_factory=list)


@dataclass(eq=False)
class Layout:
    boxes: list[Box]
    edges: list[Edge]
    width: float
    height: float


def edge_value_text(tensor: Any, precision: int = 2) -> str:
    """What an edge shows going forward: the number for scalars, the shape for tensors."""
    data = np.asarray(tensor.array)
    return format_number(data, precision) if data.ndim == 0 else format_shape(data.shape)


def grad_text(grad: Any, precision: int = 2) -> str:
    """What an edge shows going backward: the number for scalars, the L2 norm for tensors."""
    if grad is None:
        return ""
    grad = np.asarray(grad)
    if grad.ndim == 0:
        return format_number(grad, precision)
    return "norm " + format_number(l2_norm(grad), precision)


def _box_for(node: GraphNode) -> Box:
    if node.kind == "op":
        symbol = OP_SYMBOLS.get(node.label, node.label)
        box = Box(node.id, node, [symbol], "circle" if len(symbol) <= 3 else "rect")
        if box.shape == "circle":
            box.w = box.h = 40.0
        else:
            box.w, box.h = text_width(symbol) + 22, 32.0
        return box
    if node.kind == "module":
        lines = [node.label, node.module_type] + [f"{n} {format_shape(tuple(t.shape))}" for n, t in node.params]
        box = Box(node.id, node, lines, "rect")
        box.w = max(text_width(line, 12) for line in lines) + 20
        box.h = 16.0 * len(lines) + 12
        return box
    data = np.asarray(node.tensor.array)
    if node.kind == "const" and node.name is None and data.ndim == 0:
        text = format_constant(data)
    else:
        text = node.label if data.ndim == 0 else f"{node.label} {format_shape(data.shape)}"
    box = Box(node.id, node, [text], "const" if node.kind == "const" else "rect")
    box.w, box.h = max(text_width(text) + 18, 36.0), 28.0
    return box


def compute_layout(
    nodes: list[GraphNode],
    output_label: str | None = None,
    precision: int = 2,
    extra_labels: list[str] | None = None,
) -> Layout:
    """Place every node (and, with ``output_label``, a final marker for the output) and route the edges."""
    boxes, edges = _boxes_and_edges(nodes, output_label)
    consumers: dict[str, list[Box]] = {box.key: [] for box in boxes}
    for edge in edges:
        consumers[edge.source.key].append(edge.target)
    _assign_ranks(boxes, edges, consumers)
    boxes += _waypoints(edges)
    ranks = sorted({box.rank for box in boxes})
    columns = {r: [box for box in boxes if box.rank == r] for r in ranks}
    _order_columns(columns, ranks, gap_y=34.0)

    labels = [edge_value_text(box.node.tensor, precision) for box in boxes if box.node is not None]
    labels += extra_labels or []
    label_width = max((text_width(t, EDGE_FONT) for t in labels), default=30.0)
    gap_x = max(84.0, label_width + 60)
    x = 20.0
    for r in ranks:
        width = max(box.w for box in columns[r])
        for box in columns[r]:
            box.x = x + width / 2
        x += width + gap_x
    boxes = [box for box in boxes if box.shape != "waypoint"] + [box for box in boxes if box.shape == "waypoint"]
    top = min(box.y - box.h / 2 for box in boxes) - 30
    for box in boxes:
        box.y -= top
    width = x - gap_x + 20
    height = max(box.y + box.h / 2 for box in boxes) + 34

    for edge in edges:
        edge.near_target = len(consumers[edge.source.key]) > 1
    for box in boxes:  # spread a node's incoming edges along its left side, in the order of their sources
        incoming = sorted((e for e in edges if e.target is box), key=lambda e: (e.via or [e.source])[-1].y)
        step = min(10.0, (box.h - 8) / max(len(incoming), 1))
        for i, edge in enumerate(incoming):
            _route(edge, (i - (len(incoming) - 1) / 2) * step, label_width + 8)
    return Layout(boxes, edges, width, height)


def _boxes_and_edges(nodes: list[GraphNode], output_label: str | None) -> tuple[list[Box], list[Edge]]:
    """A box per node and an edge per input, plus the output marker and its edge when labelled."""
    boxes = [_box_for(node) for node in nodes]
    by_id = {box.key: box for box in boxes}
    edges = [Edge(i, by_id[s.id], by_id[t.id], p) for i, (s, t, p) in enumerate(edges_of(nodes))]
    if output_label is not None:
        marker = Box("out", None, [output_label], "output")
        marker.w, marker.h = max(text_width(output_label) + 16, 30.0), 28.0
        boxes.append(marker)
        edges.append(Edge(len(edges), by_id[nodes[-1].id], marker, 0))
    return boxes, edges


def _assign_ranks(boxes: list[Box], edges: list[Edge], consumers: dict[str, list[Box]]) -> None:
    """Columns: an op (or the marker) one right of its furthest input; a leaf just left of its first user."""
    for box in boxes:
        if box.shape != "const" and (box.node is None or box.node.kind not in LEAF_KINDS):
            sources = [e.source for e in edges if e.target is box]
            box.rank = 1 + max((s.rank for s in sources), default=-1)
    for box in boxes:
        if box.node is not None and box.node.kind in LEAF_KINDS:
            users = consumers[box.key]
            box.rank = max(min((u.rank for u in users), default=1) - 1, 0)


def _waypoints(edges: list[Edge]) -> list[Box]:
    """A waypoint in each column an edge crosses, placed like a small node, and the boxes' neighbours.

    So an edge spanning several columns runs in its own lane instead of through the nodes in between.
    """
    waypoints: list[Box] = []
    for edge in edges:
        chain = [edge.source]
        for rank in range(edge.source.rank + 1, edge.target.rank):
            waypoint = Box(f"w{edge.index}_{rank}", None, [], "waypoint", w=0.0, h=14.0, rank=rank)
            edge.via.append(waypoint)
            waypoints.append(waypoint)
            chain.append(waypoint)
        chain.append(edge.target)
        for a, b in zip(chain, chain[1:]):
            a.neighbours.append(b)
            b.neighbours.append(a)
    return waypoints


def _order_columns(columns: dict[int, list[Box]], ranks: list[int], gap_y: float) -> None:
    """Stack each column, then sweep left and right moving every box towards its neighbours' mean height."""
    for column in columns.values():
        y = 0.0
        for box in column:
            box.y = y + box.h / 2
            y += box.h + gap_y
    for sweep in range(40):
        order = ranks if sweep % 2 == 0 else list(reversed(ranks))
        for r in order:
            column = columns[r]
            desired = {
                id(b): (sum(n.y for n in b.neighbours) / len(b.neighbours) if b.neighbours else b.y) for b in column
            }
            column.sort(key=lambda b: (desired[id(b)], b.y))
            _place(column, [desired[id(b)] for b in column], gap_y)


def _place(column: list[Box], desired: list[float], gap: float) -> None:
    """Least-squares positions near ``desired`` keeping the order and spacing (pool adjacent violators)."""
    offsets = [0.0]
    for previous, box in zip(column, column[1:]):
        offsets.append(offsets[-1] + previous.h / 2 + gap + box.h / 2)
    targets = [d - o for d, o in zip(desired, offsets)]
    blocks: list[list[float]] = []  # [mean, count]
    for t in targets:
        blocks.append([t, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            blocks[-1][0] = (blocks[-1][0] * blocks[-1][1] + mean * count) / (blocks[-1][1] + count)
            blocks[-1][1] += count
    values = [mean for mean, count in blocks for _ in range(int(count))]
    for box, value, offset in zip(column, values, offsets):
        box.y = value + offset


def _route(edge: Edge, offset: float, flat: float) -> None:
    s, t = edge.source, edge.target
    x1, y1 = s.x + _half_width(s), s.y
    x2, y2 = t.x - _half_width(t) - 2, t.y + offset
    # The labels sit on a straight piece of the edge: at its start, or, when the source feeds several edges
    # (whose starts coincide), at its end. Waypoints are passed horizontally; S-curves join the pieces.
    points: list[tuple[float, float, bool]] = [(x1, y1, False)]  # (x, y, straight line from the previous point)
    if not edge.near_target:
        points.append((x1 + flat, y1, True))
    for waypoint in edge.via:
        points += [(waypoint.x - 12, waypoint.y, False), (waypoint.x + 12, waypoint.y, True)]
    if edge.near_target:
        points.append((x2 - flat, y2, False))
        points.append((x2, y2, True))
    else:
        points.append((x2, y2, False))
    path = [f"M{x1:.1f},{y1:.1f}"]
    for (ax, ay, _), (bx, by, straight) in zip(points, points[1:]):
        if straight:
            path.append(f"L{bx:.1f},{by:.1f}")
        else:
            dx = max((bx - ax) / 2, 6.0)
            path.append(f"C{ax + dx:.1f},{ay:.1f} {bx - dx:.1f},{by:.1f} {bx:.1f},{by:.1f}")
    edge.path = " ".join(path)
    if edge.near_target:
        edge.label_x, edge.label_y = x2 - flat / 2, y2
    else:
        edge.label_x, edge.label_y = x1 + flat / 2, y1


def _half_width(box: Box) -> float:
    return box.w / 2


def render_svg(
    nodes: list[GraphNode],
    *,
    node_grads: dict[str, Any] | None = None,
    edge_grads: dict[tuple[str, int], Any] | None = None,
    reveal: dict[tuple[str, str], int] | None = None,
    output_label: str | None = None,
    precision: int = 2,
) -> str:
    """The graph of ``nodes`` (forward order, the output last) as one SVG element.

    ``node_grads`` maps node ids to their gradients (shown under the inputs); ``edge_grads`` maps
    (target id, input position) to the gradient sent along that edge; ``reveal`` maps
    ``("edge-value"|"edge-grad", edge index)`` and ``("node-grad", node id)`` to the step of the
    step-through page at which the text appears (``data-at``), and ``("node-fwd"|"node-bwd", id)`` to the
    steps at which a node is evaluated and backpropagated. Without ``reveal`` everything known is shown.
    """
    node_grads = node_grads or {}
    edge_grads = edge_grads or {}
    grad_labels = [grad_text(g, precision) for g in edge_grads.values()]
    layout = compute_layout(nodes, output_label, precision, grad_labels)
    reveal = reveal or {}
    # The edge into the output marker carries d f / d f: given as ("out", 0) or, alone, the root's gradient.
    out_grad = edge_grads.get(("out", 0)) if edge_grads else node_grads.get(nodes[-1].id)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dg-graph" viewBox="0 0 {layout.width:.0f} '
        f'{layout.height:.0f}" width="{layout.width * SCALE:.0f}" height="{layout.height * SCALE:.0f}" role="img" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="{FONT}">',
        '<defs><marker id="dg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
        "<style>.dg-graph .ev{fill:#15803d}.dg-graph .eg,.dg-graph .ngrad{fill:#b91c1c;font-weight:600}"
        ".dg-graph path.edge-line{fill:none;stroke:#555;stroke-width:1.4}"
        ".dg-graph .op circle,.dg-graph .op rect{fill:#fff;stroke:#333;stroke-width:1.6}"
        ".dg-graph .input rect{fill:#dbeafe;stroke:#1d4ed8}.dg-graph .const rect{fill:#f3f4f6;stroke:#9ca3af}"
        ".dg-graph .module rect{fill:#dcfce7;stroke:#15803d}.dg-graph .output rect{fill:#fef3c7;stroke:#b45309}"
        "</style>",
    ]
    for edge in layout.edges:
        target_id = edge.target.key
        grad = out_grad if target_id == "out" else edge_grads.get((target_id, edge.position))
        out += _svg_edge(edge, grad, reveal, precision)
    for box in layout.boxes:
        if box.shape != "waypoint":
            grad = None if box.node is None or box.node.kind != "input" else node_grads.get(box.key)
            out += _svg_node(box, grad, reveal, precision)
    out.append("</svg>")
    return "\n".join(out)


def _at(reveal: dict[tuple[str, str], int], kind: str, key: Any, attribute: str = "data-at") -> str:
    """The attribute naming the page step at which this text or node appears ("" when always shown)."""
    step = reveal.get((kind, str(key)))
    return "" if step is None else f' {attribute}="{step}"'


def _svg_edge(edge: Edge, grad: Any, reveal: dict[tuple[str, str], int], precision: int) -> list[str]:
    """One edge: its curve, the forward value above it and the gradient flowing back below it."""
    out = [
        f'<g class="edge" id="e{edge.index}" data-source="{edge.source.key}" data-target="{edge.target.key}">',
        f'<path class="edge-line" d="{edge.path}" marker-end="url(#dg-arrow)"/>',
    ]
    if edge.source.node is not None:
        value = edge_value_text(edge.source.node.tensor, precision)
        out.append(
            f'<text class="ev" x="{edge.label_x:.1f}" y="{edge.label_y - 5:.1f}" text-anchor="middle" '
            f'font-size="{EDGE_FONT}"{_at(reveal, "edge-value", edge.index)}>{escape(value)}</text>'
        )
    if grad is not None:
        out.append(
            f'<text class="eg" x="{edge.label_x:.1f}" y="{edge.label_y + 16:.1f}" text-anchor="middle" '
            f'font-size="{EDGE_FONT}"{_at(reveal, "edge-grad", edge.index)}>{escape(grad_text(grad, precision))}</text>'
        )
    out.append("</g>")
    return out


def _svg_node(box: Box, grad: Any, reveal: dict[tuple[str, str], int], precision: int) -> list[str]:
    """One node: its circle or box, the lines inside, and (for an input) its gradient underneath."""
    node = box.node
    kind = "output" if node is None else node.kind
    attrs = _at(reveal, "node-fwd", box.key, "data-fwd") + _at(reveal, "node-bwd", box.key, "data-bwd")
    out = [
        f'<g class="node {kind}" id="{box.key}"{attrs}>',
        f"<title>{escape(node.title if node is not None else 'output')}</title>",
    ]
    left, top = box.x - box.w / 2, box.y - box.h / 2
    if box.shape == "circle":
        out.append(f'<circle cx="{box.x:.1f}" cy="{box.y:.1f}" r="{box.w / 2:.1f}"/>')
    else:
        radius = 14 if box.shape == "rect" and kind == "op" else 5
        out.append(f'<rect x="{left:.1f}" y="{top:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" rx="{radius}"/>')
    line_height = 16.0
    first = box.y - (len(box.lines) - 1) * line_height / 2
    for i, line in enumerate(box.lines):
        weight = ' font-weight="600"' if i == 0 else ""
        size = 12 if kind == "module" and i > 0 else (15 if box.shape == "circle" else FONT)
        out.append(
            f'<text x="{box.x:.1f}" y="{first + i * line_height:.1f}" text-anchor="middle" '
            f'dominant-baseline="central" font-size="{size}"{weight}>{escape(line)}</text>'
        )
    if grad is not None:
        out.append(
            f'<text class="ngrad" x="{box.x:.1f}" y="{box.y + box.h / 2 + 15:.1f}" text-anchor="middle" '
            f'font-size="12" data-grad-of="{escape(node.label)}"{_at(reveal, "node-grad", box.key)}>'
            f"{escape(grad_text(grad, precision))}</text>"
        )
    out.append("</g>")
    return out
