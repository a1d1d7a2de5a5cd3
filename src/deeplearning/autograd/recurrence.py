"""Recurrent modules on the engine, `RNN`, `LSTM` and `GRU` (exported by `nn`): the layers
`deeplearning.RNN`, `LSTM` and `GRU`, with the same arguments, parameters and initial weights,
composed of engine operations in a loop over time.

The equations of a step (``gi_t = x_t W_ih + b_ih``, ``gh_t = h_{t-1} W_hh + b_hh``, cut into
G gate blocks) are written once, in the layers' file, `deeplearning.layers.recurrent`.

Here each equation is operations on tensors, per step: the step's input ``x[:, t]`` (`getitem`),
`linear` for ``gi_t`` and ``gh_t``, slices for the gates, `sigmoid`, `tanh`, `relu`, products
and sums; the outputs are `stack`-ed along time. (``gi`` is not computed for all steps at once,
as the layers do: the backward of a slice is an array the size of what was sliced, so slicing
a (N, T, G H) ``gi`` at every step would cost O(T² N G H) in the backward pass. Slicing ``x``
costs nothing when ``x`` is data, and O(T² N I) when it needs a gradient.)

**Backward, through time**, is the engine's: the graph is a chain of T steps, and
`backprop.topological_order` walks it with an explicit stack (no recursion), so a sequence of
any length works. Each operation's backward applies the chain rule locally, and the sum over
paths that `backprop` does is the sum over time that the layers' hand-written pass writes
out (`deeplearning.layers.recurrent`). The graph is recorded again by ``create_graph=True``, so
second derivatives come too.
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from ..core.bases import GRUBase, LSTMBase, RecurrentBase, RNNBase
from ..core.tensor import Tensor
from ..core.validation import as_real_array
from . import functional as F


class _RecurrentModule(RecurrentBase):
    """What the three modules share: the state checks, a step's ``gi`` and the gates."""

    def _gi(self, x: Tensor, t: int) -> Tensor:
        """``gi_t = x_t W_ih + b_ih`` (N, G H), the input's part of step ``t``."""
        return F.linear(x[:, t], self.W_ih, self.b_ih)

    def _state(self, state: Tensor | ArrayLike | None, n: int, name: str) -> Tensor:
        """An initial state (N, H) as a tensor (an array is taken as a constant); zeros for
        None."""
        if state is None:
            return Tensor(self.zero_state(n))
        if not isinstance(state, Tensor):
            who = f"{type(self).__name__}.forward"
            state = Tensor(as_real_array(state, who, self.W_hh.dtype))
        self.check_state(state.shape, n, name)
        return state

    def _gate(self, a: Tensor, k: int) -> Tensor:
        """Block ``k`` (H columns) of a step's pre-activations (N, G H)."""
        hidden = self.hidden_size
        return a[:, k * hidden : (k + 1) * hidden]


class RNN(RNNBase, _RecurrentModule):
    """Elman RNN, ``h_t = φ(x_t W_ih + b_ih + h_{t-1} W_hh + b_hh)``, φ = tanh or relu:
    ``forward(x, h0=None)`` -> ``(output (N, T, H), h_n (N, H))``, as the layer `RNN`."""

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_input(x.shape)
        h = self._state(h0, x.shape[0], "h0")
        phi = F.tanh if self.nonlinearity == "tanh" else F.relu
        outputs = []
        for t in range(x.shape[1]):
            h = phi(self._gi(x, t) + F.linear(h, self.W_hh, self.b_hh))
            outputs.append(h)
        return F.stack(outputs, axis=1), h


class LSTM(LSTMBase, _RecurrentModule):
    """Long short-term memory, gates ``i f g o``: ``forward(x, h0=None)`` with ``h0`` a pair
    (h0, c0) or None -> ``(output (N, T, H), (h_n, c_n))``, as the layer `LSTM`."""

    def forward(
        self, x: Tensor, h0: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        self.check_input(x.shape)
        first_h, first_c = self.split_state(h0, "h0")
        h, c = self._state(first_h, x.shape[0], "h0"), self._state(first_c, x.shape[0], "c0")
        outputs = []
        for t in range(x.shape[1]):
            a = self._gi(x, t) + F.linear(h, self.W_hh, self.b_hh)
            i, f = F.sigmoid(self._gate(a, 0)), F.sigmoid(self._gate(a, 1))
            g, o = F.tanh(self._gate(a, 2)), F.sigmoid(self._gate(a, 3))
            c = f * c + i * g
            h = o * F.tanh(c)
            outputs.append(h)
        return F.stack(outputs, axis=1), (h, c)


class GRU(GRUBase, _RecurrentModule):
    """Gated recurrent unit, gates ``r z n`` (PyTorch's formula, the reset gate on
    ``h W_hn + b_hn``): ``forward(x, h0=None)`` -> ``(output (N, T, H), h_n (N, H))``, as
    the layer `GRU`."""

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.check_input(x.shape)
        h = self._state(h0, x.shape[0], "h0")
        outputs = []
        for t in range(x.shape[1]):
            gi_t, gh = self._gi(x, t), F.linear(h, self.W_hh, self.b_hh)
            r = F.sigmoid(self._gate(gi_t, 0) + self._gate(gh, 0))
            z = F.sigmoid(self._gate(gi_t, 1) + self._gate(gh, 1))
            n = F.tanh(self._gate(gi_t, 2) + r * self._gate(gh, 2))
            h = (1 - z) * n + z * h
            outputs.append(h)
        return F.stack(outputs, axis=1), h
