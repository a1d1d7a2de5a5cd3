"""Every operation of the autograd engine against PyTorch (CPU, float64), first and second order.

One helper, `check_against_torch`, runs a function on the engine's tensors and its twin on
PyTorch's, and compares the outputs and the gradients of ``sum(out * dout)`` (a random
``dout``) with respect to every input. With ``second_order=True`` it also records the backward
pass (``create_graph=True``) and compares the gradients of ``sum_i sum(g_i * v_i)`` (random
``v_i``): the double backward pass. The shapes are drawn by hypothesis, and kept small.
"""

from __future__ import annotations

import functools
import operator
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from deeplearning.autograd import Tensor, grad
from deeplearning.autograd import functional as F

RTOL, ATOL = 1e-10, 1e-12

# The largest relative errors seen against PyTorch, by order (0: outputs, 1: gradients,
# 2: gradients of gradients); not asserted, read by whoever wants to report them.
WORST_RELATIVE_ERROR = {0: 0.0, 1: 0.0, 2: 0.0}

FAST = settings(max_examples=20, deadline=None)
FEW = settings(max_examples=12, deadline=None)

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


# -- the helper ----------------------------------------------------------------------------------
def _assert_close(actual: np.ndarray, expected: np.ndarray, order: int, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)
    significant = np.abs(expected) > 1e-8
    if significant.any():
        relative = np.abs(actual - expected)[significant] / np.abs(expected)[significant]
        WORST_RELATIVE_ERROR[order] = max(WORST_RELATIVE_ERROR[order], float(relative.max()))


def _engine_array(g: Tensor | None, shape: tuple[int, ...]) -> np.ndarray:
    """A gradient as an array; None (no dependence) is zeros."""
    return np.zeros(shape) if g is None else g.data


def _torch_array(g: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape) if g is None else g.detach().numpy(force=True)


def _differentiable_sum(terms: list[Any]) -> Any:
    return functools.reduce(operator.add, terms) if terms else None


def check_against_torch(
    torch: ModuleType,
    engine_fn: Callable[..., Tensor],
    torch_fn: Callable[..., Any],
    *arrays: np.ndarray,
    second_order: bool = False,
    seed: int = 0,
) -> None:
    """Assert that ``engine_fn`` on Tensors equals ``torch_fn`` on torch tensors (float64):
    the output, the gradient of ``sum(out * dout)`` with respect to every input (in the input's
    shape), and, with ``second_order``, the gradient of ``sum_i sum(g_i * v_i)`` where ``g_i``
    are those gradients, recorded with ``create_graph=True``."""
    gen = np.random.default_rng(seed)
    arrays = tuple(np.array(a, dtype=np.float64) for a in arrays)
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]

    out = engine_fn(*xs)
    t_out = torch_fn(*ts)
    assert isinstance(out, Tensor), f"expected a Tensor, got {type(out).__name__}"
    assert out.dtype == np.float64
    _assert_close(out.data, t_out.detach().numpy(), 0, "output")

    dout = np.asarray(gen.standard_normal(out.shape))
    t_gs = torch.autograd.grad(
        t_out, ts, grad_outputs=torch.from_numpy(dout), create_graph=second_order,
        allow_unused=True,
    )  # fmt: skip
    # A plain backward pass, and (for second order) one recorded: both must give the gradients.
    for create_graph in (False, True) if second_order else (False,):
        gs = grad(
            out, xs, grad_outputs=dout, retain_graph=second_order, create_graph=create_graph,
            allow_unused=True,
        )  # fmt: skip
        for i, (a, g, t_g) in enumerate(zip(arrays, gs, t_gs)):
            assert g is None or isinstance(g, Tensor)
            assert g is None or g.shape == a.shape, f"gradient {i}: shape {g.shape}, not {a.shape}"
            expected = _torch_array(t_g, a.shape)
            _assert_close(_engine_array(g, a.shape), expected, 1, f"gradient {i}")
    if not second_order:
        return

    vs = [gen.standard_normal(a.shape) for a in arrays]
    total = _differentiable_sum(
        [(g * v).sum() for g, v in zip(gs, vs) if g is not None and g.requires_grad]
    )
    t_total = _differentiable_sum(
        [
            (g * torch.from_numpy(v)).sum()
            for g, v in zip(t_gs, vs)
            if g is not None and g.requires_grad
        ]
    )
    ggs = [None] * len(xs) if total is None else grad(total, xs, allow_unused=True)
    t_ggs = (
        [None] * len(ts) if t_total is None else torch.autograd.grad(t_total, ts, allow_unused=True)
    )
    for i, (a, gg, t_gg) in enumerate(zip(arrays, ggs, t_ggs)):
        assert gg is None or gg.shape == a.shape
        _assert_close(_engine_array(gg, a.shape), _torch_array(t_gg, a.shape), 2, f"second {i}")


# -- data ----------------------------------------------------------------------------------------
def _data(gen: np.random.Generator, shape: tuple[int, ...], domain: str = "real") -> np.ndarray:
    """Random float64 values of ``shape`` from a domain where the operation is smooth."""
    if domain == "positive":
        return gen.uniform(0.3, 2.5, shape)
    if domain == "nonzero":
        return gen.choice([-1.0, 1.0], shape) * gen.uniform(0.4, 2.0, shape)
    if domain == "with zeros":  # kinks: PyTorch's conventions at 0 are part of the contract
        values = gen.standard_normal(shape)
        return np.where(gen.random(shape) < 0.25, 0.0, values)
    if domain == "ties":  # few distinct values, so that equal elements are common
        return gen.integers(-2, 3, shape).astype(np.float64)
    return gen.standard_normal(shape)


# -- arithmetic, broadcasting --------------------------------------------------------------------
BINARY = {
    "add": (operator.add, "real", "real"),
    "sub": (operator.sub, "real", "real"),
    "mul": (operator.mul, "real", "real"),
    "div": (operator.truediv, "real", "nonzero"),
    "pow": (operator.pow, "positive", "real"),
}


@pytest.mark.parametrize("name", list(BINARY))
@FAST
@given(shapes=pairs, seed=seeds)
def test_binary_operators_broadcast_like_torch(
    torch: ModuleType, name: str, shapes: Any, seed: int
) -> None:
    op, domain_a, domain_b = BINARY[name]
    gen = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a, b = _data(gen, a_shape, domain_a), _data(gen, b_shape, domain_b)
    check_against_torch(torch, op, op, a, b, second_order=True, seed=seed)


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((3, 1, 4), (5, 4)), ((4,), (2, 3, 4)), ((), (2, 3)), ((2, 3), ()), ((2, 1), (1, 3))],
)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_gradients_come_back_in_each_input_shape(
    torch: ModuleType, name: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...]
) -> None:
    op, domain_a, domain_b = BINARY[name]
    gen = np.random.default_rng(7)
    a, b = _data(gen, a_shape, domain_a), _data(gen, b_shape, domain_b)
    check_against_torch(torch, op, op, a, b, second_order=True, seed=1)
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = op(x, y)
    gx, gy = grad(out, [x, y], grad_outputs=np.ones(out.shape))
    assert gx.shape == a_shape and gy.shape == b_shape
    if name == "add":  # d(sum(a + b))/da counts the copies of each element of a
        np.testing.assert_array_equal(gx.data, np.full(a_shape, out.size / max(a.size, 1)))


WITH_CONSTANT = {
    "x + 2": (lambda x: x + 2, "real"),
    "2 + x": (lambda x: 2 + x, "real"),
    "x - 2": (lambda x: x - 2, "real"),
    "2 - x": (lambda x: 2 - x, "real"),
    "x * 3": (lambda x: x * 3, "real"),
    "3 * x": (lambda x: 3 * x, "real"),
    "x / 3": (lambda x: x / 3, "real"),
    "3 / x": (lambda x: 3 / x, "nonzero"),
    "x ** 3": (lambda x: x**3, "real"),
    "x ** 2.5": (lambda x: x**2.5, "positive"),
    "x ** -1.5": (lambda x: x**-1.5, "positive"),
    "2 ** x": (lambda x: 2**x, "real"),
    "0.5 ** x": (lambda x: 0.5**x, "real"),
    "-x": (lambda x: -x, "real"),
    "-(x * x)": (lambda x: -(x * x), "real"),
    "+x * x": (lambda x: +x * x, "real"),
}


@pytest.mark.parametrize("name", list(WITH_CONSTANT))
@FEW
@given(shape=shapes, seed=seeds)
def test_operators_with_a_number_on_either_side(
    torch: ModuleType, name: str, shape: tuple[int, ...], seed: int
) -> None:
    fn, domain = WITH_CONSTANT[name]
    x = _data(np.random.default_rng(seed), shape, domain)
    check_against_torch(torch, fn, fn, x, second_order=True, seed=seed)


@pytest.mark.parametrize(
    "name", ["A + x", "A - x", "x - A", "A * x", "A / x", "A ** x", "x ** A", "A @ x", "x @ A"]
)
def test_operators_with_an_ndarray_on_either_side(torch: ModuleType, name: str) -> None:
    gen = np.random.default_rng(3)
    A = gen.uniform(0.5, 2.0, (3, 3))
    x = gen.uniform(0.5, 2.0, (3, 3))
    ops = {
        "A + x": lambda A, x: A + x,
        "A - x": lambda A, x: A - x,
        "x - A": lambda A, x: x - A,
        "A * x": lambda A, x: A * x,
        "A / x": lambda A, x: A / x,
        "A ** x": lambda A, x: A**x,
        "x ** A": lambda A, x: x**A,
        "A @ x": lambda A, x: A @ x,
        "x @ A": lambda A, x: x @ A,
    }
    fn = ops[name]
    check_against_torch(
        torch, lambda t: fn(A, t), lambda t: fn(torch.from_numpy(A), t), x, second_order=True
    )


def test_power_zero_has_zero_gradient_at_zero(torch: ModuleType) -> None:
    x = np.array([0.0, 1.5, -2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        check_against_torch(torch, lambda t: t**0, lambda t: t**0, x, second_order=True)


# -- matrix products -----------------------------------------------------------------------------
@st.composite
def matmul_shapes(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    a_batch, b_batch = batch.input_shapes
    a_shape = (k,) if draw(st.booleans()) else (*a_batch, n, k)
    b_shape = (k,) if draw(st.booleans()) else (*b_batch, k, m)
    return a_shape, b_shape


@FAST
@given(matmul_shapes(), seeds, st.booleans())
def test_matmul_as_np_matmul(
    torch: ModuleType, shapes: tuple[tuple[int, ...], tuple[int, ...]], seed: int, method: bool
) -> None:
    gen = np.random.default_rng(seed)
    a, b = (gen.standard_normal(s) for s in shapes)
    engine = operator.matmul if method else F.matmul
    check_against_torch(torch, engine, torch.matmul, a, b, second_order=True, seed=seed)


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "out_shape"),
    [
        ((3,), (3,), ()),
        ((3,), (3, 2), (2,)),
        ((2, 3), (3,), (2,)),
        ((3,), (4, 3, 2), (4, 2)),
        ((4, 2, 3), (3,), (4, 2)),
        ((2, 1, 2, 3), (5, 3, 4), (2, 5, 2, 4)),
    ],
)
def test_matmul_shapes_of_vectors_and_batches(
    torch: ModuleType, a_shape: tuple[int, ...], b_shape: tuple[int, ...], out_shape: tuple
) -> None:
    gen = np.random.default_rng(0)
    a, b = gen.standard_normal(a_shape), gen.standard_normal(b_shape)
    assert (Tensor(a) @ Tensor(b)).shape == out_shape == np.matmul(a, b).shape
    check_against_torch(torch, operator.matmul, torch.matmul, a, b, second_order=True)


# -- elementwise, unary --------------------------------------------------------------------------
UNARY: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[ModuleType], Callable], str]] = {
    "exp": (lambda x: x.exp(), lambda torch: torch.exp, "real"),
    "log": (lambda x: x.log(), lambda torch: torch.log, "positive"),
    "sqrt": (lambda x: x.sqrt(), lambda torch: torch.sqrt, "positive"),
    "abs": (lambda x: x.abs(), lambda torch: torch.abs, "with zeros"),
    "tanh": (lambda x: x.tanh(), lambda torch: torch.tanh, "real"),
    "sigmoid": (lambda x: x.sigmoid(), lambda torch: torch.sigmoid, "real"),
    "relu": (lambda x: x.relu(), lambda torch: torch.relu, "with zeros"),
    "F.exp": (F.exp, lambda torch: torch.exp, "real"),
    "F.log": (F.log, lambda torch: torch.log, "positive"),
    "F.sqrt": (F.sqrt, lambda torch: torch.sqrt, "positive"),
    "F.abs": (F.abs, lambda torch: torch.abs, "with zeros"),
    "F.tanh": (F.tanh, lambda torch: torch.tanh, "real"),
    "F.sigmoid": (F.sigmoid, lambda torch: torch.sigmoid, "real"),
    "F.relu": (F.relu, lambda torch: torch.relu, "with zeros"),
    "F.neg": (F.neg, lambda torch: torch.neg, "real"),
    "F.leaky_relu": (F.leaky_relu, lambda torch: torch.nn.functional.leaky_relu, "with zeros"),
    "F.leaky_relu 0.2": (
        lambda x: F.leaky_relu(x, 0.2),
        lambda torch: functools.partial(torch.nn.functional.leaky_relu, negative_slope=0.2),
        "with zeros",
    ),
}


@pytest.mark.parametrize("name", list(UNARY))
@FAST
@given(shape=shapes, seed=seeds)
def test_unary_operations(torch: ModuleType, name: str, shape: tuple[int, ...], seed: int) -> None:
    engine_fn, torch_fn, domain = UNARY[name]
    x = _data(np.random.default_rng(seed), shape, domain)
    check_against_torch(torch, engine_fn, torch_fn(torch), x, second_order=True, seed=seed)


def test_sigmoid_of_large_inputs_is_finite_and_equals_torch(torch: ModuleType) -> None:
    x = np.array([-1e3, -750.0, -40.0, -1.0, 0.0, 1.0, 40.0, 750.0, 1e3])
    with np.errstate(all="raise"):  # no overflow warning either
        y = F.sigmoid(Tensor(x)).data
    assert np.all(np.isfinite(y))
    assert y[0] == 0.0 and y[-1] == 1.0
    np.testing.assert_allclose(y, torch.sigmoid(torch.from_numpy(x)).numpy(), rtol=RTOL, atol=0)
    check_against_torch(torch, F.sigmoid, torch.sigmoid, x, second_order=True)


MAX_MIN = {"maximum": (F.maximum, "maximum"), "minimum": (F.minimum, "minimum")}


@pytest.mark.parametrize("name", list(MAX_MIN))
@FAST
@given(shapes=pairs, seed=seeds)
def test_maximum_minimum_with_ties_and_broadcasting(
    torch: ModuleType, name: str, shapes: Any, seed: int
) -> None:
    engine_fn, torch_name = MAX_MIN[name]
    gen = np.random.default_rng(seed)
    a, b = (_data(gen, s, "ties") for s in shapes.input_shapes)
    torch_fn = getattr(torch, torch_name)
    check_against_torch(torch, engine_fn, torch_fn, a, b, second_order=True, seed=seed)


@pytest.mark.parametrize("name", list(MAX_MIN))
def test_maximum_minimum_split_ties_in_halves(torch: ModuleType, name: str) -> None:
    engine_fn, torch_name = MAX_MIN[name]
    a, b = Tensor(np.array([1.0, 2.0, 3.0]), True), Tensor(np.array([1.0, 0.0, 4.0]), True)
    ga, gb = grad(engine_fn(a, b), [a, b], grad_outputs=np.ones(3))
    winner_a = [0.5, 1.0, 0.0] if name == "maximum" else [0.5, 0.0, 1.0]
    np.testing.assert_array_equal(ga.data, winner_a)
    np.testing.assert_array_equal(gb.data, 1 - np.array(winner_a))
    check_against_torch(
        torch, engine_fn, getattr(torch, torch_name), a.data, b.data, second_order=True
    )
    # A number on one side: the tensor gets half the gradient where it ties.
    (gx,) = grad(engine_fn(a, 2.0), [a], grad_outputs=np.ones(3))
    np.testing.assert_array_equal(gx.data, [0.0, 0.5, 1.0] if name == "maximum" else [1, 0.5, 0])


@pytest.mark.parametrize(("low", "high"), [(-0.5, 1.0), (None, 0.5), (-1.0, None), (0.5, 0.5)])
@FEW
@given(shape=shapes, seed=seeds, method=st.booleans())
def test_clip_as_torch_clamp_boundaries_inclusive(
    torch: ModuleType,
    low: float | None,
    high: float | None,
    shape: tuple[int, ...],
    seed: int,
    method: bool,
) -> None:
    gen = np.random.default_rng(seed)
    x = gen.integers(-3, 4, shape) * 0.5  # hits both boundaries exactly
    engine_fn = (lambda t: t.clip(low, high)) if method else (lambda t: F.clip(t, low, high))
    check_against_torch(
        torch, engine_fn, lambda t: torch.clamp(t, low, high), x, second_order=True, seed=seed
    )


def test_clip_passes_the_gradient_on_its_boundaries() -> None:
    x = Tensor(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), requires_grad=True)
    (g,) = grad(x.clip(-1.0, 1.0), [x], grad_outputs=np.ones(5))
    np.testing.assert_array_equal(g.data, [0.0, 1.0, 1.0, 1.0, 0.0])


@FAST
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, max_side=4),
    seed=seeds,
)
def test_where_broadcasts_condition_and_both_branches(
    torch: ModuleType, shapes: Any, seed: int
) -> None:
    gen = np.random.default_rng(seed)
    c_shape, a_shape, b_shape = shapes.input_shapes
    condition = np.asarray(gen.random(c_shape) < 0.5)
    a, b = gen.standard_normal(a_shape), gen.standard_normal(b_shape)
    check_against_torch(
        torch,
        lambda x, y: F.where(condition, x * x, y),
        lambda x, y: torch.where(torch.from_numpy(condition), x * x, y),
        a,
        b,
        second_order=True,
        seed=seed,
    )


# -- reductions ----------------------------------------------------------------------------------
@st.composite
def shape_and_axis(draw: Any) -> tuple[tuple[int, ...], Any]:
    shape = draw(shapes)
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return shape, tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def _torch_reduction(torch: ModuleType, name: str, axis: Any, keepdims: bool) -> Callable:
    if name == "var":
        return lambda t: torch.var(t, dim=axis, correction=0, keepdim=keepdims)
    if name in ("max", "min"):  # amax/amin share the gradient among ties; dim=() is all
        reduce = torch.amax if name == "max" else torch.amin
        return lambda t: reduce(t, dim=() if axis is None else axis, keepdim=keepdims)
    reduce = torch.sum if name == "sum" else torch.mean
    return lambda t: reduce(t, dim=axis, keepdim=keepdims)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "max", "min"])
@FAST
@given(shape_axis=shape_and_axis(), keepdims=st.booleans(), seed=seeds, method=st.booleans())
def test_reductions_over_any_axes(
    torch: ModuleType, name: str, shape_axis: Any, keepdims: bool, seed: int, method: bool
) -> None:
    shape, axis = shape_axis
    gen = np.random.default_rng(seed)
    x = _data(gen, shape, "ties" if name in ("max", "min") and seed % 2 else "real")

    def engine_fn(t: Tensor) -> Tensor:
        if method:
            return getattr(t, name)(axis=axis, keepdims=keepdims)
        return getattr(F, name)(t, axis, keepdims)

    check_against_torch(
        torch,
        engine_fn,
        _torch_reduction(torch, name, axis, keepdims),
        x,
        second_order=True,
        seed=seed,
    )
    expected_shape = getattr(np, name)(x, axis=axis, keepdims=keepdims).shape
    assert engine_fn(Tensor(x)).shape == expected_shape


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_share_the_gradient_equally_among_ties(torch: ModuleType, name: str) -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [-1.0, 0.0, -1.0]])
    t = Tensor(x, requires_grad=True)
    (by_row,) = grad(getattr(t, name)(axis=1), [t], grad_outputs=np.ones(3))
    if name == "max":
        expected_rows = [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3], [0, 1, 0]]
    else:
        expected_rows = [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0, 0.5]]
    np.testing.assert_allclose(by_row.data, expected_rows, rtol=0, atol=1e-15)
    (overall,) = grad(getattr(t, name)(), [t])
    winners = x == getattr(x, name)()
    np.testing.assert_allclose(overall.data, winners / winners.sum(), rtol=0, atol=1e-15)
    for axis in (None, 0, 1, (0, 1), -1):
        for keepdims in (False, True):
            check_against_torch(
                torch,
                lambda t, axis=axis, keepdims=keepdims: getattr(t, name)(axis, keepdims),
                _torch_reduction(torch, name, axis, keepdims),
                x,
                second_order=True,
            )


# -- shapes --------------------------------------------------------------------------------------
@FAST
@given(shape=shapes, seed=seeds, data=st.data())
def test_reshape(torch: ModuleType, shape: tuple[int, ...], seed: int, data: Any) -> None:
    size = int(np.prod(shape))
    target = data.draw(
        st.sampled_from(
            [(size,), (-1,), tuple(reversed(shape)), (1, *shape), (*shape, 1), (size, 1), shape]
        )
    )
    star = data.draw(st.booleans())
    x = np.random.default_rng(seed).standard_normal(shape)
    engine_fn = (lambda t: t.reshape(*target)) if star else (lambda t: F.reshape(t, target))
    check_against_torch(
        torch, engine_fn, lambda t: t.reshape(target), x, second_order=True, seed=seed
    )


@FAST
@given(shape=shapes, seed=seeds, data=st.data())
def test_transpose_any_permutation(
    torch: ModuleType, shape: tuple[int, ...], seed: int, data: Any
) -> None:
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    x = np.random.default_rng(seed).standard_normal(shape)
    for engine_fn in (lambda t: t.transpose(*perm), lambda t: F.transpose(t, perm)):
        check_against_torch(
            torch, engine_fn, lambda t: t.permute(*perm), x, second_order=True, seed=seed
        )
    reverse = tuple(reversed(range(len(shape))))
    for engine_fn in (lambda t: t.T, lambda t: t.transpose(), F.transpose):
        check_against_torch(torch, engine_fn, lambda t: t.permute(*reverse), x, seed=seed)


def test_transpose_with_negative_axes(torch: ModuleType) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    check_against_torch(
        torch, lambda t: t.transpose(-1, 0, 1), lambda t: t.permute(-1, 0, 1), x, second_order=True
    )


@FAST
@given(shape=shapes, seed=seeds, data=st.data())
def test_flatten(torch: ModuleType, shape: tuple[int, ...], seed: int, data: Any) -> None:
    ndim = len(shape)
    start = data.draw(st.integers(0, ndim - 1))
    end = data.draw(st.integers(start, ndim - 1))
    start -= ndim * data.draw(st.booleans())
    end -= ndim * data.draw(st.booleans())
    x = np.random.default_rng(seed).standard_normal(shape)
    check_against_torch(
        torch,
        lambda t: t.flatten(start, end),
        lambda t: torch.flatten(t, start, end),
        x,
        second_order=True,
        seed=seed,
    )


@FAST
@given(shape=st.lists(st.sampled_from([1, 1, 2, 3]), min_size=1, max_size=4), seed=seeds)
def test_squeeze_and_unsqueeze(torch: ModuleType, shape: list[int], seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(tuple(shape))
    ones = [i for i, n in enumerate(shape) if n == 1]
    axes: list[Any] = [None, *ones, *(i - len(shape) for i in ones)]
    if len(ones) > 1:
        axes.append(tuple(ones))
    for axis in axes:
        check_against_torch(
            torch,
            lambda t, axis=axis: t.squeeze(axis),
            lambda t, axis=axis: t.squeeze() if axis is None else t.squeeze(axis),
            x,
            seed=seed,
        )
    for axis in range(-len(shape) - 1, len(shape) + 1):
        check_against_torch(
            torch,
            lambda t, axis=axis: t.unsqueeze(axis),
            lambda t, axis=axis: t.unsqueeze(axis),
            x,
            second_order=True,
            seed=seed,
        )


@FAST
@given(shape=shapes, seed=seeds, data=st.data())
def test_broadcast_to(torch: ModuleType, shape: tuple[int, ...], seed: int, data: Any) -> None:
    grown = tuple(data.draw(st.sampled_from([1, 2, 3])) if n == 1 else n for n in shape)
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    target = (*lead, *grown)
    x = np.random.default_rng(seed).standard_normal(shape)
    check_against_torch(
        torch,
        lambda t: t.broadcast_to(target) * t.broadcast_to(target),
        lambda t: t.broadcast_to(target) * t.broadcast_to(target),
        x,
        second_order=True,
        seed=seed,
    )


# -- indexing ------------------------------------------------------------------------------------
def _repeated(gen: np.random.Generator, n: int, k: int) -> np.ndarray:
    """``k`` indices below ``n`` among which the first appears at least twice."""
    indices = gen.integers(0, n, k)
    indices[-1] = indices[0]
    return indices


KEYS: dict[str, Callable[[tuple[int, ...], np.random.Generator], Any]] = {
    "int": lambda s, g: 1,
    "negative int": lambda s, g: -1,
    "slice": lambda s, g: slice(1, None),
    "slices with steps": lambda s, g: (slice(None, None, 2), slice(-1, None)),
    "ellipsis and int": lambda s, g: (Ellipsis, 0),
    "new axis": lambda s, g: (None, slice(None), 1),
    "int array with repeats": lambda s, g: _repeated(g, s[0], 6),
    "2-D int array with repeats": lambda s, g: _repeated(g, s[0], 6).reshape(2, 3),
    "list with repeats": lambda s, g: [0, 1, 0, 0],
    "negative int array": lambda s, g: np.array([-1, 0, -1]),
    "two arrays with repeats": lambda s, g: (_repeated(g, s[0], 5), _repeated(g, s[1], 5)),
    "array and slice": lambda s, g: (_repeated(g, s[0], 4), slice(1, None)),
    "slice and array": lambda s, g: (slice(None), _repeated(g, s[1], 5)),
    "int and array": lambda s, g: (1, _repeated(g, s[1], 3)),
    "ellipsis and array": lambda s, g: (Ellipsis, _repeated(g, s[-1], 4)),
    "boolean mask": lambda s, g: g.random(s) < 0.5,
    "boolean mask of rows": lambda s, g: g.random(s[0]) < 0.6,
    "mask and slice": lambda s, g: (g.random(s[0]) < 0.6, slice(None, 1)),
    "slice and mask": lambda s, g: (slice(None), g.random(s[1]) < 0.6),
}


def _torch_key(torch: ModuleType, key: Any) -> Any:
    def part(p: Any) -> Any:
        return torch.from_numpy(p) if isinstance(p, np.ndarray) else p

    return tuple(part(p) for p in key) if isinstance(key, tuple) else part(key)


@pytest.mark.parametrize("name", list(KEYS))
@FEW
@given(shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=4), seed=seeds)
def test_indexing(torch: ModuleType, name: str, shape: tuple[int, ...], seed: int) -> None:
    gen = np.random.default_rng(seed)
    key = KEYS[name](shape, gen)
    x = gen.standard_normal(shape)
    assert Tensor(x)[key].shape == x[key].shape
    torch_key = _torch_key(torch, key)
    check_against_torch(
        torch,
        lambda t: t[key] * t[key],
        lambda t: t[torch_key] * t[torch_key],
        x,
        second_order=True,
        seed=seed,
    )


def test_repeated_indices_accumulate_their_gradients() -> None:
    x = Tensor(np.arange(4.0), requires_grad=True)
    (g,) = grad(x[np.array([0, 0, 3, 0])].sum(), [x])
    np.testing.assert_array_equal(g.data, [3.0, 0.0, 0.0, 1.0])
    m = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    weights = np.array([1.0, 10.0, 100.0])
    (g,) = grad((m[[1, 1, 0], [2, 2, 2]] * weights).sum(), [m])
    np.testing.assert_array_equal(g.data, [[0, 0, 100], [0, 0, 11]])


# -- joining -------------------------------------------------------------------------------------
@FAST
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
    sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    seed=seeds,
    data=st.data(),
)
def test_concatenate(
    torch: ModuleType, shape: tuple[int, ...], sizes: list[int], seed: int, data: Any
) -> None:
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    gen = np.random.default_rng(seed)
    pieces = []
    for size in sizes:
        piece_shape = list(shape)
        piece_shape[axis] = size
        pieces.append(gen.standard_normal(piece_shape))
    check_against_torch(
        torch,
        lambda *ts: F.concatenate([t * t for t in ts], axis),
        lambda *ts: torch.cat([t * t for t in ts], dim=axis),
        *pieces,
        second_order=True,
        seed=seed,
    )


@FAST
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
    count=st.integers(1, 3),
    seed=seeds,
    data=st.data(),
)
def test_stack(torch: ModuleType, shape: tuple[int, ...], count: int, seed: int, data: Any) -> None:
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    gen = np.random.default_rng(seed)
    pieces = [gen.standard_normal(shape) for _ in range(count)]
    check_against_torch(
        torch,
        lambda *ts: F.stack([t * t for t in ts], axis),
        lambda *ts: torch.stack([t * t for t in ts], dim=axis),
        *pieces,
        second_order=True,
        seed=seed,
    )


# -- functional ----------------------------------------------------------------------------------
@FAST
@given(
    n=st.integers(1, 4),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    bias=st.booleans(),
    seed=seeds,
)
def test_linear(torch: ModuleType, n: int, n_in: int, n_out: int, bias: bool, seed: int) -> None:
    gen = np.random.default_rng(seed)
    x, w, b = (gen.standard_normal(s) for s in ((n, n_in), (n_in, n_out), (n_out,)))
    linear = torch.nn.functional.linear  # its weight is (out, in): the engine's transposed
    if bias:
        check_against_torch(
            torch, F.linear, lambda x, w, b: linear(x, w.T, b), x, w, b, second_order=True
        )
    else:
        check_against_torch(torch, F.linear, lambda x, w: linear(x, w.T), x, w, second_order=True)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@FAST
@given(shape=shapes, seed=seeds, data=st.data())
def test_softmax_and_log_softmax_along_any_axis(
    torch: ModuleType, name: str, shape: tuple[int, ...], seed: int, data: Any
) -> None:
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = 3 * np.random.default_rng(seed).standard_normal(shape)
    check_against_torch(
        torch,
        lambda t: getattr(F, name)(t, axis),
        lambda t: getattr(torch, name)(t, dim=axis),
        x,
        second_order=True,
        seed=seed,
    )


@pytest.mark.parametrize("target", ["labels", "probabilities"])
@FAST
@given(n=st.integers(1, 5), classes=st.integers(1, 5), seed=seeds)
def test_cross_entropy(torch: ModuleType, target: str, n: int, classes: int, seed: int) -> None:
    gen = np.random.default_rng(seed)
    logits = 2 * gen.standard_normal((n, classes))
    if target == "labels":
        targets = gen.integers(0, classes, n)
    else:
        targets = gen.random((n, classes))
        targets /= targets.sum(axis=1, keepdims=True)
    check_against_torch(
        torch,
        lambda z: F.cross_entropy(z, targets),
        lambda z: torch.nn.functional.cross_entropy(z, torch.from_numpy(targets)),
        logits,
        second_order=True,
        seed=seed,
    )


@FAST
@given(shape=shapes, seed=seeds)
def test_mse_loss(torch: ModuleType, shape: tuple[int, ...], seed: int) -> None:
    gen = np.random.default_rng(seed)
    prediction, target = gen.standard_normal(shape), gen.standard_normal(shape)
    check_against_torch(
        torch, F.mse_loss, torch.nn.functional.mse_loss, prediction, target, second_order=True
    )


@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
@pytest.mark.parametrize("ndim", [2, 4])
@FEW
@given(
    n=st.integers(2, 4),
    channels=st.integers(1, 3),
    height=st.integers(1, 3),
    width=st.integers(1, 3),
    affine=st.booleans(),
    momentum=st.sampled_from([0.1, 0.35]),
    eps=st.sampled_from([1e-5, 1e-2]),
    seed=seeds,
)
def test_batch_norm(
    torch: ModuleType,
    training: bool,
    ndim: int,
    n: int,
    channels: int,
    height: int,
    width: int,
    affine: bool,
    momentum: float,
    eps: float,
    seed: int,
) -> None:
    gen = np.random.default_rng(seed)
    shape = (n, channels) if ndim == 2 else (n, channels, height, width)
    x = 2 * gen.standard_normal(shape) + 1
    mean0, var0 = gen.standard_normal(channels), gen.uniform(0.5, 2.0, channels)
    engine_mean, engine_var = mean0.copy(), var0.copy()
    torch_mean, torch_var = torch.from_numpy(mean0.copy()), torch.from_numpy(var0.copy())
    kwargs = {"training": training, "momentum": momentum, "eps": eps}

    def engine_fn(x: Tensor, *affine_params: Tensor) -> Tensor:
        return F.batch_norm(x, engine_mean, engine_var, *affine_params, **kwargs)

    def torch_fn(x: Any, *affine_params: Any) -> Any:
        return torch.nn.functional.batch_norm(x, torch_mean, torch_var, *affine_params, **kwargs)

    params = (gen.standard_normal(channels), gen.standard_normal(channels)) if affine else ()
    check_against_torch(torch, engine_fn, torch_fn, x, *params, second_order=True, seed=seed)
    # the running statistics, updated in place in training and left alone in evaluation
    np.testing.assert_allclose(engine_mean, torch_mean.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(engine_var, torch_var.numpy(), rtol=RTOL, atol=ATOL)
    assert (engine_mean != mean0).any() if training else (engine_mean == mean0).all()


# -- types ---------------------------------------------------------------------------------------
def test_comparisons_give_plain_boolean_arrays(rng: np.random.Generator) -> None:
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a[0, 0] = b[0, 0]
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    cases = [
        (x < y, a < b),
        (x <= y, a <= b),
        (x > y, a > b),
        (x >= y, a >= b),
        (x == y, a == b),
        (x != y, a != b),
        (x < 0.5, a < 0.5),
        (operator.lt(0.5, x), operator.lt(0.5, a)),  # reflected: x.__gt__
        (x >= b, a >= b),
        (x == 0, a == 0),
    ]
    for result, expected in cases:
        assert type(result) is np.ndarray and result.dtype == np.bool_
        np.testing.assert_array_equal(result, expected)


FLOAT32_OPS: dict[str, Callable[[Tensor], Tensor]] = {
    "x + 1": lambda x: x + 1,
    "1 + x": lambda x: 1 + x,
    "x - 2.5": lambda x: x - 2.5,
    "2.5 - x": lambda x: 2.5 - x,
    "x * 3": lambda x: x * 3,
    "0.1 * x": lambda x: 0.1 * x,
    "x / 7": lambda x: x / 7,
    "7 / x": lambda x: 7 / x,
    "x ** 2": lambda x: x**2,
    "x ** 0.5": lambda x: x.abs() ** 0.5,
    "2 ** x": lambda x: 2**x,
    "-x": lambda x: -x,
    "maximum(x, 0.5)": lambda x: F.maximum(x, 0.5),
    "minimum(0.5, x)": lambda x: F.minimum(0.5, x),
    "where(c, x, 0.0)": lambda x: F.where(x.data > 0, x, 0.0),
    "clip": lambda x: x.clip(-0.5, 0.5),
    "exp": lambda x: x.exp(),
    "sigmoid": lambda x: x.sigmoid(),
    "mean": lambda x: x.mean(axis=0),
    "var": lambda x: x.var(),
    "max": lambda x: x.max(axis=1),
    "softmax": lambda x: F.softmax(x),
    "log_softmax": lambda x: F.log_softmax(x, 0),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.1),
    "mse_loss": lambda x: F.mse_loss(x, np.zeros((3, 4), dtype=np.float32)),
    "x @ x.T": lambda x: x @ x.T,
}


@pytest.mark.parametrize("name", list(FLOAT32_OPS))
def test_float32_stays_float32_with_python_numbers(rng: np.random.Generator, name: str) -> None:
    data = rng.standard_normal((3, 4)).astype(np.float32) + np.float32(0.1)
    x = Tensor(data, requires_grad=True)
    out = FLOAT32_OPS[name](x)
    assert out.dtype == np.float32
    for create_graph in (False, True):  # a plain backward pass, and a recorded one
        (g,) = grad(
            out, [x], grad_outputs=np.ones(out.shape, dtype=np.float32), retain_graph=True,
            create_graph=create_graph,
        )  # fmt: skip
        assert g.dtype == np.float32
    # and the values are the float64 computation's, to float32 precision
    wide = FLOAT32_OPS[name](Tensor(data.astype(np.float64)))
    np.testing.assert_allclose(out.data, wide.data, rtol=1e-5, atol=1e-6)
