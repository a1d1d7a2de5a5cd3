"""The arithmetic of convolution and pooling, on arrays, shared by both paths.

Images come as (N, C, H, W). A window of ``kh x kw`` pixels slides over each image with a
stride of ``(sh, sw)``, after ``(ph, pw)`` pixels of padding on each side, and stops at
``OH x OW`` positions::

    OH = (H + 2 ph - kh) // sh + 1          OW = (W + 2 pw - kw) // sw + 1

`sliding_windows` shows every window at once without copying anything: a strided view of
shape (N, C, OH, OW, kh, kw) whose element ``[n, c, i, j, u, v]`` is the padded input's pixel
``[n, c, i sh + u, j sw + v]``. Everything else is built on it:

- a convolution is a matrix product: `im2col` lays the windows out as the rows of a matrix
  (N OH OW, C kh kw), and ``im2col(x) @ W.reshape(O, -1).T`` is the output, one row per
  output pixel, one column per output channel;
- pooling reduces each window (its max or its mean);
- the backward passes need the adjoint of `sliding_windows`, `fold_windows`, which adds each
  window's gradient back onto the pixels it was read from (a pixel in several windows gets
  the sum), and `col2im`, the adjoint of `im2col`. They loop over the kh x kw offsets of a
  window, never over samples, channels or pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._types import Array

Pair = tuple[int, int]


def as_pair(value: int | tuple[int, int], name: str, smallest: int) -> Pair:
    """``value`` (an int, or a pair of ints for height and width) as a pair, each at least
    ``smallest``; otherwise a ValueError naming ``name``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if (
        len(pair) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
        or min(pair) < smallest
    ):
        raise ValueError(
            f"{name} must be an int or a pair of ints, each at least {smallest}; got {value!r}"
        )
    return int(pair[0]), int(pair[1])


def pool_window(
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None,
    padding: int | tuple[int, int],
) -> tuple[Pair, Pair, Pair]:
    """A pooling window's size, stride (the size by default) and padding, checked; padding is
    at most half the window (as PyTorch requires), so no window holds padding alone."""
    kernel = as_pair(kernel_size, "kernel_size", 1)
    step = kernel if stride is None else as_pair(stride, "stride", 1)
    pad = as_pair(padding, "padding", 0)
    if any(2 * p > k for p, k in zip(pad, kernel)):
        raise ValueError(f"padding {pad} must be at most half the pooling window {kernel}")
    return kernel, step, pad


def check_images(shape: tuple[int, ...], channels: int, who: str) -> None:
    """Refuse a batch that is not images (N, ``channels``, H, W), saying how to make it one."""
    if len(shape) == 4 and shape[1] == channels:
        return
    hint = ""
    if len(shape) == 2:
        side = round(float(np.sqrt(shape[1] / max(channels, 1))))
        square = channels * side * side == shape[1]
        example = f"x.reshape(-1, {channels}, {side}, {side})" if square else "x.reshape(...)"
        hint = (
            f" Each sample is flat: reshape the batch to (N, {channels}, H, W), e.g. {example}, "
            "or load the data with flatten=False."
        )
    raise ValueError(f"{who} expected images of shape (N, {channels}, H, W) but got {shape}.{hint}")


def output_size(size: tuple[int, int], kernel: Pair, stride: Pair, padding: Pair) -> Pair:
    """(OH, OW) for an input of ``size`` (H, W); an error if the window does not fit."""
    out = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(size, kernel, stride, padding))
    if min(out) < 1:
        raise ValueError(
            f"an input of {size[0]}x{size[1]} pixels padded by {padding} is smaller than the "
            f"{kernel[0]}x{kernel[1]} window: use a larger input, more padding or a smaller "
            "kernel."
        )
    return out[0], out[1]


def sliding_windows(
    x: Array, kernel: Pair, stride: Pair, padding: Pair, fill: float = 0.0
) -> Array:
    """Every window of ``x`` (N, C, H, W): a read-only view (N, C, OH, OW, kh, kw) of ``x``
    padded with ``fill`` (a copy only when there is padding)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = output_size((h, w), kernel, stride, padding)
    if ph or pw:
        padded = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
        padded[:, :, ph : ph + h, pw : pw + w] = x
        x = padded
    sn, sc, sy, sx = x.strides
    shape = (n, c, oh, ow, kh, kw)
    strides = (sn, sc, sy * sh, sx * sw, sy, sx)
    windows: Array = as_strided(x, shape, strides, writeable=False)
    return windows


def fold_windows(windows: Array, size: tuple[int, int], stride: Pair, padding: Pair) -> Array:
    """The adjoint of `sliding_windows`: ``windows`` (N, C, OH, OW, kh, kw) added back onto an
    image of ``size`` (H, W), each value onto the pixel it was read from; padding dropped.

    So ``sum(fold_windows(g) * x) == sum(g * sliding_windows(x))`` for every x and g.
    """
    n, c, oh, ow, kh, kw = windows.shape
    (h, w), (sh, sw), (ph, pw) = size, stride, padding
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=windows.dtype)
    for u in range(kh):  # one offset of the window at a time, every window at once
        for v in range(kw):
            out[:, :, u : u + sh * oh : sh, v : v + sw * ow : sw] += windows[..., u, v]
    return out[:, :, ph : ph + h, pw : pw + w]


def im2col(x: Array, kernel: Pair, stride: Pair, padding: Pair) -> Array:
    """The windows of ``x`` (N, C, H, W) as the rows of a matrix (N OH OW, C kh kw): row
    ``(n, i, j)`` is window (i, j) of sample n, its columns ordered as a weight (C, kh, kw)."""
    windows = sliding_windows(x, kernel, stride, padding)
    n, c, oh, ow, kh, kw = windows.shape
    cols: Array = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    return cols


def col2im(
    cols: Array, shape: tuple[int, int, int, int], kernel: Pair, stride: Pair, padding: Pair
) -> Array:
    """The adjoint of `im2col`: rows (N OH OW, C kh kw) added back onto images of ``shape``
    (N, C, H, W)."""
    n, c, h, w = shape
    oh, ow = output_size((h, w), kernel, stride, padding)
    windows = cols.reshape(n, oh, ow, c, *kernel).transpose(0, 3, 1, 2, 4, 5)
    return fold_windows(windows, (h, w), stride, padding)


def first_max_mask(windows: Array) -> Array:
    """A boolean array shaped like ``windows`` (..., kh, kw), true at the first maximum of each
    window in row-major order: where max-pooling sends the gradient (as PyTorch does)."""
    *lead, kh, kw = windows.shape
    flat = windows.reshape(*lead, kh * kw)
    first = flat.argmax(axis=-1)[..., np.newaxis]
    mask: Array = np.arange(kh * kw) == first
    return mask.reshape(windows.shape)
