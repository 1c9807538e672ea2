"""The backward engine: walk the graph in reverse topological order and apply the chain rule.

At every node: downstream gradient = upstream gradient x local gradient (the op's ``backward``).
``run_backward`` is that loop and nothing more: ``_run_node`` runs one node's backward, ``_deliver``
sends one of the gradients it returned to an input. Two mechanisms live in ``_deliver`` and nowhere else:

* **broadcasting undone** -- an op may return a gradient of its output's (broadcast) shape; ``sum_to``
  sums it down to the input's shape;
* **accumulation** -- a value used several times receives the sum of the gradients of its uses. The
  first gradient reaching a value is stored as is; later ones are added.

Where the gradients end up is a ``GradientSink``: ``AccumulateGrad`` adds them into the leaves' ``.grad``
(``Tensor.backward``), ``CaptureGrad`` keeps those of chosen inputs and touches no ``.grad``
(``autograd.grad``), ``TraceSink`` also shows every node's step to an observer (``viz.trace``).

The graph's edges are each node's ``parents``, the creators of its inputs taken when it was recorded, not
the inputs' ``grad_fn`` now: a tensor updated in place in the graph has a new creator (``Tensor._rebase``),
and the nodes that read it before must still send their gradients to the value they read.

The walk is iterative (Kahn's algorithm on dependency counts), so graph depth is unlimited. Arrays are
whatever array type the forward pass produced: every allocation here follows an existing array
(``like=``, ``np.ones_like``), so an array library that follows NumPy's protocols flows through unconverted.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import set_grad_enabled
from deepgrad.backend import is_array


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


# ---------------------------------------------------------------------------------------------------
# The loop


def run_backward(
    roots: Sequence[Any],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    sink: GradientSink | None = None,
) -> Any:
    """Backpropagate ``root_grads`` from ``roots`` and hand the results to ``sink``; return ``sink.result()``.

    The default sink accumulates into the leaves' ``.grad`` (``Tensor.backward``). Gradients are arrays,
    or Tensors when ``create_graph`` is set.
    """
    if sink is None:
        sink = AccumulateGrad(create_graph)
    pending: dict[Function, Any] = {}  # node -> the gradient of its output, summed over the uses seen so far
    leaf_grads: dict[int, list] = {}  # id(leaf) -> [leaf, its gradient summed over the uses seen so far]
    # The engine holds each pending node's output tensor: releasing a node drops its inputs, which
    # are the outputs of the nodes still to come.
    outputs: dict[Function, Any] = {}
    for root, grad in zip(roots, root_grads):
        _deliver(None, root, root.grad_fn, grad, pending, leaf_grads)
        if root.grad_fn is not None:
            outputs[root.grad_fn] = root
    counts = _topological_counts(list(outputs))
    ready = [fn for fn in outputs if counts.get(fn, 0) == 0]
    watched = sink.watched

    with set_grad_enabled(create_graph):
        while ready:
            fn = ready.pop()
            out = outputs.pop(fn)
            grad = pending.pop(fn, None)
            if grad is None:  # reached by the walk, but no gradient flows into it
                input_grads = _NO_GRADIENTS
            else:
                grad, input_grads = _run_node(fn, out, grad, create_graph)
            for tensor, parent, input_grad, need in zip(fn.inputs, fn.parents, input_grads, fn.needs_input_grad):
                if input_grad is not None and need:
                    _deliver(fn, tensor, parent, input_grad, pending, leaf_grads)
                if parent is not None:
                    outputs[parent] = tensor
                    counts[parent] -= 1
                    if counts[parent] == 0:
                        ready.append(parent)
            if grad is not None and fn in watched:
                sink.step(fn, out, grad, input_grads)
            if not retain_graph:
                fn.release()
        for leaf, grad in leaf_grads.values():
            sink.leaf(leaf, grad)
    return sink.result()


_NO_GRADIENTS = repeat(None)  # the input gradients of a node no gradient reached: None for every input


def _run_node(fn: Function, out: Any, grad: Any, create_graph: bool) -> tuple[Any, tuple]:
    """One node's backward: the gradient of its output (after the output's hooks) and one gradient per
    input (None where there is none), each of the input's shape or of the output's broadcast shape."""
    if (out._hooks or out._retains_grad) and out.grad_fn is fn:  # (not for a value since updated in place)
        grad = _run_tensor_hooks(out, grad, create_graph)
    _check_versions(fn, out)
    inputs = fn.inputs
    if create_graph:
        if not isinstance(grad, Function.tensor_class):
            grad = Function.tensor_class._make(_as_array(grad, out.array), False, None)
        input_grads = fn.backward(grad, out, *inputs)
    else:
        input_grads = fn.backward(grad, out.array, *[t.array for t in inputs])
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if len(input_grads) < len(inputs):  # trailing inputs without a gradient
        input_grads += (None,) * (len(inputs) - len(input_grads))
    if fn.creation_site is not None:
        fn.creation_site.check_backward(fn, input_grads)
    return grad, input_grads


def _deliver(
    fn: Function | None, tensor: Any, parent: Function | None, grad: Any, pending: dict, leaf_grads: dict
) -> None:
    """Send ``grad`` (from node ``fn``, None for a root) to ``tensor``, made by ``parent`` (None: a leaf): fit
    it to the tensor's shape and dtype, then add it to the gradient already waiting at the parent, or at the leaf."""
    array = tensor.array  # (not tensor.shape/.dtype: two property calls per edge show in small models)
    if isinstance(grad, np.generic):  # NumPy's operators on 0-d arrays return scalars: a 0-d array again
        grad = np.asarray(grad)
    if grad.shape != array.shape or grad.dtype != array.dtype:
        grad = _fit(fn, tensor, grad)
    if parent is None:
        entry = leaf_grads.get(id(tensor))
        if entry is None:
            leaf_grads[id(tensor)] = [tensor, grad]
        else:
            entry[1] = entry[1] + grad
    elif parent in pending:
        pending[parent] = pending[parent] + grad
    else:
        pending[parent] = grad


def _fit(fn: Function | None, tensor: Any, grad: Any) -> Any:
    """``grad`` summed down to ``tensor``'s shape (undoing broadcasting) and cast to its dtype."""
    if grad.shape != tensor.shape:
        try:
            grad = sum_to(grad, tensor.shape)
        except RuntimeError:
            raise RuntimeError(
                f"{fn!r} returned a gradient of shape {tuple(grad.shape)} for an input of "
                f"shape {tensor.shape}: a gradient must have the input's shape (or broadcast to it)"
            ) from None
    if grad.dtype != tensor.dtype:
        grad = grad.astype(tensor.dtype)
    return grad


def _check_versions(fn: Function, out: Any) -> None:
    """Raise if a value this node's backward reads was changed in place since the forward pass."""
    if fn.uses_inputs:
        for position, (tensor, version) in enumerate(zip(fn.inputs, fn.versions)):
            if tensor._version != version and fn.reads_input(position):
                raise _modified_error(fn, f"input {position}", tensor, version)
    if fn.uses_result and out._version != fn.result_version and fn.reads_result():
        raise _modified_error(fn, "the output", out, fn.result_version)


def _modified_error(fn: Function, which: str, tensor: Any, version: int) -> RuntimeError:
    return RuntimeError(
        f"one of the values needed for gradient computation has been modified by an in-place "
        f"operation: {which} of {fn!r} (a {tensor.dtype} tensor of shape {tuple(tensor.shape)}) is at version "
        f"{tensor._version}, expected version {version}. "
        "Use an out-of-place operation, or clone() the value before modifying it."
    )


def _freed_graph_error(fn: Function) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time: the values {fn!r} saved for backward "
        "were freed after the first backward. Pass retain_graph=True to the first backward() "
        "(or autograd.grad) if you need to backward through the same graph again."
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
        for parent in fn.parents:
            if parent is not None:
                counts[parent] = counts.get(parent, 0) + 1
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
    return counts


# ---------------------------------------------------------------------------------------------------
# Sinks: where the gradients of a backward pass end up


class GradientSink:
    """Where a backward pass delivers its gradients; the base class receives them and keeps nothing.

    The engine calls ``step(fn, out, grad, input_grads)`` after the backward of every node in ``watched``
    (``grad``: the gradient of the node's output ``out``, after its hooks; ``input_grads``: one per input,
    as the backward returned them), then ``leaf(leaf, grad)`` once for every leaf the walk reached, with
    the sum of the gradients of its uses; ``run_backward`` returns ``result()``.
    """

    watched: Container[Function] = frozenset()

    def step(self, fn: Function, out: Any, grad: Any, input_grads: tuple) -> None:
        """A watched node ran its backward (its saved values are not freed yet)."""

    def leaf(self, leaf: Any, grad: Any) -> None:
        """The total gradient reaching a leaf."""

    def result(self) -> Any:
        return None


class AccumulateGrad(GradientSink):
    """``Tensor.backward``: run each leaf's hooks, then add its gradient into its ``.grad``."""

    def __init__(self, create_graph: bool = False) -> None:
        self.create_graph = create_graph
        self._stored: set[int] = set()  # ids of the arrays already handed to a leaf as its .grad

    def leaf(self, leaf: Any, grad: Any) -> None:
        if leaf._hooks:
            grad = _apply_hooks(leaf, grad, self.create_graph)
        if self.create_graph:
            _accumulate_graph(leaf, grad)
            return
        tensor_class = Function.tensor_class
        if isinstance(grad, tensor_class):
            grad = grad.array
        if leaf.grad is None:
            # A leaf owns its .grad array: copy views and arrays already handed to another leaf,
            # so in-place updates of one .grad (clipping, accumulation) never change another. The copy is
            # C-contiguous, as is any .grad (PyTorch's gradient layout contract): a backward may hand over a
            # transposed view (the im2col convolutions' weight gradients), and the optimizers' one-pass
            # updates walk contiguous arrays (ResNet-18's SGD step took 43 ms on four NumPy passes instead).
            if not _owns_memory(grad) or id(grad) in self._stored or not _c_contiguous(grad):
                grad = np.array(grad, dtype=leaf.dtype, copy=True, order="C", like=leaf.array)
            self._stored.add(id(grad))
            leaf.grad = tensor_class._make(grad, False, None)
        else:
            leaf.grad.array = leaf.grad.array + grad


def _accumulate_graph(leaf: Any, grad: Any) -> None:
    """``create_graph``: ``.grad`` becomes (or adds) a Tensor that is itself in the graph."""
    tensor_class = Function.tensor_class
    if not isinstance(grad, tensor_class):
        grad = tensor_class._make(_as_array(grad, leaf.array), False, None)
    if leaf.grad is None:
        # a broadcast gradient is a read-only view; .grad must take in-place updates (clipping, zero_grad)
        leaf.grad = grad if _writeable(grad.array) else grad.clone()
    else:
        leaf.grad = leaf.grad + grad


class CaptureGrad(GradientSink):
    """``autograd.grad``: keep the gradients reaching ``inputs`` (by ``id``); no ``.grad`` changes."""

    def __init__(self, inputs: Sequence[Any], create_graph: bool = False) -> None:
        self.create_graph = create_graph
        self.grads: dict[int, Any] = {}
        self.watched: dict[Function, Any] = {t.grad_fn: t for t in inputs if t.grad_fn is not None}
        self._leaves = {id(t) for t in inputs if t.grad_fn is None}

    def step(self, fn: Function, out: Any, grad: Any, input_grads: tuple) -> None:
        self.grads[id(self.watched[fn])] = grad

    def leaf(self, leaf: Any, grad: Any) -> None:
        if id(leaf) in self._leaves:
            # a leaf's hooks see (and may replace) its gradient in autograd.grad too, as in PyTorch
            self.grads[id(leaf)] = _apply_hooks(leaf, grad, self.create_graph) if leaf._hooks else grad

    def result(self) -> dict[int, Any]:
        return self.grads


class _EveryNode:
    """The container of all nodes: what a sink watching every step has as ``watched``."""

    def __contains__(self, fn: object) -> bool:
        return True


class TraceSink(AccumulateGrad):
    """Accumulate into ``.grad`` as ``Tensor.backward`` does, and show every node's step to
    ``observer(node, output, upstream, downstream)``: ``downstream`` holds the gradients the node sent to
    its inputs, summed to their shapes (None where none). ``viz.trace`` builds its tables from it."""

    watched = _EveryNode()

    def __init__(self, observer: Callable[[Function, Any, Any, list], None]) -> None:
        super().__init__(create_graph=False)
        self.observer = observer

    def step(self, fn: Function, out: Any, grad: Any, input_grads: tuple) -> None:
        sent = [
            _fit(fn, tensor, input_grad) if input_grad is not None and need else None
            for tensor, input_grad, need in zip(fn.inputs, input_grads, fn.needs_input_grad)
        ]
        self.observer(fn, out, grad, sent)


# ---------------------------------------------------------------------------------------------------
# Hooks and arrays


def _as_array(value: Any, like: Any) -> Any:
    """``value`` as an array of ``like``'s array type (a NumPy scalar a 0-d op returned becomes 0-d)."""
    return value if is_array(value) else np.asarray(value, like=like)


def _writeable(array: Any) -> bool:
    """False for read-only memory such as a broadcast view; array types without ``flags`` count as writeable."""
    flags = getattr(array, "flags", None)
    return flags is None or flags.writeable


def _c_contiguous(array: Any) -> bool:
    """Whether the array's elements lie in C order (true for array types without ``flags``)."""
    flags = getattr(array, "flags", None)
    return flags is None or bool(flags.c_contiguous)


def _owns_memory(array: Any) -> bool:
    """True for an array that is no view of another (``base`` None); unknown for other types, so False."""
    return is_array(array) and getattr(array, "base", array) is None


def _apply_hooks(tensor: Any, grad: Any, create_graph: bool) -> Any:
    """Run the tensor's ``register_hook`` functions; each sees the gradient and may replace it."""
    tensor_class = Function.tensor_class
    if not isinstance(grad, tensor_class):
        grad = _as_array(grad, tensor.array)
        if not _writeable(grad):
            grad = np.copy(grad)  # e.g. sum's broadcast view: a hook may want to change its gradient in place
        grad = tensor_class._make(grad, False, None)
    for hook in tensor._hooks:
        replaced = hook(grad)
        if replaced is not None:
            grad = replaced if isinstance(replaced, tensor_class) else tensor_class(replaced)
    return grad if create_graph else grad.array


def _run_tensor_hooks(tensor: Any, grad: Any, create_graph: bool) -> Any:
    """Hooks, then ``retain_grad``: an intermediate value keeps (a copy of) its gradient in ``.grad``."""
    tensor_class = Function.tensor_class
    if tensor._hooks:
        grad = _apply_hooks(tensor, grad, create_graph)
    if tensor._retains_grad:
        data = grad.array if isinstance(grad, tensor_class) else np.copy(grad)
        if tensor.grad is None:
            tensor.grad = tensor_class._make(data, False, None)
        else:
            tensor.grad = tensor_class._make(tensor.grad.array + data, False, None)
    return grad


# ---------------------------------------------------------------------------------------------------
# The public entry points


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
        data = np.ones_like(root.array)
        return tensor_class._make(data, False, None) if create_graph else data
    if is_array(gradient):
        gradient = tensor_class._make(np.array(gradient, dtype=root.dtype, copy=True, like=root.array), False, None)
    elif not isinstance(gradient, tensor_class):
        gradient = tensor_class(np.asarray(gradient), dtype=root.dtype)
    if gradient.shape != root.shape:
        raise RuntimeError(f"{name}: gradient has shape {gradient.shape} but the output has shape {root.shape}")
    if create_graph:
        return gradient
    array = gradient.array
    if type(array) is np.ndarray and array.dtype == root.dtype:
        # a read-only view instead of a copy (an activation-sized copy in every backward(gradient)): the
        # backward functions never write into their upstream gradient, and this view makes sure of it
        view = array.view()
        view.flags.writeable = False
        return view
    return np.array(array, dtype=root.dtype, copy=True, like=root.array)


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
        _check_grad_input(position, x)
    upstream = _as_list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if len(upstream) != len(outputs):
        raise ValueError(f"autograd.grad: {len(outputs)} outputs but {len(upstream)} grad_outputs")
    root_grads = []
    for position, (out, g) in enumerate(zip(outputs, upstream)):
        if not out.requires_grad:
            raise RuntimeError(
                f"autograd.grad: output {position} (shape {out.shape}) does not require grad: it does not "
                "depend on any input that requires grad"
            )
        root_grads.append(root_gradient(out, g, "autograd.grad", create_graph))
    captured = run_backward(outputs, root_grads, retain_graph, create_graph, CaptureGrad(inputs, create_graph))
    results = []
    for position, x in enumerate(inputs):
        g = captured.get(id(x))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"autograd.grad: input {position} (shape {x.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        if g is not None and not isinstance(g, Tensor):
            g = _as_array(g, x.array)
            g = Tensor._make(g if _owns_memory(g) else np.copy(g), False, None)
        results.append(g)
    return tuple(results)


def _check_grad_input(position: int, x: Any) -> None:
    if not isinstance(x, Function.tensor_class):
        raise TypeError(f"autograd.grad: input {position} is a {type(x).__name__}, not a Tensor")
    if x.dtype.kind != "f":
        raise RuntimeError(
            f"autograd.grad: cannot differentiate with respect to input {position}, a {x.dtype} tensor "
            f"of shape {x.shape}: only floating-point tensors have gradients"
        )
    if not x.requires_grad:
        raise RuntimeError(f"autograd.grad: input {position} (shape {x.shape}) does not require grad")


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
