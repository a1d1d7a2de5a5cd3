"""The command line end to end, on a small data set written by the tests."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deeplearning import TwoLayerMLP
from deeplearning.cli.commands import format_confusion, main
from deeplearning.data.registry import DATASETS
from deeplearning.training.checkpoint import read_checkpoint, save_checkpoint

from conftest import write_fake_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_fake_dataset(root / "mnist", n_train=512, n_test=128)
    return root


def train(data_dir: Path, *args: str) -> int:
    return main(["train", "--data-dir", str(data_dir), "--epochs", "2", "--lr", "0.1", *args])


def test_train_prints_epochs_and_writes_checkpoint_and_json(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save, metrics = tmp_path / "model.npz", tmp_path / "metrics.json"
    assert train(data_dir, "--save", str(save), "--json", str(metrics)) == 0
    out = capsys.readouterr().out
    assert "mnist: 512 training and 128 test images" in out
    assert "101,770 parameters" in out
    assert out.count("train loss") == 2 and "samples/s" in out
    assert "final: train acc" in out
    records = json.loads(metrics.read_text())
    assert [r["epoch"] for r in records] == [1, 2]
    assert set(records[0]) >= {"train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
    assert records[-1]["test_acc"] > 0.9  # the fake digits are easy
    header, arrays = read_checkpoint(save)
    assert header["epoch"] == 2 and header["dataset"] == "mnist"
    assert header["metrics"] == header["history"][-1] and header["metrics"]["epoch"] == 2
    assert header["history"][-1]["test_acc"] == records[-1]["test_acc"]
    assert header["recipe"]["lr"] == 0.1 and header["recipe"]["optimizer"] == "sgd"
    assert "optimizer.velocity.0" in arrays


def test_two_runs_with_the_same_seed_give_identical_weights(data_dir: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert train(data_dir, "--quiet", "--seed", "3", "--save", str(tmp_path / name)) == 0
    _, a = read_checkpoint(tmp_path / "a")
    _, b = read_checkpoint(tmp_path / "b")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_quiet_prints_only_the_final_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(data_dir, "--quiet", "--scheduler", "constant") == 0
    assert capsys.readouterr().out.startswith("final: train acc")


def test_plot_writes_a_png(data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "run.png"
    assert train(data_dir, "--quiet", "--plot", str(plot)) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 20_000


def test_plot_without_matplotlib_says_how_to_install_before_training(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert train(data_dir, "--plot", str(tmp_path / "p.png")) == 1
    captured = capsys.readouterr()
    assert 'pip install "deeplearning[train]"' in captured.err and "epoch" not in captured.out


def test_divergence_is_reported_and_keeps_the_last_good_checkpoint(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "good.npz"
    assert train(data_dir, "--quiet", "--epochs", "1", "--save", str(save)) == 0
    before = save.read_bytes()
    with np.errstate(all="ignore"):
        status = train(data_dir, "--quiet", "--lr", "1e30", "--save", str(save), "--overwrite")
    assert status == 1
    err = capsys.readouterr().err
    assert "training diverged" in err and "at epoch 1, step" in err and "lower learning rate" in err
    assert save.read_bytes() == before


def test_evaluate_prints_accuracy_and_confusion_matrix(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "m.npz"
    assert train(data_dir, "--quiet", "--save", str(save)) == 0
    capsys.readouterr()
    assert main(["evaluate", str(save), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "TwoLayerMLP, epoch 2, mnist" in out
    assert "test accuracy: " in out and "of 128)" in out
    assert out.splitlines()[2].startswith("true\\pred")
    assert len(out.splitlines()) == 3 + 10


def test_missing_data_and_bad_checkpoints_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPLEARNING_DATA", raising=False)
    offline = dataclasses.replace(DATASETS["mnist"], mirrors=(tmp_path.as_uri() + "/none/",))
    monkeypatch.setitem(DATASETS, "mnist", offline)  # a mirror that cannot answer
    assert main(["train", "--data-dir", str(tmp_path)]) == 1
    assert "error: the mnist data set was not found" in capsys.readouterr().err
    (tmp_path / "junk.npz").write_text("junk")
    assert main(["evaluate", str(tmp_path / "junk.npz")]) == 1
    assert "is not a readable .npz checkpoint" in capsys.readouterr().err


def test_bench_reports_both_workloads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--repeats", "2", "--samples", "3200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("NumPy ") and lines[0].endswith("median seconds per epoch:")
    assert lines[1].lstrip().startswith("train_step  deeplearning")
    assert lines[2].lstrip().startswith("autograd    deeplearning")
    assert lines[3].lstrip().startswith("recipe      deeplearning")
    assert lines[4].lstrip().startswith("adam        deeplearning")
    assert lines[5].lstrip().startswith("(a bare NumPy loop doing train_step's arithmetic:")
    assert lines[6].lstrip().startswith("(train_step's five matrix products alone, the floor:")
    assert lines[7].lstrip().startswith("(the autograd engine's epoch / the layers' train_step,")
    assert lines[-2].lstrip().startswith("bare NumPy runs: ")
    assert lines[-1].lstrip().startswith("matrix product runs: ")
    if "PyTorch" in lines[0]:
        assert "threads: default" in lines[0]
        assert all("ratio" in line for line in lines[1:5]) and "; PyTorch " in lines[8]


def test_bench_with_equal_threads_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    assert main(["bench", "--repeats", "1", "--samples", "640", "--threads", "1"]) == 0
    assert "(BLAS threads: 1), PyTorch" in (head := capsys.readouterr().out.splitlines()[0])
    assert head.endswith("(CPU, threads: 1); median seconds per epoch:")


def test_bench_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    from deeplearning.bench.mlp import run_benchmark

    monkeypatch.setitem(sys.modules, "torch", None)
    result = run_benchmark(repeats=1, samples=640)
    assert result.torch == {}
    assert set(result.numpy) == {"train_step", "autograd", "recipe", "adam"}
    assert len(result.bare) == 1
    assert "PyTorch is not installed" in result.report()


def test_bench_cnn_reports_both_thread_settings_the_split_and_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--cnn", "--repeats", "1", "--samples", "192"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("cnn: LeNet5, SGD with momentum, batch 64, 192 images per epoch")
    assert lines[1].lstrip().startswith("one thread each          deeplearning")
    assert lines[3].lstrip().startswith("each library's default   deeplearning")
    split = next(line for line in lines if "go here (profiled, one thread)" in line)
    for part in ("im2col", "matrix products", "col2im", "pooling", "the rest"):
        assert f"{part} " in split, part
    assert lines[-1].lstrip().startswith("peak memory a training epoch allocates here:")


def test_bench_cnn_split_adds_up_and_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from deeplearning.bench.cnn import run_cnn_benchmark

    monkeypatch.setitem(sys.modules, "torch", None)
    result = run_cnn_benchmark(repeats=1, samples=128)
    assert result.torch == {} and "PyTorch is not installed" in result.report()
    assert all(seconds >= 0 for name, seconds in result.split.items() if name != "the rest")
    assert result.split["matrix products"] > 0 and result.split["im2col"] > 0
    # a batch of 64: im2col's 5 MB, the activations and their gradients; far below 100 MB
    assert 5 * 2**20 < result.peak_bytes < 100 * 2**20


def test_format_confusion_aligns_columns() -> None:
    table = format_confusion(np.array([[5, 0], [1, 12345]]), ["cat", "dog"])
    assert table.splitlines() == [
        "true\\pred   cat   dog",
        "      cat     5     0",
        "      dog     1 12345",
    ]


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deeplearning", "--help"], capture_output=True, text=True, check=True
    )
    assert "{train,evaluate,sample,export,bench}" in result.stdout


@pytest.mark.slow
def test_default_recipe_reaches_the_targets_on_real_mnist(mnist_root: Path, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    assert main(["train", "--quiet", "--data-dir", str(mnist_root), "--json", str(metrics)]) == 0
    final = json.loads(metrics.read_text())[-1]
    assert final["epoch"] == 5
    assert final["train_acc"] >= 0.980 and final["test_acc"] >= 0.975


def test_an_mlp_with_every_option(data_dir: Path, tmp_path: Path) -> None:
    save = tmp_path / "mlp.npz"
    status = train(
        data_dir, "--quiet", "--model", "784-32-16-10", "--batchnorm", "--dropout", "0.1",
        "--optimizer", "adamw", "--lr", "3e-3", "--weight-decay", "0.05", "--warmup", "1",
        "--scheduler", "cosine", "--clip-grad", "1.0", "--epochs", "3", "--save", str(save),
    )  # fmt: skip
    assert status == 0
    header, arrays = read_checkpoint(save)
    assert header["model"] == "MLP" and header["config"]["sizes"] == [784, 32, 16, 10]
    assert header["recipe"]["weight_decay"] == 0.05 and header["recipe"]["warmup"] == 1
    assert "model.1.running_mean" in arrays and "optimizer.exp_avg_sq.0" in arrays
    assert header["history"][-1]["test_acc"] > 0.5  # chance is 0.1


@pytest.mark.parametrize(
    "extra",
    [[], ["--model", "784-32-10", "--batchnorm", "--dropout", "0.3", "--optimizer", "adam"]],
    ids=["two-layer SGD", "MLP with BatchNorm, Dropout and Adam"],
)
def test_resume_continues_exactly(data_dir: Path, tmp_path: Path, extra: list[str]) -> None:
    per_epoch = str(tmp_path / "run-{epoch}.npz")
    assert train(data_dir, "--quiet", "--epochs", "3", "--save", per_epoch, *extra) == 0
    resumed = tmp_path / "resumed.npz"
    status = main(["train", "--quiet", "--data-dir", str(data_dir),
                   "--resume", str(tmp_path / "run-1.npz"), "--save", str(resumed)])  # fmt: skip
    assert status == 0
    straight_header, straight = read_checkpoint(tmp_path / "run-3.npz")
    resumed_header, again = read_checkpoint(resumed)
    assert sorted(straight) == sorted(again)
    for key in straight:
        np.testing.assert_array_equal(straight[key], again[key], err_msg=key)
    for a, b in zip(straight_header["history"], resumed_header["history"]):
        assert (a["epoch"], a["train_loss"], a["test_loss"], a["test_acc"]) == (
            b["epoch"],
            b["train_loss"],
            b["test_loss"],
            b["test_acc"],
        )


def test_a_checkpoint_written_before_the_test_loss_resumes(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, resumed, plot = tmp_path / "old.npz", tmp_path / "resumed.npz", tmp_path / "run.png"
    assert train(data_dir, "--quiet", "--epochs", "1", "--save", str(old)) == 0
    with np.load(old, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    header = json.loads(str(arrays.pop("header")))
    for record in (header["metrics"], *header["history"]):
        del record["test_loss"]  # as the library wrote them before it measured the test loss
    np.savez(old, header=np.array(json.dumps(header)), **arrays)  # type: ignore[arg-type]
    plots = ["--plot", str(plot)] if importlib.util.find_spec("matplotlib") else []
    assert train(data_dir, "--resume", str(old), "--save", str(resumed), *plots) == 0
    epoch_2 = next(line for line in capsys.readouterr().out.splitlines() if "epoch   2" in line)
    assert "  test loss " in epoch_2 and epoch_2.index("test loss") < epoch_2.index("test acc")
    history = read_checkpoint(resumed)[0]["history"]
    assert history[0]["test_loss"] is None and history[1]["test_loss"] > 0


def test_only_training_checkpoints_resume(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_checkpoint(tmp_path / "bare.npz", TwoLayerMLP(rng=0))
    assert train(data_dir, "--resume", str(tmp_path / "bare.npz")) == 1
    assert "holds no training recipe" in capsys.readouterr().err


@pytest.mark.slow
def test_the_readme_mlp_recipe_reaches_98_4_percent(mnist_root: Path, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    recipe = ["--model", "784-512-256-10", "--batchnorm", "--dropout", "0.3",
              "--optimizer", "adamw", "--lr", "3e-3", "--weight-decay", "0.05", "--warmup", "1",
              "--epochs", "10", "--batch-size", "128"]  # fmt: skip
    args = ["train", "--quiet", "--data-dir", str(mnist_root), "--json", str(metrics)]
    assert main([*args, *recipe]) == 0
    assert json.loads(metrics.read_text())[-1]["test_acc"] >= 0.984


@pytest.mark.parametrize("engine", ["layers", "autograd"])
def test_lenet5_trains_resumes_and_evaluates_on_images(
    engine: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save, plot = tmp_path / "cnn_{epoch}.npz", tmp_path / "cnn.png"
    recipe = ["--model", "lenet5", "--batchnorm", "--dropout", "0.1", "--engine", engine]
    assert train(data_dir, *recipe, "--save", str(save)) == 0
    out = capsys.readouterr().out
    assert "(0): Conv2d(1, 6, kernel_size=(5, 5)" in out and "BatchNorm2d(6" in out
    # resuming after epoch 1 gives epoch 2 of the whole run, bit for bit
    resumed = tmp_path / "resumed.npz"
    args = ["--resume", str(tmp_path / "cnn_1.npz"), "--save", str(resumed)]
    plots = importlib.util.find_spec("matplotlib") is not None  # the filters and feature maps
    assert train(data_dir, *args, *(["--plot", str(plot)] if plots else [])) == 0
    assert plot.stat().st_size > 0 if plots else not plot.exists()
    whole = read_checkpoint(tmp_path / "cnn_2.npz")[1]
    for name, value in read_checkpoint(resumed)[1].items():
        np.testing.assert_array_equal(value, whole[name], err_msg=name)
    capsys.readouterr()
    assert main(["evaluate", str(resumed), "--data-dir", str(data_dir)]) == 0
    assert "test accuracy:" in capsys.readouterr().out


@pytest.mark.slow
def test_the_readme_cnn_recipe_reaches_99_2_percent(mnist_root: Path, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    recipe = ["--model", "lenet5", "--batchnorm", "--dropout", "0.1", "--weight-decay", "5e-4"]
    args = ["train", "--quiet", "--data-dir", str(mnist_root), "--json", str(metrics)]
    assert main([*args, *recipe]) == 0
    assert json.loads(metrics.read_text())[-1]["test_acc"] >= 0.992


def test_threads_are_recorded_and_kept_by_a_resumed_run(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("threadpoolctl")  # without it the count cannot be applied (a warning)
    save, metrics = tmp_path / "ck_{epoch}.npz", tmp_path / "m.json"
    assert train(data_dir, "--threads", "2", "--save", str(save), "--json", str(metrics)) == 0
    assert "BLAS on 2 threads" in capsys.readouterr().out
    assert read_checkpoint(tmp_path / "ck_1.npz")[0]["recipe"]["threads"] == 2
    assert [record["threads"] for record in json.loads(metrics.read_text())] == [2, 2]
    resumed = tmp_path / "resumed.npz"
    assert train(data_dir, "--resume", str(tmp_path / "ck_1.npz"), "--save", str(resumed)) == 0
    assert "BLAS on 2 threads" in capsys.readouterr().out  # the recorded count
    whole, again = read_checkpoint(tmp_path / "ck_2.npz")[1], read_checkpoint(resumed)[1]
    for name, value in whole.items():  # the same seed and thread count: the same bits
        np.testing.assert_array_equal(again[name], value, err_msg=name)
    assert train(data_dir, "--resume", str(tmp_path / "ck_1.npz"), "--threads", "1") == 0
    assert "BLAS on 1 thread\n" in capsys.readouterr().out  # unless told otherwise


def test_bench_profile_splits_a_recipe_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--repeats", "1", "--samples", "640", "--profile"]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("    gathering batches ")]
    for part in ("matrix products", "ReLU", "loss", "optimizer", "schedule", "the rest"):
        assert f", {part} " in line, part
    assert "where a recipe epoch's" in out


def test_bench_scaling_prints_every_batch_size_and_width(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "--scaling", "--samples", "1024"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("train_step epochs of 1,024 samples")
    rows = [tuple(int(v) for v in line.split()[:2]) for line in lines[2:]]
    assert rows == [(16, 128), (32, 128), (64, 128), (128, 128), (256, 128), (1024, 128),
                    (64, 512), (64, 2048)]  # fmt: skip


def test_bench_busy_runs_beside_a_spinning_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from deeplearning.bench import busy
    from deeplearning.bench import mlp as bench
    from deeplearning.cli import commands as cli

    spinners: list[Any] = []
    alive_while_timing = []

    @contextmanager
    def recorded(on: bool) -> Iterator[Any]:
        with busy.busy_core(on) as spinner:
            spinners.append(spinner)
            yield spinner

    def scaling(samples: int, threads: int | None) -> bench.ScalingResult:
        alive_while_timing.append(spinners[0].poll() is None)
        return bench.ScalingResult(samples, "stand-in")

    monkeypatch.setattr(cli, "busy_core", recorded)
    monkeypatch.setattr(cli, "run_scaling", scaling)
    assert main(["bench", "--busy", "--scaling", "--samples", "1024"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"({busy.BUSY_NOTE})"
    assert out[1].startswith("train_step epochs of 1,024 samples (stand-in)")
    assert alive_while_timing == [True] and spinners[0].poll() is not None


def test_threads_without_threadpoolctl_are_a_warning(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: None if name == "threadpoolctl" else real_find_spec(name),
    )
    assert train(data_dir, "--threads", "2", "--epochs", "1") == 0
    captured = capsys.readouterr()
    assert "BLAS threads not limited" in captured.out
    assert "warning: threadpoolctl is not installed" in captured.err
