"""The base of every optimizer: the parameters, the learning rate, the state and its saving.

An optimizer updates ``Parameter.data`` in place from ``Parameter.grad``. Usage, as in
PyTorch::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss = loss_fn.forward(model.forward(x), y)
    model.backward(loss_fn.backward())       # sets every p.grad
    opt.step()                               # p.data -= ...

Layers *set* gradients in backward (they never accumulate), so ``zero_grad()`` is not needed
between steps; it exists for code written in the PyTorch habit.

Each algorithm lives in a file of its own, which opens with its update: `sgd`, `rmsprop` and
`adam` (Adam and AdamW); `clip` holds `clip_grad_norm`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Set
from typing import cast

import numpy as np

from ..core.module import Parameter
from ..core.tensor import Tensor
from ..core.types import Array
from ..core.validation import check_number


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
