"""Modules on the engine, as ``torch.nn``: their ``forward`` composes engine operations, and
``loss.backward()`` sets every parameter's gradient. This is the namespace; the modules are
in `modules` (layers, losses, MLPs, LeNet5), `recurrence` (RNN, LSTM, GRU), `transformer`
(nanoGPT's GPT) and `language_nets` (the character-level language models).

`Module`, `Parameter` and `Sequential` are the library's core classes, shared with the layer
path. Parameter names and shapes are those of the layer path (``Linear`` has ``W`` of shape
(in_features, out_features) and ``b``), so one ``state_dict`` loads into either::

    from deeplearning.autograd import nn
    net = nn.MLP([784, 256, 10], batchnorm=True, rng=0)    # the same arguments as the layer MLP
    loss = nn.CrossEntropyLoss()(net(Tensor(x)), y)
    loss.backward()
"""

from ..core.module import Module, Parameter, Sequential
from .language_nets import MLPLanguageModel, RecurrentLanguageModel
from .modules import (
    GELU,
    MLP,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    CausalSelfAttention,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Embedding,
    Flatten,
    LayerNorm,
    LeakyReLU,
    LeNet5,
    Linear,
    MaxPool2d,
    MSELoss,
    ReLU,
    Sigmoid,
    Tanh,
    TwoLayerMLP,
)
from .recurrence import GRU, LSTM, RNN
from .transformer import GPT

__all__ = [
    "GELU",
    "GPT",
    "GRU",
    "LSTM",
    "MLP",
    "RNN",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "CausalSelfAttention",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "LayerNorm",
    "LeNet5",
    "LeakyReLU",
    "Linear",
    "MLPLanguageModel",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "RecurrentLanguageModel",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "TwoLayerMLP",
]
