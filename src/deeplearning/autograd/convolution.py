"""The engine's convolution and pooling, on the kernels the layers use
(`deeplearning.core.windows`).

Each operation comes with the operation that is its backward pass, and the backward pass of
that is again one of them, so that any order of derivative follows:

- `windows`: every window of an image batch, (N, C, H, W) -> (N, C, OH, OW, kh, kw), and
  `fold`, windows added back onto the pixels they were read from: each the other's adjoint;
- ``conv2d`` (`Conv2dFn`), bilinear in the images and the weights, with its two gradients,
  `conv2d_input` (the adjoint in the images, PyTorch's ``conv_transpose2d``) and
  `conv2d_weight`: the derivatives of each of the three are the other two. All three build
  im2col's columns in pieces within the memory budget (`core.windows.MEMORY_BUDGET`);
- ``avg_pool2d`` (`AvgPool2dFn`), linear, and its adjoint `AvgPool2dBackward`;
- ``max_pool2d`` (`MaxPool2dFn`), whose backward sends each window's gradient to its first
  maximum (`MaxPool2dBackward`, linear in the gradient), and the adjoint of that,
  `MaxPool2dSelect`, which reads the value at each first maximum.
"""

from __future__ import annotations

from ..core.function import Function
from ..core.tensor import Grad, Operand, Tensor, as_array
from ..core.types import Array
from ..core.windows import (
    Pair,
    as_pair,
    avg_pool,
    avg_pool_backward,
    check_images,
    conv2d_forward,
    conv2d_input_grad,
    conv2d_weight_grad,
    fold_windows,
    max_pool,
    max_pool_backward,
    max_pool_select,
    output_size,
    pool_window,
    sliding_windows,
)
from .ops import _lift, _operand, _run
from .shapes import reshape


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
    return _run(Windows(kernel, stride, padding, fill), _images(x, "windows"))


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


# -- convolution: three bilinear operations, each differentiated by the other two ---------------
class Conv2dFn(Function):
    """``y = conv2d_forward(x, w)`` (no bias); ``gx = conv2d_input(gy, w)``,
    ``gw = conv2d_weight(x, gy)``."""

    def __init__(self, stride: Pair, padding: Pair) -> None:
        self.stride, self.padding = stride, padding

    def forward(self, x: Array, w: Array) -> Array:
        return conv2d_forward(x, w, self.stride, self.padding)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        (x, w), (vx, vw) = self.saved_inputs(), self.args()
        size, kernel = (x.shape[2], x.shape[3]), (w.shape[2], w.shape[3])
        gx = conv2d_input(gy, vw, size, self.stride, self.padding) if x.requires_grad else None
        gw = conv2d_weight(vx, gy, kernel, self.stride, self.padding) if w.requires_grad else None
        return gx, gw


class Conv2dInput(Function):
    """``z = conv2d_input_grad(g, w)``, images of ``size`` (the adjoint of ``conv2d`` in its
    images); ``gg = conv2d(gz, w)``, ``gw = conv2d_weight(gz, g)``."""

    def __init__(self, size: tuple[int, int], stride: Pair, padding: Pair) -> None:
        self.size, self.stride, self.padding = size, stride, padding

    def forward(self, g: Array, w: Array) -> Array:
        return conv2d_input_grad(g, w, self.size, self.stride, self.padding)

    def backward(self, gz: Grad) -> tuple[Grad, ...]:
        (g, w), (vg, vw) = self.saved_inputs(), self.args()
        kernel = (w.shape[2], w.shape[3])
        gg = _run(Conv2dFn(self.stride, self.padding), gz, vw) if g.requires_grad else None
        gw = conv2d_weight(gz, vg, kernel, self.stride, self.padding) if w.requires_grad else None
        return gg, gw


class Conv2dWeight(Function):
    """``z = conv2d_weight_grad(x, g)``, weights of ``kernel`` (O, C, kh, kw);
    ``gx = conv2d_input(g, gz)``, ``gg = conv2d(x, gz)``."""

    def __init__(self, kernel: Pair, stride: Pair, padding: Pair) -> None:
        self.kernel, self.stride, self.padding = kernel, stride, padding

    def forward(self, x: Array, g: Array) -> Array:
        return conv2d_weight_grad(x, g, self.kernel, self.stride, self.padding)

    def backward(self, gz: Grad) -> tuple[Grad, ...]:
        (x, g), (vx, vg) = self.saved_inputs(), self.args()
        size = (x.shape[2], x.shape[3])
        gx = conv2d_input(vg, gz, size, self.stride, self.padding) if x.requires_grad else None
        gg = _run(Conv2dFn(self.stride, self.padding), vx, gz) if g.requires_grad else None
        return gx, gg


def conv2d_input(
    g: Operand, weight: Operand, size: tuple[int, int], stride: Pair, padding: Pair
) -> Tensor:
    """The gradient of ``conv2d`` with respect to its images (N, C, *size), from the gradient
    ``g`` (N, O, OH, OW) of its output (PyTorch's ``torch.nn.grad.conv2d_input``)."""
    return _run(Conv2dInput(size, stride, padding), g, weight)


def conv2d_weight(x: Operand, g: Operand, kernel: Pair, stride: Pair, padding: Pair) -> Tensor:
    """The gradient of ``conv2d`` with respect to its weight (O, C, *kernel), from its images
    ``x`` and the gradient ``g`` of its output (PyTorch's ``torch.nn.grad.conv2d_weight``)."""
    return _run(Conv2dWeight(kernel, stride, padding), x, g)


def conv2d(
    x: Operand,
    weight: Operand,
    bias: Operand | None = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
) -> Tensor:
    """2-D convolution (cross-correlation) of images x (N, C, H, W) with ``weight``
    (O, C, kh, kw) and ``bias`` (O,): y (N, O, OH, OW), as ``torch.nn.functional.conv2d``.

    ``y = weight.reshape(O, -1) @ im2col(x) + bias``, seen as images (`Conv2dFn`, whose
    columns are built in pieces within `core.windows.MEMORY_BUDGET`), then the bias.

    Raises
    ------
    ValueError
        A weight that is not 4-D, images that are not (N, C, H, W) with the weight's C, a
        bias that is not (O,), or images smaller than the (padded) window.
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
    output_size((x.shape[2], x.shape[3]), (kh, kw), step, pad)
    b = None if bias is None else _operand(bias, x)
    if b is not None and b.shape != (out_channels,):
        raise ValueError(
            f"conv2d expected a bias of shape ({out_channels},), one per output channel of the "
            f"weight {weight.shape}, but got {b.shape}"
        )
    y = _run(Conv2dFn(step, pad), x, weight)
    return y if b is None else y + reshape(b, (out_channels, 1, 1))


# -- pooling --------------------------------------------------------------------------------------
class MaxPool2dFn(Function):
    """``y`` = the maximum of each window (padding never wins); ``gx`` = each window's
    gradient at its first maximum (`MaxPool2dBackward`, linear in ``gy``: the positions are
    constants, as in PyTorch)."""

    def __init__(self, kernel: Pair, stride: Pair, padding: Pair) -> None:
        self.window = kernel, stride, padding

    def forward(self, x: Array) -> Array:
        return self.save_output(max_pool(x, *self.window))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        x = self.saved_inputs()[0].data
        assert self._output is not None
        return (_run(MaxPool2dBackward(x, self._output, self.window), gy),)


class MaxPool2dBackward(Function):
    """``z = max_pool_backward(g)`` for the pooling of the images ``x`` into ``maxima``: each
    window's ``g`` added onto its first maximum; its adjoint is `MaxPool2dSelect`."""

    def __init__(self, x: Array, maxima: Array, window: tuple[Pair, Pair, Pair]) -> None:
        self.x, self.maxima, self.window = x, maxima, window

    def forward(self, g: Array) -> Array:
        return max_pool_backward(g, self.x, self.maxima, *self.window)

    def backward(self, gz: Grad) -> tuple[Grad, ...]:
        return (_run(MaxPool2dSelect(self.x, self.maxima, self.window), gz),)


class MaxPool2dSelect(Function):
    """``z = max_pool_select(d)``: the value of images ``d`` at each window's first maximum;
    its adjoint is `MaxPool2dBackward`."""

    def __init__(self, x: Array, maxima: Array, window: tuple[Pair, Pair, Pair]) -> None:
        self.x, self.maxima, self.window = x, maxima, window

    def forward(self, d: Array) -> Array:
        return max_pool_select(d, self.x, self.maxima, *self.window)

    def backward(self, gz: Grad) -> tuple[Grad, ...]:
        return (_run(MaxPool2dBackward(self.x, self.maxima, self.window), gz),)


def max_pool2d(
    x: Operand, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0
) -> Tensor:
    """The maximum of each window (stride: the window by default), as PyTorch's."""
    kernel, step, pad = pool_window(kernel_size, stride, padding)
    return _run(MaxPool2dFn(kernel, step, pad), _images(x, "max_pool2d"))


class AvgPool2dFn(Function):
    """``y = avg_pool(x)``, the mean of each window (padding counted as zeros);
    ``gx = AvgPool2dBackward(gy)``, its adjoint."""

    def __init__(self, kernel: Pair, stride: Pair, padding: Pair) -> None:
        self.window = kernel, stride, padding

    def forward(self, x: Array) -> Array:
        return avg_pool(x, *self.window)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        size = self.saved_inputs()[0].shape[2:]
        return (_run(AvgPool2dBackward((size[0], size[1]), self.window), gy),)


class AvgPool2dBackward(Function):
    """``z = avg_pool_backward(g)``: each window's ``g / (kh kw)`` spread over its pixels, on
    images of ``size``; the adjoint is ``avg_pool``."""

    def __init__(self, size: tuple[int, int], window: tuple[Pair, Pair, Pair]) -> None:
        self.size, self.window = size, window

    def forward(self, g: Array) -> Array:
        return avg_pool_backward(g, self.size, *self.window)

    def backward(self, gz: Grad) -> tuple[Grad, ...]:
        return (_run(AvgPool2dFn(*self.window), gz),)


def avg_pool2d(
    x: Operand, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0
) -> Tensor:
    """The mean of each window, padding counted as zeros (PyTorch's default); float16 summed
    in float32, as PyTorch."""
    kernel, step, pad = pool_window(kernel_size, stride, padding)
    return _run(AvgPool2dFn(kernel, step, pad), _images(x, "avg_pool2d"))


def _images(x: Operand, who: str) -> Tensor:
    """``x`` as it is if a tensor or a floating array (a first-order backward pass hands the
    engine arrays), else as a float32 array; refused unless it is images (N, C, H, W)."""
    x = _lift(x if isinstance(x, Tensor) else as_array(x))
    if x.ndim != 4:
        raise ValueError(f"{who} expected images of shape (N, C, H, W) but got {x.shape}")
    return x
