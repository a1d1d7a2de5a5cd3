"""Elementwise functions of one tensor, ``y = f(x)``. The gradient is ``gx = gy * f'(x)``,
with ``f'`` written from ``x`` or, where that is simpler, from the saved output ``y``:

- ``exp``: ``f' = y``; ``log``: ``f' = 1 / x``; ``sqrt``: ``f' = 1 / (2 y)``;
- ``abs``: ``f' = sign(x)`` (0 at x = 0, as PyTorch);
- ``tanh``: ``f' = 1 - y**2``; ``sigmoid``, ``y = 1 / (1 + exp(-x))``: ``f' = y (1 - y)``;
- ``relu``, ``y = max(x, 0)``: ``f' = [x > 0]``; ``leaky_relu``, ``y = x`` for x > 0 and
  ``slope * x`` otherwise: ``f' = 1`` or ``slope``;
- ``clip(x, low, high)``: ``f' = 1`` where low <= x <= high, else 0 (as PyTorch's clamp);
- ``normal_cdf``, ``y = Φ(x)`` (the standard normal distribution function): ``f' = φ(x) =
  exp(-x²/2) / sqrt(2 pi)``; ``gelu``, ``y = x Φ(x)``: ``f' = Φ(x) + x φ(x)``, and its tanh
  approximation's derivative (`core.kernels.gelu_derivative`), both written with operations;
- ``astype(x, dtype)``, the same numbers in another floating dtype: ``gx = gy`` converted back
  to x's dtype.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ..core import kernels
from ..core.function import Function
from ..core.tensor import Grad, Operand, Tensor
from ..core.types import Array
from ..core.validation import check_choice, check_number
from .ops import _run


class Exp(Function):
    """``y = exp(x)``; ``gx = gy * y``."""

    def forward(self, x: Array) -> Array:
        with np.errstate(under="ignore"):  # exp(-1000) = 0 is the exact float answer
            return self.save_output(np.exp(x))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy * self.output(),)


def exp(x: Operand) -> Tensor:
    """``e ** x``."""
    return _run(Exp(), x)


class Log(Function):
    """``y = log(x)``; ``gx = gy / x``."""

    def forward(self, x: Array) -> Array:
        return np.log(x)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy / self.args()[0],)


def log(x: Operand) -> Tensor:
    """Natural logarithm."""
    return _run(Log(), x)


class Sqrt(Function):
    """``y = sqrt(x)``; ``gx = gy / (2 y)``."""

    def forward(self, x: Array) -> Array:
        return self.save_output(np.sqrt(x))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy / (self.output() * 2),)


def sqrt(x: Operand) -> Tensor:
    """Square root."""
    return _run(Sqrt(), x)


class Abs(Function):
    """``y = |x|``; ``gx = gy * sign(x)`` (0 at x = 0, as PyTorch)."""

    def forward(self, x: Array) -> Array:
        return np.abs(x)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy * np.sign(self.saved_inputs()[0].data),)


def abs(x: Operand) -> Tensor:
    """``|x|``."""
    return _run(Abs(), x)


class TanhFn(Function):
    """``y = tanh(x)``; ``gx = gy * (1 - y**2)``."""

    def forward(self, x: Array) -> Array:
        return self.save_output(np.tanh(x))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        y = self.output()
        return (gy * (1 - y * y),)


def tanh(x: Operand) -> Tensor:
    """Hyperbolic tangent."""
    return _run(TanhFn(), x)


class SigmoidFn(Function):
    """``y = 1 / (1 + exp(-x))`` (the stable kernel shared with the layer); ``gx = gy y (1-y)``."""

    def forward(self, x: Array) -> Array:
        return self.save_output(kernels.sigmoid(x))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        y = self.output()
        return (gy * y * (1 - y),)


def sigmoid(x: Operand) -> Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for inputs of any size."""
    return _run(SigmoidFn(), x)


class ReLUFn(Function):
    """``y = max(x, 0)``; ``gx = gy * [x > 0]``."""

    def forward(self, x: Array) -> Array:
        return np.maximum(x, 0)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy * (self.saved_inputs()[0].data > 0),)


def relu(x: Operand) -> Tensor:
    """``max(x, 0)``."""
    return _run(ReLUFn(), x)


class LeakyReLUFn(Function):
    """``y = x`` for x > 0, ``slope * x`` otherwise; ``gx = gy * (1 or slope)``."""

    def __init__(self, negative_slope: float) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Array) -> Array:
        return x * kernels.leaky_relu_slope(x, self.negative_slope)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        x = self.saved_inputs()[0].data
        return (gy * kernels.leaky_relu_slope(x, self.negative_slope),)


def leaky_relu(x: Operand, negative_slope: float = 0.01) -> Tensor:
    """``x`` for x > 0, ``negative_slope * x`` otherwise."""
    check_number(negative_slope, "negative_slope", "leaky_relu", example="negative_slope=0.01")
    return _run(LeakyReLUFn(negative_slope), x)


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


class NormalCDF(Function):
    """``y = Φ(x) = erfc(-x / sqrt(2)) / 2`` (`core.kernels.normal_cdf`); ``gx = gy φ(x)``,
    ``φ(x) = exp(-x²/2) / sqrt(2 pi)``."""

    def forward(self, x: Array) -> Array:
        return kernels.normal_cdf(x)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy * _normal_pdf(self.args()[0]),)


def normal_cdf(x: Operand) -> Tensor:
    """``Φ(x)``, the probability that a standard normal variable is <= x."""
    return _run(NormalCDF(), x)


def _normal_pdf(x: Grad) -> Grad:
    """``φ(x)`` in operations, x clipped as `core.kernels.normal_pdf` clips it."""
    bound = kernels.NORMAL_PDF_BOUND
    bounded = clip(x, -bound, bound)
    return exp(bounded * bounded * -0.5) * (1 / math.sqrt(2 * math.pi))


class GELUFn(Function):
    """``y = x Φ(x)``; ``gx = gy (Φ(x) + x φ(x))``. With ``approximate="tanh"``, ``y = x (1 +
    t) / 2`` for ``t = tanh(c (x + k x³))``, ``c = sqrt(2/pi)``, ``k = 0.044715``, and ``gx =
    gy ((1 + t) / 2 + x (1 - t²) c (1 + 3 k x²) / 2)``, x clipped to ±100 inside t and the
    polynomial as `core.kernels.gelu_tanh_inner` clips it. The backward pass is made of
    operations (`normal_cdf`, `exp`, `tanh`, `clip`), so it differentiates again; a pass that
    records no graph computes it on arrays, with the forward's ``Φ(x)``."""

    def __init__(self, approximate: str) -> None:
        self.approximate = approximate
        self.cdf: Array | None = None

    def forward(self, x: Array) -> Array:
        y, self.cdf = kernels.gelu_and_cdf(x, self.approximate)
        return y

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        x = self.args()[0]
        if isinstance(x, np.ndarray):  # no graph recorded: arrays, and the forward's Φ(x)
            return (gy * kernels.gelu_derivative(x, self.approximate, self.cdf),)
        if self.approximate == "none":
            return (gy * (normal_cdf(x) + x * _normal_pdf(x)),)
        scale, cubic, bound = (
            kernels.GELU_TANH_SCALE, kernels.GELU_TANH_CUBIC, kernels.GELU_TANH_BOUND,
        )  # fmt: skip
        bounded = clip(x, -bound, bound)
        t = tanh((bounded + bounded * bounded * bounded * cubic) * scale)
        slope = (1 - t * t) * scale * (1 + bounded * bounded * (3 * cubic))
        return (gy * ((1 + t) * 0.5 + x * 0.5 * slope),)


def gelu(x: Operand, approximate: str = "none") -> Tensor:
    """GELU, ``x Φ(x)`` (as ``torch.nn.functional.gelu``), or PyTorch's tanh approximation
    with ``approximate="tanh"``; any other value is a ValueError."""
    check_choice(approximate, "approximate", "gelu", kernels.GELU_APPROXIMATIONS)
    return _run(GELUFn(approximate), x)


class Cast(Function):
    """``y = x`` in another floating dtype; ``gx = gy`` in x's dtype (as PyTorch's ``.to``)."""

    def __init__(self, dtype: np.dtype[Any]) -> None:
        self.dtype = dtype

    def forward(self, x: Array) -> Array:
        return x.astype(self.dtype)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (astype(gy, self.saved_inputs()[0].dtype),)


def astype(x: Operand, dtype: DTypeLike) -> Tensor:
    """``x`` converted to the floating ``dtype`` (float16, float32 or float64): the reductions
    use it to sum float16 numbers in float32."""
    target = np.dtype(dtype)
    if target.kind != "f":
        raise TypeError(f"astype converts to a floating dtype, not {target}")
    return _run(Cast(target), x)
