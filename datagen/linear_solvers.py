"""The solver backends of the generator, shaped like lineax's solvers: a backend is an immutable
object holding its settings; `init(matrix, previous)` does the work that depends on the matrix
alone (a factorization, a preconditioner) once and returns a `SolverState`; `solve(state, rhs)`
returns a `SolveResult` with the solution, its cost, and the state to solve with next. Whatever a
backend carries from system to system (SKR's recycled space) travels in that state, explicitly.

Every result meets the true relative residual `‖b - A x‖ / ‖b‖ ≤ tolerance`.

- `direct`: sparse LU (SuperLU). Any matrix.
- `cg-amg`: conjugate gradients preconditioned by one smoothed-aggregation AMG V-cycle. SPD only.
- `gmres`: restarted GMRES(m), right-preconditioned.
- `gcrotmk`: SciPy's GCROT(m, k), the reference recycling implementation, each system alone.
- `bicgstab`: SciPy's BiCGSTAB, each system alone (short recurrences: no basis to orthogonalize).
- `gcrodr`: GCRO-DR(m, k) on each system alone (deflated restarts, no carry-over).
- `skr`: GCRO-DR(m, k) carrying its recycled space along a sorted sequence of systems.
- `dcdm`: the deep conjugate direction method with a trained network (`network=PATH`). SPD only.
- `batched-cg`, `batched-bicgstab`: many systems at once in one compiled JAX iteration
  (`datagen.krylov.batched`), Jacobi-preconditioned; `batched-cg` is SPD only.

The Krylov backends take `preconditioner` (`none`, `jacobi`, `ilu`, `amg`, `shifted-mg`), applied
on the right so that the residual they minimise is the true one. `shifted-mg`, the shifted-Laplacian
multigrid for indefinite Helmholtz, also takes the unknowns' `grid`, the `shift` and the
`wavelength`; it is complex, so the iteration runs in complex arithmetic. A solve that misses its
tolerance within `max_matvecs` raises `SolveError`: an unconverged solution never becomes a
sample. `datagen.auto` adds `auto`, which races these on the problem at hand.
"""

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from datagen.krylov import PRECONDITIONERS, RecycledSpace, gcrodr, gmres, make_preconditioner
from datagen.krylov.dcdm import dcdm
from datagen.krylov.preconditioners import (
    COMPLEX as COMPLEX_PRECONDITIONERS,
    check_options as check_preconditioner_options,
)


Matrix = sp.spmatrix | spla.LinearOperator


class SolveError(RuntimeError):
    """A solve did not reach its tolerance; its result must not be stored as a sample."""


@dataclasses.dataclass(frozen=True)
class SolverState:
    """What `LinearSolver.init` prepared for one matrix: the `matrix`, the backend's `prepared`
    set-up (LU factors, or `v ↦ M⁻¹ v` for a Krylov backend), the `recycled` space a recycling
    backend carries, and the `setup_seconds` that preparing took (charged to the first solve made
    from this state)."""

    matrix: Matrix
    prepared: Any = None
    recycled: RecycledSpace | None = None
    setup_seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class SolveResult:
    """A solution `(n,)` with its cost and its true final residual `‖b - A x‖ / ‖b‖`, and the
    `state` to solve the next system with (the same matrix: pass it to `solve`; another matrix:
    pass it to `init` as `previous`)."""

    solution: np.ndarray
    relative_residual: float
    iterations: int
    matvecs: int
    seconds: float
    state: SolverState


def check_tolerance(tolerance: float) -> None:
    """A relative residual target must lie in (0, 1)."""
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be in (0, 1), got {tolerance}")


def relative_residual(matrix: Matrix, solution: np.ndarray, rhs: np.ndarray) -> float:
    norm = np.linalg.norm(rhs)
    return float(np.linalg.norm(rhs - matrix @ solution) / (norm if norm > 0 else 1.0))


@dataclasses.dataclass(frozen=True)
class LinearSolver:
    """A backend: subclasses set `name` and implement `_prepare` and `_solve`.

    **Fields:** `tolerance` (the relative residual every solution meets, in (0, 1)),
    `max_matvecs` (the matrix-vector products a solve may spend before it fails).

    `sorts` says whether the generator should order the systems so that neighbours are similar
    (it helps only backends that carry information from one system to the next); `spd_only`
    that the backend needs symmetric positive definite matrices; `learned` that it needs a
    model trained for the problem first (it cannot be built from its defaults, nor raced);
    `batched` that it solves many systems at once (`solve_batch`) and should be given them so.
    """

    tolerance: float = 1e-8
    max_matvecs: int = 10_000
    name: ClassVar[str]
    sorts: ClassVar[bool] = False
    spd_only: ClassVar[bool] = False
    learned: ClassVar[bool] = False
    batched: ClassVar[bool] = False

    def __post_init__(self):
        check_tolerance(self.tolerance)
        if self.max_matvecs < 1:
            raise ValueError(f"max_matvecs must be positive, got {self.max_matvecs}")

    def settings(self) -> dict:
        """The options that define this backend (stored with the data)."""
        return dataclasses.asdict(self)

    @property
    def label(self) -> str:
        """A short name for tables: the backend with its preconditioner, e.g. `skr+jacobi`."""
        return self.name

    def init(self, matrix: Matrix, previous: SolverState | None = None) -> SolverState:
        """Prepare to solve systems with `matrix` (`(n, n)`, float64): factorize it or set up the
        preconditioner. `previous` is the state the last system left (another matrix); a backend
        that recycles takes its recycled space from it, the others ignore it."""
        start = time.perf_counter()
        prepared = self._prepare(matrix)
        carried = self._carried(previous)
        return SolverState(matrix, prepared, carried, time.perf_counter() - start)

    def solve(
        self, state: SolverState, rhs: np.ndarray, initial_guess: np.ndarray | None = None
    ) -> SolveResult:
        """Solve `state.matrix @ x = rhs` (`(n,)`) to the tolerance, starting from
        `initial_guess` (zero by default). Raises `SolveError` if the tolerance is not met."""
        start = time.perf_counter()
        x = np.zeros_like(rhs) if initial_guess is None else np.array(initial_guess, np.float64)
        target = self.tolerance * (np.linalg.norm(rhs) or 1.0)
        x, iterations, matvecs, recycled, stalled = self._solve(state, rhs, x, target)
        seconds = time.perf_counter() - start + state.setup_seconds
        return self._checked(state, rhs, x, iterations, matvecs, seconds, recycled, stalled)

    def _checked(
        self, state, rhs, x, iterations, matvecs, seconds, recycled=None, stalled=False
    ) -> SolveResult:
        """The result of a solve whose true residual meets the tolerance; else `SolveError`."""
        residual = relative_residual(state.matrix, x, rhs)
        if not residual <= self.tolerance:
            raise SolveError(self._failure(residual, matvecs, stalled))
        after = dataclasses.replace(state, recycled=recycled, setup_seconds=0.0)
        return SolveResult(x, residual, iterations, matvecs, seconds, after)

    def _failure(self, residual: float, matvecs: int, stalled: bool) -> str:
        """Why a solve missed the tolerance, in words that say what to change."""
        if stalled:
            return (
                f"{self.label} stagnated: the relative residual stayed at {residual:.2e}, above "
                f"the tolerance {self.tolerance:.0e}, over its last restart cycles (after "
                f"{matvecs} matrix-vector products, of {self.max_matvecs} allowed). More "
                "products would not help: use a stronger preconditioner or another solver "
                "(direct)."
            )
        return (
            f"{self.label} left a relative residual {residual:.2e} above the tolerance "
            f"{self.tolerance:.0e} when it reached its limit of {self.max_matvecs} "
            f"matrix-vector products ({matvecs} spent); raise max_matvecs, use a stronger "
            "preconditioner, or choose another solver."
        )

    def _prepare(self, matrix: Matrix) -> Any:
        """The set-up that depends on the matrix alone."""
        raise NotImplementedError

    def _carried(self, previous: SolverState | None) -> RecycledSpace | None:
        """What this backend takes from the previous matrix's state (nothing by default)."""
        return None

    def _solve(self, state: SolverState, rhs, x, target):
        """Return `(x, iterations, matvecs, recycled, stagnated)` with `‖rhs - A x‖ ≤ target` if
        possible (`stagnated`: the iteration stopped because it made no progress)."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class DirectSolver(LinearSolver):
    """Sparse LU (SuperLU through `scipy.sparse.linalg.splu`), factorized once per `init`: the
    right-hand sides solved from one state (e.g. the implicit time steps of one sample) share it."""

    name: ClassVar[str] = "direct"

    def _prepare(self, matrix):
        return spla.splu(sp.csc_matrix(matrix))

    def _solve(self, state, rhs, x, target):
        solution = state.prepared.solve(rhs)
        if not np.all(np.isfinite(solution)):
            raise SolveError("the direct solve produced non-finite values; the matrix is singular")
        return solution, 0, 0, None, False


class _Counted:
    """`v ↦ A v` that counts its calls."""

    def __init__(self, matrix):
        self.matrix, self.calls = matrix, 0

    def __call__(self, v):
        self.calls += 1
        return self.matrix @ v


@dataclasses.dataclass(frozen=True)
class _Preconditioned(LinearSolver):
    """A Krylov backend with a right preconditioner set up once per matrix; subclasses give
    `_iterate`. The true residual is re-checked after each run of the iteration (the tracked one
    can drift from it) and the iteration rerun on what is left, at most three times.

    **Fields:** `preconditioner` (a name of `PRECONDITIONERS`); for `shifted-mg` also `grid`, the
    shape of the unknowns (C order), `shift`, the σ of `A + iσI` (matrix units), and `wavelength`,
    in grid spacings (0: not limited by it). `shifted-mg`
    is complex: the iteration then runs in complex arithmetic (its recycled space too) and the
    real part of its result is the solution."""

    preconditioner: str = "ilu"
    grid: Sequence[int] = ()  # stored as a tuple
    shift: float = 0.0
    wavelength: float = 0.0
    complex_arithmetic: ClassVar[bool] = True  # whether it can take a complex preconditioner

    def __post_init__(self):
        super().__post_init__()
        if self.preconditioner not in PRECONDITIONERS:
            raise ValueError(
                f"unknown preconditioner {self.preconditioner!r}; available: "
                f"{list(PRECONDITIONERS)}"
            )
        object.__setattr__(self, "grid", tuple(int(s) for s in self.grid))  # JSON gives lists
        if self.preconditioner in COMPLEX_PRECONDITIONERS and not self.complex_arithmetic:
            raise ValueError(
                f"{self.name} runs in real arithmetic; the {self.preconditioner} preconditioner "
                "is complex and needs a solver that iterates in complex arithmetic (skr, gcrodr, "
                "gmres, gcrotmk)"
            )
        check_preconditioner_options(self.preconditioner, self.grid, self.shift)

    @property
    def label(self) -> str:
        return f"{self.name}+{self.preconditioner}"

    def _prepare(self, matrix):
        try:
            return make_preconditioner(
                self.preconditioner,
                matrix,
                grid=self.grid,
                shift=self.shift,
                wavelength=self.wavelength,
            )
        except RuntimeError as error:  # SuperLU's ILU: "Factor is exactly singular"
            raise SolveError(
                f"{self.label}: the {self.preconditioner} preconditioner could not be built for "
                f"this matrix ({error}); use another preconditioner or solver (direct)"
            ) from error

    @property
    def _arithmetic(self) -> type:
        """The iteration's dtype: complex for a complex preconditioner, else float64."""
        return np.complex128 if self.preconditioner in COMPLEX_PRECONDITIONERS else np.float64

    def _solve(self, state, rhs, x, target):
        matrix, inverse, recycled = state.matrix, state.prepared, state.recycled
        iterations = matvecs = 0
        stalled = False
        for _ in range(3):
            r = rhs - matrix @ x
            matvecs += 1
            if np.linalg.norm(r) <= target or matvecs >= self.max_matvecs or stalled:
                break
            counted = _Counted(matrix)
            budget = self.max_matvecs - matvecs
            dx, steps, recycled, stalled = self._iterate(
                counted, inverse, r.astype(self._arithmetic), target, budget, recycled
            )
            x = x + dx.real  # a real system's solution: the imaginary part is rounding
            iterations += steps
            matvecs += counted.calls
        return x, iterations, matvecs, recycled, stalled

    def _iterate(
        self,
        matrix_apply: Callable,
        inverse: Callable,
        residual: np.ndarray,
        target: float,
        budget: int,
        recycled: RecycledSpace | None,
    ) -> tuple[np.ndarray, int, RecycledSpace | None, bool]:
        """Return `(dx, iterations, recycled, stagnated)` with `‖residual - A dx‖ ≤ target` if
        possible, applying `A` as `matrix_apply` and `M⁻¹` as `inverse`."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class GMRESSolver(_Preconditioned):
    """Restarted GMRES(`restart`) (`datagen.krylov.gmres`)."""

    restart: int = 40
    name: ClassVar[str] = "gmres"

    def _iterate(self, matrix_apply, inverse, residual, target, budget, recycled):
        outcome = gmres(
            lambda v: matrix_apply(inverse(v)),
            residual,
            target,
            restart=self.restart,
            max_matvecs=budget,
        )
        return inverse(outcome.correction), outcome.iterations, None, outcome.stagnated


@dataclasses.dataclass(frozen=True)
class GCRODRSolver(_Preconditioned):
    """GCRO-DR(`restart`, `recycle`) (`datagen.krylov.gcrodr`), each system on its own: the
    recycled space lives through the restarts of one solve and is then dropped."""

    restart: int = 40
    recycle: int = 20
    name: ClassVar[str] = "gcrodr"

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.recycle < self.restart:
            raise ValueError(
                f"need 0 < recycle < restart, got recycle={self.recycle}, restart={self.restart}"
            )

    def _iterate(self, matrix_apply, inverse, residual, target, budget, recycled):
        outcome = gcrodr(
            lambda v: matrix_apply(inverse(v)),
            residual,
            target,
            restart=self.restart,
            recycle=self.recycle,
            recycled=recycled,
            max_matvecs=budget,
        )
        kept = self._kept(outcome.recycled)
        return inverse(outcome.correction), outcome.iterations, kept, outcome.stagnated

    def _kept(self, recycled: RecycledSpace | None) -> RecycledSpace | None:
        """What a solve leaves in its state for the next right-hand side: nothing, here."""
        return None


@dataclasses.dataclass(frozen=True)
class SKRSolver(GCRODRSolver):
    """Sorting Krylov recycling: GCRO-DR carrying its recycled space from each system to the next
    (through the states), on systems the generator has sorted so that neighbours are similar.
    With the same matrix the space is reused as it is; with a new one (`init(matrix, previous)`)
    its `k` images are recomputed."""

    name: ClassVar[str] = "skr"
    sorts: ClassVar[bool] = True

    def _kept(self, recycled):
        return recycled

    def _carried(self, previous):
        if previous is None or previous.recycled is None:
            return None
        return previous.recycled.for_new_operator()


@dataclasses.dataclass(frozen=True)
class _ScipyKrylov(_Preconditioned):
    """A SciPy Krylov method on `A` with `M⁻¹` as a `LinearOperator`; subclasses give `_method`."""

    def _method(self, operator, residual, budget, **common):
        """Call the SciPy solver with `common` (target, preconditioner, iteration callback)."""
        raise NotImplementedError

    def _iterate(self, matrix_apply, inverse, residual, target, budget, recycled):
        shape = (residual.shape[0],) * 2
        operator = spla.LinearOperator(shape, matvec=matrix_apply, dtype=residual.dtype)
        preconditioner = spla.LinearOperator(shape, matvec=inverse, dtype=residual.dtype)
        steps = [0]
        dx, _ = self._method(
            operator,
            residual,
            budget,
            rtol=0.0,
            atol=target,
            M=preconditioner,
            callback=lambda _: steps.__setitem__(0, steps[0] + 1),
        )
        return dx, steps[0], None, False  # SciPy does not tell stagnation from the limit


@dataclasses.dataclass(frozen=True)
class GCROTMKSolver(_ScipyKrylov):
    """SciPy's `gcrotmk(m, k)` (flexible GCROT of Hicken and Zingg), each system on its own."""

    m: int = 40
    k: int = 20
    name: ClassVar[str] = "gcrotmk"

    def _method(self, operator, residual, budget, **common):
        maxiter = max(1, budget // self.m)  # gcrotmk counts outer cycles of about m matvecs
        return spla.gcrotmk(operator, residual, m=self.m, k=self.k, maxiter=maxiter, **common)


@dataclasses.dataclass(frozen=True)
class BiCGSTABSolver(_ScipyKrylov):
    """SciPy's `bicgstab`, each system on its own: two products per step and no basis, so a
    cheap preconditioner (Jacobi) makes it the lightest general Krylov method per product."""

    name: ClassVar[str] = "bicgstab"

    def _method(self, operator, residual, budget, **common):
        return spla.bicgstab(operator, residual, maxiter=max(1, budget // 2), **common)


@dataclasses.dataclass(frozen=True)
class AMGCGSolver(_ScipyKrylov):
    """Conjugate gradients preconditioned by one smoothed-aggregation AMG V-cycle (pyamg).
    For symmetric positive definite matrices only."""

    preconditioner: str = "amg"
    name: ClassVar[str] = "cg-amg"
    spd_only: ClassVar[bool] = True
    complex_arithmetic: ClassVar[bool] = False  # CG needs a Hermitian preconditioner

    @property
    def label(self) -> str:
        return self.name if self.preconditioner == "amg" else super().label

    def _method(self, operator, residual, budget, **common):
        return spla.cg(operator, residual, maxiter=budget, **common)


@dataclasses.dataclass(frozen=True)
class DCDMSolver(LinearSolver):
    """The deep conjugate direction method (`datagen.krylov.dcdm`) with a trained network
    (`network`: its file, from `datagen.dcdm_network.save_network`) giving the directions.
    For symmetric positive definite matrices whose unknowns lie on a square (or, for a 3-D
    network, cubic) grid, numbered row by row (the families of `datagen`). Loads JAX when it
    prepares."""

    network: str = ""
    name: ClassVar[str] = "dcdm"
    spd_only: ClassVar[bool] = True
    learned: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        if not self.network:
            raise ValueError(
                "dcdm needs network=PATH, a direction network trained for the problem "
                "(datagen.dcdm_network.train_direction_network, then save_network)"
            )

    def _prepare(self, matrix):
        from datagen.dcdm_network import load_network_once, network_direction

        network = load_network_once(self.network)
        n, dimensions = matrix.shape[0], network.dimensions
        side = round(n ** (1 / dimensions))
        if side**dimensions != n:
            raise ValueError(
                f"this dcdm network takes {dimensions}-D grids of equal sides; {n} unknowns "
                f"are no such grid"
            )
        return network_direction(network, (side,) * dimensions)

    def _solve(self, state, rhs, x, target):
        counted = _Counted(state.matrix)
        residual = rhs - counted(x)
        outcome = dcdm(
            counted, residual, state.prepared, target, max_iterations=self.max_matvecs // 2
        )
        return x + outcome.correction, outcome.iterations, counted.calls, None, False


@dataclasses.dataclass(frozen=True)
class _Batched(LinearSolver):
    """Many systems of one size at once, by one compiled JAX iteration over the batch
    (`datagen.krylov.batched`, float64); subclasses give `_method`. The generator hands it the
    systems of a shard in groups of at most `batch_size` (`solve_batch`); a single `solve` is a
    batch of one. Each group is compiled once per shape (the first group costs the compilation).

    **Fields:** `batch_size` (systems per compiled call; on one CPU core 4 was as fast as 8 or
    faster, and 32 slower, at every size measured, as a small batch stays in cache; an
    accelerator wants many more), `preconditioner` (`jacobi` or `none`).

    A system that stops above the tolerance with products left (a breakdown, or three passes
    that did not reach it) is reported as stagnated.
    """

    batch_size: int = 4
    preconditioner: str = "jacobi"
    batched: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.preconditioner not in ("jacobi", "none"):
            raise ValueError(
                f"{self.name} takes the preconditioner 'jacobi' or 'none', got "
                f"{self.preconditioner!r}"
            )

    @property
    def label(self) -> str:
        return f"{self.name}+{self.preconditioner}"

    def _method(self, batch, rhs, target, budget) -> tuple[np.ndarray, np.ndarray]:
        """`(corrections (systems, n), matvecs (systems,))` from a `datagen.krylov.batched`
        solver, with per-system `target` and `budget`."""
        raise NotImplementedError

    def _iterate(self, matrices, rhs, x) -> tuple[np.ndarray, np.ndarray]:
        """Bring `x` `(systems, n)` to the tolerance for `rhs` `(systems, n)`: run the batched
        method, recompute every true residual `b - A x` (the tracked one drifts from it) and
        rerun, in the same batch shape, the systems still above their target, at most three
        times. Returns `(x, matvecs)`; a system already done sits out a rerun (target `inf`)."""
        from datagen.krylov.batched import SparseBatch

        packed = SparseBatch.of(matrices, jacobi=self.preconditioner == "jacobi")
        norms = np.linalg.norm(rhs, axis=1)
        target = self.tolerance * np.where(norms > 0, norms, 1.0)
        spent = np.zeros(len(rhs), np.int64)
        residual = rhs - np.stack([m @ v for m, v in zip(matrices, x)]) if np.any(x) else rhs
        spent += bool(np.any(x))
        ran = np.zeros(len(rhs), bool)
        for _ in range(3):
            if ran.any():  # the true residual after a pass (the caller checks the last one)
                residual = rhs - np.stack([m @ v for m, v in zip(matrices, x)])
                spent += ran
            ran = (np.linalg.norm(residual, axis=1) > target) & (spent < self.max_matvecs)
            if not ran.any():
                break
            dx, matvecs = self._method(
                packed, residual, np.where(ran, target, np.inf), self.max_matvecs - spent
            )
            x, spent = x + dx, spent + matvecs
        return x, spent

    def solve_batch(
        self, matrices: Sequence[Matrix], rhs: Sequence[np.ndarray]
    ) -> list[SolveResult | SolveError]:
        """Solve `matrices[i] @ x = rhs[i]` for all `i` (one size `n`) in one compiled call.
        Returns, in order, each system's `SolveResult`, or the `SolveError` saying why it missed
        the tolerance; the batch's time is shared equally among its systems."""
        start = time.perf_counter()
        rhs = np.stack([np.asarray(b, np.float64) for b in rhs])
        solutions, matvecs = self._iterate(matrices, rhs, np.zeros_like(rhs))
        share = (time.perf_counter() - start) / len(rhs)
        outcomes = []
        for matrix, b, x, spent in zip(matrices, rhs, solutions, matvecs):
            stalled = bool(spent < self.max_matvecs)
            try:
                state = SolverState(matrix)
                outcomes.append(
                    self._checked(state, b, x, int(spent), int(spent), share, stalled=stalled)
                )
            except SolveError as error:
                outcomes.append(error)
        return outcomes

    def _prepare(self, matrix):
        return None

    def _solve(self, state, rhs, x, target):
        solutions, matvecs = self._iterate([state.matrix], rhs[None], x[None])
        spent = int(matvecs[0])
        return solutions[0], spent, spent, None, spent < self.max_matvecs


@dataclasses.dataclass(frozen=True)
class BatchedCGSolver(_Batched):
    """Jacobi-preconditioned CG over a batch of systems (`batched_cg`). SPD only."""

    name: ClassVar[str] = "batched-cg"
    spd_only: ClassVar[bool] = True

    def _method(self, batch, rhs, target, budget):
        from datagen.krylov.batched import batched_cg

        return batched_cg(batch, rhs, target, max_matvecs=budget)


@dataclasses.dataclass(frozen=True)
class BatchedBiCGSTABSolver(_Batched):
    """Jacobi-preconditioned BiCGSTAB over a batch of systems (`batched_bicgstab`)."""

    name: ClassVar[str] = "batched-bicgstab"

    def _method(self, batch, rhs, target, budget):
        from datagen.krylov.batched import batched_bicgstab

        return batched_bicgstab(batch, rhs, target, max_matvecs=budget)


SOLVERS: dict[str, type[LinearSolver]] = {
    cls.name: cls
    for cls in (
        DirectSolver, AMGCGSolver, GMRESSolver, GCROTMKSolver, BiCGSTABSolver, GCRODRSolver,
        SKRSolver, DCDMSolver, BatchedCGSolver, BatchedBiCGSTABSolver,
    )
}  # fmt: skip
