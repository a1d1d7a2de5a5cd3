"""A machine busy with other work, simulated: a second process spinning on one core beside a
benchmark (``python -m deeplearning bench --busy``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

BUSY_NOTE = "a second process spun on one core throughout (bench --busy)"
SPINNER = """import os, sys
while os.getppid() == int(sys.argv[1]):  # until it is killed, or its parent dies
    for _ in range(100_000):
        pass
"""
"""The busy process of `busy_core`: Python spinning on one core, checking every few
milliseconds that the benchmark that started it (whose process id it is given) is still
its parent."""


@contextmanager
def busy_core(busy: bool = True) -> Iterator[subprocess.Popen[bytes] | None]:
    """Inside the block, a second Python process spinning on one core, as on a machine busy
    with other work (yields it; None when ``busy`` is False). Thread settings that wait for
    every thread, as BLAS does, slow down most on such a machine: a thread that shares its core
    with the spinner holds up the others.

    The spinner is killed when the block ends, also on an error or Ctrl-C; it runs in a
    session of its own, without the terminal (so Ctrl-C reaches only the benchmark), and ends
    by itself if the benchmark is killed outright."""
    if not busy:
        yield None
        return
    spinner = None
    try:
        spinner = subprocess.Popen(
            [sys.executable, "-c", SPINNER, str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        yield spinner
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
