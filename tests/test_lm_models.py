"""The recurrent language models and makemore's MLP on both paths: logits, loss and every
gradient against the same model written in PyTorch (float64), the same weights from one seed,
generation (the recurrent state carried token by token is the model run on the whole text),
the MLP's standard normal start, bad input, and checkpoints rebuilt from their header."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deeplearning as dl
from deeplearning.autograd import nn
from deeplearning.layers import MLPLanguageModel, RecurrentLanguageModel
from deeplearning.training.checkpoint import (
    build_model,
    implied_shapes,
    load_checkpoint,
    save_checkpoint,
)
from deeplearning.training.lm_loop import lm_batch_gradients
from deeplearning.training.lm_recipe import LANGUAGE_MODELS

RECURRENT = {"layers": RecurrentLanguageModel, "autograd": nn.RecurrentLanguageModel}
MLPS = {"layers": MLPLanguageModel, "autograd": nn.MLPLanguageModel}
CELLS = ("rnn", "lstm", "gru")
TORCH_CELLS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def grads(model: dl.Module) -> dict[str, np.ndarray]:
    return {name: param.grad.copy() for name, param in model.named_parameters()}


def torch_recurrent(torch: ModuleType, model: Any) -> Any:
    """nn.Embedding -> nn.RNN/LSTM/GRU(batch_first) -> nn.Linear with ``model``'s weights."""
    state = model.state_dict()
    vocab, n_embd = state["embed.weight"].shape
    hidden = state["rnn.W_hh"].shape[0]
    tnn = torch.nn

    class Reference(tnn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.embed = tnn.Embedding(vocab, n_embd)
            self.rnn = getattr(tnn, TORCH_CELLS[model.cell])(n_embd, hidden, batch_first=True)
            self.head = tnn.Linear(hidden, vocab)

        def forward(self, idx: Any) -> Any:
            return self.head(self.rnn(self.embed(idx))[0])

    reference = Reference().double()
    with torch.no_grad():
        for ours, theirs, transpose in (
            ("embed.weight", "embed.weight", False), ("rnn.W_ih", "rnn.weight_ih_l0", True),
            ("rnn.W_hh", "rnn.weight_hh_l0", True), ("rnn.b_ih", "rnn.bias_ih_l0", False),
            ("rnn.b_hh", "rnn.bias_hh_l0", False), ("head.W", "head.weight", True),
            ("head.b", "head.bias", False),
        ):  # fmt: skip
            value = state[ours].T if transpose else state[ours]
            reference.get_parameter(theirs).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return reference


TORCH_NAMES = {
    "embed.weight": "embed.weight",
    "rnn.W_ih": "rnn.weight_ih_l0",
    "rnn.W_hh": "rnn.weight_hh_l0",
    "rnn.b_ih": "rnn.bias_ih_l0",
    "rnn.b_hh": "rnn.bias_hh_l0",
    "head.W": "head.weight",
    "head.b": "head.bias",
}


@pytest.mark.parametrize("engine", list(RECURRENT))
@pytest.mark.parametrize("cell", CELLS)
@settings(max_examples=6, deadline=None)
@given(b=st.integers(1, 3), t=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_recurrent_models_match_pytorch(
    torch: ModuleType, engine: str, cell: str, b: int, t: int, seed: int
) -> None:
    model = RECURRENT[engine](7, 5, 6, cell, rng=seed, dtype=np.float64)
    generator = np.random.default_rng(seed)
    idx, targets = generator.integers(0, 7, (b, t)), generator.integers(0, 7, (b, t))
    loss = lm_batch_gradients(model, idx, targets)
    reference = torch_recurrent(torch, model)
    logits = reference(torch.from_numpy(idx))
    loss_t = torch.nn.functional.cross_entropy(
        logits.reshape(-1, 7), torch.from_numpy(targets).reshape(-1)
    )
    loss_t.backward()
    np.testing.assert_allclose(model.infer(idx), logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for name, grad in grads(model).items():
        theirs = reference.get_parameter(TORCH_NAMES[name]).grad.numpy()
        theirs = theirs.T if name in ("rnn.W_ih", "rnn.W_hh", "head.W") else theirs
        np.testing.assert_allclose(grad, theirs, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("engine", list(MLPS))
@settings(max_examples=6, deadline=None)
@given(b=st.integers(1, 5), block=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_the_mlp_matches_makemores_model_in_pytorch(
    torch: ModuleType, engine: str, b: int, block: int, seed: int
) -> None:
    model = MLPS[engine](9, block, 4, 8, rng=seed, dtype=np.float64)
    generator = np.random.default_rng(seed)
    x, y = generator.integers(0, 9, (b, block)), generator.integers(0, 9, b)
    loss = lm_batch_gradients(model, x, y)
    weights = {name: torch.tensor(value, requires_grad=True)
               for name, value in model.state_dict().items()}  # fmt: skip
    emb = weights["embed.weight"][torch.from_numpy(x)]  # C[X], as the lecture writes it
    h = torch.tanh(emb.view(b, -1) @ weights["fc.W"] + weights["fc.b"])
    logits = h @ weights["head.W"] + weights["head.b"]
    loss_t = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
    loss_t.backward()
    np.testing.assert_allclose(model.infer(x), logits.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for name, grad in grads(model).items():
        np.testing.assert_allclose(grad, weights[name].grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_one_seed_gives_both_paths_the_same_model_and_gradients(cell: str) -> None:
    layers, engine = (RECURRENT[path](11, 6, 9, cell, rng=3) for path in RECURRENT)
    for name, value in layers.state_dict().items():
        np.testing.assert_array_equal(value, engine.state_dict()[name], err_msg=name)
    idx = np.random.default_rng(0).integers(0, 11, (4, 7))
    assert lm_batch_gradients(layers, idx, idx) == pytest.approx(
        lm_batch_gradients(engine, idx, idx), rel=1e-6
    )
    for name, grad in grads(layers).items():
        np.testing.assert_allclose(grad, grads(engine)[name], rtol=1e-4, atol=1e-6, err_msg=name)


def test_the_names_and_sizes_of_the_parameters() -> None:
    model = RecurrentLanguageModel(27, 10, 32, "lstm", rng=0)
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        "embed.weight": (27, 10), "rnn.W_ih": (10, 128), "rnn.W_hh": (32, 128),
        "rnn.b_ih": (128,), "rnn.b_hh": (128,), "head.W": (32, 27), "head.b": (27,),
    }  # fmt: skip
    mlp = MLPLanguageModel(27, rng=0)  # the lecture's: 3 x 10 -> 200 -> 27
    assert mlp.num_parameters() == 27 * 10 + 30 * 200 + 200 + 200 * 27 + 27 == 11_897
    assert mlp.config == {"vocab_size": 27, "block_size": 3, "n_embd": 10, "hidden": 200,
                          "init": "normal"}  # fmt: skip


def test_the_mlp_starts_standard_normal_as_the_lecture() -> None:
    model = MLPLanguageModel(27, 3, 10, 200, rng=0)
    values = np.concatenate([p.data.ravel() for p in model.parameters()])
    assert abs(values.mean()) < 0.03 and values.std() == pytest.approx(1.0, abs=0.03)
    assert model.fc.b.data.std() > 0.5  # biases too: b1 = torch.randn(200)
    default = MLPLanguageModel(27, 3, 10, 200, "default", rng=0)
    assert not default.fc.b.data.any()
    assert default.fc.W.data.std() == pytest.approx(np.sqrt(2 / 30), rel=0.05)


@pytest.mark.parametrize("engine", list(RECURRENT))
@pytest.mark.parametrize("cell", CELLS)
def test_generation_carries_the_state_as_the_whole_text_would(engine: str, cell: str) -> None:
    model = RECURRENT[engine](9, 4, 8, cell, rng=1)
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    text = model.generate(prompt, 12, top_k=1)  # greedy
    assert text.shape == (2, 15) and text.dtype == np.int64
    np.testing.assert_array_equal(text[:, :3], prompt)
    again = model.infer(text[:, :-1]).argmax(axis=-1)  # the whole text at once, from zero
    np.testing.assert_array_equal(again[:, 2:], text[:, 3:])
    sampled = model.generate(prompt, 20, temperature=0.9, top_k=5, rng=7)
    np.testing.assert_array_equal(sampled, model.generate(prompt, 20, 0.9, 5, rng=7))
    other = RECURRENT["autograd" if engine == "layers" else "layers"](9, 4, 8, cell, rng=1)
    np.testing.assert_array_equal(other.generate(prompt, 20, 0.9, 5, rng=7), sampled)
    assert model.training  # restored


def test_the_mlp_generates_from_its_last_contexts_padded_with_token_0() -> None:
    model = MLPLanguageModel(9, 3, 4, 8, rng=2)
    text = model.generate([[5]], 6, top_k=1)
    assert text.shape == (1, 7)
    contexts = [[0, 0, 5], [0, 5, text[0, 1]]]
    np.testing.assert_array_equal(model.infer(np.array(contexts)).argmax(axis=1), text[0, 1:3])
    np.testing.assert_array_equal(
        nn.MLPLanguageModel(9, 3, 4, 8, rng=2).generate([[5]], 6, 1.3, 4, rng=1),
        model.generate([[5]], 6, 1.3, 4, rng=1),
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RecurrentLanguageModel(0, 4, 4), "vocab_size must be an int >= 1"),
        (lambda: RecurrentLanguageModel(5, 4, 4, "transformer"), "cell must be 'rnn' or"),
        (lambda: RecurrentLanguageModel(5, 4.0, 4), "n_embd must be an int"),
        (lambda: MLPLanguageModel(5, 0), "block_size must be an int >= 1"),
        (lambda: MLPLanguageModel(5, init="xavier"), "init must be 'normal' or 'default'"),
    ],
)
def test_bad_arguments_are_refused(build: Any, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        build()


@pytest.mark.parametrize("engine", list(RECURRENT))
def test_bad_inputs_are_refused(engine: str) -> None:
    model, mlp = RECURRENT[engine](5, 3, 4, rng=0), MLPS[engine](5, 3, 2, 4, rng=0)
    with pytest.raises(TypeError, match="integer token ids"):
        model.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(B, T\), T >= 1"):
        model.forward(np.zeros(3, dtype=int))
    with pytest.raises(IndexError, match=r"indices must lie in \[0, 5\)"):
        model.forward(np.array([[5]]))
    with pytest.raises(ValueError, match="T = block_size = 3"):
        mlp.forward(np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        model.generate([[1]], 3, temperature=0)
    with pytest.raises(ValueError, match="top_k must be an int >= 1"):
        mlp.generate([[1]], 3, top_k=0)
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 0"):
        model.generate([[1]], -1)


def test_the_layer_backward_checks_its_gradient() -> None:
    model = RecurrentLanguageModel(5, 3, 4, rng=0)
    model.forward(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match=r"dlogits of shape \(B, T, 5\)"):
        model.backward(np.zeros((6, 5)))
    assert model.backward(np.zeros((2, 3, 5))).shape == (2, 3)


GPT_CONFIG = {"vocab_size": 11, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 8}
CONFIGS = [
    ("RecurrentLanguageModel", {"vocab_size": 7, "n_embd": 3, "hidden": 5, "cell": cell})
    for cell in CELLS
] + [
    ("MLPLanguageModel", {"vocab_size": 27, "block_size": 4, "n_embd": 3, "hidden": 6}),
    ("GPT", {**GPT_CONFIG, "bias": False}),
    ("GPT", {**GPT_CONFIG, "bias": True, "dropout": 0.1}),
]


@pytest.mark.parametrize("engine", list(LANGUAGE_MODELS))
@pytest.mark.parametrize(("name", "config"), CONFIGS)
def test_checkpoints_rebuild_the_language_models(
    engine: str, name: str, config: dict[str, Any], tmp_path: Any
) -> None:
    model = LANGUAGE_MODELS[engine][name](**config, rng=0)
    shapes = {key: value.shape for key, value in model.state_dict().items()}
    header = {"model": name, "engine": engine, "config": model.config}
    assert implied_shapes(header) == shapes
    assert type(build_model(header, shapes)) is type(model)
    save_checkpoint(tmp_path / "m.npz", model)
    loaded, _ = load_checkpoint(tmp_path / "m.npz")
    idx = np.random.default_rng(0).integers(
        0, config["vocab_size"], (2, config.get("block_size", 4))
    )
    model.eval(), loaded.eval()  # (no dropout)
    np.testing.assert_array_equal(loaded.infer(idx), model.infer(idx))


def test_a_header_with_a_bad_language_model_config_is_refused() -> None:
    from deeplearning.training.archive import CheckpointError

    config = {"vocab_size": 7, "n_embd": 3, "hidden": 5, "cell": "lstm"}
    header = {"model": "RecurrentLanguageModel", "engine": "layers", "config": config}
    with pytest.raises(CheckpointError, match="cell must be 'rnn' or 'lstm' or 'gru'"):
        implied_shapes({**header, "config": {**config, "cell": "tcn"}})
    with pytest.raises(CheckpointError, match="vocab_size must be a positive int"):
        implied_shapes({**header, "config": {**config, "vocab_size": 0}})
    wrong = implied_shapes(header) | {"rnn.W_hh": (5, 5)}
    with pytest.raises(CheckpointError, match=r"'model\.rnn\.W_hh' should have shape"):
        build_model(header, wrong)
