"""Layers: the `Parameter`, the `Layer` base class and the layers built on it.

Every layer follows one contract:

- ``forward(x)`` computes the output and keeps what ``backward`` needs (and only that).
- ``backward(dout)`` takes dL/d(output), **sets** each parameter's ``.grad`` to dL/d(parameter)
  (overwriting it: gradients are set, never accumulated, in the whole library), and returns
  dL/d(input). It never modifies ``dout``.
- ``backward_params(dout)`` does the same but may skip dL/d(input); a model calls it on its
  first layer, whose input gradient nobody needs.

Layers here: `Linear`; the activations `ReLU`, `LeakyReLU`, `Sigmoid`, `Tanh`, `Softmax` and
`LogSoftmax`; `BatchNorm1d` and `Dropout`, which behave differently in training and evaluation
mode (``layer.train()`` / ``layer.eval()``); and `Sequential`, a chain of layers.

Arrays flow with a batch dimension first: ``x`` has shape ``(N, features)``. The dtype of a
layer's computation follows its parameters (float32 by default, float64 for gradient checks).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._types import RNG, Array
from .functional import log_softmax, softmax

_T = TypeVar("_T")


class Parameter:
    """A trainable array together with its gradient.

    Parameters
    ----------
    data : ndarray
        The value. Optimizers update it in place, so every reference stays valid.

    Attributes
    ----------
    data : ndarray
        The value, any shape.
    grad : ndarray
        dL/d(data), same shape and dtype; zeros until a ``backward`` sets it.
    """

    def __init__(self, data: Array) -> None:
        self.data = data
        self.grad = np.zeros_like(data)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Layer:
    """Base class of every layer and model.

    A layer holds its own parameters in ``self.params`` (name -> `Parameter`) and state that
    is saved but not trained, such as BatchNorm's running mean, in ``self.buffers``
    (name -> array). Sub-layers are found among its attributes (`children`), so a model is a
    tree of layers and ``parameters()``, ``state_dict()`` and ``train()`` walk the whole tree.
    """

    def __init__(self) -> None:
        self.params: dict[str, Parameter] = {}
        self.buffers: dict[str, Array] = {}
        self.training = True

    # -- computation: subclasses override these ---------------------------------------------
    def forward(self, x: Array) -> Array:
        """Compute the output for a batch ``x``; keep what `backward` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, dout: Array) -> Array:
        """Set the parameters' gradients and return dL/dx, given dL/d(output) ``dout``."""
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def backward_params(self, dout: Array) -> None:
        """Set the parameters' gradients; dL/dx may be skipped (by default it is not)."""
        self.backward(dout)

    def __call__(self, x: Array) -> Array:
        return self.forward(x)

    # -- the tree of layers --------------------------------------------------------------------
    def children(self) -> Iterator[tuple[str, Layer]]:
        """Yield ``(name, layer)`` for each direct sub-layer, in the order they were set."""
        for name, value in vars(self).items():
            if isinstance(value, Layer):
                yield name, value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted name, Parameter)`` for this layer's parameters, then its children's."""
        for name, param in self.params.items():
            yield prefix + name, param
        for child_name, child in self.children():
            yield from child.named_parameters(f"{prefix}{child_name}.")

    def parameters(self) -> Iterator[Parameter]:
        """Yield every `Parameter` of this layer and its sub-layers (for an optimizer)."""
        for _, param in self.named_parameters():
            yield param

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Array]]:
        """Yield ``(dotted name, array)`` for the saved, untrained state of the tree."""
        for name, buffer in self.buffers.items():
            yield prefix + name, buffer
        for child_name, child in self.children():
            yield from child.named_buffers(f"{prefix}{child_name}.")

    def zero_grad(self) -> None:
        """Fill every parameter's gradient with zeros."""
        for param in self.parameters():
            param.grad.fill(0)

    def train(self, mode: bool = True) -> Layer:
        """Put the layer and its sub-layers in training mode (or evaluation mode if False)."""
        self.training = mode
        for _, child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Layer:
        """Put the layer and its sub-layers in evaluation mode (Dropout off, BatchNorm frozen)."""
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
        """Copy arrays into this layer's parameters and buffers, in place.

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
        for name, target in own.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(
                    f"{name!r}: the model has shape {target.shape} but the state has "
                    f"{value.shape}. Build the model with the sizes the state was saved from."
                )
            target[...] = value

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


class Linear(Layer):
    """Fully connected layer: ``y = x @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and output sample.
    rng : int, Generator or None
        Seed or generator for the He (Kaiming) normal initialisation
        ``W ~ N(0, 2 / in_features)``; ``b = 0``.
    dtype : dtype
        float32 by default; float64 for gradient checks.

    Shapes: ``x`` (N, in_features) -> ``y`` (N, out_features); ``W`` (in_features,
    out_features), ``b`` (out_features,).

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
        generator = np.random.default_rng(rng)
        std = np.sqrt(2.0 / in_features)
        weight = generator.standard_normal((in_features, out_features)) * std
        self.params["W"] = Parameter(weight.astype(dtype))
        self.params["b"] = Parameter(np.zeros(out_features, dtype=dtype))
        self._x: Array | None = None

    @property
    def W(self) -> Array:
        """The weight array, shape (in_features, out_features)."""
        return self.params["W"].data

    @property
    def b(self) -> Array:
        """The bias array, shape (out_features,)."""
        return self.params["b"].data

    @property
    def dL_dW(self) -> Array:
        """Gradient of the loss with respect to ``W`` from the last backward."""
        return self.params["W"].grad

    @property
    def dL_db(self) -> Array:
        """Gradient of the loss with respect to ``b`` from the last backward."""
        return self.params["b"].grad

    def forward(self, x: Array) -> Array:
        x = np.asarray(x, dtype=self.W.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features} -> {self.out_features}) expected input of shape "
                f"(N, {self.in_features}) but got {x.shape}. Flatten each sample to "
                f"{self.in_features} features, e.g. x.reshape(len(x), -1)."
            )
        self._x = x
        out: Array = x @ self.W
        out += self.b
        return out

    def backward_params(self, dout: Array) -> None:
        x = self._saved(self._x)
        dout = np.asarray(dout, dtype=self.W.dtype)
        self._check_dout(dout, (x.shape[0], self.out_features))
        np.matmul(x.T, dout, out=self.dL_dW)
        dout.sum(axis=0, out=self.dL_db)

    def backward(self, dout: Array) -> Array:
        self.backward_params(dout)
        dx: Array = np.asarray(dout, dtype=self.W.dtype) @ self.W.T
        return dx

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class _Elementwise(Layer):
    """A layer acting on each element alone, ``y_i = f(x_i)``, whose forward keeps the local
    derivative ``f'(x_i)``. Its Jacobian is diagonal, so ``dL/dx = dout * f'(x)``."""

    def __init__(self) -> None:
        super().__init__()
        self._local: Array | None = None

    def backward(self, dout: Array) -> Array:
        local = self._saved(self._local)
        self._check_dout(dout, local.shape)
        dx: Array = dout * local
        return dx


class ReLU(_Elementwise):
    """Rectified linear unit: ``y = max(x, 0)``; ``dL/dx = dout * [x > 0]`` (0 at x = 0)."""

    def forward(self, x: Array) -> Array:
        x = np.asarray(x)
        self._local = x > 0
        return np.maximum(x, 0)


class Sigmoid(Layer):
    """Logistic sigmoid: ``y = 1 / (1 + exp(-x))``; ``dL/dx = dout * y * (1 - y)``.

    Computed as ``1 / (1 + exp(-x))`` for x >= 0 and ``exp(x) / (1 + exp(x))`` for x < 0, so
    ``exp`` only ever sees ``-|x|`` and cannot overflow, whatever the magnitude of x.
    """

    def __init__(self) -> None:
        super().__init__()
        self._y: Array | None = None

    def forward(self, x: Array) -> Array:
        x = np.asarray(x)
        # exp(-|x|) may underflow to 0 for |x| > ~700 (float64); 0 is then the exact answer.
        with np.errstate(under="ignore"):
            e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
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
        y: Array = np.tanh(np.asarray(x))
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        dx: Array = dout * (1 - y * y)
        return dx


class LeakyReLU(_Elementwise):
    """``y = x`` for x > 0 and ``negative_slope * x`` otherwise; ``dL/dx = dout * slope(x)``."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Array) -> Array:
        x = np.asarray(x)
        slope = np.where(x > 0, 1, self.negative_slope).astype(x.dtype)
        self._local = slope
        y: Array = x * slope
        return y

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Layer):
    """``y = softmax(x)`` along ``dim``; ``dL/dx = y * (dout - sum(dout * y, dim))``.

    The Jacobian of softmax is ``diag(y) - y yᵀ``; multiplying it by ``dout`` gives the
    formula above without forming the C x C matrix.
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim
        self._y: Array | None = None

    def forward(self, x: Array) -> Array:
        y = softmax(np.asarray(x), axis=self.dim)
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        with np.errstate(under="ignore"):  # y can be ~1e-300: those products are 0, exactly
            dx: Array = y * (dout - np.sum(dout * y, axis=self.dim, keepdims=True))
        return dx

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Layer):
    """``y = log_softmax(x)`` along ``dim``; ``dL/dx = dout - softmax(x) * sum(dout, dim)``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim
        self._y: Array | None = None

    def forward(self, x: Array) -> Array:
        y = log_softmax(np.asarray(x), axis=self.dim)
        self._y = y
        return y

    def backward(self, dout: Array) -> Array:
        y = self._saved(self._y)
        self._check_dout(dout, y.shape)
        with np.errstate(under="ignore"):  # probabilities below ~1e-308 become 0, exactly
            dx: Array = dout - np.exp(y) * np.sum(dout, axis=self.dim, keepdims=True)
        return dx

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Dropout(_Elementwise):
    """Inverted dropout: in training, zero each input with probability ``p`` and scale the rest
    by ``1 / (1 - p)``, so the expected output equals the input; in evaluation, the identity.

    ``y = x * mask``, ``mask = [u >= p] / (1 - p)`` with ``u ~ U[0, 1)`` per element;
    ``dL/dx = dout * mask``.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in [0, 1].
    rng : int, Generator or None
        Source of the masks. Pass the model's generator so that one seed fixes everything.
    """

    def __init__(self, p: float = 0.5, rng: RNG = None) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p
        self.rng = np.random.default_rng(rng)

    def forward(self, x: Array) -> Array:
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self._local = np.ones_like(x)
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype if x.dtype == np.float32 else np.float64)
        scale = 1 / (1 - self.p) if self.p < 1 else 0.0
        mask = ((keep >= self.p) * scale).astype(x.dtype)
        self._local = mask
        y: Array = x * mask
        return y

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Layer):
    """Batch normalisation over the batch dimension of (N, C) inputs.

    Training mode, with the batch's mean ``mu`` and biased variance ``var`` per feature::

        x_hat = (x - mu) / sqrt(var + eps)          y = weight * x_hat + bias
        running_mean <- (1 - momentum) * running_mean + momentum * mu
        running_var  <- (1 - momentum) * running_var  + momentum * var * N / (N - 1)

    (PyTorch's conventions: ``momentum`` weighs the new value; the running variance is the
    unbiased one.) Evaluation mode uses ``running_mean`` and ``running_var`` instead of the
    batch's statistics, so a sample's output does not depend on its batch.

    Backward in training mode (derived in phase1.md), with ``g = dout * weight``::

        dL/dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)
        dL/dweight = sum(dout * x_hat)              dL/dbias = sum(dout)

    Parameters
    ----------
    num_features : int
        C, the features of each sample.
    eps : float
        Added to the variance for stability.
    momentum : float
        Weight of the current batch in the running statistics.
    dtype : dtype
        float32 by default.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.params["weight"] = Parameter(np.ones(num_features, dtype=dtype))
        self.params["bias"] = Parameter(np.zeros(num_features, dtype=dtype))
        self.buffers["running_mean"] = np.zeros(num_features, dtype=dtype)
        self.buffers["running_var"] = np.ones(num_features, dtype=dtype)
        self._x_hat: Array | None = None
        self._inv_std: Array | None = None

    def forward(self, x: Array) -> Array:
        weight = self.params["weight"].data
        x = np.asarray(x, dtype=weight.dtype)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d({self.num_features}) expected input of shape "
                f"(N, {self.num_features}) but got {x.shape}."
            )
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(
                    "BatchNorm1d needs more than one sample per batch in training mode to "
                    "estimate a variance; use a larger batch, or call model.eval() to predict."
                )
            mean, var = x.mean(axis=0), x.var(axis=0)
            m = self.momentum
            running_mean, running_var = self.buffers["running_mean"], self.buffers["running_var"]
            running_mean *= 1 - m
            running_mean += m * mean
            running_var *= 1 - m
            running_var += m * var * (n / (n - 1))
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = (x - mean) * inv_std
        self._x_hat, self._inv_std = x_hat, inv_std
        y: Array = x_hat * weight + self.params["bias"].data
        return y

    def backward(self, dout: Array) -> Array:
        x_hat, inv_std = self._saved(self._x_hat), self._saved(self._inv_std)
        weight = self.params["weight"]
        dout = np.asarray(dout, dtype=weight.data.dtype)
        self._check_dout(dout, x_hat.shape)
        np.sum(dout * x_hat, axis=0, out=weight.grad)
        np.sum(dout, axis=0, out=self.params["bias"].grad)
        g = dout * weight.data
        if not self.training:  # the statistics are constants: an affine map
            dx: Array = g * inv_std
            return dx
        dx = (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)) * inv_std
        return dx

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class Sequential(Layer):
    """A chain of layers: ``forward`` runs them in order, ``backward`` in reverse.

    Sub-layers are named by position (``"0"``, ``"1"``, ...), so parameters are ``"0.W"`` and so
    on, as in PyTorch. ``backward_params`` skips the input gradient of the first layer.
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        self.layers = list(layers)

    def children(self) -> Iterator[tuple[str, Layer]]:
        for i, layer in enumerate(self.layers):
            yield str(i), layer

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

    def __len__(self) -> int:
        return len(self.layers)
