"""The architectures both paths build: the layer lists of an MLP (`mlp_layers`) and of LeNet-5
(`lenet5_layers`, `LeNet5Base`), made from a path's building blocks (a mapping from
``"linear"``, ``"relu"``, ``"conv"``, ... to that path's module classes). One generator draws
every weight in order, so one seed gives the same network on either path.

LeNet-5 (LeCun et al., 1998), as most courses teach it, for 28x28 digits::

    Conv2d(1, 6, 5, padding=2) -> ReLU -> MaxPool2d(2)        (N, 6, 14, 14)
    Conv2d(6, 16, 5) -> ReLU -> MaxPool2d(2)                  (N, 16, 5, 5)
    Flatten -> Linear(400, 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, 10)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from .init import as_generator
from .module import Module
from .types import RNG
from .validation import check_int

ACTIVATION_NAMES = ("relu", "leaky_relu", "sigmoid", "tanh")
"""The activations an MLP may use, by name; each path maps them to its modules."""


def mlp_layers(
    sizes: Sequence[int],
    activation: str,
    batchnorm: bool,
    dropout: float,
    rng: RNG,
    dtype: DTypeLike,
    blocks: Mapping[str, Callable[..., Any]],
) -> list[Module]:
    """The modules of an `MLP`, in order, made from ``blocks`` (``"linear"``, ``"batchnorm"``,
    ``"dropout"`` and one entry per activation name): the layer path's `LAYERS` or the
    autograd path's. One generator draws every weight, in order, and drives the dropout
    masks, so one seed gives the same network on both paths; without ``rng`` it is seeded
    from NumPy's global random state (`as_generator`)."""
    if isinstance(sizes, (str, bytes)) or not all(
        isinstance(size, (int, np.integer)) and not isinstance(size, bool) for size in sizes
    ):
        raise TypeError(
            f"MLP sizes must be a list of ints (inputs, hidden widths, outputs), got {sizes!r}; "
            "pass e.g. [784, 128, 10]"
        )
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"MLP needs at least two positive sizes (inputs, outputs), got {sizes}")
    if activation not in ACTIVATION_NAMES:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {list(ACTIVATION_NAMES)}"
        )
    generator = as_generator(rng)
    layers: list[Module] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(blocks["linear"](fan_in, fan_out, rng=generator, dtype=dtype))
        if batchnorm:
            layers.append(blocks["batchnorm"](fan_out, dtype=dtype))
        layers.append(blocks[activation]())
        if dropout > 0:
            layers.append(blocks["dropout"](dropout, rng=generator))
    layers.append(blocks["linear"](sizes[-2], sizes[-1], rng=generator, dtype=dtype))
    return layers


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
    check_int(in_channels, "in_channels", "LeNet5")
    check_int(num_classes, "num_classes", "LeNet5")
    check_int(image_size, "image_size", "LeNet5")
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
