"""Darcy flow `-∇·(a ∇u) = f` on the unit square or cube, `u = 0` on the boundary.

The FNO protocol: `a` is a Gaussian random field with covariance `(-Δ + 9 I)^(-2)` thresholded to
two values (12 where the field is non-negative, 3 elsewhere), `f = 1`, solved on a uniform grid.
The smooth variant takes `a = exp(field)`.
"""

import dataclasses

import numpy as np
import scipy.sparse as sp

from datagen.fields import gaussian_random_field, threshold
from datagen.problems.base import LinearSystem


def face_coefficients(a: np.ndarray, axis: int, averaging: str) -> np.ndarray:
    """The coefficient on the faces between neighbouring nodes along `axis` (one fewer along it)."""
    n = a.shape[axis]
    left = np.take(a, np.arange(n - 1), axis=axis)
    right = np.take(a, np.arange(1, n), axis=axis)
    if averaging == "arithmetic":
        return 0.5 * (left + right)
    if averaging == "harmonic":
        return 2.0 * left * right / (left + right)
    raise ValueError(f"averaging must be 'arithmetic' or 'harmonic', got {averaging!r}")


def assemble_diffusion(
    a: np.ndarray,
    forcing: np.ndarray | float,
    averaging: str = "arithmetic",
) -> LinearSystem:
    """Vertex-centred finite volumes for `-∇·(a ∇u) = f`, `u = 0` on the boundary of the unit cube.

    The grid has `n` nodes per axis including both boundaries (spacing `h = 1/(n-1)`); the
    unknowns are the `(n-2)^d` interior nodes in C order. Each node's control volume exchanges a
    flux `a_face (u_p - u_q) / h` with each of its `2d` neighbours, with `a_face` the average of `a`
    at the two nodes: the 5-point (2D) or 7-point (3D) stencil, second-order accurate for smooth
    `a`. The equations are divided by the cell volume, so the matrix approximates the operator
    itself and the right-hand side is `f` at the interior nodes.

    **Arguments:** `a` (`(n,) * d`, positive), `forcing` (a number or a `(n,) * d` array), and the
    face `averaging` of `a`.
    """
    a = np.asarray(a, np.float64)
    d, n = a.ndim, a.shape[0]
    if a.shape != (n,) * d or n < 3:
        raise ValueError(f"a must be sampled on a (n,)*d grid with n >= 3, got shape {a.shape}")
    if not np.all(a > 0):
        raise ValueError("the diffusion coefficient a must be positive everywhere")
    h = 1.0 / (n - 1)
    index = -np.ones(a.shape, np.int64)  # unknown number of each node; -1 on the boundary
    interior = (slice(1, -1),) * d
    num_unknowns = (n - 2) ** d
    index[interior] = np.arange(num_unknowns).reshape((n - 2,) * d)
    diagonal = np.zeros(num_unknowns)
    rows, cols, values = [], [], []
    for axis in range(d):
        face = face_coefficients(a, axis, averaging) / h**2
        lower = np.take(index, np.arange(n - 1), axis=axis)  # node on the low side of each face
        upper = np.take(index, np.arange(1, n), axis=axis)
        for p in (lower, upper):
            inside = p >= 0
            np.add.at(diagonal, p[inside], face[inside])
        both = (lower >= 0) & (upper >= 0)
        rows += [lower[both], upper[both]]
        cols += [upper[both], lower[both]]
        values += [-face[both], -face[both]]
    rows.append(np.arange(num_unknowns))
    cols.append(np.arange(num_unknowns))
    values.append(diagonal)
    matrix = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(num_unknowns, num_unknowns),
    )
    rhs = np.broadcast_to(np.asarray(forcing, np.float64), a.shape)[interior].ravel()
    return LinearSystem(matrix, np.ascontiguousarray(rhs))


def embed_interior(solution: np.ndarray, n: int, d: int) -> np.ndarray:
    """The `(n,) * d` nodal field from interior values, with the zero Dirichlet boundary."""
    u = np.zeros((n,) * d)
    u[(slice(1, -1),) * d] = solution.reshape((n - 2,) * d)
    return u


@dataclasses.dataclass(frozen=True)
class Darcy:
    """The Darcy family: random coefficient `a`, `-∇·(a ∇u) = forcing`, zero Dirichlet boundary.

    **Fields:**

    - `resolution`: grid points per axis, both boundaries included (`linspace(0, 1, resolution)`).
      Choose `resolution = k·r + 1` to be able to sub-sample by a stride `r` keeping the boundary,
      as the FNO papers do from 421 to 85 points.
    - `dim`: 2 or 3.
    - `coefficient`: `"piecewise"` (the FNO protocol, thresholded field with `values`) or
      `"lognormal"` (`a = exp(field)`).
    - `values`: (high, low) of the piecewise coefficient.
    - `alpha`, `tau`: the random field's covariance `(-Δ + τ²)^(-α)`.
    - `forcing`: the constant right-hand side `f`.
    - `averaging`: how `a` is averaged onto cell faces (`"arithmetic"` or `"harmonic"`).
    """

    resolution: int = 64
    dim: int = 2
    coefficient: str = "piecewise"
    values: tuple[float, float] = (12.0, 3.0)
    alpha: float = 2.0
    tau: float = 3.0
    forcing: float = 1.0
    averaging: str = "arithmetic"
    name: str = dataclasses.field(default="darcy", init=False)

    def __post_init__(self):
        if self.dim not in (2, 3):
            raise ValueError(f"Darcy supports dim 2 or 3, got {self.dim}")
        if self.resolution < 3:
            raise ValueError(f"resolution must be at least 3, got {self.resolution}")
        if self.coefficient not in ("piecewise", "lognormal"):
            raise ValueError(
                f"coefficient must be 'piecewise' or 'lognormal', got {self.coefficient!r}"
            )
        if self.averaging not in ("arithmetic", "harmonic"):
            raise ValueError(
                f"averaging must be 'arithmetic' or 'harmonic', got {self.averaging!r}"
            )
        if self.coefficient == "piecewise" and min(self.values) <= 0:
            raise ValueError(f"the coefficient values must be positive, got {self.values}")
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))

    def parameters(self) -> dict:
        fields = dataclasses.asdict(self)
        fields.pop("name")
        fields["values"] = list(self.values)
        return fields

    def grid(self) -> tuple[np.ndarray, ...]:
        return (np.linspace(0.0, 1.0, self.resolution),) * self.dim

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """The coefficient `a` on the grid, `(resolution,) * dim`."""
        field = gaussian_random_field(
            rng, self.resolution, self.dim, alpha=self.alpha, tau=self.tau
        )
        if self.coefficient == "piecewise":
            return threshold(field, *self.values)
        return np.exp(field)

    def assemble(self, theta: np.ndarray) -> LinearSystem:
        return assemble_diffusion(theta, self.forcing, self.averaging)

    def to_sample(self, theta: np.ndarray, solution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = embed_interior(solution, self.resolution, self.dim)
        return theta[None], u[None]
