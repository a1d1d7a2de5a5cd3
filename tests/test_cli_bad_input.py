"""The command line against bad input: every bad option or combination is one argparse
``error:`` line and exit status 2 before any work; output paths are checked before the first
epoch; a run that blows up stops; Ctrl-C is one line; files keep the user's permissions."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deeplearning import TwoLayerMLP
from deeplearning.cli.commands import format_confusion, main
from deeplearning.core.atomic import STALE_TEMPORARY_S, atomic_write, check_writable
from deeplearning.training.checkpoint import save_checkpoint

from conftest import write_fake_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_fake_dataset(root / "mnist", n_train=256, n_test=64)
    return root


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the command line, expect argparse's exit status 2, return the error line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: deeplearning "), err
    (line,) = [line for line in err.splitlines() if ": error: " in line]
    return line


BAD_OPTIONS = [
    (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["--epochs", "two"], "argument --epochs: expected an integer, got 'two'"),
    (["--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
    (["--lr", "nan"], r"argument --lr: must be a number in (0, infinity), got nan"),
    (["--lr", "-1"], r"argument --lr: must be a number in (0, infinity), got -1"),
    (["--lr", "0"], r"argument --lr: must be a number in (0, infinity), got 0"),
    (["--lr", "inf"], r"argument --lr: must be a number in (0, infinity), got inf"),
    (["--weight-decay", "nan"], r"argument --weight-decay: must be a number in [0, infinity)"),
    (["--momentum", "-1"], r"argument --momentum: must be a number in [0, infinity), got -1"),
    (["--dropout", "-0.5"], r"argument --dropout: must be a number in [0, 1), got -0.5"),
    (["--dropout", "nan"], r"argument --dropout: must be a number in [0, 1), got nan"),
    (["--dropout", "1.0"], r"argument --dropout: must be a number in [0, 1), got 1.0"),
    (["--clip-grad", "0"], r"argument --clip-grad: must be a number in (0, infinity), got 0"),
    (["--clip-grad", "-1"], r"argument --clip-grad: must be a number in (0, infinity)"),
    (["--clip-grad", "nan"], r"argument --clip-grad: must be a number in (0, infinity)"),
    (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["--warmup", "-1"], "argument --warmup: must be at least 0, got -1"),
    (["--model", "784-x-10"], "argument --model: expected 'two-layer', 'lenet5' or two or more"),
    (["--model", "784"], "argument --model: expected 'two-layer', 'lenet5' or two or more"),
    (["--model", "784--10"], "argument --model: expected"),
    (["--model", "784-0-10"], "argument --model: expected"),
    (["--model", "-784-10"], "argument --model: expected"),
    (["--model", "lenet"], "argument --model: expected"),
    (["--optimizer", "sgdd"], "argument --optimizer: invalid choice: 'sgdd'"),
    (["--batchnorm"], "TwoLayerMLP has no BatchNorm or Dropout"),
    (["--optimizer", "adam", "--momentum", "0.9"], "--momentum applies to sgd and rmsprop"),
    (["--warmup", "2", "--epochs", "2"], "warm-up must last 0 to 1 epochs, got 2"),
    (["--model", "700-10"], "the data has 784 features and 10 classes"),
    (["--model", "lenet5", "--dataset", "mnist", "--batch-size", "x"], "argument --batch-size"),
    (["--threads", "0"], "argument --threads: must be at least 1, got 0"),
    (["--threads", "4294967296"], "argument --threads: must be at most 256, got 4294967296"),
    (["--resume", ""], "argument --resume: expected a path, got an empty string"),
    (
        ["--data-dir", "/dev/null"],
        "argument --data-dir: expected a folder, but /dev/null is not one",
    ),
    (["--save", " "], "argument --save: expected a path, got an empty string"),
    (["--json", ""], "argument --json: expected a path, got an empty string"),
    (["--plot", ""], "argument --plot: expected a path, got an empty string"),
    (["--data-dir", ""], "argument --data-dir: expected a path, got an empty string"),
    (["--save", "no_such_folder/"], "argument --save: 'no_such_folder/' ends with '/' but is not"),
]


@pytest.mark.parametrize(
    ("options", "message"), BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS]
)
def test_bad_train_options_are_usage_errors(
    options: list[str], message: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = usage_error(["train", "--data-dir", str(data_dir), *options], capsys)
    assert message in line, line


BAD_BENCH = [
    (["--inference", "--gpt"], "--inference times its own workloads at one thread each"),
    (["--inference", "--threads", "2"], "--inference times its own workloads at one thread"),
    (["--cnn", "--threads", "2"], "--cnn times its own thread settings and split"),
    (["--cnn", "--profile"], "--cnn times its own thread settings and split"),
    (["--gpt", "--cnn"], "--gpt times its own thread settings and split"),
    (["--gpt", "--threads", "2"], "--gpt times its own thread settings and split"),
    (["--gpt", "--scaling"], "--gpt times its own thread settings and split"),
    (["--scaling", "--profile"], "--profile applies to the workloads, not to --scaling"),
    (["--scaling", "--samples", "64"], "--scaling needs at least 1024 samples"),
    (["--threads", "1000"], "argument --threads: must be at most 256, got 1000"),
    (["--repeats", "0"], "argument --repeats: must be at least 1, got 0"),
    (["--samples", "0"], "argument --samples: must be at least 64, got 0"),
    (["--samples", "1e9"], "argument --samples: expected an integer, got '1e9'"),
]


@pytest.mark.parametrize(("options", "message"), BAD_BENCH, ids=[" ".join(o) for o, _ in BAD_BENCH])
def test_bad_bench_options_are_usage_errors(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in usage_error(["bench", *options], capsys)


def test_evaluate_and_bench_explain_themselves(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("evaluate", "bench"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert "usage: deeplearning " + command in out
    assert "(default: 5)" in out and "(default: 60000)" in out  # bench shows its defaults


# -- output paths, checked before the first epoch ------------------------------------------------
def bad_outputs(tmp_path: Path) -> list[tuple[list[str], str]]:
    (tmp_path / "folder").mkdir()
    (tmp_path / "ck_2.npz").mkdir()
    os.mkfifo(tmp_path / "fifo")
    return [
        (["--save", str(tmp_path / "missing" / "ck.npz")], "does not exist: create"),
        (["--save", str(tmp_path / "folder")], "is a folder, not a regular file"),
        (["--save", str(tmp_path / "fifo")], "is a FIFO, not a regular file"),
        (["--save", "/dev/null"], "is a character device, not a regular file"),
        (["--save", str(tmp_path / "ck_{foo}.npz")], "{foo} is not a placeholder"),
        (["--save", str(tmp_path / "ck_{}.npz")], "{} is not a placeholder"),
        (["--save", str(tmp_path / "ck_{epoch.npz")], "argument --save"),
        (["--json", str(tmp_path / "folder")], "--json file"),
        (["--json", str(tmp_path / "missing" / "m.json")], "does not exist"),
        (["--plot", str(tmp_path / "run.xyz")], "cannot write a plot to 'run.xyz': end the name"),
        (["--plot", str(tmp_path / "run.pgf")], "cannot write a plot to 'run.pgf'"),  # LaTeX
        (["--plot", str(tmp_path / ".png")], "cannot write a plot to '.png'"),
        (
            ["--save", str(tmp_path / "same.npz"), "--json", str(tmp_path / "same.npz")],
            "argument --json: " + str(tmp_path / "same.npz") + " is also the --save file",
        ),
        (["--save", str(tmp_path / "ck_{epoch}.npz"), "--epochs", "3"], "ck_2.npz is a folder"),
        (
            ["--save", str(tmp_path / "x{epoch:c}y.npz"), "--epochs", "3"],
            "does not give every epoch a plain file name in one folder",
        ),
        (["--plot", str(tmp_path / "fifo")], "cannot write a plot to 'fifo'"),
    ]


def test_bad_output_paths_are_refused_before_training(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    for options, message in bad_outputs(tmp_path):
        line = usage_error(["train", "--data-dir", str(data_dir), *options], capsys)
        assert message in line, (options, line)
    assert stat.S_ISFIFO((tmp_path / "fifo").stat().st_mode)  # untouched
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc")
def test_standard_output_as_a_pipe_is_refused_before_training(data_dir: Path) -> None:
    """``--json /dev/stdout`` resolves, when stdout is a pipe, to /proc/<pid>/fd/pipe:[...],
    a path that names nothing: it was taken for a new file and failed after an epoch."""
    reading, writing = os.pipe()
    try:
        with pytest.raises(OSError, match=r"/proc/self/fd/\d+ is a FIFO, not a regular file"):
            check_writable(f"/proc/self/fd/{writing}", "--json file")
    finally:
        os.close(reading)
        os.close(writing)
    command = [sys.executable, "-m", "deeplearning", "train", "--data-dir", str(data_dir),
               "--json", "/dev/stdout"]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 2 and run.stdout == ""  # nothing trained
    assert "the --json file /dev/stdout is a FIFO, not a regular file" in run.stderr


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    with atomic_write(link, "w") as stream:
        stream.write("new")
    assert link.is_symlink() and target.read_text() == "new"
    assert check_writable(link) == target.resolve()


def test_the_new_content_reaches_the_disk_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "run.json"
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        status = os.fstat(descriptor)
        events.append(
            "fsync folder" if stat.S_ISDIR(status.st_mode) else f"fsync {status.st_size} bytes"
        )
        real_fsync(descriptor)

    def replace(source: str, destination: Path) -> None:
        events.append("rename")
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    with atomic_write(target, "w") as stream:
        stream.write("0123456789")  # buffered: fsync must flush it first
    assert events == ["fsync 10 bytes", "rename", "fsync folder"]  # the name stays too
    assert target.read_text() == "0123456789"


def test_a_file_system_without_fsync_is_passed_over_and_other_errors_name_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "run.json"
    failure = [errno.EINVAL]

    def fsync(descriptor: int) -> None:
        raise OSError(failure[0], os.strerror(failure[0]))

    monkeypatch.setattr(os, "fsync", fsync)
    with atomic_write(target, "w") as stream:
        stream.write("written, though not forced to the disk")
    assert target.read_text() == "written, though not forced to the disk"
    failure[0] = errno.EIO
    with (
        pytest.raises(OSError, match=re.escape(f"could not write {target} to the disk: ")),
        atomic_write(target, "w") as stream,
    ):
        stream.write("lost")
    assert target.read_text() == "written, though not forced to the disk"  # the old content
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written is left


def test_files_get_the_umask_permissions_and_keep_their_own(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.npz"
        save_checkpoint(fresh, TwoLayerMLP(8, 4, 3, rng=0))
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        fresh.chmod(0o640)
        save_checkpoint(fresh, TwoLayerMLP(8, 4, 3, rng=0))
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
        os.umask(0o077)
        private = tmp_path / "private.json"
        with atomic_write(private, "w") as stream:
            stream.write("{}")
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_the_umask_is_never_read_or_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file is created with mode 0o666, which the system narrows by the umask:
    setting the umask to 0 and back, the portable way to read it, would let a file another
    thread creates meanwhile get the mode 0o666."""
    old = os.umask(0o027)
    try:
        with monkeypatch.context() as patched:
            patched.setattr(os, "umask", lambda mask: pytest.fail("umask changed"))
            with atomic_write(tmp_path / "new.json", "w") as stream:
                stream.write("{}")
        assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_a_replaced_file_loses_its_setuid_and_setgid_bits(tmp_path: Path) -> None:
    target = tmp_path / "tool.json"
    target.write_text("{}")
    target.chmod(0o6755)
    if not stat.S_IMODE(target.stat().st_mode) & stat.S_ISUID:
        pytest.skip("this file system keeps no setuid bit")
    with atomic_write(target, "w") as stream:
        stream.write("[]")
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # read, write, execute kept


def test_temporary_files_of_a_killed_write_are_removed_by_the_next(tmp_path: Path) -> None:
    old = time.time() - STALE_TEMPORARY_S - 60
    stale, young = tmp_path / ".ck.npz.abc12345.tmp", tmp_path / ".ck.npz.def45678.tmp"
    other = tmp_path / ".other.npz.abc12345.tmp"
    for path in (stale, young, other):
        path.write_bytes(b"half a checkpoint")
    for path in (stale, other):
        os.utime(path, (old, old))
    notes = tmp_path / ".ck.npz.notes.tmp"  # a user's file of a similar name
    notes.write_bytes(b"mine")
    os.utime(notes, (old, old))
    save_checkpoint(tmp_path / "ck.npz", TwoLayerMLP(8, 4, 3, rng=0))
    assert notes.exists()  # not a name atomic_write gives its files
    assert not stale.exists()  # left by a killed save of ck.npz
    assert young.exists()  # perhaps another process's save in progress
    assert other.exists()  # another file's


# -- runs that blow up, and Ctrl-C ----------------------------------------------------------------
def test_a_run_that_blows_up_without_nan_stops_and_keeps_the_last_good_epoch(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "ck.npz"
    args = ["train", "--data-dir", str(data_dir), "--quiet", "--save", str(save)]
    assert main([*args, "--epochs", "1"]) == 0
    good = save.read_bytes()
    options = ["--lr", "100", "--epochs", "3", "--scheduler", "constant", "--overwrite"]
    assert main([*args, *options]) == 1
    err = capsys.readouterr().err
    assert "training diverged" in err and ("over 100 times its start" in err or "became" in err)
    assert save.read_bytes() == good  # the diverged run never replaced it


def test_ctrl_c_prints_one_line_and_keeps_the_checkpoint(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import deeplearning.cli.commands as cli

    real_fit = cli.fit

    def interrupted_fit(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        iterator = real_fit(*args, **kwargs)  # type: ignore[arg-type]
        yield next(iterator)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "fit", interrupted_fit)
    save = tmp_path / "ck_{epoch}.npz"
    argv = ["train", "--data-dir", str(data_dir), "--quiet", "--save", str(save), "--epochs", "3"]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert err == f"interrupted during epoch 2. {tmp_path / 'ck_1.npz'} keeps epoch 1."
    assert (tmp_path / "ck_1.npz").exists() and not (tmp_path / "ck_2.npz").exists()


def test_warm_up_prints_the_asked_learning_rate(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--data-dir", str(data_dir), "--lr", "1e-3", "--warmup", "1", "--epochs", "2"]
    assert main(argv) == 0
    assert "after 1 warm-up epoch rising from lr 1e-05 to 0.001" in capsys.readouterr().out


def test_class_names_are_never_cut_short() -> None:
    names = ["T-shirt/top", "Sneaker", "Bag"]
    table = format_confusion(np.array([[5, 0, 1], [1, 12345, 0], [0, 0, 7]]), names)
    head, *rows = table.splitlines()
    assert head.split() == ["true\\pred", *names]
    assert [row.split()[0] for row in rows] == names
    assert len({len(line) for line in table.splitlines()}) == 1  # aligned


def test_json_output_is_written_atomically_with_its_records(data_dir: Path, tmp_path: Path) -> None:
    metrics = tmp_path / "m.json"
    assert main(["train", "--data-dir", str(data_dir), "--quiet", "--epochs", "1",
                 "--json", str(metrics)]) == 0  # fmt: skip
    assert [record["epoch"] for record in json.loads(metrics.read_text())] == [1]


def test_an_unexpected_error_is_one_line_not_a_traceback(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import deeplearning.cli.commands as cli

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(cli, "fit", broken)
    assert main(["train", "--data-dir", str(data_dir), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err == "error: unexpected KeyError: 'surprise' (a bug: please report it)\n"


@pytest.mark.parametrize(
    ("command", "advice"),
    [
        (["train", "--model", "784-10"], "use a smaller --model or --batch-size"),
        (["bench", "--samples", "64"], "use fewer --samples"),
    ],
)
def test_running_out_of_memory_is_one_line_of_advice_for_the_command(
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    advice: str,
) -> None:
    from deeplearning.cli import commands as cli

    def exhausted(*_: object, **__: object) -> None:
        raise MemoryError

    monkeypatch.setattr(cli, "fit", exhausted)
    monkeypatch.setattr(cli, "_bench_report", exhausted)
    assert main([*command, "--data-dir", str(data_dir)] if command[0] == "train" else command) == 1
    assert capsys.readouterr().err == f"error: out of memory: {advice}\n"


def test_a_read_only_folder_is_refused_before_training(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_access = os.access

    def access(path: object, mode: int) -> bool:  # as for a user without write permission
        return False if Path(str(path)) == tmp_path and mode & os.W_OK else real_access(path, mode)

    monkeypatch.setattr(os, "access", access)
    line = usage_error(["train", "--data-dir", str(data_dir), "--json", str(tmp_path / "m.json")],
                       capsys)  # fmt: skip
    assert f"the folder of the --json file {tmp_path / 'm.json'} is not writable" in line


def test_an_output_and_the_checkpoint_resumed_cannot_be_one_file(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "ck.npz"
    assert main(["train", "--data-dir", str(data_dir), "--quiet", "--epochs", "1",
                 "--save", str(save)]) == 0  # fmt: skip
    good = save.read_bytes()
    argv = ["train", "--data-dir", str(data_dir), "--resume", str(save), "--epochs", "2",
            "--json", str(save)]  # fmt: skip
    assert "is also the --resume file" in usage_error(argv, capsys)
    assert save.read_bytes() == good


def test_a_resumed_run_refuses_to_change_what_its_checkpoint_holds(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deeplearning.cli import commands as cli

    save = tmp_path / "ck.npz"
    assert main(["train", "--data-dir", str(data_dir), "--quiet", "--epochs", "1",
                 "--save", str(save)]) == 0  # fmt: skip
    good = save.read_bytes()
    real_load = cli.load_mnist
    monkeypatch.setattr(cli, "load_mnist", lambda *_, **__: pytest.fail("data loaded"))
    resume = ["train", "--data-dir", str(data_dir), "--resume", str(save), "--epochs", "2"]
    for options, message in [
        (["--model", "784-64-10"], "--model '784-64-10' differs from the checkpoint's 'two-layer'"),
        (["--batchnorm"], "--batchnorm on differs from the checkpoint's off"),
        (["--dropout", "0.5"], "--dropout 0.5 differs from the checkpoint's 0.0"),
        (["--optimizer", "adam"], "--optimizer 'adam' differs from the checkpoint's 'sgd'"),
        (["--seed", "5"], "--seed 5 differs from the checkpoint's 0: a resumed run keeps its "
                          "random state (the seed's generator, saved as it was). Leave out "
                          "--seed, or start a new run (without --resume)"),
        (["--batch-size", "32"], "--batch-size 32 differs from the checkpoint's 64: a resumed "
                                 "run keeps its batch size (its schedule counts steps"),
        (["--dataset", "kmnist"], "--dataset 'kmnist' differs from the checkpoint's 'mnist'"),
    ]:  # fmt: skip
        assert message in usage_error(resume + options, capsys), options
    finished = [*resume[:-1], "1"]  # --epochs 1: the checkpoint's only epoch, done already
    assert "already holds epoch 1 of a 1-epoch run: give --epochs above 1 to train on" in (
        usage_error(finished, capsys)
    )
    monkeypatch.setattr(cli, "load_mnist", real_load)
    argv = [
        *resume,
        "--seed",
        "0",
        "--dropout",
        "0",
        "--model",
        "two-layer",
        "--batch-size",
        "64",
        "--lr",
        "0.01",
        "--engine",
        "autograd",
        "--scheduler",
        "step",
        "--quiet",
    ]
    assert main(argv) == 0  # the saved values again (0 for 0.0), and what may change
    assert save.read_bytes() == good  # no --save: the checkpoint is untouched
    batchnorm = tmp_path / "bn.npz"
    assert main(["train", "--data-dir", str(data_dir), "--quiet", "--epochs", "1", "--model",
                 "784-16-10", "--batchnorm", "--save", str(batchnorm)]) == 0  # fmt: skip
    argv = ["train", "--data-dir", str(data_dir), "--resume", str(batchnorm), "--epochs", "2",
            "--batchnorm", "--model", "784-016-10", "--quiet"]  # fmt: skip
    assert main(argv) == 0  # the same flag, the same sizes spelled otherwise


def test_evaluate_refuses_a_model_that_does_not_fit_the_data_set(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deeplearning import MLP

    five = tmp_path / "five.npz"
    save_checkpoint(five, MLP([784, 8, 5], rng=0))  # saved from Python: mnist, by default
    assert main(["evaluate", str(five), "--data-dir", str(data_dir)]) == 1
    assert capsys.readouterr().err == (
        f"error: {five}: its MLP gives 5 class scores but mnist has 10 classes; evaluate a model "
        "on the data set it was trained on\n"
    )
    unknown = tmp_path / "unknown.npz"
    save_checkpoint(unknown, MLP([784, 8, 10], rng=0), dataset=["mnist"])
    assert main(["evaluate", str(unknown), "--data-dir", str(data_dir)]) == 1
    assert capsys.readouterr().err == (
        f"error: {unknown} names the data set ['mnist'], which this library does not know; it "
        "knows fashion-mnist, kmnist, mnist\n"
    )
    small = tmp_path / "small.npz"
    save_checkpoint(small, TwoLayerMLP(20, 8, 10, rng=0))
    assert main(["evaluate", str(small), "--data-dir", str(data_dir)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {small}: its TwoLayerMLP does not take mnist's samples of "
                          "shape (784,) (Linear(20 -> 8) expected input")  # fmt: skip


def test_a_checkpoint_that_is_a_device_is_refused_not_read_forever(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["evaluate", "/dev/zero"]) == 1
    assert "/dev/zero is not a regular file, so it is not a checkpoint" in capsys.readouterr().err


def test_an_existing_file_that_is_not_writable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "locked.json"
    target.write_text("keep")
    real_access = os.access

    def access(path: object, mode: int) -> bool:  # as for a user who may not write it
        return False if Path(str(path)) == target and mode & os.W_OK else real_access(path, mode)

    monkeypatch.setattr(os, "access", access)
    with (
        pytest.raises(OSError, match=r"locked\.json is not writable"),
        atomic_write(target, "w") as stream,
    ):
        stream.write("new")
    assert target.read_text() == "keep"


def test_the_divergence_rule_leaves_other_losses_alone() -> None:
    from deeplearning import SGD, Linear, MSELoss, Sequential
    from deeplearning.training.loop import train_epoch

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    model = Sequential(Linear(5, 1, rng=0))
    y = (model.forward(x) + 1.0).astype(np.float32)  # a first loss near 1, later ones ~300x
    y[32:] += 30
    loss, _ = train_epoch(model, MSELoss(), SGD(model.parameters(), lr=1e-6), x, y,
                          batch_size=32, rng=None)  # fmt: skip
    assert np.isfinite(loss)  # not stopped: the 100x rule is the default cross-entropy's


def test_a_long_run_checks_a_bounded_sample_of_its_save_names(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every epoch's name was built and checked: 3,000,000 epochs took minutes and a gigabyte
    before training, 10**15 ran out of memory."""
    from deeplearning.cli.outputs import SAVE_NAMES_CHECKED, _epochs_checked

    assert list(_epochs_checked(1, 3)) == [1, 2, 3]
    assert len(_epochs_checked(1, SAVE_NAMES_CHECKED)) == SAVE_NAMES_CHECKED
    assert _epochs_checked(1, 3_000_000) == [1, 9, 10, 99, 100, 999, 1000, 9999, 10_000, 99_999,
                                             100_000, 999_999, 1_000_000, 3_000_000]  # fmt: skip
    assert _epochs_checked(500, 3_000_000)[:4] == [500, 999, 1000, 9999]  # a resumed run's
    argv = ["train", "--data-dir", str(data_dir), "--epochs", str(10**15), "--save"]
    line = usage_error([*argv, "ck_{epoch:/>3}.npz"], capsys)  # '/' once the number is short
    assert "does not give every epoch a plain file name in one folder" in line
