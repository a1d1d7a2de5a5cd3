"""Recipes: defaults, validation, and the objects they build."""

from __future__ import annotations

import numpy as np
import pytest

from deeplearning import MLP, TwoLayerMLP
from deeplearning.optim import SGD, AdamW, RMSprop
from deeplearning.training.recipe import Recipe


def test_defaults_are_the_readme_recipe() -> None:
    recipe = Recipe()
    model = recipe.build_model(np.random.default_rng(0))
    optimizer = recipe.build_optimizer(model)
    assert isinstance(model, TwoLayerMLP)
    assert isinstance(optimizer, SGD) and optimizer.lr == 0.05 and optimizer.momentum == 0.9
    schedule = recipe.build_schedule(steps_per_epoch=10)
    assert schedule(0) == 0.05 and schedule(25) == pytest.approx(0.025) and schedule(50) < 1e-12


def test_optimizer_defaults_and_overrides() -> None:
    model = TwoLayerMLP(4, 3, 2, rng=0)
    adamw = Recipe(optimizer="adamw").build_optimizer(model)
    assert isinstance(adamw, AdamW) and adamw.lr == 1e-3 and adamw.weight_decay == 0.01
    rmsprop = Recipe(optimizer="rmsprop", lr=0.02, momentum=0.5, weight_decay=0.1)
    built = rmsprop.build_optimizer(model)
    assert isinstance(built, RMSprop) and (built.lr, built.momentum, built.weight_decay) == (
        0.02, 0.5, 0.1
    )  # fmt: skip


def test_warmup_then_each_schedule() -> None:
    # 4 epochs of 10 steps: warm-up over steps 0-9, the main schedule over steps 10-39.
    ends = {"cosine": (40, 0.0), "constant": (39, 1.0), "exponential": (40, 0.01),
            "step": (39, 0.01)}  # fmt: skip
    for scheduler, (t, expected) in ends.items():
        schedule = Recipe(lr=1.0, scheduler=scheduler, warmup=1, epochs=4).build_schedule(10)
        assert schedule(0) == pytest.approx(0.01)  # warm-up starts at 1%
        assert schedule(5) == pytest.approx(0.01 + 0.99 * 0.5)
        assert schedule(10) == pytest.approx(1.0)  # the peak, where the main schedule starts
        assert schedule(t) == pytest.approx(expected, abs=1e-12), scheduler


def test_step_size_and_gamma_set_the_step_and_exponential_schedules() -> None:
    # 4 epochs of 10 steps, after a warm-up epoch: the main schedule over steps 10-39
    step = Recipe(lr=1.0, scheduler="step", step_size=1, gamma=0.5, warmup=1, epochs=4)
    schedule = step.build_schedule(10)
    assert [schedule(t) for t in (10, 19, 20, 30, 39)] == pytest.approx([1, 1, 0.5, 0.25, 0.25])
    schedule = Recipe(lr=1.0, scheduler="step", gamma=0.5, epochs=3).build_schedule(10)
    assert [schedule(t) for t in (9, 10, 20)] == pytest.approx([1, 0.5, 0.25])  # a third each
    schedule = Recipe(lr=1.0, scheduler="step", step_size=2, epochs=4).build_schedule(10)
    assert [schedule(t) for t in (19, 20, 39)] == pytest.approx([1, 0.1, 0.1])
    exponential = Recipe(lr=1.0, scheduler="exponential", gamma=0.5, epochs=3)
    schedule = exponential.build_schedule(10)
    assert [schedule(t) for t in (5, 10, 20)] == pytest.approx([0.5**0.5, 0.5, 0.25])
    assert Recipe.from_dict(step.to_dict()) == step


def test_mlp_models_from_sizes() -> None:
    recipe = Recipe(model="784-64-10", batchnorm=True, dropout=0.1)
    model = recipe.build_model(np.random.default_rng(0))
    assert isinstance(model, MLP) and model.config["sizes"] == [784, 64, 10]


def test_round_trip_through_a_dict() -> None:
    recipe = Recipe(model="784-64-10", optimizer="adam", lr=0.01, clip_grad=1.0)
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    with pytest.raises(ValueError, match=r"unknown recipe entries \['colour'\]"):
        Recipe.from_dict({"colour": "blue"})


def test_invalid_recipes() -> None:
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        Recipe(optimizer="lbfgs")
    with pytest.raises(ValueError, match="unknown scheduler 'cyclic'"):
        Recipe(scheduler="cyclic")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"engine": "torch"}, "unknown engine 'torch'"),
        ({"optimizer": "adam", "momentum": 0.9}, "--momentum applies to sgd and rmsprop, not adam"),
        ({"dropout": 0.1}, "TwoLayerMLP has no BatchNorm or Dropout"),
        ({"epochs": 0}, "Recipe: epochs must be an int >= 1, got 0"),
        ({"seed": -1}, "Recipe: seed must be an int >= 0, got -1"),
        (
            {"model": "784-10", "dropout": 1.0},
            r"dropout must be a probability in \[0, 1\), got 1.0",
        ),
        ({"model": "784-10", "dropout": float("nan")}, "dropout must be a probability"),
        ({"lr": -0.1}, r"lr must be a finite number >= 0 \(or None\), got -0.1"),
        ({"lr": float("inf")}, "lr must be a finite number >= 0"),
        ({"clip_grad": 0.0}, r"clip_grad must be a finite number > 0 \(or None\), got 0.0"),
        ({"clip_grad": float("nan")}, "clip_grad must be a finite number > 0"),
        ({"warmup": 5}, "warm-up must last 0 to 4 epochs, got 5"),
        ({"dataset": "cifar"}, r"unknown data set 'cifar'; choose one of \['fashion-mnist'"),
        ({"momentum": -1.0}, "Recipe: momentum must be a finite number >= 0, got -1.0"),
        ({"weight_decay": float("nan")}, "Recipe: weight_decay must be a finite number >= 0"),
        ({"step_size": 2}, "--step-size applies to the step schedule, not cosine"),
        ({"scheduler": "exponential", "step_size": 2}, "--step-size applies to the step sched"),
        ({"scheduler": "step", "step_size": 0}, "Recipe: step_size must be an int >= 1, got 0"),
        ({"scheduler": "constant", "gamma": 0.5}, "--gamma applies to the step and exponential"),
        ({"scheduler": "step", "gamma": 0.0}, r"Recipe: gamma must be a finite number in \(0, 1\]"),
        ({"scheduler": "exponential", "gamma": 1.5}, r"gamma must be a finite number in \(0, 1\]"),
        ({"scheduler": "step", "gamma": float("nan")}, "gamma must be a finite number"),
    ],
)
def test_a_recipe_refuses_each_bad_value_when_made(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Recipe(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_size": True}, "Recipe: batch_size must be an int, got bool True"),
        ({"threads": 2.0}, "Recipe: threads must be an int, got float 2.0"),
        ({"seed": False}, "Recipe: seed must be an int, got bool False"),
        ({"warmup": 0.5}, "Recipe: warmup must be an int, got float 0.5"),
        ({"scheduler": "step", "step_size": 1.5}, "Recipe: step_size must be an int, got float"),
    ],
)
def test_a_recipe_refuses_a_count_that_is_not_an_int(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Recipe(**values)  # type: ignore[arg-type]


def test_a_recipe_refuses_what_does_not_fit_the_data_when_building() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"--model must be 'two-layer', 'lenet5' or sizes"):
        Recipe(model="784-x-10").build_model(rng)
    with pytest.raises(ValueError, match="the data has 784 features and 10 classes"):
        Recipe(model="700-10").build_model(rng)
    with pytest.raises(ValueError, match="takes square images"):
        Recipe(model="lenet5").build_model(rng, (784,))
    with pytest.raises(ValueError, match="a schedule needs at least one step per epoch, got 0"):
        Recipe().build_schedule(0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"model": 5}, "model must be a string, got int 5"),
        ({"optimizer": ["sgd"]}, r"optimizer must be a string, got list \['sgd'\]"),
        ({"batchnorm": "no"}, "Recipe: batchnorm must be True or False, got str 'no'"),
        ({"model": "784-10", "dropout": "a"}, "dropout must be a number, got str 'a'"),
        ({"lr": True}, "lr must be a number, got bool True"),
        ({"clip_grad": "1"}, "clip_grad must be a number, got str '1'"),
        ({"scheduler": "step", "gamma": "0.5"}, "gamma must be a number, got str '0.5'"),
    ],
)
def test_a_recipe_refuses_each_value_of_the_wrong_type(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Recipe(**values)  # type: ignore[arg-type]
