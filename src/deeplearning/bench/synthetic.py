"""Synthetic MNIST-shaped data for the benchmarks: held in memory, seeded, and learnable."""

from __future__ import annotations

import numpy as np

from ..core.types import Array
from ..core.validation import check_int

INK = 0.2
"""The share of a synthetic image's pixels that are not 0 (MNIST's digits cover about 19%)."""


def synthetic_mnist(samples: int, seed: int) -> tuple[Array, Array]:
    """MNIST-shaped data that trains as MNIST does: ``x`` (samples, 784) float32, each pixel 0
    or, with probability `INK`, uniform in [0, 1); labels ``y`` (samples,) in 0..9 from a fixed
    random linear teacher: ``y = argmax(x T - mean over samples of x T)`` for T (784, 10)
    standard normal (the centring makes the ten classes about equally common).

    Why not uniform pixels and random labels: with every pixel positive and nothing to learn,
    most of the network's ReLU units die and the momentum of their weights decays into
    subnormal floats, which Intel processors compute many times slower, so the benchmark would
    time those rather than training (README.md's Speed section gives the figures). On these
    data the network learns and no subnormal appears (`tests/test_bench.py` checks both)."""
    check_int(samples, "samples", "synthetic_mnist")
    rng = np.random.default_rng(seed)
    x = rng.random((samples, 784), dtype=np.float32)
    for start in range(0, samples, 4096):  # the ink in blocks: the same draws, less memory
        block = x[start : start + 4096]
        block *= rng.random(block.shape, dtype=np.float32) < INK
    scores = x @ rng.standard_normal((784, 10)).astype(np.float32)
    y = np.argmax(scores - scores.mean(axis=0), axis=1)
    return x, y
