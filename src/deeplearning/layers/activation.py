"""Activations on the layer path: `ReLU`, `LeakyReLU`, `GELU`, `Sigmoid`, `Tanh`, `Softmax`
and `LogSoftmax`, each with its local derivative.

An elementwise activation ``y_i = f(x_i)`` has a diagonal Jacobian, so its backward pass is a
product, ``dL/dx = dout * f'(x)`` (`Elementwise`). Softmax mixes a row, and its backward pass
multiplies by the Jacobian ``diag(y) - y yᵀ`` without forming it.
"""

from __future__ import annotations

import numpy as np

from ..core.kernels import (
    GELU_APPROXIMATIONS,
    gelu_and_cdf,
    gelu_derivative,
    leaky_relu_slope,
    log_softmax,
    sigmoid,
    softmax,
)
from ..core.types import Array
from ..core.validation import check_choice, check_number
from .layer import Layer


class Elementwise(Layer):
    """A layer acting on each element alone, ``y_i = f(x_i)``, whose forward keeps the local
    derivative ``f'(x_i)``. Its Jacobian is diagonal, so ``dL/dx = dout * f'(x)``."""

    _local: Array | None = None  # f'(x) of the last forward

    def backward(self, dout: Array) -> Array:
        local = self._saved(self._local)
        self._check_dout(dout, local.shape)
        dx: Array = dout * local
        return dx


class ReLU(Elementwise):
    """Rectified linear unit: ``y = max(x, 0)``; ``dL/dx = dout * [x > 0]`` (0 at x = 0)."""

    def forward(self, x: Array) -> Array:
        x = self.as_input(x)
        self._local = x > 0
        return np.maximum(x, 0)


class Sigmoid(Layer):
    """Logistic sigmoid: ``y = 1 / (1 + exp(-x))``; ``dL/dx = dout * y * (1 - y)``.

    The stable kernel `core.kernels.sigmoid` never lets ``exp`` overflow, whatever x.
    """

    def __init__(self) -> None:
        super().__init__()
        self._y: Array | None = None

    def forward(self, x: Array) -> Array:
        y = sigmoid(self.as_input(x))
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        with np.errstate(under="ignore"):  # y ~ 1e-300 far left: the product is 0, exactly
            dx: Array = dout * y * (1 - y)
        return dx


class Tanh(Layer):
    """Hyperbolic tangent: ``y = tanh(x)``; ``dL/dx = dout * (1 - y**2)``.

    ``np.tanh`` saturates to +-1 without overflow for inputs of any size.
    """

    def __init__(self) -> None:
        super().__init__()
        self._y: Array | None = None

    def forward(self, x: Array) -> Array:
        y: Array = np.tanh(self.as_input(x))
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        dx: Array = dout * (1 - y * y)
        return dx


class LeakyReLU(Elementwise):
    """``y = x`` for x > 0 and ``negative_slope * x`` otherwise; ``dL/dx = dout * slope(x)``."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        check_number(negative_slope, "negative_slope", "LeakyReLU", example="negative_slope=0.01")
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Array) -> Array:
        x = self.as_input(x)
        slope = leaky_relu_slope(x, self.negative_slope)
        self._local = slope
        y: Array = x * slope
        return y

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Layer):
    """Gaussian error linear unit (Hendrycks and Gimpel, 2016): ``y = x Φ(x)``, with ``Φ`` the
    standard normal distribution function, ``Φ(x) = erfc(-x / sqrt(2)) / 2`` (`core.kernels`:
    NumPy has no erf); ``dL/dx = dout * (Φ(x) + x φ(x))``, ``φ = Φ'`` the normal density.

    ``approximate="tanh"``: PyTorch's approximation ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715
    x³)))`` and its derivative. Any other value is a ValueError.
    """

    def __init__(self, approximate: str = "none") -> None:
        check_choice(approximate, "approximate", "GELU", GELU_APPROXIMATIONS)
        super().__init__()
        self.approximate = approximate
        self._x: Array | None = None
        self._cdf: Array | None = None  # Φ(x) of the exact form, for backward

    def forward(self, x: Array) -> Array:
        x = self.as_input(x)
        y, self._cdf = gelu_and_cdf(x, self.approximate)
        self._x = x
        return y

    def backward(self, dout: Array) -> Array:
        x = self._saved(self._x)
        self._check_dout(dout, x.shape)
        dx: Array = dout * gelu_derivative(x, self.approximate, self._cdf)
        return dx

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _Normalize(Layer):
    """What `Softmax` and `LogSoftmax` share: the axis ``dim``, and an input with values along
    it."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim
        self._y: Array | None = None

    def _along_dim(self, x: Array) -> Array:
        x = self.as_input(x)
        if -x.ndim <= self.dim < x.ndim and x.shape[self.dim] == 0:
            raise ValueError(
                f"{type(self).__name__}(dim={self.dim}) needs at least one value along dim "
                f"{self.dim}, but got input of shape {x.shape}."
            )
        return x

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_Normalize):
    """``y = softmax(x)`` along ``dim``; ``dL/dx = y * (dout - sum(dout * y, dim))``.

    The Jacobian of softmax is ``diag(y) - y yᵀ``; multiplying it by ``dout`` gives the
    formula above without forming the C x C matrix.
    """

    def forward(self, x: Array) -> Array:
        y = softmax(self._along_dim(x), axis=self.dim)
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        with np.errstate(under="ignore"):  # y can be ~1e-300: those products are 0, exactly
            dx: Array = y * (dout - np.sum(dout * y, axis=self.dim, keepdims=True))
        return dx


class LogSoftmax(_Normalize):
    """``y = log_softmax(x)`` along ``dim``; ``dL/dx = dout - softmax(x) * sum(dout, dim)``."""

    def forward(self, x: Array) -> Array:
        y = log_softmax(self._along_dim(x), axis=self.dim)
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        with np.errstate(under="ignore"):  # probabilities below ~1e-308 become 0, exactly
            dx: Array = dout - np.exp(y) * np.sum(dout, axis=self.dim, keepdims=True)
        return dx
