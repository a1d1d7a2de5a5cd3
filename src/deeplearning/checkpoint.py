"""Save and load models, and optimizer state, as ``.npz`` files with a JSON header.

A checkpoint is an ordinary NumPy ``.npz`` archive (readable without this library):

- ``model.<name>``: each array of ``model.state_dict()``, e.g. ``model.fc1.W``;
- ``optimizer.<name>``: each array of ``optimizer.state_dict()``, when one is saved;
- ``header``: a JSON string: the format version, the model's class and ``config`` (enough to
  rebuild it), and whatever the caller adds (data set, epoch, metrics, ...).

It is written to a temporary file beside the target and renamed over it, so a crash never
leaves half a checkpoint, and it is read with ``allow_pickle=False``, so loading a file cannot
run code.
"""

from __future__ import annotations

import json
import zipfile
from typing import Any

import numpy as np

from ._types import Array, PathLike
from .atomic import atomic_write
from .module import Module
from .optim import Optimizer
from .recipe import ENGINES

FORMAT = "deeplearning-checkpoint"
VERSION = 1


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
        Saved too, so that training can resume exactly.
    **info
        JSON-serialisable facts for the header: data set, epoch, metrics, ...
    """
    header = {
        "format": FORMAT,
        "version": VERSION,
        "model": type(model).__name__,
        "engine": model.engine,
        "config": getattr(model, "config", {}),
        **info,
    }
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
        If the file is not a ``.npz`` archive or has no valid header.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise CheckpointError(
            f"{path} is not a readable .npz checkpoint ({error}); was it written by "
            "`deeplearning train --save`?"
        ) from error
    try:
        header = json.loads(str(arrays.pop("header")))
        assert header["format"] == FORMAT
    except (KeyError, AssertionError, json.JSONDecodeError, TypeError) as error:
        raise CheckpointError(
            f"{path} is an .npz file but not a deeplearning checkpoint (no valid header)"
        ) from error
    return header, arrays


def load_checkpoint(
    path: PathLike, model: Module | None = None, optimizer: Optimizer | None = None
) -> tuple[Module, dict[str, Any]]:
    """Load a checkpoint into ``model`` (or a model rebuilt from the header) and ``optimizer``.

    TwoLayerMLP and MLP (on the path named in the header, see `recipe.ENGINES`) are rebuilt
    from the header's ``config``; any other model, a `Sequential` of your own say, loads into
    an instance you build and pass as ``model``. The parameter names are the same on both
    paths, so a checkpoint also loads into the other path's model, built and passed.

    Returns
    -------
    (Module, dict)
        The model and the header.

    Raises
    ------
    CheckpointError
        If the file is not a checkpoint, or its arrays do not fit the model (the message names
        the array and both shapes) or the optimizer.
    """
    header, arrays = read_checkpoint(path)
    if model is None:
        model = build_model(header)
    state = _with_prefix(arrays, "model.")
    try:
        model.load_state_dict(state)
        if optimizer is not None:
            optimizer_state = _with_prefix(arrays, "optimizer.")
            if not optimizer_state:
                raise ValueError("it holds no optimizer state (saved without an optimizer)")
            optimizer.load_state_dict(optimizer_state)
    except (ValueError, KeyError) as error:
        raise CheckpointError(f"{path} does not fit this model: {error}") from error
    return model, header


def build_model(header: dict[str, Any]) -> Module:
    """A freshly initialised model of the class, path and ``config`` a header names (checkpoints
    from before the autograd engine name no path: the layers)."""
    name, engine = header.get("model"), header.get("engine", "layers")
    models = ENGINES.get(engine, {})
    if name not in models:
        raise CheckpointError(
            f"the checkpoint holds a {name!r} on the {engine!r} path; this library builds "
            f"{list(ENGINES['layers'])} on the paths {list(ENGINES)}"
        )
    return models[name](**header.get("config", {}))


def _with_prefix(arrays: dict[str, Array], prefix: str) -> dict[str, Array]:
    return {name[len(prefix) :]: value for name, value in arrays.items() if name.startswith(prefix)}
