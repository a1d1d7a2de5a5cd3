"""Optimizers and learning-rate schedules, as ``torch.optim``: `SGD`, `RMSprop`, `Adam` and
`AdamW` over the parameters of a model of either path (one file each, opening with its update;
their base `Optimizer` in `optimizer`), in parameter groups as PyTorch's (`groups`),
`clip_grad_norm` (`clip`), and the schedules of `lr_scheduler`."""

from .adam import Adam, AdamW
from .clip import clip_grad_norm
from .lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    SequentialLR,
    StepLR,
)
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "ConstantLR",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearLR",
    "Optimizer",
    "RMSprop",
    "SequentialLR",
    "StepLR",
    "clip_grad_norm",
]
