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

from .neural_net import Array, Parameter


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
