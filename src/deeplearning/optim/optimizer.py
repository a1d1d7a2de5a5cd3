"""The base of every optimizer: the parameters and their groups, the options, the state and
its saving.

An optimizer updates ``Parameter.data`` in place from ``Parameter.grad``. Usage, as in
PyTorch::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss = loss_fn.forward(model.forward(x), y)
    model.backward(loss_fn.backward())       # sets every p.grad
    opt.step()                               # p.data -= ...

Layers *set* gradients in backward (they never accumulate), so ``zero_grad()`` is not needed
between steps; it exists for code written in the PyTorch habit.

Parameter groups (see `groups`) train parts of a model with options of their own, as in
PyTorch; an option a group does not name is the constructor's::

    opt = AdamW([{"params": decay, "weight_decay": 0.1},
                 {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99))
    opt.param_groups[0]["lr"] = 5e-4         # one group's rate
    opt.lr = 1e-4                            # every group's rate (opt.lr reads group 0's)

Each step reads every option from the parameter's group. ``opt.<option>`` (``opt.lr``,
``opt.weight_decay``, ...) reads group 0's value and, set, checks the value and sets it in
every group; a schedule (`lr_scheduler.LRScheduler`) sets each group's ``lr``.

Each algorithm lives in a file of its own, which opens with its update: `sgd`, `rmsprop` and
`adam` (Adam and AdamW); `clip` holds `clip_grad_norm`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from ..core.module import Parameter, unapplied_gradients
from ..core.types import Array
from ..core.validation import check_int, check_number
from .groups import ParamsOrGroups, build_param_groups


class GroupOption:
    """An option of every parameter group as an attribute of the optimizer (``opt.lr``,
    ``opt.momentum``, ...): reading gives group 0's value (the only group's, with one);
    setting checks the value as the constructor does and sets it in every group."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, optimizer: Optimizer | None, owner: type | None = None) -> Any:
        if optimizer is None:
            return self
        return optimizer.param_groups[0][self.name]

    def __set__(self, optimizer: Optimizer, value: Any) -> None:
        optimizer.set_option(self.name, value)


class Optimizer:
    """Base class: the parameters in groups, their options (``lr``: a schedule may set it) and
    the state.

    ``self.param_groups`` holds one dict per group: ``"params"`` (its Parameters) and every
    option (``"lr"``, and the optimizer's others; ``"initial_lr"`` too once a schedule drives
    it). ``self.params`` lists every parameter, group after group; ``self.defaults`` the
    constructor's options. ``self.state`` maps a buffer name (``"velocity"``, ``"exp_avg"``,
    ...) to one array per parameter of ``self.params`` (None until the first step creates
    it), and ``self.steps`` counts the steps, so `state_dict` can save any optimizer and a
    resumed run continues exactly.

    Parameters
    ----------
    params : iterable of Parameter, or list of dict
        What to train, each once, in a fixed order: ``model.parameters()``, or a list. Not
        empty; not a single `Parameter`, a set (no fixed order) or a dict. Or parameter
        groups: ``[{"params": [...], "lr": 0.01, ...}, ...]``, each naming its Parameters (not
        empty, each parameter in one group) and any options of its own.
    lr : float
        The learning rate, a finite number >= 0 (0 is accepted, as in PyTorch: nothing moves).
    **defaults
        The optimizer's other options (a subclass passes its own: ``momentum``, ...).

    Raises
    ------
    TypeError
        ``params`` is not an iterable of `Parameter` or of groups, or an option is not of its
        type (``lr`` not a number, ...).
    ValueError
        ``params`` (or a group) is empty or holds a parameter twice, a group has no
        ``"params"`` or an option the optimizer does not have, or an option is out of its
        range (``lr`` NaN, infinite or < 0, ...).
    """

    BUFFERS: ClassVar[frozenset[str]] = frozenset()
    """The names of the state this optimizer keeps per parameter (``"velocity"``, ...)."""

    lr = GroupOption()

    def __init__(self, params: ParamsOrGroups, lr: float, **defaults: Any) -> None:
        where = type(self).__name__
        self.defaults: dict[str, Any] = {"lr": lr, **defaults}
        self._check_options(self.defaults, where)
        self.param_groups = build_param_groups(params, self.defaults, self._check_options, where)
        self.params = [param for group in self.param_groups for param in group["params"]]
        self.steps = 0
        self.state: dict[str, list[Array | None]] = {}

    @classmethod
    def _check_options(cls, options: Mapping[str, Any], where: str) -> None:
        """Refuse the options of a group (or the constructor's) that are not valid; each
        optimizer adds the checks of its own options."""
        check_number(options["lr"], "lr", where, low=0, example="lr=0.01")

    def set_option(self, name: str, value: Any) -> None:
        """Set option ``name`` to ``value`` in every group (``opt.<name> = value`` does this),
        once the value is checked against each group's other options.

        Raises
        ------
        AttributeError
            ``name`` is not an option of this optimizer.
        TypeError, ValueError
            As the constructor, for the value; no group changes.
        """
        where = type(self).__name__
        if name not in self.defaults:
            raise AttributeError(
                f"{where} has no option {name!r}; its options are {sorted(self.defaults)}"
            )
        several = len(self.param_groups) > 1
        for g, group in enumerate(self.param_groups):
            self._check_options({**group, name: value}, f"{where} param group {g}" if several
                                else where)  # fmt: skip
        for group in self.param_groups:
            group[name] = value

    def step(self) -> None:
        """Update each parameter once from its gradient (those of `to_apply`), with the options
        of its group."""
        raise NotImplementedError

    def to_apply(self, group: Mapping[str, Any] | None = None) -> Iterator[tuple[int, Parameter]]:
        """``(index, parameter)`` for each parameter of ``group`` (of every group, if None)
        whose gradient a step applies (those of `unapplied_gradients`: each gradient once);
        ``index`` is its position in ``self.params`` (and in the state). After the step's body
        has updated one, it is marked (`Parameter.applied`): a retained graph that saved its
        old value now refuses a backward pass through it."""
        start, members = 0, self.params
        if group is not None:
            for other in self.param_groups:
                if other is group:
                    break
                start += len(other["params"])
            else:
                raise ValueError(
                    f"{type(self).__name__}.to_apply: the group is not one of its "
                    "param_groups; pass one of optimizer.param_groups, or None for all"
                )
            members = group["params"]
        for i in unapplied_gradients(members):
            param = members[i]
            yield start + i, param
            param.applied()

    def __repr__(self) -> str:
        def options(group: Mapping[str, Any]) -> str:
            return ", ".join(f"{key}={group[key]}" for key in self.defaults)

        internal = ("params", "steps", "state", "param_groups", "defaults")
        extra = "".join(f", {k}={v}" for k, v in vars(self).items()
                        if k not in internal and not k.startswith("_"))  # fmt: skip
        groups = self.param_groups
        if len(groups) == 1:
            return f"{type(self).__name__}({options(groups[0])}{extra})"
        listed = ", ".join(f"{{{len(g['params'])} params: {options(g)}}}" for g in groups)
        return f"{type(self).__name__}([{listed}]{extra})"

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
        """``lr`` (group 0's), ``steps`` and every buffer as ``"<name>.<parameter index>"``.

        With several groups, also each group's options as ``"group.<g>.<option>"`` (its
        ``initial_lr`` too, once a schedule has set it) and the indices of its parameters in
        ``self.params`` as ``"group.<g>.params"``: float64 arrays, as a checkpoint keeps them
        (a flag 0 or 1, ``betas`` a pair, the indices whole numbers). With one group, as
        before groups existed: the constructor gives the options other than ``lr``.
        """
        state = {"lr": np.array(self.lr), "steps": np.array(self.steps)}
        if len(self.param_groups) > 1:
            start = 0
            for g, group in enumerate(self.param_groups):
                count = len(group["params"])
                state[f"group.{g}.params"] = np.arange(start, start + count, dtype=np.float64)
                start += count
                for key in (*self.defaults, "initial_lr"):
                    if key in group:
                        state[f"group.{g}.{key}"] = np.array(group[key], dtype=np.float64)
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
            ``lr`` or ``steps`` is missing; a key is not ``lr``, ``steps``, one of this
            optimizer's `BUFFERS` with the index of one of its parameters, or a group's
            ``group.<g>.<option>``; ``lr`` is not a finite number >= 0 or ``steps`` not an
            int >= 0; a buffer holds NaN or infinity, or has another shape than its parameter;
            the state's groups are not this optimizer's (their number, or the parameters of
            one), a group lacks an option or has one out of its range, or ``lr`` is not group
            0's.
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
        groups = self._checked_groups(state, lr, where)
        buffers = {key: self._checked_buffer(key, value, where) for key, value in state.items()
                   if key not in ("lr", "steps") and not key.startswith("group.")}  # fmt: skip
        self.steps, self.state = steps, {}
        if groups is None:
            self.param_groups[0]["lr"] = lr
        for group, options in zip(self.param_groups, groups or []):
            group.pop("initial_lr", None)
            group.update(options)
        for (name, i), value in buffers.values():
            self._buffer(name, i, self.params[i].data)[...] = value

    def _checked_groups(
        self, state: Mapping[str, ArrayLike], lr: float, where: str
    ) -> list[dict[str, Any]] | None:
        """The options of each group the state saved (None for a state of one group without
        ``group.*`` entries), refused unless they are this optimizer's groups: as many, each
        over the same parameters, each option valid, and ``lr`` group 0's."""
        kept = ("params", *self.defaults, "initial_lr")
        saved: dict[int, dict[str, ArrayLike]] = {}
        for key, value in state.items():
            if not key.startswith("group."):
                continue
            _, index, option = [*key.split(".", 2), "", ""][:3]
            if not re.fullmatch("0|[1-9][0-9]*", index) or option not in kept:
                raise ValueError(
                    f"{where}: unknown state entry {key!r}: {type(self).__name__} keeps each "
                    f"group's {list(kept)} as 'group.<group index>.<option>'; is the state "
                    "another optimizer's?"
                )
            saved.setdefault(int(index), {})[option] = value
        own = len(self.param_groups)
        if not saved and own == 1:
            return None
        if sorted(saved) != list(range(own)):
            held = f"groups {sorted(saved)}" if saved else "one group (no 'group.*' entries)"
            raise ValueError(
                f"{where}: the state holds parameter {held}, but this optimizer has {own} "
                f"(groups {list(range(own))}): build the optimizer with the parameter groups "
                "the state was saved with"
            )
        groups, start = [], 0
        for g, group in enumerate(self.param_groups):
            entries, there = saved[g], f"{where}: the saved param group {g}"
            lacking = [key for key in kept[:-1] if key not in entries]
            if lacking:
                raise ValueError(f"{there} lacks {lacking}; pass what state_dict() gave")
            count = len(group["params"])
            indices, expected = np.asarray(entries.pop("params")), np.arange(start, start + count)
            start += count
            if indices.dtype.kind not in "fiu" or not np.array_equal(indices, expected):
                raise ValueError(
                    f"{there} holds the parameters {indices.tolist()} of the optimizer's, but "
                    f"this optimizer's group {g} holds {expected.tolist()}: build the "
                    "optimizer with the parameter groups the state was saved with"
                )
            options = {key: self._saved_option(key, value, there) for key, value in entries.items()}
            self._check_options(options, there)
            if "initial_lr" in options:
                check_number(options["initial_lr"], "initial_lr", there, low=0,
                             example="initial_lr=0.01")  # fmt: skip
            groups.append(options)
        if groups[0]["lr"] != lr:
            raise ValueError(
                f"{where}: the saved lr {lr} is not the saved group 0's lr {groups[0]['lr']} "
                "(they are saved equal): pass what state_dict() gave"
            )
        return groups

    def _saved_option(self, key: str, value: ArrayLike, where: str) -> Any:
        """The option ``key`` as `state_dict` saved it, back in the constructor's type: a
        flag from 0 or 1, a tuple (``betas``) from its array, a number from a scalar."""
        default = self.defaults.get(key, 0.0)  # (initial_lr: a number)
        array = np.asarray(value)
        shape: tuple[int, ...] = (len(default),) if isinstance(default, (tuple, list)) else ()
        if array.dtype.kind not in "fiub" or array.shape != shape:
            raise ValueError(
                f"{where}: {key} must be {'one number' if not shape else f'{shape[0]} numbers'}"
                f", got an array of {array.dtype} of shape {array.shape}"
            )
        if isinstance(default, (bool, np.bool_)):
            if array.item() not in (0, 1):
                raise ValueError(f"{where}: {key} must be 0 or 1 (False or True), got {array}")
            return bool(array.item())
        return tuple(array.tolist()) if shape else array.item()

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
