"""``export``: a training checkpoint converted for another library (`deeplearning.interop`).

    python -m deeplearning export lenet5.npz --format onnx lenet5.onnx
    python -m deeplearning export lenet5.npz --format torch lenet5.pt
    python -m deeplearning export gpt.npz --format safetensors gpt.safetensors

- ``onnx``: an inference graph (`interop.save_onnx`), its batch axis free, for ONNX Runtime;
- ``torch``: ``torch.save`` of the PyTorch module's ``state_dict`` (`interop.to_torch`), which
  ``torch.load(path, weights_only=True)`` reads;
- ``safetensors``: the model's own arrays and config (`interop.save_safetensors`), which
  `interop.load_model` rebuilds.

Before any work: the output's suffix must be its format's, it must not be the checkpoint, and a
file there is replaced only with ``--overwrite`` (never a checkpoint of this library); each a
usage error (exit 2). The file is written whole or not at all (`core.atomic`).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from ..core.atomic import atomic_write, check_writable
from ..core.module import Module
from ..interop import save_onnx, save_safetensors, to_torch
from ..interop.extras import require
from ..training.checkpoint import load_checkpoint
from .outputs import checkpoint_summary
from .parser import UsageError

SUFFIXES = {"onnx": (".onnx",), "torch": (".pt", ".pth"), "safetensors": (".safetensors",)}
"""The file names each format's output may end with."""
PACKAGES = {"onnx": "onnx", "torch": "torch", "safetensors": None}
"""The optional package each format needs (safetensors is written with NumPy alone)."""


def export(args: argparse.Namespace) -> int:
    """``export`` (this module's docstring); prints one line naming what was written."""
    _check_output(args)
    package = PACKAGES[args.format]
    if package is not None:
        require(package, f"export --format {args.format}")  # fail before reading anything
    model, _ = load_checkpoint(args.checkpoint)
    model.eval()
    if args.format == "onnx":
        save_onnx(model, args.output, example_input(model))
    elif args.format == "torch":
        torch = require("torch", "export --format torch")
        with atomic_write(args.output) as stream:
            torch.save(to_torch(model).state_dict(), stream)
    else:
        save_safetensors(model, args.output)
    print(f"{args.output}: {type(model).__name__} ({model.num_parameters():,} parameters) from "
          f"{args.checkpoint}, as {args.format}")  # fmt: skip
    return 0


def example_input(model: Module) -> Any:
    """One input of the shape ``model`` reads, zeros: an image or a row of features in the
    model's dtype, or a window of token ids (int64)."""
    config: dict[str, Any] = getattr(model, "config", {})
    name = type(model).__name__
    if name in ("GPT", "MLPLanguageModel"):
        return np.zeros((1, config["block_size"]), dtype=np.int64)
    if name == "RecurrentLanguageModel":
        return np.zeros((1, 1), dtype=np.int64)
    dtype = next(iter(model.parameters())).dtype
    if name == "LeNet5":
        side = config["image_size"]
        return np.zeros((1, config["in_channels"], side, side), dtype=dtype)
    features = config["in_features"] if name == "TwoLayerMLP" else config["sizes"][0]
    return np.zeros((1, features), dtype=dtype)


def _check_output(args: argparse.Namespace) -> None:
    """The usage errors of this module's docstring, before any work."""
    output, suffixes = args.output, SUFFIXES[args.format]
    if not output.endswith(suffixes):
        raise UsageError(
            f"argument output: --format {args.format} writes a {' or '.join(suffixes)} file, "
            f"but {output} ends otherwise: name it e.g. {os.path.splitext(output)[0]}{suffixes[0]}"
        )
    if (
        os.path.exists(output)
        and os.path.exists(args.checkpoint)
        and os.path.samefile(output, args.checkpoint)
    ):
        raise UsageError(f"argument output: {output} is the checkpoint itself")
    try:
        check_writable(output)
    except OSError as error:
        raise UsageError(f"argument output: {error}") from None
    if os.path.exists(output):
        summary = checkpoint_summary(output)
        if summary is not None:
            raise UsageError(f"argument output: {output} is {summary}: give another name")
        if not args.overwrite:
            raise UsageError(
                f"argument output: {output} exists: pass --overwrite to replace it, or give "
                "another name"
            )
