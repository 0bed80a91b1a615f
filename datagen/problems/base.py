"""What a family of discretized PDEs provides to the generator, and the shared grid-field base."""

import dataclasses
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from datagen.fields import gaussian_random_field
from datagen.generator import check_finite
from datagen.problems.discretize import embed_interior


FEATURE_POINTS = {1: 256, 2: 32, 3: 16}  # per axis, for the sorting features


@dataclasses.dataclass(frozen=True)
class LinearSystem:
    """`matrix @ x = rhs`, float64, with `matrix` a square sparse matrix (a `LinearOperator` works
    with the Krylov solvers and no preconditioner)."""

    matrix: sp.spmatrix | spla.LinearOperator
    rhs: np.ndarray


@dataclasses.dataclass(frozen=True)
class Solved:
    """One finished sample: the stored `inputs` `(c_in, *spatial)` and `outputs`
    `(c_out, *spatial)`, and the `results` of the solves that made it (one per linear system,
    `datagen.linear_solvers.SolveResult`, the last one holding the solver state to pass on)."""

    inputs: np.ndarray
    outputs: np.ndarray
    results: list

    @property
    def state(self):
        """The solver state the last solve left, for `solve(θ', solver, previous=...)`."""
        return self.results[-1].state


@runtime_checkable
class LinearProblem(Protocol):
    """A family `A(θ) x = b(θ)` of discretized PDEs on a uniform grid of the unit cube.

    The generator draws `θ = sample(rng)`, orders the samples by `features(θ)` when the solver
    profits from similar neighbours, and calls `solve(θ, solver, previous)` in that order, passing
    each sample the solver state the one before left (`Solved.state`).
    """

    name: str
    symmetric: bool  # every matrix of the family is symmetric ...
    definite: bool  # ... and positive definite (so CG and AMG apply)

    def parameters(self) -> dict[str, Any]:
        """The settings that define the family (stored as the dataset's provenance)."""

    def grid(self) -> tuple[np.ndarray, ...]:
        """The 1-D coordinates of each spatial axis of the stored samples."""

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw the parameters θ of one member of the family."""

    def features(self, theta: Any) -> np.ndarray:
        """A 1-D vector whose Euclidean distances approximate the distances between parameters."""

    def solve(self, theta: Any, solver, previous=None) -> Solved:
        """Solve the member θ with `solver` (a `datagen.linear_solvers.LinearSolver`), carrying
        over from the `previous` sample's solver state (`Solved.state`) what the solver keeps."""


@dataclasses.dataclass(frozen=True)
class GridProblem:
    """Base of the families on the `(resolution,) * dim` grid with Gaussian-random-field inputs.

    **Fields:** `resolution` (grid points per axis, both boundaries included; choose
    `k·r + 1` to sub-sample by a stride `r` keeping the boundary), `dim` (2 or 3), and the random
    field's covariance `(-Δ + τ²)^(-α)` (`alpha`, `tau`).
    """

    resolution: int = 64
    dim: int = 2
    alpha: float = 2.0
    tau: float = 3.0

    def __post_init__(self):
        check_finite(self)
        if self.dim not in (2, 3):
            raise ValueError(f"{type(self).__name__} supports dim 2 or 3, got {self.dim}")
        if self.resolution < 4:
            raise ValueError(
                f"resolution must be at least 4 grid points per axis (2 unknowns), got "
                f"{self.resolution}"
            )
        if self.alpha <= self.dim / 2 or self.tau <= 0:
            raise ValueError(
                f"the random field needs alpha > dim/2 and tau > 0, got alpha={self.alpha}, "
                f"tau={self.tau}"
            )

    def parameters(self) -> dict:
        fields = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}

    def grid(self) -> tuple[np.ndarray, ...]:
        return (np.linspace(0.0, 1.0, self.resolution),) * self.dim

    def random_field(self, rng: np.random.Generator) -> np.ndarray:
        """One draw of the Gaussian random field, `(resolution,) * dim`."""
        return gaussian_random_field(rng, self.resolution, self.dim, alpha=self.alpha, tau=self.tau)

    def features(self, theta: np.ndarray) -> np.ndarray:
        """The parameter fields `(c, *spatial)` sampled every few points (at most 32 per axis in
        2D, 16 in 3D): the Frobenius distance of these approximates that of the full fields."""
        stride = max(1, -(-self.resolution // FEATURE_POINTS[self.dim]))
        picked = theta[(slice(None),) + (slice(None, None, stride),) * self.dim]
        return np.ascontiguousarray(picked.reshape(-1), np.float64)


@dataclasses.dataclass(frozen=True)
class CoefficientAndField(GridProblem):
    """Base of the families whose parameters are a log-normal coefficient and a second field:
    `θ = (a, g₂)` `(2, *spatial)` with `a = exp(contrast · g₁)`, `g₁, g₂` independent Gaussian
    random fields. `contrast` (non-negative) scales the standard deviation of `log a`."""

    contrast: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        if self.contrast < 0:
            raise ValueError(f"contrast must be non-negative, got {self.contrast}")

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        a = np.exp(self.contrast * self.random_field(rng))
        return np.stack([a, self.random_field(rng)])


class StationaryProblem(GridProblem):
    """A family solved by one linear system per sample: subclasses give `assemble`; the stored
    pair is the parameter fields `θ` and the solution `u` (`(1, *spatial)`, zero on the
    boundary)."""

    def assemble(self, theta: np.ndarray) -> LinearSystem:
        raise NotImplementedError

    def to_sample(self, theta: np.ndarray, solution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return theta, embed_interior(solution, self.resolution, self.dim)[None]

    def solve(self, theta: np.ndarray, solver, previous=None) -> Solved:
        system = self.assemble(theta)
        result = solver.solve(solver.init(system.matrix, previous), system.rhs)
        inputs, outputs = self.to_sample(theta, result.solution)
        return Solved(inputs, outputs, [result])
