"""The layer path's contract, `Layer`: a module with a hand-written backward pass; and
`Sequential`, a chain of layers.

For a layer ``y = f(x; θ)`` inside a loss ``L``, backpropagation is the chain rule, one layer
at a time, from the loss back to the input::

    dL/dθ = (dy/dθ)ᵀ dL/dy        dL/dx = (dy/dx)ᵀ dL/dy

Every layer follows one contract:

- ``forward(x)`` computes the output and keeps what ``backward`` needs (and only that).
- ``backward(dout)`` takes dL/d(output), **sets** each parameter's ``.grad`` to dL/d(parameter)
  (overwriting it: gradients are set, never accumulated, on both paths of the library; see
  `deeplearning.autograd.backprop`), and returns dL/d(input). It never modifies ``dout``.
- ``backward_params(dout)`` does the same but may skip dL/d(input); a model calls it on its
  first layer, whose input gradient nobody needs.

The layers themselves are in the files beside this one (`linear`, `activation`, `conv`,
`pooling`, `normalization`, `dropout`, `loss`). The module tree (parameters, buffers,
``state_dict``, ``train()``/``eval()``) is `core.module.Module`'s, shared with the engine.

Arrays flow with a batch dimension first: ``x`` has shape ``(N, features)``. The dtype of a
layer's computation follows its parameters (float32 by default, float64 for gradient checks).

Inputs are real numbers (`Layer.as_input`): a layer with parameters converts its input to their
dtype; one without keeps floats as they are and converts integers and booleans to float32.
Complex inputs are a TypeError (casting would drop the imaginary part), and so are strings and
objects. An empty batch (N = 0) gives an empty output of the right shape, as in PyTorch; the
losses, where a mean over it would be 0 / 0, refuse it.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from numpy.typing import DTypeLike

from ..core import module
from ..core.hooks import refuse_replacement, run_backward_hooks, run_forward_hooks
from ..core.module import Module
from ..core.types import Array
from ..core.validation import as_real_array

_T = TypeVar("_T")


def _with_hooks(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` (a layer's ``forward``, ``backward`` or ``backward_params``) running the
    layer's hooks around it. A call made while the same layer's hooked call runs (a
    ``super().forward``, a ``backward_params`` that calls ``backward``) runs them no second
    time."""
    forward = name == "forward"
    running = "_in_forward_hooks" if forward else "_in_backward_hooks"

    @functools.wraps(method)
    def run(self: Layer, *args: Any, **kwargs: Any) -> Any:
        hooks = self._forward_hooks if forward else self._backward_hooks
        if not hooks or vars(self).get(running):
            return method(self, *args, **kwargs)
        object.__setattr__(self, running, True)
        try:
            result = method(self, *args, **kwargs)
        finally:
            object.__setattr__(self, running, False)
        if forward:
            return run_forward_hooks(self, args, result)
        if name == "backward_params":  # no input gradient is computed: (None,)
            new = run_backward_hooks(self, (None,), args)
            refuse_replacement(self, (None,), new, "backward_params computes none")
            return None
        grads = result if isinstance(result, tuple) else (result,)
        new = run_backward_hooks(self, grads, args)
        return new if isinstance(result, tuple) else new[0]

    run.runs_hooks = True  # type: ignore[attr-defined]
    return run


class Layer(Module):
    """A module that computes on arrays and knows its own backward pass (the layer path).

    Subclasses define ``forward(x)`` and ``backward(dout)`` (see the module docstring).
    """

    engine = "layers"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap the ``forward``, ``backward`` and ``backward_params`` the subclass defines or
        takes from a base of its own (one shared with the engine), so that its hooks run
        around them (`core.hooks`); without hooks, the cost is one dict lookup."""
        super().__init_subclass__(**kwargs)
        for name in ("forward", "backward", "backward_params"):
            method = getattr(cls, name)  # its own, or one from a base shared with the engine
            if not getattr(method, "runs_hooks", False):
                setattr(cls, name, _with_hooks(name, method))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)  # the hooks run in forward itself

    def forward(self, x: Array) -> Array:
        """Compute the output for a batch ``x``; keep what `backward` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, dout: Array) -> Array:
        """Set the parameters' gradients and return dL/dx, given dL/d(output) ``dout``."""
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def backward_params(self, dout: Array) -> None:
        """Set the parameters' gradients; dL/dx may be skipped (by default it is not)."""
        self.backward(dout)

    def infer(self, x: Array) -> Array:
        """The output for a batch (``forward``: arrays in, arrays out)."""
        return self.forward(x)

    def as_input(self, x: Array, dtype: DTypeLike | None = None) -> Array:
        """``x`` as an array of real floats (`as_real_array`): of ``dtype`` (the
        parameters', for a layer that has some), else floats as they are and integers and
        booleans as float32. A TypeError, naming the layer, for complex or non-numeric input."""
        return as_real_array(x, f"{type(self).__name__}.forward", dtype)

    # -- helpers for subclasses ----------------------------------------------------------------
    def _saved(self, value: _T | None) -> _T:
        """Return what forward kept, or explain that forward has not run yet."""
        if value is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward was called before forward: run forward on a "
                "batch first, then backward with the gradient of the loss for that batch."
            )
        return value

    def _check_dout(self, dout: Array, shape: tuple[int, ...]) -> None:
        """Check that the upstream gradient has the shape of the forward output."""
        if dout.shape != shape:
            raise ValueError(
                f"{type(self).__name__}.backward expected dout of shape {shape} (the shape of "
                f"the last forward output) but got {dout.shape}."
            )


class Sequential(module.Sequential, Layer):
    """A chain of layers: ``forward`` runs them in order, ``backward`` in reverse.

    Sub-layers are named by position (``"0"``, ``"1"``, ...), so parameters are ``"0.W"`` and so
    on, as in PyTorch. ``backward_params`` skips the input gradient of the first layer.

    Each layer object may appear once in the chain, nested chains and models included: a layer
    keeps what its backward pass needs from its last forward call only, so a second use would
    overwrite the first's, and its gradients are set, not summed. Reusing a layer is a
    ValueError naming both positions; for shared weights, build the model on the autograd
    engine (`deeplearning.autograd.nn`), which differentiates every use.
    """

    layers: list[Layer]  # type: ignore[assignment]

    def __init__(self, *layers: Layer) -> None:
        super().__init__(*layers)
        _check_each_layer_once(self)

    def forward(self, x: Array) -> Array:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def _backward_through(self, dout: Array, layers: list[Layer]) -> Array:
        for layer in reversed(layers):
            dout = layer.backward(dout)
        return dout

    def backward(self, dout: Array) -> Array:
        return self._backward_through(dout, self.layers)

    def backward_params(self, dout: Array) -> None:
        self.layers[0].backward_params(self._backward_through(dout, self.layers[1:]))

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]


def _check_each_layer_once(model: Module) -> None:
    """Refuse a layer-path model in which one module object appears at two positions."""
    seen: dict[int, str] = {}

    def visit(module: Module, name: str) -> None:
        for child_name, child in module.children():
            path = f"{name}.{child_name}" if name else child_name
            if id(child) in seen:
                raise ValueError(
                    f"{type(model).__name__}: the same {type(child).__name__} object is at "
                    f"positions {seen[id(child)]!r} and {path!r}. A layer keeps what its "
                    "backward pass needs from one forward call only, so it cannot be used "
                    "twice in a layer-path chain: create a separate layer for each position, "
                    "or, to share weights, build the model on the autograd engine "
                    "(deeplearning.autograd.nn), which handles a module used several times."
                )
            seen[id(child)] = path
            visit(child, path)

    visit(model, "")
