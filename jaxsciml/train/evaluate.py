"""Losses for `fit` and evaluation of a model over a whole dataset."""

from collections.abc import Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jaxtyping import Array, Float

from jaxsciml import parallel
from jaxsciml.data.dataset import Batch, Dataset
from jaxsciml.data.points import PointBatch, PointDataset
from jaxsciml.losses import batch_mean, mse, relative_l2
from jaxsciml.physics.collocation import ReferenceSolution


Measure = Callable[[Array, Array], Array]  # (prediction, target) of one sample -> scalar


def relative_l2_loss(model, batch: Batch | PointBatch, key) -> Float[Array, ""]:
    """The default training loss: mean over the batch of each sample's relative L2 error of
    `batch.predict(model)` against `batch.target` (the FNO papers' loss, averaged instead of
    summed). Grid batches go through `jaxsciml.nn.apply_batch`, point batches through
    `model.evaluate(sensors, points)`."""
    del key
    return batch_mean(relative_l2, batch.predict(model), batch.target)


def mse_loss(model, batch: Batch | PointBatch, key) -> Float[Array, ""]:
    """Mean squared error of `batch.predict(model)` against `batch.target` over every value of
    the batch (DeepONet's and DeepXDE's default loss)."""
    del key
    return batch_mean(mse, batch.predict(model), batch.target)


@eqx.filter_jit
def _per_sample(model, measures: tuple[Measure, ...], batch):
    predictions = batch.predict(model)
    return jnp.stack([jax.vmap(m)(predictions, batch.target) for m in measures])


def _pad_rows(rows, size: int):
    """`rows` with its batch-axis fields padded to `size` rows by repeating the last row."""

    def pad(x):
        if not x.shape[0]:
            return np.zeros((size, *x.shape[1:]), x.dtype)
        return np.concatenate([x, np.repeat(x[-1:], size - x.shape[0], axis=0)])

    return rows._replace(
        **{f: pad(getattr(rows, f)) for f in rows._fields if f not in type(rows).SHARED}
    )


def evaluate(
    model,
    data: Dataset | PointDataset | ReferenceSolution,
    *,
    batch_size: int = 20,
    metrics: Mapping[str, Measure] | None = None,
    mesh=None,
) -> dict[str, float]:
    """Mean over every sample of `data` of each per-sample measure in `metrics`.

    The default metric is `{"relative_l2": jaxsciml.losses.relative_l2}`. Batches are sharded over
    `mesh` (default: every device); the last batch is padded by repeating its last sample and the
    padding is left out of the means.

    A `jaxsciml.physics.ReferenceSolution` is one field sampled at many points: it reports
    its own measures over all points (`relative_l2` and `max_abs_error`), and `metrics` must be
    `None`.
    """
    if isinstance(data, ReferenceSolution):
        if metrics is not None:
            raise ValueError("a ReferenceSolution reports its own metrics; pass metrics=None")
        return data.evaluate(model, mesh=mesh)
    metrics = {"relative_l2": relative_l2} if metrics is None else dict(metrics)
    if len(data) == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    mesh = parallel.data_mesh() if mesh is None else mesh
    parallel.check_batch_size(batch_size, mesh)
    measures = tuple(metrics.values())
    model = parallel.replicate_model(model, mesh)
    totals = np.zeros(len(measures))
    part = (jax.process_index(), jax.process_count())
    local = batch_size // part[1]
    remaining = len(data)
    for rows in data.batches(batch_size, drop_last=False, part=part):
        valid = min(batch_size, remaining)
        if len(rows.target) < local:  # pad this host's rows of the last batch
            rows = _pad_rows(rows, local)
        batch = parallel.global_batch(rows, mesh)
        errors = _per_sample(model, measures, batch)
        errors = np.asarray(multihost_utils.process_allgather(errors, tiled=True))
        totals += errors[:, :valid].sum(axis=1)
        remaining -= valid
    return {name: float(total / len(data)) for name, total in zip(metrics, totals)}
