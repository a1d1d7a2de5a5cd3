"""Layers that behave differently in training and evaluation mode: `Dropout`, `BatchNorm1d`
and `BatchNorm2d` (``layer.train()`` / ``layer.eval()``); and `DropoutBase` and `BatchNormBase`,
what they hold on both paths. Their masks and running statistics use the kernels of
`functional`, shared with the autograd path."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from ._types import RNG, Array, as_generator, float_dtype
from .autograd.functional import check_batch_norm_options
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
        self.rng = as_generator(rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(DropoutBase, Elementwise):
    """Inverted dropout: in training, zero each input with probability ``p`` and scale the rest
    by ``1 / (1 - p)``, so the expected output equals the input; in evaluation, the identity.

    ``y = x * mask``, ``mask = [u >= p] / (1 - p)`` with ``u ~ U[0, 1)`` per element;
    ``dL/dx = dout * mask``. Parameters: as `DropoutBase`.
    """

    def forward(self, x: Array) -> Array:
        x = self.as_input(x)
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
        C, the features (channels) of each sample: an int >= 1.
    eps : float
        Added to the variance for stability: a finite number > 0.
    momentum : float
        Weight of the current batch in the running statistics: in [0, 1] (0 keeps them, 1
        replaces them by the batch's; PyTorch's ``None``, a cumulative average, is not
        supported).
    dtype : dtype
        float32 by default.

    Raises
    ------
    TypeError
        ``num_features`` is not an int, or ``eps`` or ``momentum`` is not a number.
    ValueError
        ``num_features < 1``, ``eps`` not finite and > 0, or ``momentum`` outside [0, 1].
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
        where = type(self).__name__
        if isinstance(num_features, (bool, np.bool_)) or not isinstance(
            num_features, (int, np.integer)
        ):
            raise TypeError(
                f"{where}: num_features must be an int, got {type(num_features).__name__} "
                f"{num_features!r}; pass the channels of the input, e.g. {where}(64)"
            )
        if num_features < 1:
            raise ValueError(
                f"{where}: num_features must be an int >= 1, got {num_features}; pass the "
                f"channels of the input, e.g. {where}(64)"
            )
        check_batch_norm_options(eps, momentum, where)
        dtype = float_dtype(dtype, where)
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    image = False
    """Whether the input is images (N, C, H, W) (BatchNorm2d) rather than rows (N, C)."""

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse an input that is not (N, num_features) (or (N, num_features, H, W))."""
        if len(shape) != (4 if self.image else 2) or shape[1] != self.num_features:
            expected = f"(N, {self.num_features}{', H, W' if self.image else ''})"
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expected input of shape "
                f"{expected} but got {shape}."
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
        x = self.as_input(x, self.weight.dtype)
        self.check_input(x.shape)
        return self._normalize(x)

    def backward(self, dout: Array) -> Array:
        dout = np.asarray(dout, dtype=self.weight.dtype)
        self._check_dout(dout, self._saved(self._x_hat).shape)
        return self._normalize_backward(dout)

    def _normalize(self, x: Array) -> Array:
        """The forward pass on rows (M, C): each column normalised over the M rows."""
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(
                    f"{type(self).__name__} needs more than one value per channel in training "
                    "mode to estimate a variance; use a larger batch, or call model.eval() to "
                    "predict."
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

    def _normalize_backward(self, dout: Array) -> Array:
        """The backward pass on rows (M, C), as `_normalize`."""
        x_hat, inv_std = self._saved(self._x_hat), self._saved(self._inv_std)
        np.sum(dout * x_hat, axis=0, out=self.weight.grad)
        np.sum(dout, axis=0, out=self.bias.grad)
        g = dout * self.weight.data
        if not self.training:  # the statistics are constants: an affine map
            dx: Array = g * inv_std
            return dx
        dx = (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)) * inv_std
        return dx


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of images (N, C, H, W), per channel: `BatchNorm1d`'s formulas with
    each channel's statistics taken over N, H and W (its N H W values as the rows).

    Parameters: as `BatchNormBase`. Shape: (N, C, H, W) -> the same.
    """

    image = True
    _shape: tuple[int, ...] | None = None  # the last input's shape

    def forward(self, x: Array) -> Array:
        x = self.as_input(x, self.weight.dtype)
        self.check_input(x.shape)
        self._shape = x.shape
        return _from_rows(self._normalize(_to_rows(x)), x.shape)

    def backward(self, dout: Array) -> Array:
        dout = np.asarray(dout, dtype=self.weight.dtype)
        self._check_dout(dout, self._saved(self._shape))
        return _from_rows(self._normalize_backward(_to_rows(dout)), dout.shape)


def _to_rows(x: Array) -> Array:
    """Images (N, C, H, W) as rows (N H W, C): one row per pixel, one column per channel."""
    rows: Array = x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
    return rows


def _from_rows(rows: Array, shape: tuple[int, ...]) -> Array:
    """The inverse of `_to_rows`, for images of ``shape``."""
    n, c, h, w = shape
    images: Array = rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return images
