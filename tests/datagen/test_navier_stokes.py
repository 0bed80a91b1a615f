"""The pseudo-spectral Navier-Stokes solver: exact Taylor-Green decay, time-step convergence and
energy decay."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import datagen
from datagen.fields import (
    gaussian_random_field,
    periodic_gaussian_random_field,
    periodic_spectrum,
)
from datagen.format import DatasetFileError
from datagen.problems.navier_stokes import fno_forcing, vorticity_trajectory
from datagen.trajectories import NavierStokesSettings


def test_taylor_green_decays_at_the_exact_rate_with_second_order_in_time():
    """A single Laplacian eigenmode has no advection: w(t) = w₀ exp(−8π²ν t) exactly, and
    Crank-Nicolson reaches it to second order in Δt."""
    with jax.enable_x64(True):
        n, nu, t_end = 32, 0.01, 0.5
        x = np.arange(n) / n
        w0 = jnp.asarray(np.cos(2 * np.pi * x)[:, None] * np.cos(2 * np.pi * x)[None, :])
        exact = np.asarray(w0) * np.exp(-8 * np.pi**2 * nu * t_end)
        errors = []
        for steps in (20, 40, 80):
            w = vorticity_trajectory(w0, None, nu, t_end / steps, steps, 1)[-1]
            errors.append(np.max(np.abs(np.asarray(w) - exact)) / np.max(np.abs(exact)))
        orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
        assert np.all(np.abs(orders - 2) < 0.1), (errors, orders)
        assert errors[-1] < 1e-4


def test_time_step_refinement_converges_on_a_forced_turbulent_field():
    """With advection (explicit, first order) the FNO scheme converges at order ≈ 1 in Δt."""
    with jax.enable_x64(True):
        n = 32
        w0 = jnp.asarray(gaussian_random_field(np.random.default_rng(0), n, 2, alpha=2.5, tau=7.0))
        w0 = w0 * 7**1.5 / np.max(np.abs(w0))  # order-one velocities
        forcing = jnp.asarray(fno_forcing(n))
        final = [
            np.asarray(vorticity_trajectory(w0, forcing, 1e-3, 0.2 / s, s, 1)[-1])
            for s in (50, 100, 200, 400)
        ]
        differences = [np.max(np.abs(a - b)) for a, b in zip(final[:-1], final[1:])]
        orders = np.log2(np.array(differences[:-1]) / np.array(differences[1:]))
        assert np.all((orders > 0.8) & (orders < 1.3)), (differences, orders)


def test_unforced_energy_decays_monotonically():
    n = 32
    w0 = jnp.asarray(
        gaussian_random_field(np.random.default_rng(1), n, 2, alpha=2.5, tau=7.0), jnp.float32
    )
    frames = vorticity_trajectory(w0, None, 1e-2, 1e-3, 20, 10)
    enstrophy = np.asarray(jnp.mean(frames**2, axis=(1, 2)))
    assert np.all(np.diff(enstrophy) < 0) and enstrophy[0] < float(jnp.mean(w0**2))
    assert abs(float(jnp.mean(frames[-1]))) < 1e-6  # the mean vorticity stays zero


def test_a_batch_of_trajectories_under_vmap_equals_one_at_a_time():
    n = 16
    rng = np.random.default_rng(2)
    w0 = jnp.asarray(
        np.stack([gaussian_random_field(rng, n, 2, alpha=2.5, tau=7.0) for _ in range(3)]),
        jnp.float32,
    )
    forcing = jnp.asarray(fno_forcing(n), jnp.float32)
    solve = lambda w: vorticity_trajectory(w, forcing, 1e-3, 1e-3, 5, 2)
    batched = jax.jit(jax.vmap(solve))(w0)
    assert batched.shape == (3, 2, n, n)
    for i in range(3):
        np.testing.assert_allclose(batched[i], solve(w0[i]), atol=1e-5)


def test_periodic_random_field_has_the_analytic_covariance():
    """The sampler's pointwise variance and its covariance at a shift match the closed form
    `2 Σ_k λ_k cos(2π k·r)` of the Fourier expansion (4000 draws: sampling error ~2%)."""
    n, draws = 16, 4000
    rng = np.random.default_rng(3)
    fields = np.stack([periodic_gaussian_random_field(rng, n) for _ in range(draws)])
    spectrum = periodic_spectrum(n, 2, alpha=2.5, tau=7.0)
    k = np.fft.fftfreq(n, 1.0 / n)
    for shift in (0, 1, 3):
        exact = 2 * np.sum(spectrum * np.cos(2 * np.pi * k[:, None] * shift / n))
        measured = np.mean(fields[:, 0, :] * np.roll(fields, -shift, axis=1)[:, 0, :])
        assert abs(measured / exact - 1) < 0.06, (shift, measured, exact)
    assert abs(np.mean(fields)) < 0.02 * np.sqrt(2 * spectrum.sum())
    np.testing.assert_allclose(fields.mean(axis=(1, 2)), 0.0, atol=1e-12)  # no mean mode


def test_trajectory_dataset_is_written_read_back_and_resumed(tmp_path):
    from jaxsciml.data import load

    settings = dict(
        viscosity=1e-3,
        resolution=32,
        stored_resolution=16,
        frames=2,
        frame_interval=0.01,
        time_step=0.002,
    )
    report = datagen.generate(
        "navier_stokes", 3, tmp_path, shard_size=2, batch_size=2, progress=False, **settings
    )
    paths = sorted(tmp_path.glob("shard-*.h5"))
    assert [p.name for p in paths] == ["shard-00000.h5", "shard-00001.h5"]
    assert report.num_samples == 3 and report.shards_written == 2 and report.backend == "jax"
    data = load(tmp_path).read(np.arange(3))
    assert data.inputs.shape == (3, 1, 16, 16) and data.outputs.shape == (3, 2, 16, 16)
    config = NavierStokesSettings(**settings)
    w0 = config.initial_vorticity(0, 2)
    np.testing.assert_allclose(data.inputs[2, 0], w0[::2, ::2], rtol=1e-6, atol=1e-6)
    fine = vorticity_trajectory(jnp.asarray(w0), jnp.asarray(fno_forcing(32)), 1e-3, 0.002, 5, 2)
    np.testing.assert_allclose(data.outputs[2], np.asarray(fine)[:, ::2, ::2], atol=1e-4)
    modified = paths[0].stat().st_mtime_ns
    again = datagen.generate(
        "navier_stokes", 3, tmp_path, shard_size=2, batch_size=2, progress=False, **settings
    )
    assert paths[0].stat().st_mtime_ns == modified  # finished shards are skipped
    assert again.shards_skipped == 2 and again.num_samples == 3
    with pytest.raises(DatasetFileError, match="different dataset"):
        datagen.generate(
            "navier_stokes",
            3,
            tmp_path,
            shard_size=2,
            progress=False,
            **{**settings, "viscosity": 1e-4},
        )
    with pytest.raises(ValueError, match="multiple of"):
        NavierStokesSettings(resolution=64, stored_resolution=48)
