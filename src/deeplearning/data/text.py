"""Text data: a character tokenizer, and the two text data sets split as their lectures do.

A character-level language model reads text one character at a time, each character a token:
`CharTokenizer` numbers the distinct characters of a text in sorted order (its vocabulary)
and turns text into an array of token ids and back.

- ``"tinyshakespeare"`` (`load_shakespeare`): the whole text is one sequence, its first 90%
  for training and the rest for validation, in order, as nanoGPT's ``shakespeare_char``
  prepares it (65 characters; 1,003,854 and 111,540 tokens). `language.get_batch` draws
  random windows of it: inputs and their next-token targets.
- ``"names"`` (`load_names`): 32,033 names, one a line, shuffled with Python's
  ``random.seed(42)`` and split 80/10/10, as makemore's lectures do. ``"."`` marks the start
  and the end of a name and is token 0, then ``a`` to ``z``. `language.context_dataset`
  builds makemore's fixed-context examples (the ``block_size`` characters before each
  character predict it), and `language.bigram_nll` scores the counting baseline of makemore
  part 1.

The files are found and downloaded like MNIST's (`registry`, `download`), by `load_text`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ..core.types import Array, PathLike
from ..core.validation import check_flag, check_int
from .datasets import check_kind, dataset_folder
from .download import MAX_DOWNLOAD_BYTES
from .registry import find_file

BOUNDARY = "."
"""The token that starts and ends a name (makemore's ``'.'``, index 0 of its vocabulary)."""
TRAIN_FRACTION = 0.9
"""The share of tinyshakespeare's characters for training, the first ones (nanoGPT's)."""
NAMES_SEED = 42
"""The seed of makemore's ``random.seed(42); random.shuffle(words)``."""
MAX_TEXT_BYTES = MAX_DOWNLOAD_BYTES
"""The largest text file read (64 MiB; tinyshakespeare is 1.1 MB): a bigger one is refused
before it is read."""


class CharTokenizer:
    """Characters to token ids and back: the i-th character of the vocabulary is token i.

    Parameters
    ----------
    chars : sequence of str
        The vocabulary, distinct single characters in token order. `from_text` builds it from
        a text (its sorted distinct characters), `from_json` from what `to_json` saved.

    Examples
    --------
    >>> tokenizer = CharTokenizer.from_text("hello")
    >>> tokenizer.chars, tokenizer.vocab_size
    (('e', 'h', 'l', 'o'), 4)
    >>> tokenizer.encode("hole").tolist()
    [1, 3, 2, 0]
    >>> tokenizer.decode([1, 0, 2, 2, 3])
    'hello'
    """

    def __init__(self, chars: Sequence[str]) -> None:
        self.chars: tuple[str, ...] = _check_vocabulary(chars)
        codes = np.array([ord(char) for char in self.chars], dtype=np.uint32)
        self._codes: Array = codes  # token id -> code point, for decode
        self._order: Array = np.argsort(codes)  # the ids in code-point order, for encode
        self._sorted_codes: Array = codes[self._order]

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer of ``text``'s distinct characters, sorted (by code point)."""
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.from_text: text must be a str, got {_kind(text)}")
        if not text:
            raise ValueError("CharTokenizer.from_text: the text is empty; it has no characters")
        return cls(sorted(set(text)))

    @classmethod
    def from_json(cls, chars: Any) -> CharTokenizer:
        """The tokenizer `to_json` saved: a list of its characters in token order."""
        if not isinstance(chars, list):
            raise TypeError(
                f"CharTokenizer.from_json: expected the list of characters to_json() gives, "
                f"got {_kind(chars)}"
            )
        return cls(chars)

    def to_json(self) -> list[str]:
        """The vocabulary as a list of characters, for a JSON file or a checkpoint's header."""
        return list(self.chars)

    @property
    def vocab_size(self) -> int:
        """The number of characters, so the token ids are ``0 .. vocab_size - 1``."""
        return len(self.chars)

    def encode(self, text: str) -> Array:
        """The token ids of ``text``'s characters: an int64 array of shape ``(len(text),)``.

        Raises ValueError naming the characters that are not in the vocabulary.
        """
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer.encode: text must be a str, got {_kind(text)}")
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        where = np.searchsorted(self._sorted_codes, codes).clip(max=self.vocab_size - 1)
        known = self._sorted_codes[where] == codes
        if not known.all():
            unknown = [chr(code) for code in np.unique(codes[~known])]
            shown = " ".join(map(repr, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
            raise ValueError(
                f"CharTokenizer.encode: the text holds {len(unknown)} character"
                f"{'s' if len(unknown) > 1 else ''} outside the vocabulary: {shown} (first at "
                f"index {int(np.argmin(known))}); the vocabulary is "
                f"{''.join(self.chars)!r}: remove them, or build the tokenizer from a text "
                "that holds them"
            )
        ids: Array = self._order[where]
        return ids.astype(np.int64)

    def decode(self, ids: ArrayLike) -> str:
        """The text of token ids: an int or a 1-D sequence of ints in ``[0, vocab_size)``."""
        array = np.asarray(ids)
        if array.size == 0 and array.ndim == 1:
            return ""
        if array.dtype.kind not in "iu" or array.ndim > 1:
            raise TypeError(
                f"CharTokenizer.decode: ids must be an int or a 1-D sequence of ints, got "
                f"{_kind(ids)}; decode a batch one row at a time"
            )
        array = np.atleast_1d(array)
        bad = np.flatnonzero((array < 0) | (array >= self.vocab_size))
        if len(bad):
            raise ValueError(
                f"CharTokenizer.decode: token id {int(array[bad[0]])} at index {int(bad[0])} is "
                f"outside the vocabulary's 0..{self.vocab_size - 1}; were the ids made by "
                "another tokenizer?"
            )
        codes: Array = self._codes[array]
        return codes.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharTokenizer) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        return f"CharTokenizer({''.join(self.chars)!r}, vocab_size={self.vocab_size})"


def _check_vocabulary(chars: object) -> tuple[str, ...]:
    """``chars`` as a tuple, refused unless it is a non-empty sequence of distinct characters."""
    where = "CharTokenizer"
    if isinstance(chars, str):
        raise TypeError(
            f"{where}: chars must be a list of characters, got the str {chars[:40]!r}; to build "
            "a tokenizer from a text, use CharTokenizer.from_text(text)"
        )
    if not isinstance(chars, (list, tuple)):
        raise TypeError(f"{where}: chars must be a list of characters, got {_kind(chars)}")
    for index, char in enumerate(chars):
        if not isinstance(char, str) or len(char) != 1:
            raise ValueError(
                f"{where}: chars[{index}] must be one character (a str of length 1), got "
                f"{_kind(char)}"
            )
    if not chars:
        raise ValueError(f"{where}: the vocabulary is empty; give at least one character")
    if len(set(chars)) != len(chars):
        twice = sorted({char for char in chars if chars.count(char) > 1})
        raise ValueError(f"{where}: the characters {twice} appear more than once in chars")
    return tuple(chars)


def _kind(value: object) -> str:
    """What a refused value is, for a message: its type and a short repr."""
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


# -- the files ---------------------------------------------------------------------------------
def load_text(name: str, data_dir: PathLike | None = None, *, download: bool = True) -> str:
    """The text of a text data set's file, found or downloaded like MNIST's.

    Parameters
    ----------
    name : str
        ``"tinyshakespeare"`` or ``"names"`` (a registry entry of kind ``"text"``).
    data_dir : str or Path, optional
        A data directory to search first (its ``name/`` folder holds the file).
    download : bool
        Download from the mirrors when no directory has the file.

    Raises
    ------
    DatasetNotFoundError
        If the file is nowhere and cannot be downloaded; the message lists the directories
        searched and how to supply it.
    ValueError
        If ``name`` is an image data set, or the file is not UTF-8 text or over
        `MAX_TEXT_BYTES`.
    """
    check_flag(download, "download", "load_text")
    info = check_kind(name, "text", "load_text", "load it with data.datasets.load_mnist")
    folder = dataset_folder(name, data_dir, download=download)
    (filename,) = info.sha256  # a text data set is one file
    path = find_file(folder, filename)
    assert path is not None  # dataset_folder found or downloaded it
    return read_text_file(path)


def read_text_file(path: Path, limit: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path``, refused (ValueError) if it is over ``limit`` bytes (before
    more than ``limit + 1`` bytes are read) or is not UTF-8."""
    with open(path, "rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(
            f"{path}: the file is over {limit:,} bytes, the most read for a text data set; it is "
            "not the data set's file: delete it and download it again"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start:,});"
            " the file is damaged or is not the data set's: delete it and download it again"
        ) from None


# -- tinyshakespeare -----------------------------------------------------------------------------
class TextSplits(NamedTuple):
    """A text as token ids (int64, in order): the first `TRAIN_FRACTION` for training, the
    rest for validation, and the tokenizer of the whole text."""

    train: Array
    val: Array
    tokenizer: CharTokenizer


def load_shakespeare(data_dir: PathLike | None = None, *, download: bool = True) -> TextSplits:
    """Tiny Shakespeare as nanoGPT's ``shakespeare_char`` prepares it.

    The vocabulary is the text's 65 distinct characters, sorted; the first 90% of the
    1,115,394 characters (``int(0.9 * n)``, 1,003,854) are for training, the last 111,540
    for validation. `load_text` says where the file is looked for and what is refused.
    """
    text = load_text("tinyshakespeare", data_dir, download=download)
    tokenizer = CharTokenizer.from_text(text)
    ids = tokenizer.encode(text)
    n_train = int(TRAIN_FRACTION * len(ids))
    return TextSplits(ids[:n_train], ids[n_train:], tokenizer)


# -- names -------------------------------------------------------------------------------------
class NameSplits(NamedTuple):
    """Names split for training, validation and test, and their tokenizer (``"."`` first)."""

    train: list[str]
    val: list[str]
    test: list[str]
    tokenizer: CharTokenizer


def load_names(
    data_dir: PathLike | None = None, *, download: bool = True, seed: int = NAMES_SEED
) -> NameSplits:
    """makemore's names: 32,033 of them, split 80/10/10 after a seeded shuffle.

    The tokenizer is ``"."`` (token 0, the start and end of a name) then the names' sorted
    characters (``a`` to ``z``: 27 tokens). `split_names` says how the names are split;
    `load_text` where the file is looked for and what is refused.
    """
    check_int(seed, "seed", "load_names", low=0, example="seed=42")
    source = "names.txt of the names data set"
    words = parse_names(load_text("names", data_dir, download=download), source)
    tokenizer = CharTokenizer([BOUNDARY, *sorted(set("".join(words)))])
    return NameSplits(*split_names(words, seed), tokenizer)


def parse_names(text: str, source: str = "the text") -> list[str]:
    """The names of ``text``, one a line; refused (ValueError, naming ``source`` and the line)
    if a line is empty or holds `BOUNDARY`, which marks where a name starts and ends."""
    words = text.splitlines()
    for number, word in enumerate(words, start=1):
        if not word or BOUNDARY in word:
            problem = "is empty" if not word else f"holds {BOUNDARY!r}, the start/end token"
            raise ValueError(
                f"{source}: line {number} {problem} ({word!r}); a names file holds one name a "
                "line: the file is damaged or is not the data set's"
            )
    return words


def split_names(
    words: Sequence[str], seed: int = NAMES_SEED
) -> tuple[list[str], list[str], list[str]]:
    """``words`` shuffled as ``random.seed(seed); random.shuffle(words)`` would (with a private
    generator: Python's global one is left alone), then cut at ``n1 = int(0.8 * n)`` and
    ``n2 = int(0.9 * n)`` into training, validation and test words, as makemore does."""
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise TypeError(f"split_names: words must be a list of str, got {_kind(words)}")
    check_int(seed, "seed", "split_names", low=0, example="seed=42")
    shuffled = list(words)
    random.Random(seed).shuffle(shuffled)
    n1, n2 = int(0.8 * len(shuffled)), int(0.9 * len(shuffled))
    return shuffled[:n1], shuffled[n1:n2], shuffled[n2:]
