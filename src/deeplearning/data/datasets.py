"""Loading an MNIST-style data set into arrays, and cutting arrays into mini-batches.

`load_mnist` finds a data set's four files (`dataset_folder`, which `text` shares: `registry`
says where files are looked for), downloads them if they are nowhere (`download`: mirrors,
sizes and SHA-256 sums), and reads them (`idx`: the IDX format) into a `Dataset` of float32
images in [0, 1] and int64 labels. `minibatches` yields one epoch of ``(x_batch, y_batch)``
pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..core.types import RNG, Array, PathLike
from ..core.validation import check_flag, check_int, check_rng
from .download import (
    download_dataset,
    remove_stale_temporaries,
)
from .idx import read_idx
from .registry import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    DatasetInfo,
    DatasetNotFoundError,
    Kind,
    candidate_folders,
    dataset_info,
    dataset_names,
    find_file,
    is_complete,
    locate,
    search_dirs,
)


class LabelError(ValueError):
    """A label file holds a label outside the data set's classes."""


class Dataset(NamedTuple):
    """Train and test splits: images float32 in [0, 1], labels int64 in [0, 10)."""

    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array


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
    info = check_kind(name, "images", "load_mnist", "load it with data.text.load_text")
    folder = dataset_folder(name, data_dir, download=download)
    x_train, y_train = _load_split(folder, TRAIN_IMAGES, TRAIN_LABELS, flatten, info)
    x_test, y_test = _load_split(folder, TEST_IMAGES, TEST_LABELS, flatten, info)
    return Dataset(x_train, y_train, x_test, y_test)


def check_kind(name: str, kind: Kind, who: str, instead: str) -> DatasetInfo:
    """The registry entry for ``name``, refused (ValueError) unless it is of ``kind``; the
    message says to do ``instead``."""
    info = dataset_info(name)
    if info.kind != kind:
        raise ValueError(
            f"{who}: {name!r} holds {info.kind}, and {who} loads {kind} "
            f"({', '.join(dataset_names(kind))}); {instead}"
        )
    return info


def dataset_folder(name: str, data_dir: PathLike | None, *, download: bool) -> Path:
    """The folder holding all of data set ``name``'s files: the first found (`locate`), else
    the one they are downloaded into if ``download`` (`download_dataset`, into the first data
    directory searched).

    Raises
    ------
    DatasetNotFoundError
        If the files are nowhere and cannot be downloaded; the message lists the files, the
        directories searched, and how to supply them.
    """
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
    return folder


def _load_split(
    folder: Path, images_name: str, labels_name: str, flatten: bool, info: DatasetInfo
) -> tuple[Array, Array]:
    images_path, labels_path = find_file(folder, images_name), find_file(folder, labels_name)
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
    files = ", ".join(info.sha256)
    one = len(info.sha256) == 1
    the_files = files if one else "the four files" if len(info.sha256) == 4 else "the files"
    lines, hints = [], []
    for root in search_dirs(data_dir):
        for folder in candidate_folders(root, info.name):
            missing = [f for f in info.sha256 if not find_file(folder, f)]
            if folder.is_dir() and len(missing) < len(info.sha256):
                lines.append(f"  {folder} (missing {', '.join(missing)})")
            elif folder == root / info.name:
                lines.append(f"  {folder}")
        if root.name != info.name and is_complete(root, info):
            hints.append(
                f"{root} holds {the_files} itself but is not named '{info.name}': rename it "
                f"'{info.name}' (and point DEEPLEARNING_DATA or --data-dir at it or at its "
                f"parent), or move {'it' if one else 'the files'} into {root / info.name}"
            )
    looked = "\n".join(lines)
    hint = "".join(f"\nHint: {h}." for h in hints)
    return (
        f"the {info.name} data set was not found. It needs the file{'' if one else 's'} "
        f"{files}.\n"
        f"Looked in:\n{looked}\n"
        f"Not downloaded: {reason}\n"
        f"To supply {'it' if one else 'them'}, put {the_files} (from {info.mirrors[0]}) in a "
        f"folder named '{info.name}' and point DEEPLEARNING_DATA (or --data-dir) at that folder "
        f"or the one above it.{hint}"
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
