"""The training loop, shared by the command line and by users' scripts.

One epoch, batch by batch::

    loss, logits = batch_gradients(model, x_batch, y_batch, loss_fn)   # sets every .grad
    optimizer.step()                                # updates every parameter in place

`batch_gradients` is where the two paths differ, side by side; everything else here serves
both.

`fit` runs epochs and yields an `EpochStats` after each, so the caller decides what to print,
save or plot::

    for stats in fit(model, data, SGD(model.parameters(), lr=0.1), epochs=5, rng=0):
        print(stats)
"""

from __future__ import annotations

import ctypes
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..autograd import functional as F
from ..core.evaluation import loss_and_accuracy
from ..core.module import Module
from ..core.tensor import Tensor
from ..core.types import RNG, Array
from ..core.validation import check_int, check_number, check_rng
from ..data.datasets import Dataset, minibatches
from ..layers import CrossEntropyLoss, Layer
from ..optim import LRScheduler, Optimizer, clip_grad_norm

DEFAULT_BLAS_THREADS = 1
"""BLAS threads while training. A mini-batch's matrix products are small (64 x 784 x 128), so a
second thread saves little on an idle core and costs much on a busy one (README, Speed). A fixed
number also keeps runs bit-for-bit reproducible: OpenBLAS's products round differently on one
thread and on several."""


@contextmanager
def blas_threads(limit: int | None) -> Iterator[bool]:
    """Limit the BLAS library's threads to ``limit`` inside the block (None: no limit).

    Uses threadpoolctl (in the ``train`` extra); without it the block runs unchanged. Yields
    whether the limit is in force.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if limit is None or threadpool_limits is None:
        yield False
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield True


FREED_MEMORY_KEPT = 1 << 30
"""Bytes of freed memory the C library may keep for the process (`keep_freed_memory`)."""


def keep_freed_memory() -> bool:
    """Ask the C library to keep the memory of freed arrays for the process's next arrays,
    instead of handing it back to the system: glibc's ``mallopt`` with ``M_MMAP_THRESHOLD``
    and ``M_TRIM_THRESHOLD`` at `FREED_MEMORY_KEPT` (1 GiB). The command line calls it.

    A training step allocates and frees the same large temporaries (activations, gradients)
    again and again. By default glibc maps each block over 128 KiB afresh and unmaps it when
    freed, so every step faults its memory in again, page by page: on some machines a third of
    a GPT iteration (docs/performance.md). PyTorch's allocator keeps its tensors' memory in the
    same way. Returns whether it applied: False where the C library is not glibc (macOS,
    Windows, musl), whose policy then stays.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    trim_threshold, mmap_threshold = -1, -3  # M_TRIM_THRESHOLD, M_MMAP_THRESHOLD (malloc.h)
    kept = mallopt(mmap_threshold, FREED_MEMORY_KEPT) == 1
    return kept and bool(mallopt(trim_threshold, FREED_MEMORY_KEPT) == 1)


DIVERGENCE_FACTOR = 100.0
"""With the default cross-entropy loss, a batch loss above this many times the epoch's first
loss (or chance level's, ``ln K`` for K classes, if that is larger) means training diverged,
even if nothing is NaN yet. (Another loss, which may be near 0 or negative, is only checked
for NaN and infinity.)"""


class TrainingDivergedError(FloatingPointError):
    """The loss blew up (NaN, infinite, or `DIVERGENCE_FACTOR` times its start) or the weights
    became NaN or infinite; the weights are no longer usable."""

    def __init__(
        self, what: str, epoch: int, step: int, lr: float, *, at: str | None = None
    ) -> None:
        self.what, self.epoch, self.step, self.lr = what, epoch, step, lr
        self.at = at if at is not None else f"epoch {epoch}, step {step}"
        """Where it happened, in words (``"epoch 2, step 17"``, ``"iteration 57"``)."""
        super().__init__(
            f"{what} at {self.at}: training diverged. Try a lower learning rate than "
            f"{_one_figure(lr)} (for example {_one_figure(lr / 10)})."
        )


def _one_figure(number: float) -> str:
    """``number`` rounded to one significant figure, as ``%g`` writes it (99.9997 is 100)."""
    return f"{float(f'{number:.0e}'):g}"


@dataclass
class EpochStats:
    """What one epoch measured. Train metrics are means over the epoch's batches; the test
    loss (the mean cross-entropy) and accuracy come from one pass over the test set after it.

    ``test_loss`` comes last, with a default, because records written before it was measured
    lack it: ``EpochStats(**record)`` still rebuilds them, with None (not measured).
    """

    epoch: int
    train_loss: float
    train_acc: float
    test_acc: float
    seconds: float
    samples_per_second: float
    test_loss: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        test_loss = "" if self.test_loss is None else f"test loss {self.test_loss:.4f}  "
        return (
            f"epoch {self.epoch:3d}  train loss {self.train_loss:.4f}  "
            f"train acc {self.train_acc:.2%}  {test_loss}test acc {self.test_acc:.2%}  "
            f"{self.seconds:.2f} s  {self.samples_per_second:,.0f} samples/s"
        )


def batch_gradients(model: Module, x: Array, y: Array, loss_fn: Any = None) -> tuple[float, Array]:
    """Set every parameter's ``.grad`` for one batch; return the loss and the logits (N, C).

    The one place where the two paths differ:

    - a `Layer` model runs ``forward`` on arrays, the loss (a layer `CrossEntropyLoss` by
      default), then its hand-written backward passes, ``backward_params(loss_fn.backward())``;
    - a model on the engine runs ``forward`` on a `Tensor`, the loss (``F.cross_entropy`` by
      default), then ``loss.backward()``, which walks the recorded graph.
    """
    if isinstance(model, Layer):
        loss_fn = loss_fn if loss_fn is not None else CrossEntropyLoss()
        logits = model.forward(x)
        loss: float = loss_fn.forward(logits, y)
        model.backward_params(loss_fn.backward())
        return loss, logits
    output = model(Tensor(x))
    loss_tensor = (loss_fn or F.cross_entropy)(output, y)
    loss_tensor.backward()
    return loss_tensor.item(), output.data


def train_epoch(
    model: Module,
    loss_fn: Any,
    optimizer: Optimizer,
    x: Array,
    y: Array,
    *,
    batch_size: int = 64,
    rng: RNG = None,
    scheduler: LRScheduler | None = None,
    clip_grad: float | None = None,
    epoch: int = 1,
    progress: bool = False,
) -> tuple[float, float]:
    """Train for one pass over ``(x, y)`` in shuffled mini-batches.

    With ``clip_grad``, the gradients' global norm is clipped to it before each step; after
    each optimizer step, ``scheduler.step()`` sets the next step's learning rate.

    Returns
    -------
    (float, float)
        The mean loss and the accuracy over the epoch's batches (measured during training).

    Raises
    ------
    ValueError
        If there are no samples, ``x`` and ``y`` differ in length, or ``batch_size < 1``.
    TrainingDivergedError
        As soon as a batch's loss is NaN, infinite or above `DIVERGENCE_FACTOR` times the
        epoch's first loss and chance level's (before the bad step is applied), or at the end
        of the epoch if any weight is NaN or infinite.
    """
    if len(x) == 0:
        raise ValueError("train_epoch needs at least one sample, got an empty data set")
    model.train()
    total_loss, correct = 0.0, 0
    limit = math.inf
    bar = progress_bar(len(x), f"epoch {epoch}", " samples") if progress else None
    for step, (x_batch, y_batch) in enumerate(minibatches(x, y, batch_size, rng=rng), 1):
        loss, logits = batch_gradients(model, x_batch, y_batch, loss_fn)
        if step == 1 and loss_fn is None and logits.ndim == 2 and logits.shape[1] > 1:
            # the default cross-entropy: positive, and ln K at chance level
            limit = DIVERGENCE_FACTOR * max(loss, math.log(logits.shape[1]))
        if not math.isfinite(loss):
            raise TrainingDivergedError(f"the loss became {loss}", epoch, step, optimizer.lr)
        if loss > limit:
            raise TrainingDivergedError(
                f"the loss reached {loss:.3g}, over {DIVERGENCE_FACTOR:g} times its start",
                epoch, step, optimizer.lr,
            )  # fmt: skip
        if clip_grad is not None:
            clip_grad_norm(model.parameters(), clip_grad)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss * len(y_batch)
        correct += int(np.count_nonzero(logits.argmax(axis=1) == y_batch))
        if bar is not None:
            bar.update(len(y_batch))
            if step % 20 == 0:
                bar.set_postfix(loss=f"{total_loss / bar.n:.4f}", refresh=False)
    if bar is not None:
        bar.close()
    if not all(np.isfinite(param.data).all() for param in model.parameters()):
        raise TrainingDivergedError("the weights became infinite or NaN", epoch, step, optimizer.lr)
    return total_loss / len(x), correct / len(x)


def fit(
    model: Module,
    data: Dataset,
    optimizer: Optimizer,
    *,
    epochs: int,
    batch_size: int = 64,
    rng: RNG = None,
    scheduler: LRScheduler | None = None,
    clip_grad: float | None = None,
    loss_fn: Any = None,
    progress: bool = False,
    start_epoch: int = 1,
    threads: int | None = DEFAULT_BLAS_THREADS,
) -> Iterator[EpochStats]:
    """Train ``model`` on ``data.x_train`` and yield `EpochStats` after each epoch.

    Parameters
    ----------
    model : Module
        Maps (N, features) to (N, classes) logits; a `Layer` model or one on the autograd
        engine.
    data : Dataset
        Train and test arrays; the test loss (the mean cross-entropy, whatever ``loss_fn``)
        and accuracy are measured after every epoch (`loss_and_accuracy`).
    optimizer : Optimizer
        Built on ``model.parameters()``.
    epochs : int
        The last epoch to run (epochs are numbered from 1).
    batch_size : int
        Samples per step; the last batch of an epoch may be smaller.
    rng : int, Generator or None
        The shuffling order; the same seed gives the same run.
    scheduler : LRScheduler, optional
        Sets the learning rate after every step.
    clip_grad : float, optional
        Clip the gradients' global norm to this before every step.
    loss_fn : optional
        The model's path's loss (a layer `CrossEntropyLoss`, or a function of a logits tensor
        and labels); cross-entropy by default.
    progress : bool
        Show a progress bar per epoch (tqdm, on a terminal only).
    start_epoch : int
        The first epoch's number, when resuming.
    threads : int or None
        BLAS threads during each epoch (see `DEFAULT_BLAS_THREADS`); None leaves BLAS alone.

    Raises
    ------
    ValueError or TypeError
        Before the first epoch, for an argument out of its range or of the wrong type, or
        data without training or test samples, or with test labels of another length.
    """
    _check_fit(data, epochs, start_epoch, batch_size, clip_grad, threads, rng)
    generator = np.random.default_rng(rng)
    for epoch in range(start_epoch, epochs + 1):
        with blas_threads(threads):
            start = time.perf_counter()
            train_loss, train_acc = train_epoch(
                model, loss_fn, optimizer, data.x_train, data.y_train, batch_size=batch_size,
                rng=generator, scheduler=scheduler, clip_grad=clip_grad, epoch=epoch,
                progress=progress,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            test_loss, test_acc = loss_and_accuracy(model, data.x_test, data.y_test)
        speed = len(data.x_train) / seconds
        yield EpochStats(epoch, train_loss, train_acc, test_acc, seconds, speed, test_loss)


def _check_fit(
    data: Dataset,
    epochs: int,
    start_epoch: int,
    batch_size: int,
    clip_grad: float | None,
    threads: int | None,
    rng: RNG,
) -> None:
    """`fit`'s arguments, checked before any work (each epoch would otherwise find its own
    fault only when it came to it: empty test data after a whole epoch of training)."""
    for name, value in (("epochs", epochs), ("start_epoch", start_epoch),
                        ("batch_size", batch_size)):  # fmt: skip
        check_int(value, name, "fit")
    if threads is not None:
        check_int(threads, "threads", "fit")
    if clip_grad is not None:
        check_number(clip_grad, "clip_grad", "fit", low=0, low_open=True, example="clip_grad=1.0")
    check_rng(rng)
    for part in ("train", "test"):
        x, y = getattr(data, f"x_{part}"), getattr(data, f"y_{part}")
        if len(x) == 0 or len(x) != len(y):
            raise ValueError(
                f"fit needs {part} samples with one label each, got {len(x)} samples and "
                f"{len(y)} labels"
            )


def progress_bar(total: int, desc: str, unit: str) -> Any:
    """A tqdm bar counting to ``total`` ``unit`` (``" samples"``), named ``desc``, that
    disappears when closed; or None without tqdm or without a terminal."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False)
