"""Convolution, pooling, BatchNorm2d and LeNet-5 against torch.nn / torch.nn.functional with copied weights
(float64: values and the input, weight and bias gradients of a random upstream gradient), gradcheck and
gradgradcheck, float32 end to end, the errors for bad input, and a short LeNet-5 training run."""

from __future__ import annotations

import numpy as np
import pytest
from mnist_helpers import mnist_dir
from nn_helpers import compare_with_torch

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import compiled, nn, optim
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.models import LeNet5

torch = pytest.importorskip("torch")

# every test here runs through the compiled kernels and through the NumPy formulations
pytestmark = pytest.mark.usefixtures("kernel_route", "conv_layout")
TF = torch.nn.functional


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------------
# conv2d against PyTorch

# (input shape, weight shape, stride, padding, dilation, groups)
CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, 1, 1),  # non-square input
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, 1, 1),
    ((1, 1, 28, 28), (6, 1, 5, 5), 1, 2, 1, 1),  # LeNet's first layer, batch 1
    ((3, 2, 9, 8), (5, 2, 3, 2), (2, 1), (1, 0), 1, 1),  # rectangular kernel, per-axis stride and padding
    ((2, 4, 9, 10), (6, 2, 3, 3), 2, 1, (2, 1), 2),  # groups + dilation
    ((2, 4, 8, 8), (4, 1, 3, 3), 1, 1, 1, 4),  # depthwise
    ((2, 4, 8, 8), (8, 1, 3, 3), 1, 1, 1, 4),  # depthwise with channel multiplier 2
    ((2, 3, 5, 5), (2, 3, 1, 1), 1, 0, 1, 1),  # 1x1: products over the input as it lies
    ((2, 3, 5, 5), (2, 3, 1, 1), 1, 0, 2, 1),  # 1x1, dilation (which changes nothing)
    ((2, 3, 5, 6), (4, 3, 1, 1), 2, 0, 1, 1),  # 1x1 stride 2 (a ResNet shortcut): im2col
    ((2, 3, 5, 5), (2, 3, 1, 1), 1, 1, 1, 1),  # 1x1 with padding: im2col
    ((2, 4, 5, 5), (6, 2, 1, 1), 1, 0, 1, 2),  # grouped 1x1
    ((2, 2, 6, 7), (3, 2, 6, 7), 1, 0, 1, 1),  # kernel = input: one output pixel
    ((2, 3, 11, 9), (4, 3, 4, 3), 3, 2, 2, 1),  # stride leaves unused rows at the bottom/right
    ((1, 2, 6, 6), (3, 2, 4, 4), 1, "same", 1, 1),  # even kernel: asymmetric 'same' padding
    ((1, 2, 6, 5), (3, 2, 3, 2), 1, "same", (2, 1), 1),
    ((1, 2, 6, 5), (3, 2, 3, 3), 1, "valid", 1, 1),
    ((2, 4, 9, 10), (6, 2, 3, 3), 1, (2, 1), (2, 1), 2),  # stride 1: col2im on padded rows, groups + dilation
    ((3, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1, 1),  # LeNet's second layer
    ((2, 4, 9, 7), (4, 1, 3, 2), 1, "same", (2, 1), 4),  # depthwise, stride 1 on padded rows: dilated, asymmetric
    ((2, 3, 7, 9), (3, 1, 2, 5), 1, (3, 2), (1, 2), 3),  # depthwise 5 wide (taps 3 + 1 + 1), padding past its reach
    ((1, 3, 6, 5), (3, 1, 4, 4), 1, "same", 1, 3),  # depthwise 4x4: asymmetric 'same' padding
    ((2, 3, 5, 4), (4, 3, 3, 3), 1, 3, 1, 1),  # padding wider than the kernel's reach: outputs larger than x
    ((2, 3, 4, 6), (4, 3, 2, 3), 1, (0, 2), (1, 2), 1),  # shifted products: padding on one axis, dilation on the other
    ((1, 3, 3, 3), (2, 3, 3, 3), 1, 0, 1, 1),  # one output position per sample
    ((2, 3, 8, 8), (4, 3, 3, 3), 2, 1, 1, 1),  # ResNet's downsampling 3x3
    ((2, 3, 9, 7), (4, 3, 3, 3), 2, 1, 1, 1),  # stride 2 on odd sizes
    ((2, 3, 10, 9), (4, 3, 2, 2), 3, 1, 1, 1),  # stride > kernel: rows and columns no window reads
    ((2, 3, 11, 10), (4, 3, 3, 3), 2, (2, 1), 3, 1),  # stride 2 with dilation 3
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note about its own zero-padded copy
@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(x_shape, w_shape, stride, padding, dilation, groups, bias):
    r = rng(sum(x_shape) + sum(w_shape))
    arrays = [r.standard_normal(x_shape), r.standard_normal(w_shape)]
    if bias:
        arrays.append(r.standard_normal(w_shape[0]))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    compare_with_torch(
        lambda *t: F.conv2d(*t, **kwargs),
        lambda *t: TF.conv2d(*t, **kwargs),
        arrays,
        grad_of=tuple(range(len(arrays))),
    )


def test_conv2d_unbatched_input_matches_torch():
    r = rng(1)
    compare_with_torch(
        lambda x, w, b: F.conv2d(x, w, b, padding=1),
        lambda x, w, b: TF.conv2d(x, w, b, padding=1),
        [r.standard_normal((3, 5, 6)), r.standard_normal((2, 3, 3, 3)), r.standard_normal(2)],
        grad_of=(0, 1, 2),
    )


@pytest.mark.parametrize(
    "kwargs", [dict(padding=1), dict(stride=2), dict(groups=3), dict(padding=2, dilation=2)], ids=str
)
def test_conv2d_on_an_empty_batch_gives_empty_outputs_and_zero_weight_gradients(kwargs):
    """A batch of 0 samples, as PyTorch allows: an empty output of the right shape, an empty input gradient and
    zero weight and bias gradients, on every route."""
    r = rng(40)
    x, w, b = np.zeros((0, 3, 8, 8)), r.standard_normal((6, 3 // kwargs.get("groups", 1), 3, 3)), r.standard_normal(6)
    xd, wd, bd = (dg.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xd, wd, bd, **kwargs)
    expected = TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kwargs)
    assert out.shape == tuple(expected.shape)
    out.sum().backward()
    assert xd.grad.shape == x.shape
    np.testing.assert_array_equal(wd.grad.array, np.zeros_like(w))
    np.testing.assert_array_equal(bd.grad.array, np.zeros_like(b))


def test_conv2d_gradient_skips_unneeded_inputs():
    x = dg.randn(2, 3, 6, 6)  # the images need no gradient
    w = dg.randn(4, 3, 3, 3, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (4, 3, 3, 3)


@pytest.mark.parametrize(
    "w_shape,kwargs",
    [
        ((4, 2, 3, 2), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
        ((3, 4, 3, 3), dict(padding=1)),  # one group: the per-sample layout under conv_layout's "by sample"
        ((3, 4, 1, 1), {}),  # 1x1, stride 1, no padding: products over the input as it lies
    ],
)
def test_conv2d_gradcheck_and_gradgradcheck(w_shape, kwargs):
    r = rng(2)
    x = dg.tensor(r.standard_normal((2, 4, 5, 4)), dtype=dg.float64, requires_grad=True)
    w = dg.tensor(r.standard_normal(w_shape), dtype=dg.float64, requires_grad=True)
    b = dg.tensor(r.standard_normal(w_shape[0]), dtype=dg.float64, requires_grad=True)

    def fn(x, w, b):
        return F.conv2d(x, w, b, **kwargs)

    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


def test_conv2d_second_derivative_matches_torch():
    """d/dx of (d loss / dw), loss = sum(conv(x, w)^2 * u): second derivatives through both backward ops."""
    r = rng(3)
    x, w, u = r.standard_normal((2, 2, 5, 5)), r.standard_normal((3, 2, 3, 3)), r.standard_normal((2, 3, 3, 3))
    xd, wd = (dg.tensor(a, dtype=dg.float64, requires_grad=True) for a in (x, w))
    xt, wt = (torch.tensor(a, requires_grad=True) for a in (x, w))
    (gw_d,) = dg.autograd.grad(
        (F.conv2d(xd, wd, stride=1) ** 2 * dg.tensor(u, dtype=dg.float64)).sum(), [wd], create_graph=True
    )
    (gw_t,) = torch.autograd.grad((TF.conv2d(xt, wt) ** 2 * torch.tensor(u)).sum(), [wt], create_graph=True)
    np.testing.assert_allclose(gw_d.array, gw_t.detach().numpy(), rtol=1e-10)
    v = r.standard_normal(w.shape)
    (gx_d,) = dg.autograd.grad((gw_d * dg.tensor(v, dtype=dg.float64)).sum(), [xd])
    (gx_t,) = torch.autograd.grad((gw_t * torch.tensor(v)).sum(), [xt])
    np.testing.assert_allclose(gx_d.array, gx_t.numpy(), rtol=1e-10, atol=1e-12)


def test_conv2d_columns_are_kept_only_when_small_and_dropped_in_backward(monkeypatch, conv_layout):
    """The im2col matrix is kept from forward for the weight gradient only under KEEP_COLUMNS_BYTES, and
    never outlives the backward of its layer; recomputing it gives the same gradients. (The shifted-product
    and direct routes have no im2col matrix and keep nothing.)"""
    from deepgrad.ops import conv as conv_ops

    r = rng(12)
    x, w, up = r.standard_normal((2, 3, 6, 6)), r.standard_normal((4, 3, 3, 3)), r.standard_normal((2, 4, 6, 6))
    grads = []
    for limit in (conv_ops.KEEP_COLUMNS_BYTES, 0):
        monkeypatch.setattr(conv_ops, "KEEP_COLUMNS_BYTES", limit)
        xd, wd = (dg.tensor(a, dtype=dg.float64, requires_grad=True) for a in (x, w))
        out = F.conv2d(xd, wd, padding=1)
        assert hasattr(out.grad_fn, "cols") == (limit > 0 and conv_layout not in ("shifted", "direct"))
        out.backward(dg.tensor(up, dtype=dg.float64), retain_graph=True)
        assert not hasattr(out.grad_fn, "cols")
        grads.append((xd.grad.array, wd.grad.array))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12)


def test_the_layout_rule_picks_the_per_sample_im2col_for_small_weights_on_large_planes(conv_layout, monkeypatch):
    from deepgrad.ops import conv as conv_ops

    if conv_layout == "by sample":
        pytest.skip("the rule itself is what this test checks: it runs once, under the default limits")
    rule = conv_ops._by_sample
    limits = {"BY_SAMPLE_PARTIALS_BYTES": 8 * 2**20, "BY_SAMPLE_MIN_POSITIONS": 256}
    for name, value in limits.items():
        monkeypatch.setattr(conv_ops, name, value)
    assert rule((64, 1, 28, 28), (6, 1, 5, 5), 1, 4, (28, 28))  # LeNet's first layer
    assert rule((32, 3, 32, 32), (64, 3, 3, 3), 1, 4, (32, 32))  # a 3x3 stem
    assert not rule((64, 6, 14, 14), (16, 6, 5, 5), 1, 4, (10, 10))  # 100 positions: products too small
    assert rule((64, 32, 26, 26), (64, 32, 3, 3), 1, 4, (24, 24))  # the MNIST cnn's second layer, 4.5 MiB
    assert not rule((32, 128, 16, 16), (128, 128, 3, 3), 1, 4, (16, 16))  # 18 MiB of partials
    assert not rule((32, 256, 16, 16), (64, 256, 1, 1), 1, 4, (16, 16))  # 1x1
    assert not rule((32, 64, 32, 32), (64, 1, 3, 3), 64, 4, (32, 32))  # grouped


def test_small_per_sample_products_run_in_one_block_per_thread(kernel_route, conv_layout):
    """Per-sample products under OpenBLAS's threading threshold are split over the threads, each block's
    im2col and products (and weight-gradient products) on its own thread: the same values and gradients as
    with one thread, and as PyTorch's."""
    if conv_layout != "by sample":
        pytest.skip("the split is the per-sample layout's")
    from deepgrad.ops import conv as conv_ops

    assert len(conv_ops._product_blocks(5, 6 * 25 * 784)) == min(5, dg.get_num_threads())  # LeNet's first layer
    assert len(conv_ops._product_blocks(32, 64 * 27 * 1024)) == 1  # a 3x3 stem: OpenBLAS's own threads
    r = rng(23)
    x, w, b = r.standard_normal((5, 2, 18, 17)), r.standard_normal((4, 2, 3, 3)), r.standard_normal(4)
    up = r.standard_normal((5, 4, 18, 15))
    results = []
    previous = dg.get_num_threads()
    try:
        for threads in (2, 1):
            dg.set_num_threads(threads)
            assert len(conv_ops._product_blocks(5, 4 * 2 * 3 * 3 * 18 * 15)) == threads
            xd, wd, bd = (dg.tensor(a, requires_grad=True) for a in (x, w, b))
            out = F.conv2d(xd, wd, bd, padding=(1, 0))
            out.backward(dg.tensor(up))
            results.append([out.array, xd.grad.array, wd.grad.array, bd.grad.array])
    finally:
        dg.set_num_threads(previous)
    for split, whole in zip(*results):
        np.testing.assert_allclose(split, whole, rtol=1e-12, atol=1e-12)
    torch = pytest.importorskip("torch")
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out_t = torch.nn.functional.conv2d(xt, wt, bt, padding=(1, 0))
    out_t.backward(torch.tensor(up))
    for ours, theirs in zip(results[0], [out_t, xt.grad, wt.grad, bt.grad]):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("by_sample", [False, True], ids=["channels first", "by sample"])
def test_the_compiled_im2col_writes_the_padding_as_numpys_padded_copy_would(by_sample, kernel_route, conv_layout):
    """The compiled im2col reads x unpadded and writes the padding's zeros itself: the same columns as the
    NumPy route's windows of the padded copy, for padding wider than the kernel's reach (rows and columns
    entirely in the padding), uneven padding, strides that skip the last columns, dilation and odd sizes."""
    if kernel_route == "numpy" or conv_layout == "by sample":
        pytest.skip("compares the two routes itself, with the layout as its parameter")
    from deepgrad.ops import conv as conv_ops

    r = rng(21)
    cases = [  # kernel, stride, padding (top, bottom, left, right), dilation, (H, W)
        ((3, 3), (1, 1), (1, 1, 1, 1), (1, 1), (5, 6)),
        ((1, 1), (1, 1), (3, 3, 3, 3), (1, 1), (2, 3)),  # whole rows and columns of zeros
        ((2, 3), (2, 3), (0, 2, 4, 1), (1, 1), (7, 5)),  # uneven padding, strides
        ((3, 2), (3, 2), (2, 2, 2, 2), (2, 3), (9, 8)),  # dilation
        ((5, 5), (1, 1), (4, 4, 4, 4), (1, 1), (3, 3)),  # a full correlation's padding, kernel > input
        ((4, 4), (2, 2), (0, 0, 0, 0), (1, 1), (9, 9)),  # stride leaves the last row and column unread
    ]
    for kernel, stride, padding, dilation, size in cases:
        x = r.standard_normal((3, 2, *size)).astype(np.float32)
        out_h = (size[0] + padding[0] + padding[1] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
        out_w = (size[1] + padding[2] + padding[3] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
        args = (x, kernel, stride, padding, dilation, (out_h, out_w), False, by_sample)
        fast = conv_ops._unfold(*args)
        with compiled.disabled():
            plain = conv_ops._unfold(*args)
        np.testing.assert_array_equal(fast, plain, err_msg=str((kernel, stride, padding, dilation, size)))


def test_the_compiled_move_to_batch_first_gives_numpys_bits(kernel_route, conv_layout):
    """The GEMM's (C, N H W) product moved to (N, C, H, W), with and without the bias, in one and in several
    thread blocks: the same bits as NumPy's transposing copy and broadcast add."""
    if kernel_route == "numpy" or conv_layout == "by sample":
        pytest.skip("compares the two routes itself")
    from deepgrad.ops import conv as conv_ops

    r = rng(22)
    for batch, channels, size in [(3, 5, (2, 7)), (32, 64, (32, 32))]:  # 420 bytes, and 8 MiB in blocks
        product = r.standard_normal((1, channels, batch * size[0] * size[1])).astype(np.float32)
        bias = r.standard_normal(channels).astype(np.float32)
        for shift in (None, bias):
            fast = conv_ops._batch_first(product, batch, size, shift)
            with compiled.disabled():
                plain = conv_ops._batch_first(product, batch, size, shift)
            assert fast.shape == (batch, channels, *size) and fast.flags.c_contiguous
            np.testing.assert_array_equal(fast, plain)


def test_transient_columns_in_the_workspace_do_not_leak_between_layers(monkeypatch):
    """Matrices that die inside their op share one reused buffer: two layers of different sizes, whose
    forwards and backwards interleave, give the same gradients as with the workspace off (every matrix new)."""
    from deepgrad.ops import conv as conv_ops

    r = rng(13)
    x = r.standard_normal((3, 2, 7, 7))
    w1, w2 = r.standard_normal((5, 2, 3, 3)), r.standard_normal((4, 5, 2, 2))
    monkeypatch.setattr(conv_ops, "KEEP_COLUMNS_BYTES", 0)  # every im2col transient
    results = []
    for workspace in (conv_ops.WORKSPACE_BYTES, 0):
        monkeypatch.setattr(conv_ops, "WORKSPACE_BYTES", workspace)
        xd, w1d, w2d = (dg.tensor(a, dtype=dg.float64, requires_grad=True) for a in (x, w1, w2))
        hidden = F.conv2d(xd, w1d, padding=1)
        out = F.conv2d(dg.tanh(hidden), w2d, stride=2)
        (out * out).sum().backward()
        results.append([t.array.copy() for t in (out, xd.grad, w1d.grad, w2d.grad)])
    for ours, fresh in zip(*results):
        np.testing.assert_allclose(ours, fresh, rtol=1e-12)
    xt, w1t, w2t = (torch.tensor(a, requires_grad=True) for a in (x, w1, w2))
    out_t = torch.nn.functional.conv2d(torch.tanh(torch.nn.functional.conv2d(xt, w1t, padding=1)), w2t, stride=2)
    (out_t * out_t).sum().backward()
    for ours, theirs in zip(results[0], (out_t, xt.grad, w1t.grad, w2t.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.fixture(params=[1, 2], ids=lambda n: f"{n} thread(s)")
def num_threads(request, monkeypatch):
    """Run the test with the kernels' block loops on 1 and on 2 threads, blocks even for small arrays."""
    from deepgrad import threads as thread_pool

    monkeypatch.setattr(thread_pool, "PARALLEL_MIN_BYTES", 0)
    previous = dg.get_num_threads()
    dg.set_num_threads(request.param)
    yield request.param
    dg.set_num_threads(previous)


@pytest.mark.parametrize(
    "kwargs, with_bias", [(dict(padding=1), True), (dict(stride=2, padding=(2, 1)), False)], ids=["p1 bias", "s2"]
)
def test_conv2d_copies_in_blocks_of_samples_match_torch(monkeypatch, kwargs, with_bias, num_threads):
    """im2col, col2im and the move to batch-first in several blocks of samples (on 1 and 2 threads), whatever
    the arrays' size would choose: the same values and gradients as PyTorch."""
    from deepgrad import threads as thread_pool
    from deepgrad.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "COPY_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(thread_pool, "COMPILED_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(thread_pool, "BLOCK_BYTES", 1)  # one sample per block
    r = rng(23)
    arrays = [r.standard_normal((5, 3, 9, 8)), r.standard_normal((4, 3, 3, 3))]
    arrays += [r.standard_normal(4)] if with_bias else []
    compare_with_torch(
        lambda *t: F.conv2d(*t, **kwargs), lambda *t: TF.conv2d(*t, **kwargs), arrays, grad_of=range(len(arrays))
    )


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(stride=2, padding=(1, 0), dilation=(1, 2))], ids=str)
def test_depthwise_conv2d_in_several_batch_chunks_matches_torch(monkeypatch, kwargs, num_threads):
    from deepgrad import threads as thread_pool
    from deepgrad.ops import conv as conv_ops

    monkeypatch.setattr(conv_ops, "DEPTHWISE_CHUNK_BYTES", 2000)  # a few samples per chunk
    monkeypatch.setattr(thread_pool, "COMPILED_PARALLEL_MIN_BYTES", 0)  # the compiled kernels' blocks too
    r = rng(13)
    arrays = [r.standard_normal((7, 4, 9, 8)), r.standard_normal((4, 1, 3, 3)), r.standard_normal(4)]
    compare_with_torch(
        lambda *t: F.conv2d(*t, groups=4, **kwargs),
        lambda *t: TF.conv2d(*t, groups=4, **kwargs),
        arrays,
        grad_of=(0, 1, 2),
    )


def test_float32_routes_match_torch():
    """1x1 (plain and strided), depthwise, stride-1 3x3 (the full-correlation input gradient) and strided 3x3,
    float32 end to end, against PyTorch at float32 tolerance."""
    r = rng(14)
    for x_shape, w_shape, kwargs in [
        ((4, 16, 8, 8), (8, 16, 1, 1), {}),
        ((4, 16, 8, 8), (8, 16, 1, 1), dict(stride=2)),
        ((4, 16, 8, 8), (16, 1, 3, 3), dict(padding=1, groups=16)),
        ((4, 16, 8, 8), (8, 16, 3, 3), dict(padding=1)),
        ((4, 16, 9, 9), (8, 16, 3, 3), dict(stride=2, padding=1)),
    ]:
        x, w, up = (r.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, (1,)))
        xd, wd = dg.tensor(x, requires_grad=True), dg.tensor(w, requires_grad=True)
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        out, expected = F.conv2d(xd, wd, **kwargs), TF.conv2d(xt, wt, **kwargs)
        upstream = r.standard_normal(tuple(expected.shape)).astype(np.float32)
        out.backward(dg.tensor(upstream))
        expected.backward(torch.tensor(upstream))
        assert out.dtype == xd.grad.dtype == wd.grad.dtype == dg.float32
        np.testing.assert_allclose(out.array, expected.detach().numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(xd.grad.array, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(wd.grad.array, wt.grad.numpy(), rtol=1e-4, atol=1e-3)


# ---------------------------------------------------------------------------------------------------
# pooling against PyTorch

POOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=3, ceil_mode=True),
]


@pytest.mark.parametrize("kwargs", POOL_CASES + [dict(kernel_size=(3, 2), dilation=(2, 1), padding=1)], ids=str)
@pytest.mark.parametrize("shape", [(2, 3, 9, 8), (1, 1, 7, 7)])
def test_max_pool2d_matches_torch(kwargs, shape):
    # distinct values so the argmax is unambiguous
    x = rng(4).permutation(np.prod(shape)).reshape(shape).astype(np.float64) / 7
    out, expected = compare_with_torch(lambda t: F.max_pool2d(t, **kwargs), lambda t: TF.max_pool2d(t, **kwargs), [x])
    _, indices = F.max_pool2d(dg.tensor(x, dtype=dg.float64), **kwargs, return_indices=True)
    _, expected_indices = TF.max_pool2d(torch.tensor(x), **kwargs, return_indices=True)
    assert indices.dtype == dg.int64
    np.testing.assert_array_equal(indices.array, expected_indices.numpy())


def test_max_pool2d_ties_nan_and_overlap_as_torch():
    x = np.zeros((1, 2, 5, 5))
    x[0, 1, 2, 2] = np.nan  # NaN propagates and takes the gradient
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)):  # ties; overlapping windows
        compare_with_torch(
            lambda t, kw=kw: F.max_pool2d(t, **kw), lambda t, kw=kw: TF.max_pool2d(t, **kw), [x], atol=0, rtol=0
        )
    all_neg_inf = np.full((1, 1, 3, 3), -np.inf)  # windows of only -inf point inside the input, not at the padding
    compare_with_torch(
        lambda t: F.max_pool2d(t, 2, 2, 1), lambda t: TF.max_pool2d(t, 2, 2, 1), [all_neg_inf], atol=0, rtol=0
    )


@pytest.mark.parametrize(
    "kwargs", [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, dilation=2, padding=1)]
)
def test_max_pool2d_several_nans_in_a_window_point_at_the_last_as_torch(kwargs):
    """NaNs at a window's first position, and two NaNs in one window: the value is NaN and the index (and the
    gradient) goes to the last NaN, as PyTorch's."""
    x = rng(6).standard_normal((2, 3, 9, 9))
    x[0, 0, 0, 0] = x[0, 1, 4, 4] = x[0, 1, 4, 5] = x[1, 2, 8, 8] = np.nan
    ours, expected = (
        F.max_pool2d(dg.tensor(x), return_indices=True, **kwargs),
        TF.max_pool2d(torch.tensor(x), return_indices=True, **kwargs),
    )
    np.testing.assert_array_equal(ours[0].array, expected[0].numpy())
    np.testing.assert_array_equal(ours[1].array, expected[1].numpy())
    # (overlapping windows: their gradients are summed in another order than PyTorch's)
    compare_with_torch(lambda t: F.max_pool2d(t, **kwargs), lambda t: TF.max_pool2d(t, **kwargs), [x], rtol=1e-12)


@pytest.mark.parametrize("kwargs", POOL_CASES, ids=str)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_torch(kwargs, count_include_pad):
    x = rng(5).standard_normal((2, 3, 9, 8))
    compare_with_torch(
        lambda t: F.avg_pool2d(t, **kwargs, count_include_pad=count_include_pad),
        lambda t: TF.avg_pool2d(t, **kwargs, count_include_pad=count_include_pad),
        [x],
    )


def test_avg_pool2d_divisor_override_and_unbatched():
    x = rng(6).standard_normal((3, 6, 6))
    compare_with_torch(
        lambda t: F.avg_pool2d(t, 3, 2, 1, divisor_override=5),
        lambda t: TF.avg_pool2d(t, 3, 2, 1, divisor_override=5),
        [x],
    )
    compare_with_torch(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), [x])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
        lambda x: F.max_pool2d(x, 2, 1, dilation=2),
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda x: F.avg_pool2d(x, 2, 1),
    ],
)
def test_pooling_gradcheck_and_gradgradcheck(fn):
    x = dg.tensor(rng(7).permutation(2 * 2 * 5 * 4).reshape(2, 2, 5, 4) / 10.0, dtype=dg.float64, requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


# ---------------------------------------------------------------------------------------------------
# layers


def copy_into_torch(ours: nn.Module, theirs) -> None:
    theirs.load_state_dict({k: torch.tensor(v.array) for k, v in ours.state_dict().items()})


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(
    "args,kwargs",
    [
        ((3, 4, 3), {}),
        ((4, 6, (3, 2)), dict(stride=2, padding=1, dilation=(1, 2), groups=2, bias=False)),
        ((2, 3, 3), dict(padding="same")),
        ((2, 3, 3), dict(padding=1, padding_mode="reflect")),
        ((2, 3, 4), dict(padding="same", padding_mode="circular")),
        ((2, 3, 3), dict(padding=2, padding_mode="replicate", stride=2)),
    ],
)
def test_conv2d_layer_matches_torch(args, kwargs):
    ours = nn.Conv2d(*args, **kwargs, dtype=dg.float64)
    theirs = torch.nn.Conv2d(*args, **kwargs, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    copy_into_torch(ours, theirs)
    x = rng(8).standard_normal((2, args[0], 7, 6))
    compare_with_torch(ours, theirs, [x])
    upstream = rng(9).standard_normal(tuple(theirs(torch.tensor(x)).shape))
    ours.zero_grad()
    theirs.zero_grad()
    ours(dg.tensor(x, dtype=dg.float64)).backward(dg.tensor(upstream, dtype=dg.float64))
    theirs(torch.tensor(x)).backward(torch.tensor(upstream))
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_conv2d_default_initialisation():
    conv = nn.Conv2d(6, 16, 5)
    bound = 1 / np.sqrt(6 * 5 * 5)  # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    for p in (conv.weight, conv.bias):
        assert np.abs(p.array).max() <= bound
        assert np.abs(p.array).max() > 0.9 * bound
    assert conv.weight.shape == (16, 6, 5, 5) and conv.bias.shape == (16,)
    assert nn.Conv2d(4, 8, 3, groups=4).weight.shape == (8, 1, 3, 3)
    assert abs(nn.Conv2d(4, 8, 3, groups=4).weight.array).max() > 1 / np.sqrt(9 * 2)  # fan_in = 1 * 3 * 3


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
        (nn.AvgPool2d(3, 1, 1, count_include_pad=False), torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False)),
    ],
    ids=repr,
)
def test_pool_layers_match_torch(ours, theirs):
    assert repr(ours) == repr(theirs)
    x = rng(10).standard_normal((2, 3, 8, 7))
    compare_with_torch(ours, theirs, [x])


def test_max_pool_layer_return_indices():
    out, indices = nn.MaxPool2d(2, return_indices=True)(dg.arange(16.0).reshape(1, 1, 4, 4))
    assert out.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    assert indices.tolist() == [[[[5, 7], [13, 15]]]]


@pytest.mark.parametrize("threads", [1, 2])
def test_batchnorm_in_blocks_on_threads_matches_torch(monkeypatch, threads):
    """The fused batch norm's block passes (here several samples' blocks, run on 1 and 2 threads) give
    PyTorch's output and gradients."""
    from deepgrad import threads as thread_pool

    monkeypatch.setattr(thread_pool, "BLOCK_BYTES", 3 * 5 * 6 * 8)  # about one float64 sample per block
    monkeypatch.setattr(thread_pool, "PARALLEL_MIN_BYTES", 0)
    previous = dg.get_num_threads()
    dg.set_num_threads(threads)
    try:
        x = rng(14).standard_normal((7, 3, 5, 6)) * 4 + 50
        up = rng(15).standard_normal(x.shape)
        w, b = np.array([0.5, 1.5, -1.0]), np.array([0.1, -0.2, 0.3])
        xd, wd, bd = (dg.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.batch_norm(xd, None, None, wd, bd, training=True)
        out.backward(dg.tensor(up))
    finally:
        dg.set_num_threads(previous)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out_t = TF.batch_norm(xt, None, None, wt, bt, training=True)
    out_t.backward(torch.tensor(up))
    for ours, theirs in zip((out, xd.grad, wd.grad, bd.grad), (out_t, xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(ours.array, theirs.detach().numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize(
    "args", [(2,), (3, 2, 1), (3, 1, 1), (2, 2, 0, 1, True)], ids=["2x2", "3x3 s2 p1", "3x3 s1 p1", "ceil"]
)
def test_max_pool2d_in_blocks_of_planes_matches_torch(monkeypatch, args, num_threads):
    """Max pooling and its gradient over several blocks of image planes (ties from ReLU-like zeros included)."""
    from deepgrad import threads as thread_pool

    monkeypatch.setattr(thread_pool, "BLOCK_BYTES", 3 * 9 * 8 * 8)  # a few planes per block
    x = np.maximum(rng(16).standard_normal((5, 4, 9, 8)), 0)
    compare_with_torch(lambda t: F.max_pool2d(t, *args), lambda t: TF.max_pool2d(t, *args), [x])


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm2d_matches_torch(training):
    ours = nn.BatchNorm2d(3, momentum=0.2, dtype=dg.float64)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.2, dtype=torch.float64)
    with dg.no_grad():
        ours.weight.copy_(np.array([0.5, 1.5, -1.0]))
        ours.bias.copy_(np.array([0.1, -0.2, 0.3]))
        ours.running_mean.copy_(np.array([0.2, -0.1, 0.0]))
        ours.running_var.copy_(np.array([1.5, 0.5, 2.0]))
    copy_into_torch(ours, theirs)
    ours.train(training)
    theirs.train(training)
    x = rng(11).standard_normal((4, 3, 5, 6)) * 2 + 1
    compare_with_torch(ours, theirs, [x])
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(ours, name).array, getattr(theirs, name).numpy(), rtol=1e-12, err_msg=name)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm2d_fused_float32_with_a_large_offset_matches_torch():
    """The fused node centres before squaring: an offset of 100 does not cost float32 its precision."""
    x = (rng(15).standard_normal((8, 3, 5, 5)) + 100).astype(np.float32)
    up = rng(16).standard_normal(x.shape).astype(np.float32)
    ours, theirs = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    xd, xt = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xd), theirs(xt)
    out.backward(dg.tensor(up))
    expected.backward(torch.tensor(up))
    np.testing.assert_allclose(out.array, expected.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(xd.grad.array, xt.grad.numpy(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(ours.weight.grad.array, theirs.weight.grad.numpy(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(ours.running_var.array, theirs.running_var.numpy(), rtol=1e-4)


def test_batchnorm2d_wants_4d_input():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 2D input of shape \(4, 3\)\)"):
        nn.BatchNorm2d(3)(dg.zeros(4, 3))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): input of shape \(2, 4, 5, 5\) has 4 channels"):
        nn.BatchNorm2d(3)(dg.zeros(2, 4, 5, 5))


@pytest.mark.parametrize(
    "layer",
    [nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 3, 3, groups=3), nn.MaxPool2d(2), nn.AvgPool2d(2), nn.BatchNorm2d(3)],
    ids=lambda m: type(m).__name__,
)
def test_float32_stays_float32(layer):
    x = dg.randn(2, 3, 6, 6, requires_grad=True)
    out = layer(x)
    assert out.dtype == dg.float32
    out.backward(dg.ones_like(out))
    assert x.grad.dtype == dg.float32
    for p in layer.parameters():
        assert p.dtype == dg.float32 and p.grad.dtype == dg.float32


# ---------------------------------------------------------------------------------------------------
# errors


def test_conv2d_errors_name_the_shapes():
    w = dg.zeros(4, 3, 3, 3)
    with pytest.raises(
        ValueError, match=r"input of shape \(2, 2, 8, 8\) has 2 channels.*weight of shape \(4, 3, 3, 3\)"
    ):
        F.conv2d(dg.zeros(2, 2, 8, 8), w)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4\): input of shape \(2, 5, 8, 8\) has 5 channels, expected 3"):
        nn.Conv2d(3, 4, 3)(dg.zeros(2, 5, 8, 8))
    with pytest.raises(ValueError, match=r"kernel of size \(3, 3\).*larger than the padded input \(2, 2\)"):
        F.conv2d(dg.zeros(1, 3, 2, 2), w)
    with pytest.raises(ValueError, match=r"spans \(5, 5\).*padded input \(4, 4\)"):
        F.conv2d(dg.zeros(1, 3, 2, 2), w, padding=1, dilation=2)
    with pytest.raises(ValueError, match=r"expected a 4-D input \(N, C, H, W\).*got 2-D input of shape \(3, 8\)"):
        F.conv2d(dg.zeros(3, 8), w)
    with pytest.raises(ValueError, match=r"got 5-D input"):
        nn.Conv2d(3, 4, 3)(dg.zeros(1, 1, 3, 8, 8))
    with pytest.raises(ValueError, match="weight must be 4-D"):
        F.conv2d(dg.zeros(1, 3, 8, 8), dg.zeros(4, 3, 3))
    with pytest.raises(ValueError, match="not divisible by groups=3"):
        F.conv2d(dg.zeros(1, 3, 8, 8), dg.zeros(4, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv2d(dg.zeros(1, 3, 8, 8), w, dg.zeros(3))
    with pytest.raises(TypeError, match="same dtype"):
        F.conv2d(dg.zeros(1, 3, 8, 8, dtype=dg.float64), w)
    with pytest.raises(ValueError, match="not supported for strided"):
        F.conv2d(dg.zeros(1, 3, 8, 8), w, stride=2, padding="same")
    with pytest.raises(ValueError, match="stride must be an integer >= 1"):
        F.conv2d(dg.zeros(1, 3, 8, 8), w, stride=0)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")


def test_pooling_errors():
    with pytest.raises(ValueError, match="at most half of the effective kernel size"):
        F.max_pool2d(dg.zeros(1, 1, 8, 8), 2, padding=2)
    with pytest.raises(ValueError, match=r"input of shape \(1, 1, 2, 2\) is too small for kernel_size=3"):
        F.avg_pool2d(dg.zeros(1, 1, 2, 2), 3)
    with pytest.raises(ValueError, match=r"got 2-D input of shape \(4, 4\)"):
        nn.MaxPool2d(2)(dg.zeros(4, 4))
    with pytest.raises(TypeError, match="floating-point"):
        F.max_pool2d(dg.zeros(1, 1, 4, 4, dtype=dg.int64), 2)
    with pytest.raises(ValueError, match="divisor_override must be non-zero"):
        F.avg_pool2d(dg.zeros(1, 1, 4, 4), 2, divisor_override=0)


# ---------------------------------------------------------------------------------------------------
# LeNet-5


def torch_lenet(activation=torch.nn.ReLU, pool=torch.nn.MaxPool2d):
    """The torch model documented in LeNet5's docstring."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), activation(), pool(2),
        torch.nn.Conv2d(6, 16, 5), activation(), pool(2),
        torch.nn.Flatten(),
        torch.nn.Linear(400, 120), activation(),
        torch.nn.Linear(120, 84), activation(),
        torch.nn.Linear(84, 10),
    ).double()  # fmt: skip


@pytest.mark.parametrize(
    "variant,act,pool",
    [
        (dict(), torch.nn.ReLU, torch.nn.MaxPool2d),
        (dict(activation="tanh", pool="avg"), torch.nn.Tanh, torch.nn.AvgPool2d),
    ],
)
def test_lenet_state_dict_loads_into_torch_and_matches(variant, act, pool):
    ours = LeNet5(**variant).double()
    theirs = torch_lenet(act, pool)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.array) for k, v in ours.state_dict().items()})
    x = rng(12).standard_normal((3, 1, 28, 28))
    compare_with_torch(ours, theirs, [x], rtol=1e-9)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_lenet_summary():
    result = nn.summary(LeNet5(), (1, 1, 28, 28))
    assert result.total_params == 61706
    shapes = [layer.output_shape for layer in result.layers]
    assert shapes[0] == (1, 6, 28, 28) and shapes[2] == (1, 6, 14, 14) and shapes[5] == (1, 16, 5, 5)
    assert result.output_shape == (1, 10)
    assert "MaxPool2d" in str(result)
    with pytest.raises(ValueError, match="activation must be one of"):
        LeNet5(activation="softsign")


def _synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable stand-ins for digits: class c is one horizontal and one vertical stroke at c-dependent
    places (no two classes share both), jittered by up to 2 pixels and drawn over noise."""
    r = rng(seed)
    labels = r.permutation(np.arange(count) % 10)
    images = r.uniform(0.0, 0.2, (count, 28, 28)).astype(np.float32)
    row = 4 + 2 * labels + r.integers(-2, 3, count)  # horizontal stroke: rows 2..24
    col = 22 - 2 * labels + r.integers(-2, 3, count)  # vertical stroke: columns 2..24
    samples = np.arange(count)
    for width in range(2):  # strokes two pixels thick, 16 pixels long
        images[samples[:, None], row[:, None] + width, np.arange(6, 22)] = 1.0
        images[samples[:, None], np.arange(6, 22), col[:, None] + width] = 1.0
    return images[:, None], labels.astype(np.int64)


def _training_data():
    """256 MNIST test images when the files are there (scaled to [0, 1]), else 256 synthetic digits."""
    directory = mnist_dir()
    if directory is not None:
        from deepgrad.data.mnist import read_idx

        images = read_idx(directory / "t10k-images-idx3-ubyte.gz")[:256].astype(np.float32) / 255
        labels = read_idx(directory / "t10k-labels-idx1-ubyte.gz")[:256].astype(np.int64)
        return images[:, None], labels
    return _synthetic_digits(256, seed=13)


def test_lenet_training_lowers_the_loss():
    images, labels = _training_data()
    model = LeNet5()
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = dg.tensor(images), dg.tensor(labels)

    def full_loss() -> float:
        with dg.no_grad():
            return loss_fn(model(x), y).item()

    before = full_loss()
    for _epoch in range(5):
        for start in range(0, 256, 64):
            loss = loss_fn(model(x[start : start + 64]), y[start : start + 64])
            assert loss.dtype == dg.float32
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    after = full_loss()
    assert after < 0.7 * before, (before, after)


def test_the_shifted_product_route_takes_stride_1_layers_with_enough_channels(monkeypatch):
    from deepgrad import blas
    from deepgrad.ops import conv as conv_ops

    if not blas.available("float32"):
        pytest.skip("no direct BLAS calls in this process")
    monkeypatch.setattr(conv_ops, "SHIFTED_MIN_CHANNELS", 16)
    monkeypatch.setattr(conv_ops, "SHIFTED_MAX_POSITIONS_SHARE", 1.4)
    monkeypatch.setattr(conv_ops, "BY_SAMPLE_PARTIALS_BYTES", -1)  # the shifted rule alone (see the next test)
    x = np.zeros((2, 64, 8, 8), np.float32)

    def rule(array, weight_shape, stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1), groups=1):
        return conv_ops._shifted(array, array.shape, weight_shape, stride, padding, dilation, groups)

    assert rule(x, (64, 64, 3, 3))  # ResNet's 3x3 layers (81 positions per 64 outputs)
    assert rule(np.zeros((2, 32, 16, 16), np.float32), (64, 32, 5, 5), padding=(2, 2, 2, 2))
    assert not rule(np.zeros((2, 512, 4, 4), np.float32), (512, 512, 3, 3))  # 4x4 planes: 25 positions per 16
    assert not rule(x[:, :6], (16, 6, 5, 5))  # LeNet's 6 channels: products too thin
    assert not rule(x, (8, 64, 3, 3))  # 8 output channels
    assert not rule(x, (128, 64, 3, 3), stride=(2, 2))  # stride 2: im2col
    assert not rule(x, (64, 32, 3, 3), groups=2)
    assert not rule(x, (64, 64, 1, 1), padding=(0, 0, 0, 0))  # 1x1: products over the input as it lies
    assert not rule(x.astype(np.float16), (64, 64, 3, 3))
    with blas.disabled():
        assert not rule(x, (64, 64, 3, 3))


def test_unpadded_layers_the_per_sample_route_takes_stay_off_the_shifted_products(monkeypatch):
    from deepgrad import blas
    from deepgrad.ops import conv as conv_ops

    if not blas.available("float32"):
        pytest.skip("no direct BLAS calls in this process")
    for name, value in [("SHIFTED_MIN_CHANNELS", 16), ("SHIFTED_MAX_POSITIONS_SHARE", 1.4),
                        ("SHIFTED_OVER_BY_SAMPLE_MAX_SHARE", 1.1), ("BY_SAMPLE_PARTIALS_BYTES", 8 * 2**20),
                        ("BY_SAMPLE_MIN_POSITIONS", 256)]:  # fmt: skip
        monkeypatch.setattr(conv_ops, name, value)

    def rule(x_shape, weight_shape, pad):
        x = np.zeros(x_shape, np.float32)
        return conv_ops._shifted(x, x_shape, weight_shape, (1, 1), (pad,) * 4, (1, 1), 1)

    cnn_layer = ((64, 32, 26, 26), (64, 32, 3, 3))  # the compact cnn's second layer: 676 positions per 576 outputs
    assert conv_ops._by_sample(cnn_layer[0], cnn_layer[1], 1, 4, (24, 24))
    assert not rule(*cnn_layer, pad=0)
    assert rule((32, 64, 32, 32), (64, 64, 3, 3), pad=1)  # ResNet's first stage, padded: 1089 per 1024
    assert rule((64, 32, 24, 24), (64, 32, 3, 3), pad=1)  # the same layer padded stays shifted
    monkeypatch.setattr(conv_ops, "BY_SAMPLE_PARTIALS_BYTES", -1)  # no per-sample route: the shifted products
    assert rule(*cnn_layer, pad=0)


def test_the_direct_route_takes_stride_1_layers_with_few_weights(monkeypatch, conv_layout):
    """``_direct``: stride-1 layers of one group with at most DIRECT_MAX_TAPS weights per output channel (LeNet's,
    the MNIST cnn's, ResNet's 64-channel stage) take the direct compiled kernels for forward and weight gradient;
    larger, strided, dilated, grouped and 1x1 layers do not, nor any layer with numba off. Their input gradient
    takes the gather form or the scatter form by the estimated cost, or neither when both are ruled out."""
    from deepgrad.ops import conv as conv_ops

    if conv_layout != "direct":
        pytest.skip("the rule itself is what this test checks: it runs once, under the default limits")
    limits = {"DIRECT_MAX_TAPS": 576, "DIRECT_INPUT_GRAD_MAX_OUT_CHANNELS": 32, "DIRECT_SCATTER_COST": 2.0}
    for name, value in limits.items():
        monkeypatch.setattr(conv_ops, name, value)
    x = np.zeros((2, 1, 8, 8), np.float32)
    rule = conv_ops._direct
    for shape in [(6, 1, 5, 5), (16, 6, 5, 5), (32, 1, 3, 3), (64, 32, 3, 3), (64, 64, 3, 3)]:
        assert rule(x, shape, (1, 1), (1, 1), 1)  # LeNet's two layers, the cnn's two, ResNet's first stage
    assert not rule(x, (128, 128, 3, 3), (1, 1), (1, 1), 1)  # 1152 weights per output channel: GEMMs
    assert not rule(x, (16, 6, 5, 5), (2, 2), (1, 1), 1)  # strided
    assert not rule(x, (16, 6, 5, 5), (1, 1), (2, 1), 1)  # dilated
    assert not rule(x, (16, 3, 5, 5), (1, 1), (1, 1), 2)  # grouped
    assert not rule(x, (16, 6, 1, 1), (1, 1), (1, 1), 1)  # 1x1: products over the input as it lies
    with compiled.disabled():
        assert not rule(x, (6, 1, 5, 5), (1, 1), (1, 1), 1)
    assert conv_ops._weight_grad_layout(x, (6, 1, 5, 5), (1, 1), (2,) * 4, (1, 1), 1, 4, (8, 8)) == "direct"

    def input_route(input_shape, weight_shape, padding):
        out_size = [side + 2 * padding - k + 1 for side, k in zip(input_shape[2:], weight_shape[2:])]
        grad = np.zeros((input_shape[0], weight_shape[0], *out_size), np.float32)
        return conv_ops._direct_input_grad_route(grad, input_shape, weight_shape, (1, 1), (padding,) * 4, (1, 1), 1)

    assert input_route((2, 6, 14, 14), (16, 6, 5, 5), 0) == "scatter"  # LeNet's 6->16: the full padding is wide
    assert input_route((2, 32, 26, 26), (64, 32, 3, 3), 0) == "gather"  # the cnn's 32->64
    assert input_route((2, 32, 32, 32), (32, 32, 3, 3), 1) == "gather"
    assert input_route((2, 4, 8, 8), (8, 4, 3, 3), 3) == "scatter"  # padding past the kernel's reach: no gather
    assert input_route((2, 4, 8, 8), (64, 4, 3, 3), 3) is None  # and too many output channels to scatter
    assert input_route((2, 64, 8, 8), (128, 64, 3, 3), 1) is None  # 1152 taps to gather, 128 channels to scatter


@pytest.mark.parametrize("input_route", ["gather", "scatter"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_direct_kernels_on_one_and_two_threads_match_torch(
    monkeypatch, conv_layout, num_threads, dtype, input_route
):
    """The direct route's kernels with channel counts off their blocks of 4 output channels, kernel widths off
    their blocks of 3 taps, uneven padding and an odd batch split over the threads: the values and gradients
    of PyTorch, in float32 and float64, with the input gradient in each form (the gather form needs a padding
    within the kernel's reach: the last layer takes the scatter form either way), and the route really taken."""
    from deepgrad.ops import conv as conv_ops

    if conv_layout != "direct":
        pytest.skip("the direct route's own test")
    monkeypatch.setattr(conv_ops, "DIRECT_SCATTER_COST", 0.0 if input_route == "scatter" else float("inf"))
    calls = []
    for name in ("_direct_forward", "_direct_input_grad", "_direct_weight_grad"):
        original = getattr(conv_ops, name)
        monkeypatch.setattr(conv_ops, name, lambda *a, _f=original, _n=name: calls.append(_n) or _f(*a))
    r = rng(31)
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    cases = [
        ((5, 3, 9, 11), (5, 3, 5, 4), (1, 2)),  # 5 outputs (blocks of 4), k_w 4 (blocks of 3)
        ((3, 1, 12, 12), (6, 1, 5, 5), (2, 2)),  # LeNet's first
        ((3, 6, 14, 14), (16, 6, 5, 5), (0, 0)),  # LeNet's second
        ((2, 2, 6, 7), (1, 2, 2, 7), (0, 3)),  # one output channel, k_w 7, padding on one axis only
        ((1, 4, 4, 5), (9, 4, 3, 3), (3, 1)),  # batch 1, padding wider than the kernel's reach
    ]
    for x_shape, w_shape, padding in cases:
        x, w, b = (r.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
        xd, wd, bd = (dg.tensor(a, requires_grad=True) for a in (x, w, b))
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        out, expected = F.conv2d(xd, wd, bd, padding=padding), TF.conv2d(xt, wt, bt, padding=padding)
        upstream = r.standard_normal(tuple(expected.shape)).astype(dtype)
        out.backward(dg.tensor(upstream))
        expected.backward(torch.tensor(upstream))
        assert out.dtype == xd.grad.dtype == wd.grad.dtype == dg.tensor(x).dtype
        for ours, theirs in [(out, expected), (xd.grad, xt.grad), (wd.grad, wt.grad), (bd.grad, bt.grad)]:
            np.testing.assert_allclose(ours.array, theirs.detach().numpy(), **tolerance, err_msg=str(x_shape))
    input_call = "_direct_forward" if input_route == "gather" else "_direct_input_grad"
    layer = ["_direct_forward", input_call, "_direct_weight_grad"]
    assert calls == layer * 4 + ["_direct_forward", "_direct_input_grad", "_direct_weight_grad"]


def test_the_weight_gradient_comes_out_transposed_only_for_small_weights(conv_layout):
    """cols @ grad^T gives dW transposed, which the engine then copies into C order (see
    ``TRANSPOSED_WEIGHT_GRAD_BYTES``): only for small weights with more im2col rows than output channels."""
    from deepgrad.ops import conv as conv_ops

    if conv_layout != "one GEMM":
        pytest.skip("the rule is the one-GEMM layout's")
    r = rng(70)

    def weight_grad(x_shape, w_shape, padding):
        x = r.standard_normal(x_shape).astype(np.float32)
        out_size = (x_shape[2] + 2 * padding - w_shape[2] + 1, x_shape[3] + 2 * padding - w_shape[3] + 1)
        grad = r.standard_normal((x_shape[0], w_shape[0], *out_size)).astype(np.float32)
        geometry = dict(stride=(1, 1), padding=(padding,) * 4, dilation=(1, 1), groups=1)
        dw = conv_ops.Conv2dWeightGrad.call(x, grad, weight_shape=w_shape, **geometry)
        reference = torch.nn.grad.conv2d_weight(torch.tensor(x), w_shape, torch.tensor(grad), padding=padding)
        np.testing.assert_allclose(dw, reference.numpy(), rtol=1e-4, atol=1e-3)
        return dw

    assert not weight_grad((4, 6, 14, 14), (16, 6, 5, 5), 0).flags.c_contiguous  # LeNet's 6->16: 16 x 150
    assert weight_grad((2, 256, 4, 4), (512, 256, 3, 3), 1).flags.c_contiguous  # 512 x 2304: 4.5 MiB
    assert weight_grad((2, 64, 8, 8), (128, 64, 1, 1), 1).flags.c_contiguous  # padded 1x1: fewer rows than outputs
