"""The engine's data structures: `Tensor`, the graph node `Function`, and `no_grad`.

A `Tensor` wraps an ndarray. When a `Function` (one operation) runs on tensors and at least one
of them requires a gradient, the output remembers the function that made it (``creator``) and
the function remembers its inputs: the graph is recorded as the computation runs. Walking it
backwards from the output gives every gradient (see `backprop`)::

    x (leaf) ──┐
               Mul ──> y ──Sum──> loss          loss.creator is Sum, Sum.inputs is (y,),
    w (leaf) ──┘                                y.creator is Mul, Mul.inputs is (x, w)

References point from outputs to inputs only (a tensor holds its creator; a creator holds its
inputs, and what it saved of its output as a bare array), so a graph has no reference cycles
and is freed as soon as its last tensor is dropped.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from numpy.typing import ArrayLike

from .grad_mode import recording
from .types import Array
from .validation import check_flag, check_number, real_numbers

if TYPE_CHECKING:
    from ..autograd.ops import Axis, Index
    from .function import Function


def as_array(data: ArrayLike) -> Array:
    """``data`` as an ndarray for a tensor: floating arrays keep their dtype (float64 stays
    float64); Python numbers, lists, integers and booleans become float32, as in the layers."""
    if isinstance(data, Tensor):
        raise TypeError("expected an array, got a Tensor: use tensor.data or tensor.detach()")
    array = real_numbers(data)
    if array.dtype.kind == "f" and isinstance(data, (np.ndarray, np.generic)):
        return array
    return array.astype(np.float32)


class _Changes:
    """In-place changes, numbered: a tensor's ``_version`` is its last change's number (0:
    none); a node records the count, so one comparison says whether anything changed since."""

    count = 0


changes = _Changes()

Operand = Union["Tensor", ArrayLike]
"""What an operation takes: a Tensor, or an array or number (a constant)."""

Grad = Any
"""A value in a backward formula: an ndarray in a first-order backward pass, a `Tensor` when
the pass records its own graph (``create_graph=True``)."""


class Tensor:
    """An ndarray that can record the operations applied to it, to compute gradients.

    Parameters
    ----------
    data : array_like
        The value. Floating arrays keep their dtype (no copy); anything else becomes float32.
    requires_grad : bool
        Whether gradients with respect to this tensor are wanted: operations on it then record
        the graph, and ``backward`` sets its ``.grad``.

    Attributes
    ----------
    data : ndarray
        The value.
    grad : ndarray or None
        d(output)/d(this tensor) after a ``backward`` (set, not accumulated; see
        `backprop.backward`); None before, and always None for non-leaf tensors unless
        `retain_grad` was called.
    requires_grad : bool
        Whether the graph is recorded through this tensor.
    creator : Function or None
        The operation that made this tensor; None for a leaf (a tensor made by the user).

    Notes
    -----
    In-place operations (``t -= x`` and the other augmented assignments, ``t[i] = x``,
    ``copy_``, ``zero_``, ``fill_``) change ``data`` and return the same tensor, as in PyTorch.
    On a leaf that requires a gradient (a `Parameter`) they are refused while the graph is
    recorded: update parameters inside ``no_grad()``, or through ``.data``. On a tensor in a
    graph, or with an operand that requires grad, ``t += x`` records ``t + x`` and rebinds the
    name (PyTorch changes the tensor itself; the gradients are the same), and ``t[i] = x`` and
    the copies are refused. Each change counts in ``_version``, and a backward pass that needs
    a value changed since it was recorded raises an error instead of computing a wrong
    gradient. (A change through ``.data`` or through another tensor sharing the memory, such as
    a view or ``detach()``, is not counted, except an optimizer step's: `data_changed`.)
    """

    __slots__ = ("__weakref__", "_version", "creator", "data", "grad", "requires_grad")
    __array_ufunc__ = None  # ndarray (op) Tensor calls Tensor's reflected operator

    data: Array
    grad: Array | None
    requires_grad: bool
    creator: Function | None
    _version: int

    def __init__(self, data: ArrayLike, requires_grad: bool = False) -> None:
        self.data = as_array(data)
        self.grad = None
        check_flag(requires_grad, "requires_grad", "Tensor")
        self.requires_grad = bool(requires_grad)
        self.creator = None
        self._version = 0

    @classmethod
    def _made_by(cls, data: Array, creator: Function | None) -> Tensor:
        """A tensor holding an operation's output (no conversion), in the graph if ``creator``."""
        tensor = cls.__new__(cls)
        tensor.data, tensor.grad, tensor._version = data, None, 0
        tensor.creator, tensor.requires_grad = creator, creator is not None
        return tensor

    # -- what it is ----------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for a tensor the user made (no creator): ``backward`` sets leaves' ``.grad``."""
        return self.creator is None

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        """The sub-tensors along the first axis, ``t[0], t[1], ...`` (each an indexing
        operation, recorded as such)."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __bool__(self) -> bool:
        """The truth value of a one-element tensor; ambiguous (an error) for any other."""
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous: use "
                "(t != 0).any() or (t != 0).all()"
            )
        return bool(self.data.reshape(()))

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor, this one has shape {self.shape}")
        return float(self.data.reshape(()))

    def numpy(self) -> Array:
        """The value as an ndarray (the same memory, not a copy)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Array:
        """``np.asarray(tensor)`` gives the data itself (``tensor.data``, shared);
        ``np.array(tensor)`` a copy, as NumPy's ``copy`` and ``dtype`` say."""
        if copy is False and dtype is not None and np.dtype(dtype) != self.dtype:
            raise ValueError(
                f"a {self.dtype} tensor cannot be seen as {np.dtype(dtype)} without a copy"
            )
        if copy:
            return self.data.astype(self.dtype if dtype is None else dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    # -- in place: PyTorch's rule ---------------------------------------------------------------
    def _records(self, how: str, other: object = None) -> bool:
        """Whether ``t op= other`` must be recorded rather than done in place: while recording,
        on a tensor in a graph or with an operand that requires grad. A leaf that requires grad
        is refused: its update belongs under `no_grad`, or on ``.data``."""
        if not recording.enabled:
            return False
        if self.requires_grad and self.creator is None:
            raise RuntimeError(
                f"{how} would change in place a leaf that requires grad, which the graph cannot "
                "follow. To update a parameter: with no_grad(): p -= lr * p.grad (or "
                "p.data -= lr * p.grad)"
            )
        return self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)

    def _in_place(self, how: str, change: Callable[[], object], other: object = None) -> None:
        """Apply ``change`` to ``data``, refused where the graph would have to record it (as
        `_records`: indexing and copies cannot be recorded here), and counted once it is done."""
        if self._records(how, other):
            raise RuntimeError(
                f"{how} on a tensor in a graph, or with a value that requires grad, cannot be "
                "recorded: build the tensor with stack, concatenate or where instead, or "
                "change it under no_grad()"
            )
        try:
            change()
        except (ValueError, TypeError, IndexError) as error:  # NumPy's, said in our terms
            kind = next(k for k in (ValueError, TypeError, IndexError) if isinstance(error, k))
            raise kind(f"{how} on a {self.dtype} tensor of shape {self.shape}: {error}") from None
        changes.count += 1
        self._version = changes.count
        if self.creator is not None:
            self.creator.output_changed = True

    def data_changed(self) -> None:
        """Count a change made through ``.data`` (an optimizer step calls it), so that a graph
        that saved the old value refuses to differentiate through it."""
        changes.count += 1
        self._version = changes.count

    def __iadd__(self, other: Operand) -> Tensor:
        if self._records("+=", other):
            return arithmetic.add(self, other)  # recorded: the name is rebound to the sum
        self._in_place("+=", lambda: np.add(self.data, _value(other), out=self.data))
        return self

    def __isub__(self, other: Operand) -> Tensor:
        if self._records("-=", other):
            return arithmetic.sub(self, other)
        self._in_place("-=", lambda: np.subtract(self.data, _value(other), out=self.data))
        return self

    def __imul__(self, other: Operand) -> Tensor:
        if self._records("*=", other):
            return arithmetic.mul(self, other)
        self._in_place("*=", lambda: np.multiply(self.data, _value(other), out=self.data))
        return self

    def __itruediv__(self, other: Operand) -> Tensor:
        if self._records("/=", other):
            return arithmetic.div(self, other)
        self._in_place("/=", lambda: np.divide(self.data, _value(other), out=self.data))
        return self

    def __ipow__(self, other: Operand) -> Tensor:
        if self._records("**=", other):
            return arithmetic.pow(self, other)
        self._in_place("**=", lambda: np.power(self.data, _value(other), out=self.data))
        return self

    def __imatmul__(self, other: Operand) -> Tensor:
        if self._records("@=", other):
            return arithmetic.matmul(self, other)
        self._in_place("@=", lambda: self.data.__setitem__(..., self.data @ _value(other)))
        return self

    def __setitem__(self, key: Index, value: Operand) -> None:
        self._in_place("t[...] = value", lambda: self.data.__setitem__(key, _value(value)), value)

    def copy_(self, source: Operand) -> Tensor:
        """Copy ``source`` (broadcast to this tensor's shape) into this tensor; return it."""
        value = real_numbers(_value(source))
        try:
            fits = np.broadcast_shapes(value.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"copy_ cannot broadcast a {value.shape} source to {self.shape}")
        self._in_place("copy_", lambda: self.data.__setitem__(..., value), source)
        return self

    def fill_(self, value: float) -> Tensor:
        """Set every element to ``value``; return the tensor."""
        check_number(value, "value", "fill_", example="fill_(0.0)")
        self._in_place("fill_", lambda: self.data.fill(value))
        return self

    def zero_(self) -> Tensor:
        """Set every element to 0; return the tensor."""
        return self.fill_(0.0)

    def __float__(self) -> float:
        return self.item()

    def __int__(self) -> int:
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """A one-element tensor formats as its number (``f"{loss:.4f}"``); others as repr."""
        return format(self.item(), spec) if spec and self.data.size == 1 else repr(self)

    def grad_written(self, grad: Array) -> None:
        """Note that a backward pass set ``.grad`` to ``grad`` (a `Parameter` records which
        pass, for the optimizers; a plain tensor needs nothing)."""

    def detach(self) -> Tensor:
        """A new leaf tensor sharing this one's data, outside the graph."""
        return Tensor._made_by(self.data, None)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` of a leaf in place; return the tensor."""
        if not self.is_leaf:
            raise RuntimeError(
                "requires_grad can only be changed on a leaf tensor; this one was made by "
                f"{type(self.creator).__name__}. Use .detach() to get a leaf."
            )
        check_flag(requires_grad, "requires_grad", "requires_grad_")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` at the next backward pass (a leaf
        keeps it anyway)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self.creator is not None:  # a weak reference: the node must not keep its output
            self.creator.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """Whether `retain_grad` was called on this non-leaf tensor."""
        retained = self.creator.retained if self.creator is not None else None
        return retained is not None and retained() is self

    def backward(
        self, grad: Operand | None = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires one,
        and **set** each leaf's ``.grad`` to it. See `backprop.backward`."""
        backprop.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = f", dtype={self.dtype}"
        if self.creator is not None:
            extra += f", creator={type(self.creator).__name__}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # -- operators (the operations are in autograd: arithmetic, shapes) ------------------------
    def __add__(self, other: Operand) -> Tensor:
        return arithmetic.add(self, other)

    def __radd__(self, other: Operand) -> Tensor:
        return arithmetic.add(other, self)

    def __sub__(self, other: Operand) -> Tensor:
        return arithmetic.sub(self, other)

    def __rsub__(self, other: Operand) -> Tensor:
        return arithmetic.sub(other, self)

    def __mul__(self, other: Operand) -> Tensor:
        return arithmetic.mul(self, other)

    def __rmul__(self, other: Operand) -> Tensor:
        return arithmetic.mul(other, self)

    def __truediv__(self, other: Operand) -> Tensor:
        return arithmetic.div(self, other)

    def __rtruediv__(self, other: Operand) -> Tensor:
        return arithmetic.div(other, self)

    def __pow__(self, other: Operand) -> Tensor:
        return arithmetic.pow(self, other)

    def __rpow__(self, other: Operand) -> Tensor:
        return arithmetic.pow(other, self)

    def __matmul__(self, other: Operand) -> Tensor:
        return arithmetic.matmul(self, other)

    def __rmatmul__(self, other: Operand) -> Tensor:
        return arithmetic.matmul(other, self)

    def __neg__(self) -> Tensor:
        return arithmetic.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, key: Index) -> Tensor:
        return shapes.getitem(self, key)

    # Comparisons give plain boolean arrays and record nothing (they have no gradient).
    def __lt__(self, other: Operand) -> Array:
        result: Array = self.data < _value(other)
        return result

    def __le__(self, other: Operand) -> Array:
        result: Array = self.data <= _value(other)
        return result

    def __gt__(self, other: Operand) -> Array:
        result: Array = self.data > _value(other)
        return result

    def __ge__(self, other: Operand) -> Array:
        result: Array = self.data >= _value(other)
        return result

    def __eq__(self, other: object) -> Array:  # type: ignore[override]
        return self.data == _value(other)  # type: ignore[no-any-return]

    def __ne__(self, other: object) -> Array:  # type: ignore[override]
        return self.data != _value(other)  # type: ignore[no-any-return]

    __hash__ = object.__hash__  # tensors are hashed by identity, as in PyTorch

    # -- methods (as in PyTorch; each calls the operation of the same name) --------------------
    @property
    def T(self) -> Tensor:
        """The axes reversed (a matrix transposed), as ``ndarray.T``."""
        return shapes.transpose(self)

    def exp(self) -> Tensor:
        return elementwise.exp(self)

    def log(self) -> Tensor:
        return elementwise.log(self)

    def sqrt(self) -> Tensor:
        return elementwise.sqrt(self)

    def abs(self) -> Tensor:
        return elementwise.abs(self)

    def tanh(self) -> Tensor:
        return elementwise.tanh(self)

    def sigmoid(self) -> Tensor:
        return elementwise.sigmoid(self)

    def relu(self) -> Tensor:
        return elementwise.relu(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        return elementwise.clip(self, min, max)

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return reductions.sum(self, axis, keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return reductions.mean(self, axis, keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return reductions.var(self, axis, keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return reductions.max(self, axis, keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return reductions.min(self, axis, keepdims)

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        return shapes.reshape(self, *shape)

    def transpose(self, *axes: Any) -> Tensor:
        """The axes permuted: ``t.transpose(1, 0)`` or ``t.transpose((1, 0))``, as NumPy;
        reversed without arguments."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return shapes.transpose(self, axes or None)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return shapes.flatten(self, start_dim, end_dim)

    def squeeze(self, axis: Axis = None) -> Tensor:
        return shapes.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return shapes.unsqueeze(self, axis)

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        return shapes.broadcast_to(self, shape)


def _value(operand: object) -> Any:
    return operand.data if isinstance(operand, Tensor) else operand


from ..autograd import (  # noqa: E402  (all build on Tensor and Function, defined above)
    arithmetic,
    backprop,
    elementwise,
    reductions,
    shapes,
)
