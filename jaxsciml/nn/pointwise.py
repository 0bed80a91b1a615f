"""Pointwise (1x1) layers on channel-first fields: lifting, skip and projection maps."""

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsciml.nn.base import AbstractGridOperator


def mix_channels(
    weight: Float[Array, " o i"], x: Float[Array, " batch i *spatial"]
) -> Float[Array, " batch o *spatial"]:
    """`y[b, o] = Σ_i weight[o, i] x[b, i]` at every grid point.

    Written as a matrix product batched over samples (the weight broadcast along the batch), so
    XLA runs one batched GEMM on the channel-first data without transposing it.
    """
    b, i = x.shape[:2]
    stacked = jnp.broadcast_to(weight, (b, *weight.shape))
    flat = x.reshape(b, i, -1)
    y = jax.lax.dot_general(stacked, flat, (((2,), (1,)), ((0,), (0,))))
    return y.reshape(b, weight.shape[0], *x.shape[2:])


class PointwiseLinear(AbstractGridOperator):
    """An affine map of the channels, applied at every grid point (a 1x1 convolution).

    Initialized as PyTorch's `Linear`/`Conv1d` (and equinox's `Linear`): weight and bias uniform on
    `[-1/sqrt(in_channels), 1/sqrt(in_channels)]`.
    """

    weight: Float[Array, " out_channels in_channels"]
    bias: Float[Array, " out_channels"] | None
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        bias: bool = True,
        key: PRNGKeyArray,
        dtype=None,
    ):
        """**Arguments:** channel counts, whether the map has a `bias`, a PRNG `key`, and the
        real `dtype` of the parameters."""
        if in_channels < 1 or out_channels < 1:
            raise ValueError("in_channels and out_channels must be positive")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        limit = 1.0 / in_channels**0.5
        key_w, key_b = jax.random.split(key)
        self.weight = jax.random.uniform(
            key_w, (out_channels, in_channels), dtype, minval=-limit, maxval=limit
        )
        self.bias = (
            jax.random.uniform(key_b, (out_channels,), dtype, minval=-limit, maxval=limit)
            if bias
            else None
        )
        self.in_channels = in_channels
        self.out_channels = out_channels

    def batched(
        self, x: Float[Array, " batch in_channels *spatial"]
    ) -> Float[Array, " batch out_channels *spatial"]:
        """Map `(batch, in_channels, *spatial)` to `(batch, out_channels, *spatial)`."""
        if x.ndim < 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected {self.in_channels} input channels (one sample shaped (channels, "
                f"*spatial)), got {x.shape[1:] if x.ndim else x.shape}"
            )
        y = mix_channels(self.weight, x)
        if self.bias is None:
            return y
        return y + self.bias.reshape((-1,) + (1,) * (x.ndim - 2))


class PointwiseMLP(AbstractGridOperator):
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

    def batched(self, x: Float[Array, " batch c *spatial"]) -> Float[Array, " batch d *spatial"]:
        """Map `(batch, in_channels, *spatial)` to `(batch, out_channels, *spatial)`.

        On CPU, when the hidden activations of the whole batch would exceed a few MiB, the grid
        points go through in chunks (`spatial_chunks`), each rematerialized in the backward
        pass, so that the hidden channels stay in cache instead of streaming through memory
        several times: the FNO's 32→128→1 projection at 64², batch 20, trains 2× faster so.
        """
        widest = max(layer.out_channels for layer in self.layers[:-1]) if self.layers[1:] else 0
        count = spatial_chunks(x, widest)
        if count == 1:
            return self._apply(x)
        b, c = x.shape[:2]
        n = math.prod(x.shape[2:])
        pieces = jnp.moveaxis(x.reshape(b, c, count, n // count), 2, 0)  # (count, b, c, n/count)
        # a lambda: `jax.checkpoint` hashes its function, and a bound method of a module holding
        # traced weights cannot be hashed
        out = jax.lax.map(jax.checkpoint(lambda piece: self._apply(piece)), pieces)
        return jnp.moveaxis(out, 0, 2).reshape(b, out.shape[2], *x.shape[2:])

    def _apply(self, x: Array) -> Array:
        for layer in self.layers[:-1]:
            x = self.activation(layer.batched(x))
        return self.layers[-1].batched(x)


CHUNK_BYTES = 4 * 2**20  # hidden activations per chunk of a pointwise MLP on CPU


def spatial_chunks(x: Array, hidden_channels: int, chunk_bytes: int | None = None) -> int:
    """How many chunks of grid points a pointwise MLP with `hidden_channels` takes `x`
    `(batch, channels, *spatial)` in: the fewest that divide the points and keep each chunk's
    hidden activations within `chunk_bytes` (default `CHUNK_BYTES`), on CPU; 1 on accelerators
    (where a loop over chunks would serialize kernels that run in parallel), when the
    activations are small, and when no divisor of the points is near the count needed (a prime
    number of points would otherwise go one at a time)."""
    if jax.default_backend() != "cpu" or hidden_channels == 0 or x.ndim < 3:
        return 1
    points = math.prod(x.shape[2:])
    chunk_bytes = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    needed = -(-x.shape[0] * hidden_channels * points * x.dtype.itemsize // chunk_bytes)
    if needed <= 1:
        return 1
    return next((c for c in range(needed, 4 * needed + 1) if points % c == 0), 1)
