"""One picture of a language model's run: the loss curves and, for a GPT, where one head
looks on a validation window.

Needs matplotlib (in the ``train`` extra), as `plots` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.atomic import atomic_write
from ..core.module import Module
from ..core.types import Array, PathLike
from ..data.text import CharTokenizer
from ..training.lm_loop import EvalRecord
from .plots import plot_format, require_matplotlib

ATTENTION_WINDOW = 32
"""The most characters of the validation window whose attention is drawn (a 32 x 32 grid
keeps each character's label readable)."""


def plot_text_training(
    path: PathLike,
    history: Sequence[EvalRecord],
    model: Module,
    window: Array,
    tokenizer: CharTokenizer,
) -> None:
    """Save a picture (PNG, SVG or PDF, as ``path`` ends) of a language model's run:

    1. the estimated train and validation losses at each evaluation, against the iteration;
    2. for a model with ``attention_weights`` (the GPT): the attention weights of the last
       block's first head on ``window``, token ids (T,) of the validation split, cut to its
       first `ATTENTION_WINDOW`: row i is how much position i takes from each position j <= i
       (the causal mask leaves the upper triangle empty).

    Raises
    ------
    ValueError
        If ``path`` does not end in one of `plots.PLOT_FORMATS` (before anything is drawn).
    """
    file_format = plot_format(path)
    attention = getattr(model, "attention_weights", None)
    figure = require_matplotlib()(figsize=(13 if attention else 7, 5.5), layout="constrained")
    panels = figure.subplots(1, 2 if attention else 1, squeeze=False)[0]
    _curves(panels[0], history)
    if attention is not None:
        tokens = window[: min(ATTENTION_WINDOW, getattr(model, "block_size", len(window)))]
        blocks = attention(tokens[np.newaxis])  # one (1, n_head, T, T) array per block
        labels = [_shown(tokenizer.decode(int(token))) for token in tokens]
        _attention(panels[1], blocks[-1][0, 0], labels, len(blocks))  # the last block, head 0
    with atomic_write(path) as stream:
        figure.savefig(stream, format=file_format, dpi=80)


def _curves(axes: Any, history: Sequence[EvalRecord]) -> None:
    iterations = [record.iter for record in history]
    axes.plot(iterations, [record.train_loss for record in history], "o-", label="train")
    axes.plot(iterations, [record.val_loss for record in history], "s-", label="validation")
    axes.set(xlabel="iteration", ylabel="cross-entropy (estimated)", title="loss")
    axes.grid(alpha=0.3)
    axes.legend()


def _attention(axes: Any, weights: Array, labels: list[str], blocks: int) -> None:
    masked = np.ma.masked_where(np.triu(np.ones_like(weights, dtype=bool), k=1), weights)
    image = axes.imshow(masked, cmap="viridis", vmin=0.0, vmax=1.0)
    ticks = range(len(labels))
    axes.set_xticks(ticks, labels, fontsize=7, fontfamily="monospace")
    axes.set_yticks(ticks, labels, fontsize=7, fontfamily="monospace")
    axes.set(xlabel="key (attended to)", ylabel="query",
             title=f"attention of block {blocks - 1}, head 0, on a validation window")  # fmt: skip
    axes.figure.colorbar(image, ax=axes, shrink=0.8)


def _shown(char: str) -> str:
    """A character as a tick label: a newline as ``⏎``, a space as ``␣``."""
    return {"\n": "⏎", " ": "␣"}.get(char, char)
