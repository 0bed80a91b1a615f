"""What a family of discretized PDEs provides to the generator."""

import dataclasses
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp


@dataclasses.dataclass(frozen=True)
class LinearSystem:
    """`matrix @ x = rhs`, float64, with `matrix` a square sparse matrix."""

    matrix: sp.csr_matrix
    rhs: np.ndarray


@runtime_checkable
class LinearProblem(Protocol):
    """A family `A(θ) x = b(θ)` of discretized PDEs on a uniform grid of the unit cube.

    The generator draws `θ = sample(rng)`, solves `assemble(θ)`, and stores `to_sample(θ, x)`.
    """

    name: str

    def parameters(self) -> dict[str, Any]:
        """The settings that define the family (stored as the dataset's provenance)."""

    def grid(self) -> tuple[np.ndarray, ...]:
        """The 1-D coordinates of each spatial axis of the stored samples."""

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw the parameters θ of one member of the family."""

    def assemble(self, theta: Any) -> LinearSystem:
        """The discretized PDE for θ."""

    def to_sample(self, theta: Any, solution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored pair: input `(c_in, *spatial)` and output `(c_out, *spatial)` arrays."""
