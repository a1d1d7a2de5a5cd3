"""RMSprop: divide each step by a running root-mean-square of the gradients.

The update, as PyTorch's documentation gives it, for each parameter θ at steps t = 1, 2, ...
(γ = ``lr``, α = ``alpha``, ε = ``eps``, λ = ``weight_decay``, μ = ``momentum``; v, g_ave and b
start at 0)::

    g_t <- ∇f(θ_{t-1})                            (the gradient a backward pass set)
    if λ ≠ 0:   g_t <- g_t + λ θ_{t-1}            (L2 penalty)
    v_t <- α v_{t-1} + (1 - α) g_t²               (running mean square)
    ṽ_t <- v_t
    if centered:
        g_ave_t <- α g_ave_{t-1} + (1 - α) g_t    (running mean)
        ṽ_t <- ṽ_t - g_ave_t²                     (the variance)
    if μ > 0:
        b_t <- μ b_{t-1} + g_t / (√ṽ_t + ε)
        θ_t <- θ_{t-1} - γ b_t
    else:
        θ_t <- θ_{t-1} - γ g_t / (√ṽ_t + ε)

v, g_ave and b are the state saved as ``"square_avg"``, ``"grad_avg"`` and
``"momentum_buffer"``.
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


class RMSprop(Optimizer):
    """RMSprop: divide each step by a running root-mean-square of the gradients (the update in
    this module's docstring).

    Parameters
    ----------
    params, lr
        As `Optimizer`: distinct Parameters, or parameter groups whose options replace these
        (each group checked as they are), and a finite ``lr >= 0``.
    alpha : float
        In [0, 1]: the smoothing of the running mean of ``g**2``.
    eps : float
        A finite number > 0, added to the denominator (0 would divide 0 by 0 where a gradient
        is 0; PyTorch accepts 0).
    weight_decay, momentum : float
        Finite numbers >= 0.
    centered : bool
        Divide by the variance of the gradient rather than its mean square.

    Raises
    ------
    TypeError
        An argument of the wrong type (a string, a bool for a number, ...).
    ValueError
        A value out of its range, NaN or infinite; no parameters, or one given twice; a group
        that is empty, has no ``"params"`` or names another option.
    """

    BUFFERS = frozenset({"square_avg", "grad_avg", "momentum_buffer"})

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(params, lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered)  # fmt: skip

    alpha = GroupOption()
    eps = GroupOption()
    weight_decay = GroupOption()
    momentum = GroupOption()
    centered = GroupOption()

    @classmethod
    def _check_options(cls, options: Mapping[str, Any], where: str) -> None:
        check_number(options["alpha"], "alpha", where, low=0, high=1, example="alpha=0.99")
        check_number(options["eps"], "eps", where, low=0, low_open=True, example="eps=1e-8",
                     why=" (eps = 0 divides 0 by 0 where a gradient is 0)")  # fmt: skip
        check_number(options["weight_decay"], "weight_decay", where, low=0,
                     example="weight_decay=1e-4")  # fmt: skip
        check_number(options["momentum"], "momentum", where, low=0, example="momentum=0.9")
        check_flag(options["centered"], "centered", where)
        super()._check_options(options, where)

    def step(self) -> None:
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            for i, param in self.to_apply(group):
                grad = param.grad
                if weight_decay:
                    grad = grad + weight_decay * param.data
                square_avg = self._buffer("square_avg", i, param.data)
                square_avg *= alpha
                square_avg += (1 - alpha) * grad * grad
                if group["centered"]:
                    grad_avg = self._buffer("grad_avg", i, param.data)
                    grad_avg *= alpha
                    grad_avg += (1 - alpha) * grad
                    denom = np.sqrt(square_avg - grad_avg * grad_avg) + eps
                else:
                    denom = np.sqrt(square_avg) + eps
                update = grad / denom
                if momentum:
                    momentum_buffer = self._buffer("momentum_buffer", i, param.data)
                    momentum_buffer *= momentum
                    momentum_buffer += update
                    update = momentum_buffer
                param.data -= lr * update
        self.steps += 1
