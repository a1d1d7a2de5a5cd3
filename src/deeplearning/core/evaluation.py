"""A classifier's predictions and accuracy, on either path (`Module.infer`): `predict` and
`evaluate`, computed in evaluation mode and in batches."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .module import Module
from .types import Array
from .validation import check_int


def predict(model: Module, x: ArrayLike, batch_size: int = 1000) -> Array:
    """Predicted labels (N,), int64: the argmax of the logits, computed in evaluation mode
    (Dropout off, BatchNorm on its running statistics) and in batches to bound memory (a
    convolution's im2col grows with the batch), on either path (`Module.infer`). The model's
    mode is restored afterwards."""
    check_int(batch_size, "batch_size", "predict")
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"predict needs a batch of samples (N, ...), got the single value {x}")
    if len(x) == 0:
        raise ValueError("predict needs at least one sample, got an empty batch")
    was_training = model.training
    model.eval()
    try:
        chunks = [
            model.infer(x[i : i + batch_size]).argmax(axis=1) for i in range(0, len(x), batch_size)
        ]
    finally:
        model.train(was_training)
    return np.concatenate(chunks).astype(np.int64)


def evaluate(model: Module, x: ArrayLike, y: ArrayLike, batch_size: int = 1000) -> float:
    """Accuracy in [0, 1]: the fraction of samples whose predicted label equals ``y``."""
    labels = np.asarray(y)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"evaluate needs integer class labels, got dtype {labels.dtype}: convert them, "
            "e.g. labels.astype(np.int64)"
        )
    predictions = predict(model, x, batch_size)
    if labels.shape != predictions.shape:
        raise ValueError(
            f"evaluate got {len(predictions)} samples but labels of shape {labels.shape}; "
            "pass one integer label per sample."
        )
    return float(np.mean(predictions == labels))
