"""The command line's options: the argparse parser (`build_parser`) with its help texts, the
option types that check each value as it is parsed, and the checks, made after parsing and
before any work, of options that are each well formed but do not fit together (`check_bench`;
``train``'s output files are checked by `outputs.check_outputs`), which raise `UsageError` for
`commands.main` to report as argparse reports a bad option.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Callable

from ..bench.mlp import SCALING_BATCHES
from ..data.registry import Kind, dataset_names
from ..training.lm_recipe import SCHEDULES, TEXT_MODELS
from ..training.recipe import ENGINES, IMAGE_MODELS, OPTIMIZERS, SCHEDULERS

DATA_DIR_HELP = (
    "folder holding <dataset>/, searched first; then $DEEPLEARNING_DATA, "
    "$XDG_CACHE_HOME/deeplearning (~/.cache/deeplearning) and /usr/share/datasets; missing "
    "files are downloaded into the first of these that is set"
)
"""The help of ``--data-dir``: the search order of `data.registry.search_dirs`."""
MAX_THREADS = 256
"""The most threads ``--threads`` takes (OpenBLAS uses at most 64 on common builds)."""


class UsageError(ValueError):
    """Options that are each well formed but do not fit together or with the file system
    (found after parsing, before any work): reported as argparse reports a bad option."""


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
    """An argparse type: 'two-layer', an image model's name, MLP sizes like 784-256-10
    (returned as plain decimals: 784-0128-10 is 784-128-10), or a language model's name."""
    if text == "two-layer" or text in IMAGE_MODELS or text in TEXT_MODELS:
        return text
    sizes = text.split("-")
    if len(sizes) < 2 or not all(size.isdigit() and int(size) > 0 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"expected 'two-layer', {', '.join(map(repr, IMAGE_MODELS))} or two or more "
            f"positive sizes joined by '-', like 784-256-10 (image models), or a language "
            f"model, {', '.join(TEXT_MODELS)}; got {text!r}"
        )
    return "-".join(str(int(size)) for size in sizes)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``deeplearning {train,evaluate,sample,export,bench}``: each subcommand's
    options, their help and their types (each option's value checked as it is parsed); every
    parsed namespace has ``command`` and ``command_parser`` (the subcommand's parser, for its
    usage errors)."""
    parser = argparse.ArgumentParser(
        prog="deeplearning",
        description="Train and evaluate networks written from scratch in NumPy.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a network on MNIST (or a relative), or a language model on text",
        description="Train a network: an image classifier on mnist, fashion-mnist or kmnist, "
        "or a character-level language model (--model gpt, rnn, lstm, gru or mlp) on "
        "tinyshakespeare or names. Options left out take the recipe defaults shown (a "
        "language model's are its model's: nanoGPT's baby GPT, makemore's MLP), or, with "
        "--resume, the values saved in the checkpoint; a resumed run keeps its data set, "
        "model, optimizer, seed and batch size.",
    )
    train.set_defaults(command_parser=train)
    recipe = train.add_argument_group("recipe")
    recipe.add_argument(
        "--dataset",
        choices=dataset_names(),
        help="default: mnist, or tinyshakespeare for a language model",
    )
    recipe.add_argument(
        "--model",
        type=_model,
        help="images: 'two-layer' (TwoLayerMLP, the default), MLP sizes such as "
        "784-256-128-10, or 'lenet5' (a convolutional network); text: 'gpt' (nanoGPT), "
        "'rnn', 'lstm', 'gru' (an embedding, one recurrent layer, a linear head) or 'mlp' "
        "(makemore's MLP: the --block-size characters before a character predict it)",
    )
    recipe.add_argument(
        "--batchnorm", action="store_const", const=True, help="MLP, lenet5: BatchNorm layers"
    )
    recipe.add_argument(
        "--dropout",
        type=_real(0, 1, low_allowed=True),
        help="MLP, lenet5, gpt: dropout probability in [0, 1) (default 0)",
    )
    recipe.add_argument("--epochs", type=_count(1), help="image models: default 5")
    recipe.add_argument("--batch-size", type=_count(1), help="default: 64 (gpt 12, rnn, mlp 32)")
    recipe.add_argument(
        "--optimizer", choices=sorted(OPTIMIZERS), help="default: sgd (gpt, rnn: adamw)"
    )
    recipe.add_argument(
        "--lr",
        type=_real(0, low_allowed=False),
        help="peak learning rate (sgd 0.05, others 1e-3; gpt 1e-3, rnn 2e-3, mlp 0.1)",
    )
    recipe.add_argument(
        "--momentum",
        type=_real(0, low_allowed=True),
        help="sgd (default 0.9; a language model's 0) and rmsprop (0)",
    )
    recipe.add_argument(
        "--weight-decay",
        type=_real(0, low_allowed=True),
        help="default 0 (adamw: 0.01; gpt, rnn: 0.1, on the weights of 2 or more dimensions)",
    )
    recipe.add_argument("--scheduler", choices=SCHEDULERS, help="after warm-up; default: cosine")
    recipe.add_argument(
        "--step-size",
        type=_count(1),
        metavar="EPOCHS",
        help="step: epochs between two decays (default: a third of the epochs after warm-up)",
    )
    recipe.add_argument(
        "--gamma",
        type=_real(0, 1, low_allowed=False, high_allowed=True),
        help="step: the factor of each decay (default 0.1); exponential: the factor of each "
        "epoch (default: the one that ends at 1%% of --lr)",
    )
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
    _add_text_options(train.add_argument_group(
        "language models", "Defaults: nanoGPT's baby GPT for gpt (its training for rnn, lstm "
        "and gru, at lr 2e-3 and batch 32), makemore part 2 for mlp. gpt, rnn, lstm and gru "
        "train on random windows of --block-size characters; on names, of each split's names "
        "joined into one text, each followed by '.' (.emma.olivia.). mlp reads the "
        "--block-size characters before each one (makemore's contexts, '.' before a name)."
    ))  # fmt: skip
    train.add_argument("--data-dir", type=_folder, help=DATA_DIR_HELP)
    train.add_argument(
        "--resume", type=_path, metavar="CHECKPOINT", help="continue a run saved with --save"
    )
    train.add_argument(
        "--save",
        type=_path,
        metavar="PATH",
        help="checkpoint after every epoch ('{epoch}' in PATH: one each), or, for a language "
        "model, at each evaluation that lowers the validation loss (the best is kept); a "
        "checkpoint there already is replaced only with --overwrite, and any other file never",
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="let --save replace checkpoints that exist (a resumed run may replace its own)",
    )
    train.add_argument(
        "--plot",
        type=_path,
        metavar="PATH",
        help="draw the run at the end, as PATH ends: .png, .svg or .pdf (needs matplotlib); a "
        "language model: the loss curves, and a GPT's attention on a validation window; a "
        "file there already must be a picture of that kind",
    )
    train.add_argument(
        "--diagnostics",
        type=_path,
        metavar="PATH",
        help="draw the run's health at the end, as PATH ends (.png, .svg or .pdf; needs "
        "matplotlib): each activation's outputs and gradients, the percent saturated or dead, "
        "and each weight's update-to-data ratio and gradient norm per step",
    )
    train.add_argument(
        "--json",
        type=_path,
        metavar="PATH",
        help="write per-epoch metrics (a language model: per evaluation, iter, train_loss, "
        "val_loss, seconds, tokens_per_second) as JSON; a file there already must be one "
        "--json wrote",
    )
    train.add_argument("--quiet", action="store_true", help="print only the final line")

    evaluate = commands.add_parser(
        "evaluate",
        help="test accuracy and confusion matrix, or a language model's loss",
        description="Rebuild the model a checkpoint holds and measure it on its data set: an "
        "image classifier's test accuracy and confusion matrix; a language model's mean loss "
        "over every token of the validation split (and of the test split, for names), read "
        "in windows of the block size that do not overlap.",
    )
    evaluate.set_defaults(command_parser=evaluate)
    evaluate.add_argument("checkpoint", type=_path, help="a file written by `train --save`")
    evaluate.add_argument("--data-dir", type=_folder, help=DATA_DIR_HELP)

    sample = commands.add_parser(
        "sample",
        help="text from a language model's checkpoint",
        description="Continue a prompt with a language model saved by `train --save`: print "
        "the prompt and the tokens drawn after it, one at a time, from the softmax of the "
        "last logits divided by --temperature, over the --top-k likeliest.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sample.set_defaults(command_parser=sample)
    sample.add_argument("checkpoint", type=_path, help="a language model's `train --save` file")
    sample.add_argument(
        "--prompt",
        default="",
        help="the text to continue, in the checkpoint's characters; empty: start from token 0 "
        "(a newline in Shakespeare, the '.' before a name)",
    )
    sample.add_argument("--tokens", type=_count(1), default=500, help="characters to generate")
    sample.add_argument(
        "--temperature",
        type=_real(0, low_allowed=False),
        default=0.8,
        help="divides the logits: below 1 surer, above 1 more varied",
    )
    sample.add_argument(
        "--top-k", type=_count(1), default=200, help="draw among this many likeliest tokens"
    )
    sample.add_argument("--seed", type=_count(0), default=0, help="the draws' seed")

    export = commands.add_parser(
        "export",
        help="a checkpoint as ONNX, PyTorch or safetensors",
        description="Convert a checkpoint written by `train --save` for another library: an "
        "ONNX inference graph (the batch axis free), torch.save of the PyTorch module's "
        "state_dict, or safetensors with the model's config (interop.load_model rebuilds it).",
    )
    export.set_defaults(command_parser=export)
    export.add_argument("checkpoint", type=_path, help="a file written by `train --save`")
    export.add_argument(
        "--format", choices=("onnx", "torch", "safetensors"), required=True, help="what to write"
    )
    export.add_argument("output", type=_path, help="the file to write (.onnx, .pt, .safetensors)")
    export.add_argument("--overwrite", action="store_true", help="replace a file there")

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
        "--gpt",
        action="store_true",
        help="the gpt workload (nanoGPT's baby GPT on both paths and in PyTorch; --repeats runs "
        "of 10 iterations each) instead of the MLP ones",
    )
    bench.add_argument(
        "--inference",
        action="store_true",
        help="predictions per image (LeNet5, the two-layer MLP; batches of 1 and 256) here on "
        "both paths, in PyTorch and in ONNX Runtime, one thread each, instead of training",
    )
    bench.add_argument(
        "--busy",
        action="store_true",
        help="with a second process spinning on one core all along, as on a busy machine",
    )
    return parser


def _add_text_options(group: argparse._ArgumentGroup) -> None:
    """The options of the language models (`lm_recipe.TextRecipe`'s entries)."""
    add = group.add_argument
    add(
        "--iters",
        type=_count(1),
        help="iterations, each one optimizer step (gpt, rnn 2000; mlp 200000)",
    )
    add("--n-layer", type=_count(1), help="gpt: transformer blocks (4)")
    add("--n-head", type=_count(1), help="gpt: attention heads, dividing --n-embd (4)")
    add("--n-embd", type=_count(1), help="each token's vector length (gpt 128, rnn 64, mlp 10)")
    add(
        "--block-size",
        type=_count(1),
        help="the context: gpt's longest (64), the recurrent models' training windows (64), "
        "mlp's characters before the one predicted (3)",
    )
    add(
        "--hidden",
        type=_count(1),
        help="rnn, lstm, gru: the state's size (256); mlp: the tanh units (200)",
    )
    add(
        "--bias",
        action=argparse.BooleanOptionalAction,
        help="gpt: biases in the Linears and LayerNorms (default --no-bias, as nanoGPT's baby GPT)",
    )
    add(
        "--init",
        choices=("normal", "default"),
        help="mlp: 'normal', every weight N(0, 1) as in the lecture (the default), or 'default', "
        "the layers' own",
    )
    add(
        "--min-lr",
        type=_real(0, low_allowed=True),
        help="the cosine's last rate (gpt 1e-4), or the step schedule's rate after the drop "
        "(mlp 0.01)",
    )
    add("--warmup-iters", type=_count(0), help="iterations of linear warm-up (gpt 100, mlp 0)")
    add(
        "--lr-schedule",
        choices=SCHEDULES,
        help="'cosine': nanoGPT's, from --lr down to --min-lr at --iters (gpt); 'step': --lr, "
        "then --min-lr from --lr-drop-at on (mlp)",
    )
    add(
        "--lr-drop-at",
        type=_count(0),
        metavar="ITER",
        help="step schedule: the iteration from which --min-lr applies (default: half of --iters)",
    )
    add("--beta2", type=_real(0, 1, low_allowed=True), help="adam, adamw: the second beta (0.99)")
    add(
        "--grad-clip",
        type=_real(0, low_allowed=True),
        help="clip the gradient norm to this; 0: never (gpt 1.0, mlp 0)",
    )
    add(
        "--eval-interval",
        type=_count(1),
        help="iterations between evaluations (gpt 250, mlp 10000)",
    )
    add("--eval-iters", type=_count(1), help="random batches per split at each evaluation (20)")


# -- checks after parsing ----------------------------------------------------------------------


def check_bench(args: argparse.Namespace) -> None:
    """Refuse bench options that the chosen benchmark would ignore."""
    if args.inference and (args.gpt or args.cnn or args.threads or args.profile or args.scaling):
        raise UsageError(
            "--inference times its own workloads at one thread each: leave out --gpt, --cnn, "
            "--threads, --profile and --scaling"
        )
    if args.gpt and (args.cnn or args.threads or args.profile or args.scaling):
        raise UsageError(
            "--gpt times its own thread settings and split: leave out --cnn, --threads, "
            "--profile and --scaling"
        )
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


IMAGE_ONLY = ("epochs", "batchnorm", "scheduler", "step_size", "gamma", "warmup", "clip_grad")
"""``train``'s options that only the image models take."""
TEXT_ONLY = ("iters", "n_layer", "n_head", "n_embd", "block_size", "hidden", "bias", "init",
             "min_lr", "warmup_iters", "lr_schedule", "lr_drop_at", "beta2", "grad_clip",
             "eval_interval", "eval_iters")  # fmt: skip
"""``train``'s options that only the language models take."""
TEXT_EQUIVALENTS = {"epochs": "--iters", "warmup": "--warmup-iters", "clip_grad": "--grad-clip",
                    "scheduler": "--lr-schedule"}  # fmt: skip
"""A language model's option for what an image-only option sets."""


def check_train_kind(args: argparse.Namespace, text: bool) -> None:
    """Refuse a language model on an image data set or an image model on a text one, and the
    options the run's kind does not take (``text``: a language model's run)."""
    kind: Kind = "text" if text else "images"
    dataset, model = args.dataset, args.model
    if dataset is not None and dataset not in dataset_names(kind):
        if text:
            image_mlp = " (an image MLP is given by its sizes, like 784-256-10)"
            raise UsageError(
                f"--model {model or 'of the checkpoint'} is a language model: it trains on "
                f"{' or '.join(dataset_names('text'))}, not on {dataset}, which holds images"
                + (image_mlp if model == "mlp" else "")
            )
        raise UsageError(
            f"--dataset {dataset} is text: train a language model on it (--model "
            f"{', '.join(TEXT_MODELS)}); {'--model ' + model if model else 'the default model'}"
            " classifies images"
        )
    for name in IMAGE_ONLY if text else TEXT_ONLY:
        if getattr(args, name) is not None:
            option = "--" + name.replace("_", "-")
            if text:
                instead = TEXT_EQUIVALENTS.get(name)
                hint = f"; a language model takes {instead}" if instead else ""
                raise UsageError(f"{option} applies to the image models{hint}")
            raise UsageError(
                f"{option} applies to the language models (--model {', '.join(TEXT_MODELS)})"
            )
