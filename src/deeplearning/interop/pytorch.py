"""`to_torch` and `from_torch`: a model of this library, on either path, as a
``torch.nn.Module`` made of PyTorch's own layers, and back, with the same weights and buffers,
computing the same function.

Each module maps to PyTorch's, and each array to PyTorch's name for it (`torch_name`)::

    here                                      PyTorch
    Linear            W (in, out), b          nn.Linear         weight = Wᵀ (out, in), bias
    RNN, LSTM, GRU    W_ih, W_hh, b_ih, b_hh  nn.RNN/LSTM/GRU   weight_ih_l0 = W_ihᵀ,
                      (batch first)             (batch_first)     weight_hh_l0 = W_hhᵀ, bias_*_l0
    Conv2d, BatchNorm1d/2d, LayerNorm,        the module of the same name: the same arrays
    Embedding, pooling, Flatten, Dropout,     under the same names (BatchNorm's running
    activations, Softmax, LogSoftmax          statistics too)
    Sequential, MLP, LeNet5                   nn.Sequential, children "0", "1", ...
    TwoLayerMLP                               nn.Sequential of fc1, relu, fc2
    GPT, RecurrentLanguageModel,              `torch_modules`' classes: nanoGPT's structure and
    MLPLanguageModel                          names, lm_head tied to transformer.wte

`to_torch`'s module holds copies, in the model's dtype, and is in the model's mode (training
or evaluation). What does not carry over: the dropout layers' random generators (PyTorch draws
its own masks), and an optimizer's state.

`from_torch` takes three kinds of module:

- one that `to_torch` made from a model of this library, marked with `ORIGIN_ATTRIBUTE`: the
  same class comes back (`MLP`, `LeNet5`, `GPT`, ...), rebuilt from its config;
- a GPT with nanoGPT's structure, recognised by its parameter names (``transformer.wte``,
  ``transformer.h.{i}...``): the sizes are read from the arrays' shapes and ``n_head`` from
  the attention modules (or the model's ``config``);
- PyTorch's own layers, alone or in ``nn.Sequential``s: those of the table, recurrent layers
  of one layer and ``batch_first``.

Anything else (a module with its own ``forward``, or an option this library does not have,
such as a dilated convolution) is refused by its place in the module and what it is.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from .. import layers
from ..autograd import nn as engine
from ..core.module import Module, Sequential
from ..core.validation import check_choice
from ..training.archive import CheckpointError
from ..training.checkpoint import build_model
from ..training.recipe import ENGINES
from .extras import require
from .torch_checks import check_forward, check_keys, check_same_structure, check_tensors

ORIGIN_ATTRIBUTE = "deeplearning_model"
"""The attribute of a converted PyTorch module that names the model it came from: a dict of
``model`` (the class name), ``engine`` and ``config``."""

RENAMED = {
    "W": ("weight", True),
    "b": ("bias", False),
    "W_ih": ("weight_ih_l0", True),
    "W_hh": ("weight_hh_l0", True),
    "b_ih": ("bias_ih_l0", False),
    "b_hh": ("bias_hh_l0", False),
}
"""Our arrays whose PyTorch names differ: the new last part, and whether the array is stored
transposed (a weight (in, out) here is (out, in) in PyTorch). Every other array keeps its name."""

PATHS = {"layers": layers, "autograd": engine}
"""Where each path's classes are, by the names ``from_torch``'s ``engine`` takes."""
LANGUAGE_MODELS = ("GPT", "RecurrentLanguageModel", "MLPLanguageModel")
"""The models that become `torch_modules`' classes of the same names."""
BUILDABLE = (*ENGINES["layers"], *LANGUAGE_MODELS)
"""The models a checkpoint's header rebuilds (`training.checkpoint.build_model`), by name:
those `to_torch` marks with `ORIGIN_ATTRIBUTE`."""


def torch_name(name: str) -> tuple[str, bool]:
    """PyTorch's name for one of our ``state_dict`` names, and whether it is transposed:
    ``"0.W"`` -> ``("0.weight", True)``, ``"rnn.b_ih"`` -> ``("rnn.bias_ih_l0", False)``."""
    head, _, last = name.rpartition(".")
    new, transposed = RENAMED.get(last, (last, False))
    return (f"{head}.{new}" if head else new), transposed


def to_torch(model: Module) -> Any:
    """``model`` as a ``torch.nn.Module`` of PyTorch's layers, with copies of its arrays.

    Parameters
    ----------
    model : Module
        A layer, a `Sequential` of them, or a model of this library (`MLP`, `TwoLayerMLP`,
        `LeNet5`, `GPT`, `RecurrentLanguageModel`, `MLPLanguageModel`), on either path.

    Returns
    -------
    torch.nn.Module
        Its outputs equal ours for the same input (given as a ``torch.Tensor``; token ids as
        int64); recurrent layers return PyTorch's ``(output, h_n)``, ``h_n`` (1, N, H).

    Raises
    ------
    ImportError
        Without PyTorch (the ``torch`` extra).
    TypeError
        If ``model`` is not a Module, or holds one that has no PyTorch counterpart (a module
        with a hand-written ``forward``, a subclass of a layer whose ``forward`` is its own),
        named by its place in the model.
    """
    torch = require("torch", "to_torch")
    if not isinstance(model, Module):
        raise TypeError(f"to_torch takes a model of this library (a Module), got {type(model)}")
    net = _torch_module(model, "", torch.nn)
    parameters = [param.data for param in model.parameters()]
    dtype = torch.from_numpy(np.empty(0, parameters[0].dtype if parameters else np.float32)).dtype
    net.to(dtype)
    state = net.state_dict()
    for name, array in model.state_dict().items():
        key, transposed = torch_name(name)
        state[key].copy_(torch.from_numpy(np.ascontiguousarray(array.T if transposed else array)))
    if type(model).__name__ in BUILDABLE and hasattr(model, "config"):
        setattr(net, ORIGIN_ATTRIBUTE, {"model": type(model).__name__, "engine": model.engine,
                                        "config": dict(model.config)})  # fmt: skip
    return net.train(model.training)


def _torch_module(module: Any, where: str, tnn: Any) -> Any:
    """The PyTorch module for ``module`` (at ``where`` in the model), its children converted
    in turn; its arrays are copied afterwards, by name."""
    name, config = type(module).__name__, getattr(module, "config", {})
    check_forward(module, where, "to_torch", (Sequential, layers.Sequential, *_all_ours()))
    if name in LANGUAGE_MODELS and isinstance(module, _of_both(name)):
        from . import torch_modules

        return torch_modules.LANGUAGE_MODULES[name](config)
    if isinstance(module, _of_both("TwoLayerMLP")):  # (its loss_fn is no part of the network)
        keys = ("fc1", "relu", "fc2")
        return tnn.Sequential(
            OrderedDict((k, _torch_module(getattr(module, k), k, tnn)) for k in keys)
        )
    if isinstance(module, Sequential):
        return tnn.Sequential(*(
            _torch_module(child, f"{where}.{key}" if where else key, tnn)
            for key, child in module.children()
        ))  # fmt: skip
    for classes, build in _torch_layers(tnn):
        if isinstance(module, classes):
            return build(module)
    raise TypeError(
        f"to_torch cannot convert {where or 'the model'!r} ({name}): it converts this "
        "library's layers and models, and a Sequential of them; for a module with its own "
        "forward, write it in PyTorch and copy its arrays (interop.torch_name gives each "
        "array's name in PyTorch and whether it is transposed)"
    )


def _all_ours() -> tuple[type, ...]:
    """Every class of this library that `to_torch` converts, on both paths."""
    named = [*LANGUAGE_MODELS, "TwoLayerMLP"]
    return tuple(cls for name in named for cls in _of_both(name)) + tuple(
        cls for classes, _ in _torch_layers(None) for cls in classes
    )


def _of_both(name: str) -> tuple[type, ...]:
    """The class ``name`` on each path that has it: ``(layers.X, autograd.nn.X)``."""
    return tuple(getattr(path, name) for path in (layers, engine) if hasattr(path, name))


def _torch_layers(tnn: Any) -> list[tuple[tuple[type, ...], Callable[[Any], Any]]]:
    """Each layer's classes (on both paths) and what builds its PyTorch module."""
    return [
        (_of_both("Linear"), lambda m: tnn.Linear(m.in_features, m.out_features, m.b is not None)),
        (_of_both("ReLU"), lambda m: tnn.ReLU()),
        (_of_both("Sigmoid"), lambda m: tnn.Sigmoid()),
        (_of_both("Tanh"), lambda m: tnn.Tanh()),
        (_of_both("LeakyReLU"), lambda m: tnn.LeakyReLU(m.negative_slope)),
        (_of_both("GELU"), lambda m: tnn.GELU(approximate=m.approximate)),
        (_of_both("Softmax"), lambda m: tnn.Softmax(dim=m.dim)),
        (_of_both("LogSoftmax"), lambda m: tnn.LogSoftmax(dim=m.dim)),
        (_of_both("Dropout"), lambda m: tnn.Dropout(m.p)),
        (_of_both("Flatten"), lambda m: tnn.Flatten()),
        (_of_both("BatchNorm2d"), lambda m: tnn.BatchNorm2d(m.num_features, m.eps, m.momentum)),
        (_of_both("BatchNorm1d"), lambda m: tnn.BatchNorm1d(m.num_features, m.eps, m.momentum)),
        (_of_both("LayerNorm"), lambda m: tnn.LayerNorm(
            m.normalized_shape, m.eps, m.elementwise_affine, bias=m.has_bias)),
        (_of_both("Embedding"), lambda m: tnn.Embedding(m.num_embeddings, m.embedding_dim)),
        (_of_both("Conv2d"), lambda m: tnn.Conv2d(
            m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
            bias=m.bias is not None)),
        (_of_both("MaxPool2d"), lambda m: tnn.MaxPool2d(m.kernel_size, m.stride, m.padding)),
        (_of_both("AvgPool2d"), lambda m: tnn.AvgPool2d(m.kernel_size, m.stride, m.padding)),
        (_of_both("CausalSelfAttention"), _attention),
        (_of_both("RNN"), lambda m: tnn.RNN(
            m.input_size, m.hidden_size, nonlinearity=m.nonlinearity, batch_first=True)),
        (_of_both("LSTM"), lambda m: tnn.LSTM(m.input_size, m.hidden_size, batch_first=True)),
        (_of_both("GRU"), lambda m: tnn.GRU(m.input_size, m.hidden_size, batch_first=True)),
    ]  # fmt: skip


def _attention(module: Any) -> Any:
    """nanoGPT's attention module for one of ours."""
    from . import torch_modules

    config = module.config
    return torch_modules.CausalSelfAttention(
        config["n_embd"], config["n_head"], config["dropout"], config["bias"]
    )


# -- from PyTorch -----------------------------------------------------------------------------
def from_torch(module: Any, engine: str = "layers") -> Module:
    """A model of this library computing what ``module`` computes, with copies of its arrays.

    Parameters
    ----------
    module : torch.nn.Module
        One that `to_torch` made, a nanoGPT-structured GPT, or PyTorch's layers (this
        module's docstring lists them), in its training or evaluation mode.
    engine : {"layers", "autograd"}
        The path to build it on: hand-written backward passes, or the engine.

    Returns
    -------
    Module
        In the module's mode, with its parameters' dtype.

    Raises
    ------
    ImportError
        Without PyTorch (the ``torch`` extra).
    TypeError
        If ``module`` is not a ``torch.nn.Module``, holds a module this library has no
        counterpart for (or a subclass of a layer with its own ``forward``), named by its
        place, or an array NumPy cannot hold (bfloat16, complex).
    ValueError
        If a module uses an option this library lacks (its place and the option named); an
        array is on the ``meta`` device; a nanoGPT-structured GPT lacks arrays or has more;
        or a module `to_torch` made has been changed since (a layer added, its mark edited).
    All before any array is copied into the model.
    """
    torch = require("torch", "from_torch")
    check_choice(engine, "engine", "from_torch", tuple(PATHS))
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch takes a torch.nn.Module, got {type(module).__name__}")
    tensors = module.state_dict()
    check_tensors(tensors, torch)
    state = {key: value.detach().cpu().numpy() for key, value in tensors.items()}
    floats = [value for value in state.values() if value.dtype.kind == "f"]
    dtype = floats[0].dtype if floats else np.dtype(np.float32)
    origin = getattr(module, ORIGIN_ATTRIBUTE, None)
    model: Module
    if isinstance(origin, dict) or "transformer.wte.weight" in state:
        model = _built(module, state, origin, engine, dtype)
        if isinstance(origin, dict):
            with torch.device("meta"):  # its structure, allocating nothing
                made = _torch_module(model, "", torch.nn)
            check_same_structure(module, made, origin, ORIGIN_ATTRIBUTE)
    else:
        model = _our_module(module, "", torch.nn, PATHS[engine], dtype)
    keys = {name: torch_name(name) for name in model.state_dict()}
    check_keys({key for key, _ in keys.values()}, state, type(model).__name__)
    ours = {
        name: state[key].T if transposed else state[key] for name, (key, transposed) in keys.items()
    }
    model.load_state_dict(ours)
    return model.train(bool(module.training))


def _built(module: Any, state: dict[str, Any], origin: Any, engine: str, dtype: Any) -> Module:
    """The model a module marked by `to_torch` names, or the GPT of a nanoGPT-structured one,
    built; a ValueError if its config describes none this library builds."""
    if isinstance(origin, dict):
        header, what = {**origin, "engine": engine}, f"its {ORIGIN_ATTRIBUTE} attribute"
    else:
        config = nanogpt_config(module, state)
        header, what = {"model": "GPT", "engine": engine, "config": config}, "its sizes"
    try:
        return build_model(header, dtype=dtype)
    except CheckpointError as error:
        raise ValueError(f"from_torch: cannot build the model of {what}: {error}") from None


def nanogpt_config(module: Any, state: dict[str, Any]) -> dict[str, Any]:
    """The keywords of this library's `GPT` for a nanoGPT-structured module: the sizes from
    its arrays' shapes, ``bias`` from whether it has biases, ``n_head`` and ``dropout`` from
    its attention module or its ``config`` (a dict or nanoGPT's ``GPTConfig``).

    Raises
    ------
    ValueError
        If the number of heads cannot be found, or ``lm_head`` is not tied to
        ``transformer.wte`` (this library's GPT ties them).
    """
    vocab_size, n_embd = state["transformer.wte.weight"].shape
    layers = {int(m[1]) for key in state if (m := re.match(r"transformer\.h\.(\d+)\.", key))}
    config, attention = getattr(module, "config", None), None
    if layers:
        attention = getattr(module.transformer.h[0], "attn", None)

    def found(name: str, default: Any = None, kinds: tuple[type, ...] = (int, float)) -> Any:
        """The number ``name`` of the attention module or the config, if either has one."""
        for source in (attention, config):
            value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
            if isinstance(value, kinds) and not isinstance(value, bool):
                return value
        return default

    n_head = found("n_head", kinds=(int,))
    if n_head is None:
        raise ValueError(
            "from_torch: this nanoGPT-structured GPT does not say its number of heads (an int): "
            "give its attention modules an n_head attribute (nanoGPT's do), or the model a "
            "config with n_head"
        )
    head = getattr(module, "lm_head", None)
    if head is not None and head.weight is not module.transformer.wte.weight:
        raise ValueError(
            "from_torch: lm_head is not tied to transformer.wte (they are two Parameters); "
            "this library's GPT ties them, as nanoGPT does: tie them with "
            "model.transformer.wte.weight = model.lm_head.weight"
        )
    if "transformer.wpe.weight" not in state:
        raise ValueError(
            "from_torch: this nanoGPT-structured GPT has no transformer.wpe (its position "
            "embedding), which this library's GPT adds to the token embedding: give the whole "
            "module"
        )
    block_size = state["transformer.wpe.weight"].shape[0]
    return {"vocab_size": int(vocab_size), "block_size": int(block_size), "n_layer": len(layers),
            "n_head": int(n_head), "n_embd": int(n_embd), "dropout": float(found("dropout", 0.0)),
            "bias": "transformer.ln_f.bias" in state}  # fmt: skip


def _our_module(module: Any, where: str, tnn: Any, path: Any, dtype: np.dtype[Any]) -> Any:
    """Our module for PyTorch's ``module`` (at ``where``), its arrays not yet copied."""
    kinds = [kind for kind in type(module).__mro__ if kind.__module__.startswith("torch.nn")]
    known = [kind for kind in kinds if kind is tnn.Sequential or kind.__name__ in _OUR_LAYERS]
    if known:
        check_forward(module, where, "from_torch", (known[0],), "the module")
    if isinstance(module, tnn.Sequential):
        return path.Sequential(*(
            _our_module(child, f"{where}.{key}" if where else key, tnn, path, dtype)
            for key, child in module.named_children()
        ))  # fmt: skip
    if known:
        return _OUR_LAYERS[known[0].__name__](module, path, dtype, where or "the module")
    raise TypeError(
        f"from_torch cannot convert {where or 'the module'!r} ({type(module).__name__}): it "
        f"converts PyTorch's {sorted(_OUR_LAYERS)} and nn.Sequentials of them, nanoGPT-structured "
        "GPTs, and what to_torch made; build the model here and load the arrays with "
        "load_state_dict (interop.torch_name gives each name in PyTorch)"
    )


def _require(where: str, module: Any, **wanted: Any) -> None:
    """Refuse (ValueError) a PyTorch module whose options differ from ``wanted``: the ones
    this library's layer computes with."""
    for option, value in wanted.items():
        actual = getattr(module, option)
        if actual != value and not (isinstance(value, int) and actual == (value, value)):
            raise ValueError(
                f"from_torch: {where!r} is {module!r} with {option}={actual!r}; this library's "
                f"{type(module).__name__} computes with {option}={value!r} only: build the "
                f"PyTorch module with {option}={value!r} and train it so, or leave it out"
            )


def _linear(m: Any, path: Any, dtype: Any, where: str) -> Any:
    return path.Linear(m.in_features, m.out_features, m.bias is not None, dtype=dtype)


def _conv(m: Any, path: Any, dtype: Any, where: str) -> Any:
    _require(where, m, groups=1, dilation=(1, 1), padding_mode="zeros")
    if isinstance(m.padding, str):
        raise ValueError(f"from_torch: {where!r} has padding={m.padding!r}; give it in pixels")
    return path.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                       m.bias is not None, dtype=dtype)  # fmt: skip


def _pool(name: str, **wanted: Any) -> Callable[..., Any]:
    def build(m: Any, path: Any, dtype: Any, where: str) -> Any:
        _require(where, m, ceil_mode=False, **wanted)
        return getattr(path, name)(m.kernel_size, m.stride, m.padding)

    return build


def _batchnorm(name: str) -> Callable[..., Any]:
    def build(m: Any, path: Any, dtype: Any, where: str) -> Any:
        _require(where, m, affine=True, track_running_stats=True)
        if m.momentum is None:
            raise ValueError(f"from_torch: {where!r} has momentum=None (a cumulative average); "
                             "this library's batch norm takes a momentum in [0, 1]")  # fmt: skip
        return getattr(path, name)(m.num_features, m.eps, m.momentum, dtype=dtype)

    return build


def _layer_norm(m: Any, path: Any, dtype: Any, where: str) -> Any:
    return path.LayerNorm(m.normalized_shape, m.eps, m.elementwise_affine,
                          bias=m.bias is not None, dtype=dtype)  # fmt: skip


def _embedding(m: Any, path: Any, dtype: Any, where: str) -> Any:
    _require(where, m, padding_idx=None, max_norm=None, scale_grad_by_freq=False, sparse=False)
    return path.Embedding(m.num_embeddings, m.embedding_dim, dtype=dtype)


def _flatten(m: Any, path: Any, dtype: Any, where: str) -> Any:
    _require(where, m, start_dim=1, end_dim=-1)
    return path.Flatten()


def _recurrent(name: str) -> Callable[..., Any]:
    def build(m: Any, path: Any, dtype: Any, where: str) -> Any:
        _require(where, m, num_layers=1, bias=True, batch_first=True, bidirectional=False,
                 **({"proj_size": 0} if name == "LSTM" else {}))  # fmt: skip
        extra = {"nonlinearity": m.nonlinearity} if name == "RNN" else {}
        return getattr(path, name)(m.input_size, m.hidden_size, **extra, dtype=dtype)

    return build


def _only_layers(name: str, build: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """A module the layer path has and the engine computes with a function instead; its
    ``dim`` must be given (PyTorch's ``dim=None`` picks one by the input's number of axes)."""

    def checked(m: Any, path: Any, dtype: Any, where: str) -> Any:
        if m.dim is None:
            raise ValueError(
                f"from_torch: {where!r} is {name} with dim=None, which PyTorch resolves by the "
                f"input's number of axes (a deprecated default); this library's {name} takes "
                f"one dim: build it with nn.{name}(dim=1) (or the axis it runs along)"
            )
        if not hasattr(path, name):
            raise TypeError(
                f"from_torch: {where!r} is {name}, which the engine has as a function, not a "
                f"module (deeplearning.autograd.functional): convert with engine='layers', or "
                "leave it out of the module"
            )
        return build(m, path)

    return checked


_OUR_LAYERS: dict[str, Callable[[Any, Any, Any, str], Any]] = {
    "Linear": _linear,
    "Conv2d": _conv,
    "MaxPool2d": _pool("MaxPool2d", dilation=1, return_indices=False),
    "AvgPool2d": _pool("AvgPool2d", count_include_pad=True, divisor_override=None),
    "BatchNorm1d": _batchnorm("BatchNorm1d"),
    "BatchNorm2d": _batchnorm("BatchNorm2d"),
    "LayerNorm": _layer_norm,
    "Embedding": _embedding,
    "RNN": _recurrent("RNN"),
    "LSTM": _recurrent("LSTM"),
    "GRU": _recurrent("GRU"),
    "ReLU": lambda m, path, dtype, where: path.ReLU(),
    "Sigmoid": lambda m, path, dtype, where: path.Sigmoid(),
    "Tanh": lambda m, path, dtype, where: path.Tanh(),
    "LeakyReLU": lambda m, path, dtype, where: path.LeakyReLU(m.negative_slope),
    "GELU": lambda m, path, dtype, where: path.GELU(m.approximate),
    "Dropout": lambda m, path, dtype, where: path.Dropout(m.p),
    "Flatten": _flatten,
    "Softmax": _only_layers("Softmax", lambda m, path: path.Softmax(m.dim)),
    "LogSoftmax": _only_layers("LogSoftmax", lambda m, path: path.LogSoftmax(m.dim)),
}
"""What builds our module for each of PyTorch's layers, by class name (of ``torch.nn``)."""
