"""The checks the conversions share, each a one-line call at the top of a public function of
`deeplearning.interop`, made before any work: a path is a path (an int would be taken for an
open file descriptor, and closed), a model is a model, loaded weights are finite numbers."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..core.module import Module
from ..core.types import Array
from ..core.validation import non_finite
from ..training.archive import CheckpointError


def check_path(path: Any, who: str, example: str) -> None:
    """Refuse (TypeError) a ``path`` that is not a str or a ``pathlib.Path``: an int would be
    read as a file descriptor (``open(1)`` is standard output, which ``with`` then closes),
    bytes or None would fail deep inside with a message that names neither."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
        raise TypeError(
            f"{who}: path must be a file name, a str or pathlib.Path, got "
            f"{type(path).__name__} {path!r:.80}; pass e.g. {example!r}"
        )
    if not os.fspath(path):
        raise ValueError(f"{who}: path is the empty string; pass a file name, e.g. {example!r}")


def check_model(model: Any, who: str) -> None:
    """Refuse (TypeError) a ``model`` that is not a Module of this library (either path)."""
    if not isinstance(model, Module):
        raise TypeError(
            f"{who} takes a model of this library (a Module of either path), got "
            f"{type(model).__name__}: pass e.g. deeplearning.MLP([784, 128, 10])"
        )


def check_finite_weights(arrays: Mapping[str, Array], source: object) -> None:
    """Refuse (`CheckpointError`) weights read from ``source`` that hold NaN or infinity,
    naming the first such array, before any is loaded into a model: a model of such weights
    computes NaN (the file of a run that diverged, or a damaged one)."""
    for name, value in arrays.items():
        found = non_finite(value)
        if found is not None:
            raise CheckpointError(
                f"{source}: {name[:80]!r} holds {found[0]:,} NaN or infinite values of its "
                f"{value.size:,} (the first at index {found[1]}): a model of these weights "
                "computes NaN (did training diverge?). Nothing was loaded; load a file saved "
                "before the run diverged"
            )
