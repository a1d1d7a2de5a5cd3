"""Character-level language models on the engine: `RecurrentLanguageModel` (an embedding, one
RNN, LSTM or GRU, a linear head) and `MLPLanguageModel` (makemore's MLP), the layer path's
models of the same names with the same arguments, parameters and, for one ``rng``, weights.

What they hold and how ``forward`` composes their modules is `core.sequence_bases`' (written
once for both paths); here the modules are the engine's, so ``forward`` returns a logits
`Tensor` and ``loss.backward()`` differentiates it, through time in the recurrent layer.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.sequence_bases import MLPLanguageModelBase, RecurrentLanguageModelBase
from .modules import Embedding, Linear, Tanh
from .recurrence import GRU, LSTM, RNN

BLOCKS: dict[str, Callable[..., Any]] = {
    "embedding": Embedding, "linear": Linear, "tanh": Tanh, "rnn": RNN, "lstm": LSTM, "gru": GRU,
}  # fmt: skip
"""The engine's building blocks of the language models."""


class RecurrentLanguageModel(RecurrentLanguageModelBase):
    """Embedding -> RNN, LSTM or GRU -> Linear on the engine: token ids (B, T) -> logits
    Tensor (B, T, V). Arguments, parameters and ``generate``: `RecurrentLanguageModelBase`."""

    BLOCKS = BLOCKS


class MLPLanguageModel(MLPLanguageModelBase):
    """makemore's MLP on the engine: contexts (B, block_size) -> logits Tensor (B, V).
    Arguments, parameters, initialisation and ``generate``: `MLPLanguageModelBase`."""

    BLOCKS = BLOCKS
