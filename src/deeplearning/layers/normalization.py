"""Normalisation on the layer path: `BatchNorm1d` over rows (N, C) and `BatchNorm2d` over
images (N, C, H, W), per channel; `LayerNorm` per sample. In training mode, with the batch's
mean ``μ`` and biased variance ``σ²`` per channel and ``g = dout * weight``::

    x̂ = (x - μ) / sqrt(σ² + eps)          y = weight * x̂ + bias
    dL/dx = (g - mean(g) - x̂ mean(g x̂)) / sqrt(σ² + eps)
    dL/dweight = Σ dout x̂                 dL/dbias = Σ dout

In evaluation mode ``μ`` and ``σ²`` are the running statistics (`core.kernels`), constants,
so the layer is affine. What it holds on both paths is `core.bases.BatchNormBase`'s.

`LayerNorm` applies the same formulas to each sample alone: ``μ`` and ``σ²`` are the sample's
own, over its last dimensions (``normalized_shape``, M values), the same in training and
evaluation; the means of the backward pass are over those M values, and the parameter
gradients sum over the leading dimensions instead. What it holds is
`core.bases.LayerNormBase`'s.
"""

from __future__ import annotations

import numpy as np

from ..core.bases import BatchNormBase, LayerNormBase
from ..core.kernels import layer_norm, update_running_stats
from ..core.types import Array
from .layer import Layer


class BatchNorm1d(BatchNormBase, Layer):
    """Batch normalisation over the batch dimension of (N, C) inputs.

    Training mode, with the batch's mean ``mu`` and biased variance ``var`` per feature::

        x_hat = (x - mu) / sqrt(var + eps)          y = weight * x_hat + bias
        running statistics updated by `core.kernels.update_running_stats`

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
        x = self.as_input(x, self.weight.dtype)
        self.check_input(x.shape)
        return self._normalize(x)

    def backward(self, dout: Array) -> Array:
        dout = np.asarray(dout, dtype=self.weight.dtype)
        self._check_dout(dout, self._saved(self._x_hat).shape)
        return self._normalize_backward(dout)

    axes: tuple[int, ...] = (0,)
    """The axes each channel's statistics are taken over: the batch's (images: and H, W)."""

    def _per_channel(self, values: Array, ndim: int) -> Array:
        """A (C,) array shaped to broadcast along axis 1 of an ``ndim``-dimensional input."""
        return values.reshape((1, -1) + (1,) * (ndim - 2))

    def _normalize(self, x: Array) -> Array:
        """The forward pass: each channel normalised over `axes`, in place in the layout the
        input has (no copy into rows: the sums run over the axes directly)."""
        self.weight.used_by(self)
        self.bias.used_by(self)
        if self.training:
            n = x.size // x.shape[1]
            if n < 2:
                raise ValueError(
                    f"{type(self).__name__} needs more than one value per channel in training "
                    "mode to estimate a variance; use a larger batch, or call model.eval() to "
                    "predict."
                )
            mean, var = x.mean(axis=self.axes), x.var(axis=self.axes)
            update_running_stats(self.running_mean, self.running_var, mean, var, n, self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = self._per_channel(1 / np.sqrt(var + self.eps), x.ndim)
        x_hat = (x - self._per_channel(mean, x.ndim)) * inv_std
        self._x_hat, self._inv_std = x_hat, inv_std
        weight, bias = (self._per_channel(p.data, x.ndim) for p in (self.weight, self.bias))
        y: Array = x_hat * weight + bias
        return y

    def _normalize_backward(self, dout: Array) -> Array:
        """The backward pass, as `_normalize`: means and sums over `axes`."""
        x_hat, inv_std = self._saved(self._x_hat), self._saved(self._inv_std)
        axes = self.axes
        self.weight.grad_written(np.sum(dout * x_hat, axis=axes, out=self.weight.grad_out()))
        self.bias.grad_written(np.sum(dout, axis=axes, out=self.bias.grad_out()))
        g = dout * self._per_channel(self.weight.data, dout.ndim)
        if not self.training:  # the statistics are constants: an affine map
            dx: Array = g * inv_std
            return dx
        mean_g = g.mean(axis=axes, keepdims=True)
        mean_gx = (g * x_hat).mean(axis=axes, keepdims=True)
        dx = (g - mean_g - x_hat * mean_gx) * inv_std
        return dx


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of images (N, C, H, W), per channel: `BatchNorm1d`'s formulas with
    each channel's statistics taken over N, H and W (`axes`).

    Parameters: as `BatchNormBase`. Shape: (N, C, H, W) -> the same.
    """

    image = True
    axes = (0, 2, 3)
    _shape: tuple[int, ...] | None = None  # the last input's shape

    def forward(self, x: Array) -> Array:
        x = self.as_input(x, self.weight.dtype)
        self.check_input(x.shape)
        self._shape = x.shape
        return self._normalize(x)

    def backward(self, dout: Array) -> Array:
        dout = np.asarray(dout, dtype=self.weight.dtype)
        self._check_dout(dout, self._saved(self._shape))
        return self._normalize_backward(dout)


class LayerNorm(LayerNormBase, Layer):
    """Layer normalisation (Ba et al., 2016): each sample normalized over its last dimensions
    (``normalized_shape``) by its own mean ``mu`` and biased variance ``var``::

        x_hat = (x - mu) / sqrt(var + eps)          y = weight * x_hat + bias

    with no running statistics: training and evaluation compute the same. Backward, with
    ``g = dout * weight`` (``dout`` without a weight) and the means over the normalized
    dimensions, as `BatchNorm1d`'s over the batch::

        dL/dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)
        dL/dweight = sum(dout * x_hat)              dL/dbias = sum(dout)

    the sums over the leading dimensions (every sample). Parameters: as `LayerNormBase`
    (PyTorch's). Shape: (*, *normalized_shape) -> the same.
    """

    _x_hat: Array | None = None  # what forward keeps for backward
    _inv_std: Array | None = None

    def forward(self, x: Array) -> Array:
        x = self.as_input(x, self.dtype)
        self.check_input(x.shape)
        x_hat, inv_std = layer_norm(x, self.normalized_axes(x.ndim), self.eps)
        self._x_hat, self._inv_std = x_hat, inv_std
        y: Array = x_hat
        if self.weight is not None:
            self.weight.used_by(self)
            y = y * self.weight.data
        if self.bias is not None:
            self.bias.used_by(self)
            y = y + self.bias.data
        return y

    def backward(self, dout: Array) -> Array:
        x_hat, inv_std = self._saved(self._x_hat), self._saved(self._inv_std)
        dout = np.asarray(dout, dtype=self.dtype)
        self._check_dout(dout, x_hat.shape)
        axes = self.normalized_axes(dout.ndim)
        leading = tuple(range(axes[0]))  # the samples
        g = dout
        if self.weight is not None:
            self.weight.grad_written(np.sum(dout * x_hat, leading, out=self.weight.grad_out()))
            g = dout * self.weight.data
        if self.bias is not None:
            self.bias.grad_written(np.sum(dout, leading, out=self.bias.grad_out()))
        mean_g, mean_gx = g.mean(axes, keepdims=True), (g * x_hat).mean(axes, keepdims=True)
        dx: Array = (g - mean_g - x_hat * mean_gx) * inv_std
        return dx
