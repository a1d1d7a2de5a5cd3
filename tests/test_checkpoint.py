"""Checkpoints: bit-exact round trips, atomic writes, and clear rejections."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deeplearning import BatchNorm1d, Linear, ReLU, Sequential, TwoLayerMLP
from deeplearning.optim import SGD, Adam
from deeplearning.training.archive import CheckpointError
from deeplearning.training.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint


def trained(seed: int = 0) -> tuple[TwoLayerMLP, SGD]:
    model = TwoLayerMLP(20, 8, 4, rng=seed)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = np.random.default_rng(seed)
    for _ in range(3):
        x, y = gen.random((16, 20), dtype=np.float32), gen.integers(0, 4, 16)
        model.loss_fn.forward(model.forward(x), y)
        model.backward(model.loss_fn.backward())
        optimizer.step()
    return model, optimizer


def test_round_trip_is_bit_exact_with_optimizer_state(tmp_path: Path) -> None:
    model, optimizer = trained()
    path = tmp_path / "run.npz"
    save_checkpoint(path, model, optimizer, dataset="mnist", epoch=3, metrics={"test_acc": 0.5})
    restored, header = load_checkpoint(path)
    for name, value in model.state_dict().items():
        assert np.array_equal(restored.state_dict()[name], value), name
        assert restored.state_dict()[name].dtype == value.dtype
    into = TwoLayerMLP(20, 8, 4, rng=99)
    fresh_optimizer = SGD(into.parameters(), lr=1.0, momentum=0.9)
    load_checkpoint(path, into, fresh_optimizer)
    assert fresh_optimizer.lr == 0.1 and fresh_optimizer.steps == 3
    for name, value in optimizer.state_dict().items():
        np.testing.assert_array_equal(fresh_optimizer.state_dict()[name], value, err_msg=name)
    assert header["model"] == "TwoLayerMLP" and header["epoch"] == 3
    assert header["config"] == {"in_features": 20, "hidden": 8, "num_classes": 4}
    assert header["metrics"] == {"test_acc": 0.5} and header["dataset"] == "mnist"


def test_checkpoint_is_a_plain_npz_without_pickles(tmp_path: Path) -> None:
    model, _ = trained()
    save_checkpoint(tmp_path / "m.npz", model)
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == [
            "header", "model.fc1.W", "model.fc1.b", "model.fc2.W", "model.fc2.b"
        ]  # fmt: skip
        assert json.loads(str(archive["header"]))["format"] == "deeplearning-checkpoint"


def test_a_failed_write_leaves_the_old_checkpoint_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keep.npz"
    model, _ = trained()
    save_checkpoint(path, model, epoch=1)
    before = path.read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, epoch=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.npz"]


UNSAVABLE_INFO = [
    ({"metrics": {"test_acc": np.float32(0.5)}}, TypeError, "'metrics' cannot be written as JSON"),
    ({"weights": np.zeros(3)}, TypeError, "'weights' cannot be written as JSON"),
    ({"tags": {"a", "b"}}, TypeError, "'tags' cannot be written as JSON"),
    ({"metrics": {"loss": float("nan")}}, ValueError, "'metrics' cannot be written as JSON"),
    ({"best": float("inf")}, ValueError, "'best' cannot be written as JSON"),
]


@pytest.mark.parametrize(
    ("info", "error", "message"), UNSAVABLE_INFO, ids=[next(iter(i)) for i, _, _ in UNSAVABLE_INFO]
)
def test_info_that_json_cannot_hold_is_refused_naming_its_key(
    tmp_path: Path, info: dict[str, object], error: type[Exception], message: str
) -> None:
    model, _ = trained()
    with pytest.raises(error, match=f"save_checkpoint: the header entry {message}"):
        save_checkpoint(tmp_path / "m.npz", model, **info)
    assert not list(tmp_path.iterdir())  # nothing written


def test_weights_or_state_that_are_not_finite_are_refused_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, optimizer = trained()
    state = optimizer.state_dict()
    velocity = {**state, "velocity.1": np.full_like(state["velocity.1"], np.inf)}
    monkeypatch.setattr(optimizer, "state_dict", lambda: velocity)
    with pytest.raises(ValueError, match=r"'optimizer.velocity.1' holds 8 NaN or infinite values "
                                         r"of its 8 \(the first at index \(0,\)\)"):  # fmt: skip
        save_checkpoint(tmp_path / "m.npz", model, optimizer)
    model.fc1.W.data[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"'model.fc1.W' holds 1 NaN or infinite values of its "
                                         r"160 \(the first at index \(3, 1\)\)"):  # fmt: skip
        save_checkpoint(tmp_path / "m.npz", model)
    assert not list(tmp_path.iterdir())  # nothing written


def test_other_sizes_are_rejected_naming_the_array_and_shapes(tmp_path: Path) -> None:
    model, _ = trained()
    save_checkpoint(tmp_path / "m.npz", model)
    with pytest.raises(
        CheckpointError, match=r"'fc1.W': the model has shape \(20, 16\).*\(20, 8\)"
    ):
        load_checkpoint(tmp_path / "m.npz", TwoLayerMLP(20, 16, 4))


def test_missing_optimizer_state_is_explained(tmp_path: Path) -> None:
    model, _ = trained()
    save_checkpoint(tmp_path / "m.npz", model)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        load_checkpoint(tmp_path / "m.npz", model, SGD(model.parameters()))


def test_optimizer_state_for_another_model_is_rejected(tmp_path: Path) -> None:
    model, optimizer = trained()
    save_checkpoint(tmp_path / "m.npz", model, optimizer)
    other = TwoLayerMLP(20, 8, 4)
    with pytest.raises(CheckpointError, match="does not fit parameter 0 of 2"):
        load_checkpoint(tmp_path / "m.npz", other, SGD(list(other.parameters())[2:]))


def test_files_that_are_not_checkpoints(tmp_path: Path) -> None:
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(CheckpointError, match=r"is not a readable .npz checkpoint"):
        read_checkpoint(tmp_path / "text.npz")
    np.savez(tmp_path / "plain.npz", w=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a deeplearning checkpoint"):
        read_checkpoint(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickled.npz", header=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="is not a readable"):
        read_checkpoint(tmp_path / "pickled.npz")
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "absent.npz")


def test_unknown_model_class_is_named(tmp_path: Path) -> None:
    header = json.dumps({"format": "deeplearning-checkpoint", "version": 1, "model": "ResNet50"})
    np.savez(tmp_path / "r.npz", header=np.array(header))
    with pytest.raises(CheckpointError, match="holds a 'ResNet50'"):
        load_checkpoint(tmp_path / "r.npz")


def test_unknown_path_is_named(tmp_path: Path) -> None:
    header = json.dumps(
        {"format": "deeplearning-checkpoint", "version": 1, "model": "MLP", "engine": "jax"}
    )
    np.savez(tmp_path / "j.npz", header=np.array(header))
    with pytest.raises(CheckpointError, match=r"'MLP' on the 'jax' path.*\['layers', 'autograd'\]"):
        load_checkpoint(tmp_path / "j.npz")


def test_any_model_loads_into_an_instance_built_by_the_user(tmp_path: Path) -> None:
    def build(seed: int) -> Sequential:
        return Sequential(Linear(5, 4, rng=seed), BatchNorm1d(4), ReLU(), Linear(4, 2, rng=seed))

    model = build(0)
    model.forward(np.random.default_rng(0).random((8, 5)))  # moves the running statistics
    optimizer = Adam(model.parameters())
    save_checkpoint(tmp_path / "seq.npz", model, optimizer)
    other = build(1)
    load_checkpoint(tmp_path / "seq.npz", other, Adam(other.parameters()))
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[name], value, err_msg=name)
    with pytest.raises(CheckpointError, match="holds a 'Sequential'"):
        load_checkpoint(tmp_path / "seq.npz")
