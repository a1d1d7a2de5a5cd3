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
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ._types import Array, PathLike

DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
"""IDX type code -> NumPy dtype (big-endian)."""

_GZIP_MAGIC = b"\x1f\x8b"


class IDXFormatError(ValueError):
    """A file is not a valid IDX file; the message names the file and what is wrong."""


def read_idx(path: PathLike) -> Array:
    """Read an IDX file (raw or gzipped) into an array of its shape and type.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    ndarray
        Shape as the header says; dtype as its type code says (native byte order).

    Raises
    ------
    IDXFormatError
        If the file is not gzip-readable, has a wrong magic number, or holds more or fewer
        bytes than its header promises (a truncated download, for instance).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise IDXFormatError(
                f"{path}: the gzip data is corrupt or truncated ({error}). Delete the file and "
                "download it again."
            ) from error
    return parse_idx(raw, str(path))


def parse_idx(data: bytes, name: str = "<bytes>") -> Array:
    """Parse the bytes of an uncompressed IDX file; ``name`` is used in error messages."""
    if len(data) < 4:
        raise IDXFormatError(f"{name}: {len(data)} bytes is too short for an IDX header.")
    zero, type_code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or type_code not in DTYPES:
        raise IDXFormatError(
            f"{name}: wrong magic number 0x{data[:4].hex()}; an IDX file starts with 0x0000, a "
            f"type code in {{{', '.join(f'0x{code:02X}' for code in DTYPES)}}} and the number "
            "of dimensions (MNIST images: 0x00000803, labels: 0x00000801). Is this an IDX file?"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise IDXFormatError(
            f"{name}: truncated header: {ndim} dimensions need {header_size} bytes, the file "
            f"has {len(data)}."
        )
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(DTYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than its header says"
        raise IDXFormatError(
            f"{name}: {problem}: a {shape} array of {dtype.name} needs {expected:,} bytes after "
            f"the header, the file has {actual:,}. Delete the file and download it again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)
