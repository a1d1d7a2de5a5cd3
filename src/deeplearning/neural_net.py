"""The seed's module of layers, kept so that its imports work as written
(``from deeplearning.neural_net import Linear, ReLU``). The layers now live in
`deeplearning.layers`, one file per family; this module only re-exports them."""

from .core.init import he_normal
from .core.module import Parameter
from .layers import (
    BatchNorm1d,
    Dropout,
    Elementwise,
    Layer,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)

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
