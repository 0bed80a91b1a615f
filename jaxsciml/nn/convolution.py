"""2-D convolutions on channel-first fields whose padding mode encodes the boundary condition.

`Convolution` is a `k×k` convolution (stride 1 or 2) that pads `k // 2` cells in the chosen mode
(`"zeros"` for Dirichlet-like, `"periodic"` for the torus, `"reflect"` for Neumann-like data) and
`Prolongation` its stride-2 transpose, which maps a coarse grid of `⌈n/2⌉` points back onto a
grid of `n`. Both are cross-correlations as in PyTorch; weights are `(out, in, k, k)`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsciml.nn import initializers


PADDING_MODES = {"zeros": "constant", "periodic": "wrap", "reflect": "reflect"}


def check_padding(padding: str) -> None:
    if padding not in PADDING_MODES:
        raise ValueError(f"padding must be one of {sorted(PADDING_MODES)}, got {padding!r}")


def pad_spatial(x: Array, low: int, high: int, padding: str) -> Array:
    """Pad the two trailing (spatial) axes of `x` by `low` and `high` cells in `padding` mode."""
    widths = [(0, 0)] * (x.ndim - 2) + [(low, high)] * 2
    return jnp.pad(x, widths, mode=PADDING_MODES[padding])


def _correlate(x: Array, weight: Array, stride: int) -> Array:
    return jax.lax.conv_general_dilated(
        x, weight, (stride, stride), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW")
    )


def _uniform(key, shape, fan_in: int, dtype) -> Array:
    """PyTorch's default convolution initialization: uniform on `±1/√fan_in`."""
    limit = 1.0 / fan_in**0.5
    return initializers.uniform(key, shape, dtype, minval=-limit, maxval=limit)


class Convolution(eqx.Module):
    """`k×k` convolution, `(b, in, n1, n2) -> (b, out, ⌈n1/s⌉, ⌈n2/s⌉)` for stride `s` 1 or 2
    (odd `k`; `k // 2` cells of padding in the `padding` mode), with an optional bias."""

    weight: Float[Array, " out in k k"]
    bias: Float[Array, " out"] | None
    stride: int = eqx.field(static=True)
    padding: str = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        padding: str = "zeros",
        bias: bool = False,
        key: PRNGKeyArray,
        dtype=None,
    ):
        check_padding(padding)
        if kernel_size % 2 == 0 or stride not in (1, 2):
            raise ValueError("kernel_size must be odd and stride 1 or 2")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        fan_in = in_channels * kernel_size**2
        key_w, key_b = jax.random.split(key)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = _uniform(key_w, shape, fan_in, dtype)
        self.bias = _uniform(key_b, (out_channels,), fan_in, dtype) if bias else None
        self.stride = stride
        self.padding = padding

    def __call__(self, x: Float[Array, " b c_in n1 n2"]) -> Float[Array, " b c_out m1 m2"]:
        half = self.weight.shape[-1] // 2
        y = _correlate(pad_spatial(x, half, half, self.padding), self.weight, self.stride)
        return y if self.bias is None else y + self.bias[:, None, None]


class Prolongation(eqx.Module):
    """The stride-2 transposed convolution from a coarse grid onto a fine one of `shape`.

    Equal to PyTorch's `ConvTranspose2d(k, stride=2, padding=1, bias=False)` (which gives `2n − 1`
    points for `k = 3`, `2n` for `k = 4`) on the grids where that fits, and defined for every fine
    grid by the same formula: the coarse values are placed on the even fine points, the rest are
    zero, and a `k×k` correlation pads `k − 2` cells below and 1 above. With `periodic=True` that
    padding wraps around (the torus); otherwise it is zero, as in the MgNO code.
    """

    weight: Float[Array, " out in k k"]
    periodic: bool = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        periodic: bool = False,
        key: PRNGKeyArray,
        dtype=None,
    ):
        if kernel_size < 2:
            raise ValueError("kernel_size must be at least 2")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = _uniform(key, shape, out_channels * kernel_size**2, dtype)
        self.periodic = periodic

    def __call__(
        self, x: Float[Array, " b c_in m1 m2"], shape: tuple[int, int]
    ) -> Float[Array, " b c_out n1 n2"]:
        if any(-(-n // 2) != m for n, m in zip(shape, x.shape[2:])):
            raise ValueError(f"a coarse grid {x.shape[2:]} does not restrict from {shape}")
        spread = jnp.zeros((*x.shape[:2], *shape), x.dtype).at[..., ::2, ::2].set(x)
        k = self.weight.shape[-1]
        padded = pad_spatial(spread, k - 2, 1, "periodic" if self.periodic else "zeros")
        return _correlate(padded, self.weight, 1)
