"""Benchmark: training epochs of TwoLayerMLP here and in PyTorch (CPU), on the same machine.

Four workloads, each written the same way in both libraries:

- ``train_step``: `TwoLayerMLP.train_step` over shuffled batches of 64 (plain SGD, lr 0.1),
  also timed as a bare NumPy loop (the same arithmetic, no classes), which shows what this
  library's abstractions cost;
- ``autograd``: the same network and step on the autograd engine (``loss.backward()`` then
  `SGD`), against the same PyTorch loop as ``train_step``: the engine's cost over the layers;
- ``recipe``: the command line's default recipe through `train_epoch` (SGD with momentum 0.9,
  a cosine schedule stepped every batch, running loss and accuracy);
- ``adam``: TwoLayerMLP with Adam (lr 1e-3), batch 64: the optimizer's own cost.

The data are synthetic and MNIST-shaped (`synthetic.synthetic_mnist`: 60,000 x 784 float32
in [0, 1], ten classes, learnable) and held in memory, so only the training loop is timed, not
data loading. After a short warm-up of each, epochs alternate between the libraries and the
workloads (each round runs every workload in both) so that all see the same machine
conditions. Each library runs as it trains by default: this one with BLAS limited to
`DEFAULT_BLAS_THREADS` (as `fit` does), PyTorch with its own default threads. The report gives
each side's median seconds per epoch and their ratio.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd import functional as F
from ..autograd import nn
from ..core.tensor import Tensor
from ..core.types import Array
from ..data.datasets import minibatches
from ..layers import CrossEntropyLoss, Elementwise, Linear, ReLU, TwoLayerMLP
from ..optim import SGD, Adam
from ..optim.lr_scheduler import CosineAnnealingLR, LRScheduler
from ..training.loop import DEFAULT_BLAS_THREADS, batch_gradients, blas_threads, train_epoch
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

RECIPE_PARTS: dict[str, Part] = {
    "gathering batches": ([minibatches], False),  # the fancy-indexed copy of each batch
    "matrix products": ([Linear.forward, Linear.backward_params, Linear.backward], False),
    "ReLU": ([ReLU.forward, Elementwise.backward], True),
    "loss": ([CrossEntropyLoss.forward, CrossEntropyLoss.backward], True),
    "optimizer": ([SGD.step], True),
    "schedule": ([LRScheduler.step], True),
}
"""Where a ``recipe`` epoch's time goes (`profile_split`): each part's functions, with or
without what they call (Linear's own time is its matrix products and the bias)."""


@dataclass
class BenchResult:
    """Seconds per epoch for each workload and repeat; no PyTorch times when it is missing."""

    numpy: dict[str, list[float]] = field(default_factory=dict)
    bare: list[float] = field(default_factory=list)
    products: list[float] = field(default_factory=list)
    torch: dict[str, list[float]] = field(default_factory=dict)
    torch_version: str | None = None
    blas_threads: str = ""
    torch_threads: int | None = None
    profile: dict[str, float] = field(default_factory=dict)

    def report(self) -> str:
        head = f"NumPy {np.__version__} (BLAS threads: {self.blas_threads})"
        if self.torch_version:
            threads = "default" if self.torch_threads is None else self.torch_threads
            head += f", PyTorch {self.torch_version} (CPU, threads: {threads})"
        lines = [head + "; median seconds per epoch:"]
        runs = []
        for name, ours in self.numpy.items():
            line = f"  {name:<10}  deeplearning {statistics.median(ours):.3f} s"
            runs.append(f"  {name} runs: deeplearning {listed(ours)}")
            if name in self.torch:
                theirs = self.torch[name]
                ratio = statistics.median(ours) / statistics.median(theirs)
                line += f"   PyTorch {statistics.median(theirs):.3f} s   ratio {ratio:.2f}x"
                runs[-1] += f"; PyTorch {listed(theirs)}"
            lines.append(line)
        if self.bare:
            bare = statistics.median(self.bare)
            lines.append(f"  (a bare NumPy loop doing train_step's arithmetic: {bare:.3f} s)")
            runs.append(f"  bare NumPy runs: {listed(self.bare)}")
        if self.products:
            floor = statistics.median(self.products)
            over = statistics.median(self.numpy["train_step"]) / floor
            lines.append(
                f"  (train_step's five matrix products alone, the floor: {floor:.3f} s; "
                f"train_step takes {over:.2f}x that)"
            )
            runs.append(f"  matrix product runs: {listed(self.products)}")
        if "autograd" in self.numpy and "train_step" in self.numpy:
            pairs = zip(self.numpy["autograd"], self.numpy["train_step"])
            ratio = statistics.median(engine / layers for engine, layers in pairs)
            lines.append(
                f"  (the autograd engine's epoch / the layers' train_step, median over the "
                f"rounds: {ratio:.2f}x)"
            )
        if self.profile:
            total = sum(self.profile.values())
            lines.append(f"  where a recipe epoch's {total:.3f} s go (profiled):")
            lines.append(f"    {format_split(self.profile)}")
        if not self.torch_version:
            lines.append('PyTorch is not installed: python -m pip install "deeplearning[torch]"')
        return "\n".join(lines + runs)


def run_benchmark(
    repeats: int = 5,
    samples: int = 60_000,
    seed: int = 0,
    threads: int | None = None,
    profile: bool = False,
) -> BenchResult:
    """Time ``repeats`` epochs of each workload in each library, alternating: with each
    library's default threads, or with ``threads`` each (this library's BLAS, PyTorch's
    intra-op threads). With ``profile``, then profile one more ``recipe`` epoch here (see
    `RECIPE_PARTS`)."""
    x, y = synthetic_mnist(samples, seed)
    steps = (repeats + 1) * -(-samples // 64)  # the cosine schedule's length: every epoch run
    workloads: dict[str, tuple[Epoch, Epoch | None]] = {
        "train_step": (_numpy_train_step(x, y, seed), _torch_loop(x, y, seed, momentum=0.0)),
        "autograd": (_engine_train_step(x, y, seed), _torch_loop(x, y, seed, momentum=0.0)),
        "recipe": (_numpy_recipe(x, y, seed, steps), _torch_loop(x, y, seed, 0.9, steps)),
        "adam": (_numpy_adam(x, y, seed), _torch_loop(x, y, seed, momentum=0.0, adam=True)),
    }
    result = BenchResult(torch_version=torch_version())
    ours_threads = threads or DEFAULT_BLAS_THREADS
    with blas_threads(ours_threads) as limited:
        result.blas_threads = str(ours_threads) if limited else "default"
    if threads is not None and result.torch_version:
        result.torch_threads = threads
    bare, products = _bare_numpy_train_step(x, y, seed), _matrix_products(x, seed)
    for epoch in (bare, *[e for pair in workloads.values() for e in pair if e is not None]):
        epoch(True)
    with torch_threads(threads):
        for _ in range(repeats):  # every workload in each round: all see the same conditions
            for name, (ours, theirs) in workloads.items():
                with blas_threads(ours_threads):
                    result.numpy.setdefault(name, []).append(timed(ours))
                    if name == "train_step":
                        result.bare.append(timed(bare))
                        result.products.append(timed(products))
                if theirs is not None:
                    result.torch.setdefault(name, []).append(timed(theirs))
    if profile:
        with blas_threads(ours_threads):
            result.profile = profile_split(workloads["recipe"][0], RECIPE_PARTS)
    return result


def _matrix_products(x: Array, seed: int) -> Epoch:
    """The floor under ``train_step``: an epoch of its five matrix products alone (forward
    ``x W1`` and ``a W2``; backward ``dz W2ᵀ``, ``aᵀ dz`` and ``xᵀ da``), on batches sliced
    in order (no gathering) and fixed stand-ins for the activations."""
    model = TwoLayerMLP(rng=seed)
    W1, W2 = model.fc1.W.data, model.fc2.W.data
    rng = np.random.default_rng(seed)
    a = rng.random((64, W1.shape[1]), dtype=np.float32)
    dz = rng.random((64, W2.shape[1]), dtype=np.float32)
    gW1, gW2 = np.empty_like(W1), np.empty_like(W2)

    def epoch(warmup: bool) -> None:
        n = WARMUP_BATCHES * 64 if warmup else len(x)
        for start in range(0, n - 63, 64):
            x_batch = x[start : start + 64]
            x_batch @ W1, a @ W2
            da = dz @ W2.T
            np.matmul(a.T, dz, out=gW2)
            np.matmul(x_batch.T, da, out=gW1)

    return epoch


SCALING_BATCHES = (16, 32, 64, 128, 256, 1024)
SCALING_WIDTHS = (128, 512, 2048)


@dataclass
class ScalingResult:
    """Seconds per epoch of ``train_step`` (TwoLayerMLP, plain SGD) by batch size and hidden
    width, here and in PyTorch: {(batch, width): (ours, theirs or None)}."""

    samples: int
    threads: str
    seconds: dict[tuple[int, int], tuple[float, float | None]] = field(default_factory=dict)

    def report(self) -> str:
        lines = [
            f"train_step epochs of {self.samples:,} samples ({self.threads}); seconds per "
            "epoch and samples per second:",
            "   batch  hidden   deeplearning            PyTorch                 ratio",
        ]
        for (batch, width), (ours, theirs) in self.seconds.items():
            rate = self.samples / ours
            line = f"  {batch:>6}  {width:>6}   {ours:6.3f} s {rate:>9,.0f}/s"
            if theirs is not None:
                rate = self.samples / theirs
                line += f"   {theirs:6.3f} s {rate:>9,.0f}/s   {ours / theirs:.2f}x"
            lines.append(line)
        return "\n".join(lines)


def run_scaling(samples: int = 20_000, seed: int = 0, threads: int | None = None) -> ScalingResult:
    """One epoch of ``train_step`` here and in PyTorch (alternating, after a warm-up) for each
    batch size of `SCALING_BATCHES` at width 128 and each width of `SCALING_WIDTHS` at batch
    64; with each library's default threads, or ``threads`` each."""
    x, y = synthetic_mnist(samples, seed)
    ours_threads = threads or DEFAULT_BLAS_THREADS
    label = f"BLAS threads here: {ours_threads}; PyTorch: {threads or 'default'}"
    result = ScalingResult(samples, label)
    cases = [(batch, 128) for batch in SCALING_BATCHES]
    cases += [(64, width) for width in SCALING_WIDTHS if width != 128]
    with torch_threads(threads):
        for batch, width in cases:
            ours = _numpy_train_step(x, y, seed, width, batch)
            theirs = _torch_loop(x, y, seed, momentum=0.0, hidden=width, batch_size=batch)
            with blas_threads(ours_threads):
                ours(True)
                mine = timed(ours)
            other = None
            if theirs is not None:
                theirs(True)
                other = timed(theirs)
            result.seconds[(batch, width)] = (mine, other)
    return result


def _numpy_train_step(
    x: Array, y: Array, seed: int, hidden: int = 128, batch_size: int = 64
) -> Epoch:
    model = TwoLayerMLP(784, hidden, 10, rng=seed)
    shuffle = np.random.default_rng(seed)

    def epoch(warmup: bool) -> None:
        n = WARMUP_BATCHES * batch_size if warmup else len(x)
        for x_batch, y_batch in minibatches(x[:n], y[:n], batch_size, rng=shuffle):
            model.train_step(x_batch, y_batch, lr=0.1)

    return epoch


def _numpy_adam(x: Array, y: Array, seed: int) -> Epoch:
    """TwoLayerMLP's gradients (`training.batch_gradients`) and an `Adam` step, batch 64."""
    model, shuffle = TwoLayerMLP(rng=seed), np.random.default_rng(seed)
    optimizer = Adam(model.parameters(), lr=1e-3)

    def epoch(warmup: bool) -> None:
        n = WARMUP_BATCHES * 64 if warmup else len(x)
        for x_batch, y_batch in minibatches(x[:n], y[:n], 64, rng=shuffle):
            batch_gradients(model, x_batch, y_batch)
            optimizer.step()

    return epoch


def _engine_train_step(x: Array, y: Array, seed: int) -> Epoch:
    """`_numpy_train_step` on the autograd engine: ``nn.TwoLayerMLP``, cross-entropy, SGD."""
    model, shuffle = nn.TwoLayerMLP(rng=seed), np.random.default_rng(seed)
    optimizer = SGD(model.parameters(), lr=0.1)

    def epoch(warmup: bool) -> None:
        n = WARMUP_BATCHES * 64 if warmup else len(x)
        for x_batch, y_batch in minibatches(x[:n], y[:n], 64, rng=shuffle):
            loss = F.cross_entropy(model(Tensor(x_batch)), y_batch)
            loss.backward()
            optimizer.step()
            loss.item()  # as train_step returns the loss

    return epoch


def _bare_numpy_train_step(x: Array, y: Array, seed: int) -> Epoch:
    """`TwoLayerMLP.train_step`'s arithmetic written out as one loop of NumPy calls."""
    model = TwoLayerMLP(rng=seed)  # only for its initial weights
    W1, b1, W2, b2 = (param.data.copy() for param in model.parameters())
    shuffle = np.random.default_rng(seed)

    def epoch(warmup: bool) -> None:
        n_samples = min(WARMUP_BATCHES * 64, len(x)) if warmup else len(x)
        order = shuffle.permutation(n_samples)
        for start in range(0, n_samples, 64):
            index = order[start : start + 64]
            x_batch, y_batch, rows = x[index], y[index], np.arange(len(index))
            h = x_batch @ W1 + b1
            a = np.maximum(h, 0)
            z = a @ W2 + b2
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            float(-np.log(p[rows, y_batch]).mean())  # the loss, read as train_step returns it
            p[rows, y_batch] -= 1
            p /= len(index)
            da = (p @ W2.T) * (h > 0)
            W2[...] -= 0.1 * (a.T @ p)  # [...]: update the arrays in place
            b2[...] -= 0.1 * p.sum(axis=0)
            W1[...] -= 0.1 * (x_batch.T @ da)
            b1[...] -= 0.1 * da.sum(axis=0)

    return epoch


def _numpy_recipe(x: Array, y: Array, seed: int, steps: int) -> Epoch:
    model = TwoLayerMLP(rng=seed)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = LRScheduler(optimizer, CosineAnnealingLR(0.05, T_max=steps))
    loss_fn, shuffle = CrossEntropyLoss(), np.random.default_rng(seed)

    def epoch(warmup: bool) -> None:
        n = WARMUP_BATCHES * 64 if warmup else len(x)
        train_epoch(model, loss_fn, optimizer, x[:n], y[:n], batch_size=64, rng=shuffle,
                    scheduler=scheduler)  # fmt: skip

    return epoch


def _torch_loop(
    x: Array,
    y: Array,
    seed: int,
    momentum: float,
    steps: int | None = None,
    hidden: int = 128,
    batch_size: int = 64,
    adam: bool = False,
) -> Epoch | None:
    """The same epoch in PyTorch: SGD (lr 0.1 plain, or 0.05 with momentum and a cosine
    schedule of ``steps``, counting accuracy as `train_epoch` does), or Adam (lr 1e-3)."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, hidden, dtype=torch.float32),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, 10, dtype=torch.float32),
    )
    recipe = steps is not None
    optimizer: Any = (
        torch.optim.Adam(model.parameters(), lr=1e-3)
        if adam
        else torch.optim.SGD(model.parameters(), lr=0.05 if recipe else 0.1, momentum=momentum)
    )
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps) if recipe else None
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    shuffle = torch.Generator().manual_seed(seed)

    def epoch(warmup: bool) -> None:
        n = min(WARMUP_BATCHES * batch_size, len(tx)) if warmup else len(tx)
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
            loss.item()  # as the NumPy loops read each loss
            if scheduler is not None:
                scheduler.step()
                correct += int((logits.argmax(dim=1) == y_batch).sum())

    return epoch
