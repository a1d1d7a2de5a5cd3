"""The fully connected layer, `Linear`, for a batch ``x`` (N, in) and ``dout = dL/dy``::

    y = x @ W + b                 (N, out)
    dL/dW = xᵀ @ dout             (in, out)     a sum over the batch of outer products
    dL/db = Σ_n dout[n]           (out,)
    dL/dx = dout @ Wᵀ             (N, in)

A model's first layer skips the last product (`Linear.backward_params`): nobody needs dL/dx.
With ``bias=False`` there is no ``b``: ``y = x @ W``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ..core.init import he_normal
from ..core.module import Parameter
from ..core.types import RNG, Array
from ..core.validation import check_flag
from .layer import Layer


class Linear(Layer):
    """Fully connected layer: ``y = x @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and output sample.
    bias : bool
        Learn the bias ``b`` (True by default); False: ``y = x @ W``, and no ``b`` at all.
    rng : int, Generator or None
        Seed or generator for the He (Kaiming) normal initialisation
        ``W ~ N(0, 2 / in_features)`` (`he_normal`); ``b = 0``. None draws from NumPy's
        global random state, so ``np.random.seed`` makes it repeatable.
    dtype : dtype
        float32 by default; float64 for gradient checks. The input is converted to it
        (integers and booleans included); complex input is a TypeError.

    Notes
    -----
    Shapes: ``x`` (N, in_features) -> ``y`` (N, out_features); the parameters ``W``
    (in_features, out_features) and ``b`` (out_features,), with their gradients in ``W.grad``
    and ``b.grad`` (also ``dL_dW`` and ``dL_db``, the seed's names for the same arrays).

    Backward, with ``dout = dL/dy``::

        dL/dW = x.T @ dout        dL/db = sum over the batch of dout        dL/dx = dout @ W.T
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        check_flag(bias, "bias", "Linear")
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.W = Parameter(he_normal(in_features, out_features, rng, dtype))
        self.b = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None
        self._x: Array | None = None

    def forward(self, x: Array) -> Array:
        x = self.as_input(x, self.W.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features} -> {self.out_features}) expected input of shape "
                f"(N, {self.in_features}) but got {x.shape}. Flatten each sample to "
                f"{self.in_features} features, e.g. x.reshape(len(x), -1)."
            )
        self._x = x
        self.W.used_by(self)
        out: Array = x @ self.W.data
        if self.b is not None:
            self.b.used_by(self)
            out += self.b.data
        return out

    def backward_params(self, dout: Array) -> None:
        x = self._saved(self._x)
        dout = np.asarray(dout, dtype=self.W.dtype)
        self._check_dout(dout, (x.shape[0], self.out_features))
        self.W.grad_written(np.matmul(x.T, dout, out=self.W.grad_out()))
        if self.b is not None:
            self.b.grad_written(dout.sum(axis=0, out=self.b.grad_out()))

    def backward(self, dout: Array) -> Array:
        self.backward_params(dout)
        dx: Array = np.asarray(dout, dtype=self.W.dtype) @ self.W.data.T
        return dx

    @property
    def dL_dW(self) -> Array:
        """The seed's name for ``W.grad``: dL/dW of the last backward pass (the same array)."""
        return self.W.grad

    @property
    def dL_db(self) -> Array:
        """The seed's name for ``b.grad``: dL/db of the last backward pass (the same array)."""
        if self.b is None:
            raise AttributeError("this Linear was built with bias=False: it has no b")
        return self.b.grad

    def extra_repr(self) -> str:
        bias = "" if self.b is not None else ", bias=False"
        return f"in_features={self.in_features}, out_features={self.out_features}{bias}"
