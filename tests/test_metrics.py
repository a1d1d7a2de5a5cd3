"""Metrics: predicted labels in evaluation mode, accuracy, the confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest

from deeplearning import TwoLayerMLP
from deeplearning.training.metrics import confusion_matrix, evaluate, predict

from conftest import blobs


def test_predict_and_evaluate_restore_the_mode() -> None:
    model = TwoLayerMLP(6, 4, 3, rng=0)
    x, y = blobs(50, 0)
    labels = predict(model, x, batch_size=7)
    assert labels.shape == (50,) and labels.dtype == np.int64 and model.training
    np.testing.assert_array_equal(labels, model.forward(x).argmax(axis=1))
    assert evaluate(model, x, y) == pytest.approx(np.mean(labels == y))
    model.eval()
    predict(model, x)
    assert not model.training


def test_predicting_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="predict needs at least one sample, got an empty batch"):
        predict(TwoLayerMLP(6, 4, 3, rng=0), np.empty((0, 6)))


def test_confusion_matrix_counts_true_against_predicted() -> None:
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


@pytest.mark.parametrize(
    ("y_true", "y_pred", "classes", "error", "message"),
    [
        ([0, 1], [0, 1, 1], 2, ValueError, r"one shape \(N,\) but got \(2,\) and \(3,\)"),
        ([[0, 1]], [[0, 1]], 2, ValueError, r"one shape \(N,\) but got \(1, 2\)"),
        ([0, 1], [0, 2], 2, ValueError, r"class labels must lie in \[0, 2\) .* got \[2\]"),
        ([0, -1], [0, 1], 2, ValueError, r"got \[-1\]"),
        ([0.0, 1.0], [0, 1], 2, TypeError, "class labels must be integers but got dtype float64"),
        ([0, 1], [0, 1], 0, ValueError, "confusion_matrix: num_classes must be an int >= 1"),
    ],
)
def test_a_confusion_matrix_refuses_labels_it_cannot_count(
    y_true: list[int], y_pred: list[int], classes: int, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        confusion_matrix(y_true, y_pred, classes)


@pytest.mark.parametrize(
    ("batch_size", "error"),
    [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)],
)
def test_predict_refuses_a_batch_size_that_is_not_a_positive_int(
    batch_size: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="predict: batch_size must be an int"):
        predict(TwoLayerMLP(6, 4, 3, rng=0), np.ones((2, 6)), batch_size)  # type: ignore[arg-type]


def test_evaluate_needs_integer_labels_and_predict_a_batch() -> None:
    model, x = TwoLayerMLP(6, 4, 3, rng=0), np.ones((2, 6))
    for labels in (["0", "1"], [0.0, 1.0], [np.nan, 1.0]):
        with pytest.raises(TypeError, match="evaluate needs integer class labels, got dtype"):
            evaluate(model, x, labels)  # they were compared and gave an accuracy of 0.0
    with pytest.raises(ValueError, match="predict needs a batch of samples"):
        predict(model, 3.0)  # type: ignore[arg-type]
