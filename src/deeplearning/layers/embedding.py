"""The embedding, a table of learned vectors looked up by index, on the layer path. With the
table ``W`` (V, D) and integer indices ``idx`` of any shape::

    y[..., :] = W[idx[...], :]                      (*idx.shape, D)
    dL/dW[v] = Σ_{positions p with idx[p] = v} dout[p]

The lookup is a product with one-hot rows, ``y = onehot(idx) @ W``, so its gradient is
``onehot(idx)ᵀ @ dout``: each row of ``dout`` added into the row of ``W`` it came from, a row
used twice receiving both (a scatter-add, `core.kernels.scatter_add_rows`), rows not used
receiving 0. The indices are not numbers to differentiate; nothing flows back to them.
"""

from __future__ import annotations

import numpy as np

from ..core.bases import EmbeddingBase
from ..core.kernels import scatter_add_rows
from ..core.types import Array
from .layer import Layer


class Embedding(EmbeddingBase, Layer):
    """A lookup table: integer indices (any shape) -> their rows of ``weight``, (*, D).

    Parameters: as `EmbeddingBase` (``num_embeddings``, ``embedding_dim``, ``rng``,
    ``dtype``), PyTorch's, with ``weight`` drawn ``N(0, 1)``.

    The input must hold integers in [0, num_embeddings): floats (the usual input of a layer)
    are a TypeError, and negative or too large indices an IndexError, as in PyTorch.

    Backward, with ``dout`` (*idx.shape, D): ``weight.grad`` is zero but for the rows used,
    each the sum of the ``dout`` rows that looked it up. ``backward`` returns zeros of the
    indices' shape: the output does not change with an index nudged by less than 1, so
    there is no gradient to pass back (a model starts with its embedding).
    """

    _indices: Array | None = None  # the indices of the last forward

    def forward(self, x: Array) -> Array:
        indices = self.check_indices(x)
        self._indices = indices
        self.weight.used_by(self)
        rows: Array = self.weight.data[indices]
        return rows

    def backward_params(self, dout: Array) -> None:
        indices = self._saved(self._indices)
        dout = np.asarray(dout, dtype=self.weight.dtype)
        self._check_dout(dout, (*indices.shape, self.embedding_dim))
        self.weight.grad_written(scatter_add_rows(self.weight.grad_out(), indices, dout))

    def backward(self, dout: Array) -> Array:
        self.backward_params(dout)
        return np.zeros(self._saved(self._indices).shape, dtype=self.weight.dtype)
