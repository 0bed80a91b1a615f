"""2-D incompressible Navier-Stokes in vorticity form on the unit torus (the FNO protocol).

    ∂w/∂t + u·∇w = ν Δw + f,    u = (∂ψ/∂y, −∂ψ/∂x),    −Δψ = w,

pseudo-spectral in space (FFT, the 2/3 rule on the nonlinear term) and Crank-Nicolson in time
for the viscous term with the advection and the forcing explicit, as the FNO paper's solver:

    ŵⁿ⁺¹ = [(1 − ½Δt ν|k|²) ŵⁿ − Δt (u·∇w)ⁿ^ + Δt f̂] / (1 + ½Δt ν|k|²).

Written in JAX so that it compiles once and runs a batch of trajectories on a GPU (`jax.vmap`
over initial conditions). Wavenumbers are `2π k` for integer `k` (period 1).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def wavenumbers(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Angular wavenumbers `(k_x, k_y)` `(n, n//2 + 1)` of an `rfft2` on `n²` points of the unit
    torus (`2π` times the integer frequencies; x along the first axis)."""
    k = 2 * np.pi * np.fft.fftfreq(resolution, 1.0 / resolution)
    k_half = 2 * np.pi * np.fft.rfftfreq(resolution, 1.0 / resolution)
    return np.meshgrid(k, k_half, indexing="ij")


def fno_forcing(resolution: int) -> np.ndarray:
    """The FNO forcing `0.1 (sin 2π(x + y) + cos 2π(x + y))` on the `n²` grid `x_i = i / n`."""
    x = np.arange(resolution) / resolution
    s = 2 * np.pi * (x[:, None] + x[None, :])
    return 0.1 * (np.sin(s) + np.cos(s))


def vorticity_trajectory(
    w0: Float[Array, "n n"],
    forcing: Float[Array, "n n"] | None,
    viscosity: float,
    time_step: float,
    steps_per_frame: int,
    frames: int,
) -> Float[Array, "frames n n"]:
    """`w` after every `steps_per_frame` steps of size `time_step`, `frames` times (the initial
    field is not included), from `w0` on the periodic `n²` grid with spacing `1/n`."""
    n = w0.shape[-1]
    if w0.shape != (n, n) or n % 2:
        raise ValueError(f"w0 must be a square field with an even side, got {w0.shape}")
    if not (viscosity >= 0 and time_step > 0 and steps_per_frame >= 1 and frames >= 1):
        raise ValueError("viscosity must be >= 0; time_step, steps_per_frame, frames positive")
    kx, ky = (jnp.asarray(k, w0.dtype) for k in wavenumbers(n))
    k2 = kx**2 + ky**2
    inverse_laplacian = jnp.where(k2 == 0, 0.0, 1.0 / jnp.where(k2 == 0, 1.0, k2))
    cutoff = 2.0 / 3.0 * jnp.pi * n  # 2/3 of the largest angular wavenumber π n
    dealias = (jnp.abs(kx) <= cutoff) & (jnp.abs(ky) <= cutoff)
    f_hat = jnp.zeros_like(k2, jnp.complex64 if w0.dtype == jnp.float32 else jnp.complex128)
    if forcing is not None:
        f_hat = jnp.fft.rfft2(forcing)
    half = 0.5 * time_step * viscosity * k2

    def advection(w_hat):
        psi_hat = w_hat * inverse_laplacian
        u = jnp.fft.irfft2(1j * ky * psi_hat, s=(n, n))  # ∂ψ/∂y
        v = jnp.fft.irfft2(-1j * kx * psi_hat, s=(n, n))  # −∂ψ/∂x
        w_x = jnp.fft.irfft2(1j * kx * w_hat, s=(n, n))
        w_y = jnp.fft.irfft2(1j * ky * w_hat, s=(n, n))
        return jnp.fft.rfft2(u * w_x + v * w_y) * dealias

    def step(w_hat, _):
        rhs = (1 - half) * w_hat - time_step * advection(w_hat) + time_step * f_hat
        return rhs / (1 + half), None

    def frame(w_hat, _):
        w_hat, _ = jax.lax.scan(step, w_hat, None, length=steps_per_frame)
        return w_hat, jnp.fft.irfft2(w_hat, s=(n, n))

    _, trajectory = jax.lax.scan(frame, jnp.fft.rfft2(w0), None, length=frames)
    return trajectory


def recorded_frames(w0: np.ndarray, settings) -> np.ndarray:
    """The recorded frames float32 `(batch, frames, s, s)` on the stored grid for initial fields
    `w0` `(batch, n, n)` on the solver grid, as `settings` (a `NavierStokesSettings`) define
    them; one compiled, `vmap`ped solve per settings."""
    solve = _compiled_solver(
        settings.resolution,
        settings.viscosity,
        settings.time_step,
        settings.steps_per_frame,
        settings.frames,
        settings.stride,
    )
    return np.asarray(solve(jnp.asarray(w0, jnp.float32)))


@functools.lru_cache(maxsize=8)
def _compiled_solver(resolution, viscosity, time_step, steps_per_frame, frames, stride):
    def one(w):
        forcing = jnp.asarray(fno_forcing(resolution), w.dtype)
        recorded = vorticity_trajectory(w, forcing, viscosity, time_step, steps_per_frame, frames)
        return recorded[:, ::stride, ::stride]

    return jax.jit(jax.vmap(one))
