"""How every language model turns logits into text: one token at a time, as nanoGPT's
``generate`` draws it, and the checks ``generate`` runs before any work.

For the last position's logits z (B, V), a temperature τ > 0 and ``top_k`` k::

    s = (z - max z) / τ          shifted first, so that a tiny τ gives -inf, never inf - inf
    s_j = -inf where s_j < the k-th largest s        (ties at the k-th are kept)
    p = softmax(s)                                   (B, V)
    token = the first j with p_1 + ... + p_j > u,    u ~ U(0, 1), one per row

``top_k=1`` is greedy; τ < 1 sharpens the distribution, τ > 1 flattens it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import kernels
from .tensor import Tensor
from .types import Array
from .validation import check_int, check_number


def sample(
    logits: Array, temperature: float, top_k: int | None, generator: np.random.Generator
) -> Array:
    """One token per row of ``logits`` (B, V), drawn from ``softmax(logits / temperature)``
    over the ``top_k`` largest by inverting the cumulative sum at a uniform draw.

    Returns
    -------
    ndarray
        (B, 1) int64.
    """
    shifted = logits.astype(np.float64)
    shifted -= shifted.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):  # a tiny temperature: -inf, the weight 0 it means
        scaled = shifted / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = np.partition(scaled, -top_k, axis=-1)[:, -top_k, None]
        scaled[scaled < kth] = -np.inf
    probs = kernels.softmax(scaled, axis=-1)
    cumulative = np.cumsum(probs, axis=-1)
    draws = generator.random((len(probs), 1)) * cumulative[:, -1:]
    token: Array = np.minimum((cumulative <= draws).sum(axis=-1), scaled.shape[-1] - 1)
    return token.astype(np.int64).reshape(-1, 1)


def check_token_batch(idx: ArrayLike, who: str, length: int | None = None) -> Array:
    """``idx`` as an int64 array (B, T) of token ids, T >= 1 (or T = ``length``): a TypeError
    for a Tensor or floats, a ValueError for another shape. The ids' range is the embedding's
    to check."""
    if isinstance(idx, Tensor):
        raise TypeError(
            f"{who} takes token ids as a NumPy integer array (B, T), not a Tensor, which holds "
            "floats: pass e.g. np.array([[1, 2, 3]])"
        )
    array = np.asarray(idx)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{who} takes integer token ids (B, T), got dtype {array.dtype}")
    wanted = "T >= 1" if length is None else f"T = block_size = {length}"
    if array.ndim != 2 or array.shape[1] < 1 or (length is not None and array.shape[1] != length):
        raise ValueError(
            f"{who} expected token ids of shape (B, T), {wanted}, but got {array.shape}. One "
            "sequence is idx.reshape(1, -1)."
        )
    return array.astype(np.int64, copy=False)


def check_generate(
    idx: ArrayLike, max_new_tokens: int, temperature: float, top_k: int | None, who: str
) -> Array:
    """``generate``'s arguments checked before any work; returns ``idx`` as an int64 (B, T)
    array with B >= 1 and T >= 1."""
    where = f"{who}.generate"
    check_int(max_new_tokens, "max_new_tokens", where, low=0, example="max_new_tokens=100")
    check_number(temperature, "temperature", where, low=0, low_open=True,
                 example="temperature=0.8",
                 why=" (0 would divide by zero; top_k=1 picks the likeliest token)")  # fmt: skip
    if top_k is not None:
        check_int(top_k, "top_k", where, example="top_k=200")
    prompts = check_token_batch(idx, where)
    if len(prompts) == 0:
        raise ValueError(f"{where} got no prompt (B = 0 rows): give at least one, "
                         "e.g. idx=np.zeros((1, 1), dtype=np.int64)")  # fmt: skip
    return prompts


def extend(prompts: Array, max_new_tokens: int) -> Array:
    """An int64 array (B, T + ``max_new_tokens``) that starts with ``prompts`` (B, T), for
    ``generate`` to fill in place, one column per new token (no copy per token)."""
    tokens = np.zeros((len(prompts), prompts.shape[1] + max_new_tokens), dtype=np.int64)
    tokens[:, : prompts.shape[1]] = prompts
    return tokens
