"""What a GPT holds on both paths: nanoGPT's model (Radford et al., 2019, as Karpathy's
``model.py`` writes it), its sub-modules, names and initialisation, and generation.

For token indices ``idx`` (B, T), T <= block_size, a vocabulary of V tokens and C = n_embd::

    x = wte[idx] + wpe[0..T-1]                        (B, T, C)   token + position embeddings
    x = drop(x)
    for each of the n_layer blocks h.i:
        x = x + attn(ln_1(x))                         causal self-attention, residual
        x = x + mlp(ln_2(x))                          mlp = dropout(c_proj(gelu(c_fc(·))))
    x = ln_f(x)                                       (B, T, C)
    logits = x @ wteᵀ                                 (B, T, V)   lm_head, tied to wte

The names are nanoGPT's: ``transformer.wte.weight`` (V, C), ``transformer.wpe.weight``
(block_size, C), ``transformer.h.{i}.ln_1.weight``/``.bias``, ``.attn.c_attn.W``/``.b``
(C, 3C), ``.attn.c_proj`` (C, C), ``.ln_2``, ``.mlp.c_fc`` (C, 4C), ``.mlp.c_proj`` (4C, C),
``transformer.ln_f``. A Linear's weight here is ``W`` (in, out), the transpose of PyTorch's
``weight`` (out, in). The language-model head has no parameter of its own: it is ``wte``'s
table (weight tying, Press & Wolf, 2017), counted once.

Initialisation (nanoGPT's ``_init_weights``): every Linear weight and both embeddings
``N(0, 0.02)``, biases 0, LayerNorm weights 1, and the two ``c_proj`` weights of each block
``N(0, 0.02 / √(2 n_layer))``, since each block adds two of them to the residual stream.

Each path's module (`deeplearning.layers.gpt`, `deeplearning.autograd.transformer`) names its own
blocks in ``BLOCKS`` and adds how it computes; `generate` and `attention_weights` are here,
on the key/value cache of `core.kv_cache`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable, ClassVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .init import as_generator
from .kv_cache import KVCache
from .module import Module
from .sampling import check_generate, extend, sample
from .types import RNG, Array
from .validation import check_dropout_probability, check_flag, check_int

Blocks = Mapping[str, Callable[..., Any]]
"""A path's classes by role: ``"linear"``, ``"gelu"``, ``"dropout"``, ``"layernorm"``,
``"embedding"``, ``"attention"``, ``"feedforward"``, ``"block"``, ``"transformer"``."""


class FeedForwardBase(Module):
    """The position-wise MLP of a block (nanoGPT's ``MLP``): ``c_fc`` (C -> 4C), GELU,
    ``c_proj`` (4C -> C), dropout. ``(B, T, C) -> (B, T, C)``."""

    BLOCKS: ClassVar[Blocks]

    def __init__(self, n_embd: int, dropout: float, bias: bool, *, rng: RNG, dtype: DTypeLike):
        super().__init__()
        blocks, generator = self.BLOCKS, as_generator(rng)
        self.c_fc = blocks["linear"](n_embd, 4 * n_embd, bias, rng=generator, dtype=dtype)
        self.gelu = blocks["gelu"]()
        self.c_proj = blocks["linear"](4 * n_embd, n_embd, bias, rng=generator, dtype=dtype)
        self.dropout = blocks["dropout"](dropout, rng=generator)


class TransformerBlockBase(Module):
    """One block (nanoGPT's ``Block``): ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    BLOCKS: ClassVar[Blocks]

    def __init__(
        self, n_embd: int, n_head: int, dropout: float, bias: bool, *, rng: RNG,
        dtype: DTypeLike,
    ) -> None:  # fmt: skip
        super().__init__()
        blocks, generator = self.BLOCKS, as_generator(rng)
        self.ln_1 = blocks["layernorm"](n_embd, bias=bias, dtype=dtype)
        self.attn = blocks["attention"](n_embd, n_head, dropout, bias, rng=generator, dtype=dtype)
        self.ln_2 = blocks["layernorm"](n_embd, bias=bias, dtype=dtype)
        self.mlp = blocks["feedforward"](n_embd, dropout, bias, rng=generator, dtype=dtype)


class TransformerBase(Module):
    """The body (nanoGPT's ``transformer``): embeddings ``wte`` and ``wpe``, dropout ``drop``,
    the blocks ``h``, the last LayerNorm ``ln_f``. Indices (B, T) -> features (B, T, C)."""

    BLOCKS: ClassVar[Blocks]

    def __init__(
        self, vocab_size: int, block_size: int, n_layer: int, n_head: int, n_embd: int,
        dropout: float, bias: bool, *, rng: RNG, dtype: DTypeLike,
    ) -> None:  # fmt: skip
        super().__init__()
        blocks, generator = self.BLOCKS, as_generator(rng)
        self.block_size = block_size
        self.wte = blocks["embedding"](vocab_size, n_embd, rng=generator, dtype=dtype)
        self.wpe = blocks["embedding"](block_size, n_embd, rng=generator, dtype=dtype)
        self.drop = blocks["dropout"](dropout, rng=generator)
        self.h = [
            blocks["block"](n_embd, n_head, dropout, bias, rng=generator, dtype=dtype)
            for _ in range(n_layer)
        ]
        self.ln_f = blocks["layernorm"](n_embd, bias=bias, dtype=dtype)

    def check_idx(self, idx: Any) -> Array:
        """``idx`` as integer indices (B, T) with 1 <= T <= block_size, each a token of the
        vocabulary; a clear error otherwise."""
        where = "GPT.forward"
        indices: Array = self.wte.check_indices(idx)
        if indices.ndim != 2 or not 1 <= indices.shape[1] <= self.block_size:
            raise ValueError(
                f"{where} expected token indices of shape (B, T) with 1 <= T <= block_size "
                f"({self.block_size}), but got shape {indices.shape}. One sequence is "
                f"idx.reshape(1, -1); a longer one must be cropped to its last "
                f"{self.block_size} tokens (generate does this)."
            )
        return indices


class GPTBase(Module):
    """nanoGPT's GPT: the arguments, sub-modules, initialisation and generation, for either
    path (a subclass names its path's classes in `BLOCKS`).

    Parameters
    ----------
    vocab_size : int
        V, the number of tokens.
    block_size : int
        The longest context, the rows of the position table ``wpe``.
    n_layer, n_head, n_embd : int
        Blocks, heads per block, and C, the features of each position (a multiple of
        ``n_head``).
    dropout : float
        The probability of every dropout (embeddings, attention weights, residual branches);
        0 for none.
    bias : bool
        Whether the Linears and LayerNorms learn biases (nanoGPT's ``bias``; False drops all).
    rng, dtype
        The generator of the initial weights (then of the dropout masks); float32 by default.

    Raises
    ------
    TypeError
        A size is not an int, ``dropout`` not a number, ``bias`` not a bool.
    ValueError
        A size < 1, ``n_embd`` not a multiple of ``n_head``, ``dropout`` outside [0, 1].
    """

    BLOCKS: ClassVar[Blocks]
    transformer: Any

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_layer: int,
        n_head: int,
        n_embd: int,
        dropout: float = 0.0,
        bias: bool = True,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        where = type(self).__name__
        example = f"{where}(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)"
        sizes = {"vocab_size": vocab_size, "block_size": block_size, "n_layer": n_layer,
                 "n_head": n_head, "n_embd": n_embd}  # fmt: skip
        for name, value in sizes.items():
            check_int(value, name, where, example=example)
        if n_embd % n_head:
            raise ValueError(
                f"{where}: n_embd ({n_embd}) must be a multiple of n_head ({n_head}), so that "
                f"each head has n_embd / n_head features; e.g. n_embd={n_head * 32}"
            )
        check_dropout_probability(dropout)
        check_flag(bias, "bias", where)
        super().__init__()
        self.config: dict[str, Any] = {**sizes, "dropout": dropout, "bias": bias}
        generator = as_generator(rng)
        self.transformer = self.BLOCKS["transformer"](
            vocab_size,
            block_size,
            n_layer,
            n_head,
            n_embd,
            dropout,
            bias,
            rng=generator,
            dtype=dtype,
        )
        self._init_weights(generator, n_layer)

    def _init_weights(self, generator: np.random.Generator, n_layer: int) -> None:
        """nanoGPT's initialisation, drawn in the order of `named_parameters`."""
        for name, param in self.named_parameters():
            if name.endswith((".b", ".bias")):
                param.data[...] = 0
            elif name.endswith(".W") or name.startswith(("transformer.wte", "transformer.wpe")):
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.W") else 0.02
                param.data[...] = generator.normal(0.0, std, param.data.shape)

    @property
    def block_size(self) -> int:
        """The longest context the model reads."""
        size: int = self.config["block_size"]
        return size

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.config.items())

    # -- inference, on the key/value cache ----------------------------------------------------
    def attention_weights(self, idx: ArrayLike) -> list[Array]:
        """Each block's attention weights for ``idx`` (B, T): a list of n_layer arrays
        (B, n_head, T, T), row i the weights query i gives keys 0..i (evaluation mode)."""
        indices = self.transformer.check_idx(idx)
        cache = KVCache(self)
        cache.forward(indices)
        return cache.attention

    def generate(
        self,
        idx: ArrayLike,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        rng: RNG = None,
        *,
        cache: bool = True,
    ) -> Array:
        """Continue each sequence of ``idx`` (B, T) by ``max_new_tokens`` sampled tokens, as
        nanoGPT's ``generate``; returns (B, T + max_new_tokens) int64.

        Each step reads at most the last ``block_size`` tokens, divides the last position's
        logits by ``temperature``, keeps the ``top_k`` largest (all if None), and samples from
        their softmax with ``rng`` (a seed or generator: the same one gives the same text).
        ``top_k=1`` is greedy. It computes as in evaluation mode (no dropout). With ``cache``
        (the default) the keys and values of the tokens read so far are kept
        (`core.kv_cache.KVCache`), so each new token costs one position's work; once the text
        outgrows the block, the positions shift and each step reads the cropped context
        afresh, as without the cache, which gives the same tokens.
        """
        prompts = check_generate(idx, max_new_tokens, temperature, top_k, type(self).__name__)
        self.transformer.wte.check_indices(prompts)
        check_flag(cache, "cache", f"{type(self).__name__}.generate")
        generator, was_training = as_generator(rng), self.training
        kv = KVCache(self) if cache else None
        tokens, start = extend(prompts, max_new_tokens), prompts.shape[1]
        self.eval()
        try:
            for t in range(start, start + max_new_tokens):  # tokens[:, :t] are known
                if kv is not None and t <= self.block_size:
                    logits = kv.forward(tokens[:, kv.length : t])  # the tokens not read yet
                else:  # no cache, or the positions shift from here on: the model's own pass
                    kv = None
                    logits = self.infer(tokens[:, max(t - self.block_size, 0) : t])[:, -1]
                tokens[:, t : t + 1] = sample(logits, temperature, top_k, generator)
        finally:
            self.train(was_training)
        return tokens
