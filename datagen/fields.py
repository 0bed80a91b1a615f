"""Random input fields, deterministic given a NumPy `Generator`."""

import numpy as np
from scipy import fft


def gaussian_random_field(
    rng: np.random.Generator,
    resolution: int,
    dim: int = 2,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
) -> np.ndarray:
    """A sample of the Gaussian field with covariance `(-Δ + τ² I)^(-α)` (zero Neumann conditions).

    The FNO protocol's sampler (`GRF.m` of the paper's data generation): a Karhunen-Loève
    expansion on the cosine basis of the unit cube, with coefficient `τ^(α-1) (π²|k|² + τ²)^(-α/2)`
    on mode `k`
    and the constant mode removed (zero mean), evaluated at the `resolution^dim` points by an
    orthonormal inverse DCT. The defaults `α=2, τ=3` give the Darcy covariance `(-Δ + 9 I)^(-2)`.

    **Returns:** float64 array shaped `(resolution,) * dim`.
    """
    if resolution < 2 or dim < 1:
        raise ValueError("resolution must be at least 2 and dim at least 1")
    k = np.arange(resolution, dtype=np.float64)
    squared = sum(np.meshgrid(*([k**2] * dim), indexing="ij"))  # |k|^2 on the grid of mode indices
    coefficient = tau ** (alpha - 1) * (np.pi**2 * squared + tau**2) ** (-alpha / 2)
    xi = rng.standard_normal((resolution,) * dim)
    modes = resolution ** (dim / 2) * coefficient * xi
    modes[(0,) * dim] = 0.0
    return fft.idctn(modes, type=2, norm="ortho")


def threshold(field: np.ndarray, high: float = 12.0, low: float = 3.0) -> np.ndarray:
    """The two-valued coefficient of the FNO Darcy data: `high` where `field >= 0`, else `low`.

    The paper's released files use 12 and 3 (its `demo.m` uses 12 and 4).
    """
    return np.where(field >= 0, high, low)


def periodic_gaussian_random_field(
    rng: np.random.Generator,
    resolution: int,
    dim: int = 2,
    *,
    alpha: float = 2.5,
    tau: float = 7.0,
) -> np.ndarray:
    """A sample of the periodic Gaussian field `N(0, σ² (-Δ + τ² I)^(-α))` on the unit torus.

    The FNO Navier-Stokes protocol's initial vorticity (`GaussianRF` of the paper's scripts, with
    its defaults `α = 2.5, τ = 7` and `σ = τ^(α - d/2)`, i.e. `7^(3/2)` in 2-D): a Fourier
    expansion `Σ_k √2 σ (4π²|k|² + τ²)^(-α/2) ξ_k e^{2πi k·x}` over the grid's frequencies with
    the mean (`k = 0`) removed, taken real as the scripts do, so the pointwise variance is
    `2 σ² Σ_{k≠0} (4π²|k|² + τ²)^(-α)`. Drawn here as white noise filtered by FFT, which gives
    that distribution exactly. The points are `x_i = i / resolution` (the periodic grid).

    **Returns:** float64 array shaped `(resolution,) * dim`.
    """
    if resolution < 2 or dim < 1:
        raise ValueError("resolution must be at least 2 and dim at least 1")
    if alpha <= dim / 2 or tau <= 0:
        raise ValueError(f"the field needs alpha > dim/2 and tau > 0, got {alpha}, {tau}")
    spectrum = periodic_spectrum(resolution, dim, alpha=alpha, tau=tau)
    noise = fft.fftn(rng.standard_normal((resolution,) * dim))
    return fft.ifftn(np.sqrt(2.0 * resolution**dim) * np.sqrt(spectrum) * noise).real


def periodic_spectrum(resolution: int, dim: int, *, alpha: float, tau: float) -> np.ndarray:
    """The eigenvalues `σ² (4π²|k|² + τ²)^(-α)` of the periodic field's covariance at the
    `fftn` frequencies of a `resolution^dim` grid, 0 at `k = 0`; `σ = τ^(α - d/2)`."""
    k = np.fft.fftfreq(resolution, 1.0 / resolution)
    squared = sum(np.meshgrid(*([k**2] * dim), indexing="ij"))
    sigma = tau ** (alpha - dim / 2)
    spectrum = sigma**2 * (4 * np.pi**2 * squared + tau**2) ** (-alpha)
    spectrum[(0,) * dim] = 0.0
    return spectrum
