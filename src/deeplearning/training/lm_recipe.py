"""A language model's training recipe: every choice of a run, in one record that builds the
run's model, optimizer, schedule and data (`TextRecipe`), as `recipe.Recipe` does for images.

The command line fills it from ``train --model gpt|rnn|lstm|gru|mlp``'s options; a checkpoint
stores it, so that ``train --resume`` rebuilds the same run. An entry left None takes the
model's default (`MODEL_DEFAULTS`): nanoGPT's baby GPT on tiny Shakespeare (its
``config/train_shakespeare_char.py`` as its README runs it on a CPU) for ``gpt``, the same
training for the recurrent models, and makemore part 2 for ``mlp``::

    recipe = TextRecipe(model="mlp", dataset="names")      # 200,000 SGD steps, lr 0.1 -> 0.01
    rng = np.random.default_rng(recipe.seed)
    data = recipe.load_data()
    model = recipe.build_model(data.tokenizer.vocab_size, rng)
    optimizer = recipe.build_optimizer(model)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import numpy as np

from ..autograd import nn
from ..autograd.language_nets import MLPLanguageModel as EngineMLPLanguageModel
from ..autograd.language_nets import RecurrentLanguageModel as EngineRecurrentLanguageModel
from ..core.module import Module
from ..core.sequence_bases import MLP_INITS
from ..core.types import PathLike
from ..core.validation import check_int
from ..data.registry import dataset_names
from ..layers import GPT
from ..layers.language_models import MLPLanguageModel, RecurrentLanguageModel
from ..optim import Optimizer
from .archive import Shape
from .lm_data import LanguageData, load_language_data
from .lm_loop import lm_schedule
from .loop import DEFAULT_BLAS_THREADS
from .recipe import ENGINES, OPTIMIZERS

TEXT_MODELS = ("gpt", "rnn", "lstm", "gru", "mlp")
"""The language models ``train --model`` names: nanoGPT's GPT, a recurrent model of each
cell, and makemore's MLP."""
LANGUAGE_MODELS: dict[str, dict[str, Callable[..., Module]]] = {
    "layers": {"GPT": GPT, "RecurrentLanguageModel": RecurrentLanguageModel,
               "MLPLanguageModel": MLPLanguageModel},
    "autograd": {"GPT": nn.GPT, "RecurrentLanguageModel": EngineRecurrentLanguageModel,
                 "MLPLanguageModel": EngineMLPLanguageModel},
}  # fmt: skip
"""The language-model classes of each path, by class name (what a checkpoint's header
names), beside the image models of `recipe.ENGINES`."""


# -- the models' arrays ---------------------------------------------------------------------


def _gpt_shapes(
    vocab_size: int, block_size: int, n_layer: int, n_embd: int, bias: bool, **_: Any
) -> dict[str, Shape]:
    """nanoGPT's arrays (`core.gpt_base`): the two tables, each block's LayerNorms and four
    Linears (biases only with ``bias``), the last LayerNorm; the head is ``wte``'s table."""
    c = n_embd
    norm: dict[str, Shape] = {"weight": (c,), **({"bias": (c,)} if bias else {})}
    block: dict[str, Shape] = {
        f"{name}.{key}": shape for name in ("ln_1", "ln_2") for key, shape in norm.items()
    }
    for name, fan_in, fan_out in (("attn.c_attn", c, 3 * c), ("attn.c_proj", c, c),
                                  ("mlp.c_fc", c, 4 * c), ("mlp.c_proj", 4 * c, c)):  # fmt: skip
        block[f"{name}.W"] = (fan_in, fan_out)
        if bias:
            block[f"{name}.b"] = (fan_out,)
    shapes: dict[str, Shape] = {
        "transformer.wte.weight": (vocab_size, c),
        "transformer.wpe.weight": (block_size, c),
    }
    for i in range(n_layer):
        shapes.update({f"transformer.h.{i}.{key}": shape for key, shape in block.items()})
    shapes.update({f"transformer.ln_f.{key}": shape for key, shape in norm.items()})
    return shapes


def _recurrent_lm_shapes(
    vocab_size: int, n_embd: int, hidden: int, cell: str, **_: Any
) -> dict[str, Shape]:
    """`core.sequence_bases.RecurrentLanguageModelBase`'s arrays, G gate blocks per cell."""
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell] * hidden
    return {"embed.weight": (vocab_size, n_embd), "rnn.W_ih": (n_embd, gates),
            "rnn.W_hh": (hidden, gates), "rnn.b_ih": (gates,), "rnn.b_hh": (gates,),
            "head.W": (hidden, vocab_size), "head.b": (vocab_size,)}  # fmt: skip


def _mlp_lm_shapes(
    vocab_size: int, block_size: int, n_embd: int, hidden: int, **_: Any
) -> dict[str, Shape]:
    """`core.sequence_bases.MLPLanguageModelBase`'s arrays."""
    return {"embed.weight": (vocab_size, n_embd), "fc.W": (block_size * n_embd, hidden),
            "fc.b": (hidden,), "head.W": (hidden, vocab_size), "head.b": (vocab_size,)}  # fmt: skip


LANGUAGE_SHAPES: dict[str, Callable[..., dict[str, Shape]]] = {
    "GPT": _gpt_shapes,
    "RecurrentLanguageModel": _recurrent_lm_shapes,
    "MLPLanguageModel": _mlp_lm_shapes,
}
"""The ``state_dict`` shapes of each language model of `LANGUAGE_MODELS`, from its config
(keywords), computed without building it (`checkpoint` checks a header with them)."""


def language_shapes(
    name: str, config: Mapping[str, Any], most: int | None = None
) -> dict[str, Shape]:
    """``LANGUAGE_SHAPES[name](**config)``, or a ValueError, before listing any, where the
    config's ``n_layer`` alone implies more than ``most`` arrays: a header edited to
    ``n_layer=10**12`` would otherwise have its reader list names for ever."""
    layers = config.get("n_layer", 0)
    if most is not None and isinstance(layers, int) and layers > most:
        raise ValueError(f"n_layer={layers} implies more arrays than the {most} stored")
    return LANGUAGE_SHAPES[name](**config)


SCHEDULES = ("cosine", "step")
"""``cosine``: nanoGPT's warm-up and cosine (`lm_loop.get_lr`); ``step``: makemore's drop
(`lm_loop.step_lr`)."""

_TRAINING = {"batch_size": 12, "iters": 2000, "optimizer": "adamw", "lr": 1e-3, "min_lr": 1e-4,
             "warmup_iters": 100, "lr_schedule": "cosine", "weight_decay": 0.1, "beta2": 0.99,
             "grad_clip": 1.0, "eval_interval": 250, "eval_iters": 20}  # fmt: skip
_RECURRENT = {**_TRAINING, "n_embd": 64, "hidden": 256, "block_size": 64, "batch_size": 32,
              "lr": 2e-3, "min_lr": 2e-4}  # fmt: skip
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "gpt": {**_TRAINING, "n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64,
            "dropout": 0.0, "bias": False},
    **{cell: _RECURRENT for cell in ("rnn", "lstm", "gru")},
    "mlp": {"block_size": 3, "n_embd": 10, "hidden": 200, "init": "normal", "batch_size": 32,
            "iters": 200_000, "optimizer": "sgd", "lr": 0.1, "min_lr": 0.01, "warmup_iters": 0,
            "lr_schedule": "step", "weight_decay": 0.0, "grad_clip": 0.0,
            "eval_interval": 10_000, "eval_iters": 20},
}  # fmt: skip
"""Each model's defaults: the baby GPT's command of nanoGPT's README (bias off, dropout 0,
AdamW with weight decay 0.1 on the 2-D weights, betas (0.9, 0.99), warm-up 100 and cosine to
1e-4, clipping at 1.0); the recurrent models train as it does, with a rate twice as high and
32 windows a batch; makemore part 2's MLP: 3 characters of context, 10-d embeddings, 200 tanh
units, batch 32, 200,000 plain SGD steps, lr 0.1 then 0.01 from the middle of the run."""
APPLIES_TO = {
    "n_layer": ("gpt",), "n_head": ("gpt",), "dropout": ("gpt",), "bias": ("gpt",),
    "hidden": ("rnn", "lstm", "gru", "mlp"), "init": ("mlp",),
}  # fmt: skip
"""The architecture entries that only some models have."""


@dataclass
class TextRecipe:
    """Every choice of a language model's run; None takes the model's default
    (`MODEL_DEFAULTS`), and the recipe then holds the value used.

    Attributes
    ----------
    dataset, model, engine : str
        ``"tinyshakespeare"`` or ``"names"``; one of `TEXT_MODELS`; ``"layers"`` or
        ``"autograd"``.
    n_layer, n_head, n_embd, block_size, dropout, bias
        The GPT's (`deeplearning.GPT`); ``n_embd`` is every model's embedding length, and
        ``block_size`` its context: the GPT's longest, the recurrent models' training
        windows, the MLP's fixed one.
    hidden : int
        The recurrent state's size, or the MLP's tanh units.
    init : str
        The MLP's initialisation (`core.sequence_bases.MLP_INITS`).
    batch_size, iters : int
        Rows per batch, and iterations (optimizer steps).
    optimizer : str
        ``"adamw"``, ``"adam"``, ``"sgd"`` or ``"rmsprop"``.
    lr, min_lr : float
        The peak rate and the last (cosine) or the rate after the drop (step).
    warmup_iters : int
        Iterations of linear warm-up.
    lr_schedule : str
        ``"cosine"`` or ``"step"`` (`SCHEDULES`).
    lr_drop_at : int or None
        The step schedule's iteration of the drop; by default half of ``iters``.
    weight_decay : float
        Applied to the parameters of two or more dimensions only (nanoGPT's groups).
    momentum, beta2 : float or None
        SGD's or RMSprop's momentum (default 0: plain SGD); Adam's second beta (the first is
        0.9).
    grad_clip : float
        Clip the gradients' global norm to this; 0: no clipping.
    eval_interval, eval_iters : int
        Evaluate every ``eval_interval`` iterations on ``eval_iters`` batches of each split.
    seed, threads : int
        The weights' and batches' seed; BLAS threads (`loop.DEFAULT_BLAS_THREADS`).
    """

    dataset: str = "tinyshakespeare"
    model: str = "gpt"
    engine: str = "layers"
    n_layer: int | None = None
    n_head: int | None = None
    n_embd: int | None = None
    block_size: int | None = None
    dropout: float | None = None
    bias: bool | None = None
    hidden: int | None = None
    init: str | None = None
    batch_size: int | None = None
    iters: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    min_lr: float | None = None
    warmup_iters: int | None = None
    lr_schedule: str | None = None
    lr_drop_at: int | None = None
    weight_decay: float | None = None
    momentum: float | None = None
    beta2: float | None = None
    grad_clip: float | None = None
    eval_interval: int | None = None
    eval_iters: int | None = None
    seed: int = 0
    threads: int = DEFAULT_BLAS_THREADS

    def __post_init__(self) -> None:
        self._check_choices()
        defaults = MODEL_DEFAULTS[self.model]
        warmup_given = self.warmup_iters is not None
        for name, models in APPLIES_TO.items():
            if getattr(self, name) is not None and self.model not in models:
                raise ValueError(
                    f"--{name.replace('_', '-')} applies to --model {' or '.join(models)}, "
                    f"not {self.model}"
                )
        optimizer = self.optimizer or defaults["optimizer"]
        if self.momentum is not None and optimizer not in ("sgd", "rmsprop"):
            raise ValueError(f"--momentum applies to sgd and rmsprop, not {optimizer}")
        if self.beta2 is not None and optimizer not in ("adam", "adamw"):
            raise ValueError(f"--beta2 applies to adam and adamw, not {optimizer}")
        schedule = self.lr_schedule or defaults["lr_schedule"]
        if self.lr_drop_at is not None and schedule != "step":
            raise ValueError(f"--lr-drop-at applies to --lr-schedule step, not {schedule}")
        for name, value in defaults.items():
            if getattr(self, name) is None and (name != "beta2" or optimizer in ("adam", "adamw")):
                setattr(self, name, value)
        if not warmup_given:  # the default warm-up, in a shorter run
            self.warmup_iters = min(int(self.warmup_iters or 0), int(self.iters or 0))
        self._check_values()

    def _check_choices(self) -> None:
        """Refuse a data set, model, path, optimizer, schedule or initialisation that is not
        one of the names known."""
        for name, choices in (("dataset", tuple(dataset_names("text"))), ("model", TEXT_MODELS),
                              ("engine", tuple(ENGINES)), ("optimizer", (None, *OPTIMIZERS)),
                              ("lr_schedule", (None, *SCHEDULES)),
                              ("init", (None, *MLP_INITS))):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, (str, type(None))) or value not in choices:
                listed = ", ".join(str(choice) for choice in choices if choice is not None)
                raise ValueError(f"unknown {name} {value!r}; choose one of {listed}")

    def _check_values(self) -> None:
        counts = {"n_layer": 1, "n_head": 1, "n_embd": 1, "block_size": 1, "hidden": 1,
                  "batch_size": 1, "iters": 1, "warmup_iters": 0, "eval_interval": 1,
                  "eval_iters": 1, "seed": 0, "threads": 1, "lr_drop_at": 0}  # fmt: skip
        for name, low in counts.items():
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name, "TextRecipe", low=low)
        for name in ("lr", "min_lr", "weight_decay", "momentum", "beta2", "grad_clip", "dropout"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not math.isfinite(value) or value < 0
            ):  # fmt: skip
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.bias is not None and not isinstance(self.bias, bool):
            raise TypeError(f"bias must be true or false, got {self.bias!r}")
        if self.model == "gpt" and self.n_embd and self.n_head and self.n_embd % self.n_head:
            raise ValueError(
                f"--n-embd {self.n_embd} is not a multiple of --n-head {self.n_head}: each "
                f"head takes n_embd / n_head features; give e.g. --n-embd {self.n_head * 32}"
            )
        if self.dropout is not None and self.dropout >= 1:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.beta2 is not None and self.beta2 >= 1:
            raise ValueError(f"--beta2 must be in [0, 1), got {self.beta2}")
        assert self.lr is not None and self.min_lr is not None and self.iters is not None
        if self.min_lr > self.lr:
            raise ValueError(f"--min-lr {self.min_lr:g} is above --lr {self.lr:g}; give a lower")
        if self.warmup_iters is not None and self.warmup_iters > self.iters:
            raise ValueError(
                f"--warmup-iters {self.warmup_iters} is longer than the run (--iters {self.iters})"
            )
        if self.lr_drop_at is not None and self.lr_drop_at > self.iters:
            raise ValueError(
                f"--lr-drop-at {self.lr_drop_at} is after the run's end (--iters {self.iters})"
            )

    # -- what it builds ---------------------------------------------------------------------
    @property
    def contexts(self) -> bool:
        """Whether the model reads fixed contexts (the MLP) rather than windows."""
        return self.model == "mlp"

    @property
    def drop_at(self) -> int | None:
        """The step schedule's drop (half the run by default), or None for the cosine."""
        if self.lr_schedule != "step":
            return None
        assert self.iters is not None
        return self.lr_drop_at if self.lr_drop_at is not None else self.iters // 2

    def load_data(self, data_dir: PathLike | None = None) -> LanguageData:
        """The data set's splits as this model's examples (`lm_data.load_language_data`)."""
        assert self.block_size is not None
        return load_language_data(
            self.dataset, self.block_size, contexts=self.contexts, data_dir=data_dir
        )

    def model_config(self, vocab_size: int) -> tuple[str, dict[str, Any]]:
        """The recipe's model for ``vocab_size`` tokens: its class's name (`LANGUAGE_MODELS`)
        and its keywords (its ``config``)."""
        if self.model == "gpt":
            return "GPT", {"vocab_size": vocab_size, "block_size": self.block_size,
                           "n_layer": self.n_layer, "n_head": self.n_head, "n_embd": self.n_embd,
                           "dropout": self.dropout, "bias": self.bias}  # fmt: skip
        if self.model == "mlp":
            return "MLPLanguageModel", {"vocab_size": vocab_size, "block_size": self.block_size,
                                        "n_embd": self.n_embd, "hidden": self.hidden,
                                        "init": self.init}  # fmt: skip
        return "RecurrentLanguageModel", {"vocab_size": vocab_size, "n_embd": self.n_embd,
                                          "hidden": self.hidden, "cell": self.model}  # fmt: skip

    def parameter_count(self, vocab_size: int) -> int:
        """The model's parameters, from their shapes (`LANGUAGE_SHAPES`), building nothing: a
        GPT's first block counted and multiplied by ``n_layer``, however large."""
        name, config = self.model_config(vocab_size)

        def count(**changed: Any) -> int:
            shapes = LANGUAGE_SHAPES[name](**{**config, **changed})
            return sum(math.prod(shape) for shape in shapes.values())

        if name != "GPT":
            return count()
        body = count(n_layer=0)
        return body + int(self.n_layer or 0) * (count(n_layer=1) - body)

    def build_model(self, vocab_size: int, rng: np.random.Generator) -> Module:
        """The model for ``vocab_size`` tokens on the recipe's path (`model_config`), its
        weights (and dropout masks) drawn from ``rng``."""
        name, config = self.model_config(vocab_size)
        return LANGUAGE_MODELS[self.engine][name](**config, rng=rng)

    def build_optimizer(self, model: Module) -> Optimizer:
        """The optimizer over ``model.parameters()``: with weight decay, nanoGPT's two groups,
        the parameters of two or more dimensions decayed, the others (biases, LayerNorms)
        not."""
        options: dict[str, Any] = {"lr": self.lr}
        if self.optimizer in ("adam", "adamw"):
            options["betas"] = (0.9, self.beta2)
        elif self.optimizer in ("sgd", "rmsprop"):
            options["momentum"] = self.momentum or 0.0
        params = list(model.parameters())
        if not self.weight_decay:
            if self.optimizer == "adamw":
                options["weight_decay"] = 0.0
            return OPTIMIZERS[str(self.optimizer)](params, **options)
        groups = [
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": self.weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ]
        return OPTIMIZERS[str(self.optimizer)]([g for g in groups if g["params"]], **options)

    def build_schedule(self) -> Callable[[int], float]:
        """The learning rate of each iteration (`lm_loop.lm_schedule`)."""
        assert self.lr is not None and self.min_lr is not None and self.iters is not None
        return lm_schedule(self.lr, self.min_lr, self.warmup_iters or 0, self.iters, self.drop_at)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TextRecipe:
        """A recipe from `to_dict`'s output; unknown keys are an error."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(values.keys() - known)
        if unknown:
            raise ValueError(f"unknown recipe entries {unknown}; known: {sorted(known)}")
        return cls(**values)
