"""The ``cnn`` benchmark (``python -m deeplearning bench --cnn``): LeNet5 here and in PyTorch.

Both train the same network (`LeNet5`; PyTorch's twin below) with SGD (lr 0.05, momentum 0.9)
on shuffled batches of 64 of synthetic MNIST-shaped images (N, 1, 28, 28) held in memory
(`synthetic.synthetic_mnist`). Epochs alternate between the libraries under two thread settings:
one thread each, and each library's default (this one runs BLAS on `DEFAULT_BLAS_THREADS`, as
`fit` does; PyTorch on all cores). Then one more epoch here is profiled, to say where the time
goes (im2col, the matrix products, col2im, pooling, the rest), and one is traced for the peak
memory it allocates.
"""

from __future__ import annotations

import importlib
import statistics
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from ..core import windows
from ..core.types import Array
from ..data.datasets import minibatches
from ..layers import AvgPool2d, Conv2d, LeNet5, Linear, MaxPool2d
from ..optim import SGD
from ..training.loop import DEFAULT_BLAS_THREADS, batch_gradients, blas_threads
from .synthetic import synthetic_mnist
from .timing import (
    WARMUP_BATCHES,
    Epoch,
    Part,
    format_split,
    listed,
    profile_split,
    timed,
    torch_threads,
    torch_version,
)

PARTS: dict[str, Part] = {
    "im2col": ([windows.im2col], True),
    "matrix products": (
        [Conv2d.forward, Conv2d._columns, Conv2d.backward,
         Linear.forward, Linear.backward_params, Linear.backward],
        False,
    ),  # their own time: the products they run (im2col and col2im are calls, counted apart)
    "col2im": ([windows.col2im], True),
    "pooling": ([MaxPool2d.forward, MaxPool2d.backward, AvgPool2d.forward, AvgPool2d.backward],
                True),
}  # fmt: skip
"""Where an epoch's time goes: the functions of each part (see `timing.profile_split`)."""


@dataclass
class CnnResult:
    """Seconds per epoch by thread setting and library, and where this library's time goes."""

    samples: int
    torch_version: str | None
    torch_threads: int = 0
    numpy: dict[str, list[float]] = field(default_factory=dict)
    torch: dict[str, list[float]] = field(default_factory=dict)
    split: dict[str, float] = field(default_factory=dict)
    peak_bytes: int = 0

    def report(self) -> str:
        threads = f"BLAS threads here: 1 and {DEFAULT_BLAS_THREADS}"
        if self.torch_version:
            threads += f"; PyTorch {self.torch_version}: 1 and {self.torch_threads}"
        lines = [
            f"cnn: LeNet5, SGD with momentum, batch 64, {self.samples:,} images per epoch "
            f"({threads}); median seconds per epoch:"
        ]
        for setting, ours in self.numpy.items():
            line = f"  {setting:<24} deeplearning {statistics.median(ours):.3f} s"
            runs = f"    runs: deeplearning {listed(ours)}"
            if setting in self.torch:
                theirs = self.torch[setting]
                ratio = statistics.median(ours) / statistics.median(theirs)
                line += f"   PyTorch {statistics.median(theirs):.3f} s   ratio {ratio:.2f}x"
                runs += f"; PyTorch {listed(theirs)}"
            lines += [line, runs]
        if not self.torch_version:
            lines.append('PyTorch is not installed: python -m pip install "deeplearning[torch]"')
        total = sum(self.split.values())
        parts = format_split(self.split)
        lines.append(f"  where an epoch's {total:.2f} s go here (profiled, one thread): {parts}")
        lines.append(
            f"  peak memory a training epoch allocates here: {self.peak_bytes / 2**20:.1f} MiB"
        )
        return "\n".join(lines)


def run_cnn_benchmark(repeats: int = 3, samples: int = 60_000, seed: int = 0) -> CnnResult:
    """Time ``repeats`` epochs of LeNet5 in each library and thread setting, alternating; then
    profile one epoch here and trace the memory of another."""
    flat, y = synthetic_mnist(samples, seed)
    x = flat.reshape(samples, 1, 28, 28)
    ours, theirs = _numpy_lenet(x, y, seed), _torch_lenet(x, y, seed)
    result = CnnResult(samples, torch_version())
    if theirs is not None:
        result.torch_threads = importlib.import_module("torch").get_num_threads()
    # (this library's BLAS threads, PyTorch's threads: None for its default) for each setting
    settings = {"one thread each": (1, 1), "each library's default": (DEFAULT_BLAS_THREADS, None)}
    for epoch in (ours, theirs):
        if epoch is not None:
            epoch(True)
    for _ in range(repeats):
        for setting, (our_threads, their_threads) in settings.items():
            with blas_threads(our_threads):
                result.numpy.setdefault(setting, []).append(timed(ours))
            if theirs is not None:
                with torch_threads(their_threads):
                    result.torch.setdefault(setting, []).append(timed(theirs))
    with blas_threads(1):
        result.split = profile_split(ours, PARTS)
        result.peak_bytes = _peak_bytes(ours)
    return result


def _peak_bytes(epoch: Epoch) -> int:
    """The most memory that one epoch held at once, beyond what existed before it."""
    tracemalloc.start()
    try:
        epoch(False)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _numpy_lenet(x: Array, y: Array, seed: int) -> Epoch:
    model, shuffle = LeNet5(rng=seed), np.random.default_rng(seed)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)

    def epoch(warmup: bool) -> None:
        n = WARMUP_BATCHES * 64 if warmup else len(x)
        for x_batch, y_batch in minibatches(x[:n], y[:n], 64, rng=shuffle):
            batch_gradients(model, x_batch, y_batch)  # returns the loss, read as a float
            optimizer.step()

    return epoch


def _torch_lenet(x: Array, y: Array, seed: int) -> Epoch | None:
    """The same epoch in PyTorch, or None without it."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(seed)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    shuffle = torch.Generator().manual_seed(seed)

    def epoch(warmup: bool) -> None:
        n = min(WARMUP_BATCHES * 64, len(tx)) if warmup else len(tx)
        order = torch.randperm(n, generator=shuffle)
        for start in range(0, n, 64):
            index = order[start : start + 64]
            loss = loss_fn(model(tx[index]), ty[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()

    return epoch
