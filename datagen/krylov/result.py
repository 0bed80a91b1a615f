"""What a Krylov iteration returns."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class KrylovOutcome:
    """The correction `y` (`(n,)`), the residual `r - A y` it leaves (tracked by the iteration,
    not recomputed), the Krylov iterations (Arnoldi steps), the operator applications made (the
    iterations plus any spent on refreshing a recycled space), and the restart cycles run."""

    correction: np.ndarray
    residual: np.ndarray
    iterations: int
    matvecs: int
    cycles: int

    @property
    def residual_norm(self) -> float:
        return float(np.linalg.norm(self.residual))
