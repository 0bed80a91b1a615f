"""Pointwise (1x1) layers on channel-first fields: lifting, skip and projection maps."""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


class PointwiseLinear(eqx.Module):
    """An affine map of the channels, applied at every grid point (a 1x1 convolution).

    Initialized as PyTorch's `Linear`/`Conv1d` (and equinox's `Linear`): weight and bias uniform on
    `[-1/sqrt(in_channels), 1/sqrt(in_channels)]`.
    """

    weight: Float[Array, " out_channels in_channels"]
    bias: Float[Array, " out_channels"]
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, *, key: PRNGKeyArray, dtype=None):
        """**Arguments:** channel counts, a PRNG `key`, and the real `dtype` of the parameters."""
        if in_channels < 1 or out_channels < 1:
            raise ValueError("in_channels and out_channels must be positive")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        limit = 1.0 / in_channels**0.5
        key_w, key_b = jax.random.split(key)
        self.weight = jax.random.uniform(
            key_w, (out_channels, in_channels), dtype, minval=-limit, maxval=limit
        )
        self.bias = jax.random.uniform(key_b, (out_channels,), dtype, minval=-limit, maxval=limit)
        self.in_channels = in_channels
        self.out_channels = out_channels

    def __call__(
        self, x: Float[Array, " in_channels *spatial"]
    ) -> Float[Array, " out_channels *spatial"]:
        """Map one field shaped `(in_channels, *spatial)` to `(out_channels, *spatial)`."""
        if x.ndim < 1 or x.shape[0] != self.in_channels:
            raise ValueError(
                f"expected {self.in_channels} input channels (shape (channels, *spatial)), "
                f"got shape {x.shape}"
            )
        y = jnp.tensordot(self.weight, x, axes=(1, 0))
        return y + self.bias.reshape((-1,) + (1,) * (x.ndim - 1))


class PointwiseMLP(eqx.Module):
    """A multilayer perceptron on the channels, applied at every grid point.

    `PointwiseMLP(c_in, [h1, ..., hk], c_out)` is
    `Linear(c_in, h1) -> act -> ... -> Linear(hk, c_out)`, with no activation after the last layer.
    """

    layers: tuple[PointwiseLinear, ...]
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        hidden_channels: Sequence[int],
        out_channels: int,
        *,
        activation: Callable[[Array], Array],
        key: PRNGKeyArray,
        dtype=None,
    ):
        sizes = [in_channels, *hidden_channels, out_channels]
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            PointwiseLinear(a, b, key=k, dtype=dtype)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys)
        )
        self.activation = activation

    def __call__(self, x: Float[Array, " c *spatial"]) -> Float[Array, " d *spatial"]:
        """Map one field shaped `(in_channels, *spatial)` to `(out_channels, *spatial)`."""
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)
