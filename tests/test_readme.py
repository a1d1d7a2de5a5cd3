"""Every Python example in the README runs as written, and does what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
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


def command_blocks() -> list[tuple[list[str], str]]:
    """The README's ``bash`` blocks that run the library, each with the output block that
    follows it (empty if none): ``([command, ...], output)``. Continued lines are joined; the
    set-up block (pip and pytest) is left out, since the test suite cannot run itself."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"```bash\n(.*?)```\n(?:\n[^`]*?\n)?(?:```\n(.*?)```)?", text, re.S):
        lines = match.group(1).replace("\\\n", " ").splitlines()
        commands = [" ".join(line.split("  #")[0].split()) for line in lines]
        commands = [c for c in commands if c.startswith("python -m deeplearning")]
        if commands:
            found.append((commands, match.group(2) or ""))
    return found


def final_accuracies(output: str) -> tuple[float, float]:
    match = re.search(r"^final: train acc ([\d.]+)%, test acc ([\d.]+)%$", output, re.M)
    assert match, output
    return float(match.group(1)), float(match.group(2))


def test_the_readme_runs_these_commands() -> None:
    commands = [c for block, _ in command_blocks() for c in block]
    assert commands == [
        "python -m deeplearning train --save mnist.npz --plot mnist.png",
        "python -m deeplearning evaluate mnist.npz",
        "python -m deeplearning train --help",
        "python -m deeplearning train --model lenet5 --batchnorm --dropout 0.1 "
        "--weight-decay 5e-4 --save lenet5.npz --plot lenet5.png",
    ]


@pytest.mark.slow
def test_readme_commands_run_verbatim_and_print_what_it_shows(
    mnist_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command of the README, as written, in a fresh folder: it succeeds, prints the
    README's lines before the first epoch, and ends within half a point of its accuracies
    (another NumPy or BLAS may round differently in the last bits)."""
    pytest.importorskip("matplotlib", reason="--plot needs the `train` extra")
    monkeypatch.setenv("DEEPLEARNING_DATA", str(mnist_root))
    for commands, shown in command_blocks():
        for command in commands:
            argv = [sys.executable, *command.split()[1:]]
            result = subprocess.run(
                argv, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
            )
            assert result.returncode == 0, command + "\n" + result.stdout + result.stderr
            if command.endswith("--help"):
                assert "usage: deeplearning train" in result.stdout
            if " evaluate " in command:
                assert "test accuracy" in result.stdout.lower()
        if shown and "final:" in shown:
            header = shown.split("epoch   1")[0].strip().splitlines()
            printed = result.stdout.splitlines()
            for line in header:
                if line.strip() != "...":
                    assert line in printed, f"{commands[-1]}: missing {line!r}"
            for ours, theirs in zip(final_accuracies(result.stdout), final_accuracies(shown)):
                assert ours == pytest.approx(theirs, abs=0.5)
    assert (tmp_path / "mnist.npz").is_file() and (tmp_path / "lenet5.png").is_file()
