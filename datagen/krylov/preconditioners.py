"""Preconditioners `M⁻¹ ≈ A⁻¹` for the Krylov solvers, each applied as `v ↦ M⁻¹ v` (float64).

- `none`: the identity.
- `jacobi`: `diag(A)⁻¹`.
- `ilu`: SuperLU's threshold incomplete LU (`scipy.sparse.linalg.spilu`, drop tolerance 1e-4,
  fill factor 10); works for non-symmetric and indefinite matrices while it stays stable.
- `amg`: one V-cycle of smoothed-aggregation algebraic multigrid (pyamg); the method of choice for
  symmetric positive definite matrices, usable but weaker on the others.
- `shifted-mg`: one geometric multigrid V-cycle of the complex-shifted operator `A + iσI`
  (`datagen.krylov.multigrid`): the shifted-Laplacian preconditioner for indefinite Helmholtz.
  Its values are complex (a Krylov method in complex arithmetic uses it). It needs the unknowns'
  `grid` shape, the `shift` σ and the `wavelength` in grid spacings, which the Helmholtz family
  supplies.
"""

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from datagen.krylov.multigrid import ShiftedMultigrid


PRECONDITIONERS = ("none", "jacobi", "ilu", "amg", "shifted-mg")
COMPLEX = frozenset({"shifted-mg"})  # preconditioners whose values are complex


def check_options(name: str, grid: Sequence[int], shift: float) -> None:
    """Raise if the preconditioner `name` lacks options it needs (`shifted-mg`: the unknowns'
    `grid` shape and a positive `shift`)."""
    if name == "shifted-mg" and not (len(grid) and shift > 0):
        raise ValueError(
            "the shifted-mg preconditioner needs the unknowns' grid shape and a positive shift "
            f"(got grid={tuple(grid)}, shift={shift}); a generator of the helmholtz family fills "
            "them in (Helmholtz.shifted_laplacian())"
        )


def is_symmetric(matrix: sp.spmatrix, tolerance: float = 1e-12) -> bool:
    """Whether `matrix` equals its transpose to `tolerance` relative to its largest entry."""
    difference = abs(matrix - matrix.T)
    return difference.nnz == 0 or difference.max() <= tolerance * abs(matrix).max()


def make_preconditioner(
    name: str,
    matrix: sp.spmatrix | spla.LinearOperator,
    *,
    grid: Sequence[int] = (),
    shift: float = 0.0,
    wavelength: float = 0.0,
) -> Callable[[np.ndarray], np.ndarray]:
    """Set up the preconditioner `name` (one of `PRECONDITIONERS`) for `matrix` (`none` accepts
    any linear operator; the others need the sparse matrix). `shifted-mg` also needs the shape
    of the unknowns' `grid` and the `shift` σ > 0, and takes the `wavelength` in grid spacings
    (its coarsest grid keeps 2 points per wavelength)."""
    if name == "none":
        return lambda v: v
    if name == "jacobi":
        diagonal = matrix.diagonal()
        if np.any(diagonal == 0):
            raise ValueError("the Jacobi preconditioner needs a nonzero diagonal")
        inverse = 1.0 / diagonal
        return lambda v: inverse * v
    if name == "ilu":
        factors = spla.spilu(sp.csc_matrix(matrix), drop_tol=1e-4, fill_factor=10)
        return factors.solve
    if name == "amg":
        import pyamg

        symmetry = "hermitian" if is_symmetric(matrix) else "nonsymmetric"
        hierarchy = pyamg.smoothed_aggregation_solver(sp.csr_matrix(matrix), symmetry=symmetry)
        return hierarchy.aspreconditioner(cycle="V").matvec
    if name == "shifted-mg":
        check_options(name, grid, shift)
        return ShiftedMultigrid(matrix, grid, shift, wavelength=wavelength)
    raise ValueError(f"unknown preconditioner {name!r}; available: {list(PRECONDITIONERS)}")
