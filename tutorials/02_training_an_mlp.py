# %% [markdown]
# # Chapter 2: Training an MLP on MNIST
#
# **What you will learn**
#
# - the default recipe, and what `fit` does with it;
# - how plain SGD, SGD with momentum and Adam differ on the same network;
# - the learning-rate range test: one pass with a rising rate, to choose one;
# - learning-rate schedules: constant, step and cosine;
# - why initialisation matters (naive N(0, 1) against Xavier and Kaiming), and what dead ReLUs
#   are, seen through the library's training-health numbers and pictures;
# - what BatchNorm and Dropout change in the learning curves.
#
# The whole chapter trains in a few minutes on a laptop's CPU, one BLAS thread. With
# `DEEPLEARNING_FAST=1` it trains on 2,000 images for one epoch, for the tests: the numbers
# are then only a smoke test. Every number in the text beside a printed one came from the
# full run stored here.

# %%
import itertools
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

from deeplearning import MLP, SGD, Adam, Linear, TwoLayerMLP
from deeplearning.cli.health_plots import plot_health
from deeplearning.core.evaluation import evaluate
from deeplearning.data.datasets import load_mnist, minibatches
from deeplearning.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LRScheduler,
    StepLR,
)
from deeplearning.training.health import TrainingMonitor, activation_stats
from deeplearning.training.loop import TrainingDivergedError, batch_gradients, blas_threads, fit

FAST = os.environ.get("DEEPLEARNING_FAST") == "1"
STYLE = {"figure.dpi": 80, "figure.figsize": (7, 3.5)}
plt.rcParams.update(STYLE)
PICTURES = Path(tempfile.mkdtemp())  # where plot_health writes its files


def show_health(monitor, name):
    """Draw `plot_health`'s picture of a monitored run (the picture of `train --diagnostics`)
    into a file, and show it here."""
    plot_health(PICTURES / f"{name}.png", monitor)
    display(Image(filename=str(PICTURES / f"{name}.png")))


data = load_mnist("mnist")  # finds the files through DEEPLEARNING_DATA, or downloads them
if FAST:
    data = data._replace(x_train=data.x_train[:2000], y_train=data.y_train[:2000],
                         x_test=data.x_test[:1000], y_test=data.y_test[:1000])
EPOCHS = 1 if FAST else 5
STEPS_PER_EPOCH = -(-len(data.x_train) // 64)
print(f"{len(data.x_train):,} training and {len(data.x_test):,} test images, "
      f"{data.x_train.shape[1]} pixels each, {STEPS_PER_EPOCH} steps of 64 per epoch")

# %% [markdown]
# ## 1. The default recipe
#
# `TwoLayerMLP` is `Linear(784, 128) → ReLU → Linear(128, 10)`, 101,770 parameters. The recipe
# the command line uses (`python -m deeplearning train`): SGD with momentum 0.9, learning rate
# 0.05 decayed to 0 along a cosine, batches of 64, five epochs, seed 0. One generator draws
# the weights and then shuffles the batches, as the command line does, so the run below is the
# README's quick start.
#
# `fit` runs the epochs and yields an `EpochStats` after each. A `TrainingMonitor` watches the
# run through hooks, without changing the model or the loop: every step's gradient norms and
# update-to-data ratios, and every `every` steps the activations.

# %%
rng = np.random.default_rng(0)
model = TwoLayerMLP(rng=rng)
optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = LRScheduler(optimizer, CosineAnnealingLR(0.05, T_max=EPOCHS * STEPS_PER_EPOCH))
monitor = TrainingMonitor(model, every=max(1, EPOCHS * STEPS_PER_EPOCH // 8))
for stats in fit(model, data, optimizer, epochs=EPOCHS, rng=rng, scheduler=scheduler):
    print(stats)
monitor.remove()
print(f"test accuracy {stats.test_acc:.2%} (the README's quick start: 97.89%)")

# %% [markdown]
# The training-health picture of that run (`plot_health`, what `train --diagnostics PATH`
# draws). Top: the hidden ReLU's outputs at the last recorded step and the gradients reaching
# them. Bottom left: the **update-to-data ratio** $\log_{10}(\mathrm{std}(\Delta W) /
# \mathrm{std}(W))$ of each weight, step by step: how big a step is next to the weights it
# changes. Karpathy's rule of thumb calls about $-3$ healthy (each step changes a weight by a
# thousandth of its typical size); much lower learns slowly, much higher is unstable. Here it
# starts above $-3$, around $-2$ (a high peak rate, that the range test of section 3 will
# explain), passes $-3$ mid-run, and plunges at the end as the cosine brings the rate to 0.
# Bottom right: the gradient norms.

# %%
show_health(monitor, "recipe")
first = {name: np.mean(ratios[:STEPS_PER_EPOCH // 4]) for name, ratios in monitor.update_ratios.items()}
print("mean update-to-data ratio over the first quarter epoch:",
      ", ".join(f"{name} {value:.2f}" for name, value in first.items()))

# %% [markdown]
# ## 2. SGD, momentum and Adam
#
# `fit` reports one number per epoch. To see each step, here is its loop written out: shuffle,
# compute the gradients of a batch (`batch_gradients`), step the optimizer, step the schedule.
# It keeps every step's loss. (Like `fit`, it runs BLAS on one thread, so that the runs repeat
# bit for bit.)

# %%
def train(model, optimizer, epochs, schedule=None, seed=0):
    """Train on `data` in batches of 64; return each step's loss and learning rate, and the
    test accuracy after each epoch."""
    shuffle = np.random.default_rng(seed)
    scheduler = LRScheduler(optimizer, schedule) if schedule is not None else None
    losses, rates, accuracies = [], [], []
    with blas_threads(1):
        for _ in range(epochs):
            model.train()
            for x_batch, y_batch in minibatches(data.x_train, data.y_train, 64, rng=shuffle):
                loss, _ = batch_gradients(model, x_batch, y_batch)   # sets every .grad
                rates.append(optimizer.lr)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                losses.append(loss)
            accuracies.append(evaluate(model, data.x_test, data.y_test))
    return np.array(losses), np.array(rates), accuracies


def smooth(values, window=None):
    """A moving average, to see the trend through the batches' noise."""
    window = window or max(1, min(100, len(values) // 10))
    return np.convolve(values, np.ones(window) / window, mode="valid")

# %% [markdown]
# Three optimizers on the same network, from the same weights, at a constant learning rate:
#
# - **SGD**: $\theta \leftarrow \theta - \eta\, g$;
# - **momentum**: $v \leftarrow 0.9\, v + g$, $\theta \leftarrow \theta - \eta\, v$: a running
#   sum of past gradients, which builds up speed along directions the gradients agree on
#   (about $1/(1 - 0.9) = 10$ times the step once it has built up);
# - **Adam**: each parameter's step is its running mean gradient divided by the square root of
#   its running mean squared gradient, so every parameter moves at about $\eta$ per step
#   whatever the scale of its gradient. Its usual rate is $10^{-3}$.

# %%
optimizers = {
    "SGD, lr 0.05": lambda params: SGD(params, lr=0.05),
    "momentum 0.9, lr 0.05": lambda params: SGD(params, lr=0.05, momentum=0.9),
    "Adam, lr 0.001": lambda params: Adam(params, lr=1e-3),
}
curves = {}
for name, make in optimizers.items():
    model = TwoLayerMLP(rng=0)
    losses, _, accuracies = train(model, make(model.parameters()), EPOCHS)
    curves[name] = losses
    print(f"{name:<22} last epoch's mean loss {losses[-STEPS_PER_EPOCH:].mean():.4f}, "
          f"test accuracy by epoch: {', '.join(f'{a:.2%}' for a in accuracies)}")

for name, losses in curves.items():
    plt.plot(smooth(losses), label=name)
plt.yscale("log")
plt.xlabel("step")
plt.ylabel("training loss (moving average)")
plt.title("Three optimizers, constant learning rate")
plt.legend()
plt.show()

# %% [markdown]
# Momentum and Adam both leave plain SGD behind from the first few hundred steps. Between the
# two the gap is small here: on a network this shallow, well initialised, a tuned momentum
# does as well as Adam. Adam's advantage is that its default rate works on most problems
# without a search; for SGD the rate has to be found. Which brings us to the range test.
#
# ## 3. The learning-rate range test
#
# Leslie Smith's test (2015, popularised by fastai's `lr_find`): train for one pass while the
# learning rate rises exponentially, from far too small to far too large, and plot the loss
# against the rate on a log axis. At first nothing happens; then the loss falls; then it
# becomes noisy and blows up. A good rate is where the loss falls **fastest**: the steepest
# point of the smoothed curve. `ExponentialLR` with $\gamma = (\eta_{max} /
# \eta_{min})^{1/\mathrm{steps}}$ is the rising rate.

# %%
RANGE_STEPS = 200 if FAST else STEPS_PER_EPOCH


def endless_batches(shuffle):
    """Batches of 64, epoch after epoch (the fast mode's 2,000 images make 32 a pass)."""
    while True:
        yield from minibatches(data.x_train, data.y_train, 64, rng=shuffle)


def range_test(make, low, high, steps=RANGE_STEPS):
    """One pass with the rate rising from `low` to `high`; returns the rates, the smoothed
    losses, and the rate where the smoothed loss falls fastest (per decade of rate)."""
    model, shuffle = TwoLayerMLP(rng=0), np.random.default_rng(0)
    optimizer = make(model.parameters(), low)
    scheduler = LRScheduler(optimizer, ExponentialLR(low, gamma=(high / low) ** (1 / steps)))
    rates, smoothed, average = [], [], 0.0
    with blas_threads(1):
        for x_batch, y_batch in itertools.islice(endless_batches(shuffle), steps):
            loss, _ = batch_gradients(model, x_batch, y_batch)
            if not np.isfinite(loss):
                break
            average = 0.95 * average + 0.05 * loss       # an exponential moving average,
            rates.append(optimizer.lr)                   # its start corrected as Adam's
            smoothed.append(average / (1 - 0.95 ** len(rates)))
            if smoothed[-1] > 4 * min(smoothed):         # it has blown up: stop
                break
            optimizer.step()
            scheduler.step()
    rates, smoothed = np.array(rates), np.array(smoothed)
    slope = np.gradient(smoothed, np.log10(rates))          # loss change per decade of rate
    lowest = int(np.argmin(smoothed))                      # search before the lowest loss,
    start = len(rates) // 10                               # after the average has settled
    steepest = start + int(np.argmin(slope[start:lowest])) if lowest > start else lowest
    return rates, smoothed, rates[steepest], rates[lowest]


tests = {
    "SGD": (lambda params, lr: SGD(params, lr=lr), 1e-4, 10.0),
    "momentum 0.9": (lambda params, lr: SGD(params, lr=lr, momentum=0.9), 1e-5, 1.0),
    "Adam": (lambda params, lr: Adam(params, lr=lr), 1e-6, 1.0),
}
found, lowest_loss = {}, {}
for name, (make, low, high) in tests.items():
    rates, smoothed, steepest, lowest = range_test(make, low, high)
    found[name], lowest_loss[name] = steepest, lowest
    line, = plt.plot(rates, smoothed, label=name)
    plt.plot(steepest, np.interp(np.log(steepest), np.log(rates), smoothed), "o",
             color=line.get_color())
    print(f"{name:<13} loss falls fastest at lr {steepest:.2g}; lowest loss at lr {lowest:.2g}")
plt.xscale("log")
plt.ylim(0, 3)
plt.xlabel("learning rate (rising during the pass)")
plt.ylabel("training loss (smoothed)")
plt.title("Learning-rate range test: dots where the loss falls fastest")
plt.legend()
plt.show()

# %% [markdown]
# The three curves have the same shape, shifted along the axis. Momentum's sits about a decade
# left of plain SGD's: with momentum 0.9 each gradient is applied about ten times over, so the
# same step takes a tenth of the rate. Adam's sits further left still: its loss falls between
# $10^{-5}$ and $10^{-3}$, and its usual $10^{-3}$ is at the foot of the fall.
#
# Does the steepest point make a good rate? Three runs of the recipe (momentum, cosine) at
# three peak rates: the steepest point, fastai's other rule of thumb (a tenth of the rate at
# the lowest loss), and the recipe's 0.05.

# %%
for lr in (found["momentum 0.9"], lowest_loss["momentum 0.9"] / 10, 0.05):
    model = TwoLayerMLP(rng=0)
    optimizer = SGD(model.parameters(), lr=lr, momentum=0.9)
    schedule = CosineAnnealingLR(lr, T_max=EPOCHS * STEPS_PER_EPOCH)
    losses, _, accuracies = train(model, optimizer, EPOCHS, schedule)
    print(f"momentum, lr {lr:.2g}, cosine: test accuracy {accuracies[-1]:.2%}")

# %% [markdown]
# On this run the steepest point is far too cautious, and a tenth of the lowest-loss rate is
# too; the recipe's 0.05, about half the rate at the lowest loss, does best. The test watches
# a network that is still near its start while the rate rises, so its steepest point mixes
# the effect of the rate with the progress made so far. What it gives reliably is the
# **range** in which training works, from where the loss starts to fall to where it blows up
# (for momentum, about $10^{-3}$ to $10^{-1}$); with a schedule that brings the rate down, the
# best peak rate lies towards the top of that range.

# %% [markdown]
# ## 4. Schedules
#
# A schedule sets the rate at each step. In this library a schedule is a pure function of the
# step number, `schedule(t)`, and `LRScheduler(optimizer, schedule)` applies it after each
# `optimizer.step()`, as PyTorch's schedulers do. Three of them, same start:
#
# - **constant**: 0.05 throughout (`ConstantLR` with factor 1);
# - **step**: 0.05, divided by 10 after each ~third of the run (`StepLR`);
# - **cosine**: from 0.05 to 0 along half a cosine (`CosineAnnealingLR`), the recipe's.

# %%
total = EPOCHS * STEPS_PER_EPOCH
schedules = {
    "constant": ConstantLR(0.05, factor=1.0, total_iters=0),
    "step": StepLR(0.05, step_size=-(-total // 3), gamma=0.1),
    "cosine": CosineAnnealingLR(0.05, T_max=total),
}
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
for name, schedule in schedules.items():
    model = TwoLayerMLP(rng=0)
    losses, rates, accuracies = train(model, SGD(model.parameters(), lr=0.05, momentum=0.9),
                                      EPOCHS, schedule)
    left.plot(rates, label=name)
    right.plot(smooth(losses), label=name)
    print(f"{name:<9} last epoch's mean loss {losses[-STEPS_PER_EPOCH:].mean():.4f}, "
          f"test accuracy {accuracies[-1]:.2%}")
left.set(xlabel="step", ylabel="learning rate", title="the schedules")
right.set(xlabel="step", ylabel="training loss (moving average)", yscale="log",
          title="their training losses")
left.legend()
plt.show()

# %% [markdown]
# A large rate makes fast progress but bounces around the bottom of the valley, the size of
# its bounces set by the rate; a smaller one settles lower, but only if enough steps remain to
# use it. The step schedule's last rate, 0.0005, is so small that its loss stops falling, and
# it ends above the constant rate. Cosine lowers the rate gradually, with nothing to choose
# beyond the first rate, and ends with the lowest training loss and the best test accuracy.
#
# ## 5. Initialisation
#
# A `Linear` layer computes $y = x W + b$. If the inputs have variance $v$ and the $n$ weights
# into a unit have variance $\sigma^2$, the output has variance $n \sigma^2 v$. So the weights'
# scale decides whether the signal grows or shrinks from layer to layer:
#
# - **naive**: $W \sim N(0, 1)$, $\sigma^2 = 1$: each layer multiplies the variance by $n$
#   (here 784 or 256);
# - **Xavier/Glorot** (2010): $\sigma^2 = 2 / (n_{in} + n_{out})$, about $1/n$: the variance
#   is kept, for activations like tanh that are linear near 0;
# - **Kaiming/He** (2015): $\sigma^2 = 2 / n_{in}$: ReLU zeros half its inputs and halves the
#   variance, so this doubles it back. It is what this library's `Linear` draws by default.
#
# A deeper network shows it: four hidden layers of 256, built with `MLP`, then its weights
# redrawn.

# %%
SIZES = [784, 256, 256, 256, 256, 10]
SCALES = {"naive N(0, 1)": lambda n_in, n_out: 1.0,
          "Xavier": lambda n_in, n_out: np.sqrt(2 / (n_in + n_out)),
          "Kaiming": lambda n_in, n_out: np.sqrt(2 / n_in)}


def deep_mlp(activation, init, batchnorm=False):
    """`MLP(SIZES)`, its weights drawn again with the standard deviation of `init`."""
    rng = np.random.default_rng(0)
    model = MLP(SIZES, activation=activation, batchnorm=batchnorm, rng=rng)
    for _, layer in model.named_modules():
        if isinstance(layer, Linear):
            n_in, n_out = layer.W.shape
            layer.W.data[...] = rng.standard_normal((n_in, n_out)) * SCALES[init](n_in, n_out)
    return model


def histograms(axis, stats, title):
    """Each activation layer's histogram (the health module's `Distribution`), one line each."""
    for name, layer in stats.items():
        centres = (layer.output.edges[:-1] + layer.output.edges[1:]) / 2
        axis.plot(centres, layer.output.counts / layer.output.counts.sum(),
                  label=f"layer {name}: std {layer.output.std:.2f}")
    axis.set(title=title, xlabel="activation", ylabel="fraction")
    axis.legend(fontsize="small")


batch = data.x_train[:1000]
figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for axis, init in zip(axes, ["naive N(0, 1)", "Xavier"]):
    stats = activation_stats(deep_mlp("tanh", init), batch)
    histograms(axis, stats, f"tanh, {init}")
    print(f"tanh, {init:<13} saturated (|tanh| > 0.97) per layer:",
          ", ".join(f"{s.saturated:.0%}" for s in stats.values()))
plt.show()

# %% [markdown]
# With naive weights most tanh outputs sit at ±1, on the flat tails where the derivative
# $1 - \tanh^2$ is nearly 0: the gradient through them all but stops. Xavier keeps them in the
# linear middle. Zero to Hero's picture of it: one row per example, one column per unit of the
# first hidden layer, white where the unit is saturated.

# %%
figure, axes = plt.subplots(1, 2, figsize=(10, 2.6))
for axis, init in zip(axes, ["naive N(0, 1)", "Xavier"]):
    model = deep_mlp("tanh", init)
    seen = {}
    handle = model[1].register_forward_hook(lambda m, args, out: seen.update(h=out))
    model.infer(batch[:32])
    handle.remove()
    axis.imshow(np.abs(seen["h"]) > 0.97, cmap="gray", interpolation="nearest", aspect="auto")
    axis.set(title=f"{init}: white = saturated", xlabel="unit of layer 1", ylabel="example")
plt.show()

# %% [markdown]
# For ReLU the failure is different. ReLU does not saturate, so with naive weights the signal
# **explodes**, multiplied by about $\sqrt{n/2}$ at each layer; Xavier, made for tanh, lets it
# shrink by $\sqrt 2$ at each layer; Kaiming keeps it steady.

# %%
for init in SCALES:
    stats = activation_stats(deep_mlp("relu", init), batch)
    print(f"ReLU, {init:<13} std of each hidden layer's output:",
          ", ".join(f"{s.output.std:.3g}" for s in stats.values()))

# %% [markdown]
# What that does to training: one epoch of each (momentum 0.9, lr 0.01), with a monitor. The
# ReLU network with naive weights gives logits in the thousands and a loss in the billions:
# `fit` stops it before its first steps ruin the weights (`TrainingDivergedError`).

# %%
monitors = {}
for activation, inits in (("tanh", ["naive N(0, 1)", "Xavier"]),
                          ("relu", ["naive N(0, 1)", "Xavier", "Kaiming"])):
    for init in inits:
        model = deep_mlp(activation, init)
        watch = TrainingMonitor(model, every=max(1, STEPS_PER_EPOCH // 8))
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        try:
            for stats in fit(model, data, optimizer, epochs=1, rng=0):
                ratios = [np.mean(r[len(r) // 2:]) for r in watch.update_ratios.values()]
                result = (f"test accuracy {stats.test_acc:.2%}; update-to-data ratios over "
                          f"the second half {min(ratios):.1f} to {max(ratios):.1f}")
        except TrainingDivergedError as error:
            result = f"diverged: {str(error).split(':')[0]}"
        watch.remove()
        monitors[activation, init] = watch
        print(f"{activation}, {init:<13} {result}")

# %% [markdown]
# The tanh network with naive weights still learns a little: the few units that are not
# saturated carry some gradient. Its health picture shows it: at the end of the epoch the
# activations are still piled at ±1 (top left, with the percent saturated in the legend), and
# the update-to-data ratios of the hidden layers' weights (bottom left) sink towards $-4$:
# they barely move. Only the last layer, which no tanh follows, keeps learning at about $-3$.

# %%
show_health(monitors["tanh", "naive N(0, 1)"], "naive_tanh")

# %% [markdown]
# The same network with Xavier weights: the activations spread over (-1, 1), few saturated,
# and every weight's update-to-data ratio stays near $-3$.

# %%
show_health(monitors["tanh", "Xavier"], "xavier_tanh")

# %% [markdown]
# ## 6. Dead ReLUs
#
# A ReLU unit whose input is negative for **every** example outputs 0 for all of them, so its
# gradient is 0 for all of them, and its weights never change again: it is dead. The health
# module counts a unit dead if it is zero for a whole batch; here the batch is the whole test
# set, 10,000 digits (1,000 in the fast mode). Two ways to kill units:
#
# - a **too-large learning rate**: one big step can push a unit's weights to where its input is
#   negative everywhere;
# - a **negative bias**: start the first layer's biases below 0, and the units whose inputs
#   never overcome it start dead.

# %%
def dead_fraction(model):
    """The fraction of TwoLayerMLP's hidden units that are zero on every test image."""
    model.eval()
    dead = activation_stats(model, data.x_test)["relu"].dead
    model.train()
    return dead


def one_epoch(lr=0.05, bias=0.0):
    """TwoLayerMLP with its hidden biases set to `bias`, one epoch at a constant `lr`."""
    rng = np.random.default_rng(0)
    model = TwoLayerMLP(rng=rng)
    model.fc1.b.data[...] = bias
    dead_before = dead_fraction(model)
    optimizer = SGD(model.parameters(), lr=lr, momentum=0.9)
    for stats in fit(model, data, optimizer, epochs=1, rng=rng):
        pass
    return model, dead_before, dead_fraction(model), stats.test_acc


killed = {}
for lr in (0.05, 0.2, 0.5, 1.0):
    model, before, after, accuracy = one_epoch(lr=lr)
    killed[f"lr {lr}"] = (model, after)
    print(f"lr {lr:<4}: dead {after:.0%} of 128 units after one epoch, test accuracy {accuracy:.2%}")
for bias in (-1.0, -2.0):
    model, before, after, accuracy = one_epoch(bias=bias)
    killed[f"bias {bias}"] = (model, after)
    print(f"bias {bias}: dead {before:.0%} at the start, {after:.0%} after one epoch at lr 0.05, "
          f"test accuracy {accuracy:.2%}")

# %% [markdown]
# The hidden layer's outputs on 64 test digits, one column per unit, black where it is 0. A dead
# unit is a whole black column.

# %%
chosen = ["lr 0.05", "lr 0.5", "bias -2.0"]
figure, axes = plt.subplots(1, 3, figsize=(11, 2.8))
for axis, name in zip(axes, chosen):
    model, dead = killed[name]
    hidden = model.relu.forward(model.fc1.forward(data.x_test[:64]))
    axis.imshow(hidden > 0, cmap="gray", interpolation="nearest", aspect="auto")
    axis.set(title=f"{name}: {dead:.0%} dead", xlabel="hidden unit", ylabel="test digit")
plt.show()

# %% [markdown]
# The recipe's rate loses almost nothing, and four times it a tenth of the layer. Rates past
# the lowest point of the range test (0.096 for momentum) kill most of the layer, and the
# accuracy goes with it. A bias of -2 starts with nearly every unit dead and they stay so: no
# gradient ever reaches them, and the few left alive carry the whole network. Hence the usual
# defaults: biases at 0, Kaiming weights, a rate below the range test's blow-up (and, as a
# remedy, LeakyReLU, whose negative side keeps a small slope: `MLP(..., activation="leaky_relu")`).
#
# ## 7. BatchNorm and Dropout
#
# **BatchNorm** normalises each unit's pre-activation over the batch to mean 0 and variance 1,
# then scales and shifts it by two learned parameters; at evaluation it uses running averages
# of the batch statistics. It makes the scale of the weights matter much less. It even rescues
# the naive initialisation of section 5:

# %%
for batchnorm in (False, True):
    stats = activation_stats(deep_mlp("tanh", "naive N(0, 1)", batchnorm=batchnorm), batch)
    print(f"tanh, naive N(0, 1), batchnorm={batchnorm!s:<5}: saturated per layer",
          ", ".join(f"{s.saturated:.0%}" for s in stats.values()))

# %% [markdown]
# **Dropout** zeroes each hidden activation with probability $p$ during training (and scales
# the others by $1/(1-p)$), so that no unit can rely on another: a regulariser. At evaluation
# it does nothing.
#
# Four versions of `MLP([784, 256, 128, 10])`, the recipe for each (momentum 0.9, lr 0.05,
# cosine):

# %%
EPOCHS_BN = 1 if FAST else 8
variants = {"plain": {}, "batchnorm": {"batchnorm": True}, "dropout 0.2": {"dropout": 0.2},
            "both": {"batchnorm": True, "dropout": 0.2}}
histories = {}
for name, options in variants.items():
    rng = np.random.default_rng(0)
    model = MLP([784, 256, 128, 10], rng=rng, **options)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = LRScheduler(optimizer, CosineAnnealingLR(0.05, T_max=EPOCHS_BN * STEPS_PER_EPOCH))
    histories[name] = list(fit(model, data, optimizer, epochs=EPOCHS_BN, rng=rng,
                               scheduler=scheduler))
    last = histories[name][-1]
    print(f"{name:<12} train loss {last.train_loss:.4f}, test loss {last.test_loss:.4f}, "
          f"test accuracy {last.test_acc:.2%}")

figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
for name, history in histories.items():
    epochs = [s.epoch for s in history]
    line, = left.plot(epochs, [s.train_loss for s in history], "--")
    left.plot(epochs, [s.test_loss for s in history], "-", color=line.get_color(), label=name)
    right.plot(epochs, [100 * s.test_acc for s in history], "o-", label=name)
left.set(xlabel="epoch", ylabel="loss", yscale="log",
         title="training (dashed) and test (solid) loss")
right.set(xlabel="epoch", ylabel="test accuracy (%)", title="test accuracy")
left.legend()
plt.show()

# %% [markdown]
# Read the dashed against the solid lines. Without Dropout the training loss (measured on the
# fly, during the epoch) falls far below the test loss: the network is memorising the training
# set. Dropout keeps the two close (its training loss is measured with units dropped, so it
# sits higher). BatchNorm gives the best test accuracy over the first epochs. On MNIST, with
# a cosine schedule, all four end within about a tenth of a
# percentage point of each other, though the regularised ones end with the lower test
# losses: the regularisers matter more on smaller data sets and longer runs (exercise 3).
#
# ## Exercises
#
# 1. Run the range test for RMSprop (`deeplearning.RMSprop`) and train with the rate it finds.
# 2. Train the ReLU network of section 5 with naive weights and **Adam**: does Adam's
#    per-parameter scaling save it?
# 3. Train the four networks of section 7 on 5,000 training images for 30 epochs. Which
#    overfits, and what do Dropout and BatchNorm change?
# 4. Kill half of TwoLayerMLP's hidden units with a bias, then train with
#    `MLP([784, 128, 10], activation="leaky_relu")` instead: how many units stay silent?
#
# <details><summary>Solutions</summary>
#
# 1. `range_test(lambda params, lr: RMSprop(params, lr=lr), 1e-6, 1.0)`: its curve lies close
#    to Adam's, since both divide by the root of the running squared gradient; a rate around
#    $10^{-3}$ trains well.
# 2. Adam's first step moves every weight by about its rate whatever its gradient, which is
#    tiny next to N(0, 1) weights: the logits stay in the thousands and the loss stays huge
#    (`fit` may stop it). The scale of the initial weights is not an optimizer's problem;
#    fix the initialisation, or add BatchNorm.
# 3. `data._replace(x_train=data.x_train[:5000], y_train=data.y_train[:5000])` then the loop
#    of section 7 with 30 epochs. The plain network's test loss turns upwards after a few
#    epochs while its training loss goes to 0; Dropout delays and damps the rise. Plot
#    `histories` the same way.
# 4. Set `layer.b.data[...] = -1.5` on the first Linear of each. A LeakyReLU unit always passes
#    $0.01$ of its negative input, so its gradient is never exactly 0 and it can come back; the
#    health module counts dead units of `ReLU` only, so measure it from the pre-activations
#    (`(pre > 0).any(axis=0)`).
#
# </details>
