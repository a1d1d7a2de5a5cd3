"""What a module holds on both paths: the arguments, parameters, buffers and input checks of
`Conv2dBase`, `Pool2dBase`, `BatchNormBase`, `DropoutBase`, `RecurrentBase` (with
`RNNBase`, `LSTMBase`, `GRUBase`), `EmbeddingBase` and `LayerNormBase`. Each path's
module adds only how it computes: the layer path a ``forward`` and a hand-written
``backward`` on arrays (`deeplearning.layers`), the engine a ``forward`` made of operations on
tensors (`deeplearning.autograd.nn`). So one ``state_dict`` loads into either.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike

from .init import as_generator, conv_init, embedding_init
from .module import Module, Parameter
from .tensor import Tensor
from .types import RNG, Array
from .validation import (
    as_indices,
    as_normalized_shape,
    check_batch_norm_options,
    check_dropout_probability,
    check_flag,
    check_int,
    check_normalized_input,
    check_number,
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


class RecurrentBase(Module):
    """What a recurrent layer holds on both paths (`RNNBase`, `LSTMBase`, `GRUBase`): its
    sizes, its parameters, and the checks of its input and initial state.

    A layer of ``G`` blocks of ``H = hidden_size`` columns (``gate_names``, in PyTorch's
    order: one for the RNN, ``i f g o`` for the LSTM, ``r z n`` for the GRU) holds

    - ``W_ih`` (input_size, G H) and ``W_hh`` (H, G H): PyTorch's ``weight_ih_l0`` and
      ``weight_hh_l0`` transposed, as ``Linear``'s ``W`` (in, out) is, so a step computes
      ``x_t @ W_ih + b_ih + h_{t-1} @ W_hh + b_hh``;
    - ``b_ih`` and ``b_hh`` (G H,), PyTorch's ``bias_ih_l0`` and ``bias_hh_l0``;

    all four uniform in ``[-1/sqrt(H), 1/sqrt(H)]``, as PyTorch's, drawn in that order from
    ``rng`` (None: NumPy's global random state). Sequences are batch first: ``x`` (N, T,
    input_size), the state ``h`` (N, H).

    Raises
    ------
    TypeError
        ``input_size`` or ``hidden_size`` is not an int, or ``dtype`` not a float type.
    ValueError
        Either size is < 1.
    """

    gate_names: ClassVar[tuple[str, ...]] = ("h",)

    def __init__(
        self, input_size: int, hidden_size: int, *, rng: RNG = None, dtype: DTypeLike = np.float32
    ) -> None:
        where = type(self).__name__
        check_int(input_size, "input_size", where, example=f"{where}(10, 20)")
        check_int(hidden_size, "hidden_size", where, example=f"{where}(10, 20)")
        dtype = float_dtype(dtype, where)
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        generator = as_generator(rng)
        bound, size = 1 / np.sqrt(hidden_size), len(self.gate_names) * hidden_size
        for name, shape in (
            ("W_ih", (input_size, size)), ("W_hh", (hidden_size, size)),
            ("b_ih", (size,)), ("b_hh", (size,)),
        ):  # fmt: skip
            setattr(self, name, Parameter(generator.uniform(-bound, bound, shape).astype(dtype)))

    W_ih: Parameter
    W_hh: Parameter
    b_ih: Parameter
    b_hh: Parameter

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse a batch that is not sequences (N, T, input_size) of at least one step."""
        if len(shape) != 3 or shape[2] != self.input_size or shape[1] < 1:
            raise ValueError(
                f"{self!r} expected input of shape (N, T, {self.input_size}), batch first, "
                f"with T >= 1 time steps, but got {shape}. A single sequence of T steps is "
                f"x.reshape(1, T, {self.input_size})."
            )

    def check_state(self, shape: tuple[int, ...], n: int, name: str = "h0") -> None:
        """Refuse an initial state (or the gradient of a final one) that is not (N, H)."""
        if tuple(shape) != (n, self.hidden_size):
            raise ValueError(
                f"{self!r} expected {name} of shape ({n}, {self.hidden_size}), (N, hidden_size) "
                f"for the input's N = {n}, but got {tuple(shape)}."
            )

    def zero_state(self, n: int) -> Array:
        """The initial state when none is given: zeros (N, H) of the parameters' dtype."""
        return np.zeros((n, self.hidden_size), dtype=self.W_hh.dtype)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNBase(RecurrentBase):
    """`RecurrentBase` of the Elman RNN, ``h_t = φ(x_t W_ih + b_ih + h_{t-1} W_hh + b_hh)``,
    with ``nonlinearity`` φ ``"tanh"`` (the default) or ``"relu"``: a ValueError otherwise."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        *,
        rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}; pass e.g. "
                "nonlinearity='tanh' (an LSTM or a GRU has gates instead)"
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, rng=rng, dtype=dtype)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class LSTMBase(RecurrentBase):
    """`RecurrentBase` of the LSTM: gates ``i f g o``, and a state that is a pair (h, c)."""

    gate_names = ("i", "f", "g", "o")

    def split_state(self, state: Any, name: str = "the state") -> tuple[Any, Any]:
        """``(h, c)`` from an LSTM state, or ``(None, None)`` for None: a TypeError unless it
        is a pair."""
        if state is None:
            return None, None
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(
                f"{self!r} expected {name} as a pair (h, c) of arrays (N, {self.hidden_size}), "
                f"or None, but got {type(state).__name__}"
            )
        return state[0], state[1]


class GRUBase(RecurrentBase):
    """`RecurrentBase` of the GRU: gates ``r z n``."""

    gate_names = ("r", "z", "n")


class EmbeddingBase(Module):
    """What an embedding holds on both paths: the table ``weight`` (num_embeddings,
    embedding_dim), one row per index, drawn ``N(0, 1)`` as PyTorch's (`embedding_init`), and
    the check of the indices (`as_indices`: integers in [0, num_embeddings)).

    Parameters
    ----------
    num_embeddings, embedding_dim : int
        The number of rows V (a vocabulary's size) and the length D of each.
    rng, dtype
        The generator of the table (None: NumPy's global random state) and its dtype (float32
        by default).
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, *, rng: RNG = None,
        dtype: DTypeLike = np.float32,
    ) -> None:  # fmt: skip
        table = embedding_init(num_embeddings, embedding_dim, rng, dtype)
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(table)

    def check_indices(self, indices: Any) -> Array:
        """``indices`` as an integer array, each a row of the table: a TypeError (a Tensor
        holds floats) or an IndexError otherwise."""
        if isinstance(indices, Tensor):
            raise TypeError(
                f"{self!r} takes integer indices as a NumPy array (or a list of ints), not a "
                "Tensor, which holds floats: pass e.g. np.array([[1, 2]])"
            )
        return as_indices(indices, self.num_embeddings, repr(self))

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNormBase(Module):
    """What layer normalisation holds on both paths: ``normalized_shape``, the trailing
    dimensions over which each sample is normalized, ``weight`` (ones) and ``bias`` (zeros) of
    that shape, and the check of the input's shape. As PyTorch's ``LayerNorm``.

    Parameters
    ----------
    normalized_shape : int or tuple of ints
        The last dimensions of the input (an int ``n``: ``(n,)``).
    eps : float
        Added to the variance for stability: a finite number > 0.
    elementwise_affine : bool
        Learn ``weight`` (and ``bias``); False: neither, both None.
    bias : bool
        Learn ``bias`` (with ``elementwise_affine``); False: None.
    dtype : dtype
        float32 by default.
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        dtype: DTypeLike = np.float32,
    ) -> None:
        where = type(self).__name__
        shape = as_normalized_shape(normalized_shape, where)
        check_number(eps, "eps", where, low=0, low_open=True, example="eps=1e-5")
        check_flag(elementwise_affine, "elementwise_affine", where)
        check_flag(bias, "bias", where)
        self.dtype = float_dtype(dtype, where)
        super().__init__()
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine, self.has_bias = elementwise_affine, bias
        self.weight = Parameter(np.ones(shape, self.dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, self.dtype)) if elementwise_affine and bias else None

    def normalized_axes(self, ndim: int) -> tuple[int, ...]:
        """The axes of an ``ndim``-dimensional input that are normalized: its last ones."""
        return tuple(range(ndim - len(self.normalized_shape), ndim))

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse an input whose last dimensions are not ``normalized_shape``."""
        check_normalized_input(shape, self.normalized_shape, type(self).__name__)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine="
            f"{self.elementwise_affine}, bias={self.has_bias}"
        )
