"""Every Python example in the README and the docs runs as written, as a script and pasted
line by line at the plain `python` prompt, and does what the text says."""

from __future__ import annotations

import code
import re
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# A ```python block right after this comment is a sketch that is not run; keep them few.
NOT_RUN = "<!-- not run:"


def blocks_of(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, in order, less those marked as not run."""
    found = re.findall(r"(<!--.*?-->\n)?```python\n(.*?)```", path.read_text("utf-8"), re.S)
    return [block for comment, block in found if not comment.startswith(NOT_RUN)]


def python_blocks() -> list[str]:
    """The README's Python examples, in order (the API at a glance)."""
    return blocks_of(README)


class Prompt(code.InteractiveConsole):
    """The plain `python` prompt, fed a paste: line by line, so that a statement right after
    an indented block, or a blank line inside one, fails as it does there. The prompt would
    print each error and carry on; this one records them."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        super().__init__(locals=namespace, filename="<stdin>")
        self.errors: list[str] = []

    def showsyntaxerror(self, *args: Any, **kwargs: Any) -> None:
        kind, error = sys.exc_info()[:2]
        self.errors.append("".join(traceback.format_exception_only(kind, error)))

    def showtraceback(self) -> None:
        self.errors.append(traceback.format_exc())

    def paste(self, block: str) -> None:
        more = False
        for line in block.splitlines():
            more = self.push(line)
        if more:  # a paste ending inside an indented block: the Enter that runs it
            more = self.push("")
        assert not more, "the paste leaves the prompt waiting for more:\n" + block
        if self.errors:
            pytest.fail("\n".join(self.errors) + "in the paste of:\n" + block)


def run_blocks(blocks: list[str], how: str, source: Path) -> dict[str, Any]:
    """Run `blocks` in order in one namespace, as a script or pasted at the prompt."""
    namespace: dict[str, Any] = {}
    prompt = Prompt(namespace)
    for block in blocks:
        if how == "script":
            exec(compile(block, str(source), "exec"), namespace)
        else:
            prompt.paste(block)
    return namespace


HOW = pytest.mark.parametrize("how", ["script", "paste"])


@HOW
def test_readme_examples_run_in_order(how: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The API at a glance: both paths memorise the batch, the seed's name is the gradient,
    and the engine's second derivative of t³ is 6t."""
    blocks = python_blocks()
    assert len(blocks) == 2
    namespace = run_blocks(blocks, how, README)
    out = capsys.readouterr().out
    losses = re.findall(r"^(layers|engine): loss ([\d.]+)$", out, flags=re.M)
    assert [path for path, _ in losses] == ["layers", "engine"], out
    assert all(float(loss) < 0.05 for _, loss in losses), out
    assert namespace["fc1"].dL_dW is namespace["fc1"].W.grad
    assert namespace["fc1"].W.grad.shape == (784, 128)
    assert np.allclose(namespace["gg"].data, 6 * namespace["t"].data)


def check_graduation(namespace: dict[str, Any], out: str, folder: Path) -> None:
    model, x = namespace["model"], namespace["x"]
    for other in ("model2", "model3"):
        assert abs(namespace[other].infer(x) - model.infer(x)).max() < 1e-5, other
    assert {"lenet5.onnx", "weights.safetensors"} <= {p.name for p in folder.iterdir()}


def check_usage(namespace: dict[str, Any], out: str, folder: Path) -> None:
    assert namespace["h"].shape == (32, 128) and namespace["dx"].shape == (32, 784)
    assert namespace["dlogits"].shape == (32, 10)
    assert namespace["model"].evaluate(namespace["x_batch"], namespace["y_batch"]) == 1.0
    assert "loss after 200 steps" in out and "accuracy on the batch: 1.00" in out
    assert namespace["x"].grad.shape == (3, 4) and namespace["gxx"].shape == (3, 4)
    assert "engine: loss" in out and "accuracy 1.00" in out


def check_data(namespace: dict[str, Any], out: str, folder: Path) -> None:
    assert namespace["data"].x_train.shape == (60_000, 784)


def check_phase2(namespace: dict[str, Any], out: str, folder: Path) -> None:
    assert np.allclose(namespace["gxx"].data, 6 * namespace["x"].data)


def check_phase3(namespace: dict[str, Any], out: str, folder: Path) -> None:
    assert "196864 804096\n804096\n" in out  # the parameter count, by hand and by the model
    errors = re.findall(r"'[\w.]+': ([-+.\deE]+)", out)
    assert len(errors) >= 10 and max(map(float, errors)) < 1e-9, out


# What each docs page's blocks claim: a page with Python blocks needs an entry here.
DOC_CHECKS = {
    "docs/data.md": check_data,
    "docs/graduation.md": check_graduation,
    "docs/phase2.md": check_phase2,
    "docs/phase3.md": check_phase3,
    "docs/usage.md": check_usage,
}


def docs_with_blocks() -> list[str]:
    pages = [*ROOT.glob("*.md"), *ROOT.glob("docs/*.md")]
    return sorted(
        str(page.relative_to(ROOT)) for page in pages if page != README and blocks_of(page)
    )


def test_every_docs_page_with_python_blocks_is_checked() -> None:
    assert docs_with_blocks() == sorted(DOC_CHECKS)


@HOW
@pytest.mark.parametrize("page", sorted(DOC_CHECKS))
def test_docs_examples_run(
    page: str,
    how: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    """Each page's blocks, in order in one session and in a fresh folder, run both ways and
    print what the page says."""
    blocks = blocks_of(ROOT / page)
    assert blocks
    if any("interop." in block for block in blocks):
        for package in ("torch", "onnx"):
            pytest.importorskip(package, reason="the `torch` and `interop` extras")
    if any("load_mnist(" in block for block in blocks):  # the real data, or a skip
        monkeypatch.setenv("DEEPLEARNING_DATA", str(request.getfixturevalue("mnist_root")))
    monkeypatch.chdir(tmp_path)
    namespace = run_blocks(blocks, how, ROOT / page)
    DOC_CHECKS[page](namespace, capsys.readouterr().out, tmp_path)


COMMAND_PAGES = [README, *(ROOT / "docs" / name for name in (
    "training.md", "language_models.md", "graduation.md"))]  # fmt: skip
"""The pages whose ``bash`` blocks run the library, in the order they are run (the exports of
graduation.md read the checkpoints the others write)."""


def command_blocks() -> list[tuple[list[str], str]]:
    """The ``bash`` blocks of `COMMAND_PAGES` that run the library, each with the output block
    that follows it (empty if none): ``([command, ...], output)``. Continued lines are joined;
    the set-up block (pip and pytest) is left out, since the test suite cannot run itself."""
    found = []
    for page in COMMAND_PAGES:
        text = page.read_text(encoding="utf-8")
        pattern = r"```bash\n(.*?)```\n(?:\n[^`]*?\n)?(?:```\n(.*?)```)?"
        for match in re.finditer(pattern, text, re.S):
            lines = match.group(1).replace("\\\n", " ").splitlines()
            commands = [" ".join(line.split("  #")[0].split()) for line in lines]
            commands = [c for c in commands if c.startswith("python -m deeplearning")]
            if commands:
                found.append((commands, match.group(2) or ""))
    return found


def final_loss(output: str) -> float:
    """The loss on the whole validation split that a language model's run ends with."""
    match = re.search(r"^final: iter \d+, val loss ([\d.]+) on the whole", output, re.M)
    assert match, output
    return float(match.group(1))


def final_accuracies(output: str) -> tuple[float, float]:
    match = re.search(r"^final: train acc ([\d.]+)%, test acc ([\d.]+)%$", output, re.M)
    assert match, output
    return float(match.group(1)), float(match.group(2))


def test_the_readme_runs_these_commands() -> None:
    commands = [c for block, _ in command_blocks() for c in block]
    assert commands == [
        "python -m deeplearning train --save mnist.npz --plot mnist.png",  # the README's
        "python -m deeplearning train --save mnist.npz --plot mnist.png",  # training.md's
        "python -m deeplearning evaluate mnist.npz",
        "python -m deeplearning train --help",
        "python -m deeplearning train --model lenet5 --batchnorm --dropout 0.1 "
        "--weight-decay 5e-4 --save lenet5.npz --plot lenet5.png",
        "python -m deeplearning train --model gpt --dataset tinyshakespeare --n-layer 4 "
        "--n-head 4 --n-embd 128 --block-size 64 --batch-size 12 --iters 2000 --lr 1e-3 "
        "--min-lr 1e-4 --warmup-iters 100 --weight-decay 0.1 --beta2 0.99 --dropout 0 --no-bias "
        "--grad-clip 1.0 --eval-interval 250 --eval-iters 20 --save gpt.npz --plot gpt.png",
        "python -m deeplearning sample gpt.npz --prompt ROMEO: --tokens 500 --temperature 0.8 "
        "--top-k 200 --seed 0",
        "python -m deeplearning evaluate gpt.npz",
        "python -m deeplearning train --model mlp --dataset names --block-size 3 --n-embd 10 "
        "--hidden 200 --batch-size 32 --iters 200000 --optimizer sgd --lr 0.1 --min-lr 0.01 "
        "--lr-schedule step --lr-drop-at 100000 --save mlp.npz",
        "python -m deeplearning export lenet5.npz --format onnx lenet5.onnx",
        "python -m deeplearning export lenet5.npz --format torch lenet5.pt",
        "python -m deeplearning export gpt.npz --format safetensors gpt.safetensors",
    ]


@pytest.mark.slow
def test_readme_commands_run_verbatim_and_print_what_it_shows(
    mnist_root: Path, text_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command of the README, as written, in a fresh folder: it succeeds, prints the
    README's lines before the first epoch (or evaluation), and ends within half a point of its
    accuracies, or 0.01 of its losses (another NumPy or BLAS may round differently in the last
    bits). About 10 minutes on 2 cores: the baby GPT's 2,000 iterations take half of it."""
    pytest.importorskip("matplotlib", reason="--plot needs the `train` extra")
    for package in ("torch", "onnx"):
        pytest.importorskip(package, reason="export needs the `torch` and `interop` extras")
    assert mnist_root == text_root, "the README's commands read one DEEPLEARNING_DATA"
    monkeypatch.setenv("DEEPLEARNING_DATA", str(mnist_root))
    ran: dict[str, subprocess.CompletedProcess[str]] = {}  # a command shown twice runs once
    for commands, shown in command_blocks():
        for command in commands:
            if command not in ran:
                argv = [sys.executable, *command.split()[1:]]
                ran[command] = subprocess.run(
                    argv, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False
                )
            result = ran[command]
            assert result.returncode == 0, command + "\n" + result.stdout + result.stderr
            if command.endswith("--help"):
                assert "usage: deeplearning train" in result.stdout
            if " evaluate " in command:
                assert re.search("test accuracy|val loss", result.stdout.lower()), result.stdout
            if " sample " in command:
                assert result.stdout.startswith("ROMEO:") and len(result.stdout) > 500
        if shown and "final:" in shown:
            header = re.split(r"^(?:epoch   1|iter 0:|\.\.\.$)", shown, flags=re.M)[0]
            printed = result.stdout.splitlines()
            for line in header.strip().splitlines():
                assert line in printed, f"{commands[-1]}: missing {line!r}"
            if "final: iter" in shown:
                assert final_loss(result.stdout) == pytest.approx(final_loss(shown), abs=0.01)
                continue
            for ours, theirs in zip(final_accuracies(result.stdout), final_accuracies(shown)):
                assert ours == pytest.approx(theirs, abs=0.5)
    assert (tmp_path / "mnist.npz").is_file() and (tmp_path / "lenet5.png").is_file()
    assert (tmp_path / "gpt.npz").is_file() and (tmp_path / "mlp.npz").is_file()
    for exported in ("lenet5.onnx", "lenet5.pt", "gpt.safetensors"):
        assert (tmp_path / exported).stat().st_size > 200_000, exported
