"""Measuring a classifier: the confusion matrix (`predict` and `evaluate`, which both paths'
models use, are in `core.evaluation`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..core.evaluation import evaluate, predict
from ..core.types import Array
from ..core.validation import check_class_labels, check_int

__all__ = ["confusion_matrix", "evaluate", "predict"]


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, num_classes: int) -> Array:
    """``C[i, j]`` = the number of samples of class ``i`` predicted as ``j``; shape (K, K) for
    K = ``num_classes``, from labels (N,) each.

    Raises
    ------
    ValueError
        If the two differ in shape or are not one label per sample, or a label lies outside
        [0, K) (K itself is an int >= 1).
    TypeError
        If labels are not integers.
    """
    check_int(num_classes, "num_classes", "confusion_matrix")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"confusion_matrix expected true and predicted labels of one shape (N,) but got "
            f"{y_true.shape} and {y_pred.shape}"
        )
    check_class_labels(y_true, num_classes)
    check_class_labels(y_pred, num_classes)
    counts = np.bincount(num_classes * y_true + y_pred, minlength=num_classes * num_classes)
    matrix: Array = counts.reshape(num_classes, num_classes)
    return matrix
