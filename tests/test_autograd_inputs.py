"""Bad input to the engine's operations: each is refused before any work, with a message
that says what was expected and what came (the engine's side of `test_layer_inputs.py`)."""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pytest

from deeplearning.autograd import Tensor, nn
from deeplearning.autograd import functional as F
from deeplearning.core.windows import fold_windows, im2col, sliding_windows
from deeplearning.data.datasets import load_mnist

x23 = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)

BAD_CALLS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("an axis out of range", lambda: F.sum(x23, axis=2), ValueError,
     "axis 2 is out of range for a tensor of 2 dimensions"),
    ("a negative axis out of range", lambda: F.mean(x23, axis=(0, -3)), ValueError,
     "axis -3 is out of range for a tensor of 2 dimensions"),
    ("the max of nothing", lambda: F.max(Tensor(np.empty((0, 3)))), ValueError,
     "max/min of an empty tensor (shape (0, 3)) is undefined"),
    ("the min of nothing", lambda: F.min(Tensor(np.empty(0))), ValueError,
     "max/min of an empty tensor (shape (0,)) is undefined"),
    ("a condition of numbers", lambda: F.where(np.array([1, 0, 1]), x23, 0.0), TypeError,
     "where() needs a boolean condition, got dtype int64"),
    ("matmul with a scalar", lambda: F.matmul(Tensor(2.0), x23), ValueError,
     "matmul needs operands of at least one dimension; use * for scalars"),
    ("vectors of two lengths", lambda: F.matmul(Tensor(np.ones(3)), Tensor(np.ones(4))),
     ValueError, "matmul: shapes (3,) and (4,) do not fit: the last axis of the first (3) "
     "must equal the last axis of the second."),
    ("a matrix that does not fit", lambda: F.matmul(x23, Tensor(np.ones((2, 2)))),
     ValueError, "must equal the second-to-last axis of the second."),
    ("clip without bounds", lambda: F.clip(x23), ValueError, "clip needs min or max (or both)"),
    ("squeezing an axis of 2", lambda: F.squeeze(x23, axis=0), ValueError,
     "cannot squeeze axis 0 of shape (2, 3): its size is not 1"),
    ("concatenating nothing", lambda: F.concatenate([]), ValueError,
     "concatenate needs at least one tensor"),
    ("stacking nothing", lambda: F.stack([]), ValueError, "stack needs at least one tensor"),
    ("batch norm of a vector", lambda: F.batch_norm(Tensor(np.ones(4)), None, None),
     ValueError, "batch_norm expected input of shape (N, C, ...) but got (4,)"),
    ("batch norm evaluated without statistics",
     lambda: F.batch_norm(x23, None, None, training=False), ValueError,
     "batch_norm in evaluation mode needs running_mean and running_var"),
    ("a Tensor as an index", lambda: x23[Tensor(np.array([1, 0]))], TypeError,
     "a Tensor cannot be an index: it holds float32 values, and indices are integers or "
     "booleans. Index with a NumPy array, e.g. x[np.array([1, 0])]"),
    ("float positions", lambda: x23[[1.0, 0.0]], TypeError,
     "an index array must hold integers or booleans, got dtype float64"),
    ("float positions in a tuple", lambda: x23[:, np.array([0.5])], TypeError,
     "an index array must hold integers or booleans, got dtype float64"),
    ("an axis that is a word", lambda: F.sum(x23, axis="rows"), TypeError,
     "an axis is an int (or a tuple of ints), got 'rows'"),
    ("an axis that is a flag", lambda: F.max(x23, axis=True), TypeError,
     "an axis is an int (or a tuple of ints), got True"),
    ("transposing an axis that is not there", lambda: x23.transpose(0, 5), ValueError,
     "axis 5 is out of range for a tensor of 2 dimensions"),
    ("transposing some of the axes", lambda: x23.transpose(0), ValueError,
     "transpose needs an order of all 2 axes, each once, got (0,)"),
    ("transposing one axis twice", lambda: F.transpose(x23, (1, -1)), ValueError,
     "transpose needs an order of all 2 axes, each once, got (1, -1)"),
    ("dropout of a word", lambda: F.dropout(x23, "half", training=True), TypeError,
     "dropout probability must be a number in [0, 1], got 'half'"),
    ("a chain of a number", lambda: nn.Sequential(nn.ReLU(), 5), TypeError,
     "Sequential takes modules (layers), but argument 1 is int 5"),
    ("LeNet5 for no classes", lambda: nn.LeNet5(num_classes=0), ValueError,
     "LeNet5: num_classes must be an int >= 1, got 0"),
    ("LeNet5 for fractional images", lambda: nn.LeNet5(image_size=28.5), TypeError,
     "LeNet5: image_size must be an int, got float 28.5"),
    ("None as a constant", lambda: x23 + None, TypeError,
     "a Tensor holds real numbers, but got dtype object"),
    ("a word as a constant", lambda: x23 ** "a", TypeError,
     "a Tensor holds real numbers, but got dtype <U1"),
    ("a complex constant", lambda: x23 * 1j, TypeError,
     "a Tensor holds real numbers, but got dtype complex128"),
    ("words without a tensor", lambda: F.mul("ab", 3), TypeError,
     "a Tensor holds real numbers, but got dtype <U2"),
    ("a ragged list", lambda: Tensor([[1, 2], [3]]), TypeError,
     "a Tensor holds a rectangular array of numbers"),
    ("a leaky slope that is a word", lambda: F.leaky_relu(x23, "a"), TypeError,
     "leaky_relu: negative_slope must be a real number (int or float), got str 'a'; pass e.g. "
     "negative_slope=0.01"),
    ("a leaky slope of NaN", lambda: nn.LeakyReLU(float("nan")), ValueError,
     "LeakyReLU: negative_slope must be a finite number, got nan; pass e.g. negative_slope=0.01"),
    ("clip between crossed bounds", lambda: F.clip(x23, 3, 1), ValueError,
     "clip: min (3) must not exceed max (1)"),
    ("clip to NaN", lambda: F.clip(x23, max=float("nan")), ValueError,
     "clip: max must not be NaN"),
    ("clip to a word", lambda: F.clip(x23, "a"), TypeError, "clip: min must be a number or None"),
    ("negative probabilities", lambda: F.cross_entropy(x23, [[1, 0, 0], [-1, 2, 0]]),
     ValueError, "cross_entropy: class probabilities must be finite numbers >= 0, got values "
     "from -1.0 to 2.0"),
    ("a switch that is a word", lambda: Tensor(np.ones(2), requires_grad="no"), TypeError,
     "Tensor: requires_grad must be True or False, got str 'no'"),
    ("a switch of a leaf that is a word", lambda: Tensor(np.ones(2)).requires_grad_("no"),
     TypeError, "requires_grad_: requires_grad must be True or False, got str 'no'"),
    ("training mode as a word", lambda: nn.Linear(2, 2).train("no"), TypeError,
     "Linear.train: mode must be True or False, got str 'no'"),
    ("dropout in training as a word", lambda: F.dropout(x23, 0.5, training="no"), TypeError,
     "dropout: training must be True or False"),
    ("batch norm in training as a word",
     lambda: F.batch_norm(x23, None, None, training="no"), TypeError,
     "batch_norm: training must be True or False"),
    ("a bias switch that is a word", lambda: nn.Linear(2, 2, bias="no"), TypeError,
     "Linear: bias must be True or False, got str 'no'"),
    ("a convolution's bias switch as a word", lambda: nn.Conv2d(1, 2, 3, bias="no"),
     TypeError, "Conv2d: bias must be True or False, got str 'no'"),
    ("loading images flat or not as a word",
     lambda: load_mnist("mnist", "/nowhere", flatten="no"), TypeError,
     "load_mnist: flatten must be True or False, got str 'no'"),
    ("nll of labels out of range", lambda: F.nll_loss(F.log_softmax(x23), [0, 3]), ValueError,
     "class labels must lie in [0, 3) for 3 classes but got [3]"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "call", "error", "message"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS]
)
def test_bad_input_is_refused_with_a_message(
    case: str, call: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_transpose_takes_numpys_spellings_and_differentiates_back() -> None:
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    for y in (x.transpose(2, 0, 1), x.transpose((2, 0, 1)), x.transpose([-1, 0, 1])):
        np.testing.assert_array_equal(y.data, x.data.transpose(2, 0, 1))
    (x.transpose(2, 0, 1) * Tensor(np.arange(24.0).reshape(4, 2, 3))).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad, np.arange(24.0).reshape(4, 2, 3).transpose(1, 2, 0))
    np.testing.assert_array_equal(x.transpose().data, x.data.T)  # reversed, as NumPy


def test_lists_without_a_tensor_are_arrays_not_python_lists() -> None:
    np.testing.assert_array_equal(F.add([1], [2, 3]), [3.0, 4.0])  # not [1, 2, 3]
    np.testing.assert_array_equal(F.relu([1, -2]), [1.0, 0.0])


def test_edge_inputs_that_are_fine() -> None:
    assert F.flatten(Tensor(5.0)).shape == (1,)  # a scalar flattens to one element, as in torch
    np.testing.assert_array_equal(x23[[1, 0]].data, x23.data[[1, 0]])  # a list of positions
    np.testing.assert_array_equal(x23[x23.data > 2].data, [3.0, 4.0, 5.0])  # a boolean mask
    np.testing.assert_array_equal(x23[1, np.array([2, 0])].data, [5.0, 3.0])
    smallest = F.min(x23, axis=1)
    assert smallest.creator is not None and smallest.creator.label() == "Min"


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "message"),
    [
        ((400_000, 1), (-1, 1), (0, 0), "stride must be an int or a pair of ints, each at least 1"),
        ((3, 3), (0, 0), (0, 0), "stride must be an int or a pair of ints, each at least 1"),
        ((0, 2), (1, 1), (0, 0), "kernel_size must be an int or a pair of ints, each at least 1"),
        ((2, 2), (1, 1), (-1, 0), "padding must be an int or a pair of ints, each at least 0"),
    ],
)
def test_the_window_kernels_refuse_windows_that_would_reach_outside_the_array(
    kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int], message: str
) -> None:
    """The strided views are built from these numbers: a negative stride read memory outside
    the array (and a huge kernel with it crashed the interpreter)."""
    images = np.ones((1, 1, 5, 5))
    for kernel_function in (sliding_windows, im2col):
        with pytest.raises(ValueError, match=re.escape(message)):
            kernel_function(images, kernel, stride, padding)
    with pytest.raises(ValueError, match=re.escape("expected images of shape (N, C, H, W)")):
        sliding_windows(np.ones((1, 5, 5)), (2, 2), (1, 1), (0, 0))
    with pytest.raises(ValueError, match="do not tile an image of size"):
        fold_windows(np.ones((1, 1, 3, 3, 2, 2)), (5, 5), (1, 1), (0, 0))
