"""The command line's language models end to end, on small made-up text files: ``train``
(its lines, checkpoint, records and picture), ``sample``, ``evaluate``, a resumed run going on
bit for bit, divergence and Ctrl-C, and every bad option an exit status 2 before any work.
Real data (DEEPLEARNING_DATA) only in the tests marked slow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deeplearning.cli import text_commands
from deeplearning.cli.commands import main
from deeplearning.training.checkpoint import read_checkpoint

from conftest import write_fake_dataset

SMALL_GPT = ["--n-layer", "1", "--n-embd", "16", "--n-head", "2", "--block-size", "16"]


def made_up_names(count: int, seed: int = 0) -> list[str]:
    generator = np.random.default_rng(seed)
    syllables = ["an", "el", "ma", "ri", "so", "li", "ja", "ne", "ka", "to", "ia", "ev"]
    return [
        "".join(generator.choice(syllables, size=generator.integers(1, 4))) for _ in range(count)
    ]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("text")
    lines = ["ROMEO:", "But soft, what light through yonder window breaks?", "",
             "JULIET:", "O Romeo, Romeo, wherefore art thou Romeo?", ""]  # fmt: skip
    (root / "tinyshakespeare").mkdir()
    (root / "tinyshakespeare" / "input.txt").write_text("\n".join(lines * 30))
    (root / "names").mkdir()
    (root / "names" / "names.txt").write_text("\n".join(made_up_names(300)) + "\n")
    write_fake_dataset(root / "mnist", n_train=64, n_test=32)
    return root


def train(data_dir: Path, *args: str) -> int:
    return main(["train", "--data-dir", str(data_dir), "--eval-iters", "2", *args])


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if ": error: " in line]
    return line


def test_train_gpt_prints_evaluations_and_writes_its_files(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save, records, picture = tmp_path / "gpt.npz", tmp_path / "gpt.json", tmp_path / "gpt.png"
    options = ["--iters", "20", "--eval-interval", "10", "--save", str(save), "--json",
               str(records)]  # fmt: skip
    assert train(data_dir, "--model", "gpt", *SMALL_GPT, *options) == 0
    out = capsys.readouterr().out
    assert "tinyshakespeare: " in out and " validation targets, " in out
    assert "GPT(vocab_size=" in out and "bias=False): " in out
    assert "weight decay 0.1 on the weights, gradient norm clipped to 1" in out
    for step in (0, 10, 20):
        assert f"iter {step}: train loss " in out
    assert ", val loss " in out and " tokens/s" in out
    assert "final: iter 20, val loss " in out and "on the whole validation split" in out
    written = json.loads(records.read_text())
    assert [r["iter"] for r in written] == [0, 10, 20]
    assert list(written[0]) == ["iter", "train_loss", "val_loss", "seconds", "tokens_per_second"]
    header, arrays = read_checkpoint(save)
    best = min(written, key=lambda r: r["val_loss"])
    assert header["iter"] == best["iter"] and header["best_val_loss"] == best["val_loss"]
    assert header["model"] == "GPT" and header["dataset"] == "tinyshakespeare"
    assert header["text_recipe"]["n_layer"] == 1 and "".join(header["tokenizer"]).startswith("\n")
    assert "optimizer.exp_avg.0" in arrays
    pytest.importorskip("matplotlib")
    assert train(data_dir, "--model", "gpt", *SMALL_GPT, "--iters", "4", "--quiet", "--plot",
                 str(picture)) == 0  # fmt: skip
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.startswith("final: iter 4, val loss")


def test_sample_and_evaluate_a_saved_model(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "lstm.npz"
    options = ["--block-size", "16", "--hidden", "16", "--save", str(save), "--quiet"]
    assert train(data_dir, "--model", "lstm", "--dataset", "names", "--iters", "10", *options) == 0
    capsys.readouterr()
    assert main(["sample", str(save), "--prompt", "ma", "--tokens", "30", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("ma") and len(text) == 2 + 30 + 1
    assert set(text.strip()) <= set(".abcdefghijklmnopqrstuvwxyz")
    assert main(["sample", str(save), "--prompt", "ma", "--tokens", "30", "--seed", "3"]) == 0
    assert capsys.readouterr().out == text
    assert main(["sample", str(save), "--tokens", "5", "--temperature", "2", "--top-k", "1"]) == 0
    assert len(capsys.readouterr().out) == 5 + 1  # an empty prompt: from token 0
    assert main(["evaluate", str(save), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{save}: lstm (RecurrentLanguageModel), iteration 10, names"
    assert out[1].startswith("val loss: ") and "over the whole validation split" in out[1]
    assert out[2].startswith("test loss: ") and out[2].endswith(" tokens)")
    line = usage_error(["sample", str(save), "--prompt", "Ma!"], capsys)
    assert "argument --prompt: '!' 'M' are not among the 14 characters" in line


def test_the_makemore_mlp_from_one_command(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "mlp.npz"
    command = ["--model", "mlp", "--dataset", "names", "--block-size", "3", "--n-embd", "10",
               "--hidden", "200", "--batch-size", "32", "--iters", "400", "--optimizer", "sgd",
               "--lr", "0.1", "--min-lr", "0.01", "--lr-schedule", "step", "--lr-drop-at", "200",
               "--eval-interval", "200", "--save", str(save)]  # fmt: skip
    assert train(data_dir, *command) == 0
    out = capsys.readouterr().out
    assert "MLPLanguageModel(vocab_size=" in out and "11,897 parameters" not in out
    assert "SGD(lr=0.1, momentum=0.0" in out and "lr 0.1, 0.01 from iteration 200" in out
    assert "batch size 32, 400 iterations" in out
    records = [line for line in out.splitlines() if line.startswith("iter ")]
    assert len(records) == 3
    assert float(records[-1].split("val loss ")[1].split(",")[0]) < 3.0  # from about 20
    assert main(["evaluate", str(save), "--data-dir", str(data_dir)]) == 0
    assert "val loss: " in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    picture = tmp_path / "mlp.svg"  # the loss curves alone: no attention to draw
    assert train(data_dir, "--model", "mlp", "--iters", "5", "--quiet", "--plot", str(picture)) == 0
    assert b"<svg" in picture.read_bytes()[:4096]


def test_a_resumed_run_goes_on_bit_for_bit(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    command = ["--model", "gru", "--iters", "30", "--eval-interval", "10", "--block-size", "8",
               "--hidden", "16", "--quiet"]  # fmt: skip
    whole, part = tmp_path / "whole.npz", tmp_path / "part.npz"
    assert train(data_dir, *command, "--save", str(whole), "--json", str(tmp_path / "w.json")) == 0
    saving = text_commands.save_text_checkpoint

    def stop_after_iteration_10(*args: Any) -> None:
        saving(*args)
        if args[5][-1].iter == 10:
            raise KeyboardInterrupt

    monkeypatch.setattr(text_commands, "save_text_checkpoint", stop_after_iteration_10)
    assert train(data_dir, *command, "--save", str(part), "--json", str(tmp_path / "p.json")) == 130
    assert "interrupted; the last evaluation was at iteration 10. " in capsys.readouterr().err
    monkeypatch.setattr(text_commands, "save_text_checkpoint", saving)
    resumed = ["--iters", "30", "--save", str(part), "--json", str(tmp_path / "p.json"), "--quiet"]
    assert train(data_dir, "--resume", str(part), *resumed) == 0
    a, b = (json.loads((tmp_path / name).read_text()) for name in ("w.json", "p.json"))
    assert [(r["iter"], r["train_loss"], r["val_loss"]) for r in a] == [
        (r["iter"], r["train_loss"], r["val_loss"]) for r in b
    ]
    (header_a, arrays_a), (header_b, arrays_b) = read_checkpoint(whole), read_checkpoint(part)
    assert header_a["iter"] == header_b["iter"] and header_a["rng_state"] == header_b["rng_state"]
    for name, value in arrays_a.items():
        if name != "header":
            np.testing.assert_array_equal(value, arrays_b[name], err_msg=name)


def test_a_run_that_diverges_keeps_its_last_good_checkpoint(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "m.npz"
    command = ["--model", "mlp", "--iters", "40", "--eval-interval", "5", "--quiet"]
    assert train(data_dir, *command, "--save", str(save)) == 0
    before = save.read_bytes()
    with np.errstate(all="ignore"):
        status = train(data_dir, *command, "--lr", "1e30", "--min-lr", "1e29", "--save",
                       str(save), "--overwrite")  # fmt: skip
    assert status == 1
    err = capsys.readouterr().err
    assert "at iteration " in err and "training diverged. Likely causes: a learning rate" in err
    assert "no gradient clipping (give --grad-clip 1.0)" in err
    assert save.read_bytes() != before and f"{save} keeps iteration " in err


def test_ctrl_c_is_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(text_commands, "train_language_model", interrupted)
    assert train(data_dir, "--model", "rnn", "--quiet") == 130
    assert capsys.readouterr().err == "interrupted; the last evaluation was at iteration 0.\n"


BAD = [
    (["--model", "gpt", "--dataset", "mnist"], "--model gpt is a language model: it trains on"),
    (["--model", "mlp", "--dataset", "mnist"], "an image MLP is given by its sizes"),
    (["--dataset", "names", "--model", "lenet5"], "--dataset names is text: train a language"),
    (["--model", "gpt", "--epochs", "3"], "--epochs applies to the image models; a language"),
    (["--model", "gpt", "--clip-grad", "1"], "a language model takes --grad-clip"),
    (["--model", "gpt", "--batchnorm"], "--batchnorm applies to the image models"),
    (["--iters", "3"], "--iters applies to the language models (--model gpt, rnn"),
    (["--model", "gpt", "--iters", "-1"], "argument --iters: must be at least 1, got -1"),
    (["--model", "gpt", "--iters", "0"], "argument --iters: must be at least 1, got 0"),
    (["--model", "gpt", "--n-layer", "0"], "argument --n-layer: must be at least 1"),
    (["--model", "gpt", "--n-head", "x"], "argument --n-head: expected an integer"),
    (["--model", "gpt", "--n-embd", "30"], "--n-embd 30 is not a multiple of --n-head 4"),
    (["--model", "gpt", "--block-size", "0"], "argument --block-size: must be at least 1"),
    (["--model", "gpt", "--block-size", "100000"], "too few for windows of --block-size 100000"),
    (
        ["--model", "mlp", "--block-size", "100000", "--dataset", "tinyshakespeare"],
        "too few for contexts of --block-size 100000",
    ),
    (["--model", "lstm", "--hidden", "0"], "argument --hidden: must be at least 1"),
    (["--model", "gpt", "--hidden", "8"], "--hidden applies to --model rnn or lstm or gru"),
    (["--model", "lstm", "--n-layer", "2"], "--n-layer applies to --model gpt, not lstm"),
    (["--model", "gpt", "--init", "xavier"], "argument --init: invalid choice: 'xavier'"),
    (["--model", "gpt", "--min-lr", "-1"], "argument --min-lr: must be a number in [0, infinity)"),
    (["--model", "gpt", "--min-lr", "0.1"], "--min-lr 0.1 is above --lr 0.001"),
    (["--model", "gpt", "--warmup-iters", "-1"], "argument --warmup-iters: must be at least 0"),
    (["--model", "gpt", "--warmup-iters", "9", "--iters", "5"], "--warmup-iters 9 is longer"),
    (["--model", "gpt", "--lr-schedule", "linear"], "argument --lr-schedule: invalid choice"),
    (["--model", "gpt", "--lr-drop-at", "5"], "--lr-drop-at applies to --lr-schedule step"),
    (["--model", "mlp", "--lr-drop-at", "-5"], "argument --lr-drop-at: must be at least 0"),
    (["--model", "gpt", "--beta2", "1"], "argument --beta2: must be a number in [0, 1), got 1"),
    (["--model", "mlp", "--beta2", "0.9"], "--beta2 applies to adam and adamw, not sgd"),
    (["--model", "gpt", "--grad-clip", "-1"], "argument --grad-clip: must be a number in [0,"),
    (["--model", "gpt", "--eval-interval", "0"], "argument --eval-interval: must be at least 1"),
    (["--model", "gpt", "--eval-iters", "0"], "argument --eval-iters: must be at least 1, got 0"),
    (["--model", "gpt", "--dropout", "1"], "argument --dropout: must be a number in [0, 1)"),
    (["--model", "gpt", "--momentum", "0.9"], "--momentum applies to sgd and rmsprop, not adamw"),
    (["--model", "rnn", "--bias"], "--bias applies to --model gpt, not rnn"),
    (["--model", "gpt", "--save", "ck_{epoch}.npz"], "a language model keeps one checkpoint"),
    (["--model", "transformer"], "argument --model: expected 'two-layer', 'lenet5' or two or"),
]


@pytest.mark.parametrize(("options", "message"), BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_options_are_usage_errors_before_any_work(
    options: list[str], message: str, data_dir: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(text_commands, "train_language_model", None)  # no training, ever
    line = usage_error(["train", "--data-dir", str(data_dir), *options], capsys)
    assert message in line, line


BAD_SAMPLE = [
    (["--top-k", "0"], "argument --top-k: must be at least 1, got 0"),
    (["--temperature", "0"], "argument --temperature: must be a number in (0, infinity), got 0"),
    (["--temperature", "-1"], "argument --temperature: must be a number in (0, infinity)"),
    (["--tokens", "0"], "argument --tokens: must be at least 1, got 0"),
    (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
]


@pytest.mark.parametrize(
    ("options", "message"), BAD_SAMPLE, ids=[" ".join(o) for o, _ in BAD_SAMPLE]
)
def test_bad_sample_options_are_usage_errors(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in usage_error(["sample", "missing.npz", *options], capsys)


def test_sample_and_resume_refuse_the_wrong_checkpoints(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "image.npz"
    assert main(["train", "--data-dir", str(data_dir), "--epochs", "1", "--quiet", "--save",
                 str(image)]) == 0  # fmt: skip
    assert main(["sample", str(image)]) == 1
    assert "holds no tokenizer, so it is not a language model's checkpoint" in (
        capsys.readouterr().err
    )
    assert train(data_dir, "--model", "gpt", "--resume", str(image)) == 1
    assert "holds an image model's run, not a language model's" in capsys.readouterr().err
    text = tmp_path / "text.npz"
    assert train(data_dir, "--model", "rnn", "--iters", "2", "--quiet", "--save", str(text)) == 0
    line = usage_error(["train", "--resume", str(text), "--model", "lstm"], capsys)
    assert "--model 'lstm' differs from the checkpoint's 'rnn'" in line
    line = usage_error(["train", "--data-dir", str(data_dir), "--resume", str(text)], capsys)
    assert "already holds iteration 2 of a 2-iteration run: give --iters above 2" in line
    line = usage_error(["train", "--model", "rnn", "--save", str(text)], capsys)
    assert f"argument --save: {text} exists: it is a checkpoint (RecurrentLanguageModel, " in line
    assert "iteration 2, validation loss " in line and "Pass --overwrite to replace it" in line


# -- the real data ------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_short_mlp_run_on_the_real_names(
    text_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """20,000 of the lecture's steps already beat the bigram baseline (2.4546)."""
    save = str(tmp_path / "m.npz")
    command = ["--model", "mlp", "--dataset", "names", "--iters", "20000", "--save", save]
    assert main(["train", "--data-dir", str(text_root), "--quiet", *command]) == 0
    out = capsys.readouterr().out
    assert float(out.split("val loss ")[1].split()[0]) < 2.4
    assert main(["evaluate", save, "--data-dir", str(text_root)]) == 0
    assert "(22,655 tokens)" in capsys.readouterr().out  # makemore's dev split
