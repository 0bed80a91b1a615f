"""Error measures between predicted and true fields.

Each function compares one sample, shaped `(channels, *spatial)`, and returns a scalar; `jax.vmap`
them over a batch. The batch losses at the bottom average a per-sample measure over a batch, which
is how the FNO papers report errors (relative L2 per sample, then the mean over the test set).
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def relative_l2(
    prediction: Float[Array, " c *spatial"], target: Float[Array, " c *spatial"]
) -> Float[Array, ""]:
    """`‖prediction − target‖₂ / ‖target‖₂` over the flattened sample (all channels and points).

    The grid spacing cancels in the ratio, so this is the relative L2 norm of the functions on any
    uniform grid. A target that is zero everywhere gives `inf` (or `nan` when the prediction is
    zero too): relative errors are undefined there.
    """
    return jnp.linalg.norm((prediction - target).ravel()) / jnp.linalg.norm(target.ravel())


def _derivative(u: Array, axis: int, h: float) -> Array:
    """Second-order finite difference along `axis`: central inside, one-sided at both ends."""
    take = lambda start, stop: jax.lax.slice_in_dim(u, start, stop, axis=axis)
    n = u.shape[axis]
    inside = (take(2, n) - take(0, n - 2)) / (2 * h)
    first = (-3 * take(0, 1) + 4 * take(1, 2) - take(2, 3)) / (2 * h)
    last = (3 * take(n - 1, n) - 4 * take(n - 2, n - 1) + take(n - 3, n - 2)) / (2 * h)
    return jnp.concatenate([first, inside, last], axis=axis)


def _trapezoid_weights(spatial_shape) -> Array:
    """Trapezoidal quadrature weights on the uniform grid of the unit cube (endpoints included)."""
    weights = jnp.ones(())
    for n in spatial_shape:
        w = jnp.full((n,), 1.0 / (n - 1)).at[0].mul(0.5).at[-1].mul(0.5)
        weights = jnp.multiply.outer(weights, w)
    return weights


def _h1_norm_squared(e: Float[Array, " c *spatial"]) -> Float[Array, ""]:
    """`∫ e² + |∇e|²` over the unit cube, by the trapezoidal rule."""
    spatial = e.shape[1:]
    squares = e**2
    for axis, n in enumerate(spatial, start=1):
        squares = squares + _derivative(e, axis, 1.0 / (n - 1)) ** 2
    return jnp.sum(_trapezoid_weights(spatial) * squares)


def relative_h1(
    prediction: Float[Array, " c *spatial"], target: Float[Array, " c *spatial"]
) -> Float[Array, ""]:
    """`‖prediction − target‖_H1 / ‖target‖_H1`, with `‖u‖²_H1 = ‖u‖²_L2 + ‖∇u‖²_L2`.

    The sample lives on the uniform grid of the unit cube (as `jaxsciml.nn.grid_coordinates`);
    derivatives are second-order finite differences (so every axis needs at least 3 points) and
    the integrals use the trapezoidal rule.
    """
    if min(target.shape[1:]) < 3:
        raise ValueError(f"relative_h1 needs at least 3 points per axis; got shape {target.shape}")
    return jnp.sqrt(_h1_norm_squared(prediction - target) / _h1_norm_squared(target))


def mse(
    prediction: Float[Array, " c *spatial"], target: Float[Array, " c *spatial"]
) -> Float[Array, ""]:
    """Mean squared error over every channel and grid point."""
    return jnp.mean((prediction - target) ** 2)


def batch_mean(measure, predictions: Array, targets: Array) -> Float[Array, ""]:
    """Mean over a batch (leading axis) of a per-sample `measure` such as `relative_l2`."""
    return jnp.mean(jax.vmap(measure)(predictions, targets))
