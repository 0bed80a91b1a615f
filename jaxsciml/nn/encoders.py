"""A convolutional encoder: a field on a grid to a feature vector (DGenNO's `CNNet2d`)."""

import math
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray


class ConvEncoder(eqx.Module):
    """Unpadded strided convolutions, the flattened result through an MLP: a field
    `(channels[0], n1, n2)` to a vector `(widths[-1],)`.

    `activation` follows every convolution and every linear layer but the last. With
    `channels = [c]` (no convolutions) it is an MLP on the flattened field. The layers take
    equinox's (PyTorch's) default initialization, `U(±1/√fan_in)` for weights and biases.
    """

    convs: tuple[eqx.nn.Conv2d, ...]
    linears: tuple[eqx.nn.Linear, ...]
    grid_shape: tuple[int, int] = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        grid_shape: Sequence[int],
        channels: Sequence[int],
        widths: Sequence[int],
        *,
        kernel_size: int = 3,
        stride: int = 2,
        activation: Callable[[Array], Array] = jax.nn.silu,
        key: PRNGKeyArray,
    ):
        """**Arguments:** `grid_shape` `(n1, n2)`; `channels`: the input's channels, then each
        convolution's; `widths`: each linear layer's; `kernel_size`, `stride` of the
        convolutions; `activation`; `key`."""
        if len(grid_shape) != 2 or not channels or not widths:
            raise ValueError("a ConvEncoder needs a 2-D grid, input channels and linear widths")
        keys = iter(jax.random.split(key, len(channels) + len(widths)))
        self.convs = tuple(
            eqx.nn.Conv2d(c_in, c_out, kernel_size, stride=stride, key=next(keys))
            for c_in, c_out in zip(channels[:-1], channels[1:])
        )
        shape = [int(n) for n in grid_shape]
        for _ in self.convs:
            shape = [(n - kernel_size) // stride + 1 for n in shape]
        if min(shape) < 1:
            raise ValueError(f"a {tuple(grid_shape)} grid is too small for {len(self.convs)} "
                             f"convolutions of size {kernel_size} and stride {stride}")  # fmt: skip
        sizes = [channels[-1] * math.prod(shape), *widths]
        self.linears = tuple(
            eqx.nn.Linear(a, b, key=next(keys)) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.grid_shape = (int(grid_shape[0]), int(grid_shape[1]))
        self.activation = activation

    @property
    def out_features(self) -> int:
        return self.linears[-1].out_features

    def __call__(self, field: Float[Array, "c n1 n2"]) -> Float[Array, " features"]:
        z = field
        for conv in self.convs:
            z = self.activation(conv(z))
        z = z.reshape(-1)
        for layer in self.linears[:-1]:
            z = self.activation(layer(z))
        return self.linears[-1](z)
