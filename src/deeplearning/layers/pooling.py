"""Pooling on the layer path: `MaxPool2d` and `AvgPool2d`, on the kernels of `core.windows`
(`max_pool`, `avg_pool` and their backward passes), which the engine shares.

Max pooling sends each window's gradient to the first position of its maximum (as PyTorch);
average pooling spreads it evenly over the window. Overlapping windows sum their gradients.
"""

from __future__ import annotations

import numpy as np

from ..core.bases import Pool2dBase
from ..core.types import Array
from ..core.windows import (
    avg_pool,
    avg_pool_backward,
    max_pool,
    max_pool_backward,
    output_size,
)
from .layer import Layer


class _PoolLayer(Pool2dBase, Layer):
    """The checks of a pooling layer's input and output gradient."""

    _shape: tuple[int, int, int, int] | None = None  # the last input's shape

    def _images(self, x: Array) -> Array:
        x = self.as_input(x)
        if x.ndim != 4:
            raise ValueError(
                f"{type(self).__name__} expected images of shape (N, C, H, W) but got {x.shape}"
            )
        self._shape = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return x

    def _checked(self, dout: Array) -> Array:
        shape = self._saved(self._shape)
        oh, ow = output_size(shape[2:], self.kernel_size, self.stride, self.padding)
        dout = np.asarray(dout)
        self._check_dout(dout, (*shape[:2], oh, ow))
        return dout


class MaxPool2d(_PoolLayer):
    """The maximum of each window (padding never wins: it is not read).

    Backward: each window's gradient goes to its maximum, the first one in row-major order
    if several tie (as PyTorch); a pixel in several windows gets the sum.

    Shape: (N, C, H, W) -> (N, C, OH, OW).
    """

    _x: Array | None = None  # what forward keeps: the input
    _maxima: Array | None = None  # and the output

    def forward(self, x: Array) -> Array:
        x = self._images(x)
        maxima = max_pool(x, self.kernel_size, self.stride, self.padding)
        self._x, self._maxima = x, maxima
        return maxima

    def backward(self, dout: Array) -> Array:
        dout = self._checked(dout)
        x, maxima = self._saved(self._x), self._saved(self._maxima)
        return max_pool_backward(dout, x, maxima, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_PoolLayer):
    """The mean of each window, padding counted as zeros (as PyTorch's default
    ``count_include_pad=True``); float16 is summed in float32, as PyTorch.

    Backward: ``dL/dx`` gets ``dout / (kh kw)`` from each window that holds the pixel.

    Shape: (N, C, H, W) -> (N, C, OH, OW).
    """

    def forward(self, x: Array) -> Array:
        return avg_pool(self._images(x), self.kernel_size, self.stride, self.padding)

    def backward(self, dout: Array) -> Array:
        dout = self._checked(dout)
        size = self._saved(self._shape)[2:]
        return avg_pool_backward(dout, size, self.kernel_size, self.stride, self.padding)
