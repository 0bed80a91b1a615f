"""The solver backends of the generator: each solves one system of a sequence, reports its cost,
and guarantees the true relative residual `‖b - A x‖ / ‖b‖ ≤ tolerance` of what it returns.

- `direct`: sparse LU (SuperLU); the factors are reused while the matrix stays the same. Any matrix.
- `cg-amg`: conjugate gradients preconditioned by one smoothed-aggregation AMG V-cycle. SPD only.
- `gmres`: restarted GMRES(m), right-preconditioned.
- `gcrotmk`: SciPy's GCROT(m, k), the reference recycling implementation, each system alone.
- `gcrodr`: GCRO-DR(m, k) on each system alone (deflated restarts, no carry-over).
- `skr`: GCRO-DR(m, k) carrying its recycled space along a sorted sequence of systems.

The Krylov backends take `preconditioner` (`none`, `jacobi`, `ilu`, `amg`), applied on the right so
that the residual they minimise is the true one. A solve that misses its tolerance within
`max_matvecs` raises `SolveError`: an unconverged solution never becomes a sample.
"""

import dataclasses
import time
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from datagen.krylov import GCRODR, PRECONDITIONERS, gmres, make_preconditioner
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


def relative_residual(
    matrix: sp.spmatrix | spla.LinearOperator, solution: np.ndarray, rhs: np.ndarray
) -> float:
    norm = np.linalg.norm(rhs)
    return float(np.linalg.norm(rhs - matrix @ solution) / (norm if norm > 0 else 1.0))


class Backend:
    """A solver for a sequence of systems. Subclasses set `name` and implement `_solve`.

    `sorts` says whether the generator should order the systems so that neighbours are similar
    (it helps only solvers that carry information from one system to the next).
    """

    name: ClassVar[str]
    sorts: ClassVar[bool] = False
    spd_only: ClassVar[bool] = False

    def __init__(self, tolerance: float = 1e-8, max_matvecs: int = 10_000):
        if not 0 < tolerance < 1:
            raise ValueError(f"tolerance must be in (0, 1), got {tolerance}")
        if max_matvecs < 1:
            raise ValueError(f"max_matvecs must be positive, got {max_matvecs}")
        self.tolerance, self.max_matvecs = tolerance, max_matvecs
        self._matrix: sp.spmatrix | None = None  # the matrix the cached set-up belongs to

    def settings(self) -> dict:
        """The options that define this backend (stored with the data)."""
        return {"tolerance": self.tolerance, "max_matvecs": self.max_matvecs}

    def reset(self) -> None:
        """Forget everything carried from earlier systems."""
        self._matrix = None

    def solve(
        self,
        system: LinearSystem,
        initial_guess: np.ndarray | None = None,
    ) -> SolveResult:
        """Solve `system` to the tolerance, starting from `initial_guess` (zero by default).
        Raises `SolveError` if the tolerance is not met."""
        start = time.perf_counter()
        matrix, rhs = system.matrix, system.rhs
        same = matrix is self._matrix
        self._matrix = matrix
        x = np.zeros_like(rhs) if initial_guess is None else np.array(initial_guess, np.float64)
        target = self.tolerance * (np.linalg.norm(rhs) or 1.0)
        x, iterations, matvecs = self._solve(matrix, rhs, x, target, same)
        residual = relative_residual(matrix, x, rhs)
        if not residual <= self.tolerance:
            raise SolveError(
                f"{self.name} left a relative residual {residual:.2e} above the tolerance "
                f"{self.tolerance:.0e} after {matvecs} matrix-vector products (limit "
                f"{self.max_matvecs}); raise max_matvecs, use a stronger preconditioner, or "
                "choose another solver."
            )
        return SolveResult(x, residual, iterations, matvecs, time.perf_counter() - start)

    def _solve(self, matrix, rhs, x, target, same_operator):
        """Return `(x, iterations, matvecs)` with `‖rhs - matrix x‖ ≤ target` if possible."""
        raise NotImplementedError


class DirectSolver(Backend):
    """Sparse LU (SuperLU through `scipy.sparse.linalg.splu`); the factors are reused while the
    matrix object stays the same (e.g. the implicit time steps of one sample)."""

    name = "direct"

    def _solve(self, matrix, rhs, x, target, same_operator):
        if not same_operator:
            self._factors = spla.splu(sp.csc_matrix(matrix))
        solution = self._factors.solve(rhs)
        if not np.all(np.isfinite(solution)):
            raise SolveError("the direct solve produced non-finite values; the matrix is singular")
        return solution, 0, 0


class _Counted:
    """`v ↦ A v` that counts its calls."""

    def __init__(self, matrix):
        self.matrix, self.calls = matrix, 0

    def __call__(self, v):
        self.calls += 1
        return self.matrix @ v


class _Preconditioned(Backend):
    """A Krylov backend with a preconditioner set up once per matrix."""

    def __init__(self, tolerance=1e-8, max_matvecs=10_000, preconditioner: str = "ilu"):
        super().__init__(tolerance, max_matvecs)
        if preconditioner not in PRECONDITIONERS:
            raise ValueError(
                f"unknown preconditioner {preconditioner!r}; available: {list(PRECONDITIONERS)}"
            )
        self.preconditioner = preconditioner

    def settings(self) -> dict:
        return {**super().settings(), "preconditioner": self.preconditioner}

    def _solve(self, matrix, rhs, x, target, same_operator):
        if not same_operator:
            self._apply_inverse = make_preconditioner(self.preconditioner, matrix)
        iterations = matvecs = 0
        for _ in range(3):  # the tracked residual can drift from the true one: re-check it
            r = rhs - matrix @ x
            matvecs += 1
            if np.linalg.norm(r) <= target or matvecs >= self.max_matvecs:
                break
            counted = _Counted(matrix)
            dx, steps = self._iterate(counted, r, target, self.max_matvecs - matvecs, same_operator)
            x = x + dx
            iterations += steps
            matvecs += counted.calls
            same_operator = True
        return x, iterations, matvecs

    def _iterate(self, matrix_apply, residual, target, budget, same_operator):
        """Return `(dx, iterations)` with `‖residual - A dx‖ ≤ target` if possible."""
        raise NotImplementedError


class GMRESSolver(_Preconditioned):
    """Restarted GMRES(`restart`) (`datagen.krylov.gmres`)."""

    name = "gmres"

    def __init__(self, tolerance=1e-8, max_matvecs=10_000, preconditioner="ilu", restart=40):
        super().__init__(tolerance, max_matvecs, preconditioner)
        self.restart = restart

    def settings(self) -> dict:
        return {**super().settings(), "restart": self.restart}

    def _iterate(self, matrix_apply, residual, target, budget, same_operator):
        inverse = self._apply_inverse
        outcome = gmres(
            lambda v: matrix_apply(inverse(v)),
            residual,
            target,
            restart=self.restart,
            max_matvecs=budget,
        )
        return inverse(outcome.correction), outcome.iterations


class GCRODRSolver(_Preconditioned):
    """GCRO-DR(`restart`, `recycle`) (`datagen.krylov.GCRODR`), each system on its own."""

    name = "gcrodr"
    carry = False

    def __init__(
        self, tolerance=1e-8, max_matvecs=10_000, preconditioner="ilu", restart=40, recycle=20
    ):
        super().__init__(tolerance, max_matvecs, preconditioner)
        self.krylov = GCRODR(restart, recycle, carry=self.carry)

    def settings(self) -> dict:
        return {
            **super().settings(),
            "restart": self.krylov.restart,
            "recycle": self.krylov.recycle,
        }

    def reset(self) -> None:
        super().reset()
        self.krylov.reset()

    def _iterate(self, matrix_apply, residual, target, budget, same_operator):
        inverse = self._apply_inverse
        outcome = self.krylov.solve(
            lambda v: matrix_apply(inverse(v)),
            residual,
            target,
            max_matvecs=budget,
            same_operator=same_operator,
        )
        return inverse(outcome.correction), outcome.iterations


class SKRSolver(GCRODRSolver):
    """Sorting Krylov recycling: GCRO-DR carrying its recycled space from each system to the next,
    on systems the generator has sorted so that neighbours are similar."""

    name = "skr"
    carry = True
    sorts = True


class _ScipyKrylov(_Preconditioned):
    """A SciPy Krylov method on `A` with `M⁻¹` as a `LinearOperator`; subclasses give `_method`."""

    def _method(self, operator, residual, budget, **common):
        """Call the SciPy solver with `common` (target, preconditioner, iteration callback)."""
        raise NotImplementedError

    def _iterate(self, matrix_apply, residual, target, budget, same_operator):
        shape = (residual.shape[0],) * 2
        operator = spla.LinearOperator(shape, matvec=matrix_apply, dtype=np.float64)
        inverse = spla.LinearOperator(shape, matvec=self._apply_inverse, dtype=np.float64)
        steps = [0]
        dx, _ = self._method(
            operator,
            residual,
            budget,
            rtol=0.0,
            atol=target,
            M=inverse,
            callback=lambda _: steps.__setitem__(0, steps[0] + 1),
        )
        return dx, steps[0]


class GCROTMKSolver(_ScipyKrylov):
    """SciPy's `gcrotmk(m, k)` (flexible GCROT of Hicken and Zingg), each system on its own."""

    name = "gcrotmk"

    def __init__(self, tolerance=1e-8, max_matvecs=10_000, preconditioner="ilu", m=40, k=20):
        super().__init__(tolerance, max_matvecs, preconditioner)
        self.m, self.k = m, k

    def settings(self) -> dict:
        return {**super().settings(), "m": self.m, "k": self.k}

    def _method(self, operator, residual, budget, **common):
        maxiter = max(1, budget // self.m)  # gcrotmk counts outer cycles of about m matvecs
        return spla.gcrotmk(operator, residual, m=self.m, k=self.k, maxiter=maxiter, **common)


class AMGCGSolver(_ScipyKrylov):
    """Conjugate gradients preconditioned by one smoothed-aggregation AMG V-cycle (pyamg).
    For symmetric positive definite matrices only."""

    name = "cg-amg"
    spd_only = True

    def __init__(self, tolerance=1e-8, max_matvecs=10_000, preconditioner="amg"):
        super().__init__(tolerance, max_matvecs, preconditioner)

    def _method(self, operator, residual, budget, **common):
        return spla.cg(operator, residual, maxiter=budget, **common)


SOLVERS: dict[str, type[Backend]] = {
    cls.name: cls
    for cls in (DirectSolver, AMGCGSolver, GMRESSolver, GCROTMKSolver, GCRODRSolver, SKRSolver)
}


def make_solver(name: str, **options) -> Backend:
    """Build the backend `name` (one of `SOLVERS`) with its `options`."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; available: {sorted(SOLVERS)} or 'auto'")
    return SOLVERS[name](**options)
