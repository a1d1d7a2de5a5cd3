"""The core both paths share: `Parameter`, and `Module`, a tree of modules.

A model is a tree: a `Module` finds its parameters and sub-modules among its attributes (a
`Parameter`, a `Module`, or a list or tuple of modules), and its buffers (saved state that is
not trained, such as BatchNorm's running mean) among the names given to `register_buffer`. So
``parameters()``, ``state_dict()``, ``zero_grad()`` and ``train()``/``eval()`` walk a whole model,
whichever path computes it:

- on the **autograd path** (`deeplearning.autograd.nn`) a module's ``forward`` is made of
  engine operations on tensors, and ``loss.backward()`` sets every parameter's ``.grad``;
- on the **layer path** (`deeplearning.layers.Layer`) a module's ``forward`` works on
  arrays and its hand-written ``backward`` sets the gradients.

Both give parameters the same names and shapes, so one ``state_dict`` loads into either, and the
optimizers, schedules, checkpoints and trainer serve both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .grad_mode import grad_mode, passes
from .hooks import Hook, RemovableHandle, add_hook, call_with_hooks
from .tensor import Tensor
from .types import Array
from .validation import check_flag


class Parameter(Tensor):
    """A tensor that a module trains: ``requires_grad`` is set, and ``.grad`` is an array of
    zeros from the start, set by every backward pass: a layer writes into it, and the engine
    replaces it with the array its pass computed (read ``.grad`` after each pass).

    A parameter used at several places of one forward pass gets the sum of their gradients, on
    both paths, as in PyTorch (tied weights): on the layer path, each layer's ``forward`` calls
    `used_by`, and its ``backward`` writes through `grad_out` and `grad_written`, which add the
    second use's gradient to the first's. A parameter that the latest backward pass did not
    reach keeps a gradient a step has applied already; `unapplied_gradients` tells the
    optimizers to leave it alone: each gradient is applied once.

    Parameters
    ----------
    data : ndarray
        The value, any shape (not copied). Optimizers update it in place, so every reference
        stays valid.
    """

    __slots__ = ("_applied_pass", "_grad_pass", "_use_pass", "_users", "_writes")

    grad: Array  # or None, set by hand as in PyTorch: the optimizers then skip it

    def __init__(self, data: ArrayLike) -> None:
        super().__init__(data, requires_grad=True)
        self.grad = np.zeros_like(self.data)
        self._grad_pass = -1  # the pass that set .grad; -1: none yet, or set by hand
        self._applied_pass = -2  # the pass whose gradient a step applied last
        self._use_pass, self._users, self._writes = -1, set[int](), 0

    def used_by(self, layer: object) -> None:
        """Count ``layer``'s use of this parameter in the forward pass now running."""
        if passes.wrote:  # the first forward after a backward pass starts the next pass
            passes.number += 1
            passes.wrote = False
        if self._use_pass != passes.number:
            self._use_pass, self._users, self._writes = passes.number, set(), 0
        self._users.add(id(layer))

    def grad_out(self) -> Array:
        """Where a backward pass writes this parameter's gradient for one use: ``.grad``
        itself for the first use of the pass (the gradient is set), a new array for another
        use (added to ``.grad`` by `grad_written`)."""
        grad: Array | None = self.grad
        if grad is None:  # set to None by hand, as in PyTorch
            self.grad = np.zeros_like(self.data)
        if self._writes % max(len(self._users), 1) == 0:
            return self.grad
        return np.empty_like(self.grad)

    def grad_written(self, grad: Array) -> None:
        """Record one use's gradient, written to ``grad`` (from `grad_out`): added to
        ``.grad`` unless it is ``.grad``; ``.grad`` is now the current pass's."""
        if grad is not self.grad:
            self.grad += grad
        self._writes += 1
        self._grad_pass = passes.number
        passes.wrote = True

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"

    def applied(self) -> None:
        """Record that an optimizer step applied ``.grad`` and changed ``.data``."""
        self._applied_pass = self._grad_pass
        self.data_changed()


def unapplied_gradients(params: Sequence[Parameter]) -> list[int]:
    """The positions of the parameters whose gradient a step should apply: it requires grad,
    has a gradient, and no step has applied it yet. (A parameter that the latest backward pass
    did not reach, another head of the model, keeps a gradient already applied; a gradient set
    by hand, never by a pass, is always applied.)"""
    return [
        i
        for i, param in enumerate(params)
        if param.requires_grad
        and param.grad is not None
        and (param._grad_pass == -1 or param._grad_pass != param._applied_pass)
    ]


class Module:
    """Base class of every model and layer, on both paths.

    Subclasses set parameters and sub-modules as attributes in ``__init__`` (after calling
    ``super().__init__()``) and define ``forward``. On this base, ``forward`` composes
    autograd operations (the engine differentiates it); `deeplearning.layers.Layer` adds
    hand-written backward passes.
    """

    engine = "autograd"
    """The path that computes this module's gradients (a checkpoint records it)."""

    _forward_hooks: dict[int, Hook] = {}  # noqa: RUF012  (read-only; an instance gets its own)
    _backward_hooks: dict[int, Hook] = {}  # noqa: RUF012

    def __init__(self) -> None:
        self.training = True
        self._buffer_names: list[str] = []

    def __setattr__(self, name: str, value: Any) -> None:
        """Set an attribute, refusing what would break the tree in silence: an array over a
        `Parameter` (it would leave the optimizer and the checkpoint), or a sub-module of the
        other path (its gradients would never be computed)."""
        if isinstance(value, Module):
            _check_same_path(self, name, value)
        elif isinstance(value, (list, tuple)) and _all_modules(value):
            for child in value:
                _check_same_path(self, name, child)
        elif not isinstance(value, Parameter) and isinstance(self.__dict__.get(name), Parameter):
            raise TypeError(
                f"cannot assign {type(value).__name__} to {type(self).__name__}.{name}, a "
                f"Parameter: set its values with {name}.data[...] = value, or replace it with "
                f"{name} = Parameter(value)"
            )
        object.__setattr__(self, name, value)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The output for a batch (subclasses define it, usually as ``forward(self, x)``)."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._forward_hooks or self._backward_hooks:
            return call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    def register_forward_hook(self, hook: Hook) -> RemovableHandle:
        """Run ``hook(module, args, output)`` after each forward of this module; a value it
        returns replaces the output (`core.hooks`). Returns a handle: ``handle.remove()``."""
        hooks = self._own_hooks("_forward_hooks")
        return add_hook(hooks, hook, "register_forward_hook", "hook(module, args, output)")

    def register_full_backward_hook(self, hook: Hook) -> RemovableHandle:
        """Run ``hook(module, grad_input, grad_output)`` once each backward pass has the
        gradients with respect to this module's inputs; a tuple it returns replaces
        ``grad_input`` (`core.hooks`). Returns a handle: ``handle.remove()``."""
        hooks = self._own_hooks("_backward_hooks")
        signature = "hook(module, grad_input, grad_output)"
        return add_hook(hooks, hook, "register_full_backward_hook", signature)

    def _own_hooks(self, name: str) -> dict[int, Hook]:
        """This module's own dict of hooks ``name`` (the class's empty one until a first)."""
        if name not in vars(self):
            object.__setattr__(self, name, {})
        hooks: dict[int, Hook] = vars(self)[name]
        return hooks

    def infer(self, x: Array) -> Array:
        """The output for a batch of arrays, as an array, recording no graph (the layer path
        overrides it: arrays in, arrays out)."""
        with grad_mode(False):
            out: Tensor = self(Tensor(x))
        return out.data

    # -- the tree ------------------------------------------------------------------------------
    def children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, module)`` for each direct sub-module, in the order they were set; a
        list or tuple of modules named ``blocks`` gives ``blocks.0``, ``blocks.1``, ..."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)) and _all_modules(value):
                for i, item in enumerate(value):
                    yield f"{name}.{i}", item

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield ``(prefix, self)``, then ``(dotted name, module)`` for every sub-module, depth
        first, as PyTorch orders them; a module reachable twice is yielded once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child}" if name else child, m) for child, m in module.children()]
            stack.extend(reversed(children))

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted name, Parameter)`` for this module's parameters, then its children's;
        a parameter reachable twice (shared weights) is yielded once."""
        seen: set[int] = set()
        for name, param in self._all_parameters(prefix):
            if id(param) not in seen:
                seen.add(id(param))
                yield name, param

    def _all_parameters(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for child_name, child in self.children():
            yield from child._all_parameters(f"{prefix}{child_name}.")

    def parameters(self) -> Iterator[Parameter]:
        """Yield every `Parameter` of the tree (for an optimizer)."""
        for _, param in self.named_parameters():
            yield param

    def register_buffer(self, name: str, value: Array) -> None:
        """Set attribute ``name`` to an array that is saved in ``state_dict`` but not trained."""
        setattr(self, name, value)
        self._buffer_names.append(name)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Array]]:
        """Yield ``(dotted name, array)`` for the saved, untrained state of the tree."""
        for name in self._buffer_names:
            yield prefix + name, getattr(self, name)
        for child_name, child in self.children():
            yield from child.named_buffers(f"{prefix}{child_name}.")

    def zero_grad(self) -> None:
        """Fill every parameter's gradient with zeros (never needed: gradients are set)."""
        for param in self.parameters():
            if param.grad is not None:
                param.grad.fill(0)

    def train(self, mode: bool = True) -> Module:
        """Put the module and its sub-modules in training mode (or evaluation mode if False)."""
        check_flag(mode, "mode", f"{type(self).__name__}.train")
        self.training = mode
        for _, child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout off, BatchNorm on its running statistics."""
        return self.train(False)

    def num_parameters(self) -> int:
        """The number of trainable scalars."""
        return sum(param.data.size for param in self.parameters())

    # -- saving and loading --------------------------------------------------------------------
    def state_dict(self) -> dict[str, Array]:
        """Every parameter and buffer by dotted name (``"fc1.W"``); the arrays are not copied."""
        state = {name: param.data for name, param in self.named_parameters()}
        state.update(self.named_buffers())
        return state

    def load_state_dict(self, state: Mapping[str, ArrayLike], strict: bool = True) -> None:
        """Copy arrays into this module's parameters and buffers, in place (all of them, or,
        if any does not fit, none).

        Raises
        ------
        ValueError
            With ``strict``, if names are missing or unexpected (all of them are listed); and
            if an array's shape differs from the one in the model.
        """
        own = self.state_dict()
        missing = sorted(own.keys() - state.keys())
        unexpected = sorted(state.keys() - own.keys())
        if strict and (missing or unexpected):
            raise ValueError(
                f"state does not fit {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}. Build the model with the sizes the state was "
                "saved from, or pass strict=False to load only the names that match."
            )
        values = {name: np.asarray(state[name]) for name in own if name in state}
        for name, value in values.items():  # check every array before changing anything
            if value.dtype.kind not in "fiub":
                raise TypeError(
                    f"{name!r}: the state holds {value.dtype} values, not real numbers: a "
                    "model's parameters and buffers are floats"
                )
            if value.shape != own[name].shape:
                raise ValueError(
                    f"{name!r}: the model has shape {own[name].shape} but the state has "
                    f"{value.shape}. Build the model with the sizes the state was saved from."
                )
        for name, value in values.items():
            own[name][...] = value

    def extra_repr(self) -> str:
        """Arguments shown inside the parentheses of ``repr``."""
        return ""

    def __repr__(self) -> str:
        children = [
            f"  ({name}): {child!r}".replace("\n", "\n  ") for name, child in self.children()
        ]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(children) + "\n)"


def _all_modules(items: list[Any] | tuple[Any, ...]) -> bool:
    return bool(items) and all(isinstance(item, Module) for item in items)


PATHS = {
    "layers": "the layer path (hand-written backward: deeplearning.layers)",
    "autograd": "the engine (deeplearning.autograd.nn)",
}


def _check_same_path(parent: Module, name: str, child: Module) -> None:
    """Refuse a sub-module of the other path: the engine never calls a layer's ``backward``,
    and a layer's ``backward`` cannot reach an engine module's parameters."""
    if child.engine != parent.engine:
        raise TypeError(
            f"{type(parent).__name__} is a module of {PATHS[parent.engine]}, but its "
            f"{name!r} is {type(child).__name__}, of {PATHS[child.engine]}: its gradients "
            f"would never be computed. Build the model from one path's modules."
        )


class Sequential(Module):
    """A chain of modules: ``forward`` runs them in order.

    Sub-modules are named by position (``"0"``, ``"1"``, ...), so parameters are ``"0.W"`` and
    so on, as in PyTorch.
    """

    def __init__(self, *modules: Module) -> None:
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"{type(self).__name__} takes modules (layers), but argument {i} is "
                    f"{type(module).__name__} {module!r}"
                )
        super().__init__()
        self.layers = list(modules)

    def children(self) -> Iterator[tuple[str, Module]]:
        for i, module in enumerate(self.layers):
            yield str(i), module

    def forward(self, x: Any) -> Any:
        for module in self.layers:
            x = module(x)
        return x

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)
