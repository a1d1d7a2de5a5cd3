"""Export to ONNX: `to_onnx` builds the inference graph of a model of either path (opset 17),
and `save_onnx` writes it to a file, atomically, for ONNX Runtime or any other runtime.

The graph is written node by node with ``onnx.helper``, by walking the model's own modules
(`onnx_nodes`), and computes ``forward`` in evaluation mode: Dropout is the identity and
BatchNorm uses its running statistics. Each module becomes these nodes::

    our module                      ONNX nodes
    ------------------------------  ---------------------------------------------------------
    Linear                          MatMul (W, in x out), Add (b)
    ReLU, Sigmoid, Tanh             Relu, Sigmoid, Tanh
    LeakyReLU                       LeakyRelu (alpha = negative_slope)
    GELU                            Mul, Erf, Add, Mul: x (1 + erf(x / √2)) / 2; or Tanh's form
    Softmax, LogSoftmax             Softmax, LogSoftmax (axis = dim)
    Dropout                         none: the identity
    BatchNorm1d, BatchNorm2d        BatchNormalization (the running statistics, eps)
    LayerNorm                       LayerNormalization (axis = -len(normalized_shape))
    Conv2d                          Conv (the weight as it is, strides, pads)
    MaxPool2d, AvgPool2d            MaxPool, AveragePool (count_include_pad = 1)
    Flatten                         Flatten (axis = 1)
    Embedding                       Gather (axis = 0)
    RNN, LSTM, GRU                  Transpose, RNN / LSTM / GRU (gates reordered), Squeeze,
                                    Transpose: time first inside, batch first outside
    CausalSelfAttention             MatMul, Add (c_attn), Split, Reshape, Transpose, MatMul,
                                    Mul, Where (the mask: Range, Greater), Softmax, MatMul,
                                    Transpose, Reshape, MatMul, Add (c_proj)
    GPT                             Gather (wte), Range, Gather (wpe), Add, the blocks (Add for
                                    each residual), LayerNormalization, MatMul with wte
                                    transposed (the tied head)
    Sequential, MLP, LeNet5,        their modules' nodes, in the order ``forward`` runs them
    TwoLayerMLP, language models

The graph reads one input, ``input``: float32 (N, ...) numbers, or int64 token ids (B, T) for
a model that starts with an embedding (GPT, the language models). Its outputs are ``output``,
and for a bare recurrent layer also ``h_n`` (and the LSTM's ``c_n``). Axis 0 of each is
``batch``, symbolic, so any batch size runs; for the sequence models (GPT, attention, the
recurrent layers and language model) axis 1 of the input, and of each (B, T, ...) output, is
``sequence``, any length T (for a GPT, 1 <= T <= block_size). The other axes are the example
input's. The weights are stored under their ``state_dict`` names (a recurrent layer's under
ONNX's ``W``, ``R``, ``B``, transposed and reordered).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ..core.atomic import atomic_write, check_writable
from ..core.grad_mode import grad_mode
from ..core.module import Module
from ..core.tensor import Tensor
from ..core.types import Array, PathLike
from .extras import require
from .interop_checks import check_path
from .onnx_nodes import SEQUENCE_INPUTS, Graph, Node, emit, takes_tokens

OPSET = 17
"""The ONNX operator set: 17 is the first with LayerNormalization."""
IR_VERSION = 8
"""The file format version of opset 17 (ONNX 1.12), so that older runtimes read the file."""
OUTPUT_NAMES = ("output", "h_n", "c_n")
"""The graph's outputs, in the order ``forward`` returns them."""


class Signature(NamedTuple):
    """One graph input or output: its name, dtype and axes (an int, or a symbolic name)."""

    name: str
    dtype: np.dtype[Any]
    dims: list[int | str]


class Traced(NamedTuple):
    """A model's graph as plain data, with its input and outputs (before ``onnx``)."""

    name: str
    graph: Graph
    input: Signature
    outputs: list[Signature]


def to_onnx(model: Module, example_input: ArrayLike) -> Any:
    """The ONNX graph of ``model``'s ``forward`` in evaluation mode, checked by
    ``onnx.checker.check_model`` (the table in this module's docstring gives the nodes).

    Parameters
    ----------
    model : Module
        A model of either path made of the modules in the table (float32 parameters). Its
        training flags are left as they were.
    example_input : array_like
        One batch the model reads: float32 (N, ...), or integer token ids (B, T). It gives
        the dtype and the axes after the first; axis 0 is the symbolic ``batch`` (and axis 1
        ``sequence`` for the sequence models). It is run through ``model`` once, to check
        that it fits.

    Returns
    -------
    onnx.ModelProto
        The model, opset `OPSET`; ``proto.SerializeToString()`` is the file's content.

    Raises
    ------
    TypeError
        A module has no ONNX nodes here (its class and dotted name are named), a parameter is
        not float32, or ``example_input`` has the wrong dtype.
    ValueError
        ``example_input`` does not fit the model (its shape), is an empty batch, or holds NaN
        or infinity.
    ImportError
        ``onnx`` is not installed: the message names the extra that installs it.
    """
    return _model_proto(_trace(model, example_input, "to_onnx"), "to_onnx")


def save_onnx(model: Module, path: PathLike, example_input: ArrayLike) -> None:
    """Write `to_onnx`'s graph of ``model`` to ``path``, atomically (`core.atomic`): the file
    is whole or untouched. The path, the model and the example are all checked before any
    work, with the errors of `to_onnx`, a TypeError for a path that is not a str or Path, and
    an OSError for a path that cannot be written (its folder is missing, say)."""
    check_path(path, "save_onnx", "model.onnx")
    check_writable(path, "ONNX file")
    traced = _trace(model, example_input, "save_onnx")
    proto = _model_proto(traced, "save_onnx")
    with atomic_write(path) as stream:
        stream.write(proto.SerializeToString())


def _trace(model: Module, example_input: ArrayLike, who: str) -> Traced:
    """Walk ``model`` into a `Graph`, check its parameters and the example, and run the
    example through ``model`` for the outputs' shapes; no ``onnx`` needed yet."""
    if not isinstance(model, Module):
        raise TypeError(
            f"{who} exports a model (a deeplearning Module of either path), got "
            f"{type(model).__name__}: pass e.g. MLP([784, 128, 10])"
        )
    graph = Graph(who)
    values = emit(graph, model, graph.input, "")
    for name, array in model.state_dict().items():
        if array.dtype != np.float32:
            raise TypeError(
                f"{who} writes float32 graphs, but {name!r} is {array.dtype}: build the model "
                "with dtype=np.float32 (the default), or load its state_dict into one."
            )
    tokens = takes_tokens(model)
    example = _example(example_input, tokens, who)
    outputs = _run(model, example, tokens, who)
    for value, name in zip(values, OUTPUT_NAMES):
        graph.nodes.append(Node("Identity", [value], [name], {}))
    _prune(graph, OUTPUT_NAMES[: len(values)])
    sequence = isinstance(model, SEQUENCE_INPUTS)
    dtype = np.dtype(np.int64 if tokens else np.float32)
    return Traced(
        type(model).__name__,
        graph,
        Signature(graph.input, dtype, _axes(example.shape, sequence)),
        [
            Signature(name, out.dtype, _axes(out.shape, sequence and out.ndim == 3))
            for name, out in zip(OUTPUT_NAMES, outputs)
        ],
    )


def _axes(shape: tuple[int, ...], sequence: bool) -> list[int | str]:
    """A value's axes in the graph: ``batch``, then ``sequence`` if ``sequence``, then the
    sizes of ``shape``."""
    axes: list[int | str] = ["batch", *shape[1:]]
    if sequence:
        axes[1] = "sequence"
    return axes


def _example(example_input: ArrayLike, tokens: bool, who: str) -> Array:
    """``example_input`` as an array, checked: a batch of token ids (integers) for a model
    that reads them, of float32 numbers for any other."""
    example = example_input.data if isinstance(example_input, Tensor) else example_input
    array = np.asarray(example)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{who}: example_input must be a batch of real numbers (an array), but it is "
            f"{type(example).__name__} of dtype {array.dtype}: pass e.g. x[:1] for one sample "
            "of a data set x."
        )
    if array.ndim == 0:
        raise ValueError(
            f"{who}: example_input must be a batch, its first axis the samples, but it is a "
            "single number: pass e.g. x[:1] for one sample of a data set x."
        )
    if tokens and array.dtype.kind not in "iu":
        raise TypeError(
            f"{who}: this model reads token ids, so example_input must hold integers (B, T), "
            f"but it holds {array.dtype}: pass e.g. np.array([[1, 2, 3]])."
        )
    if not tokens and array.dtype != np.float32:
        raise TypeError(
            f"{who}: example_input must hold float32 numbers, the graph's input type, but it "
            f"holds {array.dtype}: pass example_input.astype(np.float32)."
        )
    if array.shape[0] == 0:
        raise ValueError(
            f"{who}: example_input of shape {array.shape} is an empty batch, which checks "
            "nothing of the model: pass at least one sample, e.g. x[:1]."
        )
    if not tokens and not np.isfinite(array).all():
        raise ValueError(
            f"{who}: example_input holds {int((~np.isfinite(array)).sum()):,} NaN or infinite "
            "values, so the outputs it checks are no numbers: pass real samples, e.g. x[:1]."
        )
    return array


def _run(model: Module, example: Array, tokens: bool, who: str) -> list[Array]:
    """``model``'s outputs for ``example`` in evaluation mode, each module's training flag
    restored after; a clear error if the example does not fit the model."""
    modules = list(_modules(model))
    flags = [module.training for module in modules]
    model.eval()
    try:
        with grad_mode(False):
            out = model.forward(example if tokens or model.engine == "layers" else Tensor(example))
    except (TypeError, ValueError, IndexError) as error:
        raise type(error)(
            f"{who}: example_input of shape {example.shape} does not fit the model: {error}"
        ) from None
    finally:
        for module, flag in zip(modules, flags):
            module.training = flag
    return _arrays(out)


def _modules(module: Module) -> Iterator[Module]:
    """``module`` and every module below it."""
    yield module
    for _, child in module.children():
        yield from _modules(child)


def _arrays(out: Any) -> list[Array]:
    """The arrays of a ``forward``'s result, in order: a recurrent layer's (output, h_n) or
    (output, (h_n, c_n)) flattened; a Tensor's data."""
    if isinstance(out, (tuple, list)):
        return [array for item in out for array in _arrays(item)]
    return [out.data if isinstance(out, Tensor) else np.asarray(out)]


def _prune(graph: Graph, outputs: tuple[str, ...]) -> None:
    """Drop the nodes and weights no output needs (a language model's unused final states).
    The nodes are in the order they run, so one pass from the last finds them all."""
    needed, kept = set(outputs), []
    for node in reversed(graph.nodes):
        if needed.intersection(node.outputs):
            kept.append(node)
            needed.update(node.inputs)
    graph.nodes = kept[::-1]
    graph.weights = {name: array for name, array in graph.weights.items() if name in needed}


def _model_proto(traced: Traced, who: str) -> Any:
    """The ``onnx.ModelProto`` of a traced model, checked (``full_check``: with its shapes)."""
    onnx = require("onnx", who)
    helper, numpy_helper = onnx.helper, onnx.numpy_helper

    def value_info(signature: Signature) -> Any:
        dtype = helper.np_dtype_to_tensor_dtype(signature.dtype)
        return helper.make_tensor_value_info(signature.name, dtype, signature.dims)

    nodes = [
        helper.make_node(node.op_type, node.inputs, node.outputs, name=node.outputs[0],
                         **node.attributes)
        for node in traced.graph.nodes
    ]  # fmt: skip
    weights = traced.graph.weights.items()
    graph = helper.make_graph(
        nodes,
        traced.name,
        [value_info(traced.input)],
        [value_info(output) for output in traced.outputs],
        initializer=[numpy_helper.from_array(array, name) for name, array in weights],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="deeplearning",
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto
