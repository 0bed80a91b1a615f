"""Finite-volume and finite-difference operators on the uniform vertex grid of the unit cube.

The grid has `n` nodes per axis including both boundaries (`h = 1/(n-1)`); the unknowns are the
`(n-2)^d` interior nodes in C order, with zero Dirichlet values on the boundary. Every operator is
returned as a CSR matrix on the unknowns, scaled to approximate the differential operator itself.
"""

import numpy as np
import scipy.sparse as sp


def check_grid_field(field: np.ndarray, name: str) -> tuple[int, int]:
    """`(d, n)` of a field sampled on the `(n,) * d` grid; raises a clear error otherwise."""
    d, n = field.ndim, field.shape[0]
    if d not in (1, 2, 3) or field.shape != (n,) * d or n < 3:
        raise ValueError(f"{name} must be sampled on a (n,)*d grid with n >= 3, got {field.shape}")
    return d, n


def unknown_index(n: int, d: int) -> np.ndarray:
    """The unknown number of each node, `(n,) * d`, with -1 on the boundary."""
    index = -np.ones((n,) * d, np.int64)
    index[(slice(1, -1),) * d] = np.arange((n - 2) ** d).reshape((n - 2,) * d)
    return index


def interior(field: np.ndarray) -> np.ndarray:
    """The interior values of a `(n,) * d` field as a vector of the unknowns."""
    return np.ascontiguousarray(field[(slice(1, -1),) * field.ndim].ravel(), np.float64)


def embed_interior(solution: np.ndarray, n: int, d: int) -> np.ndarray:
    """The `(n,) * d` nodal field from interior values, with the zero Dirichlet boundary."""
    u = np.zeros((n,) * d)
    u[(slice(1, -1),) * d] = solution.reshape((n - 2,) * d)
    return u


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


def _neighbours(index: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Unknown numbers of the low and high node of every grid edge along `axis` (-1 = boundary)."""
    n = index.shape[axis]
    return np.take(index, np.arange(n - 1), axis=axis), np.take(index, np.arange(1, n), axis=axis)


def diffusion_matrix(a: np.ndarray, averaging: str = "arithmetic") -> sp.csr_matrix:
    """`-∇·(a ∇u)` by vertex-centred finite volumes: the 5-point (2D) or 7-point (3D) stencil.

    Each node's control volume exchanges a flux `a_face (u_p - u_q) / h` with each of its `2d`
    neighbours, `a_face` the average of `a` at the two nodes; divided by the cell volume. Symmetric
    positive definite for positive `a`, second-order accurate for smooth `a`.
    """
    a = np.asarray(a, np.float64)
    d, n = check_grid_field(a, "the diffusion coefficient a")
    if not np.all(a > 0):
        raise ValueError("the diffusion coefficient a must be positive everywhere")
    h = 1.0 / (n - 1)
    index = unknown_index(n, d)
    size = (n - 2) ** d
    diagonal = np.zeros(size)
    rows, cols, values = [np.arange(size)], [np.arange(size)], [diagonal]
    for axis in range(d):
        face = face_coefficients(a, axis, averaging) / h**2
        low, high = _neighbours(index, axis)
        for p in (low, high):
            np.add.at(diagonal, p[p >= 0], face[p >= 0])
        both = (low >= 0) & (high >= 0)
        rows += [low[both], high[both]]
        cols += [high[both], low[both]]
        values += [-face[both], -face[both]]
    return _csr(rows, cols, values, size)


def convection_matrix(velocity: np.ndarray, scheme: str = "central") -> sp.csr_matrix:
    """`v·∇u` with `velocity` `(d, n, ..., n)` sampled at the nodes.

    `central` differences are second-order accurate (stable for cell Péclet numbers below 1);
    `upwind` differences are first-order and monotone for any Péclet number.
    """
    velocity = np.asarray(velocity, np.float64)
    d = velocity.shape[0]
    _, n = check_grid_field(velocity[0], "each velocity component")
    if velocity.ndim != d + 1:
        raise ValueError(
            f"velocity must be (d, n, ..., n) with d = {d} components, got {velocity.shape}"
        )
    if scheme not in ("central", "upwind"):
        raise ValueError(f"scheme must be 'central' or 'upwind', got {scheme!r}")
    h = 1.0 / (n - 1)
    index = unknown_index(n, d)
    size = (n - 2) ** d
    rows, cols, values = [], [], []
    for axis in range(d):
        v = velocity[axis]
        low, high = _neighbours(index, axis)
        v_low = np.take(v, np.arange(n - 1), axis=axis)  # velocity at the low node of each edge
        v_high = np.take(v, np.arange(1, n), axis=axis)
        if scheme == "central":
            # row `low` gets +v/(2h) on `high`; row `high` gets -v/(2h) on `low`.
            couplings = [(low, high, v_low / (2 * h)), (high, low, -v_high / (2 * h))]
        else:
            # v > 0 uses (u_p - u_{p-1})/h, v < 0 uses (u_{p+1} - u_p)/h.
            forward, backward = np.minimum(v_low, 0) / h, np.maximum(v_high, 0) / h
            couplings = [
                (low, high, forward),
                (low, low, -forward),
                (high, low, -backward),
                (high, high, backward),
            ]
        for row, col, value in couplings:
            keep = row >= 0
            keep &= col >= 0  # a boundary neighbour carries u = 0
            rows.append(row[keep])
            cols.append(col[keep])
            values.append(value[keep])
    return _csr(rows, cols, values, size)


def _csr(rows, cols, values, size) -> sp.csr_matrix:
    matrix = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size)
    )
    matrix.sum_duplicates()
    return matrix
