"""`LeNet5`, the classic convolutional network for 28x28 digits (LeCun et al., 1998), as most
courses teach it, and its layer list `lenet5_layers`, which the autograd path's ``LeNet5``
shares::

    Conv2d(1, 6, 5, padding=2) -> ReLU -> MaxPool2d(2)        (N, 6, 14, 14)
    Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)                  (N, 16, 5, 5)
    Flatten -> Linear(400, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, 10)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from ._types import RNG, as_generator, check_positive_int
from .conv_layers import AvgPool2d, Conv2d, Flatten, MaxPool2d
from .mnist_mlp import LAYERS, mlp_layers
from .module import Module
from .neural_net import Sequential
from .regularization import BatchNorm2d

CONV_LAYERS: dict[str, Callable[..., Any]] = {
    **LAYERS, "conv": Conv2d, "batchnorm2d": BatchNorm2d, "maxpool": MaxPool2d,
    "avgpool": AvgPool2d, "flatten": Flatten,
}  # fmt: skip
"""The layer path's building blocks for `lenet5_layers`."""


def lenet5_layers(
    in_channels: int,
    num_classes: int,
    image_size: int,
    batchnorm: bool,
    dropout: float,
    rng: RNG,
    dtype: DTypeLike,
    blocks: Mapping[str, Callable[..., Any]],
) -> list[Module]:
    """The modules of a `LeNet5`, in order, made from ``blocks`` (the layer path's
    `CONV_LAYERS` or the autograd path's). With ``batchnorm``, BatchNorm2d follows each
    convolution and BatchNorm1d each hidden Linear; with ``dropout``, Dropout follows each
    hidden Linear's activation. One generator draws every weight in order and drives the
    dropout masks, so one seed gives the same network on both paths."""
    check_positive_int("in_channels", in_channels, "LeNet5")
    check_positive_int("num_classes", num_classes, "LeNet5")
    check_positive_int("image_size", image_size, "LeNet5")
    if image_size < 12:
        raise ValueError(f"LeNet5 needs images of at least 12x12 pixels, got {image_size}")
    generator = as_generator(rng)
    layers: list[Module] = []
    for c_in, c_out, padding in ((in_channels, 6, 2), (6, 16, 0)):
        layers.append(blocks["conv"](c_in, c_out, 5, padding=padding, rng=generator, dtype=dtype))
        if batchnorm:
            layers.append(blocks["batchnorm2d"](c_out, dtype=dtype))
        layers += [blocks["relu"](), blocks["maxpool"](2)]
    side = (image_size // 2 - 4) // 2  # 28 -> 28 (padded) -> 14 -> 10 -> 5
    layers.append(blocks["flatten"]())
    head = [16 * side * side, 120, 84, num_classes]  # an MLP on the flattened maps
    layers += mlp_layers(head, "relu", batchnorm, dropout, generator, dtype, blocks)
    return layers


class LeNet5Base:
    """LeNet-5's arguments and layers, for a `Sequential` of either path: a subclass names
    the path's building blocks (`BLOCKS`) and its ``Sequential`` after this class.

    Parameters
    ----------
    in_channels, num_classes, image_size : int
        1, 10 and 28 for MNIST.
    batchnorm : bool
        BatchNorm2d after each convolution, BatchNorm1d after each hidden Linear.
    dropout : float
        Dropout probability after each hidden Linear's activation; 0 for none.
    rng, dtype
        The generator of the weights and dropout masks; the dtype (float32 by default).
    """

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]]

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 28,
        batchnorm: bool = False,
        dropout: float = 0.0,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        layers = lenet5_layers(
            in_channels, num_classes, image_size, batchnorm, dropout, rng, dtype, self.BLOCKS
        )  # then the path's Sequential, the next class in the subclass's bases
        super().__init__(*layers)
        self.config = {
            "in_channels": in_channels, "num_classes": num_classes, "image_size": image_size,
            "batchnorm": batchnorm, "dropout": dropout,
        }  # fmt: skip


class LeNet5(LeNet5Base, Sequential):
    """LeNet-5 on the layer path: images (N, in_channels, image_size, image_size) -> logits
    (N, num_classes). 61,706 parameters for 28x28 digits and 10 classes. Parameters: as
    `LeNet5Base`."""

    BLOCKS = CONV_LAYERS
