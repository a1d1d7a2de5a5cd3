"""One picture of a training run: learning curves, confusion matrix, weights, mistakes.

Needs matplotlib (in the ``train`` extra): ``python -m pip install "deeplearning[train]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import atomic_write
from ..core.bases import Conv2dBase
from ..core.module import Module
from ..core.types import Array, PathLike
from ..training.loop import EpochStats
from ..training.metrics import confusion_matrix

PLOT_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
"""The file formats a plot is written in, by the suffix that chooses them: those that any
matplotlib writes and whose files can be told apart (see `cli.outputs`)."""


def plot_format(path: PathLike) -> str:
    """The format ``path``'s suffix asks for (any case), or a ValueError naming the ones
    there are: a plot is checked before it is drawn, not after."""
    name = Path(path).name
    suffix = Path(path).suffix.lower()
    if suffix not in PLOT_FORMATS or not Path(path).stem:
        raise ValueError(
            f"cannot write a plot to {name!r}: end the name with one of {', '.join(PLOT_FORMATS)}"
        )
    return PLOT_FORMATS[suffix]


def require_matplotlib() -> Any:
    """The ``matplotlib.pyplot`` module (on the file-only Agg backend), or a clear error."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib, which is not installed. Install it with:\n"
            '    python -m pip install "deeplearning[train]"     (or: pip install matplotlib)'
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training(
    path: PathLike,
    history: Sequence[EpochStats],
    model: Module,
    x_test: Array,
    y_test: Array,
    predictions: Array,
    classes: Sequence[str],
) -> None:
    """Save a picture (PNG, SVG or PDF, as ``path`` ends) with four panels (six for a
    convolutional network).

    1. learning curves: train loss, train and test accuracy per epoch;
    2. the test confusion matrix;
    3. the first layer's weights: for an MLP, the first Linear's, one 28x28 tile per hidden
       unit (the first 32); for a CNN, the first convolution's filters;
    4. up to 12 misclassified test images, with true and predicted labels;
    5. (a CNN) the feature maps of the first test image after each convolution.

    ``predictions`` are the model's labels for ``x_test``; ``x_test`` holds 784 features or
    (C, 28, 28) images.

    Raises
    ------
    ValueError
        If ``path`` does not end in one of `PLOT_FORMATS` (checked before anything is drawn).
    """
    file_format = plot_format(path)
    plt = require_matplotlib()
    layers = getattr(model, "layers", [])  # a Sequential's: LeNet5, MLP
    convolutions = [layer for layer in layers if isinstance(layer, Conv2dBase)]
    rows = 3 if convolutions else 2
    figure = plt.figure(figsize=(14, 5 * rows), layout="constrained")
    panels = figure.subfigures(rows, 2, height_ratios=[1] * rows)
    _curves(panels[0, 0], history)
    _confusion(panels[0, 1], confusion_matrix(y_test, predictions, len(classes)), classes)
    if convolutions:
        filters = convolutions[0].weight.data[:32, 0]  # (O, kh, kw): each filter's first channel
        _tiles(panels[1, 0], filters, "first convolution's filters", cmap="RdBu")
    else:
        first = next(p for _, p in model.named_parameters() if p.ndim == 2)  # the first W
        units = first.data.T[:32]
        _tiles(panels[1, 0], units, "first-layer weights (hidden units 1-32)", cmap="RdBu")
    wrong = np.flatnonzero(predictions != y_test)[:12]
    titles = [f"true {classes[y_test[i]]}\nsaid {classes[predictions[i]]}" for i in wrong]
    _tiles(panels[1, 1], x_test[wrong], "misclassified test images", cmap="gray_r", titles=titles)
    if convolutions:
        maps = feature_maps(model, x_test[0])
        for panel, (k, image_maps) in zip(panels[2], enumerate(maps[:2], 1)):
            _tiles(panel, image_maps[:16], f"test image 0 after convolution {k}", cmap="viridis")
    with atomic_write(path) as stream:
        figure.savefig(stream, format=file_format, dpi=80)
    plt.close(figure)


def feature_maps(model: Module, image: Array) -> list[Array]:
    """The output (C, OH, OW) of each convolution of a `Sequential` model (its ``layers``) for
    one ``image``, on either path: the layers run one by one, in evaluation mode."""
    was_training = model.training
    model.eval()
    maps, x = [], image[np.newaxis]
    try:
        for layer in getattr(model, "layers", []):
            x = layer.infer(x)
            if isinstance(layer, Conv2dBase):
                maps.append(x[0])
    finally:
        model.train(was_training)
    return maps


def _curves(panel: Any, history: Sequence[EpochStats]) -> None:
    epochs = [stats.epoch for stats in history]
    loss_axes, acc_axes = panel.subplots(1, 2)
    loss_axes.plot(epochs, [stats.train_loss for stats in history], "o-", label="train loss")
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    acc_axes.plot(epochs, [stats.train_acc for stats in history], "o-", label="train")
    acc_axes.plot(epochs, [stats.test_acc for stats in history], "s-", label="test")
    acc_axes.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    acc_axes.legend()
    for axes in (loss_axes, acc_axes):
        axes.grid(alpha=0.3)


def _confusion(panel: Any, matrix: Array, classes: Sequence[str]) -> None:
    axes = panel.subplots()
    axes.imshow(np.log1p(matrix), cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if i == j else "black"
            axes.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    ticks = range(len(classes))
    axes.set_xticks(ticks, [str(c) for c in classes], rotation=90)
    axes.set_yticks(ticks, [str(c) for c in classes])
    axes.set(xlabel="predicted", ylabel="true", title="test confusion matrix")


def _tiles(panel: Any, images: Array, title: str, cmap: str, titles: Sequence[str] = ()) -> None:
    columns = 8 if len(images) > 12 else 4
    rows = max(1, -(-len(images) // columns))
    grid = np.atleast_2d(panel.subplots(rows, columns))
    for k, axes in enumerate(grid.flat):
        axes.axis("off")
        if k < len(images):
            image = images[k].reshape(images[k].shape[-2:] if images[k].ndim > 1 else (28, 28))
            limit = float(np.abs(image).max()) or 1.0
            low = -limit if cmap == "RdBu" else 0.0
            axes.imshow(image, cmap=cmap, vmin=low, vmax=limit)
            if k < len(titles):
                axes.set_title(titles[k], fontsize=8)
    panel.suptitle(title)
