"""What a Krylov iteration returns, and the recycled space a recycling one carries."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class RecycledSpace:
    """The recycled space: `basis` `U` `(k, n)` (rows) and `image` `C = A U` `(k, n)` with
    orthonormal rows, or `None` when `A` has changed since `U` was found (then `gcrodr`
    recomputes it with `k` matrix-vector products); `overlap` `CᴴU` `(k, k)`, the inner
    products `⟨c_i, u_l⟩` when known (`gcrodr` carries it from cycle to cycle through small
    matrices instead of recomputing it from the long vectors)."""

    basis: np.ndarray
    image: np.ndarray | None = None
    overlap: np.ndarray | None = None

    def for_new_operator(self) -> "RecycledSpace":
        """The same `U` for another operator: `C` must be recomputed."""
        return RecycledSpace(self.basis)


@dataclasses.dataclass(frozen=True)
class KrylovOutcome:
    """The correction `y` (`(n,)`), the residual `r - A y` it leaves (tracked by the iteration,
    not recomputed), the Krylov iterations (Arnoldi steps), the operator applications made (the
    iterations plus any spent on refreshing a recycled space), the restart cycles run, and the
    recycled space a recycling method leaves for the next system (`None` for the others), and
    whether it stopped because it `stagnated` (see `stagnated`)."""

    correction: np.ndarray
    residual: np.ndarray
    iterations: int
    matvecs: int
    cycles: int
    recycled: RecycledSpace | None = None
    stagnated: bool = False

    @property
    def residual_norm(self) -> float:
        return float(np.linalg.norm(self.residual))


STALL_CYCLES = 3
STALL_REDUCTION = 0.99


def stagnated(norms: list[float]) -> bool:
    """Whether a restarted iteration has stagnated, given the residual norm before its first
    cycle and after each cycle: the last `STALL_CYCLES` cycles reduced it by less than 1% in
    all. Going on would spend the whole budget for nothing (at 1% per cycle of 40 steps,
    reaching 1e-8 takes some 70 000 matrix-vector products)."""
    return len(norms) > STALL_CYCLES and bool(
        norms[-1] > STALL_REDUCTION * norms[-1 - STALL_CYCLES]
    )
