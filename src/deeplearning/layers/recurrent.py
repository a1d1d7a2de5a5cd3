"""Recurrent layers on the layer path, `RNN`, `LSTM` and `GRU`: one layer each, batch first,
whose backward pass is backpropagation through time (BPTT) written out step by step.

A step reads the input ``x_t`` (N, I) and the previous state ``h_{t-1}`` (N, H). With

    gi_t = x_t W_ih + b_ih        gh_t = h_{t-1} W_hh + b_hh        (N, G H)

cut into G blocks of H columns (``a_i`` is block i of ``gi_t + gh_t``; σ is the sigmoid)::

    RNN  (G = 1)     h_t = φ(gi_t + gh_t)                φ = tanh or relu
    LSTM (G = 4)     i = σ(a_i)  f = σ(a_f)  g = tanh(a_g)  o = σ(a_o)
                     c_t = f c_{t-1} + i g               h_t = o tanh(c_t)
    GRU  (G = 3)     r = σ(a_r)  z = σ(a_z)  n = tanh(gi_n + r gh_n)
                     h_t = (1 - z) n + z h_{t-1}

The output is (h_1, ..., h_T), (N, T, H); the final state h_n is h_T (the LSTM's is (h_T, c_T)).

**Backward, through time.** ``dh`` is the gradient reaching h_t: the output's ``dout_t`` plus
what step t + 1 sent back (``dh_n`` at t = T). Each step, from the last to the first, turns it
into the gradients of its pre-activations, ``da = dL/d(gi_t)`` and ``dg = dL/d(gh_t)``, and
sends the rest to h_{t-1}::

    RNN   da = dg = dh φ'                  φ' = 1 - h_t² (tanh), [h_t > 0] (relu)
    LSTM  dc = dc_t + dh o (1 - tanh²(c_t))               (dc_t from step t + 1; dc_n at T)
          da = dg = (dc g i(1-i), dc c_{t-1} f(1-f), dc i (1-g²), dh tanh(c_t) o(1-o))
          dc_{t-1} = dc f
    GRU   da_n = dh (1-z) (1-n²)    da_z = dh (h_{t-1} - n) z(1-z)    da_r = da_n gh_n r(1-r)
          da = (da_r, da_z, da_n)    dg = (da_r, da_z, da_n r)       h_{t-1} also gets dh z
    all   dh_{t-1} (+)= dg W_hhᵀ

The parameters' gradients are then sums over time and batch, one product each, and so is dx::

    dW_ih = Σ_t x_tᵀ da_t      db_ih = Σ da      dW_hh = Σ_t h_{t-1}ᵀ dg_t      db_hh = Σ dg
    dx_t = da_t W_ihᵀ          dh0 = the dh that reaches h_0

The loops run over time (no recursion), so a sequence of any length works. What the layers
hold (sizes, parameters, initialisation, checks) is `core.bases.RecurrentBase`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.bases import GRUBase, LSTMBase, RecurrentBase, RNNBase
from ..core.kernels import sigmoid
from ..core.types import Array
from .layer import Layer


def _blocks(a: Array, count: int) -> list[Array]:
    """The ``count`` blocks of columns of ``a`` (views): the gates, in order."""
    return np.split(a, count, axis=-1)


def _rows(a: Array) -> Array:
    """(T, N, k) as (T N, k): every step of every sequence a row."""
    return a.reshape(-1, a.shape[-1])


class _RecurrentLayer(RecurrentBase, Layer):
    """What the three layers share: the input and state checks, ``gi`` for every step at once,
    the checks of the upstream gradients, and the parameters' gradients from ``da`` and
    ``dg``. The arrays are kept time first, (T, N, ...), so each step is one contiguous block.

    After ``backward``, ``dh0`` is dL/dh0 (N, H): the gradient reaching the initial state,
    given or zeros (the LSTM also sets ``dc0``).
    """

    _x: Array | None = None  # the input, time first (T, N, I)
    _hs: Array | None = None  # h_0, h_1, ..., h_T (T + 1, N, H)
    dh0: Array | None = None

    def _input(self, x: Array) -> Array:
        """``x`` as an array of the parameters' dtype, checked: (N, T, I)."""
        x = self.as_input(x, self.W_ih.dtype)
        self.check_input(x.shape)
        return x

    def _start(self, x: Array) -> Array:
        """Keep ``x`` (N, T, I) time first; return ``gi = x W_ih + b_ih`` (T, N, G H) for every
        step at once."""
        for param in (self.W_ih, self.W_hh, self.b_ih, self.b_hh):
            param.used_by(self)
        self._x = np.ascontiguousarray(x.transpose(1, 0, 2))
        gi: Array = self._x @ self.W_ih.data
        gi += self.b_ih.data
        return gi

    def _state(self, state: Any, n: int, name: str) -> Array:
        """An initial state (or a final state's gradient) as an (N, H) array; zeros for None."""
        if state is None:
            return self.zero_state(n)
        array = self.as_input(state, self.W_hh.dtype)
        self.check_state(array.shape, n, name)
        return array

    def _gh(self, h: Array) -> Array:
        """``gh = h W_hh + b_hh`` (N, G H), the previous state's part of a step."""
        gh: Array = h @ self.W_hh.data
        gh += self.b_hh.data
        return gh

    def _outputs(self, hs: Array) -> tuple[Array, Array]:
        """(h_1 ... h_T) batch first (N, T, H), and h_T (N, H): new arrays."""
        self._hs = hs
        return np.ascontiguousarray(hs[1:].transpose(1, 0, 2)), hs[-1].copy()

    def _upstream(self, dout: Array | None) -> tuple[Array, Array]:
        """``dout`` (N, T, H) checked and time first (zeros for None: only the final state's
        gradient flows), and the hidden states kept by forward."""
        hs = self._saved(self._hs)
        steps, n, hidden = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        if dout is None:
            return np.zeros((steps, n, hidden), dtype=hs.dtype), hs
        dout = np.asarray(dout, dtype=hs.dtype)
        self._check_dout(dout, (n, steps, hidden))
        return dout.transpose(1, 0, 2), hs

    def _parameter_grads(self, da: Array, dg: Array, need_dx: bool) -> Array | None:
        """Write dW_ih, db_ih, dW_hh, db_hh from every step's ``da`` and ``dg`` (T, N, G H);
        return dx (N, T, I) if asked."""
        x, hs = self._saved(self._x), self._saved(self._hs)
        W_ih, W_hh, b_ih, b_hh = self.W_ih, self.W_hh, self.b_ih, self.b_hh
        W_ih.grad_written(np.matmul(_rows(x).T, _rows(da), out=W_ih.grad_out()))
        b_ih.grad_written(_rows(da).sum(axis=0, out=b_ih.grad_out()))
        W_hh.grad_written(np.matmul(_rows(hs[:-1]).T, _rows(dg), out=W_hh.grad_out()))
        b_hh.grad_written(_rows(dg).sum(axis=0, out=b_hh.grad_out()))
        if not need_dx:
            return None
        return np.ascontiguousarray((da @ W_ih.data.T).transpose(1, 0, 2))

    def _through_time(self, dout: Array | None, dh_n: Any, need_dx: bool) -> Array | None:
        raise NotImplementedError

    def backward(self, dout: Array | None, dh_n: Any = None) -> Array:
        """BPTT: set the parameters' gradients and ``dh0``; return dL/dx (N, T, I).

        ``dout`` is dL/d(output) (N, T, H), or None when only the final state is used;
        ``dh_n`` is dL/dh_n (N, H), or None for zeros."""
        dx = self._through_time(dout, dh_n, need_dx=True)
        assert dx is not None
        return dx

    def backward_params(self, dout: Array | None, dh_n: Any = None) -> None:
        """`backward` without dL/dx (``dh0`` is still set)."""
        self._through_time(dout, dh_n, need_dx=False)


class RNN(RNNBase, _RecurrentLayer):
    """Elman RNN, ``h_t = φ(x_t W_ih + b_ih + h_{t-1} W_hh + b_hh)`` with φ = tanh or relu.

    ``forward(x, h0=None)``: x (N, T, input_size), h0 (N, H) or None (zeros) ->
    ``(output (N, T, H), h_n (N, H))``. ``backward(dout, dh_n=None)`` returns dL/dx and sets
    the parameters' gradients and ``dh0``. Parameters as `RecurrentBase` (PyTorch's
    ``torch.nn.RNN(batch_first=True)``, the weights transposed).
    """

    def forward(self, x: Array, h0: Array | None = None) -> tuple[Array, Array]:  # type: ignore[override]
        x = self._input(x)
        first = self._state(h0, len(x), "h0")
        gi = self._start(x)
        steps, n = gi.shape[:2]
        hs = np.empty((steps + 1, n, self.hidden_size), dtype=gi.dtype)
        hs[0] = first
        for t in range(steps):
            a = gi[t] + self._gh(hs[t])
            hs[t + 1] = np.tanh(a) if self.nonlinearity == "tanh" else np.maximum(a, 0)
        return self._outputs(hs)

    def _through_time(self, dout: Array | None, dh_n: Any, need_dx: bool) -> Array | None:
        dout, hs = self._upstream(dout)
        dh = self._state(dh_n, hs.shape[1], "dh_n")
        da = np.empty_like(dout)
        W_hh = self.W_hh.data
        for t in reversed(range(len(da))):
            dh = dh + dout[t]
            h = hs[t + 1]
            da[t] = dh * (1 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0)
            dh = da[t] @ W_hh.T
        self.dh0 = dh
        return self._parameter_grads(da, da, need_dx)


class LSTM(LSTMBase, _RecurrentLayer):
    """Long short-term memory: gates ``i f g o`` (PyTorch's order), a cell state ``c``.

    ``forward(x, h0=None)``: x (N, T, input_size), ``h0`` a pair (h0, c0) of (N, H) arrays or
    None (zeros) -> ``(output (N, T, H), (h_n, c_n))``. ``backward(dout, dh_n=None)``, where
    ``dh_n`` is a pair (dh_n, dc_n) (either may be None) or None, returns dL/dx and sets the
    parameters' gradients, ``dh0`` and ``dc0``.
    """

    _cs: Array | None = None  # c_0, c_1, ..., c_T (T + 1, N, H)
    _gates: Array | None = None  # i, f, g, o of every step (T, N, 4 H)
    _tanh_c: Array | None = None  # tanh(c_t) (T, N, H)
    dc0: Array | None = None

    def forward(  # type: ignore[override]
        self, x: Array, h0: tuple[Array, Array] | None = None
    ) -> tuple[Array, tuple[Array, Array]]:
        x = self._input(x)
        first_h, first_c = self.split_state(h0, "h0")
        first_h, first_c = self._state(first_h, len(x), "h0"), self._state(first_c, len(x), "c0")
        gi = self._start(x)
        steps, n = gi.shape[:2]
        hs = np.empty((steps + 1, n, self.hidden_size), dtype=gi.dtype)
        cs = np.empty_like(hs)
        hs[0], cs[0] = first_h, first_c
        gates = np.empty_like(gi)
        tanh_c = np.empty_like(hs[1:])
        for t in range(steps):
            a_i, a_f, a_g, a_o = _blocks(gi[t] + self._gh(hs[t]), 4)
            i, f, g, o = _blocks(gates[t], 4)
            i[...], f[...], g[...], o[...] = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
            cs[t + 1] = f * cs[t] + i * g
            tanh_c[t] = np.tanh(cs[t + 1])
            hs[t + 1] = o * tanh_c[t]
        self._cs, self._gates, self._tanh_c = cs, gates, tanh_c
        output, h_n = self._outputs(hs)
        return output, (h_n, cs[-1].copy())

    def _through_time(self, dout: Array | None, dh_n: Any, need_dx: bool) -> Array | None:
        dout, hs = self._upstream(dout)
        cs, gates = self._saved(self._cs), self._saved(self._gates)
        tanh_c = self._saved(self._tanh_c)
        final_dh, final_dc = self.split_state(dh_n, "dh_n")
        dh = self._state(final_dh, hs.shape[1], "dh_n")
        dc = self._state(final_dc, hs.shape[1], "dc_n")
        da = np.empty_like(gates)
        W_hh = self.W_hh.data
        for t in reversed(range(len(da))):
            i, f, g, o = _blocks(gates[t], 4)
            da_i, da_f, da_g, da_o = _blocks(da[t], 4)
            dh = dh + dout[t]
            dc = dc + dh * o * (1 - tanh_c[t] * tanh_c[t])
            da_i[...] = dc * g * i * (1 - i)
            da_f[...] = dc * cs[t] * f * (1 - f)
            da_g[...] = dc * i * (1 - g * g)
            da_o[...] = dh * tanh_c[t] * o * (1 - o)
            dc = dc * f
            dh = da[t] @ W_hh.T
        self.dh0, self.dc0 = dh, dc
        return self._parameter_grads(da, da, need_dx)


class GRU(GRUBase, _RecurrentLayer):
    """Gated recurrent unit, PyTorch's formula: gates ``r z n``, with the reset gate applied to
    ``h W_hn + b_hn``, ``n = tanh(x W_in + b_in + r (h W_hn + b_hn))``.

    ``forward(x, h0=None)``: x (N, T, input_size), h0 (N, H) or None (zeros) ->
    ``(output (N, T, H), h_n (N, H))``. ``backward(dout, dh_n=None)`` returns dL/dx and sets
    the parameters' gradients and ``dh0``.
    """

    _gates: Array | None = None  # r, z, n of every step (T, N, 3 H)
    _gh_n: Array | None = None  # h_{t-1} W_hn + b_hn (T, N, H), which r multiplies

    def forward(self, x: Array, h0: Array | None = None) -> tuple[Array, Array]:  # type: ignore[override]
        x = self._input(x)
        first = self._state(h0, len(x), "h0")
        gi = self._start(x)
        steps, n = gi.shape[:2]
        hs = np.empty((steps + 1, n, self.hidden_size), dtype=gi.dtype)
        hs[0] = first
        gates = np.empty_like(gi)
        gh_n = np.empty_like(hs[1:])
        for t in range(steps):
            gi_r, gi_z, gi_n = _blocks(gi[t], 3)
            gh_r, gh_z, gh_n[t] = _blocks(self._gh(hs[t]), 3)
            r, z, new = _blocks(gates[t], 3)
            r[...], z[...] = sigmoid(gi_r + gh_r), sigmoid(gi_z + gh_z)
            new[...] = np.tanh(gi_n + r * gh_n[t])
            hs[t + 1] = (1 - z) * new + z * hs[t]
        self._gates, self._gh_n = gates, gh_n
        return self._outputs(hs)

    def _through_time(self, dout: Array | None, dh_n: Any, need_dx: bool) -> Array | None:
        dout, hs = self._upstream(dout)
        gates, gh_n = self._saved(self._gates), self._saved(self._gh_n)
        dh = self._state(dh_n, hs.shape[1], "dh_n")
        da, dg = np.empty_like(gates), np.empty_like(gates)
        W_hh = self.W_hh.data
        for t in reversed(range(len(da))):
            r, z, new = _blocks(gates[t], 3)
            da_r, da_z, da_n = _blocks(da[t], 3)
            dg_r, dg_z, dg_n = _blocks(dg[t], 3)
            dh = dh + dout[t]
            da_n[...] = dh * (1 - z) * (1 - new * new)
            da_z[...] = dh * (hs[t] - new) * z * (1 - z)
            da_r[...] = da_n * gh_n[t] * r * (1 - r)
            dg_r[...], dg_z[...], dg_n[...] = da_r, da_z, da_n * r
            dh = dh * z + dg[t] @ W_hh.T
        self.dh0 = dh
        return self._parameter_grads(da, dg, need_dx)
