"""`Embedding`: a learned vector per index (PyTorch's arguments and repr); ``F.embedding`` does the lookup."""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.creation import randn
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module, Parameter
from deepgrad.tensor import Tensor

__all__ = ["Embedding"]


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of ``embedding_dim`` values, drawn from N(0, 1); the input's
    integers pick rows. The row ``padding_idx`` starts at zero and gets no gradient."""

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, _weight: Tensor | None = None,
        _freeze: bool = False, device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is outside 0..{num_embeddings - 1}")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        if _weight is None:
            _weight = randn(num_embeddings, embedding_dim, dtype=dtype, device=device)
            if padding_idx is not None:
                with no_grad():
                    _weight[padding_idx] = 0
        elif tuple(_weight.shape) != (num_embeddings, embedding_dim):
            raise ValueError(
                f"Embedding: weight of shape {tuple(_weight.shape)}, expected {(num_embeddings, embedding_dim)}"
            )
        self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None) -> Embedding:
        """An Embedding holding ``embeddings`` (2-D), frozen unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, _weight=embeddings, _freeze=freeze)

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}" + (
            f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        )
