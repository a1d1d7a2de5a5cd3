"""The layer path: `Layer`, a module with a hand-written backward pass, and the basic layers.

Every layer follows one contract:

- ``forward(x)`` computes the output and keeps what ``backward`` needs (and only that).
- ``backward(dout)`` takes dL/d(output), **sets** each parameter's ``.grad`` to dL/d(parameter)
  (overwriting it: gradients are set, never accumulated, on both paths of the library; see
  `deeplearning.autograd.backprop`), and returns dL/d(input). It never modifies ``dout``.
- ``backward_params(dout)`` does the same but may skip dL/d(input); a model calls it on its
  first layer, whose input gradient nobody needs.

Layers here: `Linear`; the activations `ReLU`, `LeakyReLU`, `Sigmoid`, `Tanh`, `Softmax` and
`LogSoftmax`; and `Sequential`, a chain of layers. `Dropout` and `BatchNorm1d`, which behave
differently in training and evaluation mode, are in `regularization`. The module tree
(parameters, buffers, ``state_dict``, ``train()``/``eval()``) is `Module`'s, shared with the
autograd path.

Arrays flow with a batch dimension first: ``x`` has shape ``(N, features)``. The dtype of a
layer's computation follows its parameters (float32 by default, float64 for gradient checks).

Inputs are real numbers (`Layer.as_input`): a layer with parameters converts its input to their
dtype; one without keeps floats as they are and converts integers and booleans to float32.
Complex inputs are a TypeError (casting would drop the imaginary part), and so are strings and
objects. An empty batch (N = 0) gives an empty output of the right shape, as in PyTorch; the
losses, where a mean over it would be 0 / 0, refuse it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from numpy.typing import DTypeLike

from . import module
from ._types import (
    RNG,
    Array,
    as_generator,
    as_real_array,
    check_positive_int,
    float_dtype,
)
from .functional import check_negative_slope, leaky_relu_slope, log_softmax, sigmoid, softmax
from .losses import CrossEntropyLoss
from .module import Module, Parameter

_T = TypeVar("_T")


class Layer(Module):
    """A module that computes on arrays and knows its own backward pass (the layer path).

    Subclasses define ``forward(x)`` and ``backward(dout)`` (see the module docstring).
    """

    engine = "layers"

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
        """``x`` as an array of real floats (`_types.as_real_array`): of ``dtype`` (the
        parameters', for a layer that has some), else floats as they are and integers and
        booleans as float32. A TypeError, naming the layer, for complex or non-numeric input."""
        return as_real_array(x, f"{type(self).__name__}.forward", dtype)

    def batch_gradients(self, x: Array, y: Array, loss_fn: Any = None) -> tuple[float, Array]:
        """Set every parameter's ``.grad`` for one batch; return the loss and the logits.

        ``loss = loss_fn.forward(self.forward(x), y)`` (a `CrossEntropyLoss` by default), then
        ``self.backward_params(loss_fn.backward())``.
        """
        loss_fn = loss_fn if loss_fn is not None else CrossEntropyLoss()
        logits = self.forward(x)
        loss = loss_fn.forward(logits, y)
        self.backward_params(loss_fn.backward())
        return loss, logits

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


def he_normal(fan_in: int, fan_out: int, rng: RNG, dtype: DTypeLike) -> Array:
    """He (Kaiming) normal weights ``W ~ N(0, 2 / fan_in)`` of shape (fan_in, fan_out), for
    layers followed by ReLU; shared by both paths' ``Linear``. Without ``rng`` they come from
    NumPy's global random state (`_types.as_generator`), so ``np.random.seed`` repeats them.

    Raises ValueError unless both sizes are positive ints (a zero-sized layer is refused when
    it is built), and TypeError unless ``dtype`` is a float type (`_types.float_dtype`)."""
    check_positive_int("in_features", fan_in, "Linear")
    check_positive_int("out_features", fan_out, "Linear")
    dtype = float_dtype(dtype, "Linear")
    generator = as_generator(rng)
    weight = generator.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
    weights: Array = weight.astype(dtype)
    return weights


class Linear(Layer):
    """Fully connected layer: ``y = x @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and output sample.
    rng : int, Generator or None
        Seed or generator for the He (Kaiming) normal initialisation
        ``W ~ N(0, 2 / in_features)`` (`he_normal`); ``b = 0``. None draws from NumPy's
        global random state, so ``np.random.seed`` makes it repeatable.
    dtype : dtype
        float32 by default; float64 for gradient checks. The input is converted to it
        (integers and booleans included); complex input is a TypeError.

    Shapes: ``x`` (N, in_features) -> ``y`` (N, out_features); the parameters ``W``
    (in_features, out_features) and ``b`` (out_features,), with their gradients in ``W.grad``
    and ``b.grad``.

    Backward, with ``dout = dL/dy``::

        dL/dW = x.T @ dout        dL/db = sum over the batch of dout        dL/dx = dout @ W.T
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.W = Parameter(he_normal(in_features, out_features, rng, dtype))
        self.b = Parameter(np.zeros(out_features, dtype=dtype))
        self._x: Array | None = None

    def forward(self, x: Array) -> Array:
        x = self.as_input(x, self.W.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features} -> {self.out_features}) expected input of shape "
                f"(N, {self.in_features}) but got {x.shape}. Flatten each sample to "
                f"{self.in_features} features, e.g. x.reshape(len(x), -1)."
            )
        self._x = x
        out: Array = x @ self.W.data
        out += self.b.data
        return out

    def backward_params(self, dout: Array) -> None:
        x = self._saved(self._x)
        dout = np.asarray(dout, dtype=self.W.dtype)
        self._check_dout(dout, (x.shape[0], self.out_features))
        np.matmul(x.T, dout, out=self.W.grad)
        dout.sum(axis=0, out=self.b.grad)

    def backward(self, dout: Array) -> Array:
        self.backward_params(dout)
        dx: Array = np.asarray(dout, dtype=self.W.dtype) @ self.W.data.T
        return dx

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class Elementwise(Layer):
    """A layer acting on each element alone, ``y_i = f(x_i)``, whose forward keeps the local
    derivative ``f'(x_i)``. Its Jacobian is diagonal, so ``dL/dx = dout * f'(x)``."""

    _local: Array | None = None  # f'(x) of the last forward

    def backward(self, dout: Array) -> Array:
        local = self._saved(self._local)
        self._check_dout(dout, local.shape)
        dx: Array = dout * local
        return dx


class ReLU(Elementwise):
    """Rectified linear unit: ``y = max(x, 0)``; ``dL/dx = dout * [x > 0]`` (0 at x = 0)."""

    def forward(self, x: Array) -> Array:
        x = self.as_input(x)
        self._local = x > 0
        return np.maximum(x, 0)


class Sigmoid(Layer):
    """Logistic sigmoid: ``y = 1 / (1 + exp(-x))``; ``dL/dx = dout * y * (1 - y)``.

    The stable kernel `functional.sigmoid` never lets ``exp`` overflow, whatever x.
    """

    def __init__(self) -> None:
        super().__init__()
        self._y: Array | None = None

    def forward(self, x: Array) -> Array:
        y = sigmoid(self.as_input(x))
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        with np.errstate(under="ignore"):  # y ~ 1e-300 far left: the product is 0, exactly
            dx: Array = dout * y * (1 - y)
        return dx


class Tanh(Layer):
    """Hyperbolic tangent: ``y = tanh(x)``; ``dL/dx = dout * (1 - y**2)``.

    ``np.tanh`` saturates to +-1 without overflow for inputs of any size.
    """

    def __init__(self) -> None:
        super().__init__()
        self._y: Array | None = None

    def forward(self, x: Array) -> Array:
        y: Array = np.tanh(self.as_input(x))
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        dx: Array = dout * (1 - y * y)
        return dx


class LeakyReLU(Elementwise):
    """``y = x`` for x > 0 and ``negative_slope * x`` otherwise; ``dL/dx = dout * slope(x)``."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        check_negative_slope(negative_slope, "LeakyReLU")
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Array) -> Array:
        x = self.as_input(x)
        slope = leaky_relu_slope(x, self.negative_slope)
        self._local = slope
        y: Array = x * slope
        return y

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class _Normalize(Layer):
    """What `Softmax` and `LogSoftmax` share: the axis ``dim``, and an input with values along
    it."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim
        self._y: Array | None = None

    def _along_dim(self, x: Array) -> Array:
        x = self.as_input(x)
        if -x.ndim <= self.dim < x.ndim and x.shape[self.dim] == 0:
            raise ValueError(
                f"{type(self).__name__}(dim={self.dim}) needs at least one value along dim "
                f"{self.dim}, but got input of shape {x.shape}."
            )
        return x

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_Normalize):
    """``y = softmax(x)`` along ``dim``; ``dL/dx = y * (dout - sum(dout * y, dim))``.

    The Jacobian of softmax is ``diag(y) - y yᵀ``; multiplying it by ``dout`` gives the
    formula above without forming the C x C matrix.
    """

    def forward(self, x: Array) -> Array:
        y = softmax(self._along_dim(x), axis=self.dim)
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        with np.errstate(under="ignore"):  # y can be ~1e-300: those products are 0, exactly
            dx: Array = y * (dout - np.sum(dout * y, axis=self.dim, keepdims=True))
        return dx


class LogSoftmax(_Normalize):
    """``y = log_softmax(x)`` along ``dim``; ``dL/dx = dout - softmax(x) * sum(dout, dim)``."""

    def forward(self, x: Array) -> Array:
        y = log_softmax(self._along_dim(x), axis=self.dim)
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        with np.errstate(under="ignore"):  # probabilities below ~1e-308 become 0, exactly
            dx: Array = dout - np.exp(y) * np.sum(dout, axis=self.dim, keepdims=True)
        return dx


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


# Dropout and BatchNorm1d lived here before `regularization`; this keeps their old import path.
from .regularization import BatchNorm1d, Dropout  # noqa: E402

__all__ = [
    "BatchNorm1d",
    "Dropout",
    "Elementwise",
    "Layer",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "he_normal",
]
