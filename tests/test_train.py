"""The training loop: it learns, it is reproducible, it stops on divergence, it measures."""

from __future__ import annotations

import math
import re
import sys
from typing import Any

import numpy as np
import pytest

from deeplearning import MLP, CrossEntropyLoss, TwoLayerMLP
from deeplearning.data.datasets import Dataset
from deeplearning.optim import SGD, AdamW
from deeplearning.optim.lr_scheduler import CosineAnnealingLR, LRScheduler
from deeplearning.training.loop import (
    EpochStats,
    TrainingDivergedError,
    blas_threads,
    fit,
    keep_freed_memory,
    train_epoch,
)

from conftest import blobs


def small_data() -> Dataset:
    x_train, y_train = blobs(600, 0)
    x_test, y_test = blobs(200, 1)
    return Dataset(x_train, y_train, x_test, y_test)


def test_fit_learns_and_reports_each_epoch() -> None:
    model = TwoLayerMLP(6, 16, 3, rng=0)
    history = list(fit(model, small_data(), SGD(model.parameters(), lr=0.1), epochs=3, rng=0))
    assert [stats.epoch for stats in history] == [1, 2, 3]
    assert history[-1].train_loss < history[0].train_loss
    assert history[-1].test_acc > 0.95 and history[-1].train_acc > 0.9
    assert all(stats.seconds > 0 and stats.samples_per_second > 0 for stats in history)
    assert set(history[0].to_dict()) == {
        "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
        "samples_per_second",
    }  # fmt: skip
    assert all(0 < stats.test_loss < math.log(3) for stats in history)  # below chance's
    assert str(history[0]).startswith("epoch   1  train loss ")


def test_same_seed_same_weights() -> None:
    def run() -> TwoLayerMLP:
        model = TwoLayerMLP(6, 16, 3, rng=1)
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in fit(model, small_data(), optimizer, epochs=2, batch_size=32, rng=7):
            pass
        return model

    a, b = run(), run()
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(value, b.state_dict()[name], err_msg=name)


def test_scheduler_sets_the_rate_each_step() -> None:
    model = TwoLayerMLP(6, 4, 3, rng=0)
    optimizer = SGD(model.parameters(), lr=1.0)
    scheduler = LRScheduler(optimizer, CosineAnnealingLR(1.0, T_max=20))
    x, y = blobs(100, 0)
    train_epoch(model, CrossEntropyLoss(), optimizer, x, y, batch_size=10, scheduler=scheduler)
    assert scheduler.t == 10 and optimizer.lr == pytest.approx(0.5)


@np.errstate(all="ignore")  # the point is to overflow
def test_divergence_stops_training_naming_epoch_and_step() -> None:
    model = TwoLayerMLP(6, 16, 3, rng=0)
    x, y = blobs(400, 0)
    optimizer = SGD(model.parameters(), lr=1e10)
    with pytest.raises(
        TrainingDivergedError, match=r"loss became nan at epoch 1, step 2: .*than 1e\+10"
    ):
        train_epoch(model, CrossEntropyLoss(), optimizer, x * 1e20, y)


@np.errstate(all="ignore")
def test_weights_that_overflow_in_the_last_step_are_caught() -> None:
    model = TwoLayerMLP(6, 16, 3, rng=0)
    x, y = blobs(64, 0)
    optimizer = SGD(model.parameters(), lr=1e38)
    with pytest.raises(TrainingDivergedError, match=r"weights became infinite or NaN at epoch 4"):
        train_epoch(model, CrossEntropyLoss(), optimizer, x * 1e5, y, batch_size=64, epoch=4)


def test_progress_bar_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    model = TwoLayerMLP(6, 4, 3, rng=0)
    x, y = blobs(640, 0)
    train_epoch(model, CrossEntropyLoss(), SGD(model.parameters()), x, y, batch_size=16, epoch=3,
                progress=True)  # fmt: skip
    err = capsys.readouterr().err
    assert "epoch 3" in err and "samples/s" in err


def test_blas_threads_limits_and_restores() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [lib["num_threads"] for lib in threadpoolctl.threadpool_info()]
    with blas_threads(1) as limited:
        assert limited
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert all(info["num_threads"] == 1 for info in blas)
    assert [lib["num_threads"] for lib in threadpoolctl.threadpool_info()] == before
    with blas_threads(None) as limited:
        assert not limited


def test_blas_threads_without_threadpoolctl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    with blas_threads(1) as limited:
        assert not limited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_freed_memory_is_kept_on_glibc_and_arrays_still_free() -> None:
    import platform

    applied = keep_freed_memory()
    assert applied == (platform.libc_ver()[0] == "glibc")
    assert keep_freed_memory() == applied  # idempotent
    for _ in range(3):  # large arrays still allocate, fill and free as before
        block = np.ones((4096, 1024))
        assert block.sum() == 4096 * 1024
        del block


def test_freed_memory_is_left_alone_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert keep_freed_memory() is False


def test_epoch_stats_format() -> None:
    stats = EpochStats(2, 0.12345, 0.9, 0.95, 1.5, 40000.0, test_loss=0.06789)
    assert str(stats) == (
        "epoch   2  train loss 0.1235  train acc 90.00%  test loss 0.0679  test acc 95.00%  "
        "1.50 s  40,000 samples/s"
    )


@np.errstate(all="raise")  # no overflow, underflow, invalid or divide warnings anywhere
def test_a_training_run_raises_no_floating_point_warnings() -> None:
    data = small_data()
    two_layer = TwoLayerMLP(6, 16, 3, rng=0)
    mlp = MLP([6, 16, 3], batchnorm=True, dropout=0.2, rng=0)
    for model, optimizer in ((two_layer, SGD(two_layer.parameters(), lr=0.1, momentum=0.9)),
                             (mlp, AdamW(mlp.parameters(), lr=0.01))):  # fmt: skip
        history = list(fit(model, data, optimizer, epochs=10, batch_size=32, rng=0))
        assert history[-1].train_loss < 0.1 and history[-1].test_acc > 0.95


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "fit: epochs must be an int >= 1, got 0"),
        ({"epochs": True}, TypeError, "fit: epochs must be an int, got bool True"),
        ({"epochs": 2, "start_epoch": 0}, ValueError, "fit: start_epoch must be an int >= 1"),
        ({"epochs": 2, "batch_size": 0}, ValueError, "fit: batch_size must be an int >= 1"),
        ({"epochs": 2, "threads": 0}, ValueError, "fit: threads must be an int >= 1, got 0"),
        (
            {"epochs": 2, "clip_grad": -1.0},
            ValueError,
            "fit: clip_grad must be a finite number > 0",
        ),
        ({"epochs": 2, "rng": "a"}, TypeError, "rng must be a seed"),
    ],
)
def test_fit_checks_its_arguments_before_the_first_epoch(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    model = TwoLayerMLP(4, 3, 2, rng=0)
    before = model.fc1.W.data.copy()
    data = Dataset(np.ones((8, 4)), np.zeros(8, dtype=int), np.ones((2, 4)), np.zeros(2, dtype=int))
    with pytest.raises(error, match=re.escape(message)):
        next(fit(model, data, SGD(model.parameters(), lr=0.1), **options))
    np.testing.assert_array_equal(model.fc1.W.data, before)  # nothing trained


def test_fit_refuses_data_it_could_not_test_on_before_training() -> None:
    model = TwoLayerMLP(4, 3, 2, rng=0)
    empty_test = Dataset(np.ones((8, 4)), np.zeros(8, dtype=int), np.ones((0, 4)), np.zeros(0))
    with pytest.raises(ValueError, match="fit needs test samples with one label each, got 0"):
        next(fit(model, empty_test, SGD(model.parameters(), lr=0.1), epochs=1))
    short = Dataset(np.ones((8, 4)), np.zeros(7, dtype=int), np.ones((2, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="train samples with one label each, got 8 samples and 7"):
        next(fit(model, short, SGD(model.parameters(), lr=0.1), epochs=1))
