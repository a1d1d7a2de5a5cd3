"""Adam and AdamW: momentum on the gradient and on its square, with bias correction.

The update, as PyTorch's documentation gives it, for each parameter θ at steps t = 1, 2, ...
(γ = ``lr``, (β1, β2) = ``betas``, ε = ``eps``, λ = ``weight_decay``; m, v and v_max start at
0)::

    g_t <- ∇f(θ_{t-1})                          (the gradient a backward pass set)
    if λ ≠ 0:   g_t <- g_t + λ θ_{t-1}          (Adam: L2 penalty in the gradient)
    if λ ≠ 0:   θ_{t-1} <- θ_{t-1} - γ λ θ_{t-1}  (AdamW instead: decoupled weight decay)
    m_t <- β1 m_{t-1} + (1 - β1) g_t            (running mean of the gradient)
    v_t <- β2 v_{t-1} + (1 - β2) g_t²           (running mean of its square)
    m̂_t <- m_t / (1 - β1^t)                     (bias corrections: m and v start at 0)
    if amsgrad:
        v_max_t <- max(v_max_{t-1}, v_t)
        v̂_t <- v_max_t / (1 - β2^t)
    else:
        v̂_t <- v_t / (1 - β2^t)
    θ_t <- θ_{t-1} - γ m̂_t / (√v̂_t + ε)

m, v and v_max are the state saved as ``"exp_avg"``, ``"exp_avg_sq"`` and
``"max_exp_avg_sq"``. AdamW (Loshchilov and Hutter) shrinks the weights directly because
Adam's division by √v̂ would weaken a penalty added to the gradient.
Each step reads these options from each parameter's group (`groups`: parameter groups, as
PyTorch's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.validation import check_flag, check_number
from .groups import ParamsOrGroups
from .optimizer import GroupOption, Optimizer


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, with bias correction (the update in
    this module's docstring; weight decay enters the gradient, as an L2 penalty).

    Parameters
    ----------
    params, lr
        As `Optimizer`: distinct Parameters, or parameter groups whose options replace these
        (each group checked as they are), and a finite ``lr >= 0``.
    betas : (float, float)
        ``(beta1, beta2)``, each in [0, 1) (1 would never update the average, and divide by
        ``1 - beta**t = 0``).
    eps : float
        A finite number > 0, added to the denominator (0 would divide 0 by 0 where a gradient
        is 0; PyTorch accepts 0).
    weight_decay : float
        A finite number >= 0.
    amsgrad : bool
        Use the running maximum of ``v``.

    Raises
    ------
    TypeError
        An argument of the wrong type (a string, a bool for a number, betas not a pair, ...).
    ValueError
        A value out of its range, NaN or infinite; no parameters, or one given twice; a group
        that is empty, has no ``"params"`` or names another option.
    """

    decoupled = False
    """Whether weight decay shrinks the weights directly (AdamW) or enters the gradient."""

    BUFFERS = frozenset({"exp_avg", "exp_avg_sq", "max_exp_avg_sq"})

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)  # fmt: skip

    betas = GroupOption()
    eps = GroupOption()
    weight_decay = GroupOption()
    amsgrad = GroupOption()

    @classmethod
    def _check_options(cls, options: Mapping[str, Any], where: str) -> None:
        _check_betas(options["betas"], where)
        check_number(options["eps"], "eps", where, low=0, low_open=True, example="eps=1e-8",
                     why=" (eps = 0 divides 0 by 0 where a gradient is 0)")  # fmt: skip
        check_number(options["weight_decay"], "weight_decay", where, low=0,
                     example="weight_decay=1e-2")  # fmt: skip
        check_flag(options["amsgrad"], "amsgrad", where)
        super()._check_options(options, where)

    def step(self) -> None:
        t = self.steps + 1
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
            correction1, correction2 = 1 - beta1**t, 1 - beta2**t
            for i, param in self.to_apply(group):
                grad = param.grad
                if weight_decay and self.decoupled:
                    param.data *= 1 - lr * weight_decay
                elif weight_decay:
                    grad = grad + weight_decay * param.data
                work, update = self._scratch(i)  # in place: no array is allocated per step
                exp_avg = self._buffer("exp_avg", i, param.data)
                exp_avg *= beta1
                exp_avg += np.multiply(grad, 1 - beta1, out=work)  # m = b1 m + (1 - b1) g
                exp_avg_sq = self._buffer("exp_avg_sq", i, param.data)
                exp_avg_sq *= beta2
                np.multiply(grad, 1 - beta2, out=work)
                exp_avg_sq += np.multiply(work, grad, out=work)  # v = b2 v + (1 - b2) g g
                if amsgrad:
                    second = self._buffer("max_exp_avg_sq", i, param.data)
                    np.maximum(second, exp_avg_sq, out=second)
                else:
                    second = exp_avg_sq
                denom = np.sqrt(np.divide(second, correction2, out=work), out=work)
                denom += eps  # sqrt(v / (1 - b2^t)) + eps
                np.multiply(exp_avg, lr / correction1, out=update)
                param.data -= np.divide(update, denom, out=update)
        self.steps = t


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): before the Adam step,
    ``p <- p * (1 - lr * weight_decay)``, instead of adding ``weight_decay * p`` to the
    gradient, where Adam's scaling would weaken it. PyTorch's default ``weight_decay=0.01``.

    Parameters and errors: as `Adam`.
    """

    decoupled = True

    def __init__(
        self,
        params: ParamsOrGroups,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def _check_betas(betas: tuple[float, float], where: str) -> None:
    """Refuse ``betas`` unless it is a pair of finite numbers, each in [0, 1)."""
    example = "betas=(0.9, 0.999)"
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
        raise TypeError(
            f"{where}: betas must be a pair (beta1, beta2), got {type(betas).__name__} "
            f"{betas!r}; pass e.g. {example}"
        )
    for i, beta in enumerate(betas):
        check_number(beta, f"betas[{i}]", where, low=0, high=1, high_open=True, example=example)
