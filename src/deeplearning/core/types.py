"""The type aliases every module shares: `Array`, `RNG` and `PathLike`."""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]
"""A NumPy array of floats; the batch dimension comes first."""

RNG = Union[int, np.random.Generator, None]
"""A seed, a generator, or None: a generator seeded from NumPy's global random state, so that
``np.random.seed`` makes runs repeatable (see `as_generator`)."""

PathLike = Union[str, "os.PathLike[str]"]
"""A file path: a string or a `pathlib.Path`."""
