"""Softmax and the log-likelihood, the end of a classifier, on the stable kernels the layers
use (`deeplearning.core.kernels`). Along ``axis``, with ``gy`` the gradient of the output:

- ``y = softmax(x) = exp(x) / sum(exp(x))``: ``gx = y * (gy - sum(gy * y))``;
- ``y = log_softmax(x) = x - log(sum(exp(x)))``: ``gx = gy - exp(y) * sum(gy)``;
- ``L = nll_loss(logp, t)``, the mean negative log-likelihood of a batch of N:
  ``L = -(1/N) sum_n logp[n, t_n]`` for class labels ``t`` (N,), so ``g = -gy/N`` at each
  ``(n, t_n)`` and 0 elsewhere; ``L = -(1/N) sum t * logp`` and ``g = -gy * t / N`` for class
  probabilities ``t`` (N, C). The targets are constants.

``cross_entropy`` (in `functional`) is ``nll_loss(log_softmax(logits))``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..core import kernels
from ..core.function import Function
from ..core.tensor import Grad, Operand, Tensor
from ..core.types import Array
from ..core.validation import check_targets
from .elementwise import exp
from .ops import _operand
from .reductions import sum


class SoftmaxFn(Function):
    """``y = softmax(x)`` along ``axis``; ``gx = y * (gy - sum(gy * y, axis))``."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Array) -> Array:
        return self.save_output(kernels.softmax(x, axis=self.axis))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        y = self.output()
        return (y * (gy - sum(gy * y, self.axis, keepdims=True)),)


def softmax(x: Operand, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed stably."""
    return SoftmaxFn(axis)(_operand(x))


class LogSoftmaxFn(Function):
    """``y = log_softmax(x)`` along ``axis``; ``gx = gy - exp(y) * sum(gy, axis)``."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Array) -> Array:
        return self.save_output(kernels.log_softmax(x, axis=self.axis))

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (gy - exp(self.output()) * sum(gy, self.axis, keepdims=True),)


def log_softmax(x: Operand, axis: int = -1) -> Tensor:
    """``log(softmax(x))`` along ``axis``, computed stably (log-sum-exp)."""
    return LogSoftmaxFn(axis)(_operand(x))


class NLLLoss(Function):
    """The mean negative log-likelihood of log-probabilities ``logp`` (N, C).

    With class labels ``t`` (N,): ``L = -(1/N) sum_n logp[n, t_n]``, so ``g = -gy/N`` at each
    ``(n, t_n)`` and 0 elsewhere. With class probabilities ``t`` (N, C):
    ``L = -(1/N) sum t * logp`` and ``g = -gy * t / N``. The targets are constants.
    """

    def __init__(self, targets: Array) -> None:
        self.targets = targets

    def forward(self, logp: Array) -> Array:
        return kernels.nll_loss(logp, self.targets)

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        logp = self.saved_inputs()[0]
        n = logp.shape[0]
        if self.targets.ndim == 1:
            weights = np.zeros(logp.shape, dtype=logp.dtype)
            weights[np.arange(n), self.targets] = -1 / n
        else:
            weights = self.targets * (-1 / n)
        return (gy * weights,)


def nll_loss(log_probs: Operand, target: ArrayLike) -> Tensor:
    """Mean negative log-likelihood of ``log_probs`` (N, C): class labels (N,) or class
    probabilities (N, C) as target."""
    log_probs = _operand(log_probs)
    return NLLLoss(check_targets("nll_loss", log_probs.data, target))(log_probs)
