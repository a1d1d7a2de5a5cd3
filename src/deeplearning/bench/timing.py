"""What the benchmarks share: an epoch as a function, timing it, PyTorch's threads and
version, and profiling where an epoch's time goes.

A workload is built once, as an `Epoch`: a function that runs one epoch over data held in
memory (or a short warm-up), so that only the training loop is timed.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
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


def package_version(package: str) -> str | None:
    """An installed package's version (``torch``, ``onnxruntime``), or None without it."""
    try:
        return str(importlib.import_module(package).__version__)
    except ImportError:
        return None


def torch_version() -> str | None:
    """PyTorch's version, or None when it is not installed."""
    return package_version("torch")


def profile_split(epoch: Epoch, parts: dict[str, Part]) -> dict[str, float]:
    """Seconds of one epoch, traced call by call (`sys.setprofile`), in each of ``parts`` and
    in ``"the rest"``.

    Each moment goes to the innermost running function that one of ``parts`` names: to that
    part while the function runs its own code, and while it runs what it calls if the part
    counts its calls; otherwise (the part counts its own time only) what it calls goes to the
    rest. A function of a part called by another part's function counts in its own part
    (attention's Linears are matrix products), however deep. Moments under no part's function
    go to the rest: the Python of the loop, and what own-time parts call (argument checks,
    bookkeeping, builtins). So the parts never overlap, and with the rest they add up to the
    traced time. The tracing adds a little time of its own, to every part alike."""
    owners = {f.__code__: (name, calls) for name, (functions, calls) in parts.items()
              for f in functions}  # fmt: skip
    split = dict.fromkeys([*parts, "the rest"], 0.0)
    here, below = ["the rest"], ["the rest"]  # per running function: its part, its calls' part
    last = time.perf_counter()

    def trace(frame: FrameType, event: str, _: object) -> None:
        nonlocal last
        split[here[-1]] += time.perf_counter() - last
        owner = owners.get(frame.f_code) if event == "call" else None
        if owner is not None:
            here.append(owner[0])
            below.append(owner[0] if owner[1] else "the rest")
        elif event in ("call", "c_call"):  # a function of no part: where its caller's calls go
            here.append(below[-1])
            below.append(below[-1])
        elif len(here) > 1:  # "return", "c_return", "c_exception"
            here.pop()
            below.pop()
        last = time.perf_counter()  # the tracing's own time goes nowhere

    sys.setprofile(trace)
    try:
        epoch(False)
    finally:
        sys.setprofile(None)
    return split


def format_split(split: dict[str, float]) -> str:
    """``name s (share)`` for each part, comma-separated."""
    total = sum(split.values())
    parts = [f"{name} {seconds:.3f} s ({seconds / total:.0%})" for name, seconds in split.items()]
    return ", ".join(parts)
