"""What a module holds on both paths: the arguments, parameters, buffers and input checks of
`Conv2dBase`, `Pool2dBase`, `BatchNormBase` and `DropoutBase`. Each path's module adds only how
it computes: the layer path a ``forward`` and a hand-written ``backward`` on arrays
(`deeplearning.layers`), the engine a ``forward`` made of operations on tensors
(`deeplearning.autograd.nn`). So one ``state_dict`` loads into either.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from .init import as_generator, conv_init
from .module import Module, Parameter
from .types import RNG, Array
from .validation import (
    check_batch_norm_options,
    check_dropout_probability,
    check_flag,
    check_int,
    float_dtype,
)
from .windows import Pair, as_pair, check_images, pool_window


class Conv2dBase(Module):
    """What a convolution holds on both paths: ``weight`` (O, C, kh, kw) and ``bias`` (O,) as
    PyTorch's (and its default initialisation, `conv_init`), the window, stride and padding,
    and the check of the input's shape.

    Parameters
    ----------
    in_channels, out_channels : int
        C and O.
    kernel_size, stride, padding : int or (int, int)
        The window (kh, kw), its step, and the zeros added on each side.
    bias : bool
        Learn a bias per output channel.
    rng, dtype
        The generator of the initial weights (None: from NumPy's global random state), and
        their dtype (float32 by default). On the layer path the input is converted to it
        (integers and booleans included); complex input is a TypeError.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair = 1,
        padding: int | Pair = 0,
        bias: bool = True,
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        check_flag(bias, "bias", "Conv2d")
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
        self.stride = as_pair(stride, "stride", 1)
        self.padding = as_pair(padding, "padding", 0)
        weight, bias_values = conv_init(out_channels, in_channels, self.kernel_size, rng, dtype)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = Parameter(weight)
        self.bias = Parameter(bias_values) if bias else None

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse a batch that is not images with ``in_channels`` channels."""
        name = f"{type(self).__name__}({self.in_channels} -> {self.out_channels})"
        check_images(shape, self.in_channels, name)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text + ("" if self.bias is not None else ", bias=False")


class Pool2dBase(Module):
    """What a pooling layer holds on both paths: the window, its stride (the window by
    default) and the padding (at most half the window, as PyTorch requires)."""

    def __init__(
        self, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = pool_window(kernel_size, stride, padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class BatchNormBase(Module):
    """What batch normalisation holds on both paths: the parameters ``weight`` (ones) and
    ``bias`` (zeros), the buffers ``running_mean`` (zeros) and ``running_var`` (ones), each of
    shape (num_features,), and the check of the input's shape.

    Parameters
    ----------
    num_features : int
        C, the features (channels) of each sample: an int >= 1.
    eps : float
        Added to the variance for stability: a finite number > 0.
    momentum : float
        Weight of the current batch in the running statistics: in [0, 1] (0 keeps them, 1
        replaces them by the batch's; PyTorch's ``None``, a cumulative average, is not
        supported).
    dtype : dtype
        float32 by default.

    Raises
    ------
    TypeError
        ``num_features`` is not an int, or ``eps`` or ``momentum`` is not a number.
    ValueError
        ``num_features < 1``, ``eps`` not finite and > 0, or ``momentum`` outside [0, 1].
    """

    running_mean: Array
    running_var: Array

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        dtype: DTypeLike = np.float32,
    ) -> None:
        where = type(self).__name__
        check_int(num_features, "num_features", where, example=f"{where}(64) for 64 channels")
        check_batch_norm_options(eps, momentum, where)
        dtype = float_dtype(dtype, where)
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    image = False
    """Whether the input is images (N, C, H, W) (BatchNorm2d) rather than rows (N, C)."""

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse an input that is not (N, num_features) (or (N, num_features, H, W))."""
        if len(shape) != (4 if self.image else 2) or shape[1] != self.num_features:
            expected = f"(N, {self.num_features}{', H, W' if self.image else ''})"
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expected input of shape "
                f"{expected} but got {shape}."
            )

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class DropoutBase(Module):
    """What dropout holds on both paths: the probability ``p`` and the generator of its masks.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in [0, 1].
    rng : int, Generator or None
        Source of the masks. Pass the model's generator so that one seed fixes everything.
    """

    def __init__(self, p: float = 0.5, rng: RNG = None) -> None:
        super().__init__()
        check_dropout_probability(p)
        self.p = p
        self.rng = as_generator(rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"
