"""Helmholtz `-∇·(a ∇u) - k² u = f` on the unit square or cube, `u = 0` on the boundary.

`a = exp(contrast · g₁)` and `f = g₂` (independent Gaussian random fields), a fixed wavenumber `k`.
Once `k²` exceeds the smallest eigenvalue of `-∇·(a∇)` (about `d π² min a`) the matrix is symmetric
but indefinite: CG and multigrid no longer apply, and Krylov recycling has the most to gain.
"""

import dataclasses
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from datagen.problems.base import CoefficientAndField, LinearSystem, StationaryProblem
from datagen.problems.discretize import diffusion_matrix, interior


@dataclasses.dataclass(frozen=True)
class Helmholtz(CoefficientAndField, StationaryProblem):
    """Inputs `(2, *spatial)`: `a`, `f`; outputs `(1, *spatial)`: `u`.

    **Fields** (besides those of `GridProblem`): `wavenumber` `k` (the default 20 makes the matrix
    indefinite; fewer than 6 grid points per wavelength, `2π / (k h) < 6`, is refused and 10 or
    more are advisable), and `contrast` of `log a`.
    """

    wavenumber: float = 20.0
    name: ClassVar[str] = "helmholtz"
    symmetric: ClassVar[bool] = True
    definite: ClassVar[bool] = False

    def __post_init__(self):
        super().__post_init__()
        if self.wavenumber < 0:
            raise ValueError(f"wavenumber must be non-negative, got {self.wavenumber}")
        points_per_wavelength = self.points_per_wavelength
        if points_per_wavelength < 6:
            raise ValueError(
                f"resolution {self.resolution} gives {points_per_wavelength:.1f} points per "
                f"wavelength at k={self.wavenumber}; use at least "
                f"{int(np.ceil(6 * self.wavenumber / (2 * np.pi))) + 1} points per axis."
            )

    @property
    def points_per_wavelength(self) -> float:
        """The wavelength `2π / k` in grid spacings `h = 1 / (resolution - 1)`."""
        return 2 * np.pi * (self.resolution - 1) / max(self.wavenumber, 1e-300)

    def shifted_laplacian(self) -> dict:
        """The options of the `shifted-mg` preconditioner for this family: the grid of the
        unknowns, the shift σ = k²/2, i.e. the shifted Laplacian `-∇·(a∇) - (1 - i/2) k²` of
        Erlangga, Oosterlee & Vuik (2006), and the wavelength `2π / (k h)` in grid spacings."""
        return {
            "grid": (self.resolution - 2,) * self.dim,
            "shift": self.wavenumber**2 / 2,
            "wavelength": self.points_per_wavelength,
        }

    def assemble(self, theta: np.ndarray) -> LinearSystem:
        stiffness = diffusion_matrix(theta[0])
        shift = self.wavenumber**2 * sp.identity(stiffness.shape[0], format="csr")
        return LinearSystem((stiffness - shift).tocsr(), interior(theta[1]))
