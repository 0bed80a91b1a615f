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
    crop_both,
    crop_high,
    gelu,
    pad_both,
    pad_high,
    padding_widths,
)
from jaxsciml.nn.blocks import ChannelNorm, make_skip
from jaxsciml.nn.factorized import FactorizedWeight
from jaxsciml.nn.spectral import kept_mode_shape
from jaxsciml.operators.files import recorded


class FourierLayer(AbstractGridOperator):
    """One Fourier block before its closing activation.

    The FNO paper's layer is `K v + W v`: the spectral convolution `K` plus a pointwise linear
    path `W` (with bias). With the options of neuraloperator 2.0's `FNOBlocks` it is

        x = norm₁(K v) + skip(v);  x = σ(x);  x = MLP(x) + mlp_skip(v);  x = norm₂(x)

    (`σ` and the MLP only with `channel_mlp`, each norm only with `norm`; `σ` is left out after
    the last block, as the closing activation is).
    """

    spectral: SpectralConv
    pointwise: AbstractGridOperator | None  # the skip path `W`
    mlp: PointwiseMLP | None
    mlp_skip: AbstractGridOperator | None
    norms: tuple[ChannelNorm, ChannelNorm] | None
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        width: int,
        modes: Sequence[int],
        *,
        transform: str = "auto",
        factorization: str | None = None,
        rank: float = 0.1,
        shared: bool = False,
        skip: str = "linear",
        skip_bias: bool = True,
        channel_mlp: float | None = None,
        channel_mlp_skip: str = "soft-gating",
        norm: str | None = None,
        spectral_bias: bool = False,
        init: str = "li",
        activation: Callable[[Array], Array] = gelu,
        key: PRNGKeyArray,
        dtype=None,
    ):
        """Options as `FNO` documents them."""
        key_k, key_w, key_m, key_s = jax.random.split(key, 4)
        self.spectral = SpectralConv(
            width, width, modes, transform=transform, factorization=factorization, rank=rank,
            shared=shared, bias=spectral_bias, init=init, key=key_k, dtype=dtype,
        )  # fmt: skip
        self.pointwise = make_skip(skip, width, bias=skip_bias, key=key_w, dtype=dtype)
        self.mlp = self.mlp_skip = None
        if channel_mlp is not None:
            hidden = [round(width * channel_mlp)]
            self.mlp = PointwiseMLP(
                width, hidden, width, activation=activation, key=key_m, dtype=dtype
            )
            self.mlp_skip = make_skip(channel_mlp_skip, width, bias=False, key=key_s, dtype=dtype)
        self.norms = None
        if norm is not None:
            self.norms = (ChannelNorm(norm, width, dtype), ChannelNorm(norm, width, dtype))
        self.activation = activation

    def batched(
        self, v: Float[Array, " batch width *spatial"], joint=None, last: bool = False
    ) -> Float[Array, " batch width *spatial"]:
        """The block on `v`; `joint = (tensor, layer)` gives a shared `K` its weights; `last`:
        the last block (no activation inside)."""
        x = self.spectral.batched(v, joint)
        if self.norms is not None:
            x = self.norms[0](x)
        if self.pointwise is not None:
            x = x + self.pointwise.batched(v)
        if self.mlp is not None:
            x = self.mlp.batched(x if last else self.activation(x))
            if self.mlp_skip is not None:
                x = x + self.mlp_skip.batched(v)
        if self.norms is not None:
            x = self.norms[1](x)
        return x


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

    The options of neuraloperator 2.0's FNO (a channel MLP in each block, soft-gated or linear
    skips, normalization, a two-layer lifting, a biased spectral layer with normal weights, the
    periodic grid embedding, padding on both sides) rebuild its models; `FNO.neuralop` sets its
    defaults.
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    lifting: PointwiseLinear | PointwiseMLP
    layers: tuple[FourierLayer, ...]
    joint: FactorizedWeight | None
    projection: PointwiseMLP
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)
    append_grid: bool = eqx.field(static=True)
    padding: tuple[float, ...] = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)
    grid: str = eqx.field(static=True)
    padding_sides: str = eqx.field(static=True)

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
        lifting_channels: int | None = None,
        channel_mlp: float | None = None,
        skip: str = "linear",
        skip_bias: bool = True,
        channel_mlp_skip: str = "soft-gating",
        norm: str | None = None,
        spectral_bias: bool = False,
        init: str = "li",
        grid: str = "closed",
        padding_sides: str = "high",
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

        The block options (defaults: the paper's scripts; `FNO.neuralop`: neuraloperator 2.0's):

        - `lifting_channels`: a two-layer lifting `(in + d) → lifting_channels → width` with the
          activation between (`None`: one linear map).
        - `channel_mlp`: a pointwise MLP `width → round(channel_mlp · width) → width` in each
          block after the skip sum, with its own skip `channel_mlp_skip` from the block input.
        - `skip`, `channel_mlp_skip`: `"linear"`, `"soft-gating"`, `"identity"` or `"none"`;
          `skip_bias`: whether the linear skip has a bias.
        - `norm`: `None`, `"group"` or `"instance"`, after the spectral convolution and at the
          block's end (see `FourierLayer`).
        - `spectral_bias`, `init`: a bias on the spectral convolutions and their initialization
          (`"li"` or `"normal"`, see `SpectralConv`).
        - `grid`: the appended coordinates, `"closed"` (`linspace(0, 1, n)`, the paper's) or
          `"periodic"` (`i / n`, neuraloperator's).
        - `padding_sides`: `"high"` (the paper's) or `"both"` (neuraloperator's symmetric
          domain padding).
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
        if grid not in ("closed", "periodic") or padding_sides not in ("high", "both"):
            raise ValueError(
                f"grid must be 'closed' or 'periodic' and padding_sides 'high' or 'both'; got "
                f"{grid!r}, {padding_sides!r}"
            )
        key_p, key_q, *keys = jax.random.split(key, depth + 2)
        lifted_channels = in_channels + (len(modes) if append_grid else 0)
        if lifting_channels is None:
            self.lifting = PointwiseLinear(lifted_channels, width, key=key_p, dtype=dtype)
        else:
            self.lifting = PointwiseMLP(
                lifted_channels, [lifting_channels], width, activation=activation, key=key_p,
                dtype=dtype,
            )  # fmt: skip
        self.layers = tuple(
            FourierLayer(
                width,
                modes,
                transform=transform,
                factorization=factorization,
                rank=rank,
                shared=joint_factorization,
                skip=skip,
                skip_bias=skip_bias,
                channel_mlp=channel_mlp,
                channel_mlp_skip=channel_mlp_skip,
                norm=norm,
                spectral_bias=spectral_bias,
                init=init,
                activation=activation,
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
        self.grid = grid
        self.padding_sides = padding_sides

    @classmethod
    def neuralop(
        cls,
        n_modes: Sequence[int],
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        n_layers: int = 4,
        *,
        lifting_channel_ratio: float = 2,
        projection_channel_ratio: float = 2,
        domain_padding: float = 0.0,
        norm: str | None = None,
        key: PRNGKeyArray,
        **options,
    ) -> "FNO":
        """neuraloperator 2.0's `FNO(n_modes, in_channels, out_channels, hidden_channels,
        n_layers)` with its defaults: a two-layer lifting and projection (`ratio · hidden`
        channels), a channel MLP of half the width with a soft-gated skip in each block, linear
        skips without bias, biased spectral layers with normal weights, the periodic grid
        embedding, symmetric domain padding. `n_modes` counts modes as neuraloperator does (all
        kept frequencies per axis, even numbers; the last axis keeps `n // 2 + 1` of its real
        FFT), so `n_modes=(24, 24)` is `modes=(12, 13)` here. `options` override any `FNO`
        argument (`factorization`, `rank`, ...).

        With `n_modes=(16, 16), hidden_channels=24` on one channel in and out, neuraloperator
        counts 671,113 parameters; so does this."""
        n_modes = tuple(int(n) for n in n_modes)
        if any(n % 2 for n in n_modes[:-1]) or min(n_modes) < 2:
            raise ValueError(f"n_modes must be even on every axis but the last, got {n_modes}")
        modes = (*(n // 2 for n in n_modes[:-1]), n_modes[-1] // 2 + 1)
        settings = dict(
            width=hidden_channels, depth=n_layers,
            projection_channels=int(projection_channel_ratio * hidden_channels),
            lifting_channels=int(lifting_channel_ratio * hidden_channels) or None,
            channel_mlp=0.5, skip="linear", skip_bias=False, channel_mlp_skip="soft-gating",
            norm=norm, spectral_bias=True, init="normal", grid="periodic",
            padding=domain_padding, padding_sides="both",
        )  # fmt: skip
        return cls(in_channels, out_channels, modes, **{**settings, **options}, key=key)

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
        sides = 2 if self.padding_sides == "both" else 1
        check_modes_fit(self.modes, [n + sides * w for n, w in zip(a.shape[2:], widths)])
        x = append_coordinates(a, self.grid == "periodic") if self.append_grid else a
        pad, crop = (pad_both, crop_both) if sides == 2 else (pad_high, crop_high)
        v = pad(self.lifting.batched(x), widths)
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            joint = None if self.joint is None else (self.joint, index)
            v = layer.batched(v, joint, last=index == last)
            if index < last:
                v = self.activation(v)
        return self.projection.batched(crop(v, widths))
