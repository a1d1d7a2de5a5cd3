"""Operations on shapes: they move, copy or pick elements and compute nothing, so each one's
backward is another of them, its adjoint, which carries the gradient back. With ``gy`` the
gradient of the output:

- ``y = x.reshape(shape)``: ``gx = gy.reshape(x.shape)``; `flatten`, `squeeze` and
  `unsqueeze` are reshapes;
- ``y = x.transpose(axes)``: ``gx = gy.transpose(inverse of axes)``;
- ``y = broadcast_to(x, shape)``, copies along new or size-1 axes: ``gx = sum_to(gy, x.shape)``,
  the sum over those axes; and the gradient of `sum_to` is `broadcast_to`;
- ``y = x[key]``: ``gx`` is zeros with ``gy`` added at ``key`` (`IndexAdd`: an element picked
  twice receives both gradients), and the gradient of that is ``gg[key]``;
- ``y = concatenate(xs, axis)``: each input's gradient is its slice of ``gy``; `stack` is the
  concatenation of the inputs, each with a new axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.function import Function
from ..core.tensor import Grad, Operand, Tensor
from ..core.types import Array
from .ops import Axis, Index, _axes, _lift, _run


class Reshape(Function):
    """``y = x.reshape(shape)``; ``gx = gy.reshape(x.shape)``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Array) -> Array:
        return x.reshape(self.shape)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (reshape(gy, self.saved_inputs()[0].shape),)


def reshape(x: Operand, *shape: int | tuple[int, ...]) -> Tensor:
    """``x`` with a new shape of the same size (one entry may be -1)."""
    x = _lift(x)
    target = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple) else shape
    if target == x.shape:
        return x
    return _run(Reshape(target), x)  # type: ignore[arg-type]


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


class BroadcastTo(Function):
    """``y = broadcast_to(x, shape)``: copies along new or size-1 axes; ``gx = sum_to(gy)``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Array) -> Array:
        return np.broadcast_to(x, self.shape)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (sum_to(gy, self.saved_inputs()[0].shape),)


def broadcast_to(x: Operand, shape: tuple[int, ...]) -> Tensor:
    """``x`` repeated along new or size-1 axes to ``shape``."""
    x = _lift(x)
    shape = tuple(shape)
    return x if x.shape == shape else _run(BroadcastTo(shape), x)


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


class GetItem(Function):
    """``y = x[key]``; ``gx`` is zeros with ``gy`` added at ``key`` (`IndexAdd`)."""

    def __init__(self, key: Index) -> None:
        self.key = key

    def forward(self, x: Array) -> Array:
        return x[self.key]

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (_run(IndexAdd(self.key, self.saved_inputs()[0].shape), gy),)


def getitem(x: Operand, key: Index) -> Tensor:
    """``x[key]``: basic and integer-array (or boolean) indexing, as NumPy."""
    x = _lift(x)
    parts = key if isinstance(key, tuple) else (key,)
    parts = tuple(_index_part(part) for part in parts)
    return _run(GetItem(parts if isinstance(key, tuple) else parts[0]), x)


def _is_basic(key: Index) -> bool:
    """Whether an index selects each element at most once (ints, slices, None, ...)."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(
        part is None or part is Ellipsis or isinstance(part, (int, np.integer, slice))
        for part in parts
    )


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
