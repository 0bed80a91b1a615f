"""The Sobolev norms of periodic fields against closed forms: single Fourier modes, sums of
them, scaling in the order `s`, other periods, and the loss built on them."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxsciml.losses import SobolevLoss, relative_l2, relative_sobolev, sobolev_norm


def grid(n, length=1.0):
    return np.arange(n) * length / n


@pytest.mark.parametrize("s", [-2.0, -1.0, -0.5, 0.0, 1.0])
def test_a_sine_wave_has_the_closed_form_norm(s):
    x = grid(32)
    for m in (1, 3, 7):
        u = jnp.asarray(np.sin(2 * np.pi * m * x))[None]
        # ∫₀¹ sin² = 1/2; the one frequency ξ = 2π m weighs it (1 + ξ²)^s
        expected = np.sqrt(0.5 * (1 + (2 * np.pi * m) ** 2) ** s)
        np.testing.assert_allclose(sobolev_norm(u, s), expected, rtol=1e-5)


def test_two_dimensional_modes_add_by_parseval_and_scale_with_the_period():
    length = 2.0
    x, y = np.meshgrid(grid(24, length), grid(16, length), indexing="ij")
    a = np.cos(2 * np.pi * (2 * x + y) / length)  # ξ = 2π (2, 1) / L
    b = 3.0 * np.sin(2 * np.pi * 5 * y / length) + 0.5  # ξ = 2π (0, 5) / L, and a mean
    u = jnp.asarray(a + b)[None]
    area = length**2
    weight = lambda k: 1 + (2 * np.pi / length) ** 2 * (k[0] ** 2 + k[1] ** 2)  # noqa: E731
    s = -1.0
    expected = area * (0.5 * weight((2, 1)) ** s + 4.5 * weight((0, 5)) ** s + 0.25)
    np.testing.assert_allclose(sobolev_norm(u, s, lengths=length) ** 2, expected, rtol=1e-5)
    # Spectral-Refiner's code shifts the Laplacian by 0.1: (0.1 − Δ)^(s/2)
    shifted = area * (0.5 * (weight((2, 1)) - 0.9) ** s + 4.5 * (weight((0, 5)) - 0.9) ** s
                      + 0.25 * 0.1**s)  # fmt: skip
    np.testing.assert_allclose(sobolev_norm(u, s, lengths=length, shift=0.1) ** 2, shifted,
                               rtol=1e-5)  # fmt: skip
    # the seminorm leaves out the mean and weighs |ξ|^(2s)
    semi = area * (0.5 * (weight((2, 1)) - 1) ** s + 4.5 * (weight((0, 5)) - 1) ** s)
    np.testing.assert_allclose(
        sobolev_norm(u, s, lengths=length, homogeneous=True) ** 2, semi, rtol=1e-5
    )


def test_the_cutoff_drops_the_derivative_weight_of_high_wavenumbers_on_each_axis():
    # MgNO's H1 loss: period 2π (ξ = k), derivative weight only where |k_i| < 20, per axis
    length = 2 * np.pi
    x, y = np.meshgrid(grid(64, length), grid(51, length), indexing="ij")
    low, high, mixed = np.sin(3 * x + 4 * y), np.cos(25 * x), np.sin(22 * x + 5 * y)
    u = jnp.asarray(low + high + mixed)[None]
    area = length**2  # each mode has mean square 1/2
    expected = area * 0.5 * ((1 + 9 + 16) + 1 + (1 + 25))  # |22| ≥ 20 keeps only 5² of `mixed`
    norm = sobolev_norm(u, 1.0, lengths=length, cutoff=20)
    np.testing.assert_allclose(norm**2, expected, rtol=1e-5)
    full = area * 0.5 * ((1 + 9 + 16) + (1 + 625) + (1 + 484 + 25))
    np.testing.assert_allclose(sobolev_norm(u, 1.0, lengths=length) ** 2, full, rtol=1e-5)


def test_order_zero_is_the_l2_norm_and_the_order_orders_the_norms(getkey):
    import jax

    u = jax.random.normal(getkey(), (2, 16, 16))
    l2 = jnp.sqrt(jnp.mean(u**2) * 2)  # ∫ over the unit square of both channels: mean × 2
    np.testing.assert_allclose(sobolev_norm(u, 0.0), l2, rtol=1e-5)
    norms = [float(sobolev_norm(u, s)) for s in (-2.0, -1.0, 0.0, 1.0)]
    assert norms == sorted(norms)  # (1 + |ξ|²)^s grows with s at every frequency
    # a pure mode: one step in s multiplies the square by 1 + |ξ|² exactly
    x = grid(16)
    mode = jnp.asarray(np.cos(2 * np.pi * 4 * x))[None]
    ratio = (sobolev_norm(mode, 0.0) / sobolev_norm(mode, -1.0)) ** 2
    np.testing.assert_allclose(ratio, 1 + (8 * np.pi) ** 2, rtol=1e-5)


def test_the_negative_norm_weighs_low_frequency_errors(getkey):
    x = grid(64)
    target = jnp.asarray(np.sin(2 * np.pi * x) + np.sin(2 * np.pi * 2 * x))[None]
    low = target + 0.1 * jnp.sin(2 * np.pi * x)
    high = target + 0.1 * jnp.sin(2 * np.pi * 20 * x)
    np.testing.assert_allclose(relative_l2(low, target), relative_l2(high, target), rtol=1e-5)
    # the same L2 error, weighed (1 + ξ²)^-1 at ξ = 2π against ξ = 40π
    ratio = relative_sobolev(low, target, -1.0) / relative_sobolev(high, target, -1.0)
    np.testing.assert_allclose(ratio, np.sqrt((1 + (40 * np.pi) ** 2) / (1 + (2 * np.pi) ** 2)),
                               rtol=1e-4)  # fmt: skip


def test_the_loss_is_the_batch_mean_and_refuses_mismatched_periods():
    from jaxsciml.data import Batch

    x = grid(16)
    target = jnp.stack([jnp.asarray(np.sin(2 * np.pi * k * x))[None] for k in (1, 2)])
    guess = jnp.stack([jnp.asarray(np.sin(2 * np.pi * x) + c)[None] for c in (0.1, 0.3)])
    batch = Batch(guess, target)
    value = SobolevLoss(s=0.0)(lambda u: u, batch, None)  # the identity "model"
    expected = np.mean([float(relative_l2(g, t)) for g, t in zip(guess, target)])
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="2 lengths for a field on 1 axes"):
        sobolev_norm(target[0], -1.0, lengths=(1.0, 1.0))


def test_a_configuration_trains_on_the_sobolev_loss(tmp_path):
    from jaxsciml import config as jconfig, experiment

    path = tmp_path / "run.toml"
    path.write_text('[train]\nloss = "sobolev"\nloss_options = { s = -1.0 }\n')
    config = jconfig.load(path)
    assert experiment.loss_for(config, None) == SobolevLoss(s=-1.0)
    path.write_text('[train]\nloss = "sobolev"\nloss_options = { order = -1.0 }\n')
    with pytest.raises(jconfig.ConfigError, match="loss_options"):
        experiment.loss_for(jconfig.load(path), None)
