"""Benchmark: one training epoch of TwoLayerMLP here and in PyTorch (CPU), on the same machine.

Both sides run the default recipe (SGD with momentum, cosine schedule, batch 64) on the same
synthetic MNIST-shaped data (60,000 x 784 float32 in [0, 1], ten classes) held in memory, so
only the training loop is timed, not data loading. Epochs alternate between the two (NumPy,
PyTorch, NumPy, ...) so that both see the same machine conditions; each side first runs a
short warm-up. Each side runs as it trains by default: this library with BLAS limited to
`DEFAULT_BLAS_THREADS` (as `fit` does), PyTorch with its own default threads. The report gives
each side's median seconds per epoch and their ratio.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._types import Array
from .losses import CrossEntropyLoss
from .mnist_mlp import TwoLayerMLP
from .optim import SGD
from .schedules import CosineAnnealingLR, LRScheduler
from .train import DEFAULT_BLAS_THREADS, blas_threads, train_epoch


@dataclass
class BenchResult:
    """Seconds per epoch for each repeat; ``torch`` is empty when PyTorch is not installed."""

    numpy: list[float]
    torch: list[float]
    torch_version: str | None
    blas_threads: str

    def report(self) -> str:
        lines = [
            f"deeplearning (NumPy {np.__version__}, BLAS threads: {self.blas_threads}): "
            + _summary(self.numpy)
        ]
        if self.torch:
            lines.append(f"PyTorch {self.torch_version} (CPU):  {_summary(self.torch)}")
            ratio = statistics.median(self.numpy) / statistics.median(self.torch)
            lines.append(f"ratio: deeplearning takes {ratio:.2f}x PyTorch's time per epoch")
        else:
            lines.append('PyTorch is not installed: python -m pip install "deeplearning[torch]"')
        return "\n".join(lines)


def _summary(seconds: list[float]) -> str:
    shown = ", ".join(f"{s:.3f}" for s in seconds)
    return f"{statistics.median(seconds):.3f} s/epoch (median of {shown})"


def run_benchmark(
    repeats: int = 5,
    batch_size: int = 64,
    lr: float = 0.05,
    momentum: float = 0.9,
    samples: int = 60_000,
    seed: int = 0,
) -> BenchResult:
    """Time ``repeats`` epochs of each library, alternating; see the module docstring."""
    rng = np.random.default_rng(seed)
    x = rng.random((samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    steps = repeats * -(-samples // batch_size)
    numpy_epoch = _numpy_epoch(x, y, batch_size, lr, momentum, steps, seed)
    torch_epoch, version = _torch_epoch(x, y, batch_size, lr, momentum, steps, seed)
    numpy_epoch(warmup=True)
    if torch_epoch is not None:
        torch_epoch(warmup=True)
    numpy_times, torch_times = [], []
    for _ in range(repeats):
        with blas_threads(DEFAULT_BLAS_THREADS) as limited:
            numpy_times.append(_timed(numpy_epoch))
        if torch_epoch is not None:
            torch_times.append(_timed(torch_epoch))
    threads = str(DEFAULT_BLAS_THREADS) if limited else "its default (install threadpoolctl)"
    return BenchResult(numpy_times, torch_times, version, threads)


def _timed(epoch: Callable[..., None]) -> float:
    start = time.perf_counter()
    epoch()
    return time.perf_counter() - start


def _numpy_epoch(
    x: Array, y: Array, batch_size: int, lr: float, momentum: float, steps: int, seed: int
) -> Callable[..., None]:
    model = TwoLayerMLP(rng=seed)
    optimizer = SGD(model.parameters(), lr=lr, momentum=momentum)
    scheduler = LRScheduler(optimizer, CosineAnnealingLR(lr, T_max=steps))
    loss_fn, shuffle = CrossEntropyLoss(), np.random.default_rng(seed)

    def epoch(warmup: bool = False) -> None:
        xs, ys = (x[: 50 * batch_size], y[: 50 * batch_size]) if warmup else (x, y)
        train_epoch(model, loss_fn, optimizer, xs, ys, batch_size=batch_size, rng=shuffle,
                    scheduler=None if warmup else scheduler)  # fmt: skip

    return epoch


def _torch_epoch(
    x: Array, y: Array, batch_size: int, lr: float, momentum: float, steps: int, seed: int
) -> tuple[Callable[..., None] | None, str | None]:
    try:
        import torch
    except ImportError:
        return None, None
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 128, dtype=torch.float32),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 10, dtype=torch.float32),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    shuffle = torch.Generator().manual_seed(seed)

    def epoch(warmup: bool = False) -> None:
        n = 50 * batch_size if warmup else len(tx)
        order = torch.randperm(n, generator=shuffle)
        correct: Any = 0
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            x_batch, y_batch = tx[index], ty[index]
            logits = model(x_batch)
            loss = loss_fn(logits, y_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if not warmup:
                scheduler.step()
            loss.item()  # as the NumPy loop reads each loss (divergence check, running mean)
            correct += (logits.argmax(dim=1) == y_batch).sum()

    return epoch, str(torch.__version__)
