"""deepgrad: reverse-mode automatic differentiation and neural networks on NumPy.

>>> import deepgrad
>>> x = deepgrad.tensor(2.0, requires_grad=True); y = deepgrad.tensor(3.0, requires_grad=True)
>>> z = deepgrad.tensor(-2.0, requires_grad=True)
>>> f = z * (x + y)
>>> f.backward()
>>> x.grad, y.grad, z.grad
(tensor(-2.), tensor(-2.), tensor(5.))
"""

from __future__ import annotations

from deepgrad import allocator, autograd, blas
from deepgrad.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from deepgrad.backend import (
    bool_,
    float16,
    float32,
    float64,
    get_rng_state,
    int8,
    int16,
    int32,
    int64,
    manual_seed,
    set_rng_state,
    uint8,
)
from deepgrad.creation import (
    BoolTensor,
    ByteTensor,
    DoubleTensor,
    FloatTensor,
    IntTensor,
    LongTensor,
    arange,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from deepgrad.devices import device, get_default_device, set_default_device
from deepgrad.functions import *  # noqa: F403  (exp, log, cat, stack, where, ... as module functions)
from deepgrad.functions import __all__ as _function_names
from deepgrad.io import load, save
from deepgrad.tensor import Size, Tensor
from deepgrad.threads import get_num_threads, set_num_threads

bool = bool_  # noqa: A001  (deepgrad.bool, as torch.bool)
float = float32  # noqa: A001
double = float64
long = int64
half = float16

__version__ = "0.1.0"

# glibc's malloc keeps freed blocks for the next step instead of faulting fresh pages in (deepgrad.allocator)
allocator.tune()
# OpenBLAS's worker threads sleep soon after a product instead of spinning on a core for 0.1 s (deepgrad.blas)
blas.shorten_thread_spin()

# Subpackages load on first use (`deepgrad.nn.Linear` after a plain `import deepgrad`), so importing the
# core stays cheap and never touches the optional extras.
# (``cuda``, ``backends``, ``accelerator``: PyTorch's device questions, answered for the CPU.)
_SUBPACKAGES = (
    "accelerator",
    "backends",
    "cuda",
    "data",
    "distributed",
    "errors",
    "models",
    "nn",
    "optim",
    "train",
    "utils",
    "vision",
    "viz",
)


def __getattr__(name: str) -> object:
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"deepgrad.{name}")
    raise AttributeError(f"module 'deepgrad' has no attribute {name!r}")


__all__ = [
    "BoolTensor",
    "ByteTensor",
    "DoubleTensor",
    "FloatTensor",
    "IntTensor",
    "LongTensor",
    "Size",
    "Tensor",
    "arange",
    "autograd",
    "bool_",
    "device",
    "double",
    "empty",
    "empty_like",
    "enable_grad",
    "eye",
    "float16",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "get_default_device",
    "get_rng_state",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "linspace",
    "load",
    "get_num_threads",
    "set_num_threads",
    "long",
    "manual_seed",
    "no_grad",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "bernoulli",
    "logspace",
    "multinomial",
    "normal",
    "randn",
    "randn_like",
    "randperm",
    "save",
    "set_default_device",
    "set_grad_enabled",
    "set_rng_state",
    "tensor",
    "uint8",
    "zeros",
    "zeros_like",
    *_function_names,
]
