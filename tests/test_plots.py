"""The test loss each epoch reports (`EpochStats.test_loss`, from one pass over the test set)
and the training picture that draws it (`cli.plots.draw_training`): the figure's axes are
inspected before anything is saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deeplearning import LeNet5, TwoLayerMLP
from deeplearning.autograd import nn
from deeplearning.cli.health_plots import plot_health
from deeplearning.cli.plots import draw_training, grid_shape
from deeplearning.core.evaluation import loss_and_accuracy, predict
from deeplearning.core.module import Module
from deeplearning.data.datasets import Dataset
from deeplearning.optim import SGD
from deeplearning.training import batch_gradients
from deeplearning.training.archive import CheckpointError, check_resume_header
from deeplearning.training.health import TrainingMonitor
from deeplearning.training.loop import EpochStats, fit
from deeplearning.training.recipe import Recipe

from conftest import blobs

CLASSES = "0123456789"


def small_data() -> Dataset:
    x_train, y_train = blobs(300, 0)
    x_test, y_test = blobs(150, 1)
    return Dataset(x_train, y_train, x_test, y_test)


def cross_entropy_by_hand(logits: np.ndarray, labels: np.ndarray) -> float:
    """-mean(log(softmax(z)[y])), written out in float64."""
    z = logits.astype(np.float64)
    probabilities = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(probabilities[np.arange(len(labels)), labels])))


# -- the test loss ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["layers", "autograd"])
def test_each_epoch_reports_the_test_cross_entropy(path: str) -> None:
    model: Module = (
        TwoLayerMLP(6, 8, 3, rng=0) if path == "layers" else nn.TwoLayerMLP(6, 8, 3, rng=0)
    )
    data = small_data()
    for stats in fit(model, data, SGD(model.parameters(), lr=0.1), epochs=2, rng=0):
        model.eval()
        logits = model.infer(data.x_test)
        model.train()
        assert stats.test_loss == pytest.approx(cross_entropy_by_hand(logits, data.y_test), 1e-12)
        assert stats.test_acc == np.mean(logits.argmax(axis=1) == data.y_test)


def test_the_test_loss_and_accuracy_come_from_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    model, data = TwoLayerMLP(6, 8, 3, rng=0), small_data()
    seen = []
    infer = model.infer
    monkeypatch.setattr(model, "infer", lambda x: seen.append(len(x)) or infer(x))
    next(fit(model, data, SGD(model.parameters(), lr=0.1), epochs=1, rng=0))
    assert seen == [len(data.x_test)]  # one batch of 150 (under 1000): the test set, once


def test_loss_and_accuracy_of_a_known_model() -> None:
    model = TwoLayerMLP(6, 8, 3, rng=0)
    x, y = blobs(2500, 2)  # three batches of 1000, the last short
    model.eval()
    logits = model.infer(x)
    loss, accuracy = loss_and_accuracy(model, x, y)
    assert loss == pytest.approx(cross_entropy_by_hand(logits, y), 1e-12)
    assert accuracy == np.mean(logits.argmax(axis=1) == y)
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 3\)"):
        loss_and_accuracy(model, x[:2], np.array([0, 3]))
    with pytest.raises(TypeError, match="loss_and_accuracy needs integer class labels"):
        loss_and_accuracy(model, x[:2], np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"2 samples but labels of shape \(3,\)"):
        loss_and_accuracy(model, x[:2], np.array([0, 1, 2]))


def test_the_epoch_line_shows_the_test_loss_before_the_test_accuracy() -> None:
    stats = EpochStats(2, 0.12345, 0.9, 0.95, 1.5, 40000.0, test_loss=0.0678)
    assert str(stats) == (
        "epoch   2  train loss 0.1235  train acc 90.00%  test loss 0.0678  test acc 95.00%  "
        "1.50 s  40,000 samples/s"
    )
    assert stats.to_dict()["test_loss"] == 0.0678


def test_records_written_before_the_test_loss_still_load_and_resume() -> None:
    old = {"epoch": 1, "train_loss": 0.2, "train_acc": 0.9, "test_acc": 0.95, "seconds": 1.0,
           "samples_per_second": 1000.0}  # fmt: skip
    stats = EpochStats(**old)
    assert stats.test_loss is None and "test loss" not in str(stats)
    state = np.random.default_rng(0).bit_generator.state
    header: dict[str, Any] = {"recipe": Recipe().to_dict(), "epoch": 2, "rng_state": state}
    check_resume_header({**header, "history": [old, {**old, "epoch": 2, "test_loss": 0.1}]})
    check_resume_header({**header, "history": [stats.to_dict(), {**old, "epoch": 2}]})  # None
    with pytest.raises(CheckpointError, match="test_loss must be a number or null"):
        check_resume_header({**header, "history": [old, {**old, "epoch": 2, "test_loss": "low"}]})


# -- the picture --------------------------------------------------------------------------------


def tiles(panel: Any) -> tuple[list[Any], list[Any]]:
    """A panel's image axes and its colour bars."""
    bars = [axes for axes in panel.axes if axes.get_label() == "<colorbar>"]
    return [axes for axes in panel.axes if axes not in bars], bars


def history(epochs: int, test_losses: bool = True) -> list[EpochStats]:
    return [
        EpochStats(k, 1 / k, 0.9, 0.95, 1.0, 1e4, test_loss=0.5 / k if test_losses else None)
        for k in range(1, epochs + 1)
    ]


@pytest.fixture
def plt() -> Any:
    """Matplotlib, or a skip (the pictures are figures of their own: nothing to close)."""
    return pytest.importorskip("matplotlib")


def test_the_curves_draw_the_test_loss_and_accuracies_in_percent(plt: Any) -> None:
    model, x = TwoLayerMLP(rng=0), np.random.default_rng(0).random((20, 784), np.float32)
    y = np.arange(20) % 10
    records = history(2, test_losses=False) + history(4)[2:]  # resumed from an older run
    figure = draw_training(records, model, x, y, predict(model, x), CLASSES)
    loss_axes, acc_axes = figure.subfigs[0].subfigs[0].axes
    train_loss, test_loss = loss_axes.lines
    assert list(train_loss.get_ydata()) == [1, 1 / 2, 1 / 3, 1 / 4]
    assert list(test_loss.get_xdata()) == [3, 4]  # the epochs that measured it
    assert list(test_loss.get_ydata()) == [0.5 / 3, 0.5 / 4]
    assert [line.get_ydata()[0] for line in acc_axes.lines] == [90.0, 95.0]
    assert acc_axes.get_ylabel() == "accuracy (%)"


def test_the_weight_tiles_share_a_symmetric_scale_and_its_colour_bar(plt: Any) -> None:
    model = TwoLayerMLP(784, 20, 10, rng=0)  # 20 hidden units: a 4 x 5 grid
    x, y = np.zeros((10, 784), np.float32), np.arange(10)
    figure = draw_training(history(1), model, x, y, (y + 1) % 10, CLASSES)
    weights, mistakes = figure.subfigs[1].subfigs
    grid, bars = tiles(weights)
    assert len(grid) == 20 and len(bars) == 1
    limit = np.abs(model.fc1.W.data).max()
    for axes in grid:
        assert axes.images[0].get_clim() == pytest.approx((-limit, limit))
    assert bars[0].get_ylim() == pytest.approx((-limit, limit))
    grid, bars = tiles(mistakes)
    assert len(grid) == 10 and not bars  # the ten mistakes, no empty slot


@pytest.mark.parametrize("Net", [LeNet5, nn.LeNet5])
def test_a_cnn_shows_the_input_beside_its_feature_maps(plt: Any, Net: type) -> None:
    model = Net(rng=0)
    x = np.random.default_rng(0).random((7, 1, 28, 28)).astype(np.float32)
    y = np.arange(7)
    figure = draw_training(history(3), model, x, y, predict(model, x), CLASSES)
    assert len(figure.subfigs) == 3
    filters, _ = figure.subfigs[1].subfigs
    digit, first, second = figure.subfigs[2].subfigs
    (image,), bars = tiles(digit)
    np.testing.assert_array_equal(image.images[0].get_array(), x[0, 0])
    assert not bars
    for panel, count in ((filters, 6), (first, 6), (second, 16)):
        grid, bars = tiles(panel)
        assert len(grid) == count and len(bars) == 1
        low, high = grid[0].images[0].get_clim()
        assert low == -high and all(axes.images[0].get_clim() == (low, high) for axes in grid)


def test_no_axes_of_the_figure_is_empty(plt: Any) -> None:
    model = nn.LeNet5(rng=0)
    x = np.random.default_rng(1).random((7, 1, 28, 28)).astype(np.float32)
    y = np.arange(7)
    figure = draw_training(history(2), model, x, y, (y + 1) % 10, CLASSES)  # 7 mistakes
    for axes in figure.axes:
        assert axes.images or axes.lines or axes.get_label() == "<colorbar>"


@pytest.mark.parametrize(
    ("count", "shape"),
    [(1, (1, 1)), (6, (2, 3)), (7, (2, 4)), (12, (3, 4)), (16, (4, 4)), (32, (4, 8))],
)
def test_the_grid_fits_the_tiles(count: int, shape: tuple[int, int]) -> None:
    assert grid_shape(count) == shape


@pytest.mark.parametrize("count", range(1, 65))
def test_a_grid_never_has_an_empty_row(count: int) -> None:
    rows, columns = grid_shape(count)
    assert (rows - 1) * columns < count <= rows * columns


def test_drawing_leaves_pyplot_alone(plt: Any, tmp_path: Path) -> None:
    """A notebook's inline backend survives a picture: no backend is chosen, no figure is
    left registered with pyplot."""
    import matplotlib.pyplot as pyplot

    backend, figures = plt.get_backend(), pyplot.get_fignums()
    model = TwoLayerMLP(784, 8, 10, rng=0)
    monitor = TrainingMonitor(model, every=1)
    x, y = np.random.default_rng(0).random((16, 784), dtype=np.float32), np.arange(16) % 10
    batch_gradients(model, x, y)
    plot_health(tmp_path / "h.png", monitor)
    assert plt.get_backend() == backend and pyplot.get_fignums() == figures
