"""Loss modules: ``loss = criterion(prediction, target)``, wrapping ``deepgrad.nn.functional``.

``reduction`` is 'mean' (default), 'sum' or 'none' (per-element losses); PyTorch's deprecated
``size_average``/``reduce`` are accepted with a DeprecationWarning naming the ``reduction`` they mean. Class
weights are registered as buffers named ``weight`` (and ``pos_weight``), as PyTorch does, so they appear in
a model's state_dict.
"""

from __future__ import annotations

from deepgrad.nn import _checks as checks
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module
from deepgrad.tensor import Tensor

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "CosineEmbeddingLoss",
    "GaussianNLLLoss",
    "HuberLoss",
    "MarginRankingLoss",
    "PoissonNLLLoss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "KLDivLoss",
    "L1Loss",
    "SmoothL1Loss",
    "MSELoss",
    "NLLLoss",
]


class _Loss(Module):
    _reductions: tuple[str, ...] = ("mean", "sum", "none")

    def __init__(
        self, *, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        reduction = F.legacy_reduction(size_average, reduce, type(self).__name__) or reduction
        checks.check_reduction(reduction, type(self).__name__, self._reductions)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)
        self.register_buffer("weight", checks.optional_tensor(weight, "weight", type(self).__name__))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C) [or (N, C, d1, ...)] against class indices (N,) or class
    probabilities (N, C); see ``deepgrad.nn.functional.cross_entropy``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> loss = nn.CrossEntropyLoss()(deepgrad.zeros(4, 10), deepgrad.tensor([1, 2, 3, 4]))
    >>> round(loss.item(), 4)  # log(10)
    2.3026
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average=size_average, reduce=reduce, reduction=reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C) against class indices (N,)."""

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average=size_average, reduce=reduce, reduction=reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (x - y)^2."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |x - y|."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1]: -w (y log x + (1 - y) log(1 - x))."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(x) from logits x, stable for any x; ``pos_weight`` weights positives."""

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)
        self.register_buffer("weight", checks.optional_tensor(weight, "weight", "BCEWithLogitsLoss"))
        self.register_buffer("pos_weight", checks.optional_tensor(pos_weight, "pos_weight", "BCEWithLogitsLoss"))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class KLDivLoss(_Loss):
    """KL divergence with log-probability input: y (log y - x); use reduction='batchmean' for the true KL."""

    _reductions = ("mean", "sum", "none", "batchmean")

    def __init__(
        self,
        *,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); see ``F.smooth_l1_loss``."""

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0
    ) -> None:
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be non-negative, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta); see ``F.huber_loss``."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class _PairMarginLoss(_Loss):
    """A loss of two inputs, a +-1 target and a ``margin``: ``F.<function>(x1, x2, y, margin, reduction)``."""

    function = ""

    def __init__(
        self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return getattr(F, self.function)(input1, input2, target, self.margin, self.reduction)


class MarginRankingLoss(_PairMarginLoss):
    """max(0, -y (x1 - x2) + margin); see ``F.margin_ranking_loss``."""

    function = "margin_ranking_loss"


class TripletMarginLoss(_Loss):
    """max(d(a, p) - d(a, n) + margin, 0); see ``F.triplet_margin_loss``."""

    def __init__(
        self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
        size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap, self.reduction
        )


class CosineEmbeddingLoss(_PairMarginLoss):
    """1 - cos(x1, x2) for y = 1, max(0, cos - margin) for y = -1; see ``F.cosine_embedding_loss``."""

    function = "cosine_embedding_loss"


class SoftMarginLoss(_Loss):
    """log(1 + exp(-y x)); see ``F.soft_margin_loss``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, self.reduction)


class PoissonNLLLoss(_Loss):
    """The Poisson negative log-likelihood; see ``F.poisson_nll_loss``."""

    def __init__(
        self, log_input: bool = True, full: bool = False, size_average: bool | None = None, eps: float = 1e-8,
        reduce: bool | None = None, reduction: str = "mean",
    ) -> None:  # fmt: skip
        super().__init__(size_average=size_average, reduce=reduce, reduction=reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return F.poisson_nll_loss(log_input, target, self.log_input, self.full, self.eps, self.reduction)


class GaussianNLLLoss(_Loss):
    """The Gaussian negative log-likelihood with a predicted variance; see ``F.gaussian_nll_loss``."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)
