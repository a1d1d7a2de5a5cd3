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
import re
from collections.abc import Iterable, Iterator, Mapping, Set
from typing import Any, ClassVar, cast

import numpy as np
from numpy.typing import ArrayLike

from ..core.module import Parameter, unapplied_gradients
from ..core.tensor import Tensor
from ..core.types import Array
from ..core.validation import check_int, check_number


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

    BUFFERS: ClassVar[frozenset[str]] = frozenset()
    """The names of the state this optimizer keeps per parameter (``"velocity"``, ...)."""

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
        """Update each parameter once from its gradient (those of `to_apply`)."""
        raise NotImplementedError

    def to_apply(self) -> Iterator[tuple[int, Parameter]]:
        """``(index, parameter)`` for each parameter whose gradient a step applies (those of
        `unapplied_gradients`: each gradient once). After the step's body has updated one,
        it is marked (`Parameter.applied`): a retained graph that saved its old value now
        refuses a backward pass through it."""
        for i in unapplied_gradients(self.params):
            param = self.params[i]
            yield i, param
            param.applied()

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
            if param.grad is not None:
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

    def load_state_dict(self, state: Mapping[str, ArrayLike]) -> None:
        """Restore what `state_dict` saved: all of it, or, if anything does not fit, nothing.

        Raises
        ------
        ValueError or TypeError
            ``lr`` or ``steps`` is missing; a key is not ``lr``, ``steps`` or one of this
            optimizer's `BUFFERS` with the index of one of its parameters; ``lr`` is not a
            finite number >= 0 or ``steps`` not an int >= 0; a buffer holds NaN or infinity,
            or has another shape than its parameter.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping) or not all(isinstance(key, str) for key in state):
            raise TypeError(
                f"{where}: the state must be a mapping of names to arrays, as state_dict() "
                f"gives, got {type(state).__name__}"
            )
        missing = sorted({"lr", "steps"} - state.keys())
        if missing:
            raise ValueError(f"{where}: the state has no {missing}; pass what state_dict() gave")
        lr, steps = (self._scalar(state, key, where) for key in ("lr", "steps"))
        if isinstance(lr, float) and not (math.isfinite(lr) and lr >= 0):
            raise ValueError(
                f"{where}: the saved learning rate must be a finite number >= 0, got {lr}; "
                "load the state of a run that did not diverge"
            )
        check_number(lr, "the saved lr", where, low=0, example="lr=0.01")
        check_int(steps, "the saved steps", where, low=0, example="steps=100")
        buffers = {key: self._checked_buffer(key, value, where) for key, value in state.items()
                   if key not in ("lr", "steps")}  # fmt: skip
        self.lr, self.steps, self.state = lr, steps, {}
        for (name, i), value in buffers.values():
            self._buffer(name, i, self.params[i].data)[...] = value

    @staticmethod
    def _scalar(state: Mapping[str, ArrayLike], key: str, where: str) -> Any:
        """The single value saved under ``key``, as a Python object (checked by the caller)."""
        array = np.asarray(state[key])
        if array.shape != ():
            raise ValueError(f"{where}: {key} must be one number, got an array of {array.shape}")
        return array.item()

    def _checked_buffer(
        self, key: str, value: ArrayLike, where: str
    ) -> tuple[tuple[str, int], Array]:
        """``(buffer name, parameter index), array`` for the state entry ``key``, refused
        unless it is one of `BUFFERS`, for a parameter of this optimizer, finite and of its
        parameter's shape."""
        name, _, index = key.rpartition(".")
        if name not in self.BUFFERS or not re.fullmatch("0|[1-9][0-9]*", index):
            raise ValueError(
                f"{where}: unknown state entry {key!r}: {type(self).__name__} keeps lr, steps "
                f"and {sorted(self.BUFFERS)} as '<buffer>.<parameter index>'; is the state "
                "another optimizer's?"
            )
        i, array = int(index), np.asarray(value)
        if i >= len(self.params) or array.shape != self.params[i].data.shape:
            fits = f" (shape {self.params[i].data.shape})" if i < len(self.params) else ""
            raise ValueError(
                f"optimizer state {key!r} of shape {array.shape} does not fit parameter {i} "
                f"of {len(self.params)}{fits}: was it saved for another model?"
            )
        dtype = self.params[i].dtype
        with np.errstate(over="ignore"):  # a value too large for the dtype is refused below
            finite = array.dtype.kind in "fiu" and bool(np.all(np.isfinite(array.astype(dtype))))
        if not finite:
            raise ValueError(
                f"{where}: {key!r} must hold numbers finite in {dtype}, got dtype "
                f"{array.dtype}{' with NaN or infinity' if array.dtype.kind in 'fc' else ''}"
            )
        return (name, i), array
