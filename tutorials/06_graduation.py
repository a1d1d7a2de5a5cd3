# %% [markdown]
# # Chapter 6: Graduation
#
# **What you will learn**
#
# - how a model trained here moves to PyTorch in one call (`interop.to_torch`), computes the
#   same function there, and goes on training with PyTorch's own optimizer;
# - how it comes back (`interop.from_torch`), and how ONNX Runtime serves it from an ONNX file
#   (`interop.save_onnx`) with the same predictions;
# - what a safetensors file holds, byte by byte, and how a model is rebuilt from one alone;
# - a GPT trained here writing text in PyTorch, as nanoGPT's module, and served by ONNX
#   Runtime;
# - how long one prediction takes here, in PyTorch and in ONNX Runtime.
#
# This library runs on one CPU, in NumPy, so that every step can be read. When a learner
# outgrows that (a GPU, many machines, a model to serve), the engines exist already, and a
# model trained here goes to them without retraining. `tools/graduation.py` walks the same way
# from the command line; `docs/graduation.md` tells what each format holds.
#
# The chapter needs PyTorch, ONNX and ONNX Runtime: `pip install -e ".[torch,interop]"` from
# the clone's root. It reads MNIST and tiny Shakespeare (found in `DEEPLEARNING_DATA`, or
# downloaded). At full size it runs for a few minutes; `DEEPLEARNING_FAST=1` trains on a
# slice of the data for a moment (the accuracies are then low, and the text is noise).

# %%
import importlib.util

missing = [name for name in ("torch", "onnx", "onnxruntime")
           if importlib.util.find_spec(name) is None]  # fmt: skip
if missing:
    raise ImportError(
        f"this chapter needs {', '.join(missing)}: run pip install -e \".[torch,interop]\" "
        "from the root of the clone, restart the kernel and run it again"
    )

# %%
import json
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
import torch

from deeplearning import SGD, LeNet5, interop
from deeplearning.bench.inference import run_inference_benchmark
from deeplearning.data import load_mnist
from deeplearning.training import fit
from deeplearning.training.lm_loop import train_language_model
from deeplearning.training.lm_recipe import TextRecipe

FAST = os.environ.get("DEEPLEARNING_FAST") == "1"
torch.manual_seed(0)
torch.set_num_threads(1)  # one thread on each side, as the library trains
try:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
except ImportError:  # (the `train` extra)
    pass
print(f"PyTorch {torch.__version__}, ONNX Runtime {onnxruntime.__version__}; "
      f"{'fast mode' if FAST else 'full size'}")

# %% [markdown]
# ## 1. LeNet5, trained here
#
# The convolutional network of chapter 4: two convolutions with ReLU and max pooling, then
# three linear layers. The recipe is `tools/graduation.py`'s: SGD with momentum 0.9, a rate of
# 0.05, batches of 64, seed 0, on the layer path, for **2 epochs** over the 60,000 training
# images (the fast mode: one epoch over 2,000, tested on 1,000).

# %%
data = load_mnist("mnist", flatten=False)  # images (N, 1, 28, 28), float32 in [0, 1]
if FAST:
    data = data._replace(x_train=data.x_train[:2_000], y_train=data.y_train[:2_000],
                         x_test=data.x_test[:1_000], y_test=data.y_test[:1_000])
epochs_here = 1 if FAST else 2
model = LeNet5(rng=0)
optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
for stats in fit(model, data, optimizer, epochs=epochs_here, batch_size=64, rng=0):
    print(stats)
model.eval()
ours = model.infer(data.x_test)  # the logits (N, 10), no graph
print(f"test accuracy here: {np.mean(ours.argmax(axis=1) == data.y_test):.2%} "
      f"on {len(data.y_test):,} images")

# %% [markdown]
# ## 2. To PyTorch
#
# `to_torch` builds the model from PyTorch's own layers, with the weights copied: a `Linear`
# here stores $W$ as (in, out) and computes $xW + b$; PyTorch's `nn.Linear` stores the
# transpose, (out, in), and computes $x W^\top + b$. The same function, the other way round in
# memory. The module is a plain `nn.Sequential`: nothing of this library runs inside it.

# %%
net = interop.to_torch(model).eval()
print(net)
x_test, y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)


def torch_accuracy():
    with torch.no_grad():
        return float((net(x_test).argmax(dim=1) == y_test).double().mean())


with torch.no_grad():
    theirs = net(x_test).numpy()
print(f"test accuracy in PyTorch: {torch_accuracy():.2%}; "
      f"{np.sum(theirs.argmax(axis=1) != ours.argmax(axis=1))} predictions differ from ours; "
      f"the logits by at most {np.abs(theirs - ours).max():.1e} (float32 rounding)")

# %% [markdown]
# It trains on there like any PyTorch model: one more epoch with `torch.optim.SGD` at a rate
# of 0.01 (momentum 0.9), PyTorch's cross-entropy, PyTorch's autograd. The optimizer starts
# afresh: its momentum buffers were this library's, and do not carry over.

# %%
torch_optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
shuffle = torch.Generator().manual_seed(0)
start = time.perf_counter()
net.train()
for index in torch.randperm(len(x_train), generator=shuffle).split(64):
    loss = torch.nn.functional.cross_entropy(net(x_train[index]), y_train[index])
    torch_optimizer.zero_grad()
    loss.backward()
    torch_optimizer.step()
net.eval()
print(f"epoch {epochs_here + 1}, in PyTorch: test accuracy {torch_accuracy():.2%} "
      f"({time.perf_counter() - start:.1f} s)")

# %% [markdown]
# ## 3. Back, and served by ONNX Runtime
#
# `from_torch` rebuilds a `LeNet5` here from the PyTorch module's weights (the module remembers
# which of our classes it came from). `save_onnx` writes the model's inference graph, node by
# node, as an ONNX file (opset 17, any batch size); ONNX Runtime, a serving engine with no
# Python in its inner loop, loads it and predicts.

# %%
back = interop.from_torch(net).eval()
interop.save_onnx(back, "lenet5.onnx", example_input=data.x_test[:1])
session = onnxruntime.InferenceSession("lenet5.onnx", providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
served = session.run(None, {name: data.x_test})[0]
here = back.infer(data.x_test)
print(f"{os.path.getsize('lenet5.onnx'):,} bytes; input {name!r} of shape "
      f"{session.get_inputs()[0].shape}")
print(f"ONNX Runtime: test accuracy {np.mean(served.argmax(axis=1) == data.y_test):.2%}; "
      f"{np.sum(served.argmax(axis=1) != here.argmax(axis=1))} of {len(here):,} predictions "
      f"differ from ours; the logits by at most {np.abs(served - here).max():.1e}")

# %% [markdown]
# Some of the test digits, with what ONNX Runtime predicts for each (the few it gets wrong in
# red):

# %%
wrong = np.flatnonzero(served.argmax(axis=1) != data.y_test)
shown = np.concatenate([np.arange(12 - min(4, len(wrong))), wrong[:4]])
figure, axes = plt.subplots(2, 6, figsize=(9, 3.4))
for axis, i in zip(axes.flat, shown):
    axis.imshow(data.x_test[i, 0], cmap="gray_r")
    predicted = served[i].argmax()
    axis.set_title(f"{predicted} (is {data.y_test[i]})", fontsize=9,
                   color="red" if predicted != data.y_test[i] else "black")
    axis.axis("off")
plt.show()

# %% [markdown]
# ## 4. safetensors: weights without code
#
# A pickled checkpoint (what `torch.save` writes) can run code when it is loaded, which is
# why `torch.load` now reads only weights by default; a safetensors file holds no code at
# all. It is 8 bytes giving a length N, N bytes of JSON, then the raw
# bytes of every array back to back. The JSON gives each array's dtype, shape and byte range;
# its `__metadata__` holds strings, here the model's class and config, so that
# `load_model` rebuilds the model from the file alone. The format is simple enough to read
# by hand:

# %%
interop.save_safetensors(back, "lenet5.safetensors")
with open("lenet5.safetensors", "rb") as stream:
    length = int.from_bytes(stream.read(8), "little")
    header = json.loads(stream.read(length))
print(f"{os.path.getsize('lenet5.safetensors'):,} bytes: a header of {length:,} bytes, then "
      "the arrays")
print("metadata:", header.pop("__metadata__"))
for key, entry in list(header.items())[:4]:
    print(f"  {key:>6}: {entry}")
print(f"  ... {len(header)} arrays")

rebuilt = interop.load_model("lenet5.safetensors").eval()
print(type(rebuilt).__name__, "rebuilt from the file; the same logits:",
      np.array_equal(rebuilt.infer(data.x_test), here))

# %% [markdown]
# The `safetensors` package (Hugging Face's) reads the same file. The names are the
# `state_dict`'s here: the convolutions' `0.weight` (out, in, 5, 5), as PyTorch names and lays
# them out, and the Linears' `7.W` (in, out), this library's.

# %%
from safetensors.numpy import load_file

arrays = load_file("lenet5.safetensors")
print(sorted(arrays)[:4], "...",
      all(np.array_equal(arrays[key], value) for key, value in back.state_dict().items()))

# %% [markdown]
# ## 5. A GPT, in PyTorch
#
# The same works for the sequence models. A small GPT trains here on tiny Shakespeare (2
# blocks of 4 heads, 64 features, a context of 64 characters, nanoGPT's recipe; **1,000**
# iterations, under a minute; the fast mode runs 20). Chapter 5 trains the larger baby GPT;
# this chapter trains its own, so that it runs alone.

# %%
recipe = TextRecipe(n_layer=2, n_head=4, n_embd=64, block_size=64, iters=20 if FAST else 1_000,
                    eval_interval=10 if FAST else 250, eval_iters=2 if FAST else 20)
text = recipe.load_data()
tokenizer = text.tokenizer
rng = np.random.default_rng(recipe.seed)
gpt = recipe.build_model(tokenizer.vocab_size, rng)
gpt_optimizer = recipe.build_optimizer(gpt)
print(f"GPT({gpt.extra_repr()}): {gpt.num_parameters():,} parameters")
for record in train_language_model(
    gpt, text, gpt_optimizer, iters=recipe.iters, batch_size=recipe.batch_size, rng=rng,
    schedule=recipe.build_schedule(), grad_clip=recipe.grad_clip,
    eval_interval=recipe.eval_interval, eval_iters=recipe.eval_iters, eval_seed=recipe.seed,
):
    print(record)

# %% [markdown]
# `to_torch` makes it nanoGPT's module: the same parameter names (`transformer.h.0.attn.c_attn`,
# ...) and `lm_head` tied to the token embedding, so nanoGPT's own code could load its
# `state_dict`. Its logits equal ours to float32 rounding, and nanoGPT's `generate` writes with
# PyTorch's random numbers (so not the same characters as our `generate` with the same seed).
# A model this small, trained this briefly, spells worse than chapter 5's baby GPT.

# %%
gpt.eval()
gpt_torch = interop.to_torch(gpt).eval()
print([name for name, _ in gpt_torch.named_parameters()][:4], "...")
prompt = tokenizer.encode("ROMEO:")[np.newaxis]  # (1, 6) token ids
with torch.no_grad():
    logits_torch = gpt_torch(torch.from_numpy(prompt))[0].numpy()
logits_here = gpt.infer(prompt)
print(f"logits {logits_torch.shape}: PyTorch's differ from ours by at most "
      f"{np.abs(logits_torch - logits_here).max():.1e}")
generator = torch.Generator().manual_seed(0)
written = gpt_torch.generate(torch.from_numpy(prompt), 60 if FAST else 300, 0.8, 200, generator)
print(tokenizer.decode(written[0].numpy()))

# %% [markdown]
# And ONNX Runtime serves it: the file holds the embeddings, the blocks and the tied head, and
# builds the causal mask in the graph for the length it is given, so one file takes any
# prompt of 1 to 64 tokens.

# %%
interop.save_onnx(gpt, "gpt.onnx", example_input=prompt)
gpt_session = onnxruntime.InferenceSession("gpt.onnx", providers=["CPUExecutionProvider"])
gpt_input = gpt_session.get_inputs()[0]
for length in (6, 64):
    tokens = text.streams["val"][np.newaxis, :length].astype(np.int64)
    served_logits = gpt_session.run(None, {gpt_input.name: tokens})[0]
    print(f"{length} tokens: ONNX Runtime's logits {served_logits.shape} differ from ours by at "
          f"most {np.abs(served_logits - gpt.infer(tokens)).max():.1e}")

# %% [markdown]
# ## 6. How long a prediction takes
#
# A served model is judged by the time from an input to its answer.
# `run_inference_benchmark` (the command line's `bench --inference`) times LeNet5 and a
# two-layer MLP with the same weights on both paths here, in PyTorch and in ONNX Runtime, one
# thread each, alternating, for one image at a time and for batches of 256; each figure is the
# median of the runs, in microseconds per image.

# %%
result = run_inference_benchmark(repeats=1 if FAST else 3, images=256 if FAST else 1_024)
print(result.report())

# %%
figure, axes = plt.subplots(1, 4, figsize=(14, 3.2), layout="constrained")
for axis, ((workload, batch), runners) in zip(axes, result.seconds.items()):
    medians = {runner: np.median(times) * 1e6 for runner, times in runners.items()}
    axis.barh(list(medians), list(medians.values()), color=["C0", "C1", "C2", "C3"])
    axis.invert_yaxis()
    axis.set(title=f"{workload}, batch {batch}", xlabel="µs per image")
plt.show()

# %% [markdown]
# One image at a time, LeNet5 here spends its time in Python and in NumPy's per-call overhead
# (a few dozen array operations per image, each with its checks), not in arithmetic; PyTorch
# also dispatches layer by layer. ONNX Runtime plans the whole graph once and runs fused
# kernels, and is many times faster. In batches of 256 the arithmetic dominates and the gap
# narrows. (The figures move from run to run with whatever else the machine is doing.)
#
# ## Exercises
#
# 1. Convert the PyTorch LeNet5 back on the other path, `interop.from_torch(net,
#    engine="autograd")`, and check that its logits equal `back`'s.
# 2. Train the PyTorch module for the epoch with `torch.optim.Adam(net.parameters(), lr=1e-3)`
#    instead of SGD. Does the accuracy go on from where it was?
# 3. Give ONNX Runtime a batch of 7 images, though the file was exported with an example of
#    one. Why does it work?
# 4. Open `lenet5.safetensors` with `safetensors.torch.load_file` and load the arrays into the
#    PyTorch module. Which names and shapes must change?
#
# <details><summary>Solutions</summary>
#
# 1. `engine_model = interop.from_torch(net, engine="autograd").eval()`, then
#    `np.abs(engine_model.infer(data.x_test) - back.infer(data.x_test)).max()`: the same
#    weights on the engine give the same logits, to float32 rounding at worst (the two paths
#    share their kernels for these layers, so usually bit for bit: 0.0).
# 2. Replace the optimizer line and rerun the cell (after rebuilding `net` from `model`).
#    Adam at 1e-3 on a model that is already trained also goes on learning; its first steps
#    may shake the accuracy a little, since Adam's per-parameter steps start at the full rate.
# 3. `save_onnx` marks axis 0 of the input and the outputs as a symbolic `batch`; the example
#    only fixes the other axes (1, 28, 28) and the type. `session.run(None, {name:
#    data.x_test[:7]})[0].shape` is (7, 10).
# 4. The convolutions' arrays already have PyTorch's names and layout (`0.weight`, `0.bias`,
#    `3.weight`, ...); the Linears' are this library's: `7.W` is (in, out), the transpose of
#    PyTorch's `7.weight`, and `7.b` is `7.bias`. Rename each `k.W` to `k.weight` and
#    transpose it, rename `k.b` to `k.bias`, then `net.load_state_dict(arrays)`.
#    `interop.torch_name("7.W")` gives `("7.weight", True)`: the name, and that it is
#    transposed; `interop.to_torch` does all of it.
#
# </details>
