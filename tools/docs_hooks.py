"""MkDocs hooks (mkdocs.yml's ``hooks``): the site is made from the repository as it is.

- The specification ``phase1.md`` and the chapter notebooks ``tutorials/*.ipynb`` live outside
  ``docs/``: `on_files` adds them to the site, before mkdocs-jupyter converts the notebooks.
- The home page is the README: ``docs/index.md`` only stands in for it (`on_page_markdown`).
- The pages link to files by their places in the repository, as GitHub shows them
  (``../phase1.md``, ``docs/mnist.png``, ``../tools/graduation.py``): each link is pointed at
  the site's page or picture for that file, and a link to a file the site does not have (a
  source file) keeps its text and loses its target.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = [
    "phase1.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("tutorials/*.ipynb")),
]
"""The site's pages that are not in docs/, by their paths in the repository (and the site)."""
LINK = re.compile(r"(!?)\[([^\]\n]*)\]\(([^)\s]+)\)")


# Priority 100: before mkdocs-jupyter's on_files, which converts the notebooks.
@event_priority(100)  # type: ignore[untyped-decorator]
def on_files(files: Files, config: Any) -> Files:
    for path in OUTSIDE:
        files.append(File(path, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def site_path(repository_path: str) -> str | None:
    """Where a file of the repository is on the site (relative to its root), or None."""
    if repository_path.startswith("docs/"):
        return repository_path[len("docs/") :]
    return repository_path if repository_path in OUTSIDE else None


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    uri = page.file.src_uri
    if uri == "index.md":
        markdown, source = (ROOT / "README.md").read_text(encoding="utf-8"), "README.md"
    else:
        source = uri if uri in OUTSIDE else f"docs/{uri}"

    def point(match: re.Match[str]) -> str:
        bang, text, target = match[1], match[2], match[3]
        if re.match(r"[a-z]+:|#", target):  # a web address, or an anchor on the page
            return match[0]
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
        site = site_path(resolved)
        if site is None:
            return text if not bang else f"{bang}[{text}]({target})"
        relative = posixpath.relpath(site, posixpath.dirname(uri) or ".")
        return f"{bang}[{text}]({relative}{'#' + anchor if anchor else ''})"

    return LINK.sub(point, markdown)
