"""The Fourier Neural Operator (Li et al., ICLR 2021), in 1, 2 or 3 spatial dimensions."""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsciml.nn import (
    AbstractGridOperator,
    PointwiseLinear,
    PointwiseMLP,
    SpectralConv,
    append_coordinates,
    check_modes_fit,
    count_parameters,
    crop_high,
    gelu,
    pad_high,
    padding_widths,
)
from jaxsciml.nn.factorized import FactorizedWeight
from jaxsciml.nn.spectral import kept_mode_shape
from jaxsciml.operators.files import recorded


class FourierLayer(AbstractGridOperator):
    """One Fourier layer before its activation: `K v + W v`, the spectral convolution `K` plus a
    pointwise linear path `W` (with bias)."""

    spectral: SpectralConv
    pointwise: PointwiseLinear

    def __init__(
        self,
        width: int,
        modes: Sequence[int],
        *,
        transform: str = "auto",
        factorization: str | None = None,
        rank: float = 0.1,
        shared: bool = False,
        key: PRNGKeyArray,
        dtype=None,
    ):
        key_k, key_w = jax.random.split(key)
        self.spectral = SpectralConv(
            width,
            width,
            modes,
            transform=transform,
            factorization=factorization,
            rank=rank,
            shared=shared,
            key=key_k,
            dtype=dtype,
        )
        self.pointwise = PointwiseLinear(width, width, key=key_w, dtype=dtype)

    def batched(
        self, v: Float[Array, " batch width *spatial"], joint=None
    ) -> Float[Array, " batch width *spatial"]:
        """`K v + W v`; `joint = (tensor, layer)` gives a shared `K` its weights."""
        return self.spectral.batched(v, joint) + self.pointwise.batched(v)


@recorded
class FNO(AbstractGridOperator):
    """Fourier Neural Operator, as in the paper's reference scripts.

    `u = Q(L_depth(... σ(L_1(P(a)))))`: a pointwise lifting `P` to `width` channels, `depth` Fourier
    layers `L_i v = K_i v + W_i v` with GELU between them (none after the last), and a projection
    MLP `Q` (`width -> projection_channels -> out_channels`).

    Options the paper's scripts use: the grid coordinates appended as input channels
    (`append_grid`, on by default) and zero padding on the high side of each axis for
    non-periodic problems (`padding`, as a fraction of the resolution so that it scales with the
    grid; the Darcy script pads 9 of 85 cells, about 0.1).

    One sample per call: input `(in_channels, *spatial)`, output `(out_channels, *spatial)`;
    `model.batched` maps a batch (see `jaxsciml.nn.AbstractGridOperator`). The same weights evaluate
    on any grid that holds the kept modes (zero-shot super-resolution).

    With `in_channels=1, out_channels=1, modes=(12, 12), width=32, depth=4,
    projection_channels=128` this is the paper's Darcy model: 2,368,001 parameters.
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    lifting: PointwiseLinear
    layers: tuple[FourierLayer, ...]
    joint: FactorizedWeight | None
    projection: PointwiseMLP
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)
    append_grid: bool = eqx.field(static=True)
    padding: tuple[float, ...] = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        width: int = 32,
        depth: int = 4,
        projection_channels: int = 128,
        *,
        append_grid: bool = True,
        padding: float | Sequence[float] = 0.0,
        activation: Callable[[Array], Array] = gelu,
        transform: str = "auto",
        factorization: str | None = None,
        rank: float = 0.1,
        joint_factorization: bool = False,
        key: PRNGKeyArray,
        dtype=None,
    ):
        """**Arguments:**

        - `in_channels`, `out_channels`: channels of the input and output functions (without the
          grid channels, which `append_grid` adds).
        - `modes`: kept Fourier modes per spatial axis, per corner (see `SpectralConv`); its length
          sets the dimension (1, 2 or 3).
        - `width`: channels of the hidden representation.
        - `depth`: number of Fourier layers.
        - `projection_channels`: hidden size of the projection MLP.
        - `append_grid`: append the `linspace(0, 1, n)` coordinates of each axis as input channels.
        - `padding`: zero padding on the high side of each axis after the lifting, as a fraction of
          that axis' resolution (one number for every axis, or one per axis); 0 for periodic data.
        - `activation`: the nonlinearity between layers and inside the projection.
        - `transform`: how the spectral convolutions transform (`"fft"`, `"dft"` or `"auto"`; see
          `SpectralConv`); the operator is the same.
        - `factorization`, `rank`: `"tucker"` or `"cp"` stores every layer's Fourier weights in
          that low-rank form keeping the fraction `rank` of their parameters: the tensorized FNO
          (TFNO, Kossaifi et al.); `compression_ratio` reports what it saves. The weights act
          through their factors, never rebuilt densely.
        - `joint_factorization`: one factorized tensor `(depth, width, width, *modes)` for the
          Fourier weights of all layers (MG-TFNO's global factorization; `rank` is then the
          fraction of the whole stack), each layer contracting its slice through the factors.
        - `key`: PRNG key for the initialization.
        - `dtype`: real dtype of the parameters.
        """
        modes = tuple(int(m) for m in modes)
        if len(modes) not in (1, 2, 3):
            raise ValueError(f"FNO supports 1, 2 or 3 spatial dimensions; got modes={modes}")
        if depth < 1 or width < 1:
            raise ValueError("depth and width must be positive")
        padding = (float(padding),) * len(modes) if isinstance(padding, int | float) else padding
        padding = tuple(float(p) for p in padding)
        if len(padding) != len(modes) or min(padding) < 0:
            raise ValueError(
                f"padding must be one non-negative fraction or one per axis ({len(modes)}); "
                f"got {padding}"
            )
        if joint_factorization and factorization is None:
            raise ValueError("joint_factorization needs factorization='tucker' or 'cp'")
        key_p, key_q, *keys = jax.random.split(key, depth + 2)
        lifted_channels = in_channels + (len(modes) if append_grid else 0)
        self.lifting = PointwiseLinear(lifted_channels, width, key=key_p, dtype=dtype)
        self.layers = tuple(
            FourierLayer(
                width,
                modes,
                transform=transform,
                factorization=factorization,
                rank=rank,
                shared=joint_factorization,
                key=k,
                dtype=dtype,
            )
            for k in keys
        )
        self.joint = None
        if joint_factorization:
            shape = (depth, width, width, *kept_mode_shape(modes))
            scale = 1.0 / (width * width)  # the dense layers' weight scale
            self.joint = FactorizedWeight(
                shape, factorization, rank, scale, key=jax.random.fold_in(key, 1), dtype=dtype
            )
        self.projection = PointwiseMLP(
            width,
            [projection_channels],
            out_channels,
            activation=activation,
            key=key_q,
            dtype=dtype,
        )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = modes
        self.append_grid = append_grid
        self.padding = padding
        self.activation = activation

    @property
    def compression_ratio(self) -> float:
        """The dense Fourier weights' parameter count over the stored one (1 for a dense FNO;
        about `1 / rank` for a TFNO, per layer or joint)."""
        convs = [layer.spectral for layer in self.layers]
        dense = sum(conv.dense_parameters for conv in convs)
        stored = count_parameters(self.joint) if self.joint is not None else 0
        return dense / (stored + sum(count_parameters(conv) for conv in convs))

    def batched(
        self, a: Float[Array, " batch in_channels *spatial"]
    ) -> Float[Array, " batch out_channels *spatial"]:
        """**Arguments:** `a`, input functions sampled on a uniform grid of the unit cube, shaped
        `(batch, in_channels, *spatial)`.

        **Returns:** the output functions on the same grid, `(batch, out_channels, *spatial)`.
        """
        if a.ndim != 2 + len(self.modes) or a.shape[1] != self.in_channels:
            raise ValueError(
                f"this FNO takes samples shaped (in_channels={self.in_channels}, "
                f"{len(self.modes)} spatial axes); got a sample of shape {a.shape[1:]}."
            )
        widths = padding_widths(a.shape[2:], self.padding)
        check_modes_fit(self.modes, [n + w for n, w in zip(a.shape[2:], widths)])
        x = append_coordinates(a) if self.append_grid else a
        v = pad_high(self.lifting.batched(x), widths)
        for index, layer in enumerate(self.layers):
            joint = None if self.joint is None else (self.joint, index)
            v = layer.batched(v, joint)
            if index < len(self.layers) - 1:
                v = self.activation(v)
        return self.projection.batched(crop_high(v, widths))
