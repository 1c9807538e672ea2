"""`deepgrad explain`: the lectures' three examples, every kind of bad input (exit status 2), --graph and --html."""

import importlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from deepgrad.cli import main
from deepgrad.cli.explain import parse_at
from deepgrad.errors import ExpressionError
from deepgrad.viz.explain import explain, parse_expression

SIGMOID = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
SIGMOID_AT = "x0=-1,x1=-2,w0=2,w1=-3,w2=-3"
PEHARZ = "sqrt(x**2+exp(x**2))+cos(x**2+exp(x**2))"


def run(capsys, *argv):
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_lecture_example_z_times_x_plus_y(capsys):
    code, out, err = run(capsys, "z*(x+y)", "--at", "x=2,y=3,z=-2")
    assert code == 0 and err == ""
    assert "gradient (df/dx, df/dy, df/dz) = (-2.00, -2.00, 5.00)" in out
    assert "f = -10.00" in out
    lines = out.splitlines()
    assert lines[0] == "f(x, y, z) = z*(x+y)" and lines[1] == "at x=2, y=3, z=-2"
    # forward table: x+y = 5 then z*(x+y) = -10; backward: the add node gets upstream -2 and passes it on
    assert any(line.split() == ["1", "add", "x+y", "2.00,", "3.00", "5.00"] for line in lines)
    assert any(line.split() == ["2", "add", "x+y", "-2.00", "x", "1.00", "-2.00"] for line in lines)


def test_lecture_example_sigmoid_neuron(capsys):
    code, out, _ = run(capsys, SIGMOID, "--at", SIGMOID_AT)
    assert code == 0
    assert "gradient (df/dx0, df/dx1, df/dw0, df/dw1, df/dw2) = (0.39, -0.59, -0.20, -0.39, 0.20)" in out
    assert "f = 0.73" in out
    backward = out.split("backward pass")[1].splitlines()
    div_row = next(line for line in backward if line.split()[1:2] == ["div"])
    # the 1/x node: upstream 1.00, local -0.53, downstream -0.53
    cells = div_row.split()
    assert cells[3] == "1.00" and cells[-3:] == ["1+exp(-(w0*x0+w1*x1+w2))", "-0.53", "-0.53"]
    exp_row = next(line for line in backward if line.split()[1:2] == ["exp"])
    assert exp_row.split()[3] == "-0.53" and exp_row.split()[-2:] == ["0.37", "-0.20"]


def test_lecture_example_shared_subexpressions(capsys):
    code, out, _ = run(capsys, PEHARZ, "--at", "x=2")
    assert code == 0
    assert "f = 7.19" in out and "gradient (df/dx) = (-182.87)" in out
    forward = out.split("backward pass")[0]
    # x**2 and x**2+exp(x**2) are written twice but computed once, as in the lecture's graph
    assert forward.count("pow x**2") == 1 and forward.count("add x**2+exp(x**2)") == 1
    backward = out.split("backward pass")[1].splitlines()
    c_row = next(line for line in backward if line.split()[1:3] == ["add", "x**2+exp(x**2)"])
    assert c_row.split()[3] == "-0.82"  # dF/dc: the gradients of its two uses summed


def test_explain_function_numbers():
    result = explain(SIGMOID, parse_at(SIGMOID_AT))
    grads = [float(result.variables[n].grad) for n in ["x0", "x1", "w0", "w1", "w2"]]
    np.testing.assert_allclose(grads, [0.39322387, -0.58983580, -0.19661193, -0.39322387, 0.19661193], rtol=1e-7)
    assert result.output.dtype == np.float64 and result.output.ndim == 0
    result = explain(PEHARZ, {"x": 2.0})
    assert float(result.output.array) == pytest.approx(7.1943, abs=1e-4)
    assert float(result.variables["x"].grad) == pytest.approx(-182.87, abs=5e-3)


def test_every_allowed_function_against_torch():
    torch = pytest.importorskip("torch")
    expr = "max(x, y, 0.5)*min(x, y) + log(abs(x)+1)*sin(y) - tanh(x)/sigmoid(y) + relu(x-y)**2 + +x - -y"
    values = {"x": 0.7, "y": -1.3}
    result = explain(expr, values)
    tx = torch.tensor(values["x"], dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(values["y"], dtype=torch.float64, requires_grad=True)
    x, y = tx, ty
    half = torch.tensor(0.5, dtype=torch.float64)
    tf = (
        torch.maximum(torch.maximum(x, y), half) * torch.minimum(x, y)
        + torch.log(torch.abs(x) + 1) * torch.sin(y)
        - torch.tanh(x) / torch.sigmoid(y)
        + torch.relu(x - y) ** 2
        + x
        + y
    )
    tf.backward()
    assert float(result.output.array) == pytest.approx(tf.item(), rel=1e-12)
    assert float(result.variables["x"].grad) == pytest.approx(tx.grad.item(), rel=1e-12)
    assert float(result.variables["y"].grad) == pytest.approx(ty.grad.item(), rel=1e-12)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("x.real", "attribute access is not allowed at column 1: 'x.real'"),
        ("x + y.conjugate()", "only the listed functions can be called; 'y.conjugate' at column 5"),
        ("foo(x)", "unknown function 'foo' at column 1"),
        ("__import__('os').system('true')", "at column 1"),
        ("exp(x, base=2)", "keyword arguments are not allowed at column 8: 'base=2'"),
        ("(lambda: x)()", "only the listed functions can be called"),
        ("lambda: x", "a lambda is not allowed at column 1"),
        ("[x for x in y]", "a comprehension is not allowed at column 1"),
        ("sum(x for x in y)", "unknown function 'sum'"),
        ("exp(*x)", "* unpacking is not allowed at column 5"),
        ("x[0]", "indexing is not allowed at column 1"),
        ("x if y else 1", "a conditional expression is not allowed at column 1"),
        ("x < y", "a comparison is not allowed at column 1"),
        ("x and y", "and/or is not allowed at column 1"),
        ("x, y", "a tuple is not allowed at column 1"),
        ("x // y", "the operator // is not allowed at column 1"),
        ("x ^ 2", "the operator ^ (write powers as **) is not allowed"),
        ("not x", "the operator not is not allowed"),
        ("'text' * x", "a str constant is not allowed at column 1"),
        ("x * 2j", "a complex constant is not allowed at column 5"),
        ("True * x", "True/False is not allowed at column 1"),
        ("exp + x", "'exp' at column 1 is a function: call it"),
        ("sqrt(x, y)", "sqrt at column 1 takes 1 argument, got 2"),
        ("max(x)", "max at column 1 takes two or more arguments, got 1"),
        ("x * (y + ", "syntax error at column 5 of 'x * (y +': '(' was never closed"),
        ("x +", "syntax error at the end of 'x +': invalid syntax"),
        ("x y", "syntax error at column 3 of 'x y': invalid syntax"),
        ("2x", "syntax error at column 1 of '2x'"),
        ("", "the expression is empty"),
        ("x + q", "no value for 'q' (used at column 5): add it to --at"),
        ("x", "--at gives a value for 'y', a name the expression does not use (it uses: x)"),
        ("2 * 3", "--at gives a value for 'x', a name the expression does not use (it uses: no variables)"),
    ],
)
def test_bad_expressions_exit_2_with_one_line(capsys, expression, message):
    code, out, err = run(capsys, expression, "--at", "x=1,y=2")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("deepgrad explain: error: ")
    assert message in err


@pytest.mark.parametrize(
    "at, message",
    [
        ("x=1,", "empty item"),
        ("x", "'x' is not NAME=VALUE"),
        ("x=", "'x=' is not NAME=VALUE"),
        ("x=one", "the value of x, 'one', is not a number"),
        ("x=1,x=2", "x is given twice"),
        ("2x=1", "'2x' is not a variable name"),
        ("exp=1", "'exp' is a function name"),
    ],
)
def test_bad_values(capsys, at, message):
    code, out, err = run(capsys, "x*2", "--at", at)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert message in err


def test_no_variables(capsys):
    code, _, err = run(capsys, "2*3")
    assert code == 2 and "the expression has no variables" in err


def test_parse_expression_never_evaluates():
    tree = parse_expression("exp(x) * 2")
    assert tree.body.__class__.__name__ == "BinOp"
    with pytest.raises(ExpressionError, match="unknown function 'open'"):
        parse_expression("open('/etc/passwd')")


def test_graph_option_dot_svg_and_png(tmp_path, capsys):
    code, out, _ = run(capsys, "z*(x+y)", "--at", "x=2,y=3,z=-2", "--graph", str(tmp_path / "g.dot"))
    assert code == 0 and f"graph written to {tmp_path / 'g.dot'}" in out
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith("digraph") and "grad -2.00" in dot and "x+y" in dot
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    for suffix in ("svg", "png"):
        code, _, _ = run(capsys, SIGMOID, "--at", SIGMOID_AT, "--graph", str(tmp_path / f"g.{suffix}"))
        assert code == 0
    assert "<svg" in (tmp_path / "g.svg").read_text()
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_graph_option_errors(tmp_path, capsys, monkeypatch):
    code, _, err = run(capsys, "x*2", "--at", "x=1", "--graph", str(tmp_path / "g.jpg"))
    assert code == 2 and "must end in .svg, .png, .pdf or .dot" in err
    graph_module = importlib.import_module("deepgrad.viz.graph")
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    code, _, err = run(capsys, "x*2", "--at", "x=1", "--graph", str(tmp_path / "g.svg"))
    assert code == 2 and err.count("\n") == 1 and "install the graphviz package" in err
    code, _, err = run(capsys, "x*2", "--at", "x=1", "--graph", str(tmp_path / "missing" / "g.dot"))
    assert code == 2 and "cannot write" in err


def test_html_option_writes_a_self_contained_page(tmp_path, capsys):
    path = tmp_path / "page.html"
    code, out, _ = run(capsys, SIGMOID, "--at", SIGMOID_AT, "--html", str(path))
    assert code == 0 and f"step-through page written to {path}" in out
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "src=" not in page and "href=" not in page  # nothing loaded from anywhere
    code, _, err = run(capsys, "x*2", "--at", "x=1", "--html", str(tmp_path / "missing" / "p.html"))
    assert code == 2 and "cannot write" in err


def test_precision_option(capsys):
    code, out, _ = run(capsys, PEHARZ, "--at", "x=2", "--precision", "4")
    assert code == 0 and "gradient (df/dx) = (-182.8698)" in out
    code, _, err = run(capsys, "x", "--at", "x=1", "--precision", "40")
    assert code == 2 and "--precision" in err


def test_command_line_in_a_subprocess():
    ok = subprocess.run(
        [sys.executable, "-m", "deepgrad.cli", "explain", "z*(x+y)", "--at", "x=2,y=3,z=-2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "gradient (df/dx, df/dy, df/dz) = (-2.00, -2.00, 5.00)" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "deepgrad.cli", "explain", "x.__class__", "--at", "x=1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == (
        "deepgrad explain: error: attribute access is not allowed at column 1: 'x.__class__'; allowed are numbers, "
        "variable names, + - * / **, unary -, parentheses and calls to exp, log, sqrt, sin, cos, tanh, sigmoid, "
        "relu, abs, max, min\n"
    )


def _balanced_sum(levels):
    """``((x0*0+x1*1)+(x2*2+x3*3))+...``: 2**levels distinct terms, a tree of depth ``levels``."""
    terms = [f"x{i % 5}*{i}" for i in range(2**levels)]
    while len(terms) > 1:
        terms = [f"({terms[i]}+{terms[i + 1]})" for i in range(0, len(terms), 2)]
    return terms[0]


def test_long_expressions_take_linear_time(capsys, monkeypatch):
    """A 9 KB balanced sum took 6 s (``ast.get_source_segment`` once per node re-splits the whole text)."""
    import ast
    import time

    def quadratic(*args, **kwargs):
        raise AssertionError("ast.get_source_segment is linear in the text per call: quadratic over a tree")

    monkeypatch.setattr(ast, "get_source_segment", quadratic)
    expression = _balanced_sum(10)
    assert 9_000 < len(expression) <= 10_000
    started = time.perf_counter()
    code, out, err = run(capsys, expression, "--at", "x0=1,x1=2,x2=3,x3=4,x4=5")
    assert code == 0, err
    assert time.perf_counter() - started < 30  # ~0.5 s when idle
    gradient = [sum(i for i in range(2**10) if i % 5 == j) for j in range(5)]
    assert f"gradient (df/dx0, df/dx1, df/dx2, df/dx3, df/dx4) = ({', '.join(f'{g}.00' for g in gradient)})" in out


def test_expressions_longer_than_the_limit_are_refused(capsys):
    from deepgrad.viz.explain import MAX_LENGTH

    code, out, err = run(capsys, "+".join(["x"] * (MAX_LENGTH // 2 + 1)), "--at", "x=1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"characters long; the limit is {MAX_LENGTH:,} characters" in err


@pytest.mark.parametrize(
    "argv, gradient",
    [
        (["--x", "--at", "x=1"], "(df/dx) = (1.00)"),
        (["--at", "x=2", "--x**2"], "(df/dx) = (4.00)"),
        (["--at=x=3", "--x*y", "--precision", "1"], None),
        (["--x*y", "--at", "x=3,y=-1"], "(df/dx, df/dy) = (-1.00, 3.00)"),
    ],
)
def test_expression_starting_with_two_minus_signs(capsys, argv, gradient):
    code, out, err = run(capsys, *argv)
    if gradient is None:  # y has no value: the expression was taken, the values were checked
        assert code == 2 and "no value for 'y'" in err
        return
    assert code == 0, err
    assert gradient in out


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "9" * 5000])
def test_non_finite_values_are_refused(capsys, value):
    code, out, err = run(capsys, "x*2", "--at", f"x={value}")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "is not a finite number" in err and len(err) < 300
    with pytest.raises(ExpressionError, match="give a finite number"):
        explain("x*2", {"x": float(value)})


def test_non_finite_constants_are_refused(capsys):
    code, _, err = run(capsys, "x*1e999", "--at", "x=1")
    assert code == 2 and "the number at column 3 is too large for a float64" in err


@pytest.mark.parametrize(
    "expression, at, gradient",
    [
        ("x**0", "x=0", "(df/dx) = (0.00)"),
        ("x**y", "x=0,y=2", "(df/dx, df/dy) = (0.00, 0.00)"),
        ("x**y", "x=0,y=0", "(df/dx, df/dy) = (0.00, 0.00)"),
        ("x**x", "x=0", "(df/dx) = (0.00)"),
    ],
)
def test_pow_at_zero_as_pytorch(capsys, expression, at, gradient):
    code, out, err = run(capsys, expression, "--at", at)
    assert code == 0 and f"gradient {gradient}" in out
    assert "nan" not in out and "inf" not in out
