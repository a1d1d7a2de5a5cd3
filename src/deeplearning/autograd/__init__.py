"""The autograd engine: tensors that record the operations applied to them, and reverse-mode
differentiation of the recorded graph (`backward`, `grad`), to any order.

::

    from deeplearning.autograd import Tensor, grad, no_grad
    from deeplearning.autograd import functional as F     # operations, as torch.nn.functional
    from deeplearning.autograd import nn                  # modules, as torch.nn

    x = Tensor(np.random.randn(3, 4), requires_grad=True)
    y = (x.tanh() * 2).sum()
    y.backward()                   # x.grad: dy/dx, an ndarray of shape (3, 4)

Where things are: `core.tensor` (Tensor, Function, no_grad, shared with the layers'
parameters); the operations, each with its backward, in `shapes`, `arithmetic`, `elementwise`,
`reductions`, `log_likelihood` and `convolution` (`ops`: how they are applied); `backprop`
(topological order, backward, grad); `functional`, `nn` (with nanoGPT's GPT, in `transformer`),
`graph` (Graphviz pictures) and `gradcheck` (numerical checks of first and second order).
"""

from ..core.function import Function
from ..core.grad_mode import is_grad_enabled, no_grad
from ..core.tensor import Tensor
from .backprop import backward, grad, topological_order
from .gradcheck import gradcheck, gradgradcheck
from .graph import plot_graph, to_dot

__all__ = [
    "Function",
    "Tensor",
    "backward",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "plot_graph",
    "to_dot",
    "topological_order",
]
