"""``sample`` and a language model's ``evaluate``: what a saved language model writes and how
well it predicts its data set.

- ``sample CKPT --prompt "ROMEO:" --tokens 500 --temperature 0.8 --top-k 200 --seed 0``
  rebuilds the model from the checkpoint and its tokenizer from the header, encodes the
  prompt, and prints the prompt followed by the tokens ``generate`` draws after it;
- ``evaluate CKPT`` (on a language model's checkpoint) prints the mean loss over every token
  of the validation split, and of the test split where the data set has one (the names), as
  `lm_loop.evaluate_split` measures it: windows of the block size the model trained on, that
  do not overlap.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from ..core.module import Module
from ..training.archive import EDITED, CheckpointError
from ..training.checkpoint import load_checkpoint
from ..training.lm_checkpoint import header_tokenizer
from ..training.lm_data import load_language_data
from ..training.lm_loop import evaluate_split
from ..training.loop import DEFAULT_BLAS_THREADS, blas_threads
from .parser import UsageError

SPLIT_NAMES = {"val": "validation", "test": "test"}
MAX_SAMPLE_TOKENS = 100_000
"""The most characters one ``sample`` draws: the text is printed once drawn, and each token
costs a step of the model, so a count without bound would run (and grow) for ever."""


def sample_text(args: argparse.Namespace) -> int:
    """``sample`` (this module's docstring): the prompt and the text drawn after it."""
    if args.tokens > MAX_SAMPLE_TOKENS:
        raise UsageError(
            f"argument --tokens: at most {MAX_SAMPLE_TOKENS:,} characters, got {args.tokens:,}: "
            "give fewer, or call the model's generate from Python for more"
        )
    model, header = load_checkpoint(args.checkpoint)
    tokenizer = header_tokenizer(header, args.checkpoint)
    unknown = sorted(set(args.prompt) - set(tokenizer.chars))
    if unknown:
        shown = " ".join(map(repr, unknown))
        raise UsageError(
            f"argument --prompt: {shown} {'is' if len(unknown) == 1 else 'are'} not among the "
            f"{tokenizer.vocab_size} characters {args.checkpoint} was trained on "
            f"({''.join(tokenizer.chars)!r}): leave {'it' if len(unknown) == 1 else 'them'} out"
        )
    start = tokenizer.encode(args.prompt) if args.prompt else [0]
    generate = getattr(model, "generate", None)
    if generate is None:
        raise CheckpointError(
            f"{args.checkpoint} holds a {type(model).__name__}, which writes no text"
        )
    with blas_threads(DEFAULT_BLAS_THREADS):  # one token's products are small, as training's
        tokens = generate([list(start)], args.tokens, temperature=args.temperature,
                          top_k=args.top_k, rng=args.seed)  # fmt: skip
    print(args.prompt + tokenizer.decode(tokens[0, len(start) :]))
    return 0


def is_text_checkpoint(header: Mapping[str, Any]) -> bool:
    """Whether a checkpoint's header is a language model's (it holds a tokenizer)."""
    return "tokenizer" in header


def evaluate_text(args: argparse.Namespace) -> int:
    """A language model's ``evaluate`` (this module's docstring)."""
    model, header = load_checkpoint(args.checkpoint)
    tokenizer = header_tokenizer(header, args.checkpoint)
    dataset, block_size = header.get("dataset"), _block_size(model, header, args.checkpoint)
    if dataset not in ("tinyshakespeare", "names"):
        raise CheckpointError(
            f"{args.checkpoint} names the data set {dataset!r}, which is not one of the text "
            "data sets, tinyshakespeare and names"
        )
    contexts = type(model).__name__ == "MLPLanguageModel"
    data = load_language_data(dataset, block_size, contexts=contexts, data_dir=args.data_dir)
    if data.tokenizer != tokenizer:
        raise ValueError(
            f"{args.checkpoint} was trained on other characters than {dataset}'s file holds "
            "here: evaluate it on the data it was trained on"
        )
    kind = header.get("text_recipe", {}).get("model", type(model).__name__)
    where = f", iteration {header['iter']}" if "iter" in header else ""
    print(f"{args.checkpoint}: {kind} ({type(model).__name__}){where}, {dataset}")
    for split in ("val", "test"):
        if split in data.splits:
            loss = evaluate_split(model, data, split)  # the threads training evaluated with
            print(f"{split} loss: {loss:.4f} over the whole {SPLIT_NAMES[split]} split "
                  f"({data.targets(split):,} tokens)")  # fmt: skip
    return 0


def _block_size(model: Module, header: Mapping[str, Any], path: object) -> int:
    """The windows (or contexts) the model was trained on: the header's ``block_size``, or
    the model's own (a GPT's or an MLP's config), which must agree with the run's
    (``text_recipe``'s) and the model's."""
    own = getattr(model, "config", {}).get("block_size")
    size = header.get("block_size", own)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise CheckpointError(
            f"{path} does not say the block size the model was trained on (its header's "
            "block_size): save it with `train --save`"
        )
    recipe = header.get("text_recipe")
    for what, value in (("text_recipe's", recipe.get("block_size") if isinstance(recipe, dict)
                         else None), ("the model's config's", own)):  # fmt: skip
        if value is not None and value != size:
            raise CheckpointError(
                f"{path}: the header's block_size {size} is not the run's ({what} block_size "
                f"{value}). {EDITED}"
            )
    return size
