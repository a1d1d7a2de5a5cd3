"""Losses: values, gradients, stability, error messages, and PyTorch as an oracle."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplearning import CrossEntropyLoss, MSELoss, log_softmax, softmax


def test_cross_entropy_of_uniform_logits_is_log_of_class_count() -> None:
    loss_fn = CrossEntropyLoss()
    assert loss_fn.forward(np.zeros((4, 10)), np.array([0, 3, 9, 2])) == pytest.approx(math.log(10))


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n(rng: np.random.Generator) -> None:
    logits, labels = rng.standard_normal((5, 4)), np.array([0, 1, 2, 3, 1])
    loss_fn = CrossEntropyLoss()
    loss_fn.forward(logits, labels)
    expected = (softmax(logits) - np.eye(4)[labels]) / 5
    grad = loss_fn.backward()
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-15)


def test_cross_entropy_one_hot_probabilities_equal_labels(rng: np.random.Generator) -> None:
    logits, labels = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    by_label, by_prob = CrossEntropyLoss(), CrossEntropyLoss()
    assert by_label(logits, labels) == pytest.approx(by_prob(logits, np.eye(5)[labels]))
    np.testing.assert_allclose(by_label.backward(), by_prob.backward(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype: type) -> None:
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    loss_fn = CrossEntropyLoss()
    with np.errstate(all="raise"):
        confident = loss_fn.forward(logits, np.array([0, 2]))
        wrong = CrossEntropyLoss().forward(logits, np.array([1, 0]))
        grad = loss_fn.backward()
    assert confident == 0.0 and wrong == pytest.approx(2e4)
    assert grad.dtype == dtype and np.all(np.isfinite(grad))


def test_log_softmax_and_softmax_are_stable(rng: np.random.Generator) -> None:
    z = rng.standard_normal((3, 4)) * 1e4
    with np.errstate(all="raise"):
        log_p, p = log_softmax(z), softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    assert np.all(log_p <= 0) and np.all(np.isfinite(log_p))


def test_mse_value_and_gradient() -> None:
    loss_fn = MSELoss()
    prediction, target = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 2.0], [5.0, 4.0]])
    assert loss_fn.forward(prediction, target) == pytest.approx((1 + 0 + 4 + 0) / 4)
    np.testing.assert_allclose(loss_fn.backward(), [[0.5, 0.0], [-1.0, 0.0]])


def test_mse_gradient_keeps_float32(rng: np.random.Generator) -> None:
    loss_fn = MSELoss()
    loss_fn.forward(rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((3, 2)))
    assert loss_fn.backward().dtype == np.float32


# -- error messages -----------------------------------------------------------------------------
def test_batch_sizes_must_agree() -> None:
    with pytest.raises(ValueError, match=r"4 rows of logits but targets of shape \(3,\)"):
        CrossEntropyLoss().forward(np.zeros((4, 10)), np.zeros(3, dtype=int))


def test_labels_out_of_range_are_named() -> None:
    with pytest.raises(ValueError, match=r"\[0, 10\).*\[10, -1\]"):
        CrossEntropyLoss().forward(np.zeros((4, 10)), np.array([0, 10, 3, -1]))


def test_float_labels_are_rejected_with_a_fix() -> None:
    with pytest.raises(TypeError, match=r"integers but got dtype float64.*astype\(np.int64\)"):
        CrossEntropyLoss().forward(np.zeros((2, 3)), np.array([1.0, 2.0]))


def test_bad_shapes_are_explained() -> None:
    with pytest.raises(ValueError, match=r"logits of shape \(N, C\) but got \(10,\)"):
        CrossEntropyLoss().forward(np.zeros(10), np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match=r"targets of shape \(2,\).*or \(2, 3\).*got \(2, 4\)"):
        CrossEntropyLoss().forward(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"same shape but got \(3, 1\) and \(3,\)"):
        MSELoss().forward(np.zeros((3, 1)), np.zeros(3))


@pytest.mark.parametrize("loss_fn", [CrossEntropyLoss(), MSELoss()], ids=repr)
def test_backward_before_forward_is_explained(loss_fn: CrossEntropyLoss | MSELoss) -> None:
    with pytest.raises(RuntimeError, match="backward was called before forward"):
        loss_fn.backward()


# -- PyTorch as an oracle -----------------------------------------------------------------------
sizes = st.tuples(st.integers(1, 16), st.integers(2, 12))


@settings(max_examples=30, deadline=None)
@given(size=sizes, seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1.0, 50.0, 1e4]))
def test_cross_entropy_matches_pytorch_for_labels(
    torch: ModuleType, size: tuple[int, int], seed: int, scale: float
) -> None:
    n, classes = size
    gen = np.random.default_rng(seed)
    logits, labels = gen.standard_normal((n, classes)) * scale, gen.integers(0, classes, n)
    tlogits = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(tlogits, torch.from_numpy(labels))
    expected.backward()
    loss_fn = CrossEntropyLoss()
    assert loss_fn.forward(logits, labels) == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(loss_fn.backward(), tlogits.grad.numpy(), rtol=1e-10, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(size=sizes, seed=st.integers(0, 2**32 - 1))
def test_cross_entropy_matches_pytorch_for_probabilities(
    torch: ModuleType, size: tuple[int, int], seed: int
) -> None:
    n, classes = size
    gen = np.random.default_rng(seed)
    logits, targets = gen.standard_normal((n, classes)) * 3, gen.dirichlet(np.ones(classes), n)
    tlogits = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(tlogits, torch.from_numpy(targets))
    expected.backward()
    loss_fn = CrossEntropyLoss()
    assert loss_fn.forward(logits, targets) == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(loss_fn.backward(), tlogits.grad.numpy(), rtol=1e-10, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(size=sizes, seed=st.integers(0, 2**32 - 1))
def test_mse_matches_pytorch(torch: ModuleType, size: tuple[int, int], seed: int) -> None:
    gen = np.random.default_rng(seed)
    prediction, target = gen.standard_normal(size), gen.standard_normal(size)
    tprediction = torch.tensor(prediction, requires_grad=True)
    expected = torch.nn.functional.mse_loss(tprediction, torch.from_numpy(target))
    expected.backward()
    loss_fn = MSELoss()
    assert loss_fn.forward(prediction, target) == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(loss_fn.backward(), tprediction.grad.numpy(), rtol=1e-12)


def test_cross_entropy_gradient_with_subnormal_probabilities() -> None:
    logits = np.array([[0.0, -739.0, 3.0], [1.0, 2.0, 3.0]])  # p ~ 5e-323: subnormal
    loss_fn = CrossEntropyLoss()
    with np.errstate(all="raise"):
        loss_fn.forward(logits, np.array([0, 2]))
        grad = loss_fn.backward()
    assert np.all(np.isfinite(grad)) and grad[0, 1] >= 0
