"""``torch.nn.utils.rnn``'s padding helpers: `pad_sequence` (variable-length sequences into one padded tensor)
and `unpad_sequence`. Packed sequences are not supported: recurrent layers here take padded tensors (with the
lengths kept by the caller), and `pack_padded_sequence` says so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deepgrad.tensor import Tensor, as_tensor, cat, stack

__all__ = ["pack_padded_sequence", "pad_sequence", "unpad_sequence"]


def pad_sequence(
    sequences: Sequence[Tensor], batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
) -> Tensor:
    """(L_i, *) tensors -> (L_max, N, *) (``batch_first``: (N, L_max, *)), each padded with ``padding_value``
    on the right (or ``padding_side="left"``); differentiable in the sequences."""
    tensors = [as_tensor(s) for s in sequences]
    if not tensors:
        raise ValueError("pad_sequence: expected at least one sequence")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    trailing = tensors[0].shape[1:]
    for position, t in enumerate(tensors):
        if t.ndim < 1 or t.shape[1:] != trailing:
            raise ValueError(
                f"pad_sequence: sequence {position} has shape {t.shape}; all must be (L_i, *{trailing}) with the same *"
            )
    longest = max(t.shape[0] for t in tensors)
    padded = []
    for t in tensors:
        missing = longest - t.shape[0]
        if missing:
            fill = t.new_full((missing, *trailing), padding_value)
            t = cat([t, fill] if padding_side == "right" else [fill, t], 0)
        padded.append(t)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """The inverse of ``pad_sequence`` (right padding): the first ``lengths[i]`` steps of each sequence."""
    batch = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    counts = [int(n) for n in (lengths.tolist() if isinstance(lengths, Tensor) else lengths)]
    return [batch[i, :n] for i, n in enumerate(counts)]


def pack_padded_sequence(*args: Any, **kwargs: Any) -> Any:
    """Not supported: deepgrad's recurrent layers take padded (L, N, *) tensors. Run them on the padded batch
    and use each sequence's outputs up to its length (``unpad_sequence``), or mask the padded steps."""
    raise NotImplementedError(
        "pack_padded_sequence: packed sequences are not supported; pass the padded tensor to the RNN and take "
        "each sequence's outputs up to its length (deepgrad.nn.utils.rnn.unpad_sequence)"
    )
