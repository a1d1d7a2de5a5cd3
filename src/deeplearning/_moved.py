"""The module paths of the flat layout, kept working: ``from deeplearning.schedules import
CosineAnnealingLR`` still imports, with a `DeprecationWarning` that names the new place.

Before the package was arranged in folders (`core`, `layers`, `autograd`, `optim`, `training`,
`data`, `cli`, `bench`), each of these modules sat at its root. An import of an old path gets a
module whose attributes are looked up, in order, in the modules that now hold them. (The seed's
own modules, `neural_net`, `losses` and `mnist_mlp`, are real files and do not warn.)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any

MOVED: dict[str, tuple[str, ...]] = {
    "_types": ("core.types", "core.validation", "core.init"),
    "atomic": ("core.atomic",),
    "checkpoint": ("training.checkpoint", "training.archive"),
    "cnn_bench": ("bench.cnn",),
    "conv_layers": ("layers.conv", "layers.pooling", "core.bases", "core.init"),
    "convolution": ("core.windows",),
    "datasets": ("data.datasets", "data.registry", "data.download"),
    "functional": ("core.kernels", "core.validation"),
    "gradcheck": ("core.finite_differences", "layers.layer_check"),
    "idx": ("data.idx",),
    "lenet": ("layers.models", "core.architectures"),
    "metrics": ("training.metrics",),
    "module": ("core.module",),
    "plots": ("cli.plots",),
    "recipe": ("training.recipe",),
    "regularization": ("layers.normalization", "layers.dropout", "core.bases"),
    "schedules": ("optim.lr_scheduler",),
    "train": ("training.loop",),
    "autograd.tensor": ("core.tensor",),
}
"""Each old module (below ``deeplearning.``) and the modules that now hold its names."""


class _Loader(importlib.abc.Loader):
    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = targets

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return types.ModuleType(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        places = [f"{__package__}.{target}" for target in self.targets]
        warnings.warn(
            f"{module.__name__} moved: import from {' or '.join(places)}",
            DeprecationWarning,
            stacklevel=2,
        )

        def find(name: str) -> Any:
            for place in places:
                holder = importlib.import_module(place)
                if hasattr(holder, name):
                    return getattr(holder, name)
            raise AttributeError(f"{module.__name__} (now {', '.join(places)}) has no {name!r}")

        module.__getattr__ = find  # type: ignore[method-assign]


class _MovedFinder(importlib.abc.MetaPathFinder):
    """Finds the old paths of `MOVED` (and nothing else)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        prefix = f"{__package__}."
        old = fullname[len(prefix) :] if fullname.startswith(prefix) else None
        if old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(MOVED[old]))


def install() -> None:
    """Put the finder on `sys.meta_path`, once."""
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
