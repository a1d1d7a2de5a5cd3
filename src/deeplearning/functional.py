"""Row-wise functions shared by layers and losses: stable `log_softmax` and `softmax`."""

from __future__ import annotations

import numpy as np

from ._types import Array


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
