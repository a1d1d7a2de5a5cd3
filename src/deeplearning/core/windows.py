"""The arithmetic of convolution and pooling, on arrays, shared by both paths.

Images come as (N, C, H, W). A window of ``kh x kw`` pixels slides over each image with a
stride of ``(sh, sw)``, after ``(ph, pw)`` pixels of padding on each side, and stops at
``OH x OW`` positions::

    OH = (H + 2 ph - kh) // sh + 1          OW = (W + 2 pw - kw) // sw + 1

`sliding_windows` shows every window at once without copying anything: a strided view of
shape (N, C, OH, OW, kh, kw) whose element ``[n, c, i, j, u, v]`` is the padded input's pixel
``[n, c, i sh + u, j sw + v]``. Its adjoint, `fold_windows`, adds each window's values back
onto the pixels they were read from (a pixel in several windows gets the sum).

Convolution is a matrix product: `im2col` lays the windows out as the columns of a matrix
(C kh kw, N OH OW), and ``W.reshape(O, -1) @ im2col(x)`` is the output, one row per output
channel, one column per output pixel; `col2im` is the adjoint of `im2col`. That matrix holds
each pixel up to kh kw times (a 31x31 kernel on one 1500x1500 image: 7.7 GiB), so
`conv2d_forward` and its two gradients, `conv2d_weight_grad` and `conv2d_input_grad`, build it
in pieces of at most `MEMORY_BUDGET` bytes, 256 MiB unless set otherwise
(``deeplearning.core.windows.MEMORY_BUDGET = nbytes``): the whole batch at once when it fits
(any ordinary network: the fast path), else some samples, else some output rows at a time
(`conv_blocks`).

Pooling reduces each window (`max_pool`, `avg_pool`) and sends the gradient back
(`max_pool_backward`, `avg_pool_backward`), reading the image itself (padding is never
copied), in whichever of two loops is shorter (`loops_over_offsets`): over the kh kw offsets
of the window, each step on every window at once, or over the OH OW windows, each step one
window. Apart from a convolution's pieces, no loop here runs over samples, channels or
pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .types import Array
from .validation import check_int

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
    elif len(shape) == 3 and shape[0] == channels:
        hint = " One image? Add the batch axis: x[np.newaxis]."
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


Index = tuple[Any, ...]
"""What ``x[...]`` takes: here a tuple of slices (or of index arrays) after an Ellipsis."""

MEMORY_BUDGET = 256 * 2**20
"""The most bytes that a convolution's im2col columns take at once: 256 MiB. Each call reads
it anew, so ``deeplearning.core.windows.MEMORY_BUDGET = 2**30`` raises it to 1 GiB for the
whole library. It counts the columns of one piece and the piece's share of the product (or of
the gradient); the input, the output and their gradients come on top, as they must whatever
the budget, and so does a padded copy of the input when there is padding."""


def conv_blocks(n: int, oh: int, row_bytes: int, who: str) -> list[tuple[slice, slice]]:
    """The pieces a convolution computes in, as (samples, output rows), each taking at most
    `MEMORY_BUDGET` bytes at ``row_bytes`` per output row of one sample: the whole batch in
    one piece if it fits (the fast path), else as many whole samples as fit, else as many
    output rows of one sample as fit.

    Raises
    ------
    MemoryError
        If a single output row does not fit: the message gives the bytes it needs.
    """
    budget = memory_budget()
    if n * oh * row_bytes <= budget:
        return [(slice(0, n), slice(0, oh))]
    if row_bytes > budget:
        raise MemoryError(
            f"{who} needs {_bytes(row_bytes)} for the im2col columns of a single row of its "
            f"output, more than the memory budget of {_bytes(budget)}: raise "
            f"deeplearning.core.windows.MEMORY_BUDGET to at least {row_bytes}, or use a smaller "
            "kernel or narrower images"
        )
    if oh * row_bytes <= budget:
        step = budget // (oh * row_bytes)
        return [(slice(s, min(s + step, n)), slice(0, oh)) for s in range(0, n, step)]
    step = budget // row_bytes
    return [
        (slice(s, s + 1), slice(r, min(r + step, oh))) for s in range(n) for r in range(0, oh, step)
    ]


def _bytes(nbytes: int) -> str:
    """A number of bytes for a message: ``"5.4 MiB"``, or ``"38,480 bytes"`` below 1 MiB."""
    return f"{nbytes / 2**20:,.1f} MiB" if nbytes >= 2**20 else f"{nbytes:,} bytes"


def memory_budget() -> int:
    """`MEMORY_BUDGET`, read now, refused unless it is an int >= 1 (bytes)."""
    check_int(MEMORY_BUDGET, "MEMORY_BUDGET", "deeplearning.core.windows", example="2**28")
    return MEMORY_BUDGET


def within_budget(nbytes: int) -> bool:
    """Whether ``nbytes`` fit in `MEMORY_BUDGET`."""
    return nbytes <= memory_budget()


def _padded(x: Array, padding: Pair, fill: float = 0.0) -> Array:
    """``x`` (N, C, H, W) with ``padding`` pixels of ``fill`` on each side (a copy), or itself."""
    (ph, pw), (n, c, h, w) = padding, x.shape
    if not (ph or pw):
        return x
    padded = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    return padded


def sliding_windows(
    x: Array, kernel: Pair, stride: Pair, padding: Pair, fill: float = 0.0
) -> Array:
    """Every window of ``x`` (N, C, H, W): a read-only view (N, C, OH, OW, kh, kw) of ``x``
    padded with ``fill`` (a copy only when there is padding)."""
    if x.ndim != 4:
        raise ValueError(f"sliding_windows expected images of shape (N, C, H, W) but got {x.shape}")
    oh, ow = output_size(x.shape[2:], kernel, stride, padding)
    x = _padded(x, padding, fill)
    sn, sc, sy, sx = x.strides
    shape = (x.shape[0], x.shape[1], oh, ow, *kernel)
    strides = (sn, sc, sy * stride[0], sx * stride[1], sy, sx)
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
    (h, w), (ph, pw) = size, padding
    out: Array = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=windows.dtype)
    out = out.transpose(1, 0, 2, 3)
    _fold_into(out, windows, stride)
    return out[:, :, ph : ph + h, pw : pw + w]


def _fold_into(out: Array, windows: Array, stride: Pair) -> None:
    """Add ``windows`` (N, C, OH, OW, kh, kw) onto the (padded) images ``out`` that they tile,
    looping over the window's offsets or over the windows, whichever are fewer."""
    _, _, oh, ow, kh, kw = windows.shape
    sh, sw = stride
    if loops_over_offsets((kh, kw), (oh, ow)):
        for u in range(kh):  # one offset of the window at a time, every window at once
            for v in range(kw):
                out[:, :, u : u + sh * oh : sh, v : v + sw * ow : sw] += windows[..., u, v]
    else:
        for i in range(oh):  # one window at a time, all of it at once
            for j in range(ow):
                out[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += windows[:, :, i, j]


def im2col(x: Array, kernel: Pair, stride: Pair, padding: Pair) -> Array:
    """The windows of ``x`` (N, C, H, W) as the columns of a matrix (C kh kw, N OH OW): column
    ``(n, i, j)`` is window (i, j) of sample n, its rows ordered as a weight (C, kh, kw). So
    ``weight.reshape(O, -1) @ im2col(x)`` is the convolution, (O, N OH OW).

    (The classic im2col of one image, (C kh kw, OH OW), for a batch at once. Its rows are
    long: copying the windows into it, and the products with it, run fast. It takes
    ``C kh kw N OH OW`` values: `conv2d_forward` calls it on pieces of the batch.)
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


# -- convolution, in pieces within the memory budget ----------------------------------------------
def _row_bytes(columns: int, out_channels: int, ow: int, dtype: np.dtype[Any]) -> int:
    """The bytes of one output row of one sample: its ``columns`` (C kh kw) values per window
    and ``out_channels`` values of the product (or gradient), for each of the ``ow`` windows."""
    return (columns + out_channels) * ow * dtype.itemsize


def _input_rows(rows: slice, kernel: int, stride: int) -> slice:
    """The rows of the padded input that the output ``rows`` read."""
    return slice(rows.start * stride, (rows.stop - 1) * stride + kernel)


def _block_columns(padded: Array, block: tuple[slice, slice], kernel: Pair, stride: Pair) -> Array:
    """`im2col` of one piece (samples, output rows) of the ``padded`` images."""
    samples, rows = block
    part = padded[samples, :, _input_rows(rows, kernel[0], stride[0])]
    return im2col(part, kernel, stride, (0, 0))


def _matrix(g: Array) -> Array:
    """Images (N, O, OH, OW) as the product's matrix (O, N OH OW) (a copy unless laid out so)."""
    matrix: Array = g.transpose(1, 0, 2, 3).reshape(g.shape[1], -1)
    return matrix


def conv2d_forward(x: Array, weight: Array, stride: Pair, padding: Pair) -> Array:
    """The convolution (cross-correlation) of ``x`` (N, C, H, W) with ``weight`` (O, C, kh, kw),
    without bias: y (N, O, OH, OW) = ``weight.reshape(O, -1) @ im2col(x)``, seen as images.

    The columns are built in pieces within `MEMORY_BUDGET` (`conv_blocks`); the output is laid
    out channel by channel in memory (an (O, N, OH, OW) array), as the product gives it.
    """
    (n, c, h, w), (o, _, kh, kw) = x.shape, weight.shape
    oh, ow = output_size((h, w), (kh, kw), stride, padding)
    dtype = np.result_type(x, weight)
    matrix = weight.reshape(o, -1)
    blocks = conv_blocks(n, oh, _row_bytes(c * kh * kw, o, ow, dtype), "conv2d")
    if len(blocks) == 1:  # the fast path: one product
        y: Array = (matrix @ im2col(x, (kh, kw), stride, padding)).reshape(o, n, oh, ow)
    else:
        padded = _padded(x, padding)
        y = np.empty((o, n, oh, ow), dtype=dtype)
        for samples, rows in blocks:
            cols = _block_columns(padded, (samples, rows), (kh, kw), stride)
            y[:, samples, rows] = (matrix @ cols).reshape(o, -1, rows.stop - rows.start, ow)
            del cols  # before the next piece's columns are made
    out: Array = y.transpose(1, 0, 2, 3)
    return out


def conv2d_weight_grad(x: Array, g: Array, kernel: Pair, stride: Pair, padding: Pair) -> Array:
    """dL/dweight (O, C, kh, kw) of `conv2d_forward`, from its input ``x`` (N, C, H, W) and the
    gradient ``g`` (N, O, OH, OW) of its output: ``g`` as (O, N OH OW) ``@ im2col(x)ᵀ``, the
    sum of one product per piece."""
    (n, c, _, _), (_, o, oh, ow) = x.shape, g.shape
    dtype = np.result_type(x, g)
    blocks = conv_blocks(n, oh, _row_bytes(c * kernel[0] * kernel[1], o, ow, dtype), "conv2d")
    padded = _padded(x, padding)
    grad = np.zeros((o, c * kernel[0] * kernel[1]), dtype=dtype)
    for samples, rows in blocks:
        cols = _block_columns(padded, (samples, rows), kernel, stride)
        grad += _matrix(g[samples, :, rows]) @ cols.T
        del cols  # before the next piece's columns are made
    return grad.reshape(o, c, *kernel)


def conv2d_input_grad(
    g: Array, weight: Array, size: tuple[int, int], stride: Pair, padding: Pair
) -> Array:
    """dL/dx (N, C, H, W) of `conv2d_forward` on images of ``size`` (H, W), from the gradient
    ``g`` (N, O, OH, OW) of its output: ``col2im(weight.reshape(O, -1)ᵀ @ g)``, piece by piece
    (each piece's columns folded onto the rows of the input they came from)."""
    (n, o, oh, ow), (_, c, kh, kw) = g.shape, weight.shape
    (h, w), (ph, pw) = size, padding
    dtype = np.result_type(g, weight)
    matrix_t = weight.reshape(o, -1).T
    blocks = conv_blocks(n, oh, _row_bytes(c * kh * kw, o, ow, dtype), "conv2d")
    out: Array = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=dtype).transpose(1, 0, 2, 3)
    for samples, rows in blocks:
        cols = matrix_t @ _matrix(g[samples, :, rows])
        windows = cols.reshape(c, kh, kw, -1, rows.stop - rows.start, ow).transpose(
            3, 0, 4, 5, 1, 2
        )
        _fold_into(out[samples, :, _input_rows(rows, kh, stride[0])], windows, stride)
        del cols, windows  # before the next piece's columns are made
    return out[:, :, ph : ph + h, pw : pw + w]


# -- pooling ------------------------------------------------------------------------------------
def loops_over_offsets(kernel: Pair, out: Pair) -> bool:
    """Whether pooling loops over the window's ``kh kw`` offsets (each step on every window)
    rather than over the ``OH OW`` windows (each step on one window): whichever are fewer. So
    the Python loop never runs more than ``min(kh kw, OH OW)`` times."""
    return kernel[0] * kernel[1] <= out[0] * out[1]


def _axis_steps(
    k: int, s: int, p: int, size: int, out: int, offsets: bool
) -> list[tuple[slice, slice]]:
    """Along one axis (window ``k``, stride ``s``, padding ``p``, ``size`` pixels, ``out``
    windows): the steps of the loop, as pairs (outputs, pixels), padding left out.

    By offsets, one step per offset u of the window: the outputs whose window reads a pixel
    there, and those pixels (one per output, ``s`` apart). By windows, one step per output i:
    that output, and its window's pixels."""
    steps = []
    if offsets:
        for u in range(k):
            first = max(0, -((u - p) // s))  # the first i with i s + u - p >= 0
            last = min(out, (size - 1 + p - u) // s + 1)  # after the last with i s + u - p < size
            if first < last:
                start = first * s + u - p
                steps.append(
                    (slice(first, last), slice(start, start + (last - first - 1) * s + 1, s))
                )
    else:
        for i in range(out):
            steps.append((slice(i, i + 1), slice(max(0, i * s - p), min(size, i * s - p + k))))
    return steps


def _steps(
    size: tuple[int, int], kernel: Pair, stride: Pair, padding: Pair
) -> Iterator[tuple[Index, Index]]:
    """The steps of a pooling loop (`loops_over_offsets` says which loop): pairs (outputs,
    pixels) of indices into the output (N, C, OH, OW) and the input (N, C, H, W). By offsets,
    both select one value per window (of the same shape); by windows, the output one value per
    image (N, C, 1, 1), the input its window (padding left out)."""
    out = output_size(size, kernel, stride, padding)
    offsets = loops_over_offsets(kernel, out)
    rows = _axis_steps(kernel[0], stride[0], padding[0], size[0], out[0], offsets)
    cols = _axis_steps(kernel[1], stride[1], padding[1], size[1], out[1], offsets)
    for out_rows, in_rows in rows:
        for out_cols, in_cols in cols:
            yield (..., out_rows, out_cols), (..., in_rows, in_cols)


def max_pool(x: Array, kernel: Pair, stride: Pair, padding: Pair) -> Array:
    """The maximum of each window of ``x`` (N, C, H, W): (N, C, OH, OW); padding never wins (it
    is not read), and a window holding a NaN gives NaN (as PyTorch)."""
    out = output_size(x.shape[2:], kernel, stride, padding)
    offsets = loops_over_offsets(kernel, out)
    best = np.full((*x.shape[:2], *out), -np.inf, dtype=x.dtype)
    for o, p in _steps(x.shape[2:], kernel, stride, padding):
        value = x[p] if offsets else x[p].max(axis=(2, 3), keepdims=True)
        np.maximum(best[o], value, out=best[o])
    return best


def _first_maxima(
    x: Array, maxima: Array, kernel: Pair, stride: Pair, padding: Pair
) -> Iterator[tuple[Index, Index, Any]]:
    """Where max-pooling sends each window's gradient: its first maximum in row-major order,
    padding left out (so a window of -inf sends it to its first pixel), as PyTorch; its first
    NaN if it holds any (PyTorch: its last). Yields triples (outputs, pixels, first): the
    gradient of ``out[outputs]`` goes to ``x[pixels]`` where ``first`` is true."""
    out = maxima.shape[2:]
    if loops_over_offsets(kernel, out):
        taken = np.zeros(maxima.shape, dtype=bool)  # the windows whose maximum was met
        for o, p in _steps(x.shape[2:], kernel, stride, padding):
            value = x[p]
            hit = (value == maxima[o]) | np.isnan(value)
            first = hit > taken[o]  # a hit, and the window's first
            taken[o] |= hit
            yield o, p, first
        return
    n, c = x.shape[:2]
    samples, channels = np.arange(n).reshape(n, 1, 1, 1), np.arange(c).reshape(1, c, 1, 1)
    for o, (_, rows, cols) in _steps(x.shape[2:], kernel, stride, padding):
        window = x[:, :, rows, cols]
        k = window.reshape(n, c, -1).argmax(axis=2).reshape(n, c, 1, 1)  # first max or NaN
        width = window.shape[3]
        yield o, (samples, channels, rows.start + k // width, cols.start + k % width), True


def max_pool_backward(
    g: Array, x: Array, maxima: Array, kernel: Pair, stride: Pair, padding: Pair
) -> Array:
    """dL/dx (N, C, H, W) of `max_pool` from the gradient ``g`` (N, C, OH, OW) of its output
    ``maxima``: each window's gradient added onto its first maximum (`_first_maxima`)."""
    dx = np.zeros(x.shape, dtype=g.dtype)
    for o, p, first in _first_maxima(x, maxima, kernel, stride, padding):
        dx[p] += g[o] * first
    return dx


def max_pool_select(
    d: Array, x: Array, maxima: Array, kernel: Pair, stride: Pair, padding: Pair
) -> Array:
    """The adjoint of `max_pool_backward` (for second derivatives): from images ``d``
    (N, C, H, W), the value at each window's first maximum, (N, C, OH, OW)."""
    picked = np.zeros(maxima.shape, dtype=d.dtype)
    for o, p, first in _first_maxima(x, maxima, kernel, stride, padding):
        picked[o] += d[p] * first
    return picked


def avg_pool(x: Array, kernel: Pair, stride: Pair, padding: Pair) -> Array:
    """The mean of each window of ``x`` (N, C, H, W), padding counted as zeros (PyTorch's
    default): (N, C, OH, OW). float16 is summed in float32 (as PyTorch), then rounded back."""
    out = output_size(x.shape[2:], kernel, stride, padding)
    offsets = loops_over_offsets(kernel, out)
    wide = np.promote_types(x.dtype, np.float32)
    total = np.zeros((*x.shape[:2], *out), dtype=wide)
    for o, p in _steps(x.shape[2:], kernel, stride, padding):
        total[o] += x[p] if offsets else x[p].sum(axis=(2, 3), keepdims=True, dtype=wide)
    total /= kernel[0] * kernel[1]
    return total.astype(x.dtype, copy=False)


def avg_pool_backward(
    g: Array, size: tuple[int, int], kernel: Pair, stride: Pair, padding: Pair
) -> Array:
    """dL/dx (N, C, H, W) of `avg_pool` on images of ``size``, from the gradient ``g`` (N, C,
    OH, OW) of its output: ``g / (kh kw)`` added onto every pixel of the window (float16 summed
    in float32). Its adjoint is `avg_pool`."""
    wide = np.promote_types(g.dtype, np.float32)
    share = np.divide(g, kernel[0] * kernel[1], dtype=wide)
    dx = np.zeros((*g.shape[:2], *size), dtype=wide)
    for o, p in _steps(size, kernel, stride, padding):
        dx[p] += share[o]
    return dx.astype(g.dtype, copy=False)
