"""The checks `pytorch.from_torch` and `pytorch.to_torch` make before they convert anything:
a module is refused, by its place and what is wrong, if the converted one would compute
something else (a ``forward`` of its own, arrays it lacks or has more of, a structure changed
since `to_torch` made it) or its arrays cannot be copied (bfloat16, the ``meta`` device)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any


def check_forward(
    module: Any, where: str, who: str, classes: tuple[type, ...], whole: str = "the model"
) -> None:
    """Refuse (TypeError) a subclass of a convertible class (one of ``classes``) that has its
    own ``forward``: the converted module would compute the base class's instead. ``where`` is
    its dotted name ("" for the ``whole``)."""
    cls = type(module)
    base = next((base for base in cls.__mro__ if base in classes), None)
    if base is not None and _own(cls) is not _own(base):
        raise TypeError(
            f"{who} cannot convert {where or whole!r} ({cls.__name__}): it overrides the "
            f"forward of {base.__name__}, and the converted module would compute "
            f"{base.__name__}'s instead; build it from {base.__name__} itself, or write the "
            "new forward on the other side and copy the arrays (interop.torch_name)"
        )


def _own(cls: type) -> Any:
    """The ``forward`` a class computes with, unwrapped from the layer path's hook runner."""
    return inspect.unwrap(getattr(cls, "forward", None))  # type: ignore[arg-type]


def check_tensors(tensors: Mapping[str, Any], torch: Any) -> None:
    """Refuse a module whose arrays have no NumPy counterpart (bfloat16, complex) or no data
    (on the ``meta`` device), naming the first, before anything is copied."""
    for key, tensor in tensors.items():
        if tensor.is_meta:
            raise ValueError(
                f"from_torch: {key!r} is on the meta device, so it holds no values: load the "
                "module's weights first (module.to_empty(device='cpu'), then load_state_dict)"
            )
        if tensor.is_complex() or tensor.dtype == torch.bfloat16 or tensor.is_quantized:
            raise TypeError(
                f"from_torch: {key!r} is {tensor.dtype}, which NumPy does not hold: convert the "
                "module first, e.g. module.float() (float32) or module.double()"
            )


IGNORED_KEYS = re.compile(r"(^|\.)(num_batches_tracked|attn\.bias)$|^lm_head\.weight$")
"""PyTorch's arrays that our models have no counterpart for, and need none: BatchNorm's count
of batches, nanoGPT's causal mask (a buffer named ``attn.bias``), the head tied to ``wte``."""


def check_keys(needed: set[str], state: Mapping[str, Any], model: str) -> None:
    """Refuse (ValueError) a module that lacks an array our ``model`` needs, or has one it
    would ignore (its computation would not be ours), listing them."""
    missing = sorted(needed - state.keys())
    unexpected = sorted(k for k in state.keys() - needed if not IGNORED_KEYS.search(k))
    if missing or unexpected:
        raise ValueError(
            f"from_torch: the module's arrays are not those of this library's {model}: it lacks "
            f"{missing[:6]}{' ...' if len(missing) > 6 else ''} and has "
            f"{unexpected[:6]}{' ...' if len(unexpected) > 6 else ''}, which it would not "
            "compute with. Give the whole module (nanoGPT's GPT: every block's ln_1, attn, "
            "ln_2, mlp, and ln_f), or build the model here and load the arrays by hand"
        )


def check_same_structure(module: Any, made: Any, origin: dict[str, Any], attribute: str) -> None:
    """Refuse (ValueError) a module marked by `to_torch` that is no longer what `to_torch`
    makes of the model it names (``made``): a module added, removed or replaced, or another
    shape, naming the first difference."""
    ours = {name: type(sub).__name__ for name, sub in made.named_modules()}
    theirs = {name: type(sub).__name__ for name, sub in module.named_modules()}
    ours.update({key: tuple(value.shape) for key, value in made.state_dict().items()})
    theirs.update({key: tuple(value.shape) for key, value in module.state_dict().items()})
    differ = sorted(key for key in ours.keys() | theirs.keys() if ours.get(key) != theirs.get(key))
    if differ:
        first = differ[0]
        raise ValueError(
            f"from_torch: the module is marked ({attribute}) as to_torch's {origin.get('model')!r} "
            f"of config {origin.get('config')}, but has been changed since: {first!r} is "
            f"{theirs.get(first, 'missing')} where that model has {ours.get(first, 'nothing')} "
            f"({len(differ)} in all). Delete the attribute (del module.{attribute}) "
            "to convert it layer by layer"
        )
