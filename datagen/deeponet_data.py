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

Both are generators of the registry (`datagen.generate("antiderivative", n, out, sensors=100)`),
written through the one shard driver: atomic shards, resumable, any shard on any machine.
"""

import abc
import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.linalg import solve_banded

from datagen.format import Provenance
from datagen.generator import Generator, Progress, ShardContent, check_finite, sample_rng


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


@dataclasses.dataclass(frozen=True)
class _RandomFunctionData(Generator):
    """Samples driven by one RBF random function `u` on `[0, 1]` (`fine` points, `length_scale`)."""

    length_scale: float = 0.2
    fine: int = 1000
    method: ClassVar[str]  # how outputs are computed from inputs (the provenance's solver)
    default_shard_size: ClassVar[int] = 1000

    def __post_init__(self):
        check_finite(self)
        if not (self.length_scale > 0 and self.fine >= 2):
            raise ValueError(
                f"length_scale must be positive and fine at least 2, got {self.length_scale} "
                f"and {self.fine}"
            )

    def draw(self) -> Callable[[int, int], CubicSpline]:
        """`(seed, i) -> u`: sample `i`'s input function, a cubic spline through the draw."""
        x_fine, draw = rbf_field_sampler(self.fine, self.length_scale)
        return lambda seed, i: CubicSpline(x_fine, draw(sample_rng(seed, i)))

    def make_shard(
        self, seed: int, indices: Sequence[int], progress: Progress | None = None
    ) -> ShardContent:
        draw, pairs = self.draw(), []
        for i in indices:
            pairs.append(self.sample(draw(seed, i)))
            if progress:
                progress(1, 0)
        inputs, outputs = (np.stack(arrays) for arrays in zip(*pairs))
        return ShardContent(inputs, outputs, tuple(indices), backend=self.method)

    @abc.abstractmethod
    def sample(self, u: CubicSpline) -> tuple[np.ndarray, np.ndarray]:
        """One sample's `(input, output)` arrays for the input function `u`."""


@dataclasses.dataclass(frozen=True)
class Antiderivative(_RandomFunctionData):
    """`s(x) = ∫₀ˣ u` at `sensors` equispaced points: inputs and outputs `(1, sensors)`."""

    sensors: int = 100
    method: ClassVar[str] = "exact"
    name: ClassVar[str] = "antiderivative"
    summary: ClassVar[str] = "s = ∫₀ˣ u for u a random function on [0, 1] (DeepONet), exact"

    def __post_init__(self):
        super().__post_init__()
        if self.sensors < 2:
            raise ValueError(f"need at least 2 sensors, got {self.sensors}")

    def provenance(self, seed: int) -> Provenance:
        parameters = {"sensors": self.sensors, "length_scale": self.length_scale, "fine": self.fine}
        return Provenance(self.name, parameters, self.method, 0.0, seed)

    def grid(self) -> tuple[np.ndarray, ...]:
        return (np.linspace(0.0, 1.0, self.sensors),)

    def sample(self, u: CubicSpline) -> tuple[np.ndarray, np.ndarray]:
        (x,) = self.grid()
        return u(x)[None], u.antiderivative()(x)[None]


@dataclasses.dataclass(frozen=True)
class DiffusionReaction(_RandomFunctionData):
    """`s_t = D s_xx + k s² + u(x)` on the `nx` x `nt` grid of `[0, 1]²`: inputs `u(x)` and outputs
    `s`, both `(1, nx, nt)`.

    Each sample is solved on a grid `refine` times finer in `x` and `t` and sampled at the output
    grid. The provenance's `tolerance` is the largest discretization error over sample 0,
    estimated by Richardson extrapolation against a solve at half that refinement (the scheme is
    second order, so the error is `(s_r - s_{r/2}) / 3`).
    """

    nx: int = 100
    nt: int = 100
    refine: int = 4
    diffusion: float = 0.01
    reaction: float = 0.01
    method: ClassVar[str] = "crank-nicolson"
    name: ClassVar[str] = "diffusion_reaction"
    summary: ClassVar[str] = "s_t = D s_xx + k s² + u(x) from s = 0 (DeepONet), Crank-Nicolson"

    def __post_init__(self):
        super().__post_init__()
        if self.refine < 2 or self.refine % 2:
            raise ValueError(f"refine must be an even number >= 2, got {self.refine}")
        if self.nx < 3 or self.nt < 2:
            raise ValueError(f"need nx >= 3 and nt >= 2, got {self.nx} and {self.nt}")
        if self.diffusion <= 0:
            raise ValueError(f"diffusion must be positive, got {self.diffusion}")

    def quick(self) -> "DiffusionReaction":
        """Solved on the output grid refined twice (the least refinement with an estimate)."""
        return dataclasses.replace(self, refine=2)

    def solve(self, u: CubicSpline, refine: int) -> np.ndarray:
        """`s` `(nx, nt)` solved `refine` times finer and sampled at the output grid."""
        fine_grid = solve_diffusion_reaction(
            lambda x, t: u(x),
            (self.nx - 1) * refine + 1,
            (self.nt - 1) * refine + 1,
            diffusion=self.diffusion,
            reaction=self.reaction,
        )
        return fine_grid[::refine, ::refine]

    @functools.cache
    def provenance(self, seed: int) -> Provenance:
        first = self.draw()(seed, 0)
        error = np.abs(self.solve(first, self.refine) - self.solve(first, self.refine // 2)).max()
        parameters = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return Provenance(self.name, parameters, self.method, float(error / 3), seed)

    def grid(self) -> tuple[np.ndarray, ...]:
        return np.linspace(0.0, 1.0, self.nx), np.linspace(0.0, 1.0, self.nt)

    def sample(self, u: CubicSpline) -> tuple[np.ndarray, np.ndarray]:
        x, _ = self.grid()
        return np.broadcast_to(u(x)[:, None], (self.nx, self.nt))[None], self.solve(u, self.refine)[
            None
        ]
