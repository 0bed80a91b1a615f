"""The spectral convolution against a dense float64 DFT, and its invariances."""

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsciml.nn import SpectralConv, prefers_matrix_dft


def dense_reference(x: np.ndarray, weight: np.ndarray, modes) -> np.ndarray:
    """`Re Σ_k c(k_d) W(k) x̂(k) e^{2πi k·n/N} / ΠN` with explicit DFT sums in float64.

    `c(k_d)` is 1 for the zero (and Nyquist) frequency of the last axis and 2 otherwise: the real
    field whose half spectrum is the kept block, as an inverse real FFT defines it.
    """
    spatial = x.shape[1:]
    d = len(spatial)
    # Kept frequencies per axis, in the order of the weight's block axes.
    kept = [list(range(m)) + list(range(n - m, n)) for m, n in zip(modes[:-1], spatial[:-1])]
    kept.append(list(range(modes[-1])))
    grids = [np.arange(n) for n in spatial]
    out = np.zeros((weight.shape[1], *spatial))
    for block_index in itertools.product(*[range(len(k)) for k in kept]):
        k = [kept[a][block_index[a]] for a in range(d)]
        phases = [np.exp(2j * np.pi * k[a] * grids[a] / spatial[a]) for a in range(d)]
        wave = phases[0]
        for p in phases[1:]:
            wave = np.multiply.outer(wave, p)  # e^{+2πi k·n/N} on the grid
        coefficient = np.tensordot(x, np.conj(wave), axes=d)  # x̂_i(k), shape (c_in,)
        mixed = coefficient @ weight[(slice(None), slice(None), *block_index)]  # (c_out,)
        nyquist = spatial[-1] % 2 == 0 and k[-1] == spatial[-1] // 2
        c = 1.0 if k[-1] == 0 or nyquist else 2.0
        out += c * np.real(np.multiply.outer(mixed, wave))
    return out / np.prod(spatial)


@pytest.mark.parametrize("transform", ["fft", "dft"])
@pytest.mark.parametrize(
    "spatial, modes",
    [((16,), (5,)), ((16,), (9,)), ((12, 10), (4, 6)), ((8, 6, 8), (3, 2, 5)), ((9, 7), (4, 4))],
)
def test_matches_dense_dft_reference(spatial, modes, transform, getkey):
    """Both ways of transforming (FFT; truncated DFT by matrix products) against explicit sums.
    The cases cover odd and even sizes and a kept Nyquist column ((12, 10) keeps 6 of 6)."""
    conv = SpectralConv(3, 2, modes, transform=transform, key=getkey())
    # Weights of mixed signs (the reference's initialization is one-signed) to exercise every term.
    real = jax.random.normal(getkey(), conv.weight_real.shape)
    imag = jax.random.normal(getkey(), conv.weight_imag.shape)
    conv = eqx.tree_at(lambda c: (c.weight_real, c.weight_imag), conv, (real, imag))
    x = jax.random.normal(getkey(), (3, *spatial))
    got = np.asarray(eqx.filter_jit(lambda c, x: c(x))(conv, x), np.float64)
    weight = np.asarray(real, np.float64) + 1j * np.asarray(imag, np.float64)
    want = dense_reference(np.asarray(x, np.float64), weight, modes)
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 2e-6


@pytest.mark.parametrize(
    "spatial, modes", [((32,), (7,)), ((16, 12), (5, 4)), ((8, 8, 6), (3, 3, 2))]
)
def test_shift_equivariance(spatial, modes, getkey):
    conv = SpectralConv(2, 3, modes, key=getkey())
    x = jax.random.normal(getkey(), (2, *spatial))
    shifts = tuple(range(3, 3 + len(spatial)))
    axes = tuple(range(1, 1 + len(spatial)))
    shifted_then_conv = conv(jnp.roll(x, shifts, axes))
    conv_then_shifted = jnp.roll(conv(x), shifts, axes)
    np.testing.assert_allclose(shifted_then_conv, conv_then_shifted, atol=1e-5, rtol=1e-5)


def band_limited(n: int, d: int) -> np.ndarray:
    """Two channels of a periodic field with frequencies below 6, sampled at n points per axis."""
    x = np.meshgrid(*[np.arange(n) / n] * d, indexing="ij")
    phase = sum((a + 1) * xa for a, xa in enumerate(x))
    first = np.cos(2 * np.pi * phase) + 0.5 * np.sin(2 * np.pi * 3 * x[0])
    second = np.sin(2 * np.pi * 5 * x[-1]) * np.cos(2 * np.pi * 2 * x[0])
    return np.stack([first, second]).astype(np.float32)


@pytest.mark.parametrize("transform", ["fft", "dft"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_band_limited_input_gives_same_output_at_two_resolutions(d, transform, getkey):
    """Discretization invariance: on a band-limited input the coarse output equals the fine one
    sampled at the coarse points."""
    modes = (8,) * d
    conv = SpectralConv(2, 2, modes, transform=transform, key=getkey())
    coarse = conv(jnp.asarray(band_limited(32, d)))
    fine = conv(jnp.asarray(band_limited(64, d)))
    np.testing.assert_allclose(
        coarse, fine[(slice(None),) + (slice(None, None, 2),) * d], atol=1e-5
    )


@pytest.mark.parametrize("transform", ["fft", "dft"])
def test_gradients_match_finite_differences(transform, getkey, check_gradients):
    """With respect to the weights and to the input field."""
    with jax.enable_x64(True):
        conv = SpectralConv(2, 2, (3, 4), transform=transform, key=getkey())
        x = jax.random.normal(getkey(), (2, 8, 9))

        def objective(arguments):
            weight_real, x = arguments
            layer = eqx.tree_at(lambda c: c.weight_real, conv, weight_real)
            return jnp.sum(jnp.sin(layer(x)))

        check_gradients(objective, (conv.weight_real, x), tolerance=1e-7)


@pytest.mark.parametrize("transform", ["fft", "dft"])
def test_batched_vmap_and_jit_agree_with_a_loop(transform, getkey):
    conv = SpectralConv(3, 4, (4, 3), transform=transform, key=getkey())
    batch = jax.random.normal(getkey(), (5, 3, 10, 8))
    looped = jnp.stack([conv(x) for x in batch])
    np.testing.assert_allclose(conv.batched(batch), looped, atol=1e-6)
    np.testing.assert_allclose(jax.vmap(conv)(batch), looped, atol=1e-6)
    jitted = eqx.filter_jit(lambda c, b: jax.vmap(c)(b))
    np.testing.assert_allclose(jitted(conv, batch), looped, atol=1e-6)


def test_auto_transform_prefers_matrices_only_for_few_modes():
    assert prefers_matrix_dft((12, 12), (64, 64)) and prefers_matrix_dft((12, 12), (128, 128))
    assert not prefers_matrix_dft((32, 32), (64, 64))


def test_reference_initialization_scale(getkey):
    conv = SpectralConv(4, 8, (6, 6), key=getkey())
    for weights in (conv.weight_real, conv.weight_imag):
        assert weights.shape == (4, 8, 12, 6)
        assert 0 <= float(weights.min()) and float(weights.max()) < 1 / 32


@pytest.mark.parametrize(
    "shape, match",
    [
        ((3, 16, 16), "in_channels=2"),  # wrong channel count
        ((2, 16), "spatial axes"),  # wrong rank
        ((2, 16, 16, 4), "spatial axes"),
        ((2, 10, 16), "modes\\[0\\]=6"),  # leading axis too short for both corners
        ((2, 16, 8), "modes\\[-1\\]=6"),  # last axis holds only 5 rfft frequencies
    ],
)
def test_bad_input_is_named(shape, match, getkey):
    conv = SpectralConv(2, 2, (6, 6), key=getkey())
    with pytest.raises(ValueError, match=match):
        conv(jnp.zeros(shape))
