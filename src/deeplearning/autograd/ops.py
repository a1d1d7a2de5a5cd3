"""The engine's operations: each a `Function` with ``forward`` on arrays and ``backward`` written
with these same operations, so that a recorded backward pass can be differentiated again.

Every binary operation broadcasts as NumPy does; its backward sums each gradient back to its
input's shape (`sum_to`). The functions at the end of the module (``add``, ``matmul``, ``sum``,
...) are the public face. Given a tensor they build a node and return a tensor; given only
arrays (or numbers) they return ``forward``'s array and record nothing. That is how one
backward formula serves twice: a first-order backward pass runs it on arrays (fast, nothing
recorded), and a pass with ``create_graph=True`` runs it on tensors (recorded, so it can be
differentiated again).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from ..core import kernels
from ..core.tensor import Function, Grad, Operand, Tensor, as_array, real_numbers
from ..core.types import Array
from ..core.validation import check_number

Axis = Union[int, tuple[int, ...], None]
"""An axis, a tuple of axes, or None for all of them (as NumPy's reductions take)."""
Index = Any
"""What ``x[...]`` takes: integers, slices, None, Ellipsis, integer or boolean arrays."""


def _operand(value: Operand, like: Tensor | None = None) -> Tensor:
    """``value`` as a tensor; a constant (array or number) takes ``like``'s dtype unless it is a
    floating array, which keeps its own (as NumPy's promotion does)."""
    if isinstance(value, Tensor):
        return value
    if like is not None and not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
        return Tensor._made_by(real_numbers(value).astype(like.dtype), None)
    return Tensor._made_by(as_array(value), None)


def _pair(a: Operand, b: Operand) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, _operand(b, a)
    b = _operand(b)
    return _operand(a, b), b


def _run(function: Function, *args: Any) -> Tensor:
    """Apply an operation: to tensors (a recorded node, a Tensor out), or, when no argument is
    a tensor, to arrays and numbers (``forward``'s array out, nothing recorded: the engine's
    own use, in first-order backward passes, so the type says Tensor)."""
    for like in args:
        if isinstance(like, Tensor):
            if len(args) == 2:
                return function(*_pair(*args))
            return function(*[_operand(a, like) for a in args])
    arrays = [
        a if isinstance(a, (np.ndarray, np.generic, float, int)) else as_array(a) for a in args
    ]
    return function.forward(*arrays)  # type: ignore[return-value]


def _lift(x: Operand) -> Tensor:
    """A tensor or an array as it is; anything else (a list, a number) as an array. (Typed as
    Tensor: an array stands in for one in the engine's first-order backward passes.)"""
    return x if isinstance(x, (Tensor, np.ndarray)) else as_array(x)  # type: ignore[return-value]


def _axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"an axis is an int (or a tuple of ints), got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor of {ndim} dimensions")
    return tuple([int(a) % ndim for a in axes])


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` kept as 1 (what ``keepdims=True`` gives)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _unreduce(gy: Grad, shape: tuple[int, ...], axes: tuple[int, ...]) -> Grad:
    """The gradient of a reduction over ``axes`` copied back to the input's ``shape``."""
    return broadcast_to(reshape(gy, _kept_shape(shape, axes)), shape)


# -- shapes and broadcasting ---------------------------------------------------------------------
class Reshape(Function):
    """``y = x.reshape(shape)``; ``gx = gy.reshape(x.shape)``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Array) -> Array:
        return x.reshape(self.shape)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (reshape(gy, self.saved_inputs()[0].shape),)


class Transpose(Function):
    """``y = x.transpose(axes)``; ``gx = gy.transpose(inverse of axes)``."""

    def __init__(self, axes: tuple[int, ...] | None) -> None:
        self.axes = axes

    def forward(self, x: Array) -> Array:
        return np.transpose(x, self.axes)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        if self.axes is None:
            return (transpose(gy),)
        return (transpose(gy, tuple(int(i) for i in np.argsort(self.axes))),)


class BroadcastTo(Function):
    """``y = broadcast_to(x, shape)``: copies along new or size-1 axes; ``gx = sum_to(gy)``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Array) -> Array:
        return np.broadcast_to(x, self.shape)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (sum_to(gy, self.saved_inputs()[0].shape),)


class SumTo(Function):
    """Sum ``x`` down to ``shape``: over its extra leading axes and the axes where ``shape``
    has 1. The adjoint of broadcasting: ``gx = broadcast_to(gy, x.shape)``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Array) -> Array:
        lead = x.ndim - len(self.shape)
        summed: Array = x.sum(axis=tuple(range(lead))) if lead else x
        kept = tuple([i for i, n in enumerate(self.shape) if n == 1 and summed.shape[i] != 1])
        return summed.sum(axis=kept, keepdims=True) if kept else summed

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (broadcast_to(gy, self.saved_inputs()[0].shape),)


def _is_basic(key: Index) -> bool:
    """Whether an index selects each element at most once (ints, slices, None, ...)."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(
        part is None or part is Ellipsis or isinstance(part, (int, np.integer, slice))
        for part in parts
    )


class GetItem(Function):
    """``y = x[key]``; ``gx`` is zeros with ``gy`` added at ``key`` (`IndexAdd`)."""

    def __init__(self, key: Index) -> None:
        self.key = key

    def forward(self, x: Array) -> Array:
        return x[self.key]

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (_run(IndexAdd(self.key, self.saved_inputs()[0].shape), gy),)


class IndexAdd(Function):
    """``y = zeros(shape)``, then ``y[key] += g`` for each element of ``g``: an index repeated
    in ``key`` receives the sum of its gradients (``np.add.at``). Its own gradient is
    ``gg[key]``."""

    def __init__(self, key: Index, shape: tuple[int, ...]) -> None:
        self.key, self.shape = key, shape

    def forward(self, g: Array) -> Array:
        out = np.zeros(self.shape, dtype=g.dtype)
        if _is_basic(self.key):
            out[self.key] = g
        else:
            np.add.at(out, self.key, g)
        return out

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (getitem(gy, self.key),)


class Concatenate(Function):
    """``y = concatenate(xs, axis)``; each input's gradient is its slice of ``gy``."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Array) -> Array:
        return np.concatenate(xs, axis=self.axis)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        before = (slice(None),) * self.axis
        grads, start = [], 0
        for x in self.saved_inputs():
            stop = start + x.shape[self.axis]
            grads.append(getitem(gy, (*before, slice(start, stop))) if x.requires_grad else None)
            start = stop
        return tuple(grads)


# -- elementwise, binary -------------------------------------------------------------------------
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


class Sub(_Binary):
    """``y = a - b``: ``ga = gy``, ``gb = -gy``."""

    def forward(self, a: Array, b: Array) -> Array:
        return a - b

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return -gy


class Mul(_Binary):
    """``y = a * b``: ``ga = gy * b``, ``gb = gy * a``."""

    def forward(self, a: Array, b: Array) -> Array:
        return a * b

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy * b

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy * a


class Div(_Binary):
    """``y = a / b``: ``ga = gy / b``, ``gb = -gy * a / b**2``."""

    def forward(self, a: Array, b: Array) -> Array:
        return a / b

    def grad_a(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return gy / b

    def grad_b(self, gy: Grad, a: Grad, b: Grad) -> Grad:
        return -gy * a / (b * b)


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


class Minimum(Maximum):
    """``y = minimum(a, b)``: the gradient goes to the smaller input; ties split it."""

    def forward(self, a: Array, b: Array) -> Array:
        return np.minimum(a, b)

    def share_of_a(self) -> Array:
        a, b = (x.data for x in self.saved_inputs())
        share: Array = ((a < b) + 0.5 * (a == b)).astype(np.result_type(a, b))
        return share


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


class MatMul(Function):
    """``y = a @ b`` for a, b of 2 or more dimensions (batches broadcast):
    ``ga = gy @ bᵀ``, ``gb = aᵀ @ gy`` (ᵀ swaps the last two axes), summed over broadcast
    batch axes."""

    def forward(self, a: Array, b: Array) -> Array:
        y: Array = np.matmul(a, b)
        return y

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return _matmul_grads(gy, self.saved_inputs(), self.args())


class Linear(Function):
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


# -- elementwise, unary --------------------------------------------------------------------------
class Neg(Function):
    """``y = -x``; ``gx = -gy``."""

    def forward(self, x: Array) -> Array:
        return -x

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (-gy,)


class Exp(Function):
    """``y = exp(x)``; ``gx = gy * y``."""

    def forward(self, x: Array) -> Array:
        with np.errstate(under="ignore"):  # exp(-1000) = 0 is the exact float answer
            return self.save_output(np.exp(x))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy * self.output(),)


class Log(Function):
    """``y = log(x)``; ``gx = gy / x``."""

    def forward(self, x: Array) -> Array:
        return np.log(x)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy / self.args()[0],)


class Sqrt(Function):
    """``y = sqrt(x)``; ``gx = gy / (2 y)``."""

    def forward(self, x: Array) -> Array:
        return self.save_output(np.sqrt(x))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy / (self.output() * 2),)


class Abs(Function):
    """``y = |x|``; ``gx = gy * sign(x)`` (0 at x = 0, as PyTorch)."""

    def forward(self, x: Array) -> Array:
        return np.abs(x)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy * np.sign(self.saved_inputs()[0].data),)


class Tanh(Function):
    """``y = tanh(x)``; ``gx = gy * (1 - y**2)``."""

    def forward(self, x: Array) -> Array:
        return self.save_output(np.tanh(x))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        y = self.output()
        return (gy * (1 - y * y),)


class Sigmoid(Function):
    """``y = 1 / (1 + exp(-x))`` (the stable kernel shared with the layer); ``gx = gy y (1-y)``."""

    def forward(self, x: Array) -> Array:
        return self.save_output(kernels.sigmoid(x))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        y = self.output()
        return (gy * y * (1 - y),)


class ReLU(Function):
    """``y = max(x, 0)``; ``gx = gy * [x > 0]``."""

    def forward(self, x: Array) -> Array:
        return np.maximum(x, 0)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy * (self.saved_inputs()[0].data > 0),)


class LeakyReLU(Function):
    """``y = x`` for x > 0, ``slope * x`` otherwise; ``gx = gy * (1 or slope)``."""

    def __init__(self, negative_slope: float) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Array) -> Array:
        return x * kernels.leaky_relu_slope(x, self.negative_slope)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        x = self.saved_inputs()[0].data
        return (gy * kernels.leaky_relu_slope(x, self.negative_slope),)


class Clip(Function):
    """``y = clip(x, low, high)``; ``gx = gy`` where low <= x <= high, else 0 (as PyTorch's
    clamp)."""

    def __init__(self, low: float | None, high: float | None) -> None:
        self.low, self.high = low, high

    def forward(self, x: Array) -> Array:
        return np.clip(x, self.low, self.high)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        x = self.saved_inputs()[0].data
        inside = np.ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return (gy * inside,)


# -- reductions ----------------------------------------------------------------------------------
class Sum(Function):
    """``y = x.sum(axis, keepdims)``; ``gx = gy`` copied back along the summed axes."""

    def __init__(self, axis: Axis, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Array) -> Array:
        self.axes = _axes(self.axis, x.ndim)
        y: Array = x.sum(axis=self.axes, keepdims=self.keepdims)
        return y

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (_unreduce(gy, self.saved_inputs()[0].shape, self.axes),)


class Max(Function):
    """``y = x.max(axis, keepdims)`` (or min); the gradient goes to the maximal elements,
    shared equally among ties (as ``torch.amax``)."""

    def __init__(self, axis: Axis, keepdims: bool, smallest: bool = False) -> None:
        self.axis, self.keepdims, self.smallest = axis, keepdims, smallest

    def forward(self, x: Array) -> Array:
        if x.size == 0:
            raise ValueError(f"max/min of an empty tensor (shape {x.shape}) is undefined")
        self.axes = _axes(self.axis, x.ndim)
        reduce = np.min if self.smallest else np.max
        y: Array = reduce(x, axis=self.axes, keepdims=self.keepdims)
        return self.save_output(y)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        x = self.saved_inputs()[0].data
        assert self._output is not None
        winners = x == self._output.reshape(_kept_shape(x.shape, self.axes))
        share = (winners / winners.sum(axis=self.axes, keepdims=True)).astype(x.dtype)
        return (_unreduce(gy, x.shape, self.axes) * share,)

    def label(self) -> str:
        return "Min" if self.smallest else "Max"


# -- softmax and the log-likelihood --------------------------------------------------------------
class Softmax(Function):
    """``y = softmax(x)`` along ``axis``; ``gx = y * (gy - sum(gy * y, axis))``."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Array) -> Array:
        return self.save_output(kernels.softmax(x, axis=self.axis))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        y = self.output()
        return (y * (gy - sum(gy * y, self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """``y = log_softmax(x)`` along ``axis``; ``gx = gy - exp(y) * sum(gy, axis)``."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Array) -> Array:
        return self.save_output(kernels.log_softmax(x, axis=self.axis))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy - exp(self.output()) * sum(gy, self.axis, keepdims=True),)


class NLLLoss(Function):
    """The mean negative log-likelihood of log-probabilities ``logp`` (N, C).

    With class labels ``t`` (N,): ``L = -(1/N) sum_n logp[n, t_n]``, so ``g = -gy/N`` at each
    ``(n, t_n)`` and 0 elsewhere. With class probabilities ``t`` (N, C):
    ``L = -(1/N) sum t * logp`` and ``g = -gy * t / N``. The targets are constants.
    """

    def __init__(self, targets: Array) -> None:
        self.targets = targets

    def forward(self, logp: Array) -> Array:
        return kernels.nll_loss(logp, self.targets)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        logp = self.saved_inputs()[0]
        n = logp.shape[0]
        if self.targets.ndim == 1:
            weights = np.zeros(logp.shape, dtype=logp.dtype)
            weights[np.arange(n), self.targets] = -1 / n
        else:
            weights = self.targets * (-1 / n)
        return (gy * weights,)


# -- the functions -------------------------------------------------------------------------------
def add(a: Operand, b: Operand) -> Tensor:
    """``a + b``, broadcasting."""
    return _run(Add(), a, b)


def sub(a: Operand, b: Operand) -> Tensor:
    """``a - b``, broadcasting."""
    return _run(Sub(), a, b)


def mul(a: Operand, b: Operand) -> Tensor:
    """``a * b``, broadcasting."""
    return _run(Mul(), a, b)


def div(a: Operand, b: Operand) -> Tensor:
    """``a / b``, broadcasting."""
    return _run(Div(), a, b)


def pow(a: Operand, b: Operand) -> Tensor:
    """``a ** b``, broadcasting."""
    return _run(Pow(), a, b)


def neg(x: Operand) -> Tensor:
    """``-x``."""
    return _run(Neg(), x)


def maximum(a: Operand, b: Operand) -> Tensor:
    """Elementwise maximum, broadcasting."""
    return _run(Maximum(), a, b)


def minimum(a: Operand, b: Operand) -> Tensor:
    """Elementwise minimum, broadcasting."""
    return _run(Minimum(), a, b)


def where(condition: Any, a: Operand, b: Operand) -> Tensor:
    """``a`` where ``condition`` holds, else ``b`` (a boolean array; all three broadcast)."""
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if condition.dtype != bool:
        raise TypeError(f"where() needs a boolean condition, got dtype {condition.dtype}")
    return _run(Where(condition), a, b)


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


def linear(x: Operand, weight: Operand, bias: Operand | None = None) -> Tensor:
    """``y = x @ weight + bias``: x (N, in), weight (in, out), bias (out,) -> y (N, out).

    One node of the graph (`ops.Linear`, PyTorch's ``addmm``) whose backward is that of a
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
    return _run(Linear(), x, weight) if b is None else _run(Linear(), x, weight, b)


def exp(x: Operand) -> Tensor:
    """``e ** x``."""
    return _run(Exp(), x)


def log(x: Operand) -> Tensor:
    """Natural logarithm."""
    return _run(Log(), x)


def sqrt(x: Operand) -> Tensor:
    """Square root."""
    return _run(Sqrt(), x)


def abs(x: Operand) -> Tensor:
    """``|x|``."""
    return _run(Abs(), x)


def tanh(x: Operand) -> Tensor:
    """Hyperbolic tangent."""
    return _run(Tanh(), x)


def sigmoid(x: Operand) -> Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for inputs of any size."""
    return _run(Sigmoid(), x)


def relu(x: Operand) -> Tensor:
    """``max(x, 0)``."""
    return _run(ReLU(), x)


def leaky_relu(x: Operand, negative_slope: float = 0.01) -> Tensor:
    """``x`` for x > 0, ``negative_slope * x`` otherwise."""
    check_number(negative_slope, "negative_slope", "leaky_relu", example="negative_slope=0.01")
    return _run(LeakyReLU(negative_slope), x)


def clip(x: Operand, min: float | None = None, max: float | None = None) -> Tensor:
    """``x`` limited to [min, max] (either may be None)."""
    if min is None and max is None:
        raise ValueError("clip needs min or max (or both)")
    bounds: tuple[tuple[str, object], ...] = (("min", min), ("max", max))  # whatever came
    for name, bound in bounds:
        if bound is None:
            continue
        if isinstance(bound, bool) or not isinstance(bound, numbers.Real):
            raise TypeError(f"clip: {name} must be a number or None, got {bound!r}")
        if math.isnan(bound):
            raise ValueError(f"clip: {name} must not be NaN")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) must not exceed max ({max})")
    return _run(Clip(min, max), x)


def sum(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (an int, a tuple, or None for all)."""
    return _run(Sum(axis, keepdims), x)


def mean(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``: the sum divided by the number of summed elements."""
    x = _lift(x)
    count = math.prod(x.shape[a] for a in _axes(axis, x.ndim))
    return sum(x, axis, keepdims) / count


def var(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Population variance over ``axis`` (NumPy's default, ``ddof=0``):
    ``mean((x - mean(x))**2)``."""
    x = _lift(x)
    centred = x - mean(x, axis, keepdims=True)
    return mean(centred * centred, axis, keepdims)


def max(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; ties share the gradient equally."""
    return _run(Max(axis, keepdims), x)


def min(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; ties share the gradient equally."""
    return _run(Max(axis, keepdims, smallest=True), x)


def reshape(x: Operand, *shape: int | tuple[int, ...]) -> Tensor:
    """``x`` with a new shape of the same size (one entry may be -1)."""
    x = _lift(x)
    target = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple) else shape
    if target == x.shape:
        return x
    return _run(Reshape(target), x)  # type: ignore[arg-type]


def transpose(x: Operand, axes: Sequence[int] | None = None) -> Tensor:
    """The axes permuted (reversed when ``axes`` is None), as ``np.transpose``: ``axes`` is
    an order of all of them (negative ones counting from the end)."""
    x = _lift(x)
    if axes is None:
        return _run(Transpose(None), x)
    order = _axes(tuple(axes), x.ndim)
    if sorted(order) != list(range(x.ndim)):
        raise ValueError(
            f"transpose needs an order of all {x.ndim} axes, each once, got {tuple(axes)}"
        )
    return _run(Transpose(order), x)


def flatten(x: Operand, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Axes ``start_dim`` to ``end_dim`` merged into one (as ``torch.flatten``)."""
    x = _lift(x)
    if x.ndim == 0:
        return reshape(x, (1,))
    start, end = _axes((start_dim, end_dim), x.ndim)
    shape = (*x.shape[:start], math.prod(x.shape[start : end + 1]), *x.shape[end + 1 :])
    return reshape(x, shape)


def squeeze(x: Operand, axis: Axis = None) -> Tensor:
    """``x`` without axes of size 1 (those in ``axis``, or all)."""
    x = _lift(x)
    axes = _axes(axis, x.ndim)
    if axis is not None and any(x.shape[a] != 1 for a in axes):
        raise ValueError(f"cannot squeeze axis {axis} of shape {x.shape}: its size is not 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1)))


def unsqueeze(x: Operand, axis: int) -> Tensor:
    """``x`` with a new axis of size 1 at position ``axis`` (as ``np.expand_dims``)."""
    x = _lift(x)
    return reshape(x, np.expand_dims(x.data, axis).shape)


def broadcast_to(x: Operand, shape: tuple[int, ...]) -> Tensor:
    """``x`` repeated along new or size-1 axes to ``shape``."""
    x = _lift(x)
    shape = tuple(shape)
    return x if x.shape == shape else _run(BroadcastTo(shape), x)


def sum_to(x: Operand, shape: tuple[int, ...]) -> Tensor:
    """``x`` summed down to ``shape`` (which ``x`` broadcasts from): undoes `broadcast_to`."""
    x = _lift(x)
    return x if x.shape == shape else _run(SumTo(shape), x)


def _index_part(part: Any) -> Any:
    """One part of an index, checked: a list becomes an array; an array must hold integers or
    booleans. A Tensor (always floats) is refused, as PyTorch refuses float index tensors."""
    if isinstance(part, Tensor):
        raise TypeError(
            f"a Tensor cannot be an index: it holds {part.dtype} values, and indices are "
            "integers or booleans. Index with a NumPy array, e.g. x[np.array([1, 0])]"
        )
    if isinstance(part, list):
        part = np.asarray(part)
    if isinstance(part, np.ndarray) and part.dtype.kind not in "iub":
        raise TypeError(
            f"an index array must hold integers or booleans, got dtype {part.dtype}: convert "
            "it, e.g. index.astype(np.int64)"
        )
    return part


def getitem(x: Operand, key: Index) -> Tensor:
    """``x[key]``: basic and integer-array (or boolean) indexing, as NumPy."""
    x = _lift(x)
    parts = key if isinstance(key, tuple) else (key,)
    parts = tuple(_index_part(part) for part in parts)
    return _run(GetItem(parts if isinstance(key, tuple) else parts[0]), x)


def concatenate(tensors: Sequence[Operand], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    xs = [_lift(t) for t in tensors]
    if not xs:
        raise ValueError("concatenate needs at least one tensor")
    return _run(Concatenate(_axes(axis, xs[0].ndim)[0]), *xs)


def stack(tensors: Sequence[Operand], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    xs = [_lift(t) for t in tensors]
    if not xs:
        raise ValueError("stack needs at least one tensor")
    axis = _axes(axis, xs[0].ndim + 1)[0]
    return concatenate([unsqueeze(x, axis) for x in xs], axis)
