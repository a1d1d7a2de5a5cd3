"""The docs site (mkdocs.yml, tools/docs_hooks.py): it builds strictly, its home page is the
README, the chapters and the API reference are pages, and links written for GitHub are
pointed at the site's pages (or lose their target when the site has no such page)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from conftest import load_tool

REPO = Path(__file__).resolve().parents[1]


def load_hooks() -> ModuleType:
    pytest.importorskip("mkdocs", reason="the `docs` extra")
    return load_tool("docs_hooks")


def page(uri: str) -> SimpleNamespace:
    return SimpleNamespace(file=SimpleNamespace(src_uri=uri))


def test_links_are_pointed_at_the_sites_pages() -> None:
    hooks = load_hooks()
    text = ("[spec](../phase1.md), [tool](../tools/graduation.py), [web](https://x.org/a.md), "
            "[here](#set-up), ![picture](mnist.png), [chapter](../tutorials/01_backprop_by_hand"
            ".ipynb#exercises)")  # fmt: skip
    assert hooks.on_page_markdown(text, page("graduation.md"), {}, None) == (
        "[spec](phase1.md), tool, [web](https://x.org/a.md), [here](#set-up), "
        "![picture](mnist.png), [chapter](tutorials/01_backprop_by_hand.ipynb#exercises)"
    )
    assert hooks.on_page_markdown("[p2](docs/phase2.md)", page("phase1.md"), {}, None) == (
        "[p2](phase2.md)"
    )
    home = hooks.on_page_markdown("ignored", page("index.md"), {}, None)
    assert home.startswith("# deeplearning") and "](docs/" not in home
    assert "![LeNet5 trained here" in home and "](lenet5.png)" in home


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    for package in ("mkdocs", "material", "mkdocstrings", "mkdocs_jupyter"):
        pytest.importorskip(package, reason="the `docs` extra")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "The API at a glance" in home and 'href="tutorials/01_backprop_by_hand/"' in home
    assert 'href="training/"' in home  # docs/training.md, linked from the README
    assert (site / "tutorials" / "03_autograd_engine" / "index.html").is_file()
    assert (site / "phase1" / "index.html").is_file()
    layers = (site / "reference" / "layers" / "index.html").read_text(encoding="utf-8")
    assert "deeplearning.layers.linear" in layers and "in_features" in layers


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="argparse words its help differently in each Python; docs/cli.md is made with 3.11",
)
def test_the_cli_reference_is_current() -> None:
    tool = load_tool("cli_reference")
    page = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == tool.reference(), "docs/cli.md is stale: python tools/cli_reference.py"
    for command in tool.COMMANDS:
        assert f"## deeplearning {command}\n" in page
