"""Models on the layer path: `TwoLayerMLP`, the classic MNIST network; `MLP`, a perceptron of
any depth; and `LeNet5`. Their layer lists come from `core.architectures`, built from this
path's blocks (`LAYERS`, `CONV_LAYERS`), so the engine's models of the same names have the same
layers, parameter names and, for one seed, the same weights."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..core.architectures import LeNet5Base, mlp_layers
from ..core.evaluation import evaluate, predict
from ..core.init import as_generator
from ..core.types import RNG, Array
from ..core.validation import check_number
from .activation import LeakyReLU, ReLU, Sigmoid, Tanh
from .conv import Conv2d, Flatten
from .dropout import Dropout
from .layer import Layer, Sequential
from .linear import Linear
from .loss import CrossEntropyLoss
from .normalization import BatchNorm1d, BatchNorm2d
from .pooling import AvgPool2d, MaxPool2d

ACTIVATIONS: dict[str, type[Layer]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}
"""Activation layers by the name `MLP` takes."""

LAYERS: dict[str, Callable[..., Any]] = {"linear": Linear, "batchnorm": BatchNorm1d,
                                         "dropout": Dropout, **ACTIVATIONS}  # fmt: skip
"""The layer path's building blocks for `mlp_layers`."""

CONV_LAYERS: dict[str, Callable[..., Any]] = {
    **LAYERS, "conv": Conv2d, "batchnorm2d": BatchNorm2d, "maxpool": MaxPool2d,
    "avgpool": AvgPool2d, "flatten": Flatten,
}  # fmt: skip
"""The layer path's building blocks for `lenet5_layers`."""


class TwoLayerMLP(Layer):
    """A two-layer perceptron for classification, trained with softmax cross-entropy.

    ``logits = relu(x @ W1 + b1) @ W2 + b2``: shapes (N, in_features) -> (N, hidden) ->
    (N, num_classes). The default sizes give 784*128 + 128 + 128*10 + 10 = 101,770 parameters.

    Parameters
    ----------
    in_features, hidden, num_classes : int
        Layer sizes; ``model.config`` keeps them, so a checkpoint can rebuild the model.
    rng : int, Generator or None
        Seed or generator for the initial weights; the same seed gives the same model.
        None draws them from NumPy's global random state, so ``np.random.seed(0)`` before
        ``TwoLayerMLP()`` repeats them (an explicit ``rng`` is still the recommended way).
    dtype : dtype
        float32 by default; inputs are converted to it (integers and booleans included).
    """

    def __init__(
        self,
        in_features: int = 784,
        hidden: int = 128,
        num_classes: int = 10,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.config = {"in_features": in_features, "hidden": hidden, "num_classes": num_classes}
        generator = as_generator(rng)
        self.fc1 = Linear(in_features, hidden, rng=generator, dtype=dtype)
        self.relu = ReLU()
        self.fc2 = Linear(hidden, num_classes, rng=generator, dtype=dtype)
        self.loss_fn = CrossEntropyLoss()

    def forward(self, x: Array) -> Array:
        """Logits, shape (N, num_classes), for a batch ``x`` of shape (N, in_features)."""
        return self.fc2.forward(self.relu.forward(self.fc1.forward(x)))

    def backward(self, dout: Array) -> Array:
        """Set every parameter's gradient from dL/dlogits; return dL/dx, (N, in_features)."""
        return self.fc1.backward(self.relu.backward(self.fc2.backward(dout)))

    def backward_params(self, dout: Array) -> None:
        """Like `backward`, without computing dL/dx (a third of the work, and never needed)."""
        self.fc1.backward_params(self.relu.backward(self.fc2.backward(dout)))

    def train_step(self, x: ArrayLike, y: ArrayLike, lr: float = 0.01) -> float:
        """One step of plain SGD on a batch: ``p <- p - lr * dL/dp`` for every parameter.

        Returns the batch's mean cross-entropy loss before the step. ``lr`` must be a finite
        number >= 0, as for `SGD`.
        """
        check_number(lr, "lr", "train_step", low=0, example="lr=0.01")
        loss = self.loss_fn.forward(self.forward(np.asarray(x)), y)
        self.backward_params(self.loss_fn.backward())
        for param in self.parameters():
            param.data -= lr * param.grad
        return loss

    def predict(self, x: ArrayLike) -> Array:
        """Predicted class labels, shape (N,), int64 (see `core.evaluation.predict`)."""
        return predict(self, x)

    def evaluate(self, x: ArrayLike, y: ArrayLike) -> float:
        """Accuracy in [0, 1]: the fraction of samples whose predicted label equals ``y``."""
        return evaluate(self, x, y)


class MLP(Sequential):
    """A perceptron of any depth, built from a list of sizes.

    ``MLP([784, 256, 128, 10], batchnorm=True, dropout=0.2)`` is::

        Linear(784, 256) -> BatchNorm1d(256) -> ReLU -> Dropout(0.2)
        -> Linear(256, 128) -> BatchNorm1d(128) -> ReLU -> Dropout(0.2) -> Linear(128, 10)

    Each hidden layer is Linear, then BatchNorm1d (if ``batchnorm``), the activation, then
    Dropout (if ``dropout > 0``); the last layer is a bare Linear giving logits.

    Parameters
    ----------
    sizes : sequence of int
        Input features, the hidden widths, and the number of outputs (at least two numbers).
    activation : str
        One of `ACTIVATIONS`: ``"relu"``, ``"leaky_relu"``, ``"sigmoid"``, ``"tanh"``.
    batchnorm : bool
        Insert BatchNorm1d after each hidden Linear.
    dropout : float
        Dropout probability after each hidden activation; 0 for none.
    rng : int, Generator or None
        Seed or generator for the weights and for the dropout masks (Dropout layers keep using
        it), so one seed fixes a whole training run. None seeds it from NumPy's global random
        state, so ``np.random.seed`` makes the model repeatable.
    dtype : dtype
        float32 by default.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        batchnorm: bool = False,
        dropout: float = 0.0,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        layers = mlp_layers(sizes, activation, batchnorm, dropout, rng, dtype, LAYERS)
        super().__init__(*layers)  # type: ignore[arg-type]
        self.config = {
            "sizes": list(sizes),
            "activation": activation,
            "batchnorm": batchnorm,
            "dropout": dropout,
        }


class LeNet5(LeNet5Base, Sequential):
    """LeNet-5 on the layer path: images (N, in_channels, image_size, image_size) -> logits
    (N, num_classes). 61,706 parameters for 28x28 digits and 10 classes. Parameters: as
    `LeNet5Base`."""

    BLOCKS = CONV_LAYERS
