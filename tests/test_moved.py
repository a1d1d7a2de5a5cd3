"""The flat layout's module paths keep working after the move into folders (`_moved`): each
old path imports with a DeprecationWarning that names the new place, and gives the very
objects the new modules hold."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

import deeplearning
from deeplearning._moved import MOVED
from deeplearning.core import atomic, module, tensor, windows
from deeplearning.data import datasets, download, registry
from deeplearning.layers import dropout, models, normalization
from deeplearning.optim import lr_scheduler
from deeplearning.training import checkpoint, loop, recipe

MOVED_NAMES = [
    ("schedules", "CosineAnnealingLR", lr_scheduler.CosineAnnealingLR),
    ("datasets", "load_mnist", datasets.load_mnist),
    ("datasets", "DATASETS", registry.DATASETS),
    ("datasets", "download_dataset", download.download_dataset),
    ("train", "fit", loop.fit),
    ("recipe", "Recipe", recipe.Recipe),
    ("checkpoint", "save_checkpoint", checkpoint.save_checkpoint),
    ("regularization", "Dropout", dropout.Dropout),
    ("regularization", "BatchNorm2d", normalization.BatchNorm2d),
    ("lenet", "LeNet5", models.LeNet5),
    ("module", "Module", module.Module),
    ("convolution", "im2col", windows.im2col),
    ("atomic", "atomic_write", atomic.atomic_write),
    ("autograd.tensor", "Tensor", tensor.Tensor),
]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_every_new_home_exists(old: str) -> None:
    for target in MOVED[old]:
        importlib.import_module(f"deeplearning.{target}")


@pytest.mark.parametrize(
    ("old", "name", "new"), MOVED_NAMES, ids=[f"{o}.{n}" for o, n, _ in MOVED_NAMES]
)
def test_an_old_path_gives_the_same_object_and_says_where_it_went(
    old: str, name: str, new: object
) -> None:
    sys.modules.pop(f"deeplearning.{old}", None)
    with pytest.warns(DeprecationWarning, match=rf"deeplearning\.{old} moved: import from"):
        moved = importlib.import_module(f"deeplearning.{old}")
    assert getattr(moved, name) is new


def test_a_name_the_old_module_never_had_is_an_error_naming_the_new_place() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        moved = importlib.import_module("deeplearning.schedules")
        with pytest.raises(ImportError, match="cannot import name 'NoSuchSchedule'"):
            exec("from deeplearning.schedules import NoSuchSchedule", {})
    with pytest.raises(AttributeError, match=r"now deeplearning\.optim\.lr_scheduler"):
        moved.NoSuchSchedule  # noqa: B018


def test_new_and_seed_paths_do_not_warn_and_unknown_paths_stay_unknown() -> None:
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import deeplearning, deeplearning.neural_net, deeplearning.losses\n"
        "import deeplearning.mnist_mlp, deeplearning.optim.lr_scheduler\n"
        "try:\n    import deeplearning.no_such_module\nexcept ModuleNotFoundError:\n"
        "    print('unknown')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "unknown\n"


def test_the_finder_is_installed_once() -> None:
    from deeplearning import _moved

    _moved.install()
    finders = [f for f in sys.meta_path if type(f).__name__ == "_MovedFinder"]
    assert len(finders) == 1 and deeplearning.__name__ == "deeplearning"
