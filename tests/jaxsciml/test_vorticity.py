"""The vorticity residual and Spectral-Refiner's estimator, against closed forms (Taylor-Green
vortices and perturbations of them), the energy bound they must satisfy, and the datagen solver."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from datagen.problems.navier_stokes import fno_forcing, vorticity_trajectory
from jaxsciml.physics.vorticity import (
    gronwall_error_bound,
    residual_coefficients,
    residual_dual_norms,
    time_derivative_matrix,
    trapezoid_weights,
    vorticity_error_estimator,
    vorticity_residual,
)


N = 16
X = np.arange(N) / N
XX, YY = np.meshgrid(X, X, indexing="ij")
SHELL = 8 * np.pi**2  # |ξ|² of the modes (±1, ±1)


def taylor_green(times, viscosity, amplitude=1.0):
    """An exact solution without forcing: one Laplacian eigenfunction, for which u·∇w = 0."""
    decay = np.exp(-SHELL * viscosity * np.asarray(times))
    return amplitude * decay[:, None, None] * np.sin(2 * np.pi * XX) * np.sin(2 * np.pi * YY)


@pytest.fixture(autouse=True)
def float64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("order", [2, 4])
def test_time_derivative_is_exact_on_polynomials_of_its_order(order):
    t = np.arange(9) * 0.3
    D = time_derivative_matrix(9, order)
    for p in range(order + 1):
        np.testing.assert_allclose(D @ t**p / 0.3, p * t ** max(p - 1, 0) * (p > 0), atol=1e-9)
    errors = [np.abs(time_derivative_matrix(k, order) @ np.sin(np.linspace(0, 1, k)) * (k - 1)
                     - np.cos(np.linspace(0, 1, k))).max() for k in (11, 21)]  # fmt: skip
    assert errors[0] / errors[1] > 2 ** (order - 0.5)
    with pytest.raises(ValueError, match="needs at least"):
        time_derivative_matrix(order, order)


def test_the_estimator_vanishes_on_taylor_green_at_the_order_of_the_time_derivative():
    nu = 0.01
    estimates = []
    for frames in (11, 21):
        t = np.linspace(0.0, 1.0, frames)
        w = jnp.asarray(taylor_green(t, nu))
        residual = vorticity_residual(w, t[1], nu)
        assert residual.shape == (frames, 2 * N, 2 * N)
        estimates.append(float(vorticity_error_estimator(w, t[1], nu)))
    assert estimates[0] < 1e-7
    assert 2**3.5 < estimates[0] / estimates[1] < 2**4.5  # fourth order in the frame interval


def test_the_estimator_equals_its_closed_form_on_a_perturbed_vortex():
    """w_N = TG + ε g(t) φ with φ = cos 2πx cos 2πy in TG's shell: u·∇ still vanishes, so
    r = ε (g' + ν|ξ|² g) φ and ‖r‖²_{H⁻¹} = ε² (g' + ν|ξ|² g)² ‖φ‖² / |ξ|², ‖φ‖² = 1/4."""
    nu, eps = 0.01, 0.05
    t = np.linspace(0.0, 1.0, 41)
    g, dg = 1 + t - 0.5 * t**3, 1 - 1.5 * t**2
    phi = np.cos(2 * np.pi * XX) * np.cos(2 * np.pi * YY)
    w_n = jnp.asarray(taylor_green(t, nu) + eps * g[:, None, None] * phi)
    per_frame = np.abs(eps * (dg + nu * SHELL * g)) * np.sqrt(0.25 / SHELL)
    np.testing.assert_allclose(residual_dual_norms(w_n, t[1], nu), per_frame, rtol=1e-6)
    expected = np.sqrt(np.sum(trapezoid_weights(41, t[1]) * per_frame**2))
    eta = float(vorticity_error_estimator(w_n, t[1], nu))
    np.testing.assert_allclose(eta, expected, rtol=1e-6)
    # the energy bound for this linear error: ‖e(T)‖² + ν ∫‖∇e‖² ≤ ‖e(0)‖² + η² / ν
    e_norm2 = (eps * g) ** 2 * 0.25
    dissipation = nu * np.sum(trapezoid_weights(41, t[1]) * SHELL * e_norm2)
    assert e_norm2[-1] + dissipation <= e_norm2[0] + eta**2 / nu
    # a shifted norm weighs low frequencies less, and the mean not at all when homogeneous
    assert float(vorticity_error_estimator(w_n, t[1], nu, shift=10**-1.5)) < eta


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_estimator_bounds_the_error_of_nonlinear_perturbations(seed):
    """Perturbations across several shells couple through u·∇w; the error of w_N against the
    exact Taylor-Green vortex stays below the bound the estimator gives."""
    nu = 0.02
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 0.5, 26)
    k = rng.integers(1, 4, size=(3, 2))
    modes = sum(np.sin(2 * np.pi * (a * XX + b * YY) + rng.uniform(0, 6)) for a, b in k)
    growth = 0.1 * (1 + t + rng.normal() * t**2)
    w = taylor_green(t, nu, amplitude=2.0)
    w_n = jnp.asarray(w - growth[:, None, None] * modes)
    error = np.sqrt(np.mean((growth[-1] * modes) ** 2))
    initial = np.sqrt(np.mean((growth[0] * modes) ** 2))
    bound = float(gronwall_error_bound(w_n, t[1], nu, initial_error=initial))
    assert error <= bound
    # not vacuous: the residual alone is of the size of the error's rate of change
    assert bound < 50 * error


def test_the_datagen_solver_leaves_a_residual_that_shrinks_with_its_time_step():
    """The FNO protocol's solver (first order in time through its explicit advection) on the
    FNO forcing, from a field inside its 2/3 dealiasing band. Inside the band, halving its step
    halves the residual; outside, what stays is the advection its filter drops (the
    high-frequency error Spectral-Refiner removes by fine-tuning without that filter). A wrong
    sign or axis anywhere would leave a residual of the size of the flow itself."""
    rng = np.random.default_rng(0)
    n, nu, interval = 32, 1e-3, 0.05
    k = np.fft.fftfreq(n, 1 / n)
    band = (np.abs(k)[:, None] <= n / 3) & (np.abs(k)[None, :] <= n / 3)
    noise = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    w0 = np.fft.ifft2(band * noise / (1 + np.add.outer(k**2, k**2)) ** 1.5).real * n**2
    w0 = jnp.asarray(w0 - w0.mean())
    forcing = fno_forcing(n)
    fine_k, half_k = np.fft.fftfreq(2 * n, 1 / (2 * n)), np.fft.rfftfreq(2 * n, 1 / (2 * n))
    fine_band = (np.abs(fine_k)[:, None] <= n / 3) & (np.abs(half_k)[None, :] <= n / 3)
    inside, outside = [], []
    for dt in (2.5e-3, 1.25e-3):
        frames = vorticity_trajectory(w0, jnp.asarray(forcing), nu, dt, round(interval / dt), 8)
        trajectory = jnp.concatenate([w0[None], frames])
        residual, xi2 = residual_coefficients(trajectory, interval, nu, forcing)
        weights = np.where(xi2 > 0, 1 / np.where(xi2 > 0, xi2, 1), 0)
        inside.append(float(jnp.sum(weights * jnp.abs(residual * fine_band) ** 2)) ** 0.5)
        outside.append(float(jnp.sum(weights * jnp.abs(residual * ~fine_band) ** 2)) ** 0.5)
    scale = float(vorticity_error_estimator(trajectory, interval, 0.0, None))  # ≈ ‖∂w/∂t + u·∇w‖
    wrong_sign = float(vorticity_error_estimator(trajectory[:, :, ::-1], interval, nu, forcing))
    estimate = float(vorticity_error_estimator(trajectory, interval, nu, forcing))
    assert estimate < 0.02 * scale < wrong_sign
    assert 1.8 < inside[0] / inside[1] < 2.2
    np.testing.assert_allclose(outside[0], outside[1], rtol=0.01)


def test_bad_frames_are_refused():
    with pytest.raises(ValueError, match="even side"):
        vorticity_error_estimator(jnp.zeros((5, 7, 7)), 0.1, 0.01)
    with pytest.raises(ValueError, match="at least 5 frames"):
        vorticity_error_estimator(jnp.zeros((3, 8, 8)), 0.1, 0.01)
