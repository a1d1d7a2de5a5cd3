"""Save and load models, and optimizer state, as ``.npz`` files with a JSON header.

A checkpoint is an ordinary NumPy ``.npz`` archive (readable without this library):

- ``model.<name>``: each array of ``model.state_dict()``, e.g. ``model.fc1.W``;
- ``optimizer.<name>``: each array of ``optimizer.state_dict()``, when one is saved;
- ``header``: a JSON string: the format version, the model's class and ``config`` (enough to
  rebuild it), the optimizer's class (when one is saved), and whatever the caller adds (data
  set, epoch, metrics, ...; ``train --save`` adds the recipe, history and random state that
  resuming needs).

It is written to a temporary file beside the target and renamed over it, so a crash never
leaves half a checkpoint, and it is read with ``allow_pickle=False``, so loading a file cannot
run code.

Reading trusts nothing in the file. The archive, its header and every array's shape and dtype
are checked first (`archive.Archive`, reading only the ``.npy`` headers); then the header's
``config`` must imply exactly the arrays the file holds (computed here, building nothing), and
the arrays must fit the model and optimizer given, all before any array's data is read or any
model is built. A damaged or edited file is a `CheckpointError` saying what was expected and
what came.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Callable, cast

import numpy as np
from numpy.typing import DTypeLike

from ..core.architectures import lenet5_layers, mlp_layers
from ..core.atomic import atomic_write
from ..core.module import Module
from ..core.types import Array, PathLike
from ..core.validation import non_finite
from ..optim import Optimizer
from .archive import (
    EDITED,
    FORMAT,
    RESAVE,
    VERSION,
    Archive,
    CheckpointError,
    Entry,
    Shape,
    check_resume_header,
    config_arguments,
)
from .lm_recipe import LANGUAGE_MODELS, LANGUAGE_SHAPES, language_shapes
from .recipe import ENGINES


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
        ``engine``, ``config``), or an entry that JSON cannot hold (a NumPy number or array,
        a set, an object...).
    ValueError
        If an entry holds NaN or infinity (which JSON cannot hold either), or an array of the
        model or the optimizer does (a checkpoint that could never be loaded).

    Nothing is written unless every check passes.
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
    _check_json(header)
    arrays: dict[str, Array] = {"header": np.array(json.dumps(header))}
    arrays.update((f"model.{name}", value) for name, value in model.state_dict().items())
    if optimizer is not None:
        arrays.update((f"optimizer.{name}", v) for name, v in optimizer.state_dict().items())
    check_finite(arrays)
    with atomic_write(path) as stream:
        np.savez(stream, **arrays)  # type: ignore[arg-type]  # (stubs fear an allow_pickle key)


def _check_json(header: Mapping[str, Any]) -> None:
    """Refuse a header entry that JSON cannot hold, naming it: a TypeError for a value of
    another type, a ValueError for NaN or infinity (which Python would write, as no other
    reader of JSON would read)."""
    for key, value in header.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(
                f"save_checkpoint: the header entry {key!r} cannot be written as JSON ({error}): "
                "give finite numbers, strings, booleans, None, and lists and dicts of them "
                "(float(x) of a NumPy number, x.tolist() of an array)"
            ) from None


def check_finite(arrays: Mapping[str, Array], who: str = "save_checkpoint") -> None:
    """Refuse (ValueError, its message opening with ``who``) an array of the model or
    optimizer that holds NaN or infinity, naming it: `load_checkpoint` would refuse the file."""
    for name, value in arrays.items():
        found = non_finite(np.asarray(value)) if name != "header" else None
        if found is not None:
            raise ValueError(
                f"{who}: {name!r} holds {found[0]:,} NaN or infinite values of its "
                f"{np.size(value):,} (the first at index {found[1]}): the weights are no longer "
                "usable (did training diverge?), so nothing was written"
            )


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
    with Archive(path) as archive:
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
    with Archive(path) as archive:
        header = archive.header
    check_resume_header(header, path)
    return header


def load_checkpoint(
    path: PathLike, model: Module | None = None, optimizer: Optimizer | None = None
) -> tuple[Module, dict[str, Any]]:
    """Load a checkpoint into ``model`` (or a model rebuilt from the header) and ``optimizer``.

    TwoLayerMLP, MLP and LeNet5 (on the path named in the header, see `recipe.ENGINES`), and
    the language models GPT, RecurrentLanguageModel and MLPLanguageModel
    (`lm_recipe.LANGUAGE_MODELS`), are rebuilt from the header's ``config``, once the config
    is checked to imply exactly the arrays the file holds (names and shapes, computed without
    building anything); any other model, a `Sequential` of your own say, loads into an
    instance you build and pass as ``model``. The parameter names are the same on both
    paths, so a checkpoint also loads into the other path's model, built and passed.

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
    with Archive(path) as archive:
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


def build_model(
    header: Mapping[str, Any],
    shapes: Mapping[str, Shape] | None = None,
    dtype: DTypeLike = np.float32,
) -> Module:
    """A freshly initialised model of the class, path and ``config`` a header names (the
    layers path where it names no ``engine``), its arrays of ``dtype``.

    The config is checked first (each size a positive int, ``batchnorm`` a bool, ``dropout`` in
    [0, 1), no unknown entries), and, given the ``shapes`` of the stored ``state_dict`` arrays,
    checked to imply exactly those arrays, so a header that declares a bigger model than its
    arrays is a `CheckpointError` before anything is allocated.
    """
    return _builder(header, shapes, dtype=dtype)()


def implied_shapes(header: Mapping[str, Any]) -> dict[str, Shape]:
    """The ``state_dict`` names and shapes of the model a header's class, path and ``config``
    describe, computed without building it (and so without allocating its weights).

    Raises
    ------
    CheckpointError
        If the header names a model this library cannot build, or its config is not valid.
    """
    cls = _model_class(header, "the checkpoint")
    return _shapes_of(cls, config_arguments(cls, header, "the checkpoint"), "the checkpoint")


# -- the header's model -------------------------------------------------------------------------


def _model_class(header: Mapping[str, Any], source: object) -> Callable[..., Module]:
    """The class of the model a header names, on its path (the layers where it names none):
    an image model (`recipe.ENGINES`) or a language model (`lm_recipe.LANGUAGE_MODELS`)."""
    name, engine = header.get("model"), header.get("engine", "layers")
    known = isinstance(engine, str) and engine in ENGINES
    models = {**ENGINES[engine], **LANGUAGE_MODELS[engine]} if known else {}
    if not isinstance(name, str) or name not in models:
        buildable = [*ENGINES["layers"], *LANGUAGE_MODELS["layers"]]
        raise CheckpointError(
            f"{source} holds a {name!r} on the {engine!r} path; this library builds "
            f"{buildable} on the paths {list(ENGINES)}: build the model yourself "
            "and pass it to load_checkpoint(path, model)"
        )
    return models[name]


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
    cls: Callable[..., Module], arguments: dict[str, Any], source: object, most: int | None = None
) -> dict[str, Shape]:
    """The ``state_dict`` shapes of ``cls(**arguments)``, from the same layer lists the models
    are built from (`mlp_layers`, `lenet5_layers`), with stand-in layers; a config that
    implies more than ``most`` arrays (the number stored) may be refused before listing them."""
    name = getattr(cls, "__name__", "")
    if name == "TwoLayerMLP":
        fc1 = _linear(arguments["in_features"], arguments["hidden"])
        fc2 = _linear(arguments["hidden"], arguments["num_classes"])
        return {f"fc{i}.{k}": s for i, fc in ((1, fc1), (2, fc2)) for k, s in fc.items()}
    a = arguments
    try:
        if name in LANGUAGE_SHAPES:
            return language_shapes(name, arguments, most)
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
            f"{source}: the header's config does not describe a valid {name}: {error}. {EDITED}"
        ) from error
    shapes = cast(list[dict[str, Shape]], layers)
    return {f"{i}.{key}": shape for i, layer in enumerate(shapes) for key, shape in layer.items()}


def _builder(
    header: Mapping[str, Any],
    stored: Mapping[str, Shape] | None,
    source: object = "the checkpoint",
    dtype: DTypeLike = np.float32,
) -> Callable[[], Module]:
    """Check the header's model (and, given the stored shapes, that its config implies exactly
    them); return what builds it."""
    cls = _model_class(header, source)
    arguments = config_arguments(cls, header, source)
    most = None if stored is None else len(stored)
    expected = _shapes_of(cls, arguments, source, most)  # (also checks what the types do not)
    if stored is not None and expected != dict(stored):
        raise CheckpointError(_config_mismatch(header, cls, expected, stored, source))
    config = dict(header.get("config", {}))

    def build() -> Module:
        try:
            return cls(**config, dtype=dtype)
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
    optimizer: Optimizer, header: Mapping[str, Any], entries: Mapping[str, Entry], path: object
) -> None:
    """The stored optimizer state is the state of ``optimizer``'s class, over parameters of
    its shapes, in its parameter groups (checked before any data is read)."""
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
                f"{path}: its optimizer state lacks {name!r} (it has {sorted(state)}). {EDITED}"
            )
    _check_groups(optimizer, state, path)
    allowed = optimizer.BUFFERS or None  # a user's optimizer may not declare its buffers
    for key, shape in state.items():
        if key in ("lr", "steps") or key.startswith("group."):
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


def _check_groups(optimizer: Optimizer, state: Mapping[str, Shape], path: object) -> None:
    """The stored state has ``optimizer``'s parameter groups: as many (one where it has no
    ``group.*`` arrays), each of as many parameters (`Optimizer.load_state_dict` checks the
    rest: which parameters, and each option)."""
    sizes = [len(group["params"]) for group in optimizer.param_groups]
    saved = {key.split(".")[1] for key in state if key.startswith("group.")}
    stored = [state.get(f"group.{g}.params") for g in range(len(saved))]
    if (saved or len(sizes) > 1) and stored != [(size,) for size in sizes]:
        held = (
            f"{len(saved)} parameter groups ('group.<g>.params' of shapes {stored})"
            if saved
            else "one parameter group (no 'group.*' arrays)"
        )
        raise CheckpointError(
            f"{path} does not fit this optimizer: its state holds {held}, but the optimizer "
            f"has {len(sizes)} groups of {sizes} parameters. Build the optimizer with the "
            "parameter groups the checkpoint was saved with"
        )


def _count(shapes: Mapping[str, Shape]) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def _with_prefix(arrays: dict[str, Array], prefix: str) -> dict[str, Array]:
    return {name[len(prefix) :]: value for name, value in arrays.items() if name.startswith(prefix)}
