"""The layers of a text model on both paths: `Embedding`, `LayerNorm` and `GELU` (the layers
in `deeplearning`, the engine's `nn` modules and `functional` functions), and the kernels
under them (`deeplearning.core.kernels`: `erf`, `erfc`, `normal_cdf`, `gelu`,
`scatter_add_rows`).

- The error function against ``math.erf`` and ``math.erfc`` on a wide grid, tails, zeros of
  both signs, infinities and NaN.
- PyTorch (CPU, float64) is the oracle of both paths, forward and backward, with shapes drawn
  by hypothesis; the engine also to second order (PyTorch's double backward, and
  `gradgradcheck`). These tests skip when PyTorch is not installed; the rest do not need it.
- The two paths agree: the same ``rng`` gives the same weights, outputs and gradients, and one
  ``state_dict`` (``weight``, ``bias``) loads into either. float32 is the default.
- Bad arguments and inputs are refused with a message that says what to do.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deeplearning as dl
from deeplearning import GELU, Embedding, LayerNorm, check_layer
from deeplearning.autograd import Tensor, gradgradcheck, nn
from deeplearning.autograd import functional as F
from deeplearning.core import kernels
from test_autograd_ops import check_against_torch

RTOL, ATOL = 1e-10, 1e-12
FAST = settings(max_examples=20, deadline=None)
seeds = st.integers(0, 2**32 - 1)
APPROXIMATIONS = ["none", "tanh"]


# -- the error function ------------------------------------------------------------------------
def _grid() -> np.ndarray:
    """A wide grid: the whole range in small steps, tiny values of both signs down to
    subnormals, and dense points around the ends of Cody's three intervals."""
    tiny = np.logspace(-320, 0, 3000)
    return np.concatenate(
        [
            np.linspace(-30, 30, 120_001),
            tiny,
            -tiny,
            np.linspace(0.4, 0.5, 2001),
            -np.linspace(0.4, 0.5, 2001),
            np.linspace(3.9, 4.1, 2001),
            np.linspace(26, 28, 2001),
            np.array([np.nextafter(0.46875, 0), 0.46875, np.nextafter(0.46875, 1), 4.0, 27.3]),
        ]
    )


def _relative(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.abs(actual - expected) / np.abs(expected)


def test_erf_is_within_a_few_ulps_of_math_erf() -> None:
    x = _grid()
    expected = np.array([math.erf(v) for v in x])
    actual = kernels.erf(x)
    assert actual.dtype == np.float64
    normal = np.abs(expected) >= np.finfo(np.float64).tiny  # subnormals hold few digits
    assert _relative(actual[normal], expected[normal]).max() < 1e-15
    # erf(x) ~ 1.128 x is subnormal for tiny x: within one of the smallest subnormals
    assert np.abs(actual[~normal] - expected[~normal]).max() <= 5e-324
    assert (np.sign(actual) == np.sign(expected)).all()


def test_erfc_is_accurate_in_both_tails() -> None:
    x = _grid()
    expected = np.array([math.erfc(v) for v in x])
    actual = kernels.erfc(x)
    normal = expected > np.finfo(np.float64).tiny  # subnormals hold few digits
    assert _relative(actual[normal], expected[normal]).max() < 1e-15
    # where math.erfc is subnormal or 0, within two of the smallest subnormals
    assert np.abs(actual[~normal] - expected[~normal]).max() <= 2 * 5e-324
    assert kernels.erfc(np.array([10.0]))[0] == pytest.approx(2.088487583762545e-45, rel=1e-15)


def test_erf_special_values() -> None:
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308])
    with np.errstate(all="raise"):  # no warning on the way either
        erf, erfc = kernels.erf(x), kernels.erfc(x)
    np.testing.assert_array_equal(erf, [0.0, -0.0, 1.0, -1.0, np.nan, 1.0, -1.0])
    assert not np.signbit(erf[0]) and np.signbit(erf[1])
    np.testing.assert_array_equal(erfc, [1.0, 1.0, 0.0, 2.0, np.nan, 0.0, 2.0])


def test_erf_keeps_the_dtype_and_shape() -> None:
    x32 = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    erf32 = kernels.erf(x32)
    assert erf32.dtype == np.float32 and erf32.shape == (3, 4)
    expected = np.array([math.erf(float(v)) for v in x32.ravel()])
    np.testing.assert_allclose(erf32.ravel(), expected, rtol=6e-8)  # float64's, rounded once
    assert kernels.erf(np.array([1, 2])).dtype == np.float64
    assert kernels.erf(np.array(0.5)).shape == ()


def test_normal_cdf_and_pdf() -> None:
    x = np.linspace(-37, 8, 4501)
    expected = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    # x / sqrt(2) is rounded before erfc, on both sides: in the left tail that costs ~x² ulps
    assert np.all(_relative(kernels.normal_cdf(x), expected) < 1e-15 * (1 + x**2))
    np.testing.assert_allclose(
        kernels.normal_pdf(x), np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi), rtol=1e-15, atol=0
    )
    assert kernels.normal_cdf(np.array([-40.0]))[0] == 0.0
    with np.errstate(all="raise"):
        assert kernels.normal_pdf(np.array([1e300]))[0] == 0.0


# -- GELU ----------------------------------------------------------------------------------------
def _gelu_input(gen: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal values at three scales (the tails to |x| ~ 12), and some exact zeros."""
    x = gen.standard_normal(shape) * gen.choice([0.3, 1.0, 4.0], shape)
    return np.where(gen.random(shape) < 0.1, 0.0, x)


def _torch_gelu(torch: ModuleType, approximate: str) -> Callable[[Any], Any]:
    return lambda x: torch.nn.functional.gelu(x, approximate=approximate)


def _torch_pass(
    torch: ModuleType, fn: Callable[..., Any], arrays: list[np.ndarray], dout: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """PyTorch's output of ``fn`` and the gradients of ``sum(out * dout)`` for each array."""
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert np.shape(actual) == np.shape(expected), what
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("approximate", APPROXIMATIONS)
@FAST
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5), seed=seeds)
def test_layer_gelu_equals_torch(
    torch: ModuleType, approximate: str, shape: tuple[int, ...], seed: int
) -> None:
    gen = np.random.default_rng(seed)
    x = _gelu_input(gen, shape)
    layer = GELU(approximate)
    out = layer.forward(x)
    dout = gen.standard_normal(out.shape)
    t_out, (t_dx,) = _torch_pass(torch, _torch_gelu(torch, approximate), [x], dout)
    _close(out, t_out, "output")
    _close(layer.backward(dout), t_dx, "input gradient")


@pytest.mark.parametrize("approximate", APPROXIMATIONS)
@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), seed=seeds)
def test_engine_gelu_equals_torch_to_second_order(
    torch: ModuleType, approximate: str, shape: tuple[int, ...], seed: int
) -> None:
    x = _gelu_input(np.random.default_rng(seed), shape)
    check_against_torch(
        torch,
        lambda t: F.gelu(t, approximate),
        _torch_gelu(torch, approximate),
        x,
        second_order=True,
        seed=seed,
    )


def test_gelu_is_exact_in_the_left_tail_where_torch_cancels(torch: ModuleType) -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    x = np.linspace(-9, -3, 601)
    exact = np.array([float(v * mpmath.ncdf(v)) for v in x])
    ours = _relative(kernels.gelu(x), exact)
    theirs = _relative(torch.nn.functional.gelu(torch.tensor(x)).numpy(), exact)
    assert ours.max() < 2e-14  # x / sqrt(2) rounded: ~x² ulps
    assert theirs.max() > 1e-3  # (1 + erf(x / sqrt(2))) / 2 lost its digits


@pytest.mark.parametrize("approximate", APPROXIMATIONS)
def test_gelu_at_the_extremes_as_torch(torch: ModuleType, approximate: str) -> None:
    finite = np.array([-1e300, -1e10, -40.0, -0.0, 0.0, 1e-300, 40.0, 1e10, 1e300])
    t_x = torch.tensor(finite, requires_grad=True)
    t_y = torch.nn.functional.gelu(t_x, approximate=approximate)
    (t_dx,) = torch.autograd.grad(t_y.sum(), t_x)
    with np.errstate(all="raise"):  # no overflow, underflow or invalid value on the way
        layer = GELU(approximate)
        y = layer.forward(finite)
        dx = layer.backward(np.ones_like(y))
    np.testing.assert_array_equal(y, t_y.detach().numpy())
    assert (np.signbit(y) == np.signbit(t_y.detach().numpy())).all()
    # PyTorch's tanh form gives NaN at ±1e300 (0 * inf); ours 0 and 1, the limits
    usable = np.isfinite(t_dx.numpy())
    np.testing.assert_allclose(dx[usable], t_dx.numpy()[usable], rtol=1e-15, atol=1e-300)
    np.testing.assert_array_equal(dx[[0, -1]], [0.0, 1.0])
    special = np.array([-np.inf, np.inf, np.nan])
    t_special = torch.nn.functional.gelu(torch.tensor(special), approximate=approximate)
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(F.gelu(Tensor(special), approximate).data, t_special.numpy())


def test_gelu_keeps_float_dtypes_and_takes_integers() -> None:
    for make in (GELU, nn.GELU):
        assert repr(make()) == "GELU(approximate='none')"
        assert repr(make("tanh")) == "GELU(approximate='tanh')"
    x32 = np.linspace(-3, 3, 7, dtype=np.float32)
    assert GELU().forward(x32).dtype == np.float32
    assert GELU("tanh").forward(np.arange(3)).dtype == np.float32
    assert F.gelu(Tensor(x32), "tanh").dtype == np.float32
    np.testing.assert_allclose(
        GELU().forward(x32), kernels.gelu(x32.astype(np.float64)), rtol=1e-6, atol=1e-7
    )


# -- LayerNorm -----------------------------------------------------------------------------------
@st.composite
def layer_norm_setups(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...], bool, bool, float]:
    """(leading dims, normalized_shape, elementwise_affine, bias, eps): 0-2 leading dims (an
    empty batch included), 1-3 normalized ones."""
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
    normalized = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.5]))
    return lead, normalized, draw(st.booleans()), draw(st.booleans()), eps


def _ln_input(gen: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal values, shifted and scaled; a constant input a quarter of the time."""
    if gen.random() < 0.25:
        return np.full(shape, float(gen.integers(-3, 4)))
    return gen.standard_normal(shape) * gen.uniform(0.1, 5) + gen.uniform(-3, 3)


def _randomize(module: dl.Module, gen: np.random.Generator) -> None:
    """Parameters away from their initial ones and zeros, so that every formula shows."""
    for _, param in module.named_parameters():
        param.data[...] = gen.standard_normal(param.shape)


@FAST
@given(setup=layer_norm_setups(), seed=seeds)
def test_layer_layer_norm_equals_torch(torch: ModuleType, setup: Any, seed: int) -> None:
    lead, normalized, affine, bias, eps = setup
    gen = np.random.default_rng(seed)
    layer = LayerNorm(normalized, eps, affine, bias, dtype=np.float64)
    _randomize(layer, gen)
    params = [p for _, p in layer.named_parameters()]
    assert len(params) == affine * (1 + bias)
    x = _ln_input(gen, lead + normalized)
    out = layer.forward(x)
    dout = gen.standard_normal(out.shape)
    dx = layer.backward(dout)

    def torch_fn(x: Any, *wb: Any) -> Any:
        weight, bias_ = (*wb, None, None)[:2]
        return torch.nn.functional.layer_norm(x, normalized, weight, bias_, eps)

    t_out, t_grads = _torch_pass(torch, torch_fn, [x, *(p.data for p in params)], dout)
    _close(out, t_out, "output")
    _close(dx, t_grads[0], "input gradient")
    for (name, param), t_grad in zip(layer.named_parameters(), t_grads[1:]):
        _close(param.grad, t_grad, f"gradient of {name}")
    layer.backward(2 * dout)  # gradients are set, not summed
    for param, t_grad in zip(params, t_grads[1:]):
        _close(param.grad, 2 * t_grad, "second backward")


@FAST
@given(setup=layer_norm_setups(), seed=seeds)
def test_engine_layer_norm_equals_torch_to_second_order(
    torch: ModuleType, setup: Any, seed: int
) -> None:
    lead, normalized, affine, bias, eps = setup
    gen = np.random.default_rng(seed)
    x = _ln_input(gen, lead + normalized)
    if x.size and np.ptp(x.reshape(-1, math.prod(normalized)), axis=1).min() == 0:
        x = x + gen.standard_normal(x.shape)  # second order at var = 0 is ~1/eps^1.5
    params = [gen.standard_normal(normalized) for _ in range(affine * (1 + bias))]

    def engine_fn(x: Tensor, *wb: Tensor) -> Tensor:
        weight, bias_ = (*wb, None, None)[:2]
        return F.layer_norm(x, normalized, weight, bias_, eps)

    def torch_fn(x: Any, *wb: Any) -> Any:
        weight, bias_ = (*wb, None, None)[:2]
        return torch.nn.functional.layer_norm(x, normalized, weight, bias_, eps)

    check_against_torch(torch, engine_fn, torch_fn, x, *params, second_order=True, seed=seed)


def test_nn_layer_norm_equals_torch_module(torch: ModuleType, rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 3, 4, 5))
    ours = nn.LayerNorm((4, 5), eps=1e-3, dtype=np.float64)
    _randomize(ours, rng)
    theirs = torch.nn.LayerNorm((4, 5), eps=1e-3, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    leaf = Tensor(x, requires_grad=True)
    t_leaf = torch.tensor(x, requires_grad=True)
    out, t_out = ours(leaf), theirs(t_leaf)
    (out * out).sum().backward()
    (t_out * t_out).sum().backward()
    _close(out.data, t_out.detach().numpy(), "output")
    _close(leaf.grad, t_leaf.grad.numpy(), "input gradient")
    _close(ours.weight.grad, theirs.weight.grad.numpy(), "weight gradient")
    _close(ours.bias.grad, theirs.bias.grad.numpy(), "bias gradient")
    assert repr(ours) == repr(theirs)


# -- Embedding -----------------------------------------------------------------------------------
@st.composite
def embedding_setups(draw: Any, min_side: int = 0) -> tuple[int, int, tuple[int, ...]]:
    """(num_embeddings, embedding_dim, shape of the indices): small tables, so that indices
    repeat; indices of 0-3 dims, empty ones included unless ``min_side`` is 1."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=min_side, max_side=4))
    return draw(st.integers(1, 6)), draw(st.integers(1, 5)), shape


@FAST
@given(setup=embedding_setups(), seed=seeds)
def test_layer_embedding_equals_torch(torch: ModuleType, setup: Any, seed: int) -> None:
    num, dim, shape = setup
    gen = np.random.default_rng(seed)
    indices = gen.integers(0, num, shape)
    layer = Embedding(num, dim, rng=seed, dtype=np.float64)
    out = layer.forward(indices)
    assert out.shape == (*shape, dim)
    dout = gen.standard_normal(out.shape)
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dx, np.zeros(shape))
    t_idx = torch.from_numpy(np.asarray(indices))
    t_out, (t_dw,) = _torch_pass(
        torch, lambda w: torch.nn.functional.embedding(t_idx, w), [layer.weight.data], dout
    )
    _close(out, t_out, "output")
    _close(layer.weight.grad, t_dw, "weight gradient")
    layer.backward_params(-dout)
    _close(layer.weight.grad, -t_dw, "second backward")


@FAST
@given(setup=embedding_setups(min_side=1), seed=seeds)  # PyTorch's double backward fails on none
def test_engine_embedding_equals_torch_to_second_order(
    torch: ModuleType, setup: Any, seed: int
) -> None:
    num, dim, shape = setup
    gen = np.random.default_rng(seed)
    indices = gen.integers(0, num, shape)
    t_idx = torch.from_numpy(np.asarray(indices))
    check_against_torch(
        torch,
        lambda w: F.embedding(indices, w) ** 2,  # squared: a second derivative to compare
        lambda w: torch.nn.functional.embedding(t_idx, w) ** 2,
        gen.standard_normal((num, dim)),
        second_order=True,
        seed=seed,
    )


@settings(max_examples=30, deadline=None)
@given(setup=embedding_setups(), dtype=st.sampled_from([np.float32, np.float64]), seed=seeds)
def test_scatter_add_rows_is_add_at(setup: Any, dtype: Any, seed: int) -> None:
    num, dim, shape = setup
    gen = np.random.default_rng(seed)
    indices = gen.integers(0, num, shape)
    rows = gen.standard_normal((*shape, dim)).astype(dtype)
    expected = np.zeros((num, dim))
    np.add.at(expected, indices, rows.astype(np.float64))
    out = np.full((num, dim), np.nan, dtype=dtype)
    assert kernels.scatter_add_rows(out, indices, rows) is out
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_embedding_initialisation_and_repr() -> None:
    for make in (Embedding, nn.Embedding):
        table = make(1000, 64, rng=0)
        assert table.weight.dtype == np.float32 and table.weight.shape == (1000, 64)
        assert abs(table.weight.data.mean()) < 0.01 and abs(table.weight.data.std() - 1) < 0.01
        assert repr(table) == "Embedding(1000, 64)"
        assert list(table.state_dict()) == ["weight"]
    np.random.seed(3)  # noqa: NPY002 (without rng, the global state)
    first = Embedding(4, 2).weight.data.copy()
    np.random.seed(3)  # noqa: NPY002 (without rng, the global state)
    np.testing.assert_array_equal(nn.Embedding(4, 2).weight.data, first)


def test_check_layer_covers_the_embedding_weight() -> None:
    indices = np.array([[1, 2, 1, 1], [6, 0, 2, 1]])  # repeats, rows 3-5 unused
    errors = check_layer(Embedding(7, 3, rng=0, dtype=np.float64), indices)
    assert list(errors) == ["weight"] and errors["weight"] < 1e-8
    errors = gradgradcheck(lambda w: F.embedding(indices, w) ** 2, [np.ones((7, 3))])
    assert errors[0] < 1e-7


# -- both paths, second order, float32, state ----------------------------------------------------
@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda x: F.gelu(x), [(3, 4)]),
        (lambda x: F.gelu(x, "tanh") * x, [(3, 4)]),
        (lambda x, w, b: F.layer_norm(x, (3, 4), w, b), [(2, 3, 4), (3, 4), (3, 4)]),
        (lambda x: F.layer_norm(x, 4) ** 2, [(3, 4)]),
    ],
    ids=["gelu", "gelu tanh", "layer_norm affine", "layer_norm plain"],
)
def test_second_order_by_central_differences(fn: Callable[..., Tensor], shapes: list[Any]) -> None:
    gen = np.random.default_rng(0)
    errors = gradgradcheck(fn, [gen.standard_normal(shape) * 2 for shape in shapes])
    assert max(errors) < 1e-6, errors


PAIRS = [
    (lambda: Embedding(9, 4, rng=1), lambda: nn.Embedding(9, 4, rng=1), "indices"),
    (lambda: LayerNorm((3, 4)), lambda: nn.LayerNorm((3, 4)), "floats"),
    (lambda: LayerNorm(4, bias=False), lambda: nn.LayerNorm(4, bias=False), "floats"),
    (lambda: LayerNorm(4, 1e-3, False), lambda: nn.LayerNorm(4, 1e-3, False), "floats"),
    (GELU, nn.GELU, "floats"),
    (lambda: GELU("tanh"), lambda: nn.GELU("tanh"), "floats"),
]


def _pair_input(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "indices":
        return rng.integers(0, 9, (2, 5, 3))
    return rng.standard_normal((2, 5, 3, 4)).astype(np.float32) * 3


@pytest.mark.parametrize("make_layer, make_module, kind", PAIRS)
def test_both_paths_give_the_same_outputs_and_gradients_in_float32(
    make_layer: Callable[[], dl.Layer],
    make_module: Callable[[], dl.Module],
    kind: str,
    rng: np.random.Generator,
) -> None:
    layer, module = make_layer(), make_module()
    _randomize(layer, rng)
    module.load_state_dict(layer.state_dict())  # also: the names are the same
    x = _pair_input(kind, rng)
    out = layer.forward(x)
    assert out.dtype == np.float32
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = layer.backward(dout)
    leaf = x if kind == "indices" else Tensor(x, requires_grad=True)
    y = module(leaf)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, out, rtol=1e-6, atol=1e-6)
    y.backward(dout)
    if kind != "indices":
        np.testing.assert_allclose(leaf.grad, dx, rtol=1e-5, atol=1e-5)
    for (name, param), (_, twin) in zip(layer.named_parameters(), module.named_parameters()):
        assert param.dtype == twin.dtype == np.float32
        np.testing.assert_allclose(param.grad, twin.grad, rtol=1e-5, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(module.infer(x), layer.infer(x), rtol=1e-6, atol=1e-6)


def test_state_dicts_move_between_paths(rng: np.random.Generator) -> None:
    for layer, module, names in [
        (Embedding(6, 3, rng=0), nn.Embedding(6, 3, rng=1), ["weight"]),
        (LayerNorm((2, 3)), nn.LayerNorm((2, 3)), ["weight", "bias"]),
        (LayerNorm(3, bias=False), nn.LayerNorm(3, bias=False), ["weight"]),
        (LayerNorm(3, elementwise_affine=False), nn.LayerNorm(3, elementwise_affine=False), []),
    ]:
        assert list(layer.state_dict()) == list(module.state_dict()) == names
        _randomize(module, rng)
        layer.load_state_dict(module.state_dict())
        for name in names:
            np.testing.assert_array_equal(layer.state_dict()[name], module.state_dict()[name])
        _randomize(layer, rng)
        module.load_state_dict(layer.state_dict())
        for name in names:
            np.testing.assert_array_equal(layer.state_dict()[name], module.state_dict()[name])
    assert (
        Embedding(6, 3, rng=4).weight.data.tobytes()
        == nn.Embedding(6, 3, rng=4).weight.data.tobytes()
    )


def test_float32_is_the_default_and_float64_is_kept() -> None:
    for make in (LayerNorm, nn.LayerNorm):
        norm = make(5)
        assert norm.weight.dtype == norm.bias.dtype == np.float32
        np.testing.assert_array_equal(norm.weight.data, np.ones(5))
        np.testing.assert_array_equal(norm.bias.data, np.zeros(5))
        assert make(5, dtype=np.float64).weight.dtype == np.float64
    assert LayerNorm(5).forward(np.ones((2, 5))).dtype == np.float32
    assert LayerNorm(5, elementwise_affine=False).forward(np.arange(10).reshape(2, 5)).dtype == (
        np.float32
    )
    assert Embedding(3, 2).forward(np.array([0, 2])).dtype == np.float32
    assert Embedding(3, 2, dtype=np.float64).forward([0, 2]).dtype == np.float64


def test_a_shared_parameter_gets_the_sum_of_its_gradients(rng: np.random.Generator) -> None:
    first, second = Embedding(5, 3, dtype=np.float64), Embedding(5, 3, dtype=np.float64)
    second.weight = first.weight  # tied tables
    a, b = np.array([0, 1, 1]), np.array([[1, 4]])
    da, db = rng.standard_normal((3, 3)), rng.standard_normal((1, 2, 3))
    first.forward(a), second.forward(b)
    first.backward(da), second.backward(db)
    expected = np.zeros((5, 3))
    np.add.at(expected, a, da)
    np.add.at(expected, b, db)
    np.testing.assert_allclose(first.weight.grad, expected, rtol=1e-14)


def test_empty_batches_give_empty_outputs() -> None:
    norm = LayerNorm(4)
    assert norm.forward(np.zeros((0, 4))).shape == (0, 4)
    assert norm.backward(np.zeros((0, 4))).shape == (0, 4)
    np.testing.assert_array_equal(norm.weight.grad, np.zeros(4))
    table = Embedding(3, 2)
    assert table.forward(np.zeros((0, 5), dtype=np.int64)).shape == (0, 5, 2)
    table.backward(np.zeros((0, 5, 2), dtype=np.float32))
    np.testing.assert_array_equal(table.weight.grad, np.zeros((3, 2)))
    engine_table = nn.Embedding(3, 2)
    rows = engine_table(np.zeros(0, dtype=np.int64))
    assert rows.shape == (0, 2)
    rows.sum().backward()
    np.testing.assert_array_equal(engine_table.weight.grad, np.zeros((3, 2)))


def test_a_small_text_model_on_both_paths(rng: np.random.Generator) -> None:
    """Embedding -> LayerNorm -> GELU -> Linear, as a chain on each path: the same outputs
    and gradients, the first layer's input being token ids (one per row of the Linear)."""
    tokens = rng.integers(0, 11, 7)
    layers = dl.Sequential(
        Embedding(11, 8, rng=0, dtype=np.float64), LayerNorm(8, dtype=np.float64), GELU("tanh"),
        dl.Linear(8, 3, rng=1, dtype=np.float64),
    )  # fmt: skip
    modules = nn.Sequential(
        nn.Embedding(11, 8, rng=0, dtype=np.float64), nn.LayerNorm(8, dtype=np.float64),
        nn.GELU("tanh"), nn.Linear(8, 3, rng=1, dtype=np.float64),
    )  # fmt: skip
    _randomize(layers[1], rng)
    modules.load_state_dict(layers.state_dict())
    out = layers.forward(tokens)
    y = modules(tokens)
    np.testing.assert_allclose(y.data, out, rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    layers.backward_params(dout)
    y.backward(dout)
    for (name, param), (_, twin) in zip(layers.named_parameters(), modules.named_parameters()):
        np.testing.assert_allclose(param.grad, twin.grad, rtol=1e-10, atol=1e-12, err_msg=name)


# -- bad arguments and inputs --------------------------------------------------------------------
BAD: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # Embedding: the table, then the indices
    ("no rows", lambda: Embedding(0, 3), ValueError, "num_embeddings must be an int >= 1"),
    ("float size", lambda: nn.Embedding(4, 2.0), TypeError, "embedding_dim must be an int"),
    ("int dtype", lambda: Embedding(4, 2, dtype=np.int32), TypeError, "dtype must be a float"),
    ("float indices", lambda: Embedding(4, 2).forward(np.array([1.0])), TypeError, "integer"),
    ("bool indices", lambda: nn.Embedding(4, 2)(np.array([True])), TypeError, "dtype bool"),
    ("Tensor indices", lambda: nn.Embedding(4, 2)(Tensor([1])), TypeError, "not a Tensor"),
    ("F Tensor", lambda: F.embedding(Tensor([1]), np.ones((4, 2))), TypeError, "not a Tensor"),
    ("out of range", lambda: Embedding(4, 2).forward([[0, 4]]), IndexError, r"\[0, 4\).*\[4\]"),
    ("negative", lambda: nn.Embedding(4, 2)(np.array([-1])), IndexError, "negative"),
    ("F range", lambda: F.embedding([5], np.ones((4, 2))), IndexError, r"\[0, 4\)"),
    ("F 1-D table", lambda: F.embedding([0], np.ones(4)), ValueError, "embedding_dim"),
    (
        "dout shape",
        lambda: (lambda e: (e.forward([1, 2]), e.backward(np.ones((3, 2)))))(Embedding(4, 2)),
        ValueError,
        r"expected dout of shape \(2, 2\)",
    ),
    # LayerNorm: the arguments, then the input
    ("empty shape", lambda: LayerNorm(()), ValueError, "at least one dimension"),
    ("string shape", lambda: nn.LayerNorm("4"), TypeError, "int or a tuple of ints"),
    ("zero size", lambda: LayerNorm((4, 0)), ValueError, "int >= 1"),
    ("float size", lambda: LayerNorm((4.0,)), TypeError, "must be an int"),
    ("eps 0", lambda: LayerNorm(4, eps=0), ValueError, "eps must be a finite number > 0"),
    ("eps nan", lambda: nn.LayerNorm(4, eps=float("nan")), ValueError, "eps must be a finite"),
    ("eps str", lambda: LayerNorm(4, eps="1e-5"), TypeError, "eps must be a real number"),
    ("F eps", lambda: F.layer_norm(np.ones((2, 4)), 4, eps=-1.0), ValueError, "eps"),
    ("bias str", lambda: LayerNorm(4, bias="no"), TypeError, "bias must be True or False"),
    ("affine int", lambda: nn.LayerNorm(4, 1e-5, 1), TypeError, "elementwise_affine"),
    (
        "last dims",
        lambda: LayerNorm((3, 4)).forward(np.ones((2, 4, 3))),
        ValueError,
        r"\(\*, 3, 4\)",
    ),
    ("nn dims", lambda: nn.LayerNorm(4)(Tensor(np.ones((2, 5)))), ValueError, r"\(\*, 4\)"),
    ("too few dims", lambda: F.layer_norm(np.ones(4), (2, 4)), ValueError, r"got \(4,\)"),
    (
        "F weight",
        lambda: F.layer_norm(np.ones((2, 4)), 4, np.ones(3)),
        ValueError,
        "weight of shape",
    ),
    # GELU
    ("approximate", lambda: GELU("tanh2"), ValueError, "'none' or 'tanh'"),
    ("approximate None", lambda: nn.GELU(None), TypeError, "'none' or 'tanh'"),
    ("F approximate", lambda: F.gelu(Tensor([1.0]), "Tanh"), ValueError, "'none' or 'tanh'"),
    ("GELU complex", lambda: GELU().forward(np.array([1j])), TypeError, "complex"),
]


@pytest.mark.parametrize("make, error, match", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_arguments_and_inputs_are_refused(
    make: Callable[[], Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        make()


def test_backward_before_forward_is_explained() -> None:
    for layer in (Embedding(3, 2), LayerNorm(2), GELU()):
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(np.ones((1, 2)))
