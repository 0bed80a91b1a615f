"""What a run leaves for a person: an evaluation file and the figures worth looking at.

`jaxsciml train` writes `evaluation.json` (the last epoch's scores on every evaluation set) and
`figures/`: `history.png` (the loss and every metric per epoch) and `<set>.png` (one test
sample: input, truth, prediction and error for grid models; truth, prediction and error over the
query points for point models and physics-informed ones). `jaxsciml evaluate` writes its scores
and a sample figure beside them; `jaxsciml plot RUN` redraws a run's figures.
"""

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jaxsciml.data import Dataset, PointDataset
from jaxsciml.physics.collocation import ReferenceSolution
from jaxsciml.plotting import plot_history, plot_over_points, plot_prediction


FIGURES = "figures"
EVALUATION = "evaluation.json"


def _first_sample(model, data) -> dict:
    """Truth and prediction of `data`'s first sample (every point, for a reference solution)
    with what they live on: `grid` and `inputs` for fields, `points` otherwise."""
    size = len(data) if isinstance(data, ReferenceSolution) else 1
    batch = jax.tree.map(jnp.asarray, next(iter(data.batches(size, drop_last=False))))
    if isinstance(data, ReferenceSolution):
        truth, prediction = np.asarray(batch.target), np.asarray(batch.predict(model))
        return {"points": np.asarray(batch.points), "truth": truth, "prediction": prediction}
    truth, prediction = np.asarray(batch.target)[0], np.asarray(batch.predict(model))[0]
    if isinstance(data, PointDataset):
        return {"points": np.asarray(batch.points), "truth": truth, "prediction": prediction}
    return {"grid": data.grid, "inputs": np.asarray(batch.inputs)[0], "truth": truth,
            "prediction": prediction}  # fmt: skip


def sample_figure(model, data, *, title: str, path: str | os.PathLike) -> None:
    """Save the figure of `data`'s first sample as `model` predicts it (see the module)."""
    sample = _first_sample(model, data)
    truth, prediction = sample["truth"], sample["prediction"]
    if "points" in sample:  # values (P, c): the first output channel over the points
        figure = plot_over_points(sample["points"], truth[:, 0], prediction[:, 0], title=title)
    elif truth.ndim == 2:  # (c, x): a 1-D field
        figure = plot_over_points(sample["grid"][0][:, None], truth[0], prediction[0], title=title)
    else:  # (c, *spatial): 2-D, or the middle slice of the last axis in 3-D
        middle = (Ellipsis, truth.shape[-1] // 2) if truth.ndim == 4 else (Ellipsis,)
        inputs = sample["inputs"][middle]
        figure = plot_prediction(inputs, truth[middle], prediction[middle], title=title)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def history_figure(history: list[dict], path: str | os.PathLike) -> None:
    if history:
        plt.close(plot_history(history, path=path))


def scores_by_set(record: dict) -> dict:
    """`{"test": {"relative_l2": ...}, ...}` from a history record's `"test.relative_l2"` keys."""
    scores: dict = {}
    for key, value in record.items():
        if "." in key:
            name, metric = key.split(".", 1)
            scores.setdefault(name, {})[metric] = value
    return scores


def write_run_report(run_dir: Path, model, evaluation_sets: dict, history: list[dict]) -> None:
    """A trained run's `evaluation.json` and `figures/` (see the module)."""
    figures = run_dir / FIGURES
    figures.mkdir(exist_ok=True)
    if history:
        last = history[-1]
        record = {"epoch": last["epoch"], "step": last["step"], **scores_by_set(last)}
        (run_dir / EVALUATION).write_text(json.dumps(record, indent=1) + "\n")
    history_figure(history, figures / "history.png")
    for name, data in evaluation_sets.items():
        sample_figure(model, data, title=f"{run_dir.name}: {name}", path=figures / f"{name}.png")


def read_history(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_evaluation(
    out: Path, name: str, scores: dict, model, data: Dataset, model_name: str
) -> Path:
    """`evaluate`'s record: `out/evaluation-<name>.json` and `out/figures/evaluate-<name>.png`,
    titled `<model_name> on <name>`."""
    (out / FIGURES).mkdir(parents=True, exist_ok=True)
    path = out / f"evaluation-{name}.json"
    path.write_text(json.dumps(scores, indent=1) + "\n")
    figure = out / FIGURES / f"evaluate-{name}.png"
    sample_figure(model, data, title=f"{model_name} on {name}", path=figure)
    return path
