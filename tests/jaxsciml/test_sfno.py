"""SFNO: the paper's size, the space-time spectral layer against an FFT resampling, output
frames that sample one window at any count, and the fine-tuning model's starting point."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsciml.nn.spectral import embed_spectrum
from jaxsciml.operators.sfno import (
    SFNO,
    SpaceTimeSpectralConv,
    output_layer_filter,
    uniform_times,
)


def parameters(tree) -> int:
    return sum(x.size for x in jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array)))


def small(**options):
    settings = dict(modes=(3, 3), modes_t=3, width=6, depth=3, latent_steps=4)
    return SFNO(8, **{**settings, **options}, key=jax.random.key(0))


def frames(count=5, n=12, seed=1):
    return jax.random.normal(jax.random.key(seed), (2, count, n, n))


def test_the_paper_model_has_the_reference_parameter_count():
    """torch-cfd's `SFNO(12, 12, 5, 20)` (modes, modes_t, width; 4 layers, latent 10) counts
    9,242,461 parameters, complex weights as two."""
    assert parameters(SFNO(40, key=jax.random.key(0))) == 9_242_461


def test_the_space_time_layer_resamples_time_as_an_fft_does():
    """At uniform times the layer is `irfftn` of the mixed coefficients at the new frame count,
    scaled so that amplitudes stay (a series of 8 samples evaluated at 12 points)."""
    conv = SpaceTimeSpectralConv(3, 2, (4, 4, 3), bias=True, key=jax.random.key(2))
    conv = eqx.tree_at(lambda c: c.bias_real, conv, jnp.ones_like(conv.bias_real))
    x = jax.random.normal(jax.random.key(3), (2, 3, 16, 16, 8))
    mixed = conv.mixed_coefficients(x)
    spectrum = embed_spectrum(mixed, (4, 4, 3), (16, 16, 7))
    for frames in (8, 12):
        reference = jnp.fft.irfftn(spectrum, s=(16, 16, frames), axes=(2, 3, 4)) * frames / 8
        np.testing.assert_allclose(conv(x, uniform_times(frames)), reference, atol=1e-6)


def test_output_frames_sample_one_window_at_any_count():
    model = small()
    x = frames()
    coarse, fine = model.batched(x, 8), model.batched(x, 16)
    assert fine.shape == (2, 16, 12, 12)
    np.testing.assert_allclose(fine[:, 1::2], coarse, atol=1e-6)
    # another number of input frames, and one sample per call as vmap would give
    x = frames(3)
    np.testing.assert_allclose(jax.vmap(model)(x), model.batched(x), rtol=1e-5, atol=1e-5)


def test_the_fine_tuning_model_starts_where_the_trained_one_ends():
    model = small()
    refined = model.with_output_modes((6, 6, 5))
    assert refined.output.weight_real.shape == (1, 1, 12, 12, 5)
    x = frames()
    np.testing.assert_allclose(refined.batched(x), model.batched(x), atol=1e-6)
    spec = output_layer_filter(refined)
    trained = eqx.filter(refined, spec)
    assert parameters(trained) == parameters(refined.output) == 2 * (12 * 12 * 5) * 2
    with pytest.raises(ValueError, match="must not be below"):
        model.with_output_modes((2, 3, 3))


def test_bad_samples_are_refused():
    with pytest.raises(ValueError, match="two space dimensions"):
        SFNO(4, modes=(3, 3, 3), key=jax.random.key(0))
    with pytest.raises(ValueError, match="frames, nx, ny"):
        small().batched(jnp.zeros((2, 12, 12)))
