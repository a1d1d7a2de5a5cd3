"""Array kernels shared by both paths (the layers and the autograd engine), so that each
numerically delicate formula is written once: stable `log_softmax`, `softmax` and `sigmoid`,
Leaky ReLU's slope, dropout masks and BatchNorm's running statistics."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from .types import Array


def log_softmax(z: Array, axis: int = -1) -> Array:
    """Numerically stable ``log(softmax(z))`` along ``axis``.

    Uses the log-sum-exp trick: with ``m = max(z)``,
    ``log_softmax(z) = z - m - log(sum(exp(z - m)))``. Every ``z - m`` is <= 0, so ``exp``
    cannot overflow, and the largest term is exp(0) = 1, so the log never sees 0.
    """
    shifted = z - z.max(axis=axis, keepdims=True)
    # exp of a very negative number underflows to 0, which is then the exact answer.
    with np.errstate(under="ignore"):
        sum_exp = np.exp(shifted).sum(axis=axis, keepdims=True)
    out: Array = shifted - np.log(sum_exp)
    return out


def softmax(z: Array, axis: int = -1) -> Array:
    """Numerically stable ``softmax(z) = exp(z) / sum(exp(z))`` along ``axis``."""
    with np.errstate(under="ignore"):
        out: Array = np.exp(log_softmax(z, axis=axis))
    return out


def nll_loss(log_probs: Array, targets: Array) -> Array:
    """Mean negative log-likelihood, as a 0-d array of ``log_probs``' dtype.

    ``log_probs`` (N, C); ``targets`` class labels (N,), giving ``-(1/N) sum_n log_probs[n,
    t_n]``, or class probabilities (N, C), giving ``-(1/N) sum t * log_probs``.
    """
    n = log_probs.shape[0]
    if targets.ndim == 1:
        total = log_probs[np.arange(n), targets].sum()
    else:
        total = np.sum(targets * log_probs)
    return np.asarray(-total / n, dtype=log_probs.dtype)


def sigmoid(x: Array) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, stable for any ``x``.

    Computed as ``1 / (1 + exp(-x))`` for x >= 0 and ``exp(x) / (1 + exp(x))`` for x < 0, so
    ``exp`` only ever sees ``-|x|`` and cannot overflow, whatever the magnitude of x.
    """
    # exp(-|x|) may underflow to 0 for |x| > ~700 (float64); 0 is then the exact answer.
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(x))
    out: Array = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out


def leaky_relu_slope(x: Array, negative_slope: float) -> Array:
    """Leaky ReLU's derivative ``1 if x > 0 else negative_slope``, in ``x``'s dtype;
    ``leaky_relu(x) = x * slope``."""
    return np.where(x > 0, 1, negative_slope).astype(x.dtype)


def dropout_mask(
    shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype: DTypeLike
) -> Array:
    """Inverted dropout's mask: ``[u >= p] / (1 - p)`` with ``u ~ U[0, 1)`` per element (all
    zeros for p = 1), so that ``x * mask`` keeps the expected value of ``x``."""
    keep = rng.random(shape, dtype=np.float32 if np.dtype(dtype) == np.float32 else np.float64)
    scale = 1 / (1 - p) if p < 1 else 0.0
    mask: Array = ((keep >= p) * scale).astype(dtype)
    return mask


def update_running_stats(
    running_mean: Array, running_var: Array, mean: Array, var: Array, n: int, momentum: float
) -> None:
    """BatchNorm's running statistics, in place, with PyTorch's conventions::

        running_mean <- (1 - momentum) * running_mean + momentum * mean
        running_var  <- (1 - momentum) * running_var  + momentum * var * n / (n - 1)

    ``var`` is the batch's biased variance over ``n`` values per feature; the running one is
    the unbiased estimate.
    """
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += momentum * var * (n / (n - 1))
