"""Spectral convolution: the Fourier integral operator of the Fourier Neural Operator."""

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Complex, Float, PRNGKeyArray

from jaxsciml.nn import initializers
from jaxsciml.nn.base import AbstractGridOperator
from jaxsciml.nn.factorized import FactorizedWeight


def kept_mode_shape(modes: Sequence[int]) -> tuple[int, ...]:
    """Shape of the block of Fourier coefficients that a spectral convolution keeps.

    Every axis but the last keeps both ends of its spectrum (`m` non-negative and `m` negative
    frequencies, the two "corners" of Li et al.); the last axis is the half spectrum of a real FFT
    and keeps its lowest `m` non-negative frequencies.
    """
    return (*(2 * m for m in modes[:-1]), modes[-1])


def check_modes_fit(modes: Sequence[int], spatial_shape: Sequence[int]) -> None:
    """Raise a `ValueError` unless a grid of `spatial_shape` holds the kept `modes`."""
    if len(modes) != len(spatial_shape):
        raise ValueError(
            f"the spectral convolution has {len(modes)} spatial axes (modes={tuple(modes)}) but "
            f"the input has {len(spatial_shape)} (spatial shape {tuple(spatial_shape)}); "
            "pass inputs shaped (channels, *spatial)."
        )
    *leading, last = spatial_shape
    for axis, (m, n) in enumerate(zip(modes[:-1], leading)):
        if 2 * m > n:
            raise ValueError(
                f"modes[{axis}]={m} keeps {2 * m} frequencies (both signs) but spatial axis {axis} "
                f"has only {n} points; use a grid of at least {2 * m} points or modes <= {n // 2}."
            )
    if modes[-1] > last // 2 + 1:
        raise ValueError(
            f"modes[-1]={modes[-1]} is above what the last spatial axis holds ({last} points give "
            f"{last // 2 + 1} real-FFT frequencies); use modes <= {last // 2 + 1} or a finer grid."
        )


def truncate_spectrum(
    coefficients: Complex[Array, "..."], modes: Sequence[int]
) -> Complex[Array, "..."]:
    """Gather the kept block (see `kept_mode_shape`) from the real-FFT spectrum held in the last
    `len(modes)` axes of `coefficients`."""
    d = len(modes)
    out = coefficients[..., : modes[-1]]
    for axis, m in zip(range(-d, -1), modes[:-1]):
        n = out.shape[axis]
        low = jax.lax.slice_in_dim(out, 0, m, axis=out.ndim + axis)
        high = jax.lax.slice_in_dim(out, n - m, n, axis=out.ndim + axis)
        out = jnp.concatenate([low, high], axis=axis)
    return out


def embed_spectrum(
    kept: Complex[Array, "..."], modes: Sequence[int], spectrum_shape: Sequence[int]
) -> Complex[Array, "..."]:
    """Inverse of `truncate_spectrum`: the kept block in a zero spectrum of `spectrum_shape`."""
    d = len(modes)
    out = jnp.pad(kept, [(0, 0)] * (kept.ndim - 1) + [(0, spectrum_shape[-1] - modes[-1])])
    for axis, m, n in zip(range(-d, -1), modes[:-1], spectrum_shape[:-1]):
        low = jax.lax.slice_in_dim(out, 0, m, axis=out.ndim + axis)
        high = jax.lax.slice_in_dim(out, m, 2 * m, axis=out.ndim + axis)
        zeros_shape = list(out.shape)
        zeros_shape[axis] = n - 2 * m
        out = jnp.concatenate([low, jnp.zeros(zeros_shape, out.dtype), high], axis=axis)
    return out


def kept_frequencies(n: int, m: int, both_signs: bool) -> np.ndarray:
    """The frequencies an axis of `n` points keeps: `0..m-1`, then `n-m..n-1` if `both_signs`."""
    low = np.arange(m)
    return np.concatenate([low, np.arange(n - m, n)]) if both_signs else low


def _transform_precision() -> jax.lax.Precision | None:
    """Full float32 for the transforms' matrix products on accelerators, whose default for
    float32 products (TF32, bfloat16 passes) would add errors of ~1e-3 that an FFT does not
    make. CPUs always multiply in full precision, and their fast matrix kernels take only the
    default setting."""
    return None if jax.default_backend() == "cpu" else jax.lax.Precision.HIGHEST


def contract_axis(x: Array, matrix: Array, axis: int) -> Array:
    """Contract `x`'s `axis` with the first axis of `matrix`; the result keeps the axis' place."""
    y = jnp.tensordot(x, matrix, axes=(axis, 0), precision=_transform_precision())
    return jnp.moveaxis(y, -1, axis)


def truncated_dft(x: Float[Array, "..."], modes: Sequence[int]) -> Complex[Array, "..."]:
    """The kept block of `rfftn(x)` over the last `len(modes)` axes, by matrix products.

    Equal to `truncate_spectrum(rfftn(x), modes)` but computes only the kept frequencies: a
    product with an `(n, 2m)` matrix per axis (cosines and sines on the last, real axis; complex
    exponentials on the others). For the few modes neural operators keep this is less work and
    far less memory traffic than a full FFT, and every product is a plain matrix multiply.
    """
    d = len(modes)
    n = x.shape[-1]
    angles = 2 * np.pi * np.outer(np.arange(n), kept_frequencies(n, modes[-1], False)) / n
    real_dft = jnp.asarray(np.concatenate([np.cos(angles), -np.sin(angles)], axis=1), x.dtype)
    y = contract_axis(x, real_dft, -1)
    y = jax.lax.complex(y[..., : modes[-1]], y[..., modes[-1] :])
    for axis, m in zip(range(-2, -d - 1, -1), reversed(modes[:-1])):
        n = y.shape[axis]
        angles = 2 * np.pi * np.outer(np.arange(n), kept_frequencies(n, m, True)) / n
        y = contract_axis(y, jnp.asarray(np.exp(-1j * angles), y.dtype), axis)
    return y


def inverse_truncated_dft(
    kept: Complex[Array, "..."], modes: Sequence[int], spatial_shape: Sequence[int]
) -> Float[Array, "..."]:
    """`irfftn(embed_spectrum(kept), s=spatial_shape)` over the last axes, by matrix products.

    The last axis follows the inverse real FFT's convention: the zero (and, for even `n`, the
    Nyquist) frequency contributes its real part once, every other kept frequency twice.
    """
    d = len(modes)
    y = kept
    for axis, m, n in zip(range(-d, -1), modes[:-1], spatial_shape[:-1]):
        angles = 2 * np.pi * np.outer(kept_frequencies(n, m, True), np.arange(n)) / n
        y = contract_axis(y, jnp.asarray(np.exp(1j * angles) / n, y.dtype), axis)
    n, m = spatial_shape[-1], modes[-1]
    frequencies = kept_frequencies(n, m, False)
    weights = np.where((frequencies == 0) | (2 * frequencies == n), 1.0, 2.0) / n
    angles = 2 * np.pi * np.outer(frequencies, np.arange(n)) / n
    synthesis = np.tile(weights, 2)[:, None] * np.concatenate([np.cos(angles), -np.sin(angles)])
    parts = jnp.concatenate([y.real, y.imag], axis=-1)
    return contract_axis(parts, jnp.asarray(synthesis, parts.dtype), -1)


def prefers_matrix_dft(modes: Sequence[int], spatial_shape: Sequence[int]) -> bool:
    """Whether `truncated_dft` beats an FFT: when every axis keeps few of its frequencies.

    The truncated DFT costs `n · kept` per axis against the FFT's `~n log2 n`, but runs as matrix
    products where the FFT runs at a fraction of the machine's speed; on CPU it won up to
    `kept ≈ 4 log2 n` in `benchmarks/fno_train_step.py` (e.g. 24 of 64 points, 28 of 128).
    """
    kept = kept_mode_shape(modes)
    return all(k <= 4 * np.log2(n) for k, n in zip(kept, spatial_shape))


class SpectralConv(AbstractGridOperator):
    """The spectral convolution of the Fourier Neural Operator (Li et al., ICLR 2021).

    Computes `irfftn(R · rfftn(x))`: the real FFT of each input channel over the spatial axes,
    a complex channel-mixing matrix applied separately at every kept frequency, zeros at every
    other frequency, and the inverse real FFT back to the input's grid.

    Mode convention ("modes per corner", as in the paper's scripts): `modes=(m1, ..., md)` keeps
    frequencies `-m_i < k_i < m_i` on every axis but the last (that is `m_i` non-negative and `m_i`
    negative ones), and `0 <= k_d < m_d` on the last axis, where the real FFT stores only the
    non-negative half. neuraloperator's `n_modes=(2*m1, ..., 2*md - 2)` keeps the same frequencies.

    The complex weights are stored as two real arrays (`weight_real`, `weight_imag`) so that
    gradients, optimizers, checkpoints and sharding see ordinary real parameters; a complex weight
    counts as two parameters, as in the reference scripts.

    Because the weights act on frequencies, not on grid points, the same layer evaluates on any
    grid that holds the kept modes: that is what makes the FNO discretization-invariant.

    The transforms are computed by FFT or, when few modes are kept, by truncated DFT matrix
    products (`transform="auto"` picks with `prefers_matrix_dft`); both give the same operator.
    """

    weight_real: Float[Array, " in_channels out_channels *kept"] | None
    weight_imag: Float[Array, " in_channels out_channels *kept"] | None
    factorized: FactorizedWeight | None
    bias: Float[Array, " out_channels"] | None
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)
    transform: str = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        transform: str = "auto",
        factorization: str | None = None,
        rank: float = 0.1,
        shared: bool = False,
        bias: bool = False,
        init: str = "li",
        key: PRNGKeyArray,
        dtype=None,
    ):
        """**Arguments:**

        - `in_channels`, `out_channels`: channel counts of the input and the output.
        - `modes`: kept modes per spatial axis (per corner; see the class docstring). Its length
          is the number of spatial dimensions (1, 2 or 3; any positive number works).
        - `transform`: `"fft"`, `"dft"` (truncated DFT by matrix products) or `"auto"`.
        - `factorization`: `None` (dense weights), `"tucker"` or `"cp"`: the weight tensor in
          that low-rank form (`jaxsciml.nn.factorized`), the tensorized FNO (TFNO).
        - `rank`: for a factorized weight, the fraction of the dense parameters it keeps.
        - `shared`: hold no weights; each call gets them from a joint factorized tensor of
          several layers (`batched(x, joint=(tensor, layer))`, MG-TFNO's global factorization).
        - `bias`: add a per-channel bias to the output (neuraloperator's layers have one).
        - `init`: `"li"` (below) or `"normal"`, neuraloperator's: complex normal entries of
          standard deviation `σ = √(2 / (in_channels + out_channels))`, and a bias of normal
          entries of standard deviation `σ`.
        - `key`: PRNG key for the initialization, which is the reference's: real and imaginary
          parts uniform on `[0, 1/(in_channels*out_channels))` (factorized weights: zero-mean
          entries of that scale).
        - `dtype`: real dtype of the weights; the default floating dtype when `None`.
        """
        modes = tuple(int(m) for m in modes)
        if not modes or min(modes) < 1:
            raise ValueError(f"modes must be a non-empty sequence of positive ints, got {modes}")
        if in_channels < 1 or out_channels < 1:
            raise ValueError("in_channels and out_channels must be positive")
        if transform not in ("auto", "fft", "dft"):
            raise ValueError(f"transform must be 'auto', 'fft' or 'dft', got {transform!r}")
        if init not in ("li", "normal"):
            raise ValueError(f"init must be 'li' or 'normal', got {init!r}")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        shape = (in_channels, out_channels, *kept_mode_shape(modes))
        if init == "li":
            scale = 1.0 / (in_channels * out_channels)
        else:
            scale = (2.0 / (in_channels + out_channels)) ** 0.5
        key_real, key_imag = jax.random.split(key)
        self.bias = None
        if bias:
            key_bias = jax.random.fold_in(key, 1)
            self.bias = scale * initializers.normal(key_bias, (out_channels,), dtype)
        if shared:
            self.weight_real = self.weight_imag = self.factorized = None
        elif factorization is None:
            draw = initializers.uniform if init == "li" else initializers.normal
            part_scale = scale if init == "li" else scale / 2**0.5  # per real part
            self.weight_real = part_scale * draw(key_real, shape, dtype)
            self.weight_imag = part_scale * draw(key_imag, shape, dtype)
            self.factorized = None
        else:
            self.weight_real = self.weight_imag = None
            self.factorized = FactorizedWeight(
                shape, factorization, rank, scale, key=key_real, dtype=dtype
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = modes
        self.transform = transform

    def complex_weight(self) -> Complex[Array, " in_channels out_channels *kept"]:
        """The complex weights `R`, rebuilt from their factors for a factorized layer."""
        if self.factorized is not None:
            return self.factorized.dense()
        if self.weight_real is None:
            raise ValueError("a shared spectral convolution holds no weights of its own")
        return jax.lax.complex(self.weight_real, self.weight_imag)

    @property
    def dense_parameters(self) -> int:
        """Parameters of dense weights for this layer (a complex weight counts as two)."""
        return 2 * self.in_channels * self.out_channels * math.prod(kept_mode_shape(self.modes))

    @property
    def compression_ratio(self) -> float:
        """Parameters of the dense weights over those stored (1 when dense)."""
        if self.factorized is None:
            return 1.0
        return self.dense_parameters / self.factorized.num_parameters

    def mix(
        self, kept: Complex[Array, " batch in_channels *kept"], joint=None
    ) -> Complex[Array, " batch out_channels *kept"]:
        """The channel mixing at every kept frequency: by the dense weights, through the
        factors of a factorized weight (never rebuilding it), or through those of `joint =
        (tensor, layer)`, a joint factorized tensor of several layers."""
        if joint is not None:
            tensor, layer = joint
            return tensor.contract(kept, layer)
        if self.factorized is not None:
            return self.factorized.contract(kept)
        return jnp.einsum("bi...,io...->bo...", kept, self.complex_weight())

    def batched(
        self, x: Float[Array, " batch in_channels *spatial"], joint=None
    ) -> Float[Array, " batch out_channels *spatial"]:
        """**Arguments:**

        - `x`: a batch shaped `(batch, in_channels, *spatial)`.
        - `joint`: `(tensor, layer)` for a shared layer (see `shared`).

        **Returns:** an array shaped `(batch, out_channels, *spatial)` on the same grid.
        """
        if x.ndim < 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SpectralConv expects samples shaped (in_channels={self.in_channels}, "
                f"*spatial); got {x.shape[1:] if x.ndim else x.shape}."
            )
        spatial = x.shape[2:]
        check_modes_fit(self.modes, spatial)
        use_dft = self.transform == "dft" or (
            self.transform == "auto" and prefers_matrix_dft(self.modes, spatial)
        )
        axes = tuple(range(2, x.ndim))
        if use_dft:
            kept = truncated_dft(x, self.modes)
        else:
            kept = truncate_spectrum(jnp.fft.rfftn(x, axes=axes), self.modes)
        mixed = self.mix(kept, joint)
        if use_dft:
            y = inverse_truncated_dft(mixed, self.modes, spatial).astype(x.dtype)
        else:
            spectrum_shape = (*spatial[:-1], spatial[-1] // 2 + 1)
            spectrum = embed_spectrum(mixed, self.modes, spectrum_shape)
            y = jnp.fft.irfftn(spectrum, s=spatial, axes=axes).astype(x.dtype)
        if self.bias is None:
            return y
        return y + self.bias.reshape((-1,) + (1,) * len(spatial))
