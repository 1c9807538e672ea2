"""The backward engine: walk the graph in reverse topological order and apply the chain rule.

At every node: downstream gradient = upstream gradient x local gradient (the op's ``backward``).
Two mechanisms live here and nowhere else:

* **broadcasting undone** -- an op may return a gradient of its output's (broadcast) shape; ``sum_to``
  sums it down to the input's shape;
* **accumulation** -- a value used several times receives the sum of the gradients of its uses. The
  first gradient reaching a value is stored as is; later ones are added.

The walk is iterative (Kahn's algorithm on dependency counts), so graph depth is unlimited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import set_grad_enabled


def sum_to(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` (array or Tensor) over the axes that broadcasting added or stretched to reach ``shape``."""
    extra = grad.ndim - len(shape)
    # (a mismatch here is a backward that returned a wrongly shaped gradient, e.g. a user-defined Function)
    if extra < 0 or any(size != 1 and size != g for size, g in zip(shape, grad.shape[extra:])):
        raise RuntimeError(f"gradient of shape {tuple(grad.shape)} cannot be summed to shape {shape}")
    axes = tuple(range(extra)) + tuple(
        i + extra for i, size in enumerate(shape) if size == 1 and grad.shape[i + extra] != 1
    )
    if axes:
        grad = np.sum(grad, axis=axes, keepdims=True)
    if extra:
        grad = np.reshape(grad, shape)
    return grad


def _freed_graph_error(fn: Function) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time: the values {fn!r} saved for backward "
        "were freed after the first backward. Pass retain_graph=True to the first backward() "
        "(or autograd.grad) if you need to backward through the same graph again."
    )


def _check_versions(fn: Function, out: Any) -> None:
    """Raise if a value this node's backward reads was changed in place since the forward pass."""
    if fn.uses_inputs:
        for position, (tensor, version) in enumerate(zip(fn.inputs, fn.versions)):
            if tensor._version != version:
                raise _modified_error(fn, f"input {position}", tensor, version)
    if fn.uses_result and out._version != 0:
        raise _modified_error(fn, "the output", out, 0)


def _modified_error(fn: Function, which: str, tensor: Any, version: int) -> RuntimeError:
    return RuntimeError(
        f"one of the values needed for gradient computation has been modified by an in-place "
        f"operation: {which} of {fn!r} (a {tensor.dtype} tensor of shape {tuple(tensor.shape)}) is at version "
        f"{tensor._version}, expected version {version}. "
        "Use an out-of-place operation, or clone() the value before modifying it."
    )


def _topological_counts(roots: Sequence[Function]) -> dict[Function, int]:
    """For every node reachable from the roots: how many recorded uses its output has."""
    counts: dict[Function, int] = {}
    seen = set(roots)
    stack = list(roots)
    while stack:
        fn = stack.pop()
        if fn.inputs is None:
            raise _freed_graph_error(fn)
        for tensor in fn.inputs:
            parent = tensor.grad_fn
            if parent is not None:
                counts[parent] = counts.get(parent, 0) + 1
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
    return counts


def run_backward(
    roots: Sequence[Any],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Any] | None = None,
    observer: Callable[[Function, Any, Any, list], None] | None = None,
) -> dict[int, Any] | None:
    """Backpropagate ``root_grads`` from ``roots``.

    With ``inputs=None`` gradients accumulate into the ``.grad`` of the leaves (``Tensor.backward``);
    otherwise the gradients reaching ``inputs`` are returned by ``id`` and no ``.grad`` changes
    (``autograd.grad``). Gradients are arrays, or Tensors when ``create_graph`` is set.
    ``observer(node, output, upstream, downstream)`` is called after each node's backward, before its
    saved values are freed, with the gradients it sent to its inputs (None where none); ``viz.trace``
    uses it to show every step.
    """
    tensor_class = Function.tensor_class
    pending: dict[Function, Any] = {}
    leaf_grads: dict[int, list] = {}  # id -> [leaf, grad]
    captured: dict[int, Any] = {}
    capture_nodes = {}
    if inputs is not None:
        capture_ids = {id(t) for t in inputs}
        capture_nodes = {t.grad_fn: t for t in inputs if t.grad_fn is not None}

    def send_to_leaf(leaf: Any, grad: Any) -> None:
        entry = leaf_grads.get(id(leaf))
        if entry is None:
            leaf_grads[id(leaf)] = [leaf, grad]
        else:
            entry[1] = entry[1] + grad

    # The engine holds each pending node's output tensor: releasing a node drops its inputs, which
    # are the outputs of the nodes still to come.
    outputs: dict[Function, Any] = {}
    root_nodes = []
    for root, grad in zip(roots, root_grads):
        if root.grad_fn is None:
            send_to_leaf(root, grad)
        elif root.grad_fn in pending:
            pending[root.grad_fn] = pending[root.grad_fn] + grad
        else:
            pending[root.grad_fn] = grad
            outputs[root.grad_fn] = root
            root_nodes.append(root.grad_fn)

    counts = _topological_counts(root_nodes)
    ready = [fn for fn in root_nodes if counts.get(fn, 0) == 0]

    with set_grad_enabled(create_graph):
        while ready:
            fn = ready.pop()
            grad = pending.pop(fn, None)
            fn_inputs = fn.inputs
            out = outputs.pop(fn)
            if grad is not None:
                if out._hooks or out._retains_grad:
                    grad = _run_tensor_hooks(out, grad, create_graph)
                if fn in capture_nodes:
                    captured[id(capture_nodes[fn])] = grad
                _check_versions(fn, out)
                if create_graph:
                    if not isinstance(grad, tensor_class):
                        grad = tensor_class._make(np.asarray(grad), False, None)
                    input_grads = fn.backward(grad, out, *fn_inputs)
                else:
                    input_grads = fn.backward(grad, out.array, *[t.array for t in fn_inputs])
                if type(input_grads) is not tuple:
                    input_grads = (input_grads,)
                if len(input_grads) < len(fn_inputs):  # trailing inputs without a gradient
                    input_grads += (None,) * (len(fn_inputs) - len(input_grads))
                if fn.creation_site is not None:
                    fn.creation_site.check_backward(fn, input_grads)
                needs = fn.needs_input_grad
            else:
                input_grads = needs = (None,) * len(fn_inputs)

            sent: list = []
            for tensor, input_grad, need in zip(fn_inputs, input_grads, needs):
                parent = tensor.grad_fn
                if parent is not None:
                    outputs[parent] = tensor
                if input_grad is not None and need:
                    if input_grad.shape != tensor.shape:
                        try:
                            input_grad = sum_to(input_grad, tensor.shape)
                        except RuntimeError:
                            raise RuntimeError(
                                f"{fn!r} returned a gradient of shape {tuple(input_grad.shape)} for an input of "
                                f"shape {tensor.shape}: a gradient must have the input's shape (or broadcast to it)"
                            ) from None
                    if input_grad.dtype != tensor.dtype:
                        input_grad = input_grad.astype(tensor.dtype)
                    if parent is None:
                        send_to_leaf(tensor, input_grad)
                    elif parent in pending:
                        pending[parent] = pending[parent] + input_grad
                    else:
                        pending[parent] = input_grad
                if observer is not None:
                    sent.append(input_grad if need else None)
                if parent is not None:
                    remaining = counts[parent] - 1
                    counts[parent] = remaining
                    if remaining == 0:
                        ready.append(parent)
            if observer is not None and grad is not None:
                observer(fn, out, grad, sent)
            if not retain_graph:
                fn.release()

        if inputs is not None:
            for key, (leaf, grad) in leaf_grads.items():
                if key in capture_ids:
                    # a leaf's hooks see (and may replace) its gradient in autograd.grad too, as in PyTorch
                    captured[key] = _apply_hooks(leaf, grad, create_graph) if leaf._hooks else grad
            return captured
        _accumulate_into_leaves(leaf_grads.values(), create_graph)
    return None


def _apply_hooks(tensor: Any, grad: Any, create_graph: bool) -> Any:
    """Run the tensor's ``register_hook`` functions; each sees the gradient and may replace it."""
    tensor_class = Function.tensor_class
    if not isinstance(grad, tensor_class) and not np.asarray(grad).flags.writeable:
        grad = np.array(grad)  # e.g. sum's broadcast view: a hook may want to change its gradient in place
    wrapped = grad if isinstance(grad, tensor_class) else tensor_class._make(np.asarray(grad), False, None)
    for hook in tensor._hooks:
        replaced = hook(wrapped)
        if replaced is not None:
            wrapped = replaced if isinstance(replaced, tensor_class) else tensor_class(replaced)
    return wrapped if create_graph else wrapped.array


def _run_tensor_hooks(tensor: Any, grad: Any, create_graph: bool) -> Any:
    """Hooks, then ``retain_grad``: an intermediate value keeps (a copy of) its gradient in ``.grad``."""
    tensor_class = Function.tensor_class
    if tensor._hooks:
        grad = _apply_hooks(tensor, grad, create_graph)
    if tensor._retains_grad:
        data = grad.array if isinstance(grad, tensor_class) else np.array(grad, copy=True)
        if tensor.grad is None:
            tensor.grad = tensor_class._make(np.asarray(data), False, None)
        else:
            tensor.grad = tensor_class._make(tensor.grad.array + data, False, None)
    return grad


def _accumulate_into_leaves(entries: Any, create_graph: bool) -> None:
    tensor_class = Function.tensor_class
    stored: set[int] = set()
    for leaf, grad in entries:
        if leaf._hooks:
            grad = _apply_hooks(leaf, grad, create_graph)
        if create_graph:
            if not isinstance(grad, tensor_class):
                grad = tensor_class._make(np.asarray(grad), False, None)
            if leaf.grad is None:
                # a broadcast gradient is a read-only view; .grad must take in-place updates (clipping, zero_grad)
                leaf.grad = grad if grad.array.flags.writeable else grad.clone()
            else:
                leaf.grad = leaf.grad + grad
            continue
        if isinstance(grad, tensor_class):
            grad = grad.array
        if leaf.grad is None:
            # A leaf owns its .grad array: copy views and arrays already handed to another leaf,
            # so in-place updates of one .grad (clipping, accumulation) never change another.
            if type(grad) is not np.ndarray or grad.base is not None or id(grad) in stored:
                grad = np.array(grad, dtype=leaf.dtype, copy=True)
            stored.add(id(grad))
            leaf.grad = tensor_class._make(grad, False, None)
        else:
            leaf.grad.array = leaf.grad.array + grad


def root_gradient(root: Any, gradient: Any, name: str, create_graph: bool) -> Any:
    """The gradient that starts backward at ``root``: ones for one-element outputs, else ``gradient``."""
    tensor_class = Function.tensor_class
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError(
                f"{name}: the output has shape {root.shape}; a gradient can be implied only for one-element "
                "outputs. Pass gradient= (the upstream gradient, same shape as the output), or reduce "
                "the output first, e.g. out.sum().backward()"
            )
        data = np.ones(root.shape, dtype=root.dtype)
        return tensor_class._make(data, False, None) if create_graph else data
    if not isinstance(gradient, tensor_class):
        gradient = tensor_class(np.asarray(gradient), dtype=root.dtype)
    if gradient.shape != root.shape:
        raise RuntimeError(f"{name}: gradient has shape {gradient.shape} but the output has shape {root.shape}")
    if create_graph:
        return gradient
    return np.array(gradient.array, dtype=root.dtype, copy=True)


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (tuple, list)) else [x]


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned (not added to ``.grad``).

    ``grad_outputs`` are the upstream gradients (needed for outputs with more than one element);
    with ``create_graph=True`` the returned gradients are in the graph and can be differentiated
    again (second derivatives, Hessian-vector products).

    >>> import deepgrad
    >>> x = deepgrad.tensor(2.0, requires_grad=True)
    >>> (dx,) = deepgrad.autograd.grad(x ** 3, x, create_graph=True)
    >>> deepgrad.autograd.grad(dx, x)[0]   # d2/dx2 x^3 = 6x
    tensor(12.)
    """
    Tensor = Function.tensor_class
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    if retain_graph is None:
        retain_graph = create_graph
    for position, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"autograd.grad: input {position} is a {type(x).__name__}, not a Tensor")
        if x.dtype.kind != "f":
            raise RuntimeError(
                f"autograd.grad: cannot differentiate with respect to input {position}, a {x.dtype} tensor "
                f"of shape {x.shape}: only floating-point tensors have gradients"
            )
        if not x.requires_grad:
            raise RuntimeError(f"autograd.grad: input {position} (shape {x.shape}) does not require grad")
    upstream = _as_list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if len(upstream) != len(outputs):
        raise ValueError(f"autograd.grad: {len(outputs)} outputs but {len(upstream)} grad_outputs")
    roots, root_grads = [], []
    for position, (out, g) in enumerate(zip(outputs, upstream)):
        if not out.requires_grad:
            raise RuntimeError(
                f"autograd.grad: output {position} (shape {out.shape}) does not require grad: it does not "
                "depend on any input that requires grad"
            )
        roots.append(out)
        root_grads.append(root_gradient(out, g, "autograd.grad", create_graph))
    captured = run_backward(roots, root_grads, retain_graph, create_graph, inputs=inputs)
    results = []
    for position, x in enumerate(inputs):
        g = captured.get(id(x))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"autograd.grad: input {position} (shape {x.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            results.append(None)
        elif isinstance(g, Tensor):
            results.append(g)
        else:
            results.append(Tensor._make(g if g.base is None else g.copy(), False, None))
    return tuple(results)


def backward(
    tensors: Sequence[Any] | Any,
    grad_tensors: Sequence[Any] | Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Backpropagate from several outputs at once, accumulating into the leaves' ``.grad``."""
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) if grad_tensors is not None else [None] * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    for t in tensors:
        if not t.requires_grad:
            raise RuntimeError(f"backward: a tensor of shape {t.shape} does not require grad")
    root_grads = [root_gradient(t, g, "backward", create_graph) for t, g in zip(tensors, grads)]
    run_backward(tensors, root_grads, retain_graph, create_graph)
