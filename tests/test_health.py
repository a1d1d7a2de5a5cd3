"""Training health (training/health.py): saturation and dead units counted as defined, the same
numbers on both paths, and a monitor that sees every step of ``fit`` through hooks: gradient
norms and update-to-data ratios that equal the step's own, activations every ``every`` steps."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import deeplearning as dl
from deeplearning import SGD
from deeplearning.autograd import nn
from deeplearning.cli import main
from deeplearning.cli.health_plots import plot_health, summary
from deeplearning.data.datasets import Dataset
from deeplearning.training import batch_gradients, fit
from deeplearning.training.health import (
    TrainingMonitor,
    activation_modules,
    activation_stats,
    output_stats,
)

from conftest import write_fake_dataset

PATHS = {"layers": dl, "autograd": nn}


def tanh_net(path: str, scale: float = 1.0) -> dl.Sequential:
    module = PATHS[path]
    model = module.Sequential(
        module.Linear(6, 8, rng=0, dtype=np.float64), module.Tanh(),
        module.Linear(8, 8, rng=1, dtype=np.float64), module.ReLU(),
        module.Linear(8, 3, rng=2, dtype=np.float64),
    )  # fmt: skip
    model[0].W.data *= scale
    return model


def data(n: int = 40) -> Dataset:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((n, 6)), rng.integers(0, 3, n)
    return Dataset(x, y, x[:8], y[:8])


def test_saturation_and_dead_units_are_counted_as_defined() -> None:
    tanh = np.array([[0.99, -0.98, 0.5, 0.0], [0.1, -0.2, 0.96, 0.975]])
    assert output_stats("Tanh", tanh).saturated == 3 / 8
    sigmoid = (tanh + 1) / 2  # the same numbers through 2 sigmoid - 1 = tanh(x / 2)
    assert output_stats("Sigmoid", sigmoid).saturated == 3 / 8
    relu = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # unit 0 is zero for both examples
    stats = output_stats("ReLU", relu)
    assert stats.dead == 1 / 3 and stats.saturated is None
    assert stats.output.mean == pytest.approx(0.5) and stats.output.counts.sum() == 6
    assert output_stats("GELU", relu).dead is None  # GELU's outputs are not dead at 0


def test_a_network_of_large_weights_saturates_and_a_negative_bias_kills() -> None:
    x = data().x_train
    model = tanh_net("layers", scale=50.0)
    model[2].b.data[:] = -100.0
    stats = activation_stats(model, x)
    assert list(stats) == ["1", "3"]
    assert stats["1"].saturated > 0.9 and stats["3"].dead == 1.0
    assert activation_stats(tanh_net("layers"), x)["1"].saturated < 0.2


def test_the_two_paths_give_the_same_numbers() -> None:
    x = data().x_train
    ours, theirs = (activation_stats(tanh_net(path), x) for path in PATHS)
    for name in ours:
        assert ours[name].saturated == theirs[name].saturated
        assert ours[name].dead == theirs[name].dead
        np.testing.assert_allclose(ours[name].output.counts, theirs[name].output.counts)
    assert [n for n, _ in activation_modules(tanh_net("autograd"))] == ["1", "3"]


@pytest.mark.parametrize("path", PATHS)
def test_the_monitor_sees_every_step_of_fit(path: str) -> None:
    model = tanh_net(path)
    monitor = TrainingMonitor(model, every=2)
    optimizer = SGD(model.parameters(), lr=0.1)
    list(fit(model, data(), optimizer, epochs=1, batch_size=8, rng=0))  # 5 steps
    assert monitor.steps == 5
    assert sorted(monitor.activations) == sorted(monitor.gradients) == [0, 2, 4]
    assert set(monitor.activations[0]) == set(monitor.gradients[0]) == {"1", "3"}
    assert {name: len(norms) for name, norms in monitor.grad_norms.items()} == {
        name: 4 for name, _ in model.named_parameters()
    }  # the fifth step is measured at the next training forward
    assert set(monitor.update_ratios) == {"0.W", "2.W", "4.W"}  # the weights only
    monitor.remove()
    list(fit(model, data(), optimizer, epochs=1, batch_size=8, rng=0))
    assert monitor.steps == 5


def test_the_monitor_on_both_paths_agrees() -> None:
    monitors = []
    for path in PATHS:
        model = tanh_net(path)
        monitors.append(TrainingMonitor(model, every=1))
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        list(fit(model, data(), optimizer, epochs=1, batch_size=8, rng=0))
    ours, theirs = monitors
    for name in ours.grad_norms:
        np.testing.assert_allclose(ours.grad_norms[name], theirs.grad_norms[name], rtol=1e-9)
    for name in ours.update_ratios:
        np.testing.assert_allclose(ours.update_ratios[name], theirs.update_ratios[name], rtol=1e-9)
    for step in ours.gradients:
        for name, distribution in ours.gradients[step].items():
            assert distribution.std == pytest.approx(theirs.gradients[step][name].std, rel=1e-9)


@pytest.mark.parametrize("path", PATHS)
def test_a_step_is_measured_as_it_was_taken(path: str) -> None:
    """By hand: the gradient's norm, and log10(std(lr g) / std(W)) for plain SGD."""
    model, (x, y) = tanh_net(path), (data().x_train[:8], data().y_train[:8])
    monitor = TrainingMonitor(model)
    batch_gradients(model, x, y)
    weight = model[2].W
    grad, before = weight.grad.copy(), weight.data.copy()
    SGD(model.parameters(), lr=0.05).step()
    batch_gradients(model, x, y)  # the next forward measures the step
    assert monitor.grad_norms["2.W"] == [pytest.approx(np.linalg.norm(grad))]
    expected = np.log10(np.std(0.05 * grad) / np.std(before))
    assert monitor.update_ratios["2.W"] == [pytest.approx(expected)]
    model.eval()
    model.infer(x)  # an evaluation is no step
    assert monitor.steps == 2


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="TrainingMonitor watches a Module, got list"):
        TrainingMonitor([])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TrainingMonitor: every must be an int >= 1"):
        TrainingMonitor(tanh_net("layers"), every=0)


def test_named_modules_lists_pytorchs_names_depth_first() -> None:
    names = [name for name, _ in dl.LeNet5(batchnorm=True, rng=0).named_modules()]
    assert names[:4] == ["", "0", "1", "2"] and len(names) == len(set(names))
    gpt = nn.GPT(11, 8, 2, 2, 8, rng=0)
    names = [name for name, _ in gpt.named_modules()]
    assert "transformer.h.1.attn" in names and names.index("transformer.h.0.mlp") < names.index(
        "transformer.h.1"
    )


# -- train --diagnostics ---------------------------------------------------------------------
def _data_dir(root: Path) -> Path:
    write_fake_dataset(root / "mnist", n_train=96, n_test=32)
    (root / "names").mkdir()
    (root / "names" / "names.txt").write_text("\n".join(["anna", "eva", "mia", "leo"] * 40))
    return root


@pytest.mark.parametrize(
    "model", [["--model", "784-16-10"], ["--model", "lenet5", "--engine", "autograd"],
              ["--model", "rnn", "--dataset", "names", "--iters", "8", "--eval-iters", "1",
               "--n-embd", "4", "--hidden", "8", "--block-size", "8"]],
    ids=["mlp", "lenet5-engine", "rnn"],
)  # fmt: skip
def test_train_draws_the_health_of_its_run(
    model: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="--diagnostics draws with the `train` extra")
    picture = tmp_path / "health.png"
    epochs = [] if "rnn" in model else ["--epochs", "1"]
    argv = ["train", "--data-dir", str(_data_dir(tmp_path)), *model, *epochs]
    assert main([*argv, "--diagnostics", str(picture)]) == 0
    out = capsys.readouterr().out
    if "rnn" in model:  # its tanh is inside the recurrent layer, not a module of its own
        assert "health: no activation modules (ReLU, Tanh, ...) to watch" in out
    else:
        assert re.search(r"^health at step \d+: .*(dead|saturated) [\d.]+%", out, re.M), out
    assert f"wrote {picture}" in out
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_diagnostics_takes_the_rules_of_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["train", "--data-dir", str(tmp_path)]
    for extra, message in [
        (["--diagnostics", str(tmp_path / "h.txt")], "argument --diagnostics: cannot write a plot"),
        (["--diagnostics", str(tmp_path / "h.png"), "--plot", str(tmp_path / "h.png")],
         "is also the --plot file"),
    ]:  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            main([*base, *extra])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_the_picture_needs_a_step_and_a_format(tmp_path: Path) -> None:
    monitor = TrainingMonitor(tanh_net("layers"))
    with pytest.raises(ValueError, match="saw no training step"):
        plot_health(tmp_path / "h.png", monitor)
    with pytest.raises(ValueError, match="end the name with one of"):
        plot_health(tmp_path / "h.gif", monitor)
    assert summary(monitor) == "health: no training step was seen"
