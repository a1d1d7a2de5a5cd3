"""The picture of a run's health (``train --diagnostics PATH``), from a
`training.health.TrainingMonitor`, in four panels after Zero to Hero's part 3:

1. the outputs of each activation module at the last recorded step, as histograms, with
   their mean, std and the percent saturated (tanh, sigmoid) or dead (ReLU) in the legend;
2. the gradients with respect to those outputs, at the same step;
3. the update-to-data ratio ``log10(std(Δθ) / std(θ))`` of each weight over the steps, with
   the line at -3 that Karpathy's rule of thumb calls healthy;
4. the gradient norm of each weight over the steps (a log scale).
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.atomic import atomic_write
from ..core.module import Module
from ..core.types import PathLike
from ..training.health import ActivationStats, Distribution, TrainingMonitor
from .plots import plot_format, require_matplotlib

SNAPSHOTS = 8
"""How many times in a run ``--diagnostics`` records the activations and their gradients."""


def watch(model: Module, steps: int) -> TrainingMonitor:
    """A monitor of ``model`` for a run of ``steps`` steps, recording the activations
    `SNAPSHOTS` times, the last at the run's last step or just before."""
    return TrainingMonitor(model, every=max(1, steps // SNAPSHOTS))


def summary(monitor: TrainingMonitor) -> str:
    """One line: each activation's percent saturated or dead at the last recorded step."""
    if not monitor.steps:
        return "health: no training step was seen"
    if not monitor.activations:
        return "health: no activation modules (ReLU, Tanh, ...) to watch"
    step = max(monitor.activations)
    parts = []
    for name, stats in monitor.activations[step].items():
        if stats.saturated is not None:
            parts.append(f"{name} ({stats.kind}) saturated {stats.saturated:.1%}")
        if stats.dead is not None:
            parts.append(f"{name} ({stats.kind}) dead {stats.dead:.1%}")
    return f"health at step {step}: " + ("; ".join(parts) or "no tanh, sigmoid or ReLU")


def plot_health(path: PathLike, monitor: TrainingMonitor) -> None:
    """Save the four panels of this module's docstring (PNG, SVG or PDF, as ``path`` ends).

    Raises
    ------
    ValueError
        If ``path`` does not end in a plot format, or the monitor saw no training step.
    """
    file_format = plot_format(path)
    if not monitor.steps:
        raise ValueError("the health monitor saw no training step: there is nothing to draw")
    figure = require_matplotlib()(figsize=(14, 9), layout="constrained")
    panels = figure.subplots(2, 2)
    step = max(monitor.activations, default=0)
    activations = monitor.activations.get(step, {})
    gradients = monitor.gradients.get(step, {})
    in_order = {name: gradients[name] for name in activations if name in gradients}
    where = f"at step {step}" if activations else "(the model has no activation modules)"
    _histograms(panels[0, 0], activations, f"activations {where}")
    _histograms(panels[0, 1], in_order, f"their gradients {where}")
    _lines(panels[1, 0], monitor.update_ratios, "update-to-data ratio, log10(std(Δθ) / std(θ))")
    panels[1, 0].axhline(-3, color="black", linestyle="--", linewidth=1, label="-3")
    weights = {name: norms for name, norms in monitor.grad_norms.items()
               if name in monitor.update_ratios}  # fmt: skip
    _lines(panels[1, 1], weights, "gradient norm of each weight")
    panels[1, 1].set_yscale("log")
    with atomic_write(path) as stream:
        figure.savefig(stream, format=file_format, dpi=80)


def draw_health(path: PathLike, monitor: TrainingMonitor, say: Callable[[str], object]) -> None:
    """The end of a run with ``--diagnostics``: detach the monitor, say its `summary`, draw."""
    monitor.remove()
    say(summary(monitor))
    plot_health(path, monitor)
    say(f"wrote {path}")


def describe(name: str, stats: ActivationStats | Distribution) -> str:
    """A legend's line: the module, its mean and std, and what is saturated or dead."""
    if isinstance(stats, Distribution):
        return f"{name}: mean {stats.mean:+.2e}, std {stats.std:.2e}"
    text = f"{name} ({stats.kind}): mean {stats.output.mean:+.2f}, std {stats.output.std:.2f}"
    if stats.saturated is not None:
        text += f", saturated {stats.saturated:.1%}"
    if stats.dead is not None:
        text += f", dead {stats.dead:.1%}"
    return text


def _histograms(panel: Any, stats: dict[str, Any], title: str) -> None:
    for name, value in stats.items():
        distribution = value.output if isinstance(value, ActivationStats) else value
        centres = (distribution.edges[:-1] + distribution.edges[1:]) / 2
        panel.plot(centres, distribution.counts, label=describe(name, value))
    panel.set_title(title)
    panel.set_ylabel("count")
    if stats:
        panel.legend(fontsize="small")


def _lines(panel: Any, series: dict[str, list[float]], title: str) -> None:
    for name, values in series.items():
        panel.plot(range(1, len(values) + 1), values, label=name)
    panel.set_title(title)
    panel.set_xlabel("step")
    if series:
        panel.legend(fontsize="small")
