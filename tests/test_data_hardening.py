"""Hostile and damaged data: bad IDX files, gzip bombs, bad labels, runaway mirrors, leftovers.

Every failure is checked for its exception type and message (what was expected, what came,
how to fix it, naming the file), and the IDX cases for bounded memory: no damaged file may
cost more than a few megabytes to refuse.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import re
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterable
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deeplearning.core.atomic import STALE_TEMPORARY_S
from deeplearning.data import download
from deeplearning.data.datasets import LabelError, load_mnist
from deeplearning.data.download import ChecksumError, DownloadSizeError, download_dataset
from deeplearning.data.idx import MAX_DATA_BYTES, IDXFormatError, parse_idx, read_idx
from deeplearning.data.registry import DATASETS, DatasetInfo, DatasetNotFoundError, locate

from conftest import write_fake_dataset

FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]
MB = 1 << 20


def header(shape: tuple[int, ...], code: int = 0x08) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


def idx_bytes(array: np.ndarray, code: int = 0x08, dtype: str = "u1") -> bytes:
    return header(array.shape, code) + np.ascontiguousarray(array, dtype=dtype).tobytes()


IMAGES = header((10, 28, 28)) + bytes(range(256)) * 30 + bytes(160)  # 7,840 data bytes


def gzip_stream(parts: Iterable[bytes]) -> bytes:
    """Gzip the concatenated ``parts`` without ever holding their whole inflated size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join([*(packer.compress(part) for part in parts), packer.flush()])


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~200 KB gzip file: a header for 10 28x28 images, then 200 MB of zeros."""
    path = tmp_path_factory.mktemp("bomb") / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_stream(chain([header((10, 28, 28))], repeat(bytes(MB), 200))))
    assert path.stat().st_size < 300_000
    return path


def peak_memory(call: Callable[[], Any]) -> int:
    """The peak bytes traced by tracemalloc while ``call`` runs (NumPy's buffers included)."""
    tracemalloc.start()
    try:
        call()
    except Exception:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# -- bad IDX files -------------------------------------------------------------------------------
BAD_IDX: dict[str, tuple[Callable[[], bytes], str]] = {
    # case: (the file's bytes, the message expected, after the file's name)
    "text, not IDX": (
        lambda: b"hello, this is text",
        r"wrong magic number 0x68656c6c; an IDX file starts with 0x0000.*Is this an IDX file\? "
        r"Point at the right file",
    ),
    "unknown type code": (
        lambda: header((3,), code=0x07) + b"abc",
        r"wrong magic number 0x00000701",
    ),
    "gzipped text": (
        lambda: gzip.compress(b"<html>mirror error page</html>"),
        r"wrong magic number 0x3c68746d",
    ),
    "empty": (lambda: b"", r"0 bytes is too short for an IDX header.*Delete the file"),
    "truncated header": (
        lambda: bytes([0, 0, 8, 3, 0, 0]),
        r"truncated header: 3 dimensions need 16 bytes, the file has 6\. Delete the file",
    ),
    "truncated data": (
        lambda: IMAGES[:-100],
        r"truncated: a \(10, 28, 28\) array of uint8 needs 7,840 bytes after the header, the "
        r"file has 7,740\. Delete the file and download it again",
    ),
    "truncated data, gzipped": (
        lambda: gzip.compress(IMAGES[:-100]),
        r"truncated: a \(10, 28, 28\) array of uint8 needs 7,840 bytes .* the file has 7,740",
    ),
    "truncated gzip stream": (
        lambda: gzip.compress(IMAGES)[:-50],
        r"the gzip data is corrupt or truncated \(.*\); expected a complete gzip stream",
    ),
    "damaged gzip checksum": (
        lambda: (lambda z: z[:-8] + bytes([z[-8] ^ 1]) + z[-7:])(gzip.compress(IMAGES)),
        r"the gzip data is corrupt or truncated \(CRC check failed",
    ),
    "trailing bytes": (
        lambda: IMAGES + b"\x00",
        r"longer than its header says: a \(10, 28, 28\) array of uint8 needs 7,840 bytes after "
        r"the header, the file has 7,841\. The file is damaged",
    ),
    "trailing bytes, gzipped": (
        lambda: gzip.compress(IMAGES + b"more"),
        r"longer than its header says: .* 7,840 bytes after the header, the file goes on after "
        r"them\. .*Delete the file",
    ),
    "absurd dims": (
        lambda: header((2**32 - 1, 2**32 - 1, 2**32 - 1), code=0x0E),
        r"absurd dimensions: a \(4294967295, 4294967295, 4294967295\) array of float64 needs "
        r"[\d,]+ bytes after the header, more than the 2,147,483,648 allowed",
    ),
    "absurd dims, gzipped": (
        lambda: gzip.compress(header((2**32 - 1, 28, 28))),
        r"absurd dimensions: .* more than the 2,147,483,648 allowed",
    ),
    "dims beyond what the gzip file can hold": (
        lambda: gzip.compress(header((1_000_000, 28, 28)) + bytes(1000)),
        r"absurd dimensions: a \(1000000, 28, 28\) array of uint8 needs 784,000,000 bytes after "
        r"the header, but a gzip file of \d\d,?\d* bytes inflates to at most about [\d,]+\. The "
        r"header is damaged",
    ),
}


@pytest.mark.parametrize("case", BAD_IDX)
def test_bad_idx_files_are_refused_by_name_with_bounded_memory(tmp_path: Path, case: str) -> None:
    make, message = BAD_IDX[case]
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(make())
    with pytest.raises(IDXFormatError, match=rf"^{re.escape(str(path))}: {message}"):
        read_idx(path)
    assert peak_memory(lambda: read_idx(path)) < 2 * MB


def test_a_gzip_bomb_is_refused_fast_with_bounded_memory(bomb: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(
        IDXFormatError,
        match=rf"^{re.escape(str(bomb))}: longer than its header says: a \(10, 28, 28\) array "
        r"of uint8 needs 7,840 bytes after the header, the file goes on after them",
    ):
        read_idx(bomb)
    assert time.perf_counter() - start < 1.0  # inflating the 200 MB takes longer
    assert peak_memory(lambda: read_idx(bomb)) < 2 * MB


def test_a_bomb_whose_header_asks_for_its_whole_size_is_refused_before_inflating(
    tmp_path: Path,
) -> None:
    """The header promises 200 MB (under the 2 GiB limit) in ~200 KB: more than deflate can
    hold, so nothing is allocated or inflated."""
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip_stream(chain([header((200, 1024, 1024))], repeat(bytes(MB), 8))))
    with pytest.raises(IDXFormatError, match=r"absurd dimensions: .* 209,715,200 bytes .* gzip"):
        read_idx(path)
    assert peak_memory(lambda: read_idx(path)) < 2 * MB


def test_the_size_limit_can_be_lowered_and_raw_bytes_are_checked_too() -> None:
    data = idx_bytes(np.zeros((4, 4)))
    with pytest.raises(IDXFormatError, match=r"^labels: absurd dimensions: .* more than the 8"):
        parse_idx(data, "labels", max_bytes=8)
    assert parse_idx(data, "labels", max_bytes=16).shape == (4, 4)
    assert MAX_DATA_BYTES == 1 << 31


@pytest.mark.parametrize("compress", [True, False], ids=["gzipped", "raw"])
def test_large_files_read_back_exactly_in_about_their_own_memory(
    tmp_path: Path, compress: bool
) -> None:
    """Several read chunks' worth, multi-byte big-endian values: exact, native, one copy."""
    values = np.random.default_rng(0).standard_normal((3, 256, 256)).astype(np.float32)
    data = idx_bytes(values, code=0x0D, dtype=">f4")
    path = tmp_path / "values"
    path.write_bytes(gzip.compress(data, 1) if compress else data)
    read = read_idx(path)
    assert read.dtype == np.float32 and read.dtype.isnative and read.flags.writeable
    np.testing.assert_array_equal(read, values)
    assert peak_memory(lambda: read_idx(path)) < values.nbytes + 1.5 * MB


# -- bad labels ----------------------------------------------------------------------------------
BAD_LABELS: dict[str, tuple[str, Callable[[np.ndarray], bytes], str]] = {
    # case: (file, its new bytes from the old labels, message)
    "label 10 in training labels": (
        FILES[1],
        lambda y: idx_bytes(np.where(np.arange(len(y)) == 7, 10, y)),
        r"train-labels-idx1-ubyte\.gz \(mnist\): label 10 at index 7 is outside the 10 classes "
        r"\(0\.\.9\); 1 of 300 labels are out of range\. The file is damaged or belongs to "
        r"another data set: delete it and download it again",
    ),
    "255s in test labels": (
        FILES[3],
        lambda y: idx_bytes(np.where(np.arange(len(y)) % 2 == 0, 255, y)),
        r"t10k-labels-idx1-ubyte\.gz \(mnist\): label 255 at index 0 is outside .* 50 of 100 "
        r"labels are out of range",
    ),
    "negative int8 label": (
        FILES[3],
        lambda y: idx_bytes(np.where(np.arange(len(y)) == 3, -1, y), code=0x09, dtype="i1"),
        r"t10k-labels-idx1-ubyte\.gz \(mnist\): label -1 at index 3 is outside the 10 classes",
    ),
    "float labels": (
        FILES[1],
        lambda y: idx_bytes(y, code=0x0D, dtype=">f4"),
        r"train-labels-idx1-ubyte\.gz \(mnist\): labels must be integers in 0\.\.9, the file "
        r"holds float32 values: it is not a label file\. Delete it",
    ),
}


@pytest.mark.parametrize("case", BAD_LABELS)
def test_bad_labels_are_named_with_file_and_index_when_loading(tmp_path: Path, case: str) -> None:
    filename, damage, message = BAD_LABELS[case]
    arrays = write_fake_dataset(tmp_path / "mnist", n_train=300, n_test=100)
    old = arrays["train-labels" if filename == FILES[1] else "t10k-labels"]
    (tmp_path / "mnist" / filename).write_bytes(gzip.compress(damage(old)))
    with pytest.raises(LabelError, match=message):
        load_mnist("mnist", tmp_path, download=False)
    assert issubclass(LabelError, ValueError)


# -- downloads: a registered data set 'tiny' with sizes, served from a local folder ------------
@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registered data set 'tiny' (with sizes) whose files sit in a local 'mirror' folder."""
    mirror = tmp_path / "mirror"
    write_fake_dataset(mirror, n_train=40, n_test=10)
    sha256 = {name: hashlib.sha256((mirror / name).read_bytes()).hexdigest() for name in FILES}
    sizes = {name: (mirror / name).stat().st_size for name in FILES}
    info = DatasetInfo("tiny", (mirror.as_uri() + "/",), sha256, tuple("0123456789"), sizes)
    monkeypatch.setitem(DATASETS, "tiny", info)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPLEARNING_DATA", raising=False)
    return mirror


class EndlessResponse:
    """What ``urlopen`` returns for a mirror that never stops (counting what is read)."""

    def __init__(self, length: str | None = None, total: int | None = None) -> None:
        self.headers = {"Content-Length": length} if length is not None else {}
        self.total, self.read_bytes = total, 0

    def read(self, size: int = -1) -> bytes:
        assert size > 0, "a download must never read without a bound"
        if self.total is not None:
            size = min(size, self.total - self.read_bytes)
        self.read_bytes += size
        return bytes(size)

    def __enter__(self) -> EndlessResponse:
        return self

    def __exit__(self, *args: object) -> None:
        pass


OVERSIZE: dict[str, tuple[Callable[[int], EndlessResponse], bool, type[Exception], str]] = {
    # case: (response for a file of n bytes, size known?, error, message after the file's name)
    "endless, size known": (
        lambda n: EndlessResponse(),
        True,
        DownloadSizeError,
        r"the mirror sent more than {n:,} bytes \(its published size\); stopped after {n1:,} "
        r"and discarded the file: the mirror is broken or serves another file; try another",
    ),
    "endless, size unknown": (
        lambda n: EndlessResponse(),
        False,
        DownloadSizeError,
        r"the mirror sent more than 4,096 bytes \(the most allowed for a file\); stopped after "
        r"4,097",
    ),
    "announces too much": (
        lambda n: EndlessResponse(length=str(n + 1)),
        True,
        DownloadSizeError,
        r"the mirror announces {n1:,} bytes, its published size is {n:,}; nothing was kept",
    ),
    "cut short": (
        lambda n: EndlessResponse(total=n - 10),
        True,
        ChecksumError,
        r"got {n_10:,} bytes, expected {n:,} \(the download was cut short\); the file was "
        r"discarded: try again or another mirror",
    ),
}


@pytest.mark.parametrize("case", OVERSIZE)
def test_a_download_stops_at_the_files_size(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    respond, size_known, error, message = OVERSIZE[case]
    if not size_known:
        info = DATASETS["tiny"]
        unsized = DatasetInfo(info.name, info.mirrors, info.sha256, info.classes)
        monkeypatch.setitem(DATASETS, "tiny", unsized)
        monkeypatch.setattr(download, "MAX_DOWNLOAD_BYTES", 4096)
    n = DATASETS["tiny"].sizes.get(FILES[0], 4096)
    responses: list[EndlessResponse] = []

    def urlopen(url: str, timeout: float) -> EndlessResponse:
        responses.append(respond(n))
        return responses[-1]

    monkeypatch.setattr(download.urllib.request, "urlopen", urlopen)
    root = tmp_path / "new" / "data"
    with pytest.raises(DatasetNotFoundError) as caught:
        download_dataset("tiny", root, mirrors=["https://mirror.invalid/"])
    text = message.format(n=n, n1=n + 1, n_10=n - 10)
    assert caught.match(
        rf"could not download {FILES[0]} of tiny into {re.escape(str(root / 'tiny'))}:\n"
    )
    assert caught.match(
        rf"https://mirror\.invalid/{re.escape(FILES[0])}: {re.escape(FILES[0])}: {text}"
    )
    assert responses[0].read_bytes <= n + 1
    assert not (tmp_path / "new").exists()  # the file discarded, the folders it made removed
    (tmp_path / "kept").mkdir()
    with pytest.raises(error, match=rf"^{re.escape(FILES[0])}: {text}"):
        size = DATASETS["tiny"].sizes.get(FILES[0])
        download._fetch("https://x.invalid/", tmp_path / "kept" / FILES[0], "0" * 64, 1.0, size)
    assert not any((tmp_path / "kept").iterdir())


def test_a_runaway_http_mirror_is_cut_off(tiny: Path, tmp_path: Path) -> None:
    """A real loopback server streaming zeros forever, with no Content-Length."""

    class Endless(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(bytes(MB))
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start = time.perf_counter()
        with pytest.raises(DatasetNotFoundError, match=r"sent more than [\d,]+ bytes"):
            download_dataset(
                "tiny",
                tmp_path / "out",
                mirrors=[f"http://127.0.0.1:{server.server_port}/"],
                timeout=5,
            )
        assert time.perf_counter() - start < 5
    finally:
        server.shutdown()
        server.server_close()
    assert not (tmp_path / "out").exists()


def test_every_registered_file_has_a_size() -> None:
    for info in DATASETS.values():
        assert info.sizes.keys() == info.sha256.keys(), info.name
        assert all(1000 < size < 30_000_000 for size in info.sizes.values()), info.name


def test_mnist_sizes_match_the_real_files(mnist_root: Path) -> None:
    for filename, size in DATASETS["mnist"].sizes.items():
        assert (mnist_root / "mnist" / filename).stat().st_size == size, filename


# -- leftovers of killed downloads ---------------------------------------------------------------
def test_stale_temporaries_are_removed_by_the_next_download(tiny: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "tiny"
    folder.mkdir(parents=True)
    for name in FILES[1:]:  # already downloaded: only FILES[0] is fetched
        (folder / name).write_bytes((tiny / name).read_bytes())
    old = time.time() - STALE_TEMPORARY_S - 60
    killed = folder / f".{FILES[0]}.k1ll3d_x.tmp"  # the file being fetched again
    stale = folder / f".{FILES[2]}.k1ll3d_y.tmp"  # a file already there, killed long ago
    fresh = folder / f".{FILES[1]}.running1.tmp"  # may be another process's download, now
    other = folder / ".notes.txt.abc.tmp"  # not the data set's
    for path in (killed, stale, fresh, other):
        path.write_bytes(b"partial")
    for path in (killed, stale, other):
        os.utime(path, (old, old))
    download_dataset("tiny", tmp_path / "data", mirrors=[tiny.as_uri() + "/"])
    assert not killed.exists() and not stale.exists()
    assert fresh.exists() and other.exists()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(FILES)


def test_stale_temporaries_are_removed_when_the_files_are_already_there(tmp_path: Path) -> None:
    write_fake_dataset(tmp_path / "mnist", n_train=20, n_test=10)
    stale = tmp_path / "mnist" / f".{FILES[2]}.abcd1234.tmp"
    stale.write_bytes(b"partial")
    old = time.time() - STALE_TEMPORARY_S - 1
    os.utime(stale, (old, old))
    load_mnist("mnist", tmp_path, download=False)
    assert not stale.exists()


# -- where the data directory points -------------------------------------------------------------
@pytest.mark.parametrize("how", ["data_dir", "DEEPLEARNING_DATA"])
@pytest.mark.parametrize("point_at", ["parent", "the set's folder"])
def test_the_data_dir_may_point_at_the_sets_folder_or_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, point_at: str
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPLEARNING_DATA", raising=False)
    arrays = write_fake_dataset(tmp_path / "data" / "kmnist", n_train=20, n_test=10)
    target = tmp_path / "data" if point_at == "parent" else tmp_path / "data" / "kmnist"
    data_dir = target if how == "data_dir" else None
    if how == "DEEPLEARNING_DATA":
        monkeypatch.setenv("DEEPLEARNING_DATA", str(target))
    assert locate("kmnist", data_dir) == tmp_path / "data" / "kmnist"
    data = load_mnist("kmnist", data_dir, download=False)
    np.testing.assert_array_equal(data.y_train, arrays["train-labels"])


def test_a_folder_of_another_name_holding_the_files_gets_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_fake_dataset(tmp_path / "mnist_files", n_train=20, n_test=10)
    monkeypatch.setenv("DEEPLEARNING_DATA", str(tmp_path / "mnist_files"))
    with pytest.raises(
        DatasetNotFoundError,
        match=rf"Hint: {re.escape(str(tmp_path / 'mnist_files'))} holds the four files itself but "
        r"is not named 'mnist': rename it 'mnist' \(and point DEEPLEARNING_DATA or --data-dir at "
        rf"it or at its parent\), or move the files into "
        rf"{re.escape(str(tmp_path / 'mnist_files' / 'mnist'))}\.",
    ):
        load_mnist("mnist", download=False)


def test_an_incomplete_folder_is_listed_with_what_it_misses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEEPLEARNING_DATA", raising=False)
    write_fake_dataset(tmp_path / "mnist", n_train=20, n_test=10)
    (tmp_path / "mnist" / FILES[3]).unlink()
    with pytest.raises(
        DatasetNotFoundError,
        match=rf"  {re.escape(str(tmp_path / 'mnist'))} \(missing {re.escape(FILES[3])}\)",
    ):
        load_mnist("mnist", tmp_path, download=False)


def test_a_download_into_the_sets_own_folder_does_not_nest(tiny: Path, tmp_path: Path) -> None:
    folder = download_dataset("tiny", tmp_path / "tiny", mirrors=[tiny.as_uri() + "/"])
    assert folder == tmp_path / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)


def test_a_failed_download_leaves_no_empty_folders(tiny: Path, tmp_path: Path) -> None:
    broken = (tmp_path / "nowhere").as_uri() + "/"
    with pytest.raises(DatasetNotFoundError, match=r"could not download .* of tiny into"):
        download_dataset("tiny", tmp_path / "a" / "b", mirrors=[broken])
    assert not (tmp_path / "a").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(DatasetNotFoundError):
        download_dataset("tiny", tmp_path / "kept", mirrors=[broken])
    assert (tmp_path / "kept").is_dir() and not any((tmp_path / "kept").iterdir())


def test_a_partly_failed_download_keeps_the_verified_files(tiny: Path, tmp_path: Path) -> None:
    (tiny / FILES[3]).unlink()
    with pytest.raises(DatasetNotFoundError, match=FILES[3]):
        download_dataset("tiny", tmp_path / "out", mirrors=[tiny.as_uri() + "/"])
    assert sorted(p.name for p in (tmp_path / "out" / "tiny").iterdir()) == sorted(FILES[:3])


def test_downloaded_files_get_the_umasks_permissions(tiny: Path, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        folder = download_dataset("tiny", tmp_path / "out", mirrors=[tiny.as_uri() + "/"])
    finally:
        os.umask(old)
    assert {oct(os.stat(folder / name).st_mode & 0o777) for name in FILES} == {oct(0o640)}


def test_downloads_write_through_the_atomic_writer(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files land through `atomic.atomic_write` (whose permissions follow the umask)."""
    used: list[Path] = []
    real = download.atomic_write

    def spy(path: Path, mode: str = "wb") -> Any:
        used.append(Path(path))
        return real(path, mode)

    monkeypatch.setattr(download, "atomic_write", spy)
    folder = download_dataset("tiny", tmp_path / "out", mirrors=[tiny.as_uri() + "/"])
    assert sorted(used) == sorted(folder / name for name in FILES)
