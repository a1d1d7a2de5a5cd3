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
from ..core.windows import (
    col2im,
    conv2d_forward,
    conv2d_input_grad,
    conv2d_weight_grad,
    im2col,
    output_size,
    within_budget,
)
from .layer import Layer


class Conv2d(Conv2dBase, Layer):
    """2-D convolution (a cross-correlation, as in every framework), as a matrix product.

    With ``cols = im2col(x)`` (C kh kw, N OH OW) and ``Wm = weight.reshape(O, C kh kw)``::

        y = Wm @ cols + bias                       (O, N OH OW), seen as (N, O, OH, OW)
        dL/dweight = dout @ colsᵀ                  dL/dbias = sum of dout over N, OH, OW
        dL/dx = col2im(Wmᵀ @ dout)

    where ``dout`` is laid out as (O, N OH OW) like ``y``. The output is the product's array
    seen as images (its memory runs channel by channel), and an upstream gradient laid out the
    same way (an elementwise layer's is) needs no copy. Parameters: as `Conv2dBase`, in any
    memory layout (a transposed weight from another library works).

    Forward keeps ``cols`` for the backward pass when it and its gradient ``Wmᵀ @ dout`` fit
    in the memory budget (`core.windows.MEMORY_BUDGET`, 256 MiB): every ordinary network. A
    larger one keeps the input instead, and both passes build the columns in pieces within the
    budget (`conv2d_forward`, `conv2d_weight_grad`, `conv2d_input_grad`).

    Shape
    -----
    x (N, C, H, W) -> y (N, O, OH, OW), ``OH = (H + 2 padding - kh) // stride + 1``.
    """

    _cols: Array | None = None  # what forward keeps: the input's windows (or the input)
    _x: Array | None = None
    _shape: tuple[int, int, int, int] = (0, 0, 0, 0)  # and the input's shape

    def forward(self, x: Array) -> Array:
        x = self.as_input(x, self.weight.dtype)
        self.check_input(x.shape)
        n, c, h, w = x.shape
        oh, ow = output_size((h, w), self.kernel_size, self.stride, self.padding)
        self._shape = (n, c, h, w)
        self.weight.used_by(self)
        if self.bias is not None:
            self.bias.used_by(self)
        o, kh, kw = self.out_channels, *self.kernel_size
        if within_budget(2 * c * kh * kw * n * oh * ow * x.itemsize):  # the fast path
            cols = im2col(x, self.kernel_size, self.stride, self.padding)
            self._cols, self._x = cols, None
            y = self.weight.data.reshape(o, -1) @ cols
            out: Array = y.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)
        else:
            self._cols, self._x = None, x
            out = conv2d_forward(x, self.weight.data, self.stride, self.padding)
        if self.bias is not None:
            out += self.bias.data[:, np.newaxis, np.newaxis]
        return out

    def _output_shape(self) -> tuple[int, int, int, int]:
        """(N, O, OH, OW) of the last forward pass."""
        n, _, h, w = self._shape
        oh, ow = output_size((h, w), self.kernel_size, self.stride, self.padding)
        return n, self.out_channels, oh, ow

    def _columns(self, dout: Array) -> Array:
        """Set the parameters' gradients; return ``dout`` as (O, N OH OW)."""
        kept = self._saved(self._x if self._cols is None else self._cols)
        dout = np.asarray(dout, dtype=self.weight.dtype)
        self._check_dout(dout, self._output_shape())
        grad: Array = dout.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)
        if self._cols is not None:
            dweight = grad @ kept.T
        else:
            dweight = conv2d_weight_grad(kept, dout, self.kernel_size, self.stride, self.padding)
        # assigned, not written by the product through a reshape of .grad, which is a copy
        # (and the gradient lost) when the parameter's memory is not laid out row by row
        written = self.weight.grad_out()
        written[...] = dweight.reshape(self.weight.shape)
        self.weight.grad_written(written)
        if self.bias is not None:
            self.bias.grad_written(grad.sum(axis=1, out=self.bias.grad_out()))
        return grad

    def backward_params(self, dout: Array) -> None:
        self._columns(dout)

    def backward(self, dout: Array) -> Array:
        grad = self._columns(dout)
        if self._cols is not None:
            dcols = self.weight.data.reshape(self.out_channels, -1).T @ grad
            return col2im(dcols, self._shape, self.kernel_size, self.stride, self.padding)
        n, o, oh, ow = self._output_shape()
        images = grad.reshape(o, n, oh, ow).transpose(1, 0, 2, 3)
        size = self._shape[2:]
        return conv2d_input_grad(images, self.weight.data, size, self.stride, self.padding)


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
