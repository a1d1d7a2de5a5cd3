"""deeplearning: a deep-learning library written from scratch in NumPy, to be read and run.

The public API, re-exported from the modules that define it::

    from deeplearning import Linear, ReLU, Sigmoid, Tanh, MSELoss, CrossEntropyLoss, TwoLayerMLP
    from deeplearning import Adam, SGD                    # optimizers, as in torch.optim
    from deeplearning.schedules import CosineAnnealingLR  # schedules, as in lr_scheduler
    from deeplearning.autograd import Tensor, grad, nn    # the autograd engine
"""

from .conv_layers import AvgPool2d, Conv2d, Flatten, MaxPool2d
from .functional import log_softmax, softmax
from .gradcheck import check_layer, numerical_gradient, relative_error
from .lenet import LeNet5
from .losses import CrossEntropyLoss, MSELoss
from .mnist_mlp import MLP, TwoLayerMLP
from .module import Module, Parameter
from .neural_net import (
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
from .optim import SGD, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm
from .regularization import BatchNorm1d, BatchNorm2d, Dropout

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Layer",
    "LeNet5",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "TwoLayerMLP",
    "__version__",
    "check_layer",
    "clip_grad_norm",
    "log_softmax",
    "numerical_gradient",
    "relative_error",
    "softmax",
]
