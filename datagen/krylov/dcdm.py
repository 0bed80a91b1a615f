"""The deep conjugate direction method (DCDM; Kaneda, Akar, Chen, Kala, Hyde, Teran, ICML 2023)
for symmetric positive definite systems, as its authors' `dcdm()` runs it.

Each iteration asks a `direction` map (in the paper a network trained to approximate `A⁻¹` up to
a constant) for a search direction from the normalized residual, makes it A-orthogonal to the
previous two directions, steps to the exact minimizer of the energy along it
(`α = qᵀr / qᵀAq`), and recomputes the true residual `r = b − A x` (one more matrix-vector
product, as the paper does, so rounding in a learned direction cannot mislead the stopping test).
With the exact inverse as `direction` it converges in one iteration; with a fixed SPD
preconditioner it is preconditioned CG with the residual recomputed.
"""

from collections.abc import Callable

import numpy as np

from datagen.krylov.result import KrylovOutcome


def dcdm(
    apply: Callable[[np.ndarray], np.ndarray],
    residual: np.ndarray,
    direction: Callable[[np.ndarray], np.ndarray],
    target: float,
    *,
    max_iterations: int = 100,
) -> KrylovOutcome:
    """Find `y` with `‖r − A y‖ ≤ target` by DCDM.

    `apply` is `v ↦ A v` (`A` SPD), `residual` the initial residual `r` (`(n,)`), `direction`
    `r̂ ↦ q` on the unit-norm residual (approximately `A⁻¹ r̂` up to a positive or negative
    constant). Each iteration costs two products with `A`; the outcome counts them.
    """
    rhs = np.array(residual, np.float64)
    y = np.zeros_like(rhs)
    r = rhs.copy()
    previous: list[tuple[np.ndarray, np.ndarray, float]] = []  # (p, A p, pᵀ A p), newest last
    matvecs = iterations = 0
    norm = float(np.linalg.norm(r))
    while norm > target and iterations < max_iterations:
        q = np.asarray(direction(r / norm), np.float64).copy()
        for p, ap, energy in previous:
            q -= (q @ ap) / energy * p
        aq = apply(q)
        energy = float(q @ aq)
        matvecs += 1
        if not energy > 0:  # a direction with no energy: the map gave nothing new
            break
        y += (q @ r) / energy * q
        r = rhs - apply(y)
        matvecs += 1
        iterations += 1
        previous = [*previous[-1:], (q, aq, energy)]
        norm = float(np.linalg.norm(r))
    return KrylovOutcome(y, r, iterations, matvecs, iterations)
