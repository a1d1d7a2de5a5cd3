"""Inverted dropout on the layer path, `Dropout`. In training, with ``u ~ U[0, 1)`` per
element::

    mask = [u >= p] / (1 - p)        y = x * mask        dL/dx = dout * mask

so that E[y] = x; in evaluation, the identity. The masks come from `core.kernels.dropout_mask`,
shared with the engine.
"""

from __future__ import annotations

import numpy as np

from ..core.bases import DropoutBase
from ..core.kernels import dropout_mask
from ..core.types import Array
from .activation import Elementwise


class Dropout(DropoutBase, Elementwise):
    """Inverted dropout: in training, zero each input with probability ``p`` and scale the rest
    by ``1 / (1 - p)``, so the expected output equals the input; in evaluation, the identity.

    ``y = x * mask``, ``mask = [u >= p] / (1 - p)`` with ``u ~ U[0, 1)`` per element;
    ``dL/dx = dout * mask``. Parameters: as `DropoutBase`.
    """

    def forward(self, x: Array) -> Array:
        x = self.as_input(x)
        if not self.training or self.p == 0:
            self._local = np.ones_like(x)
            return x
        mask = dropout_mask(x.shape, self.p, self.rng, x.dtype)
        self._local = mask
        y: Array = x * mask
        return y
