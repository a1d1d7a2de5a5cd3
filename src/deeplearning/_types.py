"""Type aliases shared by every module, and the few small rules that go with them: where
weights come from when no ``rng`` is given (`as_generator`), and what an array input may be
(`as_real_array`)."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

Array = NDArray[Any]
"""A NumPy array of floats; the batch dimension comes first."""

RNG = Union[int, np.random.Generator, None]
"""A seed, a generator, or None: a generator seeded from NumPy's global random state, so that
``np.random.seed`` makes runs repeatable (see `as_generator`)."""

PathLike = Union[str, "os.PathLike[str]"]
"""A file path: a string or a `pathlib.Path`."""


def as_generator(rng: RNG) -> np.random.Generator:
    """The generator for ``rng``: a seed gives ``np.random.default_rng(seed)``, a generator is
    returned as it is, and None gives a generator seeded with 128 bits drawn from NumPy's
    global random state (the legacy ``np.random`` functions').

    So without ``rng``, ``np.random.seed(0)`` before building a model makes its weights (and
    whatever else the generator drives, such as dropout masks) repeatable, and an unseeded
    program still gets fresh weights each run. The draw advances the global state: two models
    built one after the other differ. Passing an explicit ``rng`` remains the recommended way,
    since it does not depend on what else has used the global state.
    """
    if rng is None:  # the legacy global state, on purpose: it is what np.random.seed sets
        seed = np.random.randint(0, 2**32, size=4, dtype=np.uint32)  # noqa: NPY002
        return np.random.default_rng(seed)
    check_rng(rng)
    return np.random.default_rng(rng)


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
    int (not a bool), a Generator, BitGenerator or SeedSequence, or None."""
    seeds = (int, np.integer, np.random.Generator, np.random.BitGenerator, np.random.SeedSequence)
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, seeds)):
        raise TypeError(
            f"rng must be a seed (an int >= 0), a numpy.random.Generator or None, got "
            f"{type(rng).__name__} {rng!r}; pass e.g. rng=0 or rng=np.random.default_rng(0)"
        )


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


def check_positive_int(name: str, value: Any, who: str) -> None:
    """Refuse a size (``in_features``, ``out_channels``, ...) that is not an int >= 1, so a
    zero-sized layer fails when it is built, not later with a division by zero."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")


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
