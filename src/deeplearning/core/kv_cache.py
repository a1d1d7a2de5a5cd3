"""Inference for a GPT with a key/value cache, `KVCache`: the forward pass of `gpt_base`
written on the parameters' arrays, for new tokens only.

In causal attention, position t's output depends on the keys and values of positions 0..t,
and those of earlier positions do not change when a token is appended. So generation keeps,
for each block, the keys and values computed so far, (B, n_head, T, hs) each, and for each
new token computes only its own query, key and value::

    q, k, v = c_attn(ln_1(x_new))              one position: (B, n_head, 1, hs) each
    K = [K, k]   V = [V, v]                    the cache grows by one position
    y = softmax(q Kᵀ / √hs) V                  (B, n_head, 1, hs): no mask needed, all
                                               cached positions are in the past

Per token and block that is O(T·C) for attention and O(C²) for the projections, instead of
O(T²·C + T·C²) for reading the whole context again; the cache holds 2·B·T·C numbers per
block. Several new tokens at once (the prompt) attend causally: new position j (absolute
``start + j``) sees keys 0..start+j.

Both paths' GPTs hold the same sub-modules and names (`gpt_base`), so one cache serves both;
`GPTBase.generate` checks it against the model's own forward pass (the same tokens greedily).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import kernels
from .types import Array


class KVCache:
    """The keys and values of the tokens a GPT has read so far, one pair per block.

    ``KVCache(model).forward(idx)`` reads new tokens ``idx`` (B, t) after the ``length`` read
    before (their positions are ``length .. length + t - 1``, so ``length + t`` must not pass
    ``block_size``) and returns the logits of the last one, (B, V). ``attention`` holds each
    block's attention weights of that call, (B, n_head, t, length + t).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.keys: list[Array] = []
        self.values: list[Array] = []
        self.attention: list[Array] = []
        self.length = 0

    def forward(self, idx: Array) -> Array:
        """The logits (B, V) of the last of the new tokens ``idx`` (B, t), with dropout off."""
        body = self.model.transformer
        start, t = self.length, idx.shape[1]
        if start + t > body.block_size:
            raise ValueError(
                f"KVCache: {start} cached and {t} new positions exceed the block size "
                f"({body.block_size}); start a new cache from the cropped context"
            )
        x = body.wte.weight.data[idx] + body.wpe.weight.data[start : start + t]
        self.attention = []
        for i, block in enumerate(body.h):
            x = x + self._attend(i, block.attn, _layer_norm(block.ln_1, x))
            mlp = block.mlp
            hidden = kernels.gelu(
                _linear(mlp.c_fc, _layer_norm(block.ln_2, x)), mlp.gelu.approximate
            )
            x = x + _linear(mlp.c_proj, hidden)
        self.length += t
        logits: Array = _layer_norm(body.ln_f, x[:, -1]) @ body.wte.weight.data.T
        return logits

    def _attend(self, i: int, attn: Any, x: Array) -> Array:
        """Block ``i``'s causal self-attention for the new positions ``x`` (B, t, C)."""
        b, t, c = x.shape
        nh, hs = attn.n_head, attn.head_size
        q, k, v = _linear(attn.c_attn, x).reshape(b, t, 3, nh, hs).transpose(2, 0, 3, 1, 4)
        if i == len(self.keys):
            self.keys.append(k)
            self.values.append(v)
        else:
            self.keys[i] = np.concatenate([self.keys[i], k], axis=2)
            self.values[i] = np.concatenate([self.values[i], v], axis=2)
        keys, values = self.keys[i], self.values[i]
        scores = (q @ keys.swapaxes(-1, -2)) * (1 / math.sqrt(hs))  # (B, nh, t, start + t)
        scores[..., ~np.tri(t, keys.shape[2], keys.shape[2] - t, dtype=bool)] = -np.inf
        att = kernels.softmax(scores, axis=-1)
        self.attention.append(att)
        y = (att @ values).transpose(0, 2, 1, 3).reshape(b, t, c)
        return _linear(attn.c_proj, y)


def _linear(layer: Any, x: Array) -> Array:
    """``x @ W + b`` (no ``b`` for a Linear without bias)."""
    out: Array = x @ layer.W.data
    return out if layer.b is None else out + layer.b.data


def _layer_norm(norm: Any, x: Array) -> Array:
    """A LayerNorm over the last axis: `kernels.layer_norm`, then weight and bias."""
    y: Array = kernels.layer_norm(x, (-1,), norm.eps)[0]
    if norm.weight is not None:
        y = y * norm.weight.data
    return y if norm.bias is None else y + norm.bias.data
