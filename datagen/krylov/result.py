"""What a Krylov iteration returns, and the recycled space a recycling one carries."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class RecycledSpace:
    """The recycled space: `basis` `U` `(k, n)` (rows) and `image` `C = A U` `(k, n)` with
    orthonormal rows, or `None` when `A` has changed since `U` was found (then `gcrodr`
    recomputes it with `k` matrix-vector products)."""

    basis: np.ndarray
    image: np.ndarray | None = None

    def for_new_operator(self) -> "RecycledSpace":
        """The same `U` for another operator: `C` must be recomputed."""
        return RecycledSpace(self.basis)


@dataclasses.dataclass(frozen=True)
class KrylovOutcome:
    """The correction `y` (`(n,)`), the residual `r - A y` it leaves (tracked by the iteration,
    not recomputed), the Krylov iterations (Arnoldi steps), the operator applications made (the
    iterations plus any spent on refreshing a recycled space), the restart cycles run, and the
    recycled space a recycling method leaves for the next system (`None` for the others)."""

    correction: np.ndarray
    residual: np.ndarray
    iterations: int
    matvecs: int
    cycles: int
    recycled: RecycledSpace | None = None

    @property
    def residual_norm(self) -> float:
        return float(np.linalg.norm(self.residual))
