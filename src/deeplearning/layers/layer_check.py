"""`check_layer`: a layer's hand-written backward pass against numerical gradients, for its
input and every parameter, in one call::

    check_layer(Linear(5, 3, rng=0, dtype=np.float64), np.random.randn(4, 5))
    # {'input': 2.1e-10, 'W': 1.7e-10, 'b': 9.5e-11}

Work in float64: with float32 the rounding error of each difference swamps the signal.
"""

from __future__ import annotations

import numpy as np

from ..core.finite_differences import numerical_gradient, relative_error
from ..core.types import RNG, Array
from .layer import Layer


def check_layer(
    layer: Layer, x: Array, dout: Array | None = None, rng: RNG = 0
) -> dict[str, float]:
    """Compare a layer's ``backward`` with numerical gradients, for its input and parameters.

    Parameters
    ----------
    layer : Layer
        A layer (or model) built with float64 parameters whose forward is deterministic.
    x : ndarray
        A float64 input batch; or integers, indices (an `Embedding`'s input), which are no
        numbers to differentiate: then only the parameters are checked.
    dout : ndarray, optional
        dL/d(output); random normal (from ``rng``) if not given.
    rng : int, Generator or None
        Source of the random ``dout``.

    Returns
    -------
    dict
        ``{"input": error, "<parameter name>": error, ...}`` from `relative_error` (no
        ``"input"`` for indices).
    """
    indices = np.asarray(x).dtype.kind in "iu"
    x = np.array(x, dtype=None if indices else np.float64)
    out = layer.forward(x)
    if dout is None:
        dout = np.random.default_rng(rng).standard_normal(out.shape)
    analytic, wrt = {}, {}
    if indices:
        layer.backward_params(dout)
    else:
        analytic["input"], wrt["input"] = layer.backward(dout), x
    analytic.update((name, param.grad.copy()) for name, param in layer.named_parameters())
    wrt.update((name, param.data) for name, param in layer.named_parameters())
    errors = {}
    for name, array in wrt.items():
        numeric = numerical_gradient(lambda: layer.forward(x), array, dout)
        errors[name] = relative_error(analytic[name], numeric)
    return errors
