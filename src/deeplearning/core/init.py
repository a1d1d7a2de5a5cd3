"""Initialisation: where a model's random numbers come from (`as_generator`), and the initial
weights both paths draw, so that one seed builds the same network on either.

- `he_normal`: ``W ~ N(0, 2 / fan_in)`` (He et al., 2015), for Linear layers followed by ReLU;
- `conv_init`: PyTorch's default for a convolution, weight and bias ``~ U(-1/sqrt(fan_in),
  1/sqrt(fan_in))`` with ``fan_in = C kh kw``;
- `embedding_init`: PyTorch's embedding table, ``N(0, 1)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from .types import RNG, Array
from .validation import check_int, check_rng, float_dtype


def as_generator(rng: RNG) -> np.random.Generator:
    """The generator for ``rng``: a seed gives ``np.random.default_rng(seed)``, a generator is
    returned as it is, and None gives a generator seeded with 128 bits drawn from NumPy's
    global random state (the legacy ``np.random`` functions').

    So without ``rng``, ``np.random.seed(0)`` before building a model makes its weights (and
    whatever else the generator drives, such as dropout masks) repeatable, and an unseeded
    program still gets fresh weights each run. The draw advances the global state: two models
    built one after the other differ. Passing an explicit ``rng`` remains the recommended way,
    since it does not depend on what else has used the global state.
    """
    if rng is None:  # the legacy global state, on purpose: it is what np.random.seed sets
        seed = np.random.randint(0, 2**32, size=4, dtype=np.uint32)  # noqa: NPY002
        return np.random.default_rng(seed)
    check_rng(rng)
    return np.random.default_rng(rng)


def he_normal(fan_in: int, fan_out: int, rng: RNG, dtype: DTypeLike) -> Array:
    """He (Kaiming) normal weights ``W ~ N(0, 2 / fan_in)`` of shape (fan_in, fan_out), for
    layers followed by ReLU; shared by both paths' ``Linear``. Without ``rng`` they come from
    NumPy's global random state (`as_generator`), so ``np.random.seed`` repeats them.

    Raises ValueError unless both sizes are positive ints (a zero-sized layer is refused when
    it is built), and TypeError unless ``dtype`` is a float type (`float_dtype`)."""
    check_int(fan_in, "in_features", "Linear")
    check_int(fan_out, "out_features", "Linear")
    dtype = float_dtype(dtype, "Linear")
    generator = as_generator(rng)
    weight = generator.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
    weights: Array = weight.astype(dtype)
    return weights


def conv_init(
    out_channels: int, in_channels: int, kernel: tuple[int, int], rng: RNG, dtype: DTypeLike
) -> tuple[Array, Array]:
    """PyTorch's default weights (out, in, kh, kw) and bias (out,) of a convolution: both
    uniform in ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` with ``fan_in = in kh kw`` (its
    ``kaiming_uniform_(a=sqrt(5))``). Without ``rng`` they come from NumPy's global random
    state (`as_generator`), so ``np.random.seed`` repeats them."""
    check_int(in_channels, "in_channels", "Conv2d")
    check_int(out_channels, "out_channels", "Conv2d")
    dtype = float_dtype(dtype, "Conv2d")
    generator = as_generator(rng)
    bound = 1 / np.sqrt(in_channels * kernel[0] * kernel[1])
    weight = generator.uniform(-bound, bound, (out_channels, in_channels, *kernel))
    bias = generator.uniform(-bound, bound, out_channels)
    return weight.astype(dtype), bias.astype(dtype)


def embedding_init(num_embeddings: int, embedding_dim: int, rng: RNG, dtype: DTypeLike) -> Array:
    """PyTorch's initial embedding table (num_embeddings, embedding_dim): ``N(0, 1)`` entries.
    Without ``rng`` they come from NumPy's global random state (`as_generator`)."""
    check_int(num_embeddings, "num_embeddings", "Embedding", example="Embedding(10000, 64)")
    check_int(embedding_dim, "embedding_dim", "Embedding", example="Embedding(10000, 64)")
    dtype = float_dtype(dtype, "Embedding")
    table: Array = as_generator(rng).standard_normal((num_embeddings, embedding_dim))
    return table.astype(dtype)
