"""Matrix products. Batch dimensions broadcast; the engine sums their gradients back."""

from __future__ import annotations

import numpy as np

from deepgrad.autograd.function import Function


def _mT(x):
    return np.swapaxes(x, -1, -2)


class Einsum(Function):
    """z = einsum(equation, *operands): products of the operands' elements over the letters they share, summed
    over the letters not in the output. The gradient of operand i is einsum again: grad (the output's letters)
    with the other operands, onto operand i's letters; a letter only operand i has (summed in it alone) gets
    the same gradient all along it (a broadcast)."""

    def forward(self, *operands, equation):
        self.terms, self.output = _einsum_subscripts(equation, [np.ndim(op) for op in operands])
        return np.einsum(f"{','.join(self.terms)}->{self.output}", *operands, optimize=True)

    def backward(self, grad, result, *operands):
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            others = [op for j, op in enumerate(operands) if j != i]
            other_terms = [term for j, term in enumerate(self.terms) if j != i]
            target = self.terms[i]
            present = set(self.output).union(*other_terms)
            kept = "".join(letter for letter in target if letter in present)
            part = Einsum.call(grad, *others, equation=f"{','.join([self.output, *other_terms])}->{kept}")
            if kept != target:
                alone = tuple(k for k, letter in enumerate(target) if letter not in present)
                part = np.broadcast_to(np.expand_dims(part, alone), tuple(operands[i].shape))
            grads.append(part)
        return tuple(grads)

    def reads_input(self, position):
        return any(need for j, need in enumerate(self.needs_input_grad) if j != position)


def _einsum_subscripts(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """Each operand's letters and the output's, with ``...`` written out as spare capital letters (right-aligned,
    as NumPy broadcasts it) and an implicit output (no ``->``) made explicit: the letters used once, sorted."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"{equation!r} has subscripts for {len(terms)} operands, {len(ndims)} were given")
    spare = [letter for letter in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if letter not in equation]
    widest = max([ndim - (len(term) - 3) for term, ndim in zip(terms, ndims) if "..." in term], default=0)
    ellipsis = "".join(spare[:widest][::-1])
    written = []
    for position, (term, ndim) in enumerate(zip(terms, ndims)):
        if "..." in term:
            count = ndim - (len(term) - 3)
            term = term.replace("...", ellipsis[len(ellipsis) - count :] if count > 0 else "")
        if len(term) != ndim or (term and not term.isalpha()):
            raise ValueError(f"operand {position} has {ndim} dimensions, subscripts {terms[position]!r}")
        repeated = sorted({letter for letter in term if term.count(letter) > 1})
        if repeated:
            raise ValueError(
                f"{repeated[0]!r} repeats within operand {position} ({terms[position]!r}), a diagonal: take "
                "it with diagonal() first"
            )
        written.append(term)
    if arrow:
        output = output.replace("...", ellipsis)
    else:
        letters = "".join(written)
        output = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis))
    return written, output


class Matmul(Function):
    """z = a @ b  (both at least 2-d);   da = grad @ b^T,  db = a^T @ grad"""

    def forward(self, a, b):
        return a @ b

    def backward(self, grad, result, a, b):
        needs_a, needs_b = self.needs_input_grad
        return (grad @ _mT(b) if needs_a else None), (_mT(a) @ grad if needs_b else None)

    def reads_input(self, position):
        return self.needs_input_grad[1 - position]  # da reads b, db reads a


class Linear(Function):
    """z = x @ W^T + b  (fused: one node for a layer);   dx = grad @ W,  dW = grad^T @ x,  db = sum(grad)"""

    def forward(self, x, weight, bias=None):
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    def backward(self, grad, result, x, weight, bias=None):
        needs = self.needs_input_grad
        grad_x = grad @ weight if needs[0] else None
        grad_weight = grad_bias = None
        if needs[1]:
            if grad.ndim == 2:
                grad_weight = _mT(grad) @ x
            else:  # fold leading batch dimensions into one
                grad_2d = np.reshape(grad, (-1, grad.shape[-1]))
                grad_weight = _mT(grad_2d) @ np.reshape(x, (-1, x.shape[-1]))
        if bias is not None and needs[2]:
            grad_bias = np.sum(np.reshape(grad, (-1, grad.shape[-1])), axis=0)
        return grad_x, grad_weight, grad_bias

    def reads_input(self, position):
        return position < 2 and self.needs_input_grad[1 - position]  # dx reads W, dW reads x, db neither
