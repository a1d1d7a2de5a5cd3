"""MNIST-style data sets: where their files are, how to fetch and verify them, how to load them.

Three data sets share the MNIST layout (four IDX files, 28x28 grey images, ten classes) and
load through the same code by name: ``"mnist"``, ``"fashion-mnist"`` and ``"kmnist"``. Each
lives in a folder named after it under a data directory. The directories searched, in order:

1. the ``data_dir`` argument;
2. the ``DEEPLEARNING_DATA`` environment variable;
3. the user's cache, ``$XDG_CACHE_HOME/deeplearning`` (``~/.cache/deeplearning`` by default);
4. Debian's ``/usr/share/datasets``.

A directory may also be the data set's folder itself (``.../mnist`` holding the four files),
as long as the folder bears the data set's name.

If none has the files, they are downloaded from the data set's mirrors into the first of
(1), (2), (3) that is set, each checked against its size and SHA-256 and moved into place only
then. A mirror that sends more than the file's published size is cut off at one byte past it.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..core import atomic
from ..core.atomic import atomic_write
from ..core.types import RNG, Array, PathLike
from ..core.validation import check_flag, check_int, check_number, check_rng
from .idx import read_idx

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


MAX_DOWNLOAD_BYTES = 64 << 20
"""The most bytes downloaded for a file whose size the registry does not give (64 MiB; the
largest known file, Fashion-MNIST's training images, is 26 MB)."""


@dataclass(frozen=True)
class DatasetInfo:
    """What is known of a data set: its files with their SHA-256 and size (compressed, in
    bytes), mirrors and class names."""

    name: str
    mirrors: tuple[str, ...]
    sha256: dict[str, str]
    classes: tuple[str, ...]
    sizes: dict[str, int] = field(default_factory=dict)


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="mnist",
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
            ),
            sha256={
                TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            },
            sizes={  # the files in ../shared/data/mnist, as published
                TRAIN_IMAGES: 9_912_422,
                TRAIN_LABELS: 28_881,
                TEST_IMAGES: 1_648_877,
                TEST_LABELS: 4_542,
            },
            classes=tuple("0123456789"),
        ),
        DatasetInfo(
            name="fashion-mnist",
            mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            sha256={
                TRAIN_IMAGES: "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
                TRAIN_LABELS: "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
                TEST_IMAGES: "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
                TEST_LABELS: "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
            },
            sizes={
                TRAIN_IMAGES: 26_421_880,
                TRAIN_LABELS: 29_515,
                TEST_IMAGES: 4_422_102,
                TEST_LABELS: 5_148,
            },
            classes=(
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
        ),
        DatasetInfo(
            name="kmnist",
            mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            sha256={
                TRAIN_IMAGES: "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                TRAIN_LABELS: "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                TEST_IMAGES: "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                TEST_LABELS: "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
            },
            sizes={
                TRAIN_IMAGES: 18_165_135,
                TRAIN_LABELS: 29_497,
                TEST_IMAGES: 3_041_136,
                TEST_LABELS: 5_120,
            },
            classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ),
    )
}


class DatasetNotFoundError(FileNotFoundError):
    """The files of a data set are nowhere to be found and could not be downloaded."""


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the published one."""


class DownloadSizeError(ChecksumError):
    """A mirror sent more bytes than the file's published size (it was cut off there)."""


class LabelError(ValueError):
    """A label file holds a label outside the data set's classes."""


class Dataset(NamedTuple):
    """Train and test splits: images float32 in [0, 1], labels int64 in [0, 10)."""

    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``, or an error listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}"
        ) from None


def search_dirs(data_dir: PathLike | None = None) -> list[Path]:
    """The data directories searched, in order (see the module docstring)."""
    dirs = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get("DEEPLEARNING_DATA"):
        dirs.append(Path(os.environ["DEEPLEARNING_DATA"]))
    dirs.append(cache_dir())
    dirs.append(Path("/usr/share/datasets"))
    return dirs


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/deeplearning``, or ``~/.cache/deeplearning``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "deeplearning"


def locate(name: str, data_dir: PathLike | None = None) -> Path | None:
    """The first folder that holds all four files (gzipped or not), if any: ``<dir>/<name>``,
    or ``<dir>`` itself when it is named ``name`` (a directory pointing at the set's folder)."""
    info = dataset_info(name)
    for root in search_dirs(data_dir):
        for folder in _candidates(root, name):
            if _complete(folder, info):
                return folder
    return None


def _candidates(root: Path, name: str) -> list[Path]:
    return [root / name, root] if root.name == name else [root / name]


def _complete(folder: Path, info: DatasetInfo) -> bool:
    return all(_find_file(folder, filename) for filename in info.sha256)


def _find_file(folder: Path, filename: str) -> Path | None:
    """``folder/filename``, or its uncompressed twin without ``.gz``, whichever exists."""
    for candidate in (folder / filename, folder / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def sha256_of(path: PathLike) -> str:
    """The hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_dataset(
    name: str,
    root: PathLike,
    mirrors: Sequence[str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download a data set's missing files into ``root/name``, verifying each size and SHA-256.

    Each file is fetched into a temporary file beside its destination and renamed into place
    only once its size and SHA-256 match, so a failed or corrupted download leaves nothing
    behind: no temporary file, and no folder that this call created and left empty. A mirror
    that sends more than the file's size (`DatasetInfo.sizes`, else `MAX_DOWNLOAD_BYTES`) is cut
    off one byte past it. Temporary files left by a killed download (``.<file>.*.tmp``, not
    written to for `atomic.STALE_TEMPORARY_S`) are removed first. Mirrors are tried in order
    for each file.

    Parameters
    ----------
    name : str
        A key of `DATASETS`.
    root : str or Path
        The data directory; files go to ``root/name/`` (or to ``root`` itself when it is named
        ``name`` and holds no ``name/`` folder).
    mirrors : sequence of str, optional
        Base URLs (ending in ``/``) to use instead of the registry's; ``file://`` URLs work.
    timeout : float
        Seconds to wait for each connection.

    Returns
    -------
    Path
        The data set's folder.

    Raises
    ------
    DatasetNotFoundError
        If some file could not be fetched from any mirror; the message says why for each.
    """
    info = dataset_info(name)
    if isinstance(mirrors, str):
        raise TypeError(f"mirrors is a list of base URLs, got the one string {mirrors!r}: [url]")
    check_number(timeout, "timeout", "download_dataset", low=0, low_open=True,
                 example="timeout=30.0")  # fmt: skip
    root = Path(root)
    folder = root if root.name == name and not (root / name).is_dir() else root / name
    created = _make_folders(folder)
    try:
        remove_stale_temporaries(folder, name)
        for filename, sha256 in info.sha256.items():
            if _find_file(folder, filename):
                continue
            failures = []
            for mirror in mirrors if mirrors is not None else info.mirrors:
                url = mirror + filename
                try:
                    _fetch(url, folder / filename, sha256, timeout, info.sizes.get(filename))
                    break
                except (OSError, ChecksumError) as error:
                    failures.append(f"  {url}: {error}")
            else:
                raise DatasetNotFoundError(
                    f"could not download {filename} of {name} into {folder}:\n"
                    + "\n".join(failures)
                )
    except BaseException:
        for made in created:  # deepest first; stops at the first that is not empty
            try:
                made.rmdir()
            except OSError:
                break
        raise
    return folder


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing.append(path)
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_stale_temporaries(folder: Path, name: str) -> list[Path]:
    """Remove the temporary files that killed downloads of ``name``'s four files left in
    ``folder`` (`atomic.remove_stale_temporaries`, which keeps any younger than
    `atomic.STALE_TEMPORARY_S`: a download in progress). Returns the files removed."""
    return [
        path
        for filename in dataset_info(name).sha256
        for path in atomic.remove_stale_temporaries(folder / filename)
    ]


def _fetch(url: str, destination: Path, sha256: str, timeout: float, size: int | None) -> None:
    """Stream ``url`` to ``destination`` atomically, hashing as it goes; keep it only if its
    size and SHA-256 match. At most ``size + 1`` bytes are read (``MAX_DOWNLOAD_BYTES + 1``
    when the size is unknown)."""
    limit = size if size is not None else MAX_DOWNLOAD_BYTES
    known = "its published size" if size is not None else "the most allowed for a file"
    fix = "the mirror is broken or serves another file; try another mirror"
    digest = hashlib.sha256()
    received = 0
    with atomic_write(destination) as out, urllib.request.urlopen(url, timeout=timeout) as src:
        announced = _content_length(src)
        if announced is not None and announced > limit:
            raise DownloadSizeError(
                f"{destination.name}: the mirror announces {announced:,} bytes, {known} is "
                f"{limit:,}; nothing was kept: {fix}"
            )
        while True:
            chunk = src.read(min(_DOWNLOAD_CHUNK, limit + 1 - received))
            if not chunk:
                break
            received += len(chunk)
            if received > limit:
                raise DownloadSizeError(
                    f"{destination.name}: the mirror sent more than {limit:,} bytes ({known}); "
                    f"stopped after {received:,} and discarded the file: {fix}"
                )
            digest.update(chunk)
            out.write(chunk)
        if size is not None and received != size:
            raise ChecksumError(
                f"{destination.name}: got {received:,} bytes, expected {size:,} (the download "
                "was cut short); the file was discarded: try again or another mirror"
            )
        if digest.hexdigest() != sha256:
            raise ChecksumError(
                f"{destination.name}: SHA-256 is {digest.hexdigest()}, expected {sha256}; the "
                f"file was discarded: {fix}"
            )


_DOWNLOAD_CHUNK = 1 << 16


def _content_length(response: object) -> int | None:
    """The Content-Length a response announces, if any and if it is a number."""
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def load_mnist(
    name: str = "mnist",
    data_dir: PathLike | None = None,
    *,
    flatten: bool = True,
    download: bool = True,
) -> Dataset:
    """Load an MNIST-style data set's train and test splits.

    Parameters
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"kmnist"``.
    data_dir : str or Path, optional
        A data directory to search first (its ``name/`` folder holds the files).
    flatten : bool
        Images as (N, 784) if True, as (N, 1, 28, 28) if False.
    download : bool
        Download from the mirrors when no directory has the files.

    Returns
    -------
    Dataset
        ``x_train`` (60000, 784), ``y_train`` (60000,), ``x_test`` (10000, 784),
        ``y_test`` (10000,): images float32 in [0, 1], labels int64.

    Raises
    ------
    DatasetNotFoundError
        If the files are nowhere and cannot be downloaded; the message lists the files, the
        directories searched, and how to supply them.
    IDXFormatError
        If a file is corrupt or truncated.
    LabelError
        If a label is outside the data set's classes (the message names the file and index).
    """
    check_flag(flatten, "flatten", "load_mnist")
    check_flag(download, "download", "load_mnist")
    info = dataset_info(name)
    folder = locate(name, data_dir)
    if folder is None:
        target = next(iter(search_dirs(data_dir)))
        reason = "downloading is off"
        if download:
            try:
                folder = download_dataset(name, target)
            except OSError as error:  # includes DatasetNotFoundError
                reason = str(error)
        if folder is None:
            raise DatasetNotFoundError(_not_found_message(info, data_dir, reason))
    else:
        remove_stale_temporaries(folder, name)  # of a download killed after another finished
    x_train, y_train = _load_split(folder, TRAIN_IMAGES, TRAIN_LABELS, flatten, info)
    x_test, y_test = _load_split(folder, TEST_IMAGES, TEST_LABELS, flatten, info)
    return Dataset(x_train, y_train, x_test, y_test)


def _load_split(
    folder: Path, images_name: str, labels_name: str, flatten: bool, info: DatasetInfo
) -> tuple[Array, Array]:
    images_path, labels_path = _find_file(folder, images_name), _find_file(folder, labels_name)
    assert images_path is not None and labels_path is not None  # locate() checked both
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(
            f"{images_path} should hold (N, rows, cols) images and {labels_path} (N,) labels, "
            f"but they hold shapes {images.shape} and {labels.shape}: are the files swapped?"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels: the two files come from different data sets or one is damaged."
        )
    check_labels(labels, len(info.classes), f"{labels_path} ({info.name})")
    x = images.astype(np.float32)  # the one copy: scaled in place, reshaped as a view
    x /= 255
    x = x.reshape(len(x), -1) if flatten else x[:, np.newaxis]
    return x, labels.astype(np.int64)


def check_labels(labels: Array, n_classes: int, name: str) -> None:
    """Raise `LabelError` naming ``name`` and the first index if a label is not an integer in
    ``[0, n_classes)``."""
    if labels.dtype.kind not in "iu":
        raise LabelError(
            f"{name}: labels must be integers in 0..{n_classes - 1}, the file holds "
            f"{labels.dtype.name} values: it is not a label file. Delete it and download it again."
        )
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if len(bad):
        first = int(bad[0])
        raise LabelError(
            f"{name}: label {int(labels[first])} at index {first} is outside the {n_classes} "
            f"classes (0..{n_classes - 1}); {len(bad):,} of {len(labels):,} labels are out of "
            "range. The file is damaged or belongs to another data set: delete it and download "
            "it again."
        )


def _not_found_message(info: DatasetInfo, data_dir: PathLike | None, reason: str) -> str:
    lines, hints = [], []
    for root in search_dirs(data_dir):
        for folder in _candidates(root, info.name):
            missing = [f for f in info.sha256 if not _find_file(folder, f)]
            if folder.is_dir() and len(missing) < len(info.sha256):
                lines.append(f"  {folder} (missing {', '.join(missing)})")
            elif folder == root / info.name:
                lines.append(f"  {folder}")
        if root.name != info.name and _complete(root, info):
            hints.append(
                f"{root} holds the four files itself but is not named '{info.name}': rename it "
                f"'{info.name}' (and point DEEPLEARNING_DATA or --data-dir at it or at its "
                f"parent), or move the files into {root / info.name}"
            )
    looked = "\n".join(lines)
    files = ", ".join(info.sha256)
    hint = "".join(f"\nHint: {h}." for h in hints)
    return (
        f"the {info.name} data set was not found. It needs the files {files}.\n"
        f"Looked in:\n{looked}\n"
        f"Not downloaded: {reason}\n"
        f"To supply them, put the four files (from {info.mirrors[0]}) in a folder named "
        f"'{info.name}' and point DEEPLEARNING_DATA (or --data-dir) at that folder or the one "
        f"above it.{hint}"
    )


def minibatches(
    x: Array, y: Array, batch_size: int, *, shuffle: bool = True, rng: RNG = None
) -> Iterator[tuple[Array, Array]]:
    """Yield ``(x_batch, y_batch)`` pairs covering the data once (one epoch).

    With ``shuffle`` the order is a fresh permutation drawn from ``rng`` (a seed or a
    `numpy.random.Generator`; pass the same generator every epoch for a new order each time
    that is still reproducible). Each batch is gathered by fancy indexing, so the data set is
    copied once per epoch in total, one batch at a time; without shuffling, batches are views.
    The last batch is smaller when ``batch_size`` does not divide ``len(x)``.
    """
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}; they must match")
    check_int(batch_size, "batch_size", "minibatches")
    check_rng(rng)
    n = len(x)
    if not shuffle:
        for start in range(0, n, batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
        return
    order = np.random.default_rng(rng).permutation(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]
