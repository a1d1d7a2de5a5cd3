"""Shared fixtures: PyTorch as an optional oracle, and the real MNIST and text data directory."""

from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import settings

from deeplearning.data.registry import locate

# In CI the random examples are derived from each test's name, so a run can be repeated
# exactly; locally they vary from run to run, to keep finding new cases.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def load_tool(name: str) -> ModuleType:
    """The script ``tools/<name>.py``, loaded from its path (tools/ is not a package)."""
    path = Path(__file__).resolve().parents[1] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def torch() -> ModuleType:
    """PyTorch (CPU), or a clean skip when the optional `torch` extra is not installed."""
    return pytest.importorskip("torch", reason="PyTorch oracle tests need the `torch` extra")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed generator, so every test sees the same data on every run."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The data directory holding the real MNIST files (``DEEPLEARNING_DATA``), or a skip."""
    root = os.environ.get("DEEPLEARNING_DATA")
    if not root or locate("mnist", root) is None:
        pytest.skip("real MNIST is not available: set DEEPLEARNING_DATA to a folder with mnist/")
    return Path(root)


@pytest.fixture(scope="session")
def text_root() -> Path:
    """The data directory holding the real text files (``DEEPLEARNING_DATA``: its
    ``tinyshakespeare/input.txt`` and ``names/names.txt``), or a skip."""
    root = os.environ.get("DEEPLEARNING_DATA")
    if not root or locate("tinyshakespeare", root) is None or locate("names", root) is None:
        pytest.skip(
            "the real text data is not available: set DEEPLEARNING_DATA to a folder with "
            "tinyshakespeare/input.txt and names/names.txt"
        )
    return Path(root)


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """Write ``array`` (uint8) as an IDX file, gzipped if ``compress``; return the path."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_fake_dataset(
    folder: Path, n_train: int = 300, n_test: int = 100, seed: int = 0
) -> dict[str, np.ndarray]:
    """Four small gzipped IDX files in ``folder``: learnable 'digits' (one bright row each)."""
    gen = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = gen.integers(0, 10, n).astype(np.uint8)
        images = gen.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        images[np.arange(n), 2 + 2 * labels.astype(int), :] = 255
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)
        arrays[f"{split}-images"], arrays[f"{split}-labels"] = images, labels
    return arrays


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian blobs in 6 dimensions."""
    gen = np.random.default_rng(seed)
    labels = gen.integers(0, 3, n)
    centres = np.eye(3, 6) * 4
    return (centres[labels] + gen.standard_normal((n, 6))).astype(np.float32), labels
