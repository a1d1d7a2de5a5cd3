"""The chapter notebooks of tutorials/: each ``NN_name.py`` (cells in the "percent" format
Jupytext and VS Code read) is built into ``NN_name.ipynb`` and executed, so that the
notebook is stored with its outputs, pictures included, and reads well on GitHub.

    python tools/tutorials.py build              # every chapter, full size, outputs stored
    python tools/tutorials.py build 01 03        # the chapters whose names start so
    python tools/tutorials.py check              # each stored notebook is its source, run

A source is Python: ``# %%`` opens a code cell, ``# %% [markdown]`` a text cell whose lines
start with ``# ``. A chapter reads ``DEEPLEARNING_FAST`` (`FAST`): set to 1, it shrinks its
epochs, iterations and data, so that the tests run every chapter in seconds (``build --fast``
does the same here, for a look). ``check`` needs no kernel: it compares each notebook's cells
with its source's, and its outputs with a run's marks (every code cell executed, in order,
none in error), so a source edited and not rebuilt fails the tests.

Building needs the ``tutorials`` extra (nbformat, nbclient, ipykernel, matplotlib).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
FAST = "DEEPLEARNING_FAST"
"""The environment variable a chapter reads: ``1`` for the fast mode."""
CELL_TIMEOUT = 1800
"""Seconds a cell may run at full size (the GPT's chapter trains for minutes)."""


def sources(prefixes: list[str] | None = None) -> list[Path]:
    """The chapters' sources, in order; those whose names start with one of ``prefixes``."""
    found = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))
    if prefixes:
        found = [path for path in found if path.name.startswith(tuple(prefixes))]
    return found


def cells(source: Path) -> list[tuple[str, str]]:
    """The cells of a percent-format source: ``(kind, text)``, kind "code" or "markdown"."""
    found: list[tuple[str, list[str]]] = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            found.append(("markdown" if "[markdown]" in line else "code", []))
        elif found:
            kind, lines = found[-1]
            if kind == "markdown":  # "# text", or "#" alone for an empty line
                line = line[2:] if line.startswith("# ") else line.removeprefix("#")
            lines.append(line)
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in found]


def notebook(source: Path) -> Any:
    """The notebook of ``source``, not executed."""
    import nbformat

    new = nbformat.v4
    metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    made = [new.new_code_cell(text) if kind == "code" else new.new_markdown_cell(text)
            for kind, text in cells(source)]  # fmt: skip
    return new.new_notebook(cells=made, metadata=metadata)


def execute(source: Path, *, fast: bool, folder: Path | None = None) -> Any:
    """``source``'s notebook, executed top to bottom in ``folder`` (a temporary one if None),
    in the fast mode or not; an error in a cell raises nbclient's CellExecutionError."""
    from nbclient import NotebookClient

    made = notebook(source)
    previous = os.environ.get(FAST)
    os.environ[FAST] = "1" if fast else "0"  # the kernel inherits the environment
    try:
        with tempfile.TemporaryDirectory() as scratch:
            where = str(folder or scratch)
            client = NotebookClient(made, timeout=CELL_TIMEOUT, kernel_name="python3",
                                    resources={"metadata": {"path": where}})  # fmt: skip
            client.execute()
    finally:
        if previous is None:
            del os.environ[FAST]
        else:
            os.environ[FAST] = previous
    return made


def problems(source: Path) -> list[str]:
    """What is wrong with ``source``'s stored notebook: missing, its cells not the source's,
    a code cell not executed, out of order, or in error."""
    import nbformat

    stored = source.with_suffix(".ipynb")
    if not stored.exists():
        return [f"{stored.name} is missing: python tools/tutorials.py build {source.name[:2]}"]
    book = nbformat.read(stored, as_version=4)
    found = []
    if [(cell.cell_type, cell.source) for cell in book.cells] != cells(source):
        found.append(f"{stored.name} is not {source.name}: rebuild it")
    counts = [cell.get("execution_count") for cell in book.cells if cell.cell_type == "code"]
    if counts != list(range(1, len(counts) + 1)):
        found.append(f"{stored.name}: its code cells ran as {counts}, not once each in order")
    for i, cell in enumerate(book.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"{stored.name}: cell {i} ends in {output.get('ename')}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("build", "check"))
    parser.add_argument("chapters", nargs="*", help="name prefixes, such as 01 (default: all)")
    parser.add_argument("--fast", action="store_true", help="build in the fast mode")
    args = parser.parse_args(argv)
    chosen = sources(args.chapters)
    if not chosen:
        parser.error(f"no chapter in {TUTORIALS} starts with {' or '.join(args.chapters)}")
    if args.action == "check":
        found = [problem for source in chosen for problem in problems(source)]
        print("\n".join(found) or f"{len(chosen)} notebooks are their sources, executed")
        return 1 if found else 0
    import nbformat

    for source in chosen:
        print(f"{source.name} ...", flush=True)
        nbformat.write(execute(source, fast=args.fast), source.with_suffix(".ipynb"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
