"""The header of a safetensors file, checked entry by entry for `safetensors.read_safetensors`:
what a file declares (dtypes, shapes, the place of each tensor's bytes) is trusted only once
it is consistent, and all of it is checked before any array is allocated.

A header maps each tensor's name to ``{"dtype", "shape", "data_offsets"}`` and, optionally,
``__metadata__`` to a dict of strings. Nothing a file declares can make the checks slow or
large: a shape has at most `MAX_DIMS` axes, and its count of values is refused past what an
array may hold (`MAX_BYTES`) before the bytes it needs are compared with its offsets.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.types import PathLike
from ..training.archive import Shape, shown

DTYPES = {
    "BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "U32": "<u4",
    "I32": "<i4", "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8",
}  # fmt: skip
"""The dtypes read and written, by their name in a header, as little-endian NumPy dtypes.
(The format has more, BF16 and 8-bit floats among them, which NumPy has no type for.)"""
CODES = {np.dtype(dtype): code for code, dtype in DTYPES.items()}
"""Each dtype of `DTYPES` by its NumPy dtype: the name a header gives it."""
METADATA = "__metadata__"
"""The header's entry of string metadata (no tensor may take its name)."""
TENSOR_KEYS = ("dtype", "shape", "data_offsets")
"""What the header says of each tensor, no more, no less."""
MAX_DIMS = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32
"""The most axes a tensor may have: NumPy's limit (64, or 32 before NumPy 2). It also keeps
the product of a declared shape quick to compute, where a header of a few megabytes could
otherwise declare thousands of axes of thousands of digits each."""
MAX_BYTES = 2**63 - 1
"""The most bytes an array may span (NumPy's limit: a signed 64-bit size); the values of a
shape's non-zero sizes are counted against it, so that even an empty shape NumPy could not
hold (``[0, 2**70]``) is refused before anything is allocated."""


@dataclass(frozen=True)
class Tensor:
    """A tensor as the header declares it: its dtype and shape, and its bytes ``[begin, end)``
    counted from the start of the data."""

    dtype: np.dtype[Any]
    shape: Shape
    begin: int
    end: int


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice (`json.loads` keeps the last)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"{key[:80]!r} is given twice in one object")
        result[key] = value
    return result


def parse_header(text: bytes, path: PathLike) -> tuple[dict[str, str], dict[str, Tensor]]:
    """The metadata and each tensor's declaration of a header's bytes, checked one by one
    (a ValueError naming ``path`` and what is wrong)."""
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as error:  # (UnicodeDecodeError is a ValueError)
        raise ValueError(
            f"{path}: its header is not a UTF-8 JSON object of unique names ({error}): the "
            "file is damaged, or not a safetensors file"
        ) from None
    if not isinstance(header, dict):
        raise ValueError(
            f"{path}: its header should be a JSON object of tensors, but is {shown(header)}"
        )
    metadata = header.pop(METADATA, {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(
            f"{path}: its {METADATA!r} should map strings to strings, but is {shown(metadata)}"
        )
    return metadata, {name: _declared(name, info, path) for name, info in header.items()}


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _declared(name: str, info: Any, path: PathLike) -> Tensor:
    """One tensor's entry of the header: its dtype one of `DTYPES`, its shape a list of at
    most `MAX_DIMS` sizes, its offsets ``[begin, end]`` spanning exactly the bytes the shape
    and dtype need."""
    where = f"{path}: tensor {name[:80]!r}"
    if not isinstance(info, dict) or sorted(info) != sorted(TENSOR_KEYS):
        got = sorted(info)[:10] if isinstance(info, dict) else shown(info)
        raise ValueError(f"{where} should be described by {list(TENSOR_KEYS)}, got {got}")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(code, str) or code not in DTYPES:
        raise ValueError(
            f"{where} has dtype {shown(code)}; this reader takes {list(DTYPES)}. NumPy has no "
            "bfloat16 or 8-bit floats: convert such a tensor to F32 before saving it (in "
            "PyTorch, tensor.float())"
        )
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise ValueError(f"{where}: its shape should be a list of sizes >= 0, got {shown(shape)}")
    if len(shape) > MAX_DIMS or any(n > MAX_BYTES for n in shape):
        raise ValueError(
            f"{where} has a shape NumPy cannot hold, {shown(shape)}: an array has at most "
            f"{MAX_DIMS} axes, each at most {MAX_BYTES:,} long. The file is damaged"
        )
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(_is_count(n) for n in offsets)
        and offsets[0] <= offsets[1]
    ):
        raise ValueError(
            f"{where}: its data_offsets should be [begin, end] with 0 <= begin <= end, got "
            f"{shown(offsets)}"
        )
    dtype = np.dtype(DTYPES[code])
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != offsets[1] - offsets[0]:
        raise ValueError(
            f"{where} of shape {shown(shape)} and dtype {code} needs {nbytes:,} bytes, but its "
            f"data_offsets {offsets} span {offsets[1] - offsets[0]:,}: the file is damaged"
        )
    if math.prod(n for n in shape if n) * dtype.itemsize > MAX_BYTES:  # (an empty one too)
        raise ValueError(
            f"{where} has a shape NumPy cannot hold, {shown(shape)}: its sizes multiply past "
            f"the {MAX_BYTES:,} bytes an array may span. The file is damaged"
        )
    return Tensor(dtype, tuple(shape), offsets[0], offsets[1])


def check_layout(in_order: list[tuple[str, Tensor]], data_bytes: int, path: PathLike) -> None:
    """The tensors, in the order of their offsets, cover the ``data_bytes`` after the header
    exactly: each starts where the one before ends, and the last ends at the end of the file."""
    position = 0
    for name, tensor in in_order:
        if tensor.begin != position:
            what = "a gap after" if tensor.begin > position else "an overlap with"
            raise ValueError(
                f"{path}: tensor {name[:80]!r} starts at byte {tensor.begin:,} of the data, but "
                f"the tensors before it end at byte {position:,}, {what} them: the tensors "
                "must cover the data one after another. The file is damaged"
            )
        position = tensor.end
    if position != data_bytes:
        what = "the file is truncated" if position > data_bytes else "no tensor owns the rest"
        raise ValueError(
            f"{path}: its tensors cover {position:,} bytes of data, but {data_bytes:,} follow "
            f"its header: {what}. The file is damaged"
        )
