"""Every Python example in the README runs as written, and does what the README says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(needing_data: bool) -> list[str]:
    """The README's Python examples, in order: those that load a data set, or the others."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return [block for block in blocks if ("load_mnist(" in block) == needing_data]


def test_readme_examples_run_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {}
    blocks = python_blocks(needing_data=False)
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["h"].shape == (32, 128) and namespace["dx"].shape == (32, 784)
    assert namespace["dlogits"].shape == (32, 10)
    assert namespace["loss"] < 0.05
    assert namespace["model"].evaluate(namespace["x_batch"], namespace["y_batch"]) == 1.0
    out = capsys.readouterr().out
    assert "loss after 200 steps" in out and "accuracy on the batch: 1.00" in out
    assert namespace["x"].grad.shape == (3, 4) and namespace["gxx"].shape == (3, 4)
    assert "engine: loss" in out and "accuracy 1.00" in out


@pytest.mark.slow
def test_readme_data_examples_run(mnist_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPLEARNING_DATA", str(mnist_root))
    blocks = python_blocks(needing_data=True)
    assert blocks
    for block in blocks:
        namespace: dict[str, Any] = {}
        exec(compile(block, str(README), "exec"), namespace)
        assert namespace["data"].x_train.shape == (60_000, 784)
