"""``train`` for a language model: ``python -m deeplearning train --model gpt|rnn|lstm|gru|mlp
--dataset tinyshakespeare|names``.

It builds the `TextRecipe`'s data, model, optimizer and schedule (or resumes a saved run),
runs `train_language_model`, and at each evaluation prints a line, writes the ``--json``
records and, when the validation loss is the lowest so far, the ``--save`` checkpoint; at the
end it measures the whole validation split and draws the ``--plot``. Everything else follows
the image trainer (`commands`): bad values are exit status 2 before any work, a run that
diverges stops with the last good checkpoint kept, Ctrl-C is one line.

Examples::

    python -m deeplearning train --model gpt --dataset tinyshakespeare --save gpt.npz
    python -m deeplearning train --model mlp --dataset names --block-size 3 --n-embd 10 \\
        --hidden 200 --batch-size 32 --iters 200000 --optimizer sgd --lr 0.1 --min-lr 0.01 \\
        --lr-schedule step --lr-drop-at 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import sys
from typing import Any, Callable

import numpy as np

from ..core.atomic import atomic_write
from ..core.module import Module
from ..optim import Optimizer
from ..training.archive import Archive, CheckpointError
from ..training.checkpoint import load_checkpoint
from ..training.lm_checkpoint import (
    header_tokenizer,
    history_of,
    read_text_resume_header,
    save_text_checkpoint,
)
from ..training.lm_loop import EvalRecord, evaluate_split, train_language_model
from ..training.lm_recipe import TEXT_MODELS, TextRecipe
from ..training.loop import TrainingDivergedError
from .health_plots import draw_health, watch
from .outputs import check_outputs
from .parser import UsageError, check_train_kind
from .plots import require_matplotlib
from .text_plots import plot_text_training

TEXT_FIELDS = {field.name for field in dataclasses.fields(TextRecipe)}
KEPT_ON_RESUME = {
    "dataset": "data set",
    "model": "model",
    **dict.fromkeys(
        ("n_layer", "n_head", "n_embd", "block_size", "hidden", "bias", "dropout", "init"), "model"
    ),
    "optimizer": "optimizer",
    "seed": "random state (the seed's generator, saved as it was)",
    "batch_size": "batch size",
}
"""The recipe entries a resumed run keeps from its checkpoint, and what depends on them. The
rest may change: the iterations, the rates and their schedule, weight decay, momentum,
beta2, clipping, the evaluations, the path and the threads (the same values go on bit for
bit)."""
SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}


def is_text_run(args: argparse.Namespace) -> bool:
    """Whether ``train``'s options ask for a language model: a text model named, a
    ``--resume`` checkpoint of a language model's run, or a text data set named."""
    if args.model in TEXT_MODELS:
        return True
    if args.resume:  # its kind first: the options that do not fit it are then refused
        try:
            with Archive(args.resume) as archive:
                if "text_recipe" in archive.header:
                    return True
        except (OSError, CheckpointError):
            pass  # (the image trainer says what is wrong with it)
    if args.model is None and args.dataset is not None:
        return args.dataset in ("tinyshakespeare", "names")
    return False


def train_text(args: argparse.Namespace) -> int:
    """``train`` for a language model (this module's docstring)."""
    check_train_kind(args, text=True)
    if args.plot or args.diagnostics:
        require_matplotlib()  # fail now, not after the last iteration
    say = (lambda *_: None) if args.quiet else print
    recipe, header = _recipe_and_header(args)
    assert recipe.iters is not None and recipe.batch_size is not None
    _check_memory(recipe)
    check_outputs(args, 1, 1, numbered=False)
    try:
        data = recipe.load_data(args.data_dir)
    except ValueError as error:  # a split too short for the block size
        raise UsageError(str(error)) from None
    tokenizer = data.tokenizer
    counts = ", ".join(f"{data.targets(s):,} {SPLIT_NAMES[s]}" for s in data.splits)
    say(f"{recipe.dataset}: {counts} targets, {tokenizer.vocab_size} characters")
    rng = np.random.default_rng(recipe.seed)
    model = recipe.build_model(tokenizer.vocab_size, rng)
    optimizer = recipe.build_optimizer(model)
    history: list[EvalRecord] = []
    if args.resume:
        if header_tokenizer(header, args.resume) != tokenizer:
            raise UsageError(
                f"{args.resume} was trained on other characters than {recipe.dataset}'s file "
                "holds now: resume it with the data it was trained on"
            )
        load_checkpoint(args.resume, model, optimizer)
        rng.bit_generator.state = header["rng_state"]
        history = history_of(header)
        say(f"resuming {args.resume} after iteration {header['iter']}")
    _describe(say, recipe, model, optimizer, args.threads is not None)
    own = False  # whether --save goes on in the --resume file
    if args.resume and args.save and os.path.exists(args.save):
        own = os.path.samefile(args.resume, args.save)
    best = header["best_val_loss"] if own else float("inf")  # (a new file takes the first)
    saved = header["iter"] if own else None
    monitor = watch(model, recipe.iters - header["iter"]) if args.diagnostics else None
    try:
        for record in train_language_model(
            model, data, optimizer, iters=recipe.iters, batch_size=recipe.batch_size, rng=rng,
            schedule=recipe.build_schedule(), grad_clip=recipe.grad_clip or None,
            eval_interval=int(recipe.eval_interval or 1), eval_iters=int(recipe.eval_iters or 1),
            eval_seed=recipe.seed, start_iter=header["iter"], progress=not args.quiet,
            threads=recipe.threads,
        ):  # fmt: skip
            history.append(record)
            say(record)
            if args.save and record.val_loss < best:
                save_text_checkpoint(args.save, model, optimizer, recipe, tokenizer, history, rng)
                best, saved = record.val_loss, record.iter
            if args.json:
                _write_json(args.json, [record.to_dict() for record in history])
    except TrainingDivergedError as error:
        print(f"error: {_diverged(error, recipe)}{_kept(args, saved)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        done = history[-1].iter if history else header["iter"]
        print(f"interrupted; the last evaluation was at iteration {done}.{_kept(args, saved)}",
              file=sys.stderr)  # fmt: skip
        return 130
    loss = evaluate_split(model, data, "val", threads=recipe.threads)  # as during training
    print(f"final: iter {recipe.iters}, val loss {loss:.4f} on the whole validation split "
          f"({data.targets('val'):,} tokens)")  # fmt: skip
    if args.save and saved is not None:
        say(f"{args.save} keeps iteration {saved}, val loss {best:.4f} (estimated)")
    if args.plot:
        window = next(data.eval_batches("val"))[0][0]
        plot_text_training(args.plot, history, model, window, tokenizer)
        say(f"wrote {args.plot}")
    if monitor is not None:
        draw_health(args.diagnostics, monitor, say)
    return 0


def _recipe_and_header(args: argparse.Namespace) -> tuple[TextRecipe, dict[str, Any]]:
    """The run's recipe from the options (resuming: the checkpoint's, with the options given),
    and the header it resumes (``{"iter": 0}`` for a new run); a UsageError for options that
    do not fit."""
    given = {name: getattr(args, name) for name in TEXT_FIELDS if hasattr(args, name)}
    given = {name: value for name, value in given.items() if value is not None}
    header: dict[str, Any] = {"iter": 0}
    saved = None
    if args.resume:
        header = read_text_resume_header(args.resume)
        saved = TextRecipe.from_dict(dict(header["text_recipe"]))  # (checked by the reader)
        _check_kept(saved, given)
        if given.get("iters", saved.iters) <= header["iter"]:  # (before the other checks)
            raise UsageError(
                f"{args.resume} already holds iteration {header['iter']} of a {saved.iters}-"
                f"iteration run: give --iters above {header['iter']} to train on"
            )
    try:
        recipe = _resumed(saved, given) if saved is not None else TextRecipe(**given)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    return recipe, header


def _check_memory(recipe: TextRecipe) -> None:
    """Refuse a model whose weights, gradients and optimizer state (four float32 arrays the
    size of its parameters, as Adam's) exceed this machine's memory, before anything is
    built: the parameters are counted from their shapes (`TextRecipe.parameter_count`), with
    one token for the vocabulary, which the data set tells later."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return  # (a system that does not say)
    count = recipe.parameter_count(1)
    need = 4 * np.dtype(np.float32).itemsize * count
    if need > memory:
        sizes = {"gpt": "--n-layer, --n-embd or --block-size", "mlp": "--n-embd, --hidden or "
                 "--block-size"}.get(recipe.model, "--n-embd or --hidden")  # fmt: skip
        raise UsageError(
            f"this {recipe.model} has {count:,} parameters, which need {need / 2**30:,.1f} GiB "
            f"for the weights, their gradients and the optimizer's state; this machine has "
            f"{memory / 2**30:,.1f} GiB: give a smaller {sizes}"
        )


def _describe(
    say: Callable[..., None], recipe: TextRecipe, model: Module, optimizer: Optimizer,
    threads_given: bool,
) -> None:  # fmt: skip
    """The run's model, optimizer, schedule, batches and path, a line each."""
    say(f"{type(model).__name__}({model.extra_repr()}): {model.num_parameters():,} parameters")
    say(f"{optimizer!r}")
    say(_schedule(recipe))
    tokens = f" of {recipe.block_size} tokens" if not recipe.contexts else ""
    say(f"batch size {recipe.batch_size}{tokens}, {recipe.iters:,} iterations, seed "
        f"{recipe.seed}, evaluated every {recipe.eval_interval:,} on {recipe.eval_iters} "
        f"batches a split")  # fmt: skip
    limited = importlib.util.find_spec("threadpoolctl") is not None
    blas = f"BLAS on {recipe.threads} thread{'s' * (recipe.threads != 1)}" if limited else (
        "BLAS threads not limited")  # fmt: skip
    say(f"gradients by the {recipe.engine} path, {blas}")
    if not limited and threads_given:
        print(
            "warning: threadpoolctl is not installed, so --threads cannot be applied and runs "
            'may differ in their last bits: python -m pip install "deeplearning[train]"',
            file=sys.stderr,
        )


def _check_kept(saved: TextRecipe, given: dict[str, Any]) -> None:
    """Refuse an option that would change what a resumed run keeps (`KEPT_ON_RESUME`; giving
    the saved value again is allowed)."""
    for name, what in KEPT_ON_RESUME.items():
        if name in given and given[name] != getattr(saved, name):
            option = "--" + name.replace("_", "-")
            raise UsageError(
                f"{option} {given[name]!r} differs from the checkpoint's "
                f"{getattr(saved, name)!r}: a resumed run keeps its {what}. Leave out {option}, "
                "or start a new run (without --resume)"
            )


def _resumed(saved: TextRecipe, given: dict[str, Any]) -> TextRecipe:
    """The recipe of a resumed run: the saved one with the options given (`_check_kept`)."""
    _check_kept(saved, given)
    values = {**saved.to_dict(), **given}
    if "iters" in given and "lr_drop_at" not in given and saved.lr_schedule == "step":
        values["lr_drop_at"] = saved.drop_at  # (the drop stays where the run had it)
    return TextRecipe(**values)


def _schedule(recipe: TextRecipe) -> str:
    """The learning rates, in words."""
    warmup = f"warm-up over {recipe.warmup_iters} iterations, then " if recipe.warmup_iters else ""
    if recipe.lr_schedule == "step":
        rates = f"lr {recipe.lr:g}, {recipe.min_lr:g} from iteration {recipe.drop_at:,}"
    else:
        rates = f"cosine from lr {recipe.lr:g} to {recipe.min_lr:g} at iteration {recipe.iters:,}"
    decay = f", weight decay {recipe.weight_decay:g} on the weights" if recipe.weight_decay else ""
    clip = f", gradient norm clipped to {recipe.grad_clip:g}" if recipe.grad_clip else ""
    return f"{warmup}{rates}{decay}{clip}"


def _diverged(error: TrainingDivergedError, recipe: TextRecipe) -> str:
    """What went wrong, and the likely causes, most likely first."""
    lr = recipe.lr or 0.0
    causes = [f"a learning rate too high for this model (--lr {lr:g}; try {lr / 10:g})"]
    if not recipe.grad_clip:
        causes.append("no gradient clipping (give --grad-clip 1.0)")
    if recipe.momentum is not None and recipe.momentum >= 1:
        causes.append(f"--momentum {recipe.momentum:g}, which only grows the steps (give 0.9)")
    if recipe.model == "mlp" and recipe.init == "normal" and lr > 1:
        causes.append("N(0, 1) weights (--init normal) with a high rate saturate the tanh units")
    return f"{error.what} at {error.at}: training diverged. Likely causes: {'; '.join(causes)}."


def _kept(args: argparse.Namespace, saved: int | None) -> str:
    """What the checkpoint holds after a run stopped early (a sentence, or nothing)."""
    if not (args.save and saved is not None):
        return ""
    return f" {args.save} keeps iteration {saved}."


def _write_json(path: str, records: list[dict[str, Any]]) -> None:
    with atomic_write(path, "w") as stream:
        json.dump(records, stream, indent=2)
