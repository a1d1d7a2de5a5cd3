"""docs/cli.md, the command line's reference: each command's ``--help``, as argparse prints
it, under a heading of its own. ``tests/test_docs_site.py`` fails when the page is stale.

    python tools/cli_reference.py            # rewrites docs/cli.md
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deeplearning.cli.parser import build_parser

PAGE = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
COMMANDS = ("train", "evaluate", "sample", "export", "bench")
WIDTH = "100"
"""The columns argparse wraps the help to (it reads ``COLUMNS``), so the page is the same on
every terminal."""


def reference() -> str:
    """The page's text."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        parser = build_parser()
        helps = {"deeplearning": parser.format_help()}
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        for name in COMMANDS:
            helps[f"deeplearning {name}"] = commands.choices[name].format_help()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    parts = [
        "# The command line\n",
        "`python -m deeplearning COMMAND --help` prints each of these; this page is made from "
        "them by `tools/cli_reference.py`. What the commands print and reach: "
        "[training](training.md), [language models](language_models.md), "
        "[graduation](graduation.md) and [performance](performance.md).\n",
    ]
    for title, text in helps.items():
        parts.append(f"## {title}\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def main() -> int:
    PAGE.write_text(reference(), encoding="utf-8")
    print(PAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
