"""What causal self-attention holds on both paths, `CausalSelfAttentionBase` (nanoGPT's
``CausalSelfAttention``), and the causal mask, `causal_mask`.

For a batch of sequences ``x`` (B, T, C), with ``C = n_embd`` split into ``n_head`` heads of
``hs = C / n_head`` features::

    q, k, v = split(x @ W_attn + b_attn)              each (B, T, C): c_attn, C -> 3C
    q, k, v -> (B, n_head, T, hs)                     the heads split off and moved forward
    att = softmax(q kᵀ / √hs, masked causally)        (B, n_head, T, T)
    y = attn_dropout(att) @ v                         (B, n_head, T, hs)
    y -> (B, T, C)                                    the heads merged back
    out = resid_dropout(y @ W_proj + b_proj)          (B, T, C): c_proj, C -> C

Each path's module (`deeplearning.layers.attention`, `deeplearning.autograd.attention_ops`)
adds only how it computes; the parameters (``c_attn.W`` (C, 3C), ``c_attn.b``, ``c_proj.W``
(C, C), ``c_proj.b``) have the same names, shapes and, for one ``rng``, values, so one
``state_dict`` loads into either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from .init import as_generator
from .module import Module
from .types import RNG, Array
from .validation import check_dropout_probability, check_flag, check_int


def causal_mask(length: int, source_length: int | None = None) -> Array:
    """Where query ``i`` may attend key ``j``: ``j <= i``, a boolean (L, S) lower triangle
    (PyTorch's ``ones(L, S).tril()``, aligned at the top left; S = L by default)."""
    columns = length if source_length is None else source_length
    mask: Array = np.tri(length, columns, dtype=bool)
    return mask


class CausalSelfAttentionBase(Module):
    """The arguments, sub-modules and input check of causal self-attention, for either path:
    a subclass names its path's ``Linear`` and ``Dropout`` in `BLOCKS`.

    Parameters
    ----------
    n_embd : int
        C, the features of each position; a multiple of ``n_head``.
    n_head : int
        The number of heads, each of ``C / n_head`` features.
    dropout : float
        The probability of both dropouts, on the attention weights (``attn_dropout``) and on
        the output (``resid_dropout``); 0 for none.
    bias : bool
        Whether ``c_attn`` and ``c_proj`` learn a bias.
    rng, dtype
        One generator draws ``c_attn.W`` then ``c_proj.W`` (the default init of `Linear`;
        nanoGPT's scaled init of ``c_proj`` belongs to the model that stacks the blocks) and
        then drives both dropouts' masks, so one seed gives the same module, and the same
        masks, on both paths. float32 by default.

    Raises
    ------
    TypeError
        ``n_embd`` or ``n_head`` is not an int, ``dropout`` not a number, ``bias`` not a bool.
    ValueError
        A size < 1, ``n_embd`` not a multiple of ``n_head``, ``dropout`` outside [0, 1].
    """

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]]
    """The path's ``"linear"`` and ``"dropout"`` classes."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        dropout: float = 0.0,
        bias: bool = True,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        where = type(self).__name__
        check_int(n_embd, "n_embd", where, example=f"{where}(64, 4)")
        check_int(n_head, "n_head", where, example=f"{where}(64, 4)")
        if n_embd % n_head:
            raise ValueError(
                f"{where}: n_embd ({n_embd}) must be a multiple of n_head ({n_head}), so that "
                f"each head has n_embd / n_head features; pass e.g. {where}({n_head * 16}, "
                f"{n_head})"
            )
        check_dropout_probability(dropout)
        check_flag(bias, "bias", where)
        super().__init__()
        self.n_embd, self.n_head, self.head_size = n_embd, n_head, n_embd // n_head
        self.config = {"n_embd": n_embd, "n_head": n_head, "dropout": dropout, "bias": bias}
        generator = as_generator(rng)
        linear, dropout_module = self.BLOCKS["linear"], self.BLOCKS["dropout"]
        self.c_attn = linear(n_embd, 3 * n_embd, bias, rng=generator, dtype=dtype)
        self.c_proj = linear(n_embd, n_embd, bias, rng=generator, dtype=dtype)
        self.attn_dropout = dropout_module(dropout, rng=generator)
        self.resid_dropout = dropout_module(dropout, rng=generator)

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse a batch that is not sequences (B, T, n_embd) of at least one position."""
        if len(shape) != 3 or shape[2] != self.n_embd or shape[1] < 1:
            raise ValueError(
                f"{type(self).__name__}(n_embd={self.n_embd}, n_head={self.n_head}) expected "
                f"input of shape (B, T, {self.n_embd}) with T >= 1 positions, but got "
                f"{tuple(shape)}. One sequence of T positions is x.reshape(1, T, "
                f"{self.n_embd})."
            )

    def extra_repr(self) -> str:
        return f"n_embd={self.n_embd}, n_head={self.n_head}"
