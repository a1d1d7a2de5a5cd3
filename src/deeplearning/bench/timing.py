"""What the benchmarks share: an epoch as a function, timing it, PyTorch's threads and
version, and profiling where an epoch's time goes.

A workload is built once, as an `Epoch`: a function that runs one epoch over data held in
memory (or a short warm-up), so that only the training loop is timed.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

Epoch = Callable[[bool], None]
"""Runs one epoch of a workload, or a short warm-up if its argument is True."""

WARMUP_BATCHES = 50


Part = tuple[list[Callable[..., Any]], bool]
"""Functions whose time makes one part of a profile, and whether what they call counts too."""


def timed(epoch: Epoch) -> float:
    """The wall-clock seconds of one full epoch (not a warm-up)."""
    start = time.perf_counter()
    epoch(False)
    return time.perf_counter() - start


def listed(seconds: list[float]) -> str:
    """The seconds of every run, to three decimals, comma-separated."""
    return ", ".join(f"{s:.3f}" for s in seconds)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """PyTorch's intra-op threads set to ``threads`` inside the block (None: left alone)."""
    try:
        import torch
    except ImportError:
        torch = None
    if threads is None or torch is None:
        yield
        return
    default = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(default)


def torch_version() -> str | None:
    """PyTorch's version, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


def profile_split(epoch: Epoch, parts: dict[str, Part]) -> dict[str, float]:
    """Seconds of one epoch run under cProfile, in each of ``parts`` (their functions' time,
    with or without the calls they make), and ``"the rest"``: everything else, the Python of
    the loop included. Profiling adds a little time of its own, to every part alike."""
    profile = cProfile.Profile()
    profile.runcall(epoch, False)
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in stats.values())
    split = {}
    for name, (functions, with_calls) in parts.items():
        keys = {(f.__code__.co_filename, f.__code__.co_firstlineno, f.__name__) for f in functions}
        column = 3 if with_calls else 2  # cumulative or own time
        split[name] = sum(float(entry[column]) for key, entry in stats.items() if key in keys)
    split["the rest"] = total - sum(split.values())
    return split


def format_split(split: dict[str, float]) -> str:
    """``name s (share)`` for each part, comma-separated."""
    total = sum(split.values())
    parts = [f"{name} {seconds:.3f} s ({seconds / total:.0%})" for name, seconds in split.items()]
    return ", ".join(parts)
