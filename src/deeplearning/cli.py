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
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .atomic import atomic_write
from .bench import run_benchmark
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from .cnn_bench import run_cnn_benchmark
from .datasets import DATASETS, dataset_info, load_mnist
from .metrics import confusion_matrix, predict
from .plots import plot_training, require_matplotlib
from .recipe import ENGINES, IMAGE_MODELS, OPTIMIZERS, SCHEDULERS, Recipe
from .schedules import LRScheduler
from .train import EpochStats, TrainingDivergedError, fit

RECIPE_FIELDS = {field.name for field in dataclasses.fields(Recipe)}


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
        "with --resume, the values saved in the checkpoint).",
    )
    recipe = train.add_argument_group("recipe")
    recipe.add_argument("--dataset", choices=sorted(DATASETS), help="default: mnist")
    recipe.add_argument(
        "--model",
        help="'two-layer' (TwoLayerMLP, the default), MLP sizes such as 784-256-128-10, or "
        "'lenet5' (a convolutional network)",
    )
    recipe.add_argument(
        "--batchnorm", action="store_const", const=True, help="MLP, lenet5: BatchNorm layers"
    )
    recipe.add_argument(
        "--dropout", type=float, help="MLP, lenet5: dropout probability (default 0)"
    )
    recipe.add_argument("--epochs", type=int, help="default: 5")
    recipe.add_argument("--batch-size", type=int, help="default: 64")
    recipe.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help="default: sgd")
    recipe.add_argument("--lr", type=float, help="peak learning rate (sgd 0.05, others 1e-3)")
    recipe.add_argument("--momentum", type=float, help="sgd (default 0.9) and rmsprop (0)")
    recipe.add_argument("--weight-decay", type=float, help="default 0 (adamw: 0.01)")
    recipe.add_argument("--scheduler", choices=SCHEDULERS, help="after warm-up; default: cosine")
    recipe.add_argument("--warmup", type=int, help="epochs of linear warm-up (default 0)")
    recipe.add_argument("--clip-grad", type=float, help="clip the gradient norm to this")
    recipe.add_argument("--seed", type=int, help="weights, shuffling, dropout (default 0)")
    recipe.add_argument(
        "--engine",
        choices=sorted(ENGINES),
        help="how gradients are computed: 'layers' (hand-written backward passes, the "
        "default) or 'autograd' (the engine); the same network either way",
    )
    train.add_argument("--data-dir", help="folder holding <dataset>/ (default: see README)")
    train.add_argument("--resume", metavar="CHECKPOINT", help="continue a run saved with --save")
    train.add_argument(
        "--save", metavar="PATH", help="checkpoint after every epoch ('{epoch}' in PATH: one each)"
    )
    train.add_argument("--plot", metavar="PATH", help="write a PNG of the run (needs matplotlib)")
    train.add_argument("--json", metavar="PATH", help="write per-epoch metrics as JSON")
    train.add_argument("--quiet", action="store_true", help="print only the final line")

    evaluate = commands.add_parser("evaluate", help="test accuracy and confusion matrix")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--data-dir")

    bench = commands.add_parser("bench", help="seconds per epoch here and in PyTorch")
    bench.add_argument("--repeats", type=int, default=5, help="epochs timed per workload")
    bench.add_argument("--samples", type=int, default=60_000, help="synthetic samples per epoch")
    bench.add_argument(
        "--cnn", action="store_true", help="the cnn workload (LeNet5) instead of the MLP ones"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; return the exit status (0 success, 1 failure, 2 usage error)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        bench = run_cnn_benchmark if args.cnn else run_benchmark
        print(bench(args.repeats, samples=args.samples).report())
        return 0
    except (OSError, ValueError, ImportError, FloatingPointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _train(args: argparse.Namespace) -> int:
    if args.plot:
        require_matplotlib()  # fail now, not after the last epoch
    say = (lambda *_: None) if args.quiet else print
    given = {name: value for name, value in vars(args).items() if name in RECIPE_FIELDS}
    given = {name: value for name, value in given.items() if value is not None}
    header: dict[str, Any] = {}
    if args.resume:
        header, _ = read_checkpoint(args.resume)
        if "recipe" not in header:
            raise ValueError(
                f"{args.resume} holds no training recipe: only checkpoints written by "
                "`train --save` can be resumed"
            )
        recipe = Recipe.from_dict({**header["recipe"], **given})
    else:
        recipe = Recipe(**given)
    data = load_mnist(recipe.dataset, args.data_dir, flatten=not recipe.images)
    say(f"{recipe.dataset}: {len(data.x_train):,} training and {len(data.x_test):,} test images")
    rng = np.random.default_rng(recipe.seed)
    classes = dataset_info(recipe.dataset).classes
    model = recipe.build_model(rng, data.x_train.shape[1:], len(classes))
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
    warmup = f" after {recipe.warmup} warm-up epoch(s)" if recipe.warmup else ""
    clip = f", gradient norm clipped to {recipe.clip_grad}" if recipe.clip_grad else ""
    say(f"{optimizer!r}, {recipe.scheduler} schedule{warmup}{clip}")
    say(f"batch size {recipe.batch_size}, {recipe.epochs} epochs, seed {recipe.seed}")
    say(f"gradients by the {recipe.engine} path")
    try:
        for stats in fit(
            model, data, optimizer, epochs=recipe.epochs, batch_size=recipe.batch_size, rng=rng,
            scheduler=scheduler, clip_grad=recipe.clip_grad, progress=not args.quiet,
            start_epoch=len(history) + 1,
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
            if args.json:
                _write_json(args.json, [record.to_dict() for record in history])
    except TrainingDivergedError as error:
        kept = f" {args.save} keeps epoch {history[-1].epoch}." if history and args.save else ""
        print(f"error: {error}{kept}", file=sys.stderr)
        return 1
    final = history[-1]
    print(f"final: train acc {final.train_acc:.2%}, test acc {final.test_acc:.2%}")
    if args.plot:
        predictions = predict(model, data.x_test)
        plot_training(args.plot, history, model, data.x_test, data.y_test, predictions, classes)
        say(f"wrote {args.plot}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    model, header = load_checkpoint(args.checkpoint)
    name = header.get("dataset", "mnist")
    images = header["model"] in IMAGE_MODELS.values()
    data = load_mnist(name, args.data_dir, flatten=not images)
    predictions = predict(model, data.x_test)
    correct = int(np.sum(predictions == data.y_test))
    classes = dataset_info(name).classes
    print(f"{args.checkpoint}: {header['model']}, epoch {header.get('epoch', '?')}, {name}")
    print(f"test accuracy: {correct / len(predictions):.2%} ({correct:,} of {len(predictions):,})")
    print(format_confusion(confusion_matrix(data.y_test, predictions, len(classes)), classes))
    return 0


def format_confusion(matrix: np.ndarray, classes: Sequence[str]) -> str:
    """The confusion matrix as a text table: rows are true classes, columns predicted ones."""
    labels = [str(c)[:5] for c in classes]
    width = max(5, len(str(matrix.max())))
    head = "true\\pred " + " ".join(f"{label:>{width}}" for label in labels)
    rows = [
        f"{label:>9} " + " ".join(f"{n:>{width}d}" for n in row)
        for label, row in zip(labels, matrix)
    ]
    return "\n".join([head, *rows])


def _write_json(path: str, records: list[dict[str, Any]]) -> None:
    with atomic_write(path, "w") as stream:
        json.dump(records, stream, indent=2)
