"""The chapters of tutorials/ (tools/tutorials.py): each stored notebook is its source,
executed once, in order, without errors; and each runs top to bottom in the fast mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import load_tool

TOOL = load_tool("tutorials")
CHAPTERS = TOOL.sources()
NEEDS_DATA = ("02", "04", "05", "06")
"""The chapters that read real data sets (MNIST, tiny Shakespeare, names)."""


def test_there_are_six_chapters_and_each_has_its_notebook() -> None:
    assert [path.name[:2] for path in CHAPTERS] == ["01", "02", "03", "04", "05", "06"]
    for source in CHAPTERS:
        assert source.with_suffix(".ipynb").exists(), source.name


@pytest.mark.parametrize("source", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_the_stored_notebook_is_its_source_executed(source: Path) -> None:
    pytest.importorskip("nbformat", reason="the `tutorials` extra")
    assert TOOL.problems(source) == []


@pytest.mark.parametrize("source", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_the_chapter_runs_in_the_fast_mode(source: Path, tmp_path: Path) -> None:
    for package in ("nbclient", "ipykernel", "matplotlib"):
        pytest.importorskip(package, reason="the `tutorials` extra")
    if source.name.startswith(NEEDS_DATA) and not os.environ.get("DEEPLEARNING_DATA"):
        pytest.skip("this chapter reads real data: set DEEPLEARNING_DATA")
    book = TOOL.execute(source, fast=True, folder=tmp_path)  # a cell's error raises
    counts = [cell.execution_count for cell in book.cells if cell.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))


def test_a_source_edited_and_not_rebuilt_is_caught(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("nbformat", reason="the `tutorials` extra")
    source = tmp_path / "01_x.py"
    source.write_text("# %% [markdown]\n# # Title\n\n# %%\nprint(1)\n")
    assert TOOL.cells(source) == [("markdown", "# Title"), ("code", "print(1)")]
    assert "is missing" in TOOL.problems(source)[0]
    import nbformat

    book = TOOL.notebook(source)
    book.cells[1].execution_count = 1
    nbformat.write(book, source.with_suffix(".ipynb"))
    assert TOOL.problems(source) == []
    source.write_text("# %% [markdown]\n# # Title\n\n# %%\nprint(2)\n")
    assert TOOL.problems(source) == ["01_x.ipynb is not 01_x.py: rebuild it"]
    book.cells[1].execution_count = None
    nbformat.write(book, source.with_suffix(".ipynb"))
    source.write_text("# %% [markdown]\n# # Title\n\n# %%\nprint(1)\n")
    assert TOOL.problems(source) == [
        "01_x.ipynb: its code cells ran as [None], not once each in order"
    ]
