"""``Variable``: PyTorch's legacy wrapper, kept so old programs port; it is a plain Tensor now."""

from __future__ import annotations

import warnings
from typing import Any

from deepgrad.autograd.function import Function


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Any:  # noqa: N802  (torch's name)
    """``Variable(t, requires_grad=True)`` is ``t.detach().requires_grad_(True)`` (deprecated, with a warning).

    >>> import warnings, deepgrad
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     v = deepgrad.autograd.Variable(deepgrad.ones(2), requires_grad=True)
    >>> v.requires_grad, type(v).__name__
    (True, 'Tensor')
    """
    warnings.warn(
        "Variable is deprecated: Tensors are Variables; write the tensor itself, e.g. "
        "x.requires_grad_(True) or deepgrad.tensor(data, requires_grad=True)",
        DeprecationWarning,
        stacklevel=2,
    )
    tensor_class = Function.tensor_class
    tensor = data.detach() if isinstance(data, tensor_class) else tensor_class(data)
    return tensor.requires_grad_(requires_grad) if requires_grad else tensor
