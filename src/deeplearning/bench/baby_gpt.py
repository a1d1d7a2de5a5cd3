"""The ``gpt`` benchmark (``python -m deeplearning bench --gpt``): the baby GPT here, on both
paths, and in PyTorch.

The model is nanoGPT's CPU "baby GPT" (`BABY_GPT`: vocabulary 65, block 64, 4 layers of 4
heads, n_embd 128, no biases, no dropout), trained by nanoGPT's recipe (`RECIPE`): one
iteration is::

    x, y = random windows of the text                 (12, 64) tokens each, y = x shifted by 1
    loss = cross_entropy(model(x), y)                 forward
    backward                                          every parameter's gradient
    clip_grad_norm(parameters, 1.0)
    AdamW step                                        lr 1e-3, betas (0.9, 0.99), weight decay
                                                      0.1 on the 2-D weights, 0 on the rest

on the layer path (`deeplearning.GPT`, its backward pass by hand), on the engine
(`deeplearning.autograd.nn.GPT`, ``loss.backward()``) and in PyTorch (nanoGPT's model
transcribed below, with its ``scaled_dot_product_attention``, exact GELU, the head tied to
``wte`` and no dropout), all three from the same initial weights. The text is synthetic
(`synthetic_text`), held in memory, so only training is timed. Runs of a few iterations
alternate between the three, under two thread settings: one thread each, and each library's
default (BLAS on `DEFAULT_BLAS_THREADS` here, as ``fit`` does; PyTorch on all cores).

Then, at one thread: where a layer-path iteration's time goes (traced, `PARTS`), the peak
memory one iteration allocates on each path (tracemalloc), and generation speed: greedy tokens
per second from a one-token prompt on the layer-path model with and without its key/value
cache, and in PyTorch with nanoGPT's ``generate`` (no cache). A run that fits the block uses
the cache throughout; a longer one crops the context to the block, and from there every token
reads the whole block again, with or without the cache.
"""

from __future__ import annotations

import importlib
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ..autograd import functional as F
from ..autograd import nn
from ..core.gpt_base import GPTBase
from ..core.module import Parameter
from ..core.types import Array
from ..core.validation import check_int
from ..layers import GELU, GPT, CausalSelfAttention, CrossEntropyLoss, Embedding, LayerNorm, Linear
from ..optim import Adam, AdamW, clip_grad_norm
from ..training.loop import DEFAULT_BLAS_THREADS, blas_threads
from .timing import Epoch, Part, listed, profile_split, torch_threads, torch_version

BABY_GPT: dict[str, Any] = {"vocab_size": 65, "block_size": 64, "n_layer": 4, "n_head": 4,
                            "n_embd": 128, "dropout": 0.0, "bias": False}  # fmt: skip
"""nanoGPT's CPU baby GPT (its README's Shakespeare run on a laptop)."""
BATCH_SIZE = 12
RECIPE: dict[str, Any] = {"lr": 1e-3, "betas": (0.9, 0.99), "weight_decay": 0.1, "grad_clip": 1.0}
"""nanoGPT's optimizer settings for the baby GPT: AdamW, the decay on the 2-D weights only."""
WARMUP_ITERATIONS = 2
SETTINGS = {"one thread each": (1, 1), "each library's default": (DEFAULT_BLAS_THREADS, None)}
"""(this library's BLAS threads, PyTorch's threads: None for its default) for each setting."""
TARGETS = {"layers/PyTorch": 1.5, "engine/layers": 1.2}
"""The issue's targets at one thread: an iteration within 1.5x PyTorch's (goal 1.0x), and
the two paths within 1.2x of each other."""

PARTS: dict[str, Part] = {
    "matrix products": ([Linear.forward, Linear.backward_params, Linear.backward,
                         GPT.forward, GPT.backward_params], False),  # own time: the products
    "attention": ([CausalSelfAttention.forward, CausalSelfAttention._backward_to_qkv,
                   CausalSelfAttention.backward, CausalSelfAttention.backward_params], True),
    "LayerNorm": ([LayerNorm.forward, LayerNorm.backward], True),
    "GELU": ([GELU.forward, GELU.backward], True),
    "embedding": ([Embedding.forward, Embedding.backward_params, Embedding.backward], True),
    "loss": ([CrossEntropyLoss.forward, CrossEntropyLoss.backward], True),
    "optimizer": ([Adam.step, clip_grad_norm], True),
}  # fmt: skip
"""Where a layer-path iteration's time goes (`timing.profile_split`). Linear's and the head's
own time is their products; attention's is its masking, softmax and reshaping, and its six
batched products (q kᵀ, p v and four in the backward pass), which the profile cannot tell from
the rest: `run_gpt_benchmark` times those apart and moves them to the matrix products."""

Step = Callable[[], float]
"""One training iteration; returns its loss."""


@dataclass
class GptResult:
    """What `run_gpt_benchmark` measured; `report` prints it.

    ``seconds[setting][path]``: seconds per iteration, one per run; ``split``: seconds per
    layer-path iteration in each of `PARTS` and the rest (traced, one thread), of which
    ``attention_products`` (timed apart) moved from attention to the matrix products;
    ``profiled``: the wall-clock seconds per iteration of the traced run; ``peak_bytes[path]``;
    ``generation[new_tokens][kind]``: tokens per second, one per repeat; ``same_tokens``:
    whether every cached generation gave the uncached one's tokens."""

    config: dict[str, Any]
    batch_size: int
    iterations: int
    torch_version: str | None
    torch_threads: int = 0
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    split: dict[str, float] = field(default_factory=dict)
    attention_products: float = 0.0
    profiled: float = 0.0
    peak_bytes: dict[str, int] = field(default_factory=dict)
    generation: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    same_tokens: bool = True

    def median(self, setting: str, path: str) -> float:
        """The median seconds per iteration of ``path`` under ``setting``."""
        return statistics.median(self.seconds[setting][path])

    def ratio(self, setting: str, path: str, other: str) -> float:
        """``path``'s median time over ``other``'s, under ``setting``."""
        return self.median(setting, path) / self.median(setting, other)

    def report(self) -> str:
        c = self.config
        threads = f"BLAS threads here: 1 and {DEFAULT_BLAS_THREADS}"
        if self.torch_version:
            threads += f"; PyTorch {self.torch_version}: 1 and {self.torch_threads}"
        name = "nanoGPT's baby GPT" if c == BABY_GPT else "a GPT"
        lines = [
            f"gpt: {name} (vocab {c['vocab_size']}, block {c['block_size']}, "
            f"n_layer {c['n_layer']}, n_head {c['n_head']}, n_embd {c['n_embd']}, bias "
            f"{c['bias']}, dropout {c['dropout']}), batch {self.batch_size}, AdamW (lr "
            f"{RECIPE['lr']:g}, betas {RECIPE['betas']}, weight decay {RECIPE['weight_decay']} "
            f"on the 2-D weights), clipping at {RECIPE['grad_clip']}; runs of {self.iterations} "
            f"iterations ({threads}); median time per iteration:"
        ]
        runs = []
        for setting, paths in self.seconds.items():
            line = f"  {setting:<24}" + "".join(
                f" {path} {1e3 * self.median(setting, path):.1f} ms " for path in paths
            )
            line += f"   engine/layers {self.ratio(setting, 'engine', 'layers'):.2f}x"
            for path in ("layers", "engine") if "PyTorch" in paths else ():
                line += f"   {path}/PyTorch {self.ratio(setting, path, 'PyTorch'):.2f}x"
            lines.append(line)
            listing = "; ".join(f"{p} {listed([1e3 * s for s in ms])}" for p, ms in paths.items())
            runs.append(f"    {setting} runs (ms): {listing}")
        lines += [*runs, *self._targets()]
        if not self.torch_version:
            lines.append('PyTorch is not installed: python -m pip install "deeplearning[torch]"')
        layers = self.median("one thread each", "layers")
        tokens = self.batch_size * c["block_size"]
        lines.append(
            f"  layers at one thread: {tokens / layers:,.0f} tokens/s; 2,000 iterations (nanoGPT's "
            f"baby run) would take {2000 * layers / 60:.1f} min"
        )
        total = sum(self.split.values())
        parts = (f"{part} {1e3 * s:.1f} ms ({s / total:.0%})" for part, s in self.split.items())
        lines.append(
            f"  where a layer-path iteration's {1e3 * total:.1f} ms go (traced, one thread; "
            f"{1e3 * self.profiled:.1f} ms with the tracing): {', '.join(parts)}"
        )
        lines.append(
            f"    (attention's batched products, timed apart at one thread: "
            f"{1e3 * self.attention_products:.1f} ms, counted in the matrix products)"
        )
        peaks = ", ".join(f"{path} {b / 2**20:.1f} MiB" for path, b in self.peak_bytes.items())
        lines.append(f"  peak memory one iteration allocates (tracemalloc, one thread): {peaks}")
        lines += self._generation()
        return "\n".join(lines)

    def _targets(self) -> list[str]:
        """The ratios the issue sets targets for, at one thread, each with its verdict."""
        lines = []
        for name, target in TARGETS.items():
            path, other = name.split("/")
            if other not in self.seconds["one thread each"]:
                continue
            ratio = self.ratio("one thread each", path, other)
            spread = max(ratio, 1 / ratio) if name == "engine/layers" else ratio
            verdict = "met" if spread <= target else "missed"
            goal = ", goal 1.0x" if other == "PyTorch" else " either way"
            lines.append(f"  target at one thread: {name} <= {target}x{goal}: {ratio:.2f}x "
                         f"({verdict})")  # fmt: skip
        return lines

    def _generation(self) -> list[str]:
        block = self.config["block_size"]
        lines = ["  generation, greedy, batch 1, from a 1-token prompt, one thread each; "
                 "median tokens per second:"]  # fmt: skip
        for new, kinds in self.generation.items():
            fits = "fits the block" if new <= block else f"cropped to the last {block} tokens"
            speeds = "   ".join(f"{kind} {statistics.median(s):,.0f}" for kind, s in kinds.items())
            gain = statistics.median(kinds["cache"]) / statistics.median(kinds["no cache"])
            lines.append(f"    {new} new tokens ({fits}): {speeds}   cache/no cache {gain:.2f}x")
        same = "yes" if self.same_tokens else "NO (a bug: please report it)"
        lines.append(f"    the cache gives the same tokens as without it: {same}")
        return lines


def run_gpt_benchmark(
    repeats: int = 3,
    iterations: int = 10,
    seed: int = 0,
    *,
    config: dict[str, Any] | None = None,
    batch_size: int = BATCH_SIZE,
    new_tokens: tuple[int, ...] = (60, 200),
) -> GptResult:
    """Time ``repeats`` runs of ``iterations`` training iterations on each path and in
    PyTorch, alternating, under each thread setting; then, at one thread, trace a run on
    the layer path, trace one iteration's memory on each path, and time ``repeats``
    generations of each of ``new_tokens`` tokens (the module docstring gives the workload;
    ``config``: the GPT's arguments, `BABY_GPT` by default)."""
    where = "run_gpt_benchmark"
    for name, value in {"repeats": repeats, "iterations": iterations,
                        "batch_size": batch_size}.items():  # fmt: skip
        check_int(value, name, where)
    for count in new_tokens:
        check_int(count, "each of new_tokens", where, example="new_tokens=(60, 200)")
    config = dict(BABY_GPT if config is None else config)
    if config.get("dropout", 0.0) != 0:
        raise ValueError(f"{where}: the benchmark's GPT has no dropout (its PyTorch twin has "
                         f"none), got dropout={config['dropout']}; pass dropout=0.0")  # fmt: skip
    text = synthetic_text(100 * config["block_size"] * batch_size, config["vocab_size"], seed)
    layers = GPT(**config, rng=seed)
    engine = nn.GPT(**config, rng=seed)
    twin = _torch_twin(layers, seed)
    steps: dict[str, Step] = {
        "layers": _step(layers, _layer_loss(layers), text, batch_size, seed),
        "engine": _step(engine, _engine_loss(engine), text, batch_size, seed),
    }
    result = GptResult(dict(layers.config), batch_size, iterations, torch_version())
    if twin is not None:
        steps["PyTorch"] = twin[0](text, batch_size, seed)
        result.torch_threads = importlib.import_module("torch").get_num_threads()
    for step in steps.values():
        _run(step, WARMUP_ITERATIONS)
    for _ in range(repeats):
        for setting, (our_threads, their_threads) in SETTINGS.items():
            for path, step in steps.items():
                ours = path != "PyTorch"
                with blas_threads(our_threads if ours else None), \
                        torch_threads(None if ours else their_threads):  # fmt: skip
                    seconds = _run(step, iterations) / iterations
                result.seconds.setdefault(setting, {}).setdefault(path, []).append(seconds)
    with blas_threads(1), torch_threads(1):
        start = time.perf_counter()
        split = profile_split(_epoch(steps["layers"], iterations), PARTS)
        result.profiled = (time.perf_counter() - start) / iterations
        result.split = {part: seconds / iterations for part, seconds in split.items()}
        products = _attention_products(config, batch_size, seed)
        moved = min(products, result.split["attention"])
        result.split["attention"] -= moved
        result.split["matrix products"] += moved
        result.attention_products = products
        result.peak_bytes = {path: _peak_bytes(steps[path]) for path in ("layers", "engine")}
        _time_generation(result, layers, twin[1] if twin else None, new_tokens, repeats)
    return result


def synthetic_text(length: int, vocab_size: int, seed: int) -> Array:
    """``length`` tokens (int64) of a seeded random Markov chain over ``vocab_size`` tokens:
    each token's successor is drawn from its own distribution, Dirichlet(0.1) over the
    vocabulary, so that a few successors are likely and the text is learnable, as text is."""
    check_int(length, "length", "synthetic_text")
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(rng.dirichlet(np.full(vocab_size, 0.1), size=vocab_size), axis=1)
    draws = rng.random(length)
    text = np.empty(length, dtype=np.int64)
    token = 0
    for i in range(length):
        token = min(int(np.searchsorted(cumulative[token], draws[i])), vocab_size - 1)
        text[i] = token
    return text


def random_windows(
    text: Array, batch_size: int, block_size: int, rng: np.random.Generator
) -> tuple[Array, Array]:
    """nanoGPT's ``get_batch``: ``batch_size`` windows of ``block_size`` tokens at random
    starts, (B, T) each, and the targets, the same windows one token on."""
    starts = rng.integers(0, len(text) - block_size, batch_size)
    index = starts[:, None] + np.arange(block_size)
    return text[index], text[index + 1]


def _run(step: Step, iterations: int) -> float:
    """The wall-clock seconds of ``iterations`` calls of ``step``."""
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    return time.perf_counter() - start


def _epoch(step: Step, iterations: int) -> Epoch:
    """``iterations`` calls of ``step`` as an `Epoch` (one for a warm-up)."""

    def epoch(warmup: bool) -> None:
        _run(step, 1 if warmup else iterations)

    return epoch


def _param_groups(params: list[Parameter]) -> list[dict[str, Any]]:
    """nanoGPT's two groups: weight decay on the parameters of 2 or more dimensions."""
    groups = [{"params": [p for p in params if p.data.ndim >= 2],
               "weight_decay": RECIPE["weight_decay"]},
              {"params": [p for p in params if p.data.ndim < 2], "weight_decay": 0.0}]  # fmt: skip
    return [group for group in groups if group["params"]]


def _layer_loss(model: GPT) -> Callable[[Array, Array], float]:
    loss_fn = CrossEntropyLoss()

    def loss(x: Array, y: Array) -> float:
        logits = model.forward(x)
        value = loss_fn.forward(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        model.backward_params(loss_fn.backward().reshape(logits.shape))
        return float(value)

    return loss


def _engine_loss(model: nn.GPT) -> Callable[[Array, Array], float]:
    def loss(x: Array, y: Array) -> float:
        logits = model(x)
        value = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        value.backward()
        return value.item()

    return loss


def _step(
    model: GPTBase, loss: Callable[[Array, Array], float], text: Array, batch_size: int, seed: int
) -> Step:
    """One iteration of the recipe on ``model`` (either path), its gradients from ``loss``."""
    params = list(model.parameters())
    optimizer = AdamW(_param_groups(params), lr=RECIPE["lr"], betas=RECIPE["betas"])
    block, rng = model.config["block_size"], np.random.default_rng(seed)

    def step() -> float:
        value = loss(*random_windows(text, batch_size, block, rng))
        clip_grad_norm(params, RECIPE["grad_clip"])
        optimizer.step()
        return value

    return step


def _attention_products(config: dict[str, Any], batch_size: int, seed: int) -> float:
    """The seconds per iteration of attention's six batched products, in every block, on
    arrays laid out as `CausalSelfAttention` lays them out (q, k, v views of one (B T, 3C)
    array; the weights and their gradient contiguous (B, NH, T, T)): the median of 20 runs."""
    b, t, c, nh = batch_size, config["block_size"], config["n_embd"], config["n_head"]
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((b * t, 3 * c), dtype=np.float32)
               .reshape(b, t, 3, nh, c // nh).transpose(2, 0, 3, 1, 4))  # fmt: skip
    att, datt = rng.random((2, b, nh, t, t), dtype=np.float32)
    dy = rng.standard_normal((b * t, c), dtype=np.float32).reshape(b, t, nh, -1)
    dy = dy.transpose(0, 2, 1, 3)  # as c_proj's backward gives it, its heads split
    runs = []
    for _ in range(20):
        start = time.perf_counter()
        _ = q @ k.swapaxes(-1, -2), att @ v  # forward; then backward
        _ = dy @ v.swapaxes(-1, -2), att.swapaxes(-1, -2) @ dy, datt @ k, datt.swapaxes(-1, -2) @ q
        runs.append(time.perf_counter() - start)
    return float(config["n_layer"] * statistics.median(runs))


def _peak_bytes(step: Step) -> int:
    """The most memory one iteration held at once, beyond what existed before it."""
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _time_generation(
    result: GptResult, model: GPTBase, theirs: Callable[[int], Any] | None,
    new_tokens: tuple[int, ...], repeats: int,
) -> None:  # fmt: skip
    """Greedy tokens per second from a one-token prompt: the model with and without its
    cache, and PyTorch (``theirs(n)`` generates n tokens); whether the cache changes a token."""
    prompt = np.zeros((1, 1), dtype=np.int64)
    for new in new_tokens:
        kinds = result.generation.setdefault(new, {})
        runs = {kind: partial(model.generate, prompt, new, top_k=1, rng=0, cache=cache)
                for kind, cache in (("cache", True), ("no cache", False))}  # fmt: skip
        if theirs is not None:
            runs["PyTorch (no cache)"] = partial(theirs, new)
        for _ in range(repeats):
            tokens = {}
            for kind, run in runs.items():
                start = time.perf_counter()
                tokens[kind] = run()
                kinds.setdefault(kind, []).append(new / (time.perf_counter() - start))
            result.same_tokens &= bool(np.array_equal(tokens["cache"], tokens["no cache"]))


def _torch_twin(model: GPT, seed: int) -> tuple[Callable[..., Step], Callable[[int], Any]] | None:
    """nanoGPT's model in PyTorch with ``model``'s weights: a builder of its training step
    (``build(text, batch_size, seed)``) and its greedy ``generate(n)`` from token 0; None
    without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(seed)
    tnn, config = torch.nn, model.config
    c, nh, bias = config["n_embd"], config["n_head"], config["bias"]

    class SelfAttention(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = tnn.Linear(c, 3 * c, bias=bias)
            self.c_proj = tnn.Linear(c, c, bias=bias)

        def forward(self, x: Any) -> Any:
            b, t, _ = x.shape
            q, k, v = (z.view(b, t, nh, c // nh).transpose(1, 2)
                       for z in self.c_attn(x).split(c, dim=2))  # fmt: skip
            y = tnn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))

    class Block(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.ln_1, self.ln_2 = tnn.LayerNorm(c, bias=bias), tnn.LayerNorm(c, bias=bias)
            self.attn = SelfAttention()
            self.mlp = tnn.ModuleDict({"c_fc": tnn.Linear(c, 4 * c, bias=bias),
                                       "c_proj": tnn.Linear(4 * c, c, bias=bias)})  # fmt: skip

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp["c_proj"](tnn.functional.gelu(self.mlp["c_fc"](self.ln_2(x))))

    class NanoGPT(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.transformer = tnn.ModuleDict({
                "wte": tnn.Embedding(config["vocab_size"], c),
                "wpe": tnn.Embedding(config["block_size"], c),
                "h": tnn.ModuleList([Block() for _ in range(config["n_layer"])]),
                "ln_f": tnn.LayerNorm(c, bias=bias),
            })  # fmt: skip
            self.lm_head = tnn.Linear(c, config["vocab_size"], bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # tied, as nanoGPT ties them

        def forward(self, idx: Any, last: bool = False) -> Any:
            body = self.transformer
            x = body.wte(idx) + body.wpe(torch.arange(idx.shape[1]))
            for block in body.h:
                x = block(x)
            x = body.ln_f(x)
            return self.lm_head(x[:, -1:] if last else x)  # generation: the last position's

    twin = NanoGPT()
    own = dict(twin.named_parameters())
    with torch.no_grad():
        for name, param in model.named_parameters():
            key = name[:-2] + ".weight" if name.endswith(".W") else name
            key = key[:-2] + ".bias" if key.endswith(".b") else key
            value = param.data.T if name.endswith(".W") else param.data
            own[key].copy_(torch.from_numpy(np.ascontiguousarray(value)))

    def build(text: Array, batch_size: int, seed: int) -> Step:
        params = list(twin.parameters())
        groups = [{"params": [p for p in params if p.dim() >= 2],
                   "weight_decay": RECIPE["weight_decay"]},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]  # fmt: skip
        optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=RECIPE["lr"],
                                      betas=RECIPE["betas"])  # fmt: skip
        rng, block = np.random.default_rng(seed), config["block_size"]

        def step() -> float:
            x, y = (torch.from_numpy(a) for a in random_windows(text, batch_size, block, rng))
            logits = twin(x)
            loss = tnn.functional.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            tnn.utils.clip_grad_norm_(params, RECIPE["grad_clip"])
            optimizer.step()
            return float(loss.item())

        return step

    def generate(new: int) -> Any:
        """nanoGPT's ``generate``, greedy: crop to the block, the last position's logits, the
        most likely token."""
        idx = torch.zeros((1, 1), dtype=torch.long)
        with torch.no_grad():
            for _ in range(new):
                logits = twin(idx[:, -config["block_size"] :], last=True)[:, -1]
                idx = torch.cat((idx, logits.argmax(dim=-1, keepdim=True)), dim=1)
        return idx

    return build, generate
