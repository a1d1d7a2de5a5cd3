"""Arithmetic: the elementwise operations of two tensors, and the matrix product.

Every binary operation broadcasts as NumPy does; its backward sums each gradient back to its
input's shape (`sum_to`). With ``gy`` the gradient of the output:

- ``y = a + b``: ``ga = gy``, ``gb = gy``; ``y = a - b``: ``ga = gy``, ``gb = -gy``;
- ``y = a * b``: ``ga = gy * b``, ``gb = gy * a``; ``y = a / b``: ``ga = gy / b``,
  ``gb = -gy * a / b**2``;
- ``y = a ** b``: ``ga = gy * b * a**(b - 1)``, ``gb = gy * y * log(a)`` (0 where b = 0, and
  where a = 0 with b >= 0, as PyTorch);
- ``y = -x``: ``gx = -gy``;
- ``y = maximum(a, b)`` (or minimum): the gradient goes to the larger (smaller) input, half
  to each on a tie, and to both where either is NaN (as PyTorch);
- ``y = where(c, a, b)``: ``ga = gy`` where ``c`` holds, ``gb`` elsewhere;
- ``y = a @ b``: ``ga = gy @ bᵀ``, ``gb = aᵀ @ gy`` (ᵀ swaps the last two axes), summed over
  broadcast batch axes; ``y = x @ W + b`` as one node (`linear`) has those gradients for
  ``x`` and ``W``, and ``gb = gy`` summed over every axis but the last.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..core.function import Function
from ..core.tensor import Grad, Operand, Tensor
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
    """``y = a ** b``: ``ga = gy * b * a**(b - 1)``, ``gb = gy * y * log(a)``, with PyTorch's
    values where these read ``0 * inf``:

    - ``ga = 0`` where b = 0 (``a**0`` is the constant 1, even at a = 0);
    - ``gb = 0`` where a = 0 and b >= 0 (the limit of ``a**b log(a)`` as a -> 0+); at a = 0
      and b < 0 it is -inf, and for a < 0 NaN (the log of a negative number).

    The masks are ``where``s, as PyTorch writes them, so that a recorded backward pass
    differentiates to PyTorch's second derivatives too. An exponent given as a number
    (``x ** 2``) is a constant of the formula, as in PyTorch's ``pow(Tensor, Scalar)``:
    ``x ** 0`` has the gradient 0 outside any graph, so every higher derivative is 0 as well.
    """

    def __init__(self, number: float | None = None) -> None:
        self.number = number  # the exponent, when it was given as a number

    def forward(self, a: Array, b: Array) -> Array:
        return self.save_output(np.power(a, b))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        # The masked 0 * inf, and the inf and NaN that PyTorch gives too, without a warning.
        with np.errstate(divide="ignore", invalid="ignore"):
            return super().backward(gy)

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        if self.number == 0:  # x ** 0 is the constant 1
            return np.zeros(gy.shape, dtype=gy.dtype)
        if self.number is not None:
            return gy * (self.number * a ** (self.number - 1))
        exponent = self.saved_inputs()[1].data
        return where(exponent == 0, 0, gy * (b * a ** (b - 1)))

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        base, exponent = (x.data for x in self.saved_inputs())
        return gy * where((base == 0) & (exponent >= 0), 0, self.output() * log(a))


def pow(a: Operand, b: Operand) -> Tensor:
    """``a ** b``, broadcasting."""
    number = float(b) if isinstance(b, numbers.Real) else None
    return _run(Pow(number), a, b)


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
    """``y = maximum(a, b)``: the gradient goes to the larger input, half to each on a tie.

    PyTorch's rule, which this follows, takes the gradient away from the smaller input only:
    ``ga = gy`` unless a < b, ``gb = gy`` unless b < a, halved where a = b. So where either is
    NaN (and so is y; no comparison holds) both inputs receive the whole gradient.
    """

    def forward(self, a: Array, b: Array) -> Array:
        return np.maximum(a, b)

    def loses(self, x: Array, other: Array) -> Array:
        """Where the input ``x`` loses to the ``other``: where it is the smaller one."""
        smaller: Array = np.less(x, other)
        return smaller

    def share(self, x: Array, other: Array) -> Array:
        """The part of each element's gradient that goes to the input ``x``: 0 where it loses
        to ``other``, 1/2 on a tie, 1 otherwise (where it wins, and where either is NaN)."""
        part: Array = np.where(self.loses(x, other), 0.0, np.where(x == other, 0.5, 1.0))
        return part.astype(np.promote_types(x.dtype, other.dtype))

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        va, vb = (x.data for x in self.saved_inputs())
        return gy * self.share(va, vb)

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        va, vb = (x.data for x in self.saved_inputs())
        return gy * self.share(vb, va)


def maximum(a: Operand, b: Operand) -> Tensor:
    """Elementwise maximum, broadcasting; NaN where either input is NaN."""
    return _run(Maximum(), a, b)


class Minimum(Maximum):
    """``y = minimum(a, b)``: the gradient goes to the smaller input; ties split it, and where
    either is NaN both inputs receive it (as `Maximum`)."""

    def forward(self, a: Array, b: Array) -> Array:
        return np.minimum(a, b)

    def loses(self, x: Array, other: Array) -> Array:
        """Where the input ``x`` loses to the ``other``: where it is the greater one."""
        greater: Array = np.greater(x, other)
        return greater


def minimum(a: Operand, b: Operand) -> Tensor:
    """Elementwise minimum, broadcasting; NaN where either input is NaN."""
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
