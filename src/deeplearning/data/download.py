"""Downloading a data set: from its mirrors, each file checked against its size and SHA-256.

If no data directory has a data set's files (see `registry`), they are downloaded from its
mirrors into the first of the ``data_dir`` argument, ``DEEPLEARNING_DATA`` and the user's cache
that is set, each checked against its size and SHA-256 and moved into place only then. A
mirror that sends more than the file's published size is cut off at one byte past it; each
connection waits at most ``timeout`` seconds.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from ..core import atomic
from ..core.atomic import atomic_write
from ..core.types import PathLike
from ..core.validation import check_number
from .registry import DatasetNotFoundError, dataset_info, find_file

MAX_DOWNLOAD_BYTES = 64 << 20
"""The most bytes downloaded for a file whose size the registry does not give (64 MiB; the
largest known file, Fashion-MNIST's training images, is 26 MB)."""


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 differs from the published one."""


class DownloadSizeError(ChecksumError):
    """A mirror sent more bytes than the file's published size (it was cut off there)."""


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
    written to for `core.atomic.STALE_TEMPORARY_S`) are removed first. Mirrors are tried in order
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
            if find_file(folder, filename):
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
    """Remove the temporary files that killed downloads of ``name``'s files left in
    ``folder`` (`core.atomic.remove_stale_temporaries`, which keeps any younger than
    `core.atomic.STALE_TEMPORARY_S`: a download in progress). Returns the files removed."""
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
