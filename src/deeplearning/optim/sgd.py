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
Each step reads these options from each parameter's group (`groups`: parameter groups, as
PyTorch's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.validation import check_flag, check_number
from .groups import ParamsOrGroups
from .optimizer import GroupOption, Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay (the
    update in this module's docstring).

    Parameters
    ----------
    params, lr
        As `Optimizer`: distinct Parameters, or parameter groups whose options replace these
        (each group checked as they are), and a finite ``lr >= 0``.
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
        no parameters, or one given twice; a group that is empty, has no ``"params"`` or names
        another option.
    """

    BUFFERS = frozenset({"velocity"})

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float = 0.01,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov)  # fmt: skip

    momentum = GroupOption()
    dampening = GroupOption()
    weight_decay = GroupOption()
    nesterov = GroupOption()

    @classmethod
    def _check_options(cls, options: Mapping[str, Any], where: str) -> None:
        momentum, dampening = options["momentum"], options["dampening"]
        check_number(momentum, "momentum", where, low=0, example="momentum=0.9")
        check_number(dampening, "dampening", where, low=0, high=1, example="dampening=0")
        check_number(options["weight_decay"], "weight_decay", where, low=0,
                     example="weight_decay=1e-4")  # fmt: skip
        check_flag(options["nesterov"], "nesterov", where)
        _check_nesterov(options["nesterov"], momentum, dampening, where)
        super()._check_options(options, where)

    def step(self) -> None:
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for i, param in self.to_apply(group):
                grad = param.grad
                if weight_decay:
                    grad = grad + weight_decay * param.data
                if momentum:
                    velocity = self._buffer("velocity", i, param.data)
                    if self.steps == 0:
                        velocity[...] = grad
                    else:
                        velocity *= momentum
                        velocity += (1 - dampening) * grad if dampening else grad
                    grad = grad + momentum * velocity if nesterov else velocity
                work = self._scratch(i)[0]
                param.data -= np.multiply(grad, lr, out=work)  # no array allocated
        self.steps += 1


def _check_nesterov(nesterov: bool, momentum: float, dampening: float, where: str) -> None:
    """Refuse Nesterov momentum without momentum or with dampening (as PyTorch does)."""
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(
            f"{where}: Nesterov momentum needs momentum > 0 and dampening = 0, got "
            f"momentum={momentum}, dampening={dampening}; pass e.g. momentum=0.9, "
            "dampening=0, or nesterov=False"
        )
