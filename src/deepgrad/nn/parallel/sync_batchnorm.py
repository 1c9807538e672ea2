"""`SyncBatchNorm`: batch normalisation whose statistics are taken over the whole global batch, on all ranks."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.distributed.functions import all_reduce_sum
from deepgrad.distributed.process_group import rank_and_size
from deepgrad.functions import cat
from deepgrad.nn.layers import BatchNorm1d, BatchNorm2d, _BatchNorm
from deepgrad.nn.module import Module
from deepgrad.tensor import Tensor


class SyncBatchNorm(_BatchNorm):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1), where in training mean and
    var are those of the *global* batch: every rank's samples together.

    mean = (sum over ranks of sum x) / n and var = (sum over ranks of sum (x - mean)^2) / n, with n the
    global number of values per channel; both sums go through a differentiable all-reduce whose backward
    all-reduces the gradient, so the gradient is that of one process normalising the whole batch.
    Accepts (N, C), (N, C, L), (N, C, H, W) input. In eval mode, or outside a process group with more than
    one rank, it is an ordinary batch normalisation (running statistics updated as ``BatchNorm``'s).

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)))
    >>> type(model[1]).__name__, model(deepgrad.randn(2, 1, 5, 5)).shape
    ('SyncBatchNorm', (2, 4, 3, 3))
    """

    _input_dims = (2, 3, 4, 5)
    _input_description = "2D to 5D"

    def forward(self, input: Tensor) -> Tensor:
        _, size = rank_and_size()
        if not self.training or size == 1:
            return super().forward(input)
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / int(self.num_batches_tracked.array)
        return self._synchronised(input, factor)

    def _check_input(self, input: Tensor) -> None:
        if input.ndim not in self._input_dims or input.shape[1] != self.num_features:
            raise ValueError(
                f"SyncBatchNorm({self.num_features}): expected input of shape (N, {self.num_features}, *) with 2 to 5 "
                f"dimensions, got shape {tuple(input.shape)}"
            )

    def _synchronised(self, input: Tensor, factor: float) -> Tensor:
        channels = self.num_features
        axes = (0,) + tuple(range(2, input.ndim))
        shape = (1, channels) + (1,) * (input.ndim - 2)
        local_count = Tensor._make(np.full(1, input.numel() // channels, dtype=input.dtype), False, None)
        # one message for the sums and the sample count: [sum x per channel..., n]
        totals = all_reduce_sum(cat([input.sum(axes), local_count]))
        count = float(totals.array[channels])
        if count <= 1:
            raise ValueError(
                f"SyncBatchNorm: expected more than 1 value per channel over all ranks, got {int(count)} "
                f"(local input of shape {tuple(input.shape)})"
            )
        mean = totals[:channels] / count
        centered = input - mean.reshape(shape)
        var = all_reduce_sum((centered * centered).sum(axes)) / count
        out = centered / (var.reshape(shape) + self.eps).sqrt()
        if self.track_running_stats:
            with no_grad():
                self.running_mean.mul_(1 - factor).add_(mean.array.astype(self.running_mean.dtype), alpha=factor)
                unbiased = var.array * (count / (count - 1))
                self.running_var.mul_(1 - factor).add_(unbiased.astype(self.running_var.dtype), alpha=factor)
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm1d/2d replaced by a SyncBatchNorm holding the same parameters and
        running statistics (the module itself if it is one; converted in place otherwise)."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)):
            return cls._from_batchnorm(module)
        for name, child in list(module._modules.items()):
            if child is not None:
                converted = cls.convert_sync_batchnorm(child, process_group)
                if converted is not child:
                    module._modules[name] = converted
        return module

    @classmethod
    def _from_batchnorm(cls, bn: _BatchNorm) -> SyncBatchNorm:
        reference = bn.weight if bn.weight is not None else bn.running_mean
        dtype = None if reference is None else reference.dtype
        sync = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats, dtype=dtype)
        for registry in ("_parameters", "_buffers"):
            getattr(sync, registry).update(getattr(bn, registry))
        sync.training = bn.training
        return sync
