"""The data seam: what `fit`, `evaluate` and `parallel` know of a dataset and of its batches.

Every kind of data (grid shards, sensor/query-point views, collocation points, reference
solutions, readers of other formats) subclasses `AbstractDataset`, and its batches subclass
`AbstractBatch` (training only) or `AbstractLabelledBatch` (a prediction and a target, so the
default loss and `evaluate` apply). The loop relies on nothing else.

A batch is an equinox module holding NumPy arrays on the host and JAX arrays once placed:
fields with a leading batch axis are split over the devices, the fields named in `replicated`
(query points shared by every function, boundary points) are copied to every device.
"""

import abc
import dataclasses
from collections.abc import Iterator, Mapping

import equinox as eqx
import jax
import numpy as np


class AbstractBatch(eqx.Module):
    """A batch of training data.

    Subclasses declare their array fields and `replicated`, the names of those fields that have
    no batch axis.
    """

    replicated: eqx.AbstractClassVar[tuple[str, ...]]

    def batch_axes(self) -> "AbstractBatch":
        """This batch's structure with `True` on the fields split along their first axis and
        `False` on the replicated ones (see `jaxsciml.parallel.global_batch`)."""
        return type(self)(
            **{
                name: None if getattr(self, name) is None else name not in self.replicated
                for name in _field_names(self)
            }
        )

    def rows(self) -> int:
        """The number of rows along the batch axis."""
        split = [n for n in _field_names(self) if n not in self.replicated]
        return len(getattr(self, split[0]))

    def padded(self, size: int) -> "AbstractBatch":
        """This batch with every batch-axis field padded to `size` rows by repeating its last
        row (evaluation pads the last batch so that shapes stay fixed)."""

        def pad(x):
            x = np.asarray(x)
            if not x.shape[0]:
                return np.zeros((size, *x.shape[1:]), x.dtype)
            return np.concatenate([x, np.repeat(x[-1:], size - x.shape[0], axis=0)])

        return type(self)(
            **{
                name: getattr(self, name)
                if name in self.replicated or getattr(self, name) is None
                else pad(getattr(self, name))
                for name in _field_names(self)
            }
        )


class AbstractLabelledBatch(AbstractBatch):
    """A batch with a target: `predict(model)` and `target` have the same shape
    `(batch, ...)`, so per-sample losses and metrics compare them row by row."""

    @abc.abstractmethod
    def predict(self, model) -> jax.Array:
        """The model's prediction for every row of the batch."""

    @property
    @abc.abstractmethod
    def target(self):
        """What `predict` should give, `(batch, ...)`."""


def _field_names(batch: AbstractBatch) -> list[str]:
    return [f.name for f in dataclasses.fields(batch)]


class AbstractResident(abc.ABC):
    """A dataset held whole in memory, for training from the devices' memory: `fit` places
    `arrays` on every device once and gathers each batch inside its compiled steps, so that
    many steps run in one dispatch. The batches are exactly those `batches` yields.

    - `arrays`: a pytree of NumPy arrays, every sample.
    - `nbytes`: their size, known before they are read (`fit` streams data too large to copy
      onto every device).
    - `epoch_indices(batch_size, seed, epoch)`: a pytree of integer arrays, each with a leading
      axis of one row per step of the epoch (last partial batch dropped).
    - `gather(arrays, index)`: the batch of one step from one row of each index array; pure
      JAX (it runs inside the compiled step).
    """

    arrays: object

    @property
    @abc.abstractmethod
    def nbytes(self) -> int: ...

    @abc.abstractmethod
    def epoch_indices(self, batch_size: int, seed: int, epoch: int): ...

    @staticmethod
    @abc.abstractmethod
    def gather(arrays, index) -> AbstractBatch: ...


class AbstractDataset(abc.ABC):
    """A sequence of samples read in batches.

    - `len(data)`: the number of samples.
    - `num_batches(batch_size, drop_last)`: batches per epoch.
    - `batches(batch_size, *, seed, epoch, start, drop_last, part, prefetch)`: one epoch of
      batches (subclasses of `AbstractBatch`): shuffled by `(seed, epoch)` (`seed=None` keeps the
      order), from batch `start` on; `part=(index, count)` yields only host `index`'s rows of
      each global batch.
    - `default_metrics`: what `evaluate` reports when given no metrics.
    - `evaluation_batch_size`: the batch size `evaluate` uses when given none.
    - `resident()`: the dataset whole as an `AbstractResident`, or `None` (the default: data
      read from disk, or drawn afresh, stream through `batches`).
    """

    @abc.abstractmethod
    def __len__(self) -> int: ...

    def num_batches(self, batch_size: int, drop_last: bool = True) -> int:
        """Batches of `batch_size` in one epoch (the last partial one counted unless dropped)."""
        whole, rest = divmod(len(self), batch_size)
        return whole + (1 if rest and not drop_last else 0)

    @abc.abstractmethod
    def batches(
        self,
        batch_size: int,
        *,
        seed: int | None = None,
        epoch: int = 0,
        start: int = 0,
        drop_last: bool = True,
        part: tuple[int, int] = (0, 1),
        prefetch: int = 2,
    ) -> Iterator[AbstractBatch]: ...

    @property
    @abc.abstractmethod
    def default_metrics(self) -> Mapping[str, object]:
        """`name -> metric` (a per-sample measure, or a `jaxsciml.losses.Metric`)."""

    @property
    @abc.abstractmethod
    def evaluation_batch_size(self) -> int: ...

    def resident(self) -> AbstractResident | None:
        """This dataset whole, to train from device memory; `None` where it is not in memory."""
        return None


class AbstractStream(AbstractDataset):
    """A dataset whose batches depend on the ones before (an online buffer fed by a running
    generator), so that its state is part of a training run's state: `fit` saves it with every
    checkpoint and restores it on resume, and reports its `metrics` with every epoch.

    - `state(step)`: `(arrays, record)` describing the stream when `step` steps have been
      taken: a dict of NumPy arrays and a JSON-able dict.
    - `restore(step, arrays, record)`: continue from such a state, as if `step` steps had been
      taken; the next `batches` call starts at `step`.
    - `metrics()`: numbers about the stream so far (floats), added to each epoch's record.
    - `close()`: stop whatever runs in the background.
    """

    @abc.abstractmethod
    def state(self, step: int) -> tuple[dict[str, np.ndarray], dict]: ...

    @abc.abstractmethod
    def restore(self, step: int, arrays: Mapping[str, np.ndarray], record: dict) -> None: ...

    def metrics(self) -> dict[str, float]:
        return {}

    def close(self) -> None:
        """Stop background work (default: nothing runs)."""
