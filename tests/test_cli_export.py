"""``python -m deeplearning export CKPT --format {onnx,torch,safetensors} OUT``: each format
written whole and read back by its own library with the checkpoint's outputs; bad formats
and paths are exit 2 before any work, and no file is replaced by accident."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import deeplearning as dl
from deeplearning import interop
from deeplearning.autograd import nn
from deeplearning.cli import export as export_module
from deeplearning.cli import main
from deeplearning.training.checkpoint import save_checkpoint

MODELS = {
    "lenet5": lambda: nn.LeNet5(batchnorm=True, image_size=16, rng=0),
    "mlp": lambda: dl.MLP([12, 9, 4], batchnorm=True, dropout=0.2, rng=0),
    "gpt": lambda: dl.GPT(11, 6, 1, 2, 8, rng=0),
}


def _checkpoint(tmp_path: Path, kind: str) -> tuple[Path, Any, np.ndarray]:
    model = MODELS[kind]()
    rng = np.random.default_rng(1)
    if kind == "gpt":
        x = rng.integers(0, 11, (3, 6))
    else:
        x = rng.random((3, *export_module.example_input(model).shape[1:]), dtype=np.float32)
        model.forward(x * 4)  # running statistics of their own
    path = tmp_path / f"{kind}.npz"
    save_checkpoint(path, model)
    return path, model.eval(), x


def _ours(model: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.infer(x))


@pytest.mark.parametrize("kind", MODELS)
def test_torch_writes_a_state_dict_that_loads_weights_only(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = pytest.importorskip("torch")
    path, model, x = _checkpoint(tmp_path, kind)
    assert main(["export", str(path), "--format", "torch", str(tmp_path / "m.pt")]) == 0
    assert f"m.pt: {type(model).__name__} ({model.num_parameters():,} parameters)" in (
        capsys.readouterr().out
    )
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    net = interop.to_torch(MODELS[kind]()).eval()
    net.load_state_dict(state)
    with torch.no_grad():
        theirs = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(theirs, _ours(model, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", MODELS)
def test_safetensors_rebuilds_the_model(kind: str, tmp_path: Path) -> None:
    path, model, x = _checkpoint(tmp_path, kind)
    out = tmp_path / "m.safetensors"
    assert main(["export", str(path), "--format", "safetensors", str(out)]) == 0
    back = interop.load_model(out).eval()
    assert type(back).__name__ == type(model).__name__ and back.engine == model.engine
    np.testing.assert_array_equal(_ours(back, x), _ours(model, x))


@pytest.mark.parametrize("kind", MODELS)
def test_onnx_runs_in_onnx_runtime(kind: str, tmp_path: Path) -> None:
    pytest.importorskip("onnx", reason="--format onnx needs the `interop` extra")
    runtime = pytest.importorskip("onnxruntime", reason="the `interop` extra")
    path, model, x = _checkpoint(tmp_path, kind)
    out = tmp_path / "m.onnx"
    assert main(["export", str(path), "--format", "onnx", str(out)]) == 0
    session = runtime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(theirs, _ours(model, x), rtol=1e-5, atol=1e-5)


# -- refused before any work -------------------------------------------------------------------
def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture
def checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = _checkpoint(tmp_path, "mlp")[0]
    monkeypatch.setattr(export_module, "load_checkpoint", None)  # no work, ever
    return path


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--format", "pickle", "x.pkl"], "argument --format: invalid choice: 'pickle'"),
        (["--format", "onnx", "x.safetensors"],
         "argument output: --format onnx writes a .onnx file, but {tmp}/x.safetensors ends "
         "otherwise: name it e.g. {tmp}/x.onnx"),
        (["--format", "torch", "x.onnx"], "--format torch writes a .pt or .pth file"),
        (["--format", "safetensors", "missing/x.safetensors"],
         "argument output: the folder of the output {tmp}/missing/x.safetensors does not exist"),
        (["--format", "torch", ""], "argument output: expected a path, got an empty string"),
        (["--format", "torch"], "the following arguments are required: output"),
    ],
)  # fmt: skip
def test_bad_formats_and_paths_are_usage_errors(
    arguments: list[str], message: str, checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp = checkpoint.parent
    argv = list(arguments)
    if len(argv) == 3 and argv[2]:  # the output, a name in the test's folder
        argv[2] = str(tmp / argv[2])
    assert message.format(tmp=tmp) in usage_error(["export", str(checkpoint), *argv], capsys)


def test_no_file_is_replaced_by_accident(
    checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = checkpoint.parent / "notes.pt"
    mine.write_text("my notes")
    line = usage_error(["export", str(checkpoint), "--format", "torch", str(mine)], capsys)
    assert "notes.pt exists: pass --overwrite to replace it, or give another name" in line
    other = checkpoint.parent / "other.pt"
    save_checkpoint(other, dl.MLP([2, 2], rng=0))
    argv = ["export", str(checkpoint), "--format", "torch", str(other), "--overwrite"]
    line = usage_error(argv, capsys)
    assert "other.pt is a checkpoint (MLP): give another name" in line
    assert mine.read_text() == "my notes"


def test_an_existing_output_is_replaced_whole_with_overwrite(tmp_path: Path) -> None:
    path = _checkpoint(tmp_path, "mlp")[0]
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"old")
    assert main(["export", str(path), "--format", "safetensors", str(out), "--overwrite"]) == 0
    assert interop.read_safetensors(out)[1]["model"] == "MLP"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "mlp.npz"]


def test_a_missing_extra_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _checkpoint(tmp_path, "mlp")[0]
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    assert main(["export", str(path), "--format", "onnx", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: export --format onnx needs onnx, which is not installed: python -m pip install "
        '-e ".[interop]" from a clone, or python -m pip install onnx\n'
    )
    assert not (tmp_path / "m.onnx").exists()
