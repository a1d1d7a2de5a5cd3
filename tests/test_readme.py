"""Every Python example in the README runs as written, and does what the README says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(python_blocks()) >= 3


def test_readme_examples_run_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {}
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["h"].shape == (32, 128) and namespace["dx"].shape == (32, 784)
    assert namespace["dlogits"].shape == (32, 10)
    assert namespace["loss"] < 0.05
    assert namespace["model"].evaluate(namespace["x_batch"], namespace["y_batch"]) == 1.0
    assert "loss after 200 steps" in capsys.readouterr().out
