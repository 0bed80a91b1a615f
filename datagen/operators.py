"""The DeepONet paper's operators on input functions of one variable, as grid datasets.

Input functions `u` come from a Gaussian random field on `[0, 1]` with the RBF kernel
`exp(-(x - x')² / (2 l²))`, `l = 0.2`, drawn at `fine` points and defined everywhere by their
cubic-spline interpolant (as the paper's `spaces.py`).

- **antiderivative**: `s(x) = ∫₀ˣ u`, integrated exactly (the spline's antiderivative), so the
  data carry no discretization error. Inputs `(1, sensors)` = `u` at equispaced sensors,
  outputs `(1, sensors)` = `s` there, grid `x`.
- **diffusion-reaction**: `∂s/∂t = D ∂²s/∂x² + k s² + u(x)` on `(x, t) ∈ [0, 1]²`, zero initial
  and boundary values, `D = k = 0.01`; see `solve_diffusion_reaction`. Outputs `(1, nx, nt)` =
  `s` on the `(x, t)` grid; inputs `(1, nx, nt)` = `u(x)`, constant along `t`, so that grid
  models read it as a field and point models take `sensors=np.s_[:, 0]`.

Both write shards of `shard_size` samples, atomically, and skip the shards already written, so
an interrupted run resumes where it stopped.
"""

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.linalg import solve_banded

from datagen.format import Provenance, shard_name, write_shard


def rbf_field_sampler(points: int, length_scale: float):
    """`(x, draw)`: the fine grid and a function drawing the field at it from an `rng`.

    Uses the symmetric square root of the kernel matrix (eigenvalues below zero from rounding
    are clipped), which stays exact where a Cholesky factor of this nearly singular kernel fails.
    """
    if points < 4 or not length_scale > 0:
        raise ValueError("need at least 4 points and a positive length scale")
    x = np.linspace(0.0, 1.0, points)
    kernel = np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / length_scale**2)
    values, vectors = np.linalg.eigh(kernel)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return x, lambda rng: root @ rng.standard_normal(points)


def antiderivative(u_fine: np.ndarray, x_fine: np.ndarray, at: np.ndarray) -> np.ndarray:
    """`∫₀ˣ u` at the points `at` (from `x_fine[0] = 0`), `u` the cubic spline through
    `(x_fine, u_fine)`: exact for that spline."""
    return CubicSpline(x_fine, u_fine).antiderivative()(at)


def solve_diffusion_reaction(
    source: Callable[[np.ndarray, float], np.ndarray],
    nx: int,
    nt: int,
    *,
    diffusion: float = 0.01,
    reaction: float = 0.01,
    newton_tolerance: float = 1e-13,
) -> np.ndarray:
    """`s` on the `nx` x `nt` grid of `[0, 1]²` for `s_t = D s_xx + k s² + f(x, t)`, `s = 0` at
    `t = 0` and at `x = 0, 1`: `(nx, nt)`, rows `x`, columns `t`.

    Second order in space and time: central differences, and the trapezoidal rule (Crank-Nicolson)
    on the whole right-hand side, reaction included, each step solved by Newton's method on the
    tridiagonal system to `newton_tolerance`. `source(x, t)` gives `f` at the interior points.
    """
    if nx < 3 or nt < 2:
        raise ValueError(f"need nx >= 3 and nt >= 2, got {nx} and {nt}")
    x, t = np.linspace(0.0, 1.0, nx), np.linspace(0.0, 1.0, nt)
    h, dt = x[1] - x[0], t[1] - t[0]
    inner = x[1:-1]
    stencil = diffusion / h**2

    def rate(s, time):  # D s_xx + k s² + f with s = 0 on the boundary
        padded = np.concatenate([[0.0], s, [0.0]])
        return stencil * (padded[:-2] - 2 * s + padded[2:]) + reaction * s**2 + source(inner, time)

    solution = np.zeros((nx, nt))
    s = np.zeros(nx - 2)
    for n in range(1, nt):
        known = s + 0.5 * dt * rate(s, t[n - 1])
        new = s.copy()
        for _ in range(50):
            residual = new - 0.5 * dt * rate(new, t[n]) - known
            jacobian = np.zeros((3, nx - 2))
            jacobian[0, 1:] = jacobian[2, :-1] = -0.5 * dt * stencil
            jacobian[1] = 1 + dt * stencil - dt * reaction * new
            step = solve_banded((1, 1), jacobian, residual)
            new -= step
            if np.abs(step).max() <= newton_tolerance * max(1.0, np.abs(new).max()):
                break
        else:
            raise RuntimeError(f"Newton's method did not converge at step {n}")
        s = new
        solution[1:-1, n] = s
    return solution


def _write_in_shards(
    out: str | os.PathLike,
    n: int,
    shard_size: int,
    sample: Callable[[int], tuple[np.ndarray, np.ndarray]],
    grid: tuple[np.ndarray, ...],
    provenance: Provenance,
) -> list[Path]:
    """Write samples `0..n-1` (`sample(i) -> (input, output)`) in shards of `shard_size`,
    skipping shards already on disk (so a rerun resumes an interrupted one)."""
    if n < 1 or shard_size < 1:
        raise ValueError(f"n and shard_size must be positive, got {n} and {shard_size}")
    out = Path(out)
    starts = range(0, n, shard_size)
    paths = []
    for index, start in enumerate(starts):
        path = out / shard_name(index)
        paths.append(path)
        if path.exists():
            continue
        pairs = [sample(i) for i in range(start, min(start + shard_size, n))]
        write_shard(
            path,
            np.stack([a for a, _ in pairs]),
            np.stack([b for _, b in pairs]),
            grid,
            provenance,
            shard_index=index,
            num_shards=len(starts),
            sample_offset=start,
            num_samples_total=n,
        )
    return paths


def generate_antiderivative(
    n: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    sensors: int = 100,
    length_scale: float = 0.2,
    fine: int = 1000,
    shard_size: int = 1000,
) -> list[Path]:
    """Write `n` antiderivative samples (sample `i` drawn from the stream `[seed, i]`)."""
    if sensors < 2:
        raise ValueError(f"need at least 2 sensors, got {sensors}")
    x_fine, draw = rbf_field_sampler(fine, length_scale)
    x = np.linspace(0.0, 1.0, sensors)

    def sample(i):
        u = draw(np.random.default_rng([seed, i]))
        return CubicSpline(x_fine, u)(x)[None], antiderivative(u, x_fine, x)[None]

    parameters = {"sensors": sensors, "length_scale": length_scale, "fine": fine}
    provenance = Provenance("antiderivative", parameters, "exact", 0.0, seed)
    return _write_in_shards(out, n, shard_size, sample, (x,), provenance)


def generate_diffusion_reaction(
    n: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    nx: int = 100,
    nt: int = 100,
    refine: int = 4,
    diffusion: float = 0.01,
    reaction: float = 0.01,
    length_scale: float = 0.2,
    fine: int = 1000,
    shard_size: int = 1000,
) -> list[Path]:
    """Write `n` diffusion-reaction samples (source `u` of sample `i` from the stream `[seed, i]`).

    Each is solved on a grid `refine` times finer in `x` and `t` and sampled at the `nx` x `nt`
    output grid. The provenance's `tolerance` is the largest discretization error over the
    first sample, estimated by Richardson extrapolation against a solve at half that refinement
    (the scheme is second order, so the error is `(s_r - s_{r/2}) / 3`).
    """
    if refine < 2 or refine % 2:
        raise ValueError(f"refine must be an even number >= 2, got {refine}")
    x_fine, draw = rbf_field_sampler(fine, length_scale)

    def solve(u: CubicSpline, r: int) -> np.ndarray:
        fine_grid = solve_diffusion_reaction(
            lambda x, t: u(x),
            (nx - 1) * r + 1,
            (nt - 1) * r + 1,
            diffusion=diffusion,
            reaction=reaction,
        )
        return fine_grid[::r, ::r]

    def source(i: int) -> CubicSpline:
        return CubicSpline(x_fine, draw(np.random.default_rng([seed, i])))

    x, t = np.linspace(0.0, 1.0, nx), np.linspace(0.0, 1.0, nt)
    first = source(0)
    error = float(np.abs(solve(first, refine) - solve(first, refine // 2)).max() / 3)

    def sample(i):
        u = source(i)
        return np.broadcast_to(u(x)[:, None], (nx, nt))[None], solve(u, refine)[None]

    parameters = {
        "nx": nx,
        "nt": nt,
        "refine": refine,
        "diffusion": diffusion,
        "reaction": reaction,
        "length_scale": length_scale,
        "fine": fine,
    }
    provenance = Provenance("diffusion_reaction", parameters, "crank-nicolson", error, seed)
    return _write_in_shards(out, n, shard_size, sample, (x, t), provenance)
