"""Arithmetic: the elementwise operations of two tensors, and the matrix product.

Every binary operation broadcasts as NumPy does; its backward sums each gradient back to its
input's shape (`sum_to`). With ``gy`` the gradient of the output:

- ``y = a + b``: ``ga = gy``, ``gb = gy``; ``y = a - b``: ``ga = gy``, ``gb = -gy``;
- ``y = a * b``: ``ga = gy * b``, ``gb = gy * a``; ``y = a / b``: ``ga = gy / b``,
  ``gb = -gy * a / b**2``;
- ``y = a ** b``: ``ga = gy * b * a**(b - 1)``, ``gb = gy * y * log(a)``;
- ``y = -x``: ``gx = -gy``;
- ``y = maximum(a, b)`` (or minimum): the gradient goes to the larger (smaller) input, half
  to each on a tie; ``y = where(c, a, b)``: ``ga = gy`` where ``c`` holds, ``gb`` elsewhere;
- ``y = a @ b``: ``ga = gy @ bᵀ``, ``gb = aᵀ @ gy`` (ᵀ swaps the last two axes), summed over
  broadcast batch axes; ``y = x @ W + b`` as one node (`linear`) has those gradients for
  ``x`` and ``W``, and ``gb = gy`` summed over every axis but the last.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Function, Grad, Operand, Tensor
from ..core.types import Array
from .elementwise import log
from .ops import _lift, _run
from .shapes import reshape, sum_to, transpose


class _Binary(Function):
    """An elementwise ``y = f(a, b)`` with broadcasting. Subclasses give the local gradients
    ``gy * df/da`` and ``gy * df/db`` at the broadcast shape; the backward sums each back to
    its input's shape and skips the inputs that need none."""

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        a, b = self.saved_inputs()
        va, vb = self.args()
        ga = sum_to(self.grad_a(gy, va, vb), a.shape) if a.requires_grad else None
        gb = sum_to(self.grad_b(gy, va, vb), b.shape) if b.requires_grad else None
        return ga, gb

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        raise NotImplementedError

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        raise NotImplementedError


class Add(_Binary):
    """``y = a + b``: ``ga = gy``, ``gb = gy``."""

    def forward(self, a: Array, b: Array) -> Array:
        return a + b

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy

    grad_b = grad_a


def add(a: Operand, b: Operand) -> Tensor:
    """``a + b``, broadcasting."""
    return _run(Add(), a, b)


class Sub(_Binary):
    """``y = a - b``: ``ga = gy``, ``gb = -gy``."""

    def forward(self, a: Array, b: Array) -> Array:
        return a - b

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return -gy


def sub(a: Operand, b: Operand) -> Tensor:
    """``a - b``, broadcasting."""
    return _run(Sub(), a, b)


class Mul(_Binary):
    """``y = a * b``: ``ga = gy * b``, ``gb = gy * a``."""

    def forward(self, a: Array, b: Array) -> Array:
        return a * b

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy * b

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy * a


def mul(a: Operand, b: Operand) -> Tensor:
    """``a * b``, broadcasting."""
    return _run(Mul(), a, b)


class Div(_Binary):
    """``y = a / b``: ``ga = gy / b``, ``gb = -gy * a / b**2``."""

    def forward(self, a: Array, b: Array) -> Array:
        return a / b

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy / b

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return -gy * a / (b * b)


def div(a: Operand, b: Operand) -> Tensor:
    """``a / b``, broadcasting."""
    return _run(Div(), a, b)


class Pow(_Binary):
    """``y = a ** b``: ``ga = gy * b * a**(b - 1)`` (0 where b = 0, as PyTorch),
    ``gb = gy * y * log(a)`` (needs a > 0)."""

    def forward(self, a: Array, b: Array) -> Array:
        return self.save_output(np.power(a, b))

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        # Where b = 0 the exponent is raised to 1, so that a = 0 gives 0 * 0, not 0 * inf.
        return gy * b * a ** (b - 1 + (b == 0))

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy * self.output() * log(a)


def pow(a: Operand, b: Operand) -> Tensor:
    """``a ** b``, broadcasting."""
    return _run(Pow(), a, b)


class Neg(Function):
    """``y = -x``; ``gx = -gy``."""

    def forward(self, x: Array) -> Array:
        return -x

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (-gy,)


def neg(x: Operand) -> Tensor:
    """``-x``."""
    return _run(Neg(), x)


class Maximum(_Binary):
    """``y = maximum(a, b)``: the gradient goes to the larger input; ties split it in halves
    (as PyTorch does)."""

    def forward(self, a: Array, b: Array) -> Array:
        return np.maximum(a, b)

    def share_of_a(self) -> Array:
        """The part of each element's gradient that goes to ``a``: 1, 0, or 1/2 for a tie."""
        a, b = (x.data for x in self.saved_inputs())
        share: Array = ((a > b) + 0.5 * (a == b)).astype(np.result_type(a, b))
        return share

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy * self.share_of_a()

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy * (1 - self.share_of_a())


def maximum(a: Operand, b: Operand) -> Tensor:
    """Elementwise maximum, broadcasting."""
    return _run(Maximum(), a, b)


class Minimum(Maximum):
    """``y = minimum(a, b)``: the gradient goes to the smaller input; ties split it."""

    def forward(self, a: Array, b: Array) -> Array:
        return np.minimum(a, b)

    def share_of_a(self) -> Array:
        a, b = (x.data for x in self.saved_inputs())
        share: Array = ((a < b) + 0.5 * (a == b)).astype(np.result_type(a, b))
        return share


def minimum(a: Operand, b: Operand) -> Tensor:
    """Elementwise minimum, broadcasting."""
    return _run(Minimum(), a, b)


class Where(_Binary):
    """``y = where(condition, a, b)``: ``ga = gy`` where the condition holds, ``gb`` elsewhere."""

    def __init__(self, condition: Array) -> None:
        self.condition = condition

    def forward(self, a: Array, b: Array) -> Array:
        return np.where(self.condition, a, b)

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy * self.condition

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy * ~self.condition


def where(condition: Any, a: Operand, b: Operand) -> Tensor:
    """``a`` where ``condition`` holds, else ``b`` (a boolean array; all three broadcast)."""
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if condition.dtype != bool:
        raise TypeError(f"where() needs a boolean condition, got dtype {condition.dtype}")
    return _run(Where(condition), a, b)


class MatMul(Function):
    """``y = a @ b`` for a, b of 2 or more dimensions (batches broadcast):
    ``ga = gy @ bᵀ``, ``gb = aᵀ @ gy`` (ᵀ swaps the last two axes), summed over broadcast
    batch axes."""

    def forward(self, a: Array, b: Array) -> Array:
        y: Array = np.matmul(a, b)
        return y

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return _matmul_grads(gy, self.saved_inputs(), self.args())


def matmul(a: Operand, b: Operand) -> Tensor:
    """Matrix product with ``np.matmul``'s rules: 2-D, batched (leading axes broadcast), and
    1-D operands (a vector on the left is a row, on the right a column, then dropped)."""
    a, b = _lift(a), _lift(b)
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == b.shape[-2]:
        return _run(MatMul(), a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul needs operands of at least one dimension; use * for scalars")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} do not fit: the last axis of the first "
            f"({a.shape[-1]}) must equal the {'second-to-' if b.ndim > 1 else ''}last axis of "
            "the second."
        )
    row, column = a.ndim == 1, b.ndim == 1
    y = _run(MatMul(), reshape(a, (1, -1)) if row else a, reshape(b, (-1, 1)) if column else b)
    if not (row or column):
        return y
    shape = list(y.shape)
    if column:
        del shape[-1]
    if row:
        del shape[-1 if column else -2]
    return reshape(y, tuple(shape))


def _matmul_grads(
    gy: Grad, inputs: tuple[Tensor, ...], values: tuple[Grad, ...]
) -> tuple[Grad | None, Grad | None]:
    """The gradients of ``a @ b`` (inputs ``a, b`` and their values, tensors or arrays):
    ``ga = gy @ bᵀ`` and ``gb = aᵀ @ gy``, each summed to its input's shape."""
    (a, b), (va, vb) = inputs, values
    ga = sum_to(gy @ _swap_last(vb), a.shape) if a.requires_grad else None
    gb = sum_to(_swap_last(va) @ gy, b.shape) if b.requires_grad else None
    return ga, gb


def _swap_last(x: Tensor) -> Tensor:
    """``x`` with its last two axes swapped (the transpose of a matrix, or of each in a batch)."""
    if x.ndim == 2:
        return x.T  # an array's or a tensor's: both swap the two axes
    return transpose(x, (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2))


class LinearFn(Function):
    """``y = x @ W + b`` as one node (PyTorch's ``addmm``): x (..., in), W (in, out), b (out,)
    or none. Its gradients are `MatMul`'s and `Add`'s: ``gx = gy @ Wᵀ``, ``gW = xᵀ @ gy``
    (summed over batch axes), ``gb = gy`` summed over every axis but the last."""

    def forward(self, x: Array, weight: Array, bias: Array | None = None) -> Array:
        y: Array = np.matmul(x, weight)
        if bias is None:
            return y
        return np.add(y, bias, out=y) if bias.dtype == y.dtype else y + bias

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        inputs, values = self.saved_inputs(), self.args()
        gx, gw = _matmul_grads(gy, inputs[:2], values[:2])
        if len(inputs) == 2:
            return gx, gw
        bias = inputs[2]
        return gx, gw, sum_to(gy, bias.shape) if bias.requires_grad else None


def linear(x: Operand, weight: Operand, bias: Operand | None = None) -> Tensor:
    """``y = x @ weight + bias``: x (N, in), weight (in, out), bias (out,) -> y (N, out).

    One node of the graph (`LinearFn`, PyTorch's ``addmm``) whose backward is that of a
    matrix product and a broadcast addition: ``dL/dx = dL/dy weightᵀ``,
    ``dL/dweight = xᵀ dL/dy``, ``dL/dbias = sum over the batch of dL/dy``. Other shapes (a 1-D
    x, for one) are the two operations, ``matmul(x, weight) + bias``.
    """
    x, weight = _lift(x), _lift(weight)
    b = None if bias is None else _lift(bias)
    if (
        x.ndim < 2
        or weight.ndim != 2
        or x.shape[-1] != weight.shape[0]
        or (b is not None and b.shape != weight.shape[1:])
    ):  # 1-D operands, a bias of another shape, or the error for shapes that do not fit
        y = matmul(x, weight)
        return y if b is None else y + b
    return _run(LinearFn(), x, weight) if b is None else _run(LinearFn(), x, weight, b)
