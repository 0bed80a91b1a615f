"""Axis-aligned domains and the collocation points drawn from them."""

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from jaxsciml.data.points import grid_points


class Box:
    """The box `[lower_0, upper_0] × ... × [lower_{d-1}, upper_{d-1}]`, optionally with one axis
    that is time (its lower face is the initial slice, and it has no boundary condition).

    **Arguments:**

    - `lower`, `upper`: the bounds per axis (`upper > lower` on every axis).
    - `time_axis`: the index of the time coordinate, or `None` for a stationary problem.

    Points are float32 arrays `(n, d)`. Random draws take a `numpy.random.Generator`, so that a
    draw is a function of its seed alone (the same on every host and after a resume).
    """

    def __init__(
        self,
        lower: Sequence[float],
        upper: Sequence[float],
        *,
        time_axis: int | None = None,
    ):
        lower = np.asarray(lower, np.float64).ravel()
        upper = np.asarray(upper, np.float64).ravel()
        if lower.shape != upper.shape or lower.size == 0:
            raise ValueError(f"lower {lower} and upper {upper} must be non-empty and match")
        if not np.all(upper > lower):
            raise ValueError(f"every upper bound must exceed its lower bound: {lower}, {upper}")
        if time_axis is not None and not 0 <= time_axis < lower.size:
            raise ValueError(f"time_axis {time_axis} is not an axis of a {lower.size}-D box")
        self.lower, self.upper, self.time_axis = lower, upper, time_axis

    def __repr__(self) -> str:
        bounds = " × ".join(f"[{a:g}, {b:g}]" for a, b in zip(self.lower, self.upper))
        time = "" if self.time_axis is None else f", time axis {self.time_axis}"
        return f"Box({bounds}{time})"

    @property
    def dim(self) -> int:
        """`d`, the number of coordinates of a point (time included)."""
        return self.lower.size

    @property
    def spatial_axes(self) -> tuple[int, ...]:
        """The axes that are not time."""
        return tuple(a for a in range(self.dim) if a != self.time_axis)

    def check(self, points, name: str = "points", *, atol: float = 1e-5) -> np.ndarray:
        """`points` as a float32 array `(n, d)`, after checking that it has `d` coordinates and
        lies in the box (to `atol` relative to each axis's length); raises `ValueError` naming
        the first offending point otherwise."""
        points = np.asarray(points)
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise ValueError(
                f"{name} must be shaped (n, {self.dim}) for {self!r}, got {points.shape}"
            )
        if not np.all(np.isfinite(points)):
            raise ValueError(f"{name} contain NaN or infinite coordinates")
        slack = atol * (self.upper - self.lower)
        outside = np.any((points < self.lower - slack) | (points > self.upper + slack), axis=1)
        if outside.any():
            i = int(np.argmax(outside))
            raise ValueError(
                f"{int(outside.sum())} of the {len(points)} {name} lie outside {self!r}, e.g. "
                f"point {i}: {points[i].tolist()}"
            )
        return points.astype(np.float32)

    def sample_interior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` points uniform in the box, `(n, d)`."""
        return rng.uniform(self.lower, self.upper, (n, self.dim)).astype(np.float32)

    def sample_boundary(self, n_per_face: int, rng: np.random.Generator) -> np.ndarray:
        """`n_per_face` uniform points on each face of every spatial axis (the lower face, then
        the upper one, axis by axis): `(2 · len(spatial_axes) · n_per_face, d)`. Time is drawn
        over its whole interval, as for a boundary condition that holds at all times."""
        faces = []
        for axis in self.spatial_axes:
            for bound in (self.lower[axis], self.upper[axis]):
                face = self.sample_interior(n_per_face, rng)
                face[:, axis] = bound
                faces.append(face)
        return np.concatenate(faces) if faces else np.zeros((0, self.dim), np.float32)

    def sample_initial(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` uniform points on the initial slice (time at its lower bound), `(n, d)`."""
        if self.time_axis is None:
            raise ValueError(f"{self!r} has no time axis, so no initial slice")
        points = self.sample_interior(n, rng)
        points[:, self.time_axis] = self.lower[self.time_axis]
        return points

    def grid(self, points_per_axis: int | Sequence[int]) -> np.ndarray:
        """The tensor grid with `points_per_axis` points per axis, endpoints included, as
        coordinates `(Π n_i, d)` in C order (the last axis fastest)."""
        counts = np.broadcast_to(np.asarray(points_per_axis), (self.dim,))
        return grid_points(
            tuple(np.linspace(a, b, int(n)) for a, b, n in zip(self.lower, self.upper, counts))
        )

    def vanishing_factor(self, x):
        """`Π_i sin(π z_i)` over the spatial axes, with `z` the point mapped onto `[0, 1]^d`: a
        factor that is positive inside and zero on the spatial boundary, to impose `u = 0` there
        exactly by `u(x) = factor(x) · N(x)` (DGenNO's `sin(πx) sin(πy)`). It is evaluated as
        `sin(π min(z, 1 − z))`, equal in exact arithmetic and exactly 0 on both faces in floating
        point (`sin(π · 1.0)` is not). `x`: `(..., d)`, NumPy or JAX."""
        axes = list(self.spatial_axes)
        lower, width = self.lower[axes], (self.upper - self.lower)[axes]
        z = (x[..., axes] - lower.astype(np.float32)) / width.astype(np.float32)
        return jnp.prod(jnp.sin(np.pi * jnp.minimum(z, 1 - z)), axis=-1)
