"""Optimizers and learning-rate schedules, as ``torch.optim``: `SGD`, `RMSprop`, `Adam` and
`AdamW` over the parameters of a model of either path, `clip_grad_norm`, and the schedules of
`lr_scheduler`."""

from .lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    SequentialLR,
    StepLR,
)
from .optimizers import SGD, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm

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
