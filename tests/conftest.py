"""Shared fixtures: PyTorch as an optional oracle, and the real MNIST data directory."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest


@pytest.fixture(scope="session")
def torch() -> ModuleType:
    """PyTorch (CPU), or a clean skip when the optional `torch` extra is not installed."""
    module = pytest.importorskip("torch", reason="PyTorch oracle tests need the `torch` extra")
    module.set_default_dtype(module.float64)
    return module


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed generator, so every test sees the same data on every run."""
    return np.random.default_rng(12345)
