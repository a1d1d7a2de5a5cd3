"""The GPT on both paths: nanoGPT's names, sizes and initialisation, the logits, loss and every
gradient against nanoGPT's model transcribed in PyTorch (float64), dropout masks shared by the
paths, generation with and without the key/value cache, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplearning as dl
from deeplearning.autograd import functional as F
from deeplearning.autograd import nn
from deeplearning.core.kv_cache import KVCache

PATHS = {"layers": dl.GPT, "autograd": nn.GPT}
SMALL = {"vocab_size": 11, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 16}


def _loss_and_grads(model: dl.Module, idx: np.ndarray, targets: np.ndarray) -> float:
    """The mean cross-entropy of ``model`` on (idx, targets), its gradients set."""
    vocab = model.config["vocab_size"]
    if model.engine == "layers":
        loss_fn = dl.CrossEntropyLoss()
        loss = loss_fn.forward(model.forward(idx).reshape(-1, vocab), targets.reshape(-1))
        model.backward(loss_fn.backward().reshape(*idx.shape, vocab))
        return float(loss)
    tensor = F.cross_entropy(model(idx).reshape(-1, vocab), targets.reshape(-1))
    tensor.backward()
    return float(tensor.data)


def _batch(rng: int, b: int = 3, t: int = 8, vocab: int = 11) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(rng)
    return generator.integers(0, vocab, (b, t)), generator.integers(0, vocab, (b, t))


# -- structure ---------------------------------------------------------------------------------
def test_the_baby_gpt_has_nanogpts_names_and_size() -> None:
    model = dl.GPT(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, bias=False)
    names = [name for name, _ in model.named_parameters()]
    assert names[:7] == [
        "transformer.wte.weight",
        "transformer.wpe.weight",
        "transformer.h.0.ln_1.weight",
        "transformer.h.0.attn.c_attn.W",
        "transformer.h.0.attn.c_proj.W",
        "transformer.h.0.ln_2.weight",
        "transformer.h.0.mlp.c_fc.W",
    ]
    assert names[-2:] == ["transformer.h.3.mlp.c_proj.W", "transformer.ln_f.weight"]
    # per block: 2 LayerNorms 2·128, c_attn 128·384, c_proj 128², c_fc and c_proj 2·128·512
    block = 2 * 128 + 128 * 384 + 128 * 128 + 2 * 128 * 512
    assert model.num_parameters() == 65 * 128 + 64 * 128 + 4 * block + 128 == 804_096
    # nanoGPT prints 0.80M: it leaves out the position table
    assert model.num_parameters() - 64 * 128 == 795_904


def test_bias_adds_every_linear_and_layernorm_bias() -> None:
    with_bias = dl.GPT(**SMALL, bias=True, rng=0)
    without = dl.GPT(**SMALL, bias=False, rng=0)
    extra = {name for name, _ in with_bias.named_parameters()} - {
        name for name, _ in without.named_parameters()
    }
    assert len(extra) == 2 * 6 + 1  # per block: ln_1, c_attn, c_proj, ln_2, c_fc, c_proj
    assert all(name.endswith((".b", ".bias")) for name in extra)


def test_nanogpt_initialisation() -> None:
    model = dl.GPT(vocab_size=500, block_size=256, n_layer=6, n_head=4, n_embd=256, rng=0)
    params = dict(model.named_parameters())
    for name, param in params.items():
        values = param.data
        if name.endswith((".b", ".bias")):
            assert not values.any(), name
        elif ".ln_" in name:
            assert np.all(values == 1), name
        else:
            expected = 0.02 / math.sqrt(12) if name.endswith("c_proj.W") else 0.02
            assert values.std() == pytest.approx(expected, rel=0.05), name
            assert abs(values.mean()) < expected / 10, name
        assert values.dtype == np.float32


def test_one_seed_gives_one_model_on_both_paths() -> None:
    layers, engine = dl.GPT(**SMALL, rng=3), nn.GPT(**SMALL, rng=3)
    for (name, p), (other, q) in zip(layers.named_parameters(), engine.named_parameters()):
        assert name == other and np.array_equal(p.data, q.data)
    engine.load_state_dict(dl.GPT(**SMALL, rng=4).state_dict())  # one state_dict fits both


def test_the_head_is_the_token_table() -> None:
    model = dl.GPT(**SMALL, rng=0, dtype=np.float64)
    idx, _ = _batch(0)
    h = model.transformer.forward(idx)
    np.testing.assert_array_equal(model.forward(idx), h @ model.transformer.wte.weight.data.T)


# -- against nanoGPT in PyTorch ---------------------------------------------------------------
def _nanogpt(torch: object, config: dict, bias: bool) -> object:
    """nanoGPT's model.py, transcribed with PyTorch's modules (no flash path, no dropout)."""
    import torch.nn as tnn

    class SelfAttention(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = config["n_embd"]
            self.c_attn = tnn.Linear(c, 3 * c, bias=bias)
            self.c_proj = tnn.Linear(c, c, bias=bias)

        def forward(self, x):
            b, t, c = x.shape
            nh = config["n_head"]
            q, k, v = self.c_attn(x).split(c, dim=2)
            q, k, v = (z.view(b, t, nh, c // nh).transpose(1, 2) for z in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / math.sqrt(c // nh)
            mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
            att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
            return self.c_proj(y)

    class Block(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = config["n_embd"]
            self.ln_1 = tnn.LayerNorm(c, bias=bias)
            self.attn = SelfAttention()
            self.ln_2 = tnn.LayerNorm(c, bias=bias)
            self.mlp = tnn.ModuleDict(
                {"c_fc": tnn.Linear(c, 4 * c, bias=bias), "c_proj": tnn.Linear(4 * c, c, bias=bias)}
            )

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            hidden = tnn.functional.gelu(self.mlp["c_fc"](self.ln_2(x)))
            return x + self.mlp["c_proj"](hidden)

    class NanoGPT(tnn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = config["n_embd"]
            self.transformer = tnn.ModuleDict({
                "wte": tnn.Embedding(config["vocab_size"], c),
                "wpe": tnn.Embedding(config["block_size"], c),
                "h": tnn.ModuleList([Block() for _ in range(config["n_layer"])]),
                "ln_f": tnn.LayerNorm(c, bias=bias),
            })  # fmt: skip
            self.lm_head = tnn.Linear(c, config["vocab_size"], bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # tied, as nanoGPT ties them

        def forward(self, idx):
            t = idx.shape[1]
            x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(t))
            for block in self.transformer.h:
                x = block(x)
            return self.lm_head(self.transformer.ln_f(x))

    return NanoGPT().double()


def _torch_name(name: str) -> tuple[str, bool]:
    """nanoGPT's name of one of our parameters, and whether its array is transposed."""
    if name.endswith(".W"):
        return name[:-2] + ".weight", True
    if name.endswith(".b"):
        return name[:-2] + ".bias", False
    return name, False


def _to_torch(model: dl.Module, reference: object, torch: object) -> None:
    """Copy our weights into the transcribed nanoGPT."""
    own = dict(reference.named_parameters())
    with torch.no_grad():
        for name, param in model.named_parameters():
            key, transposed = _torch_name(name)
            value = param.data.T if transposed else param.data
            own[key].copy_(torch.from_numpy(np.ascontiguousarray(value)))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("path", PATHS)
def test_logits_loss_and_every_gradient_equal_nanogpts(path: str, bias: bool) -> None:
    torch = pytest.importorskip("torch")
    config = {"vocab_size": 13, "block_size": 9, "n_layer": 3, "n_head": 4, "n_embd": 24}
    model = PATHS[path](**config, bias=bias, rng=7, dtype=np.float64)
    reference = _nanogpt(torch, config, bias)
    _to_torch(model, reference, torch)
    idx, targets = _batch(11, b=4, t=9, vocab=13)
    loss = _loss_and_grads(model, idx, targets)
    logits = reference(torch.from_numpy(idx))
    expected = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 13), torch.from_numpy(targets).reshape(-1)
    )
    expected.backward()
    np.testing.assert_allclose(model.infer(idx), logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    own = dict(reference.named_parameters())
    for name, param in model.named_parameters():
        key, transposed = _torch_name(name)
        grad = own[key].grad.numpy()
        np.testing.assert_allclose(param.grad, grad.T if transposed else grad, rtol=1e-9,
                                   atol=1e-12, err_msg=name)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.tuples(
        st.integers(1, 2),
        st.integers(1, 3),
        st.integers(1, 4),
        st.integers(2, 9),
        st.integers(1, 6),
    ),
    batch=st.integers(1, 3),
    bias=st.booleans(),
    path=st.sampled_from(sorted(PATHS)),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_shape_equals_nanogpt(
    sizes: tuple[int, ...], batch: int, bias: bool, path: str, seed: int
) -> None:
    torch = pytest.importorskip("torch")
    n_layer, n_head, head_size, vocab, block = sizes
    config = {"vocab_size": vocab, "block_size": block, "n_layer": n_layer, "n_head": n_head,
              "n_embd": n_head * head_size}  # fmt: skip
    model = PATHS[path](**config, bias=bias, rng=seed, dtype=np.float64)
    for name, param in model.named_parameters():  # LayerNorms away from ones and zeros too
        if ".ln_" in name:
            param.data[...] = np.random.default_rng(seed).normal(1, 0.5, param.shape)
    reference = _nanogpt(torch, config, bias)
    _to_torch(model, reference, torch)
    t = 1 + seed % block
    idx, targets = _batch(seed, b=batch, t=t, vocab=vocab)
    loss = _loss_and_grads(model, idx, targets)
    logits = reference(torch.from_numpy(idx))
    expected = torch.nn.functional.cross_entropy(
        logits.reshape(-1, vocab), torch.from_numpy(targets).reshape(-1)
    )
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-10)
    own = dict(reference.named_parameters())
    for name, param in model.named_parameters():
        key, transposed = _torch_name(name)
        grad = own[key].grad.numpy()
        np.testing.assert_allclose(param.grad, grad.T if transposed else grad, rtol=1e-8,
                                   atol=1e-12, err_msg=name)  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_ten_adamw_steps_with_nanogpts_groups_equal_pytorchs(path: str) -> None:
    """llm.c's parity test: the same losses, step after step, with nanoGPT's recipe (AdamW
    with decay on the matrices only, betas (0.9, 0.99), the gradient clipped at norm 1)."""
    torch = pytest.importorskip("torch")
    config = {"vocab_size": 13, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 16}
    model = PATHS[path](**config, bias=False, rng=1, dtype=np.float64)
    reference = _nanogpt(torch, config, bias=False)
    _to_torch(model, reference, torch)

    def groups(params: list) -> list[dict]:
        return [
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.1},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ]

    ours = dl.AdamW(groups(list(model.parameters())), lr=1e-2, betas=(0.9, 0.99))
    theirs = torch.optim.AdamW(groups(list(reference.parameters())), lr=1e-2, betas=(0.9, 0.99))
    losses, expected = [], []
    idx, targets = _batch(0, b=4, t=8, vocab=13)  # one batch, as llm.c's test: it is learned
    for _ in range(10):
        losses.append(_loss_and_grads(model, idx, targets))
        dl.clip_grad_norm(model.parameters(), 1.0)
        ours.step()
        theirs.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            reference(torch.from_numpy(idx)).reshape(-1, 13), torch.from_numpy(targets).reshape(-1)
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
        theirs.step()
        expected.append(loss.item())
    np.testing.assert_allclose(losses, expected, rtol=1e-10)
    assert losses[-1] < losses[0] - 0.3  # it learns
    own = dict(reference.named_parameters())
    for name, param in model.named_parameters():
        key, transposed = _torch_name(name)
        value = own[key].detach().numpy()
        np.testing.assert_allclose(param.data, value.T if transposed else value, rtol=1e-9,
                                   atol=1e-12, err_msg=name)  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_shorter_sequences_and_float32(path: str) -> None:
    model = PATHS[path](**SMALL, rng=0)
    double = PATHS[path](**SMALL, rng=0, dtype=np.float64)
    idx, targets = _batch(5, b=2, t=3)
    logits = model.infer(idx)
    assert logits.shape == (2, 3, 11) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, double.infer(idx), rtol=1e-4, atol=1e-5)
    loss = _loss_and_grads(model, idx, targets)
    assert np.isfinite(loss)
    # positions 3.. of the table were not read: no gradient there
    assert not model.transformer.wpe.weight.grad[3:].any()


def test_dropout_masks_are_the_same_on_both_paths() -> None:
    layers = dl.GPT(**SMALL, dropout=0.2, rng=5, dtype=np.float64)
    engine = nn.GPT(**SMALL, dropout=0.2, rng=5, dtype=np.float64)
    idx, targets = _batch(2)
    for _ in range(2):  # the second step draws new masks, the same on both
        assert _loss_and_grads(layers, idx, targets) == pytest.approx(
            _loss_and_grads(engine, idx, targets), rel=1e-12
        )
        for p, q in zip(layers.parameters(), engine.parameters()):
            np.testing.assert_allclose(p.grad, q.grad, rtol=1e-9, atol=1e-13)
    assert layers.infer(idx) is not None
    layers.eval()
    np.testing.assert_array_equal(layers.infer(idx), layers.infer(idx))  # no dropout


def test_engine_gpt_differentiates_twice() -> None:
    model = nn.GPT(vocab_size=5, block_size=4, n_layer=1, n_head=2, n_embd=4, rng=0,
                   dtype=np.float64)  # fmt: skip
    idx, targets = _batch(3, b=2, t=4, vocab=5)
    weight = model.transformer.h[0].mlp.c_fc.W
    loss = F.cross_entropy(model(idx).reshape(-1, 5), targets.reshape(-1))
    (g,) = dl.autograd.grad(loss, [weight], create_graph=True)
    direction = np.random.default_rng(0).standard_normal(weight.shape)
    (hv,) = dl.autograd.grad((g * direction).sum(), [weight])
    # the Hessian-vector product against central differences of the gradient
    eps, base = 1e-5, weight.data.copy()
    grads = []
    for sign in (1, -1):
        weight.data[...] = base + sign * eps * direction
        out = F.cross_entropy(model(idx).reshape(-1, 5), targets.reshape(-1))
        grads.append(dl.autograd.grad(out, [weight])[0])
    weight.data[...] = base
    np.testing.assert_allclose(hv, (grads[0] - grads[1]) / (2 * eps), rtol=1e-5, atol=1e-8)


# -- generation --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
def test_the_cache_gives_the_models_own_logits(path: str) -> None:
    model = PATHS[path](**SMALL, rng=1, dtype=np.float64)
    idx, _ = _batch(4)
    cache = KVCache(model)
    first = cache.forward(idx[:, :5])
    np.testing.assert_allclose(first, model.infer(idx[:, :5])[:, -1], rtol=1e-12, atol=1e-12)
    for t in range(5, 8):  # then one token at a time
        expected = model.infer(idx[:, : t + 1])[:, -1]
        np.testing.assert_allclose(cache.forward(idx[:, t : t + 1]), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="exceed the block size"):
        cache.forward(idx[:, :1])
    weights = model.attention_weights(idx)
    assert len(weights) == 2 and weights[0].shape == (3, 2, 8, 8)
    np.testing.assert_allclose(weights[1].sum(axis=-1), 1.0)
    assert not np.triu(weights[0], k=1).any()  # causal


@pytest.mark.parametrize("path", PATHS)
def test_greedy_generation_is_the_same_with_and_without_the_cache(path: str) -> None:
    model = PATHS[path](**SMALL, rng=2)
    prompt = _batch(6, b=2, t=3)[0]
    cached = model.generate(prompt, 20, top_k=1)
    plain = model.generate(prompt, 20, top_k=1, cache=False)
    assert cached.shape == (2, 23) and cached.dtype == np.int64
    np.testing.assert_array_equal(cached, plain)
    np.testing.assert_array_equal(cached[:, :3], prompt)
    # greedy: each token is the argmax of the model's logits for its (cropped) context
    for t in range(3, 23):
        context = cached[:, max(0, t - 8) : t]
        np.testing.assert_array_equal(cached[:, t], model.infer(context)[:, -1].argmax(-1))


def test_the_same_rng_gives_the_same_text_on_both_paths() -> None:
    layers, engine = (
        dl.GPT(**SMALL, rng=0, dtype=np.float64),
        nn.GPT(**SMALL, rng=0, dtype=np.float64),
    )
    prompt = np.array([[1, 2]])
    text = layers.generate(prompt, 30, temperature=0.8, top_k=5, rng=9)
    np.testing.assert_array_equal(
        text, engine.generate(prompt, 30, temperature=0.8, top_k=5, rng=9)
    )
    np.testing.assert_array_equal(
        text, layers.generate(prompt, 30, temperature=0.8, top_k=5, rng=9, cache=False)
    )
    assert not np.array_equal(text, layers.generate(prompt, 30, temperature=0.8, top_k=5, rng=10))
    assert layers.training  # generation leaves the mode as it found it


def test_sampling_follows_the_softmax_and_top_k() -> None:
    from deeplearning.core.sampling import sample

    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]] * 20_000))
    draws = sample(logits, 1.0, None, np.random.default_rng(0)).ravel()
    np.testing.assert_allclose(
        np.bincount(draws, minlength=4) / 20_000, [0.1, 0.2, 0.3, 0.4], atol=0.01
    )
    top2 = sample(logits, 1.0, 2, np.random.default_rng(0)).ravel()
    assert set(top2) == {2, 3}
    np.testing.assert_allclose(np.mean(top2 == 3), 0.4 / 0.7, atol=0.01)
    cold = sample(logits, 1e-3, None, np.random.default_rng(0)).ravel()
    assert np.all(cold == 3)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
def test_bad_indices_are_refused_with_the_fix(path: str) -> None:
    model = PATHS[path](**SMALL, rng=0)
    with pytest.raises(ValueError, match=r"\(B, T\) with 1 <= T <= block_size \(8\)"):
        model.forward(np.zeros((2, 9), dtype=int))
    with pytest.raises(ValueError, match="reshape"):
        model.forward(np.zeros(4, dtype=int))
    with pytest.raises(TypeError, match="integer"):
        model.forward(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"\[0, 11\)"):
        model.forward(np.full((1, 3), 11))
    with pytest.raises(ValueError, match="shape"):
        model.forward(np.zeros((2, 0), dtype=int))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_embd": 15}, ValueError, "multiple of n_head"),
        ({"n_layer": 0}, ValueError, "n_layer"),
        ({"vocab_size": 2.5}, TypeError, "vocab_size"),
        ({"dropout": 1.5}, ValueError, "dropout"),
        ({"bias": 1}, TypeError, "bias"),
    ],
)
def test_bad_configurations_are_refused(kwargs: dict, error: type, match: str) -> None:
    for cls in PATHS.values():
        with pytest.raises(error, match=match):
            cls(**{**SMALL, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_new_tokens": -1}, ValueError, "max_new_tokens"),
        ({"temperature": 0}, ValueError, "temperature"),
        ({"temperature": float("nan")}, ValueError, "temperature"),
        ({"top_k": 0}, ValueError, "top_k"),
        ({"top_k": 2.0}, TypeError, "top_k"),
        ({"cache": "yes"}, TypeError, "cache"),
    ],
)
def test_bad_generation_arguments_are_refused(kwargs: dict, error: type, match: str) -> None:
    model = dl.GPT(**SMALL, rng=0)
    with pytest.raises(error, match=match):
        model.generate(np.array([[1]]), **{"max_new_tokens": 3, **kwargs})
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model.generate(np.array([1, 2]), 3)
    assert model.generate(np.array([[1]]), 0).tolist() == [[1]]


def test_backward_before_forward_and_wrong_gradients_are_refused() -> None:
    model = dl.GPT(**SMALL, rng=0)
    with pytest.raises(RuntimeError, match="before forward"):
        model.backward(np.zeros((1, 2, 11)))
    model.forward(np.zeros((1, 2), dtype=int))
    with pytest.raises(ValueError, match=r"\(1, 2, 11\)"):
        model.backward(np.zeros((1, 2, 10)))
