"""deeplearning: a deep-learning library written from scratch in NumPy, to be read and run.

The public API, re-exported from the modules that define it::

    from deeplearning import Linear, ReLU, Sigmoid, Tanh, MSELoss, CrossEntropyLoss, TwoLayerMLP
"""

from .gradcheck import check_layer, numerical_gradient, relative_error
from .losses import CrossEntropyLoss, MSELoss, log_softmax, softmax
from .mnist_mlp import TwoLayerMLP
from .neural_net import Layer, Linear, Parameter, ReLU, Sigmoid, Tanh

__version__ = "0.1.0"

__all__ = [
    "CrossEntropyLoss",
    "Layer",
    "Linear",
    "MSELoss",
    "Parameter",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "TwoLayerMLP",
    "__version__",
    "check_layer",
    "log_softmax",
    "numerical_gradient",
    "relative_error",
    "softmax",
]
