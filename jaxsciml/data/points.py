"""Operator data in the form DeepONet-type models consume: sensor values, query points, targets.

A `PointDataset` is a view on a grid `Dataset` (the generator's HDF5 shards, or arrays): the
input function is read at fixed **sensors** (a subset of the input grid, flattened over channels
and points) and the output function at **query points** (grid points, as coordinates). Training
batches take a fresh random subset of `points_per_step` query points at every step, as DeepONet
trains; the subset is shared by every function of the batch, so the trunk runs once per point
and the model contracts branch and trunk features (the "aligned", Cartesian-product form).
Evaluation uses every grid point.

    darcy = jsm.data.load("data/darcy29")
    train = jsm.data.PointDataset(darcy, sensors=np.s_[::2, ::2], points_per_step=200)
    batch = next(train.batches(20, seed=0))
    # batch.sensors (20, 225), batch.points (200, 2), batch.targets (20, 200, 1)
"""

from collections.abc import Iterator
from typing import Any

import numpy as np

from jaxsciml.data.base import AbstractDataset, AbstractLabelledBatch, AbstractResident
from jaxsciml.data.dataset import Batch, Dataset, batch_positions, epoch_rows, read_ahead
from jaxsciml.losses import relative_l2


class PointBatch(AbstractLabelledBatch):
    """A batch of input functions at sensors and output functions at shared query points.

    - `sensors`: `(b, m)`, the input functions' values at the `m` sensors.
    - `points`: `(P, d)`, query coordinates, the same for every function of the batch.
    - `targets`: `(b, P, c_out)`, the output functions at those points.
    """

    sensors: Any
    points: Any
    targets: Any
    replicated = ("points",)  # shared by every function: copied to every device, never padded

    def predict(self, model):
        """`model.batched(sensors, points)`: `(b, P, c_out)` for a branch-trunk operator
        (`jaxsciml.operators.AbstractBranchTrunkOperator`)."""
        return model.batched(self.sensors, self.points)

    @property
    def target(self):
        return self.targets


def grid_points(grid: tuple[np.ndarray, ...]) -> np.ndarray:
    """Every point of a tensor grid as coordinates `(n_1 * ... * n_d, d)`, C order (the last
    axis fastest, matching `field.reshape(c, -1)`)."""
    mesh = np.meshgrid(*grid, indexing="ij")
    return np.stack([axis.ravel() for axis in mesh], axis=-1).astype(np.float32)


def _query_subset(num_points: int, size: int, seed: int, epoch: int, step: int) -> np.ndarray:
    """The grid points of one training step: a function of `(seed, epoch, step)` only, so that
    every host draws the same subset and a resumed run draws what an uninterrupted one did."""
    rng = np.random.default_rng([seed, epoch, step, 1])  # the trailing 1 parts it from the order
    return np.sort(rng.choice(num_points, size, replace=False))


class ResidentPoints(AbstractResident):
    """Sensor values, targets and query points held whole (`arrays`), gathered by function and,
    with `points_per_step`, by the step's subset of query points."""

    def __init__(self, sensors, targets, points, points_per_step: int | None):
        self.arrays = (sensors, targets, points)
        self.points_per_step = points_per_step

    @property
    def nbytes(self) -> int:
        return sum(array.nbytes for array in self.arrays)

    def epoch_indices(self, batch_size: int, seed: int, epoch: int) -> dict:
        sensors, _, points = self.arrays
        rows = epoch_rows(len(sensors), batch_size, seed, epoch)
        if self.points_per_step is None:
            return {"rows": rows}
        subsets = [
            _query_subset(len(points), self.points_per_step, seed, epoch, step)
            for step in range(len(rows))
        ]
        return {"rows": rows, "points": np.stack(subsets).astype(np.int32)}

    @staticmethod
    def gather(arrays, index: dict) -> PointBatch:
        sensors, targets, points = arrays
        targets = targets[index["rows"]]
        if "points" in index:
            points, targets = points[index["points"]], targets[:, index["points"]]
        return PointBatch(sensors[index["rows"]], points, targets)


class PointDataset(AbstractDataset):
    """A grid dataset seen as sensor values, query points and targets (see the module docstring).

    **Arguments:**

    - `data`: a `jaxsciml.data.Dataset` (its view: split, stride and all).
    - `sensors`: which input grid points feed the model, as an index over the spatial axes
      (`np.s_[::2, ::2]`: every other point per axis; `np.s_[:, 0]`: the first column, for an
      input `u(x)` stored on an `(x, t)` grid); `None` takes every point. Every input channel is
      read there; `m = c_in * (points selected)`.
    - `points_per_step`: query points per training step, drawn at random without replacement
      from the output grid; `None` uses every point at every step.

    It offers what `jaxsciml.fit` and `jaxsciml.evaluate` need (`len`, `batches`,
    `num_batches`), so the spine's training loop, checkpointing and sharding apply unchanged.
    """

    def __init__(
        self,
        data: Dataset,
        *,
        sensors: tuple | slice | None = None,
        points_per_step: int | None = None,
    ):
        self.data, self.sensors = data, sensors
        self.sensor_index = (slice(None),) + _as_tuple(sensors)
        self.query_points = grid_points(data.grid)
        try:
            probe = np.empty(data.input_shape, np.bool_)[self.sensor_index]
        except IndexError as error:
            raise ValueError(
                f"sensors {sensors!r} do not index the input grid {data.input_shape[1:]}: {error}"
            ) from error
        self.num_sensors = probe.size
        if self.num_sensors == 0:
            raise ValueError(f"sensors {sensors!r} select no point of the grid")
        n = len(self.query_points)
        if points_per_step is not None and not 1 <= points_per_step <= n:
            raise ValueError(
                f"points_per_step must be between 1 and the {n} points of the output grid, "
                f"got {points_per_step}"
            )
        self.points_per_step = points_per_step
        self._in_memory: tuple[np.ndarray, np.ndarray] | None = None  # set by `cache`

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        per_step = self.points_per_step or len(self.query_points)
        return (
            f"PointDataset({len(self)} functions, {self.num_sensors} sensors, "
            f"{len(self.query_points)} query points of dimension {self.coordinates} "
            f"({per_step} per step), {self.data.metadata.get('path', 'in memory')})"
        )

    @property
    def coordinates(self) -> int:
        """`d`, the dimension of a query point."""
        return self.query_points.shape[1]

    @property
    def out_channels(self) -> int:
        return self.data.output_shape[0]

    @property
    def metadata(self) -> dict:
        return self.data.metadata

    def to_points(self, batch: Batch, subset: np.ndarray | None = None) -> PointBatch:
        """A grid batch `(b, c, *spatial)` as a `PointBatch` at the query points `subset`
        (indices into the flattened output grid; default all)."""
        b = batch.inputs.shape[0]
        sensors = batch.inputs[(slice(None), *self.sensor_index)].reshape(b, -1)
        targets = batch.outputs.reshape(b, self.out_channels, -1).transpose(0, 2, 1)
        points = self.query_points
        if subset is not None:
            points, targets = points[subset], targets[:, subset]
        return PointBatch(sensors, points, np.ascontiguousarray(targets))

    def num_batches(self, batch_size: int, drop_last: bool = True) -> int:
        return self.data.num_batches(batch_size, drop_last)

    @property
    def default_metrics(self) -> dict:
        return {"relative_l2": relative_l2}

    @property
    def evaluation_batch_size(self) -> int:
        return 20

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
    ) -> Iterator[PointBatch]:
        """One epoch of `PointBatch`es; the arguments are those of `Dataset.batches`.

        With a `seed` (training) and `points_per_step`, step `i` of the epoch takes a random
        subset of query points drawn from `(seed, epoch, i)`; without one (evaluation), every
        point. Each of `count` hosts gets its rows of the batch and the same points.
        """
        chunks = batch_positions(len(self), batch_size, seed, epoch, start, drop_last, part)
        n = len(self.query_points)

        def read(i: int, positions: np.ndarray) -> PointBatch:
            subset = None
            if seed is not None and self.points_per_step is not None:
                subset = _query_subset(n, self.points_per_step, seed, epoch, start + i)
            return self.read(positions, subset)

        return read_ahead(read, chunks, prefetch)

    def read(self, positions: np.ndarray, subset: np.ndarray | None = None) -> PointBatch:
        """The functions at `positions` of this view at the query points `subset` (default all)."""
        if self._in_memory is None:
            return self.to_points(self.data.read(positions), subset)
        sensors, targets = self._in_memory
        targets = targets[positions]
        points = self.query_points
        if subset is not None:
            points, targets = points[subset], targets[:, subset]
        return PointBatch(sensors[positions], points, targets)

    def resident(self) -> ResidentPoints | None:
        """The sensor values and targets whole, after `cache`."""
        if self._in_memory is None:
            return None
        sensors, targets = self._in_memory
        return ResidentPoints(sensors, targets, self.query_points, self.points_per_step)

    def cache(self) -> "PointDataset":
        """This view with its sensor values and targets read into memory once (not the whole
        input fields): batches are then slices of two arrays."""
        view = PointDataset(self.data, sensors=self.sensors, points_per_step=self.points_per_step)
        everything = self.to_points(self.data.read(np.arange(len(self))))
        view._in_memory = (everything.sensors, everything.targets)
        return view


def _as_tuple(index) -> tuple:
    if index is None:
        return ()
    return index if isinstance(index, tuple) else (index,)
