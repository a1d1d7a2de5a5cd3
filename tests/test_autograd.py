"""The autograd engine as behaviour: tensors, backward, grad, no_grad, the graph's order and
lifetime, higher-order derivatives, numerical checks and graph pictures.

Everything here is checked from the outside (results, errors, object lifetimes, memory), so the
tests hold whatever the engine's internals look like. PyTorch, where used, is an oracle only.
"""

from __future__ import annotations

import gc
import shutil
import tracemalloc
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplearning import SGD, Parameter, numerical_gradient, relative_error
from deeplearning.autograd import (
    Function,
    Tensor,
    grad,
    gradcheck,
    gradgradcheck,
    is_grad_enabled,
    nn,
    no_grad,
    plot_graph,
    to_dot,
    topological_order,
)
from deeplearning.autograd import functional as F
from deeplearning.autograd.graph import GraphvizNotFoundError

TOLERANCE = 1e-6
"""Largest relative error accepted between the engine's gradients and numerical ones."""


def leaf(*values: float) -> Tensor:
    """A float64 vector that requires a gradient."""
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def randn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# -- constructing tensors ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_floating_arrays_keep_their_dtype_and_are_not_copied(dtype: type) -> None:
    array = np.arange(6, dtype=dtype).reshape(2, 3)
    t = Tensor(array)
    assert t.data is array
    assert t.dtype == dtype
    array[0, 0] = 7  # the same memory: a change to the array shows in the tensor
    assert t.data[0, 0] == 7


@pytest.mark.parametrize(
    "data",
    [3, True, [1, 2, 3], [[True, False]], np.arange(4), np.array([1, 2], dtype=np.uint8)],
    ids=["int", "bool", "int list", "bool list", "int64 array", "uint8 array"],
)
def test_integers_and_booleans_become_float32(data: Any) -> None:
    t = Tensor(data)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float32))


@pytest.mark.parametrize("data", [2.5, [1.5, 2.0], [[0.5], [1.0]]], ids=["float", "list", "nested"])
def test_python_floats_and_lists_of_floats_become_float32(data: Any) -> None:
    assert Tensor(data).dtype == np.float32


@pytest.mark.parametrize(
    ("data", "dtype_name"),
    [
        (np.array([1 + 2j]), "complex128"),
        (1j, "complex128"),
        (np.array([object()]), "object"),
        (np.array(["abc"]), "<U3"),
        ("abc", "<U3"),
    ],
    ids=["complex array", "complex number", "object", "str array", "str"],
)
def test_non_real_data_is_refused_naming_the_dtype(data: Any, dtype_name: str) -> None:
    with pytest.raises(TypeError, match=dtype_name):
        Tensor(data)


def test_a_tensor_is_not_wrapped_in_a_tensor() -> None:
    with pytest.raises(TypeError, match="detach"):
        Tensor(Tensor([1.0]))


# -- attributes ----------------------------------------------------------------------------------
def test_attributes_describe_the_data() -> None:
    array = randn(2, 3)
    t = Tensor(array, requires_grad=True)
    assert t.data is array
    assert t.grad is None
    assert t.shape == (2, 3)
    assert t.dtype == np.float64
    assert t.ndim == 2
    assert t.size == 6
    assert len(t) == 2
    assert t.requires_grad
    assert t.is_leaf
    assert not Tensor(array).requires_grad


def test_an_operation_output_is_not_a_leaf_and_requires_grad() -> None:
    x = leaf(1.0, 2.0)
    y = x * 2
    assert not y.is_leaf
    assert y.requires_grad
    assert y.grad is None
    constant = Tensor([1.0, 2.0]) * 2
    assert constant.is_leaf
    assert not constant.requires_grad


def test_item_gives_a_float_for_one_element_and_refuses_more() -> None:
    assert Tensor(np.array([[2.5]])).item() == 2.5
    assert isinstance(Tensor(np.float64(1.5)).item(), float)
    with pytest.raises(ValueError, match="one-element"):
        Tensor(np.array([1.0, 2.0])).item()


def test_numpy_and_asarray_give_the_data_itself() -> None:
    array = randn(3)
    t = Tensor(array)
    assert t.numpy() is array
    assert np.shares_memory(np.asarray(t), array)
    np.testing.assert_array_equal(np.asarray(t), array)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


def test_transpose_property_transposes_and_carries_the_gradient() -> None:
    array = randn(2, 3)
    x = Tensor(array, requires_grad=True)
    y = x.T
    assert y.shape == (3, 2)
    np.testing.assert_array_equal(y.data, array.T)
    (y * np.arange(6.0).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(6.0).reshape(3, 2).T)


def test_detach_shares_the_data_and_leaves_the_graph() -> None:
    x = leaf(1.0, 2.0)
    y = x * 3
    d = y.detach()
    assert d.data is y.data
    assert d.is_leaf
    assert not d.requires_grad
    assert (d * 2).creator is None
    y.data[0] = 10.0  # the same numbers, not a snapshot
    assert d.data[0] == 10.0


def test_requires_grad_underscore_changes_a_leaf_in_place() -> None:
    x = Tensor(np.ones(2))
    assert x.requires_grad_() is x
    assert x.requires_grad
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    assert x.requires_grad_(False) is x
    assert not x.requires_grad


def test_requires_grad_underscore_refuses_a_non_leaf() -> None:
    y = leaf(1.0) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_()
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_retain_grad_keeps_a_non_leaf_gradient() -> None:
    x = leaf(1.0, 2.0)
    h = x * 3
    h.retain_grad()
    other = x * 4  # not retained: keeps no gradient
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)
    assert other.grad is None
    np.testing.assert_allclose(x.grad, 18 * x.data + 4)


def test_retain_grad_refuses_a_tensor_that_does_not_require_grad() -> None:
    with pytest.raises(RuntimeError, match="require"):
        Tensor([1.0]).retain_grad()


def test_repr_shows_values_dtype_and_origin() -> None:
    x = leaf(1.5, 2.0)
    text = repr(x)
    assert text.startswith("Tensor(")
    assert "1.5" in text
    assert "float64" in text
    assert "requires_grad=True" in text
    constant = repr(Tensor(np.array([3.0], dtype=np.float32)))
    assert "float32" in constant
    assert "requires_grad" not in constant
    assert "Mul" in repr(x * 2)  # what made it


def test_tensors_can_be_weakly_referenced() -> None:
    x = Tensor([1.0])
    ref = weakref.ref(x)
    assert ref() is x
    p = Parameter(np.zeros(2))
    assert weakref.ref(p)() is p


def test_comparisons_give_boolean_arrays_and_record_nothing() -> None:
    x = leaf(1.0, 2.0, 3.0)
    other = leaf(2.0, 2.0, 2.0)
    results = {
        "<": x < 2,
        "<=": x <= other,
        ">": x > other,
        ">=": x >= 2.0,
        "==": x == other,
        "!=": x != np.array([1.0, 0.0, 3.0]),
    }
    expected = {
        "<": [True, False, False],
        "<=": [True, True, False],
        ">": [False, False, True],
        ">=": [False, True, True],
        "==": [False, True, False],
        "!=": [False, True, False],
    }
    for op, result in results.items():
        assert type(result) is np.ndarray, op
        assert result.dtype == bool, op
        np.testing.assert_array_equal(result, expected[op], err_msg=op)


def test_arrays_and_numbers_combine_with_tensors_on_either_side() -> None:
    x = leaf(1.0, 2.0)
    for y in (np.ones(2) * x, 2.0 - x, np.array([1.0, 1.0]) @ x, 1 / x, 2**x):
        assert isinstance(y, Tensor)
        assert y.creator is not None


# -- backward ------------------------------------------------------------------------------------
def test_backward_sets_the_gradient_of_each_leaf() -> None:
    x, w = leaf(1.0, 2.0), leaf(3.0, -1.0)
    ((x * w).sum() + (x * x).sum()).backward()
    np.testing.assert_array_equal(x.grad, w.data + 2 * x.data)
    np.testing.assert_array_equal(w.grad, x.data)


def test_a_second_backward_through_a_new_graph_overwrites_the_gradient() -> None:
    x = leaf(1.0, 2.0)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])  # set, not 3 + 5


def test_gradients_along_all_paths_of_one_pass_are_summed() -> None:
    x = leaf(1.0, -2.0, 0.5)
    a = x
    b = a + a
    c = b * b  # 4 x**2
    c.sum().backward()
    np.testing.assert_allclose(x.grad, 8 * x.data)


def test_a_module_applied_twice_gets_the_sum_of_both_uses() -> None:
    layer = nn.Linear(3, 3, rng=0, dtype=np.float64)
    x = randn(4, 3, seed=1)
    dout = randn(4, 3, seed=2)

    def value() -> np.ndarray:
        with no_grad():
            return layer(layer(Tensor(x))).data

    (layer(layer(Tensor(x))) * dout).sum().backward()
    for name, param in layer.named_parameters():
        numeric = numerical_gradient(value, param.data, dout)
        assert relative_error(param.grad, numeric) < TOLERANCE, name


def test_each_gradient_is_an_array_of_its_own() -> None:
    w = Parameter(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(w.grad, [0.0, 0.0])
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])
    (w * w).sum().backward()  # set, not accumulated
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])
    # a + b hands both the same array, and x's gradient is the one passed in: all are copied
    a, b, x = leaf(1.0, 2.0), leaf(3.0, 4.0), leaf(5.0, 6.0)
    seed = np.array([1.0, -1.0])
    (a + b).backward(seed)
    x.backward(seed)
    assert not np.shares_memory(a.grad, b.grad)
    assert not np.shares_memory(x.grad, seed)
    a.grad *= 2  # as clip_grad_norm scales gradients in place
    np.testing.assert_array_equal(b.grad, seed)
    np.testing.assert_array_equal(x.grad, seed)
    (ga, gb) = grad(a * b, [a, b], np.ones(2))
    assert ga is not None and gb is not None
    np.testing.assert_array_equal(ga.data, [3.0, 4.0])
    (gc, gd) = grad(a + b, [a, b], seed)
    assert gc is not None and gd is not None
    assert not np.shares_memory(gc.data, gd.data) and not np.shares_memory(gc.data, seed)


def test_backward_casts_the_gradient_to_the_leaf_dtype() -> None:
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (x * np.full(3, 2.0)).sum().backward()  # a float64 constant makes a float64 graph
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_non_scalar_output_needs_a_gradient() -> None:
    y = leaf(1.0, 2.0) * 2
    with pytest.raises(RuntimeError) as info:
        y.backward()
    message = str(info.value)
    assert "sum()" in message or "reduce" in message  # how to make it a scalar
    assert "grad=" in message  # or pass the gradient


def test_non_scalar_output_with_a_gradient_backpropagates_it() -> None:
    x = leaf(1.0, 2.0, 3.0)
    y = x * x
    y.backward(np.array([1.0, 0.5, -1.0]))
    np.testing.assert_allclose(x.grad, 2 * x.data * [1.0, 0.5, -1.0])
    z = x * 3
    z.backward(Tensor(np.array([1.0, 2.0, 3.0])))  # a Tensor works as well as an array
    np.testing.assert_allclose(x.grad, [3.0, 6.0, 9.0])


def test_a_gradient_of_the_wrong_shape_is_refused() -> None:
    y = leaf(1.0, 2.0) * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))
    with pytest.raises(ValueError):
        y.sum().backward(np.ones(2))


def test_backward_on_a_tensor_without_gradient_is_refused() -> None:
    with pytest.raises(RuntimeError, match="require"):
        (Tensor([1.0, 2.0]) * 2).sum().backward()
    with no_grad():
        y = (leaf(1.0) * 2).sum()
    with pytest.raises(RuntimeError, match="require"):
        y.backward()


def test_backward_frees_the_graph_and_a_second_pass_is_refused() -> None:
    x = leaf(0.5, -1.0)
    h = (x * 2).tanh()
    h_ref = weakref.ref(h)
    y = (h * h).sum()
    del h
    assert h_ref() is not None  # kept alive by the graph
    y.backward()
    assert h_ref() is None  # the graph let go of what it saved, though y is still alive
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        grad(y, [x])


def test_retain_graph_allows_a_second_backward_with_the_same_gradient() -> None:
    x = leaf(0.5, -1.0, 2.0)
    y = ((x * 2).tanh() * x.sigmoid()).sum()
    y.backward(retain_graph=True)
    first = x.grad.copy()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, first)
    y.backward()  # the last one may free it
    np.testing.assert_array_equal(x.grad, first)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_of_a_leaf_is_one() -> None:
    x = Tensor(np.array(3.0), requires_grad=True)
    x.backward()
    assert x.grad == 1.0


# -- grad ----------------------------------------------------------------------------------------
def test_grad_returns_tensors_and_sets_no_grad() -> None:
    x, w = leaf(1.0, 2.0), leaf(3.0, -1.0)
    result = grad((x * w).sum(), [x, w])
    assert isinstance(result, tuple)
    assert len(result) == 2
    assert all(isinstance(g, Tensor) for g in result)
    np.testing.assert_array_equal(result[0].data, w.data)
    np.testing.assert_array_equal(result[1].data, x.data)
    assert x.grad is None
    assert w.grad is None
    assert all(g.creator is None and not g.requires_grad for g in result)


def test_grad_does_not_touch_parameter_gradients() -> None:
    w = Parameter(np.array([1.0, 2.0]))
    (gw,) = grad((w * w).sum(), [w])
    np.testing.assert_array_equal(gw.data, [2.0, 4.0])
    np.testing.assert_array_equal(w.grad, [0.0, 0.0])


def test_grad_of_an_unused_input_is_an_error_unless_allowed() -> None:
    x, unused = leaf(1.0), leaf(2.0)
    constant = Tensor([5.0])
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        grad((x * 2).sum(), [x, unused], retain_graph=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        grad((x * constant).sum(), [constant], retain_graph=True)
    gx, gu = grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None
    assert gx is not None
    np.testing.assert_array_equal(gx.data, [2.0])


def test_grad_with_respect_to_a_non_leaf() -> None:
    x = leaf(1.0, 2.0)
    h = x * 3
    y = (h * h).sum()
    gh, gx = grad(y, [h, x])
    np.testing.assert_allclose(gh.data, 2 * h.data)
    np.testing.assert_allclose(gx.data, 18 * x.data)
    assert x.grad is None


def test_grad_of_the_output_itself_is_the_seed() -> None:
    y = leaf(1.0, 2.0) * 2
    (gy,) = grad(y, [y], grad_outputs=np.array([3.0, 4.0]))
    np.testing.assert_array_equal(gy.data, [3.0, 4.0])


def test_grad_with_grad_outputs() -> None:
    x = leaf(1.0, 2.0, 3.0)
    (gx,) = grad(x * x, [x], grad_outputs=np.array([1.0, -1.0, 2.0]))
    np.testing.assert_allclose(gx.data, 2 * x.data * [1.0, -1.0, 2.0])
    with pytest.raises(RuntimeError, match="one-element"):
        grad(x * x, [x])


def test_grad_needs_a_sequence_of_tensors() -> None:
    x = leaf(1.0)
    with pytest.raises(TypeError, match="sequence of Tensors"):
        grad((x * 2).sum(), [x.data])  # type: ignore[list-item]


def test_create_graph_gives_differentiable_gradients() -> None:
    x = leaf(-1.5, 0.5, 2.0)
    (g1,) = grad((x**3).sum(), [x], create_graph=True)
    assert g1.requires_grad
    assert g1.creator is not None
    np.testing.assert_allclose(g1.data, 3 * x.data**2)
    (g2,) = grad(g1.sum(), [x], create_graph=True)
    np.testing.assert_allclose(g2.data, 6 * x.data)
    (g3,) = grad(g2.sum(), [x])
    np.testing.assert_allclose(g3.data, [6.0, 6.0, 6.0])


def test_backward_with_create_graph_sets_the_leaf_gradient() -> None:
    x = leaf(1.0, 2.0)
    (x**3).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad, 3 * x.data**2)


def _smooth(x: Any) -> Any:
    """A composition of most smooth operations (works on engine tensors and torch tensors)."""
    return ((x * x).tanh() * x.sigmoid() + (-x).exp() / (x * x + 1)).sqrt() * (x * 0.5).tanh()


def test_second_and_third_derivatives_of_a_composition_match_torch(torch: ModuleType) -> None:
    values = np.array([-1.3, -0.2, 0.4, 1.7])
    x = Tensor(values.copy(), requires_grad=True)
    (g1,) = grad(_smooth(x).sum(), [x], create_graph=True)
    (g2,) = grad(g1.sum(), [x], create_graph=True)
    (g3,) = grad(g2.sum(), [x])

    tx = torch.tensor(values, requires_grad=True)
    (t1,) = torch.autograd.grad(_smooth(tx).sum(), tx, create_graph=True)
    (t2,) = torch.autograd.grad(t1.sum(), tx, create_graph=True)
    (t3,) = torch.autograd.grad(t2.sum(), tx)
    for ours, theirs in ((g1, t1), (g2, t2), (g3, t3)):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_second_derivative_of_tanh_against_central_differences() -> None:
    values = np.linspace(-2.0, 2.0, 7)
    x = Tensor(values.copy(), requires_grad=True)
    (g1,) = grad(x.tanh().sum(), [x], create_graph=True)
    (g2,) = grad(g1.sum(), [x])
    t = np.tanh(values)
    np.testing.assert_allclose(g2.data, -2 * t * (1 - t**2), rtol=1e-12, atol=1e-14)
    eps = 1e-5
    numeric = ((1 - np.tanh(values + eps) ** 2) - (1 - np.tanh(values - eps) ** 2)) / (2 * eps)
    np.testing.assert_allclose(g2.data, numeric, rtol=1e-6, atol=1e-9)


# -- no_grad -------------------------------------------------------------------------------------
def test_no_grad_as_a_context_manager_records_nothing() -> None:
    x = leaf(1.0, 2.0)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).tanh().sum()
    assert is_grad_enabled()
    assert y.creator is None
    assert not y.requires_grad
    np.testing.assert_allclose(y.data, np.tanh(2 * x.data).sum())
    z = (x * 2).sum()  # recording again after the block
    assert z.creator is not None


def test_no_grad_as_a_decorator_records_nothing() -> None:
    @no_grad()
    def double(t: Tensor) -> Tensor:
        """Twice t."""
        assert not is_grad_enabled()
        return t * 2

    y = double(leaf(1.0))
    assert y.creator is None
    assert not y.requires_grad
    assert is_grad_enabled()
    assert double.__name__ == "double"
    assert double.__doc__ == "Twice t."


def test_no_grad_restores_the_mode_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError), no_grad():
        1 / 0  # noqa: B018
    assert is_grad_enabled()

    @no_grad()
    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        fail()
    assert is_grad_enabled()


def test_no_grad_nests() -> None:
    with no_grad():
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()

        @no_grad()
        def inner() -> None:
            assert not is_grad_enabled()

        inner()
        assert not is_grad_enabled()
    assert is_grad_enabled()


# -- topological order ---------------------------------------------------------------------------
def _assert_topological(output: Tensor, order: list[Function]) -> None:
    """Each node once, after the creators of its inputs; the last one made the output."""
    assert order[-1] is output.creator
    position = {id(node): i for i, node in enumerate(order)}
    assert len(position) == len(order), "a node is listed twice"
    reachable: set[int] = set()
    stack = [output.creator]
    while stack:
        node = stack.pop()
        if node is None or id(node) in reachable:
            continue
        reachable.add(id(node))
        assert node.inputs is not None
        for x in node.inputs:
            if x.creator is not None:
                assert id(x.creator) in position, "an input's creator is missing"
                assert position[id(x.creator)] < position[id(node)]
                stack.append(x.creator)
    assert reachable == set(position), "a node that did not make the output is listed"


def test_topological_order_of_a_diamond() -> None:
    x = leaf(1.0, 2.0)
    c = x * 2
    a = c.tanh()
    b = c.sigmoid()
    out = (a * c + b).sum()
    order = topological_order(out)
    assert len(order) == 6  # Mul, Tanh, Sigmoid, Mul, Add, Sum
    _assert_topological(out, order)
    assert topological_order(x) == []
    assert topological_order(Tensor([1.0])) == []


OPS: list[Callable[[Tensor, Tensor], Tensor]] = [
    lambda a, b: a + b,
    lambda a, b: a * b,
    lambda a, b: a - b.tanh(),
    lambda a, b: (a * 0.5).sigmoid() * b,
    lambda a, b: a.exp() * 0.1 + b,
]


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 100), st.integers(0, 100)),
        min_size=1,
        max_size=12,
    )
)
def test_random_graphs_are_ordered_and_differentiated_right(
    steps: list[tuple[int, int, int]],
) -> None:
    leaves = [randn(3, seed=1), randn(3, seed=2)]

    def build(inputs: list[Tensor]) -> Tensor:
        nodes = list(inputs)
        for op, i, j in steps:
            nodes.append(OPS[op](nodes[i % len(nodes)], nodes[j % len(nodes)]))
        return (nodes[-1] * nodes[-1]).sum()

    tensors = [Tensor(a, requires_grad=True) for a in leaves]
    out = build(tensors)
    _assert_topological(out, topological_order(out))
    found = grad(out, tensors, allow_unused=True)
    for array, g in zip(leaves, found):

        def value() -> float:
            with no_grad():
                return build([Tensor(a) for a in leaves]).item()

        numeric = numerical_gradient(value, array)
        analytic = np.zeros(3) if g is None else g.data
        # Central differences lose about |out| * 1e-16 / eps = |out| * 1e-10 to rounding: a
        # gradient far smaller than the output is compared to that floor, not relatively.
        scale = max(np.abs(numeric).max(), 100 * abs(out.item()) * 1e-10)
        assert np.abs(analytic - numeric).max() < 1e-5 * scale


# -- long graphs, memory and reference cycles ----------------------------------------------------
def test_a_chain_of_100_000_operations_backpropagates_without_recursion() -> None:
    n = 100_000
    x = Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0000001
    assert len(topological_order(y)) == n
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0000001**n, rtol=1e-10)


def test_a_chain_of_100_000_operations_is_freed_without_backward() -> None:
    x = Tensor(np.zeros(2), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    np.testing.assert_array_equal(y.data, [100_000.0, 100_000.0])
    ref = weakref.ref(y.creator)
    del y  # freeing a deep chain must not overflow the C stack
    assert ref() is None


@pytest.mark.slow
def test_training_steps_do_not_grow_memory() -> None:
    gen = np.random.default_rng(0)
    w = Parameter(gen.standard_normal((3, 2)))
    optimizer = SGD([w], lr=0.02, momentum=0.9)
    x, target = randn(4, 3, seed=1), randn(4, 2, seed=2)

    def step() -> float:
        residual = Tensor(x) @ w - target
        loss = (residual * residual).sum()
        loss.backward()
        optimizer.step()
        return loss.item()

    first = step()
    for _ in range(999):  # steps 2 to 1,000 warm every cache up, untraced (tracing is slow)
        step()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(9_000):  # steps 1,001 to 10,000
            last = step()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 100_000, f"memory grew by {after - before} bytes in 9,000 steps"
    assert last < first  # and it did train


def _dead_without_collection(build: Callable[[], list[weakref.ref[Any]]]) -> list[bool]:
    """Run ``build`` (which returns weak references to what it made and drops the rest) with the
    cycle collector off: what reference counting alone freed is dead."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        refs = build()
        return [ref() is None for ref in refs]
    finally:
        if was_enabled:
            gc.enable()


def test_a_graph_has_no_reference_cycles() -> None:
    def forward_only() -> list[weakref.ref[Any]]:
        x = Tensor(randn(2, 3), requires_grad=True)
        h = (x * 2).tanh()
        h.retain_grad()
        out = F.softmax(h @ randn(3, 4), axis=1).max(axis=1).sum()
        refs = [weakref.ref(out), weakref.ref(h), weakref.ref(h.creator), weakref.ref(out.creator)]
        del out, h
        return refs

    def after_backward() -> list[weakref.ref[Any]]:
        x = Tensor(randn(2, 3), requires_grad=True)
        h = (x * 2).tanh()
        h.retain_grad()
        out = (h.sigmoid() ** 2).sum()
        refs = [weakref.ref(out), weakref.ref(h), weakref.ref(h.creator), weakref.ref(out.creator)]
        out.backward()
        assert h.grad is not None
        del out, h
        return refs

    def after_retained_backward() -> list[weakref.ref[Any]]:
        x = Tensor(randn(2, 3), requires_grad=True)
        h = x.exp() / 3
        out = (h * x).sum()
        refs = [weakref.ref(out), weakref.ref(h), weakref.ref(h.creator), weakref.ref(out.creator)]
        out.backward(retain_graph=True)
        del out, h
        return refs

    def second_order() -> list[weakref.ref[Any]]:
        x = Tensor(randn(3), requires_grad=True)
        h = x.tanh()
        out = (h**3).sum()
        (g,) = grad(out, [x], create_graph=True)
        refs = [weakref.ref(out), weakref.ref(h), weakref.ref(h.creator)]
        refs += [weakref.ref(g), weakref.ref(g.creator)]
        grad(g.sum(), [x])
        del out, h, g
        return refs

    def model_step() -> list[weakref.ref[Any]]:
        model = nn.MLP([3, 4, 2], batchnorm=True, dropout=0.1, rng=0)
        optimizer = SGD(model.parameters(), lr=0.1)
        logits = model(Tensor(randn(5, 3).astype(np.float32)))
        loss = F.cross_entropy(logits, np.array([0, 1, 0, 1, 1]))
        refs = [weakref.ref(loss), weakref.ref(logits), weakref.ref(logits.creator)]
        refs += [weakref.ref(loss.creator), weakref.ref(model), weakref.ref(optimizer)]
        loss.backward()
        optimizer.step()
        del loss, logits, model, optimizer
        return refs

    for build in (forward_only, after_backward, after_retained_backward, second_order):
        assert all(_dead_without_collection(build)), build.__name__
    assert all(_dead_without_collection(model_step)), "model_step"


# -- Newton's method and Hessian-vector products -------------------------------------------------
def test_newton_with_exact_hessian_solves_rosenbrock() -> None:
    p = Tensor(np.array([-1.2, 1.0]), requires_grad=True)
    iterations = 0
    while np.abs(p.data - 1).max() >= 1e-8 and iterations < 10:
        x, y = p[0], p[1]
        f = (1 - x) ** 2 + 100 * (y - x**2) ** 2
        (g,) = grad(f, [p], create_graph=True)
        hessian = np.stack([grad(g[i], [p], retain_graph=True)[0].data for i in range(2)])
        x0, y0 = p.data
        np.testing.assert_allclose(
            hessian,
            [[2 - 400 * (y0 - x0**2) + 800 * x0**2, -400 * x0], [-400 * x0, 200]],
            rtol=1e-12,
        )
        p = Tensor(p.data - np.linalg.solve(hessian, g.data), requires_grad=True)
        iterations += 1
    assert np.abs(p.data - 1).max() < 1e-8, f"not converged after {iterations}: {p.data}"


def _mlp_params(seed: int = 0) -> list[np.ndarray]:
    gen = np.random.default_rng(seed)
    shapes = [(5, 6), (6,), (6, 3), (3,)]
    return [gen.standard_normal(shape) * 0.7 for shape in shapes]


X_MLP = randn(8, 5, seed=3)
Y_MLP = np.array([0, 1, 2, 0, 1, 2, 2, 1])


def _mlp_loss(params: list[Tensor]) -> Tensor:
    w1, b1, w2, b2 = params
    return F.cross_entropy(F.linear(F.tanh(F.linear(X_MLP, w1, b1)), w2, b2), Y_MLP)


def _hvp(arrays: list[np.ndarray], vectors: list[np.ndarray]) -> list[np.ndarray]:
    params = [Tensor(a, requires_grad=True) for a in arrays]
    grads = grad(_mlp_loss(params), params, create_graph=True)
    directional = F.sum(grads[0] * vectors[0])
    for g, v in zip(grads[1:], vectors[1:]):
        directional = directional + F.sum(g * v)
    return [h.data for h in grad(directional, params)]


def _gradient(arrays: list[np.ndarray]) -> list[np.ndarray]:
    params = [Tensor(a, requires_grad=True) for a in arrays]
    return [g.data for g in grad(_mlp_loss(params), params)]


def test_hessian_vector_product_matches_central_differences() -> None:
    arrays = _mlp_params()
    gen = np.random.default_rng(7)
    vectors = [gen.standard_normal(a.shape) for a in arrays]
    hv = _hvp(arrays, vectors)
    eps = 1e-5
    plus = _gradient([a + eps * v for a, v in zip(arrays, vectors)])
    minus = _gradient([a - eps * v for a, v in zip(arrays, vectors)])
    for ours, p, m in zip(hv, plus, minus):
        assert relative_error(ours, (p - m) / (2 * eps)) < TOLERANCE


def test_hessian_vector_product_matches_torch(torch: ModuleType) -> None:
    arrays = _mlp_params(seed=1)
    gen = np.random.default_rng(8)
    vectors = [gen.standard_normal(a.shape) for a in arrays]
    hv = _hvp(arrays, vectors)

    x, y = torch.tensor(X_MLP), torch.tensor(Y_MLP)

    def loss(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        return torch.nn.functional.cross_entropy(torch.tanh(x @ w1 + b1) @ w2 + b2, y)

    _, expected = torch.autograd.functional.hvp(
        loss, tuple(torch.tensor(a) for a in arrays), tuple(torch.tensor(v) for v in vectors)
    )
    for ours, theirs in zip(hv, expected):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-12)


# -- gradcheck, gradgradcheck and user-defined Functions -----------------------------------------
class Cube(Function):
    """``y = x**3``, ``gx = 3 x**2 gy``: written with tensor operations, so it can be
    differentiated twice."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x**3

    def backward(self, gy: Tensor) -> tuple[Tensor | None, ...]:
        (x,) = self.saved_inputs()
        return (gy * x * x * 3,)


class WrongCube(Cube):
    """Cube whose backward is twice too large."""

    def backward(self, gy: Tensor) -> tuple[Tensor | None, ...]:
        (x,) = self.saved_inputs()
        return (gy * x * x * 6,)


class ScaledProduct(Function):
    """``y = a * b * scale``: two inputs and a constant kept by the node."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b * self.scale

    def backward(self, gy: Tensor) -> tuple[Tensor | None, ...]:
        a, b = self.saved_inputs()
        return (gy * b * self.scale, gy * a * self.scale)


POSITIVE = np.abs(randn(3, 4, seed=11)) + 0.5
"""Inputs kept away from 0 and from the kinks of abs, relu, max and clip."""

SMOOTH_CASES: dict[str, tuple[Callable[..., Tensor], list[np.ndarray]]] = {
    "tanh of matmul": (lambda x, w: (x @ w).tanh(), [randn(3, 4), randn(4, 2, seed=1)]),
    "broadcast arithmetic": (
        lambda a, b: (a * b - a / (b * b + 1)) ** 2 + b,
        [randn(3, 4), randn(4, seed=1)],
    ),
    "exp log sqrt pow": (lambda x: x.log() * x.sqrt() + (x * 0.3).exp() + x**2.5, [POSITIVE]),
    "sigmoid and var": (lambda x: x.sigmoid().var(axis=0) * x.mean(axis=0), [randn(3, 4)]),
    "softmax": (lambda x: F.softmax(x, axis=1), [randn(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, axis=0), [randn(3, 4)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, np.array([0, 3, 1])), [randn(3, 4)]),
    "mse_loss": (lambda x, t: F.mse_loss(x.tanh(), t), [randn(3, 4), randn(3, 4, seed=1)]),
    "batch_norm": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [randn(5, 3, seed=3), randn(3, seed=1), randn(3, seed=2)],
    ),
    "indexing": (
        lambda x: x[np.array([0, 2, 0]), 1:] * x[1, 1:] + x[..., None, 0],
        [randn(3, 4)],
    ),
    "stack concatenate reshape": (
        lambda a, b: F.concatenate([F.stack([a, b.tanh()], axis=1), (a * b).reshape(3, 1, 4)], 1).T,
        [randn(3, 4), randn(3, 4, seed=1)],
    ),
    "batched matmul": (lambda a, b: a @ b, [randn(2, 3, 4), randn(4, 2, seed=1)]),
    "user Function": (lambda x: Cube()(x), [randn(3, 4)]),
    "user Function, two inputs": (
        lambda a, b: ScaledProduct(1.5)(a, b.tanh()),
        [randn(3, 4), randn(3, 4, seed=1)],
    ),
}

LINEAR_CASES: dict[str, tuple[Callable[..., Tensor], list[np.ndarray]]] = {
    "scale": (lambda x: x * 2, [randn(3)]),
    "stack and transpose": (
        lambda a, b: F.stack([a, b.reshape(4, 3).T], axis=1).T,
        [randn(3, 4), randn(3, 4, seed=1)],
    ),
    "sum and broadcast": (lambda x: x.sum(axis=0) + x.mean(), [randn(3, 4)]),
}
"""Functions whose gradient does not depend on the inputs (the second derivative is 0)."""

PIECEWISE_CASES: dict[str, tuple[Callable[..., Tensor], list[np.ndarray]]] = {
    "relu and abs": (lambda x: (x - 1).relu() * (x - 1.2).abs(), [POSITIVE * 2]),
    "leaky_relu and clip": (
        lambda x: F.leaky_relu(x - 1, 0.1) + x.clip(0.4, 1.3),
        [np.array([0.1, 0.6, 0.9, 1.5, 2.0])],
    ),
    "max and min": (lambda x: x.max(axis=1) * x.min(axis=0).sum(), [randn(3, 4)]),
    "maximum and where": (
        lambda a, b: F.where(a.data > 0, F.maximum(a, b), F.minimum(a, b) * 2),
        [randn(3, 4), randn(3, 4, seed=1)],
    ),
}


ALL_CASES = {**SMOOTH_CASES, **LINEAR_CASES, **PIECEWISE_CASES}


@pytest.mark.parametrize("case", list(ALL_CASES))
def test_gradcheck_accepts_correct_operations(case: str) -> None:
    fn, inputs = ALL_CASES[case]
    errors = gradcheck(fn, inputs)
    assert len(errors) == len(inputs)
    assert max(errors) < TOLERANCE, errors


@pytest.mark.parametrize("case", list(SMOOTH_CASES))
def test_gradgradcheck_accepts_correct_operations(case: str) -> None:
    fn, inputs = SMOOTH_CASES[case]
    errors = gradgradcheck(fn, inputs)
    assert len(errors) == len(inputs)
    assert max(errors) < TOLERANCE, errors


@pytest.mark.parametrize("case", list(LINEAR_CASES))
def test_gradgradcheck_accepts_linear_functions(case: str) -> None:
    fn, inputs = LINEAR_CASES[case]
    errors = gradgradcheck(fn, inputs)
    assert errors == [0.0] * len(inputs)


def test_gradcheck_catches_a_wrong_backward() -> None:
    x = randn(3, 4)
    assert gradcheck(lambda t: Cube()(t), [x])[0] < TOLERANCE
    error = gradcheck(lambda t: WrongCube()(t), [x])[0]
    assert error > 0.3  # a backward twice too large: |2g - g| / |2g| = 1/2


def test_gradgradcheck_catches_a_wrong_backward() -> None:
    x = randn(3, 4)
    assert gradgradcheck(lambda t: WrongCube()(t).tanh(), [x])[0] > 0.1


def test_a_user_function_records_its_node_and_backpropagates() -> None:
    x = leaf(1.0, -2.0)
    y = Cube()(x)
    assert isinstance(y.creator, Cube)
    assert y.creator.inputs == (x,)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 3 * x.data**2)
    with no_grad():
        assert Cube()(x).creator is None


def test_a_function_without_forward_or_backward_says_so() -> None:
    class Empty(Function):
        pass

    with pytest.raises(NotImplementedError, match="Empty does not define forward"):
        Empty()(leaf(1.0))

    class ForwardOnly(Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return x * 2

    with pytest.raises(NotImplementedError, match="ForwardOnly does not define backward"):
        ForwardOnly()(leaf(1.0)).sum().backward()


# -- graph pictures ------------------------------------------------------------------------------
def _model_and_loss() -> tuple[nn.Module, Tensor]:
    model = nn.TwoLayerMLP(4, 8, 3, rng=0)
    loss = F.cross_entropy(model(Tensor(randn(5, 4).astype(np.float32))), np.array([0, 1, 2, 0, 1]))
    return model, loss


def test_to_dot_names_operations_parameters_and_shapes() -> None:
    model, loss = _model_and_loss()
    text = to_dot(loss, params=dict(model.named_parameters()))
    assert text.startswith("digraph")
    assert text.rstrip().endswith("}")
    for op in ("LinearFn", "ReLUFn", "LogSoftmaxFn", "NLLLoss"):
        assert op in text, op
    for name, shape in [("fc1.W", "(4, 8)"), ("fc1.b", "(8,)"), ("fc2.W", "(8, 3)")]:
        assert f"{name}\\n{shape}" in text, name
    assert "fc2.b\\n(3,)" in text
    assert text.count("->") >= len(topological_order(loss))
    loss.backward()  # the picture does not consume the graph
    assert all(np.any(p.grad != 0) for p in model.parameters())


def test_to_dot_without_names_and_after_the_graph_was_freed() -> None:
    x = leaf(1.0, 2.0)
    y = (x * Tensor([3.0, 4.0])).sum()
    text = to_dot(y)
    assert "Mul" in text
    assert "Sum" in text
    assert "constant" in text
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        to_dot(y)
    with pytest.raises(RuntimeError, match=r"draw it before backward\(\)"):
        to_dot(y)


def test_plot_graph_writes_svg(tmp_path: Path) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    model, loss = _model_and_loss()
    path = plot_graph(loss, tmp_path / "g.svg", params=dict(model.named_parameters()))
    assert path == tmp_path / "g.svg"
    svg = path.read_text()
    assert "<svg" in svg
    assert "LinearFn" in svg
    assert "fc1.W" in svg


def test_plot_graph_writes_dot_text_for_a_dot_suffix(tmp_path: Path) -> None:
    model, loss = _model_and_loss()
    params = dict(model.named_parameters())
    path = plot_graph(loss, tmp_path / "g.dot", params=params)
    assert path == tmp_path / "g.dot"
    assert path.read_text() == to_dot(loss, params)


def test_plot_graph_refuses_a_missing_folder_before_writing(tmp_path: Path) -> None:
    _, loss = _model_and_loss()
    with pytest.raises(FileNotFoundError, match=r"the folder .*missing does not exist"):
        plot_graph(loss, tmp_path / "missing" / "g.svg")
    assert list(tmp_path.iterdir()) == []


def test_plot_graph_refuses_an_unknown_suffix_before_writing(tmp_path: Path) -> None:
    _, loss = _model_and_loss()
    with pytest.raises(ValueError, match=r"\.svg.*'g\.jpg'"):
        plot_graph(loss, tmp_path / "g.jpg")
    assert list(tmp_path.iterdir()) == []


def test_plot_graph_without_graphviz_writes_the_dot_file_and_explains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("deeplearning.autograd.graph.shutil.which", lambda *args, **kw: None)
    _, loss = _model_and_loss()
    with pytest.raises(GraphvizNotFoundError) as info:
        plot_graph(loss, tmp_path / "g.svg")
    message = str(info.value)
    assert "install" in message.lower()
    assert "graphviz" in message.lower()
    assert str(tmp_path / "g.dot") in message
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert not (tmp_path / "g.svg").exists()
    assert isinstance(info.value, RuntimeError)
