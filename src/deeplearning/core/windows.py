"""The arithmetic of convolution and pooling, on arrays, shared by both paths.

Images come as (N, C, H, W). A window of ``kh x kw`` pixels slides over each image with a
stride of ``(sh, sw)``, after ``(ph, pw)`` pixels of padding on each side, and stops at
``OH x OW`` positions::

    OH = (H + 2 ph - kh) // sh + 1          OW = (W + 2 pw - kw) // sw + 1

`sliding_windows` shows every window at once without copying anything: a strided view of
shape (N, C, OH, OW, kh, kw) whose element ``[n, c, i, j, u, v]`` is the padded input's pixel
``[n, c, i sh + u, j sw + v]``. Everything else is built on it:

- a convolution is a matrix product: `im2col` lays the windows out as the columns of a matrix
  (C kh kw, N OH OW), and ``W.reshape(O, -1) @ im2col(x)`` is the output, one row per output
  channel, one column per output pixel;
- pooling reduces each window: `window_max`, `window_mean`;
- the backward passes need the adjoint of `sliding_windows`, `fold_windows`, which adds each
  window's gradient back onto the pixels it was read from (a pixel in several windows gets
  the sum); `col2im` is the adjoint of `im2col`, and `first_max_mask` says where max-pooling
  sends each window's gradient.

Every loop here runs over the kh x kw offsets of a window, each step working on every window
at once; none runs over samples, channels or pixels.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .types import Array

Pair = tuple[int, int]


def as_pair(value: int | tuple[int, int], name: str, smallest: int) -> Pair:
    """``value`` (an int, or a pair of ints for height and width) as a pair, each at least
    ``smallest``; otherwise a ValueError naming ``name``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
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
    """(OH, OW) for an input of ``size`` (H, W); an error if the window does not fit, or if
    the window's size or stride is not positive or its padding negative (`as_pair`): the
    kernels below build strided views on these numbers, which must never reach outside the
    array."""
    kernel, stride = as_pair(kernel, "kernel_size", 1), as_pair(stride, "stride", 1)
    padding = as_pair(padding, "padding", 0)
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
    if x.ndim != 4:
        raise ValueError(f"sliding_windows expected images of shape (N, C, H, W) but got {x.shape}")
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

    So ``sum(fold_windows(g) * x) == sum(g * sliding_windows(x))`` for every x and g. The
    result is laid out channel by channel in memory (a (C, N, H, W) array seen as (N, C, H,
    W)), the layout `im2col`'s products give, so that the additions run over long rows.
    """
    n, c, oh, ow, kh, kw = windows.shape
    if (oh, ow) != output_size(size, (kh, kw), stride, padding):
        raise ValueError(
            f"fold_windows got windows {windows.shape} that do not tile an image of size {size} "
            f"with stride {stride} and padding {padding}"
        )
    (h, w), (sh, sw), (ph, pw) = size, stride, padding
    out: Array = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=windows.dtype)
    out = out.transpose(1, 0, 2, 3)
    for u in range(kh):  # one offset of the window at a time, every window at once
        for v in range(kw):
            out[:, :, u : u + sh * oh : sh, v : v + sw * ow : sw] += windows[..., u, v]
    return out[:, :, ph : ph + h, pw : pw + w]


def im2col(x: Array, kernel: Pair, stride: Pair, padding: Pair) -> Array:
    """The windows of ``x`` (N, C, H, W) as the columns of a matrix (C kh kw, N OH OW): column
    ``(n, i, j)`` is window (i, j) of sample n, its rows ordered as a weight (C, kh, kw). So
    ``weight.reshape(O, -1) @ im2col(x)`` is the convolution, (O, N OH OW).

    (The classic im2col of one image, (C kh kw, OH OW), for a batch at once. Its rows are
    long: copying the windows into it, and the products with it, run fast.)
    """
    windows = sliding_windows(x, kernel, stride, padding)
    n, c, oh, ow, kh, kw = windows.shape
    cols: Array = windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * oh * ow)
    return cols


def col2im(
    cols: Array, shape: tuple[int, int, int, int], kernel: Pair, stride: Pair, padding: Pair
) -> Array:
    """The adjoint of `im2col`: columns (C kh kw, N OH OW) added back onto images of ``shape``
    (N, C, H, W)."""
    n, c, h, w = shape
    oh, ow = output_size((h, w), kernel, stride, padding)
    windows = cols.reshape(c, *kernel, n, oh, ow).transpose(3, 0, 4, 5, 1, 2)
    return fold_windows(windows, (h, w), stride, padding)


def window_max(windows: Array) -> Array:
    """The maximum of each window (N, C, OH, OW, kh, kw): (N, C, OH, OW), NaN if the window
    holds one (as PyTorch). One offset of the window at a time, over every window at once."""
    kh, kw = windows.shape[4:]
    best: Array = windows[..., 0, 0].copy(order="K")
    for k in range(1, kh * kw):
        np.maximum(best, windows[..., k // kw, k % kw], out=best)
    return best


def first_max_mask(windows: Array, maxima: Array) -> Array:
    """A boolean array shaped like ``windows`` (N, C, OH, OW, kh, kw), true at the first
    maximum of each window in row-major order (its first NaN, if it holds any), given the
    ``maxima`` (`window_max`): where max-pooling sends the gradient, as PyTorch does, but in
    two corner cases. PyTorch sends it to a window's last NaN rather than its first, and, in
    a window whose pixels are all -inf, to its first pixel, where this sends it to the
    window's first position even when that is padding (so the gradient is dropped)."""
    kh, kw = windows.shape[4:]
    mask = np.empty((kh, kw, *maxima.shape), dtype=bool)  # each offset's block contiguous
    taken = np.zeros(maxima.shape, dtype=bool)
    for u in range(kh):
        for v in range(kw):
            value = windows[..., u, v]
            hit = (value == maxima) | np.isnan(value)
            np.greater(hit, taken, out=mask[u, v])  # hit and not taken
            taken |= hit
    in_place: Array = mask.transpose(2, 3, 4, 5, 0, 1)
    return in_place


def window_mean(windows: Array) -> Array:
    """The mean of each window (N, C, OH, OW, kh, kw), summed one offset at a time."""
    kh, kw = windows.shape[4:]
    total: Array = windows[..., 0, 0].copy(order="K")
    for k in range(1, kh * kw):
        total += windows[..., k // kw, k % kw]
    total /= kh * kw
    return total
