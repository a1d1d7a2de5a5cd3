"""The PyTorch modules `to_torch` builds where PyTorch has no ready-made one: nanoGPT's GPT
(``model.py``'s classes, names and forward pass) and the two character-level language models.
Everything inside them is PyTorch's own (``nn.Linear``, ``nn.LayerNorm``, ``nn.Embedding``,
``nn.LSTM``, ...), so they train with PyTorch's optimizers and run on its devices.

This module imports PyTorch at its top: `to_torch` imports it only when called, so the rest of
the library never needs PyTorch.

    GPT                                   (as nanoGPT, with lm_head tied to transformer.wte)
    ├── transformer.wte    nn.Embedding(V, C)        transformer.wpe   nn.Embedding(block, C)
    ├── transformer.drop   nn.Dropout
    ├── transformer.h.{i}  Block: ln_1, attn (CausalSelfAttention: c_attn, c_proj,
    │                      attn_dropout, resid_dropout), ln_2, mlp (MLP: c_fc, gelu, c_proj,
    │                      dropout)
    ├── transformer.ln_f   nn.LayerNorm(C)
    └── lm_head            nn.Linear(C, V, bias=False), its weight the same Parameter as wte's
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class CausalSelfAttention(nn.Module):  # type: ignore[misc]
    """nanoGPT's attention: ``softmax(q kᵀ / √hs, causal) v`` over ``n_head`` heads."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head, self.n_embd, self.dropout = n_head, n_embd, dropout

    def forward(self, x: Any) -> Any:
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        att = self.attn_dropout(att.masked_fill(~mask, float("-inf")).softmax(dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):  # type: ignore[misc]
    """nanoGPT's position-wise feed-forward network: C -> 4C -> GELU -> C."""

    def __init__(self, n_embd: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Any) -> Any:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):  # type: ignore[misc]
    """A transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias)

    def forward(self, x: Any) -> Any:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):  # type: ignore[misc]
    """nanoGPT's GPT: token ids (B, T <= block_size) -> logits (B, T, vocab_size).

    ``config`` holds the keywords of this library's `GPT` (``vocab_size``, ``block_size``,
    ``n_layer``, ``n_head``, ``n_embd``, ``dropout``, ``bias``).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = dict(config)
        c, dropout, bias = config["n_embd"], config["dropout"], config["bias"]
        blocks = [Block(c, config["n_head"], dropout, bias) for _ in range(config["n_layer"])]
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(config["vocab_size"], c),
            "wpe": nn.Embedding(config["block_size"], c),
            "drop": nn.Dropout(dropout),
            "h": nn.ModuleList(blocks),
            "ln_f": nn.LayerNorm(c, bias=bias),
        })  # fmt: skip
        self.lm_head = nn.Linear(c, config["vocab_size"], bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # tied: one Parameter

    def forward(self, idx: Any) -> Any:
        positions = torch.arange(idx.shape[1], device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(positions))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))

    @torch.no_grad()  # type: ignore[untyped-decorator]
    def generate(
        self,
        idx: Any,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: Any = None,
    ) -> Any:
        """nanoGPT's ``generate``: ``max_new_tokens`` tokens after ``idx`` (B, T), each drawn
        from the softmax of the last position's logits / ``temperature``, cut to the
        ``top_k`` largest, reading at most the last ``block_size`` tokens."""
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.config["block_size"] :])[:, -1, :] / temperature
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
                logits[logits < kth] = float("-inf")
            token = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            idx = torch.cat((idx, token), dim=1)
        return idx


class RecurrentLanguageModel(nn.Module):  # type: ignore[misc]
    """An embedding, one batch-first ``nn.RNN``/``nn.LSTM``/``nn.GRU`` and a linear head:
    token ids (B, T) -> logits (B, T, vocab_size), the state starting at zero."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = dict(config)
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[config["cell"]]
        self.embed = nn.Embedding(config["vocab_size"], config["n_embd"])
        self.rnn = layer(config["n_embd"], config["hidden"], batch_first=True)
        self.head = nn.Linear(config["hidden"], config["vocab_size"])

    def forward(self, idx: Any) -> Any:
        return self.head(self.rnn(self.embed(idx))[0])


class MLPLanguageModel(nn.Module):  # type: ignore[misc]
    """makemore's MLP: the last ``block_size`` tokens (B, block_size) -> logits (B, V) of the
    next, through their embeddings side by side, a tanh layer and a linear head."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = dict(config)
        self.embed = nn.Embedding(config["vocab_size"], config["n_embd"])
        self.fc = nn.Linear(config["block_size"] * config["n_embd"], config["hidden"])
        self.act = nn.Tanh()
        self.head = nn.Linear(config["hidden"], config["vocab_size"])

    def forward(self, idx: Any) -> Any:
        return self.head(self.act(self.fc(self.embed(idx).flatten(1))))


LANGUAGE_MODULES = {
    "GPT": GPT,
    "RecurrentLanguageModel": RecurrentLanguageModel,
    "MLPLanguageModel": MLPLanguageModel,
}
"""The PyTorch module of each of this library's language models, by its class name."""
