"""Poisson with a variable coefficient and a random forcing: `-∇·(a ∇u) = f`, `u = 0` on ∂Ω.

`a = exp(g₁)` and `f = g₂` with `g₁, g₂` independent Gaussian random fields: both the matrix and the
right-hand side change from sample to sample.
"""

import dataclasses
from typing import ClassVar

import numpy as np

from datagen.problems.base import CoefficientAndField, LinearSystem, StationaryProblem
from datagen.problems.discretize import diffusion_matrix, interior


@dataclasses.dataclass(frozen=True)
class Poisson(CoefficientAndField, StationaryProblem):
    """Inputs `(2, *spatial)`: `a`, `f`; outputs `(1, *spatial)`: `u`.

    **Fields** (besides those of `GridProblem`): `contrast`, the standard-deviation scale of
    `log a` (`a = exp(contrast · g₁)`, non-negative).
    """

    contrast: float = 1.0
    name: ClassVar[str] = "poisson"
    symmetric: ClassVar[bool] = True
    definite: ClassVar[bool] = True

    def assemble(self, theta: np.ndarray) -> LinearSystem:
        return LinearSystem(diffusion_matrix(theta[0]), interior(theta[1]))
