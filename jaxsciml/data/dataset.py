"""Datasets of (input, output) function pairs on grids: views, strides, splits and batches."""

import concurrent.futures
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from datagen.format import DatasetFileError
from jaxsciml.data.base import AbstractDataset, AbstractLabelledBatch, AbstractResident
from jaxsciml.data.plain import KeyedSource
from jaxsciml.data.sources import AbstractSource, ArraySource, FNOMatSource
from jaxsciml.losses import relative_l2
from jaxsciml.nn.base import apply_batch


T = TypeVar("T")


class Batch(AbstractLabelledBatch):
    """A batch of pairs: `inputs` `(b, c_in, *spatial)` and `outputs` `(b, c_out, *spatial)`.

    Indexing a `Dataset` with one integer gives a `Batch` of single samples (no batch axis).
    """

    inputs: Any
    outputs: Any
    replicated = ()

    def predict(self, model):
        """The model's outputs for `inputs`, through `jaxsciml.nn.apply_batch`."""
        return apply_batch(model, self.inputs)

    @property
    def target(self):
        return self.outputs


def epoch_permutation(num_samples: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which an epoch visits the samples: a function of `(seed, epoch)` only, so a
    resumed run sees exactly the data order of an uninterrupted one."""
    return np.random.default_rng([seed, epoch]).permutation(num_samples)


def batch_positions(
    num_samples: int,
    batch_size: int,
    seed: int | None,
    epoch: int,
    start: int,
    drop_last: bool,
    part: tuple[int, int],
) -> list[np.ndarray]:
    """The positions each batch of an epoch reads on this host (see `Dataset.batches`)."""
    index, count = part
    if batch_size < 1 or batch_size % count:
        raise ValueError(f"batch_size {batch_size} must be a positive multiple of {count}")
    order = np.arange(num_samples) if seed is None else epoch_permutation(num_samples, seed, epoch)
    stop = num_samples - num_samples % batch_size if drop_last else num_samples
    local = batch_size // count
    return [
        order[i : i + batch_size][index * local : (index + 1) * local]
        for i in range(start * batch_size, stop, batch_size)
    ]


def read_ahead(read: Callable[[int, np.ndarray], T], chunks: list, prefetch: int) -> Iterator[T]:
    """`read(i, chunks[i])` for every chunk in order, `prefetch` of them read ahead on a
    background thread (none: read in the caller's thread)."""
    if prefetch < 1:
        yield from (read(i, chunk) for i, chunk in enumerate(chunks))
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = [pool.submit(read, i, chunk) for i, chunk in enumerate(chunks[:prefetch])]
        for i in range(len(chunks)):
            batch = pending.pop(0).result()
            if i + prefetch < len(chunks):
                pending.append(pool.submit(read, i + prefetch, chunks[i + prefetch]))
            yield batch


def epoch_rows(num_samples: int, batch_size: int, seed: int, epoch: int) -> np.ndarray:
    """`(steps, batch_size)` int32: the positions each training step of an epoch reads."""
    positions = batch_positions(num_samples, batch_size, seed, epoch, 0, True, (0, 1))
    return np.stack(positions).astype(np.int32)


class ResidentPairs(AbstractResident):
    """The pairs of an in-memory view whole (`arrays`: a `Batch` of every sample, read on
    first use), gathered by row."""

    def __init__(self, view: "Dataset"):
        self.view = view

    @functools.cached_property
    def arrays(self) -> Batch:
        return self.view.read(np.arange(len(self.view)))

    @property
    def nbytes(self) -> int:
        values = np.prod(self.view.input_shape) + np.prod(self.view.output_shape)
        return int(len(self.view) * values * np.dtype(np.float32).itemsize)

    def epoch_indices(self, batch_size: int, seed: int, epoch: int) -> np.ndarray:
        return epoch_rows(len(self.view), batch_size, seed, epoch)

    @staticmethod
    def gather(arrays: Batch, index) -> Batch:
        return Batch(arrays.inputs[index], arrays.outputs[index])


class Dataset(AbstractDataset):
    """A view on a source of samples: which samples (in which order) and at which grid stride.

    Views are cheap and lazy: `split`, `subsample`, `take` make new views; nothing is read until
    a sample or batch is asked for, and then only those samples are read.
    """

    def __init__(
        self,
        source: AbstractSource,
        indices: Sequence[int] | np.ndarray | None = None,
        stride: int | Sequence[int] = 1,
    ):
        self.source = source
        n = source.num_samples
        self.indices = np.arange(n) if indices is None else np.asarray(indices, np.int64)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= n):
            raise IndexError(f"sample indices must lie in [0, {n})")
        d = len(source.grid)
        stride = (stride,) * d if isinstance(stride, int) else tuple(stride)
        if len(stride) != d or min(stride) < 1:
            raise ValueError(f"stride must be a positive int or one per axis ({d}); got {stride}")
        self.stride = stride

    # --- shape and metadata -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.indices)

    def _strided(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0], *(len(range(0, n, s)) for n, s in zip(shape[1:], self.stride)))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """`(in_channels, *spatial)` of one sample of this view."""
        return self._strided(self.source.input_shape)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """`(out_channels, *spatial)` of one sample of this view."""
        return self._strided(self.source.output_shape)

    @property
    def grid(self) -> tuple[np.ndarray, ...]:
        """One 1-D coordinate array per spatial axis of this view."""
        return tuple(g[::s] for g, s in zip(self.source.grid, self.stride))

    @property
    def metadata(self) -> dict:
        return self.source.metadata

    def __repr__(self) -> str:
        return (
            f"Dataset({len(self)} samples, inputs {self.input_shape}, outputs "
            f"{self.output_shape}, stride {self.stride}, {self.metadata.get('path', 'in memory')})"
        )

    # --- views --------------------------------------------------------------------------------
    def _view(self, indices=None, stride=None) -> "Dataset":
        return Dataset(
            self.source,
            self.indices if indices is None else indices,
            self.stride if stride is None else stride,
        )

    def take(self, indices: Sequence[int] | np.ndarray) -> "Dataset":
        """The view of this view's samples at positions `indices`."""
        return self._view(indices=self.indices[np.asarray(indices, np.int64)])

    def split(self, n_first: int, n_second: int | None = None) -> tuple["Dataset", "Dataset"]:
        """The first `n_first` samples and the `n_second` after them (default: all the rest).

        Contiguous, as the FNO scripts split (train on the first 1000, test on the next ones).
        """
        rest = len(self) - n_first if n_second is None else n_second
        if n_first < 0 or rest < 0 or n_first + rest > len(self):
            raise ValueError(
                f"cannot split {len(self)} samples into {n_first} and {n_second}; the dataset has "
                f"{len(self)} samples"
            )
        return (
            self._view(indices=self.indices[:n_first]),
            self._view(indices=self.indices[n_first : n_first + rest]),
        )

    def subsample(self, stride: int | Sequence[int]) -> "Dataset":
        """A coarser grid: every `stride`-th point of each axis (composes with earlier strides).

        Keeps both ends of an axis of `n` points when `stride` divides `n - 1`, e.g. 421 -> 85
        with stride 5 as in the FNO Darcy experiments.
        """
        stride = (stride,) * len(self.stride) if isinstance(stride, int) else tuple(stride)
        return self._view(stride=tuple(a * b for a, b in zip(self.stride, stride)))

    def cache(self) -> "Dataset":
        """This view read into memory once (for data that fit; it speeds up many epochs)."""
        batch = self.read(np.arange(len(self)))
        source = ArraySource(batch.inputs, batch.outputs, self.grid, self.metadata)
        return Dataset(source)

    # --- reading ------------------------------------------------------------------------------
    def read(self, positions: Sequence[int] | np.ndarray) -> Batch:
        """The samples at `positions` of this view, stacked; checks that every value is finite."""
        window = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in self.stride)
        indices = self.indices[np.asarray(positions, np.int64)]
        if not len(indices):
            return Batch(
                np.zeros((0, *self.input_shape), np.float32),
                np.zeros((0, *self.output_shape), np.float32),
            )
        inputs, outputs = self.source.read_samples(indices)
        inputs, outputs = inputs[window], outputs[window]
        finite = np.isfinite(inputs).reshape(len(indices), -1).all(axis=1)
        finite &= np.isfinite(outputs).reshape(len(indices), -1).all(axis=1)
        if not finite.all():
            index = int(indices[np.argmin(finite)])
            raise DatasetFileError(
                f"{self.source.describe(index)} holds NaN or inf values; regenerate the data "
                "or drop the sample with Dataset.take."
            )
        return Batch(inputs, outputs)

    def __getitem__(self, position: int) -> Batch:
        if not -len(self) <= position < len(self):
            raise IndexError(f"sample {position} is outside this dataset of {len(self)} samples")
        batch = self.read([position % len(self)])
        return Batch(batch.inputs[0], batch.outputs[0])

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
    ) -> Iterator[Batch]:
        """Stream one epoch in batches, reading ahead on a background thread.

        **Arguments:**

        - `batch_size`: samples per (global) batch.
        - `seed`, `epoch`: shuffle with `epoch_permutation(len, seed, epoch)`; `seed=None` keeps
          the view's order (for evaluation).
        - `start`: skip the first `start` batches (to resume in the middle of an epoch).
        - `drop_last`: drop a last batch smaller than `batch_size` (training keeps shapes fixed).
        - `part`: `(index, count)`: yield only rows `[index*b/count, (index+1)*b/count)` of every
          batch, so that each of `count` hosts reads its own slice of the global batch.
        - `prefetch`: batches read ahead.
        """
        chunks = batch_positions(len(self), batch_size, seed, epoch, start, drop_last, part)
        return read_ahead(lambda _, chunk: self.read(chunk), chunks, prefetch)

    @property
    def default_metrics(self) -> dict:
        return {"relative_l2": relative_l2}

    @property
    def evaluation_batch_size(self) -> int:
        return 20

    def resident(self) -> ResidentPairs | None:
        """The view's samples whole when they are in memory (arrays, or after `cache`)."""
        return ResidentPairs(self) if isinstance(self.source, ArraySource) else None


def from_arrays(inputs, outputs, grid: Sequence[np.ndarray] | None = None) -> Dataset:
    """A dataset from arrays `(n, c_in, *spatial)` and `(n, c_out, *spatial)` in memory."""
    return Dataset(ArraySource(inputs, outputs, grid))


def load_arrays(
    path: str | os.PathLike,
    inputs: str,
    outputs: str,
    layout: str,
    output_layout: str | None = None,
) -> Dataset:
    """Open two arrays of a plain HDF5 or NPZ file as a dataset: `inputs` and `outputs` are
    their keys, `layout` names their axes (`"n c h w"`, `"n h w c"`, `"n x"`: `n` samples, `c`
    channels, any other word a spatial axis; see `jaxsciml.data.plain`). HDF5 is read lazily.

        data = jsm.data.load_arrays("mine.h5", "a", "u", layout="n h w")
        jsm.data.save(data, "data/mine")      # then: jaxsciml train ... --data data/mine
    """
    return Dataset(KeyedSource(path, inputs, outputs, layout, output_layout))


def load_fno_mat(
    path: str | os.PathLike, input_key: str = "coeff", output_key: str = "sol"
) -> Dataset:
    """Open one of the FNO paper's `.mat` files (MATLAB v5 or v7.3) as a dataset.

    Darcy files hold `coeff` and `sol`; Burgers files `a` and `u`. Train as the paper does with
    `load_fno_mat(...).subsample(5)` (421 -> 85 points per axis).
    """
    return Dataset(FNOMatSource(path, input_key, output_key))
