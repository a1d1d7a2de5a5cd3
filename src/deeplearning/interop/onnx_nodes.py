"""The ONNX nodes of each module, for `onnx_export`: a `Graph` held as plain data (nodes,
weights), and one converter per family of modules, which appends the nodes that compute that
module's ``forward`` in evaluation mode. Nothing here needs the ``onnx`` package: `onnx_export`
turns the finished `Graph` into a ``ModelProto``, so a model that cannot be exported is refused
before that package is even imported.

A converter takes the graph, the module and the name of the value it reads, and returns the
names of the values it computes (one, or a recurrent layer's output and final states). It
reaches a sub-module through `emit`, which finds that sub-module's converter in `CONVERTERS`
and names everything it adds after the sub-module's dotted name in the model: ``fc1.W`` is the
weight ``fc1.W`` of the ``state_dict``, ``fc1/MatMul_3`` a value computed in ``fc1``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..autograd import nn
from ..autograd import transformer as engine_gpt
from ..core.bases import LSTMBase, RecurrentBase, RNNBase
from ..core.kernels import GELU_TANH_CUBIC, GELU_TANH_SCALE
from ..core.module import Module, Sequential
from ..core.sequence_bases import MLPLanguageModelBase, RecurrentLanguageModelBase
from ..core.types import Array
from ..layers import (
    activation,
    attention,
    conv,
    dropout,
    embedding,
    layer,
    linear,
    models,
    normalization,
    pooling,
    recurrent,
)
from ..layers import gpt as layer_gpt

Values = tuple[str, ...]
"""The names of the values a module computes, in the order its ``forward`` returns them."""


@dataclass
class Node:
    """One ONNX node: its operator, the names of the values it reads and writes, and its
    attributes (``helper.make_node``'s arguments)."""

    op_type: str
    inputs: list[str]
    outputs: list[str]
    attributes: dict[str, Any]


@dataclass
class Graph:
    """An ONNX graph as plain data, built by the converters.

    Parameters
    ----------
    who : str
        The public function exporting (``"save_onnx"``), for the messages.
    input : str
        The name of the graph's input value.
    """

    who: str
    input: str = "input"
    nodes: list[Node] = field(default_factory=list)
    weights: dict[str, Array] = field(default_factory=dict)
    scope: str = ""  # the dotted name of the module being converted ("" for the model)
    _constants: dict[tuple[str, tuple[int, ...], bytes], str] = field(default_factory=dict)

    def weight(self, name: str, array: ArrayLike) -> str:
        """Store ``array`` as the initializer ``scope.name``, once however often it is used
        (GPT's head reads ``wte``'s table), and return that name."""
        full = f"{self.scope}.{name}" if self.scope else name
        self.weights.setdefault(full, np.asarray(array))
        return full

    def constant(self, value: ArrayLike, dtype: DTypeLike = np.float32) -> str:
        """An initializer holding ``value`` (a scale, a shape, axes), stored once per value."""
        array = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self._constants:
            self._constants[key] = f"constant_{len(self._constants)}"
            self.weights[self._constants[key]] = array
        return self._constants[key]

    def ops(self, op_type: str, inputs: list[str], count: int, **attributes: Any) -> list[str]:
        """Append an ``op_type`` node reading ``inputs`` and writing ``count`` new values;
        return their names, ``scope/op_typeK``."""
        prefix = f"{self.scope or 'model'}/{op_type}_{len(self.nodes)}"
        outputs = [prefix if count == 1 else f"{prefix}:{k}" for k in range(count)]
        self.nodes.append(Node(op_type, list(inputs), outputs, attributes))
        return outputs

    def op(self, op_type: str, *inputs: str, **attributes: Any) -> str:
        """Append a node with one output (most of them); return that output's name."""
        return self.ops(op_type, list(inputs), 1, **attributes)[0]


Converter = Callable[[Graph, Any, str], Values]
"""A family's converter: (graph, module, input value) -> the values it computes."""


def emit(graph: Graph, module: Module, x: str, name: str) -> Values:
    """Append the nodes of ``module`` (named ``name`` inside the module being converted),
    reading ``x``; return the values it computes."""
    outer = graph.scope
    graph.scope = ".".join(part for part in (outer, name) if part)
    try:
        return converter(module, graph.scope, graph.who)(graph, module, x)
    finally:
        graph.scope = outer


def converter(module: Module, name: str, who: str) -> Converter:
    """The converter of ``module``, found by its class or the nearest base class that has one,
    or a TypeError naming it (its class, and ``name``, its dotted name in the model): a class
    unknown here, or a subclass whose own ``forward`` would not be the graph's."""
    where = f"{name!r}" if name else "the model"
    cls = type(module)
    for base in cls.__mro__:
        if base in CONVERTERS:
            if inspect.unwrap(cls.forward) is not inspect.unwrap(base.forward):  # (hooks wrap)
                raise TypeError(
                    f"{who} cannot export {where} ({cls.__name__}): it overrides the forward "
                    f"of {base.__name__}, and the graph would compute {base.__name__}'s "
                    f"instead. Build the model from {base.__name__} itself, or from modules "
                    "that compute what the new forward does."
                )
            return CONVERTERS[base]
    known = ", ".join(sorted({cls.__name__.removesuffix("Base") for cls in CONVERTERS}))
    raise TypeError(
        f"{who} cannot export {where} ({cls.__name__}): it is not one of the modules whose "
        f"ONNX nodes are known ({known}). Build the model from those modules (either path)."
    )


# -- layers without sub-modules ---------------------------------------------------------------
def _linear(graph: Graph, module: Any, x: str) -> Values:
    """``x @ W + b``: MatMul, broadcast over any leading axes, then Add."""
    y = graph.op("MatMul", x, graph.weight("W", module.W.data))
    return (y if module.b is None else graph.op("Add", y, graph.weight("b", module.b.data)),)


def _unary(op_type: str) -> Converter:
    """The converter of an activation that is one ONNX operator without attributes."""

    def convert(graph: Graph, module: Any, x: str) -> Values:
        return (graph.op(op_type, x),)

    return convert


def _leaky_relu(graph: Graph, module: Any, x: str) -> Values:
    return (graph.op("LeakyRelu", x, alpha=float(module.negative_slope)),)


def _gelu(graph: Graph, module: Any, x: str) -> Values:
    """``x Φ(x)``, ``Φ(x) = (1 + erf(x / √2)) / 2``; or the tanh form, ``x (1 + tanh(s (x +
    c x³))) / 2`` with ``s = √(2/π)``, ``c = 0.044715`` (`core.kernels`' constants; its clip
    of x to ±100 changes nothing there, where the tanh is ±1 in float32)."""
    if module.approximate == "tanh":
        cube = graph.op("Mul", graph.op("Mul", x, x), x)
        inner = graph.op("Add", x, graph.op("Mul", cube, graph.constant(GELU_TANH_CUBIC)))
        t = graph.op("Tanh", graph.op("Mul", inner, graph.constant(GELU_TANH_SCALE)))
    else:
        t = graph.op("Erf", graph.op("Mul", x, graph.constant(1 / math.sqrt(2))))
    half_x = graph.op("Mul", x, graph.constant(0.5))
    return (graph.op("Mul", half_x, graph.op("Add", t, graph.constant(1.0))),)


def _softmax(op_type: str) -> Converter:
    """The converter of `Softmax` or `LogSoftmax`, along the module's ``dim``."""

    def convert(graph: Graph, module: Any, x: str) -> Values:
        return (graph.op(op_type, x, axis=module.dim),)

    return convert


def _identity(graph: Graph, module: Any, x: str) -> Values:
    """Dropout in evaluation mode: no node at all."""
    return (x,)


def _batch_norm(graph: Graph, module: Any, x: str) -> Values:
    """BatchNormalization on the running statistics: (x - mean) / √(var + eps) · w + b."""
    scale, bias = graph.weight("weight", module.weight.data), graph.weight("bias", module.bias.data)
    mean = graph.weight("running_mean", module.running_mean)
    var = graph.weight("running_var", module.running_var)
    return (graph.op("BatchNormalization", x, scale, bias, mean, var, epsilon=float(module.eps)),)


def _layer_norm(graph: Graph, module: Any, x: str) -> Values:
    """LayerNormalization over the last ``len(normalized_shape)`` axes (opset 17); ONNX needs
    a scale, so a LayerNorm without ``weight`` gets ones, and ``bias`` is left out if None."""
    shape = module.normalized_shape
    scale = (
        graph.constant(np.ones(shape)) if module.weight is None
        else graph.weight("weight", module.weight.data)
    )  # fmt: skip
    inputs = [x, scale] + ([] if module.bias is None else [graph.weight("bias", module.bias.data)])
    return (graph.op("LayerNormalization", *inputs, axis=-len(shape), epsilon=float(module.eps)),)


def _conv(graph: Graph, module: Any, x: str) -> Values:
    """Conv: the weight (O, C, kh, kw) is ONNX's layout as it is; pads (top, left, bottom,
    right)."""
    inputs = [x, graph.weight("weight", module.weight.data)]
    if module.bias is not None:
        inputs.append(graph.weight("bias", module.bias.data))
    window = {"kernel_shape": list(module.kernel_size), "strides": list(module.stride)}
    return (graph.op("Conv", *inputs, pads=list(module.padding) * 2, **window),)


def _pool(op_type: str, **extra: int) -> Converter:
    """The converter of `MaxPool2d` (padding never wins) or `AvgPool2d` (padding counted as
    zeros: ``count_include_pad=1``)."""

    def convert(graph: Graph, module: Any, x: str) -> Values:
        window = {"kernel_shape": list(module.kernel_size), "strides": list(module.stride)}
        return (graph.op(op_type, x, pads=list(module.padding) * 2, **window, **extra),)

    return convert


def _flatten(graph: Graph, module: Any, x: str) -> Values:
    return (graph.op("Flatten", x, axis=1),)


def _embedding(graph: Graph, module: Any, indices: str) -> Values:
    """Gather: the table's rows at the indices, (*) -> (*, embedding_dim)."""
    return (graph.op("Gather", graph.weight("weight", module.weight.data), indices, axis=0),)


# -- recurrent layers --------------------------------------------------------------------------
ONNX_GATES = {"RNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}
"""Our gate blocks in ONNX's order: the LSTM's ``i f g o`` as ``i o f c``, the GRU's ``r z n``
as ``z r h``."""


def _recurrent(graph: Graph, module: RecurrentBase, x: str) -> Values:
    """ONNX's RNN, LSTM or GRU (one direction): weights transposed to (G H, input) and their
    gate blocks reordered, biases ``[b_ih, b_hh]``. ONNX Runtime runs time first, so (N, T, I)
    is transposed to (T, N, I), and the outputs back: output (N, T, H), h_n (N, H) (c_n)."""
    attributes: dict[str, Any] = {}
    if isinstance(module, RNNBase):
        op_type, attributes = "RNN", {"activations": [module.nonlinearity.capitalize()]}
    elif isinstance(module, LSTMBase):
        op_type = "LSTM"
    else:  # PyTorch's GRU, ours, applies the reset gate after the product h W_hn + b_hn
        op_type, attributes = "GRU", {"linear_before_reset": 1}

    def onnx_order(columns: Array) -> Array:  # (..., G H): the gate blocks, reordered
        blocks = np.split(columns, len(ONNX_GATES[op_type]), axis=-1)
        return np.concatenate([blocks[k] for k in ONNX_GATES[op_type]], axis=-1)

    w = graph.weight("W", onnx_order(module.W_ih.data).T[np.newaxis])
    r = graph.weight("R", onnx_order(module.W_hh.data).T[np.newaxis])
    b = graph.weight("B", np.concatenate([onnx_order(module.b_ih.data),
                                          onnx_order(module.b_hh.data)])[np.newaxis])  # fmt: skip
    time_first = graph.op("Transpose", x, perm=[1, 0, 2])
    count = 3 if op_type == "LSTM" else 2
    y, *states = graph.ops(
        op_type, [time_first, w, r, b], count, hidden_size=module.hidden_size, **attributes
    )  # y (T, 1, N, H); each state (1, N, H): the axis of the one direction
    y = graph.op("Squeeze", y, graph.constant([1], np.int64))
    output = graph.op("Transpose", y, perm=[1, 0, 2])
    return (output, *(graph.op("Squeeze", s, graph.constant([0], np.int64)) for s in states))


# -- attention and the transformer -------------------------------------------------------------
def _attention(graph: Graph, module: Any, x: str) -> Values:
    """Causal self-attention, as `core.attention_base` writes it: q, k, v from ``c_attn``
    split into heads, ``softmax(where(j > i, -inf, q kᵀ / √hs)) v``, heads merged, ``c_proj``.
    The causal mask compares positions (Range over the input's T), so T stays symbolic."""
    c, heads, size = module.n_embd, module.n_head, module.head_size
    (qkv,) = emit(graph, module.c_attn, x, "c_attn")  # (B, T, 3C)
    q, k, v = graph.ops("Split", [qkv, graph.constant([c, c, c], np.int64)], 3, axis=2)
    split = graph.constant([0, 0, heads, size], np.int64)  # (B, T, n_head, hs); 0 keeps an axis

    def by_head(value: str, perm: list[int]) -> str:
        return graph.op("Transpose", graph.op("Reshape", value, split), perm=perm)

    q, k, v = by_head(q, [0, 2, 1, 3]), by_head(k, [0, 2, 3, 1]), by_head(v, [0, 2, 1, 3])
    scores = graph.op("Mul", graph.op("MatMul", q, k), graph.constant(1 / math.sqrt(size)))
    positions = _positions(graph, x)
    later = graph.op(  # (T, T): key j comes after query i
        "Greater", graph.op("Unsqueeze", positions, graph.constant([0], np.int64)),
        graph.op("Unsqueeze", positions, graph.constant([1], np.int64)),
    )  # fmt: skip
    scores = graph.op("Where", later, graph.constant(-np.inf), scores)
    (weights,) = emit(
        graph, module.attn_dropout, graph.op("Softmax", scores, axis=-1), "attn_dropout"
    )
    y = graph.op("Transpose", graph.op("MatMul", weights, v), perm=[0, 2, 1, 3])
    y = graph.op("Reshape", y, graph.constant([0, 0, c], np.int64))  # the heads merged
    (out,) = emit(graph, module.c_proj, y, "c_proj")
    return emit(graph, module.resid_dropout, out, "resid_dropout")


def _positions(graph: Graph, x: str) -> str:
    """0, 1, ..., T - 1 for a value ``x`` (B, T, ...): Range up to its axis 1 (int64)."""
    steps = graph.op("Gather", graph.op("Shape", x), graph.constant(1, np.int64), axis=0)
    return graph.op("Range", graph.constant(0, np.int64), steps, graph.constant(1, np.int64))


def _feed_forward(graph: Graph, module: Any, x: str) -> Values:
    """``dropout(c_proj(gelu(c_fc(x))))``, on (B, T, C) directly (MatMul broadcasts)."""
    for name in ("c_fc", "gelu", "c_proj", "dropout"):
        (x,) = emit(graph, getattr(module, name), x, name)
    return (x,)


def _block(graph: Graph, module: Any, x: str) -> Values:
    """``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""
    for norm, branch in (("ln_1", "attn"), ("ln_2", "mlp")):
        (normed,) = emit(graph, getattr(module, norm), x, norm)
        (update,) = emit(graph, getattr(module, branch), normed, branch)
        x = graph.op("Add", x, update)
    return (x,)


def _transformer(graph: Graph, module: Any, idx: str) -> Values:
    """``drop(wte[idx] + wpe[0..T-1])``, the blocks, ``ln_f``: token ids (B, T) -> (B, T, C)."""
    (tokens,) = emit(graph, module.wte, idx, "wte")
    (places,) = emit(graph, module.wpe, _positions(graph, idx), "wpe")
    (x,) = emit(graph, module.drop, graph.op("Add", tokens, places), "drop")
    for i, block in enumerate(module.h):
        (x,) = emit(graph, block, x, f"h.{i}")
    return emit(graph, module.ln_f, x, "ln_f")


def _gpt(graph: Graph, module: Any, idx: str) -> Values:
    """The body, then the head tied to ``wte``: MatMul with its table transposed (the one
    initializer ``transformer.wte.weight`` serves both)."""
    (h,) = emit(graph, module.transformer, idx, "transformer")
    table = graph.weight("transformer.wte.weight", module.transformer.wte.weight.data)
    return (graph.op("MatMul", h, graph.op("Transpose", table, perm=[1, 0])),)


# -- models ------------------------------------------------------------------------------------
def _sequential(graph: Graph, module: Any, x: str) -> Values:
    """The modules in order, each reading the last one's value."""
    for name, child in module.children():
        (x,) = emit(graph, child, x, name)
    return (x,)


def _two_layer_mlp(graph: Graph, module: Any, x: str) -> Values:
    """``fc2(relu(fc1(x)))`` (the layer path's ``loss_fn`` is no part of ``forward``)."""
    for name in ("fc1", "relu", "fc2"):
        (x,) = emit(graph, getattr(module, name), x, name)
    return (x,)


def _recurrent_lm(graph: Graph, module: Any, idx: str) -> Values:
    """``head(rnn(embed(idx)).output)``: (B, T) -> (B, T, V); the final states go unused."""
    (x,) = emit(graph, module.embed, idx, "embed")
    output = emit(graph, module.rnn, x, "rnn")[0]
    return emit(graph, module.head, output, "head")


def _mlp_lm(graph: Graph, module: Any, idx: str) -> Values:
    """``head(act(fc(flatten(embed(idx)))))``: (B, block_size) -> (B, V)."""
    (x,) = emit(graph, module.embed, idx, "embed")
    x = graph.op("Flatten", x, axis=1)  # the context's vectors side by side
    for name in ("fc", "act", "head"):
        (x,) = emit(graph, getattr(module, name), x, name)
    return (x,)


FAMILIES: list[tuple[tuple[type[Module], ...], Converter]] = [
    ((linear.Linear, nn.Linear), _linear),
    ((activation.ReLU, nn.ReLU), _unary("Relu")),
    ((activation.Sigmoid, nn.Sigmoid), _unary("Sigmoid")),
    ((activation.Tanh, nn.Tanh), _unary("Tanh")),
    ((activation.LeakyReLU, nn.LeakyReLU), _leaky_relu),
    ((activation.GELU, nn.GELU), _gelu),
    ((activation.Softmax,), _softmax("Softmax")),
    ((activation.LogSoftmax,), _softmax("LogSoftmax")),
    ((dropout.Dropout, nn.Dropout), _identity),
    (
        (normalization.BatchNorm1d, normalization.BatchNorm2d, nn.BatchNorm1d, nn.BatchNorm2d),
        _batch_norm,
    ),
    ((normalization.LayerNorm, nn.LayerNorm), _layer_norm),
    ((conv.Conv2d, nn.Conv2d), _conv),
    ((pooling.MaxPool2d, nn.MaxPool2d), _pool("MaxPool")),
    ((pooling.AvgPool2d, nn.AvgPool2d), _pool("AveragePool", count_include_pad=1)),
    ((conv.Flatten, nn.Flatten), _flatten),
    ((embedding.Embedding, nn.Embedding), _embedding),
    ((recurrent.RNN, recurrent.LSTM, recurrent.GRU, nn.RNN, nn.LSTM, nn.GRU), _recurrent),
    ((attention.CausalSelfAttention, nn.CausalSelfAttention), _attention),
    ((layer_gpt.FeedForward, engine_gpt.FeedForward), _feed_forward),
    ((layer_gpt.TransformerBlock, engine_gpt.TransformerBlock), _block),
    ((layer_gpt.Transformer, engine_gpt.Transformer), _transformer),
    ((layer_gpt.GPT, engine_gpt.GPT), _gpt),
    ((layer.Sequential, Sequential), _sequential),
    ((models.TwoLayerMLP, nn.TwoLayerMLP), _two_layer_mlp),
    ((RecurrentLanguageModelBase,), _recurrent_lm),
    ((MLPLanguageModelBase,), _mlp_lm),
]
"""Each family's classes, on both paths, and its converter. A subclass is converted as its
nearest listed base (`MLP` and `LeNet5` as `Sequential`; the language models of both paths as
their shared bases, which hold their ``forward``), unless it has its own ``forward``."""

CONVERTERS: dict[type[Module], Converter] = {
    cls: convert for classes, convert in FAMILIES for cls in classes
}
"""The converter of each class that `emit` knows."""

TOKEN_INPUTS: tuple[type[Module], ...] = (
    embedding.Embedding, nn.Embedding, layer_gpt.GPT, engine_gpt.GPT, layer_gpt.Transformer,
    engine_gpt.Transformer, RecurrentLanguageModelBase, MLPLanguageModelBase,
)  # fmt: skip
"""The modules that read integer token ids rather than numbers (int64 in the graph)."""

SEQUENCE_INPUTS: tuple[type[Module], ...] = (
    layer_gpt.GPT, engine_gpt.GPT, layer_gpt.Transformer, engine_gpt.Transformer,
    layer_gpt.TransformerBlock, engine_gpt.TransformerBlock, attention.CausalSelfAttention,
    nn.CausalSelfAttention, RecurrentBase, RecurrentLanguageModelBase,
)  # fmt: skip
"""The modules whose input's axis 1 is a sequence of any length T (symbolic in the graph), as
is axis 1 of each three-axis output: (B, T, ...)."""


def takes_tokens(model: Module) -> bool:
    """Whether ``model`` reads token ids: it is one of `TOKEN_INPUTS`, or a `Sequential`
    whose first module is."""
    if isinstance(model, Sequential):
        return len(model) > 0 and takes_tokens(model[0])
    return isinstance(model, TOKEN_INPUTS)
