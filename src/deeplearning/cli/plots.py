"""One picture of a training run: learning curves, confusion matrix, weights, mistakes.

Needs matplotlib (in the ``train`` extra): ``python -m pip install "deeplearning[train]"``.
"""

from __future__ import annotations

import math
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
TILE_ASPECT = 1.5
"""The width of a panel of tiles over its height, which `grid_shape` fits the tiles to."""


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
    """Matplotlib's ``Figure`` class, or a clear error. The pictures are drawn on a ``Figure``
    of their own and saved from it, so pyplot's state is left alone: no backend is chosen, and
    a notebook's inline pictures go on working after one is drawn."""
    try:
        import matplotlib  # noqa: F401  (first: a submodule found in sys.modules would hide it)
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib, which is not installed. Install it with:\n"
            '    python -m pip install "deeplearning[train]"     (or: pip install matplotlib)'
        ) from None
    return Figure


def plot_training(
    path: PathLike,
    history: Sequence[EpochStats],
    model: Module,
    x_test: Array,
    y_test: Array,
    predictions: Array,
    classes: Sequence[str],
) -> None:
    """Save `draw_training`'s picture (PNG, SVG or PDF, as ``path`` ends).

    Raises
    ------
    ValueError
        If ``path`` does not end in one of `PLOT_FORMATS` (checked before anything is drawn).
    """
    file_format = plot_format(path)
    figure = draw_training(history, model, x_test, y_test, predictions, classes)
    with atomic_write(path) as stream:
        figure.savefig(stream, format=file_format, dpi=80)


def draw_training(
    history: Sequence[EpochStats],
    model: Module,
    x_test: Array,
    y_test: Array,
    predictions: Array,
    classes: Sequence[str],
) -> Any:
    """A matplotlib figure of a run, in four panels (seven for a convolutional network):

    1. learning curves: the train and test loss (cross-entropy) and the train and test
       accuracy (in percent, as the console prints them) per epoch;
    2. the test confusion matrix;
    3. the first layer's weights: for an MLP, the first Linear's, one 28x28 tile per hidden
       unit (the first 32); for a CNN, the first convolution's filters; on one colour scale,
       symmetric about 0, with its colour bar;
    4. up to 12 misclassified test images, with true and predicted labels;
    5. (a CNN) the first test image, and its feature maps after each of the first two
       convolutions, each convolution's maps on one colour scale with its colour bar.

    ``predictions`` are the model's labels for ``x_test``; ``x_test`` holds 784 features or
    (C, 28, 28) images. The caller saves the figure (`plot_training` does).
    """
    figure_class = require_matplotlib()
    layers = getattr(model, "layers", [])  # a Sequential's: LeNet5, MLP
    convolutions = [layer for layer in layers if isinstance(layer, Conv2dBase)]
    rows = 3 if convolutions else 2
    figure = figure_class(figsize=(14, 5 * rows), layout="constrained")
    bands = figure.subfigures(rows, 1)
    top, middle = bands[0].subfigures(1, 2), bands[1].subfigures(1, 2)
    _curves(top[0], history)
    _confusion(top[1], confusion_matrix(y_test, predictions, len(classes)), classes)
    if convolutions:
        weight = convolutions[0].weight.data  # (O, C, kh, kw)
        channel = f" (input channel 1 of {weight.shape[1]})" if weight.shape[1] > 1 else ""
        _signed_tiles(middle[0], weight[:32, 0], f"first convolution's filters{channel}")
    else:
        first = next(p for _, p in model.named_parameters() if p.ndim == 2)  # the first W
        units = first.data.T[:32]
        _signed_tiles(middle[0], units, f"first-layer weights (hidden units 1-{len(units)})")
    wrong = np.flatnonzero(predictions != y_test)[:12]
    titles = [f"true {classes[y_test[i]]}\nsaid {classes[predictions[i]]}" for i in wrong]
    _tiles(middle[1], x_test[wrong], cmap="gray_r", titles=titles)
    middle[1].suptitle("misclassified test images")
    if convolutions:
        _feature_maps(bands[2], model, x_test[0], classes[y_test[0]])
    return figure


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
    loss_axes.plot(epochs, [stats.train_loss for stats in history], "o-", label="train")
    tested = [stats for stats in history if stats.test_loss is not None]  # (older records lack it)
    test_losses = [stats.test_loss for stats in tested]
    loss_axes.plot([stats.epoch for stats in tested], test_losses, "s-", label="test")
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    acc_axes.plot(epochs, [100 * stats.train_acc for stats in history], "o-", label="train")
    acc_axes.plot(epochs, [100 * stats.test_acc for stats in history], "s-", label="test")
    acc_axes.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for axes in (loss_axes, acc_axes):
        axes.locator_params(axis="x", integer=True, min_n_ticks=1)  # epochs: 1, not 0.96
        axes.grid(alpha=0.3)
        axes.legend()


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


def _feature_maps(band: Any, model: Module, image: Array, label: str) -> None:
    """The input ``image`` (C, H, W) beside its feature maps after the first two convolutions."""
    maps = feature_maps(model, image)[:2]
    panels = band.subfigures(1, 1 + len(maps), width_ratios=[1] + [3] * len(maps))
    _tiles(panels[0], image[:1], cmap="gray_r")
    panels[0].suptitle(f"test image 0 (true: {label})")
    for panel, (k, image_maps) in zip(panels[1:], enumerate(maps, 1)):
        shown = image_maps[:16]
        which = "its" if len(shown) == len(image_maps) else f"the first {len(shown)} of its"
        _signed_tiles(panel, shown, f"after convolution {k}: {which} {len(image_maps)} maps")


def _signed_tiles(panel: Any, images: Array, title: str) -> None:
    """``images`` as tiles on one colour scale, symmetric about 0 (white), with its colour bar."""
    limit = float(np.abs(images).max()) or 1.0
    grid = _tiles(panel, images, cmap="RdBu", limits=(-limit, limit))
    panel.colorbar(grid[0].images[0], ax=grid, shrink=0.8)
    panel.suptitle(title)


def _tiles(
    panel: Any,
    images: Array,
    cmap: str,
    titles: Sequence[str] = (),
    limits: tuple[float, float] | None = None,
) -> list[Any]:
    """Draw ``images`` (flat 784-vectors or (..., H, W)) in a `grid_shape` grid of axes, one
    per image and no more; return the axes. Without ``limits``, each image is scaled from 0
    to its own largest value."""
    rows, columns = grid_shape(len(images))
    grid = []
    for k, image in enumerate(images):
        axes = panel.add_subplot(rows, columns, k + 1)
        axes.axis("off")
        image = image.reshape(image.shape[-2:] if image.ndim > 1 else (28, 28))
        low, high = limits or (0.0, float(image.max()) or 1.0)
        axes.imshow(image, cmap=cmap, vmin=low, vmax=high)
        if k < len(titles):
            axes.set_title(titles[k], fontsize=8)
        grid.append(axes)
    return grid


def grid_shape(count: int, aspect: float = TILE_ASPECT) -> tuple[int, int]:
    """Rows and columns for ``count`` tiles in a panel about ``aspect`` times as wide as tall:
    the exact fit (rows x columns = count) whose shape is nearest that, if one is within a
    factor of 2 of it; else the nearest grid, whose last row is then short (32 tiles: 4 x 8;
    6: 2 x 3; 16: 4 x 4; 7: 2 x 4)."""
    if count <= 1:
        return 1, 1

    def misfit(rows: int) -> float:
        return abs(math.log(-(-count // rows) / rows / aspect))

    exact = [rows for rows in range(1, count + 1) if count % rows == 0]
    best = min(exact, key=misfit)
    if misfit(best) <= math.log(2):
        return best, count // best
    rows = min(range(1, count + 1), key=misfit)
    return rows, -(-count // rows)
