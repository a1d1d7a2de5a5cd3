"""`Optimizer.load_state_dict` restores a saved state all or nothing, and refuses what is not
this optimizer's state for these parameters, saying what and why, before anything changes."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

from deeplearning import SGD, Adam, AdamW, Parameter, RMSprop
from deeplearning.optim import Optimizer


def trained(make: Callable[[list[Parameter]], Optimizer]) -> tuple[list[Parameter], Optimizer]:
    params = [Parameter(np.ones((2, 3))), Parameter(np.zeros(3))]
    optimizer = make(params)
    for step in range(3):
        for param in params:
            param.grad[...] = step + 1.0
        optimizer.step()
    return params, optimizer


MAKERS = {
    "SGD": lambda p: SGD(p, lr=0.1, momentum=0.9),
    "RMSprop": lambda p: RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "Adam": lambda p: Adam(p, amsgrad=True),
    "AdamW": lambda p: AdamW(p),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_saved_state_restores_and_declares_its_buffers(name: str) -> None:
    params, optimizer = trained(MAKERS[name])
    state = optimizer.state_dict()
    assert {key.rpartition(".")[0] for key in state} - {"", "lr", "steps"} <= optimizer.BUFFERS
    fresh = MAKERS[name]([Parameter(p.data.copy()) for p in params])
    fresh.load_state_dict(state)
    assert fresh.steps == 3 and fresh.lr == optimizer.lr
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value, state[key])
        assert key in ("lr", "steps") or value is not state[key]  # copied, not shared


def corrupt(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    state = dict(trained(MAKERS["Adam"])[1].state_dict())
    change(state)
    return state


def set_key(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda state: state.__setitem__(key, value)


BAD_STATES = [
    ("no lr", lambda s: s.pop("lr"), ValueError, r"the state has no \['lr'\]"),
    ("no steps", lambda s: s.pop("steps"), ValueError, r"the state has no \['steps'\]"),
    ("unknown key", set_key("velocity.0", np.zeros((2, 3))), ValueError,
     r"unknown state entry 'velocity.0': Adam keeps lr, steps and \['exp_avg', 'exp_avg_sq', "
     r"'max_exp_avg_sq'\]"),
    ("no index", set_key("exp_avg", np.zeros((2, 3))), ValueError, "unknown state entry"),
    ("negative index", set_key("exp_avg.-1", np.zeros(3)), ValueError, "unknown state entry"),
    ("index past the end", set_key("exp_avg.2", np.zeros(3)), ValueError,
     r"'exp_avg.2' of shape \(3,\) does not fit parameter 2 of 2: was it saved for another"),
    ("another shape", set_key("exp_avg.1", np.zeros(4)), ValueError,
     r"'exp_avg.1' of shape \(4,\) does not fit parameter 1 of 2 \(shape \(3,\)\)"),
    ("NaN buffer", set_key("exp_avg_sq.0", np.full((2, 3), np.nan)), ValueError,
     "'exp_avg_sq.0' must hold numbers finite in float64, got dtype float64 with NaN"),
    ("text buffer", set_key("exp_avg.1", np.array(["a", "b", "c"])), ValueError,
     "'exp_avg.1' must hold numbers finite in float64, got dtype <U1"),
    ("leading zero", set_key("exp_avg.00", np.zeros((2, 3))), ValueError, "unknown state entry"),
    ("a key not a name", set_key(0, np.zeros(3)), TypeError,
     "the state must be a mapping of names to arrays"),
    ("negative steps", set_key("steps", np.array(-5)), ValueError,
     r"the saved steps must be an int >= 0, got -5"),
    ("fractional steps", set_key("steps", np.array(2.5)), TypeError,
     "the saved steps must be an int, got float 2.5"),
    ("steps as an array", set_key("steps", np.array([1, 2])), ValueError,
     r"steps must be one number, got an array of \(2,\)"),
    ("negative lr", set_key("lr", np.array(-1.0)), ValueError,
     "the saved learning rate must be a finite number >= 0, got -1.0"),
    ("text lr", set_key("lr", np.array("fast")), TypeError, "the saved lr must be a real number"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "error", "message"), BAD_STATES, ids=[c[0] for c in BAD_STATES]
)
def test_a_bad_state_is_refused_and_nothing_changes(
    case: str, change: Callable[[dict[str, Any]], None], error: type[Exception], message: str
) -> None:
    optimizer = trained(MAKERS["Adam"])[1]
    before = {key: np.array(value) for key, value in optimizer.state_dict().items()}
    with pytest.raises(error, match=message):
        optimizer.load_state_dict(corrupt(change))
    after = optimizer.state_dict()
    assert after.keys() == before.keys()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value)


def test_a_buffer_that_overflows_the_parameters_dtype_is_refused() -> None:
    params = [Parameter(np.ones(3, dtype=np.float32))]
    optimizer = Adam(params)
    state = {"lr": np.array(0.001), "steps": np.array(1), "exp_avg.0": np.full(3, 1e300)}
    with pytest.raises(ValueError, match=r"'exp_avg\.0' must hold numbers finite in float32"):
        optimizer.load_state_dict(state)
    with pytest.raises(TypeError, match=r"must be a mapping of names to arrays, .* got list"):
        optimizer.load_state_dict([("lr", 1.0)])  # type: ignore[arg-type]
