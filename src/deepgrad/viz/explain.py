"""``deepgrad explain EXPR --at NAME=VALUE,...``: an expression's graph, forward values, backward trace and gradient.

The expression is parsed with Python's ``ast`` and checked against a strict whitelist before anything is
built -- numbers, variable names, ``+ - * / **``, unary minus, parentheses, and calls to the functions in
``FUNCTIONS`` -- and is then evaluated node by node on 0-d float64 tensors; ``eval`` is never used.
A subexpression written twice (``x**2`` in ``sqrt(x**2+exp(x**2))``) becomes one node used twice, as the
lectures draw it, so its gradient is the sum over both uses.

>>> from deepgrad.viz.explain import explain
>>> result = explain("z*(x+y)", {"x": 2, "y": 3, "z": -2})
>>> [float(result.variables[name].grad) for name in "xyz"]
[-2.0, -2.0, 5.0]
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

import deepgrad
from deepgrad.errors import ExpressionError
from deepgrad.viz.format import format_constant, format_number, format_table, shorten
from deepgrad.viz.trace import Trace, trace

# name -> (Tensor method or module function name, number of arguments; None for two or more)
FUNCTIONS: dict[str, tuple[str, int | None]] = {
    "exp": ("exp", 1),
    "log": ("log", 1),
    "sqrt": ("sqrt", 1),
    "sin": ("sin", 1),
    "cos": ("cos", 1),
    "tanh": ("tanh", 1),
    "sigmoid": ("sigmoid", 1),
    "relu": ("relu", 1),
    "abs": ("abs", 1),
    "max": ("maximum", None),
    "min": ("minimum", None),
}

#: The longest expression accepted, in characters: parsing, building and tracing take time linear in the
#: length, but the report lists every node, and a page of 10,000 characters is already far beyond a hand check.
MAX_LENGTH = 10_000

ALLOWED = "allowed are numbers, variable names, + - * / **, unary -, parentheses and calls to " + ", ".join(FUNCTIONS)

_BINARY = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__", ast.Div: "__truediv__", ast.Pow: "__pow__"}

# What the user wrote, in words, for the constructs the whitelist rejects.
_FORBIDDEN = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Slice: "slicing",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.Compare: "a comparison",
    ast.BoolOp: "and/or",
    ast.IfExp: "a conditional expression",
    ast.NamedExpr: "an assignment expression",
    ast.Tuple: "a tuple",
    ast.List: "a list",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.Starred: "* unpacking",
    ast.JoinedStr: "an f-string",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_OPERATORS = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitXor: "^ (write powers as **)",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Not: "not",
    ast.Invert: "~",
}


def _where(node: ast.AST, text: str) -> str:
    line = getattr(node, "lineno", 1)
    column = getattr(node, "col_offset", 0) + 1
    return f"column {column}" if line == 1 else f"line {line}, column {column}"


def _snippet(node: ast.AST, text: str) -> str:
    segment = ast.get_source_segment(text, node) or ""
    return repr(shorten(" ".join(segment.split()), 40))


class Source:
    """The expression's text, cut by the positions of its syntax tree's nodes.

    ``ast.get_source_segment`` splits the whole text into lines at every call, which made naming every node
    of a long expression quadratic in its length; the lines are split once here, and a segment costs its
    own length. Columns in the tree count UTF-8 bytes, so the lines are kept encoded.
    """

    _LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = [line.encode() for line in self._LINE.findall(text)]

    def segment(self, node: ast.AST) -> str | None:
        """The text of ``node`` (None for a node without positions)."""
        end_line, end_column = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if end_line is None or end_column is None:
            return None
        line, column = node.lineno - 1, node.col_offset  # type: ignore[attr-defined]
        if line == end_line - 1:
            return self.lines[line][column:end_column].decode()
        parts = [self.lines[line][column:], *self.lines[line + 1 : end_line - 1], self.lines[end_line - 1][:end_column]]
        return b"".join(parts).decode()


def parse_expression(text: str) -> ast.Expression:
    """The expression's syntax tree, after checking every node against the whitelist (ExpressionError otherwise)."""
    if not text.strip():
        raise ExpressionError('the expression is empty; give one such as "z*(x+y)"')
    if len(text.strip()) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text.strip()):,} characters long; the limit is {MAX_LENGTH:,} characters"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        if not error.offset:  # the parser ran out of input: the problem is at the end
            where = "the end"
        elif (error.lineno or 1) == 1:
            where = f"column {error.offset}"
        else:
            where = f"line {error.lineno}, column {error.offset}"
        raise ExpressionError(f"syntax error at {where} of {text.strip()!r}: {error.msg}") from None
    except (RecursionError, MemoryError, ValueError) as error:
        raise ExpressionError(f"cannot parse the expression: {error}") from None
    text = text.strip()
    _mark_calls(tree)
    # Check the expression nodes left to right, so the message points at the first problem the user wrote
    # (operators are checked with their BinOp, lambda arguments and comprehension clauses with their parent).
    nodes = sorted(
        (n for n in ast.walk(tree.body) if isinstance(n, ast.expr)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for node in nodes:
        _check(node, text)
    return tree


def _check(node: ast.AST, text: str) -> None:
    """ExpressionError unless this expression node is on the whitelist (its children are checked on their own)."""
    if not isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Call)):
        what = _FORBIDDEN.get(type(node), f"a {type(node).__name__} construct")
        raise ExpressionError(f"{what} is not allowed at {_where(node, text)}: {_snippet(node, text)}; {ALLOWED}")
    if isinstance(node, ast.BinOp) and type(node.op) not in _BINARY:
        _forbidden_operator(node, node.op, text)
    if isinstance(node, ast.UnaryOp) and not isinstance(node.op, (ast.USub, ast.UAdd)):
        _forbidden_operator(node, node.op, text)
    if isinstance(node, ast.Constant):
        _check_constant(node, text)
    if isinstance(node, ast.Call):
        _check_call(node, text)
    if isinstance(node, ast.Name) and node.id in FUNCTIONS and not getattr(node, "_is_function", False):
        raise ExpressionError(
            f"{node.id!r} at {_where(node, text)} is a function: call it, e.g. {node.id}(x), or rename the variable"
        )


def _forbidden_operator(node: ast.AST, op: ast.AST, text: str) -> None:
    symbol = _OPERATORS.get(type(op), type(op).__name__)
    raise ExpressionError(
        f"the operator {symbol} is not allowed at {_where(node, text)}: {_snippet(node, text)}; {ALLOWED}"
    )


def _check_constant(node: ast.Constant, text: str) -> None:
    """Only int and float literals (no bool, str, complex), and only those that fit a float64."""
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "True/False" if isinstance(value, bool) else f"a {type(value).__name__} constant"
        raise ExpressionError(f"{kind} is not allowed at {_where(node, text)}: {_snippet(node, text)}; {ALLOWED}")
    try:
        finite = math.isfinite(float(value))
    except OverflowError:
        finite = False
    if not finite:  # 1e999 is inf to Python's parser
        raise ExpressionError(f"the number at {_where(node, text)} is too large for a float64") from None


def _check_call(node: ast.Call, text: str) -> None:
    """A call of a listed function by name, with positional arguments only, as many as it takes."""
    if not isinstance(node.func, ast.Name):
        raise ExpressionError(
            f"only the listed functions can be called; {_snippet(node.func, text)} at "
            f"{_where(node.func, text)} is not one; {ALLOWED}"
        )
    name = node.func.id
    if name not in FUNCTIONS:
        raise ExpressionError(f"unknown function {name!r} at {_where(node.func, text)}; {ALLOWED}")
    if node.keywords:
        keyword = node.keywords[0]
        raise ExpressionError(
            f"keyword arguments are not allowed at {_where(keyword, text)}: {_snippet(keyword, text)}"
            f" ({name} takes positional arguments only)"
        )
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise ExpressionError(f"* unpacking is not allowed at {_where(arg, text)}: {_snippet(arg, text)}")
    arity = FUNCTIONS[name][1]
    count = len(node.args)
    if arity is None and count < 2:
        raise ExpressionError(f"{name} at {_where(node, text)} takes two or more arguments, got {count}")
    if arity is not None and count != arity:
        raise ExpressionError(f"{name} at {_where(node, text)} takes {arity} argument, got {count}")


def _mark_calls(tree: ast.AST) -> None:
    """Flag the Name nodes that are the function part of a call (the others are variables)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            node.func._is_function = True  # type: ignore[attr-defined]


def variables_of(tree: ast.Expression) -> dict[str, ast.Name]:
    """The variable names in order of first appearance (left to right), each with its first occurrence."""
    names: dict[str, ast.Name] = {}
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and not getattr(n, "_is_function", False)]
    for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):
        names.setdefault(node.id, node)
    return names


@dataclass
class Explanation:
    """The built expression: its output tensor, the variables (name -> leaf tensor, in the values' order), the trace."""

    expression: str
    output: Any
    variables: dict[str, Any]
    trace: Trace


def explain(expression: str, values: dict[str, float], precision: int = 2) -> Explanation:
    """Parse, check, build from 0-d float64 tensors, and run the backward trace (ExpressionError for user mistakes)."""
    tree = parse_expression(expression)
    text = expression.strip()
    used = variables_of(tree)
    for name, node in used.items():
        if name not in values:
            raise ExpressionError(
                f"no value for {name!r} (used at {_where(node, text)}): add it to the values, e.g. {{{name!r}: 1.0}}"
            )
    unused = [name for name in values if name not in used]
    if unused:
        raise ExpressionError(
            f"a value is given for {unused[0]!r}, a name the expression does not use (it uses: "
            f"{', '.join(used) or 'no variables'})"
        )
    if not used:
        raise ExpressionError('the expression has no variables: nothing to differentiate (e.g. "x**2" with x=3)')
    check_finite(values)
    leaves = {}
    for name, value in values.items():
        leaf = deepgrad.tensor(value, dtype=deepgrad.float64, requires_grad=True)
        leaf.name = name
        leaves[name] = leaf
    builder = _Builder(Source(text), leaves)
    with np.errstate(all="ignore"):
        try:
            output = builder.build(tree.body)[0]
        except RecursionError:
            raise ExpressionError("the expression is nested too deeply") from None
        result = trace(output, precision=precision)
    return Explanation(text, output, leaves, result)


def check_finite(values: dict[str, float]) -> None:
    """ExpressionError for a value that is nan or infinite: a gradient there is not defined (nor is a check by hand)."""
    for name, value in values.items():
        try:
            finite = math.isfinite(float(value))
        except (TypeError, ValueError, OverflowError):
            raise ExpressionError(f"the value of {name!r} is {value!r}, not a number") from None
        if not finite:
            raise ExpressionError(f"the value of {name!r} is {float(value)}: give a finite number")


class _Builder:
    """Evaluates checked nodes on tensors; equal subexpressions share one node (the lectures' graphs).

    Two nodes are equal when they have the same kind, operator and children: each distinct structure gets a
    small integer, so comparing a node costs O(1) rather than the size of its subtree (``ast.dump``).
    """

    def __init__(self, source: Source, leaves: dict[str, Any]) -> None:
        self.source, self.leaves = source, leaves
        self.numbers: dict[tuple, int] = {}
        self.built: dict[int, Any] = {}

    def _number(self, key: tuple) -> int:
        return self.numbers.setdefault(key, len(self.numbers))

    def build(self, node: ast.AST) -> tuple[Any, int]:
        """The node's tensor and its structure's number."""
        if isinstance(node, ast.Name):
            return self.leaves[node.id], self._number(("name", node.id))
        if isinstance(node, ast.Constant):
            number = deepgrad.tensor(float(node.value), dtype=deepgrad.float64)
            return number, self._number(("number", repr(node.value)))
        if isinstance(node, ast.BinOp):
            (left, left_key), (right, right_key) = self.build(node.left), self.build(node.right)
            key = self._number((type(node.op).__name__, left_key, right_key))
            if key not in self.built:
                self._keep(key, node, getattr(left, _BINARY[type(node.op)])(right))
        elif isinstance(node, ast.UnaryOp):
            operand, operand_key = self.build(node.operand)
            key = self._number((type(node.op).__name__, operand_key))
            if key not in self.built:
                self._keep(key, node, -operand if isinstance(node.op, ast.USub) else operand)
        else:
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            built = [self.build(arg) for arg in node.args]
            key = self._number(("call", node.func.id, *(k for _, k in built)))
            if key not in self.built:
                self._keep(key, node, _call(node.func.id, [t for t, _ in built]))
        return self.built[key], key

    def _keep(self, key: int, node: ast.AST, out: Any) -> None:
        if out.grad_fn is not None and out.name is None:
            # Intermediate values are named by the text that computes them (constants show their value).
            out.name = " ".join((self.source.segment(node) or ast.unparse(node)).split())
        self.built[key] = out


def _call(name: str, args: list[Any]) -> Any:
    method, _arity = FUNCTIONS[name]
    if len(args) == 1:
        return getattr(args[0], method)()
    out = args[0]
    for arg in args[1:]:
        out = getattr(out, method)(arg)
    return out


def forward_table(result: Explanation, precision: int = 2) -> str:
    """The forward pass: every op node in evaluation order, its inputs' values and its value."""
    rows = []
    number = 0
    for node in result.trace.graph.nodes:
        if node.kind != "op":
            continue
        number += 1
        inputs = ", ".join(format_number(source.tensor.array, precision) for source in node.inputs)
        rows.append([str(number), shorten(node.title, 40), inputs, format_number(node.tensor.array, precision)])
    return format_table(["step", "node", "inputs", "value"], rows, right={0, 3})


def report(result: Explanation, precision: int = 2) -> str:
    """What ``deepgrad explain`` prints: forward pass, backward trace, value and gradient."""
    names = list(result.variables)
    at = ", ".join(f"{name}={format_constant(result.variables[name].array)}" for name in names)
    value = format_number(result.output.array, precision)
    grads = [result.trace.gradient(result.variables[name]) for name in names]
    gradient = ", ".join("0.00" if g is None else format_number(g, precision) for g in grads)
    label = ", ".join(f"df/d{name}" for name in names)
    lines = [
        f"f({', '.join(names)}) = {result.expression}",
        f"at {at}",
        "",
        "forward pass",
        forward_table(result, precision),
        "",
        "backward pass (downstream = upstream x local)",
        result.trace.table(precision) if len(result.trace) else "(no ops: f is a variable)",
        "",
        f"f = {value}",
        f"gradient ({label}) = ({gradient})",
    ]
    return "\n".join(lines)
