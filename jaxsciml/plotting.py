"""Figures a person would rather look at than read: input, truth, prediction and error."""

import matplotlib.pyplot as plt
import numpy as np


def plot_prediction(inputs, truth, prediction, *, title: str = "", path=None):
    """A row of four panels for one 2-D sample: input (first channel), truth, prediction and
    pointwise error, each `(channels, ny, nx)` or `(ny, nx)`. Saves a PNG when `path` is given.

    **Returns:** the matplotlib figure.
    """
    first = lambda a: np.asarray(a)[0] if np.ndim(a) == 3 else np.asarray(a)
    inputs, truth, prediction = first(inputs), first(truth), first(prediction)
    error = prediction - truth
    relative = np.linalg.norm(error) / np.linalg.norm(truth)
    figure, axes = plt.subplots(1, 4, figsize=(14, 3.4), constrained_layout=True)
    limits = dict(vmin=truth.min(), vmax=truth.max())  # the truth's range: a wild prediction
    # saturates rather than flattening the truth, and the error panel shows how far it is off
    panels = [
        ("input a", inputs, {"cmap": "viridis"}),
        ("truth u", truth, {"cmap": "magma", **limits}),
        ("prediction", prediction, {"cmap": "magma", **limits}),
        (f"error (relative L2 {relative:.3g})", error, {"cmap": "RdBu_r"}),
    ]
    for axis, (name, field, style) in zip(axes, panels):
        if name.startswith("error"):
            bound = np.abs(field).max()
            style = {**style, "vmin": -bound, "vmax": bound}
        image = axis.imshow(field.T, origin="lower", extent=(0, 1, 0, 1), **style)
        axis.set_title(name)
        axis.set_xticks([])
        axis.set_yticks([])
        figure.colorbar(image, ax=axis, shrink=0.85)
    if title:
        figure.suptitle(title)
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure


def plot_history(history, *, path=None):
    """Training loss and every evaluation metric against the epoch, on a log scale."""
    figure, axis = plt.subplots(figsize=(6, 4), constrained_layout=True)
    epochs = [record["epoch"] for record in history]
    keys = ["train_loss"] + sorted({k for r in history for k in r if "." in k})
    for key in keys:
        points = [(r["epoch"], r[key]) for r in history if key in r]
        if points:
            axis.semilogy(*zip(*points), label=key, marker="." if len(points) < 30 else None)
    axis.set_xlabel("epoch")
    axis.set_xlim(min(epochs), max(epochs) if len(epochs) > 1 else min(epochs) + 1)
    axis.legend()
    axis.grid(True, which="both", alpha=0.3)
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure


def plot_over_points(points, truth, prediction, *, title: str = "", path=None):
    """Truth, prediction and their difference over points `(P, d)` (values `(P,)`): curves
    for `d = 1`, coloured points for `d = 2`, and prediction against truth for more axes.
    Saves a PNG when `path` is given.

    **Returns:** the matplotlib figure.
    """
    points, truth, prediction = (np.asarray(a, np.float64) for a in (points, truth, prediction))
    error = prediction - truth
    relative = np.linalg.norm(error) / np.linalg.norm(truth)
    label = f"error (relative L2 {relative:.3g})"
    dimension = points.shape[1]
    if dimension == 1:
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
        order = np.argsort(points[:, 0])
        x = points[order, 0]
        top.plot(x, truth[order], label="truth")
        top.plot(x, prediction[order], "--", label="prediction")
        top.legend()
        bottom.plot(x, error[order], color="C3")
        bottom.set_title(label)
        bottom.set_xlabel("x")
    elif dimension == 2:
        figure, axes = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
        limits = dict(vmin=truth.min(), vmax=truth.max())  # as in `plot_prediction`
        bound = np.abs(error).max()
        panels = [
            ("truth", truth, {"cmap": "magma", **limits}),
            ("prediction", prediction, {"cmap": "magma", **limits}),
            (label, error, {"cmap": "RdBu_r", "vmin": -bound, "vmax": bound}),
        ]
        for axis, (name, values, style) in zip(axes, panels):
            image = axis.scatter(points[:, 0], points[:, 1], c=values, s=6, **style)
            axis.set_title(name)
            axis.set_aspect("equal")
            figure.colorbar(image, ax=axis, shrink=0.85)
    else:
        figure, axis = plt.subplots(figsize=(4.5, 4.5), constrained_layout=True)
        axis.plot(truth, prediction, ".", markersize=3)
        span = [min(truth.min(), prediction.min()), max(truth.max(), prediction.max())]
        axis.plot(span, span, "k--", linewidth=1)
        axis.set_xlabel("truth")
        axis.set_ylabel("prediction")
        axis.set_title(label)
    if title:
        figure.suptitle(title)
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure
