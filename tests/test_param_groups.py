"""Parameter groups, as PyTorch's: each optimizer steps each group with its own options (against
torch.optim in float64), schedules set every group's rate (against torch's schedulers), the
state and checkpoints keep the groups (a resumed run is bit for bit the uninterrupted one), and
bad groups are refused before any work."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest

from deeplearning import Parameter, TwoLayerMLP
from deeplearning.optim import SGD, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm
from deeplearning.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    Schedule,
    SequentialLR,
    StepLR,
)
from deeplearning.training.archive import CheckpointError
from deeplearning.training.checkpoint import load_checkpoint, save_checkpoint

SHAPES = [(4, 3), (3,), (3, 2), (2,)]  # a small MLP's W1, b1, W2, b2
Groups = Callable[[list[Any]], list[dict[str, Any]]]


def decay_split(**options: dict[str, Any]) -> Groups:
    """Groups of the weights (W1, W2) and of the biases (b1, b2): the parameters in another
    order than the model's, each group with ``options["decay"]`` / ``options["no_decay"]``."""
    return lambda p: [{"params": [p[0], p[2]], **options.get("decay", {})},
                      {"params": [p[1], p[3]], **options.get("no_decay", {})}]  # fmt: skip


# (our class, torch's name, the groups, the constructor's options, shared by both)
CONFIGS: list[tuple[type[Optimizer], str, Groups, dict[str, Any]]] = [
    (SGD, "SGD", decay_split(decay={"weight_decay": 0.01, "nesterov": True},
                             no_decay={"lr": 0.05, "momentum": 0.5, "dampening": 0.2}),
     {"lr": 0.1, "momentum": 0.9}),
    (SGD, "SGD", decay_split(decay={"weight_decay": 0.1}, no_decay={"lr": 0.2, "momentum": 0.0}),
     {"lr": 0.1, "momentum": 0.8}),
    (RMSprop, "RMSprop", decay_split(decay={"centered": True, "momentum": 0.5,
                                            "weight_decay": 0.1},
                                     no_decay={"lr": 0.02, "alpha": 0.99, "eps": 1e-6}),
     {"lr": 0.01, "alpha": 0.9}),
    (Adam, "Adam", decay_split(decay={"weight_decay": 0.1, "amsgrad": True},
                               no_decay={"lr": 0.005, "betas": (0.9, 0.999), "eps": 1e-6}),
     {"lr": 0.01, "betas": (0.8, 0.99)}),
    (AdamW, "AdamW", decay_split(decay={"weight_decay": 0.1}, no_decay={"weight_decay": 0.0}),
     {"lr": 1e-3, "betas": (0.9, 0.99)}),
    (AdamW, "AdamW", decay_split(decay={"lr": 0.02, "amsgrad": True},
                                 no_decay={"betas": (0.5, 0.9), "weight_decay": 0.0}),
     {"lr": 0.01}),
]  # fmt: skip
IDS = [f"{cls.__name__}-{i}" for i, (cls, *_) in enumerate(CONFIGS)]


def gradients(steps: int, seed: int = 0) -> list[list[np.ndarray]]:
    gen = np.random.default_rng(seed)
    return [[gen.standard_normal(shape) for shape in SHAPES] for _ in range(steps)]


def parameters() -> list[Parameter]:
    gen = np.random.default_rng(1)
    return [Parameter(gen.standard_normal(shape)) for shape in SHAPES]


def run(optimizer: Optimizer, params: list[Any], grads: list[list[np.ndarray]],
        scheduler: LRScheduler | None = None) -> None:  # fmt: skip
    for step in grads:
        for param, grad in zip(params, step):
            param.grad[...] = grad
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


# -- each group steps with its own options, as PyTorch's ------------------------------------


@pytest.mark.parametrize(("cls", "torch_name", "groups", "options"), CONFIGS, ids=IDS)
def test_ten_steps_of_two_groups_match_pytorch(
    torch: ModuleType, cls: type[Optimizer], torch_name: str, groups: Groups,
    options: dict[str, Any],
) -> None:  # fmt: skip
    grads = gradients(10)
    params = parameters()
    run(cls(groups(params), **options), params, grads)
    tensors = [torch.tensor(p.data.copy(), requires_grad=True) for p in parameters()]
    reference = getattr(torch.optim, torch_name)(groups(tensors), **options)
    for step in grads:
        for tensor, grad in zip(tensors, step):
            tensor.grad = torch.from_numpy(grad.copy())
        reference.step()
    for i, (param, tensor) in enumerate(zip(params, tensors)):
        np.testing.assert_allclose(param.data, tensor.detach().numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=f"{torch_name} parameter {i}")  # fmt: skip


def test_the_groups_hold_every_option_and_the_attributes_read_group_0() -> None:
    p = parameters()
    optimizer = AdamW([{"params": [p[0], p[2]], "weight_decay": 0.1},
                       {"params": [p[1], p[3]], "weight_decay": 0.0, "lr": 0.5}],
                      lr=1e-3, betas=(0.9, 0.99))  # fmt: skip
    assert [list(group) for group in optimizer.param_groups] == [
        ["params", "lr", "betas", "eps", "weight_decay", "amsgrad"]
    ] * 2
    options = {key: value for key, value in optimizer.param_groups[1].items() if key != "params"}
    assert options == {"lr": 0.5, "betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.0,
                       "amsgrad": False}  # fmt: skip
    assert optimizer.params == [p[0], p[2], p[1], p[3]]  # group after group
    assert optimizer.defaults == {**options, "lr": 1e-3, "weight_decay": 0.01}  # the constructor's
    assert (optimizer.lr, optimizer.weight_decay) == (1e-3, 0.1)  # group 0's
    optimizer.lr = 0.25  # every group's
    assert [group["lr"] for group in optimizer.param_groups] == [0.25, 0.25]
    assert repr(optimizer) == (
        "AdamW([{2 params: lr=0.25, betas=(0.9, 0.99), eps=1e-08, weight_decay=0.1, "
        "amsgrad=False}, {2 params: lr=0.25, betas=(0.9, 0.99), eps=1e-08, weight_decay=0.0, "
        "amsgrad=False}])"
    )


def test_one_group_as_a_dict_is_the_list_of_parameters() -> None:
    grads = gradients(6)
    plain, grouped = parameters(), parameters()
    first = SGD(plain, lr=0.1, momentum=0.9)
    second = SGD([{"params": grouped, "momentum": 0.9}], lr=0.1)
    run(first, plain, grads)
    run(second, grouped, grads)
    for a, b in zip(plain, grouped):
        assert np.array_equal(a.data, b.data)
    assert first.state_dict().keys() == second.state_dict().keys()
    assert not any(key.startswith("group.") for key in first.state_dict())


def test_a_group_at_rate_zero_stays_while_the_other_moves() -> None:
    params = parameters()
    before = [p.data.copy() for p in params]
    optimizer = Adam(decay_split(no_decay={"lr": 0.0})(params), lr=0.1)
    run(optimizer, params, gradients(3))
    assert not np.array_equal(params[0].data, before[0])
    assert np.array_equal(params[1].data, before[1]) and np.array_equal(params[3].data, before[3])


def test_clipping_covers_every_group(torch: ModuleType) -> None:
    params = parameters()
    optimizer = SGD(decay_split()(params), lr=0.1)
    for param, grad in zip(params, gradients(1)[0]):
        param.grad[...] = grad * 3
    tensors = [torch.tensor(p.data, requires_grad=True) for p in params]
    for tensor, param in zip(tensors, params):
        tensor.grad = torch.from_numpy(param.grad.copy())
    total = clip_grad_norm(optimizer.params, 0.5)
    assert total == pytest.approx(torch.nn.utils.clip_grad_norm_(tensors, 0.5).item(), rel=1e-12)
    for param, tensor in zip(params, tensors):
        np.testing.assert_allclose(param.grad, tensor.grad.numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match=r"params\[0\] is dict \(a parameter group\), not a "
                                        r"Parameter; .*or optimizer.params"):  # fmt: skip
        clip_grad_norm(optimizer.param_groups, 1.0)  # type: ignore[arg-type]


# -- schedules set every group's rate, as PyTorch's ----------------------------------------

BASE = 0.1
SCHEDULES: list[tuple[str, Schedule, Callable[[Any, Any], Any]]] = [
    ("ConstantLR", ConstantLR(BASE, factor=0.5, total_iters=7),
     lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=7)),
    ("StepLR", StepLR(BASE, step_size=10, gamma=0.5),
     lambda s, o: s.StepLR(o, step_size=10, gamma=0.5)),
    ("ExponentialLR", ExponentialLR(BASE, gamma=0.97), lambda s, o: s.ExponentialLR(o, 0.97)),
    ("CosineAnnealingLR", CosineAnnealingLR(BASE, T_max=40, eta_min=0.001),
     lambda s, o: s.CosineAnnealingLR(o, T_max=40, eta_min=0.001)),
    ("LinearLR", LinearLR(BASE, start_factor=0.1, total_iters=20),
     lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=20)),
    ("SequentialLR", SequentialLR([LinearLR(BASE, start_factor=0.1, total_iters=5),
                                   CosineAnnealingLR(BASE, T_max=55, eta_min=0.002)],
                                  milestones=[5]),
     lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.1, total_iters=5),
                                     s.CosineAnnealingLR(o, T_max=55, eta_min=0.002)],
                                 milestones=[5])),
]  # fmt: skip


def torch_rates(torch: ModuleType, make: Callable[[Any, Any], Any], lrs: list[float],
                steps: int) -> list[list[float]]:  # fmt: skip
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    optimizer = torch.optim.SGD(groups, lr=lrs[0])
    scheduler = make(torch.optim.lr_scheduler, optimizer)
    rates = []
    for _ in range(steps):
        rates.append(scheduler.get_last_lr())
        optimizer.step()
        scheduler.step()
    return rates


def our_rates(schedule: Schedule, lrs: list[float], steps: int) -> list[list[float]]:
    optimizer = SGD([{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0])
    scheduler = LRScheduler(optimizer, schedule)
    rates = []
    for _ in range(steps):
        rates.append([group["lr"] for group in optimizer.param_groups])
        scheduler.step()
    return rates


@pytest.mark.parametrize(("name", "ours", "make"), SCHEDULES, ids=[c[0] for c in SCHEDULES])
def test_schedules_set_each_groups_rate_as_pytorch(
    torch: ModuleType, name: str, ours: Schedule, make: Callable[[Any, Any], Any]
) -> None:
    lrs = [BASE, 0.02, 0.3]
    np.testing.assert_allclose(our_rates(ours, lrs, 60), torch_rates(torch, make, lrs, 60),
                               rtol=1e-10, atol=1e-15, err_msg=name)  # fmt: skip


def test_a_schedule_for_another_rate_keeps_each_groups_ratio_to_group_0(torch: ModuleType) -> None:
    # the schedule's base_lr is half group 0's rate: every group runs at half its own
    make = SCHEDULES[3][2]
    expected = torch_rates(torch, make, [BASE, 0.02], 60)
    ours = our_rates(CosineAnnealingLR(BASE, T_max=40, eta_min=0.001), [2 * BASE, 0.04], 60)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-15)
    own = our_rates(lambda t: BASE * 0.9**t, [BASE, 0.02], 5)  # a callable: times the ratio
    np.testing.assert_allclose(own, [[BASE * 0.9**t, 0.02 * 0.9**t] for t in range(5)], rtol=1e-14)


def test_a_refused_rate_leaves_every_group() -> None:
    optimizer = SGD(decay_split(no_decay={"lr": 0.01})(parameters()), lr=0.1)
    with pytest.raises(ValueError, match=r"learning rate -0\.1 for step 0"):
        LRScheduler(optimizer, lambda t: -0.1)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.01]
    assert not any("initial_lr" in g for g in optimizer.param_groups)
    optimizer.param_groups[0]["lr"] = 0.0
    with pytest.raises(ValueError, match=r"group 0's initial lr is 0 but group 1's is 0.01"):
        LRScheduler(optimizer, ConstantLR(0.1))


# -- the state and checkpoints keep the groups ---------------------------------------------


@pytest.mark.parametrize(("cls", "torch_name", "groups", "options"), CONFIGS, ids=IDS)
def test_resuming_from_state_dict_is_bit_for_bit(
    cls: type[Optimizer], torch_name: str, groups: Groups, options: dict[str, Any]
) -> None:
    grads = gradients(10)
    straight, resumed = parameters(), parameters()
    run(cls(groups(straight), **options), straight, grads)
    first = cls(groups(resumed), **options)
    run(first, resumed, grads[:5])
    state = {name: value.copy() for name, value in first.state_dict().items()}
    assert {"group.0.params", "group.1.lr", "group.1.weight_decay"} <= state.keys()
    fresh = cls(groups(resumed), **{**options, "lr": 123.0})  # the state gives every option
    fresh.load_state_dict(state)
    assert fresh.param_groups[1]["lr"] == first.param_groups[1]["lr"]
    run(fresh, resumed, grads[5:])
    for a, b in zip(straight, resumed):
        assert np.array_equal(a.data, b.data)


def decay_model(model: TwoLayerMLP, **options: Any) -> AdamW:
    weights = [p for p in model.parameters() if p.data.ndim >= 2]
    biases = [p for p in model.parameters() if p.data.ndim < 2]
    return AdamW([{"params": weights, "weight_decay": 0.1},
                  {"params": biases, "weight_decay": 0.0, "lr": 0.003}], **options)  # fmt: skip


def test_a_checkpoint_resumes_groups_and_schedule_bit_for_bit(tmp_path: Path) -> None:
    gen = np.random.default_rng(0)
    shapes = [p.data.shape for p in TwoLayerMLP(6, 5, 3, rng=0).parameters()]
    grads = [[gen.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(10)]
    schedule = CosineAnnealingLR(1e-2, T_max=10, eta_min=1e-3)  # not proportional: initial_lr

    straight = TwoLayerMLP(6, 5, 3, rng=0)
    optimizer = decay_model(straight, lr=1e-2, betas=(0.9, 0.99))
    run(optimizer, list(straight.parameters()), grads, LRScheduler(optimizer, schedule))

    first = TwoLayerMLP(6, 5, 3, rng=0)
    optimizer = decay_model(first, lr=1e-2, betas=(0.9, 0.99))
    run(optimizer, list(first.parameters()), grads[:5], LRScheduler(optimizer, schedule))
    save_checkpoint(tmp_path / "run.npz", first, optimizer)

    resumed = TwoLayerMLP(6, 5, 3, rng=1)
    fresh = decay_model(resumed, lr=0.5)  # the checkpoint gives every option
    load_checkpoint(tmp_path / "run.npz", resumed, fresh)
    assert fresh.param_groups[1]["betas"] == (0.9, 0.99) and fresh.steps == 5
    scheduler = LRScheduler(fresh, schedule, last_step=fresh.steps)
    run(fresh, list(resumed.parameters()), grads[5:], scheduler)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert np.array_equal(a, b), name


def test_a_checkpoint_of_other_groups_is_refused_before_loading(tmp_path: Path) -> None:
    model = TwoLayerMLP(6, 5, 3, rng=0)
    optimizer = decay_model(model)
    run(optimizer, list(model.parameters()),
        [[np.ones(p.data.shape, np.float32) for p in model.parameters()]])  # fmt: skip
    save_checkpoint(tmp_path / "groups.npz", model, optimizer)
    save_checkpoint(tmp_path / "one.npz", model, AdamW(model.parameters()))
    into = TwoLayerMLP(6, 5, 3, rng=1)
    before = {name: value.copy() for name, value in into.state_dict().items()}
    params = list(into.parameters())
    cases = [
        ("groups.npz", AdamW(into.parameters()),
         r"holds 2 parameter groups \('group.<g>.params' of shapes \[\(2,\), \(2,\)\]\), but the "
         r"optimizer has 1 groups of \[4\] parameters"),
        ("groups.npz", AdamW([{"params": params[:3]}, {"params": params[3:]}]),
         r"but the optimizer has 2 groups of \[3, 1\] parameters"),
        ("one.npz", decay_model(into), r"holds one parameter group \(no 'group.\*' arrays\)"),
        ("groups.npz", AdamW([{"params": params[:2]}, {"params": params[2:]}]),  # W1, b1 first
         r"optimizer state 'exp_avg.1' of shape \(5, 3\) does not fit parameter 1 of 4 \(shape "
         r"\(5,\)\)"),
    ]  # fmt: skip
    for name, fresh, message in cases:
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(tmp_path / name, into, fresh)
        for key, value in into.state_dict().items():
            assert np.array_equal(value, before[key]), key


def saved() -> tuple[SGD, dict[str, Any]]:
    params = parameters()
    optimizer = SGD(decay_split(no_decay={"lr": 0.05, "nesterov": False})(params), lr=0.1,
                    momentum=0.9, nesterov=True)  # fmt: skip
    LRScheduler(optimizer, ExponentialLR(0.1, 0.9))
    run(optimizer, params, gradients(2))
    return optimizer, dict(optimizer.state_dict())


def edit(**changes: Any) -> dict[str, Any]:
    state = saved()[1]
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            state.pop(key)
        else:
            state[key] = np.asarray(value)
    return state


BAD_STATES: list[tuple[str, Callable[[], dict[str, Any]], type[Exception], str]] = [
    ("a group too many", lambda: edit(group__2__lr=0.1), ValueError,
     r"the state holds parameter groups \[0, 1, 2\], but this optimizer has 2"),
    ("no groups", lambda: {k: v for k, v in saved()[1].items() if not k.startswith("group.")},
     ValueError, r"holds parameter one group \(no 'group.\*' entries\), but this optimizer has 2"),
    ("a group lacks an option", lambda: edit(group__1__momentum=None), ValueError,
     r"the saved param group 1 lacks \['momentum'\]; pass what state_dict\(\) gave"),
    ("an unknown option", lambda: edit(group__1__betas=0.9), ValueError,
     r"unknown state entry 'group.1.betas': SGD keeps each group's \['params', 'lr', "),
    ("a bad group index", lambda: edit(group__01__lr=0.1), ValueError,
     r"unknown state entry 'group.01.lr'"),
    ("other parameters", lambda: edit(group__0__params=[1.0, 0.0]), ValueError,
     r"the saved param group 0 holds the parameters \[1.0, 0.0\] of the optimizer's, but this "
     r"optimizer's group 0 holds \[0, 1\]"),
    ("a NaN rate", lambda: edit(group__1__lr=np.nan), ValueError,
     r"the saved param group 1: lr must be a finite number >= 0, got nan"),
    ("an option out of range", lambda: edit(group__1__dampening=2.0), ValueError,
     r"the saved param group 1: dampening must be a finite number in \[0, 1\], got 2.0"),
    ("Nesterov without momentum", lambda: edit(group__0__momentum=0.0), ValueError,
     r"the saved param group 0: Nesterov momentum needs momentum > 0"),
    ("a flag not 0 or 1", lambda: edit(group__0__nesterov=0.5), ValueError,
     r"the saved param group 0: nesterov must be 0 or 1 \(False or True\), got 0.5"),
    ("an option as an array", lambda: edit(group__0__momentum=[0.9, 0.9]), ValueError,
     r"the saved param group 0: momentum must be one number, got an array of float64 of "
     r"shape \(2,\)"),
    ("a negative initial rate", lambda: edit(group__1__initial_lr=-1.0), ValueError,
     r"the saved param group 1: initial_lr must be a finite number >= 0, got -1.0"),
    ("lr not group 0's", lambda: edit(lr=0.5), ValueError,
     r"the saved lr 0.5 is not the saved group 0's lr 0.1 \(they are saved equal\)"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make", "error", "message"), BAD_STATES,
                         ids=[c[0] for c in BAD_STATES])  # fmt: skip
def test_a_state_of_other_groups_is_refused_and_nothing_changes(
    case: str, make: Callable[[], dict[str, Any]], error: type[Exception], message: str
) -> None:
    optimizer = saved()[0]
    before = {key: np.array(value) for key, value in optimizer.state_dict().items()}
    with pytest.raises(error, match=rf"^SGD\.load_state_dict: .*{message}"):
        optimizer.load_state_dict(make())
    after = optimizer.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert np.array_equal(after[key], value), key


def test_a_state_of_two_groups_does_not_load_into_one() -> None:
    with pytest.raises(
        ValueError,
        match=r"holds parameter groups \[0, 1\], but this optimizer "
        r"has 1 \(groups \[0\]\): build the optimizer with",
    ):
        SGD(parameters(), lr=0.1, momentum=0.9, nesterov=True).load_state_dict(saved()[1])


# -- bad groups are refused before any work ------------------------------------------------

P = parameters()
BAD_GROUPS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("a misspelt option", lambda: SGD([{"params": P[:2], "lrr": 0.1}]), ValueError,
     r"^SGD param group 0: unknown option \['lrr'\]; a group takes 'params' and any of "
     r"\['dampening', 'lr', 'momentum', 'nesterov', 'weight_decay'\] \(an option it does not "
     r"name is the constructor's\)$"),
    ("another optimizer's option", lambda: Adam([{"params": P, "momentum": 0.9}]), ValueError,
     r"^Adam param group 0: unknown option \['momentum'\]; a group takes 'params' and any of "
     r"\['amsgrad', 'betas', 'eps', 'lr', 'weight_decay'\]"),
    ("no 'params'", lambda: SGD([{"params": P[:2]}, {"param": P[2:]}]), ValueError,
     r"^SGD param group 1 has no 'params' \(it has \['param'\]\): a group takes 'params'"),
    ("a parameter in two groups", lambda: SGD([{"params": P[:2]}, {"params": P[1:]}]),
     ValueError, r"^SGD: param group 1's params\[0\] is param group 0's params\[1\] \(shape "
     r"\(3,\)\), so each step would update it twice: put each parameter in one group$"),
    ("a parameter twice in a group", lambda: SGD([{"params": [P[0], P[1], P[0]]}]), ValueError,
     r"^SGD param group 0: params\[2\] is params\[0\] given again \(shape \(4, 3\)\)"),
    ("an empty group", lambda: SGD([{"params": P}, {"params": []}]), ValueError,
     r"^SGD param group 1: the group has no parameters; give each group at least one"),
    ("a single Parameter as a group's", lambda: SGD([{"params": P[0]}]), TypeError,
     r"^SGD param group 0: params must be an iterable of Parameters, got a single Parameter"),
    ("a set as a group's", lambda: SGD([{"params": set(P)}]), TypeError,
     r"^SGD param group 0: params must be an ordered iterable of Parameters, got a set"),
    ("Parameters and groups", lambda: SGD([P[0], {"params": P[1:]}]), TypeError,
     r"^SGD: params\[0\] is a Parameter, but params\[1\] is a parameter group \(a dict\): give "
     r"a list of Parameters, or a list of groups"),
    ("one group not in a list", lambda: SGD({"params": P}), TypeError,  # type: ignore[dict-item]
     r"^SGD: params must be an ordered iterable of Parameters, got a dict \(parameter groups "
     r"go in a list"),
    ("a group's bad rate", lambda: SGD([{"params": P[:2]}, {"params": P[2:], "lr": -1.0}]),
     ValueError, r"^SGD param group 1: lr must be a finite number >= 0, got -1.0; pass e.g. "
     r"lr=0.01$"),
    ("a group's rate as text", lambda: Adam([{"params": P, "lr": "0.1"}]), TypeError,
     r"^Adam param group 0: lr must be a real number \(int or float\), got str '0.1'"),
    ("a group's Nesterov without momentum",
     lambda: SGD([{"params": P[:2], "momentum": 0.0}], momentum=0.9, nesterov=True), ValueError,
     r"^SGD param group 0: Nesterov momentum needs momentum > 0 and dampening = 0, got "
     r"momentum=0.0"),
    ("a group's betas", lambda: AdamW([{"params": P, "betas": (0.9, 1.0)}]), ValueError,
     r"^AdamW param group 0: betas\[1\] must be a finite number in \[0, 1\), got 1.0"),
    ("a group's flag", lambda: RMSprop([{"params": P, "centered": "yes"}]), TypeError,
     r"^RMSprop param group 0: centered must be True or False, got str 'yes'"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "call", "error", "message"), BAD_GROUPS,
                         ids=[c[0] for c in BAD_GROUPS])  # fmt: skip
def test_bad_groups_are_refused_with_one_clear_line(
    case: str, call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        call()
    assert "\n" not in str(caught.value)


def test_a_bad_group_is_refused_before_any_parameter_is_read() -> None:
    weights = iter(P[:2])
    with pytest.raises(ValueError, match="param group 1: momentum must be"):
        SGD([{"params": weights}, {"params": P[2:], "momentum": -1.0}])
    assert list(weights) == P[:2]


def test_setting_an_option_checks_every_group_and_changes_none_if_refused() -> None:
    optimizer = SGD([{"params": P[:2]}, {"params": P[2:], "momentum": 0.0}], lr=0.1,
                    momentum=0.9)  # fmt: skip
    with pytest.raises(ValueError, match=r"^SGD param group 1: Nesterov momentum needs"):
        optimizer.nesterov = True
    with pytest.raises(ValueError, match=r"^SGD param group 0: lr must be a finite number"):
        optimizer.lr = math.inf
    with pytest.raises(AttributeError, match=r"SGD has no option 'betas'; its options are"):
        optimizer.set_option("betas", (0.9, 0.99))
    assert [(g["lr"], g["nesterov"]) for g in optimizer.param_groups] == [(0.1, False)] * 2
    optimizer.momentum = 0.5
    assert [g["momentum"] for g in optimizer.param_groups] == [0.5, 0.5]
