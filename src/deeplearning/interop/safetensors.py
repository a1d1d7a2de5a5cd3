"""safetensors files: a model's arrays under their own names, in the format the ecosystem
shares weights in (Hugging Face, PyTorch, JAX), which holds no pickle and so runs no code.

The format is simple enough to write and read here, in NumPy, without the ``safetensors``
package. A file is three parts, one after the other::

    +-----------+----------------------------------+----------------------------------+
    | N         | the header: N bytes of JSON      | the data: every tensor's bytes,  |
    | 8 bytes,  | (UTF-8, padded with spaces so    | back to back, little-endian, in  |
    | uint64 LE | that N is a multiple of 8)       | C order                          |
    +-----------+----------------------------------+----------------------------------+

The header maps each tensor's name to its dtype, its shape and the bytes of the data it owns,
``[begin, end)`` counted from the start of the data; ``__metadata__``, optional, maps strings
to strings::

    {"__metadata__": {"format": "deeplearning", "model": "TwoLayerMLP", ...},
     "fc1.W": {"dtype": "F32", "shape": [784, 128], "data_offsets": [0, 401408]},
     "fc1.b": {"dtype": "F32", "shape": [128], "data_offsets": [401408, 401920]}, ...}

Each tensor's bytes are its shape's product times its dtype's item size, and together the
tensors cover the data exactly: no gap, no overlap, nothing after the last. `write_safetensors`
writes the tensors in the order of their names. `read_safetensors` trusts nothing in a file: it
checks the header's length against the file, then the header, then the place of every tensor,
all before it allocates any array, and refuses a damaged file with a ValueError that names the
file and what is wrong, never a huge allocation.

`save_safetensors` writes a model's ``state_dict`` (parameters and buffers, such as
BatchNorm's running statistics) with metadata that names its class, path and ``config``;
`load_model` rebuilds the model from that metadata, `load_safetensors` loads the arrays into a
model you built. Files are written atomically (`core.atomic.atomic_write`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from io import BufferedReader
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..core.atomic import atomic_write
from ..core.module import Module
from ..core.types import Array, PathLike
from ..core.validation import check_choice
from ..training.archive import CheckpointError, Shape, shown
from ..training.checkpoint import build_model, check_finite
from ..training.lm_recipe import LANGUAGE_MODELS
from ..training.recipe import ENGINES

DTYPES = {
    "BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "U32": "<u4",
    "I32": "<i4", "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8",
}  # fmt: skip
"""The dtypes read and written, by their name in a header, as little-endian NumPy dtypes.
(The format has more, BF16 and 8-bit floats among them, which NumPy has no type for.)"""
CODES = {np.dtype(dtype): code for code, dtype in DTYPES.items()}
"""Each dtype of `DTYPES` by its NumPy dtype: the name a header gives it."""
LENGTH_BYTES = 8
"""The header's length comes first, as an unsigned 64-bit little-endian integer."""
MAX_HEADER_BYTES = 100_000_000
"""The longest header read or written (the ``safetensors`` package's limit too): a longer
declared length is a damaged file, refused before anything is allocated."""
METADATA = "__metadata__"
"""The header's entry of string metadata (no tensor may take its name)."""
TENSOR_KEYS = ("dtype", "shape", "data_offsets")
"""What the header says of each tensor, no more, no less."""
FORMAT = "deeplearning"
"""The metadata's ``format`` in a file `save_safetensors` writes."""


# -- the format ---------------------------------------------------------------------------------


def write_safetensors(
    path: PathLike, arrays: Mapping[str, ArrayLike], metadata: Mapping[str, str] | None = None
) -> None:
    """Write ``arrays`` to ``path`` as a safetensors file, atomically.

    Parameters
    ----------
    path : str or Path
        The file to write (its folder must exist); an existing file is replaced whole.
    arrays : mapping of str to array
        The tensors by name, of a dtype of `DTYPES` (bool, 8 to 64-bit integers, 16 to 64-bit
        floats), of any shape (scalars and empty arrays too). They are written in the order of
        their names, little-endian, in C order.
    metadata : mapping of str to str, optional
        The header's ``__metadata__``; omitted when None.

    Raises
    ------
    TypeError
        If a name, a metadata key or a metadata value is not a string, or an array's dtype is
        not one of `DTYPES`.
    ValueError
        If a tensor is named ``__metadata__``, or the header would be longer than
        `MAX_HEADER_BYTES`.
    OSError
        If the path cannot be written (see `core.atomic.check_writable`).

    Nothing is written unless every check passes.
    """
    header: dict[str, Any] = {}
    if metadata is not None:
        header[METADATA] = _checked_metadata(metadata)
    tensors = _tensors_to_write(arrays)
    offset = 0
    for name, tensor in tensors.items():
        header[name] = {
            "dtype": CODES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + tensor.nbytes],
        }
        offset += tensor.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % LENGTH_BYTES)
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError(
            f"write_safetensors: the header of {path} would be {len(text):,} bytes long, over the "
            f"{MAX_HEADER_BYTES:,} a reader takes: write fewer tensors or less metadata per file"
        )
    with atomic_write(path) as stream:
        stream.write(len(text).to_bytes(LENGTH_BYTES, "little"))
        stream.write(text)
        for tensor in tensors.values():
            stream.write(tensor.tobytes())


def _checked_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"write_safetensors: the metadata maps strings to strings, but holds {key!r}: "
                f"{shown(value)}; write other values as text, e.g. json.dumps(value)"
            )
    return dict(metadata)


def _tensors_to_write(arrays: Mapping[str, ArrayLike]) -> dict[str, Array]:
    """The arrays by name, in the order of their names, each of its little-endian dtype."""
    for name in arrays:
        if not isinstance(name, str):
            raise TypeError(f"write_safetensors: tensor names are strings, got {shown(name)}")
    if METADATA in arrays:
        raise ValueError(
            f"write_safetensors: no tensor may be named {METADATA!r}, the header's entry of "
            "metadata: rename it"
        )
    tensors = {}
    for name in sorted(arrays):
        value = np.asarray(arrays[name])
        little = value.dtype.newbyteorder("<")
        if little not in CODES:
            raise TypeError(
                f"write_safetensors: {name!r} holds {value.dtype} values; a safetensors file "
                f"holds {list(DTYPES)} here: convert it first, e.g. value.astype(np.float32)"
            )
        tensors[name] = value.astype(little, copy=False)
    return tensors


@dataclass(frozen=True)
class _Tensor:
    """A tensor as the header declares it: its dtype and shape, and its bytes ``[begin, end)``
    counted from the start of the data."""

    dtype: np.dtype[Any]
    shape: Shape
    begin: int
    end: int


def read_safetensors(path: PathLike) -> tuple[dict[str, Array], dict[str, str]]:
    """The arrays and the metadata of a safetensors file, every part of it checked.

    Parameters
    ----------
    path : str or Path
        A safetensors file, written here, by the ``safetensors`` package, or by anything else
        that follows the format, with tensors of the dtypes of `DTYPES`.

    Returns
    -------
    (dict of str to ndarray, dict of str to str)
        The arrays by name, in the order of their data, each a new writable array of its
        file's dtype and shape (none keeps the file open); and the ``__metadata__`` (empty
        where the file has none).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the path is not a regular file, or the file is not a valid safetensors file:
        shorter than its header says, a header longer than `MAX_HEADER_BYTES`, not a JSON
        object, a name given twice, metadata that is not strings, a tensor of a dtype
        this reader does not take or whose bytes do not fit its shape, tensors that leave a
        gap, overlap, or leave bytes after them, a BOOL byte other than 0 or 1. Every check
        but the last comes before any array is allocated.
    """
    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO or device would never end
        raise ValueError(f"{path} is not a regular file, so it is not a safetensors file")
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        text = _header_text(stream, size, path)
        metadata, tensors = _parse_header(text, path)
        in_order = sorted(tensors.items(), key=lambda item: (item[1].begin, item[1].end))
        _check_layout(in_order, size - LENGTH_BYTES - len(text), path)
        arrays = {name: _read_tensor(stream, name, tensor, path) for name, tensor in in_order}
    return arrays, metadata


def _header_text(stream: BufferedReader, size: int, path: PathLike) -> bytes:
    """The header's bytes, once their declared length is checked against the file."""
    if size < LENGTH_BYTES:
        raise ValueError(
            f"{path} is {size} bytes long, shorter than the {LENGTH_BYTES}-byte header length a "
            "safetensors file starts with: it is truncated, or not a safetensors file"
        )
    length = int.from_bytes(stream.read(LENGTH_BYTES), "little")
    if length > MAX_HEADER_BYTES:
        raise ValueError(
            f"{path}: its first {LENGTH_BYTES} bytes declare a header of {length:,} bytes, over "
            f"the {MAX_HEADER_BYTES:,} a safetensors header may take: the file is damaged, or "
            "not a safetensors file"
        )
    if LENGTH_BYTES + length > size:
        raise ValueError(
            f"{path}: its header should be {length:,} bytes long, but only "
            f"{size - LENGTH_BYTES:,} follow its length: the file is truncated"
        )
    return stream.read(length)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice (`json.loads` keeps the last)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"{key[:80]!r} is given twice in one object")
        result[key] = value
    return result


def _parse_header(text: bytes, path: PathLike) -> tuple[dict[str, str], dict[str, _Tensor]]:
    """The metadata and each tensor's declaration, checked one by one."""
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


def _declared(name: str, info: Any, path: PathLike) -> _Tensor:
    """One tensor's entry of the header: its dtype one of `DTYPES`, its shape a list of sizes,
    its offsets ``[begin, end]`` spanning exactly the bytes the shape and dtype need."""
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
    return _Tensor(dtype, tuple(shape), offsets[0], offsets[1])


def _check_layout(in_order: list[tuple[str, _Tensor]], data_bytes: int, path: PathLike) -> None:
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


def _read_tensor(stream: BufferedReader, name: str, tensor: _Tensor, path: PathLike) -> Array:
    """The next tensor of ``stream``: an array allocated to its shape (whose bytes the layout
    check has found in the file), its bytes read straight into it."""
    where = f"{path}: tensor {name[:80]!r}"
    try:
        array = np.empty(tensor.shape, tensor.dtype)
    except ValueError as error:  # (a size-0 shape with a dimension over NumPy's limits)
        raise ValueError(f"{where} has a shape NumPy cannot hold: {error}") from None
    received = stream.readinto(array.reshape(-1).data.cast("B"))
    if received != array.nbytes:
        raise ValueError(
            f"{where}: the file ended {array.nbytes - received:,} bytes into its data: it was "
            "cut short while it was read"
        )
    if array.dtype == np.bool_ and array.view(np.uint8).max(initial=0) > 1:
        raise ValueError(f"{where} is BOOL, but holds bytes other than 0 and 1: it is damaged")
    return array


# -- models -------------------------------------------------------------------------------------


def save_safetensors(model: Module, path: PathLike) -> None:
    """Write ``model.state_dict()`` to ``path`` as a safetensors file, atomically, with metadata
    that lets `load_model` rebuild the model.

    The metadata holds ``format`` (``"deeplearning"``), ``model`` (the class's name),
    ``engine`` (its path: ``"layers"`` or ``"autograd"``) and ``config`` (``model.config`` as
    JSON). A model without a ``config`` (a `Sequential` of your own) is saved too, without
    one: load it with `load_safetensors` into a model you build.

    Parameters
    ----------
    model : Module
        A model on either path.
    path : str or Path
        The file to write (its folder must exist).

    Raises
    ------
    ValueError
        If an array holds NaN or infinity (the weights of a run that diverged).
    TypeError
        If ``model.config`` cannot be written as JSON.

    Nothing is written unless every check passes.
    """
    state = model.state_dict()
    check_finite(state, "save_safetensors")
    metadata = {"format": FORMAT, "model": type(model).__name__, "engine": model.engine}
    config = getattr(model, "config", None)
    if config is not None:
        try:
            metadata["config"] = json.dumps(config, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"save_safetensors: {type(model).__name__}.config cannot be written as JSON "
                f"({error}): give it ints, floats, strings, booleans, and lists and dicts of them"
            ) from None
    write_safetensors(path, state, metadata)


def load_safetensors(model: Module, path: PathLike, strict: bool = True) -> Module:
    """Load the arrays of a safetensors file into ``model``, by name, in place.

    As PyTorch's ``load_state_dict`` does, each array is copied into the model's own, of the
    model's dtype (a float64 file loads into a float32 model as float32).

    Parameters
    ----------
    model : Module
        A model whose ``state_dict`` names and shapes the file's arrays hold.
    path : str or Path
        A safetensors file (see `read_safetensors`).
    strict : bool
        Refuse a file that lacks one of the model's names or holds one it does not have;
        with False, load the names both have (their shapes must still fit).

    Returns
    -------
    Module
        ``model``, loaded.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a valid safetensors file (see `read_safetensors`).
    CheckpointError
        If the arrays do not fit the model: the message lists the missing and unexpected
        names, or names the first array of another shape. Every array is checked before any
        is changed, so a refused file leaves the model as it was.
    """
    arrays, _ = read_safetensors(path)
    try:
        model.load_state_dict(arrays, strict=strict)
    except ValueError as error:
        raise CheckpointError(f"{path} does not fit this model: {error}") from error
    return model


def load_model(path: PathLike, engine: str | None = None) -> Module:
    """The model a file of `save_safetensors` holds: rebuilt from its metadata, its arrays
    loaded.

    Every model this library builds is rebuilt (`TwoLayerMLP`, `MLP`, `LeNet5`, `GPT`,
    `RecurrentLanguageModel`, `MLPLanguageModel`), once its ``config`` is checked to imply
    exactly the arrays the file holds, names and shapes. It is built in the dtype of the
    file's arrays and left in training mode: call ``.eval()`` before inference.

    Parameters
    ----------
    path : str or Path
        A safetensors file written by `save_safetensors`.
    engine : str, optional
        The path to build the model on, ``"layers"`` or ``"autograd"``; by default the one the
        file names. The arrays have the same names on both paths.

    Returns
    -------
    Module
        The model, with the file's arrays.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a valid safetensors file (see `read_safetensors`), or ``engine`` is
        another string (a TypeError if it is not one).
    CheckpointError
        If its metadata does not describe a model this library builds (a file of another
        program, or of a model of your own: build the model and use `load_safetensors`), or
        its config does not imply its arrays.
    """
    if engine is not None:
        check_choice(engine, "engine", "load_model", tuple(ENGINES))
    arrays, metadata = read_safetensors(path)
    name = metadata.get("model")
    buildable = [*ENGINES["layers"], *LANGUAGE_MODELS["layers"]]
    if metadata.get("format") != FORMAT or "config" not in metadata or name not in buildable:
        raise CheckpointError(
            f"{path} does not say how to rebuild its model: load_model rebuilds {buildable} "
            f"from the metadata save_safetensors writes (format {FORMAT!r}, model, engine, "
            f"config), and this file's metadata has {shown(sorted(metadata))} (model "
            f"{shown(name)}). Build the model yourself and load the file with "
            "load_safetensors(model, path)"
        )
    try:
        config = json.loads(metadata["config"])
    except (ValueError, RecursionError) as error:
        raise CheckpointError(
            f"{path}: its metadata's config is not JSON ({error}): the file was edited or "
            "damaged; save the model again with save_safetensors"
        ) from None
    header = {"model": name, "engine": engine or metadata.get("engine", "layers"), "config": config}
    floats = [value.dtype for value in arrays.values() if value.dtype.kind == "f"]
    shapes = {key: value.shape for key, value in arrays.items()}
    model = build_model(header, shapes, dtype=floats[0] if floats else np.float32)
    model.load_state_dict(arrays)
    return model
