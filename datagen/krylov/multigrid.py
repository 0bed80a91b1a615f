"""Geometric multigrid for the complex-shifted Laplacian, the standard preconditioner of Helmholtz.

For `A = -∇·(a∇) - k²` (symmetric, indefinite once `k²` passes the smallest eigenvalue) no
smoother or coarse grid works on `A` itself, but they do on the shifted operator
`M = A + iσ I` (σ = k²/2 is the shifted Laplacian `-∇·(a∇) - (1 - i/2) k²` of Erlangga, Oosterlee
and Vuik, SIAM J. Sci. Comput. 27, 2006): its imaginary part damps the waves the coarse grids cannot
resolve. One V-cycle then approximates `M⁻¹` with a contraction of about 0.55 per cycle (the tests
check it), at the cost of a few matrix-vector products.

`M⁻¹` is complex, so the Krylov method runs in complex arithmetic on the real system; the
imaginary part of its iterate vanishes at convergence and is dropped. The preconditioned operator
`A M⁻¹` then has the eigenvalues `λ / (λ + iσ)` (for a symmetric `A` and an exact `M⁻¹`), on the
circle through 0 and 1, and only near-resonant modes (`|λ| ≪ σ`) come close to 0. (Applying
`Re(M⁻¹)` instead keeps the arithmetic real, but squares that smallness, `λ² / (λ² + σ²)`:
measured on 3-D Helmholtz at k = 20, some samples then need 2,000 matrix-vector products or fail
to converge within 10,000, where the complex iteration takes about 1,000 on every sample.)

Components (the unknowns are the interior nodes of a vertex grid, C order, zero Dirichlet values
around it):

- coarsening: every other interior node along each axis (`m -> m // 2`), so the coarse nodes are
  the vertex grid of twice the spacing;
- prolongation `P`: the tensor product of 1-D linear interpolation (a fine node between two coarse
  ones takes their mean, the boundary counting as zero); restriction `Pᵀ`; coarse operators by
  Galerkin projection `Pᵀ M P`, so variable coefficients need no rediscretization;
- smoothing: `sweeps` damped Jacobi sweeps (`omega`) before and after the coarse correction;
- coarsest level: sparse LU, once the level has at most `coarse_size` unknowns or the next one
  would have fewer than 2 grid points per wavelength. Coarser grids than that made the cycle
  diverge in our measurements (k = 20: contraction 0.55-0.59 per cycle with the coarsest grid at
  2.6 points per wavelength, in 2-D and 3-D; 1.02-2.5 with it at 1.3-1.6).
"""

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def linear_interpolation(fine: int) -> sp.csr_matrix:
    """1-D prolongation `(fine, fine // 2)` on the interior nodes of a vertex grid: coarse unknown
    `j` sits on fine unknown `2j + 1`; the fine unknowns between take the mean of their two
    neighbours (a neighbour beyond the last coarse one is the zero boundary)."""
    if fine < 2:
        raise ValueError(f"a grid axis needs at least 2 interior nodes to coarsen, got {fine}")
    coarse = np.arange(fine // 2)
    centre = 2 * coarse + 1
    rows = np.concatenate([centre, centre - 1, centre + 1])
    cols = np.concatenate([coarse, coarse, coarse])
    values = np.concatenate([np.ones(coarse.size), np.full(2 * coarse.size, 0.5)])
    inside = rows < fine
    return sp.csr_matrix((values[inside], (rows[inside], cols[inside])), shape=(fine, coarse.size))


def prolongation(shape: Sequence[int]) -> sp.csr_matrix:
    """Tensor-product linear interpolation from the coarse grid `[m // 2 for m in shape]` to the
    grid `shape` (unknowns in C order)."""
    operator = linear_interpolation(shape[0])
    for size in shape[1:]:
        operator = sp.kron(operator, linear_interpolation(size), format="csr")
    return operator


class ShiftedMultigrid:
    """A V-cycle for `M = matrix + i shift I` on the unknowns of the grid of shape `grid`.

    `matrix` is `(n, n)` sparse with `n = prod(grid)`; `shift` > 0 (σ, in the matrix's units);
    `wavelength` the wave's length in grid spacings of `grid` (`2π / (k h)`; 0 for no limit);
    `omega` and `sweeps` set the damped Jacobi smoother; levels are added until one has at most
    `coarse_size` unknowns, or the next would have fewer than 2 points per wavelength (or an
    axis fewer than 2 nodes), and that one is factorized.
    `__call__(v)` applies one V-cycle to `v` (`(n,)`, real or complex) and returns a complex
    `(n,)` approximation of `M⁻¹ v`.
    """

    def __init__(
        self,
        matrix: sp.spmatrix,
        grid: Sequence[int],
        shift: float,
        *,
        wavelength: float = 0.0,
        omega: float = 0.6,
        sweeps: int = 1,
        coarse_size: int = 2000,
    ):
        shape = tuple(int(s) for s in grid)
        if math.prod(shape) != matrix.shape[0]:
            raise ValueError(
                f"the grid {shape} has {math.prod(shape)} unknowns but the matrix has "
                f"{matrix.shape[0]} rows"
            )
        if not shift > 0:
            raise ValueError(f"the shift must be positive, got {shift}")
        if not 0 < omega <= 1 or sweeps < 1:
            raise ValueError(f"need 0 < omega <= 1 and sweeps >= 1, got {omega} and {sweeps}")
        shifted = sp.csr_matrix(matrix, dtype=np.complex128)
        shifted = (shifted + 1j * shift * sp.identity(shifted.shape[0], format="csr")).tocsr()
        self.sweeps = sweeps
        self.levels: list[tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray]] = []
        # level l has wavelength / 2^l points per wavelength; keep at least 2 on every level
        most_levels = math.floor(math.log2(wavelength / 2)) if wavelength > 0 else math.inf
        while math.prod(shape) > coarse_size and min(shape) >= 2 and len(self.levels) < most_levels:
            p = prolongation(shape)
            diagonal = shifted.diagonal()
            self.levels.append((shifted, p, p.T.tocsr(), omega / diagonal))
            shifted = (p.T @ shifted @ p).tocsr()
            shape = tuple(s // 2 for s in shape)
        self.coarsest = spla.splu(shifted.tocsc())
        self.coarsest_unknowns = shifted.shape[0]

    def __call__(self, v: np.ndarray) -> np.ndarray:
        return self._cycle(np.asarray(v, np.complex128), 0)

    def _cycle(self, rhs: np.ndarray, level: int) -> np.ndarray:
        if level == len(self.levels):
            return self.coarsest.solve(rhs)
        operator, prolong, restrict, scaled_inverse = self.levels[level]
        x = scaled_inverse * rhs
        for _ in range(self.sweeps - 1):
            x += scaled_inverse * (rhs - operator @ x)
        x += prolong @ self._cycle(restrict @ (rhs - operator @ x), level + 1)
        for _ in range(self.sweeps):
            x += scaled_inverse * (rhs - operator @ x)
        return x
