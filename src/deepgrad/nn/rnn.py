"""Recurrent layers with PyTorch's arguments, parameter names and shapes: `RNN`, `LSTM`, `GRU` and their cells.

Each is a composite of the primitives: the input's contribution to every gate is one matrix product over all
time steps at once (``x @ W_ih^T + b_ih``), then each step adds ``h @ W_hh^T + b_hh`` and applies the gates, so
backpropagation through time is the engine walking the unrolled graph. The gate layouts are PyTorch's:
LSTM (i, f, g, o), GRU (r, z, n), so a state dict moves between the two frameworks as it is.
"""

from __future__ import annotations

import math
from typing import Any

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.creation import empty, zeros
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module, Parameter
from deepgrad.tensor import Tensor, cat, stack

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _step(mode: str, pre: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None) -> tuple:
    """One time step from the input's gate pre-activations ``pre`` (x W_ih^T + b_ih) and the state (h, c)."""
    hidden = h.matmul(w_hh.T)
    if b_hh is not None:
        hidden = hidden + b_hh
    if mode == "RNN_TANH":
        return (pre + hidden).tanh(), None
    if mode == "RNN_RELU":
        return (pre + hidden).relu(), None
    size = h.shape[-1]
    if mode == "LSTM":
        gates = pre + hidden
        i, f, g, o = (gates[..., k * size : (k + 1) * size] for k in range(4))
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c.tanh(), c
    # GRU: the reset gate scales the hidden state's part of the candidate only (PyTorch's formulation)
    r = (pre[..., :size] + hidden[..., :size]).sigmoid()
    z = (pre[..., size : 2 * size] + hidden[..., size : 2 * size]).sigmoid()
    n = (pre[..., 2 * size :] + r * hidden[..., 2 * size :]).tanh()
    return (1 - z) * n + z * h, None


def _register_weights(
    module: Module, mode: str, input_size: int, hidden_size: int, bias: bool, suffix: str, dtype: Any, device: Any
) -> None:
    """weight_ih, weight_hh (and bias_ih, bias_hh) + ``suffix``, drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)) as
    PyTorch's, with the gates stacked along the rows."""
    gates, bound = _GATES[mode] * hidden_size, 1.0 / math.sqrt(hidden_size)
    shapes = {"weight_ih": (gates, input_size), "weight_hh": (gates, hidden_size)}
    if bias:
        shapes.update(bias_ih=(gates,), bias_hh=(gates,))
    for kind, shape in shapes.items():
        with no_grad():
            value = empty(*shape, dtype=dtype, device=device).uniform_(-bound, bound)
        module.register_parameter(f"{kind}{suffix}", Parameter(value))


class _RNNBase(Module):
    def __init__(
        self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
        batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
        device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise ValueError(f"{name}: proj_size is not supported (LSTM with projections); leave it 0")
        if not 0 <= dropout < 1:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        if hidden_size < 1 or num_layers < 1:
            raise ValueError(f"{name}: hidden_size and num_layers must be positive, got {hidden_size}, {num_layers}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), bidirectional
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ["", "_reverse"][:directions]:
                _register_weights(self, mode, layer_input, hidden_size, bias, f"_l{layer}{suffix}", dtype, device)

    def _weights(self, layer: int, suffix: str) -> tuple:
        get = self._parameters.get
        key = f"l{layer}{suffix}"
        return get(f"weight_ih_{key}"), get(f"weight_hh_{key}"), get(f"bias_ih_{key}"), get(f"bias_hh_{key}")

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        name = type(self).__name__
        unbatched = input.ndim == 2
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input (L, N, {self.input_size}) (batch_first: (N, L, {self.input_size})) or "
                f"(L, {self.input_size}), got shape {input.shape}"
            )
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * directions, x.shape[1], self.hidden_size)
        h0, c0 = self._initial_state(hx, state_shape, x, unbatched)
        final_h, final_c = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(["", "_reverse"][:directions]):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, suffix)
                pre = x.matmul(w_ih.T)
                if b_ih is not None:
                    pre = pre + b_ih
                index = layer * directions + direction
                h, c = h0[index], (c0[index] if c0 is not None else None)
                steps = range(x.shape[0] - 1, -1, -1) if direction else range(x.shape[0])
                sequence = [None] * x.shape[0]
                for t in steps:
                    h, c = _step(self.mode, pre[t], h, c, w_hh, b_hh)
                    sequence[t] = h
                outputs.append(stack(sequence))
                final_h.append(h)
                final_c.append(c)
            x = outputs[0] if directions == 1 else cat(outputs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout)
        h_n = stack(final_h)
        output = x.squeeze(1) if unbatched else (x.transpose(0, 1) if self.batch_first else x)
        if unbatched:
            h_n = h_n.squeeze(1)
        if self.mode != "LSTM":
            return output, h_n
        c_n = stack(final_c)
        return output, (h_n, c_n.squeeze(1) if unbatched else c_n)

    def _initial_state(self, hx: Any, shape: tuple, x: Tensor, unbatched: bool) -> tuple:
        """(h0, c0) as (layers * directions, N, hidden): zeros unless given (unbatched: without N)."""
        name = type(self).__name__
        if hx is None:
            h = zeros(*shape, dtype=x.dtype)
            return h, (zeros(*shape, dtype=x.dtype) if self.mode == "LSTM" else None)
        states = hx if self.mode == "LSTM" else (hx,)
        if self.mode == "LSTM" and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"{name}: hx must be the pair (h_0, c_0)")
        given = [s.unsqueeze(1) if unbatched else s for s in states]
        for state in given:
            if tuple(state.shape) != shape:
                raise ValueError(f"{name}: expected an initial state of shape {shape}, got {tuple(state.shape)}")
        return given[0], (given[1] if self.mode == "LSTM" else None)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(_RNNBase):
    """h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (``nonlinearity="relu"``: relu), over the
    sequence; ``num_layers`` stacked, ``bidirectional`` also from the end. Returns (output, h_n)."""

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh", **kwargs: Any
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers, **kwargs)


class LSTM(_RNNBase):
    """Long short-term memory (Hochreiter and Schmidhuber, 1997), PyTorch's gates (i, f, g, o):
    c_t = f c_{t-1} + i g,  h_t = o tanh(c_t). Returns (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs: Any) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, **kwargs)


class GRU(_RNNBase):
    """Gated recurrent unit (Cho et al., 2014), PyTorch's gates (r, z, n):
    n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h_t = (1 - z) n + z h_{t-1}. Returns (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs: Any) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, **kwargs)


class _CellBase(Module):
    def __init__(
        self, mode: str, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bias
        _register_weights(self, mode, input_size, hidden_size, bias, "", dtype, device)

    def forward(self, input: Tensor, hx: Any = None) -> Any:
        name = type(self).__name__
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input (N, {self.input_size}) or ({self.input_size},), got shape {input.shape}"
            )
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        shape = (x.shape[0], self.hidden_size)
        if hx is None:
            h, c = zeros(*shape, dtype=x.dtype), (zeros(*shape, dtype=x.dtype) if self.mode == "LSTM" else None)
        elif self.mode == "LSTM":
            h, c = (s.unsqueeze(0) if unbatched else s for s in hx)
        else:
            h, c = (hx.unsqueeze(0) if unbatched else hx), None
        pre = x.matmul(self.weight_ih.T)
        if self.bias:
            pre = pre + self.bias_ih
        h, c = _step(self.mode, pre, h, c, self.weight_hh, self.bias_hh if self.bias else None)
        if unbatched:
            h, c = h.squeeze(0), (c.squeeze(0) if c is not None else None)
        return (h, c) if self.mode == "LSTM" else h

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")
        return text + (", nonlinearity=relu" if self.mode == "RNN_RELU" else "")


class RNNCell(_CellBase):
    """One step of RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", **kwargs: Any
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, bias, **kwargs)


class LSTMCell(_CellBase):
    """One step of LSTM: returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, **kwargs: Any) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, **kwargs)


class GRUCell(_CellBase):
    """One step of GRU: returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, **kwargs: Any) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, **kwargs)
