"""Text data: the registry's text sets, the character tokenizer, the splits, batches, contexts
and the bigram baseline. Small made-up files offline; the real files where DEEPLEARNING_DATA
has them (slow)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeplearning.data import download
from deeplearning.data.datasets import load_mnist
from deeplearning.data.download import sha256_of
from deeplearning.data.language import bigram_counts, bigram_nll, context_dataset, get_batch
from deeplearning.data.registry import DATASETS, DatasetNotFoundError, dataset_names, locate
from deeplearning.data.text import (
    CharTokenizer,
    load_names,
    load_shakespeare,
    load_text,
    parse_names,
    read_text_file,
    split_names,
)
from deeplearning.training.recipe import Recipe

SHAKESPEARE = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak.\n" * 3
NAMES = "emma\nolivia\nava\nisabella\nsophia\ncharlotte\nmia\namelia\nharper\nevelyn\nabigail\n"
NAMES_TOKENIZER = CharTokenizer([".", *"abcdefghijklmnopqrstuvwxyz"])


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data directory but an empty cache, and both text sets served from a local mirror."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, filename, text in (
        ("tinyshakespeare", "input.txt", SHAKESPEARE),
        ("names", "names.txt", NAMES),
    ):
        data = text.encode()
        (mirror / filename).write_bytes(data)
        info = dataclasses.replace(
            DATASETS[name],
            mirrors=(mirror.as_uri() + "/",),
            sha256={filename: hashlib.sha256(data).hexdigest()},
            sizes={filename: len(data)},
        )
        monkeypatch.setitem(DATASETS, name, info)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPLEARNING_DATA", raising=False)
    return mirror


# -- the registry -------------------------------------------------------------------------------
def test_the_text_sets_are_registered_with_their_files_sizes_and_checksums() -> None:
    shakespeare, names = DATASETS["tinyshakespeare"], DATASETS["names"]
    assert (shakespeare.kind, names.kind, shakespeare.classes) == ("text", "text", ())
    assert shakespeare.sizes == {"input.txt": 1_115_394}
    assert shakespeare.sha256 == {
        "input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    }
    assert shakespeare.mirrors[0] + "input.txt" == (
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    )
    assert names.sizes == {"names.txt": 228_145}
    assert names.sha256 == {
        "names.txt": "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"
    }
    assert names.mirrors[0] + "names.txt" == (
        "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
    )


def test_the_image_trainer_and_loader_only_take_image_sets() -> None:
    assert dataset_names("images") == ["fashion-mnist", "kmnist", "mnist"]
    assert dataset_names("text") == ["names", "tinyshakespeare"]
    assert dataset_names() == sorted(DATASETS)
    with pytest.raises(ValueError, match=r"unknown data set 'names'; choose one of \['fashion"):
        Recipe(dataset="names")
    refusal = r"'names' holds text, and load_mnist loads images \(fashion-mnist, kmnist, mnist\)"
    with pytest.raises(ValueError, match=rf"^load_mnist: {refusal}; load it with data.text"):
        load_mnist("names", download=False)
    with pytest.raises(ValueError, match=r"load_text: 'mnist' holds images, .*\.load_mnist$"):
        load_text("mnist", download=False)
    with pytest.raises(ValueError, match="unknown data set 'shakespeare'; choose one of"):
        load_text("shakespeare")


# -- finding and downloading (never the network) -------------------------------------------------
def test_a_missing_file_is_downloaded_verified_and_cached(offline: Path, tmp_path: Path) -> None:
    assert load_text("names") == NAMES
    cached = tmp_path / "cache" / "deeplearning" / "names"
    assert [p.name for p in cached.iterdir()] == ["names.txt"]
    assert locate("names") == cached
    (offline / "names.txt").unlink()  # from now on, from the cache
    assert load_names().train[0] in NAMES


def test_a_file_with_another_checksum_is_refused_and_not_kept(
    offline: Path, tmp_path: Path
) -> None:
    (offline / "input.txt").write_text(SHAKESPEARE.replace("F", "f"))  # the same size
    with pytest.raises(DatasetNotFoundError, match=r"input.txt: SHA-256 is [0-9a-f]{64}, expected"):
        load_shakespeare()
    assert not (tmp_path / "cache" / "deeplearning").exists()  # nothing left, not even folders


@pytest.mark.parametrize("change", [" more", ""], ids=["longer", "shorter"])
def test_a_file_of_the_wrong_size_is_refused(offline: Path, change: str) -> None:
    (offline / "names.txt").write_text(NAMES + change if change else NAMES[:-5])
    size = len(NAMES)
    expected = (
        rf"the mirror announces {size + 5} bytes, its published size is {size}; nothing was kept"
        if change
        else rf"got {size - 5} bytes, expected {size} \(the download was cut short\)"
    )
    with pytest.raises(DatasetNotFoundError, match=rf"names.txt: {expected}"):
        load_names()


def test_without_network_the_download_fails_cleanly_naming_the_url(
    offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ("https://raw.githubusercontent.com/karpathy/makemore/master/",)
    monkeypatch.setitem(DATASETS, "names", dataclasses.replace(DATASETS["names"], mirrors=real))
    opened = []

    def no_network(url: str, timeout: float) -> Any:
        opened.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(download.urllib.request, "urlopen", no_network)
    with pytest.raises(DatasetNotFoundError) as caught:
        load_names(tmp_path / "mine")
    message = str(caught.value)
    assert opened == ["https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"]
    assert "It needs the file names.txt." in message and "name resolution" in message
    assert str(tmp_path / "mine" / "names") in message and "To supply it, put names.txt" in message
    assert not (tmp_path / "mine").exists()


def test_no_download_when_told_not_to(offline: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="downloading is off"):
        load_shakespeare(download=False)


def test_the_data_dir_may_be_the_sets_folder(tmp_path: Path, offline: Path) -> None:
    (tmp_path / "names").mkdir()
    (tmp_path / "names" / "names.txt").write_text("bo\nal\n")
    assert load_names(tmp_path / "names", download=False).tokenizer.chars == (
        ".",
        "a",
        "b",
        "l",
        "o",
    )


def test_a_text_file_that_is_not_utf8_or_too_big_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "input.txt"
    path.write_bytes(b"abc\xffdef")
    with pytest.raises(ValueError, match=r"input.txt: not UTF-8 text \(byte 0xff at offset 3\)"):
        read_text_file(path)
    path.write_bytes(b"x" * 11)
    with pytest.raises(ValueError, match=r"input.txt: the file is over 10 bytes, the most read"):
        read_text_file(path, limit=10)
    assert read_text_file(path, limit=11) == "x" * 11


# -- the tokenizer -----------------------------------------------------------------------------
def test_the_vocabulary_is_the_sorted_characters() -> None:
    tokenizer = CharTokenizer.from_text("hello world")
    assert tokenizer.chars == (" ", "d", "e", "h", "l", "o", "r", "w")
    assert tokenizer.vocab_size == 8
    ids = tokenizer.encode("hello")
    assert ids.dtype == np.int64 and ids.tolist() == [3, 2, 4, 4, 5]
    assert tokenizer.decode(ids) == "hello" and tokenizer.decode([]) == ""
    assert tokenizer.decode(np.uint16(7)) == "w" and tokenizer.encode("").shape == (0,)


@given(st.text(min_size=1, max_size=200))
def test_any_text_round_trips(text: str) -> None:
    tokenizer = CharTokenizer.from_text(text)
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text and ids.max() < tokenizer.vocab_size
    restored = CharTokenizer.from_json(json.loads(json.dumps(tokenizer.to_json())))
    assert restored == tokenizer and restored.decode(ids) == text


def test_the_saved_vocabulary_is_a_plain_list_in_token_order() -> None:
    assert NAMES_TOKENIZER.to_json() == list(".abcdefghijklmnopqrstuvwxyz")
    assert CharTokenizer.from_json(["z", "a"]).encode("az").tolist() == [1, 0]  # order kept
    assert "CharTokenizer('.abc" in repr(NAMES_TOKENIZER)


def test_unknown_characters_are_named() -> None:
    message = r"2 characters outside the vocabulary: '!' 'A' \(first at index 0\); the vocabulary"
    with pytest.raises(ValueError, match=rf"holds {message} is '.abcdefghijklmnopqrstuvwxyz'"):
        NAMES_TOKENIZER.encode("Anna!!")
    with pytest.raises(ValueError, match=r"1 character outside the vocabulary: '\\n' \(first at"):
        NAMES_TOKENIZER.encode("ab\ncd")


BAD_TOKENIZERS: dict[str, tuple[Any, type[Exception], str]] = {
    "a str": (
        "abc",
        TypeError,
        r"chars must be a list of characters, got the str 'abc'; to build a tokenizer from a "
        r"text, use CharTokenizer.from_text\(text\)",
    ),
    "not a list": (None, TypeError, "chars must be a list of characters, got NoneType None"),
    "empty": ([], ValueError, "the vocabulary is empty"),
    "two letters": (["a", "bc"], ValueError, r"chars\[1\] must be one character .* got str 'bc'"),
    "not a str": (["a", 1], ValueError, r"chars\[1\] must be one character .* got int 1"),
    "repeated": (["a", "b", "a"], ValueError, r"the characters \['a'\] appear more than once"),
}


@pytest.mark.parametrize("case", BAD_TOKENIZERS)
def test_bad_vocabularies_are_refused(case: str) -> None:
    chars, error, message = BAD_TOKENIZERS[case]
    with pytest.raises(error, match=rf"^CharTokenizer: {message}"):
        CharTokenizer(chars)


def test_bad_tokenizer_calls_are_refused() -> None:
    with pytest.raises(TypeError, match="from_json: expected the list of characters"):
        CharTokenizer.from_json("abc")
    with pytest.raises(TypeError, match="from_text: text must be a str, got bytes"):
        CharTokenizer.from_text(b"abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="from_text: the text is empty"):
        CharTokenizer.from_text("")
    with pytest.raises(TypeError, match="encode: text must be a str, got list"):
        NAMES_TOKENIZER.encode(["a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"token id 27 at index 1 is outside .* 0..26"):
        NAMES_TOKENIZER.decode([1, 27])
    with pytest.raises(ValueError, match=r"token id -1 at index 0"):
        NAMES_TOKENIZER.decode([-1])
    for ids in ([1.0, 2.0], [[1, 2]], ["a"], [True]):
        with pytest.raises(TypeError, match="ids must be an int or a 1-D sequence of ints"):
            NAMES_TOKENIZER.decode(ids)


# -- the splits ---------------------------------------------------------------------------------
def test_shakespeare_is_split_in_order_90_10(offline: Path) -> None:
    data = load_shakespeare()
    n = len(SHAKESPEARE)
    assert (len(data.train), len(data.val)) == (int(0.9 * n), n - int(0.9 * n))
    assert data.train.dtype == np.int64 and data.val.dtype == np.int64
    assert data.tokenizer == CharTokenizer.from_text(SHAKESPEARE)
    assert data.tokenizer.decode(np.concatenate([data.train, data.val])) == SHAKESPEARE


def test_names_are_shuffled_and_split_as_makemore_does(offline: Path) -> None:
    words = NAMES.splitlines()
    state = random.getstate()
    data = load_names()
    assert random.getstate() == state  # Python's global generator is left alone
    random.seed(42)
    random.shuffle(words)
    assert (data.train, data.val, data.test) == (words[:8], words[8:9], words[9:])
    assert data.tokenizer.chars[0] == "." and data.tokenizer == CharTokenizer.from_text(
        "." + NAMES.replace("\n", "")
    )
    assert load_names() == data  # deterministic
    assert load_names(seed=1).train != data.train


def test_split_sizes_follow_int_of_the_fractions() -> None:
    for n, sizes in ((10, (8, 1, 1)), (32_033, (25_626, 3_203, 3_204)), (1, (0, 0, 1))):
        train, val, test = split_names([f"w{i}" for i in range(n)])
        assert (len(train), len(val), len(test)) == sizes
        assert sorted(train + val + test) == sorted(f"w{i}" for i in range(n))
    with pytest.raises(TypeError, match="split_names: words must be a list of str, got str"):
        split_names("emma")
    with pytest.raises(ValueError, match="split_names: seed must be an int >= 0, got -1"):
        split_names(["a"], seed=-1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("emma\n\nava\n", r"line 2 is empty \(''\)"),
        ("emma\nst.john\n", r"line 2 holds '.', the start/end token \('st.john'\)"),
    ],
)
def test_a_damaged_names_file_is_refused_by_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^names.txt: {message}; a names file holds one name"):
        parse_names(text, "names.txt")


# -- batches ------------------------------------------------------------------------------------
def test_batches_are_random_windows_with_next_token_targets() -> None:
    data = np.arange(100, 200, dtype=np.uint16)
    x, y = get_batch(data, 5, 8, np.random.default_rng(3))
    assert x.shape == y.shape == (5, 8) and x.dtype == y.dtype == np.int64
    starts = np.random.default_rng(3).integers(100 - 8, size=5)  # nanoGPT's draw
    for row, start in enumerate(starts):
        np.testing.assert_array_equal(x[row], data[start : start + 8])
        np.testing.assert_array_equal(y[row], data[start + 1 : start + 9])
    assert not np.shares_memory(x, data) and not np.shares_memory(x, y)


def test_batches_are_seeded_and_reach_both_ends() -> None:
    data = np.arange(50)
    np.testing.assert_array_equal(get_batch(data, 4, 6, 7)[0], get_batch(data, 4, 6, 7)[0])
    gen = np.random.default_rng(7)
    assert get_batch(data, 4, 6, gen)[0].tolist() != get_batch(data, 4, 6, gen)[0].tolist()
    x, y = get_batch(np.arange(4), 3, 3, 0)  # one window fits: all of it
    assert x.tolist() == [[0, 1, 2]] * 3 and y.tolist() == [[1, 2, 3]] * 3
    x, _ = get_batch(data, 2_000, 1, 0)
    assert x.min() == 0 and x.max() == 48  # every start, up to len(data) - block_size - 1


BAD_BATCHES: dict[str, tuple[dict[str, Any], type[Exception], str]] = {
    "a list": (
        {"data": [1, 2, 3]},
        TypeError,
        r"data must be a 1-D ndarray of integer token ids, got <class 'list'>; pass e.g. "
        r"tokenizer.encode\(text\)",
    ),
    "2-D": ({"data": np.zeros((2, 9), np.int64)}, TypeError, "got 2-D int64"),
    "floats": ({"data": np.zeros(9)}, TypeError, "got 1-D float64"),
    "batch_size 0": ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
    "batch_size str": ({"batch_size": "4"}, TypeError, "batch_size must be an int, got str"),
    "block_size bool": ({"block_size": True}, TypeError, "block_size must be an int, got bool"),
    "block_size 0": ({"block_size": 0}, ValueError, "block_size must be an int >= 1, got 0"),
    "block_size = len": (
        {"block_size": 10},
        ValueError,
        r"block_size must be below len\(data\) = 10 \(a window is block_size \+ 1 tokens",
    ),
    "rng": ({"rng": "x"}, TypeError, r"rng must be a seed .* got str 'x'"),
}


@pytest.mark.parametrize("case", BAD_BATCHES)
def test_bad_batch_arguments_are_refused(case: str) -> None:
    changes, error, message = BAD_BATCHES[case]
    arguments = {"data": np.arange(10), "batch_size": 4, "block_size": 3, "rng": 0, **changes}
    with pytest.raises(error, match=message):
        get_batch(**arguments)


# -- makemore's contexts and the bigram baseline --------------------------------------------------
def makemore_contexts(words: list[str], block_size: int) -> tuple[list[list[int]], list[int]]:
    """makemore part 2's build_dataset, as written in the lecture."""
    stoi = {s: i for i, s in enumerate(NAMES_TOKENIZER.chars)}
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = [*context[1:], ix]
    return X, Y


def test_contexts_are_makemores() -> None:
    X, Y = context_dataset(["emma"], NAMES_TOKENIZER)
    assert X.tolist() == [[0, 0, 0], [0, 0, 5], [0, 5, 13], [5, 13, 13], [13, 13, 1]]
    assert Y.tolist() == [5, 13, 13, 1, 0] and X.dtype == Y.dtype == np.int64
    words = [*NAMES.splitlines(), "a", "", "zz"]
    for block_size in (1, 2, 3, 5, 12):
        X, Y = context_dataset(words, NAMES_TOKENIZER, block_size)
        assert (X.tolist(), Y.tolist()) == makemore_contexts(words, block_size)


def test_bigrams_are_counted_and_scored_by_hand() -> None:
    tokenizer = CharTokenizer([".", "a", "b"])
    counts = bigram_counts(["ab", "a"], tokenizer)  # .a ab b. .a a.
    assert counts.tolist() == [[0, 2, 0], [1, 0, 1], [1, 0, 0]]
    # P(a|.) = 1 (twice), P(b|a) = 1/2, P(.|b) = 1, P(.|a) = 1/2
    assert bigram_nll(["ab", "a"], tokenizer, 0) == pytest.approx(-2 * np.log(1 / 2) / 5)
    # +1: P(a|.) = 3/5 (twice), P(b|a) = 2/5, P(.|b) = 2/4, P(.|a) = 2/5
    expected = -(2 * np.log(3 / 5) + np.log(2 / 5) + np.log(2 / 4) + np.log(2 / 5)) / 5
    assert bigram_nll(["ab", "a"], tokenizer) == pytest.approx(expected, rel=1e-12)


BAD_WORDS: dict[str, tuple[Any, Any, type[Exception], str]] = {
    "a str": ("emma", NAMES_TOKENIZER, TypeError, "words must be a list of str, got str"),
    "empty": ([], NAMES_TOKENIZER, ValueError, "words is empty"),
    "a dot": (["st.john"], NAMES_TOKENIZER, ValueError, r"words\[0\] must be a str without '.'"),
    "not a str": (["a", 3], NAMES_TOKENIZER, ValueError, r"words\[1\] must be a str"),
    "no dot": (["ab"], CharTokenizer.from_text("ab"), ValueError, "the tokenizer has no '.'"),
    "unknown": (["Ab"], NAMES_TOKENIZER, ValueError, "1 character outside the vocabulary: 'A'"),
    "no tokenizer": (["ab"], "abc", TypeError, "tokenizer must be a CharTokenizer, got str"),
}


@pytest.mark.parametrize("case", BAD_WORDS)
def test_bad_words_are_refused(case: str) -> None:
    words, tokenizer, error, message = BAD_WORDS[case]
    for function in (context_dataset, bigram_counts, bigram_nll):
        with pytest.raises(error, match=message):
            function(words, tokenizer)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="context_dataset: block_size must be an int >= 1"):
        context_dataset(["ab"], NAMES_TOKENIZER, 0)
    with pytest.raises(ValueError, match="bigram_nll: smoothing must be a finite number >= 0"):
        bigram_nll(["ab"], NAMES_TOKENIZER, -1.0)
    huge = CharTokenizer([chr(code) for code in range(32, 32 + 1025)])
    with pytest.raises(ValueError, match="1,025 characters, more than the 1,024"):
        bigram_counts(["a"], huge)


# -- the real files ------------------------------------------------------------------------------
@pytest.mark.slow
def test_real_files_match_the_registry(text_root: Path) -> None:
    for name in ("tinyshakespeare", "names"):
        for filename, sha256 in DATASETS[name].sha256.items():
            path = text_root / name / filename
            assert path.stat().st_size == DATASETS[name].sizes[filename]
            assert sha256_of(path) == sha256, filename


@pytest.mark.slow
def test_real_shakespeare_splits_as_nanogpt(text_root: Path) -> None:
    data = load_shakespeare(text_root, download=False)
    assert (len(data.train), len(data.val), data.tokenizer.vocab_size) == (1_003_854, 111_540, 65)
    assert "".join(data.tokenizer.chars[:13]) == "\n !$&',-.3:;?"
    assert data.tokenizer.decode(data.train[:14]) == "First Citizen:"
    x, y = get_batch(data.train, 4, 8, 1337)
    assert x.shape == (4, 8) and np.array_equal(x[:, 1:], y[:, :-1])


@pytest.mark.slow
def test_real_names_split_as_makemore(text_root: Path) -> None:
    data = load_names(text_root, download=False)
    sizes = (len(data.train), len(data.val), len(data.test))
    assert sum(sizes) == 32_033 and sizes == (25_626, 3_203, 3_204)
    assert data.tokenizer.vocab_size == 27 and data.tokenizer == NAMES_TOKENIZER
    assert data.train[:3] == ["yuheng", "diondre", "xavien"]  # random.seed(42) as in lecture
    shapes = [context_dataset(words, data.tokenizer)[0].shape for words in data[:3]]
    assert shapes == [(182_625, 3), (22_655, 3), (22_866, 3)]  # makemore part 3's Xtr, Xdev, Xte
    X, Y = context_dataset(data.val, data.tokenizer)
    assert (X.tolist(), Y.tolist()) == makemore_contexts(data.val, 3)


@pytest.mark.slow
def test_the_bigram_baseline_on_all_names(text_root: Path) -> None:
    data = load_names(text_root, download=False)
    words = data.train + data.val + data.test
    assert bigram_counts(words, data.tokenizer).sum() == 228_146
    assert round(bigram_nll(words, data.tokenizer), 4) == 2.4546
    assert round(bigram_nll(words, data.tokenizer, smoothing=0), 4) == 2.4540
