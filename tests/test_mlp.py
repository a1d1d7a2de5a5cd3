"""TwoLayerMLP: structure, learning, prediction, and the same seed giving the same model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deeplearning import MLP, LeakyReLU, Linear, TwoLayerMLP
from deeplearning.mnist_mlp import TwoLayerMLP as TwoLayerMLPFromModule


def mnist_like_batch(rng: np.random.Generator, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Random 'images' in [0, 1] with random labels: nothing to learn but memorisation."""
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


def test_structure_and_parameter_count() -> None:
    model = TwoLayerMLP(rng=0)
    assert TwoLayerMLP is TwoLayerMLPFromModule
    assert isinstance(model.fc1, Linear) and isinstance(model.fc2, Linear)
    assert model.fc1.W.shape == (784, 128) and model.fc2.W.shape == (128, 10)
    assert model.num_parameters() == 101_770
    assert [name for name, _ in model.named_parameters()] == ["fc1.W", "fc1.b", "fc2.W", "fc2.b"]


def test_first_loss_on_random_data_is_near_chance(rng: np.random.Generator) -> None:
    x, y = mnist_like_batch(rng, 512)
    models = [TwoLayerMLP(rng=seed) for seed in range(5)]
    losses = [model.loss_fn.forward(model.forward(x), y) for model in models]
    assert np.mean(losses) == pytest.approx(math.log(10), abs=0.4)


def test_memorises_one_batch_within_200_steps(rng: np.random.Generator) -> None:
    model = TwoLayerMLP(rng=0)
    x, y = mnist_like_batch(rng)
    losses = [model.train_step(x, y, lr=0.1) for _ in range(200)]
    assert losses[0] > 2.0
    assert min(losses) < 0.05
    assert model.evaluate(x, y) == 1.0


def test_train_step_returns_loss_before_the_update(rng: np.random.Generator) -> None:
    model = TwoLayerMLP(rng=0)
    x, y = mnist_like_batch(rng)
    before = model.loss_fn.forward(model.forward(x), y)
    assert model.train_step(x, y, lr=0.1) == before
    assert model.loss_fn.forward(model.forward(x), y) < before


def test_train_step_is_plain_sgd(rng: np.random.Generator) -> None:
    model = TwoLayerMLP(rng=0, dtype=np.float64)
    x, y = mnist_like_batch(rng)
    model.loss_fn.forward(model.forward(x), y)
    model.backward(model.loss_fn.backward())
    expected = {name: p.data - 0.5 * p.grad for name, p in model.named_parameters()}
    model.train_step(x, y, lr=0.5)
    for name, param in model.named_parameters():
        np.testing.assert_allclose(param.data, expected[name], rtol=1e-12, err_msg=name)


def test_same_seed_gives_identical_models_and_training(rng: np.random.Generator) -> None:
    x, y = mnist_like_batch(rng)
    a, b = TwoLayerMLP(rng=42), TwoLayerMLP(rng=42)
    for _ in range(3):
        a.train_step(x, y, lr=0.1)
        b.train_step(x, y, lr=0.1)
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=name)
    assert not np.array_equal(TwoLayerMLP(rng=43).fc1.W, a.fc1.W)


def test_predict_and_evaluate(rng: np.random.Generator) -> None:
    model = TwoLayerMLP(in_features=4, hidden=3, num_classes=2, rng=0)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    predictions = model.predict(x)
    assert predictions.shape == (6,) and predictions.dtype == np.int64
    np.testing.assert_array_equal(predictions, np.argmax(model.forward(x), axis=1))
    flipped = 1 - predictions
    assert model.evaluate(x, predictions) == 1.0 and model.evaluate(x, flipped) == 0.0
    assert model.evaluate(x, np.r_[predictions[:3], flipped[3:]]) == 0.5


def test_evaluate_rejects_mismatched_labels(rng: np.random.Generator) -> None:
    model = TwoLayerMLP(rng=0)
    x, _ = mnist_like_batch(rng, 8)
    with pytest.raises(ValueError, match=r"8 samples but labels of shape \(7,\)"):
        model.evaluate(x, np.zeros(7, dtype=int))


def test_backward_returns_input_gradient(rng: np.random.Generator) -> None:
    model = TwoLayerMLP(in_features=5, hidden=4, num_classes=3, rng=0)
    logits = model.forward(rng.standard_normal((2, 5)).astype(np.float32))
    assert model.backward(np.ones_like(logits)).shape == (2, 5)


def test_float64_inputs_do_not_leak_into_a_float32_model(rng: np.random.Generator) -> None:
    model = TwoLayerMLP(rng=0)
    x, y = mnist_like_batch(rng)
    model.train_step(x.astype(np.float64), y)
    assert model.forward(x.astype(np.float64)).dtype == np.float32
    assert all(
        p.data.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters()
    )


def test_repr_shows_the_layers() -> None:
    assert repr(TwoLayerMLP(rng=0)) == (
        "TwoLayerMLP(\n"
        "  (fc1): Linear(in_features=784, out_features=128)\n"
        "  (relu): ReLU()\n"
        "  (fc2): Linear(in_features=128, out_features=10)\n"
        ")"
    )


# -- the MLP builder ----------------------------------------------------------------------------
def test_mlp_builds_the_layers_in_order() -> None:
    model = MLP([784, 256, 128, 10], batchnorm=True, dropout=0.2, rng=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Linear", "BatchNorm1d", "ReLU", "Dropout",
        "Linear", "BatchNorm1d", "ReLU", "Dropout",
        "Linear",
    ]  # fmt: skip
    assert model.config == {
        "sizes": [784, 256, 128, 10], "activation": "relu", "batchnorm": True, "dropout": 0.2
    }  # fmt: skip
    assert "0.W" in model.state_dict() and "1.running_var" in model.state_dict()
    assert [type(layer).__name__ for layer in MLP([4, 2], rng=0).layers] == ["Linear"]
    assert isinstance(MLP([4, 3, 2], "leaky_relu").layers[1], LeakyReLU)


def test_mlp_is_reproducible_including_dropout(rng: np.random.Generator) -> None:
    x, _ = mnist_like_batch(rng, 32)
    outputs = []
    for _ in range(2):
        model = MLP([784, 32, 10], dropout=0.5, rng=9)
        outputs.append(model.forward(x))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_bias_before_batchnorm_gets_no_gradient(rng: np.random.Generator) -> None:
    model = MLP([6, 5, 3], batchnorm=True, rng=0, dtype=np.float64)
    logits = model.forward(rng.standard_normal((8, 6)))
    model.backward(rng.standard_normal(logits.shape))
    np.testing.assert_allclose(model.layers[0].b.grad, 0, atol=1e-12)
    assert np.abs(model.layers[0].W.grad).max() > 1e-3


def test_mlp_rejects_bad_specifications() -> None:
    with pytest.raises(ValueError, match="at least two positive sizes"):
        MLP([784])
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        MLP([4, 2, 1], "gelu")
