"""The autograd engine's modules (`deeplearning.autograd.nn`) on the shared core: the module tree,
the same names, weights and gradients as the layer path, PyTorch as an oracle, and training,
checkpoints and the command line with ``engine="autograd"``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import deeplearning as dl
from deeplearning.autograd import Tensor, nn
from deeplearning.autograd import functional as F
from deeplearning.cli.commands import main
from deeplearning.core.module import Module, Parameter
from deeplearning.data.datasets import Dataset
from deeplearning.training.checkpoint import (
    build_model,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from deeplearning.training.loop import fit
from deeplearning.training.metrics import evaluate, predict
from deeplearning.training.recipe import ENGINES, Recipe

from conftest import blobs, write_fake_dataset

SIZES = [7, 6, 5, 3]


def all_modules(module: Module) -> Iterator[Module]:
    """The module and every module below it, depth first."""
    yield module
    for _, child in module.children():
        yield from all_modules(child)


def assert_same_state(a: dict[str, Any], b: dict[str, Any], **tolerance: float) -> None:
    assert list(a) == list(b)
    for name in a:
        assert a[name].shape == b[name].shape, name
        np.testing.assert_allclose(a[name], b[name], err_msg=name, **tolerance)


def blob_data() -> Dataset:
    x_train, y_train = blobs(600, 0)
    x_test, y_test = blobs(200, 1)
    return Dataset(x_train, y_train, x_test, y_test)


# -- 1. the module tree on the engine ---------------------------------------------------------
class Block(Module):
    def __init__(self, width: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.lin = nn.Linear(width, width, rng=rng, dtype=np.float64)
        self.act = nn.Tanh()

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.act(self.lin(x)) + x
        return out


class Net(Module):
    """Parameters, sub-modules, a list and a tuple of modules, and a shared parameter."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        gen = np.random.default_rng(seed)
        self.scale = Parameter(np.linspace(0.5, 1.5, 4))
        self.stem = nn.Linear(3, 4, rng=gen, dtype=np.float64)
        self.blocks = [Block(4, gen), Block(4, gen)]
        self.norm = nn.BatchNorm1d(4, dtype=np.float64)
        self.drop = nn.Dropout(0.5, rng=seed)
        self.heads = (nn.Linear(4, 2, rng=gen, dtype=np.float64),
                      nn.Linear(4, 2, rng=gen, dtype=np.float64))  # fmt: skip
        self.heads[1].W = self.heads[0].W  # tied: one parameter reached twice
        self.note = ["not", "modules"]  # a list of other things is ignored

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x) * self.scale
        for block in self.blocks:
            h = block(h)
        h = self.drop(self.norm(h))
        out: Tensor = self.heads[0](h) + 2 * self.heads[1](h)
        return out


NET_PARAMETERS = [
    ("scale", (4,)),
    ("stem.W", (3, 4)), ("stem.b", (4,)),
    ("blocks.0.lin.W", (4, 4)), ("blocks.0.lin.b", (4,)),
    ("blocks.1.lin.W", (4, 4)), ("blocks.1.lin.b", (4,)),
    ("norm.weight", (4,)), ("norm.bias", (4,)),
    ("heads.0.W", (4, 2)), ("heads.0.b", (2,)),
    ("heads.1.b", (2,)),
]  # fmt: skip


def test_named_parameters_walk_attributes_lists_and_tuples_in_order() -> None:
    net = Net()
    assert [(name, p.shape) for name, p in net.named_parameters()] == NET_PARAMETERS
    assert all(isinstance(p, Parameter) and p.requires_grad for p in net.parameters())
    # the tied weight is one parameter, yielded once, under the first name that reaches it
    assert net.heads[1].W is net.heads[0].W
    assert sum(p is net.heads[0].W for p in net.parameters()) == 1
    assert len(list(net.parameters())) == len({id(p) for p in net.parameters()}) == 12
    assert net.num_parameters() == sum(np.prod(shape) for _, shape in NET_PARAMETERS) == 80
    assert [name for name, _ in net.children()] == [
        "stem", "blocks.0", "blocks.1", "norm", "drop", "heads.0", "heads.1"
    ]  # fmt: skip
    assert [name for name, _ in net.named_buffers()] == ["norm.running_mean", "norm.running_var"]
    assert list(net.state_dict()) == [name for name, _ in NET_PARAMETERS] + [
        "norm.running_mean", "norm.running_var"
    ]  # fmt: skip


def test_train_and_eval_reach_every_module_and_change_behaviour(rng: np.random.Generator) -> None:
    net = Net()
    modules = list(all_modules(net))
    assert len(modules) == 12  # Net, stem, 2 x (Block, lin, act), norm, drop, 2 heads
    x = Tensor(rng.standard_normal((16, 3)))
    assert net.eval() is net
    assert not any(m.training for m in modules)
    np.testing.assert_array_equal(net(x).data, net(x).data)  # no dropout, running statistics
    before = net.norm.running_mean.copy()
    net(x)
    np.testing.assert_array_equal(net.norm.running_mean, before)  # eval: no update
    assert net.train() is net
    assert all(m.training for m in modules)
    out_a, out_b = net(x).data, net(x).data
    assert not np.array_equal(out_a, out_b)  # two dropout masks
    assert not np.array_equal(net.norm.running_mean, before)
    net.train(False)
    assert not net.blocks[1].act.training and not net.heads[1].training


def test_call_runs_forward_and_backward_sets_every_gradient(rng: np.random.Generator) -> None:
    net = Net().eval()
    x = Tensor(rng.standard_normal((8, 3)))
    np.testing.assert_array_equal(net(x).data, net.forward(x).data)
    assert all(not p.grad.any() for p in net.parameters())  # Parameters start with zeros
    net.train()
    (net(x) ** 2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad.shape == p.shape and p.grad.dtype == p.dtype, name
        assert np.any(p.grad != 0), name
    arrays = [p.grad for p in net.parameters()]
    assert not any(np.shares_memory(a, b) for i, a in enumerate(arrays) for b in arrays[:i])
    # the tied weight's gradient is the sum over both uses: compare with an untied copy
    untied = Net()
    untied.heads[1].W = Parameter(untied.heads[0].W.data.copy())
    untied.drop.p = net.drop.p = 0.0
    (net(x) ** 2).sum().backward()
    (untied(x) ** 2).sum().backward()
    np.testing.assert_allclose(
        net.heads[0].W.grad, untied.heads[0].W.grad + untied.heads[1].W.grad, rtol=1e-12
    )
    net.zero_grad()
    for name, p in net.named_parameters():
        assert not p.grad.any(), name


def test_repr_shows_the_tree() -> None:
    text = repr(Net())
    assert text.startswith("Net(\n  (stem): Linear(in_features=3, out_features=4)\n")
    assert "  (blocks.0): Block(\n    (lin): Linear(in_features=4, out_features=4)\n" in text
    assert "    (act): Tanh()\n  )\n" in text
    assert "  (norm): BatchNorm1d(4, eps=1e-05, momentum=0.1)\n  (drop): Dropout(p=0.5)\n" in text
    assert text.endswith("  (heads.1): Linear(in_features=4, out_features=2)\n)")
    assert repr(nn.Linear(2, 3, bias=False)) == "Linear(in_features=2, out_features=3, bias=False)"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Sigmoid()) == "Sigmoid()"


def test_load_state_dict_copies_in_place(rng: np.random.Generator) -> None:
    source, target = Net(seed=1), Net(seed=2)
    source.train()
    source(Tensor(rng.standard_normal((10, 3))))  # running statistics away from 0 and 1
    arrays = {name: value for name, value in target.state_dict().items()}
    target.load_state_dict(source.state_dict())
    assert_same_state(target.state_dict(), source.state_dict(), rtol=0)
    for name, value in target.state_dict().items():
        assert value is arrays[name], f"{name} was replaced, not written into"
        assert not np.shares_memory(value, source.state_dict()[name]), name
    x = Tensor(rng.standard_normal((5, 3)))
    np.testing.assert_array_equal(target.eval()(x).data, source.eval()(x).data)


def test_load_state_dict_errors_name_the_keys_and_shapes() -> None:
    net = Net()
    state = {name: value.copy() for name, value in net.state_dict().items()}
    missing = {k: v for k, v in state.items() if k not in ("norm.running_var", "stem.b")}
    with pytest.raises(ValueError, match=re.escape("missing keys ['norm.running_var', 'stem.b']")):
        net.load_state_dict(missing)
    with pytest.raises(ValueError, match=re.escape("unexpected keys ['blocks.2.lin.W']")):
        net.load_state_dict({**state, "blocks.2.lin.W": np.zeros((4, 4))})
    with pytest.raises(
        ValueError, match=re.escape("'stem.W': the model has shape (3, 4) but the state has (4, 3)")
    ):
        net.load_state_dict({**state, "stem.W": np.zeros((4, 3))})
    with pytest.raises(ValueError, match="the model has shape"):  # also when not strict
        net.load_state_dict({"stem.W": np.zeros((3, 5))}, strict=False)
    # not strict: load what matches, ignore the rest
    fresh = Net(seed=7)
    fresh.load_state_dict({"stem.W": state["stem.W"], "other": np.zeros(1)}, strict=False)
    np.testing.assert_array_equal(fresh.stem.W.data, state["stem.W"])
    assert not np.array_equal(fresh.blocks[0].lin.W.data, state["blocks.0.lin.W"])


def test_a_failed_load_leaves_the_model_unchanged() -> None:
    net = Net()
    before = {name: value.copy() for name, value in net.state_dict().items()}
    state = {name: value + 1 for name, value in before.items()}
    state["heads.1.b"] = np.zeros(3)  # late in the order: the arrays before it fit
    with pytest.raises(ValueError, match=r"'heads\.1\.b': the model has shape"):
        net.load_state_dict(state)
    assert_same_state(net.state_dict(), before, rtol=0, atol=0)


# -- 2. the same names and weights on both paths ----------------------------------------------
def test_mlp_has_the_same_state_and_tree_on_both_paths() -> None:
    layers = dl.MLP(SIZES, batchnorm=True, dropout=0.2, rng=0)
    engine = nn.MLP(SIZES, batchnorm=True, dropout=0.2, rng=0)
    assert list(layers.state_dict())[:6] == ["0.W", "0.b", "1.weight", "1.bias", "4.W", "4.b"]
    assert_same_state(layers.state_dict(), engine.state_dict(), rtol=0, atol=0)
    assert all(v.dtype == np.float32 for v in engine.state_dict().values())
    assert [type(m).__name__ for m in layers.layers] == [type(m).__name__ for m in engine.layers]
    assert repr(layers) == repr(engine)
    assert layers.config == engine.config
    assert layers.num_parameters() == engine.num_parameters() == 8 * 6 + 7 * 5 + 6 * 3 + 2 * (6 + 5)
    other_seed = nn.MLP(SIZES, batchnorm=True, dropout=0.2, rng=1)
    assert not np.array_equal(other_seed.state_dict()["0.W"], engine.state_dict()["0.W"])


def test_two_layer_mlp_has_the_same_state_on_both_paths() -> None:
    layers, engine = dl.TwoLayerMLP(6, 5, 3, rng=4), nn.TwoLayerMLP(6, 5, 3, rng=4)
    assert list(engine.state_dict()) == ["fc1.W", "fc1.b", "fc2.W", "fc2.b"]
    assert_same_state(layers.state_dict(), engine.state_dict(), rtol=0, atol=0)
    assert engine.config == layers.config == {"in_features": 6, "hidden": 5, "num_classes": 3}
    assert repr(layers) == repr(engine)


@pytest.mark.parametrize("direction", ["layers to engine", "engine to layers"])
def test_a_state_dict_loads_into_the_other_path(
    direction: str, rng: np.random.Generator
) -> None:  # fmt: skip
    layers = dl.MLP(SIZES, batchnorm=True, dropout=0.2, rng=0, dtype=np.float64)
    engine = nn.MLP(SIZES, batchnorm=True, dropout=0.2, rng=9, dtype=np.float64)
    source, target = (layers, engine) if direction == "layers to engine" else (engine, layers)
    for value in source.state_dict().values():
        value += rng.uniform(0.1, 0.5, value.shape)  # biases, BatchNorm and its statistics too
    target.load_state_dict(source.state_dict())
    assert_same_state(target.state_dict(), source.state_dict(), rtol=0, atol=0)
    x = rng.standard_normal((9, 7))
    layers.eval(), engine.eval()
    np.testing.assert_allclose(layers.forward(x), engine(Tensor(x)).data, rtol=1e-13)
    two_layers, two_engine = dl.TwoLayerMLP(7, 4, 3, rng=1), nn.TwoLayerMLP(7, 4, 3, rng=2)
    two_engine.load_state_dict(two_layers.state_dict())
    assert_same_state(two_engine.state_dict(), two_layers.state_dict(), rtol=0, atol=0)


# -- 3. the cross-check: the same gradients and steps on both paths (float64) ----------------
def layer_step(model: dl.MLP, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    loss_fn = dl.CrossEntropyLoss()
    logits = model.forward(x)
    loss_fn.forward(logits, y)
    model.backward(loss_fn.backward())
    return logits


def engine_step(model: nn.MLP, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    logits = model(Tensor(x))
    F.cross_entropy(logits, y).backward()
    return logits.data


def gradient_difference(layers: Module, engine: Module) -> float:
    """The largest difference between the two paths' gradients, relative to the largest
    gradient of the model (the bias before a BatchNorm has a gradient of 0 up to rounding, so
    its own size is no scale)."""
    scale = max(float(np.abs(p.grad).max()) for p in layers.parameters())
    worst = 0.0
    for (name, p), (name_e, q) in zip(layers.named_parameters(), engine.named_parameters()):
        assert name == name_e and p.grad.shape == q.grad.shape == p.shape
        worst = max(worst, float(np.abs(p.grad - q.grad).max()) / scale)
    return worst


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_both_paths_give_the_same_outputs_gradients_and_steps(
    dropout: float, rng: np.random.Generator
) -> None:
    layers = dl.MLP(SIZES, batchnorm=True, dropout=dropout, rng=5, dtype=np.float64)
    engine = nn.MLP(SIZES, batchnorm=True, dropout=dropout, rng=5, dtype=np.float64)
    engine.load_state_dict(layers.state_dict())  # (equal already: the same seed)
    x, y = rng.standard_normal((16, 7)), rng.integers(0, 3, 16)
    logits = layer_step(layers, x, y)
    np.testing.assert_allclose(engine_step(engine, x, y), logits, rtol=1e-12, atol=1e-14)
    assert gradient_difference(layers, engine) < 1e-12
    assert np.abs(layers[0].b.grad).max() < 1e-14  # a bias before BatchNorm changes nothing
    for (name, a), (_, b) in zip(layers.named_buffers(), engine.named_buffers()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=name)
    if dropout:  # the masks were drawn: one generator per model, the same draws on both paths
        mask = layers[3]._local
        assert mask is not None and (mask == 0).any() and (mask == 1 / 0.7).any()
    layer_opt = dl.SGD(layers.parameters(), lr=0.1, momentum=0.9)
    engine_opt = dl.SGD(engine.parameters(), lr=0.1, momentum=0.9)
    for _ in range(10):
        x, y = rng.standard_normal((16, 7)), rng.integers(0, 3, 16)
        logits = layer_step(layers, x, y)
        np.testing.assert_allclose(engine_step(engine, x, y), logits, rtol=1e-10, atol=1e-12)
        assert gradient_difference(layers, engine) < 1e-10
        layer_opt.step()
        engine_opt.step()
    assert_same_state(engine.state_dict(), layers.state_dict(), rtol=1e-10, atol=1e-12)
    assert not np.allclose(layers[0].W.data, dl.MLP(SIZES, rng=5, dtype=np.float64)[0].W.data)


def test_dropout_draws_the_same_masks_on_both_paths(rng: np.random.Generator) -> None:
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((50, 40)).astype(dtype)
        layer, module = dl.Dropout(0.3, rng=11), nn.Dropout(0.3, rng=11)
        for _ in range(3):  # successive masks too
            out = module(Tensor(x)).data
            assert out.dtype == dtype
            np.testing.assert_array_equal(layer.forward(x), out)


# -- 4. the engine's modules against PyTorch (float64) ---------------------------------------
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(torch: ModuleType, bias: bool, rng: np.random.Generator) -> None:
    ours = nn.Linear(5, 4, bias=bias, rng=rng, dtype=np.float64)
    if bias:
        ours.b.data[...] = rng.standard_normal(4)
    theirs = torch.nn.Linear(5, 4, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.W.data.T.copy()))  # torch keeps W.T
        if bias:
            theirs.bias.copy_(torch.from_numpy(ours.b.data))
    x, r = rng.standard_normal((6, 5)), rng.standard_normal((6, 4))
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    (out_t * torch.from_numpy(r)).sum().backward()
    xe = Tensor(x, requires_grad=True)
    out = ours(xe)
    (out * r).sum().backward()
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xe.grad, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.W.grad, theirs.weight.grad.numpy().T, rtol=1e-12)
    if bias:
        np.testing.assert_allclose(ours.b.grad, theirs.bias.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 5\)"):
        ours(Tensor(x[:, :4]))


def test_batchnorm_matches_torch_in_training_and_evaluation(
    torch: ModuleType, rng: np.random.Generator
) -> None:
    ours = nn.BatchNorm1d(5, momentum=0.2, dtype=np.float64)
    theirs = torch.nn.BatchNorm1d(5, momentum=0.2, dtype=torch.float64)
    gamma, beta = rng.uniform(0.5, 2, 5), rng.standard_normal(5)
    ours.weight.data[...], ours.bias.data[...] = gamma, beta
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(gamma))
        theirs.bias.copy_(torch.from_numpy(beta))
    for mode in ("train", "train", "train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        x = rng.standard_normal((12, 5)) * 3 + rng.standard_normal(5)
        r = rng.standard_normal((12, 5))
        xt = torch.tensor(x, requires_grad=True)
        out_t = theirs(xt)
        (out_t * torch.from_numpy(r)).sum().backward()
        xe = Tensor(x, requires_grad=True)
        out = ours(xe)
        (out * r).sum().backward()
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xe.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
        theirs.zero_grad()  # PyTorch accumulates; ours sets
    with pytest.raises(ValueError, match="more than one value per channel"):
        ours.train()(Tensor(x[:1]))


def test_dropout_scales_what_it_keeps_and_is_the_identity_in_evaluation(
    rng: np.random.Generator,
) -> None:
    p = 0.25
    drop = nn.Dropout(p, rng=3)
    x = Tensor(np.ones((400, 50)), requires_grad=True)
    out = drop(x)
    kept = out.data != 0
    np.testing.assert_allclose(out.data[kept], 1 / (1 - p), rtol=1e-15)
    assert abs(1 - kept.mean() - p) < 0.01  # 20,000 draws: the standard error is 0.003
    r = rng.standard_normal(x.shape)
    (out * r).sum().backward()
    np.testing.assert_allclose(x.grad, r * out.data, rtol=1e-15)  # dL/dx = dout * mask
    assert abs(out.data.mean() - 1) < 0.02  # the expected value is kept
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x.data)
    drop.train()
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x.data)
    assert not nn.Dropout(1.0)(x).data.any()
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        nn.Dropout(1.5)


def test_losses_match_torch(torch: ModuleType, rng: np.random.Generator) -> None:
    logits, labels = rng.standard_normal((8, 5)) * 3, rng.integers(0, 5, 8)
    probs = rng.dirichlet(np.ones(5), 8)
    for target, target_t in ((labels, torch.from_numpy(labels)), (probs, torch.from_numpy(probs))):
        ours = Tensor(logits, requires_grad=True)
        loss = nn.CrossEntropyLoss()(ours, target)
        loss.backward()
        theirs = torch.tensor(logits, requires_grad=True)
        loss_t = torch.nn.CrossEntropyLoss()(theirs, target_t)
        loss_t.backward()
        assert loss.item() == pytest.approx(loss_t.item(), rel=1e-12)
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-15)
    prediction, target = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    ours = Tensor(prediction, requires_grad=True)
    loss = nn.MSELoss()(ours, target)
    loss.backward()
    theirs = torch.tensor(prediction, requires_grad=True)
    loss_t = torch.nn.MSELoss()(theirs, torch.from_numpy(target))
    loss_t.backward()
    assert loss.item() == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        nn.MSELoss()(ours, target[:, :2])


def test_activations_match_torch(torch: ModuleType, rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 6)) * 3
    pairs = [
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.LeakyReLU(0.1), torch.nn.LeakyReLU(0.1)),
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
    ]
    for ours, theirs in pairs:
        xe, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, out_t = ours(xe), theirs(xt)
        (out * out).sum().backward()
        (out_t * out_t).sum().backward()
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12, err_msg=repr(ours))
        np.testing.assert_allclose(
            xe.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-16, err_msg=repr(ours)
        )


# -- 5. training, metrics, recipes and checkpoints through the shared core -------------------
@pytest.mark.parametrize("model_name", ["TwoLayerMLP", "MLP"])
def test_fit_trains_an_engine_model_as_the_layer_path_does(model_name: str) -> None:
    def run(engine: str) -> tuple[Module, list[Any]]:
        models = ENGINES[engine]
        if model_name == "TwoLayerMLP":
            model = models["TwoLayerMLP"](6, 16, 3, rng=1)
        else:
            model = models["MLP"]([6, 16, 8, 3], batchnorm=True, dropout=0.2, rng=1)
        optimizer = dl.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = list(fit(model, blob_data(), optimizer, epochs=3, batch_size=32, rng=7))
        return model, history

    layers, layer_history = run("layers")
    engine, history = run("autograd")
    assert isinstance(engine, nn.TwoLayerMLP if model_name == "TwoLayerMLP" else nn.MLP)
    assert history[-1].train_loss < history[0].train_loss
    assert history[-1].test_acc > 0.95 and history[-1].train_acc > 0.9
    for ours, theirs in zip(history, layer_history):
        assert ours.train_loss == pytest.approx(theirs.train_loss, rel=1e-4)
    # float32 rounding differs between the two paths, by ~3e-7 after 57 steps
    assert_same_state(engine.state_dict(), layers.state_dict(), rtol=1e-5, atol=1e-5)
    assert all(value.dtype == np.float32 for value in engine.state_dict().values())


def test_fit_takes_the_engine_losses() -> None:
    model = nn.TwoLayerMLP(6, 16, 3, rng=0)
    optimizer = dl.SGD(model.parameters(), lr=0.1)
    history = list(fit(model, blob_data(), optimizer, epochs=2, loss_fn=nn.CrossEntropyLoss()))
    assert history[-1].test_acc > 0.95


def test_predict_and_evaluate_work_on_engine_models(rng: np.random.Generator) -> None:
    layers = dl.MLP([6, 8, 3], batchnorm=True, dropout=0.5, rng=2)
    engine = nn.MLP([6, 8, 3], batchnorm=True, dropout=0.5, rng=2)
    x, y = blobs(50, 3)
    for model in (layers, engine):  # the same running statistics on both
        model.train()
        model.infer(x)
    labels = predict(engine, x, batch_size=16)
    assert labels.dtype == np.int64 and labels.shape == (50,)
    assert all(m.training for m in all_modules(engine))  # the mode is restored
    np.testing.assert_array_equal(labels, predict(layers, x))
    engine.eval()
    expected = engine.infer(x).argmax(axis=1)
    np.testing.assert_array_equal(labels, expected)  # in evaluation mode: no dropout
    assert not engine.training
    assert evaluate(engine, x, y) == pytest.approx(np.mean(expected == y))
    assert not engine.training
    with pytest.raises(ValueError, match="evaluate got 50 samples"):
        evaluate(engine, x, y[:10])


def test_recipe_builds_engine_models() -> None:
    for model, cls, layer_cls in (("two-layer", nn.TwoLayerMLP, dl.TwoLayerMLP),
                                  ("6-12-3", nn.MLP, dl.MLP)):  # fmt: skip
        recipe = Recipe(model=model, engine="autograd")
        built = recipe.build_model(np.random.default_rng(0), sample_shape=(6,), num_classes=3)
        assert type(built) is cls
        twin = Recipe(model=model).build_model(np.random.default_rng(0), (6,), 3)
        assert type(twin) is layer_cls
        assert_same_state(built.state_dict(), twin.state_dict(), rtol=0, atol=0)
    recipe = Recipe(model="6-12-3", batchnorm=True, dropout=0.1, engine="autograd")
    built = recipe.build_model(np.random.default_rng(0), (6,), 3)
    assert built.config == {"sizes": [6, 12, 3], "activation": "relu", "batchnorm": True,
                            "dropout": 0.1}  # fmt: skip
    assert [type(m) for m in built.layers] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout,
                                               nn.Linear]  # fmt: skip
    assert Recipe.from_dict(recipe.to_dict()).engine == "autograd"
    with pytest.raises(ValueError, match="unknown engine 'torch'"):
        Recipe(engine="torch")


def test_checkpoint_round_trip_rebuilds_an_engine_model(tmp_path: Path) -> None:
    model = nn.MLP([6, 10, 3], batchnorm=True, dropout=0.2, rng=0)
    optimizer = dl.SGD(model.parameters(), lr=0.1, momentum=0.9)
    list(fit(model, blob_data(), optimizer, epochs=1, rng=0))
    path = tmp_path / "engine.npz"
    save_checkpoint(path, model, optimizer, epoch=1)
    header, arrays = read_checkpoint(path)
    assert header["engine"] == "autograd" and header["model"] == "MLP"
    assert "model.1.running_var" in arrays and "optimizer.velocity.0" in arrays
    assert header["config"] == model.config and header["epoch"] == 1
    loaded, header = load_checkpoint(path)
    assert type(loaded) is nn.MLP
    assert_same_state(loaded.state_dict(), model.state_dict(), rtol=0, atol=0)
    x, _ = blobs(40, 5)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    fresh = nn.MLP([6, 10, 3], batchnorm=True, dropout=0.2, rng=5)
    fresh_optimizer = dl.SGD(fresh.parameters(), lr=0.5, momentum=0.9)
    load_checkpoint(path, fresh, fresh_optimizer)
    assert fresh_optimizer.steps == optimizer.steps and fresh_optimizer.lr == 0.1
    np.testing.assert_array_equal(
        fresh_optimizer.state["velocity"][0], optimizer.state["velocity"][0]
    )
    # the names are the same on both paths: the engine's checkpoint loads into a layer model
    layer_model, _ = load_checkpoint(path, dl.MLP([6, 10, 3], batchnorm=True, dropout=0.2))
    np.testing.assert_array_equal(predict(layer_model, x), predict(model, x))
    two = nn.TwoLayerMLP(6, 7, 3, rng=0)
    save_checkpoint(tmp_path / "two.npz", two)
    rebuilt, _ = load_checkpoint(tmp_path / "two.npz")
    assert type(rebuilt) is nn.TwoLayerMLP and rebuilt.config == two.config


def rewrite_header(path: Path, drop: str) -> None:
    """Remove one entry from a checkpoint's header, as in files written before it existed."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(str(arrays["header"]))
    del header[drop]
    arrays["header"] = np.array(json.dumps(header))
    np.savez(path, **arrays)


def test_a_header_without_engine_rebuilds_the_layer_model(tmp_path: Path) -> None:
    assert type(build_model({"model": "MLP", "config": {"sizes": [4, 3]}})) is dl.MLP
    assert type(build_model({"model": "MLP", "config": {"sizes": [4, 3]},
                             "engine": "autograd"})) is nn.MLP  # fmt: skip
    for model in (dl.TwoLayerMLP(6, 7, 3, rng=0), nn.TwoLayerMLP(6, 7, 3, rng=0)):
        path = tmp_path / "old.npz"
        save_checkpoint(path, model)
        rewrite_header(path, "engine")
        loaded, header = load_checkpoint(path)
        assert "engine" not in header
        assert type(loaded) is dl.TwoLayerMLP
        assert_same_state(loaded.state_dict(), model.state_dict(), rtol=0, atol=0)


# -- 6. the command line -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_fake_dataset(root / "mnist", n_train=512, n_test=128)
    return root


def cli_train(data_dir: Path, *args: str) -> int:
    return main(["train", "--data-dir", str(data_dir), "--epochs", "2", "--lr", "0.1", *args])


def final_test_accuracy(out: str) -> float:
    found = re.search(r"final: train acc [\d.]+%, test acc ([\d.]+)%", out)
    assert found, out
    return float(found.group(1)) / 100


def test_cli_trains_saves_and_evaluates_on_the_engine(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save = tmp_path / "engine.npz"
    assert cli_train(data_dir, "--engine", "autograd", "--quiet", "--save", str(save)) == 0
    out = capsys.readouterr().out
    assert out.startswith("final: train acc")
    assert final_test_accuracy(out) > 0.9  # the fake digits are easy
    header, _ = read_checkpoint(save)
    assert header["engine"] == "autograd" and header["recipe"]["engine"] == "autograd"
    assert header["model"] == "TwoLayerMLP" and header["epoch"] == 2
    assert main(["evaluate", str(save), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "TwoLayerMLP, epoch 2, mnist" in out and "of 128)" in out
    found = re.search(r"test accuracy: ([\d.]+)%", out)
    assert found, out
    reported = float(found.group(1)) / 100
    assert reported == pytest.approx(header["metrics"]["test_acc"], abs=1e-4)
    # the same run on the layer path: the same network, up to float32 rounding
    layers = tmp_path / "layers.npz"
    assert cli_train(data_dir, "--quiet", "--save", str(layers)) == 0
    _, engine_arrays = read_checkpoint(save)
    _, layer_arrays = read_checkpoint(layers)
    assert read_checkpoint(layers)[0]["engine"] == "layers"
    assert_same_state(engine_arrays, layer_arrays, rtol=1e-4, atol=1e-5)


def test_cli_trains_an_mlp_with_batchnorm_and_dropout_on_the_engine_and_resumes(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--engine", "autograd", "--model", "784-32-10", "--batchnorm", "--dropout", "0.1",
               "--quiet", "--seed", "2"]  # fmt: skip
    per_epoch = str(tmp_path / "run-{epoch}.npz")
    assert cli_train(data_dir, *options, "--save", per_epoch) == 0
    assert final_test_accuracy(capsys.readouterr().out) > 0.8
    resumed = tmp_path / "resumed.npz"
    assert main(["train", "--data-dir", str(data_dir), "--resume", str(tmp_path / "run-1.npz"),
                 "--quiet", "--save", str(resumed)]) == 0  # fmt: skip
    header, arrays = read_checkpoint(resumed)
    assert header["engine"] == "autograd" and header["model"] == "MLP" and header["epoch"] == 2
    _, straight = read_checkpoint(tmp_path / "run-2.npz")
    assert sorted(arrays) == sorted(straight) and "model.1.running_var" in arrays
    for name in straight:  # the optimizer, the shuffling and the dropout masks resume exactly
        np.testing.assert_array_equal(arrays[name], straight[name], err_msg=name)


def test_cli_rejects_an_unknown_engine(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        cli_train(data_dir, "--engine", "nonsense")
    assert exit_info.value.code == 2
    assert "invalid choice: 'nonsense'" in capsys.readouterr().err
