"""Examples for language models, from token ids or words, and the bigram baseline.

- `get_batch`: random windows of one long sequence (nanoGPT's ``get_batch``): each window of
  ``block_size + 1`` tokens gives ``block_size`` inputs and, shifted by one, their targets.
- `context_dataset`: makemore's fixed-context examples, one per character of each word and
  its end: the ``block_size`` characters before it (``"."`` before the start) predict it.
- `bigram_counts` and `bigram_nll`: makemore part 1's model, which predicts a character
  from the one before it by counting; its mean negative log-likelihood is the baseline a
  neural model must beat (2.4546 over all the names, counts smoothed by +1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.init import as_generator
from ..core.types import RNG, Array
from ..core.validation import check_int, check_number, check_rng
from .text import BOUNDARY, CharTokenizer

MAX_BIGRAM_VOCAB = 1024
"""The largest vocabulary `bigram_counts` takes: its table is vocab_size**2 counts (8 MiB of
float64 at most; the names have 27 characters)."""


def get_batch(
    data: Array, batch_size: int, block_size: int, rng: RNG = None
) -> tuple[Array, Array]:
    """``batch_size`` random windows of ``data``: inputs and next-token targets, (B, T) int64.

    As nanoGPT's ``get_batch``: ``ix = rng.integers(len(data) - block_size, size=batch_size)``,
    then row b is ``x = data[i : i + block_size]`` and ``y = data[i + 1 : i + 1 + block_size]``
    for ``i = ix[b]``, so ``y[b, t]`` is the token that follows ``x[b, : t + 1]``.

    Parameters
    ----------
    data : ndarray
        The token ids, a 1-D integer array (`TextSplits.train` or ``.val``).
    batch_size, block_size : int
        The rows B and the window length T, both >= 1, with ``block_size < len(data)``.
    rng : int, Generator or None
        Where the windows' starts are drawn: pass one generator for the whole run, so each
        call draws new windows and the run can be repeated (`core.init.as_generator`).

    Returns
    -------
    (x, y) : tuple of ndarray
        Two int64 arrays of shape (batch_size, block_size), each row a copy.
    """
    if not isinstance(data, np.ndarray) or data.ndim != 1 or data.dtype.kind not in "iu":
        what = f"{data.ndim}-D {data.dtype}" if isinstance(data, np.ndarray) else type(data)
        raise TypeError(
            f"get_batch: data must be a 1-D ndarray of integer token ids, got {what}; pass "
            "e.g. tokenizer.encode(text)"
        )
    check_int(batch_size, "batch_size", "get_batch", example="batch_size=64")
    check_int(block_size, "block_size", "get_batch", example="block_size=256")
    if block_size >= len(data):
        raise ValueError(
            f"get_batch: block_size must be below len(data) = {len(data):,} (a window is "
            f"block_size + 1 tokens: the inputs and one more target), got {block_size:,}"
        )
    check_rng(rng)
    starts = as_generator(rng).integers(len(data) - block_size, size=batch_size)
    index = starts[:, np.newaxis] + np.arange(block_size)  # (B, T): the inputs' positions
    return data[index].astype(np.int64), data[index + 1].astype(np.int64)


def context_dataset(
    words: Sequence[str], tokenizer: CharTokenizer, block_size: int = 3
) -> tuple[Array, Array]:
    """makemore's examples: for each character of each word, then its end, the ``block_size``
    token ids before it (``"."`` before the word's start) and its own id.

    For ``"emma"`` and ``block_size=3``: ``...`` -> ``e``, ``..e`` -> ``m``, ``.em`` -> ``m``,
    ``emm`` -> ``a``, ``mma`` -> ``.``: five examples.

    Returns
    -------
    (X, Y) : tuple of ndarray
        ``X`` int64 (N, block_size), ``Y`` int64 (N,), N the words' characters plus one per
        word.
    """
    check_int(block_size, "block_size", "context_dataset", example="block_size=3")
    ids = _word_ids(words, tokenizer, "context_dataset")  # each word's ids, then '.'
    dot = tokenizer.chars.index(BOUNDARY)
    # Where each word starts in ids, and each token's position within its word.
    starts = np.concatenate([[0], np.flatnonzero(ids == dot)[:-1] + 1])
    position = np.arange(len(ids)) - np.repeat(starts, np.diff(np.append(starts, len(ids))))
    X = np.full((len(ids), block_size), dot, dtype=np.int64)
    for column in range(block_size):
        back = block_size - column  # column 0 holds the token block_size places before
        inside = np.flatnonzero(position >= back)  # that token is in the same word
        X[inside, column] = ids[inside - back]
    return X, ids


def bigram_counts(words: Sequence[str], tokenizer: CharTokenizer) -> Array:
    """How often each token follows each other in ``words``, each framed by ``"."``: an int64
    (vocab_size, vocab_size) table, row the first token, column the next (makemore's ``N``)."""
    first, second = _bigrams(words, tokenizer, "bigram_counts")
    return _count(first, second, tokenizer.vocab_size)


def bigram_nll(words: Sequence[str], tokenizer: CharTokenizer, smoothing: float = 1.0) -> float:
    """The mean negative log-likelihood of ``words``' bigrams under the bigram model counted on
    them, each count raised by ``smoothing`` (makemore part 1: 2.4546 over all the names).

    The model's probability of token b after token a is
    ``P[a, b] = (N[a, b] + smoothing) / sum_c (N[a, c] + smoothing)`` with
    ``N = bigram_counts(words, tokenizer)``; the result is the mean of ``-log P[a, b]`` over
    every bigram (a, b) of the words, in float64.
    """
    check_number(smoothing, "smoothing", "bigram_nll", low=0, example="smoothing=1.0")
    first, second = _bigrams(words, tokenizer, "bigram_nll")
    counts = _count(first, second, tokenizer.vocab_size) + smoothing  # float64
    row_totals = counts.sum(axis=1)  # > 0 for every row a bigram starts from
    return float(-np.mean(np.log(counts[first, second] / row_totals[first])))


def _count(first: Array, second: Array, size: int) -> Array:
    """The (size, size) int64 table of how often each pair (first[i], second[i]) occurs."""
    if size > MAX_BIGRAM_VOCAB:
        raise ValueError(
            f"the vocabulary has {size:,} characters, more than the {MAX_BIGRAM_VOCAB:,} a "
            "bigram table (vocab_size**2 counts) is kept for"
        )
    return np.bincount(first * size + second, minlength=size * size).reshape(size, size)


def _bigrams(words: Sequence[str], tokenizer: CharTokenizer, who: str) -> tuple[Array, Array]:
    """The bigrams of ``words``, each framed by ``"."``: pairs of ids (first, next)."""
    ids = _word_ids(words, tokenizer, who)
    dot = np.array([tokenizer.chars.index(BOUNDARY)])
    stream = np.concatenate([dot, ids])  # '.' w1 '.' w2 '.': each '.' ends one, starts the next
    return stream[:-1], stream[1:]


def _word_ids(words: Sequence[str], tokenizer: CharTokenizer, who: str) -> Array:
    """The ids of each word followed by ``"."``, concatenated; checked: a non-empty list of
    str, none holding ``"."``, and a tokenizer that has ``"."`` and all their characters."""
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise TypeError(f"{who}: words must be a list of str, got {type(words).__name__}")
    if not isinstance(tokenizer, CharTokenizer):
        raise TypeError(f"{who}: tokenizer must be a CharTokenizer, got {type(tokenizer).__name__}")
    if not words:
        raise ValueError(f"{who}: words is empty; give at least one word")
    for index, word in enumerate(words):
        if not isinstance(word, str) or BOUNDARY in word:
            raise ValueError(
                f"{who}: words[{index}] must be a str without {BOUNDARY!r} (the start/end "
                f"token), got {word!r}"
            )
    if BOUNDARY not in tokenizer.chars:
        raise ValueError(
            f"{who}: the tokenizer has no {BOUNDARY!r} (the start/end token); use the one "
            "load_names gives, or CharTokenizer(['.', *sorted(set(''.join(words)))])"
        )
    return tokenizer.encode("".join(word + BOUNDARY for word in words))
