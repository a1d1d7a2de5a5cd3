"""Optimizers: they update `Parameter.data` in place from `Parameter.grad`.

Usage, as in PyTorch::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss = loss_fn.forward(model.forward(x), y)
    model.backward(loss_fn.backward())       # sets every p.grad
    opt.step()                               # p.data -= ...

Layers *set* gradients in backward (they never accumulate), so ``zero_grad()`` is not needed
between steps; it exists for code written in the PyTorch habit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import cast

import numpy as np

from ..core.module import Parameter
from ..core.tensor import Tensor
from ..core.types import Array
from ..core.validation import check_flag, check_number


class Optimizer:
    """Base class: the parameters, the learning rate ``lr`` (a schedule may set it) and state.

    ``self.state`` maps a buffer name (``"velocity"``, ``"exp_avg"``, ...) to one array per
    parameter (None until the first step creates it), and ``self.steps`` counts the steps, so
    `state_dict` can save any optimizer and a resumed run continues exactly.

    Parameters
    ----------
    params : iterable of Parameter
        What to train, each once, in a fixed order: ``model.parameters()``, or a list. Not
        empty; not a single `Parameter`, a set (no fixed order) or a dict (no parameter groups).
    lr : float
        The learning rate, a finite number >= 0 (0 is accepted, as in PyTorch: nothing moves).

    Raises
    ------
    TypeError
        ``params`` is not an iterable of `Parameter`, or ``lr`` is not a number.
    ValueError
        ``params`` is empty or holds a parameter twice, or ``lr`` is NaN, infinite or < 0.
    """

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        where = type(self).__name__
        check_number(lr, "lr", where, low=0, example="lr=0.01")
        self.params = self._check_params(params, where)
        self.lr = lr
        self.steps = 0
        self.state: dict[str, list[Array | None]] = {}

    @staticmethod
    def _check_params(params: Iterable[Parameter], where: str) -> list[Parameter]:
        """``params`` as a list, refused unless it is a non-empty sequence of distinct
        `Parameter` (as PyTorch's ``Optimizer.add_param_group``)."""
        fix = "pass model.parameters()"
        if isinstance(params, Tensor):
            raise TypeError(
                f"{where}: params must be an iterable of Parameters, got a single "
                f"{type(params).__name__}; {fix}, or a list such as [weight]"
            )
        if isinstance(params, (Set, Mapping)) or not isinstance(params, Iterable):
            kind = (
                "a set, whose order changes between runs (the state is kept by position)"
                if isinstance(params, Set)
                else "a dict (parameter groups are not supported)"
                if isinstance(params, Mapping)
                else f"{type(params).__name__} {params!r}"
            )
            raise TypeError(
                f"{where}: params must be an ordered iterable of Parameters, got {kind}; "
                f"{fix}, or a list"
            )
        checked: list[object] = list(params)  # what came, whatever it is
        if not checked:
            raise ValueError(
                f"{where}: optimizer got an empty parameter list; {fix} of a model that has "
                "parameters (one built before the optimizer, and not an exhausted generator)"
            )
        first: dict[int, int] = {}
        for i, param in enumerate(checked):
            if not isinstance(param, Parameter):
                hint = (
                    " (named_parameters() yields (name, parameter) pairs)"
                    if isinstance(param, tuple)
                    else ""
                )
                raise TypeError(
                    f"{where}: optimizer can only optimize Parameters, but params[{i}] is "
                    f"{type(param).__name__}{hint}; {fix}"
                )
            if id(param) in first:
                raise ValueError(
                    f"{where}: params[{i}] is params[{first[id(param)]}] given again (shape "
                    f"{param.data.shape}), so each step would update it twice; give each "
                    f"parameter once: {fix}, which yields shared ones once"
                )
            first[id(param)] = i
        return cast("list[Parameter]", checked)

    def step(self) -> None:
        """Update every parameter once from its current gradient."""
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = {
            k: v
            for k, v in vars(self).items()
            if k not in ("params", "steps", "state") and not k.startswith("_")
        }
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in hyper.items())})"

    def zero_grad(self) -> None:
        """Fill every parameter's gradient with zeros."""
        for param in self.params:
            param.grad.fill(0)

    def _buffer(self, name: str, i: int, like: Array) -> Array:
        """The ``name`` buffer of parameter ``i``, created as zeros on first use."""
        buffers = self.state.setdefault(name, [None] * len(self.params))
        buffer = buffers[i]
        if buffer is None:
            buffer = buffers[i] = np.zeros_like(like)
        return buffer

    def _scratch(self, i: int) -> tuple[Array, Array]:
        """Two work arrays shaped like parameter ``i``, reused by every step so that the
        update allocates nothing (not state: never saved)."""
        scratch: list[tuple[Array, Array] | None] = self.__dict__.setdefault(
            "_work", [None] * len(self.params)
        )
        pair = scratch[i]
        if pair is None:
            like = self.params[i].data
            pair = scratch[i] = (np.empty_like(like), np.empty_like(like))
        return pair

    def state_dict(self) -> dict[str, Array]:
        """``lr``, ``steps`` and every buffer as ``"<name>.<parameter index>"``."""
        state = {"lr": np.array(self.lr), "steps": np.array(self.steps)}
        for name, buffers in self.state.items():
            for i, buffer in enumerate(buffers):
                if buffer is not None:
                    state[f"{name}.{i}"] = buffer
        return state

    def load_state_dict(self, state: Mapping[str, Array]) -> None:
        """Restore what `state_dict` saved (copies; shapes are checked, and the learning rate
        must be a finite number >= 0)."""
        lr = float(state["lr"])
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the saved learning rate must be a "
                f"finite number >= 0, got {lr}; load the state of a run that did not diverge"
            )
        self.lr = lr
        self.steps = int(state["steps"])
        self.state = {}
        for key, value in state.items():
            if key in ("lr", "steps"):
                continue
            name, _, index = key.rpartition(".")
            i = int(index)
            if i >= len(self.params) or value.shape != self.params[i].data.shape:
                raise ValueError(
                    f"optimizer state {key!r} of shape {value.shape} does not fit parameter {i} "
                    f"of {len(self.params)}: was it saved for another model?"
                )
            self._buffer(name, i, self.params[i].data)[...] = value


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    PyTorch's update, for each parameter ``p`` with gradient ``g``::

        g <- g + weight_decay * p
        v <- momentum * v + (1 - dampening) * g     (v <- g on the first step)
        g <- g + momentum * v  if nesterov  else  v
        p <- p - lr * g

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
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got "
                f"momentum={momentum}, dampening={dampening}; pass e.g. momentum=0.9, "
                "dampening=0, or nesterov=False"
            )
        super().__init__(params, lr)
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov

    def step(self) -> None:
        for i, param in enumerate(self.params):
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


class RMSprop(Optimizer):
    """RMSprop: divide each step by a running root-mean-square of the gradients.

    PyTorch's update, for each parameter ``p`` with gradient ``g``::

        g <- g + weight_decay * p
        v <- alpha * v + (1 - alpha) * g**2
        v_hat = v - g_avg**2,  g_avg <- alpha * g_avg + (1 - alpha) * g   if centered, else v
        step = g / (sqrt(v_hat) + eps)
        b <- momentum * b + step; step = b                                if momentum > 0
        p <- p - lr * step

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
        for i, param in enumerate(self.params):
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


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, with bias correction.

    PyTorch's update at step ``t = 1, 2, ...``::

        g <- g + weight_decay * p                  (L2 penalty in the gradient; see AdamW)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        v_max <- max(v_max, v); use v_max for v  if amsgrad
        p <- p - lr * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps)

    Parameters
    ----------
    params, lr
        As `Optimizer`: distinct Parameters, and a finite ``lr >= 0``.
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
        A value out of its range, NaN or infinite; no parameters, or one given twice.
    """

    decoupled = False
    """Whether weight decay shrinks the weights directly (AdamW) or enters the gradient."""

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        where = type(self).__name__
        example = "betas=(0.9, 0.999)"
        if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
            raise TypeError(
                f"{where}: betas must be a pair (beta1, beta2), got {type(betas).__name__} "
                f"{betas!r}; pass e.g. {example}"
            )
        for i, beta in enumerate(betas):
            check_number(beta, f"betas[{i}]", where, low=0, high=1, high_open=True,
                         example=example)  # fmt: skip
        check_number(eps, "eps", where, low=0, low_open=True, example="eps=1e-8",
                     why=" (eps = 0 divides 0 by 0 where a gradient is 0)")  # fmt: skip
        check_number(weight_decay, "weight_decay", where, low=0, example="weight_decay=1e-2")
        check_flag(amsgrad, "amsgrad", where)
        super().__init__(params, lr)
        self.betas, self.eps, self.weight_decay, self.amsgrad = betas, eps, weight_decay, amsgrad

    def step(self) -> None:
        beta1, beta2 = self.betas
        t = self.steps + 1
        correction1, correction2 = 1 - beta1**t, 1 - beta2**t
        for i, param in enumerate(self.params):
            grad = param.grad
            if self.weight_decay and self.decoupled:
                param.data *= 1 - self.lr * self.weight_decay
            elif self.weight_decay:
                grad = grad + self.weight_decay * param.data
            work, update = self._scratch(i)  # in place: no array is allocated per step
            exp_avg = self._buffer("exp_avg", i, param.data)
            exp_avg *= beta1
            exp_avg += np.multiply(grad, 1 - beta1, out=work)  # m = b1 m + (1 - b1) g
            exp_avg_sq = self._buffer("exp_avg_sq", i, param.data)
            exp_avg_sq *= beta2
            np.multiply(grad, 1 - beta2, out=work)
            exp_avg_sq += np.multiply(work, grad, out=work)  # v = b2 v + (1 - b2) g g
            if self.amsgrad:
                second = self._buffer("max_exp_avg_sq", i, param.data)
                np.maximum(second, exp_avg_sq, out=second)
            else:
                second = exp_avg_sq
            denom = np.sqrt(np.divide(second, correction2, out=work), out=work)
            denom += self.eps  # sqrt(v / (1 - b2^t)) + eps
            np.multiply(exp_avg, self.lr / correction1, out=update)
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
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    ``total = sqrt(sum over parameters of ||grad||**2)``; if ``total > max_norm`` every gradient
    is multiplied by ``max_norm / (total + 1e-6)`` (in place), as PyTorch's
    ``clip_grad_norm_``. The direction of the whole gradient is kept.

    Parameters
    ----------
    params : iterable of Parameter
        Whose gradients to clip.
    max_norm : float
        The largest norm allowed, a finite number > 0 (0 would zero every gradient).

    Returns
    -------
    float
        The norm before clipping (watch it to choose ``max_norm``).

    Raises
    ------
    TypeError, ValueError
        ``max_norm`` is not a number, or not finite and > 0 (checked before any gradient
        changes).
    """
    check_number(max_norm, "max_norm", "clip_grad_norm", low=0, low_open=True,
                 example="max_norm=1.0", why=" (0 would zero every gradient)")  # fmt: skip
    if isinstance(params, Parameter):
        raise TypeError(
            "clip_grad_norm takes an iterable of Parameters (e.g. model.parameters()), got a "
            "single Parameter: pass [param]"
        )
    grads = [param.grad for param in params]
    total = float(np.sqrt(sum(float(np.sum(grad.astype(np.float64) ** 2)) for grad in grads)))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for grad in grads:
            grad *= scale
    return total
