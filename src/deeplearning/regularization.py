"""Layers that behave differently in training and evaluation mode: `Dropout` and
`BatchNorm1d` (``layer.train()`` / ``layer.eval()``); and `DropoutBase` and `BatchNormBase`,
what they hold on both paths. Their masks and running statistics use the kernels of
`functional`, shared with the autograd path."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ._types import RNG, Array
from .functional import check_dropout_probability, dropout_mask, update_running_stats
from .module import Module, Parameter
from .neural_net import Elementwise, Layer


class DropoutBase(Module):
    """What dropout holds on both paths: the probability ``p`` and the generator of its masks.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in [0, 1].
    rng : int, Generator or None
        Source of the masks. Pass the model's generator so that one seed fixes everything.
    """

    def __init__(self, p: float = 0.5, rng: RNG = None) -> None:
        super().__init__()
        check_dropout_probability(p)
        self.p = p
        self.rng = np.random.default_rng(rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(DropoutBase, Elementwise):
    """Inverted dropout: in training, zero each input with probability ``p`` and scale the rest
    by ``1 / (1 - p)``, so the expected output equals the input; in evaluation, the identity.

    ``y = x * mask``, ``mask = [u >= p] / (1 - p)`` with ``u ~ U[0, 1)`` per element;
    ``dL/dx = dout * mask``. Parameters: as `DropoutBase`.
    """

    def forward(self, x: Array) -> Array:
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self._local = np.ones_like(x)
            return x
        mask = dropout_mask(x.shape, self.p, self.rng, x.dtype)
        self._local = mask
        y: Array = x * mask
        return y


class BatchNormBase(Module):
    """What batch normalisation holds on both paths: the parameters ``weight`` (ones) and
    ``bias`` (zeros), the buffers ``running_mean`` (zeros) and ``running_var`` (ones), each of
    shape (num_features,), and the check of the input's shape.

    Parameters
    ----------
    num_features : int
        C, the features (channels) of each sample.
    eps : float
        Added to the variance for stability.
    momentum : float
        Weight of the current batch in the running statistics.
    dtype : dtype
        float32 by default.
    """

    running_mean: Array
    running_var: Array

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse an input that is not (N, num_features)."""
        if len(shape) != 2 or shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expected input of shape "
                f"(N, {self.num_features}) but got {shape}."
            )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(BatchNormBase, Layer):
    """Batch normalisation over the batch dimension of (N, C) inputs.

    Training mode, with the batch's mean ``mu`` and biased variance ``var`` per feature::

        x_hat = (x - mu) / sqrt(var + eps)          y = weight * x_hat + bias
        running statistics updated by `functional.update_running_stats`

    (PyTorch's conventions: ``momentum`` weighs the new value; the running variance is the
    unbiased one.) Evaluation mode uses ``running_mean`` and ``running_var`` instead of the
    batch's statistics, so a sample's output does not depend on its batch.

    Backward in training mode (derived in phase1.md), with ``g = dout * weight``::

        dL/dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)
        dL/dweight = sum(dout * x_hat)              dL/dbias = sum(dout)

    Parameters: as `BatchNormBase`.
    """

    _x_hat: Array | None = None  # what forward keeps for backward
    _inv_std: Array | None = None

    def forward(self, x: Array) -> Array:
        x = np.asarray(x, dtype=self.weight.dtype)
        self.check_input(x.shape)
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(
                    "BatchNorm1d needs more than one sample per batch in training mode to "
                    "estimate a variance; use a larger batch, or call model.eval() to predict."
                )
            mean, var = x.mean(axis=0), x.var(axis=0)
            update_running_stats(self.running_mean, self.running_var, mean, var, n, self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = (x - mean) * inv_std
        self._x_hat, self._inv_std = x_hat, inv_std
        y: Array = x_hat * self.weight.data + self.bias.data
        return y

    def backward(self, dout: Array) -> Array:
        x_hat, inv_std = self._saved(self._x_hat), self._saved(self._inv_std)
        dout = np.asarray(dout, dtype=self.weight.dtype)
        self._check_dout(dout, x_hat.shape)
        np.sum(dout * x_hat, axis=0, out=self.weight.grad)
        np.sum(dout, axis=0, out=self.bias.grad)
        g = dout * self.weight.data
        if not self.training:  # the statistics are constants: an affine map
            dx: Array = g * inv_std
            return dx
        dx = (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)) * inv_std
        return dx
