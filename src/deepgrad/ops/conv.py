"""Convolution and pooling as fused primitives: im2col views and BLAS products, or direct compiled loops.

Why fused: composed from primitives, a 5x5 convolution would be 25 shifted slices, products and sums per
layer, each a graph node with its own copy of the activations. Here one node does the whole layer:

* **im2col**: ``backend.as_strided`` (NumPy's ``as_strided``) gives every k_h x k_w window of the padded input as
  a view of shape (N, C, H_out, W_out, k_h, k_w) without copying; one reshape lays the windows out as the
  columns of a (C k_h k_w, N H_out W_out) matrix (the only copy: channels first, the whole batch in the
  columns), and the convolution is one GEMM per group with the (C_out, C k_h k_w) weight matrix. The forward
  keeps that matrix for the weight gradient only when it is small (``KEEP_COLUMNS_BYTES``); otherwise backward
  rebuilds it, as PyTorch does, so the unfolded input never outlives the backward of its layer.
* **Direct loops** (numba; stride 1, one group, up to ``DIRECT_MAX_TAPS`` weights per output channel;
  ``_direct``): no im2col and no BLAS. Compiled loops over each sample's padded planes compute forward and
  weight gradient several channels and taps at a time (``kernels.correlate_rows*``), and the input gradient
  as the same forward loop over grad with the flipped kernel or as a scatter of grad, whichever costs less.
* **Shifted products** (stride 1, 16 channels and more; ``_Shifted``): no im2col at all. Kernel offset
  (i, j) is one product of W[:, :, i, j] with a window of one zero-padded, channels-first buffer of the input
  (a matrix whose rows lie one buffer length apart, which BLAS reads as it lies), and ``deepgrad.blas`` adds
  the k_h k_w products into one output. The input and weight gradients are k_h k_w products the same way.
* **1x1 kernels** go the im2col way: their im2col is only the transposed copy of the input, no larger than
  it. One GEMM over the batch rather than per-sample products W @ x[n] (which need no copy): measured on
  1x1 64->256 at 32x64x16x16 with OpenBLAS's 2 threads, the 32 small products cost 6-15x the one-GEMM
  floor, the per-call thread hand-off dominating; single-threaded they were on a par.
* **col2im** (the adjoint, for the input gradient) adds each window back to where it came from: a loop over
  the k_h k_w kernel offsets, each one add of contiguous runs over the whole batch (see ``_col2im``: the
  columns are laid out on rows of the padded input's width, per stride phase). Pooling's scatter is the
  same loop with strided adds. No Python loop runs over samples or pixels.
* **Blocks on threads**: the copies, scatters and elementwise kernels run over blocks of the batch (or of
  the channels) on ``deepgrad.threads``; the matrix products use the BLAS library's own threads, except the
  per-sample products too small for it to thread, which run in one block of samples per thread
  (``SINGLE_THREADED_GEMM_MACS``).
* **Compiled loops**: with numba installed (``deepgrad.compiled``), max pooling's forward and scatter,
  col2im and the depthwise convolution are one compiled loop per block (``ops/kernels.py``); the NumPy
  formulations below stay the route without it. Measured on 2 threads, forward + backward: max pooling 3x3
  stride 2 at 32x64x32x32 27 ms on the NumPy route, 8.5-9.8 ms compiled (PyTorch 13-14 ms); the stride-2
  64->128 layer 74 -> 59 ms (compiled col2im); depthwise 3x3 at 32x64x32x32 35 -> 19-22 ms. A compiled
  im2col tied NumPy's copy or lost (8x8 planes, 1x1 kernels), so im2col stays NumPy's.

Second derivatives: the backward of a convolution is itself a pair of linear maps, the gradient with
respect to the input (a transposed convolution) and with respect to the weight (a correlation of the input
with the upstream gradient). Each is a primitive here (``Conv2dInputGrad``, ``Conv2dWeightGrad``), and the
backward of each of the three is written with the other two, so the set is closed under differentiation:
under ``create_graph=True`` the backward records these ops (``Function.call``) and can be differentiated
again. The pooling ops pair up the same way (window scatter <-> window gather / window sum).

Geometry parameters, as the functional layer passes them: ``stride`` and ``dilation`` are (h, w) pairs,
``padding`` is (top, bottom, left, right) (asymmetric for ``padding='same'`` with even kernels, and for
pooling with ``ceil_mode``, whose last window may hang over the bottom/right edge).
"""

from __future__ import annotations

import threading

import numpy as np

from deepgrad import backend, blas, compiled
from deepgrad.autograd.function import Function
from deepgrad.ops import kernels
from deepgrad.threads import batch_blocks, get_num_threads, parallel_for

# ---------------------------------------------------------------------------------------------------
# window helpers (plain NumPy, used by the forwards)


def _pad(x: np.ndarray, padding: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """x with ``padding`` = (top, bottom, left, right) extra rows/columns of ``value`` on its last two axes."""
    top, bottom, left, right = padding
    if not (top or bottom or left or right):
        return x
    *lead, height, width = x.shape
    out = np.full((*lead, height + top + bottom, width + left + right), value, dtype=x.dtype, like=x)
    out[..., top : top + height, left : left + width] = x
    return out


def _windows(padded: np.ndarray, kernel, stride, dilation, out_size) -> np.ndarray:
    """Read-only view (*lead, H_out, W_out, k_h, k_w) of the windows of ``padded`` (*lead, H_pad, W_pad)."""
    *lead_strides, step_h, step_w = padded.strides
    shape = (*padded.shape[:-2], out_size[0], out_size[1], kernel[0], kernel[1])
    strides = (*lead_strides, step_h * stride[0], step_w * stride[1], step_h * dilation[0], step_w * dilation[1])
    return backend.as_strided(padded, shape, strides)


def _offset_slices(i: int, j: int, stride, dilation, out_size) -> tuple:
    """Where kernel offset (i, j) reads in the padded input, for every output position: a strided slice."""
    top, left = i * dilation[0], j * dilation[1]
    return (
        Ellipsis,
        slice(top, top + stride[0] * (out_size[0] - 1) + 1, stride[0]),
        slice(left, left + stride[1] * (out_size[1] - 1) + 1, stride[1]),
    )


def _window_scatter(window_grad, input_shape, kernel, stride, padding, dilation, out_size) -> np.ndarray:
    """Adjoint of ``_windows`` after padding (pooling's col2im): add each window value back to its place in a
    zero (*lead, H, W) array. ``window_grad`` is laid out (*lead, k_h, k_w, H_out, W_out), so each kernel offset reads a
    contiguous block; it may be a broadcast view (average pooling)."""
    top, bottom, left, right = padding
    *lead, height, width = input_shape
    target = np.zeros((*lead, height + top + bottom, width + left + right), dtype=window_grad.dtype, like=window_grad)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            target[_offset_slices(i, j, stride, dilation, out_size)] += window_grad[..., i, j, :, :]
    return target[..., top : top + height, left : left + width]


def _window_sum(padded: np.ndarray, kernel, stride, out: np.ndarray) -> np.ndarray:
    """Sum of each (undilated) window into ``out``: k_h k_w strided adds, faster than reducing the 6-d window
    view."""
    out_size = out.shape[-2:]
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            part = padded[_offset_slices(i, j, stride, (1, 1), out_size)]
            if i == j == 0:
                np.copyto(out, part)
            else:
                out += part
    return out


def _out_size(x_shape, weight_shape, padding, stride, dilation) -> tuple[int, int]:
    height, width = x_shape[-2:]
    top, bottom, left, right = padding
    kernel_h, kernel_w = weight_shape[-2:]
    return (
        (height + top + bottom - dilation[0] * (kernel_h - 1) - 1) // stride[0] + 1,
        (width + left + right - dilation[1] * (kernel_w - 1) - 1) // stride[1] + 1,
    )


# ---------------------------------------------------------------------------------------------------
# convolution. The matrices put the channels first and the whole batch in the columns: im2col is
# (groups, C/groups k_h k_w, N H_out W_out) and the weight (groups, C_out/groups, C/groups k_h k_w), so a
# layer is one large GEMM per group. Measured against the earlier layout (one product per sample, summed over
# the batch for the weight gradient): the weight gradient becomes one product with K = N H_out W_out instead
# of N products and a sum, and the transposes in and out of this layout are copies of the (small)
# activations, not of the (k_h k_w times larger) im2col matrix.

# The im2col matrix is kept from forward for the weight gradient when it is at most this large, and
# recomputed in backward otherwise. It is k_h k_w times the input: for a ResNet-18 step at batch 32 keeping
# all of them holds ~560 MB (stage 1 alone 4 x 75 MB) where PyTorch's whole step peaks near 300 MB; the
# recomputation is one strided copy, a few percent of the layer's three products. 24 MiB keeps the stride-2
# 64->128 layer's (18.9 MB at batch 32), whose strided copy costs as much as a third of its products.
KEEP_COLUMNS_BYTES = 24 * 2**20


# The im2col matrix of a large layer is built up to three times a step (forward, input gradient, weight
# gradient) and dropped each time, and so is the product of each GEMM before it is transposed into the
# output's layout. New memory costs the kernel's zeroing of every page on first touch: measured at 75 MB
# (ResNet stage 1, batch 32), the im2col copy takes 19 ms into fresh memory and 10 ms into a reused buffer.
# So the matrices that die inside their op are written into buffers kept per thread, dtype and role
# ("columns", "product"), at most WORKSPACE_BYTES each; larger ones are allocated as they come.
WORKSPACE_BYTES = 256 * 2**20


class _Workspace(threading.local):
    def __init__(self) -> None:
        self.buffers: dict = {}

    def take(self, shape: tuple, like: np.ndarray, role: str) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``like``'s dtype, valid until the next ``take`` of ``role``."""
        size = int(np.prod(shape))
        if size * like.dtype.itemsize > WORKSPACE_BYTES:
            return np.empty(shape, dtype=like.dtype, like=like)
        key = (type(like), like.dtype, role)
        buffer = self.buffers.get(key)
        if buffer is None or buffer.size < size:
            buffer = self.buffers[key] = np.empty(size, dtype=like.dtype, like=like)
        return buffer[:size].reshape(shape)


_workspace = _Workspace()


def _transient_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b in the workspace: for a product the op consumes before it returns."""
    if a.dtype != b.dtype:
        return a @ b
    shape = (*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
    return np.matmul(a, b, out=_workspace.take(shape, like=b, role="product"))


# The compiled copies around the products are bound by memory: a second thread gains little on them, and its
# hand-off costs more than that on smaller arrays. Measured right after a product (BLAS's threads awake),
# medians of 25, one thread against two: im2col of LeNet's layers (3.8-5 MB) 0.43 against 0.52 ms, ResNet's 256
# channels at 8x8 (19 MB) 3.2 against 3.5, the cnn's 32->64 (42 MB) 4.2 against 3.5, ResNet's first stage
# (75 MB) 12.5 against 11.1. Training steps in alternating runs: LeNet-5 6.9 against 7.3 ms, cnn and ResNet-18
# 2% faster.
COPY_PARALLEL_MIN_BYTES = 32 * 2**20


def _copy_blocks(count: int, item_bytes: int) -> list[slice]:
    """Blocks of ``count`` items for a compiled copy around the products (im2col, col2im, the move to
    batch-first): one block below COPY_PARALLEL_MIN_BYTES in all, else blocks on the threads."""
    if count * item_bytes < COPY_PARALLEL_MIN_BYTES:
        return [slice(0, count)]
    return batch_blocks(count, item_bytes, compiled=True)


def _copy_in_blocks(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``target[...] = source`` in blocks of the first axis, on the threads (these strided copies run at a
    few ns per element, compute-bound rather than memory-bound)."""

    def copy(b):
        np.copyto(target[b], source[b])

    parallel_for(copy, batch_blocks(target.shape[0], target[:1].nbytes))
    return target


def _im2col(x, kernel, stride, padding, dilation, groups, out_size, transient: bool = False) -> np.ndarray:
    """(groups, C/groups k_h k_w, N H_out W_out): one column per output position of every sample (for a
    1x1 kernel, the input's transposed copy). ``transient``: the caller drops it before the next im2col, so
    it may live in the workspace."""
    cols = _unfold(x, kernel, stride, padding, dilation, out_size, transient, by_sample=False)
    return cols.reshape(groups, -1, x.shape[0] * out_size[0] * out_size[1])


# With numba, the im2col copy is one compiled loop of row copies, on the threads by blocks of samples. Measured
# against NumPy's strided copy (medians of 9): per-sample layout, 3x3 at 64 channels 32x32 batch 32 3.2 against
# 3.9 ms, 256 channels at 8x8 1.1 against 2.7, the MNIST cnn's 32->64 1.2 against 2.4, LeNet 6->16 0.24
# against 0.45; channels-first layout, 128 channels at 16x16 2.0 against 3.3 ms, stride 2 1.8 against 2.2,
# AlexNet's 11x11 stride 4 2.9 against 3.8, 64 channels at 32x32 even (3.65 against 3.52). Whole layers
# (forward + backward, alternating runs): LeNet 6->16 0.91x, 3x3 128 channels 0.95x, the others 0.98-1.01x; a
# LeNet-5 step 0.96x, a ResNet-18 step 1.02x (noise). On the previous session's machine (no AVX-512) the same
# loop tied NumPy's copy at 32x32 and lost at 8x8, and was not kept then.
def _unfold(x, kernel, stride, padding, dilation, out_size, transient: bool, by_sample: bool) -> np.ndarray:
    """The windows of the padded ``x`` copied out, one row of W_out values per (n, c, i, j, h):
    (N, C, k_h, k_w, H_out, W_out) when ``by_sample``, else (C, k_h, k_w, N, H_out, W_out); in the workspace
    when ``transient``. The copy is compiled when numba is on."""
    shape = _unfolded_shape(x.shape, kernel, out_size, by_sample)
    cols = _workspace.take(shape, like=x, role="columns") if transient else np.empty_like(x, shape=shape)
    if not compiled.usable(x, cols):
        windows = _windows(_pad(x, padding), kernel, stride, dilation, out_size)  # (N, C, Ho, Wo, kh, kw), a view
        return _copy_in_blocks(cols, windows.transpose((0, 1, 4, 5, 2, 3) if by_sample else (1, 4, 5, 0, 2, 3)))
    fill = _sample_unfolder(x, cols, kernel, stride, padding, dilation, out_size, by_sample)
    per_sample = cols if by_sample else cols.transpose(3, 0, 1, 2, 4, 5)
    parallel_for(fill, _copy_blocks(x.shape[0], per_sample[:1].nbytes))
    return cols


def _unfolded_shape(x_shape, kernel, out_size, by_sample: bool) -> tuple[int, ...]:
    """(N, C, k_h, k_w, H_out, W_out) when ``by_sample``, else (C, k_h, k_w, N, H_out, W_out)."""
    if by_sample:
        return (x_shape[0], x_shape[1], *kernel, *out_size)
    return (x_shape[1], *kernel, x_shape[0], *out_size)


def _sample_unfolder(x, cols, kernel, stride, padding, dilation, out_size, by_sample: bool):
    """A function of a slice of the batch that copies those samples' windows of ``x`` into ``cols`` (laid out
    as ``_unfold`` says)."""
    per_sample = cols if by_sample else cols.transpose(3, 0, 1, 2, 4, 5)  # (N, C, kh, kw, Ho, Wo)
    if not compiled.usable(x, cols):
        windows = _windows(_pad(x, padding), kernel, stride, dilation, out_size).transpose(0, 1, 4, 5, 2, 3)

        def copy(b: slice) -> None:
            np.copyto(per_sample[b], windows[b])

        return copy
    # compiled: row copies from x as it lies, the padding written as zeros, with no padded copy of x (np.full
    # and a copy, 3.1 ms at 32x64x32x32 in a profile). Medians of 21 in alternating runs against the same loop
    # over a padded copy, 3x3 padding 1 at batch 32: 64 channels at 32x32 5.0-7.2 against 9.8 ms (per-sample
    # layout 5.6-6.8 against 7.6-8.8), 128 at 16x16 2.5-3.0 against 2.8-4.0, 256 at 8x8 1.9-2.4 against
    # 2.0-2.5, stride 2 1.6-1.7 against 2.6-3.2; LeNet's layers even. The kernel offset is the outer loop, so
    # the rows that read the padding are found once per offset, not once per row (row by row, the 8x8 planes
    # took 2.5x as long).
    source = np.ascontiguousarray(x)
    steps = tuple(step // cols.itemsize for step in per_sample.strides[:4])
    flat = cols.reshape(-1)
    geometry = (*kernel, *stride, *dilation, padding[0], padding[2], *steps)

    def copy_compiled(b: slice) -> None:
        kernels.im2col(source, flat, *out_size, b.start, b.stop, *geometry)

    return copy_compiled


# Layers with large output planes and not too many weights (LeNet's first, a 3-channel stem, the compact
# MNIST cnn, ResNet's 64-channel stage at batch 32) take the other layout: im2col per sample,
# (N, C k_h k_w, H_out W_out), and the forward as N products W @ cols[n] written straight into the
# (N, C_out, H_out W_out) output; the weight gradient is the sum over the batch of grad[n] @ cols[n]^T, whose
# N partial products (N, C_out, C k_h k_w) limit the route to smaller weights, and whose products are too
# small for the GEMM kernel below ~256 output positions. Measured f+b in alternating runs against the one-GEMM
# layout: 1->32 3x3 at 28x28, batch 64, 2.1 against 2.9 ms; a 3->64 3x3 stem at 32x32, batch 32, 4.1 against
# 6.0 ms; 32->64 3x3 at 26x26, batch 64, 42.9 against 46.5 ms; LeNet 1->6 at batch 128 3.5 against 3.9 ms
# (batch 64 and ResNet's 64->64: within 3%); but LeNet's 6->16 at 10x10 outputs 3.6 against 2.9 ms, and 1x1
# kernels 2-8% slower (their one-GEMM im2col is a plain transposed copy). The per-sample copy reads one
# sample's planes at a time, and no transposing copy of the output follows.
BY_SAMPLE_PARTIALS_BYTES = 8 * 2**20
BY_SAMPLE_MIN_POSITIONS = 256


def _partials_fit(x_shape, weight_shape, itemsize: int) -> bool:
    """Whether the N per-sample weight-gradient products (N, C_out, C k_h k_w) fit BY_SAMPLE_PARTIALS_BYTES."""
    return x_shape[0] * int(np.prod(weight_shape)) * itemsize <= BY_SAMPLE_PARTIALS_BYTES


def _by_sample(x_shape, weight_shape, groups: int, itemsize: int, out_size) -> bool:
    """Whether the layer takes the per-sample im2col layout (see ``BY_SAMPLE_PARTIALS_BYTES``)."""
    return (
        groups == 1
        and tuple(weight_shape[-2:]) != (1, 1)
        and _partials_fit(x_shape, weight_shape, itemsize)
        and out_size[0] * out_size[1] >= BY_SAMPLE_MIN_POSITIONS
    )


# A 1x1 convolution with stride 1 and no padding is N products over the input as it lies: forward W @ x[n],
# input gradient W^T @ grad[n], weight gradient the sum over n of grad[n] @ x[n]^T (the N partial products
# kept under BY_SAMPLE_PARTIALS_BYTES), with no im2col, transposing or reordering copy at all. Measured f+b
# in alternating runs at batch 32 against the one-GEMM route's copies: 64->256 at 16x16 5.8 against 8.6 ms,
# 256->64 7.0 against 8.1 ms, 64->64 at 32x32 8.9 against 10.8 ms, 128->512 at 8x8 6.1 against 7.0 ms.
def _pointwise(weight_shape, stride, padding, groups: int) -> bool:
    """Whether the layer is a plain 1x1 convolution (stride 1, no padding, one group)."""
    return tuple(weight_shape[-2:]) == (1, 1) and stride == (1, 1) and not any(padding) and groups == 1


# Stride-1 layers with up to a few hundred weights per output channel run their forward and weight gradient as
# direct loops over each sample's padded planes (``kernels.correlate_rows*``), with no im2col and no products
# through BLAS: the kernels do several multiply-adds per value they load (4 output channels x 3 taps), and a
# sample's planes stay in cache. Measured alone, batch 32 unless said, two threads, medians, direct / previous
# route (im2col, per-sample or shifted products), forward and weight gradient:
#   LeNet's 1->6 (batch 128)        0.88 / 0.26      LeNet's 6->16 (batch 128)      0.73 / 0.40
#   the cnn's 1->32 (batch 64)      0.68 / 0.49      the cnn's 32->64 (batch 64)    0.85 / 0.67
#   a 3->64 stem at 32x32           0.76 / 0.53      16->16 at 32x32                0.50 / 0.20
#   32->32 at 32x32                 0.70 / 0.38      5x5 16->32 at 16x16            0.52 / 0.33
#   ResNet's 64->64 at 32x32        0.82 / 0.50      64->64 at 16x16                0.58 / 0.43
#   128->128 at 16x16 (1152 taps)   1.17 / 0.87
DIRECT_MAX_TAPS = 576

# The input gradient has two direct forms. "gather": the forward kernel run over grad with the flipped,
# transposed kernel and the "full" padding k - 1 - p (its C_out k_h k_w taps under DIRECT_MAX_TAPS, and p <=
# k - 1), which computes every input position over rows k_w - 1 wider than the input's. "scatter"
# (``kernels.correlate_rows_input_grad``): each grad value times its weights added where the forward read it,
# four output channels per pass over an input plane, which computes nothing in the padding but loads and
# stores each plane once per pass: about half the gather form's rate (DIRECT_SCATTER_COST), and only up to
# DIRECT_INPUT_GRAD_MAX_OUT_CHANNELS output channels. The route with the smaller estimated cost is taken.
# Measured (ms, medians; gather / scatter / previous route): LeNet's 6->16 at batch 128 2.77 / 2.35 / 2.60; the
# cnn's 32->64 19.1 / 28.9 / 23.0; ResNet's 64->64 at 32x32 29.2 / 51.4 / 30.9, at 16x16 9.3 / 16.7 / 11.6; 32->32
# at 32x32 7.2 / 12.5 / 11.4.
DIRECT_SCATTER_COST = 2.0
DIRECT_INPUT_GRAD_MAX_OUT_CHANNELS = 32


def _direct(x, weight_shape, stride, dilation, groups: int) -> bool:
    """Whether the layer's forward and weight gradient take the direct compiled convolution (see
    DIRECT_MAX_TAPS): stride 1, no dilation, one group, at most DIRECT_MAX_TAPS weights per output channel,
    numba on."""
    out_channels, channels, kernel_h, kernel_w = weight_shape
    return (
        groups == 1
        and stride == (1, 1)
        and dilation == (1, 1)
        and (kernel_h, kernel_w) != (1, 1)
        and channels * kernel_h * kernel_w <= DIRECT_MAX_TAPS
        and compiled.usable(x)
    )


def _direct_input_grad_route(grad, input_shape, weight_shape, stride, padding, dilation, groups: int) -> str | None:
    """The direct form of the input gradient of a layer whose forward is ``_direct``: "gather", "scatter" (see
    DIRECT_SCATTER_COST) or None (another route)."""
    if not _direct(grad, weight_shape, stride, dilation, groups):
        return None
    out_channels, channels, kernel_h, kernel_w = weight_shape
    (height, width), (out_h, out_w) = input_shape[-2:], grad.shape[-2:]
    full = _full_correlation_padding((kernel_h, kernel_w), stride, padding, dilation)
    gather = full is not None and out_channels * kernel_h * kernel_w <= DIRECT_MAX_TAPS
    scatter = out_channels <= DIRECT_INPUT_GRAD_MAX_OUT_CHANNELS
    if gather and scatter:  # multiply-adds each computes, blocks of channels and taps included
        gather_cost = (
            _ceil(channels, 4) * out_channels * kernel_h * _ceil(kernel_w, 3) * height * (width + kernel_w - 1)
        )
        scatter_cost = _ceil(out_channels, 4) * channels * kernel_h * kernel_w * out_h * (out_w + kernel_w - 1)
        return "gather" if gather_cost <= DIRECT_SCATTER_COST * scatter_cost else "scatter"
    return "gather" if gather else "scatter" if scatter else None


def _ceil(count: int, multiple: int) -> int:
    """``count`` rounded up to a multiple of ``multiple``."""
    return -(-count // multiple) * multiple


def _even_blocks(batch: int) -> list[slice]:
    """One slice of the batch per thread (a compute-bound kernel: the blocks take about equal time)."""
    step = -(-batch // max(1, min(get_num_threads(), batch)))
    return [slice(start, min(start + step, batch)) for start in range(0, batch, step)]


def _blocked_shape(weight_shape, column_multiple: int) -> tuple[int, int, int, int]:
    """(C_out, C, k_h, k_w) rounded up to a multiple of 4 output channels and of ``column_multiple`` columns:
    the direct kernels' blocks of channels and taps (the padding is zeros)."""
    out_channels, channels, kernel_h, kernel_w = weight_shape
    return (_ceil(out_channels, 4), channels, kernel_h, _ceil(kernel_w, column_multiple))


def _direct_forward(x, weight, bias, padding, out_size) -> np.ndarray:
    """conv2d(x, W) + b with stride 1 through ``kernels.correlate_rows``, the samples split over the threads."""
    out_channels, kernel_w = weight.shape[0], weight.shape[3]
    blocked = np.zeros(_blocked_shape(weight.shape, 3), dtype=x.dtype)
    blocked[:out_channels, :, :, :kernel_w] = weight
    shift = np.zeros(blocked.shape[0], dtype=x.dtype)
    if bias is not None:
        shift[:out_channels] = bias
    source = np.ascontiguousarray(x)
    out = np.empty((x.shape[0], out_channels, *out_size), dtype=x.dtype)

    def block(b: slice) -> None:
        kernels.correlate_rows(source, blocked, shift, out, b.start, b.stop, padding[0], padding[2], kernel_w)

    parallel_for(block, _even_blocks(x.shape[0]))
    return out


def _direct_input_grad(grad, weight, input_shape, padding) -> np.ndarray:
    """The input gradient of ``_direct_forward`` through ``kernels.correlate_rows_input_grad``."""
    blocked = np.zeros(_blocked_shape(weight.shape, 1), dtype=grad.dtype)
    blocked[: weight.shape[0]] = weight
    source = np.ascontiguousarray(grad)
    out = np.empty(input_shape, dtype=grad.dtype)

    def block(b: slice) -> None:
        kernels.correlate_rows_input_grad(source, blocked, out, b.start, b.stop, padding[0], padding[2])

    parallel_for(block, _even_blocks(input_shape[0]))
    return out


def _direct_weight_grad(x, grad, weight_shape, padding) -> np.ndarray:
    """The weight gradient of ``_direct_forward`` through ``kernels.correlate_rows_weight_grad``: one partial
    sum per block of samples, added up."""
    blocks = _even_blocks(x.shape[0])
    partial = np.zeros((len(blocks), *_blocked_shape(weight_shape, 3)), dtype=x.dtype)
    source, upstream = np.ascontiguousarray(x), np.ascontiguousarray(grad)

    def block(index: int) -> None:
        b = blocks[index]
        kernels.correlate_rows_weight_grad(
            source, upstream, partial[index], b.start, b.stop, padding[0], padding[2], weight_shape[3]
        )

    parallel_for(block, range(len(blocks)))
    out_channels, kernel_w = weight_shape[0], weight_shape[3]
    return np.ascontiguousarray(partial.sum(axis=0)[:out_channels, :, :, :kernel_w])


def _weight_grad_layout(x, weight_shape, stride, padding, dilation, groups: int, itemsize: int, out_size) -> str:
    """The route ``Conv2dWeightGrad`` takes: "direct" (``_direct``), "shifted" (shifted products, reading grad's
    layout), "depthwise", "pointwise" (1x1, products over the input as it lies), "by sample" (per-sample
    im2col) or "one GEMM" (reading grad channels first)."""
    x_shape = x.shape
    if _direct(x, weight_shape, stride, dilation, groups):
        return "direct"
    if _shifted(x, x_shape, weight_shape, stride, padding, dilation, groups):
        return "shifted"
    if _is_depthwise(weight_shape, groups):
        return "depthwise"
    if _pointwise(weight_shape, stride, padding, groups) and _partials_fit(x_shape, weight_shape, itemsize):
        return "pointwise"
    if _by_sample(x_shape, weight_shape, groups, itemsize, out_size):
        return "by sample"
    return "one GEMM"


def _per_sample(image: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C, H W), a view when the image is contiguous."""
    return np.reshape(image, (image.shape[0], image.shape[1], -1))


# The per-sample layout's products are N small GEMMs. OpenBLAS runs a GEMM on one thread when M N K is under
# 65,536 times its GEMM_MULTITHREAD_THRESHOLD (4) per thread, so products this small ran one after another on
# one core while the other idled: LeNet's first layer (6 x 25 x 784 = 117,600) and the cnn's (32 x 9 x 676).
# For those the batch is split into one block per thread, and each block's im2col and products (or its
# weight-gradient products) run on their own core. Measured (best of 20, two runs, alternating), the split
# against the products in one call: LeNet 1->6 at batch 64, forward 0.97-1.14 against 1.71-1.86 ms, weight
# gradient 0.58-0.61 against 0.98-1.03 ms; at batch 128, 1.23-2.13 against 2.95-3.26 ms and 1.22-1.38 against
# 2.43-2.45 ms; the cnn's 1->32 at batch 64, 0.93-1.03 against 1.16-1.25 ms and 0.62-0.69 against 0.87-1.10 ms.
# Larger products get OpenBLAS's own threads, and two blocks of them would contend for the cores.
SINGLE_THREADED_GEMM_MACS = 2 * 4 * 65536


def _product_blocks(batch: int, macs_per_sample: int) -> list[slice]:
    """One slice of the batch per thread when each sample's product is below SINGLE_THREADED_GEMM_MACS, else
    the whole batch as one slice."""
    if macs_per_sample >= SINGLE_THREADED_GEMM_MACS:
        return [slice(0, batch)]
    return _even_blocks(batch)


def _plain_arrays(*arrays) -> bool:
    """Whether every array given (None skipped) is a NumPy array of the first one's dtype."""
    present = [a for a in arrays if a is not None]
    return all(type(a) is np.ndarray and a.dtype == present[0].dtype for a in present)


def _by_sample_in_blocks(x, matrix, bias, kernel, stride, padding, dilation, out_size, keep: bool, blocks):
    """z[n] = W @ cols[n] (+ bias), block by block of ``blocks`` on the threads, each block's im2col written
    just before its products read it: (z as (N, C_out, H_out W_out), cols as (N, C k_h k_w, H_out W_out))."""
    batch, positions = x.shape[0], out_size[0] * out_size[1]
    shape = _unfolded_shape(x.shape, kernel, out_size, by_sample=True)
    cols = np.empty_like(x, shape=shape) if keep else _workspace.take(shape, like=x, role="columns")
    fill = _sample_unfolder(x, cols, kernel, stride, padding, dilation, out_size, by_sample=True)
    columns = cols.reshape(batch, -1, positions)
    out = np.empty_like(x, shape=(batch, matrix.shape[0], positions))

    def block(b: slice) -> None:
        fill(b)
        np.matmul(matrix, columns[b], out=out[b])
        if bias is not None:
            out[b] += bias.reshape(-1, 1)

    parallel_for(block, blocks)
    return out, columns


def _by_sample_weight_grad(grad, columns, blocks) -> np.ndarray:
    """sum over n of grad[n] @ cols[n]^T, a partial sum per block of ``blocks`` on the threads."""
    per_sample = _per_sample(grad)
    partial = np.empty_like(grad, shape=(len(blocks), per_sample.shape[1], columns.shape[1]))

    def block(index: int) -> None:
        b = blocks[index]
        partial[index] = np.matmul(per_sample[b], np.swapaxes(columns[b], 1, 2)).sum(axis=0)

    parallel_for(block, range(len(blocks)))
    return partial.sum(axis=0)


def _im2col_by_sample(x, kernel, stride, padding, dilation, out_size, transient: bool = False) -> np.ndarray:
    """(N, C k_h k_w, H_out W_out): one column per output position, sample by sample."""
    cols = _unfold(x, kernel, stride, padding, dilation, out_size, transient, by_sample=True)
    return cols.reshape(x.shape[0], -1, out_size[0] * out_size[1])


def _grad_on_padded_rows(grad: np.ndarray, groups: int, row_length: int) -> np.ndarray:
    """(N, C_out, H_out, W_out) -> (groups, C_out/groups, N H_out row_length): channels first, each output row
    widened with zeros to the row length of ``_col2im``'s phase planes."""
    batch, channels, out_h, out_w = grad.shape
    grid = np.zeros_like(grad, shape=(channels, batch, out_h, row_length))
    grid[..., :out_w] = grad.transpose(1, 0, 2, 3)
    return grid.reshape(groups, channels // groups, -1)


def _col2im(cols, input_shape, kernel, stride, padding, dilation, out_h) -> np.ndarray:
    """Adjoint of ``_im2col``: cols (groups, C/groups k_h k_w, N H_out W_q), its columns on rows of length
    W_q = ceil(W_pad / s_w) (``_grad_on_padded_rows``), added back where they were read -> (N, C, H, W).

    Phase (a, b) of the padded input holds the positions (s_h r + a, s_w q + b). Kernel offset (i, j), with
    d_h i = s_h ii + a and d_w j = s_w jj + b, adds its columns at phase position (h + ii, w + jj): in the
    flattened phase plane, one shift by ii W_q + jj, so each offset is one add of contiguous runs of H_out W_q
    values (the zero columns add nothing where they wrap). For stride 1 the one phase is the padded plane;
    otherwise the s_h s_w phases are interleaved into it at the end. Measured against k_h k_w strided adds in
    the padded plane: LeNet's 5x5 6->16 layer (rows of 10 values) 0.5 ms against 2.4 ms.
    """
    batch, channels, height, width = input_shape
    top, bottom, left, right = padding
    padded_h, padded_w = height + top + bottom, width + left + right
    row_length = -(-padded_w // stride[1])
    run = out_h * row_length
    windows = cols.reshape(channels, kernel[0], kernel[1], batch, run)
    reach_h, reach_w = dilation[0] * (kernel[0] - 1) // stride[0], dilation[1] * (kernel[1] - 1) // stride[1]
    phase_rows = max(-(-padded_h // stride[0]), out_h + reach_h)
    phases = np.zeros_like(cols, shape=(*stride, batch, channels, phase_rows * row_length + reach_w))

    def add(c):
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                (ii, a), (jj, b) = divmod(dilation[0] * i, stride[0]), divmod(dilation[1] * j, stride[1])
                shift = ii * row_length + jj
                phases[a, b, :, c, shift : shift + run] += windows[c, i, j].transpose(1, 0, 2)

    parallel_for(add, batch_blocks(channels, windows[:1].nbytes))
    planes = phases[..., : phase_rows * row_length].reshape(*stride, batch, channels, phase_rows, row_length)
    if stride == (1, 1):
        return planes[0, 0, :, :, top : top + height, left : left + width]
    full = np.empty_like(cols, shape=(batch, channels, padded_h, padded_w))

    def interleave(c):
        for a in range(stride[0]):
            for b in range(stride[1]):
                rows, columns = -(-(padded_h - a) // stride[0]), -(-(padded_w - b) // stride[1])
                full[:, c, a :: stride[0], b :: stride[1]] = planes[a, b, :, c, :rows, :columns]

    parallel_for(interleave, batch_blocks(channels, full[:, :1].nbytes))
    return full[..., top : top + height, left : left + width]


def _channels_first(image: np.ndarray, groups: int) -> np.ndarray:
    """(N, C, H, W) -> (groups, C/groups, N H W), a copy in the workspace (the gradients' products consume it
    before the op returns)."""
    batch, channels, height, width = image.shape
    by_channel = image.transpose(1, 0, 2, 3)
    target = _workspace.take(by_channel.shape, like=image, role="channels first")
    return _copy_in_blocks(target, by_channel).reshape(groups, channels // groups, -1)


def _batch_first(matrix: np.ndarray, batch: int, out_size, bias=None) -> np.ndarray:
    """(groups, C/groups, N H W) -> contiguous (N, C, H, W), with the bias added in the same pass."""
    channels = matrix.shape[0] * matrix.shape[1]
    view = matrix.reshape(channels, batch, *out_size).transpose(1, 0, 2, 3)
    out = np.empty_like(view, order="C")
    if compiled.usable(matrix, out) and (bias is None or compiled.usable(bias) and bias.dtype == out.dtype):
        # one compiled pass of contiguous runs, the bias added on the way: medians of 21 in alternating runs,
        # with a bias 32x64x32x32 0.61-0.84 against 1.32-1.48 ms, 32x128x16x16 0.41-0.55 against 0.75-0.78,
        # LeNet's 64x16x10x10 0.02 against 0.07-0.10; without one, even with NumPy's transposing copy
        product, planes = np.ascontiguousarray(matrix), out.reshape(batch, channels, -1)
        shift = bias if bias is not None else out[:0, 0, 0, 0]

        def move(b):
            kernels.batch_first(product, planes, shift, b.start, b.stop)

        parallel_for(move, _copy_blocks(batch, out[:1].nbytes))  # (two threads: 0.12-0.2 ms at LeNet's size)
        return out
    return _copy_adding_bias(out, view, bias)


def _copy_adding_bias(out: np.ndarray, view: np.ndarray, bias=None) -> np.ndarray:
    """out = view (+ bias[c] on channel axis 1), in blocks of the batch on the threads (the NumPy route of the
    moves into the (N, C, H, W) output)."""
    if bias is None:
        return _copy_in_blocks(out, view)
    column_bias = bias.reshape(-1, 1, 1)

    def add_bias(b):
        np.add(view[b], column_bias, out=out[b])

    parallel_for(add_bias, batch_blocks(out.shape[0], out[:1].nbytes))
    return out


def _weight_matrix(weight: np.ndarray, groups: int) -> np.ndarray:
    """(C_out, C/groups, k_h, k_w) -> (groups, C_out/groups, C/groups k_h k_w), a view."""
    return weight.reshape(groups, weight.shape[0] // groups, -1)


def _full_correlation_padding(kernel, stride, padding, dilation) -> tuple[int, int, int, int] | None:
    """For stride 1, the padding (top, bottom, left, right) under which correlating grad with the flipped
    kernel gives the input gradient (d (k - 1) - p on each side); None when that route does not apply."""
    if stride != (1, 1):
        return None
    reach = (dilation[0] * (kernel[0] - 1),) * 2 + (dilation[1] * (kernel[1] - 1),) * 2
    full = tuple(r - p for r, p in zip(reach, padding))
    return full if min(full) >= 0 else None


def _flipped_transposed(weight: np.ndarray, groups: int) -> np.ndarray:
    """(C_out, C/groups, k_h, k_w) -> (C, C_out/groups, k_h, k_w) rotated by 180 degrees, group by group."""
    out_channels, group_channels, kernel_h, kernel_w = weight.shape
    per_group = weight.reshape(groups, out_channels // groups, group_channels, kernel_h, kernel_w)
    swapped = per_group.transpose(0, 2, 1, 3, 4).reshape(
        groups * group_channels, out_channels // groups, kernel_h, kernel_w
    )
    return swapped[..., ::-1, ::-1]


# Stride-1 convolutions with enough channels skip im2col altogether: each kernel offset (i, j) is one product
# W[:, :, i, j] @ (the input shifted by (d_h i, d_w j)), and the layer is the sum of the k_h k_w products,
# added into one output by BLAS itself (``blas.matmul(..., accumulate=True)``). The shift is free when the
# input is laid out channels first, each row of every plane padded to a common row length with zeros that
# also serve as the next row's left padding (``_Shifted``): the shifted input is then a window of one buffer,
# a matrix whose rows lie one buffer length apart. The input gradient is the same sum with W^T over the
# gradient's layout, the weight gradient k_h k_w products with K = N H_out W_out. What it costs: the products
# also run over the layout's padding positions (1.06x the FLOPs at 32x32, 1.13x at 16x16, 1.27x at 8x8), and
# their K is C rather than C k_h k_w; what it saves: the three im2col copies of the layer (k_h k_w times its
# activations, each written and read once; 39 ms of the 64-channel stage's 104 ms on the last machine).
# Measured (forward + backward, 3x3 pad 1, batch 32, medians of 11, this session's Xeon): 64 channels at 32x32
# 109 ms against 219 ms for im2col and 137 for PyTorch; 128 at 16x16 84 against 125 (105); 256 at 8x8 73
# against 95 (98).
# Below 16 channels the products are too thin (64x16x28x28 16->16: 31 against 56 ms; 64x16x14x14 16->32
# even). The layout's padding positions (``_Shifted``) are computed too, and with small planes they cost more
# than the im2col saves: ResNet's 512 channels at 4x4 (1.56x the positions) 93 against 73 ms, while 256 at
# 8x8 (1.27x) gains (76 against 90 ms in bench_conv).
SHIFTED_MIN_CHANNELS = 16
SHIFTED_MAX_POSITIONS_SHARE = 1.4
# A layer the per-sample im2col route also takes (``_by_sample``) stays there when the shifted layout would compute this
# much more than its outputs (an unpadded layer, whose layout spans the input's planes, or a large kernel on small
# planes): each tap's product then adds into an output of the layout's size, nine passes over it, while the per-sample
# route's im2col and product stay in the core's cache. Measured on the AMD EPYC VM without AVX-512 (alternating rounds
# in one process, medians): the compact cnn's 32->64 at 26x26, batch 64 (1.17x the positions), forward 19-20 against
# 24-26 ms and forward + backward 56-67 against 63-83 ms, its training step 0.88x; ResNet's 64 channels at 32x32 with
# padding 1 (1.06x) even, so padded 3x3 layers keep the shifted products; 5x5 with padding 2 at 16x16 (1.27x, batch 32,
# 32->64) even.
SHIFTED_OVER_BY_SAMPLE_MAX_SHARE = 1.1


def _shifted(array, input_shape, weight_shape, stride, padding, dilation, groups: int) -> bool:
    """Whether a convolution of ``input_shape`` takes the shifted-product route, ``array`` (the input or grad)
    deciding the array type and dtype (see ``SHIFTED_MIN_CHANNELS``)."""
    if not (
        groups == 1
        and stride == (1, 1)
        and tuple(weight_shape[-2:]) != (1, 1)
        and min(weight_shape[0], weight_shape[1]) >= SHIFTED_MIN_CHANNELS
        and type(array) is np.ndarray
        and blas.available(array.dtype)
    ):
        return False
    out_h, out_w = _out_size(input_shape, weight_shape, padding, stride, dilation)
    geometry = _Shifted(input_shape, weight_shape[-2:], padding, dilation, (out_h, out_w))
    share = geometry.plane / (out_h * out_w)  # the layout's positions per output
    if share > SHIFTED_OVER_BY_SAMPLE_MAX_SHARE and _by_sample(
        input_shape, weight_shape, groups, array.dtype.itemsize, (out_h, out_w)
    ):
        return False
    return share <= SHIFTED_MAX_POSITIONS_SHARE


class _Shifted:
    """Stride-1 geometry for the shifted-product route. The input's pixel (n, y, x) of channel c sits at
    ``[c, front + n S + y R + x]`` of a (C, length) buffer of zeros, with the row length R = W + max(left, right)
    and the plane size S = R (H + max(top, bottom)) (at least the output's rows and columns); output position
    (n, h, w) is column p = n S + h R + w of the products. Kernel offset (i, j) then reads input column
    p + s, with s = d_h i R + d_w j: the padding's zeros, on the left, right, top and bottom, are the zero
    columns and rows of the neighbouring row or plane."""

    def __init__(self, input_shape, kernel, padding, dilation, out_size) -> None:
        batch, _, height, width = input_shape
        top, bottom, left, right = padding
        self.input_hw, self.out_size = (height, width), tuple(out_size)
        self.row = max(width + max(left, right), out_size[1])
        self.plane = self.row * max(height + max(top, bottom), out_size[0])
        self.positions = batch * self.plane  # the products' columns
        self.front = top * self.row + left
        self.shifts = [dilation[0] * i * self.row + dilation[1] * j for i in range(kernel[0]) for j in range(kernel[1])]
        # the gradient's layout starts ``margin`` columns in, so that the input gradient's reads at q - s fit
        self.margin = max(0, self.shifts[-1] - self.front)

    def _layout(self, image: np.ndarray, start: int, length: int, role: str) -> np.ndarray:
        """(C, length) zeros with ``image`` (N, C, h, w) at columns start + n S + y R + x, in the workspace."""
        batch, channels, height, width = image.shape
        buffer = _workspace.take((channels, length), like=image, role=role)
        # compiled, this move and the one back (``_image``) are one pass each; medians of 21 in alternating runs
        # (same bits), into and out of the layout: 32x64x32x32 1.7 and 1.6 ms against NumPy's 2.3 and 2.2,
        # 32x128x16x16 1.0 and 1.0 against 1.4 and 3.3, 32x256x8x8 0.75 and 0.5 against 1.0 and 1.2
        if compiled.usable(image, buffer):
            source = np.ascontiguousarray(image)

            def move(c):
                kernels.to_positions(source, buffer, start, self.plane, self.row, c.start, c.stop)

            parallel_for(move, _copy_blocks(channels, buffer[:1].nbytes))
            return buffer
        buffer[:, :start] = 0
        buffer[:, start + self.positions :] = 0
        planes = buffer[:, start : start + self.positions].reshape(channels, batch, -1, self.row)
        source = image.transpose(1, 0, 2, 3)

        def fill(c):
            planes[c, :, height:] = 0
            planes[c, :, :height, width:] = 0
            planes[c, :, :height, :width] = source[c]

        parallel_for(fill, batch_blocks(channels, planes[:1].nbytes))
        return buffer

    def _image(self, columns: np.ndarray, size, bias=None) -> np.ndarray:
        """The (N, C, h, w) image read back from the positions of (C, N S) ``columns``, plus ``bias``."""
        channels = columns.shape[0]
        view = columns.reshape(channels, -1, self.plane // self.row, self.row)[:, :, : size[0], : size[1]]
        view = view.transpose(1, 0, 2, 3)
        out = np.empty_like(view, order="C")
        if compiled.usable(columns, out) and (bias is None or compiled.usable(bias) and bias.dtype == out.dtype):
            shift = bias if bias is not None else out[:0, 0, 0, 0]

            def move(b):
                kernels.from_positions(columns, out, shift, self.plane, self.row, b.start, b.stop)

            parallel_for(move, _copy_blocks(out.shape[0], out[:1].nbytes))
            return out
        return _copy_adding_bias(out, view, bias)

    def input_layout(self, x: np.ndarray) -> np.ndarray:
        return self._layout(x, self.front, self.positions + max(self.front, self.shifts[-1]), "shifted input")

    def grad_layout(self, grad: np.ndarray) -> np.ndarray:
        return self._layout(grad, self.margin, self.margin + self.front + self.positions, "shifted grad")

    def _offsets(self, weight: np.ndarray):
        """(shift, W[:, :, i, j]) for every kernel offset."""
        taps = np.ascontiguousarray(np.moveaxis(weight.reshape(*weight.shape[:2], -1), 2, 0))  # (k_h k_w, C_out, C)
        return list(zip(self.shifts, taps))

    def forward(self, x, weight, bias=None) -> np.ndarray:
        """z = sum over offsets of W_ij @ (x shifted by s_ij)."""
        source = self.input_layout(x)
        out = _workspace.take((weight.shape[0], self.positions), like=x, role="product")
        for k, (shift, tap) in enumerate(self._offsets(weight)):
            blas.matmul(tap, source[:, shift : shift + self.positions], out, accumulate=k > 0)
        return self._image(out, self.out_size, bias)

    def input_grad(self, grad, weight, grad_layout=None) -> np.ndarray:
        """dx = sum over offsets of W_ij^T @ (grad shifted by -s_ij)."""
        source = self.grad_layout(grad) if grad_layout is None else grad_layout
        out = _workspace.take((weight.shape[1], self.positions), like=grad, role="product")
        start = self.margin + self.front
        for k, (shift, tap) in enumerate(self._offsets(weight)):
            blas.matmul(tap.T, source[:, start - shift : start - shift + self.positions], out, accumulate=k > 0)
        return self._image(out, self.input_hw)

    def weight_grad(self, x, grad, weight_shape, grad_layout=None) -> np.ndarray:
        """dW_ij = grad @ (x shifted by s_ij)^T, over every position at once."""
        source = self.input_layout(x)
        by_position = self.grad_layout(grad) if grad_layout is None else grad_layout
        by_position = by_position[:, self.margin : self.margin + self.positions]
        taps = np.empty_like(x, shape=(len(self.shifts), weight_shape[0], weight_shape[1]))
        for k, shift in enumerate(self.shifts):
            blas.matmul(by_position, source[:, shift : shift + self.positions].T, taps[k])
        return np.ascontiguousarray(taps.transpose(1, 2, 0)).reshape(weight_shape)


# Depthwise convolution (one input channel per group, C_out = groups = C): each output is k_h k_w products
# with one weight each, so the GEMM route has nothing to multiply (matrices of one row) and its im2col copy is
# k_h k_w times the activations. Here: k_h k_w multiply-adds over whole slices, a few samples at a time (on
# the threads) so that the slices stay in the core's cache; for stride 1 the slices are contiguous runs of
# flattened padded planes (``_Rows``). Measured at 32x64x32x32 (3x3, pad 1), before the runs: forward 27 ms
# in chunks of ~512 KiB against 71 ms unchunked and 34 ms for the GEMM route; weight gradient 48 against 157 ms.
# With numba, stride 1 runs ``kernels.depthwise_correlate_rows`` (a plane at a time, three taps per pass: the
# whole layer 0.76-0.78 of PyTorch's time against 1.86-2.33 for the compiled loops below, which stay for strides
# above 1).
DEPTHWISE_CHUNK_BYTES = 512 * 2**10


def _is_depthwise(weight_shape, groups: int) -> bool:
    return groups > 1 and weight_shape[0] == groups and weight_shape[1] == 1


def _first_axis_blocks(array: np.ndarray, compiled: bool = False) -> list[slice]:
    """Slices of ``array``'s first axis (samples or image planes) for a block loop (``threads.batch_blocks``;
    ``compiled``: each block is one compiled kernel call)."""
    return batch_blocks(array.shape[0], array[:1].nbytes, compiled=compiled)


def _sample_blocks(array: np.ndarray) -> list[slice]:
    """Slices of the batch axis, each about ``DEPTHWISE_CHUNK_BYTES`` of ``array``."""
    return batch_blocks(array.shape[0], array[:1].nbytes, DEPTHWISE_CHUNK_BYTES)


class _Rows:
    """Stride-1 geometry on flattened padded planes: kernel offset (i, j) is a shift of the flat index by
    i d_h W_pad + j d_w, and output row h spans W_pad values (the last W_pad - W_out of them unused), so each
    offset reads or writes one contiguous run of H_out W_pad values per plane."""

    def __init__(self, input_hw, kernel, padding, dilation, out_size) -> None:
        self.padding, self.out_size = padding, out_size
        self.padded_h = input_hw[0] + padding[0] + padding[1]
        self.padded_w = input_hw[1] + padding[2] + padding[3]
        self.run = out_size[0] * self.padded_w
        self.plane = self.padded_h * self.padded_w + dilation[1] * (kernel[1] - 1)  # + what the last run spills
        self.shifts = [
            ((i, j), i * dilation[0] * self.padded_w + j * dilation[1])
            for i in range(kernel[0])
            for j in range(kernel[1])
        ]

    def flat_input(self, x):
        """(n, C, H, W) -> (n, C, plane): zero-padded planes, flattened."""
        flat = np.zeros_like(x, shape=(*x.shape[:2], self.plane))
        self.input_planes(flat, x.shape[-2:])[...] = x
        return flat

    def output_rows(self, out):
        """(n, C, H_out, W_out) -> (n, C, H_out W_pad), the unused columns zero."""
        rows = np.zeros_like(out, shape=(*out.shape[:2], self.out_size[0], self.padded_w))
        rows[..., : self.out_size[1]] = out
        return rows.reshape(*out.shape[:2], self.run)

    def input_planes(self, flat, input_hw):
        """(n, C, plane) -> the (n, C, H, W) input positions, a view."""
        top, _, left, _ = self.padding
        planes = flat[..., : self.padded_h * self.padded_w].reshape(*flat.shape[:2], self.padded_h, self.padded_w)
        return planes[..., top : top + input_hw[0], left : left + input_hw[1]]


def _depthwise_forward(x, weight, stride, padding, dilation, out_size, bias=None) -> np.ndarray:
    """z[n, c] = b[c] + sum_{i, j} W[c, 0, i, j] x_pad[n, c, window offset (i, j)]"""
    if compiled.usable(x, weight) and stride == (1, 1) and _plain_arrays(x, weight, bias):
        out = np.empty_like(x, shape=(x.shape[0], weight.shape[0], *out_size))
        shift = np.zeros_like(x, shape=x.shape[1]) if bias is None else bias
        channels, corner = x.shape[1], (padding[0], padding[2])

        def block_rows(b):
            start, stop = b.start * channels, b.stop * channels
            kernels.depthwise_correlate_rows(x, weight, shift, out, start, stop, *corner, *dilation)

        parallel_for(block_rows, _first_axis_blocks(x, compiled=True))
        return out
    out = _depthwise_forward_unbiased(x, weight, stride, padding, dilation, out_size)
    if bias is not None:
        out += bias.reshape(-1, 1, 1)
    return out


def _depthwise_forward_unbiased(x, weight, stride, padding, dilation, out_size) -> np.ndarray:
    if compiled.usable(x, weight):  # one compiled multiply-add loop per block of samples
        padded = np.ascontiguousarray(_pad(x, padding))
        out = np.empty((x.shape[0], weight.shape[0], *out_size), dtype=np.result_type(x, weight))
        channels, geometry = x.shape[1], (*stride, *dilation)

        def block_compiled(b):
            kernels.depthwise_forward(padded, weight, out, b.start * channels, b.stop * channels, *geometry)

        parallel_for(block_compiled, _first_axis_blocks(padded, compiled=True))
        return out
    if stride == (1, 1):
        return _depthwise_forward_rows(x, weight, _Rows(x.shape[-2:], weight.shape[-2:], padding, dilation, out_size))
    padded = _pad(x, padding)
    out = np.empty_like(x, shape=(x.shape[0], weight.shape[0], *out_size))

    def block(rows):
        source, target = padded[rows], out[rows]
        product = np.empty_like(target)
        for i in range(weight.shape[2]):
            for j in range(weight.shape[3]):
                part = source[_offset_slices(i, j, stride, dilation, out_size)]
                if i == j == 0:
                    np.multiply(part, weight[:, 0, i, j].reshape(-1, 1, 1), out=target)
                else:
                    np.multiply(part, weight[:, 0, i, j].reshape(-1, 1, 1), out=product)
                    target += product

    parallel_for(block, _sample_blocks(padded))
    return out


def _depthwise_forward_rows(x, weight, rows: _Rows) -> np.ndarray:
    """Stride 1: each offset one multiply-add of contiguous runs. Measured at 32x64x32x32 (3x3, pad 1, one
    thread): forward 19 ms against 29 ms for the 2-d slices, whose rows are 32 values long; input gradient 21
    against 28 ms; weight gradient (dot products of runs) 9 against 23 ms."""
    out = np.empty_like(x, shape=(x.shape[0], weight.shape[0], *rows.out_size))

    def block(b):
        source = rows.flat_input(x[b])
        total = np.empty_like(x, shape=(*source.shape[:2], rows.run))
        product = np.empty_like(total)
        for (i, j), shift in rows.shifts:
            scale = weight[:, 0, i, j].reshape(-1, 1)
            if (i, j) == (0, 0):
                np.multiply(source[..., : rows.run], scale, out=total)
            else:
                np.multiply(source[..., shift : shift + rows.run], scale, out=product)
                total += product
        out[b] = total.reshape(*total.shape[:2], rows.out_size[0], rows.padded_w)[..., : rows.out_size[1]]

    parallel_for(block, _sample_blocks(x))
    return out


def _depthwise_input_grad(grad, weight, input_shape, stride, padding, dilation) -> np.ndarray:
    """dx_pad[n, c, window offset (i, j)] += W[c, 0, i, j] grad[n, c], cropped to the input"""
    top, bottom, left, right = padding
    batch, channels, height, width = input_shape
    out_size = grad.shape[-2:]
    full = _full_correlation_padding(weight.shape[-2:], stride, padding, dilation)
    if compiled.usable(grad, weight) and full is not None:
        # stride 1: the input gradient is the forward loop on grad padded by d (k - 1) - p, with the kernel
        # rotated by 180 degrees (measured 3.3 ms against 6.7 ms for the scatter loop below, one thread)
        flipped = np.ascontiguousarray(weight[..., ::-1, ::-1])
        return _depthwise_forward(grad, flipped, (1, 1), full, dilation, (height, width))
    if compiled.usable(grad, weight):
        upstream = np.ascontiguousarray(grad)
        target = np.empty((batch, channels, height + top + bottom, width + left + right), dtype=grad.dtype)
        weight = weight.astype(grad.dtype, copy=False)

        def block_compiled(b):
            kernels.depthwise_input_grad(
                upstream, weight, target, b.start * channels, b.stop * channels, *stride, *dilation
            )

        parallel_for(block_compiled, _first_axis_blocks(target, compiled=True))
        return target[..., top : top + height, left : left + width]
    if stride == (1, 1):
        rows = _Rows((height, width), weight.shape[-2:], padding, dilation, out_size)
        out = np.empty_like(grad, shape=input_shape)

        def block_rows(b):
            upstream = rows.output_rows(grad[b])
            target = np.zeros_like(upstream, shape=(*upstream.shape[:2], rows.plane))
            product = np.empty_like(upstream)
            for (i, j), shift in rows.shifts:
                np.multiply(upstream, weight[:, 0, i, j].reshape(-1, 1), out=product)
                target[..., shift : shift + rows.run] += product
            out[b] = rows.input_planes(target, (height, width))

        parallel_for(block_rows, _sample_blocks(out))
        return out
    target = np.zeros_like(grad, shape=(batch, channels, height + top + bottom, width + left + right))

    def block(rows):
        source, window = grad[rows], target[rows]
        product = np.empty_like(source)
        for i in range(weight.shape[2]):
            for j in range(weight.shape[3]):
                np.multiply(source, weight[:, 0, i, j].reshape(-1, 1, 1), out=product)
                window[_offset_slices(i, j, stride, dilation, out_size)] += product

    parallel_for(block, _sample_blocks(target))
    return target[..., top : top + height, left : left + width]


def _depthwise_weight_grad(x, grad, weight_shape, stride, padding, dilation) -> np.ndarray:
    """dW[c, 0, i, j] = sum_{n, h, w} grad[n, c, h, w] x_pad[n, c, window offset (i, j)]"""
    out_size = grad.shape[-2:]
    if compiled.usable(x, grad):
        if stride == (1, 1) and _plain_arrays(x, grad):  # each plane padded by the loop, three taps per pass
            loop, source, upstream = kernels.depthwise_correlate_rows_weight_grad, x, grad
            geometry = (padding[0], padding[2], *dilation)
        else:
            loop, source = kernels.depthwise_weight_grad, np.ascontiguousarray(_pad(x, padding))
            upstream, geometry = np.ascontiguousarray(grad), (*stride, *dilation)
        blocks, channels = _first_axis_blocks(source, compiled=True), x.shape[1]
        partial = np.empty((len(blocks), weight_shape[0], *weight_shape[2:]), dtype=np.result_type(x, grad))

        def block_compiled(index):
            b = blocks[index]
            loop(source, upstream, partial[index], b.start * channels, b.stop * channels, *geometry)

        parallel_for(block_compiled, range(len(blocks)))
        return partial.sum(axis=0).reshape(weight_shape)
    blocks = _sample_blocks(x)
    partial = np.zeros_like(grad, shape=(len(blocks), weight_shape[0], weight_shape[2], weight_shape[3]))
    if stride == (1, 1):  # each offset one dot product of contiguous runs per plane
        rows = _Rows(x.shape[-2:], weight_shape[-2:], padding, dilation, out_size)

        def block_rows(index):
            source, upstream = rows.flat_input(x[blocks[index]]), rows.output_rows(grad[blocks[index]])
            for (i, j), shift in rows.shifts:
                per_sample = np.vecdot(upstream, source[..., shift : shift + rows.run], axis=-1)
                partial[index, :, i, j] = per_sample.sum(axis=0)

        parallel_for(block_rows, range(len(blocks)))
        return partial.sum(axis=0).reshape(weight_shape)
    padded = _pad(x, padding)

    def block(index):
        source, upstream = padded[blocks[index]], grad[blocks[index]]
        product = np.empty_like(upstream)
        for i in range(weight_shape[2]):
            for j in range(weight_shape[3]):
                np.multiply(upstream, source[_offset_slices(i, j, stride, dilation, out_size)], out=product)
                per_sample = product.reshape(product.shape[0], product.shape[1], -1).sum(axis=2)
                partial[index, :, i, j] = per_sample.sum(axis=0)

    parallel_for(block, range(len(blocks)))
    return partial.sum(axis=0).reshape(weight_shape)


class Conv2d(Function):
    """z[n, o] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, c, s h + d i, s w + d j]   (c in o's group);
    dx = conv2d_input_grad(grad, W),  dW = conv2d_weight_grad(x, grad),  db = sum_{n, h, w} grad"""

    def forward(self, x, weight, bias=None, *, stride, padding, dilation, groups):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        batch, kernel = x.shape[0], weight.shape[-2:]
        out_size = _out_size(x.shape, weight.shape, padding, stride, dilation)
        if batch == 0:  # an empty batch (PyTorch allows it): every route's blocks assume a sample
            return np.zeros_like(x, shape=(0, weight.shape[0], *out_size))
        if _is_depthwise(weight.shape, groups):
            return _depthwise_forward(x, weight, stride, padding, dilation, out_size, bias)
        if _direct(x, weight.shape, stride, dilation, groups) and _plain_arrays(x, weight, bias):
            return _direct_forward(x, weight, bias, padding, out_size)
        if _shifted(x, x.shape, weight.shape, stride, padding, dilation, groups) and weight.dtype == x.dtype:
            return _Shifted(x.shape, kernel, padding, dilation, out_size).forward(x, weight, bias)
        matrix = _weight_matrix(weight, groups)
        columns_bytes = x.dtype.itemsize * x.shape[0] * x.shape[1] * kernel[0] * kernel[1] * out_size[0] * out_size[1]
        keep = self.needs_input_grad[1] and columns_bytes <= KEEP_COLUMNS_BYTES
        pointwise = _pointwise(weight.shape, stride, padding, groups)
        if pointwise or _by_sample(x.shape, weight.shape, groups, x.dtype.itemsize, out_size):
            blocks = _product_blocks(batch, matrix[0].size * out_size[0] * out_size[1])
            if not pointwise and len(blocks) > 1 and _plain_arrays(x, weight, bias):
                out, cols = _by_sample_in_blocks(
                    x, matrix[0], bias, kernel, stride, padding, dilation, out_size, keep, blocks
                )
                if keep:
                    self.cols = cols
                return out.reshape(batch, weight.shape[0], *out_size)
            if pointwise:
                cols = _per_sample(x)  # the input as it lies
            else:
                cols = _im2col_by_sample(x, kernel, stride, padding, dilation, out_size, transient=not keep)
                if keep:
                    self.cols = cols
            out = np.matmul(matrix[0], cols)  # (N, C_out, H_out W_out)
            if bias is not None:
                out += bias.reshape(-1, 1)
            return out.reshape(batch, weight.shape[0], *out_size)
        cols = _im2col(x, kernel, stride, padding, dilation, groups, out_size, transient=not keep)
        if keep:
            self.cols = cols  # small enough: the weight gradient multiplies the same matrix, keep it
        return _batch_first(_transient_product(matrix, cols), batch, out_size, bias)

    def backward(self, grad, result, x, weight, bias=None):
        needs = self.needs_input_grad
        grad_x = grad_weight = grad_bias = None
        # grad with the channels first, (groups, C_out/groups, N H_out W_out): when the weight gradient takes
        # the one-GEMM layout, both gradients' products read it, so it is copied once (a copy of grad per layer
        # saved: 8 MB at 32x256x16x16); the per-sample and 1x1 layouts read grad as it lies
        stride, padding, groups = self.geometry["stride"], self.geometry["padding"], self.geometry["groups"]
        # (the shifted-product route's layout of grad is shared the same way)
        grad_columns = grad_layout = None
        if needs[0] and needs[1] and backend.is_array(grad) and x.shape[0] > 0:
            dilation = self.geometry["dilation"]
            layout = _weight_grad_layout(
                x, weight.shape, stride, padding, dilation, groups, x.dtype.itemsize, grad.shape[2:]
            )
            if layout == "one GEMM":
                grad_columns = _channels_first(grad, groups)
            elif layout == "shifted" and type(grad) is np.ndarray and grad.dtype == x.dtype == weight.dtype:
                geometry = _Shifted(x.shape, weight.shape[-2:], padding, dilation, grad.shape[2:])
                grad_layout = geometry.grad_layout(grad)
        if needs[0]:
            grad_x = Conv2dInputGrad.call(
                grad,
                weight,
                input_shape=tuple(x.shape),
                grad_columns=grad_columns,
                grad_layout=grad_layout,
                **self.geometry,
            )
        if needs[1]:
            cols = self.__dict__.pop("cols", None)  # dropped as soon as it is used
            grad_weight = Conv2dWeightGrad.call(
                x,
                grad,
                weight_shape=tuple(weight.shape),
                cols=cols,
                grad_columns=grad_columns,
                grad_layout=grad_layout,
                **self.geometry,
            )
        if bias is not None and needs[2]:
            positions = grad.shape[2] * grad.shape[3]
            grad_bias = np.reshape(grad, (*grad.shape[:2], positions)).sum(axis=2).sum(axis=0)  # contiguous inner sums
        return grad_x, grad_weight, grad_bias


class Conv2dInputGrad(Function):
    """The gradient of conv2d for its input (a transposed convolution), as an op so it can be differentiated:
    z = col2im(W^T @ grad);   d(grad) = conv2d(upstream, W),  dW = conv2d_weight_grad(upstream, grad)"""

    def forward(
        self, grad, weight, *, input_shape, stride, padding, dilation, groups, grad_columns=None, grad_layout=None
    ):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        kernel, out_size = weight.shape[-2:], grad.shape[-2:]
        if input_shape[0] == 0:
            return np.zeros_like(grad, shape=input_shape)
        if _is_depthwise(weight.shape, groups):
            return _depthwise_input_grad(grad, weight, input_shape, stride, padding, dilation)
        if _pointwise(weight.shape, stride, padding, groups):
            # written into an array of the input's shape: a reshaped product would be a view, which the engine
            # copies before making it a leaf's .grad (1 ms of the 256->64 1x1 layer's 10 at 32x256x16x16)
            out = np.empty_like(grad, shape=input_shape, dtype=np.result_type(grad, weight))
            np.matmul(_weight_matrix(weight, groups)[0].T, _per_sample(grad), out=_per_sample(out))
            return out
        direct = _plain_arrays(grad, weight) and _direct_input_grad_route(
            grad, input_shape, weight.shape, stride, padding, dilation, groups
        )
        if direct == "gather":
            full = _full_correlation_padding(kernel, stride, padding, dilation)
            return _direct_forward(grad, _flipped_transposed(weight, groups), None, full, input_shape[-2:])
        if direct == "scatter":
            return _direct_input_grad(grad, weight, input_shape, padding)
        if _shifted(grad, input_shape, weight.shape, stride, padding, dilation, groups) and weight.dtype == grad.dtype:
            geometry = _Shifted(input_shape, kernel, padding, dilation, out_size)
            return geometry.input_grad(grad, weight, grad_layout=grad_layout)
        matrix_t = np.swapaxes(_weight_matrix(weight, groups), -1, -2)  # (groups, C/groups kh kw, C_out/groups)
        full = _full_correlation_padding(kernel, stride, padding, dilation)
        grad_cols_smaller = weight.shape[0] * input_shape[2] * input_shape[3] <= input_shape[1] * grad[0, 0].size
        if full is not None and (grad_cols_smaller or kernel == (1, 1)):
            # stride 1, and grad's im2col no larger than W^T @ grad (or a 1x1 kernel, whose im2col is the
            # channels-first copy either route makes): the input gradient is the "full" correlation of grad
            # with the flipped, transposed kernel, an im2col + GEMM with K = C_out k_h k_w.
            # Against W^T @ grad (K = C_out) and col2im: the im2col copy reads what col2im's k_h k_w
            # read-modify-write passes would read and write twice, and the longer K suits the GEMM kernel (on
            # this shared machine the two routes' timings overlap run to run; the route is chosen by traffic)
            flipped = _flipped_transposed(weight, groups)
            if kernel == (1, 1) and grad_columns is not None:  # a 1x1 kernel's im2col is grad channels-first
                grad_cols = grad_columns
            else:
                grad_cols = _im2col(grad, kernel, stride, full, dilation, groups, input_shape[-2:], transient=True)
            product = _transient_product(_weight_matrix(flipped, groups), grad_cols)
            return _batch_first(product, input_shape[0], input_shape[-2:])
        if compiled.usable(grad, weight):  # W^T @ grad, then one compiled col2im per block of samples
            by_channel = _channels_first(grad, groups) if grad_columns is None else grad_columns
            product = _transient_product(matrix_t, by_channel)  # (groups, C/g kh kw, N Ho Wo)
            cols = product.reshape(input_shape[1], *kernel, input_shape[0], *out_size)
            out = np.empty(input_shape, dtype=product.dtype)
            geometry = (*kernel, *stride, padding[0], padding[2], *dilation)

            def add_rows(b):
                kernels.col2im(cols, out, b.start, b.stop, *geometry)

            parallel_for(add_rows, _copy_blocks(input_shape[0], cols[:, :, :, :1].nbytes))
            return out
        row_length = -(-(input_shape[3] + padding[2] + padding[3]) // stride[1])
        # (groups, C/groups kh kw, N Ho W_q)
        cols = _transient_product(matrix_t, _grad_on_padded_rows(grad, groups, row_length))
        return _col2im(cols, input_shape, kernel, stride, padding, dilation, out_size[0])

    def backward(self, upstream, result, grad, weight):
        needs = self.needs_input_grad
        d_grad = Conv2d.call(upstream, weight, **self.geometry) if needs[0] else None
        d_weight = None
        if needs[1]:
            d_weight = Conv2dWeightGrad.call(upstream, grad, weight_shape=tuple(weight.shape), **self.geometry)
        return d_grad, d_weight


# The weight gradient's product with im2col's rows as its rows, cols @ grad^T, gives dW transposed, and the .grad
# a leaf keeps is C-contiguous: the engine's copy then transposes it, which NumPy does at about 1 GB/s on large
# matrices (512 x 4608: 11 ms). Measured (best of 15, K = N H_out W_out; product, then product + C-order copy,
# against grad @ cols^T): LeNet's 6->16 (16 x 6400 x 150) 0.28 / 0.28 against 0.62 ms; ResNet's 64->128 stride 2
# (128 x 8192 x 576) 6.69 / 6.84 against 7.24; 128->256 stride 2 (256 x 2048 x 1152) 6.15 / 6.79 against 6.25;
# 512 channels at 4x4 (512 x 512 x 4608) 12.1 / 22.7 against 12.8; with fewer rows than output channels (1x1
# shortcuts, 3-channel stems) the other order wins outright (128 x 8192 x 64: 1.48 against 1.00; 64 x 8192 x 27:
# 0.61 against 0.36). So only for small weights with more rows than output channels (and 8+ of those: with 6,
# LeNet's first layer, 12% slower in an earlier measurement).
TRANSPOSED_WEIGHT_GRAD_BYTES = 2**20


class Conv2dWeightGrad(Function):
    """The gradient of conv2d for its weight, as an op so it can be differentiated:
    z = grad @ im2col(x)^T over the whole batch;
    dx = conv2d_input_grad(grad, upstream),  d(grad) = conv2d(x, upstream)"""

    def forward(
        self,
        x,
        grad,
        *,
        weight_shape,
        stride,
        padding,
        dilation,
        groups,
        cols=None,
        grad_columns=None,
        grad_layout=None,
    ):
        self.geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        kernel, out_size = weight_shape[-2:], grad.shape[-2:]
        if x.shape[0] == 0:
            return np.zeros_like(x, shape=weight_shape)
        layout = _weight_grad_layout(x, weight_shape, stride, padding, dilation, groups, x.dtype.itemsize, out_size)
        if layout == "direct" and _plain_arrays(x, grad):
            return _direct_weight_grad(x, grad, weight_shape, padding)
        if layout == "shifted" and grad.dtype == x.dtype:
            geometry = _Shifted(x.shape, kernel, padding, dilation, out_size)
            return geometry.weight_grad(x, grad, weight_shape, grad_layout=grad_layout)
        if layout == "depthwise":
            return _depthwise_weight_grad(x, grad, weight_shape, stride, padding, dilation)
        if layout == "pointwise":
            return np.matmul(_per_sample(grad), np.swapaxes(_per_sample(x), 1, 2)).sum(axis=0).reshape(weight_shape)
        if layout == "by sample":
            if cols is None:
                cols = _im2col_by_sample(x, kernel, stride, padding, dilation, out_size, transient=True)
            blocks = _product_blocks(x.shape[0], int(np.prod(weight_shape)) * out_size[0] * out_size[1])
            if len(blocks) > 1 and _plain_arrays(grad, cols):
                return _by_sample_weight_grad(grad, cols, blocks).reshape(weight_shape)
            return np.matmul(_per_sample(grad), np.swapaxes(cols, 1, 2)).sum(axis=0).reshape(weight_shape)
        if cols is None:
            cols = _im2col(x, kernel, stride, padding, dilation, groups, out_size, transient=True)
        by_channel = _channels_first(grad, groups) if grad_columns is None else grad_columns
        out_channels, rows = by_channel.shape[1], cols.shape[1]  # per group: C_out and C k_h k_w
        if 8 <= out_channels < rows and out_channels * rows * cols.itemsize <= TRANSPOSED_WEIGHT_GRAD_BYTES:
            # im2col's rows as the product's rows (the gradient comes out transposed: see the constant)
            return np.swapaxes(cols @ np.swapaxes(by_channel, -1, -2), -1, -2).reshape(weight_shape)
        return (by_channel @ np.swapaxes(cols, -1, -2)).reshape(weight_shape)

    def backward(self, upstream, result, x, grad):
        needs = self.needs_input_grad
        d_x = Conv2dInputGrad.call(grad, upstream, input_shape=tuple(x.shape), **self.geometry) if needs[0] else None
        d_grad = Conv2d.call(x, upstream, **self.geometry) if needs[1] else None
        return d_x, d_grad


# ---------------------------------------------------------------------------------------------------
# pooling


def _argmax_indices(argmax, input_shape, kernel, stride, padding, dilation) -> np.ndarray:
    """The flat index of each window's argmax in its (H, W) input plane (PyTorch's ``return_indices``), int64."""
    out_h, out_w = argmax.shape[-2:]
    row_in_window, col_in_window = np.divmod(argmax.astype(np.int64), kernel[1])
    row = np.arange(out_h, like=argmax).reshape(-1, 1) * stride[0] - padding[0] + row_in_window * dilation[0]
    col = np.arange(out_w, like=argmax) * stride[1] - padding[2] + col_in_window * dilation[1]
    return row * input_shape[-1] + col


def _unit_kernel(kernel, dtype) -> np.ndarray:
    """(1, 1, k_h, k_w) ones: a depthwise weight that sums each window."""
    return np.ones((1, 1, *kernel), dtype=dtype)


def _planes(x: np.ndarray) -> np.ndarray:
    """(*lead, H, W) -> (P, H, W): every image plane on one axis, for blocks of planes."""
    return np.reshape(x, (-1, *x.shape[-2:]))


def _max_pool_block(source, best, argmax, kernel, stride, padding, dilation) -> None:
    """Max pooling of the planes ``source`` (p, H, W) into ``best`` and ``argmax`` (p, H_out, W_out)."""
    out_size = best.shape[-2:]
    padded = _pad(source, padding, -np.inf)
    # running maximum over the k_h k_w kernel offsets, each a strided slice of the block: cheaper than
    # copying the windows into a (..., k_h k_w) array for np.argmax
    np.copyto(best, padded[_offset_slices(0, 0, stride, dilation, out_size)])
    # the argmax as small integers, updated arithmetically: masked writes (copyto/where with a random mask)
    # measured 10-20x slower than compare and maximum. The offsets come in increasing order, so the argmax is
    # the last offset at which the maximum grew: argmax = max(argmax, better * offset).
    argmax[...] = 0
    step = np.empty_like(argmax)
    better = np.empty(best.shape, dtype=bool, like=best)
    for offset in range(1, kernel[0] * kernel[1]):
        value = padded[_offset_slices(*divmod(offset, kernel[1]), stride, dilation, out_size)]
        np.greater(value, best, out=better)  # strict: ties keep the first maximum, as PyTorch
        np.maximum(best, value, out=best)
        np.multiply(better, argmax.dtype.type(offset), out=step)
        np.maximum(argmax, step, out=argmax)


class MaxPool2d(Function):
    """z[n, c, h, w] = max over the window at (h, w) of x_pad (padding -inf);
    dx = grad routed to each window's argmax (the first maximum), summed where windows overlap

    Forward and backward run over blocks of image planes small enough for the cache, on the threads, each
    block one compiled loop when ``compiled.usable`` (``kernels.max_pool_planes`` / ``max_pool_scatter``).
    """

    uses_inputs = False  # backward reads only the argmax positions saved in forward

    def forward(self, x, *, kernel, stride, padding, dilation, out_size, indices_out=None):
        self.geometry = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        best = np.empty_like(x, shape=(*x.shape[:-2], *out_size))
        argmax = np.empty_like(best, dtype=np.uint8 if kernel[0] * kernel[1] <= 256 else np.int32)
        source, best_planes, argmax_planes = _planes(x), _planes(best), _planes(argmax)
        if compiled.usable(x):  # one pass per block; the loop clips each window to the plane
            geometry = (*kernel, *stride, padding[0], padding[2], *dilation)
            source = np.ascontiguousarray(source)

            def pool(b):
                if kernels.max_pool_planes(source[b], best_planes[b], argmax_planes[b], *geometry):  # NaNs read
                    kernels.max_pool_planes.variant(NAN_WINS=True)(
                        source[b], best_planes[b], argmax_planes[b], *geometry
                    )

            parallel_for(pool, _first_axis_blocks(source, compiled=True))
        else:

            def pool(b):
                _max_pool_block(source[b], best_planes[b], argmax_planes[b], **self.geometry)

            parallel_for(pool, _first_axis_blocks(source))
            if np.isnan(best).any() or (padding != (0, 0, 0, 0) and np.isneginf(best).any()):
                argmax = self._fix_special(x, _pad(x, padding, -np.inf), argmax, best, out_size)
        self.argmax = argmax
        self.input_shape = x.shape
        if indices_out is not None:  # return_indices: the functional form passes a list to receive them
            indices_out.append(_argmax_indices(argmax, x.shape, **self.geometry))
        return best

    def _fix_special(self, x, padded, argmax, best, out_size):
        """The rare windows '>' gets wrong: NaN must win (PyTorch propagates it and points at the last NaN),
        and an all -inf window must point at its first position inside the input, not at the padding."""
        kernel, stride, dilation, padding = (self.geometry[k] for k in ("kernel", "stride", "dilation", "padding"))
        windows = _windows(padded, kernel, stride, dilation, out_size)
        flat = windows.reshape(*windows.shape[:-2], -1)
        is_nan = np.isnan(flat)
        last_nan = flat.shape[-1] - 1 - np.argmax(is_nan[..., ::-1], axis=-1)
        np.copyto(best, np.nan, where=is_nan.any(axis=-1))
        argmax = np.where(is_nan.any(axis=-1), last_nan, argmax)
        plane = np.ones(x.shape[-2:], dtype=bool, like=x)
        inside = _windows(_pad(plane, padding, False), kernel, stride, dilation, out_size)
        first_inside = inside.reshape(*out_size, -1).argmax(axis=-1)
        return np.where(np.isneginf(best), first_inside, argmax).astype(argmax.dtype)

    def backward(self, grad, result, x):
        return MaxPool2dInputGrad.call(grad, argmax=self.argmax, input_shape=self.input_shape, **self.geometry)


class MaxPool2dInputGrad(Function):
    """The gradient of max pooling as an op: z = grad added at each window's saved argmax;
    d(grad) = upstream gathered at those positions (a max-pool gradient is linear in grad)"""

    uses_inputs = False

    def forward(self, grad, *, argmax, input_shape, kernel, stride, padding, dilation):
        self.argmax, self.input_shape = argmax, input_shape
        self.geometry = dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
        top, bottom, left, right = padding
        height, width = input_shape[-2:]
        out = np.empty_like(grad, shape=input_shape)
        grad_planes, argmax_planes, out_planes = _planes(grad), _planes(argmax), _planes(out)
        if compiled.usable(grad, argmax):  # one pass per block, inf and NaN added as they are
            geometry = (*kernel, *stride, top, left, *dilation)
            grad_planes = np.ascontiguousarray(grad_planes)

            def scatter_compiled(b):
                kernels.max_pool_scatter(grad_planes[b], argmax_planes[b], out_planes[b], *geometry)

            parallel_for(scatter_compiled, _first_axis_blocks(out_planes, compiled=True))
            return out
        # grad * mask is an order of magnitude faster than np.where, but spreads inf/NaN over the window (0 * inf)
        finite = bool(np.isfinite(grad).all())
        zero = grad.dtype.type(0)

        out_size = grad.shape[-2:]
        # windows that tile the input (2x2 stride 2, ...): each input position has one window, so each kernel
        # offset's share is written straight into the output, without a zeroed target and adds
        covered = (kernel[0] * out_size[0], kernel[1] * out_size[1])
        tiles = stride == kernel and dilation == (1, 1) and padding == (0, 0, 0, 0) and (height, width) == covered

        def scatter(b):
            upstream, positions = grad_planes[b], argmax_planes[b]
            if tiles and finite:
                for offset in range(kernel[0] * kernel[1]):
                    where = _offset_slices(*divmod(offset, kernel[1]), stride, dilation, out_size)
                    np.multiply(upstream, positions == offset, out=out_planes[b][where])
                return
            target = np.zeros_like(upstream, shape=(upstream.shape[0], height + top + bottom, width + left + right))
            hit = np.empty(upstream.shape, dtype=bool, like=upstream)
            routed = np.empty_like(upstream)
            for offset in range(kernel[0] * kernel[1]):
                np.equal(positions, offset, out=hit)
                if finite:
                    np.multiply(upstream, hit, out=routed)
                else:
                    routed = np.where(hit, upstream, zero)
                target[_offset_slices(*divmod(offset, kernel[1]), stride, dilation, out_size)] += routed
            out_planes[b] = target[..., top : top + height, left : left + width]

        parallel_for(scatter, _first_axis_blocks(out_planes))
        return out

    def backward(self, upstream, result, grad):
        batch, channels, height, width = upstream.shape
        plane = np.reshape(upstream, (batch, channels, height * width))
        index = _argmax_indices(self.argmax, self.input_shape, **self.geometry).reshape(batch, channels, -1)
        return np.reshape(np.take_along_axis(plane, index, axis=2), grad.shape)


class AvgPool2d(Function):
    """z[n, c, h, w] = (sum of the window at (h, w) of x_pad (zero padding)) / divisor[h, w];
    dx = grad / divisor spread evenly over each window, summed where windows overlap"""

    uses_inputs = False

    def forward(self, x, *, kernel, stride, padding, out_size, divisor):
        self.geometry = dict(kernel=kernel, stride=stride, padding=padding, out_size=out_size, divisor=divisor)
        self.input_shape = x.shape
        if compiled.usable(x):
            # the window sums as a depthwise convolution with unit weights, one plane per channel: its compiled
            # loop makes the same adds in the same order as below (measured at 64x6x28x28, 2x2: 0.11 against
            # 0.20 ms in one run, 0.18 against 0.14-0.20 ms in later ones; the backward's gain is the clear one)
            planes = _planes(x)[:, None]
            sums = _depthwise_forward(planes, _unit_kernel(kernel, x.dtype), stride, padding, (1, 1), out_size)
            sums /= divisor
            return sums.reshape(*x.shape[:-2], *out_size)
        out = np.empty_like(x, shape=(*x.shape[:-2], *out_size))
        source, target = _planes(x), _planes(out)

        def pool(b):  # in blocks of planes, on the threads
            _window_sum(_pad(source[b], padding), kernel, stride, out=target[b])
            target[b] /= divisor

        parallel_for(pool, _first_axis_blocks(source))
        return out

    def backward(self, grad, result, x):
        return AvgPool2dInputGrad.call(grad, input_shape=self.input_shape, **self.geometry)


class AvgPool2dInputGrad(Function):
    """The gradient of average pooling as an op: z = col2im(grad / divisor);  d(grad) = avg_pool2d(upstream)"""

    uses_inputs = False

    def forward(self, grad, *, input_shape, kernel, stride, padding, out_size, divisor):
        self.geometry = dict(kernel=kernel, stride=stride, padding=padding, out_size=out_size, divisor=divisor)
        if compiled.usable(grad):
            # each share spread over its window: the input gradient of a depthwise convolution with unit
            # weights, one plane per channel (measured 0.13-0.18 against 0.28-0.42 ms at 64x6x28x28, 2x2)
            share = _planes(grad / divisor)[:, None]
            planes_shape = (share.shape[0], 1, *input_shape[-2:])
            unit = _unit_kernel(kernel, grad.dtype)
            return _depthwise_input_grad(share, unit, planes_shape, stride, padding, (1, 1)).reshape(input_shape)
        share = _planes(grad / divisor)
        out = np.empty_like(grad, shape=input_shape)
        out_planes = _planes(out)

        def scatter(b):  # in blocks of planes, on the threads
            part = share[b]
            windows = np.broadcast_to(part[:, None, None], (part.shape[0], *kernel, *out_size))  # the same share
            out_planes[b] = _window_scatter(windows, out_planes[b].shape, kernel, stride, padding, (1, 1), out_size)

        parallel_for(scatter, _first_axis_blocks(out_planes))
        return out

    def backward(self, upstream, result, grad):
        return AvgPool2d.call(upstream, **self.geometry)


def avg_pool_divisor(input_size, kernel, stride, padding, out_size, count_include_pad, like):
    """What each window's sum is divided by, as PyTorch: the window's size clipped to the padded input
    (``count_include_pad``; smaller than k_h k_w only for ``ceil_mode`` windows hanging over the edge) or to
    the input itself. A scalar when every window has the same count (the common case, and the fast one), else
    an array of ``like``'s dtype and array library (the counts are geometry, computed on the host)."""
    counts = []
    for axis in range(2):
        size, k, s, before, after = (
            input_size[axis],
            kernel[axis],
            stride[axis],
            padding[2 * axis],
            padding[2 * axis + 1],
        )
        start = np.arange(out_size[axis]) * s - before
        if count_include_pad:
            counts.append(np.minimum(start + k, size + after) - start)
        else:
            counts.append(np.minimum(start + k, size) - np.maximum(start, 0))
    divisor = np.multiply.outer(counts[0], counts[1])
    if (divisor == divisor.flat[0]).all():
        return int(divisor.flat[0])
    return backend.from_host(divisor.astype(like.dtype), like)
