"""deeplearning: a deep-learning library written from scratch in NumPy, to be read and run.

The public API, re-exported from the modules that define it::

    from deeplearning import Linear, ReLU, Sigmoid, Tanh, MSELoss, CrossEntropyLoss, TwoLayerMLP
"""

from .functional import log_softmax, softmax
from .gradcheck import check_layer, numerical_gradient, relative_error
from .losses import CrossEntropyLoss, MSELoss
from .mnist_mlp import MLP, TwoLayerMLP
from .neural_net import (
    BatchNorm1d,
    Dropout,
    Layer,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "BatchNorm1d",
    "CrossEntropyLoss",
    "Dropout",
    "Layer",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "TwoLayerMLP",
    "__version__",
    "check_layer",
    "log_softmax",
    "numerical_gradient",
    "relative_error",
    "softmax",
]
