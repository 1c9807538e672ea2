"""`AugmentedLoader`: a training loader whose image batches pass through `deepgrad.data.transforms.Augment`
(random crop of the padded images, horizontal flip), vectorised over each batch; ``deepgrad train --augment``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from deepgrad.data.transforms import Augment

__all__ = ["AugmentedLoader"]


class AugmentedLoader:
    """Iterates ``loader`` and augments each batch's images: ``(augment(x), y)``. Draws come from deepgrad's
    global generator (``deepgrad.manual_seed``), whose state checkpoints save, so a resumed run sees the
    same crops and flips. ``len``, ``state_dict`` and ``load_state_dict`` are the loader's.

    >>> import deepgrad
    >>> from deepgrad.data import DataLoader, TensorDataset
    >>> images = deepgrad.rand(8, 1, 28, 28)
    >>> loader = AugmentedLoader(DataLoader(TensorDataset(images, deepgrad.zeros(8)), batch_size=4), crop=28, padding=2)
    >>> [tuple(x.shape) for x, _ in loader]
    [(4, 1, 28, 28), (4, 1, 28, 28)]
    """

    def __init__(self, loader: Any, crop: int | None = None, padding: int = 0, flip: float = 0.0) -> None:
        self.loader = loader
        self.augment = Augment(crop=crop, padding=padding, flip=flip)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        for images, targets in self.loader:
            yield self.augment(images), targets

    def __getattr__(self, name: str) -> Any:  # dataset, batch_size, ...: the wrapped loader's
        if name == "loader":
            raise AttributeError(name)
        return getattr(self.loader, name)

    def state_dict(self) -> dict[str, Any]:
        return self.loader.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.loader.load_state_dict(state)
