"""deeplearning: a deep-learning library written from scratch in NumPy, to be read and run.

The public API, re-exported from the modules that define it::

    from deeplearning import Linear, ReLU, Sigmoid, Tanh, MSELoss, CrossEntropyLoss, TwoLayerMLP
    from deeplearning import Adam, SGD                    # optimizers, as in torch.optim
    from deeplearning.optim.lr_scheduler import CosineAnnealingLR  # schedules, as in PyTorch
    from deeplearning.autograd import Tensor, grad, nn    # the autograd engine
"""

from . import _moved
from .core.finite_differences import numerical_gradient, relative_error
from .core.kernels import log_softmax, softmax
from .core.module import Module, Parameter
from .layers import (
    GELU,
    GPT,
    GRU,
    LSTM,
    MLP,
    RNN,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    CausalSelfAttention,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Embedding,
    Flatten,
    Layer,
    LayerNorm,
    LeakyReLU,
    LeNet5,
    Linear,
    LogSoftmax,
    MaxPool2d,
    MLPLanguageModel,
    MSELoss,
    RecurrentLanguageModel,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    TwoLayerMLP,
    check_layer,
)
from .optim import SGD, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm

_moved.install()  # the flat layout's module paths (deeplearning.schedules, ...) keep working

__version__ = "0.1.0"

__all__ = [
    "GELU",
    "GPT",
    "GRU",
    "LSTM",
    "MLP",
    "RNN",
    "SGD",
    "Adam",
    "AdamW",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "CausalSelfAttention",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "Layer",
    "LayerNorm",
    "LeNet5",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MLPLanguageModel",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "ReLU",
    "RecurrentLanguageModel",
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
