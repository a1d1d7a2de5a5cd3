"""Training health: the numbers a learner looks at to see whether a network trains well, after
Zero to Hero's part 3 (Karpathy's "Building makemore, activations and gradients"), on both
paths, read through hooks (`core.hooks`) so that no model changes.

For each activation module (ReLU, LeakyReLU, Tanh, Sigmoid, GELU), on a batch:

- the distribution of its outputs (mean, std, a histogram), and of the gradient of the loss
  with respect to them;
- **saturation**: for tanh, the fraction of outputs with ``|y| > 0.97``, where tanh' = 1 - y²
  < 0.06 and the gradient all but stops; for the sigmoid the same of ``2y - 1`` (since
  ``tanh(x / 2) = 2 sigmoid(x) - 1``);
- **dead ReLUs**: the fraction of units (features, or channel and position) that are zero for
  every example of the batch: their gradient is zero for all of them, so they never learn.

For each parameter, step by step:

- the **gradient norm** ``||∂L/∂θ||₂`` the step applied;
- for the weights (two or more dimensions), the **update-to-data ratio**
  ``log10(std(Δθ) / std(θ))``, with ``Δθ`` the step's actual change (any optimizer): around
  -3 is healthy (Karpathy's rule of thumb); much lower learns slowly, much higher is unstable.

`activation_stats` measures one batch; `TrainingMonitor` watches a whole run (``fit``
unchanged: the hooks see every step). `cli.health_plots` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.hooks import RemovableHandle
from ..core.module import Module
from ..core.tensor import Tensor
from ..core.types import Array
from ..core.validation import check_int

ACTIVATIONS = ("ReLU", "LeakyReLU", "Tanh", "Sigmoid", "GELU")
"""The modules whose outputs are watched, by class name (the same on both paths)."""
SATURATED = 0.97
"""|tanh| (or |2 sigmoid - 1|) above this counts as saturated."""
BINS = 50
"""The number of bins of each histogram."""


@dataclass
class Distribution:
    """Summary of an array of numbers: mean, std, and a histogram (``counts`` in ``edges``)."""

    mean: float
    std: float
    counts: Array
    edges: Array

    @classmethod
    def of(cls, values: Array) -> Distribution:
        values = np.asarray(values, dtype=np.float64).ravel()
        finite = values[np.isfinite(values)]
        counts, edges = (
            np.histogram(finite, bins=BINS) if finite.size else (np.zeros(BINS), np.zeros(BINS + 1))
        )
        return cls(float(values.mean()), float(values.std()), counts, edges)


@dataclass
class ActivationStats:
    """One activation module's outputs on a batch: their distribution, and the fraction
    ``saturated`` (tanh, sigmoid) or ``dead`` (ReLU), None where it does not apply."""

    kind: str
    output: Distribution
    saturated: float | None = None
    dead: float | None = None


def output_stats(kind: str, output: Array) -> ActivationStats:
    """`ActivationStats` of an activation module of class ``kind`` from its output (N, ...)."""
    y = np.asarray(output, dtype=np.float64)
    stats = ActivationStats(kind, Distribution.of(y))
    if kind == "Tanh":
        stats.saturated = float(np.mean(np.abs(y) > SATURATED))
    elif kind == "Sigmoid":
        stats.saturated = float(np.mean(np.abs(2 * y - 1) > SATURATED))
    elif kind == "ReLU" and len(y):
        stats.dead = float(np.mean(np.all(y <= 0, axis=0)))
    return stats


def activation_modules(model: Module) -> list[tuple[str, Module]]:
    """The activation modules of ``model`` (`ACTIVATIONS`), with their dotted names."""
    return [(name, m) for name, m in model.named_modules() if type(m).__name__ in ACTIVATIONS]


def activation_stats(model: Module, x: Any) -> dict[str, ActivationStats]:
    """The `ActivationStats` of each activation module of ``model`` on the batch ``x``, in the
    model's mode (training: BatchNorm and Dropout as in a training step), recording no graph."""
    seen: dict[str, ActivationStats] = {}

    def record(name: str) -> Any:
        def hook(module: Module, args: Any, output: Any) -> None:
            seen[name] = output_stats(type(module).__name__, _array(output))

        return hook

    handles = [
        module.register_forward_hook(record(name)) for name, module in activation_modules(model)
    ]
    try:
        model.infer(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


@dataclass
class TrainingMonitor:
    """Watches ``model`` through its training (``fit``, or a loop of your own), by hooks.

    Every training step's parameter gradients and weight updates are measured (at the next
    training forward pass, once the optimizer has stepped); every ``every`` steps, from the
    first, the activations and their gradients are recorded too. ``remove()`` detaches it.

    Attributes
    ----------
    steps : int
        Training forward passes seen.
    grad_norms : dict[str, list[float]]
        Per parameter, the L2 norm of the gradient of each measured step.
    update_ratios : dict[str, list[float]]
        Per weight (2 or more dimensions), ``log10(std(Δθ) / std(θ))`` of each measured step.
    activations, gradients : dict[int, dict[str, ...]]
        By step: each activation module's `ActivationStats`, and the `Distribution` of the
        gradient with respect to its output.
    """

    model: Module
    every: int = 100
    steps: int = 0
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
    update_ratios: dict[str, list[float]] = field(default_factory=dict)
    activations: dict[int, dict[str, ActivationStats]] = field(default_factory=dict)
    gradients: dict[int, dict[str, Distribution]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.model, Module):
            raise TypeError(f"TrainingMonitor watches a Module, got {type(self.model).__name__}")
        check_int(self.every, "every", "TrainingMonitor")
        self._before: dict[str, Array] | None = None
        self._handles: list[RemovableHandle] = [
            self.model.register_forward_hook(self._after_forward)
        ]
        for name, module in activation_modules(self.model):
            self._handles.append(module.register_forward_hook(self._activation(name)))
            self._handles.append(module.register_full_backward_hook(self._gradient(name)))

    def remove(self) -> None:
        """Detach every hook: the model trains on unwatched."""
        for handle in self._handles:
            handle.remove()

    def _sampled(self) -> bool:
        return self.model.training and self.steps % self.every == 0

    def _activation(self, name: str) -> Any:
        def hook(module: Module, args: Any, output: Any) -> None:
            if self._sampled():  # (inside the step's forward: steps counts those before)
                stats = output_stats(type(module).__name__, _array(output))
                self.activations.setdefault(self.steps, {})[name] = stats

        return hook

    def _gradient(self, name: str) -> Any:
        def hook(module: Module, grad_input: Any, grad_output: Any) -> None:
            step = self.steps - 1  # the model's forward of this step has been counted
            if self.model.training and step % self.every == 0 and grad_output[0] is not None:
                self.gradients.setdefault(step, {})[name] = Distribution.of(_array(grad_output[0]))

        return hook

    def _after_forward(self, module: Module, args: Any, output: Any) -> None:
        if not module.training:
            return  # an evaluation: no step
        params = dict(module.named_parameters())
        if self._before is not None:  # the previous step's gradients and update
            for name, param in params.items():
                if param.grad is not None:
                    norm = float(np.linalg.norm(param.grad))
                    self.grad_norms.setdefault(name, []).append(norm)
                before = self._before.get(name)
                if before is not None:  # a weight
                    change = np.std(param.data - before) / max(float(np.std(before)), 1e-30)
                    self.update_ratios.setdefault(name, []).append(
                        float(np.log10(max(change, 1e-30)))
                    )
        # The weights as they are before the next step (the ratio is the weights' only).
        self._before = {name: p.data.copy() for name, p in params.items() if p.data.ndim >= 2}
        self.steps += 1


def _array(value: Any) -> Array:
    """A module's output or gradient as an array (a tensor's data, or the array itself)."""
    return np.asarray(value.data if isinstance(value, Tensor) else value)
