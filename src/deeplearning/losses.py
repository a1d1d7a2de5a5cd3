"""The seed's module of losses, kept so that its imports work as written
(``from deeplearning.losses import CrossEntropyLoss``). The losses now live in
`deeplearning.layers.loss`; this module only re-exports them."""

from .layers.loss import CrossEntropyLoss, MSELoss

__all__ = ["CrossEntropyLoss", "MSELoss"]
