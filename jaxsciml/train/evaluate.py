"""Evaluation of a model over a whole dataset: metrics, sharded over every device."""

from collections.abc import Callable, Mapping

import equinox as eqx
import jax
import numpy as np
from jax.experimental import multihost_utils
from jaxtyping import Array

from jaxsciml import parallel
from jaxsciml.data.base import AbstractBatch, AbstractDataset, AbstractLabelledBatch
from jaxsciml.losses import Metric, as_metric


Measure = Callable[[Array, Array], Array]  # (prediction, target) of one sample -> scalar
_REDUCE = {"sum": np.sum, "max": np.max}


def place(rows: AbstractBatch, mesh):
    """This host's rows of a batch as global arrays on `mesh`: batch-axis fields split over its
    devices, replicated fields copied to each."""
    return parallel.global_batch(rows, mesh, rows.batch_axes())


@eqx.filter_jit
def _statistics(model, metrics: tuple[Metric, ...], batch: AbstractLabelledBatch):
    predictions = batch.predict(model)
    return tuple(jax.vmap(m.statistics)(predictions, batch.target) for m in metrics)


def evaluate(
    model,
    data: AbstractDataset,
    *,
    batch_size: int | None = None,
    metrics: Mapping[str, Metric | Measure] | None = None,
    mesh=None,
) -> dict[str, float]:
    """Each metric of `model` over every sample of `data`.

    **Arguments:**

    - `data`: any `jaxsciml.data.AbstractDataset` whose batches have targets.
    - `batch_size`: samples per batch (default: `data.evaluation_batch_size`, rounded up to a
      multiple of the devices); the last batch is padded by repeating its last sample and the
      padding is left out.
    - `metrics`: `name -> metric`, each a `jaxsciml.losses.Metric` or a per-sample measure
      `(prediction, target) -> scalar` averaged over the samples (default:
      `data.default_metrics`: the mean relative L2 error for grids and sensor views, the pooled
      relative L2 and largest error for a reference solution).
    - `mesh`: a `jax.sharding.Mesh` with a `"data"` axis (default: every device).
    """
    metrics = dict(data.default_metrics if metrics is None else metrics)
    if not metrics:
        raise ValueError(f"{data!r} has no targets to evaluate against; pass labelled data")
    if len(data) == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    mesh = parallel.data_mesh() if mesh is None else mesh
    if batch_size is None:
        devices = mesh.devices.size * jax.process_count()
        batch_size = -(-data.evaluation_batch_size // devices) * devices
    parallel.check_batch_size(batch_size, mesh)
    measures = tuple(as_metric(m) for m in metrics.values())
    model = parallel.replicate_model(model, mesh)
    gathered: list[list[np.ndarray]] = [[] for _ in measures]  # per metric, per batch
    part = (jax.process_index(), jax.process_count())
    local = batch_size // part[1]
    remaining = len(data)
    for rows in data.batches(batch_size, drop_last=False, part=part):
        if not isinstance(rows, AbstractLabelledBatch):
            raise TypeError(f"{data!r} yields {type(rows).__name__}, which has no target")
        valid = min(batch_size, remaining)
        if rows.rows() < local:  # pad this host's rows of the last batch
            rows = rows.padded(local)
        statistics = _statistics(model, measures, place(rows, mesh))
        for values, batches in zip(statistics, gathered):
            values = multihost_utils.process_allgather(values, tiled=True)
            batches.append(np.asarray(values, np.float64)[:valid])
        remaining -= valid
    return {
        name: metric.result(_REDUCE[metric.reduction](np.concatenate(values), axis=0), len(data))
        for name, metric, values in zip(metrics, measures, gathered)
    }
