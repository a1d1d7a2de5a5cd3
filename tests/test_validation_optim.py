"""Hyperparameters of the optimizers, schedules and BatchNorm are checked when they are built.

One table of bad calls, each with the exception and the message it must raise (a TypeError for
a wrong type, a ValueError for a wrong value; one line saying what was expected, what came and
what to pass), and one of edge values that must be accepted, as PyTorch accepts them.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

from deeplearning import Parameter
from deeplearning.autograd import functional as F
from deeplearning.autograd import nn
from deeplearning.layers.normalization import BatchNorm1d, BatchNorm2d
from deeplearning.optim import SGD, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm
from deeplearning.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    SequentialLR,
    StepLR,
)
from deeplearning.training.recipe import SCHEDULERS, Recipe

NAN, INF = math.nan, math.inf
OPTIMIZERS: list[type[Optimizer]] = [SGD, RMSprop, Adam, AdamW]


def params(n: int = 2) -> list[Parameter]:
    return [Parameter(np.zeros(3)) for _ in range(n)]


def sgd(**kwargs: Any) -> SGD:
    return SGD(params(), **kwargs)


def rmsprop(**kwargs: Any) -> RMSprop:
    return RMSprop(params(), **kwargs)


def adam(**kwargs: Any) -> Adam:
    return Adam(params(), **kwargs)


def twice() -> list[Parameter]:
    weight, bias = params()
    return [weight, bias, weight]


def load_nan_lr() -> None:
    optimizer = sgd(lr=0.1)
    state = optimizer.state_dict()
    state["lr"] = np.array(NAN)
    optimizer.load_state_dict(state)


def batch_norm(**kwargs: Any) -> None:
    x = np.random.default_rng(0).standard_normal((4, 3))
    F.batch_norm(x, np.zeros(3), np.ones(3), training=True, **kwargs)


def scheduler(schedule: Any, optimizer: Any = None, last_step: Any = 0) -> LRScheduler:
    return LRScheduler(sgd() if optimizer is None else optimizer, schedule, last_step)


# (id, the call, the exception, a regex its message must match)
Case = tuple[str, Callable[[], object], type[Exception], str]

LR_CASES: list[Case] = [
    case
    for cls in OPTIMIZERS
    for case in [
        (f"{cls.__name__} lr<0", lambda c=cls: c(params(), lr=-0.1), ValueError,
         rf"^{cls.__name__}: lr must be a finite number >= 0, got -0.1; pass e.g. lr=0.01$"),
        (f"{cls.__name__} lr=nan", lambda c=cls: c(params(), lr=NAN), ValueError,
         r"lr must be a finite number >= 0, got nan"),
        (f"{cls.__name__} lr=inf", lambda c=cls: c(params(), lr=INF), ValueError,
         r"lr must be a finite number >= 0, got inf"),
        (f"{cls.__name__} lr str", lambda c=cls: c(params(), lr="0.1"), TypeError,
         r"lr must be a real number \(int or float\), got str '0.1'; pass e.g. lr=0.01"),
        (f"{cls.__name__} lr bool", lambda c=cls: c(params(), lr=True), TypeError,
         r"lr must be a real number \(int or float\), got bool True"),
        (f"{cls.__name__} lr None", lambda c=cls: c(params(), lr=None), TypeError,
         r"lr must be a real number \(int or float\), got NoneType None"),
        (f"{cls.__name__} no parameters", lambda c=cls: c([]), ValueError,
         rf"^{cls.__name__}: optimizer got an empty parameter list; pass model.parameters\(\)"),
        (f"{cls.__name__} a parameter twice", lambda c=cls: c(twice()), ValueError,
         rf"^{cls.__name__}: params\[2\] is params\[0\] given again \(shape \(3,\)\), so each "
         r"step would update it twice; give each parameter once"),
    ]
]  # fmt: skip

PARAMS_CASES: list[Case] = [
    ("exhausted generator", lambda: SGD(iter([])), ValueError,
     r"optimizer got an empty parameter list; .*not an exhausted generator"),
    ("a single Parameter", lambda: SGD(params(1)[0]), TypeError,
     r"params must be an iterable of Parameters, got a single Parameter; "
     r"pass model.parameters\(\), or a list such as \[weight\]"),
    ("a set", lambda: SGD(set(params())), TypeError,
     r"params must be an ordered iterable of Parameters, got a set, whose order changes"),
    ("a dict (param groups)", lambda: SGD({"params": params()}), TypeError,
     r"got a dict \(parameter groups go in a list"),
    ("not iterable", lambda: SGD(5), TypeError,
     r"params must be an ordered iterable of Parameters, got int 5"),
    ("not a Parameter", lambda: SGD([*params(), np.zeros(3)]), TypeError,
     r"optimizer can only optimize Parameters, but params\[2\] is ndarray; "
     r"pass model.parameters\(\)"),
    ("named_parameters()", lambda: SGD(nn.Linear(2, 2).named_parameters()), TypeError,
     r"params\[0\] is tuple \(named_parameters\(\) yields \(name, parameter\) pairs\)"),
    ("the same one twice, adjacent", lambda: SGD([params(1)[0]] * 2), ValueError,
     r"params\[1\] is params\[0\] given again"),
]  # fmt: skip

SGD_CASES: list[Case] = [
    ("SGD momentum<0", lambda: sgd(momentum=-0.9), ValueError,
     r"^SGD: momentum must be a finite number >= 0, got -0.9; pass e.g. momentum=0.9$"),
    ("SGD momentum=nan", lambda: sgd(momentum=NAN), ValueError,
     r"momentum must be a finite number >= 0, got nan"),
    ("SGD momentum str", lambda: sgd(momentum="0.9"), TypeError,
     r"momentum must be a real number \(int or float\), got str '0.9'"),
    ("SGD momentum bool", lambda: sgd(momentum=True), TypeError,
     r"momentum must be a real number \(int or float\), got bool True"),
    ("SGD dampening<0", lambda: sgd(momentum=0.9, dampening=-0.1), ValueError,
     r"^SGD: dampening must be a finite number in \[0, 1\], got -0.1; pass e.g. dampening=0$"),
    ("SGD dampening>1", lambda: sgd(momentum=0.9, dampening=1.5), ValueError,
     r"dampening must be a finite number in \[0, 1\], got 1.5"),
    ("SGD dampening=nan", lambda: sgd(dampening=NAN), ValueError,
     r"dampening must be a finite number in \[0, 1\], got nan"),
    ("SGD weight_decay<0", lambda: sgd(weight_decay=-1e-4), ValueError,
     r"^SGD: weight_decay must be a finite number >= 0, got -0.0001; "
     r"pass e.g. weight_decay=1e-4$"),
    ("SGD weight_decay=nan", lambda: sgd(weight_decay=NAN), ValueError,
     r"weight_decay must be a finite number >= 0, got nan"),
    ("SGD weight_decay=inf", lambda: sgd(weight_decay=INF), ValueError,
     r"weight_decay must be a finite number >= 0, got inf"),
    ("SGD nesterov str", lambda: sgd(momentum=0.9, nesterov="yes"), TypeError,
     r"^SGD: nesterov must be True or False, got str 'yes'; pass nesterov=True or "
     r"nesterov=False$"),
    ("SGD nesterov without momentum", lambda: sgd(nesterov=True), ValueError,
     r"^SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum=0.0, "
     r"dampening=0.0; pass e.g. momentum=0.9, dampening=0, or nesterov=False$"),
    ("SGD nesterov with dampening", lambda: sgd(momentum=0.9, dampening=0.1, nesterov=True),
     ValueError, r"Nesterov momentum needs .*got momentum=0.9, dampening=0.1"),
]  # fmt: skip

RMSPROP_CASES: list[Case] = [
    ("RMSprop alpha<0", lambda: rmsprop(alpha=-0.1), ValueError,
     r"^RMSprop: alpha must be a finite number in \[0, 1\], got -0.1; pass e.g. alpha=0.99$"),
    ("RMSprop alpha>1", lambda: rmsprop(alpha=1.01), ValueError,
     r"alpha must be a finite number in \[0, 1\], got 1.01"),
    ("RMSprop alpha=nan", lambda: rmsprop(alpha=NAN), ValueError,
     r"alpha must be a finite number in \[0, 1\], got nan"),
    ("RMSprop eps=0", lambda: rmsprop(eps=0.0), ValueError,
     r"^RMSprop: eps must be a finite number > 0, got 0.0 \(eps = 0 divides 0 by 0 where a "
     r"gradient is 0\); pass e.g. eps=1e-8$"),
    ("RMSprop eps<0", lambda: rmsprop(eps=-1e-8), ValueError,
     r"eps must be a finite number > 0, got -1e-08"),
    ("RMSprop eps=nan", lambda: rmsprop(eps=NAN), ValueError,
     r"eps must be a finite number > 0, got nan"),
    ("RMSprop momentum<0", lambda: rmsprop(momentum=-0.5), ValueError,
     r"^RMSprop: momentum must be a finite number >= 0, got -0.5"),
    ("RMSprop weight_decay<0", lambda: rmsprop(weight_decay=-1.0), ValueError,
     r"^RMSprop: weight_decay must be a finite number >= 0, got -1.0"),
    ("RMSprop centered int", lambda: rmsprop(centered=1), TypeError,
     r"^RMSprop: centered must be True or False, got int 1"),
]  # fmt: skip

ADAM_CASES: list[Case] = [
    case
    for cls in (Adam, AdamW)
    for case in [
        (f"{cls.__name__} beta1=1", lambda c=cls: c(params(), betas=(1.0, 0.999)), ValueError,
         rf"^{cls.__name__}: betas\[0\] must be a finite number in \[0, 1\), got 1.0; "
         r"pass e.g. betas=\(0.9, 0.999\)$"),
        (f"{cls.__name__} beta1<0", lambda c=cls: c(params(), betas=(-0.1, 0.999)), ValueError,
         r"betas\[0\] must be a finite number in \[0, 1\), got -0.1"),
        (f"{cls.__name__} beta2=1", lambda c=cls: c(params(), betas=(0.9, 1.0)), ValueError,
         r"betas\[1\] must be a finite number in \[0, 1\), got 1.0"),
        (f"{cls.__name__} beta2=nan", lambda c=cls: c(params(), betas=(0.9, NAN)), ValueError,
         r"betas\[1\] must be a finite number in \[0, 1\), got nan"),
        (f"{cls.__name__} beta2 str", lambda c=cls: c(params(), betas=(0.9, "0.999")),
         TypeError, r"betas\[1\] must be a real number \(int or float\), got str '0.999'"),
        (f"{cls.__name__} betas a number", lambda c=cls: c(params(), betas=0.9), TypeError,
         rf"^{cls.__name__}: betas must be a pair \(beta1, beta2\), got float 0.9; "
         r"pass e.g. betas=\(0.9, 0.999\)$"),
        (f"{cls.__name__} betas of one", lambda c=cls: c(params(), betas=(0.9,)), TypeError,
         r"betas must be a pair \(beta1, beta2\), got tuple \(0.9,\)"),
        (f"{cls.__name__} betas str", lambda c=cls: c(params(), betas="ab"), TypeError,
         r"betas must be a pair \(beta1, beta2\), got str 'ab'"),
        (f"{cls.__name__} eps=0", lambda c=cls: c(params(), eps=0), ValueError,
         rf"^{cls.__name__}: eps must be a finite number > 0, got 0 \(eps = 0 divides 0 by 0"),
        (f"{cls.__name__} eps<0", lambda c=cls: c(params(), eps=-1e-8), ValueError,
         r"eps must be a finite number > 0, got -1e-08"),
        (f"{cls.__name__} eps=inf", lambda c=cls: c(params(), eps=INF), ValueError,
         r"eps must be a finite number > 0, got inf"),
        (f"{cls.__name__} weight_decay<0", lambda c=cls: c(params(), weight_decay=-0.01),
         ValueError, r"weight_decay must be a finite number >= 0, got -0.01"),
        (f"{cls.__name__} amsgrad str", lambda c=cls: c(params(), amsgrad="no"), TypeError,
         rf"^{cls.__name__}: amsgrad must be True or False, got str 'no'"),
    ]
]  # fmt: skip

CLIP_CASES: list[Case] = [
    ("clip max_norm=0", lambda: clip_grad_norm(params(), 0.0), ValueError,
     r"^clip_grad_norm: max_norm must be a finite number > 0, got 0.0 \(0 would zero every "
     r"gradient\); pass e.g. max_norm=1.0$"),
    ("clip max_norm<0", lambda: clip_grad_norm(params(), -1.0), ValueError,
     r"max_norm must be a finite number > 0, got -1.0"),
    ("clip max_norm=nan", lambda: clip_grad_norm(params(), NAN), ValueError,
     r"max_norm must be a finite number > 0, got nan"),
    ("clip max_norm=inf", lambda: clip_grad_norm(params(), INF), ValueError,
     r"max_norm must be a finite number > 0, got inf"),
    ("clip max_norm str", lambda: clip_grad_norm(params(), "1"), TypeError,
     r"max_norm must be a real number \(int or float\), got str '1'"),
    ("load_state_dict lr=nan", load_nan_lr, ValueError,
     r"^SGD.load_state_dict: the saved learning rate must be a finite number >= 0, got nan; "
     r"load the state of a run that did not diverge$"),
]  # fmt: skip

SCHEDULE_CASES: list[Case] = [
    ("ConstantLR base_lr<0", lambda: ConstantLR(-0.1), ValueError,
     r"^ConstantLR: base_lr must be a finite number >= 0, got -0.1; pass e.g. base_lr=0.1, "
     r"the optimizer's lr$"),
    ("ConstantLR base_lr=nan", lambda: ConstantLR(NAN), ValueError,
     r"base_lr must be a finite number >= 0, got nan"),
    ("ConstantLR base_lr str", lambda: ConstantLR("0.1"), TypeError,
     r"^ConstantLR: base_lr must be a real number \(int or float\), got str '0.1'"),
    ("ConstantLR factor>1", lambda: ConstantLR(0.1, factor=1.5), ValueError,
     r"^ConstantLR: factor must be a finite number in \[0, 1\], got 1.5; pass e.g. factor=0.5$"),
    ("ConstantLR factor<0", lambda: ConstantLR(0.1, factor=-0.5), ValueError,
     r"factor must be a finite number in \[0, 1\], got -0.5"),
    ("ConstantLR total_iters<0", lambda: ConstantLR(0.1, total_iters=-1), ValueError,
     r"^ConstantLR: total_iters must be an int >= 0, got -1; pass e.g. total_iters=5$"),
    ("ConstantLR total_iters float", lambda: ConstantLR(0.1, total_iters=2.5), TypeError,
     r"^ConstantLR: total_iters must be an int, got float 2.5"),
    ("ConstantLR total_iters bool", lambda: ConstantLR(0.1, total_iters=True), TypeError,
     r"total_iters must be an int, got bool True"),
    ("StepLR step_size=0", lambda: StepLR(0.1, step_size=0), ValueError,
     r"^StepLR: step_size must be an int >= 1, got 0; pass e.g. step_size=30$"),
    ("StepLR step_size<0", lambda: StepLR(0.1, step_size=-3), ValueError,
     r"step_size must be an int >= 1, got -3"),
    ("StepLR step_size float", lambda: StepLR(0.1, step_size=1.5), TypeError,
     r"step_size must be an int, got float 1.5"),
    ("StepLR gamma<0", lambda: StepLR(0.1, 10, gamma=-0.5), ValueError,
     r"^StepLR: gamma must be a finite number >= 0, got -0.5; pass e.g. gamma=0.1$"),
    ("StepLR gamma=nan", lambda: StepLR(0.1, 10, gamma=NAN), ValueError,
     r"gamma must be a finite number >= 0, got nan"),
    ("ExponentialLR gamma<0", lambda: ExponentialLR(0.1, gamma=-0.9), ValueError,
     r"^ExponentialLR: gamma must be a finite number >= 0, got -0.9; pass e.g. gamma=0.95$"),
    ("ExponentialLR gamma=inf", lambda: ExponentialLR(0.1, gamma=INF), ValueError,
     r"gamma must be a finite number >= 0, got inf"),
    ("ExponentialLR base_lr<0", lambda: ExponentialLR(-1.0, gamma=0.9), ValueError,
     r"^ExponentialLR: base_lr must be a finite number >= 0, got -1.0"),
    ("CosineAnnealingLR T_max=0", lambda: CosineAnnealingLR(0.1, T_max=0), ValueError,
     r"^CosineAnnealingLR: T_max must be an int >= 1, got 0; pass e.g. T_max=100, the steps "
     r"of the run$"),
    ("CosineAnnealingLR T_max<0", lambda: CosineAnnealingLR(0.1, T_max=-5), ValueError,
     r"T_max must be an int >= 1, got -5"),
    ("CosineAnnealingLR T_max float", lambda: CosineAnnealingLR(0.1, T_max=10.0), TypeError,
     r"T_max must be an int, got float 10.0"),
    ("CosineAnnealingLR eta_min<0", lambda: CosineAnnealingLR(0.1, 10, eta_min=-0.1),
     ValueError, r"^CosineAnnealingLR: eta_min must be a finite number >= 0, got -0.1"),
    ("CosineAnnealingLR eta_min=nan", lambda: CosineAnnealingLR(0.1, 10, eta_min=NAN),
     ValueError, r"eta_min must be a finite number >= 0, got nan"),
    ("LinearLR total_iters=0", lambda: LinearLR(0.1, total_iters=0), ValueError,
     r"^LinearLR: total_iters must be an int >= 1, got 0 \(the ramp's length; 0 would divide "
     r"by 0\); pass e.g. total_iters=5$"),
    ("LinearLR start_factor=0", lambda: LinearLR(0.1, start_factor=0.0), ValueError,
     r"^LinearLR: start_factor must be a finite number in \(0, 1\], got 0.0"),
    ("LinearLR start_factor>1", lambda: LinearLR(0.1, start_factor=1.5), ValueError,
     r"start_factor must be a finite number in \(0, 1\], got 1.5"),
    ("LinearLR end_factor<0", lambda: LinearLR(0.1, end_factor=-0.1), ValueError,
     r"^LinearLR: end_factor must be a finite number in \[0, 1\], got -0.1"),
    ("LinearLR end_factor=nan", lambda: LinearLR(0.1, end_factor=NAN), ValueError,
     r"end_factor must be a finite number in \[0, 1\], got nan"),
    ("StepLR before its first step", lambda: StepLR(0.1, 10)(-5), ValueError,
     r"^StepLR: the step must be an int >= 0, got -5$"),
    ("CosineAnnealingLR at a fractional step", lambda: CosineAnnealingLR(0.1, 10)(2.5),
     TypeError, r"^CosineAnnealingLR: the step must be an int, got float 2.5$"),
    ("ExponentialLR at no step", lambda: ExponentialLR(0.1, 0.9)(None), TypeError,
     r"^ExponentialLR: the step must be an int, got NoneType None$"),
    ("SequentialLR schedules as a string",
     lambda: SequentialLR("cosine", milestones=[5]), TypeError,  # type: ignore[arg-type]
     r"^SequentialLR: schedules must be a list of schedules, got str; pass e.g. "
     r"SequentialLR\(\[warmup, cosine\], milestones=\[5\]\)$"),
    ("SequentialLR equal milestones",
     lambda: SequentialLR([ConstantLR(0.1)] * 3, milestones=[5, 5]), ValueError,
     r"^SequentialLR: milestones must be increasing, each > the one before, got \[5, 5\]; "
     r"pass the steps at which schedules\[1:\] start, in order"),
    ("SequentialLR decreasing milestones",
     lambda: SequentialLR([ConstantLR(0.1)] * 3, milestones=[5, 2]), ValueError,
     r"milestones must be increasing, each > the one before, got \[5, 2\]"),
    ("SequentialLR milestone 0", lambda: SequentialLR([ConstantLR(0.1)] * 2, milestones=[0]),
     ValueError, r"^SequentialLR: milestones\[0\] must be an int >= 1, got 0"),
    ("SequentialLR milestone float",
     lambda: SequentialLR([ConstantLR(0.1)] * 2, milestones=[2.5]), TypeError,
     r"milestones\[0\] must be an int, got float 2.5"),
    ("SequentialLR milestones a number",
     lambda: SequentialLR([ConstantLR(0.1)] * 2, milestones=5), TypeError,
     r"^SequentialLR: milestones must be a list of ints, got int 5"),
    ("SequentialLR too many milestones",
     lambda: SequentialLR([ConstantLR(0.1)] * 2, milestones=[3, 6]), ValueError,
     r"^SequentialLR needs one milestone fewer than schedules: got 2 schedules and 2 "
     r"milestones; give the step at which each schedule after the first starts"),
    ("SequentialLR no schedule", lambda: SequentialLR([], milestones=[]), ValueError,
     r"^SequentialLR needs at least one schedule, got none"),
    ("SequentialLR not a schedule", lambda: SequentialLR([0.1, ConstantLR(0.1)], [5]),
     TypeError, r"^SequentialLR: schedules\[0\] must be a schedule \(a callable of the step\), "
     r"got float"),
    ("LRScheduler not an optimizer", lambda: scheduler(ConstantLR(0.1), optimizer="sgd"),
     TypeError, r"^LRScheduler: optimizer must be an Optimizer, got str"),
    ("LRScheduler not a schedule", lambda: scheduler(0.1), TypeError,
     r"^LRScheduler: schedule must be a callable of the step, got float"),
    ("LRScheduler last_step<0", lambda: scheduler(ConstantLR(0.1), last_step=-1), ValueError,
     r"^LRScheduler: last_step must be an int >= 0, got -1"),
    ("LRScheduler NaN rate", lambda: scheduler(lambda t: NAN), ValueError,
     r"^LRScheduler: the schedule gave the learning rate nan for step 0, but a learning rate "
     r"must be a finite number >= 0; check the schedule's arguments"),
    ("LRScheduler negative rate", lambda: scheduler(lambda t: -0.1, last_step=3), ValueError,
     r"the schedule gave the learning rate -0.1 for step 3"),
    ("LRScheduler str rate", lambda: scheduler(lambda t: "0.1"), TypeError,
     r"^LRScheduler: the schedule gave str '0.1' for step 0, but a learning rate must be a "
     r"finite number >= 0"),
]  # fmt: skip

BATCHNORM_CASES: list[Case] = [
    case
    for name, make in [
        ("BatchNorm1d", BatchNorm1d),
        ("BatchNorm2d", BatchNorm2d),
        ("BatchNorm1d", nn.BatchNorm1d),
        ("BatchNorm2d", nn.BatchNorm2d),
    ]
    for case in [
        (f"{make.__module__}.{name} momentum>1", lambda m=make: m(3, momentum=1.1), ValueError,
         rf"^{name}: momentum must be a number in \[0, 1\], got 1.1; pass e.g. momentum=0.1$"),
        (f"{make.__module__}.{name} momentum<0", lambda m=make: m(3, momentum=-0.1),
         ValueError, r"momentum must be a number in \[0, 1\], got -0.1"),
        (f"{make.__module__}.{name} momentum=nan", lambda m=make: m(3, momentum=NAN),
         ValueError, r"momentum must be a number in \[0, 1\], got nan"),
        (f"{make.__module__}.{name} momentum=None", lambda m=make: m(3, momentum=None),
         TypeError, rf"^{name}: momentum must be a real number \(int or float\), got NoneType "
         r"None \(the cumulative average, momentum=None, is not supported\)"),
        (f"{make.__module__}.{name} momentum str", lambda m=make: m(3, momentum="0.1"),
         TypeError, r"momentum must be a real number \(int or float\), got str '0.1'"),
        (f"{make.__module__}.{name} eps=0", lambda m=make: m(3, eps=0.0), ValueError,
         rf"^{name}: eps must be a finite number > 0, got 0.0; pass e.g. eps=1e-5$"),
        (f"{make.__module__}.{name} eps<0", lambda m=make: m(3, eps=-1e-5), ValueError,
         r"eps must be a finite number > 0, got -1e-05"),
        (f"{make.__module__}.{name} eps=nan", lambda m=make: m(3, eps=NAN), ValueError,
         r"eps must be a finite number > 0, got nan"),
        (f"{make.__module__}.{name} eps=inf", lambda m=make: m(3, eps=INF), ValueError,
         r"eps must be a finite number > 0, got inf"),
        (f"{make.__module__}.{name} num_features=0", lambda m=make: m(0), ValueError,
         rf"^{name}: num_features must be an int >= 1, got 0; pass e.g. {name}\(64\) for 64 "
         r"channels$"),
        (f"{make.__module__}.{name} num_features<0", lambda m=make: m(-3), ValueError,
         r"num_features must be an int >= 1, got -3"),
        (f"{make.__module__}.{name} num_features float", lambda m=make: m(3.0), TypeError,
         rf"^{name}: num_features must be an int, got float 3.0"),
        (f"{make.__module__}.{name} num_features bool", lambda m=make: m(True), TypeError,
         r"num_features must be an int, got bool True"),
    ]
] + [
    ("F.batch_norm momentum>1", lambda: batch_norm(momentum=1.5), ValueError,
     r"^batch_norm: momentum must be a number in \[0, 1\], got 1.5; pass e.g. momentum=0.1$"),
    ("F.batch_norm eps=0", lambda: batch_norm(eps=0.0), ValueError,
     r"^batch_norm: eps must be a finite number > 0, got 0.0"),
    ("F.batch_norm eps str", lambda: batch_norm(eps="1e-5"), TypeError,
     r"^batch_norm: eps must be a real number \(int or float\), got str '1e-5'"),
]  # fmt: skip

CASES: list[Case] = (
    LR_CASES + PARAMS_CASES + SGD_CASES + RMSPROP_CASES + ADAM_CASES + CLIP_CASES
    + SCHEDULE_CASES + BATCHNORM_CASES
)  # fmt: skip


@pytest.mark.parametrize(("call", "error", "pattern"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])  # fmt: skip
def test_bad_hyperparameters_are_refused_with_one_clear_line(
    call: Callable[[], object], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern) as caught:
        call()
    assert type(caught.value) is error  # a TypeError is not a ValueError, and the reverse
    assert "\n" not in str(caught.value)


def test_the_case_ids_are_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))


# (id, a call that must succeed): edge values PyTorch accepts, and numpy scalars
VALID: list[tuple[str, Callable[[], object]]] = [
    ("SGD lr=0.0", lambda: sgd(lr=0.0)),
    ("SGD lr=0 (an int)", lambda: sgd(lr=0)),
    ("SGD numpy lr", lambda: sgd(lr=np.float32(0.1))),
    ("SGD momentum=0, dampening=0", lambda: sgd(momentum=0.0, dampening=0.0)),
    ("SGD dampening=1", lambda: sgd(momentum=0.9, dampening=1.0)),
    ("SGD momentum>1 (as PyTorch)", lambda: sgd(momentum=1.5)),
    ("SGD nesterov", lambda: sgd(momentum=0.9, nesterov=True)),
    ("SGD numpy bool", lambda: sgd(momentum=0.9, nesterov=np.bool_(True))),
    ("SGD weight_decay=0", lambda: sgd(weight_decay=0)),
    ("SGD a generator", lambda: SGD(p for p in params())),
    ("SGD a tuple", lambda: SGD(tuple(params()))),
    ("RMSprop alpha=0", lambda: rmsprop(alpha=0.0)),
    ("RMSprop alpha=1", lambda: rmsprop(alpha=1.0)),
    ("RMSprop momentum=0", lambda: rmsprop(momentum=0.0, centered=True)),
    ("Adam lr=0", lambda: adam(lr=0.0)),
    ("Adam betas=(0, 0.999)", lambda: adam(betas=(0, 0.999))),
    ("Adam betas=(0, 0)", lambda: adam(betas=(0.0, 0.0))),
    ("Adam betas as a list", lambda: adam(betas=[0.9, 0.999])),
    ("Adam tiny eps", lambda: adam(eps=1e-30)),
    ("AdamW weight_decay=0", lambda: AdamW(params(), weight_decay=0.0)),
    ("clip tiny max_norm", lambda: clip_grad_norm(params(), 1e-12)),
    ("clip numpy max_norm", lambda: clip_grad_norm(params(), np.float64(1.0))),
    ("ConstantLR total_iters=0 (the recipe's)", lambda: ConstantLR(0.1, 1.0, total_iters=0)),
    ("ConstantLR factor=0", lambda: ConstantLR(0.1, factor=0.0)),
    ("ConstantLR base_lr=0", lambda: ConstantLR(0.0)),
    ("StepLR step_size=1, gamma=0", lambda: StepLR(0.1, step_size=1, gamma=0.0)),
    ("StepLR numpy step_size", lambda: StepLR(0.1, step_size=np.int64(3))),
    ("ExponentialLR gamma=1", lambda: ExponentialLR(0.1, gamma=1.0)),
    ("ExponentialLR gamma>1 (as PyTorch)", lambda: ExponentialLR(0.1, gamma=1.01)),
    ("CosineAnnealingLR T_max=1", lambda: CosineAnnealingLR(0.1, T_max=1)),
    ("CosineAnnealingLR eta_min>base_lr", lambda: CosineAnnealingLR(0.1, 10, eta_min=0.2)),
    ("LinearLR total_iters=1", lambda: LinearLR(0.1, start_factor=1.0, total_iters=1)),
    ("LinearLR end_factor=0", lambda: LinearLR(0.1, end_factor=0.0)),
    ("SequentialLR one schedule", lambda: SequentialLR([ConstantLR(0.1)], milestones=[])),
    ("SequentialLR milestone 1", lambda: SequentialLR([ConstantLR(0.1)] * 2, milestones=(1,))),
    ("LRScheduler resumed", lambda: scheduler(CosineAnnealingLR(0.1, 10), last_step=25)),
    ("LRScheduler int rate", lambda: scheduler(lambda t: 0)),
    ("BatchNorm1d momentum=0", lambda: BatchNorm1d(3, momentum=0.0)),
    ("BatchNorm1d momentum=1", lambda: BatchNorm1d(3, momentum=1)),
    ("BatchNorm2d numpy num_features", lambda: BatchNorm2d(np.int64(3), eps=1e-12)),
    ("nn.BatchNorm1d momentum=1", lambda: nn.BatchNorm1d(3, momentum=1.0)),
    ("F.batch_norm momentum=0", lambda: batch_norm(momentum=0.0)),
    ("F.batch_norm momentum=1", lambda: batch_norm(momentum=1.0, eps=1e-3)),
]  # fmt: skip


@pytest.mark.parametrize("call", [case[1] for case in VALID], ids=[case[0] for case in VALID])
def test_valid_edge_values_are_accepted(call: Callable[[], object]) -> None:
    call()


def test_lr_zero_leaves_the_parameters_as_pytorch_does() -> None:
    for cls in OPTIMIZERS:
        param = Parameter(np.ones(3))
        param.grad[...] = 1.0
        optimizer = cls([param], lr=0.0)
        optimizer.step()
        np.testing.assert_array_equal(param.data, np.ones(3))


def test_batchnorm_momentum_zero_keeps_and_one_replaces_the_running_statistics() -> None:
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32) * 2 + 5
    keep, replace = BatchNorm1d(3, momentum=0.0), BatchNorm1d(3, momentum=1.0)
    keep.forward(x)
    replace.forward(x)
    np.testing.assert_array_equal(keep.running_mean, np.zeros(3))
    np.testing.assert_array_equal(keep.running_var, np.ones(3))
    np.testing.assert_allclose(replace.running_mean, x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(replace.running_var, x.var(axis=0, ddof=1), rtol=1e-5)


def test_a_refused_optimizer_consumes_nothing() -> None:
    weights = params()
    given = iter(weights)
    with pytest.raises(ValueError, match="momentum"):
        SGD(given, momentum=-1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(given, betas=(1.0, 0.999))
    assert list(given) == weights


def test_a_refused_clip_leaves_the_gradients() -> None:
    weights = params()
    weights[0].grad[...] = 3.0
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(weights, 0.0)
    np.testing.assert_array_equal(weights[0].grad, [3.0, 3.0, 3.0])


def test_a_refused_rate_leaves_the_optimizer_and_the_step() -> None:
    optimizer = sgd(lr=0.1)
    driver = LRScheduler(optimizer, lambda t: 0.1 - 0.05 * t)  # negative from step 3
    driver.step()
    driver.step()
    assert optimizer.lr == pytest.approx(0.0) and driver.t == 2
    with pytest.raises(ValueError, match=r"learning rate -0.05\d* for step 3"):
        driver.step()
    assert optimizer.lr == pytest.approx(0.0) and driver.t == 2


def test_an_exponential_growth_that_overflows_is_refused_when_it_happens() -> None:
    optimizer = sgd(lr=0.1)
    driver = LRScheduler(optimizer, ExponentialLR(0.1, gamma=10.0), last_step=300)
    for _ in range(8):
        driver.step()
    assert optimizer.lr == pytest.approx(1e307)
    with pytest.raises(ValueError, match=r"learning rate inf for step 309"):
        driver.step()  # 10.0 ** 309 overflows


@pytest.mark.parametrize("scheduler_name", SCHEDULERS)
@pytest.mark.parametrize(("epochs", "warmup", "steps_per_epoch"),
                         [(1, 0, 1), (2, 1, 1), (3, 0, 2), (5, 2, 3), (3, 1, 469)])  # fmt: skip
def test_every_schedule_the_recipe_builds_is_valid(
    scheduler_name: str, epochs: int, warmup: int, steps_per_epoch: int
) -> None:
    recipe = Recipe(scheduler=scheduler_name, epochs=epochs, warmup=warmup)
    schedule = recipe.build_schedule(steps_per_epoch)
    optimizer = recipe.build_optimizer(nn.Linear(2, 2))
    driver = LRScheduler(optimizer, schedule)
    for _ in range(epochs * steps_per_epoch):
        assert math.isfinite(optimizer.lr) and optimizer.lr >= 0
        driver.step()


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam", "adamw"])
def test_every_optimizer_the_recipe_builds_is_valid(name: str) -> None:
    momentum = 0.0 if name in ("sgd", "rmsprop") else None
    for recipe in (Recipe(optimizer=name), Recipe(optimizer=name, momentum=momentum, lr=0.0)):
        recipe.build_optimizer(nn.Linear(2, 2))
