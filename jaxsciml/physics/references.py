"""Numerical reference solutions for problems without a closed form."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxsciml.data.points import grid_points
from jaxsciml.physics.collocation import ReferenceSolution
from jaxsciml.physics.pdes import AllenCahn


def allen_cahn_reference(problem: AllenCahn, **kwargs) -> ReferenceSolution:
    """`allen_cahn_solution(problem, **kwargs)` as test points and values."""
    t, x, u = allen_cahn_solution(problem, **kwargs)
    return ReferenceSolution(grid_points((t, x)), u.ravel(), problem.domain)


def allen_cahn_solution(
    problem: AllenCahn,
    *,
    space_points: int = 512,
    times: int = 201,
    time_step: float = 1e-4,
    oversample: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(t, x, u)`: `problem`'s solution `u` `(times, space_points)` at `t ∈ [0, 1]` (both ends)
    and `x ∈ [-1, 1)` (periodic; the JAX-PI benchmark's 201 × 512 grid by default), by Fourier
    pseudo-spectral Strang splitting in float64 on an `oversample` times finer grid.

    Each step of `time_step` takes half a step of the reaction `u' = ρ(u − u³)` (solved exactly:
    `u ↦ u / sqrt(u² + (1 − u²) e^{−2ρτ})`), a whole step of the diffusion `u_t = D u_xx` (exact
    in Fourier space), and another half reaction step: second order in time, spectral in space.
    Float64 throughout; the tests check the second order in time and exact limits.
    """
    t1 = problem.domain.upper[0]
    steps_per_output = round(t1 / (times - 1) / time_step)
    if steps_per_output < 1 or not np.isclose(steps_per_output * time_step * (times - 1), t1):
        raise ValueError(
            f"time_step {time_step} must divide the output interval {t1 / (times - 1)}"
        )
    n = space_points * oversample  # the fronts are ~sqrt(D/ρ) = 0.0045 wide: resolve them finer
    x = np.linspace(-1.0, 1.0, n, endpoint=False)
    wavenumbers = np.pi * np.fft.rfftfreq(n, d=1.0 / n)  # period 2
    diffusion = np.exp(-problem.diffusion * wavenumbers**2 * time_step)
    growth = np.exp(-problem.reaction * time_step)  # e^{−2ρτ} for half a step τ = dt/2

    def react(u):
        return u / np.sqrt(u**2 + (1 - u**2) * growth)

    with jax.enable_x64(True):  # the initial value in float64, as the rest
        u = np.asarray(problem.initial_value(jnp.asarray(x)))
    snapshots = [u[::oversample]]
    for _ in range(times - 1):
        for _ in range(steps_per_output):
            u = react(np.fft.irfft(diffusion * np.fft.rfft(react(u)), n=n))
        snapshots.append(u[::oversample])
    return np.linspace(0.0, t1, times), x[::oversample], np.stack(snapshots)
