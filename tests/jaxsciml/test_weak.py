"""Weak forms: Wendland test functions, ball quadrature, and residuals on an exact solution."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsciml import physics as ph


def test_wendland_value_and_gradient_match_finite_differences_and_vanish_outside():
    with jax.enable_x64(True):
        phi = ph.Wendland(2)
        assert phi.order == 4
        centre, radius = jnp.asarray([0.3, -0.2]), 0.25
        x = centre + radius * jnp.asarray(np.random.default_rng(0).uniform(-0.7, 0.7, (50, 2)))
        grad = phi.gradient(x, centre, radius)
        h = 1e-6
        for axis in range(2):
            e = jnp.zeros(2).at[axis].set(h)
            fd = (phi.value(x + e, centre, radius) - phi.value(x - e, centre, radius)) / (2 * h)
            np.testing.assert_allclose(grad[:, axis], fd, rtol=1e-7, atol=1e-7)
        np.testing.assert_allclose(phi.value(centre, centre, radius), 1.0)
        np.testing.assert_allclose(phi.gradient(centre, centre, radius), 0.0)
        outside = centre + radius * jnp.asarray([[1.0, 0.0], [0.8, 0.7], [-2.0, 3.0]])
        assert np.all(phi.value(outside, centre, radius) == 0)
        assert np.all(phi.gradient(outside, centre, radius) == 0)
        # the analytic gradient is the radial derivative of the profile: check it in 1-D too
        phi1 = ph.Wendland(1)
        r = jnp.linspace(0.0, 1.0, 11)[:, None]
        d_profile = jax.vmap(jax.grad(lambda s: phi1.profile(s)))(r[:, 0])
        np.testing.assert_allclose(phi1.gradient(r, jnp.zeros(1), 1.0)[:, 0], d_profile, atol=1e-12)


def _disk_moment(a: int, b: int) -> float:
    """∫ x^a y^b over the unit disk."""
    if a % 2 or b % 2:
        return 0.0
    return (
        2
        * math.gamma((a + 1) / 2)
        * math.gamma((b + 1) / 2)
        / ((a + b + 2) * math.gamma((a + b + 2) / 2))
    )


@pytest.mark.parametrize("degree", [2, 5, 8])
def test_ball_quadrature_integrates_polynomials_exactly_to_its_degree(degree):
    nodes, weights = ph.ball_quadrature(2, degree)
    assert np.all(np.linalg.norm(nodes, axis=1) < 1)
    for a in range(degree + 1):
        for b in range(degree + 1 - a):
            value = weights @ (nodes[:, 0] ** a * nodes[:, 1] ** b)
            assert abs(value - _disk_moment(a, b)) < 1e-13, (a, b)
    # one or two degrees past it, some monomial is missed (so the check above can fail)
    errors = [
        abs(weights @ (nodes[:, 0] ** i * nodes[:, 1] ** (m - i)) - _disk_moment(i, m - i))
        for m in (degree + 1, degree + 2)
        for i in range(m + 1)
    ]
    assert max(errors) > 1e-6
    nodes, weights = ph.ball_quadrature(1, degree)
    for k in range(degree + 1):
        assert abs(weights @ nodes[:, 0] ** k - (2 / (k + 1) if k % 2 == 0 else 0)) < 1e-13


def test_the_grid_rule_is_the_plain_mean_over_grid_nodes_inside_the_ball():
    """DGenNO's rule: the 7x7 grid of [-1, 1]² keeps the 25 nodes with |ξ| < 1 (coordinates
    0, ±1/3, ±2/3); the mean of |ξ|² over them is 2 · (2 · 4/9 + 2 · 1/9) / 5 = 4/9, where the
    ball's true average is 1/2, which finer grids approach."""
    from jaxsciml.physics.weak import grid_quadrature

    nodes, weights = grid_quadrature(2, 7)
    assert nodes.shape == (25, 2) and np.allclose(weights, np.pi / 25)
    assert np.all(np.linalg.norm(nodes, axis=1) < 1)
    np.testing.assert_allclose(np.sum(nodes**2, axis=1) @ weights / np.pi, 4 / 9, rtol=1e-12)
    nodes, weights = grid_quadrature(2, 201)
    np.testing.assert_allclose(np.sum(nodes**2, axis=1) @ weights / np.pi, 0.5, rtol=1e-2)
    nodes, weights = grid_quadrature(1, 7)  # 1-D: the whole grid, endpoints included
    assert nodes.shape == (7, 1) and np.isclose(weights.sum(), 2.0)
    form = ph.WeakForm(ph.Box([0.0, 0.0], [1.0, 1.0]), 0.1, quadrature="grid")
    assert form.nodes.shape == (25, 2) and np.isclose(float(form.weights.sum()), 1.0)
    with pytest.raises(ValueError, match="quadrature must be one of"):
        ph.WeakForm(ph.Box([0.0, 0.0], [1.0, 1.0]), 0.1, quadrature="simpson")


def test_weak_residuals_vanish_for_an_exact_pair_and_not_for_a_wrong_one():
    """a = 1 + x² + y, u = sin(πx) sin(πy) on the unit square, f = −∇·(a∇u) written out."""
    pi = math.pi
    a = lambda p: 1 + p[0] ** 2 + p[1]
    u = lambda p: jnp.sin(pi * p[0]) * jnp.sin(pi * p[1])

    def f(p):
        x, y = p
        u_x = pi * jnp.cos(pi * x) * jnp.sin(pi * y)
        u_y = pi * jnp.sin(pi * x) * jnp.cos(pi * y)
        return -(2 * x * u_x + u_y) + 2 * pi**2 * a(p) * u(p)

    with jax.enable_x64(True):
        weak = ph.WeakForm(ph.Box([0.0, 0.0], [1.0, 1.0]), radius=0.05, degree=12)
        centres = weak.sample_centres(jax.random.key(1), 100)
        assert centres.dtype == jnp.float64
        assert np.all(centres > 0.05) and np.all(centres < 0.95)
        primal = weak.primal_residuals(u, a, f, centres)
        flux = lambda p: a(p) * ph.gradient(u, p)
        mixed = weak.mixed_residuals(flux, f, centres)
        scale = np.max(np.abs(weak.mixed_residuals(flux, lambda p: 0.0 * p[0], centres)))
        assert np.max(np.abs(primal)) < 1e-6 * scale and np.max(np.abs(mixed)) < 1e-6 * scale
        np.testing.assert_allclose(weak.constitutive_residual(flux, u, a, centres), 0, atol=1e-12)
        wrong = lambda p: u(p) + 0.05 * jnp.sin(3 * pi * p[0])
        assert np.max(np.abs(weak.primal_residuals(wrong, a, f, centres))) > 1e-2 * scale


def test_weak_form_refuses_radii_float32_cannot_resolve():
    box = ph.Box([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="float32"):
        ph.WeakForm(box, radius=5e-5)
    with pytest.raises(ValueError, match="positive"):
        ph.WeakForm(box, radius=0.0)
    with pytest.raises(ValueError, match="does not fit"):
        ph.WeakForm(box, radius=0.6)
    with pytest.raises(ValueError, match="1-D and 2-D"):
        ph.WeakForm(ph.Box([0.0] * 3, [1.0] * 3), radius=0.1)
    with jax.enable_x64(True):
        ph.WeakForm(box, radius=5e-5)  # float64 resolves it


def test_vanishing_factor_is_exactly_zero_on_the_spatial_boundary_only():
    box = ph.Box([0.0, -1.0, 2.0], [1.0, 1.0, 5.0], time_axis=0)
    faces = jnp.asarray(box.sample_boundary(20, np.random.default_rng(2)))
    assert np.all(np.asarray(box.vanishing_factor(faces)) == 0.0)
    inside = jnp.asarray(box.sample_interior(50, np.random.default_rng(3)))
    factor = np.asarray(box.vanishing_factor(inside))
    assert np.all(factor > 0) and np.all(factor <= 1)
    x = inside[0]  # the time axis does not enter
    np.testing.assert_allclose(box.vanishing_factor(x.at[0].set(0.0)), box.vanishing_factor(x))
    expected = np.sin(np.pi * (x[1] + 1) / 2) * np.sin(np.pi * (x[2] - 2) / 3)
    np.testing.assert_allclose(box.vanishing_factor(x), expected, rtol=1e-5)


def test_centres_form_a_latin_hypercube_inside_the_shrunk_box():
    weak = ph.WeakForm(ph.Box([0.0, -1.0], [2.0, 1.0]), radius=0.1)
    centres = np.asarray(jax.jit(weak.sample_centres, static_argnums=1)(jax.random.key(3), 40))
    lower, upper = np.array([0.1, -0.9]), np.array([1.9, 0.9])
    strata = np.floor((centres - lower) / (upper - lower) * 40).astype(int)
    for axis in range(2):  # one centre in every stratum of every axis
        assert sorted(strata[:, axis]) == list(range(40))


def test_float32_residuals_at_the_papers_radius_approach_the_strong_form():
    """At R = 1e-4 in float32 the ball average of ∇u·∇φ is −Δu times the average of φ, to
    1e-4 (O(R²) and rounding); recomputing ∇φ from rounded x − c made it wrong by order one."""
    pi = math.pi
    u = lambda p: jnp.sin(pi * p[0]) * jnp.sin(pi * p[1])
    weak = ph.WeakForm(ph.Box([0.0, 0.0], [1.0, 1.0]), radius=1e-4)
    centres = weak.sample_centres(jax.random.key(0), 50)
    residuals = weak.primal_residuals(u, lambda p: 1.0 + 0 * p[0], lambda p: 0 * p[0], centres)
    mean_phi = weak.weights @ weak.test_function.profile(jnp.linalg.norm(weak.nodes, axis=-1))
    strong = 2 * pi**2 * jax.vmap(u)(centres) * mean_phi  # −Δu ⟨φ⟩
    assert np.max(np.abs(residuals - strong)) < 2e-3 * np.max(np.abs(strong))
