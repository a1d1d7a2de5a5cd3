"""Learning-rate schedules as pure functions of the step, and the driver that applies one.

A schedule is called with the number of optimizer steps taken so far, ``t`` (0 for the first
step), and returns the learning rate for step ``t``. It keeps no state, so it cannot be
stepped in the wrong order, and ``sched(t)`` equals PyTorch's ``get_last_lr()`` after ``t``
calls of ``scheduler.step()`` with the same arguments::

    sched = CosineAnnealingLR(base_lr=0.1, T_max=100)
    [sched(t) for t in range(3)]          # [0.1, 0.09997..., 0.09990...]
    warm_cos = SequentialLR([LinearLR(0.1, start_factor=0.1, total_iters=5),
                             CosineAnnealingLR(0.1, T_max=95)], milestones=[5])

`LRScheduler` applies a schedule to an optimizer, step by step, as PyTorch's schedulers do,
setting the rate of every parameter group: the schedule gives group 0's, and each other group
follows it rescaled to its own initial rate (for ``base_lr`` group 0's rate, PyTorch's rates
from each group's ``initial_lr``)::

    opt = AdamW([{"params": body}, {"params": head, "lr": 1e-2}], lr=1e-3)
    sched = LRScheduler(opt, CosineAnnealingLR(1e-3, T_max=100))   # head: 1e-2 down to 0

Every schedule checks its arguments when it is built, as PyTorch's do, and more: ``base_lr``
and ``eta_min`` must be finite numbers >= 0, ``gamma`` a finite number >= 0, factors in their
ranges, and step counts (``T_max``, ``step_size``, ``LinearLR``'s ``total_iters``) ints >= 1,
so that no schedule gives a NaN or negative rate. A wrong type is a TypeError, a wrong value a
ValueError. `LRScheduler` refuses any rate (of a schedule of your own) that is not a finite
number >= 0 before setting it.
"""

from __future__ import annotations

import bisect
import copy
import math
import numbers
from collections.abc import Sequence
from typing import Protocol

from ..core.validation import check_int, check_number
from .optimizer import Optimizer


class Schedule(Protocol):
    """Anything that maps a step number ``t >= 0`` to a learning rate."""

    def __call__(self, t: int, /) -> float: ...


def _check_base_lr(base_lr: float, where: str) -> None:
    check_number(base_lr, "base_lr", where, low=0, example="base_lr=0.1, the optimizer's lr")


class ConstantLR:
    """``base_lr * factor`` for ``t < total_iters``, then ``base_lr``.

    Parameters
    ----------
    base_lr : float
        A finite number >= 0.
    factor : float
        In [0, 1], as PyTorch.
    total_iters : int
        An int >= 0: the steps at the reduced rate (0: none, a constant ``base_lr``).
    """

    def __init__(self, base_lr: float, factor: float = 1 / 3, total_iters: int = 5) -> None:
        _check_base_lr(base_lr, "ConstantLR")
        check_number(factor, "factor", "ConstantLR", low=0, high=1, example="factor=0.5")
        check_int(total_iters, "total_iters", "ConstantLR", low=0, example="total_iters=5")
        self.base_lr, self.factor, self.total_iters = base_lr, factor, total_iters

    def __call__(self, t: int) -> float:
        check_int(t, "the step", type(self).__name__, low=0)
        return self.base_lr * (self.factor if t < self.total_iters else 1.0)


class StepLR:
    """``base_lr * gamma ** (t // step_size)``: decay by ``gamma`` every ``step_size`` steps.

    Parameters
    ----------
    base_lr : float
        A finite number >= 0.
    step_size : int
        An int >= 1.
    gamma : float
        A finite number >= 0 (a negative one would give negative rates).
    """

    def __init__(self, base_lr: float, step_size: int, gamma: float = 0.1) -> None:
        _check_base_lr(base_lr, "StepLR")
        check_int(step_size, "step_size", "StepLR", low=1, example="step_size=30")
        check_number(gamma, "gamma", "StepLR", low=0, example="gamma=0.1")
        self.base_lr, self.step_size, self.gamma = base_lr, step_size, gamma

    def __call__(self, t: int) -> float:
        check_int(t, "the step", type(self).__name__, low=0)
        return self.base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR:
    """``base_lr * gamma ** t``.

    Parameters
    ----------
    base_lr : float
        A finite number >= 0.
    gamma : float
        A finite number >= 0 (a negative one would give negative rates every other step).
    """

    def __init__(self, base_lr: float, gamma: float) -> None:
        _check_base_lr(base_lr, "ExponentialLR")
        check_number(gamma, "gamma", "ExponentialLR", low=0, example="gamma=0.95")
        self.base_lr, self.gamma = base_lr, gamma

    def __call__(self, t: int) -> float:
        check_int(t, "the step", type(self).__name__, low=0)
        return self.base_lr * self.gamma**t


class CosineAnnealingLR:
    """Half a cosine from ``base_lr`` down to ``eta_min`` over ``T_max`` steps.

    ``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``; past ``T_max`` the
    cosine continues (rising again), as in PyTorch.

    Parameters
    ----------
    base_lr : float
        A finite number >= 0.
    T_max : int
        An int >= 1: the steps of the half cosine.
    eta_min : float
        A finite number >= 0, the lowest rate.
    """

    def __init__(self, base_lr: float, T_max: int, eta_min: float = 0.0) -> None:
        _check_base_lr(base_lr, "CosineAnnealingLR")
        check_int(
            T_max, "T_max", "CosineAnnealingLR", low=1, example="T_max=100, the steps of the run"
        )
        check_number(eta_min, "eta_min", "CosineAnnealingLR", low=0, example="eta_min=0.0")
        self.base_lr, self.T_max, self.eta_min = base_lr, T_max, eta_min

    def __call__(self, t: int) -> float:
        check_int(t, "the step", type(self).__name__, low=0)
        cosine = (1 + math.cos(math.pi * t / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine


class LinearLR:
    """Linear warm-up (or decay) of the factor from ``start_factor`` to ``end_factor``.

    ``base_lr * (start_factor + (end_factor - start_factor) * min(t, total_iters) /
    total_iters)``.

    Parameters
    ----------
    base_lr : float
        A finite number >= 0.
    start_factor : float
        In (0, 1], as PyTorch.
    end_factor : float
        In [0, 1], as PyTorch.
    total_iters : int
        An int >= 1: the steps of the ramp.
    """

    def __init__(
        self,
        base_lr: float,
        start_factor: float = 1 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        _check_base_lr(base_lr, "LinearLR")
        check_number(start_factor, "start_factor", "LinearLR", low=0, high=1, low_open=True,
                     example="start_factor=0.1")  # fmt: skip
        check_number(end_factor, "end_factor", "LinearLR", low=0, high=1, example="end_factor=1.0")
        check_int(total_iters, "total_iters", "LinearLR", low=1, example="total_iters=5",
                    why=" (the ramp's length; 0 would divide by 0)")  # fmt: skip
        self.base_lr, self.total_iters = base_lr, total_iters
        self.start_factor, self.end_factor = start_factor, end_factor

    def __call__(self, t: int) -> float:
        check_int(t, "the step", type(self).__name__, low=0)
        progress = min(t, self.total_iters) / self.total_iters
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class SequentialLR:
    """One schedule after another: ``schedules[i]`` runs from ``milestones[i-1]``, restarted.

    At step ``t``, with ``i`` the number of milestones ``<= t``, the rate is
    ``schedules[i](t - milestones[i-1])`` (``schedules[0](t)`` before the first milestone).

    Parameters
    ----------
    schedules : sequence of Schedule
        At least one; each a callable of the step.
    milestones : sequence of int
        One fewer than ``schedules``: increasing ints >= 1, each > the one before (so that
        every schedule runs at least one step).
    """

    def __init__(self, schedules: Sequence[Schedule], milestones: Sequence[int]) -> None:
        _check_sequence(schedules, milestones)
        self.schedules, self.milestones = list(schedules), list(milestones)

    def __call__(self, t: int) -> float:
        check_int(t, "the step", type(self).__name__, low=0)
        i = bisect.bisect_right(self.milestones, t)
        start = self.milestones[i - 1] if i > 0 else 0
        return self.schedules[i](t - start)


class LRScheduler:
    """Drives an optimizer's learning rates by a schedule, one step at a time.

    On construction each group's ``lr`` is set to its rate at ``last_step``; each `step`,
    called after ``optimizer.step()``, advances ``t`` and sets each group's ``lr`` to its rate
    at ``t``. The schedule gives group 0's rate (the only group's, with one); every group keeps
    its ``initial_lr`` (its ``lr`` when first driven, kept by `Optimizer.state_dict` so a resumed
    run continues exactly) and follows the schedule rescaled to it, as PyTorch's schedulers
    do: a group whose initial rate is ``k`` times group 0's follows the schedule with its
    ``base_lr`` times ``k`` (``CosineAnnealingLR``'s ``eta_min`` kept, as PyTorch), and a
    schedule of your own times ``k``. With ``base_lr`` group 0's ``lr``, as usual, each group
    follows PyTorch's schedule from its own ``initial_lr``::

        opt = SGD([{"params": body}, {"params": head, "lr": 0.01}], lr=0.1)
        LRScheduler(opt, CosineAnnealingLR(0.1, T_max=100))   # body from 0.1, head from 0.01

    Parameters
    ----------
    optimizer : Optimizer
        Whose groups' ``lr`` to set.
    schedule : Schedule
        A callable of the step, giving finite rates >= 0.
    last_step : int
        An int >= 0: the steps already taken (``optimizer.steps`` when resuming).

    Raises
    ------
    TypeError
        An argument of the wrong type.
    ValueError
        ``last_step < 0``; group 0's initial rate is 0 but another's is not (no ratio to keep);
        or the schedule gives a rate that is NaN, infinite or negative (here or at a `step`;
        every group's ``lr`` is then left as it was).
    """

    def __init__(self, optimizer: Optimizer, schedule: Schedule, last_step: int = 0) -> None:
        _check_driven(optimizer, schedule)
        check_int(last_step, "last_step", "LRScheduler", low=0, example="last_step=optimizer.steps")
        initial = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
        lead = initial[0]
        for g, lr in enumerate(initial):
            if lead == 0 and lr != 0:
                raise ValueError(
                    f"LRScheduler: group 0's initial lr is 0 but group {g}'s is {lr}, so the "
                    "schedule, which gives group 0's rate, cannot be rescaled to it (each group "
                    "keeps its ratio to group 0): put a group whose lr is > 0 first"
                )
        self.optimizer, self.schedule, self.t = optimizer, schedule, last_step
        self.schedules = [_for_group(schedule, lead, lr) for lr in initial]
        rates = self._rates(last_step)
        for group, lr, rate in zip(optimizer.param_groups, initial, rates):
            group["initial_lr"], group["lr"] = lr, rate

    def _rates(self, t: int) -> list[float]:
        """Each group's rate at step ``t``, refused unless each is a finite number >= 0."""
        return [self._rate(schedule, t, g) for g, schedule in enumerate(self.schedules)]

    @staticmethod
    def _rate(schedule: Schedule, t: int, group: int) -> float:
        """``schedule(t)``, refused unless it is a finite number >= 0."""
        try:
            lr: object = schedule(t)
        except OverflowError:  # such as ExponentialLR with gamma > 1, after many steps
            lr = math.inf
        which = f" of param group {group}" if group else ""
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(
                f"LRScheduler: the schedule gave {type(lr).__name__} {lr!r} for step {t}{which}, "
                "but a learning rate must be a finite number >= 0; make the schedule return a "
                "float"
            )
        rate = float(lr)
        if not (math.isfinite(rate) and rate >= 0):
            raise ValueError(
                f"LRScheduler: the schedule gave the learning rate {lr!r} for step {t}{which}, "
                "but a learning rate must be a finite number >= 0; check the schedule's "
                "arguments (base_lr, gamma, factors, eta_min)"
            )
        return rate

    def step(self) -> None:
        rates = self._rates(self.t + 1)
        for group, rate in zip(self.optimizer.param_groups, rates):
            group["lr"] = rate
        self.t += 1

    def get_last_lr(self) -> float:
        """The learning rate set last: group 0's (every group's:
        ``[group["lr"] for group in optimizer.param_groups]``)."""
        return float(self.optimizer.lr)


def _for_group(schedule: Schedule, lead: float, lr: float) -> Schedule:
    """``schedule``, which gives the rate of group 0 (initial rate ``lead``), for a group whose
    initial rate is ``lr``: itself where ``lr == lead``; else the schedules of this module with
    ``base_lr`` times ``lr / lead`` (computed ``lr * (base_lr / lead)``, so that a ``base_lr``
    equal to ``lead`` gives exactly ``lr``, PyTorch's base), another callable times
    ``lr / lead``."""
    if lr == lead:
        return schedule
    if isinstance(schedule, SequentialLR):
        return SequentialLR([_for_group(s, lead, lr) for s in schedule.schedules],
                            schedule.milestones)  # fmt: skip
    if isinstance(schedule, (ConstantLR, StepLR, ExponentialLR, CosineAnnealingLR, LinearLR)):
        rescaled = copy.copy(schedule)
        rescaled.base_lr = lr * (schedule.base_lr / lead)
        return rescaled
    factor = lr / lead

    def rescaled_own(t: int) -> float:
        rate: object = schedule(t)  # not a number: left for LRScheduler to refuse, as it came
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
            return rate  # type: ignore[return-value]
        return float(rate) * factor

    return rescaled_own


def _check_sequence(schedules: Sequence[Schedule], milestones: Sequence[int]) -> None:
    """Refuse `SequentialLR`'s arguments unless ``schedules`` is a non-empty list of callables
    and ``milestones`` one fewer increasing ints >= 1."""
    example = "SequentialLR([warmup, cosine], milestones=[5])"
    given: tuple[object, object] = (schedules, milestones)  # what came, whatever it is
    if isinstance(given[0], str) or not isinstance(given[0], Sequence):
        raise TypeError(
            f"SequentialLR: schedules must be a list of schedules, got "
            f"{type(schedules).__name__}; pass e.g. {example}"
        )
    if isinstance(given[1], str) or not isinstance(given[1], Sequence):
        raise TypeError(
            f"SequentialLR: milestones must be a list of ints, got "
            f"{type(milestones).__name__} {milestones!r}; pass e.g. {example}"
        )
    if not schedules:
        raise ValueError(f"SequentialLR needs at least one schedule, got none; pass e.g. {example}")
    for i, schedule in enumerate(schedules):
        if not callable(schedule):
            raise TypeError(
                f"SequentialLR: schedules[{i}] must be a schedule (a callable of the step), "
                f"got {type(schedule).__name__}; pass e.g. {example}"
            )
    if len(milestones) != len(schedules) - 1:
        raise ValueError(
            f"SequentialLR needs one milestone fewer than schedules: got {len(schedules)} "
            f"schedules and {len(milestones)} milestones; give the step at which each "
            f"schedule after the first starts, e.g. {example}"
        )
    for i, milestone in enumerate(milestones):
        check_int(milestone, f"milestones[{i}]", "SequentialLR", low=1, example=example)
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ValueError(
            f"SequentialLR: milestones must be increasing, each > the one before, got "
            f"{list(milestones)}; pass the steps at which schedules[1:] start, in order, e.g. "
            "milestones=[5, 50]"
        )


def _check_driven(optimizer: Optimizer, schedule: Schedule) -> None:
    """Refuse (TypeError) an ``optimizer`` that is not an `Optimizer` or a ``schedule`` that is
    not callable."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"LRScheduler: optimizer must be an Optimizer, got {type(optimizer).__name__}; "
            "pass e.g. LRScheduler(SGD(model.parameters()), schedule)"
        )
    if not callable(schedule):
        raise TypeError(
            f"LRScheduler: schedule must be a callable of the step, got "
            f"{type(schedule).__name__}; pass e.g. CosineAnnealingLR(0.1, T_max=100)"
        )
