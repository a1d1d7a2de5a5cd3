"""The npz guard: a checkpoint's ``.npz`` archive, and its header, read without trusting them.

`checkpoint` reads every checkpoint through `Archive`. Before any array's data is read, it checks
each member of the zip file against the file and against what numpy writes: stored or deflated
(no other compression, not encrypted), declaring no more bytes than the file (or deflate) could
give, and holding a ``.npy`` array of format version 1.0 or 2.0 whose header declares a plain
numeric dtype and a shape whose bytes are exactly the member's. Then it reads the JSON
``header`` (at most `MAX_HEADER_CHARS` long), checks it is of this library's format and
version, and checks each array's kind against its name: weights floating-point, the optimizer's
``lr`` a real scalar and ``steps`` an integer one. `Archive.read` reads one array's data, which
must be finite. So a damaged or edited file is a `CheckpointError` saying what was expected and
what came, never a huge allocation, a ``KeyError`` or a model with NaN weights.

The header's entries are checked here too: the model's ``config`` against its class's
arguments (`config_arguments`), and what resuming a run needs (`check_resume_header`).
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import IO, Any, Callable

import numpy as np

from ..core.module import Module
from ..core.types import Array, PathLike
from ..core.validation import non_finite
from .loop import EpochStats
from .recipe import Recipe

FORMAT = "deeplearning-checkpoint"
"""The header's ``format``: what marks an ``.npz`` file as a checkpoint of this library."""
VERSION = 1
"""The header's ``version``: the only one read."""
MAX_HEADER_CHARS = 1 << 22
"""The longest JSON header read (4 Mi characters; a run's header is a few KB)."""
MAX_DEFLATE_RATIO = 1032
"""Deflate cannot expand data more than about 1032 times: a compressed member that declares
more is damaged (or a zip bomb), refused before anything is inflated."""
RESAVE = "re-save the model with save_checkpoint (or `deeplearning train --save`)"
"""How to repair a damaged checkpoint, for the errors' messages."""
EDITED = f"The file was edited or damaged: {RESAVE}"
"""The end of a message about an entry no checkpoint this library writes could hold."""

Shape = tuple[int, ...]


class CheckpointError(ValueError):
    """A file is not a checkpoint of this library, or does not fit the model it is loaded into."""


# -- the archive ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """An array of the archive, as its ``.npy`` header declares it (its data not yet read)."""

    info: zipfile.ZipInfo
    shape: Shape
    dtype: np.dtype[Any]


_READ_ERRORS = (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, RuntimeError)


class Archive:
    """An open checkpoint: the checked header and every array's shape and dtype; `read` reads
    one array's data. Use it as a context manager, which closes the file.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file.

    Attributes
    ----------
    header : dict
        The JSON header, of this library's `FORMAT` and `VERSION`, with ``model`` and
        ``engine`` strings and a ``config`` dict where it has them.
    entries : dict of str to Entry
        Every array but the header, by name (``model.fc1.W``, ``optimizer.lr``, ...), as its
        ``.npy`` header declares it: weights floating-point, ``optimizer.lr`` a real and
        ``optimizer.steps`` an integer scalar.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is not a regular file, not a ``.npz`` archive numpy could have written, or
        has no valid header, or an array's dtype or shape is not what its name requires.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = path
        if os.path.exists(path) and not os.path.isfile(path):  # a device would never end
            raise CheckpointError(f"{path} is not a regular file, so it is not a checkpoint")
        try:
            size = os.path.getsize(path)
            self.zip = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise
        except (*_READ_ERRORS, NotImplementedError) as error:
            raise self._unreadable(error) from error
        try:
            self.entries = self._entries(size)
            self.header = self._header(self.entries.pop("header", None))
            self._check_kinds()
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    def _unreadable(self, error: object) -> CheckpointError:
        return CheckpointError(
            f"{self.path} is not a readable .npz checkpoint ({error}); was it written by "
            "`deeplearning train --save`? A file that was: it is damaged, " + RESAVE
        )

    def _entries(self, size_on_disk: int) -> dict[str, Entry]:
        entries: dict[str, Entry] = {}
        for info in self.zip.infolist():
            name = info.filename.removesuffix(".npy")
            if not info.filename.endswith(".npy") or name in entries:
                what = "twice" if name in entries else "which is not a .npy array"
                raise self._unreadable(f"it holds {info.filename!r} {what}")
            compressed = info.compress_type == zipfile.ZIP_DEFLATED
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self._unreadable(
                    f"{name!r} is compressed with method {info.compress_type}; numpy writes "
                    "stored or deflated members only"
                )
            if info.flag_bits & 0x1:
                raise self._unreadable(f"{name!r} is encrypted")
            if (
                info.compress_size > size_on_disk
                or (not compressed and info.file_size != info.compress_size)
                or (compressed and info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 1024)
            ):
                raise self._unreadable(
                    f"{name!r} declares {info.file_size:,} bytes from {info.compress_size:,} "
                    f"in a file of {size_on_disk:,}: the archive is damaged"
                )
            try:
                with self.zip.open(info) as stream:
                    shape, dtype, start = _npy_header(stream)
            except _READ_ERRORS as error:
                raise self._unreadable(f"{name!r}: {error}") from error
            if dtype.hasobject:
                raise self._unreadable(
                    f"{name!r} holds Python objects, which only pickle can read, and checkpoints "
                    "are read without pickle"
                )
            if dtype.names is not None or dtype.subdtype is not None:
                raise self._unreadable(f"{name!r} has the structured dtype {dtype}")
            if any(not isinstance(n, int) or n < 0 for n in shape):
                raise self._unreadable(f"{name!r} declares the shape {shape}")
            nbytes = math.prod(shape) * dtype.itemsize
            if start + nbytes != info.file_size:
                raise self._unreadable(
                    f"{name!r} declares shape {shape} of {dtype} ({nbytes:,} bytes) but its "
                    f"member holds {info.file_size - start:,} bytes of data"
                )
            entries[name] = Entry(info, shape, dtype)
        return entries

    def _header(self, entry: Entry | None) -> dict[str, Any]:
        invalid = f"{self.path} is an .npz file but not a deeplearning checkpoint (no valid header"
        if entry is None:
            raise CheckpointError(f"{invalid}: it has no 'header' array)")
        if entry.dtype.kind != "U" or entry.shape != ():
            raise CheckpointError(
                f"{invalid}: 'header' should be one JSON string but is an array of shape "
                f"{entry.shape} and dtype {entry.dtype})"
            )
        if entry.dtype.itemsize // 4 > MAX_HEADER_CHARS:
            raise CheckpointError(
                f"{invalid}: 'header' is {entry.dtype.itemsize // 4:,} characters long, over "
                f"the {MAX_HEADER_CHARS:,} a checkpoint's header may take)"
            )
        try:
            header = json.loads(str(self.read("header")[()]))
        except (ValueError, RecursionError) as error:  # (digits over Python's int limit)
            raise CheckpointError(f"{invalid}: 'header' is not JSON: {error})") from error
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            got = header.get("format") if isinstance(header, dict) else header
            raise CheckpointError(f"{invalid}: its format should be {FORMAT!r}, got {shown(got)})")
        version = header.get("version")
        if not _is_int(version) or version != VERSION:
            raise CheckpointError(
                f"{self.path} is a deeplearning checkpoint of format version {shown(version)}, "
                f"but this library reads version {VERSION}: load it with the version of "
                "deeplearning that wrote it and re-save it, or train again"
            )
        for name, kind in (("model", str), ("engine", str), ("config", dict)):
            if name in header and not isinstance(header[name], kind):
                raise CheckpointError(
                    f"{self.path}: the header's {name!r} should be a {kind.__name__}, but is "
                    f"{shown(header[name])}. {EDITED}"
                )
        return header

    def _check_kinds(self) -> None:
        """Weights are floating-point, the optimizer's ``lr`` a real scalar and ``steps`` an
        integer scalar; nothing else is in a checkpoint."""
        for name, entry in self.entries.items():
            kind, shape = entry.dtype.kind, entry.shape
            if name == "optimizer.lr":
                ok, expected = kind in "fiu" and shape == (), "a real number (shape ())"
            elif name == "optimizer.steps":
                ok, expected = kind in "iu" and shape == (), "an integer (shape ())"
            elif name.startswith(("model.", "optimizer.")):
                ok, expected = kind == "f", "floating-point numbers (float32 or float64)"
            else:
                raise CheckpointError(
                    f"{self.path} holds an array {name!r}; a checkpoint holds only 'header', "
                    f"'model.*' and 'optimizer.*' arrays. {EDITED}"
                )
            if not ok:
                raise CheckpointError(
                    f"{self.path}: {name!r} should hold {expected}, but holds {entry.dtype} "
                    f"values of shape {shape}. {EDITED}"
                )

    def read(self, name: str) -> Array:
        """The data of array ``name`` (its size is already checked against the archive's), which
        must be finite if it is a model's or an optimizer's."""
        entry = self.entries.get(name) if name != "header" else None
        info = entry.info if entry is not None else self.zip.getinfo("header.npy")
        try:
            with self.zip.open(info) as stream:
                array: Array = np.lib.format.read_array(stream, allow_pickle=False)
        except _READ_ERRORS as error:
            raise self._unreadable(f"{name!r}: {error}") from error
        found = non_finite(array) if entry is not None else None
        if found is not None:
            count, first = found
            raise CheckpointError(
                f"{self.path}: {name!r} should hold finite numbers, but {count:,} of its "
                f"{array.size:,} values are NaN or infinite (the first at index {first}: "
                f"{array[first]}). The run diverged before it was saved, or the file is "
                "damaged: load an earlier checkpoint"
            )
        return array


def _npy_header(stream: IO[bytes]) -> tuple[Shape, np.dtype[Any], int]:
    """The shape and dtype a ``.npy`` stream declares, and where its data starts."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"the .npy format version {version} is not one numpy writes for numbers")
    return tuple(shape), dtype, stream.tell()


# -- the header's model config ------------------------------------------------------------------

_POSITIVE_INTS = ("in_features", "hidden", "num_classes", "in_channels", "image_size",
                  "vocab_size", "block_size", "n_layer", "n_head", "n_embd")  # fmt: skip
_NAMES = {"cell": ("rnn", "lstm", "gru"), "init": ("normal", "default")}
"""The config entries that name one of a few choices (a language model's)."""


def config_arguments(
    cls: Callable[..., Module], header: Mapping[str, Any], source: object
) -> dict[str, Any]:
    """The header's config bound to ``cls``'s arguments (defaults filled in), each checked.

    Raises
    ------
    CheckpointError
        If the config is not a dict, names an argument ``cls`` does not take, lacks one without
        a default, or gives one a value of the wrong type or range (sizes positive ints,
        ``batchnorm`` a bool, ``dropout`` in [0, 1)).
    """
    config = header.get("config", {})
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{source}: the header's 'config' should be a dict, but is {shown(config)}. {EDITED}"
        )
    name = getattr(cls, "__name__", str(cls))
    signature = inspect.signature(cls)
    known = [p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise CheckpointError(
            f"{source}: the header's config has the entries {unknown}, which {name} does not "
            f"take (it takes {known}). {EDITED}"
        )
    try:
        bound = signature.bind_partial(**config)
        bound.apply_defaults()
    except TypeError as error:  # (bind_partial accepts a missing argument, kept a default)
        raise CheckpointError(
            f"{source}: the header's config does not fit {name}: {error}. {EDITED}"
        ) from error
    arguments = {key: bound.arguments[key] for key in known if key in bound.arguments}
    missing = [key for key in known if key not in arguments]
    if missing:
        raise CheckpointError(
            f"{source}: the header's config lacks {missing}, which {name} needs. {EDITED}"
        )
    for key, value in arguments.items():
        expected = _config_problem(key, value)
        if expected:
            raise CheckpointError(
                f"{source}: the header's config gives {name} {key}={value!r} "
                f"({type(value).__name__}), but {key} must be {expected}. {EDITED}"
            )
    return arguments


def _config_problem(key: str, value: Any) -> str:
    """What ``value`` should be, if it is not a valid ``key`` of a model's config; else ''."""
    if key in _POSITIVE_INTS and not (_is_int(value) and value >= 1):
        return "a positive int"
    if key == "sizes" and not (
        isinstance(value, list) and len(value) >= 2 and all(_is_int(n) and n >= 1 for n in value)
    ):
        return "a list of at least two positive ints"
    if key == "activation" and not isinstance(value, str):
        return "the name of an activation"
    if key in ("batchnorm", "bias") and not isinstance(value, bool):
        return "true or false"
    if key in _NAMES and value not in _NAMES[key]:
        return " or ".join(map(repr, _NAMES[key]))
    if key == "dropout" and not (_is_real(value) and 0 <= value < 1):
        return "a number in [0, 1)"
    return ""


# -- the header's training state ----------------------------------------------------------------


def check_resume_header(header: Mapping[str, Any], source: object = "the checkpoint") -> None:
    """Refuse a header that cannot resume a run (see `checkpoint.read_resume_header`) with a
    `CheckpointError` naming the entry, what it should be, and what it is."""
    if "recipe" not in header:
        raise CheckpointError(
            f"{source} holds no training recipe: only checkpoints written by "
            "`train --save` can be resumed"
        )
    for name in ("epoch", "history", "rng_state"):
        if name not in header:
            raise CheckpointError(
                f"{source} has a training recipe but no {name!r} in its header, which resuming "
                "needs: it was not written by `train --save`, or was edited. Resume from a "
                "checkpoint that `train --save` wrote, or start the run afresh"
            )
    _check_recipe(header["recipe"], source)
    epoch, history = header["epoch"], header["history"]
    if not _is_int(epoch) or epoch < 1:
        raise CheckpointError(
            f"{source}: the header's 'epoch' should be the int >= 1 of the last finished epoch, "
            f"but is {shown(epoch)}. {EDITED}"
        )
    if not isinstance(history, list) or len(history) != epoch:
        got = f"a list of {len(history)}" if isinstance(history, list) else shown(history)
        raise CheckpointError(
            f"{source}: the header's 'history' should be a list of the {epoch} epochs' "
            f"records (epoch {epoch} was the last), but is {got}. {EDITED}"
        )
    for i, record in enumerate(history):
        _check_record(record, i + 1, source)
    check_rng_state(header["rng_state"], source)


def _check_recipe(recipe: Any, source: object) -> None:
    """A dict of `Recipe` entries, each of its field's type (the type of its default; where the
    default is None, None or an int for an int field, None or a number for the others)."""
    if not isinstance(recipe, dict):
        raise CheckpointError(
            f"{source}: the header's 'recipe' should be a dict of `Recipe` entries, but is "
            f"{shown(recipe)}. {EDITED}"
        )
    defaults = {field.name: field.default for field in fields(Recipe)}
    counts = {field.name for field in fields(Recipe) if str(field.type).startswith("int")}
    unknown = sorted(recipe.keys() - defaults.keys())
    if unknown:
        raise CheckpointError(
            f"{source}: the header's recipe has the unknown entries {unknown} (known: "
            f"{sorted(defaults)}). {EDITED}"
        )
    for key, value in recipe.items():
        default = defaults[key]
        if isinstance(default, bool):
            ok, expected = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, expected = _is_int(value), "an int"
        elif isinstance(default, str):
            ok, expected = isinstance(value, str), "a string"
        elif key in counts:  # an int or None, such as step_size
            ok, expected = value is None or _is_int(value), "an int or null"
        else:  # a float, or None for "the optimizer's default"
            ok = (value is None and default is None) or _is_real(value)
            expected = "a number" + (" or null" if default is None else "")
        if not ok:
            raise CheckpointError(
                f"{source}: the header's recipe gives {key}={shown(value)}, but {key} must be "
                f"{expected}. {EDITED}"
            )


def _check_record(record: Any, epoch: int, source: object) -> None:
    """Epoch ``epoch``'s `EpochStats` as a dict: every field, each a number; ``test_loss`` may
    be missing or None (records written before it was measured)."""
    names = [field.name for field in fields(EpochStats)]
    required = [name for name in names if name != "test_loss"]
    where = f"{source}: the header's history[{epoch - 1}]"
    if not isinstance(record, dict) or not set(required) <= record.keys() <= set(names):
        got = f"the entries {sorted(record)}" if isinstance(record, dict) else shown(record)
        raise CheckpointError(
            f"{where} should be an epoch's record with the entries {required} (and optionally "
            f"'test_loss'), but has {got}. {EDITED}"
        )
    if record["epoch"] != epoch or not _is_int(record["epoch"]):
        raise CheckpointError(
            f"{where} should be epoch {epoch}'s record, but is {shown(record['epoch'])}'s. {EDITED}"
        )
    for name in names[1:]:
        value = record.get(name)
        if not (_is_real(value) or (name == "test_loss" and value is None)):
            kind = "a number or null" if name == "test_loss" else "a number"
            raise CheckpointError(
                f"{where} gives {name}={shown(value)}, but {name} must be {kind}. {EDITED}"
            )


def check_rng_state(state: Any, source: object) -> None:
    """The state of a PCG64 generator (what `np.random.default_rng` makes), every field an int
    in its range, and accepted by a PCG64."""
    words = state.get("state") if isinstance(state, dict) else None
    ok = (
        isinstance(state, dict)
        and sorted(state) == ["bit_generator", "has_uint32", "state", "uinteger"]
        and state["bit_generator"] == "PCG64"
        and isinstance(words, dict)
        and sorted(words) == ["inc", "state"]
        and all(_is_int(words[k]) and 0 <= words[k] < 2**128 for k in ("inc", "state"))
        and state["has_uint32"] in (0, 1)
        and _is_int(state["has_uint32"])
        and _is_int(state["uinteger"])
        and 0 <= state["uinteger"] < 2**32
    )
    if ok:
        try:
            np.random.PCG64(0).state = state
        except (TypeError, ValueError, KeyError, OverflowError):
            ok = False
    if not ok:
        raise CheckpointError(
            f"{source}: the header's 'rng_state' should be the state of NumPy's PCG64 generator "
            "(a dict with bit_generator 'PCG64', state {'state': int, 'inc': int}, has_uint32 "
            f"and uinteger), but is {shown(state)}. {EDITED}"
        )


# -- helpers ----------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    """An int that is not a bool (JSON's true is not 1 here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def shown(value: Any, limit: int = 80) -> str:
    """``value`` for a message: its type and (at most ``limit`` characters of) its repr."""
    text = repr(value)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}" if value is not None else "missing (null)"
