"""A training recipe: every choice of a run, in one record that builds the run's objects.

The command line fills a `Recipe` from its options; a checkpoint stores it, so that
``train --resume`` rebuilds the same model, optimizer and schedule. From a script::

    recipe = Recipe(model="784-256-128-10", batchnorm=True, dropout=0.2, optimizer="adamw",
                    lr=3e-3, warmup=1, epochs=10)
    rng = np.random.default_rng(recipe.seed)
    model = recipe.build_model(rng)         # for 784 features and 10 classes
    optimizer = recipe.build_optimizer(model)
    schedule = recipe.build_schedule(steps_per_epoch=469)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import numpy as np

from ..autograd import nn
from ..core.module import Module
from ..core.validation import check_flag, check_int, check_number
from ..data.registry import dataset_names
from ..layers import MLP, LeNet5, TwoLayerMLP
from ..optim import SGD, Adam, AdamW, Optimizer, RMSprop
from ..optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    Schedule,
    SequentialLR,
    StepLR,
)
from .loop import DEFAULT_BLAS_THREADS

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
}
DEFAULT_LR = {"sgd": 0.05, "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
SCHEDULERS = ("cosine", "constant", "step", "exponential")
ENGINES: dict[str, dict[str, Callable[..., Module]]] = {
    "layers": {"TwoLayerMLP": TwoLayerMLP, "MLP": MLP, "LeNet5": LeNet5},
    "autograd": {"TwoLayerMLP": nn.TwoLayerMLP, "MLP": nn.MLP, "LeNet5": nn.LeNet5},
}
"""The model classes of each path, by class name: the layer path (hand-written backward
passes) and the autograd engine. The same recipe builds the same network on either."""
IMAGE_MODELS = {"lenet5": "LeNet5"}
"""The models that take images (N, C, H, W) rather than flat rows, by their ``--model`` name,
and their class names."""
WARMUP_START_FACTOR = 0.01
"""Warm-up rises linearly from 1% of the learning rate."""


@dataclass
class Recipe:
    """Every choice of a training run. ``None`` means the optimizer's own default.

    Attributes
    ----------
    model : str
        ``"two-layer"`` (TwoLayerMLP, 784-128-10), the sizes of an `MLP`, ``"784-256-10"``, or
        ``"lenet5"`` (`LeNet5`, a convolutional network).
    batchnorm, dropout : bool, float
        BatchNorm and Dropout(p) in each hidden layer of an MLP or LeNet5.
    optimizer : str
        ``"sgd"``, ``"rmsprop"``, ``"adam"`` or ``"adamw"``.
    lr : float or None
        Peak learning rate; by default 0.05 for SGD and 1e-3 for the others.
    momentum : float or None
        For SGD (default 0.9) and RMSprop (default 0).
    weight_decay : float or None
        The optimizer's weight decay (default 0, and 0.01 for AdamW).
    scheduler : str
        ``"cosine"`` (to 0 at the end), ``"constant"``, ``"step"`` (by default x0.1 after each
        third of the run) or ``"exponential"`` (by default to 1% at the end), after the
        warm-up.
    step_size : int or None
        For ``"step"``: the epochs between two decays (as PyTorch's `StepLR` counts them when
        stepped once an epoch); by default a third of the epochs after the warm-up.
    gamma : float or None
        For ``"step"`` and ``"exponential"``: the factor in (0, 1] the rate is multiplied by
        at each decay (``"step"``, default 0.1) or after each epoch (``"exponential"``,
        default: the factor that reaches 1% of the rate at the end).
    warmup : int
        Epochs of linear warm-up from 1% of ``lr``.
    clip_grad : float or None
        Clip the gradients' global norm to this before each step.
    engine : str
        ``"layers"`` (hand-written backward passes) or ``"autograd"`` (the engine): the same
        network, weights and gradients, computed by either path.
    threads : int
        BLAS threads while training. Results are bit-for-bit repeatable for one thread count
        (on one machine, with the same library versions); another count may round the matrix
        products differently.
    """

    dataset: str = "mnist"
    model: str = "two-layer"
    batchnorm: bool = False
    dropout: float = 0.0
    epochs: int = 5
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    scheduler: str = "cosine"
    step_size: int | None = None
    gamma: float | None = None
    warmup: int = 0
    clip_grad: float | None = None
    seed: int = 0
    engine: str = "layers"
    threads: int = DEFAULT_BLAS_THREADS

    def __post_init__(self) -> None:
        self._check_types()
        if self.dataset not in (images := dataset_names("images")):
            raise ValueError(f"unknown data set {self.dataset!r}; choose one of {images}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; choose one of {list(OPTIMIZERS)}"
            )
        if self.scheduler not in SCHEDULERS:
            raise ValueError(
                f"unknown scheduler {self.scheduler!r}; choose one of {list(SCHEDULERS)}"
            )
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose one of {list(ENGINES)}")
        if self.momentum is not None and self.optimizer not in ("sgd", "rmsprop"):
            raise ValueError(f"--momentum applies to sgd and rmsprop, not {self.optimizer}")
        if self.model == "two-layer" and (self.batchnorm or self.dropout):
            raise ValueError(
                "TwoLayerMLP has no BatchNorm or Dropout: give the model as sizes, "
                "e.g. --model 784-128-10 --batchnorm"
            )
        for name, low in (("epochs", 1), ("batch_size", 1), ("threads", 1), ("seed", 0),
                          ("warmup", 0)):  # fmt: skip
            check_int(getattr(self, name), name, "Recipe", low=low)
        for name in ("momentum", "weight_decay"):
            if getattr(self, name) is not None:
                check_number(getattr(self, name), name, "Recipe", low=0, example=f"{name}=0.9")
        if not 0 <= self.dropout < 1:  # also refuses NaN
            raise ValueError(f"dropout must be a probability in [0, 1), got {self.dropout!r}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr >= 0):
            raise ValueError(f"lr must be a finite number >= 0 (or None), got {self.lr!r}")
        if self.clip_grad is not None and not (
            math.isfinite(self.clip_grad) and self.clip_grad > 0
        ):
            raise ValueError(
                f"clip_grad must be a finite number > 0 (or None), got {self.clip_grad!r}"
            )
        if not 0 <= self.warmup < self.epochs:
            raise ValueError(f"warm-up must last 0 to {self.epochs - 1} epochs, got {self.warmup}")
        self._check_schedule_options()

    def _check_schedule_options(self) -> None:
        """``step_size`` (an int >= 1) only for the step schedule; ``gamma`` (in (0, 1]) only
        for the step and exponential ones."""
        if self.step_size is not None:
            check_int(self.step_size, "step_size", "Recipe", example="step_size=2")
            if self.scheduler != "step":
                raise ValueError(f"--step-size applies to the step schedule, not {self.scheduler}")
        if self.gamma is not None:
            check_number(self.gamma, "gamma", "Recipe", low=0, low_open=True, high=1,
                         example="gamma=0.5", why=" (the factor of each decay)")  # fmt: skip
            if self.scheduler not in ("step", "exponential"):
                raise ValueError(
                    f"--gamma applies to the step and exponential schedules, not {self.scheduler}"
                )

    def _check_types(self) -> None:
        """Refuse an entry of the wrong type (TypeError) before the checks of its value."""
        for name in ("dataset", "model", "optimizer", "scheduler", "engine"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string, got {type(value).__name__} {value!r}")
        check_flag(self.batchnorm, "batchnorm", "Recipe")
        for name in ("dropout", "lr", "momentum", "weight_decay", "clip_grad", "gamma"):
            value = getattr(self, name)
            if value is None and name != "dropout":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")

    @property
    def images(self) -> bool:
        """Whether the model takes images (N, C, H, W) (load the data with flatten=False)."""
        return self.model in IMAGE_MODELS

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Recipe:
        """A recipe from `to_dict`'s output; unknown keys are an error."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(values.keys() - known)
        if unknown:
            raise ValueError(f"unknown recipe entries {unknown}; known: {sorted(known)}")
        return cls(**values)

    def build_model(
        self,
        rng: np.random.Generator,
        sample_shape: tuple[int, ...] = (784,),
        num_classes: int = 10,
    ) -> Module:
        """The model for samples of ``sample_shape`` ((features,), or (C, H, W) images for
        LeNet5) and ``num_classes``, on the recipe's engine, its weights (and dropout masks)
        drawn from ``rng``."""
        models = ENGINES[self.engine]
        if self.images:
            if len(sample_shape) != 3 or sample_shape[1] != sample_shape[2]:
                raise ValueError(
                    f"--model {self.model} takes square images (C, H, W) but the samples have "
                    f"shape {sample_shape}: load the data with flatten=False"
                )
            channels, size = sample_shape[0], sample_shape[1]
            return models[IMAGE_MODELS[self.model]](
                channels, num_classes, size, self.batchnorm, self.dropout, rng=rng
            )
        in_features = math.prod(sample_shape)
        if self.model == "two-layer":
            return models["TwoLayerMLP"](in_features, 128, num_classes, rng=rng)
        try:
            sizes = [int(size) for size in self.model.split("-")]
        except ValueError:
            raise ValueError(
                f"--model must be 'two-layer', {', '.join(map(repr, IMAGE_MODELS))} or sizes "
                f"joined by '-', like 784-256-10; got {self.model!r}"
            ) from None
        if sizes[0] != in_features or sizes[-1] != num_classes:
            raise ValueError(
                f"--model {self.model}: the data has {in_features} features and {num_classes} "
                f"classes, so the sizes must start with {in_features} and end with {num_classes}"
            )
        return models["MLP"](sizes, batchnorm=self.batchnorm, dropout=self.dropout, rng=rng)

    def build_optimizer(self, model: Module) -> Optimizer:
        """The optimizer over ``model.parameters()``."""
        options: dict[str, Any] = {"lr": self.learning_rate}
        if self.optimizer == "sgd":
            options["momentum"] = 0.9 if self.momentum is None else self.momentum
        elif self.momentum is not None:
            options["momentum"] = self.momentum
        if self.weight_decay is not None:
            options["weight_decay"] = self.weight_decay
        return OPTIMIZERS[self.optimizer](model.parameters(), **options)

    def build_schedule(self, steps_per_epoch: int) -> Schedule:
        """The learning rate as a function of the step, over ``epochs * steps_per_epoch``."""
        if steps_per_epoch < 1:
            raise ValueError(f"a schedule needs at least one step per epoch, got {steps_per_epoch}")
        lr = self.learning_rate
        warm = self.warmup * steps_per_epoch
        rest = self.epochs * steps_per_epoch - warm
        main: Schedule
        if self.scheduler == "cosine":
            main = CosineAnnealingLR(lr, T_max=rest)
        elif self.scheduler == "step":
            size = self.step_size * steps_per_epoch if self.step_size else max(1, -(-rest // 3))
            main = StepLR(lr, step_size=size, gamma=0.1 if self.gamma is None else self.gamma)
        elif self.scheduler == "exponential":
            if self.gamma is None:  # to 1% at the end
                main = ExponentialLR(lr, gamma=0.01 ** (1 / rest))
            else:  # gamma once an epoch: its steps' root once a step
                main = ExponentialLR(lr, gamma=self.gamma ** (1 / steps_per_epoch))
        else:
            main = ConstantLR(lr, factor=1.0, total_iters=0)
        if not warm:
            return main
        warmup = LinearLR(lr, start_factor=WARMUP_START_FACTOR, total_iters=warm)
        return SequentialLR([warmup, main], milestones=[warm])
