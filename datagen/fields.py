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
