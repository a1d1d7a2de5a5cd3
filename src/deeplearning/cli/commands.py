"""The command line: ``python -m deeplearning {train,evaluate,sample,export,bench}`` (also
``deeplearning``).

What each command does: ``train`` builds the recipe's model, optimizer and schedule (or resumes
a saved run), runs `fit` and saves, records and plots each epoch; ``evaluate`` rebuilds a
checkpoint's model and measures it on its data set's test split; ``bench`` times epochs here
and in PyTorch. A language model's ``train`` (``--model gpt|rnn|lstm|gru|mlp``) is
`text_commands`'; its ``evaluate`` and ``sample`` are `text_sample`'s; ``export`` (to ONNX,
PyTorch or safetensors) is `export`'s. The options, and the
checks of their values, are in `parser`; the checks of the files ``train`` writes in
`outputs`.

Examples::

    python -m deeplearning train --epochs 5 --save mnist.npz --plot mnist.png
    python -m deeplearning train --model 784-512-256-10 --batchnorm --dropout 0.2 \\
        --optimizer adamw --lr 3e-3 --warmup 1 --epochs 10
    python -m deeplearning evaluate mnist.npz
    python -m deeplearning train --model gpt --dataset tinyshakespeare --save gpt.npz
    python -m deeplearning sample gpt.npz --prompt "ROMEO:" --tokens 500
    python -m deeplearning export mnist.npz --format onnx mnist.onnx
    python -m deeplearning bench
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..bench.baby_gpt import run_gpt_benchmark
from ..bench.busy import BUSY_NOTE, busy_core
from ..bench.cnn import run_cnn_benchmark
from ..bench.inference import run_inference_benchmark
from ..bench.mlp import run_benchmark, run_scaling
from ..core.atomic import atomic_write
from ..core.module import Module
from ..data.datasets import load_mnist
from ..data.registry import dataset_info, dataset_names
from ..optim import LRScheduler
from ..training.archive import Archive
from ..training.checkpoint import load_checkpoint, read_resume_header, save_checkpoint
from ..training.loop import EpochStats, TrainingDivergedError, fit, keep_freed_memory
from ..training.metrics import confusion_matrix, predict
from ..training.recipe import IMAGE_MODELS, WARMUP_START_FACTOR, Recipe
from .export import export
from .health_plots import draw_health, watch
from .outputs import check_outputs
from .parser import UsageError, build_parser, check_bench, check_train_kind
from .plots import plot_training, require_matplotlib
from .text_commands import is_text_run, train_text
from .text_sample import evaluate_text, is_text_checkpoint, sample_text

RECIPE_FIELDS = {field.name for field in dataclasses.fields(Recipe)}
KEPT_ON_RESUME = {
    "dataset": "data set",
    "model": "model",
    "batchnorm": "model",
    "dropout": "model",
    "optimizer": "optimizer",
    "seed": "random state (the seed's generator, saved as it was)",
    "batch_size": "batch size (its schedule counts steps of that size)",
}
"""The recipe entries a resumed run keeps from its checkpoint, and what depends on them: the
saved weights, optimizer state, random state and step count. The rest may change: the
learning rate, momentum, weight decay, clipping, engine and threads; and the epochs, schedule
(with its `SCHEDULE_OPTIONS`) and warm-up, whose schedule is then rebuilt and continues from
the step reached."""
SCHEDULE_OPTIONS = ("step_size", "gamma")
"""The settings of one kind of schedule: a resumed run given another ``--scheduler`` leaves
out the saved ones (those given with it apply)."""
HIGH_DROPOUT = 0.9
"""Dropout from this probability up multiplies the few units it keeps tenfold or more: named
as the likely cause when such a run diverges (`_suspects`)."""
OUT_OF_MEMORY = {
    "train": "use a smaller --model or --batch-size",
    "evaluate": "the checkpoint's model does not fit in this machine's memory",
    "sample": "the checkpoint's model does not fit in this machine's memory",
    "export": "the checkpoint's model does not fit in this machine's memory",
    "bench": "use fewer --samples",
}
"""What to do when a command runs out of memory, by command."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; return the exit status (0 success, 1 failure, 130 interrupted). A bad
    option, alone or with the others, prints the usage and an ``error:`` line and exits with
    status 2 (SystemExit, as argparse does), before any work is done."""
    args = build_parser().parse_args(argv)
    keep_freed_memory()  # as PyTorch's allocator: no page faults for each step's arrays
    try:
        if args.command == "train":
            return train_text(args) if is_text_run(args) else _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "sample":
            return sample_text(args)
        if args.command == "export":
            return export(args)
        check_bench(args)
        with busy_core(args.busy):
            report = _bench_report(args)
        print(f"({BUSY_NOTE})\n{report}" if args.busy else report)
        return 0
    except UsageError as error:
        args.command_parser.error(str(error))  # exits with status 2
        raise
    except (OSError, ValueError, ImportError, FloatingPointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"error: out of memory: {OUT_OF_MEMORY[args.command]}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: still one line, never a traceback
        print(f"error: unexpected {type(error).__name__}: {error} (a bug: please report it)",
              file=sys.stderr)  # fmt: skip
        return 1


def _train(args: argparse.Namespace) -> int:
    check_train_kind(args, text=False)
    if args.plot or args.diagnostics:
        require_matplotlib()  # fail now, not after the last epoch
    say = (lambda *_: None) if args.quiet else print
    given = {name: value for name, value in vars(args).items() if name in RECIPE_FIELDS}
    given = {name: value for name, value in given.items() if value is not None}
    header: dict[str, Any] = {"epoch": 0}  # (the epoch a resumed run starts after)
    if args.resume:
        header = read_resume_header(args.resume)
    try:
        if args.resume:
            recipe = _resumed(Recipe.from_dict(header["recipe"]), given)
        else:
            recipe = Recipe(**given)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.resume and recipe.epochs <= header["epoch"]:
        raise UsageError(
            f"{args.resume} already holds epoch {header['epoch']} of a {recipe.epochs}-epoch run: "
            f"give --epochs above {header['epoch']} to train on"
        )
    check_outputs(args, header["epoch"] + 1, recipe.epochs)
    data = load_mnist(recipe.dataset, args.data_dir, flatten=not recipe.images)
    say(f"{recipe.dataset}: {len(data.x_train):,} training and {len(data.x_test):,} test images")
    rng = np.random.default_rng(recipe.seed)
    classes = dataset_info(recipe.dataset).classes
    try:
        model = recipe.build_model(rng, data.x_train.shape[1:], len(classes))
    except ValueError as error:  # the model does not fit the data
        raise UsageError(str(error)) from None
    optimizer = recipe.build_optimizer(model)
    history: list[EpochStats] = []
    if args.resume:
        load_checkpoint(args.resume, model, optimizer)
        rng.bit_generator.state = header["rng_state"]
        history = [EpochStats(**record) for record in header["history"]]
        say(f"resuming {args.resume} after epoch {header['epoch']}")
    steps_per_epoch = -(-len(data.x_train) // recipe.batch_size)
    schedule = recipe.build_schedule(steps_per_epoch)
    scheduler = LRScheduler(optimizer, schedule, last_step=optimizer.steps)
    say(f"{model!r}: {model.num_parameters():,} parameters")
    warmup = ""
    if recipe.warmup:
        start = recipe.learning_rate * WARMUP_START_FACTOR
        warmup = (
            f" after {_plural(recipe.warmup, 'warm-up epoch')} rising from lr {start:g} to "
            f"{recipe.learning_rate:g}"
        )
    clip = f", gradient norm clipped to {recipe.clip_grad}" if recipe.clip_grad else ""
    say(f"{optimizer!r}, {_schedule(recipe)}{warmup}{clip}")
    say(f"batch size {recipe.batch_size}, {_plural(recipe.epochs, 'epoch')}, seed {recipe.seed}")
    limited = importlib.util.find_spec("threadpoolctl") is not None
    blas = f"BLAS on {_plural(recipe.threads, 'thread')}" if limited else "BLAS threads not limited"
    say(f"gradients by the {recipe.engine} path, {blas}")
    if not limited and args.threads is not None:
        print(
            "warning: threadpoolctl is not installed, so --threads cannot be applied and runs "
            'may differ in their last bits: python -m pip install "deeplearning[train]"',
            file=sys.stderr,
        )
    saved = 0  # the last epoch this run saved
    epochs = recipe.epochs - len(history)
    monitor = watch(model, epochs * steps_per_epoch) if args.diagnostics else None
    try:
        for stats in fit(
            model, data, optimizer, epochs=recipe.epochs, batch_size=recipe.batch_size, rng=rng,
            scheduler=scheduler, clip_grad=recipe.clip_grad, progress=not args.quiet,
            start_epoch=len(history) + 1, threads=recipe.threads,
        ):  # fmt: skip
            history.append(stats)
            say(stats)
            if args.save:
                save_checkpoint(
                    args.save.format(epoch=stats.epoch), model, optimizer,
                    dataset=recipe.dataset, epoch=stats.epoch, metrics=stats.to_dict(),
                    recipe=recipe.to_dict(), history=[record.to_dict() for record in history],
                    rng_state=rng.bit_generator.state,
                )  # fmt: skip
                saved = stats.epoch
            if args.json:
                records = [{**record.to_dict(), "threads": recipe.threads} for record in history]
                _write_json(args.json, records)
    except TrainingDivergedError as error:
        print(f"error: {_diverged(error, recipe)}{_kept(args, saved)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted during epoch {len(history) + 1}.{_kept(args, saved)}", file=sys.stderr)
        return 130
    final = history[-1]
    print(f"final: train acc {final.train_acc:.2%}, test acc {final.test_acc:.2%}")
    if args.plot:
        predictions = predict(model, data.x_test)
        plot_training(args.plot, history, model, data.x_test, data.y_test, predictions, classes)
        say(f"wrote {args.plot}")
    if monitor is not None:
        draw_health(args.diagnostics, monitor, say)
    return 0


def _resumed(saved: Recipe, given: dict[str, Any]) -> Recipe:
    """The recipe of a resumed run: the saved one with the options given, which may not change
    what it keeps (`_check_kept`); another ``--scheduler`` drops the saved schedule's
    settings (`SCHEDULE_OPTIONS`) that are not given again."""
    _check_kept(saved, given)
    values = {**saved.to_dict(), **given}
    if values["scheduler"] != saved.scheduler:
        values.update({name: given.get(name) for name in SCHEDULE_OPTIONS})
    return Recipe(**values)


def _check_kept(saved: Recipe, given: dict[str, Any]) -> None:
    """Refuse an option that would change what a resumed run keeps (`KEPT_ON_RESUME`); giving
    the saved value again is allowed."""
    for name, what in KEPT_ON_RESUME.items():
        if name in given and given[name] != getattr(saved, name):
            option = "--" + name.replace("_", "-")
            raise UsageError(
                f"{option} {_shown(given[name])} differs from the checkpoint's "
                f"{_shown(getattr(saved, name))}: a resumed run keeps its {what}. Leave out "
                f"{option}, or start a new run (without --resume)"
            )


def _shown(value: Any) -> str:
    """A recipe value as an option would give it: on or off for a flag, else its repr."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return repr(value)


def _plural(count: int, noun: str) -> str:
    """``"1 epoch"``, ``"5 epochs"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _schedule(recipe: Recipe) -> str:
    """The schedule after the warm-up, in words, with its step size and factor."""
    if recipe.scheduler == "step":
        factor = 0.1 if recipe.gamma is None else recipe.gamma
        if recipe.step_size is None:
            return f"step schedule (x{factor:g} after each third of the run)"
        return f"step schedule (x{factor:g} every {_plural(recipe.step_size, 'epoch')})"
    if recipe.scheduler == "exponential":
        decay = "to 1% at the end" if recipe.gamma is None else f"x{recipe.gamma:g} each epoch"
        return f"exponential schedule ({decay})"
    return f"{recipe.scheduler} schedule"


def _diverged(error: TrainingDivergedError, recipe: Recipe) -> str:
    """What went wrong in a run that diverged: the loop's message, which suggests a lower
    learning rate, unless an option's value makes training blow up by itself (`_suspects`):
    then the message names it instead."""
    suspects = _suspects(recipe)
    if not suspects:
        return str(error)
    return f"{error.what} at {error.at}: training diverged. " + " ".join(suspects)


def _suspects(recipe: Recipe) -> list[str]:
    """The recipe's values that make training blow up whatever the learning rate, each with
    what it does and what to give instead."""
    found = []
    if recipe.dropout >= HIGH_DROPOUT:
        found.append(
            f"--dropout {recipe.dropout:g} keeps one hidden unit in "
            f"{1 / (1 - recipe.dropout):,.0f} and multiplies it by as much: give a dropout "
            f"below {HIGH_DROPOUT:g} (0.1 to 0.5 is usual)."
        )
    if recipe.momentum is not None and recipe.momentum >= 1:
        found.append(
            f"--momentum {recipe.momentum:g} keeps all of the last steps in each one, which then "
            "only grow: give a momentum below 1 (0.9 is usual)."
        )
    return found


def _kept(args: argparse.Namespace, saved: int) -> str:
    """What the checkpoint holds after a run stopped early (a sentence, or nothing)."""
    if not (args.save and saved):
        return ""
    return f" {args.save.format(epoch=saved)} keeps epoch {saved}."


def _bench_report(args: argparse.Namespace) -> str:
    """Run the benchmark the options choose; return its report."""
    if args.gpt:
        return run_gpt_benchmark(args.repeats).report()
    if args.inference:
        return run_inference_benchmark(args.repeats).report()
    if args.cnn:
        return run_cnn_benchmark(args.repeats, samples=args.samples).report()
    if args.scaling:
        return run_scaling(args.samples, threads=args.threads).report()
    result = run_benchmark(args.repeats, args.samples, threads=args.threads, profile=args.profile)
    return result.report()


def _evaluate(args: argparse.Namespace) -> int:
    with Archive(args.checkpoint) as archive:
        if is_text_checkpoint(archive.header):
            return evaluate_text(args)
    model, header = load_checkpoint(args.checkpoint)
    name = header.get("dataset", "mnist")
    if not isinstance(name, str) or name not in dataset_names("images"):
        raise ValueError(
            f"{args.checkpoint} names the data set {name!r}, which this library does not know; "
            f"it knows {', '.join(dataset_names('images'))}"
        )
    images = header["model"] in IMAGE_MODELS.values()
    data = load_mnist(name, args.data_dir, flatten=not images)
    classes = dataset_info(name).classes
    _check_fits(model, header["model"], data.x_test[:1], name, len(classes), args.checkpoint)
    predictions = predict(model, data.x_test)
    correct = int(np.sum(predictions == data.y_test))
    print(f"{args.checkpoint}: {header['model']}, epoch {header.get('epoch', '?')}, {name}")
    print(f"test accuracy: {correct / len(predictions):.2%} ({correct:,} of {len(predictions):,})")
    print(format_confusion(confusion_matrix(data.y_test, predictions, len(classes)), classes))
    return 0


def _check_fits(
    model: Module, kind: str, sample: np.ndarray, dataset: str, classes: int, path: str
) -> None:
    """Refuse (ValueError) a model that does not take ``dataset``'s samples (one given) or
    does not give one score per class: `evaluate` runs a model on the data set it was trained
    on, which a checkpoint written by ``train --save`` names (mnist where it names none)."""
    was_training = model.training
    model.eval()
    try:
        outputs = model.infer(sample).shape[-1]
    except ValueError as error:
        raise ValueError(
            f"{path}: its {kind} does not take {dataset}'s samples of shape {sample.shape[1:]} "
            f"({error})"
        ) from None
    finally:
        model.train(was_training)
    if outputs != classes:
        raise ValueError(
            f"{path}: its {kind} gives {outputs} class scores but {dataset} has {classes} "
            "classes; evaluate a model on the data set it was trained on"
        )


def format_confusion(matrix: np.ndarray, classes: Sequence[str]) -> str:
    """The confusion matrix as a text table: rows are true classes, columns predicted ones."""
    labels = [str(c) for c in classes]
    width = max(5, len(str(matrix.max())), *map(len, labels))
    corner = "true\\pred"
    name = max(len(corner), *map(len, labels))
    head = f"{corner:>{name}} " + " ".join(f"{label:>{width}}" for label in labels)
    rows = [
        f"{label:>{name}} " + " ".join(f"{n:>{width}d}" for n in row)
        for label, row in zip(labels, matrix)
    ]
    return "\n".join([head, *rows])


def _write_json(path: str, records: list[dict[str, Any]]) -> None:
    with atomic_write(path, "w") as stream:
        json.dump(records, stream, indent=2)
