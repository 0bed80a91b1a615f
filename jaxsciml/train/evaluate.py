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
from jaxsciml.losses import batch_mean, relative_l2
from jaxsciml.nn.base import apply_batch


Measure = Callable[[Array, Array], Array]  # (prediction, target) of one sample -> scalar


def relative_l2_loss(model, batch: Batch, key) -> Float[Array, ""]:
    """The default training loss: mean over the batch of each sample's relative L2 error of
    `model(inputs)` against `outputs` (the FNO papers' loss, averaged instead of summed). The
    batch goes through `jaxsciml.nn.apply_batch`."""
    del key
    return batch_mean(relative_l2, apply_batch(model, batch.inputs), batch.outputs)


@eqx.filter_jit
def _per_sample(model, measures: tuple[Measure, ...], inputs, outputs):
    predictions = apply_batch(model, inputs)
    return jnp.stack([jax.vmap(m)(predictions, outputs) for m in measures])


def evaluate(
    model,
    data: Dataset,
    *,
    batch_size: int = 20,
    metrics: Mapping[str, Measure] | None = None,
    mesh=None,
) -> dict[str, float]:
    """Mean over every sample of `data` of each per-sample measure in `metrics`.

    The default metric is `{"relative_l2": jaxsciml.losses.relative_l2}`. Batches are sharded over
    `mesh` (default: every device); the last batch is padded by repeating its last sample and the
    padding is left out of the means.
    """
    metrics = {"relative_l2": relative_l2} if metrics is None else dict(metrics)
    if len(data) == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    mesh = parallel.data_mesh() if mesh is None else mesh
    parallel.check_batch_size(batch_size, mesh)
    measures = tuple(metrics.values())
    arrays, static = eqx.partition(model, eqx.is_array)
    model = eqx.combine(parallel.replicate(arrays, mesh), static)
    totals = np.zeros(len(measures))
    part = (jax.process_index(), jax.process_count())
    local = batch_size // part[1]
    remaining = len(data)
    for rows in data.batches(batch_size, drop_last=False, part=part):
        valid = min(batch_size, remaining)
        if rows.inputs.shape[0] < local:  # pad this host's rows of the last batch
            pad = local - rows.inputs.shape[0]
            rows = jax.tree.map(
                lambda x: (
                    np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
                    if x.shape[0]
                    else np.zeros((local, *x.shape[1:]), x.dtype)
                ),
                rows,
            )
        batch = parallel.global_batch(rows, mesh)
        errors = _per_sample(model, measures, batch.inputs, batch.outputs)
        errors = np.asarray(multihost_utils.process_allgather(errors, tiled=True))
        totals += errors[:, :valid].sum(axis=1)
        remaining -= valid
    return {name: float(total / len(data)) for name, total in zip(metrics, totals)}
