"""Reductions over ``axis`` (an int, a tuple of ints, or None for all, as NumPy's), with
``keepdims`` to keep the reduced axes as 1. With ``gy`` the gradient of the output:

- ``y = x.sum(axis)``: ``gx = gy`` copied back along the summed axes (reshaped with them
  kept as 1, then broadcast to ``x.shape``);
- ``mean`` (the sum over the count) and ``var`` (population, ``ddof=0``: the mean of
  ``(x - mean(x))**2``) are compositions, differentiated through their parts;
- ``y = x.max(axis)`` (or min): ``gx = gy`` copied back and shared equally among the elements
  equal to the maximum, 0 elsewhere, NaN in a slice whose maximum is NaN (as ``torch.amax``).

float16 tensors are reduced in float32 and the result rounded back to float16, as PyTorch does:
a float16 sum overflows past 65504 and stops growing once its rounding step (2 from 2048 on)
exceeds the numbers added, and a count above 65504 is itself infinite in float16. `sum`
accumulates in float32; `mean` and `var` run on a float32 copy (`astype`), so that their
backward passes, which divide by the count, run in float32 too.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..core.function import Function
from ..core.tensor import Grad, Operand, Tensor
from ..core.types import Array
from .elementwise import astype
from .ops import Axis, _axes, _lift, _run
from .shapes import broadcast_to, reshape

_ACCUMULATOR = {np.dtype(np.float16): np.dtype(np.float32)}
"""The dtype in which a sum of each dtype is accumulated, where it is not the dtype itself."""


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
        y: Array = x.sum(axis=self.axes, dtype=_ACCUMULATOR.get(x.dtype), keepdims=self.keepdims)
        return y.astype(x.dtype, copy=False)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (_unreduce(gy, self.saved_inputs()[0].shape, self.axes),)


def sum(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (an int, a tuple, or None for all)."""
    return _run(Sum(axis, keepdims), x)


def mean(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``: the sum divided by the number of summed elements."""
    x = _lift(x)
    if x.dtype in _ACCUMULATOR:
        return _accumulated(mean, x, axis, keepdims)
    count = math.prod(x.shape[a] for a in _axes(axis, x.ndim))
    return sum(x, axis, keepdims) / count


def var(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Population variance over ``axis`` (NumPy's default, ``ddof=0``):
    ``mean((x - mean(x))**2)``."""
    x = _lift(x)
    if x.dtype in _ACCUMULATOR:
        return _accumulated(var, x, axis, keepdims)
    centred = x - mean(x, axis, keepdims=True)
    return mean(centred * centred, axis, keepdims)


def _accumulated(
    reduction: Callable[[Tensor, Axis, bool], Tensor], x: Tensor, axis: Axis, keepdims: bool
) -> Tensor:
    """``reduction`` of ``x`` computed in its accumulator's dtype (float32 for float16) and
    rounded back to ``x.dtype``, forward and backward: the casts are operations, so the
    gradient too is computed in float32 and rounded once."""
    wide = astype(x, _ACCUMULATOR[x.dtype])
    return astype(reduction(wide, axis, keepdims), x.dtype)


class Max(Function):
    """``y = x.max(axis, keepdims)`` (or min); the gradient goes to the maximal elements,
    shared equally among ties, as ``torch.amax`` (``torch.max(x, dim)`` instead gives it all to
    the one element whose index it returns).

    A NaN makes the maximum of its slice NaN and, as in ``torch.amax``, the gradient of every
    element of that slice NaN: no element equals NaN, so each one's share is 0 / 0.
    (``torch.max`` without ``dim`` shares the gradient among the NaN elements instead.)
    """

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
        with np.errstate(invalid="ignore"):  # 0 / 0 where the maximum is NaN: NaN, as PyTorch
            share = (winners / winners.sum(axis=self.axes, keepdims=True)).astype(x.dtype)
        return (_unreduce(gy, x.shape, self.axes) * share,)

    def label(self) -> str:
        return "Min" if self.smallest else "Max"


def max(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis`` (NaN if any element is); ties share the gradient equally."""
    return _run(Max(axis, keepdims), x)


def min(x: Operand, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis`` (NaN if any element is); ties share the gradient equally."""
    return _run(Max(axis, keepdims, smallest=True), x)
