"""Functions on tensors, as ``torch.nn.functional``: every operation (`shapes`, `arithmetic`,
`elementwise`, `reductions`, `log_likelihood`, `convolution`), and the pieces of networks built
from them (``linear``, ``softmax``, ``cross_entropy``, ``dropout``, ``batch_norm``,
``layer_norm``, ``embedding``, ``conv2d``, ``max_pool2d``, ...). Import as
``from deeplearning.autograd import functional as F``.

Most are compositions of operations, so their backward passes come for free; `log_softmax`
and `nll_loss` are operations of their own (in `log_likelihood`), using the stable kernels the
layers use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..core import kernels
from ..core.init import as_generator
from ..core.tensor import Operand, Tensor
from ..core.types import Array
from ..core.validation import (
    as_indices,
    as_normalized_shape,
    check_batch_norm_options,
    check_dropout_probability,
    check_flag,
    check_normalized_input,
    check_number,
    check_targets,
)
from .arithmetic import (
    add,
    div,
    linear,
    matmul,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sub,
    where,
)
from .attention_ops import scaled_dot_product_attention
from .convolution import avg_pool2d, conv2d, max_pool2d
from .elementwise import abs, clip, exp, gelu, leaky_relu, log, relu, sigmoid, sqrt, tanh
from .log_likelihood import NLLLoss, log_softmax, nll_loss, softmax
from .ops import _operand
from .reductions import max, mean, min, sum, var
from .shapes import (
    broadcast_to,
    concatenate,
    flatten,
    getitem,
    reshape,
    squeeze,
    stack,
    sum_to,
    transpose,
    unsqueeze,
)

__all__ = [
    "abs",
    "add",
    "avg_pool2d",
    "batch_norm",
    "broadcast_to",
    "clip",
    "concatenate",
    "conv2d",
    "cross_entropy",
    "div",
    "dropout",
    "embedding",
    "exp",
    "flatten",
    "gelu",
    "getitem",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log",
    "log_softmax",
    "matmul",
    "max",
    "max_pool2d",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mse_loss",
    "mul",
    "neg",
    "nll_loss",
    "pow",
    "relu",
    "reshape",
    "scaled_dot_product_attention",
    "sigmoid",
    "softmax",
    "sqrt",
    "squeeze",
    "stack",
    "sub",
    "sum",
    "sum_to",
    "tanh",
    "transpose",
    "unsqueeze",
    "var",
    "where",
]


def cross_entropy(logits: Operand, target: ArrayLike) -> Tensor:
    """Softmax cross-entropy averaged over the batch: ``nll_loss(log_softmax(logits), target)``.

    ``logits`` (N, C); ``target`` integer labels (N,) in [0, C) or probabilities (N, C). Its
    gradient is ``(softmax(logits) - onehot(target)) / N``, as the layer `CrossEntropyLoss`.
    """
    logits = _operand(logits)
    targets = check_targets("cross_entropy", logits.data, target)
    return NLLLoss(targets)(log_softmax(logits, axis=1))


def mse_loss(prediction: Operand, target: Operand) -> Tensor:
    """Mean squared error over all elements: ``mean((prediction - target) ** 2)``."""
    prediction = _operand(prediction)
    target = _operand(target, prediction)
    if prediction.shape != target.shape:
        raise ValueError(
            f"mse_loss expected prediction and target of the same shape but got "
            f"{prediction.shape} and {target.shape}. Reshape the target to match."
        )
    diff = prediction - target
    return mean(diff * diff)


def dropout(
    x: Operand, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Inverted dropout: in training, ``x * mask`` with ``mask = [u >= p] / (1 - p)``, ``u ~
    U[0, 1)`` drawn from ``rng`` (the same kernel as the layer `Dropout`); the identity
    otherwise."""
    x = _operand(x)
    check_dropout_probability(p)
    check_flag(training, "training", "dropout")
    if not training or p == 0:
        return x
    generator = as_generator(rng)
    return x * kernels.dropout_mask(x.shape, p, generator, x.dtype)


def batch_norm(
    x: Operand,
    running_mean: Array | None,
    running_var: Array | None,
    weight: Operand | None = None,
    bias: Operand | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation of x (N, C) or (N, C, H, W), per channel C (as PyTorch's).

    In training, with the batch's mean and biased variance over every axis but C::

        x_hat = (x - mean) / sqrt(var + eps)        y = weight * x_hat + bias

    and the running statistics (if given) are updated in place (``momentum`` weighs the new
    value; the running variance is the unbiased one). In evaluation the running statistics
    replace the batch's. Composed of operations, so the engine derives the backward pass.

    ``eps`` must be a finite number > 0 and ``momentum`` a number in [0, 1]
    (`check_batch_norm_options`: a TypeError or ValueError otherwise, before any work).
    ``x`` must have a channel axis, and each of ``weight``, ``bias``, ``running_mean`` and
    ``running_var`` one value per channel, (C,): a ValueError otherwise; the running
    statistics are float arrays (they are updated in place), a TypeError otherwise.
    """
    check_batch_norm_options(eps, momentum, "batch_norm")
    check_flag(training, "training", "batch_norm")
    x = _operand(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm expected input of shape (N, C, ...) but got {x.shape}")
    channels = x.shape[1]
    _check_per_channel(
        x.shape, weight=weight, bias=bias, running_mean=running_mean, running_var=running_var
    )
    axes = (0, *range(2, x.ndim))
    shape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        n = x.size // channels
        if n < 2:
            raise ValueError(
                "batch_norm needs more than one value per channel in training mode to "
                "estimate a variance; use a larger batch, or evaluation mode to predict."
            )
        mean_ = mean(x, axes, keepdims=True)
        centred = x - mean_
        var_ = mean(centred * centred, axes, keepdims=True)
        if running_mean is not None and running_var is not None:
            kernels.update_running_stats(
                running_mean, running_var, mean_.data.reshape(channels),
                var_.data.reshape(channels), n, momentum,
            )  # fmt: skip
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in evaluation mode needs running_mean and running_var")
        centred = x - running_mean.reshape(shape)
        var_ = _operand(running_var.reshape(shape), x)
    y = centred / sqrt(var_ + eps)
    if weight is not None:
        y = y * reshape(_operand(weight, x), shape)
    if bias is not None:
        y = y + reshape(_operand(bias, x), shape)
    return y


def layer_norm(
    x: Operand,
    normalized_shape: int | tuple[int, ...],
    weight: Operand | None = None,
    bias: Operand | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalisation (as PyTorch's): each sample normalized over its last dimensions,
    ``normalized_shape``, by its own mean and biased variance::

        x_hat = (x - mean) / sqrt(var + eps)        y = weight * x_hat + bias

    with ``weight`` and ``bias`` (optional) of shape ``normalized_shape``. Composed of
    operations, so the engine derives the backward pass (the layer `LayerNorm` writes it).
    A ValueError if the input's last dimensions, or the parameters' shapes, are not
    ``normalized_shape``, or ``eps`` is not a finite number > 0.
    """
    shape = as_normalized_shape(normalized_shape, "layer_norm")
    check_number(eps, "eps", "layer_norm", low=0, low_open=True, example="eps=1e-5")
    x = _operand(x)
    check_normalized_input(x.shape, shape, "layer_norm")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and np.shape(value) != shape:
            raise ValueError(
                f"layer_norm expected {name} of shape {shape}, the normalized_shape, but got "
                f"{np.shape(value)}"
            )
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centred = x - mean(x, axes, keepdims=True)
    y = centred / sqrt(mean(centred * centred, axes, keepdims=True) + eps)
    if weight is not None:
        y = y * _operand(weight, x)
    if bias is not None:
        y = y + _operand(bias, x)
    return y


def embedding(indices: ArrayLike, weight: Operand) -> Tensor:
    """The rows of ``weight`` (V, D) at ``indices``, integers of any shape: (*, D) (as
    ``torch.nn.functional.embedding``, without its padding and norm options).

    It is indexing, ``weight[indices]`` (`getitem`), so the gradient of ``weight`` is the
    output's gradient added into the rows it came from (`IndexAdd`, repeated indices
    summed), zero elsewhere. A TypeError for indices that are not integers (a Tensor holds
    floats: pass a NumPy array), an IndexError for one outside [0, V).
    """
    if isinstance(indices, Tensor):
        raise TypeError(
            "embedding takes integer indices as a NumPy array (or a list of ints), not a "
            "Tensor, which holds floats: pass e.g. np.array([[1, 2]])"
        )
    weight = _operand(weight)
    if weight.ndim != 2:
        raise ValueError(
            f"embedding expected weight of shape (num_embeddings, embedding_dim) but got "
            f"{weight.shape}"
        )
    return getitem(weight, as_indices(indices, weight.shape[0], "embedding"))


def _check_per_channel(shape: tuple[int, ...], **values: Any) -> None:
    """Refuse a `batch_norm` argument that is not one value per channel of an input of
    ``shape`` (N, C, ...); a running statistic must also be a float array (updated in place).
    None (not given) passes."""
    for name, value in values.items():
        if value is None:
            continue
        if name.startswith("running_") and not (
            isinstance(value, np.ndarray) and value.dtype.kind == "f"
        ):
            raise TypeError(
                f"batch_norm expected {name} as a float NumPy array (it is updated in place) "
                f"but got {type(value).__name__}"
                f"{f' of dtype {value.dtype}' if isinstance(value, np.ndarray) else ''}"
            )
        if np.shape(value) != (shape[1],):
            raise ValueError(
                f"batch_norm expected {name} of shape ({shape[1]},), one value per channel of "
                f"the input {shape}, but got {np.shape(value)}"
            )
