"""The training loop of a language model, as nanoGPT's ``train.py`` runs it, for either path.

One iteration::

    x, y = data.batch("train", batch_size, rng)     # random windows (or contexts)
    loss = lm_batch_gradients(model, x, y)          # sets every .grad
    clip_grad_norm(model.parameters(), grad_clip)   # if grad_clip
    optimizer.step()                                # at the rate schedule(it)

`train_language_model` runs iterations and yields an `EvalRecord` at each evaluation: at
iteration 0, every ``eval_interval`` iterations, and at the last. An evaluation is nanoGPT's
``estimate_loss`` (`estimate_loss`): the mean loss of ``eval_iters`` random batches of each of
the train and validation splits, in evaluation mode, drawn from a generator of their own,
seeded anew from ``(eval_seed, iteration)``, so that evaluating more or less often never
changes the training batches, and a resumed run draws what the whole run would have.
`evaluate_split` measures a split exactly instead: every token once (`lm_data`).

The learning rate is nanoGPT's `get_lr`: a linear warm-up over ``warmup_iters``, then a cosine
from ``lr`` down to ``min_lr`` at ``lr_decay_iters``, ``min_lr`` after; or makemore's step
(`lm_schedule`): ``lr`` until ``drop_at``, then ``min_lr``.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from ..autograd import functional as F
from ..core.kernels import log_softmax
from ..core.module import Module
from ..core.types import Array
from ..core.validation import check_int, check_number
from ..layers import CrossEntropyLoss, Layer
from ..optim import LRScheduler, Optimizer, clip_grad_norm
from .lm_data import LanguageData
from .loop import (
    DEFAULT_BLAS_THREADS,
    DIVERGENCE_FACTOR,
    TrainingDivergedError,
    blas_threads,
    progress_bar,
)

EVAL_SPLITS = ("train", "val")
"""The splits `estimate_loss` measures at each evaluation."""


@dataclass
class EvalRecord:
    """One evaluation of a run: the estimated losses after ``iter`` iterations, and the speed
    of the training since the evaluation before (``seconds`` of training, evaluations left
    out; both 0 at iteration 0)."""

    iter: int
    train_loss: float
    val_loss: float
    seconds: float
    tokens_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"iter {self.iter}: train loss {self.train_loss:.4f}, val loss {self.val_loss:.4f}, "
            f"{self.tokens_per_second:,.0f} tokens/s"
        )


def lm_batch_gradients(model: Module, x: Array, y: Array) -> float:
    """Set every parameter's ``.grad`` for one batch; return its mean cross-entropy.

    ``model(x)`` gives logits (B, T, V) for targets ``y`` (B, T), or (B, V) for ``y`` (B,);
    the loss is the mean over the B T (or B) targets, the logits seen as rows (-1, V):

    - a `Layer` model: `CrossEntropyLoss` on the rows, then ``model.backward_params`` with
      dL/dlogits put back in the logits' shape;
    - a model on the engine: ``F.cross_entropy`` on the reshaped logits Tensor, then
      ``loss.backward()``.
    """
    targets = np.asarray(y).reshape(-1)
    if isinstance(model, Layer):
        loss_fn = CrossEntropyLoss()
        logits = model.forward(x)
        loss = loss_fn.forward(logits.reshape(-1, logits.shape[-1]), targets)
        model.backward_params(loss_fn.backward().reshape(logits.shape))
        return loss
    output = model(x)
    loss_tensor = F.cross_entropy(output.reshape(-1, output.shape[-1]), targets)
    loss_tensor.backward()
    return loss_tensor.item()


def get_lr(it: int, *, lr: float, min_lr: float, warmup_iters: int, lr_decay_iters: int) -> float:
    """nanoGPT's learning rate at iteration ``it`` (counted from 0)::

    it < warmup_iters:             lr (it + 1) / (warmup_iters + 1)
    it >= lr_decay_iters:          min_lr
    otherwise, with r = (it - warmup_iters) / (lr_decay_iters - warmup_iters):
                                   min_lr + (1 + cos(π r)) / 2 (lr - min_lr)
    """
    if it < warmup_iters:
        return lr * (it + 1) / (warmup_iters + 1)
    if it >= lr_decay_iters:
        return min_lr
    ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


def step_lr(it: int, *, lr: float, min_lr: float, warmup_iters: int, drop_at: int) -> float:
    """makemore's rate: the warm-up of `get_lr`, then ``lr`` until iteration ``drop_at``
    (counted from 0), ``min_lr`` from it on (``lr = 0.1 if i < 100000 else 0.01``)."""
    if it < warmup_iters:
        return lr * (it + 1) / (warmup_iters + 1)
    return lr if it < drop_at else min_lr


def lm_schedule(
    lr: float, min_lr: float, warmup_iters: int, iters: int, drop_at: int | None = None
) -> Callable[[int], float]:
    """The rate of each iteration: `get_lr` decaying over the whole run (``lr_decay_iters =
    iters``), or `step_lr` given ``drop_at``."""
    if drop_at is None:
        return functools.partial(get_lr, lr=lr, min_lr=min_lr, warmup_iters=warmup_iters,
                                 lr_decay_iters=iters)  # fmt: skip
    return functools.partial(step_lr, lr=lr, min_lr=min_lr, warmup_iters=warmup_iters,
                             drop_at=drop_at)  # fmt: skip


def batch_nll(model: Module, x: Array, y: Array) -> float:
    """The summed negative log-likelihood (float64) of targets ``y`` under ``model``'s
    logits for ``x``, computed without a graph (`Module.infer`)."""
    logits = model.infer(x)
    log_probs = log_softmax(logits.reshape(-1, logits.shape[-1]).astype(np.float64))
    targets = np.asarray(y).reshape(-1)
    return float(-log_probs[np.arange(len(targets)), targets].sum())


def mean_nll(model: Module, x: Array, y: Array) -> float:
    """The mean negative log-likelihood of one batch (`batch_nll` over the targets)."""
    return batch_nll(model, x, y) / y.size


def estimate_loss(
    model: Module, data: LanguageData, batch_size: int, eval_iters: int, rng: np.random.Generator
) -> dict[str, float]:
    """nanoGPT's ``estimate_loss``: for the train and val splits, the mean of the mean losses
    of ``eval_iters`` random batches (drawn from ``rng``, the train split's first, one at a
    time: each is measured before the next is drawn), in evaluation mode; the model's mode is
    restored after."""
    was_training = model.training
    model.eval()
    try:
        losses = {}
        for split in EVAL_SPLITS:
            batches = (data.batch(split, batch_size, rng) for _ in range(eval_iters))
            means = (mean_nll(model, x, y) for x, y in batches)
            losses[split] = float(np.fromiter(means, np.float64, eval_iters).mean())
    finally:
        model.train(was_training)
    return losses


def evaluate_split(
    model: Module,
    data: LanguageData,
    split: str = "val",
    *,
    threads: int | None = DEFAULT_BLAS_THREADS,
) -> float:
    """The mean loss over every target of ``split`` once (`LanguageData.eval_batches`; for a
    stream, non-overlapping windows of block_size, `lm_data`), in evaluation mode: the sum of
    every target's negative log-likelihood over their number. ``threads``: BLAS threads, as in
    `train_language_model` (None leaves BLAS alone)."""
    if split not in data.splits:
        raise ValueError(f"no {split!r} split in this data set; it has {list(data.splits)}")
    was_training = model.training
    model.eval()
    try:
        with blas_threads(threads):
            total = sum(batch_nll(model, x, y) for x, y in data.eval_batches(split))
    finally:
        model.train(was_training)
    return total / data.targets(split)


def train_language_model(
    model: Module,
    data: LanguageData,
    optimizer: Optimizer,
    *,
    iters: int,
    batch_size: int,
    rng: np.random.Generator,
    schedule: Callable[[int], float],
    grad_clip: float | None = None,
    eval_interval: int = 250,
    eval_iters: int = 20,
    eval_seed: int = 0,
    start_iter: int = 0,
    progress: bool = False,
    threads: int | None = DEFAULT_BLAS_THREADS,
) -> Iterator[EvalRecord]:
    """Train ``model`` for iterations ``start_iter`` to ``iters`` and yield an `EvalRecord`
    at each evaluation (at 0 or, resuming, after ``start_iter``; at each multiple of
    ``eval_interval``; at ``iters``).

    Parameters
    ----------
    model : Module
        A language model on either path: token ids (B, T) to logits (B, T, V), or contexts
        (B, T) to logits (B, V) (`lm_batch_gradients`).
    data : LanguageData
        Its examples (`lm_data.load_language_data`).
    optimizer : Optimizer
        Over ``model.parameters()``; its rate is set by ``schedule`` at each iteration.
    iters, batch_size : int
        The last iteration and the rows per batch.
    rng : Generator
        Draws the training batches (and, if the model was built with it, the dropout masks):
        its state after an evaluation is what a resumed run restores.
    schedule : callable
        The learning rate of iteration ``it`` (`lm_schedule`).
    grad_clip : float, optional
        Clip the gradients' global norm to this before each step.
    eval_interval, eval_iters, eval_seed : int
        Evaluate every ``eval_interval`` iterations on ``eval_iters`` batches per split, drawn
        from ``np.random.default_rng((eval_seed, iteration))``.
    start_iter : int
        The iterations done already (resuming: its evaluation is not repeated).
    progress : bool
        A progress bar between evaluations (tqdm, on a terminal only).
    threads : int or None
        BLAS threads while training (`loop.DEFAULT_BLAS_THREADS`); None leaves BLAS alone.

    Raises
    ------
    TrainingDivergedError
        As soon as a batch's loss is NaN, infinite or over `loop.DIVERGENCE_FACTOR` times the
        first (or chance level's, ln V, if larger), before the step; or an evaluation's loss
        is not finite.
    """
    for name, value, low in (("iters", iters, 0), ("batch_size", batch_size, 1),
                             ("eval_interval", eval_interval, 1), ("eval_iters", eval_iters, 1),
                             ("start_iter", start_iter, 0)):  # fmt: skip
        check_int(value, name, "train_language_model", low=low)
    if grad_clip is not None:
        check_number(grad_clip, "grad_clip", "train_language_model", low=0, low_open=True,
                     example="grad_clip=1.0")  # fmt: skip
    tokens_per_step = batch_size * data.tokens_per_example
    seconds, steps, bar, limit = 0.0, 0, None, None
    with blas_threads(threads):
        scheduler = LRScheduler(optimizer, schedule, last_step=start_iter)
        model.train()
        try:
            for it in range(start_iter, iters + 1):
                if (it % eval_interval == 0 or it == iters) and (it > start_iter or it == 0):
                    _close(bar)
                    bar = None
                    rng_eval = np.random.default_rng((eval_seed, it))
                    losses = estimate_loss(model, data, batch_size, eval_iters, rng_eval)
                    if not all(math.isfinite(loss) for loss in losses.values()):
                        raise TrainingDivergedError(
                            f"the estimated losses became {losses}", 0, it, optimizer.lr,
                            at=f"iteration {it}",
                        )  # fmt: skip
                    speed = steps * tokens_per_step / seconds if seconds else 0.0
                    yield EvalRecord(it, losses["train"], losses["val"], seconds, speed)
                    seconds, steps = 0.0, 0
                if it == iters:
                    break
                if progress and bar is None:  # until the next evaluation
                    following = min(iters, (it // eval_interval + 1) * eval_interval)
                    bar = progress_bar(following - it, f"iter {it}", " it")
                start = time.perf_counter()
                x, y = data.batch("train", batch_size, rng)
                loss = lm_batch_gradients(model, x, y)
                if limit is None:  # chance level's loss is ln V
                    limit = DIVERGENCE_FACTOR * max(loss, math.log(data.tokenizer.vocab_size))
                _check_loss(loss, limit, it + 1, optimizer.lr)
                if grad_clip is not None:
                    clip_grad_norm(model.parameters(), grad_clip)
                optimizer.step()
                scheduler.step()
                seconds += time.perf_counter() - start
                steps += 1
                if bar is not None:
                    bar.update(1)
                    if steps % 10 == 0:
                        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        finally:
            _close(bar)


def _close(bar: Any) -> None:
    """Close a progress bar (None: there is none)."""
    if bar is not None:
        bar.close()


def _check_loss(loss: float, limit: float, iteration: int, lr: float) -> None:
    """Refuse (`TrainingDivergedError`) a batch's loss that is not finite or over ``limit``."""
    if math.isfinite(loss) and loss <= limit:
        return
    what = f"the loss became {loss}"
    if math.isfinite(loss):
        what = f"the loss reached {loss:.3g}, over {DIVERGENCE_FACTOR:g} times its start"
    raise TrainingDivergedError(what, 0, iteration, lr, at=f"iteration {iteration}")
