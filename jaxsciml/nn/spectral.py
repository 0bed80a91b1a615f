"""Spectral convolution: the Fourier integral operator of the Fourier Neural Operator."""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Complex, Float, PRNGKeyArray


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
    coefficients: Complex[Array, " c *freq"], modes: Sequence[int]
) -> Complex[Array, " c *kept"]:
    """Gather the kept block (see `kept_mode_shape`) from a real-FFT spectrum."""
    out = coefficients[..., : modes[-1]]
    for axis, m in enumerate(modes[:-1], start=1):
        low = jax.lax.slice_in_dim(out, 0, m, axis=axis)
        high = jax.lax.slice_in_dim(out, out.shape[axis] - m, out.shape[axis], axis=axis)
        out = jnp.concatenate([low, high], axis=axis)
    return out


def embed_spectrum(
    kept: Complex[Array, " c *kept"], modes: Sequence[int], spectrum_shape: Sequence[int]
) -> Complex[Array, " c *freq"]:
    """Inverse of `truncate_spectrum`: the kept block in a zero spectrum of `spectrum_shape`."""
    out = jnp.pad(kept, [(0, 0)] * (kept.ndim - 1) + [(0, spectrum_shape[-1] - modes[-1])])
    for axis, m in enumerate(modes[:-1], start=1):
        n = spectrum_shape[axis - 1]
        low = jax.lax.slice_in_dim(out, 0, m, axis=axis)
        high = jax.lax.slice_in_dim(out, m, 2 * m, axis=axis)
        zeros_shape = list(out.shape)
        zeros_shape[axis] = n - 2 * m
        out = jnp.concatenate([low, jnp.zeros(zeros_shape, out.dtype), high], axis=axis)
    return out


class SpectralConv(eqx.Module):
    """The spectral convolution of the Fourier Neural Operator (Li et al., ICLR 2021).

    Computes `irfftn(R · rfftn(x))`: the real FFT of each input channel over the spatial axes,
    a complex channel-mixing matrix applied separately at every kept frequency, zeros at every
    other frequency, and the inverse real FFT back to the input's grid.

    Mode convention ("modes per corner", as in the paper's scripts): `modes=(m1, ..., md)` keeps
    frequencies `-m_i < k_i < m_i` on every axis but the last (that is `m_i` non-negative and `m_i`
    negative ones), and `0 <= k_d < m_d` on the last axis, where the real FFT stores only the
    non-negative half. neuraloperator's `n_modes=(2*m1, ..., 2*md)` keeps the same rows and one
    more column.

    The complex weights are stored as two real arrays (`weight_real`, `weight_imag`) so that
    gradients, optimizers, checkpoints and sharding see ordinary real parameters; a complex weight
    counts as two parameters, as in the reference scripts.

    Because the weights act on frequencies, not on grid points, the same layer evaluates on any
    grid that holds the kept modes: that is what makes the FNO discretization-invariant.
    """

    weight_real: Float[Array, " in_channels out_channels *kept"]
    weight_imag: Float[Array, " in_channels out_channels *kept"]
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        *,
        key: PRNGKeyArray,
        dtype=None,
    ):
        """**Arguments:**

        - `in_channels`, `out_channels`: channel counts of the input and the output.
        - `modes`: kept modes per spatial axis (per corner; see the class docstring). Its length
          is the number of spatial dimensions (1, 2 or 3; any positive number works).
        - `key`: PRNG key for the initialization, which is the reference's: real and imaginary
          parts uniform on `[0, 1/(in_channels*out_channels))`.
        - `dtype`: real dtype of the weights; the default floating dtype when `None`.
        """
        modes = tuple(int(m) for m in modes)
        if not modes or min(modes) < 1:
            raise ValueError(f"modes must be a non-empty sequence of positive ints, got {modes}")
        if in_channels < 1 or out_channels < 1:
            raise ValueError("in_channels and out_channels must be positive")
        dtype = jnp.zeros(()).dtype if dtype is None else dtype
        shape = (in_channels, out_channels, *kept_mode_shape(modes))
        scale = 1.0 / (in_channels * out_channels)
        key_real, key_imag = jax.random.split(key)
        self.weight_real = scale * jax.random.uniform(key_real, shape, dtype)
        self.weight_imag = scale * jax.random.uniform(key_imag, shape, dtype)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.modes = modes

    def __call__(
        self, x: Float[Array, " in_channels *spatial"]
    ) -> Float[Array, " out_channels *spatial"]:
        """**Arguments:**

        - `x`: one sample, shaped `(in_channels, *spatial)`; `jax.vmap` over a batch.

        **Returns:** an array shaped `(out_channels, *spatial)` on the same grid.
        """
        if x.ndim < 2 or x.shape[0] != self.in_channels:
            raise ValueError(
                f"SpectralConv expects one sample shaped (in_channels={self.in_channels}, "
                f"*spatial); got shape {x.shape}. Use jax.vmap for a batch."
            )
        spatial = x.shape[1:]
        check_modes_fit(self.modes, spatial)
        axes = tuple(range(1, x.ndim))
        coefficients = jnp.fft.rfftn(x, axes=axes)
        kept = truncate_spectrum(coefficients, self.modes)
        weight = jax.lax.complex(self.weight_real, self.weight_imag)
        mixed = jnp.einsum("i...,io...->o...", kept, weight)
        spectrum = embed_spectrum(mixed, self.modes, coefficients.shape[1:])
        return jnp.fft.irfftn(spectrum, s=spatial, axes=axes).astype(x.dtype)
