"""A language model's run in a checkpoint: what ``train --save`` adds to the header so that
``sample``, ``evaluate`` and ``train --resume`` work from the file alone, and the check of it.

The header of a language model's checkpoint holds, beside the model (`checkpoint`):

- ``dataset`` and ``tokenizer``: the data set's name and its characters in token order
  (`data.text.CharTokenizer.to_json`), so text can be encoded and decoded without the data;
- ``block_size``: the windows (or contexts) the model read, for a whole-split evaluation;
- ``text_recipe``: the `lm_recipe.TextRecipe`, every choice of the run;
- ``iter``: the iterations done; ``metrics``: that evaluation's `lm_loop.EvalRecord`;
  ``history``: every evaluation's up to it; ``best_val_loss``: the lowest validation loss
  of those (``--save`` keeps the best);
- ``rng_state``: the state of the run's generator (batches, dropout) after that evaluation.

With the optimizer's state in the arrays, that is all a resumed run needs to go on as the
whole run would have, bit for bit (on one machine, one thread count).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.module import Module
from ..core.types import PathLike
from ..data.text import CharTokenizer
from ..optim import Optimizer
from .archive import EDITED, Archive, CheckpointError, Shape, check_rng_state
from .checkpoint import save_checkpoint
from .lm_loop import EvalRecord
from .lm_recipe import TextRecipe, language_shapes

RECORD_KEYS = ("iter", "train_loss", "val_loss", "seconds", "tokens_per_second")
"""The entries of an `EvalRecord`, in order."""


def save_text_checkpoint(
    path: PathLike,
    model: Module,
    optimizer: Optimizer,
    recipe: TextRecipe,
    tokenizer: CharTokenizer,
    history: list[EvalRecord],
    rng: np.random.Generator,
) -> None:
    """Write a language model's run after its last evaluation, ``history[-1]`` (this
    module's docstring says what the header holds)."""
    last = history[-1]
    save_checkpoint(
        path, model, optimizer, dataset=recipe.dataset, tokenizer=tokenizer.to_json(),
        block_size=recipe.block_size, text_recipe=recipe.to_dict(), iter=last.iter,
        metrics=last.to_dict(), history=[record.to_dict() for record in history],
        best_val_loss=min(record.val_loss for record in history),
        rng_state=rng.bit_generator.state,
    )  # fmt: skip


def header_tokenizer(header: Mapping[str, Any], source: object) -> CharTokenizer:
    """The tokenizer a language model's checkpoint holds, or a `CheckpointError` saying the
    file is not one, or that its tokenizer is not one of as many characters as the model has
    tokens (``config``'s ``vocab_size``)."""
    if "tokenizer" not in header:
        raise CheckpointError(
            f"{source} holds no tokenizer, so it is not a language model's checkpoint: give "
            "one written by `train --model gpt|rnn|lstm|gru|mlp --save`"
        )
    try:
        tokenizer = CharTokenizer.from_json(header["tokenizer"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"{source}: the header's tokenizer is not valid: {error}. {EDITED}"
        ) from None
    config = header.get("config")
    vocab_size = config.get("vocab_size") if isinstance(config, dict) else None
    if vocab_size is not None and vocab_size != tokenizer.vocab_size:
        raise CheckpointError(
            f"{source}: the header's tokenizer has {tokenizer.vocab_size} characters, but the "
            f"model reads {vocab_size} tokens (its config's vocab_size). {EDITED}"
        )
    return tokenizer


def read_text_resume_header(path: PathLike) -> dict[str, Any]:
    """The header of a language model's checkpoint written by ``train --save``, checked to
    hold what resuming needs (this module's docstring); only the header is read.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is not a checkpoint, or its header lacks an entry or has one of the wrong
        type or value, or its recipe describes a model other than its arrays (compared by
        shapes before any array is read or any model built).
    """
    with Archive(path) as archive:
        header = archive.header
        entries = archive.entries.items()
        stored = {
            name[len("model.") :]: e.shape for name, e in entries if name.startswith("model.")
        }
    if "text_recipe" not in header:
        what = "an image model's run" if "recipe" in header else "no training run"
        raise CheckpointError(
            f"{path} holds {what}, not a language model's: to resume it, leave out the "
            "language models' options (--model gpt|rnn|lstm|gru|mlp, --dataset "
            "tinyshakespeare|names); or start a new run"
            if "recipe" in header
            else f"{path} holds {what}: only checkpoints written by `train --save` resume"
        )
    missing = [key for key in ("iter", "history", "rng_state", "best_val_loss", "tokenizer")
               if key not in header]  # fmt: skip
    if missing:
        raise CheckpointError(f"{path}: the header lacks {missing}, which resuming needs. {EDITED}")
    try:
        recipe = TextRecipe.from_dict(dict(header["text_recipe"]))
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"{path}: the header's text_recipe is not valid: {error}. {EDITED}"
        ) from None
    name, config = recipe.model_config(header_tokenizer(header, path).vocab_size)
    try:
        shapes: dict[str, Shape] | None = language_shapes(name, config, len(stored))
    except ValueError:
        shapes = None
    if shapes != stored:
        raise CheckpointError(
            f"{path}: the header's text_recipe describes a model its arrays do not hold, a "
            f"{name} of {config}. {EDITED}"
        )
    iteration, history = header["iter"], header["history"]
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise CheckpointError(f"{path}: the header's iter should be an int >= 0. {EDITED}")
    if (
        not isinstance(history, list)
        or not history
        or not all(
            isinstance(r, dict)
            and tuple(r) == RECORD_KEYS
            and all(_is_number(v) for v in r.values())
            for r in history
        )
    ):
        raise CheckpointError(
            f"{path}: the header's history should be a list of evaluations' records, each "
            f"with the entries {list(RECORD_KEYS)}. {EDITED}"
        )
    if history[-1]["iter"] != iteration:
        raise CheckpointError(
            f"{path}: the header's history ends at iteration {history[-1]['iter']}, but its "
            f"iter is {iteration}. {EDITED}"
        )
    if not _is_number(header["best_val_loss"]):
        raise CheckpointError(f"{path}: the header's best_val_loss should be a number. {EDITED}")
    check_rng_state(header["rng_state"], path)
    return header


def history_of(header: Mapping[str, Any]) -> list[EvalRecord]:
    """The `EvalRecord` of each evaluation a checked header holds."""
    return [EvalRecord(**record) for record in header["history"]]


def _is_number(value: Any) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
