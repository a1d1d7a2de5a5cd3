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

from collections.abc import Iterable, Mapping

import numpy as np

from ._types import Array
from .module import Parameter


class Optimizer:
    """Base class: the parameters, the learning rate ``lr`` (a schedule may set it) and state.

    ``self.state`` maps a buffer name (``"velocity"``, ``"exp_avg"``, ...) to one array per
    parameter (None until the first step creates it), and ``self.steps`` counts the steps, so
    `state_dict` can save any optimizer and a resumed run continues exactly.
    """

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got no parameters: pass model.parameters()")
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        self.lr = lr
        self.steps = 0
        self.state: dict[str, list[Array | None]] = {}

    def step(self) -> None:
        """Update every parameter once from its current gradient."""
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = {k: v for k, v in vars(self).items() if k not in ("params", "steps", "state")}
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

    def state_dict(self) -> dict[str, Array]:
        """``lr``, ``steps`` and every buffer as ``"<name>.<parameter index>"``."""
        state = {"lr": np.array(self.lr), "steps": np.array(self.steps)}
        for name, buffers in self.state.items():
            for i, buffer in enumerate(buffers):
                if buffer is not None:
                    state[f"{name}.{i}"] = buffer
        return state

    def load_state_dict(self, state: Mapping[str, Array]) -> None:
        """Restore what `state_dict` saved (copies; shapes are checked)."""
        self.lr = float(state["lr"])
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
        super().__init__(params, lr)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
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
            param.data -= self.lr * grad
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
            exp_avg = self._buffer("exp_avg", i, param.data)
            exp_avg *= beta1
            exp_avg += (1 - beta1) * grad
            exp_avg_sq = self._buffer("exp_avg_sq", i, param.data)
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad
            if self.amsgrad:
                second = self._buffer("max_exp_avg_sq", i, param.data)
                np.maximum(second, exp_avg_sq, out=second)
            else:
                second = exp_avg_sq
            denom = np.sqrt(second / correction2) + self.eps
            param.data -= (self.lr / correction1) * exp_avg / denom
        self.steps = t


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): before the Adam step,
    ``p <- p * (1 - lr * weight_decay)``, instead of adding ``weight_decay * p`` to the
    gradient, where Adam's scaling would weaken it. PyTorch's default ``weight_decay=0.01``."""

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

    Returns
    -------
    float
        The norm before clipping (watch it to choose ``max_norm``).
    """
    grads = [param.grad for param in params]
    total = float(np.sqrt(sum(float(np.sum(grad.astype(np.float64) ** 2)) for grad in grads)))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for grad in grads:
            grad *= scale
    return total
