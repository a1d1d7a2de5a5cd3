"""Recurrent layers, `RNN` (tanh and relu), `LSTM` and `GRU`, on both paths: the layers
(`deeplearning.RNN`, ..., backpropagation through time by hand) and the engine's modules
(`deeplearning.autograd.nn.RNN`, ..., composed of operations).

- PyTorch (``torch.nn.RNN/LSTM/GRU(batch_first=True)``, CPU, float64, our weights copied
  in, transposed) is the oracle of both paths, with shapes drawn by hypothesis: the outputs,
  the final states, and the gradients of the input, of the initial states and of every
  parameter. The engine's second derivatives against central differences (`gradgradcheck`)
  and PyTorch's double backward.
- The two paths agree with each other: the same ``rng`` gives the same weights and the same
  numbers, and one ``state_dict`` loads into either.
- Sequences of 1,000 steps work on both paths (no recursion: backward runs in loops).
- Bad arguments and inputs are refused, before any work, with errors that say what to do.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplearning as dl
from deeplearning.autograd import Tensor, gradgradcheck, nn
from test_autograd_ops import check_against_torch
from test_gradients import recurrent_function

RTOL, ATOL = 1e-10, 1e-12

# The largest relative errors of each path against PyTorch, by what is compared (0: outputs
# and final states, 1: gradients); not asserted, read by whoever wants to report them.
WORST_RELATIVE_ERROR = {(path, order): 0.0 for path in ("layers", "engine") for order in (0, 1)}

FAST = settings(max_examples=25, deadline=None)

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
CLASS = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}
PARAMETERS = ("W_ih", "W_hh", "b_ih", "b_hh")
TORCH_NAMES = dict(zip(PARAMETERS, ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")))
PATHS = {"layers": dl, "engine": nn}


def make(path: str, kind: str, input_size: int, hidden: int, rng: int = 0, **kw: Any) -> Any:
    """The ``kind`` of layer on ``path`` (float64 unless ``dtype`` is given)."""
    kw = {"rng": rng, "dtype": np.float64, **kw}
    if kind.startswith("rnn"):
        kw["nonlinearity"] = kind[4:]
    return getattr(PATHS[path], CLASS[kind])(input_size, hidden, **kw)


def torch_twin(torch: ModuleType, layer: Any, kind: str) -> Any:
    """PyTorch's module of ``kind`` (batch first, float64) holding ``layer``'s weights."""
    extra = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    twin = getattr(torch.nn, CLASS[kind])(
        layer.input_size, layer.hidden_size, batch_first=True, **extra
    ).double()
    with torch.no_grad():
        for name, theirs in TORCH_NAMES.items():
            getattr(twin, theirs).copy_(torch.from_numpy(_torch_layout(getattr(layer, name).data)))
    return twin


def _torch_layout(array: np.ndarray) -> np.ndarray:
    """Our (in, G H) weight as PyTorch's (G H, in), and back; a bias as it is."""
    return np.ascontiguousarray(array.T)


class Pass(NamedTuple):
    """What one forward and backward pass gives; the LSTM's cell entries, else None."""

    output: np.ndarray
    h_n: np.ndarray
    c_n: np.ndarray | None
    dx: np.ndarray
    dh0: np.ndarray | None
    dc0: np.ndarray | None
    grads: dict[str, np.ndarray]


class Case(NamedTuple):
    """A drawn case: x (N, T, I), the initial states (None: not given), the upstream grads."""

    kind: str
    x: np.ndarray
    h0: np.ndarray | None
    c0: np.ndarray | None
    dout: np.ndarray
    dh_n: np.ndarray
    dc_n: np.ndarray | None
    hidden: int


def _case(kind: str, n: int, t: int, i: int, hidden: int, given_state: bool, seed: int) -> Case:
    gen = np.random.default_rng(seed)
    lstm = kind == "lstm"
    x = gen.standard_normal((n, t, i))
    h0 = gen.standard_normal((n, hidden)) if given_state else None
    c0 = gen.standard_normal((n, hidden)) if given_state and lstm else None
    dout, dh_n = gen.standard_normal((n, t, hidden)), gen.standard_normal((n, hidden))
    dc_n = gen.standard_normal((n, hidden)) if lstm else None
    return Case(kind, x, h0, c0, dout, dh_n, dc_n, hidden)


def layer_pass(layer: Any, case: Case) -> Pass:
    lstm = case.kind == "lstm"
    state = (case.h0, case.c0) if lstm and case.h0 is not None else case.h0
    output, final = layer.forward(case.x, state)
    h_n, c_n = final if lstm else (final, None)
    dx = layer.backward(case.dout, (case.dh_n, case.dc_n) if lstm else case.dh_n)
    grads = {name: getattr(layer, name).grad.copy() for name in PARAMETERS}
    return Pass(output, h_n, c_n, dx, layer.dh0, layer.dc0 if lstm else None, grads)


def engine_pass(module: Any, case: Case) -> Pass:
    lstm = case.kind == "lstm"
    x = Tensor(case.x, requires_grad=True)
    h0 = None if case.h0 is None else Tensor(case.h0, requires_grad=True)
    c0 = None if case.c0 is None else Tensor(case.c0, requires_grad=True)
    output, final = module(x, (h0, c0) if lstm and h0 is not None else h0)
    h_n, c_n = final if lstm else (final, None)
    loss = (output * case.dout).sum() + (h_n * case.dh_n).sum()
    if c_n is not None:
        loss = loss + (c_n * case.dc_n).sum()
    loss.backward()
    grads = {name: getattr(module, name).grad.copy() for name in PARAMETERS}
    return Pass(
        output.data, h_n.data, None if c_n is None else c_n.data, x.grad,
        None if h0 is None else h0.grad, None if c0 is None else c0.grad, grads,
    )  # fmt: skip


def torch_pass(torch: ModuleType, twin: Any, case: Case) -> Pass:
    """PyTorch's pass; the initial states are zeros when not given (their gradients are the
    gradients with respect to those zeros, which the layer path gives too)."""
    lstm = case.kind == "lstm"
    n = len(case.x)

    def leaf(a: np.ndarray | None) -> Any:
        zeros = np.zeros((n, case.hidden))
        return torch.tensor((zeros if a is None else a)[None], requires_grad=True)

    x, h0, c0 = torch.tensor(case.x, requires_grad=True), leaf(case.h0), leaf(case.c0)
    output, final = twin(x, (h0, c0) if lstm else h0)
    h_n, c_n = final if lstm else (final, None)
    loss = (output * torch.from_numpy(case.dout)).sum()
    loss = loss + (h_n[0] * torch.from_numpy(case.dh_n)).sum()
    if lstm:
        loss = loss + (c_n[0] * torch.from_numpy(case.dc_n)).sum()
    loss.backward()
    grads = {
        ours: _torch_layout(getattr(twin, theirs).grad.numpy())
        for ours, theirs in TORCH_NAMES.items()
    }
    return Pass(
        output.detach().numpy(), h_n[0].detach().numpy(),
        c_n[0].detach().numpy() if lstm else None, x.grad.numpy(), h0.grad[0].numpy(),
        c0.grad[0].numpy() if lstm else None, grads,
    )  # fmt: skip


def assert_same(actual: Pass, expected: Pass, path: str | None = None) -> None:
    """Every entry of two passes equal (to RTOL, ATOL); None on either side is skipped. With
    ``path`` (against PyTorch), record the worst relative errors."""
    pairs = [
        ("output", 0, actual.output, expected.output), ("h_n", 0, actual.h_n, expected.h_n),
        ("c_n", 0, actual.c_n, expected.c_n), ("dx", 1, actual.dx, expected.dx),
        ("dh0", 1, actual.dh0, expected.dh0), ("dc0", 1, actual.dc0, expected.dc0),
    ]  # fmt: skip
    pairs += [(f"d{name}", 1, actual.grads[name], expected.grads[name]) for name in PARAMETERS]
    for what, order, a, e in pairs:
        if a is None or e is None:
            continue
        assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
        np.testing.assert_allclose(a, e, rtol=RTOL, atol=ATOL, err_msg=what)
        significant = np.abs(e) > 1e-8
        if path is not None and significant.any():
            relative = float((np.abs(a - e)[significant] / np.abs(e)[significant]).max())
            key = (path, order)
            WORST_RELATIVE_ERROR[key] = max(WORST_RELATIVE_ERROR[key], relative)


# -- against PyTorch, on both paths --------------------------------------------------------------
@FAST
@given(
    kind=st.sampled_from(KINDS),
    n=st.integers(1, 3),
    t=st.integers(1, 5),
    i=st.integers(1, 4),
    hidden=st.integers(1, 4),
    given_state=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_both_paths_match_pytorch(
    torch: ModuleType, kind: str, n: int, t: int, i: int, hidden: int, given_state: bool, seed: int
) -> None:
    case = _case(kind, n, t, i, hidden, given_state, seed)
    layer, module = (
        make("layers", kind, i, hidden, rng=seed),
        make("engine", kind, i, hidden, rng=seed),
    )
    expected = torch_pass(torch, torch_twin(torch, layer, kind), case)
    on_layers, on_engine = layer_pass(layer, case), engine_pass(module, case)
    assert_same(on_layers, expected, "layers")
    assert_same(on_engine, expected, "engine")
    assert_same(on_layers, on_engine)  # the two paths: the same weights, the same numbers


@pytest.mark.parametrize("kind", KINDS)
def test_the_engine_second_order_matches_pytorch_and_central_differences(
    torch: ModuleType, kind: str
) -> None:
    """d²/d(everything)²: x, the initial state(s) and every parameter, on a tiny case."""
    module = make("engine", kind, 2, 2, rng=3)
    twin = torch_twin(torch, module, kind)
    lstm = kind == "lstm"
    gen = np.random.default_rng(4)
    arrays = [gen.standard_normal((2, 3, 2))]  # x, then h0 (and c0)
    arrays += [gen.standard_normal((2, 2)) for _ in range(1 + lstm)]
    arrays += [getattr(module, name).data.copy() for name in PARAMETERS]
    engine_fn = recurrent_function(module, lstm)

    def torch_fn(x: Any, *rest: Any) -> Any:
        states = [s[None] for s in rest[: 1 + lstm]]
        weights = dict(zip(TORCH_NAMES.values(), rest[1 + lstm :]))
        weights = {k: (w.T if k.startswith("weight") else w) for k, w in weights.items()}
        out, final = torch.func.functional_call(
            twin, weights, (x, tuple(states) if lstm else states[0])
        )
        finals = final if lstm else (final,)
        return torch.cat([out, *[f[0][:, None] for f in finals]], dim=1)

    check_against_torch(torch, engine_fn, torch_fn, *arrays, second_order=True)
    assert max(gradgradcheck(engine_fn, arrays)) < 1e-6


# -- the two paths agree -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_one_rng_gives_both_paths_the_same_weights_initialised_as_pytorch(kind: str) -> None:
    layer, module = make("layers", kind, 5, 16, rng=7), make("engine", kind, 5, 16, rng=7)
    gates = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}[kind]
    shapes = {"W_ih": (5, gates * 16), "W_hh": (16, gates * 16)}
    bound = 1 / np.sqrt(16)  # U(-1/sqrt(H), 1/sqrt(H)), as PyTorch's
    assert list(layer.state_dict()) == list(PARAMETERS)
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(value, module.state_dict()[name])
        assert value.shape == shapes.get(name, (gates * 16,))
        assert np.abs(value).max() <= bound and np.abs(value).max() > 0.8 * bound
    everything = np.concatenate([v.ravel() for v in layer.state_dict().values()])
    assert abs(everything.std() - bound / np.sqrt(3)) < 0.1 * bound  # a uniform's spread
    assert make("layers", kind, 5, 16, rng=8).W_hh.data[0, 0] != layer.W_hh.data[0, 0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("source", ["layers", "engine"])
def test_a_state_dict_moves_between_the_paths(kind: str, source: str) -> None:
    target = "engine" if source == "layers" else "layers"
    trained, fresh = make(source, kind, 3, 4, rng=1), make(target, kind, 3, 4, rng=2)
    fresh.load_state_dict(trained.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    on = {source: trained, target: fresh}
    output = on["layers"].forward(x)[0]
    np.testing.assert_allclose(on["engine"](Tensor(x))[0].data, output, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_by_default_on_both_paths(kind: str) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4))  # float64 in
    extra = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    layer, module = (getattr(path, CLASS[kind])(4, 5, **extra) for path in (dl, nn))
    assert all(p.dtype == np.float32 for p in [*layer.parameters(), *module.parameters()])
    output, _ = layer.forward(x)
    assert output.dtype == np.float32  # the layer converts its input to its dtype
    assert layer.backward(np.ones_like(output)).dtype == np.float32
    assert module(Tensor(x.astype(np.float32)))[0].dtype == np.float32
    assert repr(layer).startswith(f"{CLASS[kind]}(4, 5")


def test_repr_says_the_nonlinearity() -> None:
    assert repr(dl.RNN(3, 4, "relu")) == "RNN(3, 4, nonlinearity='relu')"
    assert repr(nn.LSTM(3, 4)) == "LSTM(3, 4)"


# -- the layer path's backward: what it takes and sets -------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_backward_from_the_final_state_alone_and_backward_params(kind: str) -> None:
    """``dout=None``: only h_n is used (a classifier on the last state); `backward_params`
    sets the same gradients and dh0 as `backward`, without dx."""
    lstm = kind == "lstm"
    layer = make("layers", kind, 3, 4, rng=0)
    gen = np.random.default_rng(1)
    x, dh_n = gen.standard_normal((2, 6, 3)), gen.standard_normal((2, 4))
    output, _ = layer.forward(x)
    dx = layer.backward(None, (dh_n, None) if lstm else dh_n)  # dc_n None: zeros
    grads, dh0 = [p.grad.copy() for p in layer.parameters()], layer.dh0.copy()
    final = (dh_n, None) if lstm else dh_n
    np.testing.assert_array_equal(layer.backward(np.zeros_like(output), final), dx)
    layer.dh0 = None
    assert layer.backward_params(None, final) is None
    for param, g in zip(layer.parameters(), grads):
        np.testing.assert_array_equal(param.grad, g)
    np.testing.assert_array_equal(layer.dh0, dh0)


def test_backward_leaves_its_arguments_unchanged() -> None:
    layer = dl.LSTM(2, 3, rng=0, dtype=np.float64)
    gen = np.random.default_rng(0)
    output, _ = layer.forward(gen.standard_normal((2, 4, 2)))
    dout, dh_n, dc_n = (gen.standard_normal(shape) for shape in [output.shape, (2, 3), (2, 3)])
    copies = [dout.copy(), dh_n.copy(), dc_n.copy()]
    layer.backward(dout, (dh_n, dc_n))
    for argument, copy in zip([dout, dh_n, dc_n], copies):
        np.testing.assert_array_equal(argument, copy)


def test_a_parameter_shared_by_two_layers_gets_the_sum_on_both_paths() -> None:
    """Two RNNs, the second on the first's output, sharing W_hh (tied weights)."""
    gen = np.random.default_rng(0)
    x, dout = gen.standard_normal((2, 5, 3)), gen.standard_normal((2, 5, 3))
    first, second = dl.GRU(3, 3, rng=0, dtype=np.float64), dl.GRU(3, 3, rng=1, dtype=np.float64)
    second.W_hh = first.W_hh
    hidden, _ = first.forward(x)
    output, _ = second.forward(hidden)
    first.backward(second.backward(dout))
    engine = [nn.GRU(3, 3, rng=0, dtype=np.float64), nn.GRU(3, 3, rng=1, dtype=np.float64)]
    engine[1].W_hh = engine[0].W_hh
    out, _ = engine[1](engine[0](Tensor(x))[0])
    np.testing.assert_allclose(out.data, output, rtol=1e-12)
    (out * dout).sum().backward()
    for name in PARAMETERS:
        for layer, module in zip([first, second], engine):
            np.testing.assert_allclose(
                getattr(layer, name).grad, getattr(module, name).grad, rtol=1e-10
            )


# -- long sequences: no recursion ----------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_thousand_steps_on_both_paths(torch: ModuleType, kind: str) -> None:
    case = _case(kind, 2, 1000, 2, 3, True, seed=5)
    layer, module = make("layers", kind, 2, 3, rng=6), make("engine", kind, 2, 3, rng=6)
    expected = torch_pass(torch, torch_twin(torch, layer, kind), case)
    on_layers, on_engine = layer_pass(layer, case), engine_pass(module, case)
    assert np.isfinite(on_layers.dx).all()
    np.testing.assert_allclose(on_layers.dx, expected.dx, rtol=1e-8, atol=1e-10)
    for got in (on_layers, on_engine):
        np.testing.assert_allclose(got.output, expected.output, rtol=1e-8, atol=1e-10)
        for name in PARAMETERS:
            np.testing.assert_allclose(got.grads[name], expected.grads[name], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(on_engine.dh0, expected.dh0, rtol=1e-8, atol=1e-10)


# -- bad arguments and inputs --------------------------------------------------------------------
# (what is wrong, the call on a path's module, the error, its message)
BAD_ARGUMENTS = [
    ("input_size a float", lambda m: m.RNN(2.0, 3), TypeError, "RNN: input_size must be an int"),
    ("hidden_size 0", lambda m: m.LSTM(2, 0), ValueError, "LSTM: hidden_size must be an int >= 1"),
    ("hidden_size a bool", lambda m: m.GRU(2, True), TypeError, "hidden_size must be an int"),
    ("input_size None", lambda m: m.GRU(None, 3), TypeError, "input_size must be an int"),
    ("an unknown nonlinearity", lambda m: m.RNN(2, 3, "elu"), ValueError, "'tanh' or 'relu'"),
    ("nonlinearity None", lambda m: m.RNN(2, 3, None), ValueError, "'tanh' or 'relu'"),
    ("an integer dtype", lambda m: m.LSTM(2, 3, dtype=np.int32), TypeError, "float type"),
    ("a string seed", lambda m: m.GRU(2, 3, rng="0"), TypeError, "rng must be a seed"),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("what", "call", "error", "match"), BAD_ARGUMENTS, ids=[b[0] for b in BAD_ARGUMENTS]
)
def test_bad_arguments_are_refused(
    path: str, what: str, call: Callable[[ModuleType], object], error: type, match: str
) -> None:
    with pytest.raises(error, match=re.escape(match)):
        call(PATHS[path])


X, H0 = np.zeros((2, 5, 3)), np.zeros((2, 4))
# (what is wrong, x, the initial state, the error, its message) for a layer (3 -> 4)
BAD_INPUTS = [
    ("x without a time axis", X[:, 0], None, ValueError, "expected input of shape (N, T, 3)"),
    ("x of the wrong size", np.zeros((2, 5, 4)), None, ValueError, "(N, T, 3), batch first"),
    ("x with no time step", X[:, :0], None, ValueError, "with T >= 1 time steps"),
    ("x of 4 axes", X[None], None, ValueError, "but got (1, 2, 5, 3)"),
    ("h0 of the wrong size", X, np.zeros((2, 5)), ValueError, "expected h0 of shape (2, 4)"),
    ("h0 of another batch", X, np.zeros((3, 4)), ValueError, "h0 of shape (2, 4)"),
    ("h0 with a layer axis", X, H0[None], ValueError, "(N, hidden_size) for the input's N = 2"),
]
LSTM_INPUTS = [
    ("a state not a pair", X, H0, TypeError, "expected h0 as a pair (h, c) of arrays (N, 4)"),
    ("c0 of the wrong size", X, (H0, H0[:, :3]), ValueError, "expected c0 of shape (2, 4)"),
    ("h0 of the wrong size", X, (H0[:, :3], H0), ValueError, "expected h0 of shape (2, 4)"),
]
CASES = [(kind, *bad) for kind in ("rnn_tanh", "gru") for bad in BAD_INPUTS]
CASES += [("lstm", *bad) for bad in BAD_INPUTS[:4] + LSTM_INPUTS]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("kind", "what", "x", "state", "error", "match"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES]
)
def test_bad_inputs_are_refused_before_any_work(
    path: str, kind: str, what: str, x: np.ndarray, state: Any, error: type, match: str
) -> None:
    layer = make(path, kind, 3, 4)
    with pytest.raises(error, match=re.escape(match)):
        layer.forward(x, state) if path == "layers" else layer(Tensor(x), state)
    if path == "layers":  # nothing was kept: backward still says forward has not run
        with pytest.raises(RuntimeError, match="backward was called before forward"):
            layer.backward(np.zeros((2, 5, 4)))


# (what is wrong, dout, dh_n, the error, its message) for a layer (3 -> 4) after forward(X)
BAD_UPSTREAM = [
    ("dout of the wrong shape", X[..., :1], None, ValueError, "expected dout of shape (2, 5, 4)"),
    ("dout without a time axis", H0, None, ValueError, "dout of shape (2, 5, 4)"),
    ("dh_n of the wrong shape", None, H0[:, :3], ValueError, "expected dh_n of shape (2, 4)"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("what", "dout", "dh_n", "error", "match"), BAD_UPSTREAM, ids=[b[0] for b in BAD_UPSTREAM]
)
def test_bad_upstream_gradients_are_refused(
    kind: str, what: str, dout: Any, dh_n: Any, error: type, match: str
) -> None:
    layer = make("layers", kind, 3, 4)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((2, 5, 4)))
    layer.forward(X)
    with pytest.raises(error, match=re.escape(match)):
        layer.backward(dout, (dh_n, None) if kind == "lstm" and dh_n is not None else dh_n)
    if kind == "lstm":
        with pytest.raises(TypeError, match=re.escape("expected dh_n as a pair (h, c)")):
            layer.backward(None, H0)
        with pytest.raises(ValueError, match=re.escape("expected dc_n of shape (2, 4)")):
            layer.backward(None, (None, H0[0]))


def test_complex_input_is_refused_on_the_layer_path() -> None:
    with pytest.raises(TypeError, match="complex"):
        dl.RNN(3, 4).forward(X.astype(np.complex128))
