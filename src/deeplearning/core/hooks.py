"""Hooks: functions attached to a module to look inside a pass without changing its code,
PyTorch's ``register_forward_hook`` and ``register_full_backward_hook``, on both paths.

- A **forward hook** runs after the module's forward: ``hook(module, args, output)``, where
  ``args`` is the tuple of positional inputs. A value it returns replaces the output. The
  engine differentiates the replacement; a hand-written ``backward`` is the derivative of the
  layer's own function, so on the layer path the gradient passes through as if the
  replacement were the output (a straight-through estimator).
- A **full backward hook** runs once the gradients with respect to the module's inputs are
  known: ``hook(module, grad_input, grad_output)``. ``grad_input`` holds dL/d(input) for each
  positional input (None where none is computed: an input that needs no gradient, or a
  first layer's, which ``backward_params`` skips); ``grad_output`` holds dL/d(output). A value
  it returns (a tuple, one entry per input) replaces ``grad_input``.

Where they run:

- on the **layer path**, `deeplearning.layers.Layer` wraps the ``forward``, ``backward`` and
  ``backward_params`` each subclass defines (its models call their layers' ``forward``
  directly, so the method itself is where every call passes); ``grad_output`` is what
  ``backward`` was called with;
- on the **engine**, ``Module.__call__`` runs the forward hooks, and for backward hooks wraps
  the inputs and the output in identity nodes (`Watch`) whose backward passes hand the
  gradients to the hooks, as PyTorch's ``BackwardHook`` does.

``register_*_hook`` returns a `RemovableHandle`: ``handle.remove()``, or a ``with`` block,
detaches the hook.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, Callable

# Tensor first: importing it loads the engine's operations, which subclass Function, so that
# importing function.py first would start the tensor-operations cycle at its wrong end.
from .tensor import Grad, Tensor  # isort: split

from .function import Function
from .grad_mode import recording

Hook = Callable[..., Any]

_ids = itertools.count()


class RemovableHandle:
    """What ``register_forward_hook`` and ``register_full_backward_hook`` return: ``remove()``
    detaches the hook; so does leaving a ``with handle:`` block."""

    def __init__(self, hooks: dict[int, Hook]) -> None:
        self.hooks, self.id = hooks, next(_ids)

    def remove(self) -> None:
        """Detach the hook (again: nothing more happens)."""
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exception: object) -> None:
        self.remove()


def add_hook(hooks: dict[int, Hook], hook: Any, who: str, signature: str) -> RemovableHandle:
    """Add ``hook`` to ``hooks`` (refused unless callable) and return its handle."""
    if not callable(hook):
        raise TypeError(
            f"{who} takes a function {signature}, got {type(hook).__name__} {hook!r:.60}"
        )
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def run_forward_hooks(module: Any, args: tuple[Any, ...], output: Any) -> Any:
    """Each forward hook of ``module`` in turn; the output, or what a hook replaced it with."""
    for hook in list(module._forward_hooks.values()):
        result = hook(module, args, output)
        if result is not None:
            output = result
    return output


def run_backward_hooks(
    module: Any, grad_input: tuple[Any, ...], grad_output: tuple[Any, ...]
) -> tuple[Any, ...]:
    """Each full backward hook of ``module`` in turn; ``grad_input``, or what a hook replaced
    it with (checked to hold one gradient per input)."""
    for hook in list(module._backward_hooks.values()):
        result = hook(module, grad_input, grad_output)
        if result is None:
            continue
        result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        if len(result) != len(grad_input):
            raise ValueError(
                f"a backward hook of {type(module).__name__} returned {len(result)} gradients "
                f"for its {len(grad_input)} inputs: return a tuple of one per input (None "
                "where an input has none), or None to leave them as they are"
            )
        grad_input = result
    return grad_input


def refuse_replacement(module: Any, old: tuple[Any, ...], new: tuple[Any, ...], why: str) -> None:
    """A backward hook replaced a gradient that cannot be passed on: say so, never ignore it."""
    if any(a is not b for a, b in zip(old, new)):
        raise ValueError(
            f"a backward hook of {type(module).__name__} returned new input gradients, but "
            f"{why}: return None from the hook, and read the gradients only"
        )


# -- the engine ----------------------------------------------------------------------------------
class Watch(Function):
    """The identity, ``y = x``, whose backward pass hands ``gy`` to ``seen`` and passes on what
    ``seen`` returns: how the engine shows a module's gradients to its backward hooks."""

    def __init__(self, seen: Callable[[Grad], Grad]) -> None:
        self.seen = seen

    def forward(self, x: Any, **unused: Any) -> Any:
        return x.view()  # the same numbers, another array: in-place checks stay per tensor

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        return (self.seen(gy),)


class BackwardCall:
    """One call of a module on the engine, watched for its backward hooks: the output's
    gradient arrives first, then each input's; once the last input that needs one has its
    gradient (or at once, if none needs one), the hooks run."""

    def __init__(self, module: Any, args: tuple[Any, ...]) -> None:
        self.module, self.grad_output = module, (None,)
        self.needed = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        self.grads: dict[int, Grad] = {}
        self.count = len(args)

    def watch_inputs(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """``args`` with each input that needs a gradient passed through a `Watch`."""
        return tuple(
            Watch(functools.partial(self.input_grad, i))(a) if i in self.needed else a
            for i, a in enumerate(args)
        )

    def watch_output(self, output: Any) -> Any:
        if not isinstance(output, Tensor):
            raise TypeError(
                f"{type(self.module).__name__} returned {type(output).__name__}: a full "
                "backward hook needs a module whose forward returns one tensor; register it on "
                "the sub-modules instead"
            )
        return Watch(self.output_grad)(output) if output.requires_grad else output

    def output_grad(self, gy: Grad) -> Grad:
        self.grad_output = (gy,)
        if not self.needed:  # no input gradient will come: the hooks run now
            old = (None,) * self.count
            new = run_backward_hooks(self.module, old, self.grad_output)
            refuse_replacement(self.module, old, new, "none of its inputs needs a gradient")
        return gy

    def input_grad(self, i: int, gx: Grad) -> Grad:
        self.grads[i] = gx
        if len(self.grads) < len(self.needed):
            return gx
        old = tuple(self.grads.get(j) for j in range(self.count))
        new = run_backward_hooks(self.module, old, self.grad_output)
        if len(self.needed) > 1:
            refuse_replacement(self.module, old, new, "the other inputs' gradients are passed on")
        return new[i]


def call_with_hooks(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``module.forward(*args, **kwargs)`` on the engine, with its hooks (module docstring)."""
    call = BackwardCall(module, args) if module._backward_hooks and recording.enabled else None
    if call is not None:
        args = call.watch_inputs(args)
    output = run_forward_hooks(module, args, module.forward(*args, **kwargs))
    return call.watch_output(output) if call is not None else output
