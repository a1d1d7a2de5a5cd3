"""Convolution and pooling within bounds, on both paths: memory, loops, layouts, dtypes, shapes.

- Memory: im2col's columns are built in pieces within `windows.MEMORY_BUDGET`, over samples
  or over output rows (`conv_blocks`); with the budget lowered to force pieces, both paths
  still equal PyTorch (float64, the engine to second order) and the un-split computation, and
  the peak memory that tracemalloc sees stays within the budget plus the arrays the pass
  must hold (input, output, gradients). An output row too large for the budget is a
  MemoryError that gives the bytes needed and the budget.
- Loops: pooling loops over the window's offsets or over the windows, whichever are fewer, so
  a window far larger than the image (``MaxPool2d(600, 1, 300)`` on 2x2 pixels: 9 windows,
  360,000 offsets) takes 9 steps; both loops equal PyTorch. Max-pool's backward pass holds
  no array the size of all windows.
- Layouts: a weight whose memory is not laid out row by row gets its gradient.
- float16: average pooling sums in float32, as PyTorch, instead of overflowing.
- Shapes: every wrong shape is a ValueError (or TypeError) that says what was expected.
"""

from __future__ import annotations

import re
import tracemalloc
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest

import deeplearning as dl
from deeplearning.autograd import Tensor, nn
from deeplearning.autograd import functional as F
from deeplearning.core import windows
from deeplearning.core.module import Parameter
from deeplearning.core.windows import conv_blocks, loops_over_offsets, output_size
from test_autograd_ops import check_against_torch

RTOL, ATOL = 1e-10, 1e-12


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set `windows.MEMORY_BUDGET` for one test (restored after it)."""

    def set_budget(nbytes: int) -> None:
        monkeypatch.setattr(windows, "MEMORY_BUDGET", nbytes)

    return set_budget


def _peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` and the most bytes it held at once beyond what was allocated before."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def _torch_conv(torch: ModuleType, stride: Any, padding: Any) -> Callable[..., Any]:
    def conv(x: Any, w: Any, b: Any = None) -> Any:
        return torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)

    return conv


# -- 1. memory: convolution in pieces ------------------------------------------------------------
@pytest.mark.parametrize("rows_in_budget", [1, 2, 5, 14, 15, 31, 45, 1000])
def test_conv_blocks_tile_the_output_once_each_within_the_budget(
    budget: Callable[[int], None], rows_in_budget: int
) -> None:
    n, oh, row_bytes = 3, 15, 100
    budget(rows_in_budget * row_bytes)
    blocks = conv_blocks(n, oh, row_bytes, "conv2d")
    covered = np.zeros((n, oh), dtype=int)
    for samples, rows in blocks:
        covered[samples, rows] += 1
        size = (samples.stop - samples.start) * (rows.stop - rows.start)
        assert 0 < size * row_bytes <= rows_in_budget * row_bytes
    np.testing.assert_array_equal(covered, 1)
    assert (len(blocks) == 1) == (rows_in_budget >= n * oh)  # the fast path: one piece
    if rows_in_budget >= oh:  # whole samples
        assert all(rows == slice(0, oh) for _, rows in blocks)


# n=3, c=2, o=4, 9x8 images, kernel 3x2, stride (2, 1), padding (1, 2): 5x11 outputs; each
# output row of a sample takes (c kh kw + o) ow = 16 x 11 float64 values, 1,408 bytes.
SETUP = {
    "n": 3,
    "c": 2,
    "o": 4,
    "size": (9, 8),
    "kernel": (3, 2),
    "stride": (2, 1),
    "padding": (1, 2),
}
ROW_BYTES = 1408
PIECES = {
    "two samples a piece": 10 * ROW_BYTES,
    "three rows a piece": 3 * ROW_BYTES,
    "one row a piece": ROW_BYTES,
}


@pytest.mark.parametrize("pieces", list(PIECES))
def test_convolution_in_pieces_equals_torch_and_the_whole(
    torch: ModuleType, budget: Callable[[int], None], pieces: str
) -> None:
    s = SETUP
    gen = np.random.default_rng(0)
    x = gen.standard_normal((s["n"], s["c"], *s["size"]))
    dout = gen.standard_normal((s["n"], s["o"], 5, 11))
    layer_args = (s["c"], s["o"], s["kernel"], s["stride"], s["padding"])
    whole = dl.Conv2d(*layer_args, rng=0, dtype=np.float64)
    expected = [whole.forward(x), whole.backward(dout), whole.weight.grad, whole.bias.grad]
    assert whole._cols is not None  # the fast path: the columns kept

    budget(PIECES[pieces])
    assert len(conv_blocks(s["n"], 5, ROW_BYTES, "conv2d")) > 1
    layer = dl.Conv2d(*layer_args, rng=0, dtype=np.float64)
    got = [layer.forward(x), layer.backward(dout), layer.weight.grad, layer.bias.grad]
    assert layer._cols is None  # in pieces: the input kept instead
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)

    t_args = [torch.tensor(a, requires_grad=True) for a in (x, whole.weight.data, whole.bias.data)]
    t_out = _torch_conv(torch, s["stride"], s["padding"])(*t_args)
    t_out.backward(torch.from_numpy(dout))
    for a, b in zip(got, [t_out.detach(), *(t.grad for t in t_args)]):
        np.testing.assert_allclose(a, b.numpy(), rtol=RTOL, atol=ATOL)

    # the engine, to second order (its backward passes are convolutions in pieces too)
    check_against_torch(
        torch,
        lambda x, w, b: F.conv2d(x, w, b, s["stride"], s["padding"]),
        _torch_conv(torch, s["stride"], s["padding"]),
        x,
        whole.weight.data,
        whole.bias.data,
        second_order=True,
    )


def _conv_peaks(x: np.ndarray, kernel: int) -> dict[str, int]:
    """The peak bytes of each pass of a ``kernel`` convolution of ``x`` on each path, and
    checks that the engine and the layer agree."""
    peaks = {}
    layer = dl.Conv2d(1, 1, kernel, bias=False, rng=0)
    y, peaks["layer forward"] = _peak(lambda: layer.forward(x))
    dout = np.ones_like(y)
    dx, peaks["layer backward"] = _peak(lambda: layer.backward(dout))
    leaf, weight = Tensor(x, requires_grad=True), Tensor(layer.weight.data, requires_grad=True)
    out, peaks["engine forward"] = _peak(lambda: F.conv2d(leaf, weight))
    _, peaks["engine backward"] = _peak(lambda: out.backward(dout))
    np.testing.assert_allclose(out.data, y, rtol=1e-5, atol=1e-4)
    assert leaf.grad is not None and weight.grad is not None
    np.testing.assert_allclose(leaf.grad, dx, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(weight.grad, layer.weight.grad, rtol=1e-4)
    return peaks


def test_a_large_kernel_stays_within_a_lowered_budget(budget: Callable[[int], None]) -> None:
    # 31x31 kernel, 160x160 image: im2col would take 961 x 130^2 float32 values, 62 MiB. With
    # a budget of 2 MiB, each pass holds at most that, and arrays the size of the image.
    x = np.random.default_rng(0).standard_normal((1, 1, 160, 160)).astype(np.float32)
    whole = F.conv2d(x, np.ones((1, 1, 31, 31), np.float32)).data  # one piece: 62 MiB < 256
    budget(2 * 2**20)
    peaks = _conv_peaks(x, 31)
    for what, peak in peaks.items():
        assert peak <= 2 * 2**20 + 6 * x.nbytes, f"{what}: {peak / 2**20:.1f} MiB"
    split = F.conv2d(x, np.ones((1, 1, 31, 31), np.float32)).data
    np.testing.assert_allclose(split, whole, rtol=1e-5, atol=1e-4)


@pytest.mark.slow
def test_a_31x31_kernel_on_a_1500x1500_image_stays_within_the_default_budget() -> None:
    # im2col would take 961 x 1470^2 float32 values: 7.7 GiB. PyTorch takes about 178 MiB.
    x = np.random.default_rng(0).standard_normal((1, 1, 1500, 1500)).astype(np.float32)
    peaks = _conv_peaks(x, 31)
    for what, peak in peaks.items():
        assert peak <= windows.MEMORY_BUDGET + 6 * x.nbytes, f"{what}: {peak / 2**20:.1f} MiB"
    # outputs on either side of the pieces' borders, against their definition
    weight = np.random.default_rng(1).standard_normal((1, 1, 31, 31)).astype(np.float32)
    y = F.conv2d(x, weight).data
    for i, j in [(0, 0), (46, 5), (47, 1469), (1469, 700)]:
        expected = np.sum(x[0, 0, i : i + 31, j : j + 31].astype(np.float64) * weight[0, 0])
        np.testing.assert_allclose(y[0, 0, i, j], expected, rtol=1e-4, atol=1e-3)


def test_an_output_row_larger_than_the_budget_is_a_clear_error(
    budget: Callable[[int], None],
) -> None:
    # one output row of a 31x31 convolution of 40x40 pixels: (961 + 1) x 10 float32 values
    budget(1000)
    message = re.escape(
        "conv2d needs 38,480 bytes for the im2col columns of a single row of its output, more "
        "than the memory budget of 1,000 bytes: raise deeplearning.core.windows.MEMORY_BUDGET "
        "to at least 38480"
    )
    x = np.zeros((1, 1, 40, 40), np.float32)
    with pytest.raises(MemoryError, match=message):
        dl.Conv2d(1, 1, 31).forward(x)
    with pytest.raises(MemoryError, match=message):
        F.conv2d(x, np.zeros((1, 1, 31, 31), np.float32))
    budget(6 * 2**20)
    with pytest.raises(MemoryError, match=r"needs 7\.5 MiB .* budget of 6\.0 MiB"):
        # a 1x961 kernel on 3,000 pixels: (961 + 1) x 2,040 float32 values per row
        F.conv2d(np.zeros((1, 1, 1, 3000), np.float32), np.zeros((1, 1, 1, 961), np.float32))


# -- 2. pooling: loops as short as the output or the window --------------------------------------
POOLS = {
    "max": (dl.MaxPool2d, F.max_pool2d, "max_pool2d"),
    "avg": (dl.AvgPool2d, F.avg_pool2d, "avg_pool2d"),
}


def _check_pool(torch: ModuleType, kind: str, x: np.ndarray, *window: Any) -> None:
    """Both paths' pooling of ``x`` equal PyTorch's (the engine to second order)."""
    layer_class, engine_fn, torch_name = POOLS[kind]

    def torch_fn(t: Any) -> Any:
        return getattr(torch.nn.functional, torch_name)(t, *window)

    layer = layer_class(*window)
    out = layer.forward(x)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    t_x = torch.tensor(x, requires_grad=True)
    t_out = torch_fn(t_x)
    t_out.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.backward(dout), t_x.grad.numpy(), rtol=RTOL, atol=ATOL)
    check_against_torch(torch, lambda t: engine_fn(t, *window), torch_fn, x, second_order=True)


@pytest.mark.parametrize("kind", list(POOLS))
@pytest.mark.parametrize(("kernel", "padding"), [(600, 300), (1000, 500)])
def test_windows_far_larger_than_the_image_take_one_step_per_window(
    torch: ModuleType, kind: str, kernel: int, padding: int
) -> None:
    # 2x2 pixels padded by 300 on each side, 600x600 windows at stride 1: 3x3 windows, each
    # of 360,000 offsets. The loop runs over the 9 windows (it took 3.6 s over the offsets).
    size, window = (2, 2), ((kernel, kernel), (1, 1), (padding, padding))
    out = output_size(size, *window)
    assert out == (3, 3) and not loops_over_offsets(window[0], out)
    assert len(list(windows._steps(size, *window))) == 9
    x = np.random.default_rng(0).standard_normal((2, 3, *size))
    _check_pool(torch, kind, x, kernel, 1, padding)


CASES = [  # (shape, kernel, stride, padding): overlapping windows, padding, uneven sides
    ((2, 3, 7, 6), (3, 2), (1, 2), (1, 1)),
    ((1, 2, 5, 5), 3, 2, 1),
    ((2, 1, 4, 9), (4, 3), 1, (2, 0)),
    ((1, 1, 3, 3), 3, 1, 1),
]


@pytest.mark.parametrize("kind", list(POOLS))
@pytest.mark.parametrize("offsets", [True, False], ids=["over offsets", "over windows"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_both_loops_equal_torch(
    torch: ModuleType, monkeypatch: pytest.MonkeyPatch, kind: str, offsets: bool, case: int
) -> None:
    monkeypatch.setattr(windows, "loops_over_offsets", lambda kernel, out: offsets)
    shape, *window = CASES[case]
    gen = np.random.default_rng(case)
    # integers: many ties, which go to the first maximum in row-major order, as in PyTorch
    _check_pool(torch, kind, gen.integers(-2, 3, shape).astype(np.float64), *window)
    _check_pool(torch, kind, gen.standard_normal(shape), *window)


@pytest.mark.parametrize("offsets", [True, False], ids=["over offsets", "over windows"])
def test_a_window_of_minus_infinity_sends_its_gradient_to_its_first_pixel(
    torch: ModuleType, monkeypatch: pytest.MonkeyPatch, offsets: bool
) -> None:
    # padding is never read, so it never takes the gradient, even from a window of -inf
    monkeypatch.setattr(windows, "loops_over_offsets", lambda kernel, out: offsets)
    x = np.full((1, 1, 3, 3), -np.inf)
    x[0, 0, 2, 2] = 1.0
    t_x = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(t_x, 2, 2, 1).sum().backward()
    layer, leaf = dl.MaxPool2d(2, 2, 1), Tensor(x, requires_grad=True)
    F.max_pool2d(leaf, 2, 2, 1).sum().backward()
    for dx in (layer.backward(np.ones_like(layer.forward(x))), leaf.grad):
        np.testing.assert_array_equal(dx, [[[[1, 1, 0], [1, 0, 0], [0, 0, 1]]]])
        np.testing.assert_array_equal(dx, t_x.grad.numpy())


@pytest.mark.parametrize("offsets", [True, False], ids=["over offsets", "over windows"])
def test_fold_over_offsets_or_windows_is_the_adjoint_of_the_windows(
    monkeypatch: pytest.MonkeyPatch, offsets: bool
) -> None:
    monkeypatch.setattr(windows, "loops_over_offsets", lambda kernel, out: offsets)
    gen = np.random.default_rng(0)
    x = gen.standard_normal((2, 3, 7, 6))
    window = ((3, 2), (2, 1), (1, 1))
    views = windows.sliding_windows(x, *window)
    g = gen.standard_normal(views.shape)
    folded = windows.fold_windows(g, (7, 6), *window[1:])
    np.testing.assert_allclose(np.sum(folded * x), np.sum(g * views), rtol=1e-12)


def test_max_pool_backward_holds_nothing_the_size_of_all_windows(torch: ModuleType) -> None:
    # 31x31 windows at stride 1 on 300x300 pixels: 270^2 windows of 961 pixels. A mask of them
    # all, and the gradient spread over it, took 335 MiB; the input is 352 KiB.
    x = np.random.default_rng(0).standard_normal((1, 1, 300, 300)).astype(np.float32)
    layer = dl.MaxPool2d(31, 1)
    out = layer.forward(x)
    dout = np.ones_like(out)
    dx, peak = _peak(lambda: layer.backward(dout))
    assert peak <= 6 * x.nbytes
    leaf = Tensor(x, requires_grad=True)
    y = F.max_pool2d(leaf, 31, 1)
    _, peak = _peak(lambda: y.backward(dout))
    assert peak <= 6 * x.nbytes
    t_x = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(t_x, 31, 1).backward(torch.from_numpy(dout))
    np.testing.assert_array_equal(dx, t_x.grad.numpy())
    np.testing.assert_array_equal(leaf.grad, dx)


# -- 3. any layout of the weight -----------------------------------------------------------------
def _strided_copies(w: np.ndarray) -> dict[str, np.ndarray]:
    """``w``'s values in memory not laid out row by row."""
    return {
        "Fortran order": np.asfortranarray(w),
        "a transposed layout": np.ascontiguousarray(w.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0),
        "every other element": np.repeat(w, 2, axis=-1)[..., ::2],
    }


@pytest.mark.parametrize("layout", ["Fortran order", "a transposed layout", "every other element"])
@pytest.mark.parametrize("in_pieces", [False, True], ids=["whole", "in pieces"])
def test_a_weight_in_any_memory_layout_gets_its_gradient(
    torch: ModuleType, budget: Callable[[int], None], layout: str, in_pieces: bool
) -> None:
    gen = np.random.default_rng(0)
    x, dout = gen.standard_normal((2, 3, 6, 7)), gen.standard_normal((2, 4, 6, 7))
    reference = dl.Conv2d(3, 4, 3, padding=1, rng=0, dtype=np.float64)
    expected = [reference.forward(x), reference.backward(dout), reference.weight.grad]
    if in_pieces:
        budget(2000)
    conv = dl.Conv2d(3, 4, 3, padding=1, rng=0, dtype=np.float64)
    conv.weight = Parameter(_strided_copies(conv.weight.data)[layout])
    assert not conv.weight.data.flags.c_contiguous
    got = [conv.forward(x), conv.backward(dout), conv.weight.grad]
    assert (conv._cols is None) == in_pieces
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    assert np.abs(conv.weight.grad).sum() > 0

    t_x = torch.tensor(x, requires_grad=True)
    t_w = torch.tensor(reference.weight.data, requires_grad=True)
    t_b = torch.tensor(reference.bias.data)
    t_out = torch.nn.functional.conv2d(t_x, t_w, t_b, padding=1)
    t_out.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(got[2], t_w.grad.numpy(), rtol=RTOL, atol=ATOL)
    # the engine, on the same layout
    module = nn.Conv2d(3, 4, 3, padding=1, rng=0, dtype=np.float64)
    module.weight = Parameter(_strided_copies(module.weight.data)[layout])
    module(Tensor(x)).backward(dout)
    np.testing.assert_allclose(module.weight.grad, t_w.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_a_weight_shared_by_two_convolutions_gets_the_sum_of_both_uses() -> None:
    # the layer protocol of `Parameter` (used_by, grad_out, grad_written), in either layout
    gen = np.random.default_rng(0)
    x, dout = gen.standard_normal((2, 3, 6, 7)), gen.standard_normal((2, 3, 6, 7))
    first = dl.Conv2d(3, 3, 3, padding=1, rng=0, dtype=np.float64)
    first.weight = Parameter(np.asfortranarray(first.weight.data))
    second = dl.Conv2d(3, 3, 3, padding=1, rng=1, dtype=np.float64)
    second.weight = first.weight
    h = first.forward(x)
    second.forward(h)
    first.backward(second.backward(dout))
    tied = first.weight.grad.copy()
    alone = [dl.Conv2d(3, 3, 3, padding=1, rng=0, dtype=np.float64) for _ in range(2)]
    for conv in alone:
        conv.weight.data[...] = first.weight.data
        conv.bias.data[...] = (first if conv is alone[0] else second).bias.data
    alone[0].forward(x)
    alone[1].forward(h)
    alone[0].backward(alone[1].backward(dout))
    np.testing.assert_allclose(tied, alone[0].weight.grad + alone[1].weight.grad, rtol=1e-12)


# -- 4. float16 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("window", [(2,), (3, 2, 1)], ids=["2x2 windows", "3x3 padded"])
def test_float16_average_pooling_sums_in_float32(
    torch: ModuleType, window: tuple[int, ...]
) -> None:
    # values up to 60,000: four of them sum past float16's largest value, 65,504
    gen = np.random.default_rng(0)
    x = gen.uniform(30_000, 60_000, (2, 3, 6, 6)).astype(np.float16)
    t_x = torch.tensor(x, requires_grad=True)
    t_out = torch.nn.functional.avg_pool2d(t_x, *window)
    dout = gen.uniform(30_000, 60_000, t_out.shape).astype(np.float16)
    t_out.backward(torch.from_numpy(dout))
    layer = dl.AvgPool2d(*window)
    leaf = Tensor(x, requires_grad=True)
    engine_out = F.avg_pool2d(leaf, *window)
    engine_out.backward(dout)
    assert leaf.grad is not None
    results = [(layer.forward(x), layer.backward(dout)), (engine_out.data, leaf.grad)]
    for out, dx in results:
        assert out.dtype == dx.dtype == np.float16
        assert np.isfinite(out).all() and np.isfinite(dx).all()
        np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=2**-10)
        np.testing.assert_allclose(dx, t_x.grad.numpy(), rtol=2**-10)


# -- 5. shapes -----------------------------------------------------------------------------------
X = np.zeros((2, 3, 8, 8), np.float32)
W = np.zeros((4, 3, 3, 3), np.float32)
ONES3, ZEROS3 = np.ones(3, np.float32), np.zeros(3, np.float32)

SHAPE_ERRORS: dict[str, tuple[Callable[[], Any], type[Exception], str]] = {
    "conv2d, a 3-D weight": (
        lambda: F.conv2d(X, W[0]),
        ValueError,
        r"conv2d expected a weight of shape \(out_channels, in_channels, kh, kw\) but got "
        r"\(3, 3, 3\)",
    ),
    "conv2d, a bias of the wrong length": (
        lambda: F.conv2d(X, W, np.zeros(5)),
        ValueError,
        r"conv2d expected a bias of shape \(4,\), one per output channel of the weight "
        r"\(4, 3, 3, 3\), but got \(5,\)",
    ),
    "conv2d, a 2-D bias": (
        lambda: F.conv2d(X, W, np.zeros((4, 1))),
        ValueError,
        r"a bias of shape \(4,\).* but got \(4, 1\)",
    ),
    "conv2d, weight channels not the input's": (
        lambda: F.conv2d(X, W[:, :2]),
        ValueError,
        r"conv2d with a weight of shape \(4, 2, 3, 3\) expected images of shape \(N, 2, H, W\) "
        r"but got \(2, 3, 8, 8\)",
    ),
    "conv2d, one image without its batch axis": (
        lambda: F.conv2d(X[0], W),
        ValueError,
        r"expected images of shape \(N, 3, H, W\) but got \(3, 8, 8\)\. One image\? Add the "
        r"batch axis: x\[np\.newaxis\]",
    ),
    "conv2d, 5-D images": (
        lambda: F.conv2d(X[None], W),
        ValueError,
        r"\(N, 3, H, W\) but got \(1, 2, 3, 8, 8\)",
    ),
    "layer Conv2d, 3-D images": (
        lambda: dl.Conv2d(3, 4, 3).forward(X[0]),
        ValueError,
        r"Conv2d\(3 -> 4\) expected images of shape \(N, 3, H, W\) but got \(3, 8, 8\)",
    ),
    "nn.Conv2d, the wrong channels": (
        lambda: nn.Conv2d(2, 4, 3)(Tensor(X)),
        ValueError,
        r"Conv2d\(2 -> 4\) expected images of shape \(N, 2, H, W\) but got \(2, 3, 8, 8\)",
    ),
    "max_pool2d, 3-D images": (
        lambda: F.max_pool2d(X[0], 2),
        ValueError,
        r"max_pool2d expected images of shape \(N, C, H, W\) but got \(3, 8, 8\)",
    ),
    "avg_pool2d, 2-D images": (
        lambda: F.avg_pool2d(X[0, 0], 2),
        ValueError,
        r"avg_pool2d expected images of shape \(N, C, H, W\) but got \(8, 8\)",
    ),
    "nn.MaxPool2d, 5-D images": (
        lambda: nn.MaxPool2d(2)(Tensor(X[None])),
        ValueError,
        r"max_pool2d expected images .* but got \(1, 2, 3, 8, 8\)",
    ),
    "layer MaxPool2d, 3-D images": (
        lambda: dl.MaxPool2d(2).forward(X[0]),
        ValueError,
        r"MaxPool2d expected images of shape \(N, C, H, W\) but got \(3, 8, 8\)",
    ),
    "layer AvgPool2d, 5-D images": (
        lambda: dl.AvgPool2d(2).forward(X[None]),
        ValueError,
        r"AvgPool2d expected images of shape \(N, C, H, W\) but got \(1, 2, 3, 8, 8\)",
    ),
    "batch_norm, a weight of the wrong length": (
        lambda: F.batch_norm(X, None, None, np.ones(2), training=True),
        ValueError,
        r"batch_norm expected weight of shape \(3,\), one value per channel of the input "
        r"\(2, 3, 8, 8\), but got \(2,\)",
    ),
    "batch_norm, a 2-D weight": (
        lambda: F.batch_norm(X, None, None, np.ones((3, 1)), training=True),
        ValueError,
        r"batch_norm expected weight of shape \(3,\).* but got \(3, 1\)",
    ),
    "batch_norm, a bias of the wrong length": (
        lambda: F.batch_norm(X, ZEROS3, ONES3, ONES3, np.zeros(4)),
        ValueError,
        r"batch_norm expected bias of shape \(3,\).* but got \(4,\)",
    ),
    "batch_norm, a running mean of the wrong length": (
        lambda: F.batch_norm(X, np.zeros(2), ONES3),
        ValueError,
        r"batch_norm expected running_mean of shape \(3,\).* but got \(2,\)",
    ),
    "batch_norm, a running variance of the wrong length, training": (
        lambda: F.batch_norm(X, ZEROS3, np.ones(4), training=True),
        ValueError,
        r"batch_norm expected running_var of shape \(3,\).* but got \(4,\)",
    ),
    "batch_norm, running statistics as a list": (
        lambda: F.batch_norm(X, [0.0] * 3, ONES3),
        TypeError,
        r"batch_norm expected running_mean as a float NumPy array \(it is updated in place\) "
        r"but got list",
    ),
    "batch_norm, integer running statistics": (
        lambda: F.batch_norm(X, ZEROS3, np.ones(3, int), training=True),
        TypeError,
        r"running_var as a float NumPy array .* but got ndarray of dtype int",
    ),
    "batch_norm, one value": (
        lambda: F.batch_norm(np.zeros(3), None, None, training=True),
        ValueError,
        r"batch_norm expected input of shape \(N, C, \.\.\.\) but got \(3,\)",
    ),
}


@pytest.mark.parametrize("case", list(SHAPE_ERRORS))
def test_wrong_shapes_say_what_was_expected(case: str) -> None:
    call, error, message = SHAPE_ERRORS[case]
    with pytest.raises(error, match=message):
        call()


def test_right_shapes_pass_the_checks() -> None:
    assert F.conv2d(X, W, np.zeros(4, np.float32)).shape == (2, 4, 6, 6)
    assert (
        F.batch_norm(X, ZEROS3.copy(), ONES3.copy(), ONES3, ZEROS3, training=True).shape == X.shape
    )
    assert F.batch_norm(Tensor(X), None, None, Tensor(ONES3), Tensor(ZEROS3), True).shape == X.shape


@pytest.mark.parametrize(
    ("budget", "error"), [(0, ValueError), (-5, ValueError), ("a", TypeError), (2.5, TypeError)]
)
def test_a_memory_budget_that_is_not_a_positive_int_is_refused(
    budget: object, error: type[Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(windows, "MEMORY_BUDGET", budget)
    with pytest.raises(error, match=r"deeplearning\.core\.windows: MEMORY_BUDGET must be an int"):
        dl.Conv2d(1, 2, 3, rng=0).forward(np.ones((1, 1, 8, 8)))
