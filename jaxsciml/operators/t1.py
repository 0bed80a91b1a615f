"""T1, "Transform Once" (Poli, Massaroli, Berto, Park, Dao, Ré, Ermon; NeurIPS 2022).

A frequency-domain model that transforms once: a pointwise lifting, one orthonormal real
transform (DCT-II by default) truncated to the low modes (the two commute, so the input channels
are transformed and the coefficients lifted), `depth` blocks that never leave the
frequency domain, a head on the coefficients, and one inverse transform at the output (or none:
`frequency_relative_l2` trains on the coefficients, which by Parseval is the physical relative L2
without the inverse transform).
"""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsciml.nn import (
    AbstractGridOperator,
    PointwiseLinear,
    append_coordinates,
    gelu,
    initializers,
    mix_channels,
    transforms,
)
from jaxsciml.operators.files import recorded


INITIALIZATIONS = ("vp", "fno")


def _mix_modes(z: Array, matrices: Sequence[Array]) -> Array:
    """Per channel, a dense matrix along each frequency axis: `z` `(b, c, *m)`, `matrices[a]`
    `(c, m_a, m_a)` (output mode first)."""
    letters = "xyz"[: len(matrices)]
    for axis, matrix in enumerate(matrices):
        new = letters.upper()[axis]
        source = "bc" + letters
        target = source.replace(letters[axis], new)
        z = jnp.einsum(f"{source},c{new}{letters[axis]}->{target}", z, matrix)
    return z


class T1Block(eqx.Module):
    """One T1 block on coefficients `x` `(b, width, *modes)`:
    `x + M(σ(Σ_i W[i, o, k] x[i, k]))`, a channel mixing per mode `W` `(width, width, *modes)`,
    the activation `σ`, and a per-channel mode mixing `M` (one `(m_a, m_a)` matrix per frequency
    axis `a` and channel), then the residual."""

    channel_mixing: Float[Array, " width_in width_out *modes"]
    mode_mixing: tuple[Float[Array, " width m m"], ...]
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        width: int,
        modes: Sequence[int],
        channel_std: float,
        activation: Callable[[Array], Array],
        *,
        key: PRNGKeyArray,
        dtype,
    ):
        key_w, *keys = jax.random.split(key, len(modes) + 1)
        shape = (width, width, *modes)
        self.channel_mixing = channel_std * initializers.normal(key_w, shape, dtype)
        self.mode_mixing = tuple(  # Kaiming: std √(1/m)
            initializers.normal(k, (width, m, m), dtype) / np.sqrt(m) for k, m in zip(keys, modes)
        )
        self.activation = activation

    def __call__(self, x: Float[Array, " b width *modes"]) -> Float[Array, " b width *modes"]:
        z = jnp.einsum("bi...,io...->bo...", x, self.channel_mixing)
        return x + _mix_modes(self.activation(z), self.mode_mixing)


@recorded
class T1(AbstractGridOperator):
    """T1, the "Transform Once" frequency-domain operator (Poli et al., NeurIPS 2022).

    `u = T⁻¹(H(B_depth(... B_1(T(P(a))))))`: a pointwise lifting `P` of `(a, grid)` to `width`
    channels; one orthonormal transform `T` along every spatial axis keeping the lowest
    `modes[i]` coefficients of axis `i` (one corner: DCT frequencies are non-negative);
    `depth` `T1Block`s on the coefficients; a head `H`, `width -> head_channels -> sin ->
    out_channels` on each coefficient, without biases and initialized at 1e-8 so the first output
    is ≈ 0; and one inverse transform `T⁻¹` onto the grid (zero above the kept modes).

    Initialization (`init`): `"vp"`, the paper's variance-preserving one, draws the channel
    mixing with std `√(N / (width · m))` (`N` grid points at `resolution`, `m` kept modes), which
    undoes the `m/N` loss of variance that truncation causes; `"fno"` uses `1/width²`. The mode
    mixing is Kaiming (`√(1/m_a)`). Both transforms here are real and orthonormal, so the gain is 1
    for both (the paper's ½ for its complex DFT does not apply to the real Fourier basis). On
    Darcy flow the paper's model (width 48, depth 8) does not train from `"vp"`, in the authors'
    code either (`benchmarks/parity_t1.py`); it does from `"fno"` (`configs/darcy_t1.toml`).

    Resolution: the model is built for a grid of `resolution` points per axis, where the
    transform is exactly orthonormal. On any other grid the coefficients are scaled by
    `√(N_resolution / N_grid)` so that they approximate the same continuous coefficients: the same
    weights evaluate on a finer or coarser grid that holds the kept modes.

    One sample `(in_channels, *spatial)` per call, `(out_channels, *spatial)` out; `batched` maps
    a batch. The paper's Navier-Stokes model: `modes=(24, 24), resolution=(64, 64), width=48,
    depth=8`, 11,065,664 parameters.
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    lifting: PointwiseLinear
    blocks: tuple[T1Block, ...]
    head_hidden: Float[Array, " head width"]
    head_out: Float[Array, " out head"]
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)
    resolution: tuple[int, ...] = eqx.field(static=True)
    transform: str = eqx.field(static=True)
    append_grid: bool = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        resolution: Sequence[int],
        width: int = 48,
        depth: int = 8,
        head_channels: int = 128,
        *,
        transform: str = "dct",
        init: str = "vp",
        activation: Callable[[Array], Array] = gelu,
        append_grid: bool = True,
        key: PRNGKeyArray,
        dtype=None,
    ):
        """**Arguments:**

        - `in_channels`, `out_channels`: channels of the input and output functions.
        - `modes`: kept coefficients per spatial axis (1, 2 or 3 axes).
        - `resolution`: the training grid's points per axis (sets `N` of the initialization and
          the grid on which the transform is orthonormal).
        - `width`, `depth`, `head_channels`: channels, number of blocks, hidden size of the head.
        - `transform`: `"dct"` (the paper's default) or `"dft"` (the real Fourier basis).
        - `init`: `"vp"` or `"fno"` (see above).
        - `activation`: applied to the coefficients in every block (GELU, as for DCT runs).
        - `append_grid`: append the grid coordinates to the input before the lifting.
        - `key`, `dtype`: PRNG key and real dtype of the parameters.
        """
        modes = tuple(int(m) for m in modes)
        resolution = tuple(int(n) for n in resolution)
        if len(modes) not in (1, 2, 3) or len(resolution) != len(modes):
            raise ValueError(
                f"modes and resolution need one entry per spatial axis (1 to 3); got "
                f"modes={modes}, resolution={resolution}"
            )
        if any(not 1 <= m <= n for m, n in zip(modes, resolution)):
            raise ValueError(f"modes {modes} must be between 1 and the resolution {resolution}")
        if transform not in transforms.TRANSFORMS:
            raise ValueError(f"transform must be one of {transforms.TRANSFORMS}, got {transform!r}")
        if init not in INITIALIZATIONS:
            raise ValueError(f"init must be one of {INITIALIZATIONS}, got {init!r}")
        if min(width, depth, head_channels) < 1:
            raise ValueError("width, depth and head_channels must be positive")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        points, kept = int(np.prod(resolution)), int(np.prod(modes))
        std = np.sqrt(points / (width * kept)) if init == "vp" else 1.0 / width**2
        key_p, key_h1, key_h2, *keys = jax.random.split(key, depth + 3)
        lifted = in_channels + (len(modes) if append_grid else 0)
        self.lifting = PointwiseLinear(lifted, width, key=key_p, dtype=dtype)
        self.blocks = tuple(
            T1Block(width, modes, std, activation, key=k, dtype=dtype) for k in keys
        )
        self.head_hidden = 1e-8 * jax.random.normal(key_h1, (head_channels, width), dtype)
        self.head_out = 1e-8 * jax.random.normal(key_h2, (out_channels, head_channels), dtype)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = modes
        self.resolution = resolution
        self.transform = transform
        self.append_grid = append_grid

    def coefficient_scale(self, spatial_shape: Sequence[int]) -> float:
        """`√(N_resolution / N_grid)`: 1 at the training resolution."""
        return float(np.sqrt(np.prod(self.resolution) / np.prod(spatial_shape)))

    def _check(self, a: Array) -> None:
        spatial = a.shape[2:]
        if a.ndim != 2 + len(self.modes) or a.shape[1] != self.in_channels:
            raise ValueError(
                f"this T1 takes samples shaped (in_channels={self.in_channels}, "
                f"{len(self.modes)} spatial axes); got a sample of shape {a.shape[1:]}."
            )
        if any(m > n for m, n in zip(self.modes, spatial)):
            raise ValueError(
                f"a grid of {spatial} points cannot hold the kept modes {self.modes}; evaluate on "
                "a grid with at least that many points per axis."
            )

    def encode(self, a: Float[Array, " b c_in *spatial"]) -> Float[Array, " b width *modes"]:
        """Lift, then transform once: the kept coefficients of the lifted fields.

        The lifting `W x + b` is affine and pointwise, so it commutes with the transform:
        `T(W x + b) = W T(x) + b T(1)`. Transforming the few input channels and lifting the
        coefficients gives the same result for a fraction of the cost (3 instead of `width`
        channels through the transform).
        """
        self._check(a)
        x = append_coordinates(a) if self.append_grid else a
        scale = self.coefficient_scale(a.shape[2:])
        coefficients = transforms.forward(x, self.transform, self.modes, scale)
        constant = transforms.forward(
            jnp.ones(a.shape[2:], a.dtype), self.transform, self.modes, scale
        )
        bias = self.lifting.bias.reshape(-1, *(1 for _ in self.modes))
        return mix_channels(self.lifting.weight, coefficients) + bias * constant

    def head(self, x: Float[Array, " b width *modes"]) -> Float[Array, " b c_out *modes"]:
        """The head on every coefficient: `width -> head -> sin -> out`, no biases."""
        return mix_channels(self.head_out, jnp.sin(mix_channels(self.head_hidden, x)))

    def coefficients(self, a: Float[Array, " b c_in *spatial"]) -> Float[Array, " b c_out *modes"]:
        """The predicted output's kept coefficients (scaled as `encode`'s), before `T⁻¹`."""
        x = self.encode(a)
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def batched(self, a: Float[Array, " b c_in *spatial"]) -> Float[Array, " b c_out *spatial"]:
        """**Arguments:** `a` `(batch, in_channels, *spatial)` on a uniform grid.

        **Returns:** `(batch, out_channels, *spatial)` on the same grid.
        """
        spatial = a.shape[2:]
        scale = self.coefficient_scale(spatial)
        return transforms.inverse(self.coefficients(a), self.transform, spatial, scale)


def frequency_relative_l2(model: T1, batch, key=None) -> Float[Array, ""]:
    """The relative L2 loss of T1 computed in the frequency domain (the paper's training loss).

    With `P` the predicted coefficients, `Y` the target's kept coefficients and Parseval for the
    rest, `‖u − y‖² = (‖P − Y‖² + ‖ŷ‖² − ‖Y‖²) / s²`: the physical relative L2 per sample
    (mean over the batch) without the inverse transform. A `fit` loss.
    """
    inputs, targets = batch.inputs, batch.outputs
    scale = model.coefficient_scale(inputs.shape[2:])
    predicted = model.coefficients(inputs)
    kept = transforms.forward(targets, model.transform, model.modes, scale)
    axes = tuple(range(1, targets.ndim))
    total = scale**2 * jnp.sum(targets**2, axis=axes)
    beyond = jnp.maximum(total - jnp.sum(kept**2, axis=axes), 0.0)
    error = jnp.sum((predicted - kept) ** 2, axis=axes) + beyond
    return jnp.mean(jnp.sqrt(error / total))
