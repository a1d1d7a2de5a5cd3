"""Numerical checks of the engine's gradients, first and second order (float64).

``gradcheck(fn, inputs)`` compares the gradients the engine computes for ``fn`` with central
differences, input by input, with `deeplearning.gradcheck.relative_error` (as `check_layer`
does for layers). ``gradgradcheck`` does the same for the gradient itself, differentiated
through a recorded backward pass::

    gradcheck(lambda x, w: (x @ w).tanh(), [x, w])        # [2e-10, 3e-10]: below 1e-6 is right
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from ..core.finite_differences import numerical_gradient, relative_error
from ..core.grad_mode import grad_mode
from ..core.tensor import Tensor
from ..core.types import RNG, Array
from .backprop import grad
from .reductions import sum as sum_

TensorFunction = Callable[..., Tensor]


def _float64(inputs: Sequence[ArrayLike | Tensor]) -> list[Array]:
    arrays = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]
    if not arrays:
        raise ValueError("gradcheck needs at least one input")
    return arrays


def gradcheck(
    fn: TensorFunction, inputs: Sequence[ArrayLike | Tensor], rng: RNG = 0
) -> list[float]:
    """The relative error of the engine's gradient of ``fn`` for each input (in float64).

    ``fn`` takes one tensor per input and returns a tensor of any shape; the checked scalar is
    ``sum(fn(*inputs) * dout)`` with a random ``dout`` (from ``rng``), so that every output
    element counts. Errors below ~1e-7 mean the backward formulas are right.
    """
    arrays = _float64(inputs)
    with grad_mode(False):
        out_shape = fn(*[Tensor(a) for a in arrays]).shape
    dout = np.random.default_rng(rng).standard_normal(out_shape)
    leaves = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    # An output that does not depend on the inputs (the recorded gradient of a linear
    # function, say) has zero gradient.
    analytic = (
        grad(out, leaves, grad_outputs=dout, allow_unused=True)
        if out.requires_grad
        else (None,) * len(leaves)
    )

    def value() -> Array:
        with grad_mode(False):
            return fn(*[Tensor(a) for a in arrays]).data

    errors = []
    for array, g in zip(arrays, analytic):
        numeric = numerical_gradient(value, array, dout)
        errors.append(relative_error(np.zeros_like(array) if g is None else g.data, numeric))
    return errors


def gradgradcheck(
    fn: TensorFunction, inputs: Sequence[ArrayLike | Tensor], rng: RNG = 0
) -> list[float]:
    """`gradcheck` of the gradient: the relative error of the second derivatives.

    Checks ``h(x) = sum_i sum(grad(sum(fn(x) * dout), x_i, create_graph=True) * v_i)`` for
    random ``dout`` and ``v``, whose gradient is a Hessian-vector product of ``fn``.
    """
    arrays = _float64(inputs)
    generator = np.random.default_rng(rng)
    with grad_mode(False):
        out_shape = fn(*[Tensor(a) for a in arrays]).shape
    dout = generator.standard_normal(out_shape)
    directions = [generator.standard_normal(a.shape) for a in arrays]

    def directional(*xs: Tensor) -> Tensor:
        with grad_mode(True):
            leaves = [x if x.requires_grad else Tensor(x.data, requires_grad=True) for x in xs]
            out = fn(*leaves)
            if not out.requires_grad:  # a constant: every derivative is 0
                return Tensor(np.zeros(()))
            grads = grad(out, leaves, grad_outputs=dout, create_graph=True, allow_unused=True)
            terms = [sum_(g * v) for g, v in zip(grads, directions) if g is not None]
        total = terms[0] if terms else Tensor(np.zeros(()))
        for term in terms[1:]:
            total = total + term
        return total

    return gradcheck(directional, arrays, rng=rng)
