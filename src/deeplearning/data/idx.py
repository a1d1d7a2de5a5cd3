"""The IDX file format of MNIST and its relatives, read with every field checked.

An IDX file is a 4-byte magic number, the sizes of its dimensions, then the data::

    bytes 0-1   0x00 0x00
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    4*d bytes   each dimension's size, a big-endian uint32
    the rest    prod(sizes) values of the type, big-endian, C order

MNIST's image files are (N, 28, 28) uint8 (magic 0x00000803) and its label files (N,) uint8
(magic 0x00000801). Files may be gzipped (detected by content, whatever the name).

A file is read as a stream: the header comes first, the size of the data follows from it and
is checked against the limits before anything is allocated, then exactly that many bytes are
read into one preallocated array and the stream must end there. A gzipped file is never
inflated whole, so a small file that inflates to gigabytes (a "gzip bomb", or a damaged
header) is refused after reading no more than the header promises.
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import NoReturn

import numpy as np

from ..core.types import Array, PathLike

DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
"""IDX type code -> NumPy dtype (big-endian)."""

MAX_DATA_BYTES = 1 << 31
"""The most data (after the header) `read_idx` accepts by default: 2 GiB. MNIST's largest file
holds 47,040,000 bytes; EMNIST's largest about 550 MB."""

MAX_GZIP_RATIO = 1032
"""Deflate's largest possible inflation ratio: a gzip file of ``n`` bytes holds at most about
``1032 * n`` bytes, so a header promising more than that is damaged (or hostile)."""

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # bytes read at a time into the preallocated array
_REDOWNLOAD = "Delete the file and download it again."


class IDXFormatError(ValueError):
    """A file is not a valid IDX file; the message names the file and what is wrong."""


def read_idx(path: PathLike, *, max_bytes: int = MAX_DATA_BYTES) -> Array:
    """Read an IDX file (raw or gzipped) into an array of its shape and type.

    The file is streamed: its memory use is the array itself plus about a megabyte, whatever
    the file holds.

    Parameters
    ----------
    path : str or Path
        The file.
    max_bytes : int
        The most data bytes (after the header) to accept; a header promising more is refused
        before anything is allocated.

    Returns
    -------
    ndarray
        Shape as the header says; dtype as its type code says (native byte order).

    Raises
    ------
    IDXFormatError
        If the file is not gzip-readable, has a wrong magic number, declares more data than
        ``max_bytes`` (or than its compressed size could hold), or holds more or fewer bytes
        than its header promises (a truncated download, for instance).
    """
    path = Path(path)
    name = str(path)
    size = path.stat().st_size
    with open(path, "rb") as raw:
        if raw.read(2) != _GZIP_MAGIC:
            raw.seek(0)
            return _read_stream(raw, name, total=size, gzip_size=None, max_bytes=max_bytes)
        raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _read_stream(stream, name, total=None, gzip_size=size, max_bytes=max_bytes)
        except (OSError, EOFError, zlib.error) as error:
            raise IDXFormatError(
                f"{name}: the gzip data is corrupt or truncated ({error}); expected a complete "
                f"gzip stream of an IDX file. {_REDOWNLOAD}"
            ) from error


def parse_idx(data: bytes, name: str = "<bytes>", *, max_bytes: int = MAX_DATA_BYTES) -> Array:
    """Parse the bytes of an uncompressed IDX file; ``name`` is used in error messages."""
    return _read_stream(
        io.BytesIO(data), name, total=len(data), gzip_size=None, max_bytes=max_bytes
    )


def _read_stream(
    stream: io.BufferedIOBase,
    name: str,
    *,
    total: int | None,
    gzip_size: int | None,
    max_bytes: int,
) -> Array:
    """Read one IDX file from ``stream``: header, exactly the data it promises, then the end.

    ``total`` is the stream's length when known (raw files), ``gzip_size`` the compressed
    file's size when the stream is inflated from one.
    """
    magic = _read_exact(stream, 4)
    if len(magic) < 4:
        raise IDXFormatError(
            f"{name}: {len(magic)} bytes is too short for an IDX header, which needs at least "
            f"4 (an empty or cut-off file). {_REDOWNLOAD}"
        )
    zero, type_code, ndim = magic[:2], magic[2], magic[3]
    if zero != b"\x00\x00" or type_code not in DTYPES:
        raise IDXFormatError(
            f"{name}: wrong magic number 0x{magic.hex()}; an IDX file starts with 0x0000, a "
            f"type code in {{{', '.join(f'0x{code:02X}' for code in DTYPES)}}} and the number "
            "of dimensions (MNIST images: 0x00000803, labels: 0x00000801). Is this an IDX file? "
            "Point at the right file, or delete it and download it again."
        )
    header_size = 4 + 4 * ndim
    dims = _read_exact(stream, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise IDXFormatError(
            f"{name}: truncated header: {ndim} dimensions need {header_size} bytes, the file "
            f"has {4 + len(dims)}. {_REDOWNLOAD}"
        )
    shape = tuple(int.from_bytes(dims[i : i + 4], "big") for i in range(0, len(dims), 4))
    dtype = np.dtype(DTYPES[type_code])
    expected = dtype.itemsize
    for size in shape:  # Python ints: no overflow, however absurd the sizes
        expected *= size
    what = f"a {shape} array of {dtype.name} needs {expected:,} bytes after the header"
    if expected > max_bytes:
        raise IDXFormatError(
            f"{name}: absurd dimensions: {what}, more than the {max_bytes:,} allowed. The header "
            "is damaged or this is not a data file: delete the file and download it again (or "
            "pass a larger max_bytes if the file really is that large)."
        )
    if gzip_size is not None and header_size + expected > MAX_GZIP_RATIO * gzip_size + 1024:
        raise IDXFormatError(
            f"{name}: absurd dimensions: {what}, but a gzip file of {gzip_size:,} bytes inflates "
            f"to at most about {MAX_GZIP_RATIO * gzip_size:,}. The header is damaged. "
            f"{_REDOWNLOAD}"
        )
    if total is not None and total - header_size != expected:
        _raise_size_mismatch(name, what, expected, total - header_size)
    data = bytearray(expected)  # the one allocation; the array below is a view of it
    buffer = memoryview(data)
    filled = 0
    while filled < expected:
        count = stream.readinto(buffer[filled : min(filled + _CHUNK, expected)])
        if not count:
            _raise_size_mismatch(name, what, expected, filled)
        filled += count
    if stream.read(1):
        _raise_size_mismatch(name, what, expected, None)
    array = np.frombuffer(data, dtype=dtype).reshape(shape)  # writable: data is a bytearray
    if not dtype.isnative:
        array.byteswap(inplace=True)
        array = array.view(dtype.newbyteorder("="))
    return array


def _read_exact(stream: io.BufferedIOBase, count: int) -> bytes:
    """Up to ``count`` bytes: fewer only at the end of the stream."""
    parts, got = [], 0
    while got < count:
        part = stream.read(count - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _raise_size_mismatch(name: str, what: str, expected: int, actual: int | None) -> NoReturn:
    if actual is not None and actual < expected:
        raise IDXFormatError(f"{name}: truncated: {what}, the file has {actual:,}. {_REDOWNLOAD}")
    has = f"the file has {actual:,}" if actual is not None else "the file goes on after them"
    raise IDXFormatError(
        f"{name}: longer than its header says: {what}, {has}. The file is damaged or not what "
        f"it claims to be. {_REDOWNLOAD}"
    )
