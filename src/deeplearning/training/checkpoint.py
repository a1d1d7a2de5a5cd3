"""Save and load models, and optimizer state, as ``.npz`` files with a JSON header.

A checkpoint is an ordinary NumPy ``.npz`` archive (readable without this library):

- ``model.<name>``: each array of ``model.state_dict()``, e.g. ``model.fc1.W``;
- ``optimizer.<name>``: each array of ``optimizer.state_dict()``, when one is saved;
- ``header``: a JSON string: the format version, the model's class and ``config`` (enough to
  rebuild it), the optimizer's class (when one is saved), and whatever the caller adds (data
  set, epoch, metrics, ...).

It is written to a temporary file beside the target and renamed over it, so a crash never
leaves half a checkpoint, and it is read with ``allow_pickle=False``, so loading a file cannot
run code.

Reading trusts nothing in the file. Every array's shape and dtype are read from its ``.npy``
header (a few bytes) and checked against the archive's sizes, the JSON header and the model
before any array's data is read or any model is built, so a damaged or edited file is a
`CheckpointError` saying what was expected and what came, never a huge allocation, a
``KeyError`` or a model with NaN weights: a file's arrays are bounded by what its header
declares, and a header's ``config`` must imply exactly the arrays the file holds.
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
from typing import IO, Any, Callable, cast

import numpy as np

from ..core.architectures import lenet5_layers, mlp_layers
from ..core.atomic import atomic_write
from ..core.module import Module
from ..core.types import Array, PathLike
from ..optim import SGD, Adam, AdamW, Optimizer, RMSprop
from .fit import EpochStats
from .recipe import ENGINES, Recipe

FORMAT = "deeplearning-checkpoint"
VERSION = 1
MAX_HEADER_CHARS = 1 << 22
"""The longest JSON header read (4 Mi characters; a run's header is a few KB)."""
MAX_DEFLATE_RATIO = 1032
"""Deflate cannot expand data more than about 1032 times: a compressed member that declares
more is damaged (or a zip bomb), refused before anything is inflated."""
OPTIMIZER_BUFFERS: dict[type[Optimizer], frozenset[str]] = {
    SGD: frozenset({"velocity"}),
    RMSprop: frozenset({"square_avg", "grad_avg", "momentum_buffer"}),
    Adam: frozenset({"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    AdamW: frozenset({"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
}
"""The state buffers each optimizer of this library keeps (``optimizer.<buffer>.<index>``)."""
RESAVE = "re-save the model with save_checkpoint (or `deeplearning train --save`)"

Shape = tuple[int, ...]


class CheckpointError(ValueError):
    """A file is not a checkpoint of this library, or does not fit the model it is loaded into."""


def save_checkpoint(
    path: PathLike, model: Module, optimizer: Optimizer | None = None, **info: Any
) -> None:
    """Write ``model`` (and ``optimizer``'s state) to ``path`` atomically.

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file to write (its folder must exist).
    model : Module
        A model with a ``config`` attribute (its constructor's keywords), on either path.
    optimizer : Optimizer, optional
        Saved too (its class is named in the header), so that training can resume exactly.
    **info
        JSON-serialisable facts for the header: data set, epoch, metrics, ...

    Raises
    ------
    TypeError
        If ``info`` names an entry the header reserves (``format``, ``version``, ``model``,
        ``engine``, ``config``).
    """
    header = {
        "format": FORMAT,
        "version": VERSION,
        "model": type(model).__name__,
        "engine": model.engine,
        "config": getattr(model, "config", {}),
    }
    reserved = sorted(info.keys() & header.keys())
    if reserved:
        raise TypeError(
            f"save_checkpoint: {reserved} are written by save_checkpoint itself; give your "
            "facts other names"
        )
    if optimizer is not None:
        header["optimizer"] = type(optimizer).__name__
    header.update(info)
    arrays: dict[str, Array] = {"header": np.array(json.dumps(header))}
    arrays.update((f"model.{name}", value) for name, value in model.state_dict().items())
    if optimizer is not None:
        arrays.update((f"optimizer.{name}", v) for name, v in optimizer.state_dict().items())
    with atomic_write(path) as stream:
        np.savez(stream, **arrays)  # type: ignore[arg-type]  # (stubs fear an allow_pickle key)


def read_checkpoint(path: PathLike) -> tuple[dict[str, Any], dict[str, Array]]:
    """The header and every array of a checkpoint, checked to be one of ours.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is not a ``.npz`` archive, has no valid header, is of another format
        version, or holds an array that is damaged, of the wrong kind (weights that are not
        floating-point), or NaN or infinite.
    """
    with _Archive(path) as archive:
        return archive.header, {name: archive.read(name) for name in archive.entries}


def read_resume_header(path: PathLike) -> dict[str, Any]:
    """The header of a checkpoint written by ``train --save``, checked to hold what resuming
    needs: ``recipe`` (a dict of `Recipe` entries of the right types), ``epoch`` (an int >= 1),
    ``history`` (``epoch`` records of `EpochStats`, epochs 1, 2, ...) and ``rng_state`` (the
    state of NumPy's PCG64, `np.random.default_rng`'s generator). Only the header is read.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is not a checkpoint (see `read_checkpoint`), or its header lacks one of
        those entries or has one of the wrong type or value.
    """
    with _Archive(path) as archive:
        header = archive.header
    check_resume_header(header, path)
    return header


def check_resume_header(header: Mapping[str, Any], source: object = "the checkpoint") -> None:
    """Refuse a header that cannot resume a run (see `read_resume_header`) with a
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
            f"but is {_shown(epoch)}. {_EDITED}"
        )
    if not isinstance(history, list) or len(history) != epoch:
        got = f"a list of {len(history)}" if isinstance(history, list) else _shown(history)
        raise CheckpointError(
            f"{source}: the header's 'history' should be a list of the {epoch} epochs' "
            f"records (epoch {epoch} was the last), but is {got}. {_EDITED}"
        )
    for i, record in enumerate(history):
        _check_record(record, i + 1, source)
    _check_rng_state(header["rng_state"], source)


def load_checkpoint(
    path: PathLike, model: Module | None = None, optimizer: Optimizer | None = None
) -> tuple[Module, dict[str, Any]]:
    """Load a checkpoint into ``model`` (or a model rebuilt from the header) and ``optimizer``.

    TwoLayerMLP, MLP and LeNet5 (on the path named in the header, see `recipe.ENGINES`) are
    rebuilt from the header's ``config``, once the config is checked to imply exactly the
    arrays the file holds (names and shapes, computed without building anything); any other
    model, a `Sequential` of your own say, loads into an instance you build and pass as
    ``model``. The parameter names are the same on both paths, so a checkpoint also loads into
    the other path's model, built and passed.

    Returns
    -------
    (Module, dict)
        The model and the header.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CheckpointError
        If the file is not a checkpoint (see `read_checkpoint`), its config does not match its
        arrays, or its arrays do not fit the model (the message names the array and both
        shapes) or the optimizer (its class, buffers and shapes), all checked before any array
        is read or any model built.
    """
    with _Archive(path) as archive:
        header = archive.header
        stored = {
            name[len("model.") :]: entry.shape
            for name, entry in archive.entries.items()
            if name.startswith("model.")
        }
        build: Callable[[], Module] | None = None
        if model is None:
            build = _builder(header, stored, source=path)
        else:
            _check_fits(
                {name: value.shape for name, value in model.state_dict().items()}, stored, path
            )
        wanted = [name for name in archive.entries if name.startswith("model.")]
        if optimizer is not None:
            _check_optimizer(optimizer, header, archive.entries, path)
            wanted += [name for name in archive.entries if name.startswith("optimizer.")]
        arrays = {name: archive.read(name) for name in wanted}
    if build is not None:
        model = build()
    assert model is not None  # (built above, or given)
    try:
        model.load_state_dict(_with_prefix(arrays, "model."))
        if optimizer is not None:
            optimizer.load_state_dict(_with_prefix(arrays, "optimizer."))
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} does not fit this model: {error}") from error
    return model, header


def build_model(header: Mapping[str, Any], shapes: Mapping[str, Shape] | None = None) -> Module:
    """A freshly initialised model of the class, path and ``config`` a header names (checkpoints
    from before the autograd engine name no path: the layers).

    The config is checked first (each size a positive int, ``batchnorm`` a bool, ``dropout`` in
    [0, 1), no unknown entries), and, given the ``shapes`` of the stored ``state_dict`` arrays,
    checked to imply exactly those arrays, so a header that declares a bigger model than its
    arrays is a `CheckpointError` before anything is allocated.
    """
    return _builder(header, shapes)()


def implied_shapes(header: Mapping[str, Any]) -> dict[str, Shape]:
    """The ``state_dict`` names and shapes of the model a header's class, path and ``config``
    describe, computed without building it (and so without allocating its weights).

    Raises
    ------
    CheckpointError
        If the header names a model this library cannot build, or its config is not valid.
    """
    cls = _model_class(header, "the checkpoint")
    return _shapes_of(cls, _config_arguments(cls, header, "the checkpoint"), "the checkpoint")


# -- the archive ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """An array of the archive, as its ``.npy`` header declares it (its data not yet read)."""

    info: zipfile.ZipInfo
    shape: Shape
    dtype: np.dtype[Any]


_READ_ERRORS = (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, RuntimeError)


class _Archive:
    """An open checkpoint: the checked header and every array's shape and dtype; `read` reads
    one array's data."""

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

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zip.close()

    def _unreadable(self, error: object) -> CheckpointError:
        return CheckpointError(
            f"{self.path} is not a readable .npz checkpoint ({error}); was it written by "
            "`deeplearning train --save`? A file that was: it is damaged, " + RESAVE
        )

    def _entries(self, size_on_disk: int) -> dict[str, _Entry]:
        entries: dict[str, _Entry] = {}
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
            entries[name] = _Entry(info, shape, dtype)
        return entries

    def _header(self, entry: _Entry | None) -> dict[str, Any]:
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
            raise CheckpointError(f"{invalid}: its format should be {FORMAT!r}, got {_shown(got)})")
        version = header.get("version")
        if not _is_int(version) or version != VERSION:
            raise CheckpointError(
                f"{self.path} is a deeplearning checkpoint of format version {_shown(version)}, "
                f"but this library reads version {VERSION}: load it with the version of "
                "deeplearning that wrote it and re-save it, or train again"
            )
        for name, kind in (("model", str), ("engine", str), ("config", dict)):
            if name in header and not isinstance(header[name], kind):
                raise CheckpointError(
                    f"{self.path}: the header's {name!r} should be a {kind.__name__}, but is "
                    f"{_shown(header[name])}. {_EDITED}"
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
                    f"'model.*' and 'optimizer.*' arrays. {_EDITED}"
                )
            if not ok:
                raise CheckpointError(
                    f"{self.path}: {name!r} should hold {expected}, but holds {entry.dtype} "
                    f"values of shape {shape}. {_EDITED}"
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
        if entry is not None and entry.dtype.kind == "f":
            bad = ~np.isfinite(array)
            if bad.any():
                first = tuple(int(i) for i in np.argwhere(bad)[0])
                raise CheckpointError(
                    f"{self.path}: {name!r} should hold finite numbers, but {int(bad.sum()):,} "
                    f"of its {array.size:,} values are NaN or infinite (the first at index "
                    f"{first}: {array[first]}). The run diverged before it was saved, or the "
                    "file is damaged: load an earlier checkpoint"
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


# -- the header's model -------------------------------------------------------------------------

_EDITED = f"The file was edited or damaged: {RESAVE}"
_POSITIVE_INTS = ("in_features", "hidden", "num_classes", "in_channels", "image_size")


def _model_class(header: Mapping[str, Any], source: object) -> Callable[..., Module]:
    name, engine = header.get("model"), header.get("engine", "layers")
    models = ENGINES.get(engine, {}) if isinstance(engine, str) else {}
    if not isinstance(name, str) or name not in models:
        raise CheckpointError(
            f"{source} holds a {name!r} on the {engine!r} path; this library builds "
            f"{list(ENGINES['layers'])} on the paths {list(ENGINES)}: build the model yourself "
            "and pass it to load_checkpoint(path, model)"
        )
    return models[name]


def _config_arguments(
    cls: Callable[..., Module], header: Mapping[str, Any], source: object
) -> dict[str, Any]:
    """The header's config bound to ``cls``'s arguments (defaults filled in), each checked."""
    config = header.get("config", {})
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{source}: the header's 'config' should be a dict, but is {_shown(config)}. {_EDITED}"
        )
    name = getattr(cls, "__name__", str(cls))
    signature = inspect.signature(cls)
    known = [p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise CheckpointError(
            f"{source}: the header's config has the entries {unknown}, which {name} does not "
            f"take (it takes {known}). {_EDITED}"
        )
    try:
        bound = signature.bind_partial(**config)
        bound.apply_defaults()
    except TypeError as error:  # (bind_partial accepts a missing argument, kept a default)
        raise CheckpointError(
            f"{source}: the header's config does not fit {name}: {error}. {_EDITED}"
        ) from error
    arguments = {key: bound.arguments[key] for key in known if key in bound.arguments}
    missing = [key for key in known if key not in arguments]
    if missing:
        raise CheckpointError(
            f"{source}: the header's config lacks {missing}, which {name} needs. {_EDITED}"
        )
    for key, value in arguments.items():
        expected = _config_problem(key, value)
        if expected:
            raise CheckpointError(
                f"{source}: the header's config gives {name} {key}={value!r} "
                f"({type(value).__name__}), but {key} must be {expected}. {_EDITED}"
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
    if key == "batchnorm" and not isinstance(value, bool):
        return "true or false"
    if key == "dropout" and not (_is_real(value) and 0 <= value < 1):
        return "a number in [0, 1)"
    return ""


def _linear(fan_in: int, fan_out: int, **_: Any) -> dict[str, Shape]:
    return {"W": (fan_in, fan_out), "b": (fan_out,)}


def _batchnorm(features: int, **_: Any) -> dict[str, Shape]:
    return dict.fromkeys(("weight", "bias", "running_mean", "running_var"), (features,))


def _conv(c_in: int, c_out: int, kernel: int, **_: Any) -> dict[str, Shape]:
    return {"weight": (c_out, c_in, kernel, kernel), "bias": (c_out,)}


class _ShapeBlocks(dict[str, Callable[..., dict[str, Shape]]]):
    """Stand-ins for the layer classes: each gives its layer's array shapes, allocating
    nothing; layers without arrays (activations, pooling, dropout, flatten) give none."""

    def __missing__(self, key: str) -> Callable[..., dict[str, Shape]]:
        return lambda *args, **kwargs: {}


_SHAPE_BLOCKS = _ShapeBlocks(
    linear=_linear, batchnorm=_batchnorm, batchnorm2d=_batchnorm, conv=_conv
)


def _shapes_of(
    cls: Callable[..., Module], arguments: dict[str, Any], source: object
) -> dict[str, Shape]:
    """The ``state_dict`` shapes of ``cls(**arguments)``, from the same layer lists the models
    are built from (`mlp_layers`, `lenet5_layers`), with stand-in layers."""
    name = getattr(cls, "__name__", "")
    if name == "TwoLayerMLP":
        fc1 = _linear(arguments["in_features"], arguments["hidden"])
        fc2 = _linear(arguments["hidden"], arguments["num_classes"])
        return {f"fc{i}.{k}": s for i, fc in ((1, fc1), (2, fc2)) for k, s in fc.items()}
    a = arguments
    try:
        if name == "MLP":
            layers = mlp_layers(
                a["sizes"], a["activation"], a["batchnorm"], a["dropout"], 0, np.float32,
                _SHAPE_BLOCKS,
            )  # fmt: skip
        elif name == "LeNet5":
            layers = lenet5_layers(
                a["in_channels"], a["num_classes"], a["image_size"], a["batchnorm"],
                a["dropout"], 0, np.float32, _SHAPE_BLOCKS,
            )  # fmt: skip
        else:  # a model added to ENGINES needs a rule here (a test checks every one has one)
            raise CheckpointError(f"{source}: no shape rule for {name}")
    except (ValueError, TypeError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(
            f"{source}: the header's config does not describe a valid {name}: {error}. {_EDITED}"
        ) from error
    shapes = cast(list[dict[str, Shape]], layers)
    return {f"{i}.{key}": shape for i, layer in enumerate(shapes) for key, shape in layer.items()}


def _builder(
    header: Mapping[str, Any], stored: Mapping[str, Shape] | None, source: object = "the checkpoint"
) -> Callable[[], Module]:
    """Check the header's model (and, given the stored shapes, that its config implies exactly
    them); return what builds it."""
    cls = _model_class(header, source)
    arguments = _config_arguments(cls, header, source)
    expected = _shapes_of(cls, arguments, source)  # (also checks what the types do not)
    if stored is not None and expected != dict(stored):
        raise CheckpointError(_config_mismatch(header, cls, expected, stored, source))
    config = dict(header.get("config", {}))

    def build() -> Module:
        try:
            return cls(**config)
        except (ValueError, TypeError) as error:
            raise CheckpointError(f"{source}: cannot build its model: {error}") from error

    return build


def _config_mismatch(
    header: Mapping[str, Any],
    cls: Callable[..., Module],
    expected: Mapping[str, Shape],
    stored: Mapping[str, Shape],
    source: object,
) -> str:
    name = getattr(cls, "__name__", str(cls))
    implied, held = _count(expected), _count(stored)
    missing = sorted(expected.keys() - stored.keys())
    unexpected = sorted(stored.keys() - expected.keys())
    wrong = [key for key in expected if key in stored and expected[key] != stored[key]]
    if wrong:
        key = wrong[0]
        detail = (
            f"'model.{key}' should have shape {expected[key]} for that config but is stored "
            f"with shape {stored[key]}"
        )
    else:
        detail = f"the config implies arrays {missing} the file lacks, and not {unexpected}"
    return (
        f"{source}: the header's config {header.get('config', {})} implies a {name} of "
        f"{implied:,} values, but the file's arrays hold {held:,}: {detail}. Nothing was built. "
        "The header and the arrays disagree (the file was edited or damaged): "
        f"{RESAVE}, or build the model yourself and pass it to load_checkpoint(path, model)"
    )


def _check_fits(own: Mapping[str, Shape], stored: Mapping[str, Shape], path: object) -> None:
    """The stored arrays have the names and shapes of a model the caller built (checked before
    any data is read; `Module.load_state_dict` checks again)."""
    missing = sorted(own.keys() - stored.keys())
    unexpected = sorted(stored.keys() - own.keys())
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not fit this model: it lacks {missing} and holds the unexpected "
            f"{unexpected}. Build the model the checkpoint was saved from (its header's model "
            "and config say which)"
        )
    for name, shape in own.items():
        if stored[name] != shape:
            raise CheckpointError(
                f"{path} does not fit this model: {name!r}: the model has shape {shape} but "
                f"the checkpoint has {stored[name]}. Build the model with the sizes the "
                "checkpoint was saved from (its header's config)"
            )


def _check_optimizer(
    optimizer: Optimizer, header: Mapping[str, Any], entries: Mapping[str, _Entry], path: object
) -> None:
    """The stored optimizer state is the state of ``optimizer``'s class, over parameters of
    its shapes (checked before any data is read)."""
    state = {
        name[len("optimizer.") :]: entry.shape
        for name, entry in entries.items()
        if name.startswith("optimizer.")
    }
    if not state:
        raise CheckpointError(
            f"{path} does not fit this model: it holds no optimizer state (saved without an "
            "optimizer); load it without one and start the optimizer afresh"
        )
    kind = type(optimizer).__name__
    saved = header.get("optimizer", kind)
    if saved != kind:
        raise CheckpointError(
            f"{path} holds the state of a {saved} optimizer, not of the {kind} being resumed: "
            f"resume with the optimizer it was saved with (--optimizer {str(saved).lower()}), "
            "or load the model alone and start the optimizer afresh"
        )
    for name in ("lr", "steps"):
        if name not in state:
            raise CheckpointError(
                f"{path}: its optimizer state lacks {name!r} (it has {sorted(state)}). {_EDITED}"
            )
    allowed = OPTIMIZER_BUFFERS.get(type(optimizer))
    for key, shape in state.items():
        if key in ("lr", "steps"):
            continue
        buffer, _, index = key.rpartition(".")
        if allowed is not None and buffer not in allowed:
            raise CheckpointError(
                f"{path}: its optimizer state holds {key!r}, but {kind} keeps only "
                f"{sorted(allowed)}: the state is another optimizer's. Resume with the "
                "optimizer it was saved with, or load the model alone and start the optimizer "
                "afresh"
            )
        i = int(index) if index.isdigit() else -1
        n = len(optimizer.params)
        if not 0 <= i < n or shape != optimizer.params[i].data.shape:
            fit = f" (shape {optimizer.params[i].data.shape})" if 0 <= i < n else ""
            raise CheckpointError(
                f"{path} does not fit this model: optimizer state {key!r} of shape {shape} "
                f"does not fit parameter {index} of {n}{fit}: was it saved for another model? "
                "Give the optimizer the parameters of the model the checkpoint was saved from"
            )


def _count(shapes: Mapping[str, Shape]) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


# -- the header's training state ----------------------------------------------------------------


def _check_recipe(recipe: Any, source: object) -> None:
    """A dict of `Recipe` entries, each of its field's type (the type of its default, and a
    number or None where the default is None)."""
    if not isinstance(recipe, dict):
        raise CheckpointError(
            f"{source}: the header's 'recipe' should be a dict of `Recipe` entries, but is "
            f"{_shown(recipe)}. {_EDITED}"
        )
    defaults = {field.name: field.default for field in fields(Recipe)}
    unknown = sorted(recipe.keys() - defaults.keys())
    if unknown:
        raise CheckpointError(
            f"{source}: the header's recipe has the unknown entries {unknown} (known: "
            f"{sorted(defaults)}). {_EDITED}"
        )
    for key, value in recipe.items():
        default = defaults[key]
        if isinstance(default, bool):
            ok, expected = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, expected = _is_int(value), "an int"
        elif isinstance(default, str):
            ok, expected = isinstance(value, str), "a string"
        else:  # a float, or None for "the optimizer's default"
            ok = (value is None and default is None) or _is_real(value)
            expected = "a number" + (" or null" if default is None else "")
        if not ok:
            raise CheckpointError(
                f"{source}: the header's recipe gives {key}={_shown(value)}, but {key} must be "
                f"{expected}. {_EDITED}"
            )


def _check_record(record: Any, epoch: int, source: object) -> None:
    names = [field.name for field in fields(EpochStats)]
    where = f"{source}: the header's history[{epoch - 1}]"
    if not isinstance(record, dict) or sorted(record) != sorted(names):
        got = f"the entries {sorted(record)}" if isinstance(record, dict) else _shown(record)
        raise CheckpointError(
            f"{where} should be an epoch's record with the entries {names}, but has {got}. "
            f"{_EDITED}"
        )
    if record["epoch"] != epoch or not _is_int(record["epoch"]):
        raise CheckpointError(
            f"{where} should be epoch {epoch}'s record, but is {_shown(record['epoch'])}'s. "
            f"{_EDITED}"
        )
    for name in names[1:]:
        if not _is_real(record[name]):
            raise CheckpointError(
                f"{where} gives {name}={_shown(record[name])}, but {name} must be a number. "
                f"{_EDITED}"
            )


def _check_rng_state(state: Any, source: object) -> None:
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
            f"and uinteger), but is {_shown(state)}. {_EDITED}"
        )


# -- helpers ----------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shown(value: Any, limit: int = 80) -> str:
    """``value`` for a message: its type and (at most ``limit`` characters of) its repr."""
    text = repr(value)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}" if value is not None else "missing (null)"


def _with_prefix(arrays: dict[str, Array], prefix: str) -> dict[str, Array]:
    return {name[len(prefix) :]: value for name, value in arrays.items() if name.startswith(prefix)}
