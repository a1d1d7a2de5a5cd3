"""`interop.to_torch` and `interop.from_torch`: every model family, on both paths, computes the
same function in PyTorch (float64 to 1e-10 relative, float32 to 1e-5), comes back with the same
arrays bit for bit, and goes on training in PyTorch as it would here."""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplearning as dl
from deeplearning import interop
from deeplearning.autograd import Tensor, nn

torch = pytest.importorskip("torch", reason="to_torch needs the `torch` extra")
tnn = torch.nn

PATHS = {"layers": dl, "autograd": nn}
RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def _families(path: Any, dtype: Any) -> list[tuple[dl.Module, np.ndarray]]:
    """One small model of each family, seeded, and an input for it."""
    rng = np.random.default_rng(0)
    images, rows = rng.random((3, 1, 28, 28)), rng.random((4, 6))
    return [
        (path.MLP([6, 9, 7, 3], batchnorm=True, dropout=0.3, rng=0, dtype=dtype), rows),
        (path.MLP([6, 5, 3], activation="tanh", rng=0, dtype=dtype), rows),
        (path.TwoLayerMLP(6, 8, 3, rng=0, dtype=dtype), rows),
        (path.LeNet5(batchnorm=True, dropout=0.1, rng=0, dtype=dtype), images),
        (path.GPT(13, 8, 2, 2, 8, rng=0, dtype=dtype), rng.integers(0, 13, (2, 8))),
        (path.GPT(13, 8, 1, 4, 8, bias=False, rng=0, dtype=dtype), rng.integers(0, 13, (3, 5))),
        *((path.RecurrentLanguageModel(11, 4, 6, cell, rng=0, dtype=dtype),
           rng.integers(0, 11, (2, 5))) for cell in ("rnn", "lstm", "gru")),
        (path.MLPLanguageModel(11, 3, 4, 6, rng=0, dtype=dtype), rng.integers(0, 11, (5, 3))),
    ]  # fmt: skip


def _ours(model: dl.Module, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.infer(x))


def _theirs(net: Any, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(x)))
    return (out[0] if isinstance(out, tuple) else out).numpy()


CASES = [(path, dtype, i) for path in PATHS for dtype in RTOL for i in range(10)]


@pytest.mark.parametrize(("path", "dtype", "index"), CASES)
def test_every_family_computes_the_same_in_pytorch_and_comes_back(
    path: str, dtype: Any, index: int
) -> None:
    model, x = _families(PATHS[path], dtype)[index]
    x = x.astype(dtype) if x.dtype.kind == "f" else x
    model.eval()
    net = interop.to_torch(model)
    assert isinstance(net, tnn.Module) and not net.training
    places = {type(m).__module__.split(".")[0] for m in net.modules()}
    assert places <= {"torch", "deeplearning"}  # PyTorch's layers, in torch_modules' containers
    assert next(net.parameters()).dtype == getattr(torch, np.dtype(dtype).name)
    tolerance = RTOL[dtype]
    np.testing.assert_allclose(_theirs(net, x), _ours(model, x), rtol=tolerance, atol=tolerance)
    for engine in PATHS:
        back = interop.from_torch(net, engine=engine)
        assert type(back).__name__ == type(model).__name__ and back.engine == engine
        assert back.state_dict().keys() == model.state_dict().keys()
        for name, array in model.state_dict().items():
            assert back.state_dict()[name].dtype == array.dtype
            np.testing.assert_array_equal(back.state_dict()[name], array, err_msg=name)
        np.testing.assert_allclose(_ours(back, x), _ours(model, x), rtol=tolerance, atol=tolerance)


@settings(max_examples=8, deadline=None)
@given(
    vocab=st.integers(2, 20), block=st.integers(1, 9), n_layer=st.integers(1, 3),
    n_head=st.integers(1, 3), head_size=st.integers(1, 4), bias=st.booleans(),
    path=st.sampled_from(sorted(PATHS)), data=st.data(),
)  # fmt: skip
def test_gpts_of_any_size_match_nanogpts_structure(
    vocab: int, block: int, n_layer: int, n_head: int, head_size: int, bias: bool, path: str,
    data: st.DataObject,
) -> None:  # fmt: skip
    model = PATHS[path].GPT(vocab, block, n_layer, n_head, n_head * head_size, bias=bias, rng=1,
                            dtype=np.float64)  # fmt: skip
    t = data.draw(st.integers(1, block))
    idx = np.random.default_rng(2).integers(0, vocab, (2, t))
    net = interop.to_torch(model)
    assert net.lm_head.weight is net.transformer.wte.weight  # tied, as nanoGPT's
    names = set(dict(net.named_parameters()))  # (the tied weight once)
    assert names == {interop.torch_name(name)[0] for name in model.state_dict()}
    np.testing.assert_allclose(_theirs(net, idx), model.infer(idx), rtol=1e-10, atol=1e-13)


@settings(max_examples=8, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=2, max_size=4),
    activation=st.sampled_from(["relu", "leaky_relu", "sigmoid", "tanh"]),
    batchnorm=st.booleans(), n=st.integers(1, 5), path=st.sampled_from(sorted(PATHS)),
)  # fmt: skip
def test_mlps_of_any_size_round_trip(
    sizes: list[int], activation: str, batchnorm: bool, n: int, path: str
) -> None:
    model = PATHS[path].MLP(sizes, activation, batchnorm, rng=3, dtype=np.float64).eval()
    x = np.random.default_rng(4).standard_normal((n, sizes[0]))
    net = interop.to_torch(model)
    np.testing.assert_allclose(_theirs(net, x), model.infer(x), rtol=1e-10, atol=1e-13)
    back = interop.from_torch(net, engine="autograd" if path == "layers" else "layers")
    np.testing.assert_allclose(back.infer(x), model.infer(x), rtol=1e-10, atol=1e-13)


# -- what carries over -------------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
def test_training_mode_and_running_statistics_carry_over(path: str) -> None:
    model = PATHS[path].LeNet5(batchnorm=True, rng=0, dtype=np.float64)
    for seed in range(3):  # running statistics away from their zeros and ones
        model.infer(np.random.default_rng(seed).random((4, 1, 28, 28)) * 3)
    net = interop.to_torch(model)
    assert net.training
    np.testing.assert_array_equal(net[1].running_mean.numpy(), model[1].running_mean)
    np.testing.assert_array_equal(net[1].running_var.numpy(), model[1].running_var)
    x = np.random.default_rng(9).random((2, 1, 28, 28))
    model.eval()
    np.testing.assert_allclose(_theirs(net.eval(), x), model.infer(x), rtol=1e-10)
    back = interop.from_torch(net.train(), engine=path)
    assert back.training and not interop.from_torch(net.eval()).training


@pytest.mark.parametrize("path", PATHS)
def test_it_goes_on_training_in_pytorch_as_it_would_here(path: str) -> None:
    """Three SGD steps with momentum in PyTorch land where three steps here land."""
    model = PATHS[path].MLP([6, 8, 3], batchnorm=True, rng=0, dtype=np.float64)
    net = interop.to_torch(model)
    rng = np.random.default_rng(5)
    x, y = rng.random((16, 6)), rng.integers(0, 3, 16)
    ours = dl.SGD(model.parameters(), lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        if path == "layers":
            loss_fn = dl.CrossEntropyLoss()
            loss_fn.forward(model.forward(x), y)
            model.backward(loss_fn.backward())
        else:
            nn.CrossEntropyLoss()(model(Tensor(x)), y).backward()
        ours.step()
        theirs.zero_grad()
        tnn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        theirs.step()
    for name, array in model.state_dict().items():
        key, transposed = interop.torch_name(name)
        value = net.state_dict()[key].numpy()
        np.testing.assert_allclose(value.T if transposed else value, array, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_a_recurrent_layer_is_pytorchs_batch_first_layer(path: str, kind: str) -> None:
    layer = getattr(PATHS[path], kind)(3, 5, rng=0, dtype=np.float64)
    net = interop.to_torch(layer)
    assert type(net) is getattr(tnn, kind) and net.batch_first
    x = np.random.default_rng(1).standard_normal((2, 7, 3))
    out, state = layer(Tensor(x)) if path == "autograd" else layer.forward(x)
    theirs, their_state = net(torch.from_numpy(x))
    h_n = state[0] if kind == "LSTM" else state
    their_h = their_state[0] if kind == "LSTM" else their_state
    np.testing.assert_allclose(
        theirs.detach().numpy(), np.asarray(getattr(out, "data", out)), rtol=1e-10
    )
    np.testing.assert_allclose(
        their_h[0].detach().numpy(), np.asarray(getattr(h_n, "data", h_n)), rtol=1e-10
    )
    back = interop.from_torch(net, engine=path)
    for name, array in layer.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], array)


def test_pytorchs_own_sequential_comes_over() -> None:
    seq = tnn.Sequential(
        tnn.Conv2d(2, 4, 3, stride=2, padding=1), tnn.BatchNorm2d(4), tnn.LeakyReLU(0.2),
        tnn.AvgPool2d(2), tnn.Flatten(), tnn.Linear(16, 6), tnn.GELU(approximate="tanh"),
        tnn.Dropout(0.5), tnn.LayerNorm(6), tnn.Linear(6, 3, bias=False), tnn.LogSoftmax(dim=1),
    ).double().eval()  # fmt: skip
    x = np.random.default_rng(0).random((3, 2, 8, 8))
    back = interop.from_torch(seq)
    assert [type(m).__name__ for m in back.layers] == [type(m).__name__ for m in seq]
    np.testing.assert_allclose(back.forward(x), _theirs(seq, x), rtol=1e-10)


def test_a_gpt_writes_the_same_text_in_pytorch() -> None:
    model = dl.GPT(13, 8, 2, 2, 8, rng=0, dtype=np.float64)
    prompt = np.array([[1, 2, 3]])
    net = interop.to_torch(model)
    greedy = net.generate(torch.from_numpy(prompt), 12, top_k=1).numpy()
    np.testing.assert_array_equal(greedy, model.generate(prompt, 12, top_k=1))
    drawn = net.generate(torch.from_numpy(prompt), 12, generator=torch.Generator().manual_seed(0))
    assert drawn.shape == (1, 15) and int(drawn.max()) < 13


# -- nanoGPT's own module ----------------------------------------------------------------------
def _nanogpt_like(n_head: int | None, tied: bool = True) -> Any:
    """A GPT with nanoGPT's structure and names that to_torch did not make."""
    net = interop.to_torch(dl.GPT(11, 6, 2, 2, 8, rng=4, dtype=np.float64))
    delattr(net, interop.ORIGIN_ATTRIBUTE)
    del net.config
    for block in net.transformer.h:
        if n_head is None:
            del block.attn.n_head
    if not tied:
        net.lm_head.weight = tnn.Parameter(net.lm_head.weight.detach().clone())
    return net


def test_a_nanogpt_structured_module_is_read_by_its_names() -> None:
    net = _nanogpt_like(n_head=2)
    idx = np.random.default_rng(0).integers(0, 11, (2, 6))
    for engine in PATHS:
        back = interop.from_torch(net, engine=engine)
        assert back.config == {"vocab_size": 11, "block_size": 6, "n_layer": 2, "n_head": 2,
                               "n_embd": 8, "dropout": 0.0, "bias": True}  # fmt: skip
        np.testing.assert_allclose(back.infer(idx), _theirs(net, idx), rtol=1e-10)


def test_a_nanogpt_without_heads_or_tying_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="does not say its number of heads"):
        interop.from_torch(_nanogpt_like(n_head=None))
    with pytest.raises(ValueError, match=r"lm_head is not tied to transformer\.wte"):
        interop.from_torch(_nanogpt_like(n_head=2, tied=False))


# -- what it refuses ---------------------------------------------------------------------------
class _Own(dl.Layer):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * 2


class _DoubledLinear(dl.Linear):  # a convertible class, but its own forward
    def forward(self, x: np.ndarray) -> np.ndarray:
        return super().forward(x) * 2


class _DoubledSequential(nn.Sequential):
    def forward(self, x: Any) -> Any:
        return super().forward(x) * 2


class _TheirDoubledLinear(tnn.Linear):
    def forward(self, x: Any) -> Any:
        return super().forward(x) * 2


def _changed_since(change: str) -> Any:
    """What to_torch made of an MLP, then changed by hand (its mark left on)."""
    net = interop.to_torch(dl.MLP([3, 4, 2], rng=0))
    if change == "a layer added":
        net.append(tnn.Linear(2, 2))
    else:  # its mark edited
        setattr(net, interop.ORIGIN_ATTRIBUTE, {"model": "MLP", "config": {"sizes": [3, 5, 2]}})
    return net


def _without(*keys: str) -> Any:
    """A nanoGPT-structured GPT whose state_dict lacks ``keys``."""
    net = _nanogpt_like(n_head=2)
    for key in keys:
        module, _, name = key.rpartition(".")
        delattr(net.get_submodule(module), name)
        net.get_submodule(module).register_parameter(name, None)
    return net


REFUSED_BY_TO_TORCH: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("a module of one's own", lambda: dl.Sequential(dl.Linear(2, 3), _Own()), TypeError,
     "to_torch cannot convert '1' (_Own): it converts this library's layers and models"),
    ("nested", lambda: dl.Sequential(dl.Sequential(dl.ReLU(), _Own())), TypeError,
     "to_torch cannot convert '0.1' (_Own)"),
    ("not a module", lambda: np.zeros(3), TypeError, "to_torch takes a model of this library"),
    ("a Linear of its own forward", lambda: dl.Sequential(_DoubledLinear(2, 3)), TypeError,
     "to_torch cannot convert '0' (_DoubledLinear): it overrides the forward of Linear"),
    ("a Sequential of its own forward", lambda: _DoubledSequential(nn.Linear(2, 3)), TypeError,
     "to_torch cannot convert 'the model' (_DoubledSequential): it overrides the forward"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "model", "error", "message"), REFUSED_BY_TO_TORCH)
def test_to_torch_refuses_by_name(
    what: str, model: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        interop.to_torch(model())


REFUSED_BY_FROM_TORCH: list[tuple[str, Callable[[], Any], dict[str, Any], type[Exception], str]] = [
    ("a module of one's own", lambda: tnn.Sequential(tnn.Linear(2, 2), tnn.Bilinear(2, 2, 2)), {},
     TypeError, "from_torch cannot convert '1' (Bilinear)"),
    ("a dilated convolution", lambda: tnn.Conv2d(1, 2, 3, dilation=2), {}, ValueError,
     "with dilation=(2, 2); this library's Conv2d computes with dilation=(1, 1) only"),
    ("sequence first", lambda: tnn.LSTM(2, 3), {}, ValueError,
     "with batch_first=False; this library's LSTM computes with batch_first=True only"),
    ("two layers", lambda: tnn.GRU(2, 3, num_layers=2, batch_first=True), {}, ValueError,
     "with num_layers=2"),
    ("padding by name", lambda: tnn.Conv2d(1, 2, 3, padding="same"), {}, ValueError,
     "has padding='same'; give it in pixels"),
    ("a cumulative average", lambda: tnn.BatchNorm1d(3, momentum=None), {}, ValueError,
     "has momentum=None"),
    ("Softmax on the engine", lambda: tnn.Softmax(dim=1), {"engine": "autograd"}, TypeError,
     "which the engine has as a function"),
    ("an unknown path", lambda: tnn.ReLU(), {"engine": "numpy"}, ValueError, "engine"),
    ("not a module", lambda: {"0.weight": 1}, {}, TypeError,
     "from_torch takes a torch.nn.Module, got dict"),
    ("a Linear of its own forward", lambda: tnn.Sequential(_TheirDoubledLinear(2, 2)), {},
     TypeError, "from_torch cannot convert '0' (_TheirDoubledLinear): it overrides the forward"),
    ("softmax along no dim", lambda: tnn.Softmax(), {}, ValueError,
     "is Softmax with dim=None, which PyTorch resolves by the input's number of axes"),
    ("bfloat16", lambda: tnn.Linear(2, 2).bfloat16(), {}, TypeError,
     "'weight' is torch.bfloat16, which NumPy does not hold: convert the module first"),
    ("no values", lambda: tnn.Linear(2, 2, device="meta"), {}, ValueError,
     "'weight' is on the meta device, so it holds no values"),
    ("to_torch's, a layer added", lambda: _changed_since("a layer added"), {}, ValueError,
     "but has been changed since: '3' is Linear where that model has nothing"),
    ("to_torch's, its mark edited", lambda: _changed_since("mark"), {}, ValueError,
     "but has been changed since: '0.bias' is (4,) where that model has (5,)"),
    ("nanoGPT without ln_f", lambda: _without("transformer.ln_f.weight"), {}, ValueError,
     "arrays are not those of this library's GPT: it lacks ['transformer.ln_f.weight']"),
    ("nanoGPT without wpe", lambda: _without("transformer.wpe.weight"), {}, ValueError,
     "this nanoGPT-structured GPT has no transformer.wpe"),
    ("nanoGPT's heads that do not divide", lambda: _nanogpt_heads(3), {}, ValueError,
     "from_torch: cannot build the model of its sizes: "),
]  # fmt: skip


def _nanogpt_heads(n_head: int) -> Any:
    net = _nanogpt_like(n_head=2)
    for block in net.transformer.h:
        block.attn.n_head = n_head
    return net


def test_nanogpts_causal_mask_buffer_and_a_pair_of_ones_are_taken() -> None:
    """nanoGPT registers its causal mask as a buffer ``attn.bias``; PyTorch writes a pooling's
    dilation as given, 1 or (1, 1): neither changes what is computed."""
    net = _nanogpt_like(n_head=2)
    for block in net.transformer.h:
        block.attn.register_buffer("bias", torch.ones(1, 1, 6, 6).tril())
    idx = np.random.default_rng(0).integers(0, 11, (2, 6))
    np.testing.assert_allclose(interop.from_torch(net).infer(idx), _theirs(net, idx), rtol=1e-10)
    pool = interop.from_torch(tnn.MaxPool2d(2, dilation=(1, 1)))
    assert pool.kernel_size == (2, 2)


@pytest.mark.parametrize(("what", "module", "options", "error", "message"), REFUSED_BY_FROM_TORCH)
def test_from_torch_refuses_by_name(
    what: str, module: Callable[[], Any], options: dict[str, Any], error: type[Exception],
    message: str,
) -> None:  # fmt: skip
    with pytest.raises(error) as info:
        interop.from_torch(module(), **options)
    assert message in str(info.value)


def test_without_pytorch_each_function_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    for function, argument in ((interop.to_torch, dl.ReLU()), (interop.from_torch, None)):
        with pytest.raises(
            ImportError,
            match=r'needs torch, which is not installed: python -m pip install -e "\.\[torch\]"',
        ):
            function(argument)
