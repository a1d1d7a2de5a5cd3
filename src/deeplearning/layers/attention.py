"""Causal self-attention on the layer path, `CausalSelfAttention` (nanoGPT's), with its backward
pass written out, as llm.c's ``attention_backward``.

Shapes: B sequences of T positions, C = n_embd features, NH heads of HS = C / NH features.
Forward, for ``x`` (B, T, C)::

    qkv = c_attn(x)                       (B, T, 3C)      x @ W_attn + b_attn
    q, k, v = split(qkv)                  (B, T, C) each, in that order
    q, k, v -> (B, NH, T, HS)             split the heads: reshape (B, T, NH, HS), swap T, NH
    s = (q @ kᵀ) · scale                  (B, NH, T, T)   scale = 1/√HS
    s[i, j] = -inf where j > i            the causal mask: position i sees positions <= i
    p = softmax(s)                        (B, NH, T, T)   along the last axis (core's kernel)
    p̃ = attn_dropout(p)                   (B, NH, T, T)   p · mask / (1 - dropout)
    y = p̃ @ v                             (B, NH, T, HS)
    y -> (B, T, C)                        merge the heads: swap NH, T back, reshape
    out = resid_dropout(c_proj(y))        (B, T, C)

Backward, from ``dout = dL/dout`` (B, T, C), each step the adjoint of one above::

    dy = c_proj.backward(resid_dropout.backward(dout))     (B, T, C), and c_proj's grads
    dy -> (B, NH, T, HS)                  split the heads, as y was merged
    dp̃ = dy @ vᵀ                          (B, NH, T, T)
    dv = p̃ᵀ @ dy                          (B, NH, T, HS)
    dp = attn_dropout.backward(dp̃)        (B, NH, T, T)   dp̃ · mask / (1 - dropout)
    ds = p ⊙ (dp - Σ_j dp ⊙ p)            (B, NH, T, T)   softmax's Jacobian, diag(p) - p pᵀ,
                                                          row by row, never formed
    (the causal mask: p = 0 where j > i, so ds = 0 there; -inf is a constant)
    ds = ds · scale
    dq = ds @ k                           (B, NH, T, HS)
    dk = dsᵀ @ q                          (B, NH, T, HS)
    dq, dk, dv -> (B, T, 3C)              merge the heads, concatenate in the order q, k, v
    dx = c_attn.backward(dqkv)            (B, T, C), and c_attn's grads

The -inf of the mask never meets arithmetic: softmax subtracts the row's maximum, which is
finite (position i always sees itself), so ``exp(-inf) = 0`` exactly, and no row is ever fully
masked on this path. Scores of any size (±1e4 and more) are safe: softmax only ever
exponentiates numbers <= 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable, ClassVar

import numpy as np

from ..core.attention_base import CausalSelfAttentionBase, causal_mask
from ..core.kernels import softmax
from ..core.types import Array
from .dropout import Dropout
from .layer import Layer
from .linear import Linear


class CausalSelfAttention(CausalSelfAttentionBase, Layer):
    """Multi-head causal self-attention (nanoGPT's ``CausalSelfAttention``), with a
    hand-written backward pass (the module docstring gives every step, with shapes).

    ``CausalSelfAttention(n_embd, n_head, dropout=0.0, bias=True, *, rng=None,
    dtype=np.float32)``: the arguments of `CausalSelfAttentionBase`. Sub-layers: ``c_attn``
    `Linear` (C -> 3C: q, k, v in that order), ``c_proj`` `Linear` (C -> C), and two
    `Dropout` layers, ``attn_dropout`` (on the attention weights) and ``resid_dropout`` (on
    the output), whose masks come from the generator that drew the weights.

    Shapes: ``x`` (B, T, n_embd) -> (B, T, n_embd); T >= 1, B may be 0. The input is converted
    to the parameters' dtype.
    """

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = {"linear": Linear, "dropout": Dropout}

    c_attn: Linear
    c_proj: Linear
    attn_dropout: Dropout
    resid_dropout: Dropout
    _saved_forward: tuple[Array, Array, Array, Array, Array] | None = None

    def forward(self, x: Array) -> Array:
        x = self.as_input(x, self.c_attn.W.dtype)
        self.check_input(x.shape)
        b, t, c = x.shape
        nh, hs = self.n_head, self.head_size
        qkv = self.c_attn.forward(x.reshape(b * t, c))  # (B T, 3C)
        # (B, T, 3, NH, HS) -> (3, B, NH, T, HS): q, k, v, each with its heads split off
        q, k, v = qkv.reshape(b, t, 3, nh, hs).transpose(2, 0, 3, 1, 4)
        scores = q @ k.swapaxes(-1, -2)  # (B, NH, T, T)
        scores *= 1 / math.sqrt(hs)
        scores[..., ~causal_mask(t)] = -np.inf
        att = softmax(scores, axis=-1)
        dropped = self.attn_dropout.forward(att)
        y = dropped @ v  # (B, NH, T, HS)
        y = y.transpose(0, 2, 1, 3).reshape(b * t, c)  # merge the heads
        out = self.resid_dropout.forward(self.c_proj.forward(y))
        self._saved_forward = (q, k, v, att, dropped)
        return out.reshape(b, t, c)

    def _backward_to_qkv(self, dout: Array) -> Array:
        """dL/dqkv (B T, 3C), the gradient at c_attn's output; sets c_proj's gradients."""
        q, k, v, att, dropped = self._saved(self._saved_forward)
        b, nh, t, hs = q.shape
        c = nh * hs
        dout = np.asarray(dout, dtype=q.dtype)
        self._check_dout(dout, (b, t, c))
        dy = self.c_proj.backward(self.resid_dropout.backward(dout.reshape(b * t, c)))
        dy = dy.reshape(b, t, nh, hs).transpose(0, 2, 1, 3)  # split the heads: (B, NH, T, HS)
        d_dropped = dy @ v.swapaxes(-1, -2)  # (B, NH, T, T)
        dv = dropped.swapaxes(-1, -2) @ dy  # (B, NH, T, HS)
        datt = self.attn_dropout.backward(d_dropped)
        # softmax: ds = p (dp - sum_j dp p); 0 wherever p is, so also where the mask put -inf
        dscores = att * (datt - (datt * att).sum(axis=-1, keepdims=True))
        dscores *= 1 / math.sqrt(hs)
        dq = dscores @ k  # (B, NH, T, HS)
        dk = dscores.swapaxes(-1, -2) @ q  # (B, NH, T, HS)
        # (3, B, NH, T, HS) -> (B, T, 3, NH, HS): the inverse of the forward's transpose
        dqkv: Array = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(b * t, 3 * c)
        return dqkv

    def backward(self, dout: Array) -> Array:
        b, _, t, _ = self._saved(self._saved_forward)[0].shape
        dx: Array = self.c_attn.backward(self._backward_to_qkv(dout))
        return dx.reshape(b, t, self.n_embd)

    def backward_params(self, dout: Array) -> None:
        self.c_attn.backward_params(self._backward_to_qkv(dout))
