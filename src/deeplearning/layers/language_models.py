"""Character-level language models on the layer path: `RecurrentLanguageModel` (an embedding,
one RNN, LSTM or GRU, a linear head) and `MLPLanguageModel` (makemore's MLP). What they hold and
how ``forward`` composes their layers is `core.sequence_bases`'; here is their backward pass,
the layers' own backward passes run in reverse order, with the reshapes undone::

    recurrent   dlogits (B, T, V) -> (B T, V) -> head.backward -> (B T, H) -> (B, T, H)
                -> rnn.backward (through time) -> (B, T, n_embd) -> embed (scatter-add)

    MLP         dlogits (B, V) -> head.backward -> act.backward (1 - a²) -> fc.backward
                -> (B, block_size n_embd) -> (B, block_size, n_embd) -> embed (scatter-add)

Token ids are not numbers to differentiate: ``backward`` returns zeros of their shape, as the
`Embedding` does.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..core.sequence_bases import MLPLanguageModelBase, RecurrentLanguageModelBase
from ..core.types import Array
from .activation import Tanh
from .embedding import Embedding
from .layer import Layer
from .linear import Linear
from .recurrent import GRU, LSTM, RNN

BLOCKS: dict[str, Callable[..., Any]] = {
    "embedding": Embedding, "linear": Linear, "tanh": Tanh, "rnn": RNN, "lstm": LSTM, "gru": GRU,
}  # fmt: skip
"""The layer path's building blocks of the language models."""


class RecurrentLanguageModel(RecurrentLanguageModelBase, Layer):
    """Embedding -> RNN, LSTM or GRU -> Linear, on the layer path: token ids (B, T) -> logits
    (B, T, V). Arguments, parameters and ``generate``: `RecurrentLanguageModelBase`.

    ``backward(dlogits)`` takes dL/dlogits (B, T, V), sets every parameter's gradient
    (backpropagation through time in the recurrent layer) and returns zeros (B, T).
    """

    BLOCKS = BLOCKS

    def backward_params(self, dout: Array) -> None:
        dlogits = np.asarray(dout)
        if dlogits.ndim != 3:
            raise ValueError(
                f"{type(self).__name__}.backward expected dlogits of shape (B, T, "
                f"{self.vocab_size}), the shape of the last forward's logits, but got "
                f"{dlogits.shape}."
            )
        batch, steps = dlogits.shape[:2]
        dh = self.head.backward(dlogits.reshape(batch * steps, dlogits.shape[2]))
        dx = self.rnn.backward(dh.reshape(batch, steps, self.hidden))
        self.embed.backward_params(dx)

    def backward(self, dout: Array) -> Array:
        self.backward_params(dout)
        return np.zeros(np.shape(dout)[:2], dtype=self.head.W.dtype)


class MLPLanguageModel(MLPLanguageModelBase, Layer):
    """makemore's MLP on the layer path: contexts (B, block_size) -> logits (B, V) of the
    next token. Arguments, parameters, initialisation and ``generate``:
    `MLPLanguageModelBase`.

    ``backward(dlogits)`` takes dL/dlogits (B, V), sets every parameter's gradient and returns
    zeros (B, block_size).
    """

    BLOCKS = BLOCKS

    def backward_params(self, dout: Array) -> None:
        da = self.act.backward(self.head.backward(dout))
        dx = self.fc.backward(da)
        self.embed.backward_params(dx.reshape(len(dx), self.block_size, self.n_embd))

    def backward(self, dout: Array) -> Array:
        self.backward_params(dout)
        return np.zeros((len(dout), self.block_size), dtype=self.head.W.dtype)
