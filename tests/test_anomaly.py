"""deepgrad.autograd.detect_anomaly: the first NaN/inf, forward or backward, named with the line that made it."""

import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import detect_anomaly
from deepgrad.autograd.anomaly import AnomalyError, is_anomaly_enabled
from deepgrad.autograd.function import _ANOMALY, Function

THIS_FILE = __file__


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own divide-by-zero warnings
        yield


def test_log_of_zero_raises_in_forward_with_the_users_line():
    x = dg.tensor([1.0, 0.0], requires_grad=True)
    with pytest.raises(AnomalyError) as info, detect_anomaly():
        y = x.log()  # the line the message must show
    message = str(info.value)
    assert message.startswith("detect_anomaly: the output of log is not finite (shape (2,): 1 of 2 values are inf")
    assert "its inputs were finite" in message
    assert f'File "{THIS_FILE}"' in message and "in test_log_of_zero_raises_in_forward_with_the_users_line" in message
    assert "    y = x.log()  # the line the message must show" in message
    assert "y" not in locals()


def test_sqrt_at_zero_raises_in_backward_naming_sqrt_and_where_it_was_created():
    x = dg.tensor(0.0, requires_grad=True)
    with detect_anomaly():
        y = x.sqrt()  # forward is fine: sqrt(0) = 0
        z = y * 3.0
        with pytest.raises(AnomalyError) as info:
            z.backward()
    message = str(info.value)
    assert message.startswith("detect_anomaly: the backward of sqrt returned a non-finite gradient for its input 0")
    assert "1 of 1 values are inf" in message
    assert "y = x.sqrt()  # forward is fine" in message  # the creating line, not the backward call
    assert "z.backward()" not in message


def test_functions_module_and_composites_point_at_the_user_line():
    x = dg.tensor([-1.0, 4.0], requires_grad=True)
    with pytest.raises(AnomalyError, match="output of sqrt") as info, detect_anomaly():
        dg.sqrt(x).sum()  # through deepgrad.functions
    assert "dg.sqrt(x).sum()  # through deepgrad.functions" in str(info.value)
    assert "functions.py" not in str(info.value) and "tensor.py" not in str(info.value)


def test_nan_already_in_the_input_is_reported_as_such():
    x = dg.tensor([np.nan, 1.0], requires_grad=True)
    with pytest.raises(AnomalyError, match="input 0 was already not finite, so look further back"), detect_anomaly():
        x * 2


def test_ops_that_are_not_recorded_are_checked_too():
    with pytest.raises(AnomalyError, match=r"output of div .*nan"), detect_anomaly():
        dg.zeros(3) / dg.zeros(3)


def test_off_by_default_and_restored_afterwards():
    assert not is_anomaly_enabled() and vars(_ANOMALY) == {}
    x = dg.tensor(0.0, requires_grad=True)
    y = x.log()  # no error outside detect_anomaly
    assert y.grad_fn.creation_site is None
    with detect_anomaly():
        assert is_anomaly_enabled()
        with detect_anomaly(check_nan=False):  # nested: the inner one records sites only
            inner = x.log()
        assert is_anomaly_enabled()
        with pytest.raises(AnomalyError):
            x.log()
    assert not is_anomaly_enabled() and vars(_ANOMALY) == {}  # exactly the state before
    assert _ANOMALY.on_forward.__func__ is type(_ANOMALY).on_forward
    assert inner.grad_fn.creation_site is not None
    with pytest.raises(ValueError), detect_anomaly():
        raise ValueError("boom")
    assert vars(_ANOMALY) == {}


def test_creation_sites_are_recorded_only_inside():
    a = dg.tensor(1.0, requires_grad=True)
    with detect_anomaly():
        b = a * 2  # recorded here
    c = b + 1
    site = b.grad_fn.creation_site
    assert site.op == "mul" and site.frames[-1][0] == THIS_FILE
    assert "b = a * 2  # recorded here" in site.format()
    assert c.grad_fn.creation_site is None
    assert Function.creation_site is None


def test_check_nan_false_records_sites_but_does_not_raise():
    x = dg.tensor(0.0, requires_grad=True)
    with detect_anomaly(check_nan=False):
        y = x.log()
        site = y.grad_fn.creation_site
        y.backward()
    assert np.isinf(x.grad.array)
    assert site.op == "log" and site.check_nan is False


def test_decorator():
    @detect_anomaly()
    def step(x):
        return (x.sqrt() * 2).sum()

    x = dg.zeros(2, requires_grad=True)
    loss = step(x)
    with pytest.raises(AnomalyError, match="backward of sqrt"):
        loss.backward()  # sites recorded while the decorated function ran are still checked
    assert not is_anomaly_enabled()


def test_create_graph_gradients_are_checked():
    x = dg.tensor(0.0, requires_grad=True)
    with detect_anomaly():
        y = x.sqrt()
        with pytest.raises(AnomalyError, match=r"backward of sqrt returned a non-finite gradient \(its div") as info:
            dg.autograd.grad(y, x, create_graph=True)
    assert "y = x.sqrt()" in str(info.value)


def test_trace_checks_too():
    from deepgrad.viz import trace

    x = dg.tensor(0.0, requires_grad=True)
    with detect_anomaly():
        y = x.sqrt() + 1
        with pytest.raises(AnomalyError, match="backward of sqrt"):
            trace(y)


def test_finite_computation_is_unchanged():
    dg.manual_seed(0)
    w = dg.randn(3, 2, requires_grad=True)
    x = dg.randn(4, 3)
    with detect_anomaly():
        loss = (x @ w).tanh().sum()
        loss.backward()
    expected = w.grad.array.copy()
    w.grad = None
    (x @ w).tanh().sum().backward()
    np.testing.assert_array_equal(w.grad.array, expected)


def test_inside_an_nn_module_shows_the_module_code_and_the_user_line():
    pytest.importorskip("deepgrad.nn")
    from deepgrad import nn

    class LogLayer(nn.Module):
        def forward(self, x):
            return x.log()  # inside the module

    layer = LogLayer()
    with pytest.raises(AnomalyError) as info, detect_anomaly():
        layer(dg.zeros(2, requires_grad=True))  # the user's call
    message = str(info.value)
    assert "return x.log()  # inside the module" in message
