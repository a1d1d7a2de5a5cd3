"""Loss functions, where every backward pass starts: `MSELoss` and `CrossEntropyLoss` (softmax
fused), for a prediction ``z`` and targets ``t``::

    MSE, n elements:   L = Σ (z - t)² / n                     dL/dz = 2 (z - t) / n
    cross-entropy:     L = -(1/N) Σ_n log softmax(z_n)[t_n]    dL/dz = (softmax(z) - onehot(t)) / N

A loss is the end of the chain: ``forward(prediction, target)`` returns the loss as a Python
float and keeps what ``backward()`` needs; ``backward()`` takes no argument (dL/dL = 1) and
returns dL/d(prediction), with the prediction's shape and dtype.

Inputs are real numbers: floats keep their dtype; integer or boolean predictions become floats
(never truncated: ``MSELoss()(np.array([[1, 1]]), [[0.5, 0.5]])`` is 0.25); complex numbers,
strings and objects are refused with a TypeError. An empty batch is a ValueError, not a NaN
mean or a division by zero.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike

from ..core.kernels import log_softmax, nll_loss
from ..core.types import Array
from ..core.validation import as_real_array, check_nonempty_batch, check_targets

_T = TypeVar("_T")


class _Loss:
    """What every loss shares: a name for messages and the check that forward ran."""

    def _saved(self, value: _T | None) -> _T:
        if value is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward was called before forward: compute the loss "
                "with forward(prediction, target) first."
            )
        return value

    def __call__(self, prediction: Array, target: ArrayLike) -> float:
        return self.forward(prediction, target)

    def forward(self, prediction: Array, target: ArrayLike) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(_Loss):
    """Mean squared error over all elements.

    ``L = mean((prediction - target) ** 2)``;  ``dL/d(prediction) = 2 (prediction - target) / n``
    where ``n`` is the number of elements (at least one). ``prediction`` and ``target`` have the
    same shape.

    The loss is computed in the prediction's float dtype; integer or boolean predictions are
    converted to floats first (to the target's float dtype, or float32 if the target is not
    floating either), so integers are never truncated. Complex inputs are a TypeError.
    """

    def __init__(self) -> None:
        self._diff: Array | None = None

    def forward(self, prediction: Array, target: ArrayLike) -> float:
        who = type(self).__name__
        target = as_real_array(target, who)
        prediction = np.asarray(prediction)
        if prediction.dtype.kind != "f" and target.dtype.kind == "f":
            prediction = as_real_array(prediction, who, target.dtype)
        else:
            prediction = as_real_array(prediction, who)
        if prediction.shape != target.shape:
            raise ValueError(
                f"MSELoss expected prediction and target of the same shape but got "
                f"{prediction.shape} and {target.shape}. Reshape the target to match, e.g. "
                "target.reshape(prediction.shape)."
            )
        check_nonempty_batch(prediction.shape, who, "a prediction")
        diff = prediction - target.astype(prediction.dtype, copy=False)
        self._diff = diff
        return float(np.mean(diff * diff))

    def backward(self) -> Array:
        diff = self._saved(self._diff)
        grad: Array = diff * (2.0 / diff.size)
        return grad.astype(diff.dtype, copy=False)


class CrossEntropyLoss(_Loss):
    """Softmax followed by the negative log-likelihood, fused, averaged over the batch.

    ``logits`` has shape (N, C), N >= 1 and C >= 1: real floats (integers and booleans are
    converted to float32; complex numbers are a TypeError). ``targets`` is either integer class
    labels of shape (N,) with values in [0, C) (float or boolean labels are a TypeError, not
    rounded), or class probabilities of shape (N, C) whose rows sum to 1. NaN logits give a
    NaN loss (the trainer reports it as divergence); they are not hidden.

    With ``p = softmax(logits)`` and one-hot (or probability) targets ``t``::

        L = -(1/N) * sum_n sum_c t[n, c] * log p[n, c]
        dL/dlogits = (p * sum_c t[n, c] - t) / N      (= (p - t) / N when rows of t sum to 1)

    The log-probabilities come from `log_softmax`, so the loss and its gradient stay finite for
    logits of any magnitude.
    """

    def __init__(self) -> None:
        self._probs: Array | None = None
        self._targets: Array | None = None

    def forward(self, prediction: Array, target: ArrayLike) -> float:
        logits = as_real_array(prediction, type(self).__name__)
        targets = check_targets(type(self).__name__, logits, target)
        log_probs = log_softmax(logits)
        loss = nll_loss(log_probs, targets)
        with np.errstate(under="ignore"):
            self._probs = np.exp(log_probs)
        self._targets = targets
        return float(loss)

    def backward(self) -> Array:
        probs = self._saved(self._probs)
        targets = self._saved(self._targets)
        n = probs.shape[0]
        grad: Array
        with np.errstate(under="ignore"):  # tiny probabilities / n become 0, exactly
            if targets.ndim == 1:
                grad = probs.copy()
                grad[np.arange(n), targets] -= 1
            else:
                grad = probs * targets.sum(axis=1, keepdims=True) - targets
            grad /= n
        return grad
