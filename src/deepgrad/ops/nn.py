"""Fused neural-network primitives, each one graph node for numerical stability and speed.

* ``CrossEntropy``: log_softmax + negative log-likelihood in one node. Composed from primitives it would
  take a LogSoftmax node, a gather and a scatter in backward; fused, its backward is the textbook
  ``softmax - onehot`` (times the upstream gradient), and the log-sum-exp form keeps logits of +-1000 finite.
* ``BinaryCrossEntropyWithLogits`` and ``Softplus``: written with ``softplus(z) = log(1 + e^z)`` in its
  stable form ``max(z, 0) + log1p(e^-|z|)``; the naive ``log(sigmoid(x))`` underflows to ``log(0)``.
* ``BinaryCrossEntropy``: on probabilities, with PyTorch's clamp of each log at -100 (so a prediction of
  exactly 0 or 1 gives a large finite loss, not inf) and its ``max(x (1 - x), 1e-12)`` guard in backward.

Backward formulas follow the convention of ``deepgrad.autograd.function``: NumPy operators on arrays in an
ordinary backward, the same operators on Tensors under ``create_graph=True``. Where first-order backward
reuses a value saved in forward (the softmax), the create-graph branch recomputes it with a recorded op.
"""

from __future__ import annotations

import numpy as np

from deepgrad import backend, compiled
from deepgrad.autograd.function import Function
from deepgrad.ops import kernels
from deepgrad.ops.reduce import Softmax
from deepgrad.threads import batch_blocks, parallel_for


def _sigmoid(z):
    """1 / (1 + e^-z) as (1 + tanh(z/2)) / 2: no overflow, and works on arrays and Tensors alike."""
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def _softplus(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow, on arrays and Tensors alike."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


class CrossEntropy(Function):
    """loss_i = -sum_c q_ic log softmax(x_i)_c,  q_i = (1-eps) w[t_i] onehot(t_i) + (eps/C) w;
    dx_i = grad_i * (softmax(x_i) * sum_c q_ic - q_i)   (= softmax - onehot without weights or smoothing)

    ``x`` has the classes on axis 1, shape (N, C) or (N, C, d1, ...); ``target`` holds class indices of
    shape (N, d1, ...). Entries equal to ``ignore_index`` contribute nothing. 'mean' divides by the summed
    weight of the counted targets, as PyTorch does.
    """

    def forward(self, x, target, weight, ignore_index, reduction, label_smoothing):
        self.reduction, self.label_smoothing, self.weight = reduction, label_smoothing, weight
        shifted = x - x.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        sum_exp = probs.sum(axis=1, keepdims=True)
        logp = shifted - np.log(sum_exp)
        probs /= sum_exp
        self.probs = probs  # backward needs softmax(x); keeping it saves an exp

        keep = target != ignore_index
        self.keep = None if keep.all() else keep
        safe_target = target if self.keep is None else np.where(keep, target, 0)
        self.safe_target = safe_target
        self.index = np.expand_dims(safe_target, 1)
        # (N, C) logits, the common case: plain fancy indexing is several times cheaper than *_along_axis
        self.rows = np.arange(x.shape[0], like=x) if x.ndim == 2 else None
        if self.rows is not None:
            losses = -logp[self.rows, safe_target]
        else:
            losses = -np.take_along_axis(logp, self.index, axis=1)[:, 0]
        # per-target weight w[t_i] (0 where ignored); None means all ones, which saves the multiplications
        if weight is not None:
            self.target_weight = weight[safe_target] if self.keep is None else weight[safe_target] * keep
        elif self.keep is not None:
            self.target_weight = keep.astype(x.dtype)
        else:
            self.target_weight = None
        if self.target_weight is not None:
            losses = losses * self.target_weight
        if label_smoothing:
            classes = x.shape[1]
            smooth = -(logp if weight is None else logp * self._broadcast_weight(x.ndim)).sum(axis=1)
            if self.keep is not None:
                smooth = smooth * keep
            losses = (1 - label_smoothing) * losses + (label_smoothing / classes) * smooth
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        if self.target_weight is None:
            self.total_weight = losses.size
        else:
            self.total_weight = self.target_weight.sum()
        with np.errstate(invalid="ignore", divide="ignore"):  # all targets ignored: nan, as PyTorch
            return losses.sum() / self.total_weight

    def _broadcast_weight(self, ndim):
        return np.reshape(self.weight, (1, -1) + (1,) * (ndim - 2))

    def _target_distribution(self, shape, dtype):
        """q (shape of x) and its class sum (size 1 on axis 1): the smoothed, weighted one-hot targets."""
        onehot = np.zeros(shape, dtype=dtype, like=self.probs)
        np.put_along_axis(onehot, self.index, 1, axis=1)
        target_weight = 1 if self.target_weight is None else np.expand_dims(self.target_weight, 1)
        eps = self.label_smoothing
        q = (1 - eps) * target_weight * onehot
        q_sum = (1 - eps) * target_weight * np.ones((), dtype=dtype, like=self.probs)
        if eps:
            classes = shape[1]
            keep = 1 if self.keep is None else np.expand_dims(self.keep, 1)
            class_weight = 1 if self.weight is None else self._broadcast_weight(len(shape))
            total_class_weight = classes if self.weight is None else self.weight.sum()
            q = q + (eps / classes) * class_weight * keep
            q_sum = q_sum + (eps / classes) * total_class_weight * keep
        return q, q_sum

    def backward(self, grad, result, x):
        if self.reduction == "mean":
            grad = grad / self.total_weight
        coef = np.expand_dims(grad, 1) if self.reduction == "none" else grad  # per-sample factor, axis 1 added
        first_order = backend.is_array(x)
        if first_order and not self.label_smoothing:
            # first order, plain targets: softmax - onehot, scaled, without building a dense one-hot
            if self.target_weight is not None:
                coef = coef * np.expand_dims(self.target_weight, 1)
            grad_x = self.probs * coef
            if self.rows is not None:
                grad_x[self.rows, self.safe_target] -= coef if coef.ndim == 0 else coef[:, 0]
            else:
                at_target = np.take_along_axis(grad_x, self.index, axis=1) - coef
                np.put_along_axis(grad_x, self.index, at_target, axis=1)
            return grad_x
        probs = self.probs if first_order else Softmax.call(x, axis=1)
        q, q_sum = self._target_distribution(x.shape, x.dtype)
        return (probs * q_sum - q) * coef


class BinaryCrossEntropyWithLogits(Function):
    """loss = (1 - y) x + L softplus(-x),  L = 1 + (p - 1) y  (p = pos_weight, 1 when absent);
    dx = grad ((1 - y) - L sigmoid(-x)) (= sigmoid(x) - y for p = 1),  dy = grad ((p - 1) softplus(-x) - x),
    dp = grad y softplus(-x)"""

    def forward(self, x, y, pos_weight=None):
        softplus_neg = np.logaddexp(0, -x)
        if pos_weight is None:
            return (1 - y) * x + softplus_neg
        return (1 - y) * x + (1 + (pos_weight - 1) * y) * softplus_neg

    def backward(self, grad, result, x, y, pos_weight=None):
        needs = self.needs_input_grad
        sigmoid_neg = _sigmoid(-x)
        grad_x = grad_y = grad_pos_weight = None
        if pos_weight is None:
            if needs[0]:
                grad_x = grad * ((1 - y) - sigmoid_neg)
            if needs[1]:
                grad_y = -grad * x
            return grad_x, grad_y
        if needs[0]:
            grad_x = grad * ((1 - y) - (1 + (pos_weight - 1) * y) * sigmoid_neg)
        if needs[1] or needs[2]:
            softplus_neg = _softplus(-x)
            if needs[1]:
                grad_y = grad * ((pos_weight - 1) * softplus_neg - x)
            if needs[2]:
                grad_pos_weight = grad * y * softplus_neg
        return grad_x, grad_y, grad_pos_weight


class BinaryCrossEntropy(Function):
    """loss = -(y log x + (1 - y) log(1 - x)), each log clamped at -100 (as PyTorch);
    dx = grad (x - y) / max(x (1 - x), 1e-12),  dy = grad (log(1 - x) - log x)  (clamped logs)"""

    def forward(self, x, y):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        return -(y * log_x + (1 - y) * log_1mx)

    def backward(self, grad, result, x, y):
        needs = self.needs_input_grad
        grad_x = grad * (x - y) / np.maximum(x * (1 - x), 1e-12) if needs[0] else None
        grad_y = None
        if needs[1]:
            with np.errstate(divide="ignore"):
                grad_y = grad * (np.maximum(np.log1p(-x), -100) - np.maximum(np.log(x), -100))
        return grad_x, grad_y


class Softplus(Function):
    """z = log(1 + exp(beta x)) / beta, and z = x where beta x > threshold;
    dx = grad * sigmoid(beta x)  (grad past the threshold)"""

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        scaled = x * beta
        return np.where(scaled > threshold, x, np.logaddexp(0, scaled) / beta)

    def backward(self, grad, result, x):
        scaled = x * self.beta
        return np.where(scaled > self.threshold, grad, grad * _sigmoid(scaled))


def _block_sums(blocks, partials_of):
    """Per-channel sums over the blocks of the vectors ``partials_of(block)`` returns (a tuple), the blocks
    run in parallel."""
    results = [None] * len(blocks)

    def one(index):
        results[index] = partials_of(blocks[index])

    parallel_for(one, range(len(blocks)))
    return tuple(sum(parts) for parts in zip(*results))


def _channel_sum(rows):
    """Per-channel sum of (n, C, L) rows: contiguous inner reductions, then a small one over n (measured ~3x
    faster than ``sum(axis=(0, 2))``, which reduces across strides)."""
    return rows.sum(axis=2).sum(axis=0)


def _moments(rows, blocks):
    """Per-channel mean and biased variance of (N, C, L) rows: a pass for the sums, one for the squared
    deviations."""
    count = rows.shape[0] * rows.shape[2]
    (total,) = _block_sums(blocks, lambda b: (_channel_sum(rows[b]),))
    mean = total / count

    def squared_deviations(b):
        centered = rows[b] - mean[:, None]
        return (np.vecdot(centered, centered, axis=2).sum(axis=0),)

    (squares,) = _block_sums(blocks, squared_deviations)
    return mean, squares / count


def _compiled_moments(rows, blocks):
    """``_moments`` in one compiled pass: float64 sums of x - x[0, c, 0] and of its square."""
    count = rows.shape[0] * rows.shape[2]
    shift = rows[0, :, 0].copy()

    def moments(b):
        sums, squares = np.empty(rows.shape[1]), np.empty(rows.shape[1])
        kernels.channel_moments(rows[b], shift, sums, squares)
        return sums, squares

    sums, squares = _block_sums(blocks, moments)
    offset = sums / count
    var = np.maximum(squares / count - offset * offset, 0)
    return (shift + offset).astype(rows.dtype), var.astype(rows.dtype)


class BatchNorm(Function):
    """Training-mode batch norm over every axis but 1: y = (x - mean) / sqrt(var + eps) w + b  (biased var);
    with M values per channel and x^ the normalised input,
    dx = w / sqrt(var + eps) (grad - sum(grad) / M - x^ sum(grad x^) / M),  dw = sum(grad x^),  db = sum(grad)

    One node instead of the nine of the composite (mean, subtract, square, mean, add, sqrt, divide, scale,
    shift), each with its own full-size temporaries. The passes run over blocks of samples small enough for
    the cache (``threads.batch_blocks``), in parallel: forward reads x three times (sum; squared deviations;
    normalise) and writes y once; backward reads grad and x twice and writes dx once, against five and seven
    whole-array passes before. Measured at 32x64x32x32: on one thread about the same (14.5 against 16.4 ms, a
    noisy run); the gain is the second thread (10.9 ms against 17.3 ms before, PyTorch 6.7). ``stats_out``,
    when given, receives (mean, biased var) for the running statistics. x - mean is recomputed in each pass
    rather than kept: keeping it would add one activation-sized array per layer to the step's peak memory.
    With numba (``deepgrad.compiled``) each pass is one compiled loop per block (``ops/kernels.py``), and the
    statistics take one pass (float64 sums of x - x[0, c] and their squares): measured at 32x64x32x32 on 2
    threads, 4.7-6.1 ms against 10.9 ms on the NumPy route (PyTorch 6.3-6.5 ms).
    """

    def forward(self, x, weight, bias, *, eps, stats_out=None):
        self.eps = eps
        rows = np.reshape(x, (x.shape[0], x.shape[1], -1))
        self.compiled = compiled.usable(x, weight, bias)
        blocks = batch_blocks(rows.shape[0], rows[:1].nbytes, compiled=self.compiled)
        mean, var = (_compiled_moments if self.compiled else _moments)(rows, blocks)
        invstd = 1 / np.sqrt(var + eps)
        self.mean, self.invstd = mean, invstd
        if stats_out is not None:
            stats_out.extend((mean, var))
        scale = weight * invstd
        out = np.empty_like(x)  # its own memory (not a view of a reshape): a leaf can take it as .grad
        out_rows = np.reshape(out, rows.shape)

        def normalise(b):  # y = (x - mean) (w invstd) + b, in the output's block
            if self.compiled:
                kernels.batch_norm_normalise(rows[b], mean, scale, bias, out_rows[b])
                return
            target = out_rows[b]
            np.subtract(rows[b], mean[:, None], out=target)
            target *= scale[:, None]
            target += bias[:, None]

        parallel_for(normalise, blocks)
        return out

    def backward(self, grad, result, x, weight, bias):
        if not isinstance(grad, np.ndarray):  # create_graph: the same formula from recorded ops
            return self._recorded_backward(grad, x, weight)
        needs = self.needs_input_grad
        rows, grad_rows = np.reshape(x, (x.shape[0], x.shape[1], -1)), np.reshape(grad, (x.shape[0], x.shape[1], -1))
        count = rows.shape[0] * rows.shape[2]
        use_kernels = self.compiled and compiled.usable(grad)
        blocks = batch_blocks(rows.shape[0], rows[:1].nbytes, compiled=use_kernels)
        mean = self.mean

        def sums(b):  # sum(grad) and sum(grad (x - mean)) = sum(grad x^) / invstd, in one pass over the block
            if use_kernels:
                sum_grad, sum_grad_centered = np.empty(len(mean)), np.empty(len(mean))
                kernels.batch_norm_grad_sums(grad_rows[b], rows[b], mean, sum_grad, sum_grad_centered)
                return sum_grad, sum_grad_centered
            upstream = grad_rows[b]
            return _channel_sum(upstream), np.vecdot(upstream, rows[b] - mean[:, None], axis=2).sum(axis=0)

        sum_grad, sum_grad_centered = (part.astype(x.dtype, copy=False) for part in _block_sums(blocks, sums))
        grad_x = None
        if needs[0]:  # ((grad - k (x - mean)) - sum(grad) / M) w invstd, block by block in dx
            slope = self.invstd * self.invstd * sum_grad_centered / count
            mean_grad = sum_grad / count
            scale = weight * self.invstd
            grad_x = np.empty_like(x)
            grad_x_rows = np.reshape(grad_x, rows.shape)

            def input_grad(b):
                if use_kernels:
                    kernels.batch_norm_input_grad(grad_rows[b], rows[b], mean, slope, mean_grad, scale, grad_x_rows[b])
                    return
                target = grad_x_rows[b]
                np.subtract(rows[b], mean[:, None], out=target)
                target *= -slope[:, None]
                target += grad_rows[b]
                target -= mean_grad[:, None]
                target *= scale[:, None]

            parallel_for(input_grad, blocks)
        grad_weight = sum_grad_centered * self.invstd if needs[1] else None
        return grad_x, grad_weight, sum_grad if needs[2] else None

    def _recorded_backward(self, grad, x, weight):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        count = int(np.prod(x.shape)) // x.shape[1]  # (Tensor.size is a method)
        centered = x - np.sum(x, axis=axes, keepdims=True) / count
        invstd = 1 / np.sqrt(np.sum(centered * centered, axis=axes, keepdims=True) / count + self.eps)
        normalised = centered * invstd
        sum_grad = np.sum(grad, axis=axes, keepdims=True)
        sum_grad_normalised = np.sum(grad * normalised, axis=axes, keepdims=True)
        grad_x = (
            np.reshape(weight, shape) * invstd * (grad - sum_grad / count - normalised * sum_grad_normalised / count)
        )
        return grad_x, np.reshape(sum_grad_normalised, (-1,)), np.reshape(sum_grad, (-1,))
