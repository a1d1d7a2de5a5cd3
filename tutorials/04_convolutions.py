# %% [markdown]
# # Chapter 4: Convolutions
#
# **What you will learn**
#
# - how a convolution becomes one matrix product (im2col), drawn on a 5x5 image, and checked
#   against a plain loop;
# - how to train LeNet-5 on MNIST with the library's `fit`, to about 99% test accuracy;
# - what the trained network looks at: its first filters, and the feature maps of a digit;
# - where a training step's time goes, layer by layer and inside a convolution.
#
# Training LeNet-5 takes 20 to 40 seconds per epoch of 60,000 images on one CPU core of this
# project's shared 2-core machine; the chapter trains for three. With `DEEPLEARNING_FAST=1`
# it trains on 2,000 images for one epoch, for the tests.

# %%
import os
import platform
import time

import matplotlib.pyplot as plt
import numpy as np

from deeplearning import SGD, Conv2d, CrossEntropyLoss, LeNet5, ReLU
from deeplearning.core.windows import col2im, im2col
from deeplearning.data.datasets import load_mnist
from deeplearning.optim.lr_scheduler import CosineAnnealingLR, LRScheduler
from deeplearning.training.loop import blas_threads, fit

FAST = os.environ.get("DEEPLEARNING_FAST") == "1"
plt.rcParams.update({"figure.dpi": 80})


def annotate(axis, values, fmt="{:g}"):
    """Write each entry of a small matrix on its cell of an image."""
    for (i, j), value in np.ndenumerate(values):
        axis.text(j, i, fmt.format(value), ha="center", va="center", fontsize=8, color="red")

# %% [markdown]
# ## 1. im2col, drawn on a small image
#
# A convolution layer slides a small kernel over the image and, at each position, takes the
# sum of the products of the kernel with the pixels under it. (What deep-learning libraries
# call convolution is, strictly, cross-correlation: the kernel is not flipped.) For a kernel of
# $k_h \times k_w$, stride $s$ and padding $p$, an $H \times W$ image gives an output of
#
# $$OH = \left\lfloor \frac{H + 2p - k_h}{s} \right\rfloor + 1, \qquad
#   OW = \left\lfloor \frac{W + 2p - k_w}{s} \right\rfloor + 1 .$$
#
# A 5x5 image whose pixels are numbered 0 to 24, so that you can follow them, and a 3x3 kernel
# that responds to a change from left to right:

# %%
image = np.arange(25, dtype=np.float64).reshape(5, 5)
image[:, 3:] += 10                             # a step between columns 2 and 3: an edge
kernel = np.array([[-1.0, 0.0, 1.0]] * 3)      # right minus left

# the definition: one window at a time
loop = np.zeros((3, 3))
for i in range(3):
    for j in range(3):
        loop[i, j] = np.sum(image[i:i + 3, j:j + 3] * kernel)
print("by the loop:\n", loop)

# %% [markdown]
# **im2col** ("image to columns") copies each window into a column of a matrix: 9 windows,
# each of 9 pixels, make a 9x9 matrix. Then the kernel, flattened to a row, times that matrix
# gives every output at once: one matrix product, which BLAS computes far faster than any loop.
# `deeplearning.core.windows.im2col` takes a batch of images (N, C, H, W) and returns
# (C kh kw, N OH OW).

# %%
columns = im2col(image[None, None], (3, 3), stride=(1, 1), padding=(0, 0))
product = (kernel.reshape(1, -1) @ columns).reshape(3, 3)
print("columns:", columns.shape, "  the product equals the loop:", np.array_equal(product, loop))

layer = Conv2d(1, 1, 3, bias=False, dtype=np.float64)     # the library's layer
layer.weight.data[...] = kernel
print("Conv2d equals the loop:", np.array_equal(layer.forward(image[None, None])[0, 0], loop))

figure, axes = plt.subplots(1, 4, figsize=(13, 3.6), width_ratios=[5, 3, 9, 3])
for axis, values, title in zip(
    axes, [image, kernel, columns, product],
    ["image (5x5)", "kernel (3x3)", "im2col: one window per column (9x9)",
     "kernel row @ columns"],
):
    axis.imshow(values, cmap="Greys")
    annotate(axis, values)
    axis.set_title(title, fontsize=10)
    axis.set_xticks([])
    axis.set_yticks([])
axes[2].set_xlabel("window (i, j), row by row")
axes[2].set_ylabel("pixel of the window")
plt.show()

# %% [markdown]
# Column 0 is the top-left window (pixels 0, 1, 2, 5, 6, 7, 10, 11, 12); column 1 is the
# window one step to the right. The price is memory: each pixel is copied into every window
# that holds it, up to $k_h k_w$ times. For LeNet-5's first layer, 5x5 kernels with padding 2
# on a batch of 64 digits, the matrix holds 25 x (64 x 28 x 28) = 1,254,400 numbers, 25 times
# the batch.
#
# The backward pass needs the adjoint, **col2im**: it adds each column back onto the pixels it
# was copied from, so a pixel read by several windows receives the sum of their gradients.
# Applied to a matrix of ones, it counts how many windows read each pixel:

# %%
counts = col2im(np.ones_like(columns), (1, 1, 5, 5), (3, 3), stride=(1, 1), padding=(0, 0))
print(counts[0, 0])
# the adjoint's defining property: <im2col(x), c> = <x, col2im(c)>
rng = np.random.default_rng(0)
x, c = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((3 * 9, 2 * 4 * 4))
print("adjoint:", np.isclose(np.sum(im2col(x, (3, 3), (1, 1), (0, 0)) * c),
                             np.sum(x * col2im(c, x.shape, (3, 3), (1, 1), (0, 0)))))

# %% [markdown]
# With several input channels, a column holds the window of every channel ($C k_h k_w$ rows);
# with several kernels, the flattened kernels are the rows of a matrix (O, $C k_h k_w$), and
# the product gives every output channel of every image of the batch in one call. That is all
# of `Conv2d.forward`. Its backward is two more products and a col2im:
#
# $$\frac{\partial L}{\partial W} = G\, \mathrm{cols}^\top, \qquad
#   \frac{\partial L}{\partial x} = \mathrm{col2im}(W^\top G),$$
#
# with $G$ the gradient of the output laid out as (O, N OH OW).
#
# ## 2. LeNet-5 on MNIST
#
# Yann LeCun's network (1998), with today's ReLU and max-pooling: two convolutions of 5x5
# filters (6, then 16 channels), each followed by ReLU and 2x2 max-pooling, then three
# Linear layers (120, 84, 10). With BatchNorm after each convolution and hidden Linear, and
# Dropout in the head, as the README's run: `python -m deeplearning train --model lenet5
# --batchnorm --dropout 0.1 --weight-decay 5e-4` reaches 99.24% after 5 epochs. We train 3.
#
# The images now stay images: `load_mnist(flatten=False)` gives (N, 1, 28, 28).

# %%
data = load_mnist("mnist", flatten=False)
if FAST:
    data = data._replace(x_train=data.x_train[:2000], y_train=data.y_train[:2000],
                         x_test=data.x_test[:1000], y_test=data.y_test[:1000])
EPOCHS = 1 if FAST else 3
steps = EPOCHS * -(-len(data.x_train) // 64)

rng = np.random.default_rng(0)                  # the weights, then the shuffling
model = LeNet5(batchnorm=True, dropout=0.1, rng=rng)
print(model)
print(f"{model.num_parameters():,} parameters; {len(data.x_train):,} training images")
optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
scheduler = LRScheduler(optimizer, CosineAnnealingLR(0.05, T_max=steps))
history = []
for stats in fit(model, data, optimizer, epochs=EPOCHS, rng=rng, scheduler=scheduler):
    print(stats)
    history.append(stats)
print(f"test accuracy after {EPOCHS} epochs: {stats.test_acc:.2%} "
      "(the README: 99.24% after 5 epochs, with the cosine spread over 5)")

# %% [markdown]
# Against chapter 2's two-layer perceptron (97.89% after 5 epochs, so 2.11% wrong), the
# convolutional network makes well under half as many mistakes after 3 epochs, with fewer
# parameters (62,158 against 101,770): a filter is the same few weights applied at every
# position, and pooling makes the features a little insensitive to where exactly a stroke
# lies.
#
# ## 3. Filters and feature maps
#
# The first layer's six 5x5 filters, as images (red positive, blue negative):

# %%
weights = model[0].weight.data[:, 0]                 # (6, 5, 5)
limit = np.abs(weights).max()
figure, axes = plt.subplots(1, 6, figsize=(10, 2), layout="constrained")
for k, axis in enumerate(axes):
    shown = axis.imshow(weights[k], cmap="bwr", vmin=-limit, vmax=limit)
    axis.set_title(f"filter {k}", fontsize=9)
    axis.axis("off")
figure.colorbar(shown, ax=axes, shrink=0.8)
plt.show()

# %% [markdown]
# The feature maps of one test digit: the output of each convolution block after its ReLU,
# caught with forward hooks (`register_forward_hook`, the same as PyTorch's) while the model
# predicts, in evaluation mode.

# %%
relus = [i for i in range(len(model)) if isinstance(model[i], ReLU)][:2]
maps = {}
handles = [model[i].register_forward_hook(lambda m, args, out, i=i: maps.__setitem__(i, out))
           for i in relus]
digit, label = data.x_test[:1], data.y_test[0]
model.eval()
logits = model.infer(digit)
model.train()
for handle in handles:
    handle.remove()
print(f"label {label}, predicted {logits.argmax()}; maps:",
      ", ".join(str(maps[i].shape) for i in relus))

figure = plt.figure(figsize=(12, 4.2), layout="constrained")
left, right = figure.subfigures(1, 2, width_ratios=[1, 4])
axis = left.subplots()
axis.imshow(digit[0, 0], cmap="gray_r")
axis.set_title(f"the digit (label {label})")
axis.axis("off")
grid = right.subplots(3, 8)
for axis in grid.flat:
    axis.axis("off")
for k in range(6):
    grid[0, k].imshow(maps[relus[0]][0, k], cmap="viridis")
    grid[0, k].set_title(f"conv1 {k}", fontsize=8)
for k in range(16):
    axis = grid[1 + k // 8, k % 8]
    axis.imshow(maps[relus[1]][0, k], cmap="viridis")
    axis.set_title(f"conv2 {k}", fontsize=8)
plt.show()

# %% [markdown]
# The first layer's maps are the digit seen through each filter, 28x28: edges of one
# orientation or another, light or dark strokes. The second layer's, 10x10 after the first
# pooling, combine them into larger parts; after the second pooling, 16 maps of 5x5 go to the
# Linear layers.
#
# ## 4. Where the time goes
#
# A training step, timed layer by layer, on a batch of 64: each layer's `forward` in order,
# then each one's `backward` in reverse (the first layer's `backward_params`, which skips the
# gradient of the input, as `Sequential` does in training). Each time is the median of
# several steps, with `time.perf_counter`, BLAS on one thread.

# %%
REPEATS = 3 if FAST else 30


def median_ms(function, repeats=REPEATS):
    function()                                        # a warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


layers = [model[i] for i in range(len(model))]
names = [f"{i} {type(layer).__name__}" for i, layer in enumerate(layers)]
x_batch, y_batch = data.x_train[:64], data.y_train[:64]
loss_fn = CrossEntropyLoss()
forward_times = np.zeros((REPEATS, len(layers)))
backward_times = np.zeros((REPEATS, len(layers)))
inputs = {}
with blas_threads(1):
    for r in range(REPEATS + 1):                 # the first, a warm-up, is not kept
        h = x_batch
        for i, layer in enumerate(layers):
            inputs[i] = h
            start = time.perf_counter()
            h = layer.forward(h)
            forward_times[r - 1, i] = time.perf_counter() - start
        loss_fn.forward(h, y_batch)
        g = loss_fn.backward()
        for i in reversed(range(len(layers))):
            start = time.perf_counter()
            g = layers[i].backward(g) if i else layers[i].backward_params(g)
            backward_times[r - 1, i] = time.perf_counter() - start
forward_ms = 1000 * np.median(forward_times, axis=0)
backward_ms = 1000 * np.median(backward_times, axis=0)
total = forward_ms.sum() + backward_ms.sum()
print(f"one step of 64 images: {total:.1f} ms (forward {forward_ms.sum():.1f}, backward "
      f"{backward_ms.sum():.1f}); on {platform.machine()}, {os.cpu_count()} cores, "
      f"NumPy {np.__version__}, BLAS on one thread")
for name, f, b in sorted(zip(names, forward_ms, backward_ms), key=lambda t: -(t[1] + t[2]))[:6]:
    print(f"  {name:<14} forward {f:6.2f} ms  backward {b:6.2f} ms  ({(f + b) / total:.0%})")

positions = np.arange(len(layers))
figure, axis = plt.subplots(figsize=(8, 4.5))
axis.barh(positions, forward_ms, label="forward")
axis.barh(positions, backward_ms, left=forward_ms, label="backward")
axis.set_yticks(positions, names)
axis.invert_yaxis()
axis.set_xlabel("milliseconds per batch of 64 (median)")
axis.set_title("LeNet-5, one training step, layer by layer")
axis.legend()
plt.show()

# %% [markdown]
# The convolutions, their BatchNorms and the max-poolings hold nearly all the time; the three
# Linear layers, which have most of the parameters, are a sliver: their matrices are small and
# their inputs are only 400 numbers per image.
#
# **Memory layout** matters to the rest. A convolution's output comes out of its matrix
# product channel by channel in memory (an (O, N, OH, OW) array seen as (N, O, OH, OW)); the
# gradient that comes back from ReLU and max-pooling is laid out image by image, the usual
# (N, C, H, W) order. BatchNorm2d takes each channel's statistics over N, H and W, whatever the
# layout: it sums over those axes where the numbers lie. (An earlier version first copied the
# images into rows of C = 6 numbers, one row per pixel, and took 9 ms instead of 0.5 on the
# layout as it comes; this chapter's measurement found it.) The same backward pass, on the
# same gradient in both layouts:

# %%
norm, relu, pool = layers[1], layers[2], layers[3]
pooled = pool.forward(relu.forward(norm.forward(inputs[1])))
upstream = rng.standard_normal(pooled.shape).astype(np.float32)
gradient = relu.backward(pool.backward(upstream))       # as it reaches BatchNorm2d
channel_major = np.ascontiguousarray(gradient.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
print("the same numbers:", np.array_equal(gradient, channel_major),
      " strides in bytes:", gradient.strides, "and", channel_major.strides)
with blas_threads(1):
    as_it_comes = median_ms(lambda: norm.backward(gradient))
    rearranged = median_ms(lambda: norm.backward(channel_major))
difference = np.abs(norm.backward(gradient) - norm.backward(channel_major)).max()
print(f"BatchNorm2d backward: {as_it_comes:.2f} ms on the gradient as it comes "
      f"(image by image), {rearranged:.2f} ms on the same numbers channel by channel "
      f"(results equal to {difference:.0e}, float32 rounding)")

# %% [markdown]
# Inside a convolution: the same step, split into the operations of section 1, for each of
# the two convolutions, on their inputs of this batch. The forward pass is an im2col and a
# product; the backward, a product for the weights' gradient and, except for the first
# layer, a product and a col2im for the input's.

# %%
convolutions = [i for i, layer in enumerate(layers) if isinstance(layer, Conv2d)]
parts = {}
with blas_threads(1):
    for i in convolutions:
        conv, x_in = layers[i], inputs[i]
        k, s, p = conv.kernel_size, conv.stride, conv.padding
        cols = im2col(x_in, k, s, p)
        w = conv.weight.data.reshape(conv.out_channels, -1)
        g = np.ones((conv.out_channels, cols.shape[1]), dtype=cols.dtype)
        split = {"im2col": median_ms(lambda: im2col(x_in, k, s, p)),
                 "W @ cols": median_ms(lambda: w @ cols),
                 "G @ colsᵀ": median_ms(lambda: g @ cols.T)}
        if i != 0:
            split["Wᵀ @ G"] = median_ms(lambda: w.T @ g)
            split["col2im"] = median_ms(lambda: col2im(w.T @ g, x_in.shape, k, s, p))
            split["col2im"] -= split["Wᵀ @ G"]        # it was timed with its product
        parts[f"conv {i}: {x_in.shape[1]}→{conv.out_channels} channels, cols {cols.shape}"] = split

figure, axes = plt.subplots(1, len(parts), figsize=(11, 3), layout="constrained")
for axis, (name, split) in zip(np.atleast_1d(axes), parts.items()):
    axis.barh(list(split), list(split.values()), color="tab:green")
    axis.invert_yaxis()
    axis.set_title(name, fontsize=9)
    axis.set_xlabel("ms per batch of 64")
    print(name + ": " + ", ".join(f"{part} {ms:.2f} ms" for part, ms in split.items()))
plt.show()

# %% [markdown]
# These numbers are this machine's, on one BLAS thread, and a shared virtual machine's timings
# vary from run to run; what carries over is the shape. The matrix products are not the whole
# story: im2col and col2im only move memory, with no arithmetic, yet in the second
# convolution col2im takes about as long as any of its products, and in the first im2col takes
# more than half as long as the forward product. PyTorch avoids most of that copying with
# convolution kernels written for the purpose (and, on a GPU, cuDNN);
# `python -m deeplearning bench --cnn` compares the two, epoch for epoch.
#
# ## Exercises
#
# 1. Use `im2col` with `stride=(2, 2)` and `padding=(1, 1)` on the 5x5 image: what shape is
#    the column matrix, and does the formula for $OH$ agree?
# 2. Write max-pooling with im2col: windows of 2x2, stride 2, then the maximum of each column.
#    Check it against `deeplearning.MaxPool2d`.
# 3. Train LeNet-5 without BatchNorm and Dropout (`LeNet5(rng=0)`) for the same epochs: how
#    much accuracy do they buy, and how much time do they cost per epoch?
# 4. Show the feature maps of a digit the network gets wrong (compare `model.predict` with the
#    labels of the test set).
#
# <details><summary>Solutions</summary>
#
# 1. `im2col(image[None, None], (3, 3), (2, 2), (1, 1)).shape` is (9, 9): $OH = \lfloor (5 +
#    2 - 3)/2 \rfloor + 1 = 3$, so 3 x 3 windows, each of 9 pixels (those outside the image are
#    zeros).
# 2. For images (N, C, H, W), `cols = im2col(x.reshape(N * C, 1, H, W), (2, 2), (2, 2), (0,
#    0))` has one column per window; `cols.max(axis=0).reshape(N, C, H // 2, W // 2)` equals
#    `MaxPool2d(2).forward(x)`.
# 3. The same `fit` loop with `LeNet5(rng=rng)`: without them it still reaches about 99%, a
#    little lower; each epoch is faster by the BatchNorm layers' share of the bar chart above.
# 4. `wrong = np.flatnonzero(model.predict(data.x_test) != data.y_test)`, then rerun the cells
#    of section 3 with `digit = data.x_test[wrong[:1]]`.
#
# </details>
