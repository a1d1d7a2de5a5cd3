"""What a language model trains and is measured on: a text data set's splits as examples,
drawn in random batches for training and read whole for evaluation.

Two kinds of examples, by model (`load_language_data` builds the right one):

- `TokenStreams`, for the models that predict every position of a window (GPT and the
  recurrent models): each split is one sequence of token ids. A batch is ``batch_size``
  random windows of ``block_size`` inputs and their next tokens (`data.language.get_batch`,
  nanoGPT's). Tiny Shakespeare is its text, split 90/10 in order; the names are each
  split's words joined into one stream, each name followed by ``"."`` and the stream
  starting with one, ``.emma.olivia.ava.``: a window may cross from one name into the next,
  and each ``"."`` is both the end of a name (a target) and the start of the next.
- `ContextExamples`, for makemore's MLP, which predicts one token from the ``block_size``
  before it: for the names, makemore's examples (`data.language.context_dataset`: each
  character of each word and its end, the context padded with ``"."`` before the word's
  start); for a text, every position after the first ``block_size``. A batch is
  ``batch_size`` examples drawn uniformly with replacement, as makemore's
  ``torch.randint(0, len(X), (32,))``.

Both count the same targets for the names (every character of every word, and each word's
end), so their whole-split losses compare.

The whole split (`LanguageData.eval_batches`): every target once. For a stream of ``n + 1``
tokens there are ``n`` targets, ``data[1], ..., data[n]``; the windows do not overlap: window
k reads ``data[kT : kT + T]`` and predicts ``data[kT + 1 : kT + T + 1]`` (T = block_size),
and a last, shorter window takes the ``n mod T`` targets left. Each window starts afresh (no
context before it, a zero state for a recurrent model), as in training.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from ..core.types import Array, PathLike
from ..data.language import context_dataset, get_batch
from ..data.text import BOUNDARY, CharTokenizer, load_names, load_shakespeare

EVAL_BATCH = 64
"""Windows (or 64 times as many MLP examples) per forward pass of a whole-split evaluation."""


class LanguageData(Protocol):
    """A text data set's splits as a language model's examples."""

    tokenizer: CharTokenizer
    splits: tuple[str, ...]
    """The split names: ``("train", "val")``, and ``"test"`` for the names."""
    tokens_per_example: int
    """How many targets one row of a batch holds: block_size (windows) or 1 (contexts)."""

    def batch(self, split: str, batch_size: int, rng: np.random.Generator) -> tuple[Array, Array]:
        """Random inputs and targets of ``split``: int64 (B, T) and (B, T), or (B, T) and (B,)."""
        ...

    def eval_batches(self, split: str) -> Iterator[tuple[Array, Array]]:
        """Every target of ``split`` once, in batches (this module's docstring)."""
        ...

    def targets(self, split: str) -> int:
        """How many targets ``split`` has."""
        ...


class TokenStreams:
    """Each split one sequence of token ids, read in windows of ``block_size`` (this module's
    docstring).

    Raises
    ------
    ValueError
        If a split has no more than ``block_size`` tokens (a window needs ``block_size + 1``).
    """

    tokens_per_example: int

    def __init__(self, streams: dict[str, Array], tokenizer: CharTokenizer, block_size: int):
        self.streams, self.tokenizer, self.block_size = streams, tokenizer, block_size
        self.splits = tuple(streams)
        self.tokens_per_example = block_size
        for split, data in streams.items():
            check_split_length(data, split, block_size, "windows")

    def batch(self, split: str, batch_size: int, rng: np.random.Generator) -> tuple[Array, Array]:
        return get_batch(self.streams[split], batch_size, self.block_size, rng)

    def eval_batches(self, split: str) -> Iterator[tuple[Array, Array]]:
        data, size = self.streams[split], self.block_size
        n = len(data) - 1  # the targets data[1:]
        full = n // size
        inputs = data[: full * size].reshape(full, size)
        targets = data[1 : full * size + 1].reshape(full, size)
        for start in range(0, full, EVAL_BATCH):
            yield inputs[start : start + EVAL_BATCH], targets[start : start + EVAL_BATCH]
        if n % size:
            yield data[full * size : n][np.newaxis], data[full * size + 1 :][np.newaxis]

    def targets(self, split: str) -> int:
        return len(self.streams[split]) - 1


class ContextExamples:
    """Each split a set of examples, ``block_size`` tokens and the token after them (this
    module's docstring)."""

    tokens_per_example = 1

    def __init__(self, examples: dict[str, tuple[Array, Array]], tokenizer: CharTokenizer):
        self.examples, self.tokenizer = examples, tokenizer
        self.splits = tuple(examples)

    def batch(self, split: str, batch_size: int, rng: np.random.Generator) -> tuple[Array, Array]:
        x, y = self.examples[split]
        rows = rng.integers(len(y), size=batch_size)
        return x[rows], y[rows]

    def eval_batches(self, split: str) -> Iterator[tuple[Array, Array]]:
        x, y = self.examples[split]
        step = EVAL_BATCH * 64
        for start in range(0, len(y), step):
            yield x[start : start + step], y[start : start + step]

    def targets(self, split: str) -> int:
        return len(self.examples[split][1])


def check_split_length(data: Array, split: str, block_size: int, what: str) -> None:
    """Refuse (ValueError) a split of no more than ``block_size`` tokens: a window (or context)
    needs ``block_size + 1``, and a split of fewer than 2 tokens has none at any size."""
    if len(data) < 2:
        raise ValueError(
            f"the {split} split has {len(data):,} tokens, too short for any window: it needs at "
            "least 2 tokens (an input and its target); give a longer text"
        )
    if len(data) <= block_size:
        raise ValueError(
            f"the {split} split has {len(data):,} tokens, too few for {what} of --block-size "
            f"{block_size} (each needs block_size + 1): give a --block-size below {len(data):,}"
        )


def names_stream(words: Sequence[str], tokenizer: CharTokenizer) -> Array:
    """The token ids of ``"." + w1 + "." + w2 + "." + ... + "."``: each name framed by the
    start/end token (`data.text.BOUNDARY`)."""
    return tokenizer.encode(BOUNDARY + "".join(word + BOUNDARY for word in words))


def text_contexts(data: Array, block_size: int, split: str = "given") -> tuple[Array, Array]:
    """Every position of ``data`` after the first ``block_size``, as an example: the
    ``block_size`` tokens before it (rows of a read-only view, not copies) and it."""
    check_split_length(data, split, block_size, "contexts")
    x = np.lib.stride_tricks.sliding_window_view(data[:-1], block_size)
    return x, data[block_size:]


def load_language_data(
    dataset: str, block_size: int, *, contexts: bool, data_dir: PathLike | None = None
) -> LanguageData:
    """The splits of ``dataset`` (``"tinyshakespeare"``: train and val; ``"names"``: train,
    val and test) as `ContextExamples` of ``block_size`` tokens (``contexts``: makemore's
    MLP) or `TokenStreams` read in windows of ``block_size`` (the other models).

    Raises
    ------
    ValueError
        For an unknown data set, or a split too short for ``block_size``.
    DatasetNotFoundError
        If the file is nowhere and cannot be downloaded (`data.text.load_text`).
    """
    if dataset == "names":
        names = load_names(data_dir)
        words = {"train": names.train, "val": names.val, "test": names.test}
        if contexts:
            examples = {split: context_dataset(w, names.tokenizer, block_size)
                        for split, w in words.items()}  # fmt: skip
            return ContextExamples(examples, names.tokenizer)
        streams = {split: names_stream(w, names.tokenizer) for split, w in words.items()}
        return TokenStreams(streams, names.tokenizer, block_size)
    if dataset == "tinyshakespeare":
        text = load_shakespeare(data_dir)
        splits = {"train": text.train, "val": text.val}
        if contexts:
            return ContextExamples(
                {split: text_contexts(data, block_size, split) for split, data in splits.items()},
                text.tokenizer,
            )
        return TokenStreams(splits, text.tokenizer, block_size)
    raise ValueError(f"{dataset!r} is not a text data set; choose tinyshakespeare or names")
