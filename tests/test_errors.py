"""Bad input gives a clear error naming the op and the shapes or dtypes, never a deep NumPy traceback."""

import numpy as np
import pytest

import deepgrad as dg


def test_shapes_that_do_not_broadcast():
    a, b = dg.ones(2, 3, requires_grad=True), dg.ones(4)
    with pytest.raises(ValueError, match=r"add: .*\(2, 3\), \(4,\)"):
        a + b
    with pytest.raises(ValueError, match=r"mul: .*\(2, 3\), \(4,\)"):
        a * b


def test_matmul_inner_dimensions():
    with pytest.raises(
        ValueError, match=r"matmul: shapes \(2, 4\) and \(3, 5\) are not aligned: inner dimensions 4 .* 3"
    ):
        dg.ones(2, 4) @ dg.ones(3, 5)
    with pytest.raises(ValueError, match=r"matmul: shapes \(3,\) and \(2,\)"):
        dg.ones(3) @ dg.ones(2)
    with pytest.raises(ValueError, match="at least one dimension"):
        dg.matmul(dg.tensor(1.0), dg.ones(2))


def test_backward_on_non_scalar_without_gradient():
    y = dg.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*gradient="):
        y.backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the output has shape \(2, 3\)"):
        y.backward(dg.ones(3))


def test_second_backward_through_freed_graph():
    x = dg.tensor(1.0, requires_grad=True)
    y = (x * 2).exp()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_backward_from_tensor_not_requiring_grad():
    with pytest.raises(RuntimeError, match=r"does not require grad"):
        (dg.ones(3) * 2).sum().backward()
    x = dg.tensor(1.0, requires_grad=True)
    with dg.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_integer_tensors_cannot_be_differentiated():
    with pytest.raises(RuntimeError, match=r"only floating-point.*int64.*shape \(3,\)"):
        dg.tensor([1, 2, 3], requires_grad=True)
    i = dg.tensor([1, 2, 3])
    x = dg.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"cannot differentiate with respect to input 1, a int64 tensor"):
        dg.autograd.grad(x * 2, [x, i])


def test_reshape_and_index_errors_name_the_op():
    with pytest.raises(ValueError, match=r"reshape: .*size 6.*\(4,\)"):
        dg.ones(2, 3, requires_grad=True).reshape(4)
    with pytest.raises(IndexError, match=r"getitem: .*out of bounds.*\(3,\)"):
        dg.ones(3, requires_grad=True)[5]
    with pytest.raises(IndexError, match=r"dimension 2 is out of range for a tensor with 2 dimensions"):
        dg.ones(2, 3).sum(2)


def test_cat_and_stack_shape_errors():
    with pytest.raises(ValueError, match=r"cat: .*\(2, 3\), \(2, 4\)"):
        dg.cat([dg.ones(2, 3), dg.ones(2, 4)], dim=0)
    with pytest.raises(ValueError, match=r"stack: .*\(2,\), \(3,\)"):
        dg.stack([dg.ones(2), dg.ones(3)])


def test_item_and_bool_of_many_elements():
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        dg.ones(2).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(dg.ones(2))


def test_numpy_on_tensor_requiring_grad():
    with pytest.raises(RuntimeError, match="detach"):
        dg.ones(2, requires_grad=True).numpy()


def test_bad_data():
    with pytest.raises(ValueError, match="cannot make a tensor"):
        dg.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="unsupported data"):
        dg.tensor(["a", "b"])
    assert isinstance(np.asarray(dg.ones(2)), np.ndarray)


def test_gather_index_rank_checked():
    with pytest.raises(ValueError, match="gather: index must be an integer tensor with as many dimensions"):
        dg.ones(3, 4).gather(1, dg.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="gather"):
        dg.ones(3, 4).gather(1, dg.tensor([[0.0]]))


def test_library_errors_are_built_in_types_not_the_command_lines():
    from deepgrad import errors
    from deepgrad.cli import UsageError

    expected = {
        "ConfigError": ValueError,
        "WeightFileError": ValueError,
        "WeightFileNotFoundError": FileNotFoundError,
        "CheckpointError": ValueError,
        "NotACheckpointError": ValueError,
        "DatasetNotFoundError": FileNotFoundError,
        "DatasetFormatError": ValueError,
        "DownloadError": OSError,
        "ExpressionError": ValueError,
        "OutputError": OSError,
    }
    assert set(errors.__all__) == set(expected)
    for name, base in expected.items():
        cls = getattr(errors, name)
        assert issubclass(cls, base) and not issubclass(cls, UsageError), name
    assert dg.io.WeightFileError is errors.WeightFileError and dg.data.DatasetFormatError is errors.DatasetFormatError


def test_output_error_marks_settings_like_config_error():
    from deepgrad.errors import OutputError

    error = OutputError("cannot write `save` w.st: No space left on device; continue with `resume` c.st", result=7)
    assert str(error) == "cannot write save w.st: No space left on device; continue with resume c.st"
    assert error.render(lambda name, value: "--" + name) == (
        "cannot write --save w.st: No space left on device; continue with --resume c.st"
    )
    assert error.result == 7 and isinstance(error, OSError)
