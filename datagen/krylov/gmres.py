"""Restarted GMRES(m), the baseline of the solver race (GCRO-DR with no recycled space)."""

from collections.abc import Callable

import numpy as np

from datagen.krylov.arnoldi import arnoldi_cycle
from datagen.krylov.result import KrylovOutcome


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
    residual `r` (`(n,)`). The residual is tracked through each cycle's least-squares problem and
    recomputed from its definition at every restart.
    """
    if restart < 1:
        raise ValueError(f"restart must be at least 1, got {restart}")
    r = np.array(residual, np.float64)
    y = np.zeros_like(r)
    matvecs = cycles = 0
    while np.linalg.norm(r) > target and matvecs < max_matvecs:
        cycle = arnoldi_cycle(apply, r, min(restart, max_matvecs - matvecs), target)
        matvecs += cycle.steps
        cycles += 1
        z = cycle.coefficients
        y += cycle.basis[:-1].T @ z
        r -= cycle.basis.T @ (cycle.hessenberg @ z)
    return KrylovOutcome(y, r, iterations=matvecs, matvecs=matvecs, cycles=cycles)
