"""Forward and full backward hooks on both paths, as PyTorch's: the same arguments (checked
against PyTorch's hooks on the same network, float64), a returned value replaces the output or
the input gradients, each hook runs once per call, handles detach, and what cannot be done is
refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import deeplearning as dl
from deeplearning import interop
from deeplearning.autograd import nn
from deeplearning.core.tensor import Tensor
from deeplearning.training import batch_gradients

PATHS = {"layers": dl, "autograd": nn}


def mlp(path: str) -> Any:
    return PATHS[path].MLP([5, 4, 3], rng=0, dtype=np.float64)


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((6, 5)), rng.integers(0, 3, 6)


def as_array(value: Any) -> Any:
    """A gradient or output as a NumPy array (None stays None)."""
    if value is None:
        return None
    if hasattr(value, "detach"):
        return value.detach().numpy()
    return np.asarray(getattr(value, "data", value))


def record(model: Any, names: list[str]) -> dict[str, list[Any]]:
    """Register, on each named sub-module, hooks that record what they are given."""
    seen: dict[str, list[Any]] = {}
    modules = dict(model.named_modules()) if hasattr(model, "named_modules") else None
    for name in names:
        module = modules[name] if modules is not None else _child(model, name)

        def forward(_: Any, args: Any, output: Any, name: str = name) -> None:
            seen.setdefault(f"{name} forward", []).append(
                ([as_array(a) for a in args], as_array(output))
            )

        def backward(_: Any, grad_input: Any, grad_output: Any, name: str = name) -> None:
            seen.setdefault(f"{name} backward", []).append(
                ([as_array(g) for g in grad_input], [as_array(g) for g in grad_output])
            )

        module.register_forward_hook(forward)
        module.register_full_backward_hook(backward)
    return seen


def _child(model: Any, name: str) -> Any:
    for part in name.split("."):
        model = dict(model.children())[part]
    return model


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # PyTorch's, on its first
@pytest.mark.parametrize("path", PATHS)
def test_the_hooks_see_what_pytorchs_see(path: str) -> None:
    torch = pytest.importorskip("torch")
    model, (x, y) = mlp(path), batch()
    net = interop.to_torch(model)
    names = ["0", "1", "2"]  # Linear, ReLU, Linear
    ours, theirs = record(model, names), record(net, names)
    batch_gradients(model, x, y)
    torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    assert ours.keys() == theirs.keys() and len(ours) == 6
    for key in ours:
        assert len(ours[key]) == len(theirs[key]) == 1, key
        for mine, its in zip(ours[key][0], theirs[key][0]):
            mine, its = (
                (mine if isinstance(mine, list) else [mine]),
                (its if isinstance(its, list) else [its]),
            )
            assert len(mine) == len(its), key
            for a, b in zip(mine, its):
                assert (a is None) == (b is None), key  # the first layer's input: no gradient
                if a is not None:
                    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("path", PATHS)
def test_returned_values_replace_the_output_and_the_input_gradients(path: str) -> None:
    x, y = batch()
    plain = mlp(path)
    batch_gradients(plain, x, y)
    model = mlp(path)
    relu = _child(model, "1")
    relu.register_forward_hook(lambda m, args, out: out * 0)  # cuts the network
    batch_gradients(model, x, y)
    assert not np.any(_child(model, "2").W.grad)  # its input was zeros
    if path == "autograd":  # the engine differentiates the replacement: nothing gets below
        assert not np.any(_child(model, "0").W.grad)
    else:  # a hand-written backward passes the gradient through, as for its own output
        assert np.any(_child(model, "0").W.grad)
    model = mlp(path)
    _child(model, "1").register_full_backward_hook(lambda m, gin, gout: (gin[0] * 2,))
    batch_gradients(model, x, y)
    np.testing.assert_allclose(_child(model, "0").W.grad, 2 * _child(plain, "0").W.grad)
    np.testing.assert_allclose(_child(model, "2").W.grad, _child(plain, "2").W.grad)


@pytest.mark.parametrize("path", PATHS)
def test_each_hook_runs_once_per_call_and_a_handle_detaches_it(path: str) -> None:
    y = batch()[1]
    model = PATHS[path].LeNet5(image_size=12, rng=0, dtype=np.float64)
    calls: list[str] = []
    handles = [
        model.register_forward_hook(lambda *_: calls.append("model forward")),
        model.register_full_backward_hook(lambda *_: calls.append("model backward")),
        model[0].register_forward_hook(lambda *_: calls.append("conv forward")),
        model[0].register_full_backward_hook(lambda *_: calls.append("conv backward")),
    ]
    images = np.random.default_rng(0).standard_normal((6, 1, 12, 12))
    batch_gradients(model, images, y)
    assert sorted(calls) == ["conv backward", "conv forward", "model backward", "model forward"]
    for handle in handles:
        handle.remove()
        handle.remove()  # again: nothing more
    batch_gradients(model, images, y)
    assert len(calls) == 4
    with model[0].register_forward_hook(lambda *_: calls.append("in the block")):
        model.infer(images)
    model.infer(images)
    assert calls[4:] == ["in the block"]


def test_on_the_layer_path_grad_output_is_what_backward_was_given() -> None:
    relu, dout = dl.ReLU(), np.ones((2, 3))
    seen: list[Any] = []
    relu.register_full_backward_hook(lambda m, gin, gout: seen.append((m, gin, gout)))
    relu.forward(np.array([[1.0, -1.0, 2.0], [0.5, 3.0, -2.0]]))
    dx = relu.backward(dout)
    assert seen[0][0] is relu and seen[0][1][0] is dx and seen[0][2] == (dout,)


def test_engine_hooks_run_only_where_a_graph_is_recorded() -> None:
    model, (x, _) = mlp("autograd"), batch()
    calls: list[str] = []
    model.register_full_backward_hook(lambda *_: calls.append("backward"))
    out = model(Tensor(x))
    out.sum().backward()
    assert calls == ["backward"]
    model.infer(x)  # no graph: nothing to watch, and no error
    assert calls == ["backward"]


@pytest.mark.parametrize("path", PATHS)
def test_what_cannot_be_done_is_refused(path: str) -> None:
    model, (x, y) = mlp(path), batch()
    with pytest.raises(TypeError, match=r"register_forward_hook takes a function "
                       r"hook\(module, args, output\), got int 3"):  # fmt: skip
        model.register_forward_hook(3)
    with pytest.raises(TypeError, match="register_full_backward_hook takes a function"):
        model.register_full_backward_hook(None)
    # The first Linear's input needs no gradient: there is none to replace.
    handle = _child(model, "0").register_full_backward_hook(lambda m, gin, gout: (np.zeros(1),))
    with pytest.raises(ValueError, match="returned new input gradients, but"):
        batch_gradients(model, x, y)
    handle.remove()
    _child(model, "2").register_full_backward_hook(lambda m, gin, gout: (gin[0], gin[0]))
    with pytest.raises(ValueError, match="returned 2 gradients for its 1 inputs"):
        batch_gradients(model, x, y)


def test_an_engine_module_that_returns_a_tuple_refuses_a_backward_hook() -> None:
    rnn = nn.RNN(3, 4, rng=0)
    rnn.register_full_backward_hook(lambda *_: None)
    x = Tensor(np.ones((2, 5, 3), dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="RNN returned tuple: a full backward hook needs"):
        rnn(x)
