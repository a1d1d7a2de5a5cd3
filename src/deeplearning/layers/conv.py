"""The layer path's convolution, `Conv2d`, as one matrix product over im2col's columns, and
`Flatten`, its bridge to the Linear layers.

With ``cols = im2col(x)`` (C kh kw, N OH OW), ``Wm = weight.reshape(O, C kh kw)`` and the
output gradient ``dout`` laid out as (O, N OH OW)::

    y = Wm @ cols + bias              dL/dweight = dout @ colsᵀ
    dL/dbias = Σ dout                 dL/dx = col2im(Wmᵀ @ dout)

Images are (N, C, H, W), as in PyTorch; the kernels (`core.windows`) are shared with the
engine, and what a convolution holds (weights, window, stride, padding) is `core.bases`'.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.bases import Conv2dBase
from ..core.types import Array
from ..core.windows import col2im, im2col, output_size
from .layer import Layer


class Conv2d(Conv2dBase, Layer):
    """2-D convolution (a cross-correlation, as in every framework), as a matrix product.

    With ``cols = im2col(x)`` (C kh kw, N OH OW) and ``Wm = weight.reshape(O, C kh kw)``::

        y = Wm @ cols + bias                       (O, N OH OW), seen as (N, O, OH, OW)
        dL/dweight = dout @ colsᵀ                  dL/dbias = sum of dout over N, OH, OW
        dL/dx = col2im(Wmᵀ @ dout)

    where ``dout`` is laid out as (O, N OH OW) like ``y``. The output is the product's array
    seen as images (its memory runs channel by channel), and an upstream gradient laid out the
    same way (an elementwise layer's is) needs no copy. Parameters: as `Conv2dBase`.

    Shape
    -----
    x (N, C, H, W) -> y (N, O, OH, OW), ``OH = (H + 2 padding - kh) // stride + 1``.
    """

    _cols: Array | None = None  # what forward keeps: the input's windows, and its shape
    _shape: tuple[int, int, int, int] = (0, 0, 0, 0)

    def forward(self, x: Array) -> Array:
        x = self.as_input(x, self.weight.dtype)
        self.check_input(x.shape)
        n, _, h, w = x.shape
        oh, ow = output_size((h, w), self.kernel_size, self.stride, self.padding)
        cols = im2col(x, self.kernel_size, self.stride, self.padding)
        self._cols, self._shape = cols, (n, self.in_channels, h, w)
        y = self.weight.data.reshape(self.out_channels, -1) @ cols
        if self.bias is not None:
            y += self.bias.data[:, np.newaxis]
        out: Array = y.reshape(self.out_channels, n, oh, ow).transpose(1, 0, 2, 3)
        return out

    def _columns(self, dout: Array) -> Array:
        """Set the parameters' gradients; return ``dout`` as (O, N OH OW)."""
        cols = self._saved(self._cols)
        dout = np.asarray(dout, dtype=self.weight.dtype)
        n, _, h, w = self._shape
        oh, ow = output_size((h, w), self.kernel_size, self.stride, self.padding)
        self._check_dout(dout, (n, self.out_channels, oh, ow))
        grad: Array = dout.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)
        np.matmul(grad, cols.T, out=self.weight.grad.reshape(self.out_channels, -1))
        if self.bias is not None:
            grad.sum(axis=1, out=self.bias.grad)
        return grad

    def backward_params(self, dout: Array) -> None:
        self._columns(dout)

    def backward(self, dout: Array) -> Array:
        grad = self._columns(dout)
        dcols = self.weight.data.reshape(self.out_channels, -1).T @ grad
        return col2im(dcols, self._shape, self.kernel_size, self.stride, self.padding)


class Flatten(Layer):
    """Each sample as one row: (N, ...) -> (N, product of the rest); backward reshapes back."""

    _shape: tuple[int, ...] | None = None

    def forward(self, x: Array) -> Array:
        x = self.as_input(x)
        if x.ndim < 2:
            raise ValueError(f"Flatten expected a batch of samples (N, ...) but got {x.shape}")
        self._shape = x.shape
        return x.reshape(len(x), math.prod(x.shape[1:]))

    def backward(self, dout: Array) -> Array:
        shape = self._saved(self._shape)
        dout = np.asarray(dout)
        self._check_dout(dout, (shape[0], math.prod(shape[1:])))
        return dout.reshape(shape)
