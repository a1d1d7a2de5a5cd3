"""The command line: ``python -m deeplearning {train,evaluate,bench}`` (also ``deeplearning``).

Examples::

    python -m deeplearning train --epochs 5 --save mnist.npz --plot mnist.png
    python -m deeplearning train --model 784-512-256-10 --batchnorm --dropout 0.2 \\
        --optimizer adamw --lr 3e-3 --warmup 1 --epochs 10
    python -m deeplearning evaluate mnist.npz
    python -m deeplearning bench
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import string
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..bench.cnn import run_cnn_benchmark
from ..bench.mlp import BUSY_NOTE, SCALING_BATCHES, busy_core, run_benchmark, run_scaling
from ..core.atomic import atomic_write, check_writable
from ..core.module import Module
from ..data.datasets import DATASETS, dataset_info, load_mnist
from ..optim import LRScheduler
from ..training.checkpoint import load_checkpoint, read_resume_header, save_checkpoint
from ..training.fit import EpochStats, TrainingDivergedError, fit
from ..training.metrics import confusion_matrix, predict
from ..training.recipe import (
    ENGINES,
    IMAGE_MODELS,
    OPTIMIZERS,
    SCHEDULERS,
    WARMUP_START_FACTOR,
    Recipe,
)
from .plots import plot_training, require_matplotlib

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
and warm-up, whose schedule is then rebuilt and continues from the step reached."""
OUT_OF_MEMORY = {
    "train": "use a smaller --model or --batch-size",
    "evaluate": "the checkpoint's model does not fit in this machine's memory",
    "bench": "use fewer --samples",
}
"""What to do when a command runs out of memory, by command."""
SAVE_NAMES_CHECKED = 10_000
"""Up to this many epochs, every epoch's ``--save`` name is checked before training
(`_epochs_checked`)."""
MAX_THREADS = 256
"""The most threads ``--threads`` takes (OpenBLAS uses at most 64 on common builds)."""


def _count(smallest: int, largest: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``smallest`` (and at most ``largest``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < smallest:
            raise argparse.ArgumentTypeError(f"must be at least {smallest}, got {value}")
        if largest is not None and value > largest:
            raise argparse.ArgumentTypeError(f"must be at most {largest}, got {value}")
        return value

    return parse


def _real(low: float, high: float = math.inf, *, low_allowed: bool, high_allowed: bool = False
          ) -> Callable[[str], float]:  # fmt: skip
    """An argparse type: a finite number in the interval from ``low`` to ``high`` (each end
    included or not, as said)."""
    left, right = "[" if low_allowed else "(", "]" if high_allowed else ")"
    interval = f"{left}{low:g}, {high:g}{right}".replace("inf)", "infinity)")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        inside = (value > low or (low_allowed and value == low)) and (
            value < high or (high_allowed and value == high)
        )
        if not math.isfinite(value) or not inside:
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text}")
        return value

    return parse


def _path(text: str) -> str:
    """An argparse type: a file or folder name, not empty (as an unset shell variable gives)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    if text.endswith(("/", os.sep)) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} ends with '/' but is not a folder")
    return text


def _folder(text: str) -> str:
    """An argparse type: a folder's name (`_path`), unless it names something else: a file
    there would be passed over in silence, and the data found elsewhere."""
    path = _path(text)
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"expected a folder, but {text} is not one")
    return path


def _model(text: str) -> str:
    """An argparse type: 'two-layer', an image model's name, or MLP sizes like 784-256-10
    (returned as plain decimals: 784-0128-10 is 784-128-10)."""
    if text == "two-layer" or text in IMAGE_MODELS:
        return text
    sizes = text.split("-")
    if len(sizes) < 2 or not all(size.isdigit() and int(size) > 0 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"expected 'two-layer', {', '.join(map(repr, IMAGE_MODELS))} or two or more "
            f"positive sizes joined by '-', like 784-256-10; got {text!r}"
        )
    return "-".join(str(int(size)) for size in sizes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deeplearning",
        description="Train and evaluate networks written from scratch in NumPy.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a network on MNIST (or a relative)",
        description="Train a network. Options left out take the recipe defaults shown (or, "
        "with --resume, the values saved in the checkpoint; a resumed run keeps its data set, "
        "model, optimizer, seed and batch size).",
    )
    train.set_defaults(command_parser=train)
    recipe = train.add_argument_group("recipe")
    recipe.add_argument("--dataset", choices=sorted(DATASETS), help="default: mnist")
    recipe.add_argument(
        "--model",
        type=_model,
        help="'two-layer' (TwoLayerMLP, the default), MLP sizes such as 784-256-128-10, or "
        "'lenet5' (a convolutional network)",
    )
    recipe.add_argument(
        "--batchnorm", action="store_const", const=True, help="MLP, lenet5: BatchNorm layers"
    )
    recipe.add_argument(
        "--dropout",
        type=_real(0, 1, low_allowed=True),
        help="MLP, lenet5: dropout probability in [0, 1) (default 0)",
    )
    recipe.add_argument("--epochs", type=_count(1), help="default: 5")
    recipe.add_argument("--batch-size", type=_count(1), help="default: 64")
    recipe.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help="default: sgd")
    recipe.add_argument(
        "--lr", type=_real(0, low_allowed=False), help="peak learning rate (sgd 0.05, others 1e-3)"
    )
    recipe.add_argument(
        "--momentum", type=_real(0, low_allowed=True), help="sgd (default 0.9) and rmsprop (0)"
    )
    recipe.add_argument(
        "--weight-decay", type=_real(0, low_allowed=True), help="default 0 (adamw: 0.01)"
    )
    recipe.add_argument("--scheduler", choices=SCHEDULERS, help="after warm-up; default: cosine")
    recipe.add_argument("--warmup", type=_count(0), help="epochs of linear warm-up (default 0)")
    recipe.add_argument(
        "--clip-grad", type=_real(0, low_allowed=False), help="clip the gradient norm to this"
    )
    recipe.add_argument("--seed", type=_count(0), help="weights, shuffling, dropout (default 0)")
    recipe.add_argument(
        "--threads",
        type=_count(1, MAX_THREADS),
        help="BLAS threads while training (default 1); saved with the run, so a resumed run "
        "keeps it: the same seed and thread count give the same weights, bit for bit",
    )
    recipe.add_argument(
        "--engine",
        choices=sorted(ENGINES),
        help="how gradients are computed: 'layers' (hand-written backward passes, the "
        "default) or 'autograd' (the engine); the same network either way",
    )
    train.add_argument(
        "--data-dir", type=_folder, help="folder holding <dataset>/ (default: see README)"
    )
    train.add_argument(
        "--resume", type=_path, metavar="CHECKPOINT", help="continue a run saved with --save"
    )
    train.add_argument(
        "--save",
        type=_path,
        metavar="PATH",
        help="checkpoint after every epoch ('{epoch}' in PATH: one each)",
    )
    train.add_argument(
        "--plot", type=_path, metavar="PATH", help="write a PNG of the run (needs matplotlib)"
    )
    train.add_argument("--json", type=_path, metavar="PATH", help="write per-epoch metrics as JSON")
    train.add_argument("--quiet", action="store_true", help="print only the final line")

    evaluate = commands.add_parser(
        "evaluate",
        help="test accuracy and confusion matrix",
        description="Rebuild the model a checkpoint holds and measure it on its data set's test "
        "split: the accuracy and the confusion matrix.",
    )
    evaluate.set_defaults(command_parser=evaluate)
    evaluate.add_argument("checkpoint", type=_path, help="a file written by `train --save`")
    evaluate.add_argument(
        "--data-dir", type=_folder, help="folder holding <dataset>/ (default: see README)"
    )

    bench = commands.add_parser(
        "bench",
        help="seconds per epoch here and in PyTorch",
        description="Time training epochs here and in PyTorch (if installed) on synthetic "
        "MNIST-shaped data, alternating between the two.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    bench.set_defaults(command_parser=bench)
    bench.add_argument("--repeats", type=_count(1), default=5, help="epochs timed per workload")
    bench.add_argument(
        "--samples", type=_count(64), default=60_000, help="synthetic samples per epoch"
    )
    bench.add_argument(
        "--threads",
        type=_count(1, MAX_THREADS),
        help="this many threads each (BLAS here, PyTorch's intra-op); default: each library's "
        "default (BLAS 1 here, all cores in PyTorch)",
    )
    bench.add_argument(
        "--profile", action="store_true", help="then say where a recipe epoch's time goes"
    )
    bench.add_argument(
        "--scaling",
        action="store_true",
        help="seconds per epoch by batch size (16 to 1024) and hidden width (128 to 2048)",
    )
    bench.add_argument(
        "--cnn", action="store_true", help="the cnn workload (LeNet5) instead of the MLP ones"
    )
    bench.add_argument(
        "--busy",
        action="store_true",
        help="with a second process spinning on one core all along, as on a busy machine",
    )
    return parser


class UsageError(ValueError):
    """Options that are each well formed but do not fit together or with the file system
    (found after parsing, before any work): reported as argparse reports a bad option."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; return the exit status (0 success, 1 failure, 130 interrupted). A bad
    option, alone or with the others, prints the usage and an ``error:`` line and exits with
    status 2 (SystemExit, as argparse does), before any work is done."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        _check_bench(args)
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
    if args.plot:
        require_matplotlib()  # fail now, not after the last epoch
    say = (lambda *_: None) if args.quiet else print
    given = {name: value for name, value in vars(args).items() if name in RECIPE_FIELDS}
    given = {name: value for name, value in given.items() if value is not None}
    header: dict[str, Any] = {}
    if args.resume:
        header = read_resume_header(args.resume)
    try:
        if args.resume:
            _check_kept(Recipe.from_dict(header["recipe"]), given)
        recipe = Recipe.from_dict({**header["recipe"], **given}) if args.resume else Recipe(**given)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.resume and recipe.epochs <= header["epoch"]:
        raise UsageError(
            f"{args.resume} already holds epoch {header['epoch']} of a {recipe.epochs}-epoch run: "
            f"give --epochs above {header['epoch']} to train on"
        )
    _check_outputs(args, recipe.epochs)
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
            f" after {recipe.warmup} warm-up epoch(s) rising from lr {start:g} to "
            f"{recipe.learning_rate:g}"
        )
    clip = f", gradient norm clipped to {recipe.clip_grad}" if recipe.clip_grad else ""
    say(f"{optimizer!r}, {recipe.scheduler} schedule{warmup}{clip}")
    say(f"batch size {recipe.batch_size}, {recipe.epochs} epochs, seed {recipe.seed}")
    limited = importlib.util.find_spec("threadpoolctl") is not None
    blas = f"BLAS on {recipe.threads} thread(s)" if limited else "BLAS threads not limited"
    say(f"gradients by the {recipe.engine} path, {blas}")
    if not limited and args.threads is not None:
        print(
            "warning: threadpoolctl is not installed, so --threads cannot be applied and runs "
            'may differ in their last bits: python -m pip install "deeplearning[train]"',
            file=sys.stderr,
        )
    saved = 0  # the last epoch this run saved
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
        print(f"error: {error}{_kept(args, saved)}", file=sys.stderr)
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
    return 0


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


def _kept(args: argparse.Namespace, saved: int) -> str:
    """What the checkpoint holds after a run stopped early (a sentence, or nothing)."""
    if not (args.save and saved):
        return ""
    return f" {args.save.format(epoch=saved)} keeps epoch {saved}."


def _bench_report(args: argparse.Namespace) -> str:
    """Run the benchmark the options choose; return its report."""
    if args.cnn:
        return run_cnn_benchmark(args.repeats, samples=args.samples).report()
    if args.scaling:
        return run_scaling(args.samples, threads=args.threads).report()
    result = run_benchmark(args.repeats, args.samples, threads=args.threads, profile=args.profile)
    return result.report()


def _check_bench(args: argparse.Namespace) -> None:
    """Refuse bench options that the chosen benchmark would ignore."""
    if args.cnn and (args.threads or args.profile or args.scaling):
        raise UsageError(
            "--cnn times its own thread settings and split: leave out --threads, --profile and "
            "--scaling"
        )
    if args.scaling and args.profile:
        raise UsageError("--profile applies to the workloads, not to --scaling: give one")
    if args.scaling and args.samples < max(SCALING_BATCHES):
        raise UsageError(
            f"--scaling needs at least {max(SCALING_BATCHES)} samples (its largest batch), got "
            f"{args.samples}"
        )


def _check_outputs(args: argparse.Namespace, epochs: int) -> None:
    """Refuse, before training, an output path that could not be written at the end of an
    epoch: a missing or read-only folder, a target that is not a writable regular file
    (`atomic`), a ``--save`` pattern that is not one file name per epoch (a placeholder other
    than ``{epoch}``), a ``--plot`` format matplotlib cannot write without more software, and
    two outputs (or an output and ``--resume``) naming one file."""
    targets: dict[Path, str] = {}
    if args.resume:
        targets[Path(os.path.realpath(args.resume))] = "--resume"
    try:
        for epoch_path in _save_paths(args.save, epochs) if args.save else []:
            _claim(targets, check_writable(epoch_path, "checkpoint (--save)"), "--save")
        if args.json:
            _claim(targets, check_writable(args.json, "--json file"), "--json")
        if args.plot:
            figure = require_matplotlib().figure()
            formats = set(figure.canvas.get_supported_filetypes()) - {"pgf"}  # needs LaTeX
            require_matplotlib().close(figure)
            suffix = Path(args.plot).suffix.lstrip(".").lower()
            if suffix not in formats or not Path(args.plot).stem:
                raise UsageError(
                    f"argument --plot: matplotlib cannot write {Path(args.plot).name!r}: end the "
                    f"name with one of {', '.join('.' + f for f in sorted(formats))}"
                )
            _claim(targets, check_writable(args.plot, "--plot file"), "--plot")
    except OSError as error:
        raise UsageError(str(error)) from None


def _save_paths(pattern: str, epochs: int) -> list[str]:
    """The file name ``--save`` gives each epoch; a UsageError unless ``{epoch}`` is the only
    placeholder and every epoch's name is a plain name in one folder."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern)}
        if fields <= {"epoch", None}:
            names = [pattern.format(epoch=epoch) for epoch in _epochs_checked(epochs)]
    except ValueError as error:
        raise UsageError(
            f"argument --save: {pattern!r} is not a file name pattern ({error}): {{epoch}} "
            "stands for the epoch's number, {{ and }} for braces"
        ) from None
    others = sorted(str(name) for name in fields - {"epoch", None})
    if others:
        unknown = ", ".join(f"{{{name}}}" for name in others)
        raise UsageError(
            f"argument --save: {unknown} is not a placeholder: only {{epoch}} is filled in "
            "(the epoch's number), as in ck_{epoch}.npz"
        )
    folders = {os.path.dirname(name) for name in names}
    if len(folders) > 1 or any(not name.isprintable() for name in names):
        raise UsageError(
            f"argument --save: {pattern!r} does not give every epoch a plain file name in one "
            "folder: write {epoch} (or {epoch:03d}) for the epoch's number"
        )
    return names


def _epochs_checked(epochs: int) -> Sequence[int]:
    """The epochs whose ``--save`` names are checked before training: all of them, up to
    `SAVE_NAMES_CHECKED`; beyond, so that a long run is not held up (or out of memory) by
    its checks, the first, the last, and those where the number gains a digit, where a format
    such as ``{epoch:_>4}`` could change a name's shape."""
    if epochs <= SAVE_NAMES_CHECKED:
        return range(1, epochs + 1)
    picks, power = {1, epochs}, 10
    while power <= epochs:
        picks.update((power - 1, power))
        power *= 10
    return sorted(picks)


def _claim(targets: dict[Path, str], path: Path, option: str) -> None:
    """Refuse a second option naming a file another one already names."""
    if path in targets and targets[path] != option:
        raise UsageError(
            f"argument {option}: {path} is also the {targets[path]} file; give each its own name"
        )
    targets[path] = option


def _evaluate(args: argparse.Namespace) -> int:
    model, header = load_checkpoint(args.checkpoint)
    name = header.get("dataset", "mnist")
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(
            f"{args.checkpoint} names the data set {name!r}, which this library does not know; "
            f"it knows {', '.join(sorted(DATASETS))}"
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
