"""Optimizers and gradient clipping, against PyTorch's, step for step."""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest

from deeplearning import Parameter
from deeplearning.optim import SGD, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm

SHAPES = [(4, 3), (3,), (2, 2, 2)]

# (our class, torch's name, keyword arguments shared by both)
CONFIGS: list[tuple[type[Optimizer], str, dict[str, Any]]] = [
    (SGD, "SGD", {"lr": 0.1}),
    (SGD, "SGD", {"lr": 0.1, "momentum": 0.9}),
    (SGD, "SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    (SGD, "SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    (RMSprop, "RMSprop", {"lr": 0.01}),
    (RMSprop, "RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.1}),
    (RMSprop, "RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "eps": 1e-6}),
    (Adam, "Adam", {"lr": 0.01}),
    (Adam, "Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True}),
    (AdamW, "AdamW", {"lr": 0.01}),
    (AdamW, "AdamW", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True, "eps": 1e-6}),
]


def gradients(steps: int, seed: int = 0) -> list[list[np.ndarray]]:
    """The same random gradients for both libraries, step by step."""
    gen = np.random.default_rng(seed)
    return [[gen.standard_normal(shape) for shape in SHAPES] for _ in range(steps)]


def run_ours(
    make: Callable[[list[Parameter]], Optimizer], grads: list[list[np.ndarray]]
) -> tuple[list[Parameter], Optimizer]:
    gen = np.random.default_rng(1)
    params = [Parameter(gen.standard_normal(shape)) for shape in SHAPES]
    optimizer = make(params)
    for step in grads:
        for param, grad in zip(params, step):
            param.grad[...] = grad
        optimizer.step()
    return params, optimizer


@pytest.mark.parametrize(("cls", "torch_name", "kwargs"), CONFIGS, ids=lambda c: str(c))
def test_fifty_steps_match_pytorch(
    torch: ModuleType, cls: type[Optimizer], torch_name: str, kwargs: dict[str, Any]
) -> None:
    grads = gradients(50)
    params, _ = run_ours(lambda p: cls(p, **kwargs), grads)

    gen = np.random.default_rng(1)
    tensors = [torch.tensor(gen.standard_normal(shape), requires_grad=True) for shape in SHAPES]
    reference = getattr(torch.optim, torch_name)(tensors, **kwargs)
    for step in grads:
        for tensor, grad in zip(tensors, step):
            tensor.grad = torch.from_numpy(grad.copy())
        reference.step()
    for i, (param, tensor) in enumerate(zip(params, tensors)):
        np.testing.assert_allclose(
            param.data, tensor.detach().numpy(), rtol=1e-6, atol=1e-12,
            err_msg=f"{cls.__name__}({kwargs}) parameter {i} after 50 steps",
        )  # fmt: skip


@pytest.mark.parametrize(("cls", "torch_name", "kwargs"), CONFIGS, ids=lambda c: str(c))
def test_resuming_from_state_dict_is_identical(
    cls: type[Optimizer], torch_name: str, kwargs: dict[str, Any]
) -> None:
    grads = gradients(40)
    straight, _ = run_ours(lambda p: cls(p, **kwargs), grads)
    first_half, optimizer = run_ours(lambda p: cls(p, **kwargs), grads[:20])
    state = {name: value.copy() for name, value in optimizer.state_dict().items()}
    resumed = cls(first_half, **kwargs)
    resumed.load_state_dict(state)
    for step in grads[20:]:
        for param, grad in zip(first_half, step):
            param.grad[...] = grad
        resumed.step()
    for a, b in zip(straight, first_half):
        np.testing.assert_array_equal(a.data, b.data)


def test_optimizers_update_float32_in_place() -> None:
    param = Parameter(np.ones(3, dtype=np.float32))
    data = param.data
    param.grad[...] = 1
    for optimizer in (SGD([param], momentum=0.9), RMSprop([param]), Adam([param]), AdamW([param])):
        optimizer.step()
    assert param.data is data and data.dtype == np.float32 and np.all(data < 1)


def test_bad_arguments_are_explained() -> None:
    with pytest.raises(ValueError, match="got an empty parameter list"):
        SGD([])
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0"):
        Adam([Parameter(np.zeros(1))], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        SGD([Parameter(np.zeros(1))], nesterov=True)


def test_zero_grad_zeroes() -> None:
    param = Parameter(np.zeros(2))
    param.grad[...] = 3
    SGD([param]).zero_grad()
    assert not param.grad.any()


def test_clip_grad_norm_matches_pytorch(torch: ModuleType) -> None:
    gen = np.random.default_rng(0)
    for max_norm in (0.5, 1e6):
        params = [Parameter(gen.standard_normal(shape)) for shape in SHAPES]
        tensors = [torch.tensor(p.data.copy(), requires_grad=True) for p in params]
        for param, tensor in zip(params, tensors):
            param.grad[...] = gen.standard_normal(param.data.shape) * 3
            tensor.grad = torch.from_numpy(param.grad.copy())
        total = clip_grad_norm(params, max_norm)
        expected = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
        assert total == pytest.approx(expected.item(), rel=1e-12)
        for param, tensor in zip(params, tensors):
            np.testing.assert_allclose(param.grad, tensor.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_keeps_direction_and_bounds_norm() -> None:
    params = [Parameter(np.zeros(2)), Parameter(np.zeros(1))]
    params[0].grad[...] = [3.0, 0.0]
    params[1].grad[...] = [4.0]
    assert clip_grad_norm(params, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(params[0].grad, [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(params[1].grad, [0.8], rtol=1e-6)


def test_state_dict_rejects_state_of_another_shape() -> None:
    params, optimizer = run_ours(lambda p: Adam(p), gradients(2))
    state = optimizer.state_dict()
    state["exp_avg.0"] = np.zeros((9, 9))
    with pytest.raises(ValueError, match=r"'exp_avg.0' of shape \(9, 9\) does not fit parameter 0"):
        Adam(params).load_state_dict(state)


def test_repr_shows_the_hyperparameters() -> None:
    optimizer = SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    assert repr(optimizer) == (
        "SGD(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)"
    )


@pytest.mark.parametrize("make", [lambda p: SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: Adam(p, lr=1e-3)])  # fmt: skip
def test_steps_allocate_no_new_arrays_and_keep_work_arrays_out_of_state(
    make: Callable[[list[Parameter]], Optimizer],
) -> None:
    import tracemalloc

    params = [Parameter(np.ones((200, 100), dtype=np.float32))]
    params[0].grad[...] = 0.5
    optimizer = make(params)
    optimizer.step()  # creates the buffers and the work arrays
    tracemalloc.start()
    for _ in range(5):
        optimizer.step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 100 * 4  # less than one parameter-sized array: no temporaries
    assert not any(key.startswith("_") for key in optimizer.state_dict())
    assert "_work" not in repr(optimizer)
