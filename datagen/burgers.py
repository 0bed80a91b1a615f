"""The FNO paper's Burgers data (Li et al., ICLR 2021, §5.1): the map `u0 ↦ u(·, T)` of the
viscous Burgers equation

    ∂t u + ∂x(u² / 2) = ν ∂xx u   on the periodic unit interval,  t ∈ (0, T],

with `ν = 0.1`, `T = 1` and `u0 ~ N(0, 625 (−Δ + 25 I)^−2)`, solved at 8192 points and stored
sub-sampled (the paper's `s = 8192 / sub`).

- `periodic_field_sampler`: the initial condition as the paper's generator draws it (its
  `GRF1.m`, periodic): `u0 = Σ_{k=1}^{N/2} √2 √λ_k (ξ_k cos 2πkx + η_k sin 2πkx)`,
  `λ_k = σ² ((2πk)² + τ²)^−γ` with `σ² = 625, τ = 5, γ = 2`, no constant mode.
- `solve_burgers`: Fourier pseudo-spectral in space (2/3-rule de-aliasing of the product),
  ETDRK4 in time (Cox and Matthews 2002, with Kassam and Trefethen's contour-integral
  coefficients): the stiff diffusion is integrated exactly, the product explicitly, fourth
  order in the time step.
- `Burgers`: the registered generator (`datagen.generate("burgers", n, out, resolution=1024)`);
  its provenance's `tolerance` is the time-discretization error of sample 0, estimated by
  halving the step.
"""

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np

from datagen.format import Provenance
from datagen.generator import Generator, Progress, ShardContent, check_finite, sample_rng


def periodic_field_sampler(
    points: int, *, variance: float = 625.0, shift: float = 25.0, power: float = 2.0
) -> Callable[[np.random.Generator], np.ndarray]:
    """`draw(rng) -> u0 (points,)`: a draw of `N(0, variance (−Δ + shift I)^−power)` on the
    periodic unit interval at `x_j = j / points`, modes `1 … points/2 − 1` (see the module
    docstring; the Nyquist mode is left out, it has no sine partner)."""
    if points < 4 or points % 2:
        raise ValueError(f"points must be even and at least 4, got {points}")
    k = np.arange(1, points // 2)
    deviation = np.sqrt(2.0 * variance) * ((2 * np.pi * k) ** 2 + shift) ** (-power / 2)

    def draw(rng: np.random.Generator) -> np.ndarray:
        xi, eta = rng.standard_normal((2, k.size))
        coefficients = np.zeros(points // 2 + 1, complex)
        # a cos θ + b sin θ = Re[(a − i b) e^{iθ}]; numpy's irfft sums C_k e^{iθ} + c.c. over N
        coefficients[1:-1] = points * deviation * (xi - 1j * eta) / 2
        return np.fft.irfft(coefficients, points)

    return draw


@functools.cache
def _etdrk4_coefficients(points: int, viscosity: float, step: float, contour: int = 32):
    """`(k, E, E2, Q, f1, f2, f3)` of ETDRK4 for `L = −ν k²` on `rfft` modes."""
    k = 2 * np.pi * np.fft.rfftfreq(points, d=1.0 / points)
    linear = -viscosity * k**2
    roots = np.exp(1j * np.pi * (np.arange(1, contour + 1) - 0.5) / contour)
    lr = step * linear[:, None] + roots[None, :]
    q = step * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = step * np.real(np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr**2)) / lr**3, axis=1))
    f2 = step * np.real(np.mean((2 + lr + np.exp(lr) * (lr - 2)) / lr**3, axis=1))
    f3 = step * np.real(np.mean((-4 - 3 * lr - lr**2 + np.exp(lr) * (4 - lr)) / lr**3, axis=1))
    return k, np.exp(step * linear), np.exp(step * linear / 2), q, f1, f2, f3


def solve_burgers(
    u0: np.ndarray, *, viscosity: float = 0.1, time: float = 1.0, steps: int = 1000
) -> np.ndarray:
    """`u(·, time)` `(..., N)` of viscous Burgers from `u0` `(..., N)` on the periodic unit
    interval (points `j / N`), by ETDRK4 with `steps` equal steps (see the module docstring)."""
    u0 = np.asarray(u0, np.float64)
    points = u0.shape[-1]
    if points < 4 or points % 2:
        raise ValueError(f"the grid needs an even number of points >= 4, got {points}")
    if not (viscosity > 0 and time > 0 and steps >= 1):
        raise ValueError(f"need viscosity > 0, time > 0, steps >= 1; got {viscosity, time, steps}")
    k, e, e2, q, f1, f2, f3 = _etdrk4_coefficients(points, float(viscosity), time / steps)
    kept = np.arange(k.size) < points / 3  # the 2/3 rule: the product of kept modes is exact

    def product(v):  # the Fourier modes of −∂x(u²/2), de-aliased
        u = np.fft.irfft(v * kept, points)
        return -0.5j * k * kept * np.fft.rfft(u * u)

    v = np.fft.rfft(u0)
    for _ in range(steps):
        nv = product(v)
        a = e2 * v + q * nv
        na = product(a)
        b = e2 * v + q * na
        nb = product(b)
        c = e2 * a + q * (2 * nb - nv)
        v = e * v + f1 * nv + 2 * f2 * (na + nb) + f3 * product(c)
    return np.fft.irfft(v, points)


@dataclasses.dataclass(frozen=True)
class Burgers(Generator):
    """Inputs `u0` and outputs `u(·, time)`, both `(1, resolution)` on `x = j / resolution`,
    solved at `points` points (a multiple of `resolution`) with `steps` ETDRK4 steps."""

    resolution: int = 1024
    points: int = 8192
    viscosity: float = 0.1
    time: float = 1.0
    steps: int = 200
    variance: float = 625.0
    shift: float = 25.0
    power: float = 2.0
    name: ClassVar[str] = "burgers"
    summary: ClassVar[str] = "viscous Burgers u0 -> u(., 1) on the periodic interval (FNO), ETDRK4"
    default_shard_size: ClassVar[int] = 64

    def __post_init__(self):
        check_finite(self)
        if self.resolution < 2 or self.points % self.resolution:
            raise ValueError(
                f"points ({self.points}) must be a multiple of resolution ({self.resolution})"
            )
        if not (self.viscosity > 0 and self.time > 0 and self.steps >= 2):
            raise ValueError("viscosity and time must be positive and steps at least 2")
        periodic_field_sampler(self.points)  # checks the grid

    def quick(self) -> "Burgers":
        """At most 256 points, 20 steps."""
        points = min(self.points, 256)
        return dataclasses.replace(
            self, points=points, resolution=min(self.resolution, points), steps=20
        )

    def _sampler(self) -> Callable[[np.random.Generator], np.ndarray]:
        """Draws of the initial condition at the `points` solver points."""
        return periodic_field_sampler(
            self.points, variance=self.variance, shift=self.shift, power=self.power
        )

    @functools.cache
    def provenance(self, seed: int) -> Provenance:
        u0 = self._sampler()(sample_rng(seed, 0))
        settings = dict(viscosity=self.viscosity, time=self.time)
        error = solve_burgers(u0, steps=self.steps, **settings) - solve_burgers(
            u0, steps=2 * self.steps, **settings
        )  # the finer one is 16x more accurate: this is the coarse one's error to 7%
        parameters = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return Provenance(self.name, parameters, "etdrk4", float(np.abs(error).max()), seed)

    def grid(self) -> tuple[np.ndarray, ...]:
        return (np.arange(self.resolution) / self.resolution,)

    def make_shard(
        self, seed: int, indices: Sequence[int], progress: Progress | None = None
    ) -> ShardContent:
        draw = self._sampler()
        u0 = np.stack([draw(sample_rng(seed, i)) for i in indices])
        u = solve_burgers(u0, viscosity=self.viscosity, time=self.time, steps=self.steps)
        if progress:
            progress(len(indices), 0)
        stride = self.points // self.resolution
        inputs, outputs = u0[:, None, ::stride], u[:, None, ::stride]
        return ShardContent(inputs, outputs, tuple(indices), backend="etdrk4")
