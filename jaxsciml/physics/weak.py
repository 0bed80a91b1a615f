"""Weak-form residuals with compactly supported radial test functions (DGenNO's virtual
observables, after ParticleWNN).

For `−∇·(a ∇u) = f` in 2-D (or 1-D) and a test function `φ_j` supported on the ball `B_j` of
radius `R` around a centre `c_j`, integration by parts (φ vanishes on ∂B_j) gives

    primal:  r_j = ∫_{B_j} a ∇u·∇φ_j dx − ∫_{B_j} f φ_j dx,
    mixed:   r_j = ∫_{B_j} s·∇φ_j dx − ∫_{B_j} f φ_j dx,   with the flux s = a ∇u imposed
             pointwise at the quadrature points (`constitutive_residual`),

each divided by the volume of `B_j` (a ball average).

Only first derivatives of the network appear. The test functions are Wendland functions of order
`l = ⌊d/2⌋ + 3` (`l = 4` in 2-D), whose gradients are written out analytically; the integrals use
a product Gauss rule on the reference ball (Gauss-Legendre in the radius, equally spaced angles),
scaled to the support radius, which integrates polynomials exactly up to `degree`.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsciml.physics.autodiff import Field, gradient
from jaxsciml.physics.domain import Box


SMALLEST_FLOAT32_RADIUS = 1e-4  # DGenNO's bound: below it float32 offsets x − c lose the shape


class Wendland:
    """The Wendland function `φ(r) = (1 − r)_+^{l+2} ((l² + 4l + 3) r² + (3l + 6) r + 3) / 3` of
    order `l` (default `⌊dim/2⌋ + 3`), `φ(0) = 1`, zero for `r ≥ 1`, `C⁴` at the edge.

    As a test function around `centre` with support `radius`, `φ(|x − c| / R)`, its gradient is
    `−(l+3)(l+4)/3 · (1 − r)^{l+1} (1 + (l+1) r) · (x − c) / R²` (the radial derivative divided by
    `r`, which is finite at the centre).
    """

    def __init__(self, dim: int = 2, order: int | None = None):
        self.dim = dim
        self.order = dim // 2 + 3 if order is None else order

    def profile(self, r: Array) -> Array:
        """`φ(r)` for radii `r` in units of the support radius."""
        l = self.order
        inside = jnp.clip(1.0 - r, 0.0, None)
        return inside ** (l + 2) * ((l * l + 4 * l + 3) * r**2 + (3 * l + 6) * r + 3) / 3

    def value(self, x: Float[Array, "... d"], centre: Float[Array, " d"], radius) -> Array:
        """`φ(|x − c| / R)` at points `x`."""
        return self.profile(jnp.linalg.norm(x - centre, axis=-1) / radius)

    def gradient(
        self, x: Float[Array, "... d"], centre: Float[Array, " d"], radius
    ) -> Float[Array, "... d"]:
        """`∇_x φ(|x − c| / R)` at points `x` (analytic)."""
        l = self.order
        offset = x - centre
        r = jnp.linalg.norm(offset, axis=-1, keepdims=True) / radius
        inside = jnp.clip(1.0 - r, 0.0, None)
        return -(l + 3) * (l + 4) / 3 * inside ** (l + 1) * (1 + (l + 1) * r) * offset / radius**2


def ball_quadrature(dim: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes `(q, dim)` in the unit ball and weights `(q,)` summing to its volume, exact for
    polynomials of total degree `≤ degree`.

    1-D: Gauss-Legendre on `[-1, 1]`. 2-D: Gauss-Legendre in the radius with the weight `r dr`
    folded in (`n_r = ⌈(degree + 2)/2⌉` nodes) times `degree + 1` equally spaced angles: a
    monomial of degree `m` is `r^m` times a trigonometric polynomial of degree `m` in polar form.
    """
    if degree < 0:
        raise ValueError(f"degree must not be negative, got {degree}")
    if dim == 1:
        nodes, weights = np.polynomial.legendre.leggauss(degree // 2 + 1)
        return nodes[:, None], weights
    if dim != 2:
        raise ValueError(f"weak forms are built for 1-D and 2-D domains, not {dim}-D")
    radial, radial_weights = np.polynomial.legendre.leggauss(-(-(degree + 2) // 2))
    r = 0.5 * (radial + 1.0)
    radial_weights = 0.5 * radial_weights * r  # ∫_0^1 g(r) r dr
    angles = 2 * np.pi * np.arange(degree + 1) / (degree + 1)
    nodes = np.stack(
        [np.outer(r, np.cos(angles)).ravel(), np.outer(r, np.sin(angles)).ravel()], axis=-1
    )
    weights = np.outer(radial_weights, np.full(angles.size, 2 * np.pi / angles.size)).ravel()
    return nodes, weights


def grid_quadrature(dim: int, points: int) -> tuple[np.ndarray, np.ndarray]:
    """The DGenNO code's rule: the `points^dim` grid on `[-1, 1]^dim` (in 2-D only the nodes
    strictly inside the unit disc), equal weights summing to the ball's volume. Its averages
    are plain means over the nodes: first-order accurate, unlike `ball_quadrature`."""
    if points < 2:
        raise ValueError(f"a grid rule needs at least 2 points per axis, got {points}")
    if dim not in (1, 2):
        raise ValueError(f"weak forms are built for 1-D and 2-D domains, not {dim}-D")
    axis = np.linspace(-1.0, 1.0, points)
    if dim == 1:
        return axis[:, None], np.full(points, 2.0 / points)
    x, y = np.meshgrid(axis, axis)
    nodes = np.stack([x.ravel(), y.ravel()], axis=-1)
    nodes = nodes[np.linalg.norm(nodes, axis=1) < 1.0]
    return nodes, np.full(len(nodes), np.pi / len(nodes))


QUADRATURES = ("gauss", "grid")


class TestFunctions(NamedTuple):
    """The test functions of a set of centres at their quadrature points: `points (n, q, d)`,
    `values (n, q)` of `φ_j` and `gradients (n, q, d)` of `∇φ_j`."""

    points: Array
    values: Array
    gradients: Array


class WeakForm:
    """Weak residuals of `−∇·(a ∇u) = f` on `domain` with Wendland test functions of support
    `radius` and a ball quadrature of `degree` (see the module docstring).

    Residuals are **ball averages**, the integrals divided by the ball's volume (`2R` or `πR²`),
    as the DGenNO code computes them: they stay of order `|∇·(a∇u) + f|` at any radius, where
    the integrals would shrink like `R^d` (to 1e-8 at the paper's `R = 1e-4`).

    **Arguments:**

    - `domain`: a 1-D or 2-D `jaxsciml.physics.Box` (no time axis).
    - `radius`: the support radius `R`; in float32 it must be at least 1e-4.
    - `degree`: the quadrature's polynomial degree (default 8: the Wendland profile in 2-D is a
      polynomial of degree 8 in the radius).
    - `quadrature`: `"gauss"` (`ball_quadrature` of `degree`) or `"grid"` (the DGenNO code's
      plain means over a `grid_points`-per-axis grid, `grid_quadrature`; its notebooks take 7).
    """

    def __init__(
        self,
        domain: Box,
        radius: float,
        *,
        degree: int = 8,
        quadrature: str = "gauss",
        grid_points: int = 7,
    ):
        if quadrature not in QUADRATURES:
            raise ValueError(f"quadrature must be one of {QUADRATURES}, got {quadrature!r}")
        if domain.time_axis is not None or domain.dim not in (1, 2):
            raise ValueError(
                f"weak forms are built for stationary 1-D and 2-D boxes, not {domain!r}"
            )
        float32 = jnp.zeros(()).dtype == jnp.float32
        if not radius > 0 or (float32 and radius < SMALLEST_FLOAT32_RADIUS):
            raise ValueError(
                f"support radius {radius} is below what float32 resolves "
                f"({SMALLEST_FLOAT32_RADIUS}); use a larger radius or enable float64"
                if radius > 0
                else f"support radius must be positive, got {radius}"
            )
        if 2 * radius >= float(np.min(domain.upper - domain.lower)):
            raise ValueError(f"support radius {radius} does not fit inside {domain!r}")
        self.domain, self.radius = domain, float(radius)
        self.test_function = Wendland(domain.dim)
        if quadrature == "gauss":
            nodes, weights = ball_quadrature(domain.dim, degree)
        else:
            nodes, weights = grid_quadrature(domain.dim, grid_points)
        dtype = jnp.zeros(()).dtype
        self.nodes = jnp.asarray(nodes, dtype)
        self.weights = jnp.asarray(weights / weights.sum(), dtype)  # averages over the ball

    def sample_centres(self, key: PRNGKeyArray, n: int) -> Float[Array, "n d"]:
        """`n` centres `(n, d)` whose balls lie inside the domain, by Latin hypercube sampling
        (one per stratum on every axis, as the DGenNO code draws them); traceable under `jit`."""
        if n < 1:
            raise ValueError(f"the number of centres must be positive, got {n}")
        dim = self.domain.dim
        keys = jax.random.split(key, dim + 1)
        strata = jnp.stack([jax.random.permutation(k, n) for k in keys[:dim]], axis=-1)
        unit = (strata + jax.random.uniform(keys[dim], strata.shape)) / n
        lower = jnp.asarray(self.domain.lower + self.radius, unit.dtype)
        upper = jnp.asarray(self.domain.upper - self.radius, unit.dtype)
        return lower + unit * (upper - lower)

    def test_functions(self, centres: Float[Array, "n d"]) -> TestFunctions:
        """The quadrature nodes of every centre's ball with `φ_j` and `∇φ_j` there.

        `φ` and `∇φ` are evaluated at the scaled reference nodes `R ξ_k`, the same for every
        ball, not at `x − c` recomputed from rounded points: in float32 a point near 0.5 carries
        an error of 6e-8, which in `x − c` of size `R = 1e-4` is 6e-4 relative, and `∇φ ~ 1/R`
        turns that into residual errors of order one (the measured error at `R = 1e-4`).
        """
        offsets = self.radius * self.nodes  # (q, d)
        origin = jnp.zeros(self.domain.dim, offsets.dtype)
        n = centres.shape[0]
        values = self.test_function.value(offsets, origin, self.radius)
        gradients = self.test_function.gradient(offsets, origin, self.radius)
        return TestFunctions(
            centres[:, None, :] + offsets,
            jnp.broadcast_to(values, (n, *values.shape)),
            jnp.broadcast_to(gradients, (n, *gradients.shape)),
        )

    def residuals(
        self,
        tests: TestFunctions,
        flux: Float[Array, "*flux_batch n q d"],
        source: Float[Array, "*source_batch n q"],
    ) -> Array:
        """Ball averages of `s·∇φ_j − f φ_j` from values at the quadrature points of `tests`:
        the flux `s` (`a ∇u` in the primal form) and the source `f`, with any leading (batch)
        axes, broadcast against each other: `(*batch, n)`."""
        integrand = jnp.sum(flux * tests.gradients, axis=-1) - source * tests.values
        return integrand @ self.weights

    def primal_residuals(
        self, u: Field, a: Field, f: Field, centres: Float[Array, "n d"]
    ) -> Float[Array, " n"]:
        """Averages of `a ∇u·∇φ_j − f φ_j` for every centre (`u`, `a`, `f`: scalar fields)."""
        return self.mixed_residuals(lambda x: a(x) * gradient(u, x), f, centres)

    def mixed_residuals(
        self, flux: Field, f: Field, centres: Float[Array, "n d"]
    ) -> Float[Array, " n"]:
        """Averages of `s·∇φ_j − f φ_j` for every centre, `s = flux(x)` shaped `(d,)`."""
        tests = self.test_functions(centres)
        on_points = lambda field: jax.vmap(jax.vmap(field))(tests.points)
        return self.residuals(tests, on_points(flux), on_points(f))

    def constitutive_residual(
        self, flux: Field, u: Field, a: Field, centres: Float[Array, "n d"]
    ) -> Float[Array, "n q d"]:
        """`s − a ∇u` at every quadrature point of every ball (the mixed form's pointwise link)."""
        points = self.test_functions(centres).points
        link = lambda x: flux(x) - a(x) * gradient(u, x)
        return jax.vmap(jax.vmap(link))(points)
