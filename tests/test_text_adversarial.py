"""The language models' command line and APIs under adversarial input: huge counts, edited
checkpoint headers, texts too short for any window, options that do not fit a resumed run.
Each test is a defect found by review; each asserts a clear refusal before any work (or the
right result), on small made-up text files."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import deeplearning as dl
from deeplearning.cli import text_sample
from deeplearning.cli.commands import main
from deeplearning.layers.language_models import MLPLanguageModel, RecurrentLanguageModel
from deeplearning.training import lm_loop
from deeplearning.training.lm_data import load_language_data

from conftest import write_fake_dataset

SMALL_GPT = ["--model", "gpt", "--n-layer", "1", "--n-embd", "16", "--n-head", "2",
             "--block-size", "8", "--eval-iters", "2", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("text")
    (root / "tinyshakespeare").mkdir()
    (root / "tinyshakespeare" / "input.txt").write_text("ROMEO:\nBut soft, what light?\n" * 40)
    write_fake_dataset(root / "mnist", n_train=64, n_test=32)
    return root


@pytest.fixture(scope="module")
def gpt_file(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    save = tmp_path_factory.mktemp("ckpt") / "gpt.npz"
    assert main(["train", "--data-dir", str(data_dir), *SMALL_GPT, "--iters", "4",
                 "--save", str(save)]) == 0  # fmt: skip
    return save


def edited(source: Path, target: Path, edit: Any) -> Path:
    """A copy of a checkpoint whose header ``edit(header)`` changed."""
    with np.load(source, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(str(arrays["header"]))
    edit(header)
    arrays["header"] = np.array(json.dumps(header))
    np.savez(target, **arrays)  # type: ignore[arg-type]
    return target


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return next(line for line in capsys.readouterr().err.splitlines() if ": error: " in line)


def failure(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 1
    return capsys.readouterr().err


# -- sample -------------------------------------------------------------------------------------
def test_sample_refuses_a_token_count_it_could_never_print(
    gpt_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--tokens 10**12 ran for ever, its text held in memory until the end."""
    monkeypatch.setattr(text_sample, "load_checkpoint", None)  # no work, ever
    line = usage_error(["sample", str(gpt_file), "--tokens", str(10**12)], capsys)
    assert "argument --tokens: at most 100,000 characters, got 1,000,000,000,000" in line


def test_a_tokenizer_of_another_size_than_the_model_is_refused(
    gpt_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A header's tokenizer one character short: sample drew the last token and failed to
    decode it (or, longer, encoded a prompt the model cannot read)."""
    short = edited(gpt_file, tmp_path / "short.npz", lambda h: h["tokenizer"].pop())
    for command in (["sample", str(short), "--tokens", "200"], ["evaluate", str(short)]):
        err = failure(command, capsys)
        assert "the header's tokenizer has 20 characters, but the model reads 21 tokens" in err


def test_evaluate_refuses_a_block_size_the_run_did_not_train_on(
    gpt_file: Path, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited header's block_size of 4 was used silently for a GPT trained on 8."""
    other = edited(gpt_file, tmp_path / "b.npz", lambda h: h.update(block_size=4))
    err = failure(["evaluate", str(other), "--data-dir", str(data_dir)], capsys)
    assert "the header's block_size 4 is not the run's (text_recipe's block_size 8)" in err


def test_a_tiny_temperature_draws_the_likeliest_token() -> None:
    model = dl.GPT(10, 8, 1, 2, 8, rng=0)
    prompt = np.array([[3, 1, 4]])
    greedy = model.generate(prompt, 5, top_k=1, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(model.generate(prompt, 5, temperature=1e-320, rng=0), greedy)


# -- the data -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["a", "hello"])
def test_a_text_too_short_for_any_window_says_so(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'give a --block-size below 1' (or below 0) asked for the impossible."""
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_text(text)
    for model in ("gpt", "mlp"):
        line = usage_error(["train", "--data-dir", str(tmp_path), "--model", model,
                            "--block-size", "2", "--iters", "2"], capsys)  # fmt: skip
        assert "below 1" not in line and "below 0" not in line, line
        assert "too short for any window: it needs at least 2 tokens" in line, line


def test_the_evaluation_draws_one_batch_at_a_time(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """estimate_loss held every batch of --eval-iters at once: 10**8 of them never fit."""
    data = load_language_data("tinyshakespeare", 8, contexts=False, data_dir=data_dir)
    model = dl.GPT(data.tokenizer.vocab_size, 8, 1, 2, 8, rng=0)
    expected = lm_loop.estimate_loss(model, data, 4, 3, np.random.default_rng(1))
    events: list[str] = []
    drawn, measured = data.batch, lm_loop.batch_nll
    monkeypatch.setattr(data, "batch", lambda *a: events.append("draw") or drawn(*a))
    monkeypatch.setattr(lm_loop, "batch_nll", lambda *a: events.append("nll") or measured(*a))
    assert lm_loop.estimate_loss(model, data, 4, 3, np.random.default_rng(1)) == expected
    assert events == ["draw", "nll"] * 6


# -- train, new and resumed ---------------------------------------------------------------------
def test_a_model_too_big_for_the_memory_is_refused_before_any_work(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--n-layer 10**9 built blocks for hours; a huge --hidden was killed by the system."""
    from deeplearning.cli import text_commands

    monkeypatch.setattr(text_commands.TextRecipe, "load_data", None)  # no work, ever
    for options in (["--model", "gpt", "--n-layer", str(10**9)],
                    ["--model", "mlp", "--n-embd", "100000", "--hidden", "1000000"]):  # fmt: skip
        line = usage_error(["train", "--data-dir", str(data_dir), *options], capsys)
        assert "parameters, which need" in line and "this machine has" in line, line


def test_resuming_with_fewer_iterations_names_the_iteration_reached(
    gpt_file: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--iters 2 on a run at iteration 4 blamed its warm-up ('--warmup-iters 4 is longer')."""
    line = usage_error(["train", "--data-dir", str(data_dir), "--resume", str(gpt_file),
                        "--iters", "2"], capsys)  # fmt: skip
    assert "already holds iteration 4 of a 4-iteration run: give --iters above 4" in line


@pytest.mark.parametrize("options", [["--dataset", "mnist"], ["--model", "784-8-10"]])
def test_a_language_models_checkpoint_resumed_as_an_image_run(
    options: list[str], gpt_file: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'holds no training recipe: only checkpoints written by `train --save` resume', of a
    file `train --save` wrote."""
    line = usage_error(["train", "--data-dir", str(data_dir), "--resume", str(gpt_file),
                        *options], capsys)  # fmt: skip
    assert "no training recipe" not in line
    assert "language model" in line or "differs from the checkpoint's 'gpt'" in line, line


@pytest.mark.parametrize("layers", [3, 10**9])
def test_resume_refuses_a_recipe_its_arrays_do_not_fit(
    layers: int, gpt_file: Path, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited text_recipe's n_layer: a model of 10**9 blocks was built before the arrays
    were compared with it."""
    other = edited(gpt_file, tmp_path / "r.npz", lambda h: h["text_recipe"].update(n_layer=layers))
    err = failure(
        ["train", "--data-dir", str(data_dir), "--resume", str(other), "--iters", "8"], capsys
    )
    assert "the header's text_recipe describes a model its arrays do not hold" in err


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_a_config_of_a_billion_blocks_is_refused_before_listing_them(
    command: str, gpt_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edited config's n_layer: the reader listed 10**9 blocks' names before comparing."""
    other = edited(gpt_file, tmp_path / "c.npz", lambda h: h["config"].update(n_layer=10**9))
    err = failure([command, str(other)], capsys)
    assert "n_layer=1000000000 implies more arrays than the" in err


def test_api_generate_refuses_an_empty_batch_of_prompts() -> None:
    """B = 0 prompts ran the model max_new_tokens times on nothing (a silent no-op)."""
    empty = np.zeros((0, 3), dtype=np.int64)
    models = [dl.GPT(10, 8, 1, 2, 8, rng=0), RecurrentLanguageModel(10, 4, 8, "gru", rng=0),
              MLPLanguageModel(10, 3, 4, 8, rng=0)]  # fmt: skip
    for model in models:
        with pytest.raises(ValueError, match="no prompt"):
            model.generate(empty, 5, rng=0)


def test_divergence_and_the_wrong_kind_of_checkpoint_read_as_sentences(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'(--lr 1e+03; try 100) x.npz keeps iteration 0.' ran two sentences together; an image
    checkpoint resumed with --dataset tinyshakespeare was told to leave out --model."""
    save = tmp_path / "x.npz"
    argv = ["train", "--data-dir", str(data_dir), *SMALL_GPT, "--iters", "6", "--lr", "1000",
            "--grad-clip", "0", "--optimizer", "sgd", "--eval-interval", "1",
            "--save", str(save)]  # fmt: skip
    err = failure(argv, capsys)
    assert f"). {save} keeps iteration 0." in err, err
    image = tmp_path / "image.npz"
    assert main(["train", "--data-dir", str(data_dir), "--epochs", "1", "--quiet", "--save",
                 str(image)]) == 0  # fmt: skip
    err = failure(["train", "--data-dir", str(data_dir), "--resume", str(image), "--dataset",
                   "tinyshakespeare"], capsys)  # fmt: skip
    assert "leave out the language models' options" in err, err
