"""Darcy flow `-∇·(a ∇u) = f` on the unit square or cube, `u = 0` on the boundary.

The FNO protocol: `a` is a Gaussian random field with covariance `(-Δ + 9 I)^(-2)` thresholded to
two values (12 where the field is non-negative, 3 elsewhere), `f = 1`, solved on a uniform grid.
The smooth variant takes `a = exp(field)`.
"""

import dataclasses
from typing import ClassVar

import numpy as np

from datagen.fields import threshold
from datagen.problems.base import LinearSystem, StationaryProblem
from datagen.problems.discretize import diffusion_matrix, interior


def assemble_diffusion(
    a: np.ndarray, forcing: np.ndarray | float, averaging: str = "arithmetic"
) -> LinearSystem:
    """`-∇·(a ∇u) = f`, `u = 0` on the boundary of the unit cube (`diffusion_matrix`), with the
    right-hand side `f` (a number or a `(n,) * d` array) at the interior nodes."""
    a = np.asarray(a, np.float64)
    rhs = interior(np.broadcast_to(np.asarray(forcing, np.float64), a.shape))
    return LinearSystem(diffusion_matrix(a, averaging), rhs)


@dataclasses.dataclass(frozen=True)
class Darcy(StationaryProblem):
    """The Darcy family: random coefficient `a`, `-∇·(a ∇u) = forcing`, zero Dirichlet boundary.

    **Fields** (besides `resolution`, `dim`, `alpha`, `tau` of `GridProblem`):

    - `coefficient`: `"piecewise"` (the FNO protocol, thresholded field with `values`) or
      `"lognormal"` (`a = exp(field)`).
    - `values`: (high, low) of the piecewise coefficient.
    - `forcing`: the constant right-hand side `f`.
    - `averaging`: how `a` is averaged onto cell faces (`"arithmetic"` or `"harmonic"`).

    Inputs `(1, *spatial)`: `a`; outputs `(1, *spatial)`: `u`.
    """

    coefficient: str = "piecewise"
    values: tuple[float, float] = (12.0, 3.0)
    forcing: float = 1.0
    averaging: str = "arithmetic"
    name: ClassVar[str] = "darcy"
    symmetric: ClassVar[bool] = True
    definite: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        if self.coefficient not in ("piecewise", "lognormal"):
            raise ValueError(
                f"coefficient must be 'piecewise' or 'lognormal', got {self.coefficient!r}"
            )
        if self.averaging not in ("arithmetic", "harmonic"):
            raise ValueError(
                f"averaging must be 'arithmetic' or 'harmonic', got {self.averaging!r}"
            )
        if self.coefficient == "piecewise" and min(self.values) <= 0:
            raise ValueError(f"the coefficient values must be positive, got {self.values}")
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """The coefficient `a` on the grid, `(1, *spatial)`."""
        field = self.random_field(rng)
        a = threshold(field, *self.values) if self.coefficient == "piecewise" else np.exp(field)
        return a[None]

    def assemble(self, theta: np.ndarray) -> LinearSystem:
        return assemble_diffusion(theta[0], self.forcing, self.averaging)
