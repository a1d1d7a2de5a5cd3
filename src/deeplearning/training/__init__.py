"""Training and what surrounds it: the loop (`fit`, `train_epoch`, `batch_gradients`), the
confusion matrix (`metrics`), the named recipes of the command line (`recipe`), and saving and
resuming a run (`checkpoint`, over the guarded archive reader of `archive`)."""

from .loop import (
    EpochStats,
    TrainingDivergedError,
    batch_gradients,
    fit,
    keep_freed_memory,
    train_epoch,
)

__all__ = [
    "EpochStats",
    "TrainingDivergedError",
    "batch_gradients",
    "fit",
    "keep_freed_memory",
    "train_epoch",
]
