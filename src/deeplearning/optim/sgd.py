"""SGD: stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

The update, as PyTorch's documentation gives it, for each parameter θ at steps t = 1, 2, ...
(γ = ``lr``, λ = ``weight_decay``, μ = ``momentum``, τ = ``dampening``)::

    g_t <- ∇f(θ_{t-1})                       (the gradient a backward pass set)
    if λ ≠ 0:   g_t <- g_t + λ θ_{t-1}       (L2 penalty)
    if μ ≠ 0:
        b_t <- μ b_{t-1} + (1 - τ) g_t       (b_1 = g_1: the velocity starts at the gradient)
        g_t <- g_t + μ b_t   if nesterov,   else   g_t <- b_t
    θ_t <- θ_{t-1} - γ g_t

The velocity b is the state saved as ``"velocity"``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..core.module import Parameter
from ..core.validation import check_flag, check_number
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay (the
    update in this module's docstring).

    Parameters
    ----------
    params, lr
        As `Optimizer`: distinct Parameters, and a finite ``lr >= 0``.
    momentum : float
        A finite number >= 0 (0: plain SGD).
    dampening : float
        In [0, 1]: the velocity takes ``(1 - dampening)`` of each gradient.
    weight_decay : float
        A finite number >= 0 (the L2 penalty's coefficient).
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening = 0``.

    Raises
    ------
    TypeError
        An argument of the wrong type (a string, a bool for a number, ...).
    ValueError
        A value out of its range, NaN or infinite; Nesterov without momentum or with dampening;
        no parameters, or one given twice.
    """

    BUFFERS = frozenset({"velocity"})

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        check_number(momentum, "momentum", "SGD", low=0, example="momentum=0.9")
        check_number(dampening, "dampening", "SGD", low=0, high=1, example="dampening=0")
        check_number(weight_decay, "weight_decay", "SGD", low=0, example="weight_decay=1e-4")
        check_flag(nesterov, "nesterov", "SGD")
        _check_nesterov(nesterov, momentum, dampening)
        super().__init__(params, lr)
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov

    def step(self) -> None:
        for i, param in self.to_apply():
            grad = param.grad
            if self.weight_decay:
                grad = grad + self.weight_decay * param.data
            if self.momentum:
                velocity = self._buffer("velocity", i, param.data)
                if self.steps == 0:
                    velocity[...] = grad
                else:
                    velocity *= self.momentum
                    velocity += (1 - self.dampening) * grad if self.dampening else grad
                grad = grad + self.momentum * velocity if self.nesterov else velocity
            work = self._scratch(i)[0]
            param.data -= np.multiply(grad, self.lr, out=work)  # no array allocated
        self.steps += 1


def _check_nesterov(nesterov: bool, momentum: float, dampening: float) -> None:
    """Refuse Nesterov momentum without momentum or with dampening (as PyTorch does)."""
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got "
            f"momentum={momentum}, dampening={dampening}; pass e.g. momentum=0.9, "
            "dampening=0, or nesterov=False"
        )
