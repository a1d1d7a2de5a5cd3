"""Type aliases shared by every module."""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]
"""A NumPy array of floats; the batch dimension comes first."""

RNG = Union[int, np.random.Generator, None]
"""A seed, a generator, or None for fresh entropy (as `numpy.random.default_rng` takes)."""

PathLike = Union[str, "os.PathLike[str]"]
"""A file path: a string or a `pathlib.Path`."""
