"""Path 1, the layers: modules that compute on arrays and whose backward passes are written by
hand, one file per family, each opening with its maths.

- `layer`: the contract (`Layer`: ``forward``, ``backward``, ``backward_params``) and
  `Sequential`;
- `linear`, `activation`, `conv`, `pooling`, `normalization`, `dropout`, `attention`,
  `embedding`, `recurrent`: the layers;
- `gpt`: nanoGPT's `GPT`, the whole transformer's backward pass by hand;
- `language_models`: `RecurrentLanguageModel` and makemore's `MLPLanguageModel`;
- `loss`: `MSELoss` and `CrossEntropyLoss`, the start of every backward pass;
- `models`: `TwoLayerMLP`, `MLP` and `LeNet5`;
- `layer_check`: `check_layer`, a backward pass against numerical gradients.

They stand on `deeplearning.core` alone; the engine (`deeplearning.autograd`) builds the same
modules, with the same parameter names, from operations on tensors.
"""

from .activation import (
    GELU,
    Elementwise,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .attention import CausalSelfAttention
from .conv import Conv2d, Flatten
from .dropout import Dropout
from .embedding import Embedding
from .gpt import GPT
from .language_models import MLPLanguageModel, RecurrentLanguageModel
from .layer import Layer, Sequential
from .layer_check import check_layer
from .linear import Linear
from .loss import CrossEntropyLoss, MSELoss
from .models import MLP, LeNet5, TwoLayerMLP
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .pooling import AvgPool2d, MaxPool2d
from .recurrent import GRU, LSTM, RNN

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
    "Elementwise",
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
    "ReLU",
    "RecurrentLanguageModel",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "TwoLayerMLP",
    "check_layer",
]
