"""The ``inference`` benchmark (``python -m deeplearning bench --inference``): predictions per
image here, in PyTorch and in ONNX Runtime.

A trained model is served, not trained: what counts is the time from a batch of images to its
class scores. Each workload is one model in evaluation mode, built once here and converted with
`interop.to_torch` and `interop.save_onnx`, so that all four compute the same function:

- ``layers`` and ``engine``: ``model.infer(x)`` on each path (the engine records no graph);
- ``PyTorch``: the converted module under ``torch.inference_mode()``;
- ``ONNX Runtime``: an ``InferenceSession`` of the exported graph (CPU, graph optimisations
  on, the default).

Every runner uses one thread (BLAS here, PyTorch's intra-op threads, ONNX Runtime's intra- and
inter-op threads), the setting of a server that runs one request per core. The runners
alternate within each repeat, on synthetic MNIST-shaped images (`synthetic.synthetic_mnist`),
and each figure is the median over the repeats of the seconds per image, for a batch of 1
(latency) and of 256 (throughput).
"""

from __future__ import annotations

import importlib
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..autograd import nn as engine
from ..core.module import Module
from ..core.types import Array
from ..core.validation import check_int
from ..interop import save_onnx, to_torch
from ..layers import LeNet5, TwoLayerMLP
from ..training.loop import blas_threads
from .synthetic import synthetic_mnist
from .timing import package_version, torch_threads, torch_version

MODELS: dict[str, tuple[Callable[..., Module], Callable[..., Module], tuple[int, ...]]] = {
    "lenet5": (LeNet5, engine.LeNet5, (1, 28, 28)),
    "two-layer": (TwoLayerMLP, engine.TwoLayerMLP, (784,)),
}
"""Each workload: its model on the layer path and on the engine, and the shape of one image."""

BATCHES = (1, 256)
IMAGES_PER_RUN = 2_048
"""Images each runner predicts in one timed run by default, in batches of one of `BATCHES`."""

Predict = Callable[[Array], Any]


@dataclass
class InferenceResult:
    """Seconds per image by workload, batch size and runner (a list over the repeats)."""

    repeats: int
    images: int
    torch_version: str | None
    onnxruntime_version: str | None
    seconds: dict[tuple[str, int], dict[str, list[float]]] = field(default_factory=dict)

    def report(self) -> str:
        versions = ", ".join(
            f"{name} {version}"
            for name, version in (("PyTorch", self.torch_version),
                                  ("ONNX Runtime", self.onnxruntime_version))
            if version
        )  # fmt: skip
        lines = [
            f"inference: microseconds per image, median of {self.repeats} runs of "
            f"{self.images:,} images, one thread each (BLAS here; {versions or 'nothing else'})"
        ]
        for (model, batch), runners in self.seconds.items():
            medians = {name: statistics.median(times) for name, times in runners.items()}
            cells = "  ".join(f"{name} {seconds * 1e6:8.1f}" for name, seconds in medians.items())
            ratios = "  ".join(
                f"layers/{name} {medians['layers'] / medians[name]:.2f}x"
                for name in medians
                if name not in ("layers", "engine")
            )
            lines.append(f"  {model:<9} batch {batch:<4} {cells}   {ratios}")
            runs = "; ".join(
                f"{name} {', '.join(f'{s * 1e6:.1f}' for s in times)}"
                for name, times in runners.items()
            )
            lines.append(f"    runs (us): {runs}")
        for name, extra in (("PyTorch", "torch"), ("ONNX Runtime", "interop")):
            if not any(name in runners for runners in self.seconds.values()):
                lines.append(
                    f'{name} is not installed: python -m pip install -e ".[{extra}]" from a clone'
                )
        return "\n".join(lines)


def run_inference_benchmark(
    repeats: int = 5, seed: int = 0, *, images: int = IMAGES_PER_RUN
) -> InferenceResult:
    """Time each workload's runners at each batch size, alternating, ``repeats`` runs of
    ``images`` images each (a multiple of the largest batch)."""
    check_int(repeats, "repeats", "run_inference_benchmark")
    check_int(images, "images", "run_inference_benchmark", low=max(BATCHES))
    if images % max(BATCHES):
        raise ValueError(
            f"run_inference_benchmark: images must be a multiple of {max(BATCHES)} (the largest "
            f"batch), got {images}"
        )
    pool, _ = synthetic_mnist(max(BATCHES), seed)
    result = InferenceResult(repeats, images, torch_version(), package_version("onnxruntime"))
    with tempfile.TemporaryDirectory() as folder, blas_threads(1), torch_threads(1):
        for name, (layers_model, engine_model, shape) in MODELS.items():
            model = layers_model(rng=seed).eval()
            runners = _runners(model, engine_model, shape, Path(folder) / f"{name}.onnx")
            x = pool.reshape(-1, *shape)
            for batch in BATCHES:
                for predict in runners.values():
                    predict(x[:batch])  # warm-up: first calls allocate and plan
                times = result.seconds.setdefault((name, batch), {})
                for _ in range(repeats):
                    for runner, predict in runners.items():
                        seconds = _seconds_per_image(predict, x, batch, images)
                        times.setdefault(runner, []).append(seconds)
    return result


def _runners(
    model: Module, engine_model: Callable[..., Module], shape: tuple[int, ...], path: Path
) -> dict[str, Predict]:
    """The model's predict function here on both paths, and where installed in PyTorch and in
    ONNX Runtime (exported to ``path``, for images of ``shape``): the same weights in all."""
    twin = engine_model(rng=0).eval()
    twin.load_state_dict(model.state_dict())
    runners: dict[str, Predict] = {"layers": model.infer, "engine": twin.infer}
    if torch_version() is not None:
        torch = importlib.import_module("torch")
        net = to_torch(model).eval()

        def in_torch(x: Array) -> Any:
            with torch.inference_mode():
                return net(torch.from_numpy(x)).numpy()

        runners["PyTorch"] = in_torch
    if package_version("onnxruntime") is not None and package_version("onnx") is not None:
        runtime = importlib.import_module("onnxruntime")
        save_onnx(model, path, example_input=np.zeros((1, *shape), dtype=np.float32))
        options = runtime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = runtime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        runners["ONNX Runtime"] = lambda x: session.run(None, {name: x})[0]
    return runners


def _seconds_per_image(predict: Predict, x: Array, batch: int, images: int) -> float:
    """Wall-clock seconds per image of predicting ``images`` images in batches of ``batch``,
    going round ``x`` (its length a multiple of ``batch``)."""
    starts = [start % len(x) for start in range(0, images, batch)]
    batches = [x[start : start + batch] for start in starts]
    start = time.perf_counter()
    for inputs in batches:
        predict(inputs)
    return (time.perf_counter() - start) / images
