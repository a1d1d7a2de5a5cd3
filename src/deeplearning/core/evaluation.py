"""A classifier's predictions, accuracy and loss, on either path (`Module.infer`): `predict`,
`evaluate` and `loss_and_accuracy`, computed in evaluation mode and in batches."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .kernels import log_softmax, nll_loss
from .module import Module
from .types import Array
from .validation import check_class_labels, check_int


def predict(model: Module, x: ArrayLike, batch_size: int = 1000) -> Array:
    """Predicted labels (N,), int64: the argmax of the logits, computed in evaluation mode
    (Dropout off, BatchNorm on its running statistics) and in batches to bound memory (a
    convolution's im2col grows with the batch), on either path (`Module.infer`). The model's
    mode is restored afterwards."""
    labels: Array = _logits(model, x, batch_size, "predict").argmax(axis=1).astype(np.int64)
    return labels


def evaluate(model: Module, x: ArrayLike, y: ArrayLike, batch_size: int = 1000) -> float:
    """Accuracy in [0, 1]: the fraction of samples whose predicted label equals ``y``."""
    labels = _labels(y, "evaluate")
    predictions = predict(model, x, batch_size)
    _check_one_each(labels, len(predictions), "evaluate")
    return float(np.mean(predictions == labels))


def loss_and_accuracy(
    model: Module, x: ArrayLike, y: ArrayLike, batch_size: int = 1000
) -> tuple[float, float]:
    """The mean cross-entropy of the model's logits against the labels ``y``, and the accuracy
    in [0, 1], from one pass over ``x`` (each sample's logits give both), as `predict` runs it.
    `fit` reports them as the test loss and test accuracy.

    The loss is ``-(1/N) sum_n log softmax(z_n)[y_n]``, computed in float64 whatever the
    model's dtype.

    Raises
    ------
    TypeError
        If the labels are not integers.
    ValueError
        If there is not one label per sample, or a label is not one of the model's classes.
    """
    labels = _labels(y, "loss_and_accuracy")
    logits = _logits(model, x, batch_size, "loss_and_accuracy")
    _check_one_each(labels, len(logits), "loss_and_accuracy")
    check_class_labels(labels, logits.shape[1])
    loss = nll_loss(log_softmax(logits.astype(np.float64)), labels)
    return float(loss), float(np.mean(logits.argmax(axis=1) == labels))


def _logits(model: Module, x: ArrayLike, batch_size: int, who: str) -> Array:
    """The model's logits (N, C) for ``x``, in evaluation mode and in batches of
    ``batch_size``; the model's mode is restored afterwards."""
    check_int(batch_size, "batch_size", who)
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{who} needs a batch of samples (N, ...), got the single value {x}")
    if len(x) == 0:
        raise ValueError(f"{who} needs at least one sample, got an empty batch")
    was_training = model.training
    model.eval()
    try:
        chunks = [model.infer(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(chunks)


def _labels(y: ArrayLike, who: str) -> Array:
    """``y`` as an array of integer class labels, or a TypeError (checked before any work)."""
    labels = np.asarray(y)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"{who} needs integer class labels, got dtype {labels.dtype}: convert them, "
            "e.g. labels.astype(np.int64)"
        )
    return labels


def _check_one_each(labels: Array, samples: int, who: str) -> None:
    """Refuse labels that are not one per sample."""
    if labels.shape != (samples,):
        raise ValueError(
            f"{who} got {samples} samples but labels of shape {labels.shape}; "
            "pass one integer label per sample."
        )
