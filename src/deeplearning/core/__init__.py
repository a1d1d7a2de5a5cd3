"""What both paths stand on, written once.

- `tensor`: `Tensor`, the engine's data structure (a `Parameter` is a tensor, so the layers'
  parameters and the engine's are one kind of object); `function`: `Function`, a node of the
  graph; `grad_mode`: `no_grad`, per thread, and the count of backward passes;
- `module`: `Module`, the tree of parameters, buffers and sub-modules; `Parameter`;
  `Sequential`;
- `bases`: what a convolution, a pooling, a batch normalisation and a dropout hold on both
  paths; `architectures`: the layer lists of an MLP and of LeNet-5;
- `init`: where random numbers come from and the initial weights;
- `kernels` and `windows`: the numerically delicate array formulas (stable softmax, sigmoid,
  dropout masks, running statistics; sliding windows, im2col);
- `finite_differences`: numerical gradients; `evaluation`: predictions, accuracy and loss;
- `validation`: one checker per kind of argument; `types`: the shared type aliases;
  `atomic`: writing files without leaving half of one behind.

Nothing here imports either path, except `tensor`, whose operators (``+``, ``@``, ``.sum()``,
``.backward()``) are the engine's operations (`deeplearning.autograd.arithmetic`, ...): the one
import cycle, declared in the import contracts.
"""

from .grad_mode import is_grad_enabled, no_grad
from .module import Module, Parameter, Sequential
from .tensor import Tensor

# `Function` (core/function.py) is exported by deeplearning.autograd, whose operations subclass
# it; importing it here, before `tensor`, would start the tensor-operations cycle at its wrong end.
__all__ = ["Module", "Parameter", "Sequential", "Tensor", "is_grad_enabled", "no_grad"]
