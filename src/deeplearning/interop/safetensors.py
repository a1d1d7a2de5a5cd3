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
import os
from collections.abc import Mapping
from io import BufferedReader
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..core.atomic import atomic_write, check_writable
from ..core.module import Module
from ..core.types import Array, PathLike
from ..core.validation import check_choice, check_flag
from ..training.archive import CheckpointError, shown
from ..training.checkpoint import build_model, check_finite
from ..training.lm_recipe import LANGUAGE_MODELS
from ..training.recipe import ENGINES
from .interop_checks import check_finite_weights, check_model, check_path
from .safetensors_header import CODES, DTYPES, METADATA, Tensor, check_layout, parse_header

LENGTH_BYTES = 8
"""The header's length comes first, as an unsigned 64-bit little-endian integer."""
MAX_HEADER_BYTES = 100_000_000
"""The longest header read or written (the ``safetensors`` package's limit too): a longer
declared length is a damaged file, refused before anything is allocated."""
FORMAT = "deeplearning"
"""The metadata's ``format`` in a file `save_safetensors` writes."""
EXAMPLE = "model.safetensors"
"""A file name, for the messages."""


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
        If ``path`` is not a str or Path, ``arrays`` or ``metadata`` not a mapping, a name, a
        metadata key or a metadata value not a string, or an array's dtype not one of
        `DTYPES`.
    ValueError
        If a tensor is named ``__metadata__`` or is not an array (nested lists of different
        lengths), or the header would be longer than `MAX_HEADER_BYTES`.
    OSError
        If the path cannot be written (see `core.atomic.check_writable`).

    Nothing is written unless every check passes.
    """
    check_path(path, "write_safetensors", EXAMPLE)
    check_writable(path, "safetensors file")
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
    if not isinstance(metadata, Mapping):
        raise TypeError(
            f"write_safetensors: metadata maps strings to strings, got {shown(metadata)}; pass "
            'e.g. {"note": "text"}, or None for none'
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"write_safetensors: the metadata maps strings to strings, but holds {key!r}: "
                f"{shown(value)}; write other values as text, e.g. json.dumps(value)"
            )
    return dict(metadata)


def _tensors_to_write(arrays: Mapping[str, ArrayLike]) -> dict[str, Array]:
    """The arrays by name, in the order of their names, each of its little-endian dtype."""
    if not isinstance(arrays, Mapping):
        raise TypeError(
            f"write_safetensors: arrays maps names to arrays, got {shown(arrays)}; pass e.g. "
            "model.state_dict() or {'w': np.zeros(3)}"
        )
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
        try:
            value = np.asarray(arrays[name])
        except ValueError as error:  # (nested lists of different lengths)
            raise ValueError(
                f"write_safetensors: {name!r} is not an array ({error}); pass a NumPy array"
            ) from None
        little = value.dtype.newbyteorder("<")
        if little not in CODES:
            raise TypeError(
                f"write_safetensors: {name!r} holds {value.dtype} values; a safetensors file "
                f"holds {list(DTYPES)} here: convert it first, e.g. value.astype(np.float32)"
            )
        tensors[name] = value.astype(little, copy=False)
    return tensors


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
    TypeError
        If ``path`` is not a str or Path (an int would be taken for a file descriptor).
    ValueError
        If the path is not a regular file, or the file is not a valid safetensors file:
        shorter than its header says, a header longer than `MAX_HEADER_BYTES`, not a JSON
        object, a name given twice, metadata that is not strings, a tensor of a dtype
        this reader does not take or whose bytes do not fit its shape, tensors that leave a
        gap, overlap, or leave bytes after them, a BOOL byte other than 0 or 1. Every check
        but the last comes before any array is allocated.
    """
    check_path(path, "read_safetensors", EXAMPLE)
    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO or device would never end
        raise ValueError(f"{path} is not a regular file, so it is not a safetensors file")
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        text = _header_text(stream, size, path)
        metadata, tensors = parse_header(text, path)
        in_order = sorted(tensors.items(), key=lambda item: (item[1].begin, item[1].end))
        check_layout(in_order, size - LENGTH_BYTES - len(text), path)
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


def _read_tensor(stream: BufferedReader, name: str, tensor: Tensor, path: PathLike) -> Array:
    """The next tensor of ``stream``: an array allocated to its shape (whose bytes the layout
    check has found in the file), its bytes read straight into it."""
    where = f"{path}: tensor {name[:80]!r}"
    try:
        array = np.empty(tensor.shape, tensor.dtype)
    except ValueError as error:  # (refused by the header's checks already, kept as a guard)
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
        If ``model`` is not a Module, ``path`` not a str or Path, or ``model.config`` cannot
        be written as JSON.
    OSError
        If the path cannot be written (see `core.atomic.check_writable`).

    Nothing is written unless every check passes.
    """
    check_model(model, "save_safetensors")
    check_path(path, "save_safetensors", EXAMPLE)
    check_writable(path, "safetensors file")
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
    TypeError
        If ``model`` is not a Module, or ``strict`` not a bool.
    ValueError
        If the file is not a valid safetensors file (see `read_safetensors`).
    CheckpointError
        If the arrays do not fit the model: the message lists the missing and unexpected
        names, or names the first array of another shape; or an array holds NaN or infinity.
        Every array is checked before any is changed, so a refused file leaves the model as
        it was.
    """
    check_model(model, "load_safetensors")
    check_flag(strict, "strict", "load_safetensors")
    arrays, _ = read_safetensors(path)
    check_finite_weights(arrays, path)
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
        program, or of a model of your own: build the model and use `load_safetensors`), its
        config does not imply its arrays, or an array holds NaN or infinity; all before the
        model is built.
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
    path_named = engine or metadata.get("engine", "layers")
    if path_named not in ENGINES:
        raise CheckpointError(
            f"{path}: its metadata names the engine {path_named!r}, not one of {list(ENGINES)}: "
            "the file was edited; pass load_model(path, engine='layers') to choose the path"
        )
    check_finite_weights(arrays, path)
    header = {"model": name, "engine": path_named, "config": config}
    floats = [value.dtype for value in arrays.values() if value.dtype.kind == "f"]
    shapes = {key: value.shape for key, value in arrays.items()}
    try:
        model = build_model(header, shapes, dtype=floats[0] if floats else np.float32)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: its metadata does not rebuild its model: {error}") from None
    model.load_state_dict(arrays)
    return model
