"""Linear solvers for the generator: each returns the solution with what the solve cost.

The recycling Krylov solvers (GCRO-DR, SKR) and the solver race come with the data-generator issue;
this module defines the interface they plug into and the sparse direct baseline.
"""

import dataclasses
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from datagen.problems.base import LinearSystem


class SolveError(RuntimeError):
    """A solve did not reach its tolerance; its result must not be stored as a sample."""


@dataclasses.dataclass(frozen=True)
class SolveResult:
    """A solution with its cost and its true final residual `‖b - A x‖ / ‖b‖`."""

    solution: np.ndarray
    relative_residual: float
    iterations: int
    matvecs: int
    seconds: float


def relative_residual(matrix: sp.spmatrix, solution: np.ndarray, rhs: np.ndarray) -> float:
    norm = np.linalg.norm(rhs)
    return float(np.linalg.norm(rhs - matrix @ solution) / (norm if norm > 0 else 1.0))


@dataclasses.dataclass(frozen=True)
class DirectSolver:
    """Sparse LU (SuperLU through `scipy.sparse.linalg.splu`), checked against `tolerance`."""

    tolerance: float = 1e-10
    name: str = dataclasses.field(default="direct", init=False)

    def solve(self, system: LinearSystem) -> SolveResult:
        start = time.perf_counter()
        solution = spla.splu(system.matrix.tocsc()).solve(system.rhs)
        seconds = time.perf_counter() - start
        residual = relative_residual(system.matrix, solution, system.rhs)
        if not residual <= self.tolerance:
            raise SolveError(
                f"direct solve left a relative residual {residual:.2e} above the tolerance "
                f"{self.tolerance:.0e}; the matrix is singular or badly conditioned."
            )
        return SolveResult(solution, residual, iterations=0, matvecs=0, seconds=seconds)


SOLVERS = {"direct": DirectSolver}


def make_solver(name: str, **options):
    """Build the linear solver `name` (one of `SOLVERS`)."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; available: {sorted(SOLVERS)}")
    return SOLVERS[name](**options)
