"""Draw the package's folders and the imports between them: docs/architecture.{dot,svg}.

Every ``.py`` file under ``src/deeplearning`` is parsed with `ast` (nothing is imported or run),
and each ``import`` and ``from ... import`` naming a module of the package, relative or
absolute, at any depth of the file (inside functions and ``if TYPE_CHECKING:`` too), becomes an
edge from the importer's folder to the imported module's folder. The modules at the root of the
package (``__init__``, ``__main__``, the seed's ``neural_net``, ``losses``, ``mnist_mlp``...)
form one node, ``root``. Imports inside a folder are left out: the picture is of the folders.

The graph is written as Graphviz DOT, and, where Graphviz's ``dot`` is installed, rendered to
SVG. Arrows point from the importer to the imported, so the folders that import the others sit
above them and ``core`` at the bottom. The one cycle the import contracts allow (``core.tensor``
imports the engine's operations, `BACK_EDGES`) is drawn dashed and does not rank the folders;
any other cycle is drawn in red. The import contracts themselves, which `lint-imports` checks,
are in pyproject.toml under ``[tool.importlinter]``.

Run from the repository root::

    python tools/import_graph.py            # writes docs/architecture.dot and .svg
    python tools/import_graph.py --out /tmp/graph --check   # is docs/ up to date?

Only the two files ``architecture.dot`` and ``architecture.svg`` inside ``--out`` are written
(each through a temporary file in that folder, renamed into place); nothing else is touched.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "deeplearning"
ROOT = "root"
"""The node of the modules at the package's root, outside every folder."""

BACK_EDGES: Mapping[tuple[str, str], str] = {
    ("core", "autograd"): "Tensor's operators",
}
"""The import cycles on purpose (see ``ignore_imports`` in pyproject.toml), with their labels."""

PATHS = ("layers", "autograd")
"""The two paths over one core, drawn side by side in a box."""

Edges = dict[tuple[str, str], set[tuple[str, str]]]
"""(importer folder, imported folder) -> the (importer module, imported module) pairs."""


def module_name(path: Path, package_dir: Path) -> str:
    """The dotted name of the module in ``path``: ``core/tensor.py`` is deeplearning.core.tensor."""
    parts = [PACKAGE, *path.relative_to(package_dir).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(package_dir: Path) -> list[Path]:
    """Every ``.py`` file of the package, sorted, caches left out."""
    return sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)


def imported_names(
    tree: ast.AST, module: str, is_package: bool, modules: set[str]
) -> Iterator[str]:
    """The absolute names of what ``module`` imports: for ``from X import a``, ``X.a`` where it
    is one of ``modules`` (``from .. import layers`` imports the folder, not the root's
    ``__init__``), and ``X`` otherwise (``a`` is a name inside ``X``)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                name = f"{base}.{alias.name}"
                yield name if name in modules else base


def folder_of(module: str, folders: set[str]) -> str:
    """The folder a module of the package lives in, or `ROOT` for the modules at its root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in folders else ROOT


def package_layout(package_dir: Path) -> tuple[set[str], list[str]]:
    """The package's folders (sub-packages) and the names of its root modules."""
    folders = {p.parent.name for p in package_dir.glob("*/__init__.py")}
    roots = sorted(p.stem for p in package_dir.glob("*.py"))
    return folders, roots


def collect_edges(package_dir: Path) -> Edges:
    """The imports between the folders of the package in ``package_dir``, read with `ast`."""
    folders, _ = package_layout(package_dir)
    files = source_files(package_dir)
    modules = {module_name(path, package_dir) for path in files}
    edges: Edges = {}
    for path in files:
        importer = module_name(path, package_dir)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in imported_names(tree, importer, path.name == "__init__.py", modules):
            if name not in modules:  # a name inside a module, or outside the package
                continue
            source, target = folder_of(importer, folders), folder_of(name, folders)
            if source != target:
                edges.setdefault((source, target), set()).add((importer, name))
    return edges


def cycle_edges(edges: Edges) -> set[tuple[str, str]]:
    """The edges on a cycle other than those of `BACK_EDGES`: (a, b) such that a can be reached
    again from b without taking a back edge."""
    forward = [edge for edge in edges if edge not in BACK_EDGES]

    def reaches(start: str, goal: str) -> bool:
        seen, stack = {start}, [start]
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            for source, target in forward:
                if source == node and target not in seen:
                    seen.add(target)
                    stack.append(target)
        return False

    return {(a, b) for a, b in forward if reaches(b, a)}


def to_dot(edges: Edges, folders: set[str], roots: Sequence[str]) -> str:
    """The Graphviz DOT text of the folder graph."""
    on_cycle = cycle_edges(edges)
    lines = [
        "// Generated by tools/import_graph.py from the imports of src/deeplearning: do not edit.",
        "digraph deeplearning {",
        '  graph [rankdir=TB, nodesep=0.35, ranksep=0.5, fontname="Helvetica", fontsize=11,',
        '         labelloc=b, label="an arrow: the folder above imports the folder below'
        " (grey: into core)\\n"
        "dashed: the one cycle allowed (core/tensor.py imports the engine's operations)\"];",
        '  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica"];',
        '  edge [color="#555555", arrowsize=0.7, fontname="Helvetica", fontsize=10];',
    ]
    root_label = "root\\n" + "  ".join(roots)
    lines.append(f'  {ROOT} [label="{root_label}", fillcolor="#ffffff"];')
    paths = [p for p in PATHS if p in folders]
    if len(paths) == len(PATHS):
        lines.append("  subgraph cluster_paths {")
        lines.append('    label="the two paths"; style="rounded,dashed"; color="#888888";')
        lines.extend(f'    {p} [fillcolor="#dde8f5"];' for p in paths)
        lines.append("  }")
    for folder in sorted(folders - set(paths)):
        fill = "#e4f0dc" if folder == "core" else "#f5f5f5"
        lines.append(f'  {folder} [fillcolor="{fill}"];')
    for source, target in sorted(edges):
        if (source, target) in BACK_EDGES:
            label = BACK_EDGES[source, target]
            attrs = f'style=dashed, constraint=false, color="#1f5fa8", label=" {label}"'
            lines.append(f"  {source} -> {target} [{attrs}];")
        elif (source, target) in on_cycle:
            lines.append(f'  {source} -> {target} [color="#cc0000", penwidth=2];')
        elif target == "core":  # every folder stands on core: those arrows are drawn lighter
            lines.append(f'  {source} -> {target} [color="#b0b0b0"];')
        else:
            lines.append(f"  {source} -> {target};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_inside(out: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``out/name`` through a temporary file in ``out`` renamed into place
    (a link at ``out/name`` is replaced, never written through), readable as the umask says."""
    target = out / name
    fd, temporary = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's file is private; a drawing is not
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def render_svg(dot_text: str) -> bytes | None:
    """The SVG Graphviz draws of ``dot_text``, or None where ``dot`` is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    done = subprocess.run(
        [dot, "-Tsvg"], input=dot_text.encode(), capture_output=True, check=True, timeout=60
    )
    return done.stdout


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``architecture.dot`` (and ``architecture.svg`` where ``dot`` exists) into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--src", type=Path, default=REPO / "src" / PACKAGE, help="the package folder to read"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "docs", help="the folder to write into (must exist)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if --out's architecture.dot differs from the tree's graph",
    )
    args = parser.parse_args(argv)
    if not (args.src / "__init__.py").is_file():
        parser.error(f"{args.src} is not a package folder (it has no __init__.py)")
    if not args.out.is_dir():
        parser.error(f"{args.out} is not a folder")

    folders, roots = package_layout(args.src)
    dot_text = to_dot(collect_edges(args.src), folders, roots)
    if args.check:
        current = args.out / "architecture.dot"
        if not current.is_file() or current.read_text(encoding="utf-8") != dot_text:
            print(f"{current} is out of date: run python tools/import_graph.py", file=sys.stderr)
            return 1
        return 0

    print(write_inside(args.out, "architecture.dot", dot_text.encode()))
    svg = render_svg(dot_text)
    if svg is None:
        print("Graphviz's dot is not installed: no SVG drawn", file=sys.stderr)
    else:
        print(write_inside(args.out, "architecture.svg", svg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
