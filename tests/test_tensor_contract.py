"""The tensor contract a PyTorch user relies on without thinking, on both paths: in-place
updates (PyTorch's rule, with a version counter), NumPy conversion, truth values, per-thread
grad mode, parameters that cannot be dropped in silence, one path per model, gradients applied
only from the latest backward pass, and shared parameters summing their uses."""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np
import pytest

import deeplearning as dl
from deeplearning.autograd import Tensor, is_grad_enabled, nn, no_grad
from deeplearning.autograd import functional as F
from deeplearning.core.module import Module, Parameter
from deeplearning.training import batch_gradients

# -- 1. in place: PyTorch's rule ------------------------------------------------------------------
IN_PLACE: list[tuple[str, Callable[[Tensor], Any]]] = [
    ("-=", lambda t: t.__isub__(1.0)),
    ("+=", lambda t: t.__iadd__(np.ones(3))),
    ("*=", lambda t: t.__imul__(2.0)),
    ("/=", lambda t: t.__itruediv__(2.0)),
    ("t[...] = value", lambda t: t.__setitem__(0, 5.0)),
    ("copy_", lambda t: t.copy_(np.arange(3.0))),
    ("fill_", lambda t: t.fill_(7.0)),
    ("zero_", lambda t: t.zero_()),
]


@pytest.mark.parametrize(("how", "change"), IN_PLACE, ids=[how for how, _ in IN_PLACE])
def test_in_place_on_a_tensor_that_requires_grad_is_refused_while_recording(
    how: str, change: Callable[[Tensor], Any]
) -> None:
    for t in (Tensor(np.ones(3), requires_grad=True), Parameter(np.ones(3))):
        with pytest.raises(RuntimeError, match=r"with no_grad\(\): p -= lr \* p\.grad"):
            change(t)
        np.testing.assert_array_equal(t.data, np.ones(3))  # unchanged
        assert t._version == 0


@pytest.mark.parametrize(("how", "change"), IN_PLACE, ids=[how for how, _ in IN_PLACE])
def test_in_place_works_under_no_grad_returns_the_same_tensor_and_counts(
    how: str, change: Callable[[Tensor], Any]
) -> None:
    t = Parameter(np.ones(3))
    data = t.data
    expected = np.ones(3)
    if how != "t[...] = value":
        expected = {
            "-=": expected - 1,
            "+=": expected + 1,
            "*=": expected * 2,
            "/=": expected / 2,
            "copy_": np.arange(3.0),
            "fill_": np.full(3, 7.0),
            "zero_": np.zeros(3),
        }[how]
    else:
        expected[0] = 5
    with no_grad():
        result = change(t)
    assert result is None or result is t
    assert t.data is data  # the same array, changed in place
    np.testing.assert_array_equal(t.data, expected)
    assert t._version > 0


def test_a_tensor_that_does_not_require_grad_changes_in_place_anywhere() -> None:
    t = Tensor(np.zeros(2))
    t += 1
    first = t._version
    t[1] = 3
    np.testing.assert_array_equal(t.data, [1.0, 3.0])
    assert 0 < first < t._version


def test_the_first_training_loop_a_learner_writes_trains_on_both_paths() -> None:
    """``p -= lr * p.grad`` under no_grad moves the model: the loss falls, as with p.data."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 784), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    for model in (dl.TwoLayerMLP(rng=0), nn.TwoLayerMLP(rng=0)):
        first = batch_gradients(model, x, y)[0]
        for _ in range(50):
            loss = batch_gradients(model, x, y)[0]
            with no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
        assert loss < 0.2 < 2 < first


def test_setting_a_layers_weights_as_course_exercises_do() -> None:
    layer = dl.Linear(3, 2, rng=0)
    w = np.arange(6.0).reshape(3, 2)
    with no_grad():
        layer.W[...] = w
        layer.W[0, 0] = 10.0
        layer.W *= 0.5
    np.testing.assert_array_equal(layer.W.data, np.where(w == 0, 10.0, w) * 0.5)


def test_copy_refuses_a_source_that_does_not_broadcast() -> None:
    t = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"copy_ cannot broadcast a \(4,\) source to \(2, 3\)"):
        t.copy_(np.ones(4))
    assert t._version == 0
    with pytest.raises(TypeError, match="fill_: value must be a real number"):
        t.fill_("a")  # type: ignore[arg-type]


def test_a_value_saved_for_backward_and_changed_in_place_is_caught_at_backward() -> None:
    w = Parameter(np.array([1.0, 2.0]))
    x = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    loss = (x * w).sum()  # Mul saves both inputs
    with no_grad():
        w -= 1.0
    with pytest.raises(RuntimeError, match=r"Mul's input 1 \(shape \(2,\)\) was changed in place"):
        loss.backward()


def test_a_saved_output_changed_in_place_is_caught_at_backward() -> None:
    x = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = x.exp()  # exp's backward uses its output
    with no_grad():
        y *= 2
    with pytest.raises(RuntimeError, match="the output of Exp, which its backward pass needs"):
        y.sum().backward()


def test_a_change_after_backward_or_to_an_unsaved_value_is_fine() -> None:
    w = Parameter(np.array([1.0, 2.0]))
    loss = (w * 3.0).sum()
    loss.backward()
    with no_grad():
        w -= 0.5 * w.grad  # the usual step, after backward
    np.testing.assert_array_equal(w.data, [-0.5, 0.5])


# -- 2. conversions and truth values, as PyTorch -------------------------------------------------
def test_numpy_array_copies_and_asarray_shares() -> None:
    p = Parameter(np.ones(3, dtype=np.float32))
    snapshot = np.array(p)
    snapshot[0] = 5
    assert p.data[0] == 1  # a copy: writing into it leaves the model alone
    assert np.asarray(p) is p.data  # asarray shares, as for an ndarray
    as64 = np.array(p, dtype=np.float64)
    assert as64.dtype == np.float64 and np.shares_memory(as64, p.data) is False
    with pytest.raises(ValueError, match="cannot be seen as float64 without a copy"):
        np.asarray(p, dtype=np.float64, copy=False)


@pytest.mark.parametrize(
    ("value", "truth"), [(np.array([0.0]), False), (np.array(2.0), True), (np.array([[1.0]]), True)]
)
def test_the_truth_of_a_one_element_tensor(value: np.ndarray, truth: bool) -> None:
    assert bool(Tensor(value)) is truth


def test_truth_iteration_and_length_follow_pytorch() -> None:
    with pytest.raises(RuntimeError, match=r"truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(Tensor(np.zeros(2)))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(Tensor(np.zeros(0)))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(Tensor(3.0))
    with pytest.raises(TypeError, match="len"):
        len(Tensor(3.0))
    rows = list(Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True))
    assert [r.data.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    assert rows[0].creator is not None  # each an indexing operation, in the graph


def test_grad_mode_is_per_thread() -> None:
    seen: list[bool] = []
    inside, done = threading.Event(), threading.Event()

    def other() -> None:
        inside.wait()
        x = Tensor(np.ones(2), requires_grad=True)
        seen.append(is_grad_enabled())
        seen.append((x * 2).requires_grad)
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with no_grad():
        inside.set()
        done.wait()
        assert not is_grad_enabled()
    thread.join()
    assert seen == [True, True]  # the other thread kept recording


# -- 3. parameters and paths that cannot be dropped or mixed in silence -------------------------
@pytest.mark.parametrize("model", [dl.Linear(3, 2, rng=0), nn.Linear(3, 2, rng=0)])
def test_an_array_assigned_over_a_parameter_is_refused(model: Module) -> None:
    with pytest.raises(TypeError, match=r"Linear\.W, a Parameter: set its values with W\.data"):
        model.W = np.zeros((3, 2))  # type: ignore[assignment]
    assert isinstance(model.W, Parameter)
    model.W = Parameter(np.zeros((3, 2)))  # replacing it by a Parameter is fine
    assert model.state_dict()["W"].sum() == 0


def test_a_layer_inside_an_engine_model_is_refused_where_it_is_built() -> None:
    with pytest.raises(
        TypeError, match=r"Sequential is a module of the engine .* 'layers' is Linear"
    ):
        nn.Sequential(nn.Linear(4, 3), dl.Linear(3, 2))

    class Net(Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = dl.Linear(3, 2)

    with pytest.raises(
        TypeError, match=r"Net is a module of the engine .* 'fc' is Linear, of the layer"
    ):
        Net()


def test_an_engine_module_inside_a_layer_model_is_refused_where_it_is_built() -> None:
    message = r"Sequential is a module of the layer path .* 'layers' is ReLU, of the engine"
    with pytest.raises(TypeError, match=message):
        dl.Sequential(dl.Linear(4, 3), nn.ReLU())


# -- 4. gradients: only the latest pass's are applied; shared parameters sum ---------------------
def two_headed(path: Any) -> tuple[Any, Any, Any]:
    return path.Linear(4, 3, rng=0), path.Linear(3, 2, rng=1), path.Linear(3, 2, rng=2)


@pytest.mark.parametrize("path", [dl, nn], ids=["layers", "engine"])
def test_a_step_applies_only_the_gradients_of_the_latest_backward_pass(path: Any) -> None:
    trunk, head_a, head_b = two_headed(path)
    params = [*trunk.parameters(), *head_a.parameters(), *head_b.parameters()]
    optimizer = dl.SGD(params, lr=0.1)
    x, y = np.random.default_rng(0).standard_normal((5, 4)), np.array([0, 1, 0, 1, 1])
    for head in (head_a, head_b):
        model = path.Sequential(trunk, head)
        batch_gradients(model, x, y)
        optimizer.step()
    a_after_its_step = head_a.W.data.copy()
    b_before = head_b.W.data.copy()
    model = path.Sequential(trunk, head_b)
    batch_gradients(model, x, y)
    optimizer.step()  # head A's gradient is from two passes ago: it must not move again
    np.testing.assert_array_equal(head_a.W.data, a_after_its_step)
    assert not np.array_equal(head_b.W.data, b_before)


class TiedLayers(dl.Layer):
    """Two layer-path Linears sharing one weight (tied, as GPT's embedding and head)."""

    def __init__(self) -> None:
        super().__init__()
        self.first = dl.Linear(3, 3, rng=0, dtype=np.float64)
        self.second = dl.Linear(3, 3, rng=1, dtype=np.float64)
        self.second.W = self.first.W

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.second.forward(np.tanh(self.first.forward(x)))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        h = self.second.backward(dout)
        return self.first.backward(h * (1 - np.tanh(self.first._x @ self.first.W.data) ** 2))


def test_a_parameter_shared_by_two_layers_gets_the_sum_of_both_uses(torch: Any) -> None:
    model = TiedLayers()
    x = np.random.default_rng(3).standard_normal((4, 3))
    dout = np.random.default_rng(4).standard_normal((4, 3))
    w = torch.tensor(model.first.W.data, requires_grad=True)
    b1, b2 = torch.tensor(model.first.b.data), torch.tensor(model.second.b.data)
    out = torch.tanh(torch.tensor(x) @ w + b1) @ w + b2
    (out * torch.tensor(dout)).sum().backward()
    for _ in range(2):  # a second backward of the same forward sets the same sum again
        model.forward(x)
        model.backward(dout)
        np.testing.assert_allclose(model.first.W.grad, w.grad.numpy(), rtol=1e-12)
    assert [name for name, _ in model.named_parameters()] == ["first.W", "first.b", "second.b"]


def test_a_parameter_used_once_keeps_set_semantics_on_repeated_backward() -> None:
    layer = dl.Linear(3, 2, rng=0, dtype=np.float64)
    x = np.ones((2, 3))
    layer.forward(x)
    layer.backward(np.ones((2, 2)))
    first = layer.W.grad.copy()
    layer.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(layer.W.grad, first)  # set again, not summed


def test_a_tied_weight_on_the_engine_sums_too() -> None:
    w = Parameter(np.eye(2))
    x = Tensor(np.array([[1.0, 2.0]]))
    (x @ w @ w).sum().backward()
    expected = x.data.T @ (np.ones((1, 2)) @ w.data.T) + (x.data @ w.data).T @ np.ones((1, 2))
    np.testing.assert_allclose(w.grad, expected)
    assert F.relu is not None


# -- the review's cases: in place inside a graph, failures, conversions ---------------------------
def test_accumulating_a_graph_into_a_plain_tensor_records_the_sum(torch: Any) -> None:
    """``acc += w * 2`` while recording records ``acc + w * 2`` (the name is rebound)."""
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    acc = Tensor(np.zeros(3))
    acc += w * 2
    (acc.sum() + (w * w).sum()).backward()
    tw = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tacc = torch.zeros(3)
    tacc += tw * 2
    (tacc.sum() + (tw * tw).sum()).backward()
    np.testing.assert_allclose(w.grad, tw.grad.numpy())


def test_a_residual_sum_in_place_on_a_tensor_in_a_graph_works(torch: Any) -> None:
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x = Tensor(np.array([4.0, 5.0, 6.0]), requires_grad=True)
    out = w * x
    out += x  # ResNet's `out += identity`
    out.sum().backward()
    np.testing.assert_allclose(x.grad, w.data + 1)
    np.testing.assert_allclose(w.grad, x.data)


def test_what_cannot_be_recorded_is_refused_not_cut_from_the_graph() -> None:
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    out = Tensor(np.zeros((2, 3)))
    with pytest.raises(
        RuntimeError, match=r"t\[\.\.\.\] = value on a tensor in a graph, or with a"
    ):
        out[0] = w * 2
    with pytest.raises(RuntimeError, match="copy_ on a tensor in a graph"):
        Tensor(np.zeros(3)).copy_(w)
    h = w * 2
    with pytest.raises(RuntimeError, match="cannot be recorded: build the tensor with stack"):
        h[0] = 0.0
    np.testing.assert_array_equal(out.data, 0)


def test_a_failed_in_place_change_says_what_and_changes_nothing() -> None:
    x = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = x.exp()
    with no_grad(), pytest.raises(ValueError, match=r"\+= on a float64 tensor of shape \(2,\)"):
        y += np.ones((2, 2))
    y.sum().backward()  # y was not changed: its graph still works
    np.testing.assert_allclose(x.grad, np.exp(x.data))
    t = Tensor(np.zeros(3))
    with pytest.raises(TypeError, match=r"\+= on a float64 tensor of shape \(3,\)"):
        t += "x"  # type: ignore[operator]
    with pytest.raises(TypeError, match="a Tensor holds real numbers"):
        t.copy_("abc")  # type: ignore[arg-type]


def test_power_and_matmul_in_place() -> None:
    p = Parameter(np.array([[2.0, 0.0], [0.0, 3.0]]))
    with pytest.raises(RuntimeError, match=r"\*\*= would change in place a leaf"):
        p **= 2
    with no_grad():
        p **= 2
        p @= np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(p.data, [[0.0, 4.0], [9.0, 0.0]])


def test_an_optimizer_step_counts_as_a_change_to_a_retained_graph() -> None:
    w = Parameter(np.array([1.0, 2.0]))
    out = (w * w).sum()
    out.backward(retain_graph=True)
    dl.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"Mul's input 0 .* was changed in place"):
        out.backward()  # the classic GAN mistake: the weights it saw are gone


def test_two_backward_passes_before_one_step_apply_both() -> None:
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    x = Tensor(np.array([1.0, 2.0]))
    optimizer = dl.SGD([a, b], lr=0.1)
    (x * a).sum().backward()
    (x * b).sum().backward()
    optimizer.step()  # each gradient once, whichever pass set it
    np.testing.assert_allclose(a.data, 1 - 0.1 * x.data)
    np.testing.assert_allclose(b.data, 1 - 0.1 * x.data)
    optimizer.step()  # applied already: nothing moves
    np.testing.assert_allclose(a.data, 1 - 0.1 * x.data)


def test_frozen_and_gradient_less_parameters_are_left_alone() -> None:
    frozen, cleared, trained = (Parameter(np.ones(2)) for _ in range(3))
    frozen.requires_grad_(False)
    cleared.grad = None  # type: ignore[assignment]  # PyTorch's idiom
    trained.grad[...] = 1.0
    optimizer = dl.AdamW([frozen, cleared, trained], lr=0.1, weight_decay=0.1)
    optimizer.zero_grad()
    trained.grad[...] = 1.0
    optimizer.step()
    np.testing.assert_array_equal(frozen.data, 1.0)
    np.testing.assert_array_equal(cleared.data, 1.0)
    assert (trained.data < 1).all()


def test_a_one_element_tensor_converts_and_formats_as_its_number() -> None:
    loss = Tensor(np.array(0.123456))
    assert float(loss) == pytest.approx(0.123456) and int(Tensor(np.array(3.7))) == 3
    assert f"{loss:.3f}" == "0.123"
    assert np.array([Tensor(np.array(1.0)), Tensor(np.array(2.0))]).tolist() == [1.0, 2.0]


def test_no_grad_on_a_generator_covers_each_step_of_its_body() -> None:
    @no_grad()
    def steps(x: Tensor) -> Any:
        for _ in range(2):
            received = yield (x * 2).requires_grad, is_grad_enabled()
            assert received == "sent"
        return "done"

    x = Tensor(np.ones(2), requires_grad=True)
    walk = steps(x)
    assert next(walk) == (False, False)
    assert is_grad_enabled()  # outside the body, between steps, recording goes on
    assert walk.send("sent") == (False, False)
    with pytest.raises(StopIteration) as stop:
        walk.send("sent")
    assert stop.value.value == "done"
