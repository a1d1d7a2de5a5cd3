"""nanoGPT's GPT on the layer path, with the whole transformer's backward pass written by hand,
as llm.c's ``gpt2_backward`` does in C. Shapes: B sequences of T positions, C = n_embd, V
tokens; the model and its names are `core.gpt_base`'s.

Forward, each line a layer whose backward is written beside its forward in its own file::

    x = drop(wte[idx] + wpe[0..T-1])         (B, T, C)    Embedding, Dropout
    per block:  a = x + attn(ln_1(x))        (B, T, C)    LayerNorm, CausalSelfAttention
                x = a + mlp(ln_2(a))         (B, T, C)    mlp: Linear, GELU, Linear, Dropout
    h = ln_f(x)                              (B, T, C)
    logits = h @ wteᵀ                        (B, T, V)    the head, tied to wte

Backward, from ``dlogits`` (B, T, V), in reverse::

    dwte  = dlogitsᵀ h                       (V, C)       the head's share of wte's gradient
    dh    = dlogits @ wte                    (B, T, C)
    dx    = ln_f.backward(dh)
    per block, last first:
        da = dx + ln_2.backward(mlp.backward(dx))       a residual sum passes its gradient
        dx = da + ln_1.backward(attn.backward(da))      to both its terms unchanged
    de    = drop.backward(dx)                (B, T, C)
    dwpe[0..T-1] = Σ_b de[b]                 (T, C)       each position's row
    dwte += scatter-add of de at idx         (V, C)       the embedding's share, added

``wte`` is used twice, by the embedding and by the head, so its gradient is the sum of both
(`core.module.Parameter.grad_out` gives the second use its own array, then adds it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ..core.gpt_base import FeedForwardBase, GPTBase, TransformerBase, TransformerBlockBase
from ..core.types import Array
from .activation import GELU
from .attention import CausalSelfAttention
from .dropout import Dropout
from .embedding import Embedding
from .layer import Layer
from .linear import Linear
from .normalization import LayerNorm

_BLOCKS: dict[str, Callable[..., Any]] = {
    "linear": Linear, "gelu": GELU, "dropout": Dropout, "layernorm": LayerNorm,
    "embedding": Embedding, "attention": CausalSelfAttention,
}  # fmt: skip


class FeedForward(FeedForwardBase, Layer):
    """The block's MLP: ``dropout(c_proj(gelu(c_fc(x))))``, (B, T, C) -> (B, T, C), each
    position on its own (the Linears see the B·T positions as rows)."""

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = _BLOCKS
    c_fc: Linear
    gelu: GELU
    c_proj: Linear
    dropout: Dropout

    def forward(self, x: Array) -> Array:
        b, t, c = x.shape
        hidden = self.gelu.forward(self.c_fc.forward(x.reshape(b * t, c)))
        return self.dropout.forward(self.c_proj.forward(hidden)).reshape(b, t, c)

    def backward(self, dout: Array) -> Array:
        b, t, c = dout.shape
        dhidden = self.c_proj.backward(self.dropout.backward(dout.reshape(b * t, c)))
        dx: Array = self.c_fc.backward(self.gelu.backward(dhidden))
        return dx.reshape(b, t, c)


class TransformerBlock(TransformerBlockBase, Layer):
    """One block, ``a = x + attn(ln_1(x))``, ``a + mlp(ln_2(a))``; backward: each residual
    sum hands its gradient to both terms."""

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = {**_BLOCKS, "feedforward": FeedForward}
    ln_1: LayerNorm
    attn: CausalSelfAttention
    ln_2: LayerNorm
    mlp: FeedForward

    def forward(self, x: Array) -> Array:
        x = x + self.attn.forward(self.ln_1.forward(x))
        return x + self.mlp.forward(self.ln_2.forward(x))

    def backward(self, dout: Array) -> Array:
        dout = dout + self.ln_2.backward(self.mlp.backward(dout))
        dx: Array = dout + self.ln_1.backward(self.attn.backward(dout))
        return dx


class Transformer(TransformerBase, Layer):
    """The body: token indices (B, T) -> the last LayerNorm's output (B, T, C)."""

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = {**_BLOCKS, "block": TransformerBlock}
    wte: Embedding
    wpe: Embedding
    drop: Dropout
    h: list[TransformerBlock]
    ln_f: LayerNorm

    def forward(self, idx: ArrayLike) -> Array:
        indices = self.check_idx(idx)
        positions = np.arange(indices.shape[1])
        x = self.drop.forward(self.wte.forward(indices) + self.wpe.forward(positions))
        for block in self.h:
            x = block.forward(x)
        return self.ln_f.forward(x)

    def backward_params(self, dout: Array) -> None:
        dx = self.ln_f.backward(dout)
        for block in reversed(self.h):
            dx = block.backward(dx)
        dx = self.drop.backward(dx)
        self.wpe.backward_params(dx.sum(axis=0))
        self.wte.backward_params(dx)

    def backward(self, dout: Array) -> Array:
        """Set every gradient; the indices get zeros (`Embedding.backward`)."""
        self.backward_params(dout)
        return np.zeros(dout.shape[:2], dtype=dout.dtype)


class GPT(GPTBase, Layer):
    """nanoGPT's GPT with a hand-written backward pass (the module docstring gives each step).

    ``GPT(vocab_size, block_size, n_layer, n_head, n_embd, dropout=0.0, bias=True, *,
    rng=None, dtype=np.float32)``: the arguments of `GPTBase`.

    Shapes: ``forward(idx)``, integer indices (B, T) with 1 <= T <= block_size, -> logits
    (B, T, vocab_size); ``backward(dlogits)`` (B, T, vocab_size) sets every parameter's
    gradient and returns zeros (B, T) (indices have no gradient). ``generate`` and
    ``attention_weights``: as `GPTBase`.

    Examples
    --------
    >>> model = GPT(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, bias=False)
    >>> logits = model.forward(idx)                          # (B, T, 65)
    >>> loss = CrossEntropyLoss().forward(logits.reshape(-1, 65), targets.reshape(-1))
    """

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = {**_BLOCKS, "transformer": Transformer}
    transformer: Transformer
    _h: Array | None = None  # the features the head read, for its backward pass

    def forward(self, idx: ArrayLike) -> Array:
        h = self.transformer.forward(idx)
        self._h = h
        wte = self.transformer.wte.weight
        wte.used_by(self)
        logits: Array = h @ wte.data.T
        return logits

    def backward_params(self, dout: Array) -> None:
        h = self._saved(self._h)
        wte = self.transformer.wte.weight
        dout = np.asarray(dout, dtype=wte.dtype)
        self._check_dout(dout, (*h.shape[:2], wte.shape[0]))
        rows, columns = dout.reshape(-1, wte.shape[0]), h.reshape(-1, h.shape[-1])
        wte.grad_written(np.matmul(rows.T, columns, out=wte.grad_out()))
        self.transformer.backward_params(dout @ wte.data)

    def backward(self, dout: Array) -> Array:
        self.backward_params(dout)
        return np.zeros(self._saved(self._h).shape[:2], dtype=dout.dtype)
