"""A language model's training: nanoGPT's learning rate and makemore's step, the examples
(random windows, makemore's contexts, every target once for a whole split), the evaluation's
own generator, both paths giving the same run, divergence, and the recipe's defaults and
refusals. Small made-up data: no file is read."""

from __future__ import annotations

import math
import re
import sys
from typing import Any

import numpy as np
import pytest

from deeplearning.data.language import context_dataset
from deeplearning.data.text import CharTokenizer
from deeplearning.layers import RecurrentLanguageModel
from deeplearning.optim import SGD
from deeplearning.training.lm_data import (
    ContextExamples,
    TokenStreams,
    names_stream,
    text_contexts,
)
from deeplearning.training.lm_loop import (
    EvalRecord,
    evaluate_split,
    get_lr,
    lm_schedule,
    step_lr,
    train_language_model,
)
from deeplearning.training.lm_recipe import MODEL_DEFAULTS, TextRecipe
from deeplearning.training.loop import TrainingDivergedError

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 40
TOKENIZER = CharTokenizer.from_text(TEXT)
WORDS = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn"]
NAMES = CharTokenizer([".", *"abcdefghijklmnopqrstuvwxyz"])


def streams(block_size: int = 8) -> TokenStreams:
    ids = TOKENIZER.encode(TEXT)
    return TokenStreams({"train": ids[:1500], "val": ids[1500:]}, TOKENIZER, block_size)


def nanogpt_get_lr(it: int, lr: float, min_lr: float, warmup: int, decay: int) -> float:
    """nanoGPT's train.py, as written there."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay:
        return min_lr
    decay_ratio = (it - warmup) / (decay - warmup)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (lr - min_lr)


@pytest.mark.parametrize("it", [0, 1, 50, 99, 100, 101, 777, 1000, 1999, 2000, 2001, 5000])
def test_get_lr_is_nanogpts(it: int) -> None:
    ours = get_lr(it, lr=1e-3, min_lr=1e-4, warmup_iters=100, lr_decay_iters=2000)
    assert ours == pytest.approx(nanogpt_get_lr(it, 1e-3, 1e-4, 100, 2000), rel=1e-15, abs=0)


def test_get_lr_without_warm_up_and_makemores_step() -> None:
    assert get_lr(0, lr=1.0, min_lr=0.1, warmup_iters=0, lr_decay_iters=10) == 1.0
    assert get_lr(5, lr=1.0, min_lr=0.1, warmup_iters=0, lr_decay_iters=10) == pytest.approx(0.55)
    assert get_lr(10, lr=1.0, min_lr=0.1, warmup_iters=10, lr_decay_iters=10) == 0.1  # no 0 / 0
    rates = [step_lr(i, lr=0.1, min_lr=0.01, warmup_iters=0, drop_at=100_000)
             for i in (0, 99_999, 100_000, 199_999)]  # fmt: skip
    assert rates == [0.1, 0.1, 0.01, 0.01]  # lr = 0.1 if i < 100000 else 0.01


def test_the_schedule_sets_every_groups_rate_at_each_iteration() -> None:
    data = streams()
    model = RecurrentLanguageModel(TOKENIZER.vocab_size, 4, 8, rng=0)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    optimizer = SGD(
        [{"params": decay, "weight_decay": 0.1},
         {"params": [p for p in model.parameters() if p.ndim < 2]}], lr=0.5,
    )  # fmt: skip
    seen: list[list[float]] = []
    step = optimizer.step

    def spy() -> None:
        seen.append([group["lr"] for group in optimizer.param_groups])
        step()

    optimizer.step = spy  # type: ignore[method-assign]
    schedule = lm_schedule(0.5, 0.05, 2, 6)
    list(train_language_model(model, data, optimizer, iters=6, batch_size=2,
                              rng=np.random.default_rng(0), schedule=schedule))  # fmt: skip
    assert seen == [[schedule(i)] * 2 for i in range(6)]


def test_windows_are_nanogpts_batches_and_the_whole_split_has_every_target_once() -> None:
    data = streams(block_size=7)
    x, y = data.batch("train", 5, np.random.default_rng(0))
    starts = np.random.default_rng(0).integers(1500 - 7, size=5)
    train = data.streams["train"]
    for row, start in enumerate(starts):
        np.testing.assert_array_equal(x[row], train[start : start + 7])
        np.testing.assert_array_equal(y[row], train[start + 1 : start + 8])
    val = data.streams["val"]
    batches = list(data.eval_batches("val"))
    targets = np.concatenate([t.ravel() for _, t in batches])
    np.testing.assert_array_equal(targets, val[1:])  # each once, in order
    inputs = np.concatenate([i.ravel() for i, _ in batches])
    np.testing.assert_array_equal(inputs, val[:-1])
    assert data.targets("val") == len(val) - 1 and (len(val) - 1) % 7  # a shorter last window
    assert batches[-1][0].shape == (1, (len(val) - 1) % 7)


def test_the_whole_split_loss_is_the_mean_over_its_windows_tokens() -> None:
    data = streams(block_size=16)
    model = RecurrentLanguageModel(TOKENIZER.vocab_size, 4, 8, "gru", rng=1, dtype=np.float64)
    val, total = data.streams["val"], 0.0
    for start in range(0, len(val) - 1, 16):
        x, y = val[start : start + 16][: len(val) - 1 - start], val[start + 1 : start + 17]
        logits = model.infer(x[None])[0]
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        total -= logp[np.arange(len(y)), y].sum()
    assert evaluate_split(model, data, "val") == pytest.approx(total / (len(val) - 1), rel=1e-12)
    with pytest.raises(ValueError, match="no 'test' split"):
        evaluate_split(model, data, "test")


def test_the_whole_split_is_evaluated_on_the_threads_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """One BLAS thread by default, as training evaluates; None leaves BLAS alone."""
    import deeplearning.training.lm_loop as lm_loop

    asked: list[Any] = []
    real = lm_loop.blas_threads
    monkeypatch.setattr(lm_loop, "blas_threads", lambda n: asked.append(n) or real(n))
    data = streams(block_size=16)
    model = RecurrentLanguageModel(TOKENIZER.vocab_size, 4, 8, "rnn", rng=1)
    default = evaluate_split(model, data)
    assert evaluate_split(model, data, threads=None) == pytest.approx(default, rel=1e-5)
    assert asked == [lm_loop.DEFAULT_BLAS_THREADS, None]


def test_names_streams_and_contexts_count_the_same_targets() -> None:
    stream = names_stream(WORDS[:2], NAMES)
    assert NAMES.decode(stream) == ".emma.olivia."
    x, y = context_dataset(WORDS, NAMES, 3)
    assert len(names_stream(WORDS, NAMES)) - 1 == len(y)
    examples = ContextExamples({"train": (x, y), "val": (x, y)}, NAMES)
    bx, by = examples.batch("train", 32, np.random.default_rng(2))
    rows = np.random.default_rng(2).integers(len(y), size=32)  # torch.randint(0, len(X), (32,))
    np.testing.assert_array_equal(bx, x[rows])
    np.testing.assert_array_equal(by, y[rows])
    assert sum(len(t) for _, t in examples.eval_batches("val")) == examples.targets("val")


def test_text_contexts_are_every_position_after_the_first_block() -> None:
    ids = np.arange(10)
    x, y = text_contexts(ids, 3)
    np.testing.assert_array_equal(x[0], [0, 1, 2])
    np.testing.assert_array_equal(y, np.arange(3, 10))
    with pytest.raises(ValueError, match="too few for contexts of --block-size 10"):
        text_contexts(ids, 10)
    with pytest.raises(ValueError, match="the val split has 5 tokens, too few for windows"):
        TokenStreams({"train": ids, "val": ids[:5]}, TOKENIZER, 5)


def run(engine: str = "layers", model: str = "lstm", **options: Any) -> tuple[Any, list[Any]]:
    """A short run of ``model`` on the made-up text; its model and records."""
    settings = {"iters": 12, "eval_interval": 4, "eval_iters": 2, "batch_size": 4, **options}
    recipe = TextRecipe(model=model, engine=engine, **settings)
    data = streams(recipe.block_size) if model != "mlp" else ContextExamples(
        {s: text_contexts(streams().streams[s], recipe.block_size or 3) for s in ("train", "val")},
        TOKENIZER,
    )  # fmt: skip
    rng = np.random.default_rng(recipe.seed)
    net = recipe.build_model(TOKENIZER.vocab_size, rng)
    records = list(train_language_model(
        net, data, recipe.build_optimizer(net), iters=settings["iters"],
        batch_size=settings["batch_size"], rng=rng, schedule=recipe.build_schedule(),
        grad_clip=recipe.grad_clip or None, eval_interval=settings["eval_interval"],
        eval_iters=settings["eval_iters"],
    ))  # fmt: skip
    return net, records


@pytest.mark.parametrize(
    ("model", "options"),
    [("gpt", {"n_layer": 1, "n_embd": 16, "block_size": 8}), ("lstm", {"block_size": 8}),
     ("gru", {"block_size": 8, "hidden": 16}), ("mlp", {})],
)  # fmt: skip
def test_both_paths_give_the_same_run(model: str, options: dict[str, Any]) -> None:
    _, layers = run("layers", model, **options)
    _, engine = run("autograd", model, **options)
    assert [r.iter for r in layers] == [0, 4, 8, 12]
    for ours, theirs in zip(layers, engine):
        assert ours.train_loss == pytest.approx(theirs.train_loss, rel=2e-5)
        assert ours.val_loss == pytest.approx(theirs.val_loss, rel=2e-5)
    assert layers[-1].train_loss < layers[0].train_loss


def test_evaluating_more_often_changes_no_training_batch() -> None:
    often, records = run(eval_interval=2)
    rarely, _ = run(eval_interval=12, eval_iters=5)
    for name, value in often.state_dict().items():
        np.testing.assert_array_equal(value, rarely.state_dict()[name], err_msg=name)
    assert [r.iter for r in records] == [0, 2, 4, 6, 8, 10, 12]
    assert isinstance(records[0], EvalRecord) and records[0].tokens_per_second == 0
    assert records[1].tokens_per_second > 0 and records[1].seconds > 0
    assert str(records[1]).startswith("iter 2: train loss ") and "tokens/s" in str(records[1])


def test_a_run_that_blows_up_stops_at_its_iteration() -> None:
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError) as caught:
        run(model="mlp", lr=1e30, min_lr=1e29)
    assert caught.value.at.startswith("iteration ") and "training diverged" in str(caught.value)


def test_the_recipes_defaults_are_nanogpts_baby_gpt_and_makemores_mlp() -> None:
    gpt = TextRecipe()
    assert (gpt.dataset, gpt.model, gpt.engine) == ("tinyshakespeare", "gpt", "layers")
    issue = {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "batch_size": 12,
             "iters": 2000, "lr": 1e-3, "min_lr": 1e-4, "warmup_iters": 100,
             "weight_decay": 0.1, "beta2": 0.99, "dropout": 0.0, "bias": False,
             "grad_clip": 1.0, "eval_interval": 250, "eval_iters": 20,
             "optimizer": "adamw"}  # fmt: skip
    assert {key: getattr(gpt, key) for key in issue} == issue
    mlp = TextRecipe(model="mlp", dataset="names")
    assert (mlp.block_size, mlp.n_embd, mlp.hidden, mlp.batch_size, mlp.iters) == (
        3, 10, 200, 32, 200_000
    )  # fmt: skip
    assert (mlp.optimizer, mlp.lr, mlp.min_lr, mlp.drop_at, mlp.momentum) == (
        "sgd", 0.1, 0.01, 100_000, None
    )  # fmt: skip
    assert mlp.init == "normal" and not mlp.grad_clip and mlp.beta2 is None
    assert TextRecipe.from_dict(gpt.to_dict()) == gpt
    assert set(MODEL_DEFAULTS) == {"gpt", "rnn", "lstm", "gru", "mlp"}
    assert TextRecipe(iters=50).warmup_iters == 50  # the default warm-up, in a shorter run


def test_weight_decay_goes_to_the_weights_only() -> None:
    recipe = TextRecipe(n_layer=1, n_embd=16, block_size=8, bias=True)
    model = recipe.build_model(11, np.random.default_rng(0))
    optimizer = recipe.build_optimizer(model)
    decayed, kept = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and kept["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decayed["params"]) and all(p.ndim == 1 for p in kept["params"])
    assert len(decayed["params"]) + len(kept["params"]) == len(list(model.parameters()))
    assert optimizer.betas == (0.9, 0.99)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "lstm", "n_layer": 2}, "--n-layer applies to --model gpt, not lstm"),
        ({"model": "gpt", "hidden": 2}, "--hidden applies to --model rnn or lstm or gru or mlp"),
        ({"model": "lstm", "init": "normal"}, "--init applies to --model mlp, not lstm"),
        ({"n_embd": 30}, "--n-embd 30 is not a multiple of --n-head 4"),
        ({"momentum": 0.9}, "--momentum applies to sgd and rmsprop, not adamw"),
        ({"model": "mlp", "beta2": 0.9}, "--beta2 applies to adam and adamw, not sgd"),
        ({"lr_drop_at": 10}, "--lr-drop-at applies to --lr-schedule step, not cosine"),
        ({"min_lr": 0.1}, "--min-lr 0.1 is above --lr 0.001"),
        ({"warmup_iters": 300, "iters": 200}, "--warmup-iters 300 is longer than the run"),
        ({"model": "mlp", "lr_drop_at": 10, "iters": 5}, "--lr-drop-at 10 is after the run's"),
        ({"dataset": "mnist"}, "unknown dataset 'mnist'; choose one of names, tinyshakespeare"),
        ({"model": "transformer"}, "unknown model 'transformer'"),
        ({"dropout": 1.0}, "--dropout must be in [0, 1)"),
    ],
)
def test_bad_recipes_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TextRecipe(**options)


def test_a_progress_bar_between_evaluations_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    model = RecurrentLanguageModel(TOKENIZER.vocab_size, 4, 8, rng=0)
    records = train_language_model(
        model, streams(), SGD(model.parameters(), lr=0.1), iters=30, batch_size=2,
        rng=np.random.default_rng(0), schedule=lambda it: 0.1, eval_interval=20, progress=True,
    )  # fmt: skip
    assert [record.iter for record in records] == [0, 20, 30]
    err = capsys.readouterr().err
    assert "iter 0" in err and "iter 20" in err and " it/s" in err
