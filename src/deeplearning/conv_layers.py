"""The layer path's convolutional layers: `Conv2d`, `MaxPool2d`, `AvgPool2d` and `Flatten`;
and `Conv2dBase` and `Pool2dBase`, what they hold on both paths.

They take images (N, C, H, W), as PyTorch's do, and compute with the kernels of `convolution`
(shared with the autograd engine); each keeps what its backward pass needs. `BatchNorm2d` is
in `regularization`, beside `BatchNorm1d`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

from ._types import RNG, Array, as_generator, check_flag, check_positive_int, float_dtype
from .convolution import (
    Pair,
    as_pair,
    check_images,
    col2im,
    first_max_mask,
    fold_windows,
    im2col,
    output_size,
    pool_window,
    sliding_windows,
    window_max,
    window_mean,
)
from .module import Module, Parameter
from .neural_net import Layer


def conv_init(
    out_channels: int, in_channels: int, kernel: Pair, rng: RNG, dtype: DTypeLike
) -> tuple[Array, Array]:
    """PyTorch's default weights (out, in, kh, kw) and bias (out,) of a convolution: both
    uniform in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` with ``fan_in = in kh kw`` (its
    ``kaiming_uniform_(a=sqrt(5))``). Without ``rng`` they come from NumPy's global random
    state (`_types.as_generator`), so ``np.random.seed`` repeats them."""
    check_positive_int("in_channels", in_channels, "Conv2d")
    check_positive_int("out_channels", out_channels, "Conv2d")
    dtype = float_dtype(dtype, "Conv2d")
    generator = as_generator(rng)
    bound = 1 / np.sqrt(in_channels * kernel[0] * kernel[1])
    weight = generator.uniform(-bound, bound, (out_channels, in_channels, *kernel))
    bias = generator.uniform(-bound, bound, out_channels)
    return weight.astype(dtype), bias.astype(dtype)


class Conv2dBase(Module):
    """What a convolution holds on both paths: ``weight`` (O, C, kh, kw) and ``bias`` (O,) as
    PyTorch's (and its default initialisation, `conv_init`), the window, stride and padding,
    and the check of the input's shape.

    Parameters
    ----------
    in_channels, out_channels : int
        C and O.
    kernel_size, stride, padding : int or (int, int)
        The window (kh, kw), its step, and the zeros added on each side.
    bias : bool
        Learn a bias per output channel.
    rng, dtype
        The generator of the initial weights (None: from NumPy's global random state), and
        their dtype (float32 by default). On the layer path the input is converted to it
        (integers and booleans included); complex input is a TypeError.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair = 1,
        padding: int | Pair = 0,
        bias: bool = True,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        check_flag(bias, "bias", "Conv2d")
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
        self.stride = as_pair(stride, "stride", 1)
        self.padding = as_pair(padding, "padding", 0)
        weight, bias_values = conv_init(out_channels, in_channels, self.kernel_size, rng, dtype)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = Parameter(weight)
        self.bias = Parameter(bias_values) if bias else None

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse a batch that is not images with ``in_channels`` channels."""
        name = f"{type(self).__name__}({self.in_channels} -> {self.out_channels})"
        check_images(shape, self.in_channels, name)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text + ("" if self.bias is not None else ", bias=False")


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


class Pool2dBase(Module):
    """What a pooling layer holds on both paths: the window, its stride (the window by
    default) and the padding (at most half the window, as PyTorch requires)."""

    def __init__(
        self, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = pool_window(kernel_size, stride, padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


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
