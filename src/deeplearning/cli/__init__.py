"""The command line, ``python -m deeplearning`` (or ``deeplearning``): ``train``, ``evaluate``
and ``bench``, and the pictures ``train --plot`` draws (`plots`)."""

from .commands import main

__all__ = ["main"]
