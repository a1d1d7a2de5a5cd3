"""Numerical gradient checks of every layer, loss and model, and of the autograd engine's
operations (first and second order): a pytest module and a script.

``python tests/test_gradients.py`` prints a report, one section per check, and exits 1 if any
check fails; ``pytest`` runs the same checks. Everything runs in float64, and every relative
error (see `deeplearning.gradcheck.relative_error`) must stay below ``TOLERANCE``.
"""

from __future__ import annotations

import sys
from typing import Callable, NamedTuple

import numpy as np
import pytest

from deeplearning import (
    GELU,
    GPT,
    GRU,
    LSTM,
    MLP,
    RNN,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    CausalSelfAttention,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Embedding,
    Flatten,
    Layer,
    LayerNorm,
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
    check_layer,
    numerical_gradient,
    relative_error,
)
from deeplearning.autograd import Tensor, gradcheck, gradgradcheck, nn
from deeplearning.autograd import functional as F

TOLERANCE = 1e-6


class Case(NamedTuple):
    """One thing to check: a title and a function returning ``{what: relative error}``."""

    title: str
    run: Callable[[], dict[str, float]]


def _data(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _distinct(*shape: int, seed: int = 0) -> np.ndarray:
    """Values 0.01 apart in a random order: no two tie, nor come within a nudge of central
    differences of each other, so that each maximum stays where it is."""
    return np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 1


def _layer(
    make: Callable[[], Layer], *shape: int, data: Callable[..., np.ndarray] = _data
) -> Callable[[], dict[str, float]]:
    """Check a layer's input gradient and each parameter's (``W`` -> ``W.grad``, ``fc1.W`` ->
    ``fc1.W.grad``), with a random upstream gradient, on an input ``data(*shape)``."""

    def run() -> dict[str, float]:
        errors = check_layer(make(), data(*shape), rng=1)
        return {_gradient_name(name): error for name, error in errors.items()}

    return run


def _gradient_name(name: str) -> str:
    if name == "input":
        return "input gradient"
    return f"{name}.grad"


class WithFinalState(Layer):
    """A recurrent layer as `check_layer` takes one: a single array out, its output and final
    state(s) joined along time, (N, T + 1, H) (an LSTM's, with c_n: T + 2), from a fixed
    non-zero initial state."""

    def __init__(self, layer: RNN | LSTM | GRU) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: np.ndarray) -> np.ndarray:
        h0 = _data(len(x), self.layer.hidden_size, seed=9)
        lstm = isinstance(self.layer, LSTM)
        output, final = self.layer.forward(x, (h0, -h0) if lstm else h0)
        finals = final if lstm else (final,)
        return np.concatenate([output, *[state[:, None] for state in finals]], axis=1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        lstm = isinstance(self.layer, LSTM)
        steps = dout.shape[1] - 1 - lstm
        dh_n = (dout[:, steps], dout[:, steps + 1]) if lstm else dout[:, steps]
        return self.layer.backward(dout[:, :steps], dh_n)


def recurrent_function(module: nn.RNN | nn.LSTM | nn.GRU, lstm: bool) -> Callable[..., Tensor]:
    """An engine recurrent ``module`` as a function of its input, initial state(s) and
    parameters, each a tensor (as `gradcheck` passes them), ``f(x, h0, [c0,] W_ih, W_hh, b_ih,
    b_hh)``: the output and the final state(s) joined along time, (N, T + 1 (+ 1), H)."""

    def function(x: Tensor, *rest: Tensor) -> Tensor:
        states, params = rest[: 1 + lstm], rest[1 + lstm :]
        # The parameters become gradcheck's tensors (vars(): a Module refuses a plain tensor
        # set over a Parameter, and here that is what is meant).
        vars(module).update(zip(("W_ih", "W_hh", "b_ih", "b_hh"), params))
        output, final = module(x, tuple(states) if lstm else states[0])
        finals = final if lstm else (final,)
        return F.concatenate([output, *[F.unsqueeze(state, 1) for state in finals]], axis=1)

    return function


class FixedMaskDropout(Dropout):
    """Dropout that draws the same mask at every forward, so that the loss is a function of
    its input alone and central differences apply."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.rng = np.random.default_rng(7)
        return super().forward(x)


def _eval_mode(layer: Layer, features: int, *image: int) -> Layer:
    """``layer`` in evaluation mode, after a training batch (of ``image``-sized images, if
    given) has set its running statistics."""
    layer.forward(_data(16, features, *image, seed=5) * 2 + 1)
    return layer.eval()


def _loss(
    make: Callable[[], CrossEntropyLoss | MSELoss], prediction: np.ndarray, target: np.ndarray
) -> Callable[[], dict[str, float]]:
    """Check a loss's gradient with respect to its prediction (its input)."""

    def run() -> dict[str, float]:
        loss_fn = make()
        loss_fn.forward(prediction, target)
        analytic = loss_fn.backward()
        numeric = numerical_gradient(lambda: loss_fn.forward(prediction, target), prediction)
        return {"input gradient": relative_error(analytic, numeric)}

    return run


CASES = [
    Case("Linear layer", _layer(lambda: Linear(6, 4, rng=0, dtype=np.float64), 5, 6)),
    Case("ReLU layer", _layer(ReLU, 5, 6)),
    Case("Sigmoid layer", _layer(Sigmoid, 5, 6)),
    Case("Tanh layer", _layer(Tanh, 5, 6)),
    Case("LeakyReLU layer", _layer(lambda: LeakyReLU(0.1), 5, 6)),
    Case("Softmax layer", _layer(Softmax, 5, 6)),
    Case("LogSoftmax layer", _layer(LogSoftmax, 5, 6)),
    Case(
        "BatchNorm1d layer (training mode)", _layer(lambda: BatchNorm1d(6, dtype=np.float64), 5, 6)
    ),
    Case(
        "BatchNorm1d layer (evaluation mode)",
        _layer(lambda: _eval_mode(BatchNorm1d(6, dtype=np.float64), 6), 5, 6),
    ),
    Case("Dropout layer (training mode, fixed mask)", _layer(lambda: FixedMaskDropout(0.4), 5, 6)),
    Case(
        "Conv2d layer (3x2 kernel, stride 2x1, padding 1x2)",
        _layer(lambda: Conv2d(2, 3, (3, 2), (2, 1), (1, 2), rng=0, dtype=np.float64), 2, 2, 5, 6),
    ),
    Case(
        "Conv2d layer (no bias, kernel the input's size)",
        _layer(lambda: Conv2d(3, 2, 4, bias=False, rng=0, dtype=np.float64), 2, 3, 4, 4),
    ),
    Case(
        "MaxPool2d layer (overlapping 3x2 windows, padding 1, no ties)",
        _layer(lambda: MaxPool2d((3, 2), 1, 1), 2, 2, 5, 4, data=_distinct),
    ),
    Case(
        "MaxPool2d layer (2x2 windows that leave a row and a column out, no ties)",
        _layer(lambda: MaxPool2d(2), 2, 3, 5, 7, data=_distinct),
    ),
    Case(
        "AvgPool2d layer (3x3 windows, stride 2, padding 1)",
        _layer(lambda: AvgPool2d(3, 2, 1), 2, 2, 5, 6),
    ),
    Case(
        "BatchNorm2d layer (training mode)",
        _layer(lambda: BatchNorm2d(3, dtype=np.float64), 2, 3, 3, 4),
    ),
    Case(
        "BatchNorm2d layer (evaluation mode)",
        _layer(lambda: _eval_mode(BatchNorm2d(3, dtype=np.float64), 3, 3, 4), 2, 3, 3, 4),
    ),
    Case("Flatten layer", _layer(Flatten, 3, 2, 3, 4)),
    Case(
        "CausalSelfAttention layer (3 heads, causal mask, bias)",
        _layer(lambda: CausalSelfAttention(6, 3, rng=0, dtype=np.float64), 2, 4, 6),
    ),
    Case(
        "CrossEntropyLoss (class labels)",
        _loss(CrossEntropyLoss, _data(5, 4), np.array([0, 3, 1, 1, 2])),
    ),
    Case(
        "CrossEntropyLoss (class probabilities)",
        _loss(CrossEntropyLoss, _data(5, 4), np.random.default_rng(3).dirichlet(np.ones(4), 5)),
    ),
    Case("MSELoss", _loss(MSELoss, _data(5, 3), _data(5, 3, seed=3))),
    Case(
        "TwoLayerMLP (whole model)",
        _layer(lambda: TwoLayerMLP(12, 8, 5, rng=0, dtype=np.float64), 6, 12),
    ),
    Case(
        "MLP with Tanh (whole model)",
        _layer(lambda: MLP([7, 6, 5, 3], "tanh", rng=0, dtype=np.float64), 6, 7),
    ),
    Case(
        # In training mode the Linear biases before a BatchNorm have zero gradient (the
        # normalisation removes any shift), so there is no scale to check them against.
        "MLP with BatchNorm1d (whole model, evaluation mode)",
        _layer(
            lambda: _eval_mode(MLP([7, 6, 5, 3], batchnorm=True, rng=0, dtype=np.float64), 7), 6, 7
        ),
    ),
    Case(
        "small LeNet: Conv2d, Tanh, MaxPool2d, Conv2d, AvgPool2d, Flatten, Linear (whole model)",
        _layer(
            lambda: Sequential(
                Conv2d(1, 3, 3, padding=1, rng=0, dtype=np.float64),
                Tanh(),
                MaxPool2d(2),
                Conv2d(3, 4, 2, rng=1, dtype=np.float64),
                AvgPool2d(2, 1, 1),
                Flatten(),
                Linear(4 * 3 * 3, 5, rng=2, dtype=np.float64),
            ),
            2,
            1,
            6,
            6,
            data=_distinct,
        ),
    ),
    Case(
        "RNN layer (tanh, 4 steps, output and h_n)",
        _layer(lambda: WithFinalState(RNN(3, 4, rng=0, dtype=np.float64)), 2, 4, 3),
    ),
    Case(
        "RNN layer (relu, 4 steps, output and h_n)",
        _layer(lambda: WithFinalState(RNN(3, 4, "relu", rng=0, dtype=np.float64)), 2, 4, 3),
    ),
    Case(
        "LSTM layer (4 steps, output, h_n and c_n)",
        _layer(lambda: WithFinalState(LSTM(3, 4, rng=0, dtype=np.float64)), 2, 4, 3),
    ),
    Case(
        "GRU layer (4 steps, output and h_n)",
        _layer(lambda: WithFinalState(GRU(3, 4, rng=0, dtype=np.float64)), 2, 4, 3),
    ),
]


def _engine(
    fn: Callable[..., Tensor],
    *shapes: tuple[int, ...],
    positive: bool = False,
    data: Callable[..., np.ndarray] = _data,
) -> Callable[[], dict[str, float]]:
    """Check an engine function's gradient (first order) and its gradient's gradient (second
    order, through a recorded backward pass) for each input (drawn by ``data``)."""

    def run() -> dict[str, float]:
        inputs = [data(*shape, seed=i) for i, shape in enumerate(shapes)]
        if positive:
            inputs = [np.abs(x) + 0.5 for x in inputs]
        first, second = gradcheck(fn, inputs), gradgradcheck(fn, inputs)
        errors = {f"gradient of input {i}": e for i, e in enumerate(first)}
        errors.update((f"second order, input {i}", e) for i, e in enumerate(second))
        return errors

    return run


LABELS = np.array([0, 3, 1, 1, 2])
ATTENDS = np.array([[True, False, True, True], [False] * 4, [True, True, False, False]])
"""Which key each query may attend; the second query none (its output is 0)."""
ENGINE_CASES = [
    Case(
        "autograd: tanh(x @ w + b)",
        _engine(lambda x, w, b: (x @ w + b).tanh(), (5, 4), (4, 3), (3,)),
    ),
    Case(
        "autograd: sigmoid, exp, log, sqrt",
        _engine(lambda x: x.sigmoid() * x.exp() + x.log() * x.sqrt(), (4, 3), positive=True),
    ),
    Case(
        "autograd: a ** b, a / b", _engine(lambda a, b: a**b + a / b, (3, 4), (4,), positive=True)
    ),
    Case(
        "autograd: softmax, log_softmax",
        _engine(lambda x: F.softmax(x, 0) * F.log_softmax(x, 1), (4, 5)),
    ),
    Case("autograd: cross_entropy", _engine(lambda z: F.cross_entropy(z, LABELS), (5, 4))),
    Case(
        "autograd: sum, mean, var, max over axes",
        _engine(
            lambda x: (
                x.sum(0) * x.mean(1, keepdims=True) + x.var((0, 2)).sum() + x.max(2, keepdims=True)
            ),
            (3, 4, 5),
        ),
    ),
    Case(
        "autograd: indexing with repeats, concatenate, stack",
        _engine(lambda x: F.stack([x[[0, 0, 2]], F.concatenate([x[1:], x[:1]])[::1]]) ** 2, (3, 4)),
    ),
    Case(
        "autograd: batch_norm (training)",
        _engine(
            lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True) ** 2,
            (6, 3),
            (3,),
            (3,),
        ),
    ),
    Case(
        "autograd: tanh(conv2d) (3x2 kernel, stride 2x1, padding 1x2, bias)",
        _engine(
            lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2)).tanh(),
            (2, 2, 5, 4),
            (3, 2, 3, 2),
            (3,),
        ),
    ),
    Case(
        "autograd: max_pool2d ** 2 (overlapping 3x2 windows, padding 1, no ties)",
        _engine(lambda x: F.max_pool2d(x, (3, 2), 1, 1) ** 2, (2, 2, 5, 4), data=_distinct),
    ),
    Case(
        "autograd: avg_pool2d ** 2 (3x3 windows, stride 2, padding 1)",
        _engine(lambda x: F.avg_pool2d(x, 3, 2, 1) ** 2, (2, 2, 5, 6)),
    ),
    Case(
        "autograd: scaled_dot_product_attention (boolean mask, a fully masked row, scale 0.7)",
        _engine(
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, ATTENDS, scale=0.7),
            (2, 3, 2),
            (2, 4, 2),
            (2, 4, 3),
        ),
    ),
    Case(
        "autograd: nn.CausalSelfAttention (2 heads)",
        _engine(nn.CausalSelfAttention(4, 2, rng=0, dtype=np.float64), (2, 3, 4)),
    ),
]


def _recurrent_case(kind: str) -> Case:
    """An engine recurrent module of 2 -> 3, 3 steps, with respect to x, the initial state(s)
    and the parameters (inputs 0, 1 (and 2), then W_ih, W_hh, b_ih, b_hh)."""
    extra = {"nonlinearity": kind.split()[1]} if kind.startswith("RNN") else {}
    module = getattr(nn, kind.split()[0])(2, 3, rng=0, dtype=np.float64, **extra)
    lstm, gates = kind == "LSTM", len(module.gate_names)
    states = [(2, 3)] * (2 if lstm else 1)
    shapes = [(2, 3, 2), *states, (2, 3 * gates), (3, 3 * gates), (3 * gates,), (3 * gates,)]
    return Case(
        f"autograd: nn.{kind} (3 steps)", _engine(recurrent_function(module, lstm), *shapes)
    )


ENGINE_CASES += [_recurrent_case(kind) for kind in ("RNN tanh", "RNN relu", "LSTM", "GRU")]


def _indices(*shape: int, seed: int = 0) -> np.ndarray:
    """Indices into a table of 6 rows: repeated ones, and rows 4 and 5 unused."""
    return np.random.default_rng(seed).integers(0, 4, shape)


def _affine(layer: LayerNorm) -> LayerNorm:
    """``layer`` with its parameters away from their initial ones and zeros."""
    for _, param in layer.named_parameters():
        param.data[...] = _data(*param.shape, seed=4)
    return layer


def _affine_norms(model: GPT) -> GPT:
    """``model`` with every LayerNorm's weight and bias away from ones and zeros."""
    for name, param in model.named_parameters():
        if ".ln_" in name:
            param.data[...] = _data(*param.shape, seed=len(name))
    return model


EMBEDDED = np.array([[0, 2, 2, 5], [3, 0, 0, 0]])
"""Indices into a table of 6 rows: 0 four times, 2 twice; rows 1 and 4 unused."""
CASES += [
    Case(
        "Embedding layer (repeated indices, unused rows)",
        _layer(lambda: Embedding(6, 3, rng=0, dtype=np.float64), 3, 5, data=_indices),
    ),
    Case(
        "LayerNorm layer (over the last two dimensions)",
        _layer(lambda: _affine(LayerNorm((3, 4), dtype=np.float64)), 2, 3, 3, 4),
    ),
    Case(
        "LayerNorm layer (no bias)",
        _layer(lambda: _affine(LayerNorm(5, bias=False, dtype=np.float64)), 4, 5),
    ),
    Case(
        "LayerNorm layer (no weight or bias)",
        _layer(lambda: LayerNorm(5, elementwise_affine=False, dtype=np.float64), 4, 5),
    ),
    Case(
        "GPT (2 blocks of 2 heads, tied head, biases)",
        _layer(
            lambda: _affine_norms(GPT(6, 4, 2, 2, 4, rng=0, dtype=np.float64)), 2, 4, data=_indices
        ),
    ),
    Case("GELU layer", _layer(GELU, 5, 6)),
    Case("GELU layer (tanh approximation)", _layer(lambda: GELU("tanh"), 5, 6)),
]
ENGINE_CASES += [
    Case("autograd: gelu * gelu (tanh)", _engine(lambda x: F.gelu(x) * F.gelu(x, "tanh"), (4, 5))),
    Case(
        "autograd: layer_norm ** 2 (over the last two dimensions)",
        _engine(lambda x, w, b: F.layer_norm(x, (3, 4), w, b) ** 2, (2, 3, 4), (3, 4), (3, 4)),
    ),
    Case(
        "autograd: embedding ** 2 (repeated indices, unused rows)",
        _engine(lambda w: F.embedding(EMBEDDED, w) ** 2, (6, 3)),
    ),
]


def _expand(case: Case) -> list[tuple[str, float]]:
    return [(f"{case.title} ({what})", error) for what, error in case.run().items()]


ALL_CASES = CASES + ENGINE_CASES


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.title for case in ALL_CASES])
def test_gradient(case: Case) -> None:
    for name, error in _expand(case):
        assert error < TOLERANCE, f"{name}: relative error {error:.2e} >= {TOLERANCE:.0e}"


def test_relative_error_detects_a_wrong_gradient() -> None:
    good = np.array([1.0, -2.0, 3.0])
    assert relative_error(good, good) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(good, good * 1.01) == pytest.approx(0.01 * 3 / 3.03)
    with pytest.raises(ValueError, match="different shapes"):
        relative_error(good, good[:2])


def test_numerical_gradient_refuses_float32() -> None:
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


def test_numerical_gradient_of_a_known_function() -> None:
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(
        numerical_gradient(lambda: float(np.sum(x**3)), x), 3 * x**2, rtol=1e-9
    )
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])  # restored after nudging


def main() -> int:
    """Print the report; return 1 if any check fails."""
    print("=" * 60)
    print("GRADIENT CHECKING VALIDATION")
    print(f"(float64, central differences, tolerance {TOLERANCE:.0e})")
    print("=" * 60)
    failed = []
    for case in ALL_CASES:
        for name, error in _expand(case):
            passed = error < TOLERANCE
            print(f"\nTesting {name}:")
            print(f"  Max Relative Error: {error:.2e}")
            print("  ✓ Gradient check PASSED!" if passed else "  ✗ Gradient check FAILED!")
            if not passed:
                failed.append(name)
    print("\n" + "=" * 60)
    if failed:
        print(f"{len(failed)} gradient check(s) FAILED: {', '.join(failed)}")
        return 1
    print("All gradient checks PASSED.")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def test_the_report_fails_loudly_on_a_wrong_gradient(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Doubled(Sigmoid):
        """A Sigmoid whose backward is off by a factor of two, as a student's might be."""

        def backward(self, dout: np.ndarray) -> np.ndarray:
            return 2 * super().backward(dout)

    monkeypatch.setattr(
        sys.modules[__name__], "ALL_CASES", [Case("Doubled layer", _layer(Doubled, 3, 4))]
    )
    assert main() == 1
    out = capsys.readouterr().out
    assert "Testing Doubled layer (input gradient):" in out and "✗ Gradient check FAILED!" in out
    assert "1 gradient check(s) FAILED: Doubled layer (input gradient)" in out
