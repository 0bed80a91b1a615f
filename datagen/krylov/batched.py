"""Many small sparse systems solved at once by one compiled Krylov iteration (JAX, float64).

The matrices of a batch are packed into a `SparseBatch`: by diagonals when they are banded (the
grid families' stencils), so that `A x` is a sum of shifted copies of `x`, else in ELLPACK form
(one gather and one row sum). The iteration runs on the whole batch at once until its last
system converges; a system that has converged is masked (its step lengths are zero, its count
stops) while the others go on. One compilation serves every batch of the same shape
`(systems, unknowns, width or diagonals)` and layout.

- `batched_cg`: conjugate gradients with a Jacobi preconditioner. Symmetric positive definite.
- `batched_bicgstab`: BiCGSTAB right-preconditioned by Jacobi; any nonsingular matrix. Its short
  recurrence suits a batch: restarted GMRES would multiply the whole padded basis at every step
  of every system.

Both stop a system when its tracked residual `‖b - A x‖` reaches `target` (absolute, one per
system) or after `max_matvecs` products, and return the solutions `(systems, n)` with the
products each system spent. The caller checks the true residual.
"""

import dataclasses
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp


MOST_DIAGONALS = 32  # more distinct diagonals than this: ELLPACK instead of the banded layout


@dataclasses.dataclass(frozen=True)
class SparseBatch:
    """A batch of `(n, n)` sparse matrices, float64, with the inverse diagonals
    `inverse_diagonal` `(systems, n)` for Jacobi (ones without a preconditioner), in one of two
    layouts:

    - banded (`offsets` set, `columns` None): `values` `(systems, len(offsets), n)` with
      `values[s, d, i] = A_s[i, i + offsets[d]]`, so `A x` is a sum of shifted copies of `x`
      and needs no gather. The stencil matrices of the grid families have 5 (2-D) or 7 (3-D)
      diagonals.
    - ELLPACK (`columns` set, `offsets` None): row `i` of system `s` holds its nonzeros in
      `values[s, i, :]` at the columns `columns[s, i, :]` (int32), zero-padded to the widest row.
    """

    values: np.ndarray
    columns: np.ndarray | None
    offsets: tuple[int, ...] | None
    inverse_diagonal: np.ndarray

    @classmethod
    def of(
        cls, matrices: Sequence[sp.spmatrix], jacobi: bool = True, layout: str = "auto"
    ) -> "SparseBatch":
        """Pack `matrices` (each `(n, n)`, one `n`). `layout`: `"banded"`, `"ell"`, or `"auto"`
        (banded when the batch has at most `MOST_DIAGONALS` distinct diagonals). With `jacobi`,
        every diagonal entry must be nonzero."""
        csrs = [sp.csr_matrix(m, dtype=np.float64) for m in matrices]
        sizes = {m.shape for m in csrs}
        if len(sizes) != 1 or any(a != b for a, b in sizes):
            raise ValueError(f"a batch needs square matrices of one size, got {sorted(sizes)}")
        if layout not in ("auto", "banded", "ell"):
            raise ValueError(f"layout must be 'auto', 'banded' or 'ell', got {layout!r}")
        n = csrs[0].shape[0]
        rows = [np.repeat(np.arange(n), np.diff(m.indptr)) for m in csrs]
        offsets = np.unique(np.concatenate([m.indices - r for m, r in zip(csrs, rows)]))
        diagonals = np.stack([m.diagonal() for m in csrs])
        if jacobi and not np.all(diagonals != 0):
            raise ValueError("Jacobi needs a nonzero diagonal; a matrix of the batch has a zero")
        inverse = 1.0 / diagonals if jacobi else np.ones_like(diagonals)
        if layout == "banded" or (layout == "auto" and len(offsets) <= MOST_DIAGONALS):
            values = np.zeros((len(csrs), len(offsets), n))
            for s, (m, r) in enumerate(zip(csrs, rows)):
                values[s, np.searchsorted(offsets, m.indices - r), r] = m.data
            return cls(values, None, tuple(int(o) for o in offsets), inverse)
        width = max(int(np.diff(m.indptr).max(initial=0)) for m in csrs)
        values = np.zeros((len(csrs), n, width))
        columns = np.zeros((len(csrs), n, width), np.int32)
        for s, (m, r) in enumerate(zip(csrs, rows)):
            slot = np.arange(m.nnz) - m.indptr[r]
            values[s, r, slot] = m.data
            columns[s, r, slot] = m.indices
        return cls(values, columns, None, inverse)

    @property
    def systems(self) -> int:
        return self.values.shape[0]

    @property
    def size(self) -> int:
        return self.inverse_diagonal.shape[1]


def _apply(values, columns, offsets, x):
    """`A x` for every system of a `SparseBatch`'s layout; `x` `(systems, n)`."""
    if offsets is None:
        return jnp.sum(values * jax.vmap(lambda x, c: x[c])(x, columns), axis=-1)
    n, reach = x.shape[1], max(abs(o) for o in offsets)
    padded = jnp.pad(x, ((0, 0), (reach, reach)))
    shifted = (padded[:, reach + o : reach + o + n] for o in offsets)
    return sum(values[:, d] * part for d, part in enumerate(shifted))


def _dot(a, b):
    """Row-wise inner products `(systems,)` of `(systems, n)` arrays."""
    return jnp.sum(a * b, axis=-1)


def _ratio(numerator, denominator, active):
    """`numerator / denominator` where `active`, else 0 (no division by a converged system's 0)."""
    return jnp.where(active, numerator / jnp.where(active, denominator, 1.0), 0.0)


@partial(jax.jit, static_argnames="offsets")
def _cg_batch(values, columns, offsets, inverse_diagonal, rhs, target, max_matvecs):
    def keep_going(state):
        return jnp.any(state[-1])

    def step(state):
        x, r, p, rz, k, active = state
        ap = _apply(values, columns, offsets, p)
        alpha = _ratio(rz, _dot(p, ap), active)[:, None]
        x, r = x + alpha * p, r - alpha * ap
        z = inverse_diagonal * r
        rz_next = _dot(r, z)
        beta = _ratio(rz_next, rz, active)[:, None]
        p = z + beta * p  # a finished system's p is never used again (its steps are zero)
        k = k + active
        still = active & (_dot(r, r) > target**2) & (k < max_matvecs) & (rz_next != 0)
        return x, r, p, jnp.where(active, rz_next, rz), k, still

    z = inverse_diagonal * rhs
    count = jnp.zeros(rhs.shape[0], jnp.int32)
    active = (_dot(rhs, rhs) > target**2) & (max_matvecs > 0)
    start = (jnp.zeros_like(rhs), rhs, z, _dot(rhs, z), count, active)
    x, *_, k, _ = jax.lax.while_loop(keep_going, step, start)
    return x, k


@partial(jax.jit, static_argnames="offsets")
def _bicgstab_batch(values, columns, offsets, inverse_diagonal, rhs, target, max_matvecs):
    shadow = rhs  # the fixed shadow residual r̂

    def keep_going(state):
        return jnp.any(state[-1])

    def step(state):
        x, r, p, v, rho, alpha, omega, k, active = state
        rho_next = _dot(shadow, r)
        beta = _ratio(rho_next * alpha, rho * omega, active)[:, None]
        p = r + beta * (p - omega[:, None] * v)
        p_hat = inverse_diagonal * p
        v = _apply(values, columns, offsets, p_hat)
        alpha = _ratio(rho_next, _dot(shadow, v), active)
        s = r - alpha[:, None] * v
        half_done = _dot(s, s) <= target**2  # converged after the first half-step
        s_hat = inverse_diagonal * s
        t = _apply(values, columns, offsets, s_hat)
        omega = _ratio(_dot(t, s), _dot(t, t), active & ~half_done)
        x = x + alpha[:, None] * p_hat + omega[:, None] * s_hat
        r = s - omega[:, None] * t  # a finished system's r stays (alpha = omega = 0)
        k = k + jnp.where(active, jnp.where(half_done, 1, 2), 0)
        breakdown = (rho_next == 0) | (alpha == 0) | (omega == 0)
        still = active & ~breakdown & (_dot(r, r) > target**2) & (k < max_matvecs - 1)
        return x, r, p, v, rho_next, alpha, omega, k, still

    systems = rhs.shape[0]
    ones, zeros = jnp.ones(systems), jnp.zeros_like(rhs)
    count = jnp.zeros(systems, jnp.int32)
    active = (_dot(rhs, rhs) > target**2) & (max_matvecs > 0)
    start = (zeros, rhs, zeros, zeros, ones, ones, ones, count, active)
    x, *_, k, _ = jax.lax.while_loop(keep_going, step, start)
    return x, k


def _run(compiled, batch: SparseBatch, rhs, target, max_matvecs) -> tuple[np.ndarray, np.ndarray]:
    rhs = np.asarray(rhs, np.float64)
    if rhs.shape != (batch.systems, batch.size):
        raise ValueError(
            f"right-hand sides {rhs.shape} do not match the batch {(batch.systems, batch.size)}"
        )
    systems = rhs.shape[:1]
    target = np.broadcast_to(np.asarray(target, np.float64), systems)
    budget = np.broadcast_to(np.asarray(max_matvecs, np.int32), systems)
    with jax.enable_x64(True):
        x, matvecs = compiled(
            batch.values, batch.columns, batch.offsets, batch.inverse_diagonal, rhs, target, budget
        )
        return np.asarray(x), np.asarray(matvecs)


def batched_cg(
    batch: SparseBatch,
    rhs: np.ndarray,
    target: np.ndarray | float,
    *,
    max_matvecs: np.ndarray | int = 10_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve every system of `batch` for its `rhs` row (`(systems, n)`) by Jacobi-preconditioned
    CG until `‖b - A x‖ ≤ target` or `max_matvecs` products (each a number or one per system;
    a system whose target is `inf` or budget 0 is left at zero). Returns
    `(x (systems, n), matvecs (systems,))`."""
    return _run(_cg_batch, batch, rhs, target, max_matvecs)


def batched_bicgstab(
    batch: SparseBatch,
    rhs: np.ndarray,
    target: np.ndarray | float,
    *,
    max_matvecs: np.ndarray | int = 10_000,
) -> tuple[np.ndarray, np.ndarray]:
    """As `batched_cg`, by BiCGSTAB right-preconditioned by Jacobi (two products per step, so
    a system may spend one product past its budget), for any nonsingular matrix. A system whose
    iteration breaks down (a zero inner product) stops there and is left above its target."""
    return _run(_bicgstab_batch, batch, rhs, target, max_matvecs)
