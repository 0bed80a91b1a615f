"""Gaussian normalizers, as the FNO scripts use them: statistics of a dataset's fields.

The FNO Darcy recipe standardizes the input `a` and the target `u` with their mean and standard
deviation at every grid point over the training set, trains the network on standardized fields,
and computes the loss on the decoded (physical) prediction; `jaxsciml.operators.Normalized`
wraps a model in them.
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxsciml.data.dataset import Dataset
from jaxsciml.nn.frozen import AbstractFrozen


def resample_corner_aligned(
    field: Float[Array, " c *old"], spatial_shape: Sequence[int]
) -> Float[Array, " c *new"]:
    """Linear interpolation of a `(c, *old)` field onto a grid of `spatial_shape` points.

    Both grids span the same domain with their endpoints on its boundary (`linspace(0, 1, n)`),
    as the datasets here do, so grid point `i` of `m` sits at `i (n - 1) / (m - 1)` old points.
    """
    if tuple(field.shape[1:]) == tuple(spatial_shape):
        return field
    coordinates = jnp.meshgrid(
        *[
            jnp.linspace(0.0, n_old - 1.0, n_new)
            for n_old, n_new in zip(field.shape[1:], spatial_shape)
        ],
        indexing="ij",
    )
    interpolate = lambda channel: jax.scipy.ndimage.map_coordinates(
        channel, coordinates, order=1, mode="nearest"
    )
    return jax.vmap(interpolate)(field)


class GaussianNormalizer(AbstractFrozen):
    """`encode(x) = (x - mean) / (std + eps)` and its inverse `decode`.

    `mean` and `std` are either fields `(c, *spatial)` (pointwise statistics, the FNO scripts'
    `UnitGaussianNormalizer`) or `(c, 1, ..., 1)` (one pair per channel). On a grid other than the
    one the statistics were computed on, pointwise statistics are linearly interpolated to it, so a
    normalized model still evaluates at a finer resolution.
    """

    mean: Float[Array, " c *grid"]
    std: Float[Array, " c *grid"]
    eps: float = eqx.field(static=True, default=1e-5)

    @classmethod
    def fit(
        cls,
        data: Dataset,
        field: str = "inputs",
        *,
        pointwise: bool = True,
        batch_size: int = 64,
        eps: float = 1e-5,
    ) -> "GaussianNormalizer":
        """Statistics of `data`'s `field` (`"inputs"` or `"outputs"`), streamed in batches.

        The standard deviation is the unbiased one (divisor `n - 1`), as `torch.std`, which the
        reference scripts use.
        """
        if field not in ("inputs", "outputs"):
            raise ValueError(f"field must be 'inputs' or 'outputs', got {field!r}")
        if len(data) < 2:
            raise ValueError("fitting a normalizer needs at least 2 samples")
        count, mean, m2 = (
            0,
            0.0,
            0.0,
        )  # Chan et al.'s pairwise update of mean and squared deviations
        for batch in data.batches(batch_size, drop_last=False):
            x = np.asarray(getattr(batch, field), np.float64)
            if not pointwise:
                x = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1).T  # (samples*points, channels)
            n_b, mean_b = x.shape[0], x.mean(axis=0)
            m2_b = ((x - mean_b) ** 2).sum(axis=0)
            delta = mean_b - mean
            total = count + n_b
            mean = mean + delta * n_b / total
            m2 = m2 + m2_b + delta**2 * count * n_b / total
            count = total
        std = np.sqrt(m2 / (count - 1))
        if not pointwise:
            ndim = len(data.input_shape if field == "inputs" else data.output_shape)
            shape = (-1,) + (1,) * (ndim - 1)
            mean, std = mean.reshape(shape), std.reshape(shape)
        return cls(jnp.asarray(mean, jnp.float32), jnp.asarray(std, jnp.float32), eps)

    def _statistics(self, x: Array) -> tuple[Array, Array]:
        ndim = self.mean.ndim
        if x.ndim < ndim or x.shape[x.ndim - ndim] != self.mean.shape[0]:
            raise ValueError(
                f"normalizer for {self.mean.shape[0]} channels and {ndim - 1} spatial axes got "
                f"an array of shape {x.shape}; expected (..., {self.mean.shape[0]}, *spatial)"
            )
        mean, std = jax.lax.stop_gradient((self.mean, self.std))
        if all(n == 1 for n in mean.shape[1:]):
            return mean, std
        spatial = x.shape[x.ndim - ndim + 1 :]
        return resample_corner_aligned(mean, spatial), resample_corner_aligned(std, spatial)

    def encode(self, x: Float[Array, "..."]) -> Float[Array, "..."]:
        """Standardize `x`, shaped `(..., channels, *spatial)` (one sample or a batch)."""
        mean, std = self._statistics(x)
        return (x - mean) / (std + self.eps)

    def decode(self, x: Float[Array, "..."]) -> Float[Array, "..."]:
        """Undo `encode`."""
        mean, std = self._statistics(x)
        return x * (std + self.eps) + mean
