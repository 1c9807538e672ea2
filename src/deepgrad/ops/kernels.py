"""The compiled loops of the pooling, batch-norm, convolution and ReLU ops and of the SGD and Adam updates
(``deepgrad.compiled``, numba).

Each loop does for a block of planes or samples what its op's NumPy formulation does, in one pass: the ops
call them when ``compiled.usable(...)`` says so and keep the NumPy route otherwise, and the tests run both
routes against PyTorch. Plain loops, so each reads as the definition of what it computes.
"""

from __future__ import annotations

import numpy as np

from deepgrad.compiled import kernel


@kernel
def window_offsets(kernel_h, kernel_w, dilation_h, dilation_w, width):
    """offsets[i k_w + j] = i d_h W + j d_w: where kernel offset (i, j) reads in a flattened plane of width W."""
    offsets = np.empty(kernel_h * kernel_w, np.int64)
    for i in range(kernel_h):
        for j in range(kernel_w):
            offsets[i * kernel_w + j] = i * dilation_h * width + j * dilation_w
    return offsets


# A compile-time constant of ``max_pool_planes``: its ``variant(NAN_WINS=True)`` is the build in which a NaN
# wins every comparison.
NAN_WINS = False


@kernel
def max_pool_planes(source, best, argmax, kernel_h, kernel_w, stride_h, stride_w, top, left, dilation_h, dilation_w):
    """best[p, r, q] = max of the window of plane p at (r, q); argmax[p, r, q] = its offset i k_w + j in the
    window; returns the number of NaNs read.

    The padding is never read: a window at the border is clipped to the plane, and the windows inside it take
    one loop over the flattened offsets (measured against the clipped double loop for every window: 13.6
    against 20.4 ms at 3x3 stride 2 on 2048 planes of 32x32, 0.8-1.2 against 1.8 ms at 2x2). The first
    maximum wins a tie; an all -inf window points at its first position inside the plane. NaN: in the
    ``variant(NAN_WINS=True)`` build a NaN wins over everything (the last NaN of the window, as PyTorch). The
    default build compares with a single '>', measured 3.6x faster at 3x3 on random data (a run-time NaN test
    keeps the compiler from turning the branch into a select), and the caller runs a block again with the NaN
    build when the returned count says a NaN was there.
    """
    planes, height, width = source.shape
    out_h, out_w = best.shape[1], best.shape[2]
    flat = source.reshape(planes, height * width)
    offsets = window_offsets(kernel_h, kernel_w, dilation_h, dilation_w, width)
    window = kernel_h * kernel_w
    nans = 0
    for p in range(planes):
        plane = flat[p]
        for r in range(out_h):
            row0 = r * stride_h - top  # the window's first row, and the kernel rows inside the plane
            i_lo = 0 if row0 >= 0 else (dilation_h - 1 - row0) // dilation_h
            i_hi = min(kernel_h, (height - row0 + dilation_h - 1) // dilation_h)
            for q in range(out_w):
                col0 = q * stride_w - left
                j_lo = 0 if col0 >= 0 else (dilation_w - 1 - col0) // dilation_w
                j_hi = min(kernel_w, (width - col0 + dilation_w - 1) // dilation_w)
                base = row0 * width + col0
                where = i_lo * kernel_w + j_lo
                value = plane[base + offsets[where]]
                nans += value != value
                if i_lo == 0 and j_lo == 0 and i_hi == kernel_h and j_hi == kernel_w:
                    for o in range(1, window):
                        v = plane[base + offsets[o]]
                        nans += v != v
                        if v > value or (NAN_WINS and v != v):
                            value, where = v, o
                else:
                    for i in range(i_lo, i_hi):
                        for j in range(j_lo, j_hi):
                            o = i * kernel_w + j
                            v = plane[base + offsets[o]]
                            nans += v != v
                            if v > value or (NAN_WINS and v != v):
                                value, where = v, o
                best[p, r, q] = value
                argmax[p, r, q] = where
    return nans


@kernel
def max_pool_scatter(grad, argmax, out, kernel_h, kernel_w, stride_h, stride_w, top, left, dilation_h, dilation_w):
    """out[p] = 0, then grad[p, r, q] added at the input position of its window's argmax offset (the
    gradient of ``max_pool_planes``; overlapping windows add up, inf and NaN pass as they are)."""
    planes, out_h, out_w = grad.shape
    height, width = out.shape[1], out.shape[2]
    flat = out.reshape(planes, height * width)
    offsets = window_offsets(kernel_h, kernel_w, dilation_h, dilation_w, width)
    for p in range(planes):
        target = flat[p]
        target[:] = 0
        for r in range(out_h):
            row0 = r * stride_h - top
            for q in range(out_w):
                target[row0 * width + q * stride_w - left + offsets[argmax[p, r, q]]] += grad[p, r, q]


# batch norm over (n, C, L) blocks of rows: per-channel sums in float64, elementwise passes in the input's dtype


@kernel(reorder=True)
def channel_moments(rows, shift, sums, squares):
    """sums[c] = sum of (x - shift[c]) and squares[c] = sum of (x - shift[c])^2 over the block's channel c,
    in float64. With shift a value of the channel, var = squares / M - (sums / M)^2 loses nothing to
    cancellation: the batch statistics in one pass over x instead of two."""
    batch, channels, length = rows.shape
    for c in range(channels):
        reference = np.float64(shift[c])
        total = 0.0
        total_squares = 0.0
        for n in range(batch):
            row = rows[n, c]
            for k in range(length):
                d = np.float64(row[k]) - reference
                total += d
                total_squares += d * d
        sums[c] = total
        squares[c] = total_squares


@kernel
def batch_norm_normalise(rows, mean, scale, bias, out):
    """out = (x - mean[c]) scale[c] + bias[c] (scale = w / sqrt(var + eps))."""
    batch, channels, length = rows.shape
    for n in range(batch):
        for c in range(channels):
            m, s, b = mean[c], scale[c], bias[c]
            row, target = rows[n, c], out[n, c]
            for k in range(length):
                target[k] = (row[k] - m) * s + b


@kernel(reorder=True)
def batch_norm_grad_sums(grad, rows, mean, sum_grad, sum_grad_centered):
    """sum_grad[c] = sum of grad and sum_grad_centered[c] = sum of grad (x - mean[c]) over the block, in
    float64."""
    batch, channels, length = rows.shape
    for c in range(channels):
        m = np.float64(mean[c])
        total = 0.0
        total_centered = 0.0
        for n in range(batch):
            upstream, row = grad[n, c], rows[n, c]
            for k in range(length):
                g = np.float64(upstream[k])
                total += g
                total_centered += g * (np.float64(row[k]) - m)
        sum_grad[c] = total
        sum_grad_centered[c] = total_centered


@kernel
def batch_norm_input_grad(grad, rows, mean, slope, mean_grad, scale, out):
    """out = (grad - slope[c] (x - mean[c]) - mean_grad[c]) scale[c]: batch norm's input gradient, with
    slope = invstd^2 sum(grad (x - mean)) / M, mean_grad = sum(grad) / M and scale = w invstd."""
    batch, channels, length = rows.shape
    for n in range(batch):
        for c in range(channels):
            m, k_c, g_c, s = mean[c], slope[c], mean_grad[c], scale[c]
            upstream, row, target = grad[n, c], rows[n, c], out[n, c]
            for k in range(length):
                target[k] = (upstream[k] - k_c * (row[k] - m) - g_c) * s


# convolution: col2im (the adjoint of im2col) over a range of samples, the padding dropped by clipping.
# The flat indices are unsigned (np.uintp): numba wraps a negative signed index around, and that test on
# every element kept the row loops from vectorising (rows of 10 values: 0.77 ms signed, 0.29 ms unsigned).
# Compiled, col2im replaces k_h k_w read-modify-write passes (and, for strides above 1, the interleaving of the
# stride phases) with one pass. The rows that fall in the padding are found once per kernel offset, not tested
# row by row: in-process alternating runs (medians of 41, one thread), stride 2 at 32x64x32x32 2.8-3.0 against
# 3.6-4.0 ms, at 32x128x16x16 2.3 against 2.9; LeNet's 6->16 even. (im2col, below, is compiled too: see
# ops/conv.py for its measurements.)


@kernel
def inside(first, stride, size, count):
    """The outputs k in [0, count) whose input position first + stride k lies inside [0, size), as the range
    [lo, hi): the rows or columns of a kernel offset that do not fall in the padding (im2col, col2im)."""
    lo = 0 if first >= 0 else min(count, (stride - 1 - first) // stride)
    hi = 0 if first >= size else min(count, (size - 1 - first) // stride + 1)
    return lo, max(lo, hi)


@kernel
def col2im(cols, out, start, stop, kernel_h, kernel_w, stride_h, stride_w, top, left, dilation_h, dilation_w):
    """The adjoint of im2col: out[n, c] = 0, then every cols[c, i, j, n, h, w] added back at the input
    position x_pad[n, c, s_h h + d_h i, s_w w + d_w j] it was read from (positions in the padding dropped),
    for the samples start <= n < stop."""
    batch, channels, height, width = out.shape
    out_h, out_w = cols.shape[4], cols.shape[5]
    source, target = cols.reshape(-1), out.reshape(-1)
    step = np.uintp(stride_w)
    for n in range(start, stop):
        for c in range(channels):
            plane = np.uintp((n * channels + c) * height * width)
            for k in range(np.uintp(height * width)):
                target[plane + k] = 0
            for i in range(kernel_h):
                row0 = i * dilation_h - top
                h_lo, h_hi = inside(row0, stride_h, height, out_h)
                for j in range(kernel_w):
                    col0 = j * dilation_w - left
                    w_lo, w_hi = inside(col0, stride_w, width, out_w)
                    run = np.uintp(w_hi - w_lo)
                    rows = np.uintp((((c * kernel_h + i) * kernel_w + j) * batch + n) * out_h * out_w + w_lo)
                    for h in range(h_lo, h_hi):
                        first = rows + np.uintp(h * out_w)
                        target_first = plane + np.uintp((h * stride_h + row0) * width + w_lo * stride_w + col0)
                        if stride_w == 1:
                            for w in range(run):
                                target[target_first + w] += source[first + w]
                        else:
                            for w in range(run):
                                target[target_first + w * step] += source[first + w]


# depthwise convolution (one input channel per group) on the zero-padded input, a range of image planes p =
# n C + c at a time; unsigned flat indices as above, so the unit-stride row loops vectorise


@kernel
def depthwise_forward(padded, weight, out, start, stop, stride_h, stride_w, dilation_h, dilation_w):
    """out[n, c, h, w] = sum_{i, j} W[c, 0, i, j] x_pad[n, c, s_h h + d_h i, s_w w + d_w j]"""
    channels, padded_h, padded_w = padded.shape[1], padded.shape[2], padded.shape[3]
    kernel_h, kernel_w = weight.shape[2], weight.shape[3]
    out_h, out_w = out.shape[2], out.shape[3]
    source, target = padded.reshape(-1), out.reshape(-1)
    step = np.uintp(stride_w)
    for p in range(start, stop):
        c = p % channels
        for h in range(out_h):
            row = np.uintp((p * out_h + h) * out_w)
            for w in range(np.uintp(out_w)):
                target[row + w] = 0
            for i in range(kernel_h):
                for j in range(kernel_w):
                    value = weight[c, 0, i, j]
                    first = np.uintp((p * padded_h + h * stride_h + i * dilation_h) * padded_w + j * dilation_w)
                    if stride_w == 1:
                        for w in range(np.uintp(out_w)):
                            target[row + w] += value * source[first + w]
                    else:
                        for w in range(np.uintp(out_w)):
                            target[row + w] += value * source[first + w * step]


@kernel
def depthwise_input_grad(grad, weight, padded_out, start, stop, stride_h, stride_w, dilation_h, dilation_w):
    """The adjoint of ``depthwise_forward``: dx_pad[n, c] = 0, then W[c, 0, i, j] grad[n, c, h, w] added at
    x_pad[n, c, s_h h + d_h i, s_w w + d_w j] (the caller crops the padding)."""
    channels, padded_h, padded_w = padded_out.shape[1], padded_out.shape[2], padded_out.shape[3]
    kernel_h, kernel_w = weight.shape[2], weight.shape[3]
    out_h, out_w = grad.shape[2], grad.shape[3]
    source, target = grad.reshape(-1), padded_out.reshape(-1)
    step = np.uintp(stride_w)
    for p in range(start, stop):
        c = p % channels
        plane = np.uintp(p * padded_h * padded_w)
        for k in range(np.uintp(padded_h * padded_w)):
            target[plane + k] = 0
        for h in range(out_h):
            row = np.uintp((p * out_h + h) * out_w)
            for i in range(kernel_h):
                for j in range(kernel_w):
                    value = weight[c, 0, i, j]
                    first = np.uintp((p * padded_h + h * stride_h + i * dilation_h) * padded_w + j * dilation_w)
                    if stride_w == 1:
                        for w in range(np.uintp(out_w)):
                            target[first + w] += value * source[row + w]
                    else:
                        for w in range(np.uintp(out_w)):
                            target[first + w * step] += value * source[row + w]


@kernel(reorder=True)
def depthwise_weight_grad(padded, grad, partial, start, stop, stride_h, stride_w, dilation_h, dilation_w):
    """partial[c, i, j] = sum over the planes p = n C + c in [start, stop) of
    sum_{h, w} grad[n, c, h, w] x_pad[n, c, s_h h + d_h i, s_w w + d_w j]"""
    channels, padded_h, padded_w = padded.shape[1], padded.shape[2], padded.shape[3]
    kernel_h, kernel_w = partial.shape[1], partial.shape[2]
    out_h, out_w = grad.shape[2], grad.shape[3]
    source, upstream = padded.reshape(-1), grad.reshape(-1)
    step = np.uintp(stride_w)
    partial[:, :, :] = 0
    for p in range(start, stop):
        c = p % channels
        for i in range(kernel_h):
            for j in range(kernel_w):
                total = 0.0
                for h in range(out_h):
                    row = np.uintp((p * out_h + h) * out_w)
                    first = np.uintp((p * padded_h + h * stride_h + i * dilation_h) * padded_w + j * dilation_w)
                    if stride_w == 1:
                        for w in range(np.uintp(out_w)):
                            total += upstream[row + w] * source[first + w]
                    else:
                        for w in range(np.uintp(out_w)):
                            total += upstream[row + w] * source[first + w * step]
                partial[c, i, j] += total


# Stride 1: each plane padded into a scratch row of the padded width, so that kernel offset (i, j) is a shift
# of the flat index by i d_h W_pad + j d_w, and three taps per pass over the plane's rows (as in
# ``correlate_rows`` below; the two loops take their tap slices inline for the reason given there). Measured
# at 32x64x32x32, 3x3 pad 1, two threads: forward 1.5 ms against 4.3 ms for ``depthwise_forward`` (PyTorch
# 2.2-2.6 ms), weight gradient 1.5 ms against 6.0 ms (PyTorch 2.8-3.8 ms); each plane copied by ``to_plane``
# from the whole input rather than by ``to_rows`` from a view of the plane (whose layout numba compiles as
# non-contiguous): 1.5 against 2.3 ms.


@kernel
def to_plane(x, n, c, plane, top, left, row_length):
    """plane[(h + top) row_length + left + w] = x[n, c, h, w] (the rest of ``plane`` is left as it is)."""
    for h in range(x.shape[2]):
        at = np.uintp((h + top) * row_length + left)
        for w in range(np.uintp(x.shape[3])):
            plane[at + w] = x[n, c, h, w]


@kernel(reorder=True)
def depthwise_correlate_rows(x, weight, bias, out, start, stop, top, left, dilation_h, dilation_w):
    """out[n, c, h, w] = bias[c] + sum_{i, j} W[c, 0, i, j] x_pad[n, c, h + d_h i, w + d_w j] for the planes
    p = n C + c in [start, stop), x_pad being x with ``top`` rows and ``left`` columns of zeros before it (and
    as many after it as out's size needs)."""
    channels = x.shape[1]
    kernel_h, kernel_w = weight.shape[2], weight.shape[3]
    out_h, out_w = out.shape[2], out.shape[3]
    padded_w = out_w + dilation_w * (kernel_w - 1)
    length = np.uintp((out_h - 1) * padded_w + out_w)
    plane = np.zeros((out_h + dilation_h * (kernel_h - 1)) * padded_w, x.dtype)  # the padding stays zero
    row = np.empty(length, x.dtype)
    whole = kernel_w - kernel_w % 3  # taps in passes of three, the rest one at a time
    for p in range(start, stop):
        n, c = p // channels, p % channels
        to_plane(x, n, c, plane, top, left, padded_w)
        for q in range(length):
            row[q] = bias[c]
        for i in range(kernel_h):
            for j in range(0, whole, 3):
                shift = np.uintp(i * dilation_h * padded_w + j * dilation_w)
                x0 = plane[shift : shift + length]
                x1 = plane[shift + dilation_w : shift + dilation_w + length]
                x2 = plane[shift + 2 * dilation_w : shift + 2 * dilation_w + length]
                a0, a1, a2 = weight[c, 0, i, j], weight[c, 0, i, j + 1], weight[c, 0, i, j + 2]
                for q in range(length):
                    row[q] += a0 * x0[q] + a1 * x1[q] + a2 * x2[q]
            for j in range(whole, kernel_w):
                shift = np.uintp(i * dilation_h * padded_w + j * dilation_w)
                x0, a0 = plane[shift : shift + length], weight[c, 0, i, j]
                for q in range(length):
                    row[q] += a0 * x0[q]
        for h in range(out_h):
            at = np.uintp(h * padded_w)
            for w in range(np.uintp(out_w)):
                out[n, c, h, w] = row[at + w]


@kernel(reorder=True)
def depthwise_correlate_rows_weight_grad(x, grad, partial, start, stop, top, left, dilation_h, dilation_w):
    """partial[c, i, j] = sum over the planes p = n C + c in [start, stop) of
    sum_{h, w} grad[n, c, h, w] x_pad[n, c, h + d_h i, w + d_w j] (x_pad as in ``depthwise_correlate_rows``)."""
    channels = x.shape[1]
    kernel_h, kernel_w = partial.shape[1], partial.shape[2]
    out_h, out_w = grad.shape[2], grad.shape[3]
    padded_w = out_w + dilation_w * (kernel_w - 1)
    length = np.uintp((out_h - 1) * padded_w + out_w)
    plane = np.zeros((out_h + dilation_h * (kernel_h - 1)) * padded_w, x.dtype)
    row = np.zeros(length, x.dtype)  # grad on the same rows, zero past each row's W_out values
    whole = kernel_w - kernel_w % 3
    zero = x.dtype.type(0)
    partial[:, :, :] = 0
    for p in range(start, stop):
        n, c = p // channels, p % channels
        to_plane(x, n, c, plane, top, left, padded_w)
        to_plane(grad, n, c, row, 0, 0, padded_w)
        for i in range(kernel_h):
            for j in range(0, whole, 3):
                shift = np.uintp(i * dilation_h * padded_w + j * dilation_w)
                x0 = plane[shift : shift + length]
                x1 = plane[shift + dilation_w : shift + dilation_w + length]
                x2 = plane[shift + 2 * dilation_w : shift + 2 * dilation_w + length]
                s0 = s1 = s2 = zero
                for q in range(length):
                    v = row[q]
                    s0, s1, s2 = s0 + v * x0[q], s1 + v * x1[q], s2 + v * x2[q]
                partial[c, i, j] += s0
                partial[c, i, j + 1] += s1
                partial[c, i, j + 2] += s2
            for j in range(whole, kernel_w):
                shift = np.uintp(i * dilation_h * padded_w + j * dilation_w)
                x0, s0 = plane[shift : shift + length], zero
                for q in range(length):
                    s0 += row[q] * x0[q]
                partial[c, i, j] += s0


# ReLU, one pass over contiguous memory. NumPy's maximum(x, 0) runs at a quarter of the speed of a plain copy
# here (0.11 against 0.03 ms on 64x6x28x28 float32: it handles NaN by a slower loop), and the mask the
# backward needs is a second pass.


@kernel
def relu_forward(x, out, mask):
    """out = max(x, 0) and mask = [not x <= 0]: a NaN stays NaN and passes its gradient (as in PyTorch)."""
    for k in range(np.uintp(x.size)):
        value = x[k]
        out[k] = 0 if value <= 0 else value
        mask[k] = not value <= 0


# Over the input's own memory (relu_, ReLU(inplace=True)): a loop of its own, since the one above, called with
# out = x, would take LLVM's scalar fallback for overlapping arrays (8 MB: 3.2 ms against 2.6 for a new output).
@kernel
def relu_in_place(x, mask):
    """x = max(x, 0) and mask = [not x <= 0], x overwritten."""
    for k in range(np.uintp(x.size)):
        value = x[k]
        keep = not value <= 0
        mask[k] = keep
        x[k] = value if keep else 0


@kernel
def relu_backward(grad, mask, out):
    """out = grad where mask, else 0; flat contiguous arrays."""
    for k in range(np.uintp(grad.size)):
        out[k] = grad[k] if mask[k] else 0


# Optimizer updates in one pass over memory, where the NumPy formulations make 4 (SGD with momentum) and 14
# (Adam) passes, each a separate array operation: SGD over ResNet-18's 11M parameters 5.0 against 8.0 ms a
# step, Adam over the MNIST cnn's 1.2M 0.54 against 2.06 ms. The arithmetic is the NumPy route's, in the same
# order and in the arrays' dtype (the callers pass the scalars as that dtype), so both routes give the same
# bits.


@kernel
def sgd_momentum_step(param, buffer, direction, lr, momentum):
    """b = momentum b + d;  p = p - lr b   (flat contiguous arrays)"""
    for k in range(np.uintp(param.size)):
        velocity = buffer[k] * momentum + direction[k]
        buffer[k] = velocity
        param[k] = param[k] - velocity * lr


@kernel
def im2col(x, flat, out_h, out_w, start, stop, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w,
           top, left, step_n, step_c, step_i, step_j):  # fmt: skip
    """The im2col copy for samples [start, stop): the row (n, c, i, j, h) of the columns, W_out values at
    flat[n step_n + c step_c + i step_i + j step_j + h W_out], is x_pad[n, c, s_h h + d_h i, d_w j + s_w w]
    for w < W_out (the steps, in elements, give the columns' layout: per sample or channels first). x is
    read unpadded: the positions in the zero padding (``top`` rows above, ``left`` columns before, and
    whatever lies past the bottom and right edges) are written as zeros, with no padded copy of x made."""
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    source = x.reshape(-1)
    step = np.uintp(stride_w)
    for i in range(kernel_h):
        first_row = i * dilation_h - top  # the input row of h = 0 (negative in the padding)
        h_lo, h_hi = inside(first_row, stride_h, height, out_h)
        for j in range(kernel_w):
            first_column = j * dilation_w - left
            w_lo, w_hi = inside(first_column, stride_w, width, out_w)
            run = np.uintp(w_hi - w_lo)
            for n in range(start, stop):
                for c in range(channels):
                    rows = np.uintp(n * step_n + c * step_c + i * step_i + j * step_j)
                    for k in range(np.uintp(h_lo * out_w)):  # the rows above x, then those below it
                        flat[rows + k] = 0
                    for k in range(np.uintp(h_hi * out_w), np.uintp(out_h * out_w)):
                        flat[rows + k] = 0
                    plane = (n * channels + c) * height * width
                    for h in range(h_lo, h_hi):
                        row = rows + np.uintp(h * out_w)
                        first = np.uintp(plane + (h * stride_h + first_row) * width + first_column + w_lo * stride_w)
                        for w in range(np.uintp(w_lo)):
                            flat[row + w] = 0
                        target = row + np.uintp(w_lo)
                        if stride_w == 1:
                            for w in range(run):
                                flat[target + w] = source[first + w]
                        else:
                            for w in range(run):
                                flat[target + w] = source[first + w * step]
                        for w in range(np.uintp(w_hi), np.uintp(out_w)):
                            flat[row + w] = 0


@kernel
def batch_first(product, out, bias, start, stop):
    """out[n, c] = product[c, n] (+ bias[c] when ``bias`` has one value per channel) for samples [start, stop):
    the GEMM's channels-first product (C, N, H W) moved into the (N, C, H W) layout, runs of H W values."""
    batch, channels, plane = out.shape[0], out.shape[1], out.shape[2]
    source, target = product.reshape(-1), out.reshape(-1)
    with_bias = bias.size == channels
    for n in range(start, stop):
        for c in range(channels):
            read, write = np.uintp((c * batch + n) * plane), np.uintp((n * channels + c) * plane)
            if with_bias:
                shift = bias[c]
                for k in range(np.uintp(plane)):
                    target[write + k] = source[read + k] + shift
            else:
                for k in range(np.uintp(plane)):
                    target[write + k] = source[read + k]


@kernel
def to_positions(image, buffer, start, plane, row, first, last):
    """buffer[c, start + n plane + y row + x] = image[n, c, y, x] for channels [first, last), the rest of each
    plane's rows and columns zero: the shifted-product layout (``conv._Shifted``)."""
    batch, height, width = image.shape[0], image.shape[2], image.shape[3]
    length = buffer.shape[1]
    for c in range(first, last):
        for k in range(np.uintp(start)):
            buffer[c, k] = 0
        for n in range(batch):
            base = start + n * plane
            for y in range(height):
                at = np.uintp(base + y * row)
                for x in range(np.uintp(width)):
                    buffer[c, at + x] = image[n, c, y, x]
                for x in range(np.uintp(width), np.uintp(row)):
                    buffer[c, at + x] = 0
            for k in range(np.uintp(base + height * row), np.uintp(base + plane)):
                buffer[c, k] = 0
        for k in range(np.uintp(start + batch * plane), np.uintp(length)):
            buffer[c, k] = 0


@kernel
def from_positions(columns, out, bias, plane, row, first, last):
    """out[n, c, h, w] = columns[c, n plane + h row + w] (+ bias[c] when ``bias`` has one value per channel) for
    samples [first, last): the shifted products' output back in the (N, C, H, W) layout."""
    channels, height, width = out.shape[1], out.shape[2], out.shape[3]
    with_bias = bias.size == channels
    for n in range(first, last):
        for c in range(channels):
            shift = bias[c] if with_bias else 0
            for h in range(height):
                at = np.uintp(n * plane + h * row)
                for w in range(np.uintp(width)):
                    out[n, c, h, w] = columns[c, at + w] + shift


# A direct convolution for layers with few weights (``conv._direct``): stride 1, one group. Each sample's
# padded planes are laid out on rows of the padded width W_pad, so kernel offset (i, j) is a shift of the flat
# index by i W_pad + j, and the outputs are computed on the same rows (the last k_w - 1 values of each row
# unused: ``conv._Rows``' geometry). The innermost loops run over those positions, unit stride, and each works
# on several output channels and taps at once, so that it does several multiply-adds per value it loads or
# stores. The taps are read through slices of the planes: an index x[s + p] with a signed s + p made numba test
# it for a negative value, and the loop stayed scalar. Measured on LeNet's 6->16 at batch 128 (two threads): the
# forward with one tap and one channel at a time 20-22 ms with the signed index, 2.5 ms on slices, four
# channels 1.7-2.0 ms, four channels and three taps 1.5 ms (PyTorch 0.8-0.9 ms); the weight gradient's twelve
# sums 1.3 ms against 2.0 ms for four (PyTorch 1.3 ms). The forward and the weight gradient take their three tap
# slices inline: through a shared helper kernel, the same two loops took 2.2 and 2.0 ms against 1.6 and 1.4 ms
# (alternating rounds in one process).


@kernel
def to_rows(image, n, rows, top, left, row_length):
    """rows[c, (h + top) row_length + left + w] = image[n, c, h, w]: sample n's planes on rows of
    ``row_length`` values (the rest of ``rows`` is left as it is)."""
    for c in range(image.shape[1]):
        for h in range(image.shape[2]):
            at = np.uintp((h + top) * row_length + left)
            for w in range(np.uintp(image.shape[3])):
                rows[c, at + w] = image[n, c, h, w]


@kernel
def from_rows(rows, out, n, top, left, row_length):
    """out[n, c, h, w] = rows[c, (h + top) row_length + left + w]: the inverse of ``to_rows``."""
    for c in range(out.shape[1]):
        for h in range(out.shape[2]):
            at = np.uintp((h + top) * row_length + left)
            for w in range(np.uintp(out.shape[3])):
                out[n, c, h, w] = rows[c, at + w]


@kernel(reorder=True)
def correlate_rows(x, weight, bias, out, start, stop, top, left, kernel_w):
    """out[n, o, h, w] = bias[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, c, h + i, w + j] for samples [start,
    stop), x_pad being x with ``top`` rows and ``left`` columns of zeros before it (and as many after it as
    the output size needs). ``weight`` (O_4, C, k_h, k_w3) and ``bias`` (O_4) are zero-padded to a multiple of
    4 output channels and of 3 columns (``kernel_w`` is the real k_w); only out's channels are written."""
    channels, blocked_out, kernel_h, blocked_w = x.shape[1], weight.shape[0], weight.shape[2], weight.shape[3]
    out_channels, out_h, out_w = out.shape[1], out.shape[2], out.shape[3]
    padded_w = out_w + kernel_w - 1
    length = np.uintp((out_h - 1) * padded_w + out_w)
    planes = np.zeros((channels, (out_h + kernel_h - 1) * padded_w + blocked_w), x.dtype)  # (+ the zero taps' reach)
    rows = np.empty((4, length), x.dtype)
    for n in range(start, stop):
        to_rows(x, n, planes, top, left, padded_w)
        for o in range(0, blocked_out, 4):
            for k in range(4):
                for p in range(length):
                    rows[k, p] = bias[o + k]
            row0, row1, row2, row3 = rows[0], rows[1], rows[2], rows[3]
            for c in range(channels):
                for i in range(kernel_h):
                    for j in range(0, blocked_w, 3):
                        shift = np.uintp(i * padded_w + j)
                        x0 = planes[c, shift : shift + length]
                        x1 = planes[c, shift + 1 : shift + 1 + length]
                        x2 = planes[c, shift + 2 : shift + 2 + length]
                        a0, a1, a2 = weight[o, c, i, j], weight[o, c, i, j + 1], weight[o, c, i, j + 2]
                        b0, b1, b2 = weight[o + 1, c, i, j], weight[o + 1, c, i, j + 1], weight[o + 1, c, i, j + 2]
                        c0, c1, c2 = weight[o + 2, c, i, j], weight[o + 2, c, i, j + 1], weight[o + 2, c, i, j + 2]
                        d0, d1, d2 = weight[o + 3, c, i, j], weight[o + 3, c, i, j + 1], weight[o + 3, c, i, j + 2]
                        for p in range(length):
                            u0, u1, u2 = x0[p], x1[p], x2[p]  # (read once: the rows written might alias them)
                            row0[p] += a0 * u0 + a1 * u1 + a2 * u2
                            row1[p] += b0 * u0 + b1 * u1 + b2 * u2
                            row2[p] += c0 * u0 + c1 * u1 + c2 * u2
                            row3[p] += d0 * u0 + d1 * u1 + d2 * u2
            for k in range(min(4, out_channels - o)):
                for h in range(out_h):
                    at = np.uintp(h * padded_w)
                    for w in range(np.uintp(out_w)):
                        out[n, o + k, h, w] = rows[k, at + w]


@kernel(reorder=True)
def correlate_rows_weight_grad(x, grad, partial, start, stop, top, left, kernel_w):
    """partial[o, c, i, j] += sum over samples [start, stop) and output positions (h, w) of
    grad[n, o, h, w] x_pad[n, c, h + i, w + j] (x_pad as in ``correlate_rows``; ``partial`` (O_4, C, k_h, k_w3)
    is as large as its blocked weight, and its padding receives sums of zeros)."""
    channels, blocked_out, kernel_h, blocked_w = x.shape[1], partial.shape[0], partial.shape[2], partial.shape[3]
    out_h, out_w = grad.shape[2], grad.shape[3]
    padded_w = out_w + kernel_w - 1
    length = np.uintp((out_h - 1) * padded_w + out_w)
    planes = np.zeros((channels, (out_h + kernel_h - 1) * padded_w + blocked_w), x.dtype)
    rows = np.zeros((blocked_out, length), x.dtype)  # grad on the same rows, zero past each row's W_out values
    zero = x.dtype.type(0)
    for n in range(start, stop):
        to_rows(x, n, planes, top, left, padded_w)
        to_rows(grad, n, rows, 0, 0, padded_w)
        for o in range(0, blocked_out, 4):
            g0, g1, g2, g3 = rows[o], rows[o + 1], rows[o + 2], rows[o + 3]
            for c in range(channels):
                for i in range(kernel_h):
                    for j in range(0, blocked_w, 3):
                        shift = np.uintp(i * padded_w + j)
                        x0 = planes[c, shift : shift + length]
                        x1 = planes[c, shift + 1 : shift + 1 + length]
                        x2 = planes[c, shift + 2 : shift + 2 + length]
                        s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = s30 = s31 = s32 = zero
                        for p in range(length):
                            u0, u1, u2 = x0[p], x1[p], x2[p]
                            v = g0[p]
                            s00, s01, s02 = s00 + v * u0, s01 + v * u1, s02 + v * u2
                            v = g1[p]
                            s10, s11, s12 = s10 + v * u0, s11 + v * u1, s12 + v * u2
                            v = g2[p]
                            s20, s21, s22 = s20 + v * u0, s21 + v * u1, s22 + v * u2
                            v = g3[p]
                            s30, s31, s32 = s30 + v * u0, s31 + v * u1, s32 + v * u2
                        partial[o, c, i, j] += s00
                        partial[o, c, i, j + 1] += s01
                        partial[o, c, i, j + 2] += s02
                        partial[o + 1, c, i, j] += s10
                        partial[o + 1, c, i, j + 1] += s11
                        partial[o + 1, c, i, j + 2] += s12
                        partial[o + 2, c, i, j] += s20
                        partial[o + 2, c, i, j + 1] += s21
                        partial[o + 2, c, i, j + 2] += s22
                        partial[o + 3, c, i, j] += s30
                        partial[o + 3, c, i, j + 1] += s31
                        partial[o + 3, c, i, j + 2] += s32


@kernel(reorder=True)
def correlate_rows_input_grad(grad, weight, out, start, stop, top, left):
    """out[n, c] = the input gradient of ``correlate_rows``: every grad[n, o, h, w] W[o, c, i, j] added at
    x_pad[n, c, h + i, w + j], the padding then cut off, for samples [start, stop). ``weight`` (O_4, C, k_h, k_w)
    is zero-padded to a multiple of 4 output channels; four of them are added per pass over a plane."""
    blocked_out, channels, kernel_h, kernel_w = weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3]
    out_h, out_w = grad.shape[2], grad.shape[3]
    padded_w = out_w + kernel_w - 1
    length = np.uintp((out_h - 1) * padded_w + out_w)
    plane = np.uintp((out_h + kernel_h - 1) * padded_w)
    planes = np.empty((channels, plane), grad.dtype)
    rows = np.zeros((blocked_out, length), grad.dtype)
    for n in range(start, stop):
        to_rows(grad, n, rows, 0, 0, padded_w)
        for c in range(channels):
            for p in range(plane):
                planes[c, p] = 0
            for i in range(kernel_h):
                for j in range(kernel_w):
                    shift = np.uintp(i * padded_w + j)
                    target = planes[c, shift : shift + length]
                    for o in range(0, blocked_out, 4):
                        g0, g1, g2, g3 = rows[o], rows[o + 1], rows[o + 2], rows[o + 3]
                        a0, a1 = weight[o, c, i, j], weight[o + 1, c, i, j]
                        a2, a3 = weight[o + 2, c, i, j], weight[o + 3, c, i, j]
                        for p in range(length):
                            target[p] += a0 * g0[p] + a1 * g1[p] + a2 * g2[p] + a3 * g3[p]
        from_rows(planes, out, n, top, left, padded_w)


@kernel
def adam_step(param, grad, exp_avg, exp_avg_sq, one_minus_beta1, beta2, one_minus_beta2, step_size, correction2, eps):
    """m = m + (1 - b1)(g - m);  v = b2 v + (1 - b2) g^2;  p = p - step_size m / (sqrt(v) / bc2 + eps)"""
    for k in range(np.uintp(param.size)):
        g = grad[k]
        m = exp_avg[k] + (g - exp_avg[k]) * one_minus_beta1
        v = exp_avg_sq[k] * beta2 + (g * g) * one_minus_beta2
        exp_avg[k] = m
        exp_avg_sq[k] = v
        param[k] = param[k] - (m / (np.sqrt(v) / correction2 + eps)) * step_size
