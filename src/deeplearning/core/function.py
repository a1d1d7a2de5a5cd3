"""`Function`, one node of the graph: an operation that computes on arrays and knows its
derivative. Its subclasses, the engine's operations, are in `deeplearning.autograd`."""

from __future__ import annotations

import weakref
from typing import Any

from .grad_mode import recording
from .tensor import Grad, Tensor, changes
from .types import Array


class Function:
    """One operation of the graph: it computes on arrays and knows its derivative.

    A subclass defines

    - ``forward(*arrays) -> array``: the value, from its inputs' arrays. It keeps nothing but,
      where the derivative needs it, its output (`save_output`): the backward pass derives
      everything else from the inputs, so that `release` frees every saved array;
    - ``backward(gy) -> (gx_1, ..., gx_n)``: given the gradient of the loss with respect to the
      output, the gradient with respect to each input (None where that input does not need
      one). It is written with the engine's operations (`deeplearning.autograd.ops` says where
      they are), which compute on arrays or record on tensors: a first-order backward pass
      gives it arrays (``gy``, `args`, `output`), and a pass with ``create_graph=True`` gives
      it tensors, so that the gradients it returns are in a graph of their own and can be
      differentiated again.

    Calling the function (``Mul()(x, y)``) runs ``forward`` and records the node if any input
    requires a gradient and the graph is being recorded.
    """

    inputs: tuple[Tensor, ...] | None = None
    """The input tensors while the node is in a graph; None once the graph was freed."""
    stamp = 0
    """The count of in-place changes (`changes`) when the node was recorded."""
    output_changed = False
    """Whether the output tensor was changed in place since (see `check_unchanged`)."""
    _output: Array | None = None
    retained: weakref.ref[Tensor] | None = None
    """The output tensor, weakly, if it called `Tensor.retain_grad`."""

    def __call__(self, *inputs: Tensor) -> Tensor:
        y = self.forward(*[x.data for x in inputs])
        if recording.enabled:
            for x in inputs:
                if x.requires_grad:  # record the node
                    self.inputs = inputs
                    self.stamp = changes.count
                    return Tensor._made_by(y, self)
        return Tensor._made_by(y, None)

    def forward(self, *xs: Any, **unused: Any) -> Array:
        """The output array from the input arrays (one per input tensor)."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, gy: Grad) -> tuple[Grad, ...]:
        """The gradient for each input (None where not needed), from the output's ``gy``."""
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def save_output(self, y: Array) -> Array:
        """Keep the output's array for ``backward`` (read it back with `output`); return it."""
        self._output = y
        return y

    def output(self) -> Grad:
        """The output, for ``backward`` formulas that use it (tanh' = 1 - y**2): its array, or,
        when the backward pass records, a tensor made by this node, so that the recorded pass
        differentiates through it. Only the array is kept, so no reference cycle forms."""
        assert self._output is not None, f"{type(self).__name__}.forward did not save_output"
        return Tensor._made_by(self._output, self) if recording.enabled else self._output

    def args(self) -> tuple[Grad, ...]:
        """The inputs, for ``backward`` formulas: tensors when the backward pass records the
        graph (``create_graph=True``), their arrays otherwise."""
        inputs = self.saved_inputs()
        return inputs if recording.enabled else tuple([x.data for x in inputs])

    def saved_inputs(self) -> tuple[Tensor, ...]:
        """The inputs, or an error if a backward pass has already freed them."""
        if self.inputs is None:
            raise RuntimeError(
                f"trying to backward through the graph a second time ({type(self).__name__}'s "
                "saved arrays were freed after the first backward). Pass retain_graph=True to "
                "the first backward() or grad() to keep them."
            )
        return self.inputs

    def check_unchanged(self) -> None:
        """Refuse to differentiate through values changed in place since they were recorded
        (an input, or the output this node saved): the gradient would be wrong."""
        if changes.count == self.stamp:  # nothing at all changed in place since: the usual case
            return
        for i, x in enumerate(self.saved_inputs()):
            if x._version > self.stamp:
                raise RuntimeError(
                    f"{type(self).__name__}'s input {i} (shape {x.shape}) was changed in place "
                    "after it was used, so its gradient cannot be computed. Change it after "
                    "backward(), or work on a copy (x.detach() * 1)."
                )
        if self.output_changed and self._output is not None:
            raise RuntimeError(
                f"the output of {type(self).__name__}, which its backward pass needs, was "
                "changed in place after it was computed. Change a copy instead."
            )

    def release(self) -> None:
        """Free what was kept for ``backward`` (after a backward pass without retain_graph)."""
        self.inputs = None
        self._output = None

    def label(self) -> str:
        """The name shown in graph pictures."""
        return type(self).__name__
