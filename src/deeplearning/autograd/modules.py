"""The engine's modules, as ``torch.nn``'s (`deeplearning.autograd.nn` exports them with the
models built of them): their ``forward`` composes engine operations, and ``loss.backward()``
sets every parameter's gradient.

`Module`, `Parameter` and `Sequential` are the library's core classes, shared with the layer
path. Parameter names and shapes are those of the layer path (``Linear`` has ``W`` of shape
(in_features, out_features) and ``b``), so one ``state_dict`` loads into either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, ClassVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..core.architectures import LeNet5Base, mlp_layers
from ..core.attention_base import CausalSelfAttentionBase
from ..core.bases import (
    BatchNormBase,
    Conv2dBase,
    DropoutBase,
    EmbeddingBase,
    LayerNormBase,
    Pool2dBase,
)
from ..core.grad_mode import grad_mode
from ..core.init import as_generator, he_normal
from ..core.kernels import GELU_APPROXIMATIONS
from ..core.module import Module, Parameter, Sequential
from ..core.tensor import Operand, Tensor
from ..core.types import RNG, Array
from ..core.validation import check_choice, check_flag, check_number
from . import functional as F
from .attention_ops import attention_weights


class Linear(Module):
    """``y = x @ W + b`` (`functional.linear`): x (N, in_features) -> y (N, out_features).

    ``W`` (in_features, out_features) is drawn as the layer `deeplearning.Linear`'s (He normal,
    from ``rng``); ``b`` starts at 0 (``bias=False``: no bias).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        check_flag(bias, "bias", "Linear")
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.W = Parameter(he_normal(in_features, out_features, rng, dtype))
        self.b = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features} -> {self.out_features}) expected input of shape "
                f"(N, {self.in_features}) but got {x.shape}. Flatten each sample to "
                f"{self.in_features} features, e.g. x.reshape(len(x), -1)."
            )
        return F.linear(x, self.W, self.b)

    def extra_repr(self) -> str:
        bias = "" if self.b is not None else ", bias=False"
        return f"in_features={self.in_features}, out_features={self.out_features}{bias}"


class _Activation(Module):
    """A module applying one function of `functional` elementwise."""

    function: Callable[[Operand], Tensor]

    def forward(self, x: Tensor) -> Tensor:
        return type(self).function(x)


class ReLU(_Activation):
    """``max(x, 0)``."""

    function = staticmethod(F.relu)


class Sigmoid(_Activation):
    """``1 / (1 + exp(-x))``."""

    function = staticmethod(F.sigmoid)


class Tanh(_Activation):
    """``tanh(x)``."""

    function = staticmethod(F.tanh)


class LeakyReLU(Module):
    """``x`` for x > 0, ``negative_slope * x`` otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        check_number(negative_slope, "negative_slope", "LeakyReLU", example="negative_slope=0.01")
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """``x Φ(x)`` (`functional.gelu`), or PyTorch's tanh approximation with
    ``approximate="tanh"``; any other value is a ValueError."""

    def __init__(self, approximate: str = "none") -> None:
        check_choice(approximate, "approximate", "GELU", GELU_APPROXIMATIONS)
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Dropout(DropoutBase):
    """Inverted dropout with probability ``p`` in training mode; the identity in evaluation.

    ``rng`` drives the masks (`DropoutBase`: the same kernel and draws as the layer `Dropout`).
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.rng)


class BatchNorm1d(BatchNormBase):
    """Batch normalisation of (N, C) inputs (`functional.batch_norm`), holding what the layer
    `BatchNorm1d` holds (`BatchNormBase`: ``weight``, ``bias``, ``running_mean``,
    ``running_var``)."""

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x.shape)
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias,
            training=self.training, momentum=self.momentum, eps=self.eps,
        )  # fmt: skip


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of images (N, C, H, W) per channel (`functional.batch_norm`),
    holding what the layer `BatchNorm2d` holds."""

    image = True


class LayerNorm(LayerNormBase):
    """Layer normalisation over the last dimensions (`functional.layer_norm`), holding what
    the layer `LayerNorm` holds (`LayerNormBase`: ``weight`` and ``bias`` of shape
    ``normalized_shape``, PyTorch's)."""

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x.shape)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class Embedding(EmbeddingBase):
    """A lookup table (`functional.embedding`): integer indices of any shape, a NumPy array
    (a Tensor holds floats), -> their rows, (*, embedding_dim). It holds what the layer
    `deeplearning.Embedding` holds (`EmbeddingBase`: ``weight`` (num_embeddings,
    embedding_dim), ``N(0, 1)``), the same table for one ``rng``."""

    def forward(self, indices: ArrayLike) -> Tensor:
        return F.embedding(self.check_indices(indices), self.weight)

    def infer(self, x: Array) -> Array:
        """The rows for a batch of indices, as an array, recording no graph (the indices stay
        integers: `Module.infer` would make them a Tensor of floats)."""
        with grad_mode(False):
            out: Tensor = self(x)
        return out.data


class Conv2d(Conv2dBase):
    """2-D convolution (`functional.conv2d`): x (N, C, H, W) -> y (N, O, OH, OW), holding what
    the layer `deeplearning.Conv2d` holds (`Conv2dBase`: ``weight`` (O, C, kh, kw) and ``bias``
    (O,), PyTorch's shapes and initialisation), the same initial weights for one ``rng``."""

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x.shape)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class MaxPool2d(Pool2dBase):
    """The maximum of each window (`functional.max_pool2d`), as the layer `MaxPool2d`."""

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(Pool2dBase):
    """The mean of each window (`functional.avg_pool2d`), as the layer `AvgPool2d`."""

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """Each sample as one row: (N, ...) -> (N, product of the rest)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.flatten(x, 1)


BLOCKS: dict[str, Callable[..., Any]] = {
    "linear": Linear, "batchnorm": BatchNorm1d, "dropout": Dropout,
    "relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh,
}  # fmt: skip
"""The engine's building blocks for `mlp_layers`."""


class MLP(Sequential):
    """A perceptron of any depth, with the arguments of the layer `deeplearning.MLP` (and the
    same layers, names and initial weights for the same ``rng``)."""

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
        super().__init__(*mlp_layers(sizes, activation, batchnorm, dropout, rng, dtype, BLOCKS))
        self.config = {
            "sizes": list(sizes),
            "activation": activation,
            "batchnorm": batchnorm,
            "dropout": dropout,
        }


class LeNet5(LeNet5Base, Sequential):
    """LeNet-5 with the arguments of the layer `deeplearning.LeNet5` (and the same layers,
    names and initial weights for the same ``rng``)."""

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = {
        **BLOCKS, "conv": Conv2d, "batchnorm2d": BatchNorm2d, "maxpool": MaxPool2d,
        "avgpool": AvgPool2d, "flatten": Flatten,
    }  # fmt: skip


class TwoLayerMLP(Module):
    """``relu(x @ W1 + b1) @ W2 + b2``, the layer `deeplearning.TwoLayerMLP` on the engine:
    the same parameters (``fc1.W``, ``fc1.b``, ``fc2.W``, ``fc2.b``) and initial weights."""

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

    def forward(self, x: Tensor) -> Tensor:
        logits: Tensor = self.fc2(self.relu(self.fc1(x)))
        return logits


class CausalSelfAttention(CausalSelfAttentionBase):
    """Multi-head causal self-attention (nanoGPT's): x (B, T, n_embd) -> (B, T, n_embd),
    holding what the layer `deeplearning.CausalSelfAttention` holds (`CausalSelfAttentionBase`:
    ``c_attn``, ``c_proj``, ``attn_dropout``, ``resid_dropout``), the same weights and dropout
    masks for one ``rng``. Composed of operations (`attention_ops`), so it differentiates to
    any order."""

    BLOCKS: ClassVar[Mapping[str, Callable[..., Any]]] = {"linear": Linear, "dropout": Dropout}

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x.shape)
        b, t, c = x.shape
        qkv = F.reshape(
            self.c_attn(F.reshape(x, (b * t, c))), (b, t, 3, self.n_head, self.head_size)
        )
        heads = F.transpose(qkv, (2, 0, 3, 1, 4))  # (3, B, n_head, T, head_size)
        att = self.attn_dropout(attention_weights(heads[0], heads[1], is_causal=True))
        y = F.reshape(F.transpose(att @ heads[2], (0, 2, 1, 3)), (b * t, c))  # heads merged
        out: Tensor = F.reshape(self.resid_dropout(self.c_proj(y)), (b, t, c))
        return out


class CrossEntropyLoss(Module):
    """``F.cross_entropy(logits, target)``: softmax cross-entropy, averaged over the batch."""

    def forward(self, logits: Tensor, target: ArrayLike) -> Tensor:
        return F.cross_entropy(logits, target)


class MSELoss(Module):
    """``F.mse_loss(prediction, target)``: the mean squared error."""

    def forward(self, prediction: Tensor, target: Operand) -> Tensor:
        return F.mse_loss(prediction, target)
