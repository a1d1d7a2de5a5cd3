"""Matt Mazur's "A Step by Step Backpropagation Example" (2015), reproduced with the layers:
every number the post prints, to its printed digits (chapter 1 of tutorials/ walks it)."""

from __future__ import annotations

import numpy as np
import pytest

from deeplearning import SGD, Linear, MSELoss, Sigmoid

X, T = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])


def network() -> tuple[Linear, Sigmoid, Linear, Sigmoid]:
    fc1, fc2 = Linear(2, 2, dtype=np.float64), Linear(2, 2, dtype=np.float64)
    fc1.W.data[...], fc1.b.data[...] = [[0.15, 0.25], [0.20, 0.30]], 0.35  # w1 w3 / w2 w4
    fc2.W.data[...], fc2.b.data[...] = [[0.40, 0.50], [0.45, 0.55]], 0.60  # w5 w7 / w6 w8
    fc1.b.requires_grad = fc2.b.requires_grad = False  # the post trains the weights only
    return fc1, Sigmoid(), fc2, Sigmoid()


def step(layers: tuple[Linear, Sigmoid, Linear, Sigmoid], loss_fn: MSELoss) -> float:
    out = X
    for layer in layers:
        out = layer.forward(out)
    loss = loss_fn.forward(out, T)  # the mean over two outputs: the post's 1/2 sum
    dout = loss_fn.backward()
    for layer in reversed(layers):
        dout = layer.backward(dout)
    return loss


def test_the_forward_pass_the_gradients_and_one_step_are_the_posts() -> None:
    layers, loss_fn = network(), MSELoss()
    fc1, act1, fc2, _ = layers
    assert step(layers, loss_fn) == pytest.approx(0.298371109, abs=5e-10)
    np.testing.assert_allclose(act1.forward(fc1.forward(X)), [[0.593269992, 0.596884378]],
                               atol=5e-10)  # fmt: skip
    assert fc2.W.grad[0, 0] == pytest.approx(0.082167041, abs=5e-10)  # dE/dw5
    SGD([fc1.W, fc1.b, fc2.W, fc2.b], lr=0.5).step()
    np.testing.assert_allclose(
        fc2.W.data.T.ravel(), [0.35891648, 0.408666186, 0.511301270, 0.561370121], atol=5e-9
    )
    np.testing.assert_allclose(
        fc1.W.data.T.ravel(), [0.149780716, 0.19956143, 0.24975114, 0.29950229], atol=5e-9
    )
    np.testing.assert_array_equal(fc1.b.data, [0.35, 0.35])  # fmt: skip


def test_ten_thousand_steps_reach_the_posts_error() -> None:
    """The post prints 0.0000351085 after 10,000 rounds, from weights rounded to its printed
    digits at each stage; unrounded, the error is 0.0000351019 (within 0.02%)."""
    layers, loss_fn = network(), MSELoss()
    optimizer = SGD([p for layer in layers for p in layer.parameters()], lr=0.5)
    for _ in range(10_000):
        loss = step(layers, loss_fn)
        optimizer.step()
    loss = step(layers, loss_fn)
    assert loss == pytest.approx(0.0000351085, rel=2e-3)
