"""What the character-level language models hold on both paths, and how they generate text:
`RecurrentLanguageModelBase` (an embedding, one recurrent layer, a linear head) and
`MLPLanguageModelBase` (makemore's MLP, after Bengio et al. 2003), and how they generate text.

For a batch of token ids ``idx`` (B, T), V the vocabulary::

    recurrent   x = wte[idx]                     (B, T, n_embd)      embed
                h_1 ... h_T = RNN/LSTM/GRU(x)     (B, T, hidden)      rnn
                logits = h W + b                  (B, T, V)           head: every position

    MLP         x = wte[idx]                     (B, block_size, n_embd)
                x -> (B, block_size n_embd)       the context's vectors, side by side
                a = tanh(x W1 + b1)               (B, hidden)         fc, act
                logits = a W2 + b2                (B, V)              head: the next token only

Both compose their sub-modules by calling each one's ``forward`` and ``reshape``, which the
layer path runs on arrays and the engine on tensors: the composition is written once, here.
A path's class names its building blocks (`BLOCKS`); the layer path adds the backward pass.
One generator draws every weight in order, so one seed gives the same model on both paths.

Generation (``generate``) samples one token at a time as the GPT does (`sampling.sample`): the
logits of the last position, divided by the temperature, cut to the ``top_k`` largest,
softmax, one draw. The recurrent model carries its hidden state from token to token (its
cache: each new token costs one step); the MLP reads the last ``block_size`` tokens each time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, ClassVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .grad_mode import grad_mode
from .init import as_generator
from .module import Module
from .sampling import check_generate, check_token_batch, extend, sample
from .tensor import Tensor
from .types import RNG, Array
from .validation import check_choice, check_int

LM_CELLS = ("rnn", "lstm", "gru")
"""The recurrent layers a `RecurrentLanguageModelBase` may use, by name."""
MLP_INITS = ("normal", "default")
"""How `MLPLanguageModelBase` starts: every parameter ``N(0, 1)`` (makemore part 2), or the
library's layers' own initialisation."""


class _LanguageModel(Module):
    """What both language models share: evaluation without a graph (`infer`) and the
    bookkeeping of ``generate`` (evaluation mode, restored after)."""

    vocab_size: int

    def infer(self, idx: Array) -> Array:
        """The logits for a batch of token ids, as an array, recording no graph."""
        with grad_mode(False):
            out = self.forward(idx)
        return out.data if isinstance(out, Tensor) else np.asarray(out)

    def _sample(
        self, idx: Array, max_new_tokens: int, temperature: float, top_k: int | None, rng: RNG
    ) -> Array:
        raise NotImplementedError

    def generate(
        self,
        idx: ArrayLike,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        rng: RNG = None,
    ) -> Array:
        """``idx`` (B, T) followed by ``max_new_tokens`` sampled tokens: int64 (B, T + new).

        Each new token is drawn by `sampling.sample` from the logits after the tokens so far, in
        evaluation mode, recording no graph; ``rng`` (a seed or a generator) makes the draws
        repeatable: the same ``rng`` gives the same text, on either path.
        """
        checked = check_generate(idx, max_new_tokens, temperature, top_k, type(self).__name__)
        was_training = self.training
        self.eval()
        try:
            with grad_mode(False):
                return self._sample(checked, max_new_tokens, temperature, top_k, rng)
        finally:
            self.train(was_training)


class RecurrentLanguageModelBase(_LanguageModel):
    """A character-level language model with one recurrent layer, for either path: a
    subclass names its path's ``"embedding"``, ``"linear"`` and ``"rnn"``/``"lstm"``/``"gru"``
    classes in `BLOCKS`.

    Parameters
    ----------
    vocab_size : int
        V, the number of tokens.
    n_embd : int
        The length of each token's vector, the recurrent layer's input size.
    hidden : int
        H, the recurrent layer's state size.
    cell : str
        ``"rnn"`` (Elman, tanh), ``"lstm"`` or ``"gru"`` (`LM_CELLS`).
    rng, dtype
        One generator draws ``embed.weight`` (N(0, 1)), the recurrent layer's weights
        (U(-1/√H, 1/√H), PyTorch's) and ``head.W`` (the library's `Linear`: He normal,
        ``head.b`` zero), in that order; float32 by default.

    Parameters are ``embed.weight`` (V, n_embd), ``rnn.W_ih`` (n_embd, G H), ``rnn.W_hh``
    (H, G H), ``rnn.b_ih``, ``rnn.b_hh`` (G H,), ``head.W`` (H, V) and ``head.b`` (V,), G
    the gates (1, 4 or 3). ``forward(idx)``: (B, T) token ids -> logits (B, T, V), each
    position's logits predicting the token after it, the state starting at zero.
    """

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]]

    def __init__(
        self,
        vocab_size: int,
        n_embd: int = 64,
        hidden: int = 256,
        cell: str = "lstm",
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        where = type(self).__name__
        for name, value in (("vocab_size", vocab_size), ("n_embd", n_embd), ("hidden", hidden)):
            check_int(value, name, where, example=f"{where}(65, n_embd=64, hidden=256)")
        check_choice(cell, "cell", where, LM_CELLS)
        super().__init__()
        self.vocab_size, self.n_embd, self.hidden, self.cell = vocab_size, n_embd, hidden, cell
        self.config = {"vocab_size": vocab_size, "n_embd": n_embd, "hidden": hidden, "cell": cell}
        generator = as_generator(rng)
        self.embed = self.BLOCKS["embedding"](vocab_size, n_embd, rng=generator, dtype=dtype)
        self.rnn = self.BLOCKS[cell](n_embd, hidden, rng=generator, dtype=dtype)
        self.head = self.BLOCKS["linear"](hidden, vocab_size, rng=generator, dtype=dtype)

    def run(self, idx: ArrayLike, state: Any = None) -> tuple[Any, Any]:
        """The logits (B, T, V) for ``idx`` (B, T) from the recurrent ``state`` (None: zeros;
        the LSTM's is a pair (h, c)), and the state after the last token."""
        tokens = check_token_batch(idx, type(self).__name__)
        batch, steps = tokens.shape
        x = self.embed(tokens)
        out, state = self.rnn(x, state)
        logits = self.head(out.reshape(batch * steps, self.hidden))
        return logits.reshape(batch, steps, self.vocab_size), state

    def forward(self, idx: ArrayLike) -> Any:
        """The logits (B, T, V) for token ids ``idx`` (B, T), from a zero state."""
        return self.run(idx)[0]

    def _sample(
        self, idx: Array, max_new_tokens: int, temperature: float, top_k: int | None, rng: RNG
    ) -> Array:
        generator = as_generator(rng)
        tokens = [idx]
        logits, state = self.run(idx)
        for k in range(max_new_tokens):
            last = logits.data if isinstance(logits, Tensor) else logits
            tokens.append(sample(last[:, -1], temperature, top_k, generator))
            if k + 1 < max_new_tokens:  # the state carries the context: one step a token
                logits, state = self.run(tokens[-1], state)
        return np.concatenate(tokens, axis=1)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, cell={self.cell!r}"


class MLPLanguageModelBase(_LanguageModel):
    """makemore's MLP language model (Zero to Hero part 2, after Bengio et al. 2003), for
    either path: a subclass names its path's ``"embedding"``, ``"linear"`` and ``"tanh"``
    classes in `BLOCKS`.

    Parameters
    ----------
    vocab_size : int
        V, the number of tokens (27 for the names: ``.`` and ``a`` to ``z``).
    block_size : int
        The context: how many tokens before the next one it reads (3 in the lecture).
    n_embd : int
        The length of each token's vector (10 in the lecture).
    hidden : int
        The tanh units (200 in the lecture).
    init : str
        ``"normal"`` (the default, the lecture's): every parameter drawn ``N(0, 1)``, in the
        order ``embed.weight``, ``fc.W``, ``fc.b``, ``head.W``, ``head.b`` (makemore's ``C``,
        ``W1``, ``b1``, ``W2``, ``b2``); ``"default"``: the library's layers' initialisation
        (``N(0, 1)`` table, He normal ``W``, zero ``b``).
    rng, dtype
        The generator of every weight; float32 by default.

    ``forward(idx)``: the contexts (B, block_size) -> logits (B, V) of the token after each.
    """

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]]

    def __init__(
        self,
        vocab_size: int,
        block_size: int = 3,
        n_embd: int = 10,
        hidden: int = 200,
        init: str = "normal",
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        where = type(self).__name__
        for name, value in (("vocab_size", vocab_size), ("block_size", block_size),
                            ("n_embd", n_embd), ("hidden", hidden)):  # fmt: skip
            check_int(value, name, where, example=f"{where}(27, block_size=3)")
        check_choice(init, "init", where, MLP_INITS)
        super().__init__()
        self.vocab_size, self.block_size, self.n_embd = vocab_size, block_size, n_embd
        self.hidden, self.init = hidden, init
        self.config = {"vocab_size": vocab_size, "block_size": block_size, "n_embd": n_embd,
                       "hidden": hidden, "init": init}  # fmt: skip
        generator = as_generator(rng)
        blocks = self.BLOCKS
        self.embed = blocks["embedding"](vocab_size, n_embd, rng=generator, dtype=dtype)
        self.fc = blocks["linear"](block_size * n_embd, hidden, rng=generator, dtype=dtype)
        self.act = blocks["tanh"]()
        self.head = blocks["linear"](hidden, vocab_size, rng=generator, dtype=dtype)
        if init == "normal":
            for param in (self.embed.weight, self.fc.W, self.fc.b, self.head.W, self.head.b):
                param.data[...] = generator.standard_normal(param.shape)

    def forward(self, idx: ArrayLike) -> Any:
        """The logits (B, V) of the token after each context of ``idx`` (B, block_size)."""
        contexts = check_token_batch(idx, type(self).__name__, self.block_size)
        x = self.embed(contexts)
        x = x.reshape(len(contexts), self.block_size * self.n_embd)
        return self.head(self.act(self.fc(x)))

    def contexts(self, idx: Array) -> Array:
        """The last ``block_size`` tokens of each row of ``idx`` (B, T), padded on the left
        with token 0 (makemore's ``.`` for the names) when T is shorter."""
        if idx.shape[1] >= self.block_size:
            return idx[:, idx.shape[1] - self.block_size :]
        pad = np.zeros((len(idx), self.block_size - idx.shape[1]), dtype=idx.dtype)
        return np.concatenate([pad, idx], axis=1)

    def _sample(
        self, idx: Array, max_new_tokens: int, temperature: float, top_k: int | None, rng: RNG
    ) -> Array:
        generator = as_generator(rng)
        tokens, start = extend(idx, max_new_tokens), idx.shape[1]
        for t in range(start, start + max_new_tokens):
            logits = self.infer(self.contexts(tokens[:, :t]))
            tokens[:, t : t + 1] = sample(logits, temperature, top_k, generator)
        return tokens

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, block_size={self.block_size}, init={self.init!r}"
