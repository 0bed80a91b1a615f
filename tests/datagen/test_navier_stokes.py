"""The pseudo-spectral Navier-Stokes solver: exact Taylor-Green decay, time-step convergence and
energy decay."""

import jax
import jax.numpy as jnp
import numpy as np

from datagen.fields import gaussian_random_field
from datagen.problems.navier_stokes import fno_forcing, vorticity_trajectory


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
