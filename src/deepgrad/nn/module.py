"""`Module`, `Parameter` and the containers `Sequential`, `ModuleList`, `ModuleDict`.

A Module owns parameters (learnable Tensors), buffers (state that is saved but not learned, such as
batch norm's running mean) and sub-modules. All three are registered when assigned as attributes
(``self.fc = Linear(2, 3)``), in plain dicts, so iteration order is assignment order: parameters,
``state_dict`` keys and the printed tree always come out in the order the model was defined, with the
names PyTorch gives the same model (``fc.weight``, ``0.bias``, ``bn.running_mean``, ...).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.autograd.grad_mode import no_grad
from deepgrad.devices import check_device
from deepgrad.tensor import Tensor, _to_arguments, _to_array

__all__ = ["Module", "ModuleDict", "ModuleList", "Parameter", "RemovableHandle", "Sequential"]


def _rebuild_parameter(data: np.ndarray, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight: assigning it to a Module attribute registers it.

    ``Parameter(tensor)`` shares the tensor's data (as a leaf, outside any graph); a NumPy array is used
    as it is (dtype kept); other data follows ``deepgrad.tensor``'s rules. ``requires_grad`` defaults to True.

    >>> import deepgrad
    >>> w = deepgrad.nn.Parameter(deepgrad.zeros(2, 3))
    >>> w.requires_grad, w.is_leaf, w.shape
    (True, True, (2, 3))
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            array = np.empty((0,), dtype=backend.DEFAULT_FLOAT)
        elif isinstance(data, Tensor):
            array = data.array
        elif backend.is_array(data):
            array = data
        else:
            array = _to_array(data)
        self.array = array
        self.grad = None
        self.grad_fn = None
        self._requires_grad = False
        # a Parameter made from a Tensor shares its memory, so it shares its version counter too
        self._counter = data._shared_counter() if isinstance(data, Tensor) else None
        self._hooks = None
        self._retains_grad = False
        self.name = None
        self._view_of = None
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: Any) -> tuple:
        # pickling and copy.deepcopy: data and requires_grad, no gradient (as PyTorch)
        return (_rebuild_parameter, (self.array, self._requires_grad))


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends; ``handle.remove()`` unregisters the hook.

    Also a context manager: the hook is removed when the ``with`` block ends.
    """

    _ids = itertools.count()

    def __init__(self, hooks: dict) -> None:
        self.hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.remove()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _check_name(kind: str, owner: Module, name: Any, registry: dict) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
    if hasattr(owner, name) and name not in registry:
        raise KeyError(f"attribute '{name}' already exists")


def _as_array(value: Any, key: str) -> np.ndarray:
    """A state_dict value as a NumPy array: Tensors, NumPy arrays, and anything with ``__array__``."""
    if isinstance(value, Tensor):
        return value.array
    if backend.is_array(value):
        return value
    try:
        array = np.asarray(value)
    except Exception as error:  # e.g. a torch tensor that requires grad
        raise TypeError(
            f"load_state_dict: the value for '{key}' ({type(value).__name__}) is not an array: {error}"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"load_state_dict: the value for '{key}' has dtype {array.dtype}, expected numbers")
    return array


def _indent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class of every layer and model: subclass it, assign layers and Parameters in ``__init__``,
    and compute the output in ``forward``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(2, 8)
    ...         self.out = nn.Linear(8, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())
    >>> net = Net()
    >>> list(net.state_dict())
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> net(deepgrad.zeros(4, 2)).shape
    (4, 1)
    """

    training: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments (Module takes none)")
        # object.__setattr__: our __setattr__ looks these dicts up, so they must exist before it runs
        set_ = object.__setattr__
        set_(self, "training", True)
        set_(self, "_parameters", {})
        set_(self, "_buffers", {})
        set_(self, "_non_persistent_buffers", {})  # a dict used as an ordered set
        set_(self, "_modules", {})
        set_(self, "_forward_pre_hooks", {})
        set_(self, "_forward_hooks", {})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run forward pre-hooks, ``forward`` and forward hooks; without hooks, just ``forward``."""
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    # ------------------------------------------------------------------ registration

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep=params)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(deepgrad.nn.Parameter or None expected)"
                )
            params[name] = None
            return
        modules = self.__dict__.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep=modules)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' (Module or None expected)"
                )
            modules[name] = None
            return
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict) -> None:
        """Remove ``name`` from the instance dict and the registries other than ``keep``, where it is about
        to be (re-)registered; staying in ``keep`` keeps its place in the order, as in PyTorch."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # only called when ordinary lookup fails: parameters, buffers and sub-modules live in their dicts
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            store = d.get(registry)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.pop(name, None)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared but absent one such as ``bias=False``) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", self, name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(deepgrad.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add state that is not learned (saved in ``state_dict`` unless ``persistent=False``)."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", self, name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.pop(name, None)
        else:
            self._non_persistent_buffers[name] = None

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (the same as assigning ``self.<name> = module``)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass (adding '{name}' to {self._get_name()})")
        _check_name("module", self, name, self._modules)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ hooks

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before ``forward``; a returned value replaces the positional args."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after ``forward``; a returned value replaces the output."""
        return self._add_hook(self._forward_hooks, hook, prepend)

    def _add_hook(self, hooks: dict, hook: Callable[..., Any], prepend: bool) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(hooks)
        if prepend:
            items = list(hooks.items())
            hooks.clear()
            hooks[handle.id] = hook
            hooks.update(items)
        else:
            hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------------ traversal

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(name, module) for this module and every descendant, depth first, each module once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool) -> Iterator:
        if recurse:
            modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
        else:
            modules = iter([(prefix, self)])
        seen: set[int] = set()
        for module_prefix, module in modules:
            for name, member in getattr(module, registry).items():
                if member is None:
                    continue
                if remove_duplicate:
                    if id(member) in seen:
                        continue
                    seen.add(id(member))
                yield (f"{module_prefix}.{name}" if module_prefix else name), member

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs in definition order; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter once, in definition order (what an optimizer takes)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def get_submodule(self, target: str) -> Module:
        """The descendant named by a dotted path, e.g. ``"encoder.0"``; ``""`` is the module itself."""
        module = self
        if target == "":
            return module
        walked = []
        for part in target.split("."):
            child = module._modules.get(part)
            if child is None:
                where = ".".join(walked) or type(self).__name__
                raise AttributeError(f"{where} has no submodule '{part}' (looking up '{target}')")
            walked.append(part)
            module = child
        return module

    # ------------------------------------------------------------------ modes and bulk changes

    def train(self, mode: bool = True) -> Module:
        """Switch training mode (dropout active, batch norm on batch statistics) on or off; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (e.g. False to freeze a layer); returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: ``None`` (default, as PyTorch) or zeros in place."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.array[...] = 0

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first) and then on self, e.g. to re-initialise."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def _convert(self, dtype: Any) -> Module:
        """Cast floating-point parameters, their gradients and buffers to ``dtype``, keeping the objects."""
        dtype = backend.to_dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"modules can only be converted to a floating-point dtype, got {dtype}")
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            if tensor.dtype.kind == "f" and tensor.dtype != dtype:
                tensor.array = tensor.array.astype(dtype)
                if tensor.grad is not None:
                    tensor.grad.array = tensor.grad.array.astype(dtype)
        return self

    def to(self, dtype: Any = None, *args: Any, **kwargs: Any) -> Module:
        """``to(deepgrad.float64)`` (also ``to("cpu", dtype)``, ``to(dtype=...)``, ``to(tensor)``) converts the
        floating-point parameters and buffers; ``to("cpu")`` is a no-op."""
        dtype = _to_arguments((dtype, *args), kwargs)
        if dtype is None:
            return self
        return self._convert(dtype)

    def float(self) -> Module:
        return self._convert(backend.float32)

    def double(self) -> Module:
        return self._convert(backend.float64)

    def half(self) -> Module:
        return self._convert(backend.float16)

    def cpu(self) -> Module:
        return self

    def cuda(self, device: Any = None) -> Module:
        """Raises: there is no CUDA device here (use ``model.to(device)`` with ``device = "cpu"``)."""
        check_device("cuda" if device is None else device if isinstance(device, str) else f"cuda:{device}")
        return self

    # ------------------------------------------------------------------ state dict

    def state_dict(self, *, destination: Any = None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by dotted name (PyTorch's keys), as detached Tensors that
        share memory with the model (``keep_vars=True`` gives the Parameters themselves)."""
        if destination is None:
            destination = OrderedDict()
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=f"{prefix}{name}.", keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values (Tensors or NumPy arrays) into the parameters and buffers, in place, so optimizers
        holding the parameters keep working.

        Nothing is changed unless everything fits: a wrongly shaped entry always raises, and with
        ``strict=True`` so do missing and unexpected keys; one RuntimeError lists them all. Returns the
        missing and unexpected keys.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict expects a dict of name -> array, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        values = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = _as_array(state_dict[key], key)
            if value.shape != target.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from checkpoint, "
                    f"the shape in current model is {tuple(target.shape)}."
                )
            else:
                values[key] = value
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for key, value in values.items():
                own[key].copy_(value)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The module's own settings, shown in its repr, e.g. ``in_features=2, out_features=3, bias=True``."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_indent(repr(module), 2)}" for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


# ---------------------------------------------------------------------------------------------------
# containers


def _absolute_index(index: Any, length: int, owner: str) -> int:
    try:
        index = int(index)
    except TypeError:
        raise TypeError(f"{owner} indices must be integers or slices, not {type(index).__name__}") from None
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for a {owner} of length {length}")
    return index % length


class Sequential(Module):
    """Modules applied one after another: ``forward(x) = m_n(...m_2(m_1(x)))``.

    Children are named "0", "1", ... (or by the keys of an OrderedDict), so the state_dict keys are
    ``"0.weight"``, ``"0.bias"``, ... exactly as for ``torch.nn.Sequential``.

    >>> from deepgrad import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    >>> list(model.state_dict())
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                if not isinstance(module, Module):
                    raise TypeError(
                        f"Sequential: argument {index} is a {type(module).__name__}, not a Module "
                        "(wrap functions in a Module, e.g. nn.ReLU() instead of relu)"
                    )
                self.add_module(str(index), module)

    def forward(self, input: Any) -> Any:
        for module in self._modules.values():
            input = module(input)
        return input

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):  # a plain Sequential: subclasses (MLP) have other constructors
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        keys = list(self._modules)
        return self._modules[keys[_absolute_index(index, len(keys), "Sequential")]]

    def __setitem__(self, index: int, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_absolute_index(index, len(keys), "Sequential")], module)

    def __delitem__(self, index: Any) -> None:
        keys = list(self._modules)
        if isinstance(index, slice):
            for key in keys[index]:
                del self._modules[key]
        else:
            del self._modules[keys[_absolute_index(index, len(keys), "Sequential")]]
        # renumber, as PyTorch does, so that "0", "1", ... stay contiguous
        self.__dict__["_modules"] = {str(i): m for i, m in enumerate(self._modules.values())}

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: {type(module).__name__} is not a Module")
        items = list(self._modules.values())
        position = len(items) if index == len(items) else _absolute_index(index, len(items), "Sequential")
        items.insert(position, module)
        self.__dict__["_modules"] = {str(i): m for i, m in enumerate(items)}
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain Python list would hide them).

    >>> from deepgrad import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> len(list(layers.parameters()))
    6
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: Any) -> Any:
        values = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(values[index])
        return values[_absolute_index(index, len(values), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, str(_absolute_index(index, len(self), "ModuleList")), module)

    def __delitem__(self, index: Any) -> None:
        values = list(self._modules.values())
        if isinstance(index, slice):
            del values[index]
        else:
            del values[_absolute_index(index, len(values), "ModuleList")]
        self.__dict__["_modules"] = {str(i): m for i, m in enumerate(values)}

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList(list(self) + list(other))

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError(f"ModuleList.extend expects an iterable of modules, got a {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.insert: {type(module).__name__} is not a Module")
        values = list(self._modules.values())
        values.insert(index, module)
        self.__dict__["_modules"] = {str(i): m for i, m in enumerate(values)}

    def pop(self, index: int = -1) -> Module:
        module = self[index]
        del self[index]
        return module

    def __repr__(self) -> str:
        # consecutive identical children are shown once, as "(0-2): 3 x Linear(...)" (as PyTorch)
        reprs = [repr(module) for module in self]
        if not reprs:
            return self._get_name() + "()"
        lines = []
        start = 0
        while start < len(reprs):
            stop = start
            while stop + 1 < len(reprs) and reprs[stop + 1] == reprs[start]:
                stop += 1
            if stop == start:
                line = f"({start}): {reprs[start]}"
            else:
                line = f"({start}-{stop}): {stop - start + 1} x {reprs[start]}"
            lines.append(_indent(line, 2))
            start = stop + 1
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, in insertion order.

    >>> from deepgrad import nn
    >>> heads = nn.ModuleDict({"digit": nn.Linear(8, 10), "parity": nn.Linear(8, 2)})
    >>> list(heads.state_dict())
    ['digit.weight', 'digit.bias', 'parity.weight', 'parity.bias']
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module '{key}' (keys: {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for position, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update: element {position} is not a (name, module) pair")
            self[pair[0]] = pair[1]


def _parameter_line(param: Tensor, dtype_name: str) -> str:
    size = "x".join(str(n) for n in param.shape)
    return f"Parameter containing: [{dtype_name} of size {size}]"


class ParameterList(Module):
    """A list of parameters that the module registers (named "0", "1", ... in ``state_dict``)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        for value in values or ():
            self.append(value)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __getitem__(self, index: Any) -> Any:
        values = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(values[index])
        return values[_absolute_index(index, len(values), "ParameterList")]

    def __setitem__(self, index: int, value: Any) -> None:
        key = str(_absolute_index(index, len(self), "ParameterList"))
        self._parameters[key] = value if isinstance(value, Parameter) else Parameter(value)

    def append(self, value: Any) -> ParameterList:
        self.register_parameter(str(len(self)), value if isinstance(value, Parameter) else Parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(
            f"  ({key}): {_parameter_line(p, 'torch.' + str(p.dtype))}" for key, p in self._parameters.items()
        )


class ParameterDict(Module):
    """A dict of parameters that the module registers under their keys."""

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, value if isinstance(value, Parameter) else Parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def keys(self) -> Any:
        return self._parameters.keys()

    def values(self) -> Any:
        return self._parameters.values()

    def items(self) -> Any:
        return self._parameters.items()

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        for key, value in parameters.items() if isinstance(parameters, Mapping) else parameters:
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(f"  ({key}): {_parameter_line(p, p.type())}" for key, p in self._parameters.items())
