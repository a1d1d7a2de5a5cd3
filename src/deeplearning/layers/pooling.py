"""Pooling on the layer path: `MaxPool2d` and `AvgPool2d`, over the sliding windows of
`core.windows`.

Max pooling sends each window's gradient to the first position of its maximum (as PyTorch);
average pooling spreads it evenly over the window. Overlapping windows sum their gradients back
with `fold_windows`.
"""

from __future__ import annotations

import numpy as np

from ..core.bases import Pool2dBase
from ..core.types import Array
from ..core.windows import (
    first_max_mask,
    fold_windows,
    output_size,
    sliding_windows,
    window_max,
    window_mean,
)
from .layer import Layer


class _PoolLayer(Pool2dBase, Layer):
    """The windows of a pooling layer's input, and the gradient folded back onto it."""

    _shape: tuple[int, int, int, int] | None = None  # the last input's shape

    def _windows(self, x: Array, fill: float) -> Array:
        x = self.as_input(x)
        if x.ndim != 4:
            raise ValueError(
                f"{type(self).__name__} expected images of shape (N, C, H, W) but got {x.shape}"
            )
        self._shape = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return sliding_windows(x, self.kernel_size, self.stride, self.padding, fill)

    def _checked(self, dout: Array) -> Array:
        shape = self._saved(self._shape)
        oh, ow = output_size(shape[2:], self.kernel_size, self.stride, self.padding)
        dout = np.asarray(dout)
        self._check_dout(dout, (*shape[:2], oh, ow))
        return dout

    def _fold(self, windows: Array) -> Array:
        shape = self._saved(self._shape)
        return fold_windows(windows, shape[2:], self.stride, self.padding)


class MaxPool2d(_PoolLayer):
    """The maximum of each window (padding never wins: it counts as -inf).

    Backward: each window's gradient goes to its maximum, the first one in row-major order
    if several tie (as PyTorch); a pixel in several windows gets the sum.

    Shape: (N, C, H, W) -> (N, C, OH, OW).
    """

    _windows_of_x: Array | None = None  # what forward keeps: the input's windows (a view)
    _maxima: Array | None = None  # and the output

    def forward(self, x: Array) -> Array:
        windows = self._windows(x, fill=-np.inf)
        maxima = window_max(windows)
        self._windows_of_x, self._maxima = windows, maxima
        return maxima

    def backward(self, dout: Array) -> Array:
        dout = self._checked(dout)
        mask = first_max_mask(self._saved(self._windows_of_x), self._saved(self._maxima))
        return self._fold(dout[..., np.newaxis, np.newaxis] * mask)


class AvgPool2d(_PoolLayer):
    """The mean of each window, padding counted as zeros (as PyTorch's default
    ``count_include_pad=True``).

    Backward: ``dL/dx`` gets ``dout / (kh kw)`` from each window that holds the pixel.

    Shape: (N, C, H, W) -> (N, C, OH, OW).
    """

    def forward(self, x: Array) -> Array:
        return window_mean(self._windows(x, fill=0.0))

    def backward(self, dout: Array) -> Array:
        dout = self._checked(dout)
        share = dout / (self.kernel_size[0] * self.kernel_size[1])
        spread = np.broadcast_to(
            share[..., np.newaxis, np.newaxis], (*dout.shape, *self.kernel_size)
        )
        return self._fold(spread)
