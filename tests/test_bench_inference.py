"""The ``inference`` benchmark: its runners compute the same predictions, its report gives every
figure with its threads and ratio (never a speed asserted), and it refuses bad arguments."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from deeplearning.bench.inference import (
    BATCHES,
    MODELS,
    InferenceResult,
    _runners,
    run_inference_benchmark,
)

IMAGES = max(BATCHES)


@pytest.fixture(scope="module")
def result() -> InferenceResult:
    return run_inference_benchmark(repeats=2, images=IMAGES)


@pytest.mark.parametrize("name", MODELS)
def test_the_runners_predict_the_same_scores(name: str, tmp_path: Path) -> None:
    layers_model, engine_model, shape = MODELS[name]
    runners = _runners(layers_model(rng=3).eval(), engine_model, shape, tmp_path / "m.onnx")
    x = np.random.default_rng(0).random((5, *shape), dtype=np.float32)
    scores = {runner: np.asarray(predict(x)) for runner, predict in runners.items()}
    for runner, out in scores.items():
        assert out.shape == (5, 10), runner
        np.testing.assert_allclose(out, scores["layers"], rtol=1e-5, atol=1e-5, err_msg=runner)


def test_every_workload_and_batch_is_timed_by_each_runner(result: InferenceResult) -> None:
    assert list(result.seconds) == [(name, batch) for name in MODELS for batch in BATCHES]
    expected = ["layers", "engine"]
    expected += ["PyTorch"] if result.torch_version else []
    expected += ["ONNX Runtime"] if result.onnxruntime_version else []
    for runners in result.seconds.values():
        assert list(runners) == expected
        assert all(len(times) == 2 and min(times) > 0 for times in runners.values())


def test_the_report_gives_the_threads_and_the_ratios_from_the_medians(
    result: InferenceResult,
) -> None:
    report = result.report()
    assert report.startswith(
        f"inference: microseconds per image, median of 2 runs of {IMAGES} images, one thread each"
    )
    runners = result.seconds["lenet5", 1]
    line = next(line for line in report.splitlines() if line.startswith("  lenet5    batch 1 "))
    layers = float(np.median(runners["layers"]))
    for name, times in runners.items():
        assert f"{name} {float(np.median(times)) * 1e6:8.1f}" in line
        if name not in ("layers", "engine"):
            assert f"layers/{name} {layers / float(np.median(times)):.2f}x" in line


def test_without_pytorch_and_onnx_runtime_both_paths_are_timed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for package in ("torch", "onnxruntime"):
        monkeypatch.setitem(sys.modules, package, None)  # import raises ImportError
    result = run_inference_benchmark(repeats=1, images=IMAGES)
    assert all(list(runners) == ["layers", "engine"] for runners in result.seconds.values())
    report = result.report()
    assert 'PyTorch is not installed: python -m pip install -e ".[torch]"' in report
    assert 'ONNX Runtime is not installed: python -m pip install -e ".[interop]"' in report


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"repeats": 0}, ValueError, "run_inference_benchmark: repeats must be an int >= 1"),
        ({"repeats": 2.0}, TypeError, "run_inference_benchmark: repeats must be an int"),
        ({"images": 100}, ValueError, "images must be an int >= 256"),
        ({"images": 300}, ValueError, "images must be a multiple of 256 .* got 300"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        run_inference_benchmark(**kwargs)
