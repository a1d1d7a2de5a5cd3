"""Data sets: the real MNIST files, where files are looked for, downloading, mini-batches."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from deeplearning.data.datasets import load_mnist, minibatches
from deeplearning.data.download import ChecksumError, download_dataset, sha256_of
from deeplearning.data.registry import (
    DATASETS,
    DatasetInfo,
    DatasetNotFoundError,
    cache_dir,
    locate,
    search_dirs,
)

from conftest import write_fake_dataset

FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


# -- the real files ------------------------------------------------------------------------------
@pytest.mark.slow
def test_real_mnist_loads_with_the_published_shapes_and_counts(mnist_root: Path) -> None:
    data = load_mnist("mnist", mnist_root, download=False)
    assert data.x_train.shape == (60_000, 784) and data.x_test.shape == (10_000, 784)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    assert data.x_train.min() == 0.0 and data.x_train.max() == 1.0
    assert np.bincount(data.y_train).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]  # fmt: skip
    assert np.bincount(data.y_test).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009
    ]  # fmt: skip


@pytest.mark.slow
def test_real_mnist_files_match_the_registry_checksums(mnist_root: Path) -> None:
    for filename, sha256 in DATASETS["mnist"].sha256.items():
        assert sha256_of(mnist_root / "mnist" / filename) == sha256, filename


@pytest.mark.slow
def test_images_can_keep_their_shape(mnist_root: Path) -> None:
    data = load_mnist(data_dir=mnist_root, flatten=False)
    assert data.x_test.shape == (10_000, 1, 28, 28)


# -- where files are looked for ----------------------------------------------------------------
def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPLEARNING_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert search_dirs(tmp_path / "arg") == [
        tmp_path / "arg",
        tmp_path / "env",
        tmp_path / "xdg" / "deeplearning",
        Path("/usr/share/datasets"),
    ]
    monkeypatch.delenv("DEEPLEARNING_DATA")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert search_dirs() == [Path.home() / ".cache" / "deeplearning", Path("/usr/share/datasets")]
    assert cache_dir() == Path.home() / ".cache" / "deeplearning"


def test_the_first_complete_folder_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPLEARNING_DATA", str(tmp_path / "env"))
    write_fake_dataset(tmp_path / "env" / "kmnist")
    (tmp_path / "arg" / "kmnist").mkdir(parents=True)  # incomplete: skipped
    assert locate("kmnist", tmp_path / "arg") == tmp_path / "env" / "kmnist"
    write_fake_dataset(tmp_path / "arg" / "kmnist")
    assert locate("kmnist", tmp_path / "arg") == tmp_path / "arg" / "kmnist"


def test_uncompressed_files_are_found_too(tmp_path: Path) -> None:
    arrays = write_fake_dataset(tmp_path / "fashion-mnist", n_train=20, n_test=10)
    for path in (tmp_path / "fashion-mnist").iterdir():
        path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    data = load_mnist("fashion-mnist", tmp_path, download=False)
    np.testing.assert_array_equal(data.y_test, arrays["t10k-labels"])
    np.testing.assert_allclose(data.x_test * 255, arrays["t10k-images"].reshape(10, 784))


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown data set 'cifar'; choose one of mnist, fashion"):
        load_mnist("cifar")


def test_mismatched_image_and_label_counts_are_named(tmp_path: Path) -> None:
    write_fake_dataset(tmp_path / "mnist", n_train=30)
    other = tmp_path / "other"
    write_fake_dataset(other, n_train=29)
    (other / FILES[1]).replace(tmp_path / "mnist" / FILES[1])
    with pytest.raises(ValueError, match=r"holds 30 images but .* holds 29 labels"):
        load_mnist("mnist", tmp_path, download=False)


def test_swapped_files_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    write_fake_dataset(folder)
    (folder / FILES[0]).replace(tmp_path / "images")
    (folder / FILES[1]).replace(folder / FILES[0])
    (tmp_path / "images").replace(folder / FILES[1])
    with pytest.raises(ValueError, match="are the files swapped"):
        load_mnist("mnist", tmp_path, download=False)


# -- downloading (never the network: a file:// mirror and a loopback server) --------------------
@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registered data set 'tiny' whose files sit in a local 'mirror' folder."""
    mirror = tmp_path / "mirror"
    write_fake_dataset(mirror, n_train=40, n_test=10)
    sha256 = {name: hashlib.sha256((mirror / name).read_bytes()).hexdigest() for name in FILES}
    info = DatasetInfo("tiny", (mirror.as_uri() + "/",), sha256, tuple("0123456789"))
    monkeypatch.setitem(DATASETS, "tiny", info)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPLEARNING_DATA", raising=False)
    return mirror


def test_missing_files_are_downloaded_verified_and_cached(tiny: Path, tmp_path: Path) -> None:
    data = load_mnist("tiny")
    assert data.x_train.shape == (40, 784)
    cached = tmp_path / "cache" / "deeplearning" / "tiny"
    assert sorted(p.name for p in cached.iterdir()) == sorted(FILES)
    assert locate("tiny") == cached


def test_a_corrupted_download_is_rejected_and_not_cached(tiny: Path, tmp_path: Path) -> None:
    damaged = tiny / FILES[2]
    data = damaged.read_bytes()
    damaged.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])  # one bit-flipped byte
    with pytest.raises(DatasetNotFoundError, match=r"SHA-256 is [0-9a-f]{64}, expected"):
        load_mnist("tiny")
    cached = tmp_path / "cache" / "deeplearning" / "tiny"
    assert FILES[2] not in {p.name for p in cached.iterdir()}
    assert not [p for p in cached.iterdir() if p.name.startswith(".")]  # no temporary left


def test_the_next_mirror_is_tried(tiny: Path, tmp_path: Path) -> None:
    broken = (tmp_path / "nowhere").as_uri() + "/"
    folder = download_dataset("tiny", tmp_path / "out", mirrors=[broken, tiny.as_uri() + "/"])
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)


@pytest.fixture
def loopback_server(tiny: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving the mirror folder; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tiny))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_download_over_http_from_a_loopback_server(loopback_server: str, tmp_path: Path) -> None:
    folder = download_dataset("tiny", tmp_path / "http", mirrors=[loopback_server], timeout=5)
    assert sha256_of(folder / FILES[0]) == DATASETS["tiny"].sha256[FILES[0]]


def test_offline_error_lists_files_places_and_remedy(tmp_path: Path, tiny: Path) -> None:
    for path in tiny.iterdir():
        path.unlink()
    with pytest.raises(DatasetNotFoundError) as caught:
        load_mnist("tiny", tmp_path / "mine")
    message = str(caught.value)
    assert "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "mine" / "tiny") in message
    assert str(tmp_path / "cache" / "deeplearning" / "tiny") in message
    assert "DEEPLEARNING_DATA" in message and "could not download" in message


def test_no_download_when_told_not_to(tiny: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="downloading is off"):
        load_mnist("tiny", download=False)


def test_checksum_error_is_a_value_error() -> None:
    assert issubclass(ChecksumError, ValueError)


# -- mini-batches -----------------------------------------------------------------------------
def test_minibatches_cover_every_sample_once_and_keep_the_last_partial_batch() -> None:
    x, y = np.arange(10.0).reshape(10, 1), np.arange(10)
    batches = list(minibatches(x, y, 4, rng=0))
    assert [len(b) for b, _ in batches] == [4, 4, 2]
    seen = np.concatenate([b for _, b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)  # pairs stay together


def test_minibatches_are_reproducible_and_reshuffled_each_epoch() -> None:
    x, y = np.zeros((50, 1)), np.arange(50)

    def order(rng: np.random.Generator) -> list[int]:
        return np.concatenate([b for _, b in minibatches(x, y, 8, rng=rng)]).tolist()

    a, b = np.random.default_rng(5), np.random.default_rng(5)
    first = order(a)
    assert first == order(b)
    assert order(a) != first  # the same generator gives a new order next epoch


def test_unshuffled_batches_are_views() -> None:
    x, y = np.zeros((6, 2)), np.arange(6)
    batches = list(minibatches(x, y, 4, shuffle=False))
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5]]  # in order, all of them
    assert all(np.shares_memory(xb, x) for xb, _ in batches)


def test_minibatch_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        next(minibatches(np.zeros((3, 1)), np.zeros(2), 2))
    with pytest.raises(ValueError, match="minibatches: batch_size must be an int >= 1, got 0"):
        next(minibatches(np.zeros((3, 1)), np.zeros(3), 0))
    with pytest.raises(TypeError, match="batch_size must be an int, got str '2'"):
        next(minibatches(np.zeros((3, 1)), np.zeros(3), "2"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"rng must be a seed .* got str 'x'"):
        next(minibatches(np.zeros((3, 1)), np.zeros(3), 2, rng="x"))  # type: ignore[arg-type]
