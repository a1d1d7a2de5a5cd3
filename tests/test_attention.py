"""Attention on both paths: the engine's `functional.scaled_dot_product_attention` and
nanoGPT's causal self-attention, `deeplearning.CausalSelfAttention` (the layer path, backward
written by hand) and `nn.CausalSelfAttention` (the engine).

- PyTorch (CPU, float64) is the oracle, with shapes drawn by hypothesis: its
  ``scaled_dot_product_attention`` for the function (boolean and float masks, ``is_causal``,
  ``scale``: output, q, k and v gradients, double backward; central differences too), and a
  transcription of nanoGPT's module for both modules (output, dL/dx, every parameter's
  gradient). These tests skip without PyTorch.
- The two paths agree: one ``rng``, the same weights and dropout masks, the same results.
- Extremes: scores of ±1e4 and fully masked rows (0, as PyTorch 2.13) give no NaN.
- Bad arguments are refused with a clear error.
"""

from __future__ import annotations

import math
import re
from types import ModuleType
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplearning as dl
from deeplearning.autograd import Tensor, gradgradcheck, nn
from deeplearning.autograd import functional as F
from deeplearning.core.kernels import dropout_mask
from test_autograd_ops import check_against_torch

RTOL, ATOL = 1e-10, 1e-12

# The largest relative errors of the modules against PyTorch (outputs, gradients); not
# asserted, read by whoever wants to report them. The function's are in
# `test_autograd_ops.WORST_RELATIVE_ERROR`, where `check_against_torch` records them.
WORST_RELATIVE_ERROR = {"output": 0.0, "gradient": 0.0}

FAST = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
PATHS = {"layers": dl.CausalSelfAttention, "engine": nn.CausalSelfAttention}


def _assert_close(actual: Any, expected: Any, what: str, kind: str = "gradient") -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.isfinite(actual).all(), f"{what}: not finite"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)
    significant = np.abs(expected) > 1e-8
    if significant.any():
        relative = np.abs(actual - expected)[significant] / np.abs(expected)[significant]
        WORST_RELATIVE_ERROR[kind] = max(WORST_RELATIVE_ERROR[kind], float(relative.max()))


# -- scaled_dot_product_attention against PyTorch ------------------------------------------------
def _torch_sdpa(torch: ModuleType, *args: Any, **kwargs: Any) -> Any:
    """PyTorch's ``F.scaled_dot_product_attention`` on its math backend, the one whose backward
    pass PyTorch differentiates again (its CPU flash kernel has no double backward); both give
    0 for a fully masked row in PyTorch 2.13."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        return torch.nn.functional.scaled_dot_product_attention(*args, **kwargs)


@st.composite
def attention_setups(draw: Any) -> dict[str, Any]:
    """Batch axes (none to two), L and S from 1 to 5, E and Ev from 1 to 4, and a mask: none,
    boolean (any pattern, fully masked rows included), float (with -inf), or causal."""
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    length, keys = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return {
        "q": (*batch, length, draw(st.integers(1, 4))),
        "k_rows": keys,
        "ev": draw(st.integers(1, 4)),
        "mask": draw(st.sampled_from(["none", "bool", "float", "causal"])),
        "mask_batch": draw(st.booleans()),  # a mask with the batch axes, or (L, S) alone
        "scale": draw(st.sampled_from([None, 0.3, -1.5])),
    }


def _mask(kind: str, shape: tuple[int, ...], gen: np.random.Generator) -> np.ndarray | None:
    if kind == "bool":
        return gen.random(shape) < 0.6
    if kind == "float":
        return np.where(gen.random(shape) < 0.3, -np.inf, gen.standard_normal(shape))
    return None


@FAST
@given(setup=attention_setups(), seed=seeds)
def test_scaled_dot_product_attention_equals_torch_to_second_order(
    torch: ModuleType, setup: dict[str, Any], seed: int
) -> None:
    gen = np.random.default_rng(seed)
    q_shape = setup["q"]
    *batch, length, features = q_shape
    k_shape = (*batch, setup["k_rows"], features)
    v_shape = (*batch, setup["k_rows"], setup["ev"])
    mask_shape = (*(batch if setup["mask_batch"] else ()), length, setup["k_rows"])
    mask = _mask(setup["mask"], mask_shape, gen)
    causal, scale = setup["mask"] == "causal", setup["scale"]
    t_mask = None if mask is None else torch.from_numpy(mask)

    def engine_fn(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v, mask, is_causal=causal, scale=scale)

    def torch_fn(q: Any, k: Any, v: Any) -> Any:
        return _torch_sdpa(torch, q, k, v, t_mask, is_causal=causal, scale=scale)

    arrays = [gen.standard_normal(shape) for shape in (q_shape, k_shape, v_shape)]
    check_against_torch(torch, engine_fn, torch_fn, *arrays, second_order=True, seed=seed)


ALLOWED = np.array([[True, False, True, False], [False] * 4, [True] * 4])
"""Which key each of three queries may attend: the second query none."""


@pytest.mark.parametrize(
    ("mask", "causal"),
    [(None, False), (None, True), (ALLOWED, False), (np.where(ALLOWED, 0.3, -np.inf), False)],
    ids=["no mask", "causal", "boolean, a row fully masked", "float, a row of -inf"],
)
def test_scaled_dot_product_attention_second_order_by_central_differences(
    mask: np.ndarray | None, causal: bool
) -> None:
    gen = np.random.default_rng(3)
    arrays = [gen.standard_normal(shape) for shape in ((2, 3, 2), (2, 4, 2), (2, 4, 3))]

    def fn(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v, mask, is_causal=causal, scale=0.7)

    assert max(gradgradcheck(fn, arrays)) < 1e-6


def test_the_batch_axes_broadcast_as_in_torch(torch: ModuleType) -> None:
    gen = np.random.default_rng(4)
    arrays = [gen.standard_normal(s) for s in ((2, 1, 3, 4), (1, 3, 5, 4), (3, 5, 2))]
    mask = gen.random((2, 1, 3, 5)) < 0.7
    check_against_torch(
        torch,
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask),
        lambda q, k, v: _torch_sdpa(torch, q, k, v, torch.from_numpy(mask)),
        *arrays,
        second_order=True,
    )


# -- extremes ------------------------------------------------------------------------------------
def test_scores_of_1e4_give_no_nan_and_match_torch(torch: ModuleType) -> None:
    gen = np.random.default_rng(5)
    q = gen.choice([-1.0, 1.0], (2, 4, 2)) * 100.0  # scores q k / √2 of about ±1e4
    k = gen.choice([-1.0, 1.0], (2, 4, 2)) * 100.0 * math.sqrt(2) / 2
    v = gen.standard_normal((2, 4, 3))
    for causal in (False, True):
        check_against_torch(
            torch,
            lambda q, k, v, c=causal: F.scaled_dot_product_attention(q, k, v, is_causal=c),
            lambda q, k, v, c=causal: _torch_sdpa(torch, q, k, v, is_causal=c),
            q, k, v,
        )  # fmt: skip


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_a_fully_masked_row_gives_zeros_and_no_gradient_as_torch(
    torch: ModuleType, kind: str
) -> None:
    gen = np.random.default_rng(6)
    q, k, v = (gen.standard_normal(s) for s in ((3, 2), (4, 2), (4, 5)))
    mask = ALLOWED if kind == "bool" else np.where(ALLOWED, 0.0, -np.inf)
    qt, kt, vt = (Tensor(a, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(qt, kt, vt, mask)
    np.testing.assert_array_equal(out.data[1], 0.0)
    out.backward(np.ones(out.shape))
    assert all(np.isfinite(t.grad).all() for t in (qt, kt, vt))
    np.testing.assert_array_equal(qt.grad[1], 0.0)
    t_mask = torch.from_numpy(mask)
    check_against_torch(
        torch,
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mask),
        lambda q, k, v: _torch_sdpa(torch, q, k, v, t_mask),
        q, k, v, second_order=True,
    )  # fmt: skip


def test_no_key_at_all_gives_zeros_as_torch() -> None:
    q, k, v = Tensor(np.ones((2, 3, 4)), requires_grad=True), np.ones((2, 0, 4)), np.ones((2, 0, 5))
    out = F.scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 5) and not out.data.any()
    out.sum().backward()
    np.testing.assert_array_equal(q.grad, 0.0)
    barred = np.zeros((3, 6), dtype=bool)  # every key barred from every query
    out = F.scaled_dot_product_attention(q, np.ones((2, 6, 4)), np.ones((2, 6, 5)), barred)
    np.testing.assert_array_equal(out.data, 0.0)


def test_dropout_in_the_function_draws_the_shared_kernel_mask(torch: ModuleType) -> None:
    gen = np.random.default_rng(7)
    q, k, v = (gen.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, rng=11)
    mask = dropout_mask((2, 3, 5), 0.4, np.random.default_rng(11), np.float64)
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))
    weights = torch.softmax(tq @ tk.transpose(-1, -2) / 2.0, dim=-1)
    _assert_close(out.data, ((weights * torch.from_numpy(mask)) @ tv).numpy(), "dropout", "output")


# -- CausalSelfAttention: a transcription of nanoGPT's in PyTorch --------------------------------
def nanogpt_attention(torch: ModuleType, n_embd: int, n_head: int, bias: bool) -> Any:
    """nanoGPT's ``CausalSelfAttention`` (model.py), its manual path, in float64; the dropout
    masks, when given, are those our modules drew (PyTorch's generator draws others)."""

    class CausalSelfAttention(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = torch.nn.Linear(n_embd, 3 * n_embd, bias=bias, dtype=torch.float64)
            self.c_proj = torch.nn.Linear(n_embd, n_embd, bias=bias, dtype=torch.float64)
            self.n_head, self.n_embd = n_head, n_embd

        def forward(self, x: Any, masks: tuple[Any, Any] | None = None) -> Any:
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            causal = torch.tril(torch.ones(T, T)).view(1, 1, T, T)
            att = att.masked_fill(causal == 0, float("-inf"))
            att = torch.nn.functional.softmax(att, dim=-1)
            att = att if masks is None else att * masks[0]  # attn_dropout
            y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            y = self.c_proj(y)
            return y if masks is None else y * masks[1]  # resid_dropout

    return CausalSelfAttention()


def _randomised(module: Any, gen: np.random.Generator) -> None:
    """Nonzero biases and weights of a size that makes the softmax far from uniform."""
    for _, param in module.named_parameters():
        param.data[...] = gen.standard_normal(param.shape) * 0.5


def _copy_to_torch(torch: ModuleType, ours: Any, theirs: Any) -> None:
    with torch.no_grad():
        for name in ("c_attn", "c_proj"):
            linear, reference = getattr(ours, name), getattr(theirs, name)
            reference.weight.copy_(torch.from_numpy(linear.W.data.T))  # torch's (out, in)
            if linear.b is not None:
                reference.bias.copy_(torch.from_numpy(linear.b.data))


def _run(module: Any, x: np.ndarray, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output and dL/dx of either path, the parameters' gradients set."""
    if isinstance(module, dl.Layer):
        return module.forward(x), module.backward(dout)
    xt = Tensor(x, requires_grad=True)
    out = module(xt)
    out.backward(dout)
    return out.data, xt.grad


def _torch_run(
    torch: ModuleType, ref: Any, x: np.ndarray, dout: np.ndarray, masks: Any = None
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Output, dL/dx and the parameters' gradients of the transcription, in our names and
    shapes (``W`` (in, out) is torch's ``weight`` transposed)."""
    xt = torch.tensor(x, requires_grad=True)
    out = ref(xt, masks)
    out.backward(torch.from_numpy(dout))
    grads = {}
    for name in ("c_attn", "c_proj"):
        linear = getattr(ref, name)
        grads[f"{name}.W"] = linear.weight.grad.numpy().T
        if linear.bias is not None:
            grads[f"{name}.b"] = linear.bias.grad.numpy()
    return out.detach().numpy(), xt.grad.numpy(), grads


@FAST
@given(
    b=st.integers(1, 3), t=st.integers(1, 6), n_head=st.integers(1, 3),
    head_size=st.integers(1, 4), bias=st.booleans(), seed=seeds,
)  # fmt: skip
def test_causal_self_attention_on_both_paths_equals_nanogpt(
    torch: ModuleType, b: int, t: int, n_head: int, head_size: int, bias: bool, seed: int
) -> None:
    n_embd = n_head * head_size
    gen = np.random.default_rng(seed)
    x, dout = gen.standard_normal((b, t, n_embd)), gen.standard_normal((b, t, n_embd))
    layer = dl.CausalSelfAttention(n_embd, n_head, bias=bias, rng=seed, dtype=np.float64)
    _randomised(layer, gen)
    engine = nn.CausalSelfAttention(n_embd, n_head, bias=bias, rng=0, dtype=np.float64)
    engine.load_state_dict(layer.state_dict())
    reference = nanogpt_attention(torch, n_embd, n_head, bias)
    _copy_to_torch(torch, layer, reference)
    t_out, t_dx, t_grads = _torch_run(torch, reference, x, dout)
    results = []
    for path, module in (("layers", layer), ("engine", engine)):
        out, dx = _run(module, x, dout)
        grads = {name: p.grad for name, p in module.named_parameters()}
        assert grads.keys() == t_grads.keys()
        _assert_close(out, t_out, f"{path}: output", "output")
        for name, g in {"x": dx, **grads}.items():
            _assert_close(g, t_grads.get(name, t_dx), f"{path}: gradient of {name}")
        results.append([out, dx, *grads.values()])
    for on_layers, on_engine in zip(*results):  # to rounding: the same operations, in order
        np.testing.assert_allclose(on_layers, on_engine, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("path", list(PATHS))
def test_dropout_draws_the_same_masks_on_both_paths_and_as_nanogpt(
    torch: ModuleType, path: str
) -> None:
    b, t, n_embd, n_head, p = 2, 5, 6, 2, 0.3
    gen = np.random.default_rng(8)
    x, dout = gen.standard_normal((b, t, n_embd)), gen.standard_normal((b, t, n_embd))
    module = PATHS[path](n_embd, n_head, dropout=p, rng=21, dtype=np.float64)
    out, dx = _run(module, x, dout)
    # the masks: the generator that drew both weights, then the attention's, then the output's
    twin = dl.CausalSelfAttention(n_embd, n_head, dropout=p, rng=21, dtype=np.float64)
    masks = tuple(
        torch.from_numpy(dropout_mask(shape, p, twin.attn_dropout.rng, np.float64))
        for shape in ((b, n_head, t, t), (b, t, n_embd))  # (one generator: both dropouts')
    )
    assert 0 < float((masks[0] == 0).double().mean()) < 1
    reference = nanogpt_attention(torch, n_embd, n_head, True)
    _copy_to_torch(torch, module, reference)
    t_out, t_dx, t_grads = _torch_run(torch, reference, x, dout, masks)
    _assert_close(out, t_out, f"{path}: output with dropout", "output")
    _assert_close(dx, t_dx, f"{path}: dL/dx with dropout")
    for name, param in module.named_parameters():
        _assert_close(param.grad, t_grads[name], f"{path}: {name}.grad with dropout")
    module.eval()  # no dropout: nanoGPT without masks
    _assert_close(_run(module, x, dout)[0], _torch_run(torch, reference, x, dout)[0], "eval")


def test_dropout_gives_the_same_outputs_and_gradients_on_both_paths() -> None:
    x = np.random.default_rng(9).standard_normal((3, 4, 8)).astype(np.float32)
    layer = dl.CausalSelfAttention(8, 4, dropout=0.5, rng=2)
    engine = nn.CausalSelfAttention(8, 4, dropout=0.5, rng=2)
    for _ in range(2):  # the generators advance alike
        (out_l, dx_l), (out_e, dx_e) = _run(layer, x, x), _run(engine, x, x)
        assert out_l.dtype == out_e.dtype == np.float32
        np.testing.assert_allclose(out_l, out_e, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dx_l, dx_e, rtol=1e-5, atol=1e-6)
        for (name, p_l), (_, p_e) in zip(layer.named_parameters(), engine.named_parameters()):
            np.testing.assert_allclose(p_l.grad, p_e.grad, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("path", list(PATHS))
def test_huge_scores_give_no_nan_in_the_modules(torch: ModuleType, path: str) -> None:
    module = PATHS[path](4, 2, rng=0, dtype=np.float64)
    module.c_attn.W.data *= 300.0  # scores of order 1e4
    x, dout = np.random.default_rng(10).standard_normal((2, 6, 4)), np.ones((2, 6, 4))
    out, dx = _run(module, x, dout)
    reference = nanogpt_attention(torch, 4, 2, True)
    _copy_to_torch(torch, module, reference)
    t_out, t_dx, _ = _torch_run(torch, reference, x, dout)
    assert np.isfinite(out).all() and np.isfinite(dx).all()
    np.testing.assert_allclose(out, t_out, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-6, atol=1e-6)


# -- the two paths' modules ----------------------------------------------------------------------
def test_the_same_rng_gives_the_same_weights_and_nanogpt_names_on_both_paths() -> None:
    layer, engine = dl.CausalSelfAttention(8, 2, rng=3), nn.CausalSelfAttention(8, 2, rng=3)
    assert [(n, p.shape) for n, p in layer.named_parameters()] == [
        ("c_attn.W", (8, 24)), ("c_attn.b", (24,)), ("c_proj.W", (8, 8)), ("c_proj.b", (8,)),
    ]  # fmt: skip
    for (name, a), (_, b) in zip(layer.state_dict().items(), engine.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    no_bias = dl.CausalSelfAttention(8, 2, bias=False, rng=3)
    assert list(no_bias.state_dict()) == ["c_attn.W", "c_proj.W"]
    assert list(nn.CausalSelfAttention(8, 2, bias=False).state_dict()) == ["c_attn.W", "c_proj.W"]
    assert "bias=False" in repr(no_bias)


def test_backward_params_sets_the_gradients_of_backward() -> None:
    gen = np.random.default_rng(11)
    x, dout = gen.standard_normal((2, 3, 6)), gen.standard_normal((2, 3, 6))
    module = dl.CausalSelfAttention(6, 3, rng=0, dtype=np.float64)
    module.forward(x)
    module.backward(dout)
    expected = {name: p.grad.copy() for name, p in module.named_parameters()}
    module.forward(x)
    module.backward_params(dout)
    for name, param in module.named_parameters():
        np.testing.assert_array_equal(param.grad, expected[name])


def test_an_empty_batch_gives_an_empty_output_on_both_paths() -> None:
    for module in (dl.CausalSelfAttention(4, 2, rng=0), nn.CausalSelfAttention(4, 2, rng=0)):
        out, dx = _run(module, np.zeros((0, 3, 4), dtype=np.float32), np.zeros((0, 3, 4)))
        assert out.shape == dx.shape == (0, 3, 4)


def test_the_layer_gradients_match_central_differences() -> None:
    x = np.random.default_rng(12).standard_normal((2, 4, 6))
    errors = dl.check_layer(dl.CausalSelfAttention(6, 2, bias=False, rng=0, dtype=np.float64), x)
    assert set(errors) == {"input", "c_attn.W", "c_proj.W"} and max(errors.values()) < 1e-6


def test_linear_without_bias_on_the_layer_path() -> None:
    layer = dl.Linear(3, 2, bias=False, rng=0, dtype=np.float64)
    assert layer.b is None and list(layer.state_dict()) == ["W"]
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=False)"
    x = np.random.default_rng(14).standard_normal((4, 3))
    np.testing.assert_array_equal(layer.forward(x), x @ layer.W.data)
    assert max(dl.check_layer(layer, x).values()) < 1e-6
    with pytest.raises(AttributeError, match="bias=False"):
        _ = layer.dL_db
    with pytest.raises(TypeError, match="bias"):
        dl.Linear(3, 2, bias="no")  # type: ignore[arg-type]


# -- bad input -----------------------------------------------------------------------------------
BAD_MODULES: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("n_embd a float", {"n_embd": 8.0, "n_head": 2}, TypeError, "n_embd must be an int"),
    ("n_head 0", {"n_embd": 8, "n_head": 0}, ValueError, "n_head must be an int >= 1"),
    ("n_embd not a multiple", {"n_embd": 10, "n_head": 4}, ValueError, "multiple of n_head"),
    ("dropout > 1", {"n_embd": 8, "n_head": 2, "dropout": 1.5}, ValueError, r"in \[0, 1\]"),
    ("bias a string", {"n_embd": 8, "n_head": 2, "bias": "yes"}, TypeError, "bias"),
    ("an int dtype", {"n_embd": 8, "n_head": 2, "dtype": np.int32}, TypeError, "float type"),
]


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(
    ("case", "kwargs", "error", "message"), BAD_MODULES, ids=[c[0] for c in BAD_MODULES]
)
def test_bad_arguments_are_refused(
    path: str, case: str, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        PATHS[path](**kwargs)


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(
    "shape",
    [(2, 3, 6), (2, 0, 8), (3, 8), (1, 2, 3, 8)],
    ids=["C != n_embd", "T = 0", "2-D", "4-D"],
)
def test_inputs_of_the_wrong_shape_are_refused(path: str, shape: tuple[int, ...]) -> None:
    module = PATHS[path](8, 2, rng=0)
    x = np.zeros(shape, dtype=np.float32)
    expected = re.escape("expected input of shape (B, T, 8) with T >= 1 positions")
    with pytest.raises(ValueError, match=expected):
        module.forward(x) if path == "layers" else module(Tensor(x))


def test_the_layer_refuses_backward_before_forward_and_a_wrong_dout() -> None:
    layer = dl.CausalSelfAttention(4, 2, rng=0)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 2, 4)))
    layer.forward(np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=re.escape("expected dout of shape (1, 2, 4)")):
        layer.backward(np.zeros((1, 3, 4)))


_Q, _K, _V = np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 5, 6))
BAD_CALLS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("mask and is_causal", lambda: F.scaled_dot_product_attention(
        _Q, _K, _V, np.ones((3, 5), bool), is_causal=True), ValueError, "not both"),
    ("an int mask", lambda: F.scaled_dot_product_attention(_Q, _K, _V, np.ones((3, 5), int)),
     TypeError, "boolean .* or float"),
    ("a mask of another shape", lambda: F.scaled_dot_product_attention(
        _Q, _K, _V, np.ones((5, 3), bool)), ValueError, "does not broadcast"),
    ("NaN in a float mask", lambda: F.scaled_dot_product_attention(
        _Q, _K, _V, np.full((3, 5), np.nan)), ValueError, "no NaN and no \\+inf"),
    ("+inf in a float mask", lambda: F.scaled_dot_product_attention(
        _Q, _K, _V, np.full((3, 5), np.inf)), ValueError, "no NaN and no \\+inf"),
    ("q and k features differ", lambda: F.scaled_dot_product_attention(
        np.ones((2, 3, 3)), _K, _V), ValueError, "same number E"),
    ("k and v keys differ", lambda: F.scaled_dot_product_attention(
        _Q, _K, np.ones((2, 4, 6))), ValueError, "same number S"),
    ("a 1-D query", lambda: F.scaled_dot_product_attention(np.ones(4), _K, _V), ValueError,
     "at least two dimensions"),
    ("batch axes that do not broadcast", lambda: F.scaled_dot_product_attention(
        np.ones((3, 3, 4)), _K, _V), ValueError, "must broadcast"),
    ("dropout_p < 0", lambda: F.scaled_dot_product_attention(_Q, _K, _V, dropout_p=-0.1),
     ValueError, r"in \[0, 1\]"),
    ("a NaN scale", lambda: F.scaled_dot_product_attention(_Q, _K, _V, scale=math.nan),
     ValueError, "scale must be a finite number"),
    ("is_causal an int", lambda: F.scaled_dot_product_attention(_Q, _K, _V, is_causal=1),
     TypeError, "is_causal"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "call", "error", "message"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS]
)
def test_bad_calls_of_the_function_are_refused(
    case: str, call: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()
