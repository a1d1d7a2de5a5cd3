"""Checkpoints from untrusted files: every damaged or edited file is a CheckpointError that says
what was expected, what came and how to fix it, raised before any big allocation.

Each bad file is a good checkpoint (saved by `save_checkpoint`, as ``train --save`` does)
with its header JSON or its arrays rewritten by NumPy into ``tmp_path``.
"""

from __future__ import annotations

import io
import json
import struct
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import deeplearning.training.archive as npz_archive
from deeplearning import MLP, TwoLayerMLP
from deeplearning.optim import SGD, Adam, Optimizer
from deeplearning.training.archive import CheckpointError, check_resume_header
from deeplearning.training.checkpoint import (
    build_model,
    implied_shapes,
    load_checkpoint,
    read_checkpoint,
    read_resume_header,
    save_checkpoint,
)
from deeplearning.training.loop import EpochStats
from deeplearning.training.recipe import ENGINES, Recipe

Header = dict[str, Any]
Arrays = dict[str, np.ndarray]
Edit = Callable[[Header, Arrays], None]

EDITED = r"edited or damaged: re-save the model with save_checkpoint"


def _trained() -> tuple[TwoLayerMLP, SGD]:
    model = TwoLayerMLP(20, 8, 4, rng=0)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    gen = np.random.default_rng(0)
    for _ in range(2):
        x, y = gen.random((16, 20), dtype=np.float32), gen.integers(0, 4, 16)
        model.loss_fn.forward(model.forward(x), y)
        model.backward(model.loss_fn.backward())
        optimizer.step()
    return model, optimizer


def _history(epochs: int) -> list[dict[str, Any]]:
    return [
        EpochStats(epoch, 1.0 / epoch, 0.5, 0.5, 1.0, 1000.0).to_dict()
        for epoch in range(1, epochs + 1)
    ]


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A checkpoint as `train --save` writes it after epoch 2 (model, SGD state, recipe, ...)."""
    model, optimizer = _trained()
    path = tmp_path / "good.npz"
    save_checkpoint(
        path, model, optimizer, dataset="mnist", epoch=2, metrics=_history(2)[-1],
        recipe=Recipe(epochs=3).to_dict(), history=_history(2),
        rng_state=np.random.default_rng(7).bit_generator.state,
    )  # fmt: skip
    return path


def rewrite(good: Path, edit: Edit, name: str = "bad.npz") -> Path:
    """A copy of ``good`` with ``edit`` applied to its header (a dict) and arrays (by name)."""
    with np.load(good, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    header = json.loads(str(arrays.pop("header")))
    edit(header, arrays)
    path = good.with_name(name)
    np.savez(path, header=np.array(json.dumps(header)), **arrays)  # type: ignore[arg-type]
    return path


def set_in(*keys: str, value: Any) -> Edit:
    """An edit setting ``header[k1][k2]... = value``."""

    def edit(header: Header, arrays: Arrays) -> None:
        target = header
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


def drop(*keys: str) -> Edit:
    def edit(header: Header, arrays: Arrays) -> None:
        target = header
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]

    return edit


def set_array(name: str, value: Callable[[np.ndarray], np.ndarray]) -> Edit:
    def edit(header: Header, arrays: Arrays) -> None:
        arrays[name] = value(arrays[name])

    return edit


def drop_array(name: str) -> Edit:
    def edit(header: Header, arrays: Arrays) -> None:
        del arrays[name]

    return edit


def with_value(index: tuple[int, ...], value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(array: np.ndarray) -> np.ndarray:
        array = array.copy()
        array[index] = value
        return array

    return change


def nan_at_0_1(array: np.ndarray) -> np.ndarray:
    return with_value((0, 1), np.nan)(array)


# -- loading a model from the header (what `deeplearning evaluate` does) ---------------------------

LOAD_CASES: list[tuple[str, Edit, str]] = [
    # the header's config against the arrays
    (
        "hidden is a million",
        set_in("config", "hidden", value=1_000_000),
        r"config \{'in_features': 20, 'hidden': 1000000, 'num_classes': 4\} implies a TwoLayerMLP "
        r"of 25,000,004 values, but the file's arrays hold 204: 'model.fc1.W' should have shape "
        r"\(20, 1000000\) for that config but is stored with shape \(20, 8\)\. Nothing was built",
    ),
    (
        "hidden is 999999999",
        set_in("config", "hidden", value=999_999_999),
        r"implies a TwoLayerMLP of 24,999,999,979 values, but the file's arrays hold 204",
    ),
    (
        "in_features differs",
        set_in("config", "in_features", value=21),
        r"'model.fc1.W' should have shape \(21, 8\) .* stored with shape \(20, 8\)",
    ),
    (
        "hidden is a float",
        set_in("config", "hidden", value=8.0),
        r"gives TwoLayerMLP hidden=8.0 \(float\), but hidden must be a positive int\. .*" + EDITED,
    ),
    (
        "hidden is negative",
        set_in("config", "hidden", value=-8),
        r"hidden=-8 \(int\), but hidden must be a positive int",
    ),
    ("hidden is zero", set_in("config", "hidden", value=0), r"hidden=0 .* a positive int"),
    (
        "hidden is a bool",
        set_in("config", "hidden", value=True),
        r"hidden=True \(bool\), but hidden must be a positive int",
    ),
    (
        "hidden is a string",
        set_in("config", "hidden", value="8"),
        r"hidden='8' \(str\), but hidden must be a positive int",
    ),
    ("hidden is null", set_in("config", "hidden", value=None), r"hidden=None \(NoneType\)"),
    (
        "config has an unknown entry",
        set_in("config", "depth", value=3),
        r"config has the entries \['depth'\], which TwoLayerMLP does not take \(it takes "
        r"\['in_features', 'hidden', 'num_classes'\]\)",
    ),
    ("config names rng", set_in("config", "rng", value=0), r"entries \['rng'\], which"),
    (
        "config is a list",
        set_in("config", value=[20, 8, 4]),
        r"'config' should be a dict, but is list \[20, 8, 4\]\. .*" + EDITED,
    ),
    (
        "model is another class",
        set_in("model", value="MLP"),
        r"the header's 'config'|config has the entries \['hidden', 'in_features', 'num_classes'\], "
        r"which MLP does not take",
    ),
    (
        "model is a list",
        set_in("model", value=["TwoLayerMLP"]),
        r"'model' should be a str, but is list \['TwoLayerMLP'\]",
    ),
    ("engine is a number", set_in("engine", value=1), r"'engine' should be a str, but is int 1"),
    (
        "model is unknown",
        set_in("model", value="ResNet50"),
        r"holds a 'ResNet50' on the 'layers' path; this library builds .*pass it to "
        r"load_checkpoint\(path, model\)",
    ),
    # the format
    (
        "format version 2",
        set_in("version", value=2),
        r"format version int 2, but this library reads version 1: load it with the version of "
        r"deeplearning that wrote it and re-save it",
    ),
    ("no format version", drop("version"), r"format version missing \(null\), but this library"),
    ("version is a string", set_in("version", value="1"), r"format version str '1'"),
    ("version is true", set_in("version", value=True), r"format version bool True"),
    (
        "another format",
        set_in("format", value="keras"),
        r"not a deeplearning checkpoint \(no valid header: its format should be "
        r"'deeplearning-checkpoint', got str 'keras'\)",
    ),
    # the arrays
    (
        "a NaN weight",
        set_array("model.fc1.W", nan_at_0_1),
        r"'model.fc1.W' should hold finite numbers, but 1 of its 160 values are NaN or infinite "
        r"\(the first at index \(0, 1\): nan\)\. The run diverged before it was saved, or the file "
        r"is damaged: load an earlier checkpoint",
    ),
    (
        "an infinite bias",
        set_array("model.fc2.b", lambda b: np.full_like(b, -np.inf)),
        r"'model.fc2.b' should hold finite numbers, but 4 of its 4 values are NaN or infinite "
        r"\(the first at index \(0,\): -inf\)",
    ),
    (
        "int weights",
        set_array("model.fc1.W", lambda w: w.astype(np.int64)),
        r"'model.fc1.W' should hold floating-point numbers \(float32 or float64\), but holds int64 "
        r"values of shape \(20, 8\)\. .*" + EDITED,
    ),
    ("bool weights", set_array("model.fc1.b", lambda b: b > 0), r"'model.fc1.b' .* holds bool"),
    (
        "complex weights",
        set_array("model.fc1.b", lambda b: b.astype(complex)),
        r"'model.fc1.b' should hold floating-point numbers .* holds complex128",
    ),
    (
        "string weights",
        set_array("model.fc1.b", lambda b: b.astype(str)),
        r"'model.fc1.b' should hold floating-point numbers .* holds <U",
    ),
    (
        "a missing array",
        drop_array("model.fc2.b"),
        r"implies a TwoLayerMLP of 204 values, but the file's arrays hold 200: the config implies "
        r"arrays \['fc2.b'\] the file lacks, and not \[\]",
    ),
    (
        "a weight of another shape",
        set_array("model.fc2.W", lambda w: w[:4]),
        r"'model.fc2.W' should have shape \(8, 4\) for that config but is stored with "
        r"shape \(4, 4\)",
    ),
    (
        "a stranger array",
        lambda header, arrays: arrays.update(notes=np.zeros(3)),
        r"holds an array 'notes'; a checkpoint holds only 'header', 'model\.\*' and "
        r"'optimizer\.\*' arrays\. .*" + EDITED,
    ),
    (
        "steps that are not an integer",
        set_array("optimizer.steps", lambda s: s.astype(float)),
        r"'optimizer.steps' should hold an integer \(shape \(\)\), but holds float64",
    ),
    (
        "an lr that is an array",
        set_array("optimizer.lr", lambda lr: np.full(3, lr)),
        r"'optimizer.lr' should hold a real number \(shape \(\)\), but holds float64 values of "
        r"shape \(3,\)",
    ),
    (
        "an optimizer buffer of ints",
        set_array("optimizer.velocity.0", lambda v: v.astype(int)),
        r"'optimizer.velocity.0' should hold floating-point numbers",
    ),
]


@pytest.mark.parametrize(
    ("edit", "message"), [case[1:] for case in LOAD_CASES], ids=[case[0] for case in LOAD_CASES]
)
def test_a_bad_file_is_refused_before_building(good: Path, edit: Edit, message: str) -> None:
    path = rewrite(good, edit)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


@pytest.mark.parametrize("hidden", [1_000_000, 999_999_999, 10**30])
def test_a_huge_declared_model_fails_fast_without_allocating(good: Path, hidden: int) -> None:
    path = rewrite(good, set_in("config", "hidden", value=hidden))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(CheckpointError, match=rf"'hidden': {hidden}.*file's arrays hold 204"):
            load_checkpoint(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"{peak:,} bytes allocated"
    assert time.perf_counter() - start < 1.0
    with pytest.raises(CheckpointError, match="implies a TwoLayerMLP"):
        build_model(read_checkpoint(path)[0], {"fc1.W": (20, 8)})


# -- resuming: the optimizer and the training state --------------------------------------------

OPTIMIZER_CASES: list[tuple[str, Edit, Callable[[TwoLayerMLP], Optimizer], str]] = [
    (
        "SGD state into Adam",
        lambda h, a: None,
        lambda m: Adam(m.parameters()),
        r"holds the state of a SGD optimizer, not of the Adam being resumed: resume with the "
        r"optimizer it was saved with \(--optimizer sgd\), or load the model alone",
    ),
    (
        "SGD state into Adam, from before the header named it",
        drop("optimizer"),
        lambda m: Adam(m.parameters()),
        r"its optimizer state holds 'velocity.0', but Adam keeps only \['exp_avg', 'exp_avg_sq', "
        r"'max_exp_avg_sq'\]: the state is another optimizer's\. Resume with the optimizer",
    ),
    (
        "the header names another optimizer",
        set_in("optimizer", value="RMSprop"),
        lambda m: SGD(m.parameters(), momentum=0.9),
        r"holds the state of a RMSprop optimizer",
    ),
    (
        "no steps",
        drop_array("optimizer.steps"),
        lambda m: SGD(m.parameters(), momentum=0.9),
        r"its optimizer state lacks 'steps' \(it has \['lr', 'velocity.0', .*" + EDITED,
    ),
    (
        "a buffer past the last parameter",
        lambda h, a: a.update({"optimizer.velocity.7": a["optimizer.velocity.0"]}),
        lambda m: SGD(m.parameters(), momentum=0.9),
        r"optimizer state 'velocity.7' of shape \(20, 8\) does not fit parameter 7 of 4: was it "
        r"saved for another model\? Give the optimizer the parameters",
    ),
    (
        "a buffer of another shape",
        set_array("optimizer.velocity.1", lambda v: np.zeros(9, v.dtype)),
        lambda m: SGD(m.parameters(), momentum=0.9),
        r"'velocity.1' of shape \(9,\) does not fit parameter 1 of 4 \(shape \(8,\)\)",
    ),
    (
        "a NaN momentum",
        set_array("optimizer.velocity.0", nan_at_0_1),
        lambda m: SGD(m.parameters(), momentum=0.9),
        r"'optimizer.velocity.0' should hold finite numbers, but 1 of its 160",
    ),
    (
        "an infinite learning rate",
        set_array("optimizer.lr", lambda lr: np.array(np.inf)),
        lambda m: SGD(m.parameters(), momentum=0.9),
        r"'optimizer.lr' should hold finite numbers",
    ),
    (
        "no optimizer state",
        lambda h, a: [a.pop(k) for k in list(a) if k.startswith("optim")],
        lambda m: SGD(m.parameters(), momentum=0.9),
        r"holds no optimizer state \(saved without an optimizer\); load it without one",
    ),
]


@pytest.mark.parametrize(
    ("edit", "make", "message"),
    [case[1:] for case in OPTIMIZER_CASES],
    ids=[case[0] for case in OPTIMIZER_CASES],
)
def test_optimizer_state_that_does_not_fit_is_refused(
    good: Path, edit: Edit, make: Callable[[TwoLayerMLP], Optimizer], message: str
) -> None:
    path = rewrite(good, edit)
    model = TwoLayerMLP(20, 8, 4, rng=1)
    before = {name: value.copy() for name, value in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path, model, make(model))
    for name, value in model.state_dict().items():  # refused before anything was loaded
        np.testing.assert_array_equal(value, before[name], err_msg=name)


RESUME_CASES: list[tuple[str, Edit, str]] = [
    (
        "no recipe",
        drop("recipe"),
        r"holds no training recipe: only checkpoints written by `train --save` can be resumed",
    ),
    (
        "no rng_state",
        drop("rng_state"),
        r"has a training recipe but no 'rng_state' in its header, which resuming needs: .*Resume "
        r"from a checkpoint that `train --save` wrote, or start the run afresh",
    ),
    ("no history", drop("history"), r"no 'history' in its header"),
    ("no epoch", drop("epoch"), r"no 'epoch' in its header"),
    (
        "epoch is a string",
        set_in("epoch", value="2"),
        r"'epoch' should be the int >= 1 of the last finished epoch, but is str '2'\. .*" + EDITED,
    ),
    ("epoch is a bool", set_in("epoch", value=True), r"'epoch' should be .* but is bool True"),
    ("epoch is zero", set_in("epoch", value=0), r"'epoch' should be the int >= 1.* int 0"),
    (
        "history is a dict",
        set_in("history", value={}),
        r"'history' should be a list of the 2 epochs' records \(epoch 2 was the last\), but is "
        r"dict \{\}",
    ),
    (
        "history is short",
        set_in("history", value=_history(1)),
        r"'history' should be a list of the 2 epochs' records .*, but is a list of 1",
    ),
    (
        "history record lacks a field",
        lambda h, a: h["history"][1].pop("seconds"),
        r"history\[1\] should be an epoch's record with the entries \['epoch', 'train_loss', "
        r"'train_acc', 'test_acc', 'seconds', 'samples_per_second'\] \(and optionally "
        r"'test_loss'\), but has the entries",
    ),
    (
        "history record is a number",
        lambda h, a: h["history"].__setitem__(0, 5),
        r"history\[0\] should be an epoch's record .* but has int 5",
    ),
    (
        "history record of another epoch",
        lambda h, a: h["history"][1].update(epoch=5),
        r"history\[1\] should be epoch 2's record, but is int 5's",
    ),
    (
        "history record with a string",
        lambda h, a: h["history"][0].update(test_acc="high"),
        r"history\[0\] gives test_acc=str 'high', but test_acc must be a number",
    ),
    (
        "rng_state of another generator",
        set_in("rng_state", "bit_generator", value="MT19937"),
        r"'rng_state' should be the state of NumPy's PCG64 generator \(a dict with bit_generator "
        r"'PCG64', .*\), but is dict \{'bit_generator': 'MT19937'.*" + EDITED,
    ),
    (
        "rng_state with a float",
        set_in("rng_state", "state", "state", value=1.5),
        r"'rng_state' should be the state of NumPy's PCG64",
    ),
    (
        "rng_state with a negative word",
        set_in("rng_state", "state", "inc", value=-1),
        r"'rng_state' should be the state of NumPy's PCG64",
    ),
    (
        "rng_state out of range",
        set_in("rng_state", "uinteger", value=2**40),
        r"'rng_state' should be the state of NumPy's PCG64",
    ),
    (
        "rng_state is a string",
        set_in("rng_state", value="PCG64"),
        r"'rng_state' should be .* but is str 'PCG64'",
    ),
    (
        "recipe is a list",
        set_in("recipe", value=["sgd"]),
        r"'recipe' should be a dict of `Recipe` entries, but is list \['sgd'\]",
    ),
    (
        "recipe has an unknown entry",
        set_in("recipe", "depth", value=3),
        r"recipe has the unknown entries \['depth'\] \(known: \['batch_size', .*\]\)",
    ),
    (
        "recipe lr is a string",
        set_in("recipe", "lr", value="fast"),
        r"recipe gives lr=str 'fast', but lr must be a number or null",
    ),
    (
        "recipe epochs is a float",
        set_in("recipe", "epochs", value=2.5),
        r"recipe gives epochs=float 2.5, but epochs must be an int",
    ),
    (
        "recipe batchnorm is 1",
        set_in("recipe", "batchnorm", value=1),
        r"recipe gives batchnorm=int 1, but batchnorm must be true or false",
    ),
    (
        "recipe optimizer is null",
        set_in("recipe", "optimizer", value=None),
        r"recipe gives optimizer=missing \(null\), but optimizer must be a string",
    ),
    (
        "recipe step_size is a float",
        set_in("recipe", "step_size", value=2.5),
        r"recipe gives step_size=float 2.5, but step_size must be an int or null\.",
    ),
    (
        "recipe gamma is a string",
        set_in("recipe", "gamma", value="half"),
        r"recipe gives gamma=str 'half', but gamma must be a number or null\.",
    ),
    (
        "recipe dropout is a bool",
        set_in("recipe", "dropout", value=False),
        r"recipe gives dropout=bool False, but dropout must be a number\.",
    ),
]


@pytest.mark.parametrize(
    ("edit", "message"), [case[1:] for case in RESUME_CASES], ids=[case[0] for case in RESUME_CASES]
)
def test_a_header_that_cannot_resume_is_refused(good: Path, edit: Edit, message: str) -> None:
    path = rewrite(good, edit)
    with pytest.raises(CheckpointError, match=message):
        read_resume_header(path)
    load_checkpoint(path)  # the model itself is fine


def test_a_good_header_resumes(good: Path) -> None:
    header = read_resume_header(good)
    assert header == read_checkpoint(good)[0]
    assert header["epoch"] == 2 and header["optimizer"] == "SGD"
    rng = np.random.default_rng(0)
    rng.bit_generator.state = header["rng_state"]  # what the command line does with it
    assert rng.random() == np.random.default_rng(7).random()
    assert [EpochStats(**record) for record in header["history"]][-1].epoch == 2
    check_resume_header(header)
    check_resume_header({**header, "recipe": {}})  # every entry has a default


# -- files that are not (whole) archives --------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a duplicate name
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name.split("#")[0], data)
    return path


def _npy(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array)
    return stream.getvalue()


def _lying_npy(shape: tuple[int, ...], data: bytes) -> bytes:
    """A .npy member whose header declares ``shape`` of float64 but which holds ``data``."""
    text = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    text += " " * (-(len(text) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode() + data


def _header_npy(**fields: Any) -> bytes:
    header = {"format": "deeplearning-checkpoint", "version": 1, **fields}
    return _npy(np.array(json.dumps(header)))


ARCHIVE_CASES: list[tuple[str, Callable[[Path, Path], Path], str]] = [
    (
        "a truncated file",
        lambda good, tmp: _write(tmp / "cut.npz", good.read_bytes()[: good.stat().st_size // 2]),
        r"cut.npz is not a readable .npz checkpoint \(.*\); was it written by `deeplearning train "
        r"--save`\? A file that was: it is damaged, re-save",
    ),
    (
        "an array declaring a terabyte",
        lambda good, tmp: _zip(
            tmp / "tb.npz",
            {
                "header.npy": _header_npy(model="TwoLayerMLP"),
                "model.fc1.W.npy": _lying_npy((10**6, 10**6), b"\0" * 64),
            },
        ),
        r"'model.fc1.W' declares shape \(1000000, 1000000\) of float64 \(8,000,000,000,000 bytes\) "
        r"but its member holds 64 bytes of data",
    ),
    (
        "a member that is not an array",
        lambda good, tmp: _zip(tmp / "txt.npz", {"header.npy": _header_npy(), "README": b"hi"}),
        r"it holds 'README' which is not a .npy array",
    ),
    (
        "a member twice",
        lambda good, tmp: _zip(
            tmp / "twice.npz",
            {
                "header.npy": _header_npy(),
                "model.w.npy": _npy(np.zeros(2)),
                "model.w.npy#2": _npy(np.zeros(3)),
            },
        ),
        r"it holds 'model.w.npy' twice",
    ),
    (
        "a member that is not .npy data",
        lambda good, tmp: _zip(tmp / "junk.npz", {"header.npy": b"not numpy at all"}),
        r"is not a readable .npz checkpoint \('header': .*",
    ),
    (
        "a header of numbers",
        lambda good, tmp: _zip(tmp / "nums.npz", {"header.npy": _npy(np.arange(3))}),
        r"not a deeplearning checkpoint \(no valid header: 'header' should be one JSON string but "
        r"is an array of shape \(3,\) and dtype int64\)",
    ),
    (
        "a header that is not JSON",
        lambda good, tmp: _zip(tmp / "nojson.npz", {"header.npy": _npy(np.array("{oops"))}),
        r"no valid header: 'header' is not JSON: ",
    ),
    (
        "a header nested too deep",
        lambda good, tmp: _zip(tmp / "deep.npz", {"header.npy": _npy(np.array("[" * 100_000))}),
        r"no valid header: 'header' is not JSON: maximum recursion depth",
    ),
    (
        "a header with a 5000-digit number",
        lambda good, tmp: _zip(
            tmp / "digits.npz", {"header.npy": _npy(np.array('{"format": ' + "7" * 5000 + "}"))}
        ),
        r"not a deeplearning checkpoint \(no valid header: ('header' is not JSON|its format)",
    ),
    (
        "a header that is a list",
        lambda good, tmp: _zip(tmp / "list.npz", {"header.npy": _npy(np.array("[1, 2]"))}),
        r"no valid header: its format should be 'deeplearning-checkpoint', got list \[1, 2\]\)",
    ),
    (
        "no header",
        lambda good, tmp: _zip(tmp / "bare.npz", {"model.w.npy": _npy(np.zeros(2))}),
        r"not a deeplearning checkpoint \(no valid header: it has no 'header' array\)",
    ),
    (
        "an array of Python objects",
        lambda good, tmp: _zip(
            tmp / "obj.npz",
            {"header.npy": _header_npy(), "model.w.npy": _npy(np.array([{"a": 1}], dtype=object))},
        ),
        r"is not a readable .npz checkpoint \('model.w' holds Python objects, which only pickle "
        r"can read, and checkpoints are read without pickle\)",
    ),
    (
        "members compressed with bzip2",
        lambda good, tmp: _zip_as(
            tmp / "bz2.npz",
            {"header.npy": _header_npy(), "model.w.npy": _npy(np.zeros(2))},
            zipfile.ZIP_BZIP2,
        ),
        r"'header' is compressed with method 12; numpy writes stored or deflated members only",
    ),
    (
        "an encrypted member",
        lambda good, tmp: _encrypted(
            _zip(tmp / "enc.npz", {"header.npy": _header_npy(), "model.w.npy": _npy(np.ones(2))}),
            "model.w.npy",
        ),
        r"'model.w' is encrypted",
    ),
    (
        "a .npy of format version 3",
        lambda good, tmp: _zip(
            tmp / "v3.npz", {"header.npy": _header_npy(), "model.w.npy": _version_3(np.zeros(2))}
        ),
        r"'model.w': the .npy format version \(3, 0\) is not one numpy writes for numbers",
    ),
    (
        "a negative dimension",
        lambda good, tmp: _zip(
            tmp / "neg.npz", {"header.npy": _header_npy(), "model.w.npy": _lying_npy((-1, 2), b"")}
        ),
        r"'model.w' declares the shape \(-1, 2\)",
    ),
    (
        "a structured array",
        lambda good, tmp: _zip(
            tmp / "rec.npz",
            {"header.npy": _header_npy(), "model.w.npy": _npy(np.zeros(2, dtype="f4,f4"))},
        ),
        r"'model.w' has the structured dtype",
    ),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip_as(path: Path, members: dict[str, bytes], method: int) -> Path:
    """An archive whose members are compressed with ``method`` (a zipfile constant)."""
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _encrypted(path: Path, member: str) -> Path:
    """``path`` with the central directory marking ``member`` as encrypted (bit 0 of its
    general-purpose flags), which zipfile cannot write."""
    data = bytearray(path.read_bytes())
    start = 0
    while (entry := data.find(b"PK\x01\x02", start)) != -1:
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + name_length] == member.encode():
            data[entry + 8] |= 0x1
        start = entry + 4
    path.write_bytes(bytes(data))
    return path


def _version_3(array: np.ndarray) -> bytes:
    """``array`` as a .npy of format version 3.0 (a UTF-8 header, which numpy writes only
    for structured dtypes with non-Latin-1 field names)."""
    plain = _npy(array)
    length = struct.unpack_from("<H", plain, 8)[0]
    return b"\x93NUMPY\x03\x00" + struct.pack("<I", length) + plain[10:]


@pytest.mark.parametrize(
    ("make", "message"),
    [case[1:] for case in ARCHIVE_CASES],
    ids=[case[0] for case in ARCHIVE_CASES],
)
def test_a_broken_archive_is_refused_without_reading_its_data(
    good: Path, tmp_path: Path, make: Callable[[Path, Path], Path], message: str
) -> None:
    path = make(good, tmp_path)
    tracemalloc.start()
    try:
        for read in (read_checkpoint, load_checkpoint, read_resume_header):
            with pytest.raises(CheckpointError, match=message):
                read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000, f"{peak:,} bytes allocated"


def test_an_overlong_header_is_refused_before_it_is_read(
    good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(npz_archive, "MAX_HEADER_CHARS", 100)
    with pytest.raises(CheckpointError, match=r"'header' is [\d,]+ characters long, over the 100"):
        read_checkpoint(good)


def test_a_deflated_member_that_claims_too_much_is_refused(good: Path, tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("header.npy", _header_npy())
        archive.writestr("model.w.npy", _npy(np.zeros(10**6)))  # 8 MB of zeros: 8 KB deflated
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("model.w.npy")
    central = data.rindex(b"PK\x01\x02")  # the last member's central directory entry
    assert data[central + 46 : central + 46 + 11] == b"model.w.npy"
    struct.pack_into("<I", data, central + 24, info.file_size * 100)  # claims 800 MB
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"'model.w' declares 800,012,800 bytes from"):
        read_checkpoint(path)


def test_a_compressed_checkpoint_still_loads(good: Path, tmp_path: Path) -> None:
    with np.load(good, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    np.savez_compressed(tmp_path / "small.npz", **arrays)  # type: ignore[arg-type]
    model, _ = load_checkpoint(tmp_path / "small.npz")
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, arrays[f"model.{name}"], err_msg=name)


# -- the shapes a config implies ------------------------------------------------------------------

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("TwoLayerMLP", {"in_features": 7, "hidden": 5, "num_classes": 3}),
    ("MLP", {"sizes": [7, 6, 5, 3]}),
    ("MLP", {"sizes": [7, 3], "batchnorm": True, "dropout": 0.5}),
    ("MLP", {"sizes": [7, 6, 5, 3], "activation": "tanh", "batchnorm": True, "dropout": 0.2}),
    ("LeNet5", {}),
    (
        "LeNet5",
        {"in_channels": 3, "num_classes": 4, "image_size": 16, "batchnorm": True, "dropout": 0.1},
    ),
]


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize(("name", "config"), CONFIGS)
def test_implied_shapes_are_the_built_models(
    engine: str, name: str, config: dict[str, Any]
) -> None:
    model = ENGINES[engine][name](**config, rng=0)
    header = {"model": name, "engine": engine, "config": model.config}
    shapes = {key: value.shape for key, value in model.state_dict().items()}
    assert implied_shapes(header) == shapes
    assert implied_shapes({"model": name, "engine": engine, "config": config}) == shapes
    assert type(build_model(header, shapes)) is type(model)


def test_every_buildable_model_has_a_shape_rule() -> None:
    for engine, models in ENGINES.items():
        for name, cls in models.items():
            config = (cls(rng=0) if name != "MLP" else cls([3, 2], rng=0)).config
            assert implied_shapes({"model": name, "engine": engine, "config": config}), name


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        ("MLP", {}, r"the header's config lacks \['sizes'\], which MLP needs"),
        ("MLP", {"sizes": [7]}, r"sizes=\[7\] \(list\), but sizes must be a list of at least two"),
        ("MLP", {"sizes": [7, 0, 3]}, r"sizes must be a list of at least two positive ints"),
        ("MLP", {"sizes": [7, 2.5, 3]}, r"sizes must be a list of at least two positive ints"),
        ("MLP", {"sizes": "7-3"}, r"sizes='7-3' \(str\)"),
        (
            "MLP",
            {"sizes": [7, 3], "activation": "swish"},
            r"does not describe a valid MLP: unknown activation 'swish'",
        ),
        ("MLP", {"sizes": [7, 3], "activation": 1}, r"activation must be the name of"),
        ("MLP", {"sizes": [7, 3], "batchnorm": "yes"}, r"batchnorm must be true or false"),
        ("MLP", {"sizes": [7, 3], "dropout": 1.0}, r"dropout=1.0 .* must be a number in \[0, 1\)"),
        ("MLP", {"sizes": [7, 3], "dropout": float("nan")}, r"dropout=nan"),
        (
            "LeNet5",
            {"image_size": 8},
            r"does not describe a valid LeNet5: LeNet5 needs images of at least 12x12",
        ),
        ("LeNet5", {"in_channels": 0}, r"in_channels=0 \(int\), but in_channels must be a pos"),
    ],
)
def test_invalid_configs_are_named(name: str, config: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        build_model({"model": name, "config": config})


def test_a_user_built_model_is_checked_before_reading(good: Path) -> None:
    with pytest.raises(
        CheckpointError,
        match=r"does not fit this model: it lacks \['0.W', '0.b', '2.W', '2.b'\] and holds the "
        r"unexpected \['fc1.W', 'fc1.b', 'fc2.W', 'fc2.b'\]\. Build the model the checkpoint was "
        r"saved from",
    ):
        load_checkpoint(good, MLP([20, 8, 4]))


def test_good_files_load_as_before(good: Path) -> None:
    model, optimizer = _trained()
    restored, header = load_checkpoint(good)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[name], value, err_msg=name)
        assert restored.state_dict()[name].dtype == value.dtype
    other = TwoLayerMLP(20, 8, 4, rng=5)
    resumed = SGD(other.parameters(), lr=1.0, momentum=0.9)
    load_checkpoint(good, other, resumed)
    assert resumed.steps == 2 and resumed.lr == 0.1
    for name, value in optimizer.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value, err_msg=name)
    assert header["model"] == "TwoLayerMLP" and header["optimizer"] == "SGD"


def test_the_header_keeps_its_reserved_entries(tmp_path: Path) -> None:
    model, _ = _trained()
    with pytest.raises(TypeError, match=r"\['config', 'version'\] are written by save_checkpoint"):
        save_checkpoint(tmp_path / "m.npz", model, version=2, config={})
    assert not (tmp_path / "m.npz").exists()
