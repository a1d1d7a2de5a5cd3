"""The engine's convolution and pooling, on the kernels the layers use
(`deeplearning.core.windows`).

Two linear operations carry them, each the other's adjoint, so each one's backward is the
other and any order of derivative follows:

- `windows`: every window of an image batch, (N, C, H, W) -> (N, C, OH, OW, kh, kw);
- `fold`: windows added back onto the pixels they were read from (the reverse shape).

Then ``conv2d`` is a matrix product of the weights with the windows laid out as columns
(im2col), ``avg_pool2d`` is the mean over each window, and ``max_pool2d`` is an operation of
its own whose backward sends each window's gradient to its first maximum, through `fold`.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Function, Grad, Operand, Tensor, as_array
from ..core.types import Array
from ..core.windows import (
    Pair,
    as_pair,
    check_images,
    first_max_mask,
    fold_windows,
    output_size,
    pool_window,
    sliding_windows,
    window_max,
)
from .ops import _lift, _operand, _run
from .reductions import mean
from .shapes import reshape, transpose


class Windows(Function):
    """``y = sliding_windows(x)`` (padding read as ``fill``); ``gx = fold(gy)``."""

    def __init__(self, kernel: Pair, stride: Pair, padding: Pair, fill: float) -> None:
        self.kernel, self.stride, self.padding, self.fill = kernel, stride, padding, fill

    def forward(self, x: Array) -> Array:
        return sliding_windows(x, self.kernel, self.stride, self.padding, self.fill)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        size = self.saved_inputs()[0].shape[2:]
        return (fold(gy, (size[0], size[1]), self.stride, self.padding),)


def windows(
    x: Operand, kernel: Pair, stride: Pair = (1, 1), padding: Pair = (0, 0), fill: float = 0.0
) -> Tensor:
    """Every ``kernel``-sized window of images x (N, C, H, W): (N, C, OH, OW, kh, kw)."""
    return _run(Windows(kernel, stride, padding, fill), _images(x))


class Fold(Function):
    """``y = fold_windows(g)``: windows (N, C, OH, OW, kh, kw) summed onto images of ``size``;
    its gradient is ``windows(gy)`` (the adjoint)."""

    def __init__(self, size: tuple[int, int], stride: Pair, padding: Pair) -> None:
        self.size, self.stride, self.padding = size, stride, padding

    def forward(self, g: Array) -> Array:
        return fold_windows(g, self.size, self.stride, self.padding)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        kernel = self.saved_inputs()[0].shape[4:]
        return (windows(gy, (kernel[0], kernel[1]), self.stride, self.padding),)


def fold(g: Operand, size: tuple[int, int], stride: Pair, padding: Pair) -> Tensor:
    """Windows g (N, C, OH, OW, kh, kw) added back onto images of ``size`` (H, W)."""
    return _run(Fold(size, stride, padding), g)


def conv2d(
    x: Operand,
    weight: Operand,
    bias: Operand | None = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
) -> Tensor:
    """2-D convolution (cross-correlation) of images x (N, C, H, W) with ``weight``
    (O, C, kh, kw) and ``bias`` (O,): y (N, O, OH, OW), as ``torch.nn.functional.conv2d``.

    ``y = weight.reshape(O, -1) @ im2col(x) + bias``, seen as images: the windows as columns
    (`windows`, transposed and reshaped), a matrix product, the bias, and a reshape.
    """
    x = _lift(x if isinstance(x, Tensor) else as_array(x))
    weight = _operand(weight, x)
    if weight.ndim != 4:
        raise ValueError(
            f"conv2d expected a weight of shape (out_channels, in_channels, kh, kw) but got "
            f"{weight.shape}"
        )
    out_channels, in_channels, kh, kw = weight.shape
    check_images(x.shape, in_channels, f"conv2d with a weight of shape {weight.shape}")
    step, pad = as_pair(stride, "stride", 1), as_pair(padding, "padding", 0)
    n, _, h, w = x.shape
    oh, ow = output_size((h, w), (kh, kw), step, pad)
    columns = (in_channels * kh * kw, n * oh * ow)
    cols = reshape(transpose(windows(x, (kh, kw), step, pad), (1, 4, 5, 0, 2, 3)), columns)
    y = reshape(weight, (out_channels, -1)) @ cols
    if bias is not None:
        y = y + reshape(_operand(bias, x), (out_channels, 1))
    return transpose(reshape(y, (out_channels, n, oh, ow)), (1, 0, 2, 3))


class MaxPool2dFn(Function):
    """``y`` = the maximum of each window (padding is -inf); ``gx = fold(gy * mask)``, the mask
    marking each window's first maximum (as PyTorch; constant, so the gradient is linear in
    ``gy``)."""

    def __init__(self, kernel: Pair, stride: Pair, padding: Pair) -> None:
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x: Array) -> Array:
        return self.save_output(window_max(self._windows(x)))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        x = self.saved_inputs()[0]
        assert self._output is not None
        mask = first_max_mask(self._windows(x.data), self._output)
        spread = reshape(gy, (*gy.shape, 1, 1)) * mask
        return (fold(spread, (x.shape[2], x.shape[3]), self.stride, self.padding),)

    def _windows(self, x: Array) -> Array:
        return sliding_windows(x, self.kernel, self.stride, self.padding, -np.inf)


def max_pool2d(
    x: Operand, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0
) -> Tensor:
    """The maximum of each window (stride: the window by default), as PyTorch's."""
    kernel, step, pad = pool_window(kernel_size, stride, padding)
    return _run(MaxPool2dFn(kernel, step, pad), _images(x))


def avg_pool2d(
    x: Operand, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0
) -> Tensor:
    """The mean of each window, padding counted as zeros (PyTorch's default)."""
    kernel, step, pad = pool_window(kernel_size, stride, padding)
    return mean(windows(x, kernel, step, pad), axis=(4, 5))


def _images(x: Operand) -> Tensor:
    """``x`` as it is if a tensor or a floating array (a first-order backward pass hands the
    engine arrays), else as a float32 array; refused unless it is images (N, C, H, W)."""
    x = _lift(x if isinstance(x, Tensor) else as_array(x))
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W) but got {x.shape}")
    return x
