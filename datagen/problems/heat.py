"""The heat equation `∂u/∂t = ∇·(a ∇u)` on the unit square or cube, `u = 0` on the boundary.

Implicit time stepping by the θ-method: `(I + θ Δt A) uⁿ⁺¹ = (I - (1-θ) Δt A) uⁿ`, with `A` the
diffusion matrix (`θ = 1` backward Euler, `θ = 1/2` Crank-Nicolson). One sample is a sequence of
`steps` linear systems with the same matrix, each started from the previous solution, all solved
from one solver state (one factorization or preconditioner per sample): a recycling solver carries
its subspace along time as well as from sample to sample.
"""

import dataclasses
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from datagen.problems.base import CoefficientAndField, Solved
from datagen.problems.discretize import diffusion_matrix, embed_interior, interior


@dataclasses.dataclass(frozen=True)
class Heat(CoefficientAndField):
    """Inputs `(2, *spatial)`: `a = exp(contrast · g₁)` and `u₀ = g₂`; outputs `(steps, *spatial)`:
    `u` after each time step.

    **Fields** (besides those of `GridProblem`): `steps`, `time_step` `Δt > 0`, `theta` in
    `[1/2, 1]` (unconditionally stable), `contrast` of `log a`.
    """

    steps: int = 10
    time_step: float = 0.005
    theta: float = 1.0
    name: ClassVar[str] = "heat"
    symmetric: ClassVar[bool] = True
    definite: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        if self.steps < 1 or not self.time_step > 0:
            raise ValueError("steps must be positive and time_step positive")
        if not 0.5 <= self.theta <= 1:
            raise ValueError(f"theta must be in [1/2, 1] for stability, got {self.theta}")

    def solve(self, theta: np.ndarray, solver, previous=None) -> Solved:
        stiffness = diffusion_matrix(theta[0])
        identity = sp.identity(stiffness.shape[0], format="csr")
        implicit = (identity + self.theta * self.time_step * stiffness).tocsr()
        explicit = (identity - (1 - self.theta) * self.time_step * stiffness).tocsr()
        u = interior(theta[1])
        state = solver.init(implicit, previous)
        snapshots, results = [], []
        for _ in range(self.steps):
            result = solver.solve(state, explicit @ u, initial_guess=u)
            u, state = result.solution, result.state
            snapshots.append(embed_interior(u, self.resolution, self.dim))
            results.append(result)
        return Solved(theta, np.stack(snapshots), results)
