"""Skip paths and normalizations inside Fourier blocks, as neuraloperator 2.0 builds them.

- Skips (`make_skip`): `"linear"` (a pointwise linear map; with bias as in the FNO paper's
  scripts, without as neuraloperator's `Flattened1dConv`), `"soft-gating"` (a per-channel scale,
  started at one), `"identity"`, or `"none"`.
- Normalizations (`ChannelNorm`): `"group"` (one group: every channel and grid point of a sample,
  with a per-channel scale and shift, PyTorch's `GroupNorm(1, c)`) or `"instance"` (per channel
  over the grid, no parameters, neuraloperator's `InstanceNorm`).
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsciml.nn.base import AbstractGridOperator
from jaxsciml.nn.pointwise import PointwiseLinear


SKIPS = ("linear", "soft-gating", "identity", "none")
NORMS = ("group", "instance")


class SoftGating(AbstractGridOperator):
    """`x · w` with one weight per channel, started at one."""

    weight: Float[Array, " c"]

    def batched(self, x: Float[Array, " b c *grid"]) -> Float[Array, " b c *grid"]:
        return x * self.weight.reshape((1, -1) + (1,) * (x.ndim - 2))


class Identity(AbstractGridOperator):
    """`x`, unchanged."""

    def batched(self, x: Float[Array, " b c *grid"]) -> Float[Array, " b c *grid"]:
        return x


def make_skip(
    kind: str, width: int, *, bias: bool = True, key: PRNGKeyArray, dtype=None
) -> AbstractGridOperator | None:
    """The skip path of `kind` (module docstring) on `width` channels; `None` for `"none"`."""
    if kind not in SKIPS:
        raise ValueError(f"a skip must be one of {SKIPS}, got {kind!r}")
    if kind == "linear":
        return PointwiseLinear(width, width, bias=bias, key=key, dtype=dtype)
    if kind == "soft-gating":
        return SoftGating(jnp.ones(width, jnp.zeros(()).dtype if dtype is None else dtype))
    return Identity() if kind == "identity" else None


class ChannelNorm(eqx.Module):
    """Group (one group) or instance normalization of `(b, c, *grid)` fields."""

    weight: Float[Array, " c"] | None
    bias: Float[Array, " c"] | None
    kind: str = eqx.field(static=True)
    eps: float = eqx.field(static=True, default=1e-5)

    def __init__(self, kind: str, width: int, dtype=None, eps: float = 1e-5):
        if kind not in NORMS:
            raise ValueError(f"norm must be one of {NORMS} or None, got {kind!r}")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        affine = kind == "group"
        self.weight = jnp.ones(width, dtype) if affine else None
        self.bias = jnp.zeros(width, dtype) if affine else None
        self.kind = kind
        self.eps = eps

    def __call__(self, x: Float[Array, " b c *grid"]) -> Float[Array, " b c *grid"]:
        axes = tuple(range(1 if self.kind == "group" else 2, x.ndim))
        mean = jnp.mean(x, axis=axes, keepdims=True)
        variance = jnp.var(x, axis=axes, keepdims=True)
        y = (x - mean) / jnp.sqrt(variance + self.eps)
        if self.weight is None:
            return y
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return y * self.weight.reshape(shape) + self.bias.reshape(shape)
