"""Convolution and pooling on both paths: the layers (`deeplearning.Conv2d`, `MaxPool2d`,
`AvgPool2d`, `BatchNorm2d`, `Flatten`), the engine's operations (`functional.conv2d`,
`max_pool2d`, `avg_pool2d`, and `windows`/`fold`) and its ``nn`` modules, and the kernels both
share (`deeplearning.core.windows`).

- PyTorch (CPU, float64) is the oracle of both paths, forward and backward, with shapes drawn
  by hypothesis; the engine also against PyTorch's double backward (`check_against_torch` of
  `test_autograd_ops`), and with central differences (`gradcheck`, `gradgradcheck`). These
  tests skip when PyTorch is not installed; the rest do not need it.
- The two paths agree with each other: the same ``rng`` gives the same weights, the same
  outputs and gradients, and one ``state_dict`` loads into either.
- The kernels: `fold_windows` is the adjoint of `sliding_windows` and `col2im` of `im2col`;
  `sliding_windows` copies nothing but the padded image; im2col's matrix has the size its
  docstring gives.
- Bad input is refused with a ValueError that says what to do.
"""

from __future__ import annotations

import re
import tracemalloc
from types import ModuleType
from typing import Any, Callable, NamedTuple, Union

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplearning as dl
from deeplearning import AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, MaxPool2d
from deeplearning.autograd import Tensor, gradcheck, gradgradcheck, nn
from deeplearning.autograd import functional as F
from deeplearning.autograd.convolution import fold, windows
from deeplearning.core.windows import col2im, fold_windows, im2col, output_size, sliding_windows
from deeplearning.training import batch_gradients
from test_autograd_ops import check_against_torch

RTOL, ATOL = 1e-10, 1e-12

# The largest relative errors of the layer path against PyTorch, by order (0: outputs,
# 1: gradients); not asserted, read by whoever wants to report them. The engine's are in
# `test_autograd_ops.WORST_RELATIVE_ERROR` (orders 0, 1 and 2), where `check_against_torch`
# records them.
WORST_RELATIVE_ERROR = {0: 0.0, 1: 0.0}

FAST = settings(max_examples=20, deadline=None)
FEW = settings(max_examples=10, deadline=None)

seeds = st.integers(0, 2**32 - 1)
Pair = tuple[int, int]
IntOrPair = Union[int, Pair]


# -- what is drawn -------------------------------------------------------------------------------
class ConvSetup(NamedTuple):
    """A convolution: x (n, c, h, w), weight (o, c, *kernel), and how the window moves."""

    n: int
    c: int
    o: int
    h: int
    w: int
    kernel: Pair
    stride: IntOrPair
    padding: IntOrPair
    bias: bool


class PoolSetup(NamedTuple):
    """A pooling: x (n, c, h, w), its window, stride (None: the window) and padding."""

    n: int
    c: int
    h: int
    w: int
    kernel: IntOrPair
    stride: IntOrPair | None
    padding: IntOrPair


def _as_drawn(draw: Any, pair: Pair) -> IntOrPair:
    """``pair``, or its one value as an int when both are equal (half the time)."""
    return pair[0] if pair[0] == pair[1] and draw(st.booleans()) else pair


def _pair(value: IntOrPair) -> Pair:
    return (value, value) if isinstance(value, int) else value


def _side(draw: Any, kernel: int, padding: int, extra: int = 5) -> int:
    """An input side that the (padded) window fits, from the smallest one up."""
    smallest = max(1, kernel - 2 * padding)
    return int(draw(st.integers(smallest, smallest + extra)))


@st.composite
def conv_setups(draw: Any) -> ConvSetup:
    """Non-square inputs and kernels, stride 1-3, padding 0-2, 1-8 channels, bias or not."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    return ConvSetup(
        n=draw(st.integers(1, 3)),
        c=draw(st.integers(1, 8)),
        o=draw(st.integers(1, 8)),
        h=_side(draw, kernel[0], padding[0]),
        w=_side(draw, kernel[1], padding[1]),
        kernel=kernel,
        stride=_as_drawn(draw, stride),
        padding=_as_drawn(draw, padding),
        bias=draw(st.booleans()),
    )


@st.composite
def pool_setups(draw: Any) -> PoolSetup:
    """Windows that tile the input exactly (stride = window, no padding, sides multiples of
    the window) half the time; otherwise any stride 1-3, padding up to half the window, and
    sides that may leave pixels out."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    if draw(st.booleans()):  # tiling
        h, w = kernel[0] * draw(st.integers(1, 3)), kernel[1] * draw(st.integers(1, 3))
        return PoolSetup(n, c, h, w, _as_drawn(draw, kernel), None, 0)
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    return PoolSetup(
        n,
        c,
        _side(draw, kernel[0], padding[0]),
        _side(draw, kernel[1], padding[1]),
        _as_drawn(draw, kernel),
        None if stride is None else _as_drawn(draw, stride),
        _as_drawn(draw, padding),
    )


def _images(gen: np.random.Generator, shape: tuple[int, ...], domain: str) -> np.ndarray:
    """float64 images: normal values, few distinct integers (many ties), or constant images."""
    if domain == "ties":
        return gen.integers(-2, 3, shape).astype(np.float64)
    if domain == "constant":
        return np.full(shape, float(gen.integers(-3, 4)))
    return gen.standard_normal(shape)


def _distinct(gen: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least 0.01 apart, so that no nudge of central differences changes a max."""
    return gen.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 0.3


# -- comparing with PyTorch ----------------------------------------------------------------------
def _assert_close(actual: np.ndarray, expected: np.ndarray, order: int, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)
    significant = np.abs(expected) > 1e-8
    if significant.any():
        relative = np.abs(actual - expected)[significant] / np.abs(expected)[significant]
        WORST_RELATIVE_ERROR[order] = max(WORST_RELATIVE_ERROR[order], float(relative.max()))


def _torch_pass(
    torch: ModuleType, fn: Callable[..., Any], arrays: list[np.ndarray], dout: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """PyTorch's output of ``fn`` and the gradients of ``sum(out * dout)`` for each array."""
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _check_layer_against_torch(
    torch: ModuleType,
    layer: dl.Layer,
    torch_fn: Callable[..., Any],
    x: np.ndarray,
    seed: int,
) -> None:
    """The layer's output, input gradient and parameter gradients equal PyTorch's for
    ``torch_fn(x, *parameters)``; and a second backward pass sets (does not add to) them."""
    gen = np.random.default_rng(seed)
    params = [p for _, p in layer.named_parameters()]
    out = layer.forward(x.copy())
    dout = gen.standard_normal(out.shape)
    dx = layer.backward(dout)
    t_out, t_grads = _torch_pass(torch, torch_fn, [x, *(p.data for p in params)], dout)
    _assert_close(out, t_out, 0, "output")
    _assert_close(dx, t_grads[0], 1, "input gradient")
    for (name, param), t_grad in zip(layer.named_parameters(), t_grads[1:]):
        _assert_close(param.grad, t_grad, 1, f"gradient of {name}")
    # the layer contract: backward sets the gradients (a second call does not accumulate)
    layer.backward(2 * dout)
    for (name, param), t_grad in zip(layer.named_parameters(), t_grads[1:]):
        np.testing.assert_allclose(param.grad, 2 * t_grad, rtol=RTOL, atol=ATOL, err_msg=name)


# -- 1. both paths against PyTorch, first order (and the engine's second order) ------------------
@FAST
@given(setup=conv_setups(), seed=seeds)
def test_layer_conv2d_equals_torch(torch: ModuleType, setup: ConvSetup, seed: int) -> None:
    s = setup
    layer = Conv2d(s.c, s.o, s.kernel, s.stride, s.padding, s.bias, rng=seed, dtype=np.float64)
    assert layer.weight.shape == (s.o, s.c, *s.kernel)
    assert (layer.bias is not None) == s.bias
    x = np.random.default_rng(seed).standard_normal((s.n, s.c, s.h, s.w))

    def torch_fn(x: Any, weight: Any, bias: Any = None) -> Any:
        return torch.nn.functional.conv2d(x, weight, bias, s.stride, s.padding)

    _check_layer_against_torch(torch, layer, torch_fn, x, seed)
    out_size = output_size((s.h, s.w), s.kernel, _pair(s.stride), _pair(s.padding))
    assert layer.forward(x).shape == (s.n, s.o, *out_size)


@FAST
@given(setup=conv_setups(), seed=seeds)
def test_engine_conv2d_equals_torch_to_second_order(
    torch: ModuleType, setup: ConvSetup, seed: int
) -> None:
    s = setup
    gen = np.random.default_rng(seed)
    x = gen.standard_normal((s.n, s.c, s.h, s.w))
    weight = gen.standard_normal((s.o, s.c, *s.kernel))
    params = [weight, gen.standard_normal(s.o)] if s.bias else [weight]

    def engine_fn(x: Tensor, weight: Tensor, *bias: Tensor) -> Tensor:
        return F.conv2d(x, weight, bias[0] if bias else None, s.stride, s.padding)

    def torch_fn(x: Any, weight: Any, *bias: Any) -> Any:
        return torch.nn.functional.conv2d(x, weight, bias[0] if bias else None, s.stride, s.padding)

    check_against_torch(torch, engine_fn, torch_fn, x, *params, second_order=True, seed=seed)


def _torch_pool(torch: ModuleType, kind: str, s: PoolSetup) -> Callable[[Any], Any]:
    function = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    return lambda x: function(x, s.kernel, s.stride, s.padding)


LAYER_POOLS = {"max": MaxPool2d, "avg": AvgPool2d}
ENGINE_POOLS = {"max": F.max_pool2d, "avg": F.avg_pool2d}
DOMAINS = st.sampled_from(["real", "ties", "constant"])


@pytest.mark.parametrize("kind", ["max", "avg"])
@FAST
@given(setup=pool_setups(), domain=DOMAINS, seed=seeds)
def test_layer_pooling_equals_torch(
    torch: ModuleType, kind: str, setup: PoolSetup, domain: str, seed: int
) -> None:
    s = setup
    x = _images(np.random.default_rng(seed), (s.n, s.c, s.h, s.w), domain)
    layer = LAYER_POOLS[kind](s.kernel, s.stride, s.padding)
    _check_layer_against_torch(torch, layer, _torch_pool(torch, kind, s), x, seed)


@pytest.mark.parametrize("kind", ["max", "avg"])
@FAST
@given(setup=pool_setups(), domain=DOMAINS, seed=seeds)
def test_engine_pooling_equals_torch_to_second_order(
    torch: ModuleType, kind: str, setup: PoolSetup, domain: str, seed: int
) -> None:
    s = setup
    x = _images(np.random.default_rng(seed), (s.n, s.c, s.h, s.w), domain)

    def engine_fn(x: Tensor) -> Tensor:
        return ENGINE_POOLS[kind](x, s.kernel, s.stride, s.padding)

    check_against_torch(
        torch, engine_fn, _torch_pool(torch, kind, s), x, second_order=True, seed=seed
    )


def _pool_on_both_paths(kind: str, x: np.ndarray, *args: Any) -> list[tuple[Any, Any]]:
    """(output, gradient of its sum) of a pooling of ``x`` on the layer and the engine path."""
    layer = LAYER_POOLS[kind](*args)
    out = layer.forward(x)
    results = [(out, layer.backward(np.ones_like(out)))]
    leaf = Tensor(x.copy(), requires_grad=True)
    y = ENGINE_POOLS[kind](leaf, *args)
    y.sum().backward()
    results.append((y.data, leaf.grad))
    return results


def test_max_pool_gives_each_window_gradient_to_its_first_maximum(torch: ModuleType) -> None:
    # A constant image: every pixel ties. Windows 2x2 at stride 1: window (i, j) sends its
    # gradient to its first pixel, (i, j); the last row and column get nothing.
    x = np.full((1, 1, 4, 5), 3.0)
    expected = np.zeros((1, 1, 4, 5))
    expected[..., :3, :4] = 1
    t_x = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(t_x, 2, 1).sum().backward()
    np.testing.assert_array_equal(t_x.grad.numpy(), expected)
    for out, dx in _pool_on_both_paths("max", x, 2, 1):
        np.testing.assert_array_equal(out, np.full((1, 1, 3, 4), 3.0))
        np.testing.assert_array_equal(dx, expected)
    # Ties inside one window: the first maximum in row-major order takes the whole gradient.
    x = np.array([[[[0.0, 5.0], [5.0, 5.0]]]])
    for _, dx in _pool_on_both_paths("max", x, 2):
        np.testing.assert_array_equal(dx, [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_max_pool_sends_the_gradient_to_a_nan_as_torch(torch: ModuleType) -> None:
    # one NaN in some windows: it is the maximum, and takes the gradient
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = x[0, 0, 3, 2] = np.nan
    t_x = torch.tensor(x, requires_grad=True)
    t_out = torch.nn.functional.max_pool2d(t_x, 2)
    t_out.sum().backward()
    for out, dx in _pool_on_both_paths("max", x, 2):
        np.testing.assert_array_equal(out, t_out.detach().numpy())  # NaN where torch has one
        assert np.isnan(out).sum() == 2
        np.testing.assert_array_equal(dx, t_x.grad.numpy())


def test_max_pool_padding_never_wins_and_is_dropped_from_the_gradient() -> None:
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # all negative: padding would win as a 0
    for out, dx in _pool_on_both_paths("max", x, 2, 2, 1):
        np.testing.assert_array_equal(out, [[[[-1.0, -2.0], [-4.0, -5.0]]]])
        np.testing.assert_array_equal(dx, [[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0] * 3]]])


def test_avg_pool_counts_padding_as_zeros(torch: ModuleType) -> None:
    # Ones 2x2, window 2 (stride 2), padding 1: each window holds one pixel and three zeros.
    x = np.ones((1, 1, 2, 2))
    t_x = torch.tensor(x, requires_grad=True)
    t_out = torch.nn.functional.avg_pool2d(t_x, 2, padding=1)
    t_out.sum().backward()
    for out, dx in _pool_on_both_paths("avg", x, 2, None, 1):
        np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 0.25))
        np.testing.assert_array_equal(out, t_out.detach().numpy())
        np.testing.assert_array_equal(dx, np.full((1, 1, 2, 2), 0.25))
        np.testing.assert_array_equal(dx, t_x.grad.numpy())


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_windows_that_do_and_do_not_tile_the_input(kind: str) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 5))
    # 7x5 by 2x2 windows: 3x2 outputs; the last row and column are in no window.
    for out, dx in _pool_on_both_paths(kind, x, 2):
        assert out.shape == (2, 3, 3, 2)
        np.testing.assert_array_equal(dx[..., 6, :], 0)
        np.testing.assert_array_equal(dx[..., :, 4], 0)
        # each window passes on exactly its gradient (1), to one pixel or shared evenly
        np.testing.assert_allclose(dx[..., :6, :4].sum(axis=(2, 3)), 6.0)
    # 6x4 by 2x2 windows tile it: every pixel is in exactly one window
    for out, dx in _pool_on_both_paths(kind, x[..., :6, :4], 2):
        assert out.shape == (2, 3, 3, 2)
        if kind == "avg":
            np.testing.assert_allclose(dx, 0.25)
        else:
            np.testing.assert_array_equal(dx.reshape(2, 3, 3, 2, 2, 2).sum(axis=(3, 5)), 1)


# -- windows and fold against PyTorch's unfold and fold ------------------------------------------
@FEW
@given(setup=conv_setups(), seed=seeds)
def test_engine_windows_and_fold_equal_torch_unfold_and_fold(
    torch: ModuleType, setup: ConvSetup, seed: int
) -> None:
    s = setup
    kernel, stride, padding = s.kernel, _pair(s.stride), _pair(s.padding)
    oh, ow = output_size((s.h, s.w), kernel, stride, padding)
    gen = np.random.default_rng(seed)
    torch_args = {"kernel_size": kernel, "stride": stride, "padding": padding}

    def as_columns(t: Tensor) -> Tensor:  # (N, C, OH, OW, kh, kw) -> torch's (N, C kh kw, L)
        return t.transpose(0, 1, 4, 5, 2, 3).reshape((s.n, -1, oh * ow))

    check_against_torch(
        torch,
        lambda x: as_columns(windows(x, kernel, stride, padding)),
        lambda x: torch.nn.functional.unfold(x, **torch_args),
        gen.standard_normal((s.n, s.c, s.h, s.w)),
        second_order=True,
        seed=seed,
    )

    def from_columns(t: Tensor) -> Tensor:
        return t.reshape((s.n, s.c, *kernel, oh, ow)).transpose(0, 1, 4, 5, 2, 3)

    check_against_torch(
        torch,
        lambda g: fold(from_columns(g), (s.h, s.w), stride, padding),
        lambda g: torch.nn.functional.fold(g, (s.h, s.w), **torch_args),
        gen.standard_normal((s.n, s.c * kernel[0] * kernel[1], oh * ow)),
        second_order=True,
        seed=seed,
    )


# -- 2. central differences, first and second order ----------------------------------------------
GRADCHECK_CASES: dict[str, tuple[Callable[..., Tensor], list[tuple[int, ...]]]] = {
    "conv2d, stride 2x1, padding 1x2, bias": (
        lambda x, w, b: F.conv2d(x, w, b, (2, 1), (1, 2)).tanh(),
        [(2, 2, 5, 4), (3, 2, 3, 2), (3,)],
    ),
    "conv2d, 1x1 kernel, no bias": (
        lambda x, w: F.conv2d(x, w) ** 2,
        [(2, 3, 3, 4), (2, 3, 1, 1)],
    ),
    "max_pool2d, 3x2 window, stride 1, padding 1": (
        lambda x: F.max_pool2d(x, (3, 2), 1, 1) ** 2,
        [(2, 2, 4, 5)],
    ),
    "max_pool2d, windows that tile": (lambda x: F.max_pool2d(x, 2).exp(), [(1, 2, 4, 6)]),
    "avg_pool2d, 3x3 window, stride 2, padding 1": (
        lambda x: F.avg_pool2d(x, 3, 2, 1) ** 2,
        [(2, 2, 5, 6)],
    ),
    "conv2d, then max_pool2d and avg_pool2d": (
        lambda x, w: F.avg_pool2d(F.max_pool2d(F.conv2d(x, w, padding=1), 2, 1), 2).tanh(),
        [(1, 2, 5, 5), (3, 2, 2, 2)],
    ),
}


@pytest.mark.parametrize("name", list(GRADCHECK_CASES))
def test_engine_gradcheck_and_gradgradcheck(name: str) -> None:
    fn, shapes = GRADCHECK_CASES[name]
    gen = np.random.default_rng(0)
    # distinct values, so that no max is within a nudge of another
    inputs = [_distinct(gen, shape) * (10 if i else 1) for i, shape in enumerate(shapes)]
    for order, errors in ((1, gradcheck(fn, inputs)), (2, gradgradcheck(fn, inputs))):
        assert len(errors) == len(shapes)
        assert max(errors) < 1e-6, f"order {order}: relative errors {errors}"


# -- 3. the two paths agree ----------------------------------------------------------------------
def _both(kind: str, *args: Any, **kwargs: Any) -> tuple[dl.Layer, nn.Module]:
    return getattr(dl, kind)(*args, **kwargs), getattr(nn, kind)(*args, **kwargs)


def _engine_pass(
    module: nn.Module, x: np.ndarray, dout: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The output and input gradient of ``module`` (one pass, which sets every ``.grad``)."""
    leaf = Tensor(x.copy(), requires_grad=True)
    out = module(leaf)
    out.backward(dout)
    assert leaf.grad is not None
    return out.data, leaf.grad


@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
@FEW
@given(setup=conv_setups(), seed=seeds, pool=st.sampled_from(["MaxPool2d", "AvgPool2d"]))
def test_both_paths_give_equal_outputs_and_gradients(
    training: bool, setup: ConvSetup, seed: int, pool: str
) -> None:
    s = setup
    gen = np.random.default_rng(seed)
    x = _distinct(gen, (s.n, s.c, s.h, s.w))
    conv_args = (s.c, s.o, s.kernel, s.stride, s.padding, s.bias)
    conv = _both("Conv2d", *conv_args, rng=seed, dtype=np.float64)
    for name, param in conv[0].named_parameters():  # the same rng: the same initial weights
        np.testing.assert_array_equal(param.data, conv[1].state_dict()[name])
    assert conv[0].state_dict().keys() == conv[1].state_dict().keys()
    norm = _both("BatchNorm2d", s.o, dtype=np.float64)
    weight, bias = gen.standard_normal(s.o), gen.standard_normal(s.o)
    for module in norm:
        module.weight.data[...], module.bias.data[...] = weight, bias
    out_size = output_size((s.h, s.w), s.kernel, _pair(s.stride), _pair(s.padding))
    pool_kernel = (min(2, out_size[0]), min(2, out_size[1]))
    pooling = _both(pool, pool_kernel, 1, (pool_kernel[0] // 2, pool_kernel[1] // 2))
    layers = dl.Sequential(conv[0], norm[0], pooling[0], Flatten())
    engine = nn.Sequential(conv[1], norm[1], pooling[1], nn.Flatten())
    if not training or s.n * out_size[0] * out_size[1] < 2:
        for model in (layers, engine):  # BatchNorm on running statistics
            model[1].running_mean[...] = np.linspace(-1, 1, s.o)
            model[1].running_var[...] = np.linspace(0.5, 2, s.o)
            model.eval()

    out = layers.forward(x)
    dout = gen.standard_normal(out.shape)
    dx = layers.backward(dout)
    engine_out, engine_dx = _engine_pass(engine, x, dout)
    assert out.shape == engine_out.shape == (s.n, out.shape[1])
    np.testing.assert_allclose(out, engine_out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dx, engine_dx, rtol=RTOL, atol=ATOL)
    engine_state = engine.state_dict()
    for name, value in layers.state_dict().items():  # including the running statistics
        np.testing.assert_allclose(value, engine_state[name], rtol=RTOL, atol=ATOL)
    engine_params = dict(engine.named_parameters())
    for name, param in layers.named_parameters():
        np.testing.assert_allclose(param.grad, engine_params[name].grad, rtol=RTOL, atol=1e-11)


def _lenet(path: ModuleType, rng: int) -> Any:
    """A small LeNet on either path (``dl`` or ``nn``), float64."""
    return path.Sequential(
        path.Conv2d(1, 4, 3, padding=1, rng=rng, dtype=np.float64),
        path.BatchNorm2d(4, dtype=np.float64),
        path.ReLU(),
        path.MaxPool2d(2),
        path.Conv2d(4, 6, (2, 3), stride=(1, 2), rng=rng + 1, dtype=np.float64),
        path.Tanh(),
        path.AvgPool2d(2, stride=1, padding=1),
        path.Flatten(),
        path.Linear(6 * 4 * 2, 5, rng=rng + 2, dtype=np.float64),
    )


def test_a_lenet_state_dict_moves_between_the_paths(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((6, 1, 8, 8)), rng.integers(0, 5, 6)
    layers, engine = _lenet(dl, rng=1), _lenet(nn, rng=1)
    assert layers.state_dict().keys() == engine.state_dict().keys()
    for name, value in layers.state_dict().items():
        np.testing.assert_array_equal(value, engine.state_dict()[name])
    # another model's weights, moved from the layers to the engine and back
    layers.load_state_dict(_lenet(dl, rng=7).state_dict())
    engine.load_state_dict(layers.state_dict())
    for step in range(2):
        loss, logits = batch_gradients(layers, x, y)
        engine_loss, engine_logits = batch_gradients(engine, x, y)
        assert loss == pytest.approx(engine_loss, rel=RTOL)
        np.testing.assert_allclose(logits, engine_logits, rtol=RTOL, atol=ATOL)
        engine_params = dict(engine.named_parameters())
        for name, param in layers.named_parameters():
            np.testing.assert_allclose(
                param.grad, engine_params[name].grad, rtol=1e-9, atol=1e-12, err_msg=name
            )
        for name, value in engine.state_dict().items():  # running statistics, updated twice
            np.testing.assert_allclose(layers.state_dict()[name], value, rtol=RTOL, err_msg=name)
        if step == 0:  # the engine's state, moved back, changes nothing
            layers.load_state_dict(engine.state_dict())
    assert not np.array_equal(layers[1].running_mean, 0)
    layers.eval()
    engine.eval()
    np.testing.assert_allclose(layers.infer(x), engine.infer(x), rtol=RTOL, atol=ATOL)


def test_both_paths_default_to_float32_and_pytorch_init_bounds() -> None:
    layer, module = _both("Conv2d", 3, 5, (2, 4), rng=3)
    bound = 1 / np.sqrt(3 * 2 * 4)  # PyTorch's kaiming_uniform_(a=sqrt(5)): 1/sqrt(fan_in)
    for conv in (layer, module):
        assert conv.weight.dtype == conv.bias.dtype == np.float32
        assert conv.weight.shape == (5, 3, 2, 4) and conv.bias.shape == (5,)
        assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
        assert np.abs(conv.weight.data).max() > 0.8 * bound  # spread over the whole range
    np.testing.assert_array_equal(layer.weight.data, module.weight.data)
    np.testing.assert_array_equal(layer.bias.data, module.bias.data)
    other = Conv2d(3, 5, (2, 4), rng=4)
    assert not np.array_equal(layer.weight.data, other.weight.data)
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 7)).astype(np.float32)
    out = layer.forward(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, module(Tensor(x)).data, rtol=1e-6, atol=1e-6)


# -- 4. the kernels ------------------------------------------------------------------------------
@st.composite
def window_setups(draw: Any) -> tuple[tuple[int, int, int, int], Pair, Pair, Pair]:
    """Any images, window, stride and padding (even more than half the window) that fit."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    shape = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        _side(draw, kernel[0], padding[0], 6),
        _side(draw, kernel[1], padding[1], 6),
    )
    return shape, kernel, stride, padding


@FAST
@given(setup=window_setups(), seed=seeds)
def test_fold_windows_is_the_adjoint_of_sliding_windows(setup: Any, seed: int) -> None:
    shape, kernel, stride, padding = setup
    gen = np.random.default_rng(seed)
    x = gen.standard_normal(shape)
    win = sliding_windows(x, kernel, stride, padding)
    oh, ow = output_size(shape[2:], kernel, stride, padding)
    assert win.shape == (*shape[:2], oh, ow, *kernel)
    g = gen.standard_normal(win.shape)
    folded = fold_windows(g, shape[2:], stride, padding)
    assert folded.shape == shape
    np.testing.assert_allclose(np.sum(folded * x), np.sum(g * win), rtol=1e-12, atol=1e-12)
    # element [n, c, i, j, u, v] is the padded image's pixel [n, c, i sh + u, j sw + v]
    padded = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    for i, j, u, v in np.ndindex(oh, ow, *kernel):
        y, z = i * stride[0] + u, j * stride[1] + v
        np.testing.assert_array_equal(win[:, :, i, j, u, v], padded[:, :, y, z])
    # padding read as `fill`; the view cannot be written through
    filled = sliding_windows(x, kernel, stride, padding, fill=-np.inf)
    np.testing.assert_array_equal(np.isneginf(filled), np.isneginf(np.where(win == 0, -np.inf, 1)))
    assert not filled.flags.writeable


@FAST
@given(setup=window_setups(), seed=seeds)
def test_col2im_is_the_adjoint_of_im2col(setup: Any, seed: int) -> None:
    shape, kernel, stride, padding = setup
    gen = np.random.default_rng(seed)
    x = gen.standard_normal(shape)
    cols = im2col(x, kernel, stride, padding)
    oh, ow = output_size(shape[2:], kernel, stride, padding)
    assert cols.shape == (shape[1] * kernel[0] * kernel[1], shape[0] * oh * ow)
    g = gen.standard_normal(cols.shape)
    back = col2im(g, shape, kernel, stride, padding)
    assert back.shape == shape
    np.testing.assert_allclose(np.sum(back * x), np.sum(g * cols), rtol=1e-12, atol=1e-12)
    # column (n, i, j) is window (i, j) of sample n, its rows ordered as a weight (C, kh, kw)
    win = sliding_windows(x, kernel, stride, padding)
    for n, i, j in {(0, 0, 0), (shape[0] - 1, oh - 1, ow // 2), (shape[0] // 2, oh // 2, ow - 1)}:
        np.testing.assert_array_equal(cols[:, (n * oh + i) * ow + j], win[n, :, i, j].ravel())


def test_sliding_windows_copies_nothing_without_padding() -> None:
    x = np.arange(2 * 3 * 6 * 5, dtype=np.float64).reshape(2, 3, 6, 5)
    win = sliding_windows(x, (3, 2), (1, 2), (0, 0))
    assert np.shares_memory(win, x)
    assert not np.shares_memory(sliding_windows(x, (3, 2), (1, 2), (1, 0)), x)


# -- 5. bad input --------------------------------------------------------------------------------
PATHS = {"layers": dl, "autograd": nn}


def _call(module: Any, x: np.ndarray) -> Any:
    return module.forward(x) if isinstance(module, dl.Layer) else module(Tensor(x))


@pytest.mark.parametrize("path", list(PATHS))
def test_a_flat_mnist_batch_says_how_to_make_it_images(path: str) -> None:
    conv = PATHS[path].Conv2d(1, 6, 5)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\) but got \(4, 784\)") as error:
        _call(conv, np.zeros((4, 784), np.float32))
    assert r"x.reshape(-1, 1, 28, 28)" in str(error.value)
    assert "flatten=False" in str(error.value)
    conv = PATHS[path].Conv2d(3, 6, 5)  # three channels of 32x32: CIFAR's images
    with pytest.raises(ValueError, match=r"x\.reshape\(-1, 3, 32, 32\).*flatten=False"):
        _call(conv, np.zeros((4, 3 * 32 * 32), np.float32))
    with pytest.raises(ValueError, match=r"reshape the batch to \(N, 3, H, W\)"):
        _call(conv, np.zeros((4, 784), np.float32))  # not 3 squares: no example of a side


@pytest.mark.parametrize("path", list(PATHS))
def test_wrong_channels_and_too_small_inputs(path: str) -> None:
    module = PATHS[path]
    with pytest.raises(ValueError, match=r"Conv2d\(3 -> 6\) expected images of shape \(N, 3"):
        _call(module.Conv2d(3, 6, 5), np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\) but got \(1, 8, 8\)"):
        _call(module.Conv2d(3, 6, 5), np.zeros((1, 8, 8)))
    small = "an input of 2x8 pixels padded by \\(1, 1\\) is smaller than the 5x5 window"
    with pytest.raises(ValueError, match=small):
        _call(module.Conv2d(1, 6, 5, padding=1), np.zeros((2, 1, 2, 8)))
    _call(module.Conv2d(1, 6, 5, padding=1), np.zeros((2, 1, 3, 8)))  # fits once padded
    for pool in (module.MaxPool2d(4), module.AvgPool2d((1, 4), padding=(0, 1))):
        with pytest.raises(ValueError, match="is smaller than the"):
            _call(pool, np.zeros((1, 1, 3, 1)))
        with pytest.raises(ValueError, match=r"expected images of shape \(N, C, H, W\)"):
            _call(pool, np.zeros((4, 784)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expected input of shape \(N, 3, H"):
        _call(module.BatchNorm2d(3), np.zeros((4, 3)))


BAD_WINDOWS = [
    ({"kernel_size": 0}, "kernel_size must be an int or a pair of ints, each at least 1; got 0"),
    ({"kernel_size": (3, 0)}, r"kernel_size .* at least 1; got \(3, 0\)"),
    ({"kernel_size": True}, "kernel_size .* got True"),
    ({"kernel_size": (1, 2, 3)}, r"kernel_size must be an int or a pair .* got \(1, 2, 3\)"),
    ({"kernel_size": (2, False)}, r"kernel_size .* got \(2, False\)"),
    ({"stride": -1}, "stride must be an int or a pair of ints, each at least 1; got -1"),
    ({"stride": 0}, "stride .* got 0"),
    ({"stride": (1, True)}, r"stride .* got \(1, True\)"),
    ({"padding": -1}, "padding must be an int or a pair of ints, each at least 0; got -1"),
    ({"padding": (0, -2)}, r"padding .* at least 0; got \(0, -2\)"),
    ({"padding": (1, 1, 1)}, r"padding .* got \(1, 1, 1\)"),
]


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(("bad", "message"), BAD_WINDOWS)
def test_bad_windows_are_refused(path: str, bad: dict[str, Any], message: str) -> None:
    module = PATHS[path]
    args = {"kernel_size": 2, "stride": 1, "padding": 0, **bad}
    with pytest.raises(ValueError, match=message):
        module.Conv2d(1, 1, **args)
    for pool in (module.MaxPool2d, module.AvgPool2d):
        with pytest.raises(ValueError, match=message):
            pool(**args)
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=message):
        F.max_pool2d(x, **args)
    with pytest.raises(ValueError, match=message):
        F.avg_pool2d(x, **args)
    if "kernel_size" not in bad:
        with pytest.raises(ValueError, match=message):
            F.conv2d(x, np.zeros((1, 1, 2, 2)), None, args["stride"], args["padding"])


@pytest.mark.parametrize("path", list(PATHS))
def test_pooling_padding_over_half_the_window_is_refused(path: str) -> None:
    module = PATHS[path]
    message = r"padding \(2, 2\) must be at most half the pooling window \(3, 3\)"
    for pool in (module.MaxPool2d, module.AvgPool2d):
        with pytest.raises(ValueError, match=message):
            pool(3, padding=2)
        with pytest.raises(ValueError, match=r"padding \(0, 2\) .* window \(3, 3\)"):
            pool(3, 1, (0, 2))
        pool((3, 4), padding=(1, 2))  # exactly half of 4 is allowed
    with pytest.raises(ValueError, match=r"padding \(1, 1\) .* half the pooling window \(1, 3\)"):
        F.avg_pool2d(np.zeros((1, 1, 4, 4)), (1, 3), padding=1)


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(
    ("channels", "error", "message"),
    [
        ((0, 4), ValueError, "in_channels must be an int >= 1, got 0"),
        ((2, -1), ValueError, "out_channels must be an int >= 1, got -1"),
        ((True, 4), TypeError, "in_channels must be an int, got bool True"),
        ((2, 2.5), TypeError, "out_channels must be an int, got float 2.5"),
    ],
)
def test_non_positive_channels_are_refused(
    path: str, channels: tuple[Any, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        PATHS[path].Conv2d(*channels, 3)


def test_engine_conv2d_refuses_bad_weights_and_images() -> None:
    x = np.zeros((2, 1, 5, 5))
    message = r"conv2d expected a weight of shape \(out_channels, in_channels, kh, kw\)"
    with pytest.raises(ValueError, match=message + r" but got \(2, 1, 3\)"):
        F.conv2d(x, np.zeros((2, 1, 3)))
    with pytest.raises(ValueError, match=r"weight of shape \(2, 3, 3, 3\) expected images of "):
        F.conv2d(x, np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\) but got \(4, 784\).*flatten=False"):
        F.conv2d(np.zeros((4, 784)), np.zeros((6, 1, 5, 5)))
    with pytest.raises(ValueError, match="smaller than the 3x6 window"):
        F.conv2d(x, np.zeros((2, 1, 3, 6)))


def test_layer_backward_refuses_a_gradient_of_the_wrong_shape() -> None:
    for layer in (Conv2d(1, 2, 3), MaxPool2d(2), AvgPool2d(2), Flatten()):
        with pytest.raises(RuntimeError, match="backward was called before forward"):
            layer.backward(np.zeros((1, 2, 2, 2)))
        out = layer.forward(np.zeros((2, 1, 6, 6)))
        with pytest.raises(ValueError, match=re.escape(f"expected dout of shape {out.shape}")):
            layer.backward(np.zeros((3, *out.shape[1:])))


# -- 6. BatchNorm2d (layer path) against torch.nn.BatchNorm2d ------------------------------------
@FAST
@given(
    n=st.integers(1, 4),
    c=st.integers(1, 4),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    eps=st.sampled_from([1e-5, 1e-2]),
    momentum=st.sampled_from([0.1, 0.35]),
    seed=seeds,
)
def test_layer_batchnorm2d_equals_torch_in_training_and_evaluation(
    torch: ModuleType, n: int, c: int, h: int, w: int, eps: float, momentum: float, seed: int
) -> None:
    gen = np.random.default_rng(seed)
    layer = BatchNorm2d(c, eps=eps, momentum=momentum, dtype=np.float64)
    reference = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum, dtype=torch.float64)
    weight, bias = gen.standard_normal(c), gen.standard_normal(c)
    layer.weight.data[...], layer.bias.data[...] = weight, bias
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(weight))
        reference.bias.copy_(torch.from_numpy(bias))
    stats = ("running_mean", "running_var")
    for training in (True, True, False):  # two steps update the running statistics, then eval
        layer.train(training)
        reference.train(training)
        if training and n * h * w < 2:
            with pytest.raises(ValueError, match="more than one value per channel"):
                layer.forward(np.zeros((n, c, h, w)))
            continue
        before = [getattr(layer, name).copy() for name in stats]
        x = 3 * gen.standard_normal((n, c, h, w)) + gen.standard_normal((1, c, 1, 1))
        dout = gen.standard_normal(x.shape)
        out, dx = layer.forward(x), layer.backward(dout)
        t_x = torch.tensor(x, requires_grad=True)
        reference.zero_grad()
        t_out = reference(t_x)
        t_out.backward(torch.from_numpy(dout))
        _assert_close(out, t_out.detach().numpy(), 0, "output")
        _assert_close(dx, t_x.grad.numpy(), 1, "input gradient")
        _assert_close(layer.weight.grad, reference.weight.grad.numpy(), 1, "weight gradient")
        _assert_close(layer.bias.grad, reference.bias.grad.numpy(), 1, "bias gradient")
        for name, old in zip(stats, before):
            value = getattr(layer, name)
            _assert_close(value, getattr(reference, name).numpy(), 0, name)
            assert (value != old).any() if training else (value == old).all()


# -- 7. Dropout on images ------------------------------------------------------------------------
def test_dropout_on_images_on_both_paths() -> None:
    p, shape = 0.3, (16, 4, 32, 32)
    x = np.random.default_rng(1).uniform(0.5, 1.5, shape)
    dout = np.random.default_rng(2).standard_normal(shape)
    layer, module = Dropout(p, rng=9), nn.Dropout(p, rng=9)
    out = layer.forward(x)
    assert out.shape == shape
    kept = out != 0  # x > 0: an output is 0 where dropped, x / (1 - p) where kept
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-15)
    mask = kept * (1 / (1 - p))
    assert abs((mask == 0).mean() - p) < 0.01  # each element dropped with probability p
    assert abs(mask.mean() - 1) < 0.01  # so the expected value is kept
    assert abs(out.mean() - x.mean()) < 0.01
    np.testing.assert_array_equal(layer.backward(dout), dout * mask)
    # the engine: the same draws from the same generator, the same gradient
    leaf = Tensor(x.copy(), requires_grad=True)
    engine_out = module(leaf)
    engine_out.backward(dout)
    np.testing.assert_array_equal(engine_out.data, out)
    np.testing.assert_array_equal(leaf.grad, dout * mask)
    # a new mask at each call; the identity in evaluation mode
    assert not np.array_equal(layer.forward(x), out)
    layer.eval()
    module.eval()
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(module(Tensor(x)).data, x)


# -- 8. memory -----------------------------------------------------------------------------------
def test_im2col_of_a_lenet_convolution_holds_what_its_docstring_says() -> None:
    # LeNet's first convolution on a batch of 64 MNIST images: 5x5 windows, padding 2, so
    # 28x28 outputs; one row per weight (C kh kw = 25), one column per output pixel
    # (N OH OW = 50176): 25 x 50176 float32 values, 5,017,600 bytes (about 5 MB).
    x = np.zeros((64, 1, 28, 28), np.float32)
    shape = (25, 64 * 28 * 28)
    matrix_bytes, padded_bytes = 25 * 64 * 28 * 28 * 4, 64 * 32 * 32 * 4
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        cols = im2col(x, (5, 5), (1, 1), (2, 2))
        peak = tracemalloc.get_traced_memory()[1] - start
        assert cols.shape == shape and cols.dtype == np.float32
        del cols
        conv = Conv2d(1, 6, 5, padding=2, rng=0)
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        out = conv.forward(x)
        forward_peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    kept = conv._cols  # what the layer keeps for its backward pass
    assert kept is not None
    assert kept.shape == shape and kept.dtype == np.float32
    assert kept.nbytes == matrix_bytes == 5_017_600
    # building it takes the matrix and the padded images, nothing the size of a second copy
    assert matrix_bytes <= peak <= matrix_bytes + padded_bytes + 64 * 1024
    assert out.shape == (64, 6, 28, 28)
    assert forward_peak <= matrix_bytes + out.nbytes + padded_bytes + 64 * 1024


@pytest.mark.parametrize("bad", [2.0, None, "3", (2, 2.5)])
def test_non_integer_window_arguments_are_value_errors(bad: Any) -> None:
    with pytest.raises(ValueError, match="must be an int or a pair of ints"):
        Conv2d(1, 6, bad)
    with pytest.raises(ValueError, match="must be an int or a pair of ints"):
        MaxPool2d(2, padding=bad)


def test_empty_batches_keep_their_shapes_and_flatten_needs_a_batch() -> None:
    weight = np.zeros((2, 1, 3, 3), np.float32)
    assert F.conv2d(np.zeros((0, 1, 5, 5), np.float32), weight).shape == (0, 2, 3, 3)
    assert Flatten().forward(np.zeros((0, 3, 4))).shape == (0, 12)
    with pytest.raises(ValueError, match=r"batch of samples \(N, \.\.\.\) but got \(5,\)"):
        Flatten().forward(np.zeros(5))
