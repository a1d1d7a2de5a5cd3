"""Layers: behaviour, error messages, stability, and PyTorch as an oracle."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeplearning import (
    BatchNorm1d,
    Dropout,
    Layer,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)

ACTIVATIONS = [ReLU, Sigmoid, Tanh, LeakyReLU, Softmax, LogSoftmax]
shapes = st.tuples(st.integers(1, 8), st.integers(1, 12), st.integers(1, 12))


def torch_module(torch: ModuleType, layer: Layer) -> object:
    """The PyTorch function or module with the same semantics as ``layer``."""
    names = {
        "ReLU": torch.relu,
        "Sigmoid": torch.sigmoid,
        "Tanh": torch.tanh,
        "LeakyReLU": lambda t: torch.nn.functional.leaky_relu(t, 0.01),
        "Softmax": lambda t: torch.softmax(t, dim=-1),
        "LogSoftmax": lambda t: torch.log_softmax(t, dim=-1),
    }
    return names[type(layer).__name__]


# -- Linear -------------------------------------------------------------------------------------
def test_linear_shapes_and_dtype_default_to_float32() -> None:
    linear = Linear(in_features=784, out_features=128, rng=0)
    assert linear.W.shape == (784, 128) and linear.b.shape == (128,)
    assert linear.W.dtype == np.float32 and linear.b.dtype == np.float32
    out = linear.forward(np.random.default_rng(0).standard_normal((32, 784)))
    assert out.shape == (32, 128) and out.dtype == np.float32
    assert Linear(3, 2, dtype=np.float64).W.dtype == np.float64


def test_linear_he_initialisation_and_zero_bias() -> None:
    linear = Linear(1000, 500, rng=1, dtype=np.float64)
    assert np.std(linear.W.data) == pytest.approx(np.sqrt(2 / 1000), rel=0.01)
    assert np.mean(linear.W.data) == pytest.approx(0, abs=1e-3)
    assert not linear.b.data.any()


def test_same_seed_gives_same_weights_and_leaves_global_state_alone() -> None:
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking the legacy state)
    a, b, c = Linear(20, 10, rng=7), Linear(20, 10, rng=7), Linear(20, 10, rng=8)
    np.testing.assert_array_equal(a.W, b.W)
    assert not np.array_equal(a.W, c.W)
    gen1, gen2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(Linear(4, 4, rng=gen1).W, Linear(4, 4, rng=gen2).W)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_linear_gradients_are_the_parameters_arrays(rng: np.random.Generator) -> None:
    linear = Linear(5, 3, rng=0)
    weight, bias = linear.W, linear.b
    assert [id(p) for p in linear.parameters()] == [id(weight), id(bias)]
    grads = weight.grad, bias.grad
    linear.forward(rng.standard_normal((4, 5)))
    linear.backward(np.ones((4, 3), dtype=np.float32))
    assert linear.W.grad is grads[0] and linear.b.grad is grads[1]  # written in place
    np.testing.assert_allclose(linear.b.grad, [4, 4, 4])


def test_linear_backward_sets_rather_than_accumulates(rng: np.random.Generator) -> None:
    linear = Linear(5, 3, rng=0, dtype=np.float64)
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    linear.forward(x)
    linear.backward(dout)
    first = linear.W.grad.copy()
    linear.forward(x)
    linear.backward(dout)
    np.testing.assert_array_equal(linear.W.grad, first)
    np.testing.assert_allclose(first, x.T @ dout)


def test_linear_backward_params_skips_input_gradient_but_sets_the_same_grads(
    rng: np.random.Generator,
) -> None:
    linear = Linear(5, 3, rng=0, dtype=np.float64)
    x, dout = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    linear.forward(x)
    linear.backward(dout)
    expected = linear.W.grad.copy(), linear.b.grad.copy()
    linear.zero_grad()
    linear.forward(x)
    assert linear.backward_params(dout) is None
    np.testing.assert_array_equal(linear.W.grad, expected[0])
    np.testing.assert_array_equal(linear.b.grad, expected[1])


def test_linear_wrong_feature_size_names_expected_and_actual() -> None:
    linear = Linear(784, 128)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 784\) but got \(32, 100\)"):
        linear.forward(np.zeros((32, 100)))
    with pytest.raises(ValueError, match=r"reshape"):
        linear.forward(np.zeros((32, 28, 28)))


def test_linear_wrong_dout_shape_is_explained(rng: np.random.Generator) -> None:
    linear = Linear(5, 3)
    linear.forward(rng.standard_normal((4, 5)))
    with pytest.raises(ValueError, match=r"expected dout of shape \(4, 3\).*got \(4, 5\)"):
        linear.backward(np.ones((4, 5)))


@pytest.mark.parametrize("layer", [Linear(3, 2), *[cls() for cls in ACTIVATIONS]])
def test_backward_before_forward_is_explained(layer: Layer) -> None:
    with pytest.raises(RuntimeError, match="backward was called before forward"):
        layer.backward(np.ones((1, 2)))


@pytest.mark.parametrize("make", [lambda: Linear(6, 4, rng=0), *ACTIVATIONS])
def test_backward_never_modifies_dout(make: type[Layer], rng: np.random.Generator) -> None:
    layer = make()
    out = layer.forward(rng.standard_normal((5, 6)).astype(np.float32))
    dout = rng.standard_normal(out.shape).astype(np.float32)
    kept = dout.copy()
    layer.backward(dout)
    np.testing.assert_array_equal(dout, kept)


def test_parameter_holds_data_and_zero_grad() -> None:
    param = Parameter(np.ones((2, 3), dtype=np.float32))
    assert param.grad.shape == (2, 3) and param.grad.dtype == np.float32 and not param.grad.any()
    assert repr(param) == "Parameter(shape=(2, 3), dtype=float32)"


def test_zero_grad_clears_every_gradient(rng: np.random.Generator) -> None:
    linear = Linear(3, 2)
    linear.forward(rng.standard_normal((4, 3)))
    linear.backward(np.ones((4, 2), dtype=np.float32))
    assert linear.b.grad.any()
    linear.zero_grad()
    assert not linear.W.grad.any() and not linear.b.grad.any()


# -- activations --------------------------------------------------------------------------------
def test_relu_gradient_at_zero_is_zero() -> None:
    relu = ReLU()
    relu.forward(np.array([[-1.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(relu.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize("cls", [Sigmoid, Tanh])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturating_activations_are_stable_at_extreme_inputs(cls: type[Layer], dtype: type) -> None:
    x = np.array([[-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4]], dtype=dtype)
    layer = cls()
    with np.errstate(all="raise"):
        y = layer.forward(x)
        dx = layer.backward(np.ones_like(x))
    low = 0.0 if cls is Sigmoid else -1.0
    assert y.dtype == dtype and dx.dtype == dtype
    assert y[0, 0] == low and y[0, -1] == 1.0 and y[0, 3] == (0.5 if cls is Sigmoid else 0.0)
    assert np.all(np.isfinite(dx)) and dx[0, 0] == 0.0 and dx[0, -1] == 0.0


def test_activation_repr_and_extra_repr() -> None:
    assert repr(ReLU()) == "ReLU()"
    assert repr(Linear(3, 2)) == "Linear(in_features=3, out_features=2)"


# -- PyTorch as an oracle -----------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_linear_matches_pytorch(torch: ModuleType, shape: tuple[int, int, int], seed: int) -> None:
    n, fan_in, fan_out = shape
    gen = np.random.default_rng(seed)
    linear = Linear(fan_in, fan_out, rng=gen, dtype=np.float64)
    linear.b.data[...] = gen.standard_normal(fan_out)
    x, dout = gen.standard_normal((n, fan_in)), gen.standard_normal((n, fan_out))

    reference = torch.nn.Linear(fan_in, fan_out, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(linear.W.data.T.copy()))
        reference.bias.copy_(torch.from_numpy(linear.b.data.copy()))
    tx = torch.tensor(x, requires_grad=True)
    ty = reference(tx)
    ty.backward(torch.from_numpy(dout))

    np.testing.assert_allclose(linear.forward(x), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    dx = linear.backward(dout)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg="dL/dx")
    np.testing.assert_allclose(
        linear.W.grad, reference.weight.grad.numpy().T, rtol=1e-12, atol=1e-12, err_msg="dL/dW"
    )
    np.testing.assert_allclose(
        linear.b.grad, reference.bias.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg="dL/db"
    )


@pytest.mark.parametrize("cls", ACTIVATIONS)
@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1.0, 30.0, 1e4]))
def test_activations_match_pytorch(
    torch: ModuleType, cls: type[Layer], shape: tuple[int, int, int], seed: int, scale: float
) -> None:
    n, features, _ = shape
    gen = np.random.default_rng(seed)
    x, dout = gen.standard_normal((n, features)) * scale, gen.standard_normal((n, features))
    layer = cls()
    tx = torch.tensor(x, requires_grad=True)
    ty = torch_module(torch, layer)(tx)  # type: ignore[operator]
    ty.backward(torch.from_numpy(dout))
    with np.errstate(all="raise"):
        y, dx = layer.forward(x), layer.backward(dout)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-8, atol=1e-15, err_msg="dL/dx")


# -- the Layer base: the tree of layers, modes and state ----------------------------------------
class Scale(Layer):
    """A layer with a parameter and a buffer, to exercise the base class."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = Parameter(np.full(3, 2.0))
        self.register_buffer("calls", np.zeros(1))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        return x * self.gain.data


class Net(Layer):
    def __init__(self) -> None:
        super().__init__()
        self.first = Linear(3, 3, rng=0, dtype=np.float64)
        self.scale = Scale()


def test_a_layer_without_forward_or_backward_says_so() -> None:
    with pytest.raises(NotImplementedError, match="Layer does not define forward"):
        Layer()(np.zeros(1))
    with pytest.raises(NotImplementedError, match="Scale does not define backward"):
        Scale().backward_params(np.zeros(3))


def test_call_is_forward() -> None:
    np.testing.assert_array_equal(Scale()(np.ones(3)), [2.0, 2.0, 2.0])


def test_the_tree_is_walked_in_attribute_order() -> None:
    net = Net()
    assert [name for name, _ in net.children()] == ["first", "scale"]
    assert [name for name, _ in net.named_parameters()] == ["first.W", "first.b", "scale.gain"]
    assert [name for name, _ in net.named_buffers()] == ["scale.calls"]
    assert net.num_parameters() == 9 + 3 + 3
    assert repr(net) == (
        "Net(\n  (first): Linear(in_features=3, out_features=3)\n  (scale): Scale()\n)"
    )


def test_train_and_eval_reach_every_layer() -> None:
    net = Net()
    assert net.eval() is net and not net.training and not net.scale.training
    net.train()
    assert net.training and net.first.training


def test_state_dict_round_trip_copies_in_place() -> None:
    source, target = Net(), Net()
    source.first.W.data[...] = 7.0
    source.scale.calls[...] = 3
    state = source.state_dict()
    assert list(state) == ["first.W", "first.b", "scale.gain", "scale.calls"]
    weight = target.first.W.data
    target.load_state_dict(state)
    assert target.first.W.data is weight  # loaded in place: optimizers keep their references
    for name, value in target.state_dict().items():
        np.testing.assert_array_equal(value, state[name], err_msg=name)


def test_load_state_dict_lists_missing_and_unexpected_keys() -> None:
    net = Net()
    state = net.state_dict()
    state["extra"] = np.zeros(1)
    del state["first.b"]
    with pytest.raises(
        ValueError, match=r"missing keys \['first.b'\], unexpected keys \['extra'\]"
    ):
        net.load_state_dict(state)
    net.load_state_dict({"first.W": np.ones((3, 3))}, strict=False)
    np.testing.assert_array_equal(net.first.W, np.ones((3, 3)))


def test_load_state_dict_names_the_mismatched_shape() -> None:
    with pytest.raises(ValueError, match=r"'first.W': the model has shape \(3, 3\).*\(4, 3\)"):
        Net().load_state_dict({"first.W": np.zeros((4, 3))}, strict=False)


# -- BatchNorm1d, Dropout, LeakyReLU, Softmax, LogSoftmax, Sequential ----------------------------
@pytest.mark.parametrize("momentum", [0.1, 0.5])
@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_batchnorm_matches_pytorch_in_train_and_eval_mode(
    torch: ModuleType, momentum: float, shape: tuple[int, int, int], seed: int
) -> None:
    n, features, _ = shape
    n += 1  # training needs at least two samples
    gen = np.random.default_rng(seed)
    layer = BatchNorm1d(features, momentum=momentum, dtype=np.float64)
    reference = torch.nn.BatchNorm1d(features, momentum=momentum, dtype=torch.float64)
    weight, bias = gen.standard_normal(features), gen.standard_normal(features)
    layer.weight.data[...], layer.bias.data[...] = weight, bias
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(weight))
        reference.bias.copy_(torch.from_numpy(bias))
    for mode in ("train", "train", "eval"):
        layer.train(mode == "train")
        reference.train(mode == "train")
        x, dout = gen.standard_normal((n, features)) * 3 + 1, gen.standard_normal((n, features))
        tx = torch.tensor(x, requires_grad=True)
        reference.zero_grad()
        ty = reference(tx)
        ty.backward(torch.from_numpy(dout))
        np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), rtol=1e-9, atol=1e-9)
        dx = layer.backward(dout)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-7, atol=1e-9, err_msg=mode)
        np.testing.assert_allclose(layer.weight.grad, reference.weight.grad.numpy(),
                                   rtol=1e-9, atol=1e-9)  # fmt: skip
        np.testing.assert_allclose(layer.bias.grad, reference.bias.grad.numpy(),
                                   rtol=1e-9, atol=1e-9)  # fmt: skip
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(getattr(layer, name), getattr(reference, name).numpy(),
                                       rtol=1e-12, err_msg=name)  # fmt: skip


def test_batchnorm_normalises_in_training_and_uses_running_stats_in_eval() -> None:
    gen = np.random.default_rng(0)
    layer = BatchNorm1d(3)
    x = (gen.standard_normal((500, 3)) * [1, 5, 0.1] + [2, -3, 7]).astype(np.float32)
    y = layer.forward(x)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-4)  # float32
    np.testing.assert_allclose(y.std(axis=0), 1, atol=1e-3)
    layer.eval()
    single = layer.forward(x[:1])
    assert single.shape == (1, 3)  # one sample is fine in eval mode
    assert [name for name, _ in layer.named_buffers()] == ["running_mean", "running_var"]


def test_batchnorm_explains_bad_input() -> None:
    with pytest.raises(ValueError, match="more than one value per channel"):
        BatchNorm1d(3).forward(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\) but got \(2, 4\)"):
        BatchNorm1d(3).forward(np.zeros((2, 4)))


def test_dropout_scales_and_zeroes_like_pytorch(torch: ModuleType) -> None:
    x = np.ones((200, 50))
    layer = Dropout(0.3, rng=0)
    y = layer.forward(x)
    reference = torch.nn.functional.dropout(torch.from_numpy(x), p=0.3, training=True).numpy()
    assert set(np.unique(y)) == set(np.unique(reference)) == {0.0, 1 / 0.7}
    assert np.mean(y == 0) == pytest.approx(0.3, abs=0.02)
    dout = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dout), dout * y)  # the same mask
    layer.eval()
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(dout), dout)


def test_dropout_is_reproducible_and_keeps_float32() -> None:
    x = np.ones((4, 8), dtype=np.float32)
    a, b = Dropout(0.5, rng=3).forward(x), Dropout(0.5, rng=3).forward(x)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    assert not Dropout(1.0).forward(x).any()
    np.testing.assert_array_equal(Dropout(0.0).forward(x), x)
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\], got 1.5"):
        Dropout(1.5)


def test_sequential_chains_and_names_by_position(rng: np.random.Generator) -> None:
    model = Sequential(
        Linear(4, 3, rng=0, dtype=np.float64), ReLU(), Linear(3, 2, rng=1, dtype=np.float64)
    )
    assert len(model) == 3 and isinstance(model[1], ReLU)
    assert [name for name, _ in model.named_parameters()] == ["0.W", "0.b", "2.W", "2.b"]
    x = rng.standard_normal((5, 4))
    expected = model[2].forward(model[1].forward(model[0].forward(x)))
    np.testing.assert_array_equal(model.forward(x), expected)
    dout = rng.standard_normal((5, 2))
    dx = model.backward(dout)
    grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model.forward(x)
    model.backward_params(dout)
    for before, param in zip(grads, model.parameters()):
        np.testing.assert_array_equal(param.grad, before)
    assert dx.shape == (5, 4)
    assert repr(model).startswith("Sequential(\n  (0): Linear(in_features=4, out_features=3)")
