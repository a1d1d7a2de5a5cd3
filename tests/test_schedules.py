"""Learning-rate schedules: pure functions equal to torch.optim.lr_scheduler over 100 steps."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest

from deeplearning import Parameter
from deeplearning.optim import SGD
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

BASE = 0.1

# (ours, a function building torch's from its optimizer)
CASES: list[tuple[str, Schedule, Callable[[Any, Any], Any]]] = [
    ("ConstantLR", ConstantLR(BASE, factor=0.5, total_iters=7),
     lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=7)),
    ("StepLR", StepLR(BASE, step_size=10, gamma=0.5),
     lambda s, o: s.StepLR(o, step_size=10, gamma=0.5)),
    ("ExponentialLR", ExponentialLR(BASE, gamma=0.97),
     lambda s, o: s.ExponentialLR(o, gamma=0.97)),
    ("CosineAnnealingLR", CosineAnnealingLR(BASE, T_max=100, eta_min=0.001),
     lambda s, o: s.CosineAnnealingLR(o, T_max=100, eta_min=0.001)),
    ("CosineAnnealingLR past T_max", CosineAnnealingLR(BASE, T_max=30),
     lambda s, o: s.CosineAnnealingLR(o, T_max=30)),
    ("LinearLR", LinearLR(BASE, start_factor=0.1, total_iters=20),
     lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=20)),
    ("LinearLR decay", LinearLR(BASE, start_factor=1.0, end_factor=0.2, total_iters=50),
     lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=50)),
    ("SequentialLR warm-up then cosine",
     SequentialLR([LinearLR(BASE, start_factor=0.1, total_iters=5),
                   CosineAnnealingLR(BASE, T_max=95)], milestones=[5]),
     lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.1, total_iters=5),
                                     s.CosineAnnealingLR(o, T_max=95)], milestones=[5])),
    ("SequentialLR of three",
     SequentialLR([ConstantLR(BASE, factor=0.2, total_iters=10), StepLR(BASE, 15, 0.5),
                   ExponentialLR(BASE, 0.95)], milestones=[10, 40]),
     lambda s, o: s.SequentialLR(o, [s.ConstantLR(o, factor=0.2, total_iters=10),
                                     s.StepLR(o, 15, 0.5), s.ExponentialLR(o, 0.95)],
                                 milestones=[10, 40])),
]  # fmt: skip


@pytest.mark.parametrize(("name", "ours", "make"), CASES, ids=[case[0] for case in CASES])
def test_hundred_steps_match_pytorch(
    torch: ModuleType, name: str, ours: Schedule, make: Callable[[Any, Any], Any]
) -> None:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE)
    scheduler = make(torch.optim.lr_scheduler, optimizer)
    expected = []
    for _ in range(100):
        expected.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose([ours(t) for t in range(100)], expected, rtol=1e-10, atol=1e-15,
                               err_msg=name)  # fmt: skip


def test_cosine_formula_by_hand() -> None:
    schedule = CosineAnnealingLR(1.0, T_max=10, eta_min=0.1)
    assert schedule(0) == 1.0 and schedule(10) == pytest.approx(0.1)
    assert schedule(5) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 2)) / 2)


def test_schedules_are_pure() -> None:
    schedule = StepLR(1.0, step_size=2)
    assert [schedule(t) for t in (3, 0, 3)] == [schedule(3), 1.0, schedule(3)]


def test_driver_sets_the_optimizers_rate_each_step() -> None:
    optimizer = SGD([Parameter(np.zeros(1))], lr=123.0)
    scheduler = LRScheduler(optimizer, LinearLR(1.0, start_factor=0.5, total_iters=2))
    assert optimizer.lr == 0.5 == scheduler.get_last_lr()
    scheduler.step()
    assert optimizer.lr == 0.75
    scheduler.step()
    scheduler.step()
    assert optimizer.lr == 1.0 and scheduler.t == 3
    resumed = LRScheduler(optimizer, LinearLR(1.0, start_factor=0.5, total_iters=2), last_step=1)
    assert resumed.get_last_lr() == 0.75


def test_bad_arguments_are_explained() -> None:
    with pytest.raises(ValueError, match="one milestone fewer than schedules"):
        SequentialLR([ConstantLR(1.0)], milestones=[3])
    with pytest.raises(ValueError, match="milestones must be increasing"):
        SequentialLR([ConstantLR(1.0)] * 3, milestones=[5, 2])
    with pytest.raises(ValueError, match=r"start_factor must be a finite number in \(0, 1\]"):
        LinearLR(1.0, start_factor=0.0)
