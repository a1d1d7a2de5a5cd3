"""The command line never loses a file: a run replaces only the checkpoints it writes itself
(or, with ``--overwrite``, one that exists), and never a file of another kind; and the rough
edges a new user meets (help, plurals, schedule options, the divergence hint)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from deeplearning import TwoLayerMLP
from deeplearning.cli import commands as cli
from deeplearning.cli.commands import main
from deeplearning.cli.plots import plot_training
from deeplearning.data.registry import search_dirs
from deeplearning.training.checkpoint import read_checkpoint, save_checkpoint
from deeplearning.training.loop import TrainingDivergedError

from conftest import write_fake_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_fake_dataset(root / "mnist", n_train=256, n_test=64)
    return root


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the data are read: a refusal comes before any work."""
    monkeypatch.setattr(cli, "load_mnist", lambda *_, **__: pytest.fail("data loaded"))


def train(data_dir: Path, *options: str) -> int:
    return main(["train", "--data-dir", str(data_dir), "--quiet", *options])


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command line, expect argparse's exit status 2, return the error line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    return line


def checkpoint(path: Path, epoch: int = 5, test_acc: float = 0.8633) -> Path:
    """A checkpoint as a run saves it, for a target that exists."""
    save_checkpoint(path, TwoLayerMLP(rng=0), epoch=epoch, metrics={"test_acc": test_acc})
    return path


# -- --save replaces only the checkpoints the run writes --------------------------------------


def test_an_existing_checkpoint_stops_a_fresh_run_before_training(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_data: None
) -> None:
    """A one-epoch run at --lr 1e-5 replaced a checkpoint of 86.33% with one of 10.94%."""
    best = checkpoint(tmp_path / "best.npz")
    before = best.read_bytes()
    line = usage_error(["train", "--lr", "1e-5", "--epochs", "1", "--save", str(best)], capsys)
    assert line.endswith(
        f"argument --save: {best} exists: it is a checkpoint (TwoLayerMLP, epoch 5, test "
        "accuracy 86.33%). Pass --overwrite to replace it, or give --save another name"
    )
    assert best.read_bytes() == before


def test_overwrite_lets_a_run_replace_a_checkpoint(data_dir: Path, tmp_path: Path) -> None:
    best = checkpoint(tmp_path / "best.npz")
    assert train(data_dir, "--epochs", "1", "--save", str(best), "--overwrite") == 0
    assert read_checkpoint(best)[0]["epoch"] == 1


def test_a_run_replaces_its_own_checkpoint_every_epoch(data_dir: Path, tmp_path: Path) -> None:
    save = tmp_path / "run.npz"
    assert train(data_dir, "--epochs", "3", "--save", str(save)) == 0
    assert read_checkpoint(save)[0]["epoch"] == 3


def test_a_resumed_run_may_replace_the_checkpoint_it_resumes(
    data_dir: Path, tmp_path: Path
) -> None:
    save = tmp_path / "run.npz"
    assert train(data_dir, "--epochs", "1", "--save", str(save)) == 0
    assert train(data_dir, "--resume", str(save), "--epochs", "2", "--save", str(save)) == 0
    assert read_checkpoint(save)[0]["epoch"] == 2


def test_a_resumed_run_checks_only_the_epochs_it_writes(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--resume ck_2.npz --epochs 4 --save 'ck_{epoch}.npz'`` writes ck_3 and ck_4 only: it
    was refused, ck_2 being "also the --resume file"."""
    pattern = str(tmp_path / "ck_{epoch}.npz")
    assert train(data_dir, "--epochs", "2", "--save", pattern) == 0
    resume = ["--resume", str(tmp_path / "ck_2.npz"), "--save", pattern]
    assert train(data_dir, *resume, "--epochs", "4") == 0
    assert [read_checkpoint(tmp_path / f"ck_{e}.npz")[0]["epoch"] for e in (3, 4)] == [3, 4]
    earlier = ["--resume", str(tmp_path / "ck_1.npz"), "--save", pattern, "--epochs", "3"]
    line = usage_error(["train", "--data-dir", str(data_dir), *earlier], capsys)
    assert f"argument --save: {tmp_path / 'ck_2.npz'} exists: it is a checkpoint" in line


def test_a_long_run_finds_the_checkpoints_it_would_replace_beyond_its_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_data: None
) -> None:
    """Past 10,000 epochs only a sample of the names is built: the folder is searched for the
    others."""
    checkpoint(tmp_path / "ck_15000.npz")
    (tmp_path / "run_12,345.npz").write_text("my notes")
    for pattern, found, message in [
        ("ck_{epoch}.npz", "ck_15000.npz", "exists: it is a checkpoint"),
        ("ck_{epoch:05d}.npz", "ck_15000.npz", "exists: it is a checkpoint"),
        ("run_{epoch:,}.npz", "run_12,345.npz", "is a text file, not a checkpoint"),
    ]:
        argv = ["train", "--epochs", "20000", "--save", str(tmp_path / pattern)]
        assert f"{tmp_path / found} {message}" in usage_error(argv, capsys), pattern


# -- no target is replaced unless it is its option's own kind of file -------------------------


def foreign_targets(tmp_path: Path, data_dir: Path) -> list[tuple[str, Path, str]]:
    """(option, an existing file there, what the refusal says it is)."""
    data = tmp_path / "mnist"
    shutil.copytree(data_dir / "mnist", data)
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "arrays.npz", x=np.zeros(3))
    (tmp_path / "config.json").write_text('{"lr": 0.1}\n')
    record = {"epoch": 1, "train_loss": 0.2, "train_acc": 0.9, "test_acc": 0.9}
    (tmp_path / "metrics.json").write_text(json.dumps([record], indent=2))
    (tmp_path / "photo.png").write_bytes(b"\xff\xd8\xff\xe0 a JPEG")
    checkpoint(tmp_path / "ck.npz")
    checkpoint(tmp_path / "ck.png")
    labels = data / "t10k-labels-idx1-ubyte.gz"
    return [
        ("--save", labels, "is a data set's file (t10k-labels-idx1-ubyte.gz, as MNIST-style"),
        ("--save", tmp_path / "notes.txt", "is a text file, not a checkpoint"),
        ("--save", tmp_path / "empty.npz", "is an empty file, not a checkpoint"),
        ("--save", tmp_path / "arrays.npz", "is a zip archive (such as an .npz) that is not a"),
        ("--save", tmp_path / "metrics.json", "is a --json metrics file, not a checkpoint"),
        ("--json", tmp_path / "ck.npz", "is a checkpoint (TwoLayerMLP, epoch 5, test accuracy"),
        ("--json", tmp_path / "config.json", "is a text file, not a metrics file as --json"),
        ("--json", labels, "is a data set's file"),
        ("--plot", tmp_path / "ck.png", "is a checkpoint (TwoLayerMLP, epoch 5, test accuracy"),
        ("--plot", tmp_path / "photo.png", "is a binary file, not a PNG image"),
        ("--plot", tmp_path / "notes.txt", "cannot write a plot to 'notes.txt'"),
    ]


def test_a_file_of_another_kind_is_never_replaced(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_data: None
) -> None:
    pytest.importorskip("matplotlib")
    for option, path, what in foreign_targets(tmp_path, data_dir):
        before = path.read_bytes()
        for overwrite in ([], ["--overwrite"]):
            line = usage_error(["train", option, str(path), *overwrite], capsys)
            assert f"argument {option}: " in line and what in line, (option, path, line)
            if "cannot write a plot" not in what:
                assert "replaces only its own kind of file, with --overwrite or without" in line
        assert path.read_bytes() == before, path


def test_outputs_of_their_own_kind_are_replaced(data_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    metrics, plot = tmp_path / "m.json", tmp_path / "run.png"
    assert train(data_dir, "--epochs", "1", "--json", str(metrics), "--plot", str(plot)) == 0
    plot.write_bytes(b"\x89PNG\r\n\x1a\n an older picture")
    assert train(data_dir, "--epochs", "2", "--json", str(metrics), "--plot", str(plot)) == 0
    assert [record["epoch"] for record in json.loads(metrics.read_text())] == [1, 2]
    assert plot.stat().st_size > 20_000


# -- names --------------------------------------------------------------------------------------

BAD_NAMES = [
    ("ck_{epoch:>{w}}.npz", "{w} (in {epoch:>{w}}) is not a placeholder: only {epoch} is"),
    ("ck_{epoch:{fill}>4}.npz", "{fill} (in {epoch:{fill}>4}) is not a placeholder"),
    ("ck_{epoch:>{epoch}}.npz", "{epoch} (in {epoch:>{epoch}}) is not a placeholder"),
    ("ck_{a}_{b}.npz", "{a}, {b} are not placeholders"),
    ("ck_{epoch:>99999}.npz", "does not give every epoch a plain file name"),
    ("ck_{epoch:c}.npz", "is not a file name pattern (%c arg not in range"),  # with 10**15 epochs
    ("c" * 240 + "_{epoch}.npz", "is 246 bytes long: with the 14 of its temporary file's, over"),
]


@pytest.mark.parametrize(("pattern", "message"), BAD_NAMES, ids=[p[:24] for p, _ in BAD_NAMES])
def test_bad_save_names_are_usage_errors(
    pattern: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_data: None
) -> None:
    """A nested field printed "unexpected KeyError: 'w' (a bug: please report it)"."""
    epochs = str(10**15) if ":c}" in pattern else "3"
    line = usage_error(["train", "--epochs", epochs, "--save", str(tmp_path / pattern)], capsys)
    assert message in line, line


# -- plots ---------------------------------------------------------------------------------------


def test_plot_training_checks_its_suffix_before_drawing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deeplearning.cli import plots

    monkeypatch.setattr(plots, "require_matplotlib", lambda: pytest.fail("drawing started"))
    model, x, y = TwoLayerMLP(rng=0), np.zeros((2, 784), np.float32), np.zeros(2, np.int64)
    for name in ("run.xyz", "run.pgf", "run", ".png"):
        with pytest.raises(ValueError, match=f"cannot write a plot to '{name}': end the name "
                                             r"with one of \.png, \.svg, \.pdf"):  # fmt: skip
            plot_training(tmp_path / name, [], model, x, y, y, "0123456789")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("suffix", "start"), [(".svg", b"<?xml"), (".PDF", b"%PDF-")])
def test_a_plot_is_drawn_in_the_format_its_suffix_names(
    suffix: str, start: bytes, data_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / f"run{suffix}"
    assert train(data_dir, "--epochs", "1", "--plot", str(plot)) == 0
    assert plot.read_bytes().startswith(start)
    assert train(data_dir, "--epochs", "1", "--plot", str(plot)) == 0  # its own kind: replaced


# -- divergence -----------------------------------------------------------------------------------


def diverging(monkeypatch: pytest.MonkeyPatch, lr: float = 99.9997) -> None:
    """Make training diverge at once, as at the scheduled rate ``lr``."""

    def fit(*_: object, **__: object) -> None:
        raise TrainingDivergedError("the loss reached 1.36e+03", 1, 2, lr)

    monkeypatch.setattr(cli, "fit", fit)


DIVERGED = [
    (["--lr", "100"], "Try a lower learning rate than 100 (for example 10)."),
    (
        ["--model", "784-32-10", "--dropout", "0.999"],
        "--dropout 0.999 keeps one hidden unit in 1,000 and multiplies it by as much: give a "
        "dropout below 0.9 (0.1 to 0.5 is usual).",
    ),
    (
        ["--momentum", "1.5"],
        "--momentum 1.5 keeps all of the last steps in each one, which then only grow: give a "
        "momentum below 1 (0.9 is usual).",
    ),
]


@pytest.mark.parametrize(("options", "message"), DIVERGED, ids=[o[-2] for o, _ in DIVERGED])
def test_a_diverged_run_says_what_is_wrong(
    options: list[str],
    message: str,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hint suggested rates like 99.9997 and 9.99997, and blamed the rate for a dropout
    of 0.999."""
    diverging(monkeypatch)
    assert train(data_dir, *options) == 1
    err = capsys.readouterr().err
    assert (
        err
        == f"error: the loss reached 1.36e+03 at epoch 1, step 2: training diverged. {message}\n"
    )


def test_the_loops_hint_gives_one_significant_figure() -> None:
    for lr, hint in [(99.9997, "than 100 (for example 10)"), (0.0498979, "than 0.05 (for "
                     "example 0.005)"), (3e-3, "than 0.003 (for example 0.0003)")]:  # fmt: skip
        assert hint in str(TrainingDivergedError("the loss became nan", 1, 3, lr))


# -- rough edges ----------------------------------------------------------------------------------


def test_data_dir_help_gives_the_search_order(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEPLEARNING_DATA", "/env")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    searched = [str(path) for path in search_dirs("/given")]
    assert searched == ["/given", "/env", "/xdg/deeplearning", "/usr/share/datasets"]
    for command in ("train", "evaluate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "see README" not in text
        order = ["<dataset>/, searched first", "$DEEPLEARNING_DATA",
                 "$XDG_CACHE_HOME/deeplearning", "/usr/share/datasets"]  # fmt: skip
        places = [text.index(words) for words in order]
        assert places == sorted(places), command


def test_counts_are_pluralised(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("threadpoolctl")
    assert main(["train", "--data-dir", str(data_dir), "--epochs", "2", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "after 1 warm-up epoch rising" in out and ", 2 epochs, seed 0" in out
    assert main(["train", "--data-dir", str(data_dir), "--epochs", "1", "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert "batch size 64, 1 epoch, seed 0\n" in out and "BLAS on 2 threads\n" in out


def test_step_size_and_gamma_shape_the_schedule_and_are_recorded(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "ck_{epoch}.npz"
    options = ["--scheduler", "step", "--step-size", "1", "--gamma", "0.5", "--lr", "0.08"]
    assert main(["train", "--data-dir", str(data_dir), "--epochs", "2", "--save", str(save),
                 *options]) == 0  # fmt: skip
    assert "step schedule (x0.5 every 1 epoch)" in capsys.readouterr().out
    header, arrays = read_checkpoint(tmp_path / "ck_2.npz")
    assert (header["recipe"]["step_size"], header["recipe"]["gamma"]) == (1, 0.5)
    assert float(arrays["optimizer.lr"]) == pytest.approx(0.08 * 0.5**2)  # halved each epoch
    # a resumed run may change the schedule: another kind drops the saved settings
    resume = ["train", "--data-dir", str(data_dir), "--resume", str(tmp_path / "ck_1.npz")]
    assert main([*resume, "--epochs", "3", "--scheduler", "cosine"]) == 0
    assert main([*resume, "--epochs", "3", "--scheduler", "exponential", "--gamma", "0.9"]) == 0
    assert "exponential schedule (x0.9 each epoch)" in capsys.readouterr().out
    assert main([*resume, "--epochs", "3", "--gamma", "0.2"]) == 0  # still step, another factor


BAD_SCHEDULES = [
    (["--gamma", "0"], "argument --gamma: must be a number in (0, 1], got 0"),
    (["--gamma", "1.5"], "argument --gamma: must be a number in (0, 1], got 1.5"),
    (["--step-size", "0"], "argument --step-size: must be at least 1, got 0"),
    (["--step-size", "2"], "--step-size applies to the step schedule, not cosine"),
    (["--gamma", "0.5"], "--gamma applies to the step and exponential schedules, not cosine"),
    (["--scheduler", "exponential", "--step-size", "2"], "--step-size applies to the step"),
]


@pytest.mark.parametrize(
    ("options", "message"), BAD_SCHEDULES, ids=[" ".join(o) for o, _ in BAD_SCHEDULES]
)
def test_bad_schedule_options_are_usage_errors(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str], no_data: None
) -> None:
    assert message in usage_error(["train", *options], capsys)
