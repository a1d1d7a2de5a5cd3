"""Learning-rate schedules as pure functions of the step, and the driver that applies one.

A schedule is called with the number of optimizer steps taken so far, ``t`` (0 for the first
step), and returns the learning rate for step ``t``. It keeps no state, so it cannot be
stepped in the wrong order, and ``sched(t)`` equals PyTorch's ``get_last_lr()`` after ``t``
calls of ``scheduler.step()`` with the same arguments::

    sched = CosineAnnealingLR(base_lr=0.1, T_max=100)
    [sched(t) for t in range(3)]          # [0.1, 0.09997..., 0.09990...]
    warm_cos = SequentialLR([LinearLR(0.1, start_factor=0.1, total_iters=5),
                             CosineAnnealingLR(0.1, T_max=95)], milestones=[5])

`LRScheduler` applies a schedule to an optimizer, step by step, as PyTorch's schedulers do.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Protocol

from .optim import Optimizer


class Schedule(Protocol):
    """Anything that maps a step number ``t >= 0`` to a learning rate."""

    def __call__(self, t: int) -> float: ...


class ConstantLR:
    """``base_lr * factor`` for ``t < total_iters``, then ``base_lr``."""

    def __init__(self, base_lr: float, factor: float = 1 / 3, total_iters: int = 5) -> None:
        self.base_lr, self.factor, self.total_iters = base_lr, factor, total_iters

    def __call__(self, t: int) -> float:
        return self.base_lr * (self.factor if t < self.total_iters else 1.0)


class StepLR:
    """``base_lr * gamma ** (t // step_size)``: decay by ``gamma`` every ``step_size`` steps."""

    def __init__(self, base_lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.base_lr, self.step_size, self.gamma = base_lr, step_size, gamma

    def __call__(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR:
    """``base_lr * gamma ** t``."""

    def __init__(self, base_lr: float, gamma: float) -> None:
        self.base_lr, self.gamma = base_lr, gamma

    def __call__(self, t: int) -> float:
        return self.base_lr * self.gamma**t


class CosineAnnealingLR:
    """Half a cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` steps.

    ``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``; past ``T_max`` the
    cosine continues (rising again), as in PyTorch.
    """

    def __init__(self, base_lr: float, T_max: int, eta_min: float = 0.0) -> None:
        self.base_lr, self.T_max, self.eta_min = base_lr, T_max, eta_min

    def __call__(self, t: int) -> float:
        cosine = (1 + math.cos(math.pi * t / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine


class LinearLR:
    """Linear warm-up (or decay) of the factor from ``start_factor`` to ``end_factor``.

    ``base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters) /
    total_iters)``.
    """

    def __init__(
        self,
        base_lr: float,
        start_factor: float = 1 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError("LinearLR needs 0 < start_factor <= 1 and 0 <= end_factor <= 1")
        self.base_lr, self.total_iters = base_lr, total_iters
        self.start_factor, self.end_factor = start_factor, end_factor

    def __call__(self, t: int) -> float:
        progress = min(t, self.total_iters) / self.total_iters
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class SequentialLR:
    """One schedule after another: ``schedules[i]`` runs from ``milestones[i-1]``, restarted.

    At step ``t``, with ``i`` the number of milestones ``<= t``, the rate is
    ``schedules[i](t - milestones[i-1])`` (``schedules[0](t)`` before the first milestone).
    """

    def __init__(self, schedules: Sequence[Schedule], milestones: Sequence[int]) -> None:
        if len(milestones) != len(schedules) - 1:
            raise ValueError(
                f"SequentialLR needs one milestone fewer than schedules: got {len(schedules)} "
                f"schedules and {len(milestones)} milestones"
            )
        if list(milestones) != sorted(milestones):
            raise ValueError(f"milestones must be increasing, got {list(milestones)}")
        self.schedules, self.milestones = list(schedules), list(milestones)

    def __call__(self, t: int) -> float:
        i = bisect.bisect_right(self.milestones, t)
        start = self.milestones[i - 1] if i > 0 else 0
        return self.schedules[i](t - start)


class LRScheduler:
    """Drives an optimizer's learning rate by a schedule, one step at a time.

    On construction ``optimizer.lr = schedule(0)``; each `step`, called after
    ``optimizer.step()``, advances ``t`` and sets ``optimizer.lr = schedule(t)``.
    """

    def __init__(self, optimizer: Optimizer, schedule: Schedule, last_step: int = 0) -> None:
        self.optimizer, self.schedule, self.t = optimizer, schedule, last_step
        optimizer.lr = schedule(last_step)

    def step(self) -> None:
        self.t += 1
        self.optimizer.lr = self.schedule(self.t)

    def get_last_lr(self) -> float:
        """The learning rate set last."""
        return self.optimizer.lr
