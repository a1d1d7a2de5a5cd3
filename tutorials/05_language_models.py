# %% [markdown]
# # Chapter 5: Language models
#
# **What you will learn**
#
# - the simplest language model, a table of bigram counts: its loss and the names it makes up
#   (Andrej Karpathy's makemore, part 1 of "Neural Networks: Zero to Hero");
# - makemore's MLP (part 2, after Bengio et al. 2003), trained with the library's loop to the
#   lecture's loss;
# - a recurrent network (RNN, GRU, LSTM) reading the names as one stream, and how the losses
#   compare on the same characters;
# - nanoGPT's baby GPT on tiny Shakespeare: its loss curves, where its attention heads look,
#   and the text it writes.
#
# Every model here trains with the library's own pieces: a `TextRecipe` holds a run's
# choices (the command line's `train --model ...` fills the same record) and builds its data,
# model, optimizer and schedule; `train_language_model` runs nanoGPT's loop; `evaluate_split`
# reads a whole split once.
#
# The chapter reads the names and tiny Shakespeare (found in `DEEPLEARNING_DATA`, or
# downloaded). At full size it trains for 10 to 15 minutes on one core, most of it the
# GPT; with `DEEPLEARNING_FAST=1` every run is cut to a few iterations (the
# numbers are then far from the anchors, and the text is noise).

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from deeplearning.data.language import bigram_counts, bigram_nll
from deeplearning.data.text import load_names
from deeplearning.training.lm_data import TokenStreams, names_stream
from deeplearning.training.lm_loop import evaluate_split, train_language_model
from deeplearning.training.lm_recipe import TextRecipe
from deeplearning.training.loop import keep_freed_memory

FAST = os.environ.get("DEEPLEARNING_FAST") == "1"
keep_freed_memory()  # as the command line does: the GPT's temporaries reuse their memory
try:  # one BLAS thread, as the trainer uses: small products gain little from a second one
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
except ImportError:  # (the `train` extra): the runs then use what BLAS chooses
    pass
print("fast mode" if FAST else "full size")

# %% [markdown]
# ## 1. Bigrams: a language model made of counts
#
# makemore's data set is 32,033 names, one a line. A character-level model reads each name
# framed by a start/end token `.` (`.emma.`) and predicts each character from the ones before
# it. `load_names` shuffles the names as makemore does (`random.seed(42)`) and splits them
# 80/10/10 into training, dev (validation) and test names; the tokenizer has 27 tokens, `.`
# then `a` to `z`.
#
# The bigram model reads one character back. Count how often each character follows each
# other: a 27 × 27 table $N$, row the first character, column the next.

# %%
names = load_names()
tokenizer = names.tokenizer
words = names.train + names.val + names.test
print(f"{len(words):,} names: {len(names.train):,} training, {len(names.val):,} dev, "
      f"{len(names.test):,} test; {tokenizer.vocab_size} tokens {''.join(tokenizer.chars)}")
print("the first five training names:", names.train[:5])

N = bigram_counts(words, tokenizer)
chars = tokenizer.chars
figure, axis = plt.subplots(figsize=(7, 7))
axis.imshow(np.log1p(N), cmap="Blues")
axis.set_xticks(range(27), chars, fontfamily="monospace")
axis.set_yticks(range(27), chars, fontfamily="monospace")
axis.set(xlabel="next character", ylabel="character",
         title="bigram counts over all the names (log scale)")
plt.show()
first, after = np.unravel_index(np.argsort(N, axis=None)[::-1][:5], N.shape)
print("the most common bigrams:",
      ", ".join(f"{chars[a]}{chars[b]} {N[a, b]:,}" for a, b in zip(first, after)))

# %% [markdown]
# Each row, normalised, is a probability distribution over the next character:
# $P[a, b] = (N[a, b] + 1) / \sum_c (N[a, c] + 1)$. The "+1" (smoothing) keeps every
# probability above zero, so that no name is impossible. The model's loss is the mean negative
# log-likelihood of every bigram of the names, $-\frac1n \sum \log P[a, b]$: the quantity all
# the models of this chapter minimise, in nats per character. Chance (27 equally likely tokens)
# is $\ln 27 = 3.2958$.
#
# The lecture counts and measures on all the names, and gets 2.454. `bigram_nll` does the
# same; the same number by hand, from the table:

# %%
P = (N + 1) / (N + 1).sum(axis=1, keepdims=True)
stream = names_stream(words, tokenizer)  # . e m m a . o l i v i a . ...
by_hand = -np.mean(np.log(P[stream[:-1], stream[1:]]))
print(f"bigram_nll over all the names: {bigram_nll(words, tokenizer):.4f} "
      f"(by hand {by_hand:.4f}; the lecture: 2.454; chance: {np.log(27):.4f})")

# %% [markdown]
# The models below learn from the training names and are measured on the dev names, which
# they never saw. For the same footing, count on the training names only and measure the dev
# names' 22,655 characters (each name's letters and its end):

# %%
N_train = bigram_counts(names.train, tokenizer)
P_train = (N_train + 1) / (N_train + 1).sum(axis=1, keepdims=True)
dev = names_stream(names.val, tokenizer)
bigram_dev = -np.mean(np.log(P_train[dev[:-1], dev[1:]]))
print(f"bigram, counted on the training names, on the dev split: {bigram_dev:.4f} "
      f"({len(dev) - 1:,} characters)")

# %% [markdown]
# Sampling is the model run forwards: start at `.`, draw the next character from its row of
# $P$, and go on from the character drawn until `.` comes out again.

# %%
rng = np.random.default_rng(0)
made_up = []
for _ in range(10):
    index, name = 0, ""
    while True:
        index = rng.choice(27, p=P[index])
        if index == 0:
            break
        name += chars[index]
    made_up.append(name)
print(" ".join(made_up))

# %% [markdown]
# One character of context is not much: the names are pronounceable at best. The models
# below read more context, and have to *learn* their table instead of counting it.
#
# ## 2. makemore's MLP
#
# The lecture's model reads the three characters before the next one. Each is looked up in an
# embedding table (27 × 10), the three vectors are put side by side (30 numbers), then a
# hidden layer of 200 tanh units and a linear head give 27 logits:
#
# $$\text{logits} = \tanh\big([C_{x_1}, C_{x_2}, C_{x_3}]\, W_1 + b_1\big)\, W_2 + b_2 .$$
#
# `MLPLanguageModel` is this model, every weight drawn standard normal as in the lecture.
# Its recipe is makemore's: batches of 32 random examples, 200,000 steps of plain SGD at a
# learning rate of 0.1, then 0.01 for the second half. A `TextRecipe(model="mlp")` holds all
# of it; a small function runs any recipe with the library's loop, which evaluates
# (nanoGPT's estimate: 20 random batches of each split) every `eval_interval` iterations.

# %%
def train(recipe, data=None, say=print):
    """Build ``recipe``'s model and optimizer, train it with the library's loop, printing
    each evaluation; returns the model, the data, the evaluations and the seconds taken."""
    data = data if data is not None else recipe.load_data()
    rng = np.random.default_rng(recipe.seed)  # the weights', then the batches' generator
    model = recipe.build_model(data.tokenizer.vocab_size, rng)
    optimizer = recipe.build_optimizer(model)
    say(f"{type(model).__name__}({model.extra_repr()}): {model.num_parameters():,} parameters")
    history, start = [], time.perf_counter()
    for record in train_language_model(
        model, data, optimizer, iters=recipe.iters, batch_size=recipe.batch_size, rng=rng,
        schedule=recipe.build_schedule(), grad_clip=recipe.grad_clip or None,
        eval_interval=recipe.eval_interval, eval_iters=recipe.eval_iters, eval_seed=recipe.seed,
    ):
        history.append(record)
        say(record)
    return model, data, history, time.perf_counter() - start


mlp_recipe = TextRecipe(model="mlp", dataset="names", iters=2_000 if FAST else 200_000,
                        eval_interval=500 if FAST else 20_000)
mlp, mlp_data, mlp_history, mlp_seconds = train(mlp_recipe)
mlp_dev = evaluate_split(mlp, mlp_data, "val")
print(f"{mlp_recipe.iters:,} steps in {mlp_seconds:.0f} s; the whole dev split: {mlp_dev:.4f} "
      "(the lecture: 2.1701; the README's run: 2.1557)")

# %% [markdown]
# The estimates jump around (20 batches of 32 examples are a small sample); the line after
# the run reads every dev character once, and gives the README's command-line figure to the
# fourth decimal: the same recipe and seed draw the same weights and batches. The loss at
# iteration 0 is near 30, far above chance (3.30): weights drawn standard normal make huge
# logits, confidently wrong, which part 3 of the lectures fixes by scaling them down. The
# drop of the learning rate at the middle of the run shows as a step down in both curves.
#
# The embedding has 10 dimensions; its two principal directions show what the model made of
# the characters. The vowels end up together, far from most consonants: nobody told the model
# which letters are vowels.

# %%
table = mlp.embed.weight.data
centred = table - table.mean(axis=0)
_, _, directions = np.linalg.svd(centred, full_matrices=False)
flat = centred @ directions[:2].T
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
later = mlp_history[1:]  # iteration 0 (a loss near 30: the normal init's huge logits) is left out
steps = [record.iter / 1000 for record in later]
left.plot(steps, [record.train_loss for record in later], "o-", label="train")
left.plot(steps, [record.val_loss for record in later], "s-", label="dev")
left.axhline(bigram_dev, color="grey", linestyle="--", label="bigram (dev)")
left.set(xlabel="iteration (thousands)", ylabel="cross-entropy (estimated)",
         title="makemore's MLP")
left.legend()
right.scatter(*flat.T, s=200, c=["C1" if c in "aeiouy" else "C0" for c in chars])
for (x, y), char in zip(flat, chars):
    right.text(x, y, char, ha="center", va="center", color="white", fontweight="bold")
right.set(title="the embedding, on its two principal directions")
plt.show()

# %% [markdown]
# Sampling works as for the bigrams, with the model's softmax in place of the table's row:
# `generate` starts from a context of dots and draws one character at a time.

# %%
def names_of(tokens):
    """The names in rows of token ids that start with '.': each row up to its next '.'."""
    return [tokenizer.decode(row[1:]).split(".")[0] for row in tokens]


print(" ".join(names_of(mlp.generate(np.zeros((12, 1), np.int64), 20, rng=0))))

# %% [markdown]
# ## 3. Recurrent networks: RNN, GRU, LSTM
#
# A recurrent network carries a state from character to character, so its context is not
# cut at three: in principle it reads the whole name. `RecurrentLanguageModel` is an embedding
# (64 dimensions), one recurrent layer (256 units) and a linear head that predicts the next
# character at every position. It reads the names as one stream, `.emma.olivia.ava.`, in
# windows of 64 characters, so it predicts exactly the characters the MLP predicts, and the
# dev losses compare.
#
# The three cells differ in how the state is updated: the Elman RNN by
# $h_t = \tanh(x_t W_{ih} + h_{t-1} W_{hh} + b)$; the GRU and the LSTM through gates that
# decide what to keep and what to overwrite, which lets gradients travel further back (the
# derivations are in `docs/phase3.md`). The recipe is nanoGPT's (AdamW, a warm-up, a cosine
# decay, clipping at norm 1), with a rate of 2e-3 and 32 windows a batch. The README trains
# each for 2,000 steps (the RNN in about a minute, the LSTM in four); here each gets
# **1,000** steps, half the README's run (its own warm-up and cosine over those 1,000); the
# recurrent models' steps take longer than the MLP's, since each reads 32 windows of 64
# characters (2,048 targets, against the MLP's 32).

# %%
recurrent_iters = 10 if FAST else 1_000
recurrent = {}
for cell in ("rnn", "gru", "lstm"):
    recipe = TextRecipe(model=cell, dataset="names", iters=recurrent_iters,
                        eval_interval=10 if FAST else 250, eval_iters=2 if FAST else 20)
    model, data, history, seconds = train(recipe, say=lambda *_: None)
    dev_loss = evaluate_split(model, data, "val")
    recurrent[cell] = (model, history, seconds, dev_loss)
    print(f"{cell:>4}: {model.num_parameters():,} parameters, {recurrent_iters:,} steps in "
          f"{seconds:.0f} s, whole dev split {dev_loss:.4f}")

# %% [markdown]
# All the models, on the same 22,655 dev characters (the README's figures are its runs: the
# MLP's 200,000 steps, and 2,000 steps of each recurrent model):

# %%
readme = {"rnn": 2.0220, "gru": 2.0014, "lstm": 2.0073}
print(f"{'model':<26}{'dev loss':>10}{'README':>10}")
print(f"{'bigram counts (+1)':<26}{bigram_dev:>10.4f}{'':>10}")
print(f"{'MLP, ' + format(mlp_recipe.iters, ',') + ' steps':<26}{mlp_dev:>10.4f}{2.1557:>10.4f}")
for cell, (_, _, _, dev_loss) in recurrent.items():
    label = f"{cell.upper()}, {recurrent_iters:,} steps"
    print(f"{label:<26}{dev_loss:>10.4f}{readme[cell]:>10.4f}")

figure, axis = plt.subplots(figsize=(7, 4))
for cell, (_, history, _, _) in recurrent.items():
    axis.plot([r.iter for r in history], [r.val_loss for r in history], "o-", label=cell.upper())
axis.axhline(bigram_dev, color="grey", linestyle="--", label="bigram")
axis.axhline(mlp_dev, color="black", linestyle=":", label="MLP (whole run)")
axis.set(xlabel="iteration", ylabel="dev cross-entropy (estimated)",
         title="recurrent models on the names", ylim=(1.9, 3.4))
axis.legend()
plt.show()

# %% [markdown]
# Every network beats the counts by far, and the recurrent ones, reading the whole name so
# far, beat the MLP's three characters. Half the steps cost little: in this run the GRU and the
# LSTM are even a little better than the README's 2,000-step runs, possibly because the longer
# runs begin to overfit (these two have more parameters, 256,000 and 338,000, than the
# training split has characters, 182,625).
#
# The LSTM's names, drawn as before (its state carries each name's beginning):

# %%
lstm = recurrent["lstm"][0]
print(" ".join(names_of(lstm.generate(np.zeros((12, 1), np.int64), 20, rng=0))))

# %% [markdown]
# ## 4. The GPT on tiny Shakespeare
#
# nanoGPT's "baby GPT": 4 transformer blocks of 4 attention heads, 128 features a position,
# a context of 64 characters, no biases and no dropout, trained on tiny Shakespeare (1.1
# million characters, 65 distinct; the first 90% for training) with AdamW, a warm-up of 100
# steps, a cosine from 1e-3 to 1e-4, and gradients clipped at norm 1. `TextRecipe()`'s
# defaults are this recipe, the one the README runs from the command line. At full size this
# cell trains all of its **2,000** iterations, about five minutes on one core; the fast mode
# runs 20.

# %%
gpt_recipe = TextRecipe(iters=20 if FAST else 2_000, eval_interval=10 if FAST else 250,
                        eval_iters=2 if FAST else 20)
text = gpt_recipe.load_data()
if FAST:  # only the validation split's first 4,097 characters are read whole below
    text = TokenStreams({"train": text.streams["train"], "val": text.streams["val"][:4_097]},
                        text.tokenizer, gpt_recipe.block_size)
gpt, _, gpt_history, gpt_seconds = train(gpt_recipe, text)
gpt_val = evaluate_split(gpt, text, "val")
print(f"{gpt_recipe.iters:,} iterations in {gpt_seconds / 60:.1f} min; the whole validation "
      f"split ({text.targets('val'):,} characters): {gpt_val:.4f} (the README's run: 1.8985)")

# %% [markdown]
# Every line is the README's command-line run to the fourth decimal: the same recipe and seed
# draw the same weights and the same batches. nanoGPT's README reports "a loss of only 1.88"
# for this recipe, its 20-batch estimate (the last line above); on the whole split, nanoGPT's
# own code gives 1.905 and 1.917 for two seeds on the same machine.
#
# ## 5. Where the heads look
#
# Each head of each block mixes the 64 positions with weights: row $i$ of its attention matrix
# is a softmax over positions $j \le i$ (the causal mask: a position never sees the future),
# how much position $i$ takes from each earlier one. `GPT.attention_weights` returns them, one
# (B, heads, T, T) array per block; the command line's `--plot` draws the last block's first
# head from it. Here are the last block's four heads on the first 32 characters of the
# validation split.

# %%
window = next(text.eval_batches("val"))[0][0][:32]
weights = gpt.attention_weights(window[np.newaxis])  # 4 arrays (1, 4, 32, 32)
labels = [{"\n": "⏎", " ": "␣"}.get(c, c) for c in text.tokenizer.decode(window)]
mask = np.triu(np.ones((32, 32), dtype=bool), k=1)
figure, axes = plt.subplots(1, 4, figsize=(16, 4.6), layout="constrained")
for head, axis in enumerate(axes):
    image = axis.imshow(np.ma.masked_where(mask, weights[-1][0, head]), vmin=0, vmax=1)
    axis.set_xticks(range(32), labels, fontsize=6, fontfamily="monospace")
    axis.set_yticks(range(32), labels, fontsize=6, fontfamily="monospace")
    axis.set_title(f"block {len(weights) - 1}, head {head}")
axes[0].set(xlabel="key (attended to)", ylabel="query")
figure.colorbar(image, ax=axes, shrink=0.8)
plt.show()
print(repr(text.tokenizer.decode(window)))
rows = np.arange(32)[:, np.newaxis]
for block, block_weights in enumerate(weights):
    back = (block_weights[0] * (rows - rows.T).clip(0)).sum(axis=2).mean(axis=1)
    itself = np.diagonal(block_weights[0], axis1=1, axis2=2).mean(axis=1)
    print(f"block {block}: characters back, on average, per head "
          f"{np.array2string(back, precision=1)}; weight on the query's own character "
          f"{np.array2string(itself, precision=2)}")

# %% [markdown]
# Heads differ. Some keep their weight on the query's character and the one or two before it
# (a bright band along the diagonal); others reach back to where the word or the line began:
# bright columns under a space or a newline. The numbers summarise each head on this window:
# the mean distance back of its weights, and the weight it leaves on the diagonal. (An
# untrained model, as in the fast mode, attends almost uniformly.) The loss curves of the run:

# %%
figure, axis = plt.subplots(figsize=(7, 4))
steps = [record.iter for record in gpt_history]
axis.plot(steps, [record.train_loss for record in gpt_history], "o-", label="train")
axis.plot(steps, [record.val_loss for record in gpt_history], "s-", label="validation")
axis.set(xlabel="iteration", ylabel="cross-entropy (estimated)", title="the baby GPT")
axis.legend()
plt.show()

# %% [markdown]
# ## 6. Text
#
# `generate` continues a prompt as nanoGPT's does: each step divides the last position's
# logits by a temperature (0.8: a little sharper than the model), keeps the `top_k` largest,
# and draws from their softmax. The same `rng` gives the same text: the README's `sample
# gpt.npz --prompt ROMEO: --temperature 0.8 --top-k 200 --seed 0` makes this same call on the
# same weights, and prints these same characters.

# %%
prompt = text.tokenizer.encode("ROMEO:")[np.newaxis]  # (1, 6) token ids
tokens = gpt.generate(prompt, 60 if FAST else 500, temperature=0.8, top_k=200, rng=0)
print(text.tokenizer.decode(tokens[0]))

# %% [markdown]
# The spelling is shaky but the form is Shakespeare's: names in capitals before a colon,
# short lines, the rhythm of verse, all from 1.1 million characters and 800,000 parameters.
#
# While the text fits the block, `generate` keeps every position's keys and values (a
# key/value cache), so each new token costs one position's work instead of a pass over the
# whole context. It gives the same tokens as the plain pass, faster:

# %%
timings = {}
for cache in (True, False):
    start = time.perf_counter()
    greedy = gpt.generate(prompt, 50, top_k=1, cache=cache)  # top_k=1: no randomness
    timings[cache] = (greedy, time.perf_counter() - start)
print("the same tokens:", np.array_equal(timings[True][0], timings[False][0]))
print(f"50 tokens: {timings[True][1] * 1000:.0f} ms with the cache, "
      f"{timings[False][1] * 1000:.0f} ms without")

# %% [markdown]
# ## Exercises
#
# 1. Measure the dev loss of the bigram counted on the training names with smoothing 0, 0.1,
#    10 and 100 instead of 1. Why is one of them infinite?
# 2. Train makemore's MLP with a context of 5 characters (`TextRecipe(model="mlp",
#    dataset="names", block_size=5)`) for 20,000 steps, against the same run with 3. Which
#    is better on the dev split?
# 3. Draw the attention of block 0 instead of the last. How do its heads differ?
# 4. Sample the GPT at temperatures 0.5 and 1.2. What changes?
#
# <details><summary>Solutions</summary>
#
# 1. `P = (N_train + k) / (N_train + k).sum(axis=1, keepdims=True)`, then the mean of
#    `-np.log(P[dev[:-1], dev[1:]])`: about 2.4531 for k = 0.1, 2.4533 for 1, 2.4627 for 10
#    and 2.5544 for 100 (too much smoothing pulls every row towards uniform). With k = 0 it
#    is infinite: 5 bigrams of the dev names never occur in the training names, so the model
#    gives them probability 0, and $-\log 0 = \infty$.
# 2. Build the recipe with `iters=20_000` (and `block_size=3` for the other), then call
#    `train(recipe)` and `evaluate_split(model, data, "val")`. Surprise: in 20,000 steps the
#    longer context is *worse*, 2.3402 against 2.3175 (seed 0; seed 1: 2.3713 against
#    2.3097). A likely reason: its first layer has 50 inputs instead of 30, all drawn
#    standard normal, so its tanh units start deeper in saturation (pre-activations of
#    standard deviation about √50 ≈ 7 instead of √30 ≈ 5.5) and learn more slowly. More
#    context pays with a better start (part 3 of the lectures) and more steps.
# 3. `weights[0][0, head]` in place of `weights[-1][0, head]`. Compare how far back each
#    head reaches, and whether its weight sits on one position or spreads: a head that puts
#    all its weight on the diagonal passes each position through unchanged.
# 4. `gpt.generate(prompt, 300, temperature=0.5, top_k=200, rng=0)`: at 0.5 the draws keep
#    to the likeliest characters, so common words and short lines repeat; at 1.2 the
#    distribution flattens, and the text invents more words and misspells more.
#
# </details>
