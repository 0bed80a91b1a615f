"""The spatiotemporal Fourier neural operator of Spectral-Refiner (Cao et al., ICLR 2025).

SFNO maps a trajectory segment of a scalar field (frames `(t_in, nx, ny)` at a fixed interval)
to the frames that follow it, `(t_out, nx, ny)`: spectral convolutions act over space and time
together, so a trajectory is one function on `(x, y, t)` (a map between Bochner spaces) and
neither the number of input frames nor of output frames is built into the weights.

The layers follow the paper's code (torch-cfd, `fno/sfno.py`):

- a lifting: the frames plus a positional encoding (the grid's coordinates and `width − 3`
  temporal features `e^{βt} sin/cos(π k t)`, the exponential from the Navier-Stokes energy
  estimate), a layer norm over the whole segment, a pointwise map, and a first space-time
  spectral convolution that resamples the segment to `latent_steps` frames, followed by a
  pointwise MLP and a skip from the segment's last frame;
- `depth − 1` Fourier layers `σ(MLP(K v) + W v)` on the latent frames;
- a reduction to one channel and an output spectral convolution with a spectral bias ("a source
  term"): the last input frame and the latent frames, zero-padded in time to twice their length,
  are transformed once, and the output frames are the resulting trigonometric series evaluated at
  `out_steps` times across the latent window, added to the last input frame.

Where this implementation differs from the reference code, and why:

- Resampling in time keeps amplitudes: a series of `n` frames evaluated at `m` times samples the
  same function (the reference's backward-normalized inverse FFT scales the output by `n / m`,
  so asking for another number of frames changed the values, not only their spacing).
- The output frames are the series evaluated at `τ_j = j / out_steps` of the latent window, so
  that any `out_steps` samples the same window; the reference takes the last frames of a
  longer inverse FFT, whose window drifts with the number of frames.
- The positional grid is the periodic one (`i / n`), as the data's torus grid.
"""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, PRNGKeyArray

from jaxsciml.nn import initializers
from jaxsciml.nn.activations import gelu
from jaxsciml.nn.base import AbstractGridOperator
from jaxsciml.nn.blocks import ChannelNorm
from jaxsciml.nn.pointwise import PointwiseLinear, PointwiseMLP
from jaxsciml.nn.spectral import check_modes_fit, truncate_spectrum
from jaxsciml.operators.files import recorded


MAX_TIME_STEPS = 100  # the positional encoding's time unit: frame j sits at (j + 1) / 100


def series_weights(frames: int, kept: int) -> np.ndarray:
    """How often each kept non-negative frequency counts in a real series of `frames` samples:
    once for zero (and the Nyquist frequency of an even count), twice for the others."""
    k = np.arange(kept)
    return np.where((k == 0) | (2 * k == frames), 1.0, 2.0)


def synthesis_matrix(frames: int, kept: int, times: np.ndarray) -> np.ndarray:
    """`(kept, len(times))`: the kept real-FFT coefficients of `frames` samples on the period
    `[0, 1)` to the values of their trigonometric series at `times` (in that period)."""
    k = np.arange(kept)
    phases = np.exp(2j * np.pi * np.outer(k, times))
    return series_weights(frames, kept)[:, None] * phases / frames


def _embed_corners(kept: Array, shape: tuple[int, int]) -> Array:
    """The `(2mx, 2my)` corner block (axes 2, 3) in a zero full spectrum of `shape`."""
    mx, my = kept.shape[2] // 2, kept.shape[3] // 2
    nx, ny = shape
    lead, trail = kept.shape[:2], kept.shape[4:]
    rows = jnp.concatenate(
        [kept[:, :, :mx], jnp.zeros((*lead, nx - 2 * mx, 2 * my, *trail), kept.dtype),
         kept[:, :, mx:]], axis=2,
    )  # fmt: skip
    return jnp.concatenate(
        [rows[:, :, :, :my], jnp.zeros((*lead, nx, ny - 2 * my, *trail), kept.dtype),
         rows[:, :, :, my:]], axis=3,
    )  # fmt: skip


class SpaceTimeSpectralConv(eqx.Module):
    """A spectral convolution over `(x, y, t)` whose output is sampled at chosen times.

    The input `(batch, in_channels, nx, ny, nt)` is one period `[0, 1)` in time: its `rfftn`
    over the three axes keeps `modes = (mx, my, mt)` (both signs of the first two, the lowest
    `mt` of time), a complex channel-mixing weight acts at every kept frequency, plus
    `delta · bias` when the layer has a spectral bias, and the result is evaluated on the same
    spatial grid at `times` of that period. At `times = j / nt` that is the usual FNO layer.
    """

    weight_real: Float[Array, "i o x y t"]
    weight_imag: Float[Array, "i o x y t"]
    bias_real: Float[Array, "x y t"] | None
    bias_imag: Float[Array, "x y t"] | None
    modes: tuple[int, int, int] = eqx.field(static=True)
    delta: float = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        bias: bool = False,
        delta: float = 0.1,
        key: PRNGKeyArray,
        dtype=None,
    ):
        """**Arguments:** channel counts; `modes` `(mx, my, mt)`; `bias`: a spectral bias (zero
        at the start) scaled by `delta`; the PRNG `key`. The weights start as the reference's:
        real and imaginary parts uniform on `[0, 0.5 / (in_channels · out_channels))`."""
        modes = tuple(int(m) for m in modes)
        if len(modes) != 3 or min(modes) < 1:
            raise ValueError(f"modes must be three positive ints (mx, my, mt), got {modes}")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        shape = (in_channels, out_channels, 2 * modes[0], 2 * modes[1], modes[2])
        scale = 0.5 / (in_channels * out_channels)
        key_real, key_imag = jax.random.split(key)
        self.weight_real = scale * initializers.uniform(key_real, shape, dtype)
        self.weight_imag = scale * initializers.uniform(key_imag, shape, dtype)
        zeros = jnp.zeros(shape[2:], dtype) if bias else None
        self.bias_real = self.bias_imag = zeros
        self.modes = modes
        self.delta = float(delta)

    def mixed_coefficients(self, x: Float[Array, "b i nx ny nt"]) -> Complex[Array, "b o kx ky kt"]:
        """The kept coefficients after the channel mixing (and the spectral bias)."""
        mx, my, mt = self.modes
        nt = x.shape[-1]
        kept_t = min(mt, nt // 2 + 1)
        check_modes_fit((mx, my, kept_t), x.shape[2:])
        coefficients = truncate_spectrum(jnp.fft.rfftn(x, axes=(2, 3, 4)), (mx, my, kept_t))
        weight = jax.lax.complex(self.weight_real, self.weight_imag)[..., :kept_t]
        mixed = jnp.einsum("bixyt,ioxyt->boxyt", coefficients, weight)
        if self.bias_real is not None:
            bias = jax.lax.complex(self.bias_real, self.bias_imag)[..., :kept_t]
            mixed = mixed + self.delta * bias
        return mixed

    def __call__(
        self, x: Float[Array, "b i nx ny nt"], times: np.ndarray
    ) -> Float[Array, "b o nx ny m"]:
        """**Arguments:** `x` `(batch, in_channels, nx, ny, nt)`; `times` `(m,)` in `[0, 1)`.

        **Returns:** `(batch, out_channels, nx, ny, m)`, the layer's output at those times.
        """
        nx, ny, nt = x.shape[2:]
        mixed = self.mixed_coefficients(x)
        synthesis = jnp.asarray(synthesis_matrix(nt, mixed.shape[-1], times), mixed.dtype)
        in_time = jnp.einsum("boxyk,km->boxym", mixed, synthesis)
        spectrum = _embed_corners(in_time, (nx, ny))
        return jnp.fft.ifft2(spectrum, axes=(2, 3)).real.astype(x.dtype)

    def with_modes(self, modes: Sequence[int]) -> "SpaceTimeSpectralConv":
        """The same layer keeping more frequencies: the present weights (and bias) on their
        frequencies, zeros on the new ones, so the output is unchanged until trained."""
        modes = tuple(int(m) for m in modes)
        if any(new < old for new, old in zip(modes, self.modes)):
            raise ValueError(f"modes {modes} must not be below the present {self.modes}")
        (mx, my, mt), (nx_, ny_, nt_) = self.modes, modes

        def corners(m, grown_m):  # (old slice, new slice) of the low and the high block
            return ((slice(0, m), slice(0, m)), (slice(m, 2 * m), slice(2 * grown_m - m, None)))

        def grow(array):
            out = jnp.zeros((*array.shape[:-3], 2 * nx_, 2 * ny_, nt_), array.dtype)
            for old_x, new_x in corners(mx, nx_):
                for old_y, new_y in corners(my, ny_):
                    out = out.at[..., new_x, new_y, :mt].set(array[..., old_x, old_y, :])
            return out

        in_channels, out_channels = self.weight_real.shape[:2]
        grown = SpaceTimeSpectralConv(
            in_channels,
            out_channels,
            modes,
            bias=self.bias_real is not None,
            delta=self.delta,
            key=jax.random.key(0),
            dtype=self.weight_real.dtype,
        )  # a skeleton: every array is replaced below
        arrays = [grow(self.weight_real), grow(self.weight_imag)]
        if self.bias_real is None:
            return eqx.tree_at(lambda c: (c.weight_real, c.weight_imag), grown, tuple(arrays))
        arrays += [grow(self.bias_real), grow(self.bias_imag)]
        parts = lambda c: (c.weight_real, c.weight_imag, c.bias_real, c.bias_imag)  # noqa: E731
        return eqx.tree_at(parts, grown, tuple(arrays))


def positional_encoding(
    width: int, shape: tuple[int, int, int], beta: float, dtype
) -> Float[Array, "width nx ny nt"]:
    """The lifting's `width` channels: `x`, `y`, `t`, then `e^{βt}` times `sin(π k t)` (odd
    channels counted from the fourth) and `cos(π k t)` (even), `k = 1 … width − 3`, with frame
    `j` at `t = (j + 1) / MAX_TIME_STEPS`."""
    nx, ny, nt = shape
    t = np.arange(1, nt + 1) / MAX_TIME_STEPS
    channels = [
        np.broadcast_to((np.arange(nx) / nx)[:, None, None], shape),
        np.broadcast_to((np.arange(ny) / ny)[None, :, None], shape),
        np.broadcast_to(t[None, None, :], shape),
    ]
    for k in range(width - 3):
        basis = np.sin if k % 2 == 0 else np.cos
        channels.append(np.broadcast_to(np.exp(beta * t) * basis(np.pi * (k + 1) * t), shape))
    return jnp.asarray(np.stack(channels), dtype)


class SFNOLayer(eqx.Module):
    """`σ(MLP(K v) + W v)` on the latent frames."""

    spectral: SpaceTimeSpectralConv
    mlp: PointwiseMLP
    skip: PointwiseLinear


def uniform_times(frames: int) -> np.ndarray:
    """`j / frames`, `j = 0 … frames − 1`: the frames of one period."""
    return np.arange(frames) / frames


@recorded
class SFNO(AbstractGridOperator):
    """Spatiotemporal FNO (see the module docstring): frames `(t_in, nx, ny)` of a scalar field
    to the `out_steps` frames after them, `(out_steps, nx, ny)`.

    With `modes=(12, 12), modes_t=5, width=20, depth=4, latent_steps=10` this is the paper's
    model for the FNO Navier-Stokes data (10 frames in, 40 out).
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    norm: ChannelNorm  # the reference's `LayerNormnd`: a group norm with one group
    lifting: PointwiseLinear
    lifting_spectral: SpaceTimeSpectralConv
    lifting_mlp: PointwiseMLP
    layers: tuple[SFNOLayer, ...]
    reduction: PointwiseLinear
    output: SpaceTimeSpectralConv
    out_steps: int = eqx.field(static=True)
    width: int = eqx.field(static=True)
    latent_steps: int = eqx.field(static=True)
    beta: float = eqx.field(static=True)
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        out_channels: int,
        modes: Sequence[int] = (12, 12),
        modes_t: int = 5,
        width: int = 20,
        depth: int = 4,
        latent_steps: int = 10,
        *,
        beta: float = -0.01,
        delta: float = 0.1,
        channel_expansion: int = 4,
        activation: Callable[[Array], Array] = gelu,
        key: PRNGKeyArray,
        dtype=None,
    ):
        """**Arguments:**

        - `out_channels`: the number of output frames when a call does not name it.
        - `modes`: kept spatial modes `(mx, my)` per corner; `modes_t`: kept temporal modes.
        - `width`: hidden channels (at least 4: three coordinates and one temporal feature).
        - `depth`: spectral layers, the lifting's included (at least 2).
        - `latent_steps`: frames of the hidden representation.
        - `beta`: the exponential rate of the temporal encoding; `delta`: the spectral bias'
          scale in the output layer; `channel_expansion`: the MLPs' hidden width over `width`.
        - `activation`: the nonlinearity (the exact GELU of the paper's training script).
        - `key`, `dtype`: PRNG key and real dtype of the parameters.
        """
        modes = tuple(int(m) for m in modes)
        if len(modes) != 2:
            raise ValueError(f"SFNO is for two space dimensions: modes=(mx, my), got {modes}")
        if width < 4 or depth < 2 or latent_steps < 1 or out_channels < 1:
            raise ValueError("width >= 4, depth >= 2, latent_steps >= 1, out_channels >= 1")
        space_time = (*modes, int(modes_t))
        hidden = [channel_expansion * width]
        keys = iter(jax.random.split(key, 5 + 3 * (depth - 1)))
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        self.norm = ChannelNorm("group", width, dtype, eps=1e-7)
        self.lifting = PointwiseLinear(width, width, key=next(keys), dtype=dtype)
        self.lifting_spectral = SpaceTimeSpectralConv(
            width, width, space_time, key=next(keys), dtype=dtype
        )
        mlp = dict(activation=activation, dtype=dtype)
        self.lifting_mlp = PointwiseMLP(width, hidden, width, key=next(keys), **mlp)
        self.layers = tuple(
            SFNOLayer(
                SpaceTimeSpectralConv(width, width, space_time, key=next(keys), dtype=dtype),
                PointwiseMLP(width, hidden, width, key=next(keys), **mlp),
                PointwiseLinear(width, width, key=next(keys), dtype=dtype),
            )
            for _ in range(depth - 1)
        )
        self.reduction = PointwiseLinear(width, 1, key=next(keys), dtype=dtype)
        self.output = SpaceTimeSpectralConv(
            1, 1, space_time, bias=True, delta=delta, key=next(keys), dtype=dtype
        )
        self.out_steps = int(out_channels)
        self.width = width
        self.latent_steps = int(latent_steps)
        self.beta = float(beta)
        self.activation = activation

    def latent(self, frames: Float[Array, "b t_in nx ny"]) -> Float[Array, "b 1 nx ny latent"]:
        """The reduced latent frames: everything but the output layer."""
        x = jnp.moveaxis(frames, 1, -1)[:, None]  # (b, 1, nx, ny, t_in)
        pe = positional_encoding(self.width, x.shape[2:], self.beta, x.dtype)
        v = self.lifting.batched(self.norm(x + pe[None]))
        times = uniform_times(self.latent_steps)
        w = self.lifting_mlp.batched(self.lifting_spectral(v, times))
        v = self.activation(v[..., -1:] + w)
        for layer in self.layers:
            v = self.activation(layer.mlp.batched(layer.spectral(v, times)) + layer.skip.batched(v))
        return self.reduction.batched(v)

    def output_times(self, out_steps: int) -> np.ndarray:
        """Where the output layer evaluates its series: the latent window (the last input
        frame and the latent frames, in the second half of the zero-padded period) at
        `out_steps` equal steps after the last input frame."""
        frames = self.latent_steps + 1
        return (frames + self.latent_steps * np.arange(1, out_steps + 1) / out_steps) / (2 * frames)

    def batched(
        self, frames: Float[Array, " b t_in *spatial"], out_steps: int | None = None
    ) -> Float[Array, "b t_out nx ny"]:
        """**Arguments:** `frames` `(batch, t_in, nx, ny)`, any number of frames on any grid
        that holds the modes; `out_steps` output frames (default: the model's).

        **Returns:** `(batch, out_steps, nx, ny)`.
        """
        if frames.ndim != 4 or frames.shape[1] < 1:
            raise ValueError(f"SFNO takes samples shaped (frames, nx, ny); got {frames.shape[1:]}")
        return self.decode(frames[:, -1], self.latent(frames), out_steps)

    def decode(
        self,
        last_frame: Float[Array, " b nx ny"],
        latent: Float[Array, " b 1 nx ny latent"],
        out_steps: int | None = None,
    ) -> Float[Array, " b t_out nx ny"]:
        """The output layer alone: the frames after `last_frame` from the `latent` frames
        (`SFNO.latent`). Fine-tuning trains this part only, so it computes the latent once."""
        out_steps = self.out_steps if out_steps is None else int(out_steps)
        last = last_frame[:, None, :, :, None]  # (b, 1, nx, ny, 1)
        window = jnp.concatenate([last, latent], axis=-1)
        padded = jnp.concatenate([jnp.zeros_like(window), window], axis=-1)
        increments = self.output(padded, self.output_times(out_steps))
        return jnp.moveaxis((last + increments)[:, 0], -1, 1)

    def __call__(
        self, frames: Float[Array, " t_in *spatial"], out_steps: int | None = None
    ) -> Float[Array, "t_out nx ny"]:
        """One sample: `(t_in, nx, ny)` to `(out_steps, nx, ny)`."""
        return self.batched(frames[None], out_steps)[0]

    def with_output_modes(self, modes: Sequence[int]) -> "SFNO":
        """Spectral-Refiner's fine-tuning model: the output layer keeping `modes` `(mx, my,
        mt)` (the grid's full spectrum: no truncation), its present weights in place and zeros
        elsewhere, so the predictions are unchanged until the refinement trains it."""
        return eqx.tree_at(lambda m: m.output, self, self.output.with_modes(modes))


def output_layer_filter(model: SFNO):
    """A filter spec (`eqx.partition`) that trains the output spectral layer alone: the
    fine-tuning stage of Spectral-Refiner."""
    spec = jax.tree.map(lambda _: False, model)
    return eqx.tree_at(lambda m: m.output, spec, jax.tree.map(eqx.is_inexact_array, model.output))
