"""Gradient clipping: scale all gradients together so that their global norm stays bounded.

As PyTorch's ``torch.nn.utils.clip_grad_norm_``, for gradients g_1, ..., g_n and a bound c
(``max_norm``)::

    total = √(Σ_i ||g_i||²)
    if total > c:   g_i <- g_i · c / (total + 1e-6)   for every i

Clipping keeps the direction of the whole gradient and bounds the step an exploding gradient
would take.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import cast

import numpy as np

from ..core.module import Parameter, unapplied_gradients
from ..core.validation import check_number


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    ``total = sqrt(sum over parameters of ||grad||**2)``; if ``total > max_norm`` every gradient
    is multiplied by ``max_norm / (total + 1e-6)`` (in place), as PyTorch's
    ``clip_grad_norm_``. The direction of the whole gradient is kept.

    Parameters
    ----------
    params : iterable of Parameter
        Whose gradients to clip: those no step has applied yet (`unapplied_gradients`). With
        parameter groups, ``optimizer.params`` (every group's: one norm over them all).
    max_norm : float
        The largest norm allowed, a finite number > 0 (0 would zero every gradient).

    Returns
    -------
    float
        The norm before clipping (watch it to choose ``max_norm``).

    Raises
    ------
    TypeError, ValueError
        ``max_norm`` is not a number, or not finite and > 0; ``params`` is a single
        Parameter or holds something else (a parameter group, ...): all checked before any
        gradient changes.
    """
    check_number(max_norm, "max_norm", "clip_grad_norm", low=0, low_open=True,
                 example="max_norm=1.0", why=" (0 would zero every gradient)")  # fmt: skip
    if isinstance(params, Parameter):
        raise TypeError(
            "clip_grad_norm takes an iterable of Parameters (e.g. model.parameters()), got a "
            "single Parameter: pass [param]"
        )
    given: list[object] = list(params)  # what came, whatever it is
    for i, param in enumerate(given):
        if not isinstance(param, Parameter):
            group = " (a parameter group)" if isinstance(param, Mapping) else ""
            raise TypeError(
                f"clip_grad_norm: params[{i}] is {type(param).__name__}{group}, not a Parameter; "
                "pass model.parameters(), or optimizer.params (every group's parameters)"
            )
    checked = cast("list[Parameter]", given)
    grads = [checked[i].grad for i in unapplied_gradients(checked)]
    total = float(np.sqrt(sum(float(np.sum(grad.astype(np.float64) ** 2)) for grad in grads)))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for grad in grads:
            grad *= scale
    return total
