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
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..core.module import Parameter
from ..core.validation import check_flag, check_number
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop: divide each step by a running root-mean-square of the gradients (the update in
    this module's docstring).

    Parameters
    ----------
    params, lr
        As `Optimizer`: distinct Parameters, and a finite ``lr >= 0``.
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
        A value out of its range, NaN or infinite; no parameters, or one given twice.
    """

    BUFFERS = frozenset({"square_avg", "grad_avg", "momentum_buffer"})

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        check_number(alpha, "alpha", "RMSprop", low=0, high=1, example="alpha=0.99")
        check_number(eps, "eps", "RMSprop", low=0, low_open=True, example="eps=1e-8",
                     why=" (eps = 0 divides 0 by 0 where a gradient is 0)")  # fmt: skip
        check_number(weight_decay, "weight_decay", "RMSprop", low=0, example="weight_decay=1e-4")
        check_number(momentum, "momentum", "RMSprop", low=0, example="momentum=0.9")
        check_flag(centered, "centered", "RMSprop")
        super().__init__(params, lr)
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay
        self.momentum, self.centered = momentum, centered

    def step(self) -> None:
        for i, param in self.to_apply():
            grad = param.grad
            if self.weight_decay:
                grad = grad + self.weight_decay * param.data
            square_avg = self._buffer("square_avg", i, param.data)
            square_avg *= self.alpha
            square_avg += (1 - self.alpha) * grad * grad
            if self.centered:
                grad_avg = self._buffer("grad_avg", i, param.data)
                grad_avg *= self.alpha
                grad_avg += (1 - self.alpha) * grad
                denom = np.sqrt(square_avg - grad_avg * grad_avg) + self.eps
            else:
                denom = np.sqrt(square_avg) + self.eps
            update = grad / denom
            if self.momentum:
                momentum_buffer = self._buffer("momentum_buffer", i, param.data)
                momentum_buffer *= self.momentum
                momentum_buffer += update
                update = momentum_buffer
            param.data -= self.lr * update
        self.steps += 1
