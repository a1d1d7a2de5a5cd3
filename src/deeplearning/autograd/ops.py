"""How the engine applies an operation, and what its operations share.

Each operation is a `Function` with ``forward`` on arrays and ``backward`` written with the
operations themselves, so that a recorded backward pass can be differentiated again. They are
grouped by kind, each `Function` next to the function that applies it:

- `shapes`: reshape, transpose, flatten, squeeze, unsqueeze, broadcast_to, sum_to, getitem
  (indexing), concatenate, stack;
- `arithmetic`: add, sub, mul, div, pow, neg, maximum, minimum, where, matmul, linear;
- `elementwise`: exp, log, sqrt, abs, tanh, sigmoid, relu, leaky_relu, clip, normal_cdf,
  gelu;
- `reductions`: sum, mean, var, max, min;
- `log_likelihood`: softmax, log_softmax, nll_loss;
- `convolution`: windows, fold, conv2d, max_pool2d, avg_pool2d.

The functions (``add``, ``matmul``, ``sum``, ...) are the public face, and apply their
`Function` with `_run`. Given a tensor they build a node and return a tensor; given only
arrays (or numbers) they return ``forward``'s array and record nothing. That is how one
backward formula serves twice: a first-order backward pass runs it on arrays (fast, nothing
recorded), and a pass with ``create_graph=True`` runs it on tensors (recorded, so it can be
differentiated again).

A `Function` is named after its operation (``Mul``, ``Exp``, ``Sum``), with the suffix ``Fn``
where a module has that name: ``TanhFn`` is the operation, the layer ``Tanh`` and ``nn.Tanh``
the modules. So are ``LinearFn``, ``SigmoidFn``, ``ReLUFn``, ``LeakyReLUFn``, ``SoftmaxFn``,
``LogSoftmaxFn``, ``MaxPool2dFn`` and ``GELUFn``. Graph pictures show these names.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

from ..core.function import Function
from ..core.tensor import Operand, Tensor, as_array
from ..core.validation import real_numbers

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
