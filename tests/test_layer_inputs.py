"""What the layers and losses take: integer and boolean inputs are converted to floats (never
truncated), complex and non-numeric inputs are refused, empty batches and zero-sized layers are
explained, a layer object is used once per layer-path chain, and ``np.random.seed`` makes
models built without ``rng`` repeatable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np
import pytest

from deeplearning import (
    MLP,
    AvgPool2d,
    BatchNorm1d,
    Conv2d,
    CrossEntropyLoss,
    Flatten,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool2d,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    TwoLayerMLP,
)
from deeplearning.autograd import Tensor, nn
from deeplearning.autograd import functional as F
from deeplearning.core.finite_differences import numerical_gradient
from deeplearning.core.init import as_generator
from deeplearning.data.download import download_dataset
from deeplearning.optim import SGD, clip_grad_norm
from deeplearning.training.loop import train_epoch

ACTIVATIONS = [ReLU, Sigmoid, Tanh, LeakyReLU, Softmax, LogSoftmax]
COMPLEX = np.array([[1 + 2j, -1.0]])
REAL_FLOATS = r"expects real floats but got complex dtype complex128: casting would discard"
NOT_NUMBERS = r"expects real floats \(or integers or booleans, converted to floats\) but got dtype"
EMPTY_BATCH = r"a batch of at least one sample"
IMAGES = np.arange(2 * 1 * 4 * 4).reshape(2, 1, 4, 4) % 5 - 2  # small ints, some negative


def _reuse_directly() -> Sequential:
    shared = Linear(3, 3, rng=0)
    return Sequential(shared, ReLU(), shared)


def _reuse_an_activation() -> Sequential:
    relu = ReLU()
    return Sequential(Linear(3, 3, rng=0), relu, Linear(3, 3, rng=1), relu)


def _reuse_inside_a_nested_chain() -> Sequential:
    shared = Linear(3, 3, rng=0)
    return Sequential(shared, Sequential(ReLU(), shared))


# (what is called, the exception, a regex its message must match)
REFUSED: list[Any] = [
    # complex inputs: refused, never cast to their real part
    *[
        pytest.param(lambda a=a: a().forward(COMPLEX), TypeError, REAL_FLOATS,
                     id=f"{a.__name__}-complex")
        for a in ACTIVATIONS
    ],
    pytest.param(lambda: Linear(2, 3, rng=0).forward(COMPLEX), TypeError,
                 "Linear.forward " + REAL_FLOATS, id="Linear-complex"),
    pytest.param(lambda: Conv2d(1, 2, 3, rng=0).forward(IMAGES + 1j), TypeError,
                 "Conv2d.forward " + REAL_FLOATS, id="Conv2d-complex"),
    pytest.param(lambda: MaxPool2d(2).forward(IMAGES + 1j), TypeError, REAL_FLOATS,
                 id="MaxPool2d-complex"),
    pytest.param(lambda: AvgPool2d(2).forward(IMAGES + 1j), TypeError, REAL_FLOATS,
                 id="AvgPool2d-complex"),
    pytest.param(lambda: Flatten().forward(IMAGES + 1j), TypeError, REAL_FLOATS,
                 id="Flatten-complex"),
    pytest.param(lambda: MSELoss()(COMPLEX, np.zeros((1, 2))), TypeError,
                 "MSELoss " + REAL_FLOATS, id="MSELoss-complex-prediction"),
    pytest.param(lambda: MSELoss()(np.zeros((1, 2)), COMPLEX), TypeError,
                 "MSELoss " + REAL_FLOATS, id="MSELoss-complex-target"),
    pytest.param(lambda: CrossEntropyLoss()(COMPLEX, [0]), TypeError,
                 "CrossEntropyLoss " + REAL_FLOATS, id="CrossEntropyLoss-complex-logits"),
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((1, 2)), COMPLEX), TypeError,
                 r"CrossEntropyLoss \(class probabilities\) " + REAL_FLOATS,
                 id="CrossEntropyLoss-complex-probabilities"),
    # strings and objects: refused, never parsed
    pytest.param(lambda: Linear(2, 3, rng=0).forward(np.array([["1", "2"]])), TypeError,
                 NOT_NUMBERS + " <U1", id="Linear-strings"),
    pytest.param(lambda: ReLU().forward(np.array([[1.0, None]])), TypeError,
                 NOT_NUMBERS + " object", id="ReLU-objects"),
    pytest.param(lambda: Conv2d(1, 2, 3, rng=0).forward(IMAGES.astype(object)), TypeError,
                 NOT_NUMBERS + " object", id="Conv2d-objects"),
    pytest.param(lambda: MSELoss()(np.zeros((1, 2)), [["0.5", "0.5"]]), TypeError,
                 NOT_NUMBERS + " <U3", id="MSELoss-string-target"),
    pytest.param(lambda: CrossEntropyLoss()(np.array([["1", "2"]]), [0]), TypeError,
                 NOT_NUMBERS, id="CrossEntropyLoss-string-logits"),
    # class labels: integers in [0, C), nothing else (no rounding, no wrapping)
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((2, 3)), [0.5, 1.7]), TypeError,
                 r"class labels must be integers but got dtype float64.*astype\(np.int64\)",
                 id="CrossEntropyLoss-fractional-labels"),
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((2, 3)), [0.0, np.nan]), TypeError,
                 r"class labels must be integers but got dtype float64",
                 id="CrossEntropyLoss-nan-labels"),
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((2, 3)), [True, False]), TypeError,
                 r"class labels must be integers but got dtype bool",
                 id="CrossEntropyLoss-boolean-labels"),
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((2, 3)), ["0", "1"]), TypeError,
                 r"class labels must be integers but got dtype <U1",
                 id="CrossEntropyLoss-string-labels"),
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((3, 3)), [0, 3, -1]), ValueError,
                 r"class labels must lie in \[0, 3\) for 3 classes but got \[3, -1\]",
                 id="CrossEntropyLoss-labels-out-of-range"),
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((1, 3)), np.array([2**40])), ValueError,
                 r"must lie in \[0, 3\)", id="CrossEntropyLoss-huge-label"),
    # empty batches and empty samples, where a mean would be 0 / 0
    pytest.param(lambda: MSELoss()(np.zeros((0, 2)), np.zeros((0, 2))), ValueError,
                 "MSELoss needs " + EMPTY_BATCH + r".*shape \(0, 2\)", id="MSELoss-empty-batch"),
    pytest.param(lambda: MSELoss()(np.zeros((3, 0)), np.zeros((3, 0))), ValueError,
                 EMPTY_BATCH + r", each with at least one value.*\(3, 0\)",
                 id="MSELoss-empty-samples"),
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((0, 3)), np.zeros(0, int)), ValueError,
                 "CrossEntropyLoss needs " + EMPTY_BATCH + r".*shape \(0, 3\)",
                 id="CrossEntropyLoss-empty-batch"),
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((0, 3)), np.zeros((0, 3))), ValueError,
                 EMPTY_BATCH, id="CrossEntropyLoss-empty-batch-probabilities"),
    pytest.param(lambda: F.cross_entropy(Tensor(np.zeros((0, 3))), np.zeros(0, int)),
                 ValueError, "cross_entropy needs " + EMPTY_BATCH, id="engine-cross_entropy-empty"),
    pytest.param(lambda: CrossEntropyLoss()(np.zeros((2, 0)), np.zeros(2, int)), ValueError,
                 r"at least one class but got logits of shape \(2, 0\)",
                 id="CrossEntropyLoss-no-classes"),
    pytest.param(lambda: Softmax(dim=0).forward(np.zeros((0, 3))), ValueError,
                 r"Softmax\(dim=0\) needs at least one value along dim 0.*\(0, 3\)",
                 id="Softmax-along-an-empty-dim"),
    pytest.param(lambda: LogSoftmax().forward(np.zeros((4, 0))), ValueError,
                 r"LogSoftmax\(dim=-1\) needs at least one value along dim -1",
                 id="LogSoftmax-no-classes"),
    # zero-sized layers: refused when built
    pytest.param(lambda: Linear(0, 5), ValueError,
                 "Linear: in_features must be an int >= 1, got 0", id="Linear(0, 5)"),
    pytest.param(lambda: Linear(5, 0), ValueError,
                 "Linear: out_features must be an int >= 1, got 0", id="Linear(5, 0)"),
    pytest.param(lambda: Linear(2.5, 3),  # type: ignore[arg-type]
                 TypeError, "in_features must be an int, got float 2.5", id="Linear(2.5, 3)"),
    pytest.param(lambda: nn.Linear(0, 5), ValueError, "in_features must be an int >= 1",
                 id="engine-Linear(0, 5)"),
    pytest.param(lambda: TwoLayerMLP(hidden=0), ValueError,
                 "out_features must be an int >= 1, got 0", id="TwoLayerMLP(hidden=0)"),
    pytest.param(lambda: MLP([784, 0, 10]), ValueError,
                 r"at least two positive sizes.*got \[784, 0, 10\]", id="MLP([784, 0, 10])"),
    pytest.param(lambda: Conv2d(0, 6, 5), ValueError, "in_channels must be an int >= 1, got 0",
                 id="Conv2d(0, 6, 5)"),
    pytest.param(lambda: Conv2d(1, 0, 5), ValueError,
                 "out_channels must be an int >= 1, got 0", id="Conv2d(1, 0, 5)"),
    # a layer object twice in one layer-path chain
    pytest.param(_reuse_directly, ValueError,
                 r"same Linear object is at positions '0' and '2'.*autograd engine",
                 id="Sequential-reuses-a-Linear"),
    pytest.param(_reuse_an_activation, ValueError, r"same ReLU object is at positions '1' and '3'",
                 id="Sequential-reuses-a-ReLU"),
    pytest.param(_reuse_inside_a_nested_chain, ValueError,
                 r"same Linear object is at positions '0' and '1.1'",
                 id="Sequential-reuses-a-Linear-in-a-nested-chain"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "message"), REFUSED)
def test_bad_input_is_refused_with_an_explanation(
    call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


def _same_rng(layer: Callable[..., Any], *args: Any) -> Callable[[Any], Any]:
    """``x -> layer(*args, rng=0).forward(x)``: a fresh layer with the same weights per call."""
    return lambda x: layer(*args, rng=0).forward(x)


# (the function, an integer or boolean input, the same values as float32)
CONVERTED: list[Any] = [
    *[
        pytest.param(lambda x, a=a: a().forward(x), np.array([[-2, 0, 3]]), None, id=a.__name__)
        for a in ACTIVATIONS
    ],
    pytest.param(lambda x: LeakyReLU(0.5).forward(x), np.array([[-2, 3]]), None,
                 id="LeakyReLU-keeps-the-negative-slope"),
    pytest.param(lambda x: ReLU().forward(x), np.array([[True, False]]), None, id="ReLU-bool"),
    pytest.param(_same_rng(Linear, 3, 2), np.array([[1, -2, 3]]), None, id="Linear"),
    pytest.param(_same_rng(Linear, 2, 2), np.array([[True, False]]), None, id="Linear-bool"),
    pytest.param(_same_rng(TwoLayerMLP, 4, 5, 3), np.array([[0, 255, 7, 128]], np.uint8), None,
                 id="TwoLayerMLP-uint8-pixels"),
    pytest.param(_same_rng(MLP, [4, 5, 3]), np.array([[0, 255, 7, 128]], np.uint8), None,
                 id="MLP-uint8-pixels"),
    pytest.param(_same_rng(Conv2d, 1, 2, 3), IMAGES, None, id="Conv2d"),
    pytest.param(lambda x: MaxPool2d(2).forward(x), IMAGES, None, id="MaxPool2d"),
    pytest.param(lambda x: AvgPool2d(2).forward(x), IMAGES, None, id="AvgPool2d"),
    pytest.param(lambda x: Flatten().forward(x), IMAGES, None, id="Flatten"),
    pytest.param(lambda x: MSELoss()(x, [[0.5, 0.5]]), np.array([[1, 1]]), 0.25,
                 id="MSELoss-the-issue's-example"),
    pytest.param(lambda x: MSELoss()(x, np.array([[0, 2], [5, 4]])), np.array([[1, 2], [3, 4]]),
                 1.25, id="MSELoss-integers-on-both-sides"),
    pytest.param(lambda x: MSELoss()(x, [[0.5, 0.5]]), np.array([[True, False]]), 0.25,
                 id="MSELoss-bool-prediction"),
    pytest.param(lambda x: MSELoss()(np.array([[1.0, 1.0]]), x), np.array([[0, 3]]), 2.5,
                 id="MSELoss-integer-target"),
    pytest.param(lambda x: CrossEntropyLoss()(x, [0, 2]), np.array([[3, 1, 0], [0, 0, 5]]), None,
                 id="CrossEntropyLoss-integer-logits"),
    pytest.param(lambda x: CrossEntropyLoss()(np.zeros((2, 2)), x), np.eye(2, dtype=int),
                 float(np.log(2)), id="CrossEntropyLoss-integer-one-hot-probabilities"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "value", "expected"), CONVERTED)
def test_integers_and_booleans_compute_as_floats(
    call: Callable[[Any], Any], value: np.ndarray, expected: float | None
) -> None:
    """The result equals the one for the same values given as floats (or a known value)."""
    result = call(value)
    reference = call(value.astype(np.float32)) if expected is None else expected
    if isinstance(result, np.ndarray):
        assert result.dtype.kind == "f"
        np.testing.assert_array_equal(result, reference)
    else:
        assert result == pytest.approx(reference, rel=1e-6)


def test_mse_gradient_of_integer_prediction_is_float() -> None:
    loss_fn = MSELoss()
    assert loss_fn(np.array([[1, 1]]), np.array([[0.5, 0.5]])) == 0.25
    grad = loss_fn.backward()
    assert grad.dtype == np.float64  # the target's float dtype: integers are not truncated
    np.testing.assert_array_equal(grad, [[0.5, 0.5]])
    assert MSELoss()(np.array([[1, 2]]), np.array([[0, 0]])) == 2.5  # float32, exactly


def test_nan_logits_give_a_nan_loss_not_an_error() -> None:
    """NaN is propagated, never hidden, so that the trainer reports divergence."""
    loss_fn = CrossEntropyLoss()
    with np.errstate(all="raise"):
        loss = loss_fn(np.array([[np.nan, 0.0], [1.0, 2.0]]), [0, 1])
    assert np.isnan(loss)
    assert np.isnan(loss_fn.backward()[0]).all()


def test_empty_batches_flow_through_layers_with_their_shapes() -> None:
    """A layer's output over no samples is well defined (no mean is taken): an empty batch of
    the right shape, as in PyTorch. Only the losses, which average, refuse it."""
    model = MLP([4, 3, 2], rng=0)
    with np.errstate(all="raise"):
        assert model.forward(np.zeros((0, 4))).shape == (0, 2)
        assert model.backward(np.zeros((0, 2))).shape == (0, 4)
    assert Softmax().forward(np.zeros((0, 3))).shape == (0, 3)
    assert Conv2d(1, 2, 3, rng=0).forward(np.zeros((0, 1, 5, 5))).shape == (0, 2, 3, 3)
    assert MaxPool2d(2).forward(np.zeros((0, 1, 4, 4))).shape == (0, 1, 2, 2)


def test_floats_keep_their_dtype_and_parameters_set_it() -> None:
    x = np.ones((1, 3))
    assert ReLU().forward(x).dtype == np.float64
    assert ReLU().forward(x.astype(np.float16)).dtype == np.float16
    assert ReLU().forward(np.ones((1, 3), int)).dtype == np.float32
    assert Linear(3, 2, rng=0).forward(x).dtype == np.float32
    assert Linear(3, 2, rng=0, dtype=np.float64).forward(np.ones((1, 3), int)).dtype == np.float64


def test_distinct_layers_and_the_engine_may_share() -> None:
    """Only the same layer object twice in a layer-path chain is refused: equal layers are
    fine, and the autograd engine differentiates a module used twice."""
    Sequential(Linear(3, 3, rng=0), ReLU(), Linear(3, 3, rng=0), ReLU())
    shared = nn.Linear(3, 3, rng=0)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    model(x).sum().backward()
    assert shared.W.grad.shape == (3, 3) and np.any(shared.W.grad)


# -- np.random.seed makes models built without rng repeatable -----------------------------------
def seed(value: int) -> None:
    """``np.random.seed``: the legacy global state is the point of these tests."""
    np.random.seed(value)  # noqa: NPY002


@pytest.fixture(autouse=True)
def _keep_the_global_random_state() -> Iterator[None]:
    """Leave NumPy's global random state as the test found it."""
    state = np.random.get_state()  # noqa: NPY002
    yield
    np.random.set_state(state)  # noqa: NPY002


BUILDERS: list[Any] = [
    pytest.param(lambda rng=None: TwoLayerMLP(20, 8, 3, rng=rng), id="TwoLayerMLP"),
    pytest.param(lambda rng=None: MLP([6, 5, 4, 2], dropout=0.5, rng=rng), id="MLP"),
    pytest.param(lambda rng=None: Linear(6, 4, rng=rng), id="Linear"),
    pytest.param(lambda rng=None: Conv2d(2, 3, 3, rng=rng), id="Conv2d"),
    pytest.param(lambda rng=None: nn.MLP([6, 5, 2], rng=rng), id="engine-MLP"),
    pytest.param(lambda rng=None: nn.Linear(6, 4, rng=rng), id="engine-Linear"),
]


def _weights(model: Any) -> dict[str, np.ndarray]:
    return {name: value.copy() for name, value in model.state_dict().items()}


def _equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("build", BUILDERS)
def test_np_random_seed_makes_models_without_rng_repeatable(build: Callable[..., Any]) -> None:
    seed(0)
    first, second = _weights(build()), _weights(build())
    seed(0)
    again = _weights(build())
    seed(1)
    other = _weights(build())
    assert _equal(first, again)
    assert not _equal(first, second)  # the draw advances the global state
    assert not _equal(first, other)


@pytest.mark.parametrize("build", BUILDERS)
def test_an_explicit_rng_ignores_the_global_state(build: Callable[..., Any]) -> None:
    seed(0)
    first = _weights(build(rng=7))
    seed(1)
    assert _equal(first, _weights(build(rng=7)))
    assert _equal(first, _weights(build(rng=np.random.default_rng(7))))


def test_dropout_masks_of_an_unseeded_mlp_follow_np_random_seed() -> None:
    x = np.ones((4, 6), np.float32)
    outputs = []
    for _ in range(2):
        seed(3)
        outputs.append(MLP([6, 5, 2], dropout=0.5).forward(x))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_as_generator() -> None:
    generator = np.random.default_rng(0)
    assert as_generator(generator) is generator
    assert as_generator(5).random() == np.random.default_rng(5).random()
    seed(0)
    a = as_generator(None).random()
    seed(0)
    assert as_generator(None).random() == a


# -- what a model is built from: dtypes, seeds, sizes; and the training calls' arguments ------

BAD_CONSTRUCTIONS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("integer weights", lambda: TwoLayerMLP(4, 3, 2, dtype=np.int32), TypeError,
     "Linear: dtype must be a float type such as np.float32 (the default) or np.float64, got "
     "int32"),
    ("boolean weights on the engine", lambda: nn.Linear(3, 2, dtype=bool), TypeError,
     "Linear: dtype must be a float type"),
    ("integer kernels", lambda: Conv2d(1, 2, 3, dtype=np.int64), TypeError,
     "Conv2d: dtype must be a float type"),
    ("integer statistics", lambda: BatchNorm1d(3, dtype="int8"), TypeError,
     "BatchNorm1d: dtype must be a float type"),
    ("complex statistics", lambda: nn.BatchNorm2d(3, dtype=np.complex64), TypeError,
     "BatchNorm2d: dtype must be a float type such as np.float32"),
    ("a dtype that is no dtype", lambda: Linear(3, 2, dtype="nonsense"), TypeError,
     "Linear: dtype must be a float type, got 'nonsense'"),
    ("a seed that is a word", lambda: TwoLayerMLP(4, 3, 2, rng="a"), TypeError,
     "rng must be a seed (an int >= 0), a numpy.random.Generator or None, got str 'a'; pass "
     "e.g. rng=0 or rng=np.random.default_rng(0)"),
    ("a seed that is a flag", lambda: MLP([4, 2], rng=True), TypeError,
     "rng must be a seed (an int >= 0), a numpy.random.Generator or None, got bool True"),
    ("a negative seed", lambda: nn.Linear(4, 2, rng=-3), ValueError,
     "rng must be a seed >= 0 (NumPy's generators take no negative seeds), got -3"),
    ("sizes as text", lambda: MLP("784-10"), TypeError,
     "MLP sizes must be a list of ints (inputs, hidden widths, outputs), got '784-10'; pass "
     "e.g. [784, 128, 10]"),
    ("a fractional width on the engine", lambda: nn.MLP([784, 2.5, 10]), TypeError,
     "MLP sizes must be a list of ints"),
    ("a plain SGD step of NaN", lambda: TwoLayerMLP(4, 3, 2, rng=0).train_step(
        np.ones((2, 4)), [0, 1], lr=float("nan")), ValueError,
     "train_step: lr must be a finite number >= 0, got nan; pass e.g. lr=0.01"),
    ("a plain SGD step backwards", lambda: TwoLayerMLP(4, 3, 2, rng=0).train_step(
        np.ones((2, 4)), [0, 1], lr=-0.1), ValueError, "train_step: lr must be a finite number"),
    ("a leaky slope of nothing", lambda: LeakyReLU(None), TypeError,  # type: ignore[arg-type]
     "LeakyReLU: negative_slope must be a real number (int or float), got NoneType None"),
    ("probabilities with a NaN", lambda: CrossEntropyLoss()(np.zeros((2, 2)),
                                                            np.array([[np.nan, 1], [0, 1]])),
     ValueError, "CrossEntropyLoss: class probabilities must be finite numbers >= 0, got "
     "values from 0.0 to 1.0 and NaN"),
    ("a state of Python objects", lambda: TwoLayerMLP(4, 3, 2, rng=0).load_state_dict(
        {"fc1.W": np.full((4, 3), None)}, strict=False), TypeError,
     "'fc1.W': the state holds object values, not real numbers"),
    ("a complex state", lambda: TwoLayerMLP(4, 3, 2, rng=0).load_state_dict(
        {"fc1.b": np.ones(3) * 1j}, strict=False), TypeError,
     "'fc1.b': the state holds complex128 values, not real numbers"),
    ("clipping one parameter", lambda: clip_grad_norm(TwoLayerMLP(4, 3, 2, rng=0).fc1.W, 1.0),
     TypeError, "clip_grad_norm takes an iterable of Parameters (e.g. model.parameters()), got "
     "a single Parameter: pass [param]"),
    ("a numerical gradient of step 0", lambda: numerical_gradient(lambda: 0.0, np.ones(2),
                                                                    eps=0), ValueError,
     "numerical_gradient: eps must be a finite number > 0, got 0"),
    ("a numerical gradient of a list", lambda: numerical_gradient(lambda: 0.0, [1.0]),
     TypeError, "numerical_gradient needs x as a float64 ndarray, got list"),
    ("one mirror as a string", lambda: download_dataset("mnist", "/nowhere", "file:///x/"),
     TypeError, "mirrors is a list of base URLs, got the one string 'file:///x/': [url]"),
    ("a negative timeout", lambda: download_dataset("mnist", "/nowhere", timeout=-1),
     ValueError, "download_dataset: timeout must be a finite number > 0, got -1"),
    ("an epoch of nothing", lambda: train_epoch(
        TwoLayerMLP(4, 3, 2, rng=0), CrossEntropyLoss(),
        SGD(TwoLayerMLP(4, 3, 2, rng=0).parameters(), lr=0.1), np.ones((0, 4)), np.ones(0)),
     ValueError, "train_epoch needs at least one sample, got an empty data set"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "call", "error", "message"), BAD_CONSTRUCTIONS, ids=[c[0] for c in BAD_CONSTRUCTIONS]
)
def test_bad_construction_or_training_arguments_are_refused(
    case: str, call: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_every_kind_of_seed_numpy_takes_still_works() -> None:
    weights = TwoLayerMLP(4, 3, 2, rng=0).fc1.W.data
    for rng in (0, np.int64(0), np.random.default_rng(0), np.random.PCG64(0),
                np.random.SeedSequence(0)):  # fmt: skip
        np.testing.assert_array_equal(TwoLayerMLP(4, 3, 2, rng=rng).fc1.W.data, weights)
    assert TwoLayerMLP(4, 3, 2, rng=0).train_step(np.ones((2, 4)), [0, 1], lr=0.0) > 0  # lr 0
