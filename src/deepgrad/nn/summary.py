"""``deepgrad.nn.summary(model, input_shape)``: the layer / output shape / parameter-count table Keras users
know from ``model.summary()``, found by running one forward pass with forward hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.autograd.grad_mode import no_grad
from deepgrad.nn.module import Module
from deepgrad.tensor import Tensor

__all__ = ["LayerSummary", "ModelSummary", "summary"]


@dataclass
class LayerSummary:
    """One row: a layer's dotted name, class, output shape and parameter counts."""

    name: str
    type: str
    output_shape: Any
    num_params: int
    trainable_params: int


@dataclass
class ModelSummary:
    """What ``summary`` found; ``str()`` (and ``repr()``) is the table."""

    model_name: str
    input_shape: Any
    output_shape: Any
    layers: list[LayerSummary] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    param_bytes: int = 0

    def __str__(self) -> str:
        header = ("Layer (type)", "Output Shape", "Param #")
        rows = [
            (f"{layer.name} ({layer.type})", _format_shape(layer.output_shape), f"{layer.num_params:,}")
            for layer in self.layers
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) + 4 for i in range(3)]
        total_width = sum(widths)

        def line(cells: tuple[str, str, str]) -> str:
            return "".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

        parts = [
            f'Model: "{self.model_name}"',
            "-" * total_width,
            line(header),
            "=" * total_width,
            *(line(row) for row in rows),
            "=" * total_width,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Params size (MB): {self.param_bytes / 2**20:.2f}",
            f"Input shape: {_format_shape(self.input_shape)}",
            f"Output shape: {_format_shape(self.output_shape)}",
            "-" * total_width,
        ]
        return "\n".join(parts)

    __repr__ = __str__


def _format_shape(shape: Any) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    if isinstance(shape, tuple):
        return str(tuple(int(s) for s in shape))
    return str(shape)


def _shape_of(output: Any) -> Any:
    """The output's shape; a list of shapes for tuple/list outputs."""
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return [_shape_of(o) for o in output]
    return type(output).__name__


def _normalise_shapes(input_shape: Any) -> list[tuple[int, ...]]:
    if isinstance(input_shape, int):
        return [(input_shape,)]
    if isinstance(input_shape, (tuple, list)):
        if all(isinstance(s, (int, np.integer)) for s in input_shape):
            return [tuple(int(s) for s in input_shape)]
        if all(isinstance(s, (tuple, list)) for s in input_shape) and input_shape:
            return [tuple(int(d) for d in s) for s in input_shape]
    raise TypeError(
        f"summary: input_shape must be the shape of an input batch, e.g. (1, 784), or a list of such shapes; "
        f"got {input_shape!r}"
    )


def summary(model: Module, input_shape: Any, dtype: Any = None) -> ModelSummary:
    """Layers in the order they run, with output shapes and parameter counts, and the totals.

    ``input_shape`` is the shape of an input batch, batch dimension included (as torchinfo's
    ``input_size``): ``(1, 784)`` for an MLP on flattened MNIST. Give a list of shapes for a model taking
    several inputs. The model runs once on zeros in eval mode under ``no_grad`` (its modes, statistics and
    the random state are left as they were). Rows are the modules without children plus any module holding
    parameters of its own; the totals count every parameter of the model once (buffers such as batch norm's
    running statistics are not parameters and are not counted).

    >>> from deepgrad import nn
    >>> model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    >>> result = nn.summary(model, (1, 784))
    >>> result.total_params
    407050
    >>> print(result)  # doctest: +NORMALIZE_WHITESPACE
    Model: "Sequential"
    -------------------------------------------
    Layer (type)    Output Shape    Param #
    ===========================================
    0 (Linear)      (1, 512)        401,920
    1 (ReLU)        (1, 512)        0
    2 (Linear)      (1, 10)         5,130
    ===========================================
    Total params: 407,050
    Trainable params: 407,050
    Non-trainable params: 0
    Params size (MB): 1.55
    Input shape: (1, 784)
    Output shape: (1, 10)
    -------------------------------------------
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected a deepgrad.nn.Module, got {type(model).__name__}")
    shapes = _normalise_shapes(input_shape)
    params = list(model.parameters())
    if dtype is None:
        floating = [p.dtype for p in params if p.dtype.kind == "f"]
        dtype = floating[0] if floating else backend.DEFAULT_FLOAT
    dtype = backend.to_dtype(dtype)
    names = {id(module): name for name, module in model.named_modules()}
    rows: list[LayerSummary] = []

    def record(module: Module, args: Any, output: Any) -> None:
        own = [p for p in module._parameters.values() if p is not None]
        if module._modules and not own:
            return  # a container: its children get the rows
        rows.append(
            LayerSummary(
                name=names.get(id(module), "") or type(module).__name__,
                type=type(module).__name__,
                output_shape=_shape_of(output),
                num_params=sum(p.numel() for p in own),
                trainable_params=sum(p.numel() for p in own if p.requires_grad),
            )
        )

    modes = [(module, module.training) for module in model.modules()]
    handles = [module.register_forward_hook(record) for module in model.modules()]
    try:
        model.eval()
        inputs = [Tensor._make(np.zeros(shape, dtype=dtype), False, None) for shape in shapes]
        with no_grad():
            output = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            object.__setattr__(module, "training", mode)

    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return ModelSummary(
        model_name=type(model).__name__,
        input_shape=shapes[0] if len(shapes) == 1 else shapes,
        output_shape=_shape_of(output),
        layers=rows,
        total_params=total,
        trainable_params=trainable,
        non_trainable_params=total - trainable,
        param_bytes=sum(p.numel() * p.dtype.itemsize for p in params),
    )
