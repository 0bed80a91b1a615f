"""Convection-diffusion `-ε Δu + v·∇u = f` on the unit square or cube, `u = 0` on the boundary.

The velocity `v` has independent Gaussian-random-field components, scaled so that its largest
magnitude is `speed`; `f = 1`. The matrix is non-symmetric (GMRES-type solvers, no CG), with a
global Péclet number `speed / ε`.
"""

import dataclasses
from typing import ClassVar

import numpy as np

from datagen.problems.base import LinearSystem, StationaryProblem
from datagen.problems.discretize import convection_matrix, diffusion_matrix, interior


@dataclasses.dataclass(frozen=True)
class ConvectionDiffusion(StationaryProblem):
    """Inputs `(dim, *spatial)`: the velocity components; outputs `(1, *spatial)`: `u`.

    **Fields** (besides those of `GridProblem`): `diffusion` `ε > 0`, `speed` (largest `|v|`),
    `forcing` `f`, and the convection `scheme`: `"central"` (second order; needs the cell Péclet
    number `speed·h / (2ε)` at most 1, checked) or `"upwind"` (first order, any Péclet number).
    """

    diffusion: float = 0.02
    speed: float = 1.0
    forcing: float = 1.0
    scheme: str = "central"
    name: ClassVar[str] = "convection_diffusion"
    symmetric: ClassVar[bool] = False
    definite: ClassVar[bool] = False

    def __post_init__(self):
        super().__post_init__()
        if not self.diffusion > 0:
            raise ValueError(f"the diffusion coefficient must be positive, got {self.diffusion}")
        if self.speed < 0:
            raise ValueError(f"speed must be non-negative, got {self.speed}")
        if self.scheme not in ("central", "upwind"):
            raise ValueError(f"scheme must be 'central' or 'upwind', got {self.scheme!r}")
        cell_peclet = self.speed / (self.resolution - 1) / (2 * self.diffusion)
        if self.scheme == "central" and cell_peclet > 1:
            raise ValueError(
                f"central differences oscillate at cell Péclet number {cell_peclet:.2f} > 1; "
                "refine the grid, raise the diffusion, or use scheme='upwind'."
            )

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        velocity = np.stack([self.random_field(rng) for _ in range(self.dim)])
        magnitude = np.sqrt((velocity**2).sum(axis=0)).max()
        return velocity * (self.speed / magnitude)

    def assemble(self, theta: np.ndarray) -> LinearSystem:
        a = np.full(theta.shape[1:], self.diffusion)
        matrix = diffusion_matrix(a) + convection_matrix(theta, self.scheme)
        return LinearSystem(matrix.tocsr(), interior(np.full(theta.shape[1:], self.forcing)))
