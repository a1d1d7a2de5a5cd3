"""Graduation: a model built and trained here moves to PyTorch, ONNX Runtime or a safetensors
file, and back, computing the same function.

- `pytorch`: `to_torch` (a ``torch.nn.Module`` of PyTorch's own layers) and `from_torch`;
  `torch_modules` holds the PyTorch modules it builds where PyTorch has none (nanoGPT's GPT,
  the character-level language models);
- `onnx_export`: `save_onnx`, an inference graph for ONNX Runtime;
- `safetensors`: `save_safetensors`, `load_safetensors` and `load_model`, the format read and
  written with NumPy alone.

PyTorch, ONNX and ONNX Runtime are optional (the ``torch`` and ``interop`` extras, `extras`):
each function imports what it needs when called, and says which extra installs it.
"""

from .onnx_export import save_onnx, to_onnx
from .pytorch import ORIGIN_ATTRIBUTE, from_torch, to_torch, torch_name
from .safetensors import (
    load_model,
    load_safetensors,
    read_safetensors,
    save_safetensors,
    write_safetensors,
)

__all__ = [
    "ORIGIN_ATTRIBUTE",
    "from_torch",
    "load_model",
    "load_safetensors",
    "read_safetensors",
    "save_onnx",
    "save_safetensors",
    "to_onnx",
    "to_torch",
    "torch_name",
    "write_safetensors",
]
