"""Reductions over ``axis`` (an int, a tuple of ints, or None for all, as NumPy's), with
``keepdims`` to keep the reduced axes as 1. With ``gy`` the gradient of the output:

- ``y = x.sum(axis)``: ``gx = gy`` copied back along the summed axes (reshaped with them
  kept as 1, then broadcast to ``x.shape``);
- ``mean`` (the sum over the count) and ``var`` (population, ``ddof=0``: the mean of
  ``(x - mean(x))**2``) are compositions, differentiated through their parts;
- ``y = x.max(axis)`` (or min): ``gx = gy`` copied back and shared equally among the elements
  equal to the maximum, 0 elsewhere (as ``torch.amax``).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.tensor import Function, Grad, Operand, Tensor
from ..core.types import Array
from .ops import Axis, _axes, _lift, _run
from .shapes import broadcast_to, reshape


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` kept as 1 (what ``keepdims=True`` gives)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _unreduce(gy: Grad, shape: tuple[int, ...], axes: tuple[int, ...]) -> Grad:
    """The gradient of a reduction over ``axes`` copied back to the input's ``shape``."""
    return broadcast_to(reshape(gy, _kept_shape(shape, axes)), shape)


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


def max(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; ties share the gradient equally."""
    return _run(Max(axis, keepdims), x)


def min(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; ties share the gradient equally."""
    return _run(Max(axis, keepdims, smallest=True), x)
