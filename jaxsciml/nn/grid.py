"""Coordinates of uniform grids, as extra input channels of grid operators."""

from collections.abc import Sequence

import jax.numpy as jnp
from jaxtyping import Array, Float


def grid_coordinates(
    spatial_shape: Sequence[int], dtype=None, periodic: bool = False
) -> Float[Array, " d *spatial"]:
    """Coordinates of a uniform grid on the unit cube, endpoints included.

    Axis `i` runs over `linspace(0, 1, spatial_shape[i])`, as in the FNO paper's scripts, or
    over `j / n` (`periodic`: the unit torus's grid, as neuraloperator's embedding); the result
    is shaped `(d, *spatial_shape)`, one channel per spatial axis. Because the points are those
    of the unit cube at any resolution, the channels mean the same thing on a finer grid.
    """
    dtype = jnp.zeros(()).dtype if dtype is None else dtype
    if periodic:
        axes = [jnp.arange(n, dtype=dtype) / n for n in spatial_shape]
    else:
        axes = [jnp.linspace(0.0, 1.0, n, dtype=dtype) for n in spatial_shape]
    return jnp.stack(jnp.meshgrid(*axes, indexing="ij"))


def append_coordinates(
    x: Float[Array, " batch c *spatial"], periodic: bool = False
) -> Float[Array, " batch c_plus_d *spatial"]:
    """Concatenate the `grid_coordinates` of the batch's grid after its channels."""
    coordinates = grid_coordinates(x.shape[2:], x.dtype, periodic)
    return jnp.concatenate([x, jnp.broadcast_to(coordinates, (x.shape[0], *coordinates.shape))], 1)
