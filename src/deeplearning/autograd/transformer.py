"""nanoGPT's GPT on the engine: the model of `core.gpt_base` composed of the engine's modules
(`modules`), so ``loss.backward()`` derives the backward pass that `deeplearning.layers.gpt` writes
by hand, and the one of that (``create_graph=True``) too. For indices ``idx`` (B, T)::

    x = drop(wte(idx) + wpe(arange(T)))                  (B, T, C)
    per block:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
    logits = ln_f(x) @ wteᵀ                              (B, T, V), the head tied to wte

``wte.weight`` is one `Parameter` used twice, so the engine adds the gradients of both uses,
as PyTorch does for nanoGPT's tied ``lm_head``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ..core.gpt_base import FeedForwardBase, GPTBase, TransformerBase, TransformerBlockBase
from ..core.grad_mode import grad_mode
from ..core.tensor import Tensor
from ..core.types import Array
from . import functional as F
from .modules import GELU, CausalSelfAttention, Dropout, Embedding, LayerNorm, Linear

_BLOCKS: dict[str, Callable[..., Any]] = {
    "linear": Linear, "gelu": GELU, "dropout": Dropout, "layernorm": LayerNorm,
    "embedding": Embedding, "attention": CausalSelfAttention,
}  # fmt: skip


class FeedForward(FeedForwardBase):
    """The block's MLP, ``dropout(c_proj(gelu(c_fc(x))))``: (B, T, C) -> (B, T, C)."""

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = _BLOCKS

    def forward(self, x: Tensor) -> Tensor:
        b, t, c = x.shape
        hidden = self.gelu(self.c_fc(F.reshape(x, (b * t, c))))
        out: Tensor = F.reshape(self.dropout(self.c_proj(hidden)), (b, t, c))
        return out


class TransformerBlock(TransformerBlockBase):
    """One block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = {**_BLOCKS, "feedforward": FeedForward}

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        out: Tensor = x + self.mlp(self.ln_2(x))
        return out


class Transformer(TransformerBase):
    """The body: token indices (B, T) -> the last LayerNorm's output (B, T, C)."""

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = {**_BLOCKS, "block": TransformerBlock}

    def forward(self, idx: ArrayLike) -> Tensor:
        indices = self.check_idx(idx)
        x = self.drop(self.wte(indices) + self.wpe(np.arange(indices.shape[1])))
        for block in self.h:
            x = block(x)
        out: Tensor = self.ln_f(x)
        return out


class GPT(GPTBase):
    """nanoGPT's GPT on the engine: ``forward(idx)``, integer indices (B, T) with
    1 <= T <= block_size (a NumPy array: a Tensor holds floats), -> logits Tensor
    (B, T, vocab_size). Arguments, names and initialisation: `GPTBase`, the same as the layer
    `deeplearning.GPT` for one ``rng``; ``generate`` and ``attention_weights`` too.

    Examples
    --------
    >>> model = GPT(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, bias=False)
    >>> logits = model(idx)                                   # (B, T, 65)
    >>> F.cross_entropy(logits.reshape(-1, 65), targets.reshape(-1)).backward()
    """

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = {**_BLOCKS, "transformer": Transformer}

    def forward(self, idx: ArrayLike) -> Tensor:
        h = self.transformer(idx)
        logits: Tensor = h @ F.transpose(self.transformer.wte.weight)
        return logits

    def infer(self, x: Array) -> Array:
        """The logits for a batch of indices, as an array, recording no graph."""
        with grad_mode(False):
            out: Tensor = self(x)
        return out.data
