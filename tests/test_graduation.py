"""tools/graduation.py, the walk-through of docs/graduation.md: LeNet5 trained here is the same
network in PyTorch (the same test accuracy), trains on there, comes back, and ONNX Runtime
predicts what it predicts here; a GPT checkpoint writes in PyTorch with our logits."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

import deeplearning as dl
from deeplearning.data.text import CharTokenizer
from deeplearning.training.checkpoint import save_checkpoint

from conftest import load_tool, write_fake_dataset

pytest.importorskip("torch", reason="the walk-through needs the `torch` extra")
pytest.importorskip("onnxruntime", reason="the walk-through needs the `interop` extra")
pytest.importorskip("onnx", reason="the walk-through needs the `interop` extra")


def graduation() -> ModuleType:
    return load_tool("graduation")


def check_walk_through(out: str, images: int) -> None:
    converted = re.search(r"converted: test acc ([\d.]+)% \(here ([\d.]+)%\)", out)
    assert converted and converted[1] == converted[2], out
    trained = re.search(r"epoch 2 in PyTorch: test acc ([\d.]+)%", out)
    served = re.search(r"ONNX Runtime: test acc ([\d.]+)%; 0 of ([\d,]+) predictions differ", out)
    assert trained and served and trained[1] == served[1], out
    assert served[2] == f"{images:,}"


@pytest.fixture
def gpt(tmp_path: Path) -> Path:
    tokenizer = CharTokenizer.from_text("ROMEO: abc")
    path = tmp_path / "gpt.npz"
    save_checkpoint(path, dl.GPT(tokenizer.vocab_size, 8, 1, 2, 8, rng=0),
                    tokenizer=tokenizer.to_json())  # fmt: skip
    return path


def test_the_walk_through_on_a_small_data_set(
    tmp_path: Path, gpt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_fake_dataset(tmp_path / "mnist", n_train=256, n_test=64)
    argv = ["--data-dir", str(tmp_path), "--epochs-here", "1", "--gpt", str(gpt)]
    assert graduation().main(argv) == 0
    out = capsys.readouterr().out
    check_walk_through(out, 64)
    difference = re.search(r"the logits of the prompt differ from ours by at most (\S+)\n", out)
    assert difference and float(difference[1]) < 1e-5
    assert re.search(r"\nROMEO:.{200}", out, re.S)


def test_bad_arguments_and_a_missing_data_set_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = graduation()
    for argv, message in [
        (["--samples", "0"], "argument --samples: must be a positive int, got '0'"),
        (["--gpt", str(tmp_path / "no.npz")], f"argument --gpt: no file {tmp_path / 'no.npz'}"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            tool.main(argv)
        assert exit_info.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)
    monkeypatch.setattr(tool, "load_mnist", lambda *_, **__: (_ for _ in ()).throw(OSError("no")))
    assert tool.main([]) == 1
    assert capsys.readouterr().err == "error: no\n"


@pytest.mark.slow
def test_the_walk_through_on_mnist(mnist_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/graduation.md's run, on the first 6,000 training images (about 30 s)."""
    argv = ["--data-dir", str(mnist_root), "--epochs-here", "1", "--samples", "6000"]
    assert graduation().main(argv) == 0
    out = capsys.readouterr().out
    check_walk_through(out, 10_000)
    accuracy = re.search(r"epoch 2 in PyTorch: test acc ([\d.]+)%", out)
    assert accuracy and float(accuracy[1]) > 90
