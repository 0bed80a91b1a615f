"""Data for operator learning on functions of one variable (the DeepONet paper's benchmarks).

`antiderivative`: input functions `u` from a Gaussian random field on `[0, 1]` with the RBF
kernel `exp(-(x - x')² / (2 l²))`, `l = 0.2`, drawn at `fine` points and defined everywhere by
their cubic-spline interpolant (as the paper's `spaces.py`); the output is `s(x) = ∫₀ˣ u`,
integrated exactly (the spline's antiderivative), so the data carry no discretization error.
Samples are written as 1-D grid datasets: inputs `(1, sensors)` = `u` at equispaced sensors,
outputs `(1, sensors)` = `s` at the same points, grid `x`.
"""

import os
from pathlib import Path

import numpy as np
from scipy.interpolate import CubicSpline

from datagen.format import Provenance, write_shard


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


def generate_antiderivative(
    n: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    sensors: int = 100,
    length_scale: float = 0.2,
    fine: int = 1000,
) -> Path:
    """Write `n` antiderivative samples (sample `i` from the stream `[seed, i]`) as one shard."""
    if n < 1 or sensors < 2:
        raise ValueError("n must be positive and sensors at least 2")
    x_fine, draw = rbf_field_sampler(fine, length_scale)
    x = np.linspace(0.0, 1.0, sensors)
    inputs, outputs = [], []
    for i in range(n):
        u = draw(np.random.default_rng([seed, i]))
        inputs.append(CubicSpline(x_fine, u)(x)[None])
        outputs.append(antiderivative(u, x_fine, x)[None])
    parameters = {"sensors": sensors, "length_scale": length_scale, "fine": fine}
    provenance = Provenance("antiderivative", parameters, "exact", 0.0, seed)
    out = Path(out)
    return write_shard(
        out / "shard-00000.h5", np.stack(inputs), np.stack(outputs), (x,), provenance
    )
