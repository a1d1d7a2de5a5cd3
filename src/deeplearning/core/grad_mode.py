"""Whether operations record the graph (`grad_mode`, `no_grad`), per thread, and the count of
backward passes (`passes`), which tells an optimizer whether a gradient is newer than the one
its last step applied."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Generator
from contextlib import ContextDecorator
from typing import Any, Callable, TypeVar, cast

_F = TypeVar("_F", bound=Callable[..., Any])


class _GradMode(threading.local):
    """Whether operations record the graph now (`no_grad` turns it off), for each thread apart,
    as in PyTorch: one thread inside ``no_grad()`` leaves the others recording."""

    enabled = True

    def __init__(self) -> None:  # runs once in each thread that uses it
        self.previous: list[bool] = []  # the modes to restore: blocks nest, decorators recurse


recording = _GradMode()
"""This thread's mode: ``recording.enabled`` (read by every operation)."""


class grad_mode(ContextDecorator):  # noqa: N801  (lower case, as torch.set_grad_enabled)
    """Record the graph (``enabled=True``) or not inside the block (or the decorated function);
    restore the mode after."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        recording.previous.append(recording.enabled)
        recording.enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        recording.enabled = recording.previous.pop()

    def __call__(self, function: _F) -> _F:
        """Decorate ``function``; a generator function gets the mode at each step of its
        iteration (where its body runs), as PyTorch's decorators do."""
        if not inspect.isgeneratorfunction(function):
            return super().__call__(function)

        @functools.wraps(function)
        def generator(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            steps = function(*args, **kwargs)
            sent = None
            while True:
                with type(self)(*self._arguments()):
                    try:
                        item = steps.send(sent)
                    except StopIteration as stop:
                        return stop.value
                sent = yield item

        return cast("_F", generator)

    def _arguments(self) -> tuple[bool, ...]:
        """The arguments that make a copy of this context (``no_grad`` takes none)."""
        return (self.enabled,)


class no_grad(grad_mode):  # noqa: N801  (lower case, as torch.no_grad)
    """Record no graph: as a context manager (``with no_grad(): ...``) or a decorator.

    Inside, operations compute their outputs only: nothing is saved for a backward pass, so
    evaluation is faster and takes less memory.
    """

    def __init__(self) -> None:
        super().__init__(False)

    def _arguments(self) -> tuple[bool, ...]:
        return ()


def is_grad_enabled() -> bool:
    """Whether operations record the graph now."""
    return recording.enabled


class _Passes:
    """The backward passes so far, counted, so that a step applies each gradient once."""

    number = 0
    """The pass that gradients are written in now."""
    wrote = False
    """Whether that pass has written a gradient (the next layer forward then starts another)."""


passes = _Passes()


def begin_backward_pass() -> None:
    """Start a backward pass (the engine calls it: each ``backward()`` is one)."""
    passes.number += 1
    passes.wrote = True
