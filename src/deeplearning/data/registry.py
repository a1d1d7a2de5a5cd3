"""The registry of data sets, and where their files are found.

Two kinds of data set load by name. Three image sets share the MNIST layout (four IDX files,
28x28 grey images, ten classes) and load through `datasets.load_mnist`: ``"mnist"``,
``"fashion-mnist"`` and ``"kmnist"``. Two text sets are one plain-text file each and load
through `text`: ``"tinyshakespeare"`` (Shakespeare's plays, 1.1 MB, for character-level
language models) and ``"names"`` (32,033 first names, one a line, for makemore's models).
`DATASETS` holds, for each, its kind, its files with their SHA-256 and size, its mirrors and
(for images) its class names. Each lives in a folder named after it under a data directory.
The directories searched, in order:

1. the ``data_dir`` argument;
2. the ``DEEPLEARNING_DATA`` environment variable;
3. the user's cache, ``$XDG_CACHE_HOME/deeplearning`` (``~/.cache/deeplearning`` by default);
4. Debian's ``/usr/share/datasets``.

A directory may also be the data set's folder itself (``.../mnist`` holding the four files),
as long as the folder bears the data set's name. A file may be gzipped (as published) or not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..core.types import PathLike

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
SHAKESPEARE_TEXT = "input.txt"
NAMES_TEXT = "names.txt"

Kind = Literal["images", "text"]
"""What a data set holds: MNIST-style IDX images and labels, or one plain-text file."""


@dataclass(frozen=True)
class DatasetInfo:
    """What is known of a data set: its files with their SHA-256 and size (compressed, in
    bytes), mirrors (base URLs the file names are appended to), class names (none for text)
    and kind."""

    name: str
    mirrors: tuple[str, ...]
    sha256: dict[str, str]
    classes: tuple[str, ...]
    sizes: dict[str, int] = field(default_factory=dict)
    kind: Kind = "images"


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="mnist",
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
            ),
            sha256={
                TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            },
            sizes={  # the files in ../shared/data/mnist, as published
                TRAIN_IMAGES: 9_912_422,
                TRAIN_LABELS: 28_881,
                TEST_IMAGES: 1_648_877,
                TEST_LABELS: 4_542,
            },
            classes=tuple("0123456789"),
        ),
        DatasetInfo(
            name="fashion-mnist",
            mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            sha256={
                TRAIN_IMAGES: "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
                TRAIN_LABELS: "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
                TEST_IMAGES: "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
                TEST_LABELS: "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
            },
            sizes={
                TRAIN_IMAGES: 26_421_880,
                TRAIN_LABELS: 29_515,
                TEST_IMAGES: 4_422_102,
                TEST_LABELS: 5_148,
            },
            classes=(
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
        ),
        DatasetInfo(
            name="kmnist",
            mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            sha256={
                TRAIN_IMAGES: "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                TRAIN_LABELS: "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                TEST_IMAGES: "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                TEST_LABELS: "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
            },
            sizes={
                TRAIN_IMAGES: 18_165_135,
                TRAIN_LABELS: 29_497,
                TEST_IMAGES: 3_041_136,
                TEST_LABELS: 5_120,
            },
            classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ),
        DatasetInfo(
            name="tinyshakespeare",  # karpathy/char-rnn, as nanoGPT's shakespeare_char uses it
            mirrors=(
                "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/",
            ),
            sha256={
                SHAKESPEARE_TEXT: "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
            },
            sizes={SHAKESPEARE_TEXT: 1_115_394},
            classes=(),
            kind="text",
        ),
        DatasetInfo(
            name="names",  # karpathy/makemore's names.txt
            mirrors=("https://raw.githubusercontent.com/karpathy/makemore/master/",),
            sha256={NAMES_TEXT: "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"},
            sizes={NAMES_TEXT: 228_145},
            classes=(),
            kind="text",
        ),
    )
}


class DatasetNotFoundError(FileNotFoundError):
    """The files of a data set are nowhere to be found and could not be downloaded."""


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``, or an error listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}"
        ) from None


def dataset_names(kind: Kind | None = None) -> list[str]:
    """The names of the registered data sets of ``kind`` (all of them if None), sorted: the
    image trainer and ``evaluate`` take those of kind ``"images"``."""
    return sorted(name for name, info in DATASETS.items() if kind in (None, info.kind))


def search_dirs(data_dir: PathLike | None = None) -> list[Path]:
    """The data directories searched, in order (see this module's docstring)."""
    dirs = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get("DEEPLEARNING_DATA"):
        dirs.append(Path(os.environ["DEEPLEARNING_DATA"]))
    dirs.append(cache_dir())
    dirs.append(Path("/usr/share/datasets"))
    return dirs


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/deeplearning``, or ``~/.cache/deeplearning``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "deeplearning"


def locate(name: str, data_dir: PathLike | None = None) -> Path | None:
    """The first folder that holds all the set's files (gzipped or not), if any: ``<dir>/<name>``,
    or ``<dir>`` itself when it is named ``name`` (a directory pointing at the set's folder)."""
    info = dataset_info(name)
    for root in search_dirs(data_dir):
        for folder in candidate_folders(root, name):
            if is_complete(folder, info):
                return folder
    return None


def candidate_folders(root: Path, name: str) -> list[Path]:
    """The folders of ``root`` that may hold ``name``'s files: ``root/name``, and ``root`` itself
    when it is named ``name``."""
    return [root / name, root] if root.name == name else [root / name]


def is_complete(folder: Path, info: DatasetInfo) -> bool:
    """Whether ``folder`` holds every file of ``info`` (gzipped or not)."""
    return all(find_file(folder, filename) for filename in info.sha256)


def find_file(folder: Path, filename: str) -> Path | None:
    """``folder/filename``, or its uncompressed twin without ``.gz``, whichever exists."""
    for candidate in (folder / filename, folder / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None
