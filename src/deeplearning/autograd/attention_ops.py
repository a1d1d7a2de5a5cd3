"""Scaled dot-product attention on the engine, as PyTorch's
``F.scaled_dot_product_attention``: composed of the engine's operations (matmul, transpose,
where, softmax, a dropout mask), so its backward pass, and the backward of that, come from
theirs. For queries ``q`` (..., L, E), keys ``k`` (..., S, E) and values ``v`` (..., S, Ev)::

    s = (q @ kᵀ) · scale                 (..., L, S)    scale = 1/√E unless given
    s = where(mask, s, -inf)             a boolean mask: True where query i may attend key j
      or s + mask                        a float mask, added (-inf where attending is barred)
    p = softmax(s)                       (..., L, S)    along the keys (S)
    p̃ = dropout(p)                       p · [u >= dropout_p] / (1 - dropout_p)
    y = p̃ @ v                            (..., L, Ev)

``is_causal=True`` is the boolean mask ``j <= i`` (`core.attention_base.causal_mask`). The
gradients the engine derives are those the layer `deeplearning.layers.attention` writes out
by hand: ``dp̃ = dy @ vᵀ``, ``dv = p̃ᵀ @ dy``, ``ds = p ⊙ (dp - Σ_j dp ⊙ p)`` (0 wherever the
mask put -inf, for there p = 0), ``dq = ds @ k · scale``, ``dk = dsᵀ @ q · scale``.

**A fully masked row**, a query that may attend no key (every score -inf), has no softmax:
it would be 0 / 0. Its weights are 0 instead, so its output is 0 and no gradient flows
through it, as in PyTorch 2.13 on the CPU (both its math and its flash backends; earlier
versions gave NaN). Scores of any size (±1e4 and beyond) are safe: softmax exponentiates only
numbers <= 0 (`core.kernels.softmax`). A float mask holding NaN or +inf, where PyTorch returns
NaN, is refused.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core import kernels
from ..core.attention_base import causal_mask
from ..core.init import as_generator
from ..core.tensor import Operand, Tensor
from ..core.types import RNG, Array
from ..core.validation import check_dropout_probability, check_flag, check_number
from .arithmetic import matmul, where
from .log_likelihood import softmax
from .ops import _operand
from .shapes import transpose

Mask = Any
"""An attention mask: a boolean array (True: may attend), or a float array or Tensor (added)."""


def _check_shapes(q: Tensor, k: Tensor, v: Tensor) -> None:
    """Refuse queries, keys and values that do not fit."""
    who = "scaled_dot_product_attention"
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ValueError(
            f"{who} expected q (..., L, E), k (..., S, E) and v (..., S, Ev), each of at least "
            f"two dimensions, but got {q.shape}, {k.shape} and {v.shape}"
        )
    if q.shape[-1] != k.shape[-1] or q.shape[-1] < 1:
        raise ValueError(
            f"{who}: q {q.shape} and k {k.shape} must have the same number E >= 1 of features "
            "(their last axis)"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"{who}: k {k.shape} and v {v.shape} must have the same number S of keys "
            "(their second-to-last axis): one value per key"
        )
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{who}: the batch axes of q {q.shape}, k {k.shape} and v {v.shape} (all but the "
            "last two) must broadcast together"
        ) from None


def _as_mask(attn_mask: Mask, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array | Tensor:
    """The mask checked: boolean (an array), or float (an array of the scores' dtype, or a
    Tensor as it is), broadcastable to the scores' ``shape`` (..., L, S)."""
    who = "scaled_dot_product_attention"
    mask = attn_mask if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    kind = mask.dtype.kind
    if kind not in "bf":
        raise TypeError(
            f"{who}: attn_mask must be boolean (True where a query may attend a key) or float "
            f"(added to the scores), got dtype {mask.dtype}; for 0/1 masks pass "
            "attn_mask.astype(bool)"
        )
    if not _broadcasts_to(mask.shape, shape):
        raise ValueError(
            f"{who}: attn_mask of shape {mask.shape} does not broadcast to the scores' shape "
            f"{shape} (..., L, S)"
        )
    values = mask.data if isinstance(mask, Tensor) else mask
    if kind == "b":
        return values
    if np.isnan(values).any() or (values == np.inf).any():
        raise ValueError(
            f"{who}: a float attn_mask is added to the scores and must hold no NaN and no +inf "
            "(the softmax would be NaN); use -inf to bar a key, 0 to allow it"
        )
    return mask if isinstance(mask, Tensor) else mask.astype(dtype, copy=False)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` (without growing it)."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def attention_weights(
    q: Operand,
    k: Operand,
    attn_mask: Mask = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """The attention weights ``p = softmax(q kᵀ · scale, masked)`` (..., L, S), each row a
    distribution over the keys, or 0 for a row that may attend no key (see the module
    docstring); `scaled_dot_product_attention` is ``dropout(p) @ v``."""
    q, k = _operand(q), _operand(k)
    length, features = q.shape[-2], q.shape[-1]
    factor = 1 / math.sqrt(features) if scale is None else float(scale)
    scores = matmul(q, transpose(k, (*range(k.ndim - 2), k.ndim - 1, k.ndim - 2))) * factor
    if is_causal:
        attn_mask = causal_mask(length, k.shape[-2])
    if attn_mask is not None:
        mask = _as_mask(attn_mask, scores.shape, scores.dtype)
        if isinstance(mask, np.ndarray) and mask.dtype == bool:
            scores = where(mask, scores, -np.inf)
        else:
            scores = scores + mask
    if scores.shape[-1] == 0:  # no keys at all: nothing to weigh (an empty array)
        return scores
    dead = np.all(scores.data == -np.inf, axis=-1, keepdims=True)
    if not dead.any():
        return softmax(scores, axis=-1)
    # a row of -inf only: softmax of zeros there (no NaN, and no gradient), then weights 0
    return where(dead, 0.0, softmax(where(dead, 0.0, scores), axis=-1))


def scaled_dot_product_attention(
    q: Operand,
    k: Operand,
    v: Operand,
    attn_mask: Mask = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    *,
    rng: RNG = None,
) -> Tensor:
    """``dropout(softmax(q kᵀ · scale, masked)) @ v``, as PyTorch's
    ``F.scaled_dot_product_attention`` (the module docstring gives the maths).

    Parameters
    ----------
    q, k, v : Tensor
        Queries (..., L, E), keys (..., S, E), values (..., S, Ev); the batch axes broadcast.
    attn_mask : array or Tensor, optional
        Boolean, True where a query may attend a key; or float, added to the scores (-inf
        bars a key). Broadcastable to (..., L, S).
    dropout_p : float
        Dropout on the weights, in [0, 1]; applied whenever > 0, as PyTorch's (pass 0 in
        evaluation). Its masks come from ``rng`` (the dropout kernel of both paths).
    is_causal : bool
        Query i attends keys j <= i (a lower triangle from the top left); not with a mask.
    scale : float, optional
        The factor of the scores; 1/√E by default.
    rng : int, Generator or None
        The source of the dropout masks; None: NumPy's global random state.

    Returns
    -------
    Tensor
        (batch..., L, Ev); 0 for a query that may attend no key.

    Raises
    ------
    ValueError
        Shapes that do not fit, a mask with ``is_causal``, a mask that does not broadcast or
        (float) holds NaN or +inf, a ``dropout_p`` outside [0, 1], a ``scale`` not finite.
    TypeError
        A mask neither boolean nor float; ``is_causal`` not a bool; ``scale`` not a number.
    """
    q, k, v = _operand(q), _operand(k), _operand(v)
    _check_shapes(q, k, v)
    check_flag(is_causal, "is_causal", "scaled_dot_product_attention")
    check_dropout_probability(dropout_p)
    if scale is not None:
        check_number(scale, "scale", "scaled_dot_product_attention", example="scale=0.125")
    if is_causal and attn_mask is not None:
        raise ValueError(
            "scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both "
            "(as PyTorch); for a causal mask combined with another, pass their conjunction"
        )
    weights = attention_weights(q, k, attn_mask, is_causal, scale)
    if dropout_p > 0:
        mask = kernels.dropout_mask(weights.shape, dropout_p, as_generator(rng), weights.dtype)
        weights = weights * mask
    return matmul(weights, v)
