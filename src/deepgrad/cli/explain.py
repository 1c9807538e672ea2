"""``deepgrad explain EXPR --at NAME=VALUE,...``: the report of `deepgrad.viz.explain`, a graph, a page."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

from deepgrad.cli.errors import UsageError
from deepgrad.viz.explain import FUNCTIONS, explain, parse_expression, report, variables_of

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def parse_at(text: str) -> dict[str, float]:
    """``"x=2,y=3"`` -> ``{"x": 2.0, "y": 3.0}`` in the given order (UsageError for malformed items)."""
    values: dict[str, float] = {}
    if not text.strip():
        return values
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise UsageError(f"--at {text!r}: empty item; write NAME=VALUE pairs separated by commas")
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise UsageError(f"--at: {item!r} is not NAME=VALUE (e.g. --at x=2,y=-1.5)")
        if not _NAME.match(name):
            raise UsageError(f"--at: {name!r} is not a variable name")
        if name in FUNCTIONS:
            raise UsageError(f"--at: {name!r} is a function name, not a variable")
        if name in values:
            raise UsageError(f"--at: {name} is given twice")
        shown = value if len(value) <= 40 else f"{value[:20]}...{value[-10:]} ({len(value)} characters)"
        try:
            values[name] = float(value)
        except ValueError:
            raise UsageError(f"--at: the value of {name}, {shown!r}, is not a number") from None
        if not math.isfinite(values[name]):
            raise UsageError(
                f"--at: the value of {name}, {shown!r}, is not a finite number (a float64 reads it as "
                f"{values[name]}); give a finite value"
            )
    return values


def check_values(expression: str, values: dict[str, float]) -> None:
    """Every variable of the expression has a value in --at and every --at name is used (said with --at)."""
    used = variables_of(parse_expression(expression))
    for name, node in used.items():
        if name not in values:
            column = f"column {node.col_offset + 1}"
            where = column if node.lineno == 1 else f"line {node.lineno}, {column}"
            raise UsageError(f"no value for {name!r} (used at {where}): add it to --at, e.g. --at {name}=1.0")
    unused = [name for name in values if name not in used]
    if unused:
        raise UsageError(
            f"--at gives a value for {unused[0]!r}, a name the expression does not use (it uses: "
            f"{', '.join(used) or 'no variables'})"
        )
    if not used:
        raise UsageError('the expression has no variables: nothing to differentiate (e.g. "x**2" --at x=3)')


def run_explain(args: argparse.Namespace) -> int:
    """Print the forward and backward tables of ``args.expression``; write ``--graph`` and ``--html``."""
    precision = getattr(args, "precision", 2)
    if precision is None or not 0 <= precision <= 12:
        raise UsageError(f"--precision must be between 0 and 12, got {precision}")
    graph_path = args.graph
    if graph_path is not None and not str(graph_path).lower().endswith((".svg", ".png", ".dot", ".pdf")):
        raise UsageError(f"--graph {graph_path}: the file name must end in .svg, .png, .pdf or .dot")
    values = parse_at(args.at or "")
    check_values(args.expression, values)
    result = explain(args.expression, values, precision=precision)
    print(report(result, precision))
    if graph_path is not None:
        _write(lambda: result.trace.graph.render(graph_path), "--graph", graph_path)
        print(f"graph written to {graph_path}")
    if args.html is not None:
        from deepgrad.viz.html import html_page

        page = f"f = {result.expression}"
        _write(
            lambda: html_page(result.trace, args.html, title=page, variables=list(result.variables)),
            "--html",
            args.html,
        )
        print(f"step-through page written to {args.html}")
    return 0


def _write(write: Callable[[], object], option: str, path: str) -> None:
    """Run ``write``; a missing Graphviz or an OS error is one line naming the option and the file."""
    from deepgrad.viz.graph import GraphvizNotFoundError

    try:
        write()
    except GraphvizNotFoundError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"{option}: cannot write {path}: {error.strerror or error}") from None
