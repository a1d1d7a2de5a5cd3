"""The command line, ``python -m deeplearning`` (or ``deeplearning``): its options (`parser`),
the checks of the files ``train`` writes (`outputs`), what ``train``, ``evaluate`` and
``bench`` do (`commands`, where `main` is), the language models' commands (`text_commands`,
`text_sample`), ``export`` (`export`), and the pictures ``train --plot`` draws (`plots`,
`text_plots`)."""

from .commands import main

__all__ = ["main"]
