"""Reverse mode: walk a recorded graph from an output back to its inputs.

For an output ``L`` and each tensor ``v`` of the graph, the chain rule gives the adjoint
``dL/dv = sum over the operations f that used v of f's backward applied to dL/d(f's output)``.
So the nodes are visited in reverse topological order (every consumer of a tensor before the
operation that made it, so that its gradient is complete when it is passed on), each node
turns the gradient of its output into gradients of its inputs, and the gradients reaching one
tensor along several paths are summed.

**Gradients are set, not accumulated**, on both paths of the library: a backward pass sets each
leaf's ``.grad`` to the gradient of *this* output (the sum over its paths in this graph),
overwriting what an earlier pass left, just as a layer's ``backward`` sets its parameters'
``.grad``. ``zero_grad()`` is therefore never needed, and harmless (PyTorch accumulates, so
there it is needed between steps). A layer writes into its parameters' ``.grad`` arrays; the
engine makes ``.grad`` the array the pass computed, sparing a copy (see `_owned`): either way,
read ``param.grad`` after each pass.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.function import Function
from ..core.grad_mode import begin_backward_pass, grad_mode
from ..core.tensor import Grad, Operand, Tensor, as_array
from ..core.types import Array


def backward(
    output: Tensor,
    grad: Operand | None = None,
    *,
    retain_graph: bool = False,
    create_graph: bool = False,
) -> None:
    """Set ``.grad`` of every leaf that requires a gradient to d(output)/d(leaf).

    Parameters
    ----------
    output : Tensor
        The end of the graph, usually a scalar loss.
    grad : array_like or Tensor, optional
        d(loss)/d(output), of the output's shape; 1 when omitted, which needs a one-element
        output (for a vector output, the gradient of ``sum(output * grad)`` is computed).
    retain_graph : bool
        Keep the graph's saved arrays, to backpropagate through it again. By default they are
        freed (a graph is usually used once), and a second pass raises an error.
    create_graph : bool
        Record the backward pass itself, so that the gradients could be differentiated again
        (implies ``retain_graph``); use `grad` to get those gradients as tensors.

    Notes
    -----
    Each leaf's ``.grad`` becomes a new array, owned by that leaf alone (see `_owned`): read
    ``leaf.grad`` after the pass rather than keeping the array of an earlier one. Non-leaf
    tensors get ``.grad`` only if `Tensor.retain_grad` was called.
    """
    seed = _seed(output, grad)
    leaf_grads = _backprop(output, seed, retain_graph or create_graph, create_graph)
    given: set[int] = set()
    begin_backward_pass()
    for leaf, g in leaf_grads.values():
        leaf.grad = _owned(g, leaf.dtype, seed, given)
        leaf.grad_written(leaf.grad)  # a Parameter's current gradient, for the optimizers


def grad(
    outputs: Tensor,
    inputs: Sequence[Tensor],
    grad_outputs: Operand | None = None,
    *,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned (no ``.grad`` is set).

    As ``torch.autograd.grad``. With ``create_graph=True`` the gradients are tensors in a graph
    of their own, so they can be differentiated again::

        (gx,) = grad((x ** 3).sum(), [x], create_graph=True)    # 3 x**2, in a graph
        (gxx,) = grad(gx.sum(), [x])                            # 6 x

    Parameters
    ----------
    outputs : Tensor
        What to differentiate.
    inputs : sequence of Tensor
        With respect to what: leaves or intermediate tensors of the graph.
    grad_outputs : array_like or Tensor, optional
        d(loss)/d(outputs), as ``backward``'s ``grad``.
    retain_graph : bool, optional
        Keep the saved arrays (default: ``create_graph``).
    create_graph : bool
        Record the backward pass, for higher-order gradients.
    allow_unused : bool
        Return None for an input the output does not depend on, instead of raising.
    """
    inputs = list(inputs)
    if not all(isinstance(x, Tensor) for x in inputs):
        raise TypeError("grad() takes a sequence of Tensors as inputs, e.g. grad(loss, [x, w])")
    seed = _seed(outputs, grad_outputs)
    wanted = {id(x): x for x in inputs}
    retain = create_graph if retain_graph is None else retain_graph
    found = _backprop(outputs, seed, retain, create_graph, wanted)
    results: list[Tensor | None] = []
    given: set[int] = set()
    for i, x in enumerate(inputs):
        if id(x) in found:
            g = found[id(x)][1]
            if not isinstance(g, Tensor):
                g = Tensor._made_by(_owned(g, g.dtype, seed, given), None)
            results.append(g)
        elif allow_unused:
            results.append(None)
        else:
            raise RuntimeError(
                f"input {i} of grad() was not used to compute the output (or does not require "
                "grad); pass allow_unused=True to get None for it."
            )
    return tuple(results)


def topological_order(output: Tensor) -> list[Function]:
    """The operations that made ``output``, each after all those that made its inputs.

    An iterative depth-first search (no recursion, so a chain of any length works) that lists
    a node once all of its inputs' creators are listed: O(nodes + edges).
    """
    if output.creator is None:
        return []
    order: list[Function] = []
    visited: set[Function] = set()
    stack: list[tuple[Function, bool]] = [(output.creator, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            for x in node.saved_inputs():
                if x.creator is not None and x.creator not in visited:
                    stack.append((x.creator, False))
    return order


def _backprop(
    output: Tensor,
    seed: Tensor,
    retain_graph: bool,
    create_graph: bool,
    wanted: dict[int, Tensor] | None = None,
) -> dict[int, tuple[Tensor, Grad]]:
    """Run the backward pass. Return ``{id(tensor): (tensor, gradient)}`` for the leaves (or,
    with ``wanted``, for the wanted tensors, leaves or not).

    Without ``create_graph`` the gradients are arrays and the formulas compute on arrays; with
    it they are tensors and every formula is recorded (see `Function.backward`)."""
    if not output.requires_grad:
        raise RuntimeError(
            "this tensor does not require grad, so it has no graph to differentiate: create "
            "the inputs with Tensor(..., requires_grad=True), outside no_grad()."
        )
    found: dict[int, tuple[Tensor, Grad]] = {}
    start: Grad = seed if create_graph else seed.data
    if output.creator is None:  # a leaf: d(output)/d(output) = 1
        found[id(output)] = (output, start)
        return found
    order = topological_order(output)
    # The gradient of each node's output, summed over the paths that reached it so far.
    pending: dict[Function, Grad] = {output.creator: start}
    # Wanted tensors that are not leaves, by the node that made them.
    made_by = {x.creator: x for x in wanted.values() if x.creator is not None} if wanted else {}
    if wanted is not None and id(output) in wanted:
        found[id(output)] = (output, start)
    # A gradient that underflows to 0 is exact enough: let it, even under errstate(all="raise").
    with grad_mode(create_graph), np.errstate(under="ignore"):
        for node in reversed(order):
            gy = pending.pop(node, None)
            if gy is not None:
                if node in made_by:
                    x = made_by[node]
                    found[id(x)] = (x, gy)
                if node.retained is not None:
                    _retain(node.retained, gy)
                node.check_unchanged()
                for x, gx in zip(node.saved_inputs(), node.backward(gy)):
                    if gx is None or not x.requires_grad:
                        continue
                    creator = x.creator
                    if creator is not None:
                        pending[creator] = pending[creator] + gx if creator in pending else gx
                    elif wanted is None or id(x) in wanted:
                        key = id(x)
                        found[key] = (x, found[key][1] + gx) if key in found else (x, gx)
            if not retain_graph:
                node.release()
    return found


def _retain(retained: weakref.ref[Tensor], gy: Grad) -> None:
    """Store ``gy`` in ``.grad`` of a node's output that asked for it (`retain_grad`)."""
    tensor = retained()
    if tensor is not None:
        tensor.grad = np.array(gy.data if isinstance(gy, Tensor) else gy)


def _seed(output: Tensor, grad: Operand | None) -> Tensor:
    """d(loss)/d(output) as a tensor: ones for a one-element output, else ``grad`` checked."""
    if not isinstance(output, Tensor):
        raise TypeError(f"backward needs a Tensor, got {type(output).__name__}")
    if grad is None:
        if output.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for a one-element output, but this one "
                f"has shape {output.shape}: reduce it first (output.sum()), or pass the "
                "gradient of the loss with respect to it, backward(grad=...)."
            )
        return Tensor._made_by(np.ones_like(output.data), None)
    seed = grad if isinstance(grad, Tensor) else Tensor._made_by(as_array(grad), None)
    if seed.shape != output.shape:
        raise ValueError(
            f"the gradient given has shape {seed.shape} but the output has shape "
            f"{output.shape}: they must be equal."
        )
    return seed


def _owned(g: Grad, dtype: np.dtype[Any], seed: Tensor, given: set[int]) -> Array:
    """The gradient ``g`` as an array of ``dtype`` that nothing else holds.

    An array that this first-order pass computed (not a view, not the seed passed in, not
    already given to another tensor) is taken as it is, without a copy, as PyTorch takes such
    a gradient for ``.grad``; anything else is copied. So no two gradients share memory, none
    is an array the caller passed in, and each can be changed in place (`clip_grad_norm`).
    """
    if (
        isinstance(g, np.ndarray)
        and g.base is None
        and g is not seed.data
        and g.dtype == dtype
        and id(g) not in given
    ):
        given.add(id(g))
        return g
    return np.array(g.data if isinstance(g, Tensor) else g, dtype=dtype)
