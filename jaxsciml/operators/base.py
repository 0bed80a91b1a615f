"""The operator kinds: what a batch, a loss or the training loop may rely on of a model.

- `AbstractGridOperator` (from `jaxsciml.nn`): one field `(c_in, *spatial)` to one field
  `(c_out, *spatial)`; `batched` maps a batch. FNO, T1, MgNO, DGNO, OperatorODE, Normalized.
- `AbstractPointOperator`: one point `(d,)` of a domain to values `(c,)`; `predict` maps many
  points in chunks. PIG, PINN.
- `AbstractBranchTrunkOperator`: an input function's sensor values `(m,)` and query points
  `(P, d)` to values `(P, c)`; `batched` maps a batch of functions. DeepONet, MultiONet.

Each kind's call on one sample is its math; `evaluate` (in `jaxsciml.train`) is only ever the
measuring of a model against data.
"""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from jaxsciml.nn.base import AbstractGridOperator as AbstractGridOperator
from jaxsciml.physics.domain import Box
from jaxsciml.physics.points import map_points


class AbstractPointOperator(eqx.Module):
    """A model of a field on a box: one point `(in_dim,)` in, `(out_channels,)` out."""

    in_dim: eqx.AbstractVar[int]
    out_channels: eqx.AbstractVar[int]
    domain: eqx.AbstractVar[Box]

    @abc.abstractmethod
    def __call__(self, x: Float[Array, " d"]) -> Float[Array, " c"]:
        """The field at one point."""

    def check_point(self, x: Array) -> None:
        """Raise unless `x` is one point of this model's dimension."""
        if x.shape != (self.in_dim,):
            raise ValueError(
                f"{type(self).__name__} maps one point of dimension {self.in_dim}, shaped "
                f"({self.in_dim},); got {x.shape} (vmap over points, or use .predict)"
            )

    def predict(
        self, points: Float[ArrayLike, "n d"], chunk_size: int | None = 8192
    ) -> Float[Array, "n c"]:
        """The model at every point of `points` `(n, d)`, `chunk_size` points at a time.
        Concrete points are checked against the model's domain first."""
        if not isinstance(points, jax.core.Tracer):
            points = jnp.asarray(self.domain.check(np.asarray(points)))
        return map_points(self, points, chunk_size)


class AbstractBranchTrunkOperator(eqx.Module):
    """An operator read at sensors and answered at query points.

    `model(sensors, points)`: one input function's values at the `sensors` sensors, `(m,)`, and
    query points `(P, coordinates)` give `(P, out_channels)`. `model.batched(sensors, points)`:
    a batch `(B, m)` at shared points `(P, d)` or at their own `(B, P, d)` gives
    `(B, P, out_channels)`.
    """

    sensors: eqx.AbstractVar[int]
    coordinates: eqx.AbstractVar[int]
    out_channels: eqx.AbstractVar[int]

    @abc.abstractmethod
    def __call__(self, sensors: Float[ArrayLike, " m"], points: Float[ArrayLike, "P d"]) -> Array:
        """One input function at `points`: `(P, out_channels)`."""

    @abc.abstractmethod
    def batched(self, sensors: Float[ArrayLike, "B m"], points: Float[ArrayLike, "..."]) -> Array:
        """A batch of input functions at shared or own points: `(B, P, out_channels)`."""
