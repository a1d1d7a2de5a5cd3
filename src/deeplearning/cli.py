"""The command line: ``python -m deeplearning {train,evaluate,bench}`` (also ``deeplearning``).

Examples::

    python -m deeplearning train --epochs 5 --save mnist.npz --plot mnist.png
    python -m deeplearning evaluate mnist.npz
    python -m deeplearning bench
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .atomic import atomic_write
from .bench import run_benchmark
from .checkpoint import load_checkpoint, save_checkpoint
from .datasets import DATASETS, dataset_info, load_mnist
from .mnist_mlp import TwoLayerMLP
from .optim import SGD
from .plots import plot_training, require_matplotlib
from .schedules import CosineAnnealingLR, LRScheduler
from .train import EpochStats, TrainingDivergedError, confusion_matrix, fit, predict


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deeplearning",
        description="Train and evaluate networks written from scratch in NumPy.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train TwoLayerMLP on MNIST (or a relative)")
    train.add_argument("--dataset", default="mnist", choices=sorted(DATASETS))
    train.add_argument("--data-dir", help="folder holding <dataset>/ (default: see README)")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=0.05, help="peak learning rate")
    train.add_argument("--momentum", type=float, default=0.9)
    train.add_argument(
        "--scheduler", default="cosine", choices=["cosine", "constant"],
        help="cosine: decay to 0 over the run (default); constant: keep --lr",
    )  # fmt: skip
    train.add_argument("--seed", type=int, default=0, help="weights and shuffling (default 0)")
    train.add_argument("--save", metavar="PATH", help="write a checkpoint after every epoch")
    train.add_argument("--plot", metavar="PATH", help="write a PNG of the run (needs matplotlib)")
    train.add_argument("--json", metavar="PATH", help="write per-epoch metrics as JSON")
    train.add_argument("--quiet", action="store_true", help="print only the final line")

    evaluate = commands.add_parser("evaluate", help="test accuracy and confusion matrix")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--data-dir")

    bench = commands.add_parser("bench", help="seconds per epoch here and in PyTorch")
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--batch-size", type=int, default=64)
    bench.add_argument("--samples", type=int, default=60_000, help="synthetic samples per epoch")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; return the exit status (0 success, 1 failure, 2 usage error)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        result = run_benchmark(args.repeats, args.batch_size, samples=args.samples)
        print(result.report())
        return 0
    except (OSError, ValueError, ImportError, FloatingPointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _train(args: argparse.Namespace) -> int:
    if args.plot:
        require_matplotlib()  # fail now, not after the last epoch
    say = (lambda *_: None) if args.quiet else print
    data = load_mnist(args.dataset, args.data_dir)
    say(f"{args.dataset}: {len(data.x_train):,} training and {len(data.x_test):,} test images")
    rng = np.random.default_rng(args.seed)
    model = TwoLayerMLP(rng=rng)
    optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    scheduler = None
    if args.scheduler == "cosine":
        steps = args.epochs * -(-len(data.x_train) // args.batch_size)
        scheduler = LRScheduler(optimizer, CosineAnnealingLR(args.lr, T_max=steps))
    say(f"{model!r}: {model.num_parameters():,} parameters")
    say(f"SGD(lr={args.lr}, momentum={args.momentum}), {args.scheduler} schedule, batch size "
        f"{args.batch_size}, {args.epochs} epochs, seed {args.seed}")  # fmt: skip
    history: list[EpochStats] = []
    try:
        for stats in fit(
            model, data, optimizer, epochs=args.epochs, batch_size=args.batch_size, rng=rng,
            scheduler=scheduler, progress=not args.quiet,
        ):  # fmt: skip
            history.append(stats)
            say(stats)
            if args.save:
                save_checkpoint(
                    args.save, model, optimizer, dataset=args.dataset, epoch=stats.epoch,
                    metrics=stats.to_dict(), rng_state=rng.bit_generator.state,
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
        classes = dataset_info(args.dataset).classes
        plot_training(args.plot, history, model, data.x_test, data.y_test, predictions, classes)
        say(f"wrote {args.plot}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    model, header = load_checkpoint(args.checkpoint)
    name = header.get("dataset", "mnist")
    data = load_mnist(name, args.data_dir)
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
