"""Collocation points for `jaxsciml.fit`, and reference solutions to evaluate against.

`Collocation` is a `jaxsciml.data.AbstractDataset`, so physics-informed training gets the
spine's loop, sharding, checkpoints and resume unchanged. A "sample" is one interior point:
`batch_size` interior points per step, split over the devices; the boundary and initial
points of the current draw come with every batch (replicated). A new set of points is drawn
every `resample_every` epochs, from `(seed, draw index)` alone, so every host draws the same
points and a resumed run draws what an uninterrupted one did.

With `batch_size = interior` (the papers' full batch) an epoch is one optimizer step:

    problem = jsm.physics.Helmholtz()
    points = jsm.physics.Collocation(problem.domain, interior=10_000, boundary=2_500)
    loss = jsm.physics.PhysicsLoss(problem, boundary_weight=1.0, residual_weight=1e-4)
    test = jsm.physics.ReferenceSolution.from_problem(problem, points_per_axis=250)
    model, history = jsm.fit(model, points, epochs=2000, batch_size=10_000, loss=loss,
                             optimizer=optax.adam(1e-2),
                             evaluation=jsm.train.Evaluation(test, every=10))
"""

import functools
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxsciml.data.base import AbstractBatch, AbstractDataset, AbstractLabelledBatch
from jaxsciml.data.dataset import batch_positions, read_ahead
from jaxsciml.losses import MaxAbsError, PooledRelativeL2
from jaxsciml.physics.domain import Box
from jaxsciml.physics.pdes import PDE


class CollocationBatch(AbstractBatch):
    """One step's points: `interior` `(b, d)` (split over devices), `boundary` `(n_b, d)` and
    `initial` `(n_0, d)` (replicated; empty when the problem has none)."""

    interior: Any
    boundary: Any
    initial: Any
    replicated = ("boundary", "initial")


class Collocation(AbstractDataset):
    """Random collocation points in `domain`, redrawn every `resample_every` epochs.

    **Arguments:**

    - `domain`: a `jaxsciml.physics.Box`.
    - `interior`: points per draw inside the domain (`len` of this dataset).
    - `boundary`: points per face of every spatial axis (the PIG scripts' count; `0`: none).
    - `initial`: points on the initial slice (`0`: none; needs a time axis).
    - `resample_every`: epochs between draws (`1`: fresh points every epoch).
    """

    def __init__(
        self,
        domain: Box,
        interior: int,
        *,
        boundary: int = 0,
        initial: int = 0,
        resample_every: int = 1,
    ):
        if interior < 1 or boundary < 0 or initial < 0 or resample_every < 1:
            raise ValueError(
                "interior and resample_every must be positive, boundary and initial not "
                f"negative; got {interior}, {resample_every}, {boundary}, {initial}"
            )
        if initial and domain.time_axis is None:
            raise ValueError(f"initial points need a time axis, and {domain!r} has none")
        self.domain, self.interior, self.boundary, self.initial = (
            domain,
            interior,
            boundary,
            initial,
        )
        self.resample_every = resample_every

    def __len__(self) -> int:
        return self.interior

    def __repr__(self) -> str:
        return (
            f"Collocation({self.domain!r}: {self.interior} interior, {self.boundary} per "
            f"boundary face, {self.initial} initial points; new every {self.resample_every} "
            "epochs)"
        )

    @functools.lru_cache(maxsize=2)
    def draw(self, seed: int, index: int) -> CollocationBatch:
        """Draw `index` of the run seeded `seed`: every point of it."""
        rng = np.random.default_rng([seed, index, 2])  # the trailing 2 parts it from data orders
        boundary = self.domain.sample_boundary(self.boundary, rng)
        initial = (
            self.domain.sample_initial(self.initial, rng)
            if self.initial
            else np.zeros((0, self.domain.dim), np.float32)
        )
        return CollocationBatch(self.domain.sample_interior(self.interior, rng), boundary, initial)

    def batches(
        self,
        batch_size: int,
        *,
        seed: int | None = None,
        epoch: int = 0,
        start: int = 0,
        drop_last: bool = True,
        part: tuple[int, int] = (0, 1),
        prefetch: int = 0,
    ) -> Iterator[CollocationBatch]:
        """The batches of epoch `epoch` from draw `epoch // resample_every`, starting at batch
        `start`; host `part[0]` of `part[1]` gets its share of each batch's interior points."""
        del prefetch  # drawing is cheap and cached
        points = self.draw(0 if seed is None else seed, epoch // self.resample_every)
        for rows in batch_positions(self.interior, batch_size, seed, epoch, start, drop_last, part):
            yield CollocationBatch(points.interior[rows], points.boundary, points.initial)

    @property
    def default_metrics(self) -> dict:
        return {}  # unlabelled: training only

    @property
    def evaluation_batch_size(self) -> int:
        return self.interior


class PointValues(AbstractLabelledBatch):
    """Points `(b, d)` and the true values there `(b, 1)`; a point model predicts `(b, c)`."""

    points: Any
    values: Any
    replicated = ()

    def predict(self, model):
        return jax.vmap(model)(self.points)

    @property
    def target(self):
        return self.values


class ReferenceSolution(AbstractDataset):
    """Test points with the true solution there, for `jaxsciml.evaluate` and `fit`'s evaluation.

    Each point is a sample. The default metrics are the relative L2 error over all points,
    `‖u − u*‖₂ / ‖u*‖₂` (the PIG scripts' test error), and the largest absolute error. The model
    is evaluated `chunk_size` points at a time, split over the devices.

    **Arguments:** `points` `(n, d)` and `values` `(n,)` (or `(n, 1)`), and the `domain` that the
    points must lie in.
    """

    def __init__(self, points, values, domain: Box, *, chunk_size: int = 8192):
        points = domain.check(points, "test points")
        values = np.asarray(values, np.float32).reshape(len(points), -1)
        if values.shape[1] != 1:
            raise ValueError(f"expected one value per point, got values shaped {values.shape}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self.points, self.values, self.domain, self.chunk_size = points, values, domain, chunk_size

    @classmethod
    def from_problem(cls, problem: PDE, points_per_axis, **kwargs) -> "ReferenceSolution":
        """The exact solution of `problem` on its tensor grid of `points_per_axis` per axis
        (the PIG scripts test on 250² for Helmholtz and 50³ for the 2+1-D problems)."""
        points = problem.domain.grid(points_per_axis)
        values = np.asarray(jax.jit(jax.vmap(problem.exact))(jnp.asarray(points)))
        return cls(points, values, problem.domain, **kwargs)

    def __len__(self) -> int:
        return len(self.points)

    def __repr__(self) -> str:
        return f"ReferenceSolution({len(self)} points in {self.domain!r})"

    def batches(
        self,
        batch_size: int,
        *,
        seed: int | None = None,
        epoch: int = 0,
        start: int = 0,
        drop_last: bool = True,
        part: tuple[int, int] = (0, 1),
        prefetch: int = 0,
    ) -> Iterator[PointValues]:
        """Test points and values in batches (in order unless `seed` is given)."""
        chunks = batch_positions(len(self), batch_size, seed, epoch, start, drop_last, part)
        read = lambda _, rows: PointValues(self.points[rows], self.values[rows])
        return read_ahead(read, chunks, prefetch)

    @property
    def default_metrics(self) -> dict:
        return {"relative_l2": PooledRelativeL2(), "max_abs_error": MaxAbsError()}

    @property
    def evaluation_batch_size(self) -> int:
        return self.chunk_size
