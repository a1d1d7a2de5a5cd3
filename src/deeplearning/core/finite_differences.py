"""Numerical gradients by central differences, and the relative error used to compare them
with a backward pass: the check both paths are held to (`deeplearning.layers.check_layer` for a
layer, `deeplearning.autograd.gradcheck` for engine operations)::

    layer = Linear(5, 3, rng=0, dtype=np.float64)
    x, dout = np.random.randn(4, 5), np.random.randn(4, 3)
    layer.forward(x)
    analytic = layer.backward(dout)
    numeric = numerical_gradient(lambda: layer.forward(x), x, dout)
    relative_error(analytic, numeric)   # ~1e-10

Work in float64: with float32 the rounding error of each difference swamps the signal.
"""

from __future__ import annotations

from typing import Callable, Union

import numpy as np

from .types import Array
from .validation import check_number

Objective = Callable[[], Union[float, Array]]


def numerical_gradient(
    f: Objective, x: Array, dout: Array | None = None, eps: float = 1e-6
) -> Array:
    """Gradient of a scalar objective with respect to ``x``, by central differences.

    The objective is ``L = f()`` when ``f`` returns a number, and ``L = sum(f() * dout)`` when it
    returns an array, so that dL/d(output) = ``dout``, as in a ``backward(dout)`` call. ``f``
    must read ``x`` (a closure over it); each entry is nudged in place and restored::

        dL/dx[i] ~= (L(x[i] + eps) - L(x[i] - eps)) / (2 eps)      error O(eps**2)

    Parameters
    ----------
    f : callable
        Takes no argument; returns a float, or an array shaped like ``dout``.
    x : ndarray
        The float64 array to differentiate with respect to (an input or a ``Parameter.data``).
    dout : ndarray, optional
        Upstream gradient for an array-valued ``f``.
    eps : float
        The step.

    Returns
    -------
    ndarray
        dL/dx, same shape as ``x``.
    """
    check_number(eps, "eps", "numerical_gradient", low=0, low_open=True, example="eps=1e-6",
                 why=" (the step of the central difference)")  # fmt: skip
    if not isinstance(x, np.ndarray):
        raise TypeError(f"numerical_gradient needs x as a float64 ndarray, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(
            f"numerical gradients need float64 arrays but x has dtype {x.dtype}: build the "
            "layer with dtype=np.float64 and pass float64 inputs."
        )

    def objective() -> float:
        value = f()
        return float(np.sum(value * dout)) if dout is not None else float(np.sum(value))

    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = objective()
        x[index] = original - eps
        minus = objective()
        x[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic: Array, numeric: Array) -> float:
    """Largest entrywise difference, relative to the largest gradient entry.

    ``max |a - n| / max(max |a|, max |n|)``; 0 when both are all zeros. Scaling by the largest
    entry, rather than entry by entry, keeps entries that are (nearly) zero in both from
    turning rounding noise into a large relative error. Below ~1e-7 in float64 means the
    analytic gradient is right; around 1e-2 or more means it is wrong. A gradient that is zero
    as a whole in theory (the bias of a Linear layer followed by BatchNorm) has no scale to
    compare against: check that it is ~0 instead.
    """
    if analytic.shape != numeric.shape:
        raise ValueError(
            f"gradients of different shapes: analytic {analytic.shape}, numeric {numeric.shape}"
        )
    scale = max(
        float(np.max(np.abs(analytic), initial=0)), float(np.max(np.abs(numeric), initial=0))
    )
    if scale == 0:
        return 0.0
    return float(np.max(np.abs(analytic - numeric))) / scale
