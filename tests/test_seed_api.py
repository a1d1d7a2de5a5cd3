"""The seed's README is a contract: its examples run as written, with the names it used.

The project began from a README whose examples import from `deeplearning`,
`deeplearning.neural_net`, `deeplearning.losses` and `deeplearning.mnist_mlp`, read a layer's
gradients as ``linear.dL_dW`` and ``linear.dL_db``, train with
``TwoLayerMLP().train_step(x, y, lr=0.01)`` and run ``python tests/test_gradients.py``. The code
now lives in `deeplearning.layers`; these tests run each snippet verbatim.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent

FIRST_EXAMPLE = """
from deeplearning import Linear, ReLU
import numpy as np

linear = Linear(in_features=784, out_features=128)
relu = ReLU()
x = np.random.randn(32, 784)
h = linear.forward(x)
h_activated = relu.forward(h)
dL_dh = np.random.randn(*h_activated.shape)
dL_dh_pre = relu.backward(dL_dh)
dL_dx = linear.backward(dL_dh_pre)
print(f"Weight gradient shape: {linear.dL_dW.shape}")
print(f"Bias gradient shape: {linear.dL_db.shape}")
"""


def run(snippet: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(textwrap.dedent(snippet), "<seed README>", "exec"), namespace)
    return namespace


def test_the_first_example_prints_the_gradient_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = run(FIRST_EXAMPLE)
    assert capsys.readouterr().out == (
        "Weight gradient shape: (784, 128)\nBias gradient shape: (128,)\n"
    )
    linear, x, dL_dh_pre = namespace["linear"], namespace["x"], namespace["dL_dh_pre"]
    # the seed's names are the gradients of the last backward pass: the same arrays as .grad
    assert linear.dL_dW is linear.W.grad and linear.dL_db is linear.b.grad
    np.testing.assert_allclose(linear.dL_dW, x.T @ dL_dh_pre, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(linear.dL_db, dL_dh_pre.sum(axis=0), rtol=1e-4, atol=1e-4)
    assert namespace["dL_dx"].shape == (32, 784)


def test_the_seed_names_import_from_the_package_and_its_old_modules() -> None:
    namespace = run(
        """
        from deeplearning import Linear, ReLU, Sigmoid, Tanh, MSELoss, CrossEntropyLoss, TwoLayerMLP
        from deeplearning.mnist_mlp import TwoLayerMLP as FromModule
        from deeplearning.neural_net import Linear as LinearFromModule, ReLU as ReLUFromModule
        from deeplearning.neural_net import Sigmoid as SigmoidFromModule, Tanh as TanhFromModule
        from deeplearning.losses import MSELoss as MSEFromModule
        from deeplearning.losses import CrossEntropyLoss as CEFromModule
        """
    )
    pairs = [
        ("TwoLayerMLP", "FromModule"),
        ("Linear", "LinearFromModule"),
        ("ReLU", "ReLUFromModule"),
        ("Sigmoid", "SigmoidFromModule"),
        ("Tanh", "TanhFromModule"),
        ("MSELoss", "MSEFromModule"),
        ("CrossEntropyLoss", "CEFromModule"),
    ]
    for name, alias in pairs:
        assert namespace[name] is namespace[alias], name


def test_two_layer_mlp_trains_predicts_and_evaluates_as_the_seed_wrote() -> None:
    namespace = run(
        """
        import numpy as np
        from deeplearning.mnist_mlp import TwoLayerMLP

        np.random.seed(0)
        x = np.random.rand(64, 784)
        y = np.random.randint(0, 10, 64)
        model = TwoLayerMLP()
        first = model.train_step(x, y, lr=0.01)
        for _ in range(100):
            loss = model.train_step(x, y, lr=0.01)
        predictions = model.predict(x)
        accuracy = model.evaluate(x, y)
        """
    )
    assert namespace["loss"] < namespace["first"]  # plain SGD learns the batch
    predictions = namespace["predictions"]
    assert predictions.shape == (64,) and predictions.dtype == np.int64
    assert namespace["accuracy"] == np.mean(predictions == namespace["y"])


def test_the_gradient_report_runs_as_a_script() -> None:
    result = subprocess.run(
        [sys.executable, str(TESTS / "test_gradients.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Testing Linear layer (W.grad):" in result.stdout
    assert result.stdout.rstrip().endswith("All gradient checks PASSED.")
