"""The residual of 2-D Navier-Stokes in vorticity form and Spectral-Refiner's a posteriori error
estimator built on it.

On the unit torus (x along the first axis, grid points `i / n`, angular wavenumbers `2π k`),

    r = ∂w/∂t + u·∇w − ν Δw − f,    u = (∂ψ/∂y, −∂ψ/∂x),    −Δψ = w,

the convention of `datagen.problems.navier_stokes`. An approximate trajectory `w_N` (frames
`frame_interval` apart) has the residual `r_N`, and its error `e = w − w_N` obeys

    d/dt ‖e‖² + ν ‖∇e‖² ≤ ν⁻¹ ‖r_N‖²_{H⁻¹} + 2 L(t) ‖e‖²,    L = ‖∇w_N‖_∞ / 2π,

so `‖e(T)‖² ≤ exp(2∫L) (‖e(0)‖² + ν⁻¹ ‖r_N‖²_{L²(0,T; H⁻¹)})`: the negative Sobolev norm of
the residual is a computable bound of the error (a functional a posteriori estimator; Cao et al.,
"Spectral-Refiner", ICLR 2025). `H⁻¹` is the dual of the `H¹` seminorm,
`‖r‖²_{H⁻¹} = Σ_{k≠0} |r̂_k|² / |2πk|²`.

Evaluated here exactly in space, as the paper asks of Parseval's identity: the frames are read as
trigonometric polynomials (the Nyquist mode dropped), the nonlinear term is formed on a grid
twice as fine, where the product of two such polynomials has no aliasing, and the norm sums every
frequency of the residual. The time derivative is a finite difference across the frames
(`time_derivative_matrix`, fourth order by default); its error is the estimator's only
discretization error.
"""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from datagen.problems.navier_stokes import fno_forcing, wavenumbers


@functools.cache
def time_derivative_matrix(frames: int, order: int = 4) -> np.ndarray:
    """`D` `(frames, frames)` with `(D @ w)[i] ≈ Δt ∂w/∂t(t_i)` for frames `Δt` apart: the
    finite difference of `order` on `order + 1` consecutive frames, centred where the frames
    allow and one-sided at the ends (exact for polynomials of degree `order`)."""
    if order < 1 or frames < order + 1:
        raise ValueError(
            f"a time derivative of order {order} needs at least {order + 1} frames, got {frames}"
        )
    matrix = np.zeros((frames, frames))
    powers = np.arange(order + 1)
    for i in range(frames):
        start = min(max(i - order // 2, 0), frames - order - 1)
        offsets = np.arange(start, start + order + 1) - i
        vandermonde = offsets[None, :].astype(float) ** powers[:, None]
        rhs = (powers == 1).astype(float)  # d/dt of t^p at 0
        matrix[i, start : start + order + 1] = np.linalg.solve(vandermonde, rhs)
    return matrix


def _coefficients(w: Float[Array, "... n n"]) -> Array:
    """Fourier coefficients (`rfft2` layout) of the fields' trigonometric interpolants, the
    Nyquist row and column set to zero (their derivative has no real value)."""
    n = w.shape[-1]
    hat = jnp.fft.rfft2(w) / n**2
    return hat.at[..., n // 2, :].set(0).at[..., :, n // 2].set(0)


def _pad_coefficients(hat: Array, size: int) -> Array:
    """`rfft2`-layout coefficients of an `n²` grid placed in those of a `size²` grid."""
    n = hat.shape[-2]
    half = n // 2
    rows = jnp.concatenate(
        [hat[..., :half, :], jnp.zeros((*hat.shape[:-2], size - n, hat.shape[-1]), hat.dtype),
         hat[..., half:, :]],
        axis=-2,
    )  # fmt: skip
    return jnp.pad(rows, [(0, 0)] * (hat.ndim - 1) + [(0, size // 2 + 1 - hat.shape[-1])])


def _inverse_or_zero(values: np.ndarray) -> np.ndarray:
    """`1 / values`, and 0 where `values` is 0 (the mean, which `Δ⁻¹` leaves out)."""
    return np.where(values > 0, 1.0 / np.where(values > 0, values, 1.0), 0.0)


def _parseval_multiplicity(size: int) -> np.ndarray:
    """How often each `rfft2` column stands in the full spectrum: once for the zero and the
    Nyquist column, twice (with its conjugate) for every other."""
    counts = np.full(size // 2 + 1, 2.0)
    counts[0] = counts[-1] = 1.0
    return counts


def residual_coefficients(
    w: Float[Array, "frames n n"],
    frame_interval: float,
    viscosity: float,
    forcing: Float[Array | np.ndarray, "n n"] | None = None,
    *,
    order: int = 4,
) -> tuple[Array, np.ndarray]:
    """The residual's Fourier coefficients on the `(2n)²` grid, `(frames, 2n, n + 1)` in
    `rfft2` layout (every frequency of the residual of the frames' trigonometric polynomials),
    and the squared angular wavenumbers `|ξ|²` `(2n, n + 1)` of that layout."""
    frames, n, n2 = w.shape
    if n != n2 or n % 2:
        raise ValueError(f"frames must be square fields with an even side, got {w.shape[1:]}")
    if not (frame_interval > 0 and viscosity >= 0):
        raise ValueError("frame_interval must be positive and viscosity non-negative")
    if forcing is not None and forcing.shape != (n, n):
        raise ValueError(f"forcing {forcing.shape} must be on the frames' grid ({n}, {n})")
    size = 2 * n
    xi_x, xi_y = wavenumbers(size)
    xi2_grid = xi_x**2 + xi_y**2
    xi_x, xi_y, xi2 = (jnp.asarray(k, w.dtype) for k in (xi_x, xi_y, xi2_grid))
    w_hat = _pad_coefficients(_coefficients(w), size)
    psi_hat = w_hat * jnp.asarray(
        np.where(xi2_grid > 0, 1 / np.where(xi2_grid > 0, xi2_grid, 1), 0), w.dtype
    )

    def physical(hat):
        return jnp.fft.irfft2(hat, s=(size, size)) * size**2

    u, v = physical(1j * xi_y * psi_hat), physical(-1j * xi_x * psi_hat)
    w_x, w_y = physical(1j * xi_x * w_hat), physical(1j * xi_y * w_hat)
    convection = jnp.fft.rfft2(u * w_x + v * w_y) / size**2
    derivative = jnp.asarray(time_derivative_matrix(frames, order), w.dtype) / frame_interval
    w_t = jnp.tensordot(derivative, w_hat, axes=1)
    residual = w_t + convection + viscosity * xi2 * w_hat
    if forcing is not None:
        forcing = jnp.asarray(forcing, w.dtype)
        residual = residual - _pad_coefficients(_coefficients(forcing), size)
    return residual, xi2_grid


def vorticity_residual(
    w: Float[Array, "frames n n"],
    frame_interval: float,
    viscosity: float,
    forcing: Float[Array | np.ndarray, "n n"] | None = None,
    *,
    order: int = 4,
) -> Float[Array, "frames fine fine"]:
    """`r = ∂w/∂t + u·∇w − νΔw − f` at every frame, on the `(2n)²` grid that holds all of it
    (see the module docstring; `frame_interval` in the time unit of `viscosity`)."""
    residual, _ = residual_coefficients(w, frame_interval, viscosity, forcing, order=order)
    size = 2 * w.shape[-1]
    return jnp.fft.irfft2(residual, s=(size, size)) * size**2


def residual_dual_norms(
    w: Float[Array, "frames n n"],
    frame_interval: float,
    viscosity: float,
    forcing: Float[Array | np.ndarray, "n n"] | None = None,
    *,
    shift: float = 0.0,
    order: int = 4,
) -> Float[Array, " frames"]:
    """`‖r(t_i)‖_{H⁻¹}` at every frame, exactly through Parseval: `Σ_k |r̂_k|² / (shift + |ξ_k|²)`
    over all frequencies (`shift = 0`: the dual of the `H¹` seminorm, the mean left out;
    Spectral-Refiner's code takes `shift = 10^{-3/2}`)."""
    residual, xi2 = residual_coefficients(w, frame_interval, viscosity, forcing, order=order)
    weights = 1.0 / (shift + xi2) if shift > 0 else _inverse_or_zero(xi2)
    weights = weights * _parseval_multiplicity(2 * w.shape[-1])[None, :]
    squared = jnp.sum(jnp.asarray(weights, w.dtype) * jnp.abs(residual) ** 2, axis=(-2, -1))
    return jnp.sqrt(squared)


def trapezoid_weights(frames: int, frame_interval: float) -> np.ndarray:
    """Trapezoidal quadrature weights over `frames` frames `frame_interval` apart."""
    weights = np.full(frames, frame_interval)
    weights[[0, -1]] *= 0.5
    return weights


def vorticity_error_estimator(
    w: Float[Array, "frames n n"],
    frame_interval: float,
    viscosity: float,
    forcing: Float[Array | np.ndarray, "n n"] | None = None,
    *,
    shift: float = 0.0,
    order: int = 4,
) -> Float[Array, ""]:
    """Spectral-Refiner's estimator: `‖r‖_{L²(0, T; H⁻¹)}` of the trajectory `w` (frames
    `frame_interval` apart, `T` their span), the residual's dual norm integrated by the
    trapezoidal rule over the frames (see the module docstring for the bound it gives)."""
    norms = residual_dual_norms(w, frame_interval, viscosity, forcing, shift=shift, order=order)
    weights = jnp.asarray(trapezoid_weights(w.shape[0], frame_interval), w.dtype)
    return jnp.sqrt(jnp.sum(weights * norms**2))


def gronwall_error_bound(
    w: Float[Array, "frames n n"],
    frame_interval: float,
    viscosity: float,
    forcing: Float[Array | np.ndarray, "n n"] | None = None,
    *,
    initial_error: float = 0.0,
    order: int = 4,
) -> Float[Array, ""]:
    """The bound on `‖w(T) − w_N(T)‖_{L²}` that the estimator gives (module docstring), from the
    approximation `w_N = w` alone: `exp(∫L) (‖e(0)‖² + ν⁻¹ η²)^{1/2}` with `L = ‖∇w_N‖_∞ / 2π`
    taken at the frames and integrated by the trapezoidal rule."""
    if viscosity <= 0:
        raise ValueError("the bound needs a positive viscosity")
    eta = vorticity_error_estimator(w, frame_interval, viscosity, forcing, order=order)
    n = w.shape[-1]
    xi_x, xi_y = (jnp.asarray(k, w.dtype) for k in wavenumbers(n))
    hat = _coefficients(w)
    gradient = (
        jnp.sqrt(
            jnp.fft.irfft2(1j * xi_x * hat, s=(n, n)) ** 2
            + jnp.fft.irfft2(1j * xi_y * hat, s=(n, n)) ** 2
        )
        * n**2
    )
    lipschitz = jnp.max(gradient, axis=(-2, -1)) / (2 * math.pi)
    weights = jnp.asarray(trapezoid_weights(w.shape[0], frame_interval), w.dtype)
    growth = jnp.sum(weights * lipschitz)
    return jnp.exp(growth) * jnp.sqrt(initial_error**2 + eta**2 / viscosity)


FORCINGS = {"fno": fno_forcing}  # forcings by name: field on the n² grid of the unit torus


class VorticityResidualLoss(eqx.Module):
    """A training loss with no target: the batch mean of `vorticity_error_estimator` on the
    trajectory `[last input frame, predicted frames]`, for models that map frames of vorticity
    `(t_in, n, n)` to the frames that follow, `frame_interval` apart (Spectral-Refiner's
    fine-tuning loss). `forcing`: a field on the data's grid, a name in `FORCINGS` (`"fno"`:
    the FNO protocol's), or `None`."""

    frame_interval: float = eqx.field(static=True)
    viscosity: float = eqx.field(static=True)
    forcing: Float[Array, "n n"] | str | None = None
    shift: float = eqx.field(static=True, default=0.0)
    order: int = eqx.field(static=True, default=4)

    def __check_init__(self):
        if isinstance(self.forcing, str) and self.forcing not in FORCINGS:
            raise ValueError(f"forcing must be one of {sorted(FORCINGS)}, an array or None")

    def __call__(self, model, batch, key) -> Float[Array, ""]:
        del key
        predictions = batch.predict(model)
        trajectories = jnp.concatenate([batch.inputs[:, -1:], predictions], axis=1)
        forcing = self.forcing
        if isinstance(forcing, str):
            forcing = FORCINGS[forcing](trajectories.shape[-1])

        def estimate(trajectory):
            return vorticity_error_estimator(
                trajectory, self.frame_interval, self.viscosity, forcing,
                shift=self.shift, order=self.order,
            )  # fmt: skip

        return jnp.mean(jax.vmap(estimate)(trajectories))
