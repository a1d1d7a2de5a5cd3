"""ONNX export (`deeplearning.interop.onnx_export`): every model family of both paths, exported
with `to_onnx` or `save_onnx` and run by ONNX Runtime, computes what our ``forward`` computes
in evaluation mode.

- Each family (MLP, TwoLayerMLP, LeNet5, convolutions and pooling, the activations,
  BatchNorm, LayerNorm, Dropout, Embedding, RNN, LSTM, GRU, attention, GPT and both language
  models), on the layer path and on the engine, with sizes drawn by hypothesis: the outputs
  at the example's batch size and at others (the batch axis is symbolic), and at other
  sequence lengths for the sequence models.
- BatchNorm exports its running statistics, Dropout the identity; the training flags are
  left as they were.
- The file: the checker passes, the opset is 17, the axes are symbolic, the weights keep
  their ``state_dict`` names; it is written atomically.
- Bad models, examples and paths are refused before any file is written, and a missing
  ``onnx`` is named with its extra.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the `interop` extra")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need the `interop` extra")

from deeplearning import layers  # noqa: E402 (after the skips)
from deeplearning.autograd import Tensor, nn  # noqa: E402
from deeplearning.core.module import Module  # noqa: E402
from deeplearning.interop.onnx_export import OPSET, save_onnx, to_onnx  # noqa: E402

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}
"""float32 has a 24-bit significand (eps = 1.2e-7), so 1e-5 is about 80 units in the last
place: room for ONNX Runtime's own order of summing a product's terms (an error of about
k eps for k terms) and its own exp, erf and tanh, yet far below what a wrong weight, gate
order, mask or statistic changes. The largest differences seen, over thousands of drawn
examples, use about a third of it (8e-6 in attention with weights of order 1)."""

PATHS = [pytest.param(layers, id="layers"), pytest.param(nn, id="engine")]
FEW = settings(max_examples=10, deadline=None)


def ours(model: Module, x: np.ndarray) -> list[np.ndarray]:
    """``model.forward(x)`` in evaluation mode, as a list of arrays (a recurrent layer's
    output and final states flattened)."""
    model.eval()
    numbers = model.engine == "autograd" and x.dtype.kind == "f"
    out = model.forward(Tensor(x) if numbers else x)

    def arrays(value: Any) -> list[np.ndarray]:
        if isinstance(value, tuple):
            return [array for item in value for array in arrays(item)]
        return [value.data if isinstance(value, Tensor) else value]

    return arrays(out)


def runtime(model_file: bytes | str, x: np.ndarray) -> list[np.ndarray]:
    """ONNX Runtime's outputs for ``x`` (token ids as int64), on the CPU."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_file, options, providers=["CPUExecutionProvider"])
    feed = x.astype(np.int64) if x.dtype.kind in "iu" else x
    outputs: list[np.ndarray] = session.run(None, {"input": feed})
    return outputs


def assert_round_trip(model: Module, example: np.ndarray, *others: np.ndarray) -> Any:
    """Export ``model`` (in whatever mode it is in) with ``example``, and check that ONNX
    Runtime gives our evaluation-mode outputs for the example and for each of ``others``
    (other batch sizes, other lengths); return the proto."""
    proto = to_onnx(model, example)
    content = proto.SerializeToString()
    for x in (example, *others):
        expected, got = ours(model, x), runtime(content, x)
        assert len(got) == len(expected)
        for theirs, mine in zip(got, expected):
            assert theirs.shape == mine.shape and theirs.dtype == np.float32
            np.testing.assert_allclose(theirs, mine, **TOLERANCE)
    return proto


def normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def warm_up(model: Module, x: np.ndarray, passes: int = 3) -> None:
    """A few forward passes in training mode, so BatchNorm's running statistics move away
    from their defaults (0 and 1)."""
    model.train()
    for k in range(passes):
        batch = x * (k + 2) + k  # a new mean and variance each pass
        model.forward(batch if model.engine == "layers" else Tensor(batch))


# -- the families, on both paths -------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
@FEW
@given(
    sizes=st.lists(st.integers(1, 8), min_size=2, max_size=4),
    activation=st.sampled_from(["relu", "leaky_relu", "sigmoid", "tanh"]),
    batchnorm=st.booleans(),
    dropout=st.sampled_from([0.0, 0.5]),
    batches=st.tuples(st.integers(2, 5), st.integers(1, 7)),
    seed=st.integers(0, 2**16),
)
def test_mlp(path: ModuleType, sizes: list[int], activation: str, batchnorm: bool,
             dropout: float, batches: tuple[int, int], seed: int) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    model = path.MLP(sizes, activation, batchnorm, dropout, rng=seed)
    example, other = normal(rng, batches[0], sizes[0]), normal(rng, batches[1], sizes[0])
    if batchnorm:
        warm_up(model, example)
    assert_round_trip(model, example, other)


@pytest.mark.parametrize("path", PATHS)
def test_two_layer_mlp(path: ModuleType, rng: np.random.Generator) -> None:
    model = path.TwoLayerMLP(12, 9, 4, rng=1)
    assert_round_trip(model, normal(rng, 3, 12), normal(rng, 1, 12), normal(rng, 8, 12))


@pytest.mark.parametrize("path", PATHS)
@FEW
@given(
    image_size=st.integers(12, 20), in_channels=st.integers(1, 2), classes=st.integers(1, 5),
    batchnorm=st.booleans(), dropout=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_lenet5(path: ModuleType, image_size: int, in_channels: int, classes: int,
                batchnorm: bool, dropout: float, seed: int) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    model = path.LeNet5(in_channels, classes, image_size, batchnorm, dropout, rng=seed)
    example = normal(rng, 2, in_channels, image_size, image_size)
    if batchnorm:
        warm_up(model, example)
    assert_round_trip(
        model, example, example[:1], normal(rng, 3, in_channels, image_size, image_size)
    )


@pytest.mark.parametrize("path", PATHS)
@FEW
@given(
    kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1),
    pool=st.integers(1, 2), pool_stride=st.integers(1, 2), bias=st.booleans(),
    size=st.integers(9, 12), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_convolution_and_pooling(path: ModuleType, kernel: int, stride: int, padding: int,
                                 pool: int, pool_stride: int, bias: bool, size: int,
                                 seed: int) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    pad = min(padding, kernel // 2)  # the conv's padding is any; a pool's at most half a window
    features = [
        path.Conv2d(2, 3, kernel, stride, padding, bias, rng=seed), path.BatchNorm2d(3),
        path.ReLU(), path.MaxPool2d(pool + 1, pool_stride, (pool + 1) // 2),
        path.AvgPool2d(pool, pool_stride, pad if pool > 1 else 0), path.Flatten(),
    ]  # fmt: skip
    example = normal(rng, 2, 2, size, size)
    warm_up(path.Sequential(*features), example)
    width = ours(path.Sequential(*features), example)[0].shape[1]
    model = path.Sequential(*features, path.Linear(width, 3, rng=seed))
    assert_round_trip(model, example, normal(rng, 4, 2, size, size))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "make", [lambda p: p.ReLU(), lambda p: p.Sigmoid(), lambda p: p.Tanh(),
             lambda p: p.LeakyReLU(0.2), lambda p: p.GELU(), lambda p: p.GELU("tanh")],
    ids=["relu", "sigmoid", "tanh", "leaky_relu", "gelu", "gelu_tanh"],
)  # fmt: skip
def test_activations(path: ModuleType, make: Any, rng: np.random.Generator) -> None:
    x = normal(rng, 4, 50, scale=4.0)
    x[0, :6] = [-30.0, -10.0, -1e-3, 0.0, 10.0, 30.0]  # the tails and 0
    assert_round_trip(make(path), x, x[:1])


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dim", [-1, 1, 2])
def test_softmax_along_its_dim(name: str, dim: int, rng: np.random.Generator) -> None:
    """Softmax and LogSoftmax, modules of the layer path only."""
    x = normal(rng, 3, 4, 5, scale=5.0)
    assert_round_trip(getattr(layers, name)(dim=dim), x, x[:1])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("image", [False, True], ids=["1d", "2d"])
def test_batch_norm_exports_its_running_statistics(path: ModuleType, image: bool,
                                                    rng: np.random.Generator) -> None:  # fmt: skip
    norm = path.BatchNorm2d(3, eps=1e-3) if image else path.BatchNorm1d(3, eps=1e-3)
    norm.weight.data[...] = [0.5, 2.0, -1.0]
    norm.bias.data[...] = [0.1, -0.2, 0.3]
    x = normal(rng, 6, 3, 4, 4) if image else normal(rng, 6, 3)
    warm_up(norm, x)
    assert not np.allclose(norm.running_mean, 0) and not np.allclose(norm.running_var, 1)
    assert norm.training
    content = to_onnx(norm, x).SerializeToString()
    assert norm.training  # left in training mode
    (got,) = runtime(content, x)
    np.testing.assert_allclose(got, ours(norm, x)[0], **TOLERANCE)
    norm.train()
    batch_statistics = norm.forward(x if path is layers else Tensor(x))
    assert not np.allclose(got, getattr(batch_statistics, "data", batch_statistics), atol=1e-2)


@pytest.mark.parametrize("path", PATHS)
def test_dropout_is_the_identity(path: ModuleType, rng: np.random.Generator) -> None:
    x = normal(rng, 5, 6)
    (got,) = runtime(to_onnx(path.Dropout(0.9, rng=0), x).SerializeToString(), x)
    np.testing.assert_array_equal(got, x)
    model = path.MLP([6, 16, 16, 3], dropout=0.5, rng=2)  # in training mode
    proto = to_onnx(model, x)
    assert model.training and all(child.training for _, child in model.children())
    assert not {node.op_type for node in proto.graph.node} & {"Dropout", "RandomUniformLike"}
    np.testing.assert_allclose(runtime(proto.SerializeToString(), x)[0], ours(model, x)[0],
                               **TOLERANCE)  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "options",
    [{}, {"bias": False}, {"elementwise_affine": False}],
    ids=["affine", "no_bias", "none"],
)
@FEW
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=2), seed=st.integers(0, 2**16))
def test_layer_norm(
    path: ModuleType, options: dict[str, bool], shape: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    norm = path.LayerNorm(tuple(shape), eps=1e-4, **options)
    for param in norm.parameters():
        param.data[...] = normal(rng, *param.shape)
    # A ramp across the normalised features keeps their variance away from 0: with two
    # nearly equal features, (x - mean) / sqrt(var + eps) magnifies float32 rounding past
    # 1e-5 in any implementation (ONNX Runtime 1.19's, from E[x²] - E[x]², by 1e-4).
    ramp = 3 * np.linspace(-1, 1, math.prod(shape), dtype=np.float32).reshape(shape)
    assert_round_trip(norm, normal(rng, 3, 2, *shape) + ramp, normal(rng, 1, 2, *shape) + ramp)


@pytest.mark.parametrize("path", PATHS)
def test_embedding(path: ModuleType, rng: np.random.Generator) -> None:
    table = path.Embedding(10, 4, rng=0)
    assert_round_trip(table, rng.integers(0, 10, (3, 5)), rng.integers(0, 10, (1, 5)))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("cell", ["RNN", "RNN-relu", "LSTM", "GRU"])
@FEW
@given(
    sizes=st.tuples(st.integers(1, 5), st.integers(1, 6)),
    shapes=st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 4), st.integers(1, 7)),
    seed=st.integers(0, 2**16),
)
def test_recurrent_layers(path: ModuleType, cell: str, sizes: tuple[int, int],
                          shapes: tuple[int, int, int, int], seed: int) -> None:  # fmt: skip
    """The output (N, T, H) and the final states, h_n (and the LSTM's c_n), at other batch
    sizes and lengths: ONNX's gate order and GRU's reset after the product are right."""
    rng = np.random.default_rng(seed)
    (inputs, hidden), (n, t, n2, t2) = sizes, shapes
    name, _, nonlinearity = cell.partition("-")
    options = {"nonlinearity": nonlinearity} if nonlinearity else {}
    model = getattr(path, name)(inputs, hidden, rng=seed, **options)
    proto = assert_round_trip(model, normal(rng, n, t, inputs), normal(rng, n2, t2, inputs))
    names = [output.name for output in proto.graph.output]
    assert names == (["output", "h_n", "c_n"] if name == "LSTM" else ["output", "h_n"])


@pytest.mark.parametrize("path", PATHS)
@FEW
@given(
    heads=st.integers(1, 3), head_size=st.integers(1, 4), lengths=st.tuples(st.integers(1, 6),
    st.integers(1, 9)), bias=st.booleans(), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_causal_self_attention(
    path: ModuleType, heads: int, head_size: int, lengths: tuple[int, int], bias: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    c = heads * head_size
    model = path.CausalSelfAttention(c, heads, dropout=0.2, bias=bias, rng=seed)
    for param in model.parameters():  # larger weights than the default: peaked attention
        param.data[...] = normal(rng, *param.shape)
    assert_round_trip(model, normal(rng, 2, lengths[0], c), normal(rng, 3, lengths[1], c))


@pytest.mark.parametrize("path", PATHS)
@FEW
@given(
    vocab=st.integers(2, 12), block_size=st.integers(1, 8), n_layer=st.integers(1, 2),
    heads=st.integers(1, 2), head_size=st.integers(4, 6), bias=st.booleans(),
    data=st.data(),
)  # fmt: skip
def test_gpt(path: ModuleType, vocab: int, block_size: int, n_layer: int, heads: int,
             head_size: int, bias: bool, data: st.DataObject) -> None:  # fmt: skip
    """Logits (B, T, V) at any batch size and length T <= block_size; the head reads the one
    stored table of ``wte``, transposed.

    n_embd >= 4: a LayerNorm over two features is ill-conditioned (each normalized value is
    about ±1, and which one turns on a difference of about √eps between the two), so deep in
    a model the last bits of float32, ours or ONNX Runtime's, decide it. The attention test
    covers heads of any size."""
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    model = path.GPT(vocab, block_size, n_layer, heads, heads * head_size, 0.1, bias, rng=seed)
    for param in model.parameters():  # larger than nanoGPT's 0.02: logits of order 1
        param.data[...] = normal(rng, *param.shape, scale=0.5)
    t, t2 = (data.draw(st.integers(1, block_size)) for _ in range(2))
    example = rng.integers(0, vocab, (2, t))
    others = rng.integers(0, vocab, (3, t2)), rng.integers(0, vocab, (1, block_size))
    proto = assert_round_trip(model, example, *others)
    readers = [node for node in proto.graph.node if "transformer.wte.weight" in node.input]
    assert sorted(node.op_type for node in readers) == ["Gather", "Transpose"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@FEW
@given(
    sizes=st.tuples(st.integers(2, 9), st.integers(1, 5), st.integers(1, 6)),
    lengths=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    seed=st.integers(0, 2**16),
)
def test_recurrent_language_model(path: ModuleType, cell: str, sizes: tuple[int, int, int],
                                  lengths: tuple[int, int], seed: int) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    vocab, n_embd, hidden = sizes
    model = path.RecurrentLanguageModel(vocab, n_embd, hidden, cell, rng=seed)
    example, other = (
        rng.integers(0, vocab, (2, lengths[0])),
        rng.integers(0, vocab, (4, lengths[1])),
    )
    proto = assert_round_trip(model, example, other)
    assert [output.name for output in proto.graph.output] == ["output"]  # no final state


@pytest.mark.parametrize("path", PATHS)
@FEW
@given(sizes=st.tuples(st.integers(2, 9), st.integers(1, 4), st.integers(1, 5), st.integers(1, 8)),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_mlp_language_model(path: ModuleType, sizes: tuple[int, int, int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    vocab, block_size, n_embd, hidden = sizes
    model = path.MLPLanguageModel(vocab, block_size, n_embd, hidden, rng=seed)
    example = rng.integers(0, vocab, (3, block_size))
    assert_round_trip(model, example, rng.integers(0, vocab, (1, block_size)))


# -- the graph and the file ------------------------------------------------------------------
def axes(value: Any) -> list[int | str]:
    """A graph input's or output's axes: a size, or a symbolic name."""
    return [dim.dim_param or dim.dim_value for dim in value.type.tensor_type.shape.dim]


def test_the_graph_is_checked_with_symbolic_axes() -> None:
    mlp = nn.MLP([5, 4, 3], batchnorm=True, rng=0)
    proto = to_onnx(mlp, np.zeros((2, 5), np.float32))
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)] and OPSET >= 17
    assert axes(proto.graph.input[0]) == ["batch", 5]
    assert axes(proto.graph.output[0]) == ["batch", 3]
    assert set(mlp.state_dict()) <= {weight.name for weight in proto.graph.initializer}
    gpt = layers.GPT(7, 6, 1, 2, 4, rng=0)
    proto = to_onnx(gpt, np.zeros((1, 6), np.int64))
    (graph_input,) = proto.graph.input
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert axes(graph_input) == ["batch", "sequence"]
    assert axes(proto.graph.output[0]) == ["batch", "sequence", 7]
    proto = to_onnx(layers.LSTM(3, 4, rng=0), np.zeros((2, 5, 3), np.float32))
    assert [axes(output) for output in proto.graph.output] == [
        ["batch", "sequence", 4], ["batch", 4], ["batch", 4],
    ]  # fmt: skip


def test_training_flags_are_restored() -> None:
    model = layers.MLP([4, 5, 2], batchnorm=True, dropout=0.5, rng=0)
    model.train()
    model[1].eval()  # a BatchNorm frozen by hand stays frozen
    to_onnx(model, np.ones((2, 4), np.float32))
    assert [child.training for child in model.layers] == [True, False, True, True, True]


def test_save_onnx_writes_a_file_that_runs(tmp_path: Path, rng: np.random.Generator) -> None:
    model = layers.LeNet5(batchnorm=True, rng=0)
    x = normal(rng, 2, 1, 28, 28)
    path = tmp_path / "lenet5.onnx"
    save_onnx(model, path, x)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    np.testing.assert_allclose(runtime(str(path), x)[0], ours(model, x)[0], **TOLERANCE)


def test_an_existing_file_is_replaced_whole(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the old file")
    model, x = nn.MLP([3, 2], rng=0), normal(rng, 2, 3)
    with pytest.raises(ValueError):
        save_onnx(model, path, normal(rng, 2, 4))  # refused: the old file is untouched
    assert path.read_bytes() == b"the old file"
    save_onnx(model, path, x)
    assert path.read_bytes() == to_onnx(model, x).SerializeToString()
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]  # no temporary file left


# -- bad input -------------------------------------------------------------------------------
class Doubler(layers.Layer):
    """A layer the exporter cannot know."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return 2 * x


class NoisyReLU(layers.ReLU):
    """A known layer whose forward is not the known one's."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return super().forward(x) + 1


@pytest.mark.parametrize(
    ("model", "where"),
    [
        (layers.Sequential(layers.Linear(3, 3), layers.ReLU(),
                           layers.Sequential(layers.Linear(3, 3), Doubler())), "'2.1' (Doubler)"),
        (layers.Sequential(layers.Linear(3, 3), NoisyReLU()), "'1' (NoisyReLU)"),
        (Doubler(), "the model (Doubler)"),
    ],
)  # fmt: skip
def test_an_unknown_module_is_named(model: Module, where: str, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    with pytest.raises(TypeError, match=re.escape(f"save_onnx cannot export {where}: ")):
        save_onnx(model, path, np.ones((2, 3), np.float32))
    assert not path.exists()


@pytest.mark.parametrize(
    ("model", "example", "error", "match"),
    [
        (layers.MLP([3, 2]), np.ones((2, 4), np.float32), ValueError, r"shape \(2, 4\).*\(N, 3\)"),
        (layers.MLP([3, 2]), np.ones((2, 3)), TypeError, "float32 numbers.*float64"),
        (nn.MLP([3, 2]), np.ones((2, 3), np.int64), TypeError, "float32 numbers.*int64"),
        (layers.MLP([3, 2]), np.float32(1.0), ValueError, "a single number"),
        (layers.GPT(5, 4, 1, 1, 2), np.ones((1, 3), np.float32), TypeError, "token ids"),
        (nn.GPT(5, 4, 1, 1, 2), np.ones((1, 5), np.int64), ValueError, "block_size"),
        (layers.MLP([3, 2], dtype=np.float64), np.ones((2, 3), np.float32), TypeError,
         "float32 graphs.*'0.W' is float64"),
        ("a model", np.ones((2, 3), np.float32), TypeError, "exports a model"),
        (layers.MLP([3, 2]), np.full((2, 3), np.nan, np.float32), ValueError,
         "holds 6 NaN or infinite values"),
        (layers.MLP([3, 2]), np.array([[1, np.inf, 0]], np.float32), ValueError, "holds 1 NaN"),
        (layers.MLP([3, 2]), np.ones((0, 3), np.float32), ValueError, r"\(0, 3\) is an empty"),
        (layers.GPT(5, 4, 1, 1, 2), np.ones((0, 3), np.int64), ValueError, "an empty batch"),
        (layers.MLP([3, 2]), "x", TypeError, "batch of real numbers.*str of dtype <U1"),
        (layers.MLP([3, 2]), None, TypeError, "batch of real numbers.*NoneType"),
    ],
)  # fmt: skip
def test_a_bad_example_is_refused_before_writing(model: Any, example: np.ndarray,
                                                 error: type[Exception], match: str,
                                                 tmp_path: Path) -> None:  # fmt: skip
    path = tmp_path / "model.onnx"
    with pytest.raises(error, match=match):
        save_onnx(model, path, example)
    assert not path.exists()


@pytest.mark.parametrize("path", [1, None, b"model.onnx"])
def test_a_path_that_is_not_a_file_name_is_refused(path: Any, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"save_onnx: path must be a file name, a str or pathlib"):
        save_onnx(layers.MLP([3, 2]), path, np.ones((1, 3), np.float32))


def test_the_path_is_checked_before_the_model_runs(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="is a folder, not a regular file"):
        save_onnx(layers.MLP([3, 2]), tmp_path, np.ones((1, 4), np.float32))  # (a bad example)


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "model.onnx"
    with pytest.raises(OSError, match="does not exist"):
        save_onnx(layers.MLP([3, 2]), path, np.ones((1, 3), np.float32))
    assert not path.parent.exists()


def test_without_onnx_the_extra_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    path = tmp_path / "model.onnx"
    with pytest.raises(ImportError) as caught:
        save_onnx(layers.MLP([3, 2]), path, np.ones((1, 3), np.float32))
    message = str(caught.value)
    assert '".[interop]"' in message and "save_onnx needs onnx" in message and "\n" not in message
    assert not path.exists()
