"""Validation: one checker per kind of argument, each a one-line call at the top of a public
function, so that a wrong value fails before any work with a message that says what was
expected, what came and how to fix it.

- numbers and counts: `check_number` (a finite real in a range), `check_int` (an int >= low);
- switches, choices and seeds: `check_flag`, `check_choice`, `check_rng`; dtypes:
  `float_dtype`;
- arrays: `as_real_array`, `check_nonempty_batch`; classification targets: `check_targets`,
  `check_class_labels`;
- layer options that two paths share: `check_dropout_probability`, `check_batch_norm_options`,
  `as_normalized_shape` and `check_normalized_input` (layer normalisation), `as_indices`
  (an embedding's input).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .types import Array


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """The range ``[low, high)``, ``> low``, ... in words, for the messages."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def check_number(
    value: Any,
    name: str,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    example: str,
    why: str = "",
) -> None:
    """Refuse a hyperparameter that is not a finite real number in the given range.

    Parameters
    ----------
    value
        What the caller passed.
    name, where : str
        The argument's name and its owner (``"lr"``, ``"SGD"``), for the message.
    low, high : float or None
        The bounds (None: unbounded); ``low_open``/``high_open`` exclude them.
    example : str
        A valid setting to suggest, such as ``"lr=0.01"``.
    why : str
        Why the range, appended to the message (optional).

    Raises
    ------
    TypeError
        ``value`` is not an int or float (a bool, a string, None, an array, ...).
    ValueError
        ``value`` is NaN, infinite or out of the range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{where}: {name} must be a real number (int or float), got "
            f"{type(value).__name__} {value!r}; pass e.g. {example}"
        )
    number = float(value)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or too_low or too_high:
        expected = " ".join(
            filter(None, ["a finite number", _interval(low, high, low_open, high_open)])
        )
        raise ValueError(
            f"{where}: {name} must be {expected}, got {value}{why}; pass e.g. {example}"
        )


def check_int(
    value: Any, name: str, where: str, *, low: int = 1, example: str = "", why: str = ""
) -> None:
    """Refuse a count (a size, a number of steps or epochs, a step number) that is not an int
    ``>= low``.

    Parameters
    ----------
    value
        What the caller passed.
    name, where : str
        The argument's name and its owner (``"in_features"``, ``"Linear"``), for the message.
    low : int
        The smallest valid value (1 for a size, 0 for a step number).
    example, why : str
        A valid setting to suggest (``"epochs=5"``) and why the bound, both optional.

    Raises
    ------
    TypeError
        ``value`` is not an int (a bool, a float, a string, None, ...).
    ValueError
        ``value < low``.
    """
    hint = f"; pass e.g. {example}" if example else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{where}: {name} must be an int, got {type(value).__name__} {value!r}{hint}"
        )
    if value < low:
        raise ValueError(f"{where}: {name} must be an int >= {low}, got {value}{why}{hint}")


def check_flag(value: Any, name: str, where: str) -> None:
    """Refuse a switch that is not a bool (``nesterov="yes"``, ``amsgrad=1``, ``train("no")``):
    a truthy string would silently mean True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{where}: {name} must be True or False, got {type(value).__name__} {value!r}; "
            f"pass {name}=True or {name}=False"
        )


def check_rng(rng: object) -> None:
    """Refuse (TypeError) what `numpy.random.default_rng` would take for no seed: a seed is an
    int (not a bool), a Generator, BitGenerator or SeedSequence, or None; and (ValueError) a
    negative int."""
    seeds = (int, np.integer, np.random.Generator, np.random.BitGenerator, np.random.SeedSequence)
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, seeds)):
        raise TypeError(
            f"rng must be a seed (an int >= 0), a numpy.random.Generator or None, got "
            f"{type(rng).__name__} {rng!r}; pass e.g. rng=0 or rng=np.random.default_rng(0)"
        )
    if isinstance(rng, (int, np.integer)) and rng < 0:
        raise ValueError(f"rng must be a seed >= 0 (NumPy's generators take no negative "
                         f"seeds), got {rng}; pass e.g. rng=0")  # fmt: skip


def float_dtype(dtype: DTypeLike, who: str) -> np.dtype[Any]:
    """``dtype`` as a NumPy dtype, refused (TypeError) unless it is a real floating type: a
    layer's parameters must hold fractions (integer weights would round to 0 or jump)."""
    try:
        checked: np.dtype[Any] = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{who}: dtype must be a float type, got {dtype!r}") from None
    if checked.kind != "f":
        raise TypeError(
            f"{who}: dtype must be a float type such as np.float32 (the default) or np.float64, "
            f"got {checked}"
        )
    return checked


def as_real_array(data: ArrayLike, who: str, dtype: DTypeLike | None = None) -> Array:
    """``data`` as an array of real floats, the input rule of every layer and loss.

    Floats are cast to ``dtype`` (a layer's parameter dtype) or, without one, kept as they
    are; integers and booleans become floats of ``dtype`` (float32 without one), exactly (for
    the values the float holds). Complex numbers are refused rather than cast (which would
    drop the imaginary part), and so are strings, objects and dates, rather than parsed.

    Raises
    ------
    TypeError
        If ``data`` is not real numbers.
    """
    array = np.asarray(data)
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(
            f"{who} expects real floats but got complex dtype {array.dtype}: casting would "
            "discard the imaginary part. Pass x.real or np.abs(x) if that is what you mean."
        )
    if kind not in "fiub":
        raise TypeError(
            f"{who} expects real floats (or integers or booleans, converted to floats) but got "
            f"dtype {array.dtype}. Convert the data first, e.g. np.asarray(x, dtype=np.float32)."
        )
    if dtype is None:
        dtype = array.dtype if kind == "f" else np.float32
    return array.astype(dtype, copy=False)


def check_nonempty_batch(shape: tuple[int, ...], who: str, what: str = "input") -> None:
    """Refuse an empty batch (N = 0) or samples with no values, where a mean over them would
    be 0 / 0."""
    if len(shape) and 0 in shape:
        raise ValueError(
            f"{who} needs a batch of at least one sample, each with at least one value, but got "
            f"{what} of shape {shape}: the mean over no values is undefined."
        )


def check_targets(who: str, logits: Array, target: ArrayLike) -> Array:
    """Check classification targets against logits (N, C) and return them as an array.

    Either integer class labels (N,) in [0, C), or class probabilities (N, C): finite real
    numbers >= 0, converted to the logits' dtype (rows need not sum to 1; see
    `CrossEntropyLoss` for the gradient then). Shared by `CrossEntropyLoss` and the engine's
    ``cross_entropy``.

    Raises
    ------
    ValueError
        If the shapes do not fit, the batch is empty (N = 0: the mean loss would be 0 / 0),
        there are no classes (C = 0), a label is out of range, or a probability is negative,
        NaN or infinite.
    TypeError
        If labels are not integers, or probabilities are not real numbers.
    """
    targets = np.asarray(target)
    if logits.ndim != 2:
        raise ValueError(f"{who} expected logits of shape (N, C) but got {logits.shape}.")
    n, num_classes = logits.shape
    if n == 0:
        raise ValueError(
            f"{who} needs a batch of at least one sample but got logits of shape "
            f"{logits.shape}: the mean loss over no samples is undefined."
        )
    if num_classes == 0:
        raise ValueError(f"{who} needs at least one class but got logits of shape {logits.shape}.")
    if targets.shape[:1] != (n,):
        raise ValueError(
            f"{who} got {n} rows of logits but targets of shape {targets.shape}: the batch "
            "sizes must agree."
        )
    if targets.ndim == 1:
        check_class_labels(targets, num_classes)
        return targets
    if targets.shape == logits.shape:
        probabilities = as_real_array(targets, f"{who} (class probabilities)", logits.dtype)
        if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0:
            raise ValueError(
                f"{who}: class probabilities must be finite numbers >= 0, got values from "
                f"{np.nanmin(probabilities)} to {np.nanmax(probabilities)}"
                f"{' and NaN' if np.isnan(probabilities).any() else ''}"
            )
        return probabilities
    raise ValueError(
        f"{who} expected targets of shape ({n},) (class labels) or {logits.shape} (class "
        f"probabilities) but got {targets.shape}."
    )


def check_class_labels(labels: Array, num_classes: int) -> None:
    """Check that labels are integers in [0, num_classes): a TypeError or a ValueError that
    shows the first labels out of range. Shared by the losses and `confusion_matrix`."""
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"class labels must be integers but got dtype {labels.dtype}. Convert them with "
            "labels.astype(np.int64), or pass class probabilities of shape (N, C)."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        raise ValueError(
            f"class labels must lie in [0, {num_classes}) for {num_classes} classes but got "
            f"{bad[:5].tolist()}. Check the number of output classes of the model."
        )


def check_batch_norm_options(eps: object, momentum: object, where: str) -> None:
    """Refuse a batch normalisation's ``eps`` unless it is a finite number > 0 (0 would divide
    by zero on a constant channel) and its ``momentum`` unless it is a number in [0, 1] (the
    weight of the batch in the running statistics; ``None``, PyTorch's cumulative average, is
    not supported).

    Raises
    ------
    TypeError
        Either is not a real number (a bool, a string, None, ...).
    ValueError
        Either is NaN, infinite or out of its range.
    """
    for name, value, expected, example in (
        ("eps", eps, "a finite number > 0", "eps=1e-5"),
        ("momentum", momentum, "a number in [0, 1]", "momentum=0.1"),
    ):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            unsupported = " (the cumulative average, momentum=None, is not supported)"
            raise TypeError(
                f"{where}: {name} must be a real number (int or float), got "
                f"{type(value).__name__} {value!r}{unsupported if value is None else ''}; "
                f"pass e.g. {example}"
            )
        number = float(value)
        valid = number > 0 and math.isfinite(number) if name == "eps" else 0 <= number <= 1
        if not valid:
            raise ValueError(
                f"{where}: {name} must be {expected}, got {value}; pass e.g. {example}"
            )


def check_dropout_probability(p: float) -> None:
    """Refuse a dropout probability that is not a number in [0, 1] (NaN included)."""
    given: object = p  # what came, whatever it is
    if isinstance(given, bool) or not isinstance(given, numbers.Real):
        raise TypeError(f"dropout probability must be a number in [0, 1], got {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")


def real_numbers(data: ArrayLike) -> Array:
    """``data`` as an ndarray of real numbers (floats, integers or booleans), as it is; a
    TypeError for anything else: strings, None and other objects, complex numbers (whose
    imaginary part a cast would drop), or ragged lists."""
    try:
        array = np.asarray(data)
    except ValueError as error:  # ragged nested lists
        raise TypeError(f"a Tensor holds a rectangular array of numbers: {error}") from None
    if array.dtype.kind not in "fbiu":
        raise TypeError(
            f"a Tensor holds real numbers, but got dtype {array.dtype}. Convert the data first, "
            "e.g. np.asarray(data, dtype=np.float32)."
        )
    return array


def check_choice(value: Any, name: str, where: str, choices: tuple[str, ...]) -> None:
    """Refuse an option that is not one of the strings ``choices`` (a TypeError for a
    non-string, a ValueError for another string)."""
    listed = " or ".join(repr(choice) for choice in choices)
    if not isinstance(value, str):
        raise TypeError(f"{where}: {name} must be {listed}, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(f"{where}: {name} must be {listed}, got {value!r}")


def as_normalized_shape(value: Any, where: str) -> tuple[int, ...]:
    """A layer normalisation's ``normalized_shape`` as a tuple of sizes: an int ``n`` is
    ``(n,)``; a tuple or list must hold ints >= 1, at least one (a TypeError or a
    ValueError otherwise)."""
    sizes = (value,) if isinstance(value, (int, np.integer)) else value
    if not isinstance(sizes, (tuple, list)):
        raise TypeError(
            f"{where}: normalized_shape must be an int or a tuple of ints (the trailing "
            f"dimensions to normalize), got {type(value).__name__} {value!r}"
        )
    if not sizes:
        raise ValueError(f"{where}: normalized_shape must name at least one dimension, got ()")
    for size in sizes:
        check_int(size, "each size of normalized_shape", where, example="normalized_shape=(64,)")
    return tuple(int(size) for size in sizes)


def check_normalized_input(
    shape: tuple[int, ...], normalized_shape: tuple[int, ...], where: str
) -> None:
    """Refuse an input to layer normalisation whose last dimensions are not
    ``normalized_shape`` (a ValueError, with PyTorch's shape notation)."""
    k = len(normalized_shape)
    if len(shape) < k or tuple(shape[len(shape) - k :]) != normalized_shape:
        sizes = ", ".join(str(n) for n in normalized_shape)
        raise ValueError(
            f"{where} expected input of shape (*, {sizes}), normalized over its last {k} "
            f"dimension(s) (normalized_shape={normalized_shape}), but got {tuple(shape)}."
        )


def as_indices(indices: Any, num_embeddings: int, where: str) -> Array:
    """Embedding indices as an integer array, each in [0, num_embeddings).

    Raises
    ------
    TypeError
        They are not integers (floats, booleans, strings, ...).
    IndexError
        One is negative or >= ``num_embeddings`` (the first few are shown), as PyTorch.
    """
    array = np.asarray(indices)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"{where} takes integer indices (an integer array of any shape), got dtype "
            f"{array.dtype}. Convert them, e.g. indices.astype(np.int64)."
        )
    if array.size and (array.min() < 0 or array.max() >= num_embeddings):
        bad = array[(array < 0) | (array >= num_embeddings)]
        raise IndexError(
            f"{where}: indices must lie in [0, {num_embeddings}) for {num_embeddings} "
            f"embeddings, got {bad[:5].tolist()} (negative indices do not count from the end)."
        )
    return array


def non_finite(array: Array) -> tuple[int, tuple[int, ...]] | None:
    """How many of ``array``'s values are NaN or infinite, and the index of the first; None
    when all are finite or it holds no floating-point numbers. The callers word the error:
    weights about to be saved or loaded, each a different story."""
    if array.dtype.kind not in "fc":
        return None
    bad = ~np.isfinite(array)
    if not bad.any():
        return None
    return int(bad.sum()), tuple(int(i) for i in np.argwhere(bad)[0])
