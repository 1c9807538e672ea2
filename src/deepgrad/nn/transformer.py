"""Attention layers with PyTorch's arguments, parameter names and masks: `MultiheadAttention`,
`TransformerEncoderLayer` and `TransformerEncoder` (Vaswani et al., 2017). Composites of linear maps, softmax,
layer norm and dropout, so their gradients come from the primitives."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.creation import empty, zeros
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.layers import Dropout, Linear
from deepgrad.nn.module import Module, ModuleList, Parameter
from deepgrad.nn.normalization import LayerNorm
from deepgrad.tensor import Tensor

__all__ = [
    "MultiheadAttention",
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear layer; the name is PyTorch's for MultiheadAttention's output projection (reprs match)."""


def _blocked(mask: Any, like: Tensor) -> Any:
    """A mask as PyTorch's attention layers read it -> an additive float mask: True (blocked) -> -inf."""
    array = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype == np.bool_:
        return np.where(array, -np.inf, 0.0).astype(like.dtype)
    return mask


class MultiheadAttention(Module):
    """softmax(Q K^T / sqrt(d) + mask) V in ``num_heads`` heads of embed_dim / num_heads values, with the input
    projections in one ``in_proj_weight`` (3E, E) and the output projection ``out_proj``. Masks as PyTorch's:
    a boolean ``attn_mask`` (L, S) or (N heads, L, S) and ``key_padding_mask`` (N, S) are True where attending
    is *not* allowed; float masks are added to the scores. Returns (output, the attention weights averaged
    over the heads, or per head, or None without ``need_weights``)."""

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, add_bias_kv: bool = False,
        add_zero_attn: bool = False, kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
        device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        if add_bias_kv or add_zero_attn or (kdim or embed_dim) != embed_dim or (vdim or embed_dim) != embed_dim:
            raise ValueError(
                "MultiheadAttention: add_bias_kv, add_zero_attn and key/value sizes other than embed_dim are not "
                "supported"
            )
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        with no_grad():
            self.in_proj_weight = Parameter(init.xavier_uniform_(empty(3 * embed_dim, embed_dim, dtype=dtype)))
        self.in_proj_bias = Parameter(zeros(3 * embed_dim, dtype=dtype)) if bias else None
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, dtype=dtype, device=device)
        if bias:
            with no_grad():
                self.out_proj.bias.zero_()

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None, need_weights: bool = True,
        attn_mask: Any = None, average_attn_weights: bool = True, is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:  # fmt: skip
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = (t.unsqueeze(1) for t in (query, key, value))
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        length, batch, embed = query.shape
        if embed != self.embed_dim:
            raise ValueError(
                f"MultiheadAttention: expected embed_dim {self.embed_dim}, got query of shape {query.shape}"
            )
        source = key.shape[0]
        weights = [self.in_proj_weight[k * embed : (k + 1) * embed] for k in range(3)]
        biases = (
            [None] * 3
            if self.in_proj_bias is None
            else [self.in_proj_bias[k * embed : (k + 1) * embed] for k in range(3)]
        )
        q, k, v = (F.linear(t, w, b) for t, w, b in zip((query, key, value), weights, biases))
        heads = batch * self.num_heads

        def split(t: Tensor, size: int) -> Tensor:  # (size, N, E) -> (N heads, size, head_dim)
            return t.reshape(size, heads, self.head_dim).transpose(0, 1)

        q, k, v = split(q, length), split(k, source), split(v, source)
        scores = q.matmul(k.transpose(1, 2)) * (1.0 / float(np.sqrt(self.head_dim)))
        if is_causal and attn_mask is None:
            attn_mask = np.triu(np.ones((length, source), dtype=bool), 1)
        if attn_mask is not None:
            scores = scores + _blocked(attn_mask, scores)
        if key_padding_mask is not None:
            padding = _blocked(key_padding_mask, scores).reshape(batch, 1, 1, source)
            scores = (scores.reshape(batch, self.num_heads, length, source) + padding).reshape(heads, length, source)
        attention = scores.softmax(-1)
        dropped = F.dropout(attention, self.dropout, self.training) if self.dropout else attention
        out = dropped.matmul(v).transpose(0, 1).reshape(length, batch, embed)
        out = self.out_proj(out)
        if unbatched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        per_head = attention.reshape(batch, self.num_heads, length, source)
        weights_out = per_head.mean(1) if average_attn_weights else per_head
        return out, (weights_out.squeeze(0) if unbatched else weights_out)


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


def _build_layer(
    layer: Module, attentions: tuple[str, ...], norm_first: bool, d_model: int, nhead: int, dim_feedforward: int,
    dropout: float, activation: str | Callable[[Tensor], Tensor], layer_norm_eps: float, batch_first: bool,
    bias: bool, dtype: Any,
) -> None:  # fmt: skip
    """The parts of an encoder or decoder layer, registered in PyTorch's order (so state dict keys match): the
    attentions, linear1, dropout, linear2, then one norm and one dropout per block."""
    if isinstance(activation, str) and activation not in _ACTIVATIONS:
        raise ValueError(f"{type(layer).__name__}: activation must be relu, gelu or a function, got {activation!r}")
    for name in attentions:
        setattr(
            layer, name, MultiheadAttention(d_model, nhead, dropout, bias=bias, batch_first=batch_first, dtype=dtype)
        )
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
    layer.norm_first = norm_first
    blocks = len(attentions) + 1
    for k in range(1, blocks + 1):
        setattr(layer, f"norm{k}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
    for k in range(1, blocks + 1):
        setattr(layer, f"dropout{k}", Dropout(dropout))
    layer.activation = _ACTIVATIONS[activation] if isinstance(activation, str) else activation


class _TransformerLayer(Module):
    """The blocks an encoder and a decoder layer share (their parts come from ``_build_layer``)."""

    def _self_attention(self, x: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        out, _ = self.self_attn(
            x, x, x, attn_mask=mask, key_padding_mask=padding, need_weights=False, is_causal=is_causal
        )
        return self.dropout1(out)

    def _feed_forward(self, x: Tensor, last_dropout: Module) -> Tensor:
        return last_dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and a two-layer feed-forward block, each with dropout, a residual connection and layer
    norm (after each block, or before with ``norm_first``), as PyTorch's layer."""

    def __init__(
        self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
        norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        settings = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, bias, dtype)
        _build_layer(self, ("self_attn",), norm_first, *settings)

    def forward(
        self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False
    ) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._feed_forward(self.norm2(x), self.dropout2)
        x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feed_forward(x, self.dropout2))


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (``layers.0`` ...) and an optional final ``norm``."""

    def __init__(
        self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
        enable_nested_tensor: bool = True, mask_check: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm

    def forward(
        self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None, is_causal: bool = False
    ) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask, is_causal)
        return self.norm(x) if self.norm is not None else x


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention over the target, attention to the encoder's ``memory``, and the feed-forward block, each
    with dropout, a residual connection and layer norm (after each block, or before with ``norm_first``)."""

    def __init__(
        self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
        norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        settings = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, bias, dtype)
        _build_layer(self, ("self_attn", "multihead_attn"), norm_first, *settings)

    def forward(
        self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
        tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:  # fmt: skip
        x = tgt
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._memory_attention(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            return x + self._feed_forward(self.norm3(x), self.dropout3)
        x = self.norm1(x + self._self_attention(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._memory_attention(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._feed_forward(x, self.dropout3))

    def _memory_attention(self, x: Tensor, memory: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        out, _ = self.multihead_attn(
            x, memory, memory, attn_mask=mask, key_padding_mask=padding, need_weights=False, is_causal=is_causal
        )
        return self.dropout2(out)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` (``layers.0`` ...) and an optional final ``norm``."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm

    def forward(
        self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
        tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None, tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:  # fmt: skip
        x = tgt
        for layer in self.layers:
            x = layer(
                x, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
                bool(tgt_is_causal), memory_is_causal,
            )  # fmt: skip
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """The encoder-decoder of Vaswani et al. (2017): ``num_encoder_layers`` encoder layers and
    ``num_decoder_layers`` decoder layers, each stack closed by a LayerNorm; weights of 2+ dimensions drawn with
    Xavier's uniform rule, as PyTorch's."""

    def __init__(
        self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
        dim_feedforward: int = 2048, dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = "relu",
        custom_encoder: Module | None = None, custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
        batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        settings = dict(
            dim_feedforward=dim_feedforward, dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
            batch_first=batch_first, norm_first=norm_first, bias=bias, dtype=dtype,
        )  # fmt: skip
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **settings)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, **settings)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        with no_grad():
            for p in self.parameters():
                if p.ndim > 1:
                    init.xavier_uniform_(p)

    def forward(
        self, src: Tensor, tgt: Tensor, src_mask: Any = None, tgt_mask: Any = None, memory_mask: Any = None,
        src_key_padding_mask: Any = None, tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None, tgt_is_causal: bool | None = None, memory_is_causal: bool = False,
    ) -> Tensor:  # fmt: skip
        memory = self.encoder(src, src_mask, src_key_padding_mask, bool(src_is_causal))
        return self.decoder(
            tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal,
            memory_is_causal,
        )  # fmt: skip

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above it (each position sees the earlier ones)."""
        mask = np.triu(np.full((sz, sz), -np.inf), 1)
        return Tensor(mask, dtype=dtype or "float32")
