"""Restarted GMRES(m), the baseline of the solver race (GCRO-DR with no recycled space)."""

from collections.abc import Callable

import numpy as np

from datagen.krylov.arnoldi import arnoldi_cycle
from datagen.krylov.result import KrylovOutcome, stagnated


def gmres(
    apply: Callable[[np.ndarray], np.ndarray],
    residual: np.ndarray,
    target: float,
    *,
    restart: int = 40,
    max_matvecs: int = 10_000,
) -> KrylovOutcome:
    """Find `y` with `‖r - A y‖ ≤ target` by GMRES restarted every `restart` steps.

    `apply` is `v ↦ A v` (for right preconditioning, `v ↦ A M⁻¹ v`); `residual` is the initial
    residual `r` (`(n,)`, real or complex: a complex operator needs a complex `r`). The residual
    is tracked through each cycle's least-squares problem and
    recomputed from its definition at every restart. It stops early, marked `stagnated`, when
    restarts stop reducing the residual (`datagen.krylov.result.stagnated`).
    """
    if restart < 1:
        raise ValueError(f"restart must be at least 1, got {restart}")
    r = np.array(residual, np.result_type(residual, np.float64))
    y = np.zeros_like(r)
    matvecs = cycles = 0
    norms = [np.linalg.norm(r)]
    while norms[-1] > target and matvecs < max_matvecs and not stagnated(norms):
        cycle = arnoldi_cycle(apply, r, min(restart, max_matvecs - matvecs), target)
        matvecs += cycle.steps
        cycles += 1
        z = cycle.coefficients
        y += cycle.basis[:-1].T @ z
        r -= cycle.basis.T @ (cycle.hessenberg @ z)
        norms.append(np.linalg.norm(r))
    return KrylovOutcome(y, r, matvecs, matvecs, cycles, stagnated=stagnated(norms))
