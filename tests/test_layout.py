"""The layout of the source tree: what a reader who opens it may count on.

- no two source files share a name (``__init__.py`` aside), so a name says which file;
- no source file is longer than 500 lines;
- no operation of the engine (a `Function`) has the name of a module (a `Module`), so
  ``Linear`` or ``Conv2d`` is always the module;
- the imports keep the import contracts of pyproject.toml (``lint-imports``);
- tools/import_graph.py, which draws docs/architecture.svg, finds the folders' imports and the
  drawing in docs/ is up to date.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pytest

import deeplearning
from deeplearning.core.function import Function
from deeplearning.core.module import Module

from conftest import load_tool

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO / "src" / "deeplearning"
MAX_LINES = 500

pytestmark = pytest.mark.skipif(
    not PACKAGE_DIR.is_dir(), reason="the source tree is not beside the tests (an installed copy)"
)


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_two_source_files_share_a_name() -> None:
    places: dict[str, list[str]] = defaultdict(list)
    for path in source_files():
        if path.name != "__init__.py":
            places[path.name].append(str(path.relative_to(PACKAGE_DIR)))
    shared = {name: paths for name, paths in places.items() if len(paths) > 1}
    assert not shared, f"source files sharing a name: {shared}"


def test_no_source_file_is_over_500_lines() -> None:
    long = {}
    for path in source_files():
        with path.open(encoding="utf-8") as handle:
            count = sum(1 for _ in handle)
        if count > MAX_LINES:
            long[str(path.relative_to(PACKAGE_DIR))] = count
    assert not long, f"source files over {MAX_LINES} lines: {long}"


OPTIONAL = {"deeplearning.interop.torch_modules": "torch"}
"""The modules that import an optional extra at their top, and the package it is."""


def all_modules() -> list[ModuleType]:
    """Every module of the package, imported (``__main__`` aside: importing it runs the CLI;
    and those of `OPTIONAL` whose package is not installed)."""
    modules = [deeplearning]
    for info in pkgutil.walk_packages(deeplearning.__path__, prefix="deeplearning."):
        needs = OPTIONAL.get(info.name)
        if needs is not None and importlib.util.find_spec(needs) is None:
            continue
        if info.name.rpartition(".")[2] != "__main__":
            modules.append(importlib.import_module(info.name))
    return modules


def test_no_operation_has_the_name_of_a_module() -> None:
    functions: dict[str, set[str]] = defaultdict(set)
    modules: dict[str, set[str]] = defaultdict(set)
    for module in all_modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue  # imported here, counted where it is defined
            where = f"{cls.__module__}.{cls.__qualname__}"
            if issubclass(cls, Function):
                functions[cls.__name__].add(where)
            if issubclass(cls, Module):
                modules[cls.__name__].add(where)
    assert functions, "no Function subclass found: is the engine imported?"
    assert modules, "no Module subclass found"
    clashes = {name: sorted(functions[name] | modules[name]) for name in functions.keys() & modules}
    assert not clashes, f"a Function and a Module share a name: {clashes}"


def test_the_import_contracts_hold() -> None:
    if importlib.util.find_spec("importlinter") is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    command = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"
    done = subprocess.run(
        [sys.executable, "-c", command, "--no-cache"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def load_import_graph() -> ModuleType:
    return load_tool("import_graph")


def test_the_import_graph_of_the_folders() -> None:
    graph = load_import_graph()
    edges = graph.collect_edges(PACKAGE_DIR)
    for upper in ("layers", "autograd", "optim", "data", "training", "cli", "bench"):
        assert (upper, "core") in edges, f"{upper} does not import core"
    assert ("training", "layers") in edges and ("training", "autograd") in edges
    assert ("cli", "bench") in edges and ("bench", "training") in edges
    # The two paths never meet, and core imports neither the layers nor anything above them.
    assert ("layers", "autograd") not in edges and ("autograd", "layers") not in edges
    assert not [edge for edge in edges if edge[0] == "core" and edge[1] != "autograd"]
    # The one cycle: core/tensor.py imports the engine's operations, and nothing but it does.
    assert {importer for importer, _ in edges["core", "autograd"]} == {"deeplearning.core.tensor"}
    assert not graph.cycle_edges(edges)
    # Nothing in a folder imports the root modules (the public API and the seed's shims).
    assert not [edge for edge in edges if edge[1] == "root"]


def test_the_drawing_in_docs_is_up_to_date(tmp_path: Path) -> None:
    graph = load_import_graph()
    assert graph.main(["--out", str(REPO / "docs"), "--check"]) == 0, (
        "docs/architecture.dot is out of date: run python tools/import_graph.py"
    )
    # And a run writes into --out only.
    assert graph.main(["--out", str(tmp_path)]) == 0
    written = {p.name for p in tmp_path.iterdir()}
    assert written <= {"architecture.dot", "architecture.svg"} and "architecture.dot" in written


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (PACKAGE_DIR / "core").glob("*.py") if p.stem != "__init__")
)
def test_each_core_module_imports_first_in_a_fresh_interpreter(name: str) -> None:
    """The tensor-operations cycle closes whichever core module a program imports first."""
    result = subprocess.run(
        [sys.executable, "-c", f"import deeplearning.core.{name}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
