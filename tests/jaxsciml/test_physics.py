"""The physics toolkit: autodiff operators against calculus, residuals on exact solutions,
domains, collocation draws, chunked evaluation and reference solutions."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsciml as jsm
from jaxsciml import physics as ph


def smooth(x):
    """`sin(x0) cos(2 x1) exp(x2 / 2)`; its derivatives are written out in the tests."""
    return jnp.sin(x[0]) * jnp.cos(2 * x[1]) * jnp.exp(0.5 * x[2])


POINTS = np.random.default_rng(0).uniform(-1, 1, (64, 3))


def test_gradient_laplacian_and_derivatives_match_calculus():
    with jax.enable_x64(True):
        x = jnp.asarray(POINTS)
        s, c = jnp.sin(x[:, 0]), jnp.cos(x[:, 0])
        s2, c2, e = jnp.sin(2 * x[:, 1]), jnp.cos(2 * x[:, 1]), jnp.exp(0.5 * x[:, 2])
        u = s * c2 * e
        grad = jax.vmap(lambda p: ph.gradient(smooth, p))(x)
        np.testing.assert_allclose(grad, np.stack([c * c2 * e, -2 * s * s2 * e, 0.5 * u], 1))
        lap = jax.vmap(lambda p: ph.laplacian(smooth, p))(x)
        np.testing.assert_allclose(lap, (-1 - 4 + 0.25) * u, rtol=1e-12, atol=1e-12)
        diagonal = jax.vmap(lambda p: ph.hessian_diagonal(smooth, p))(x)
        np.testing.assert_allclose(diagonal, np.stack([-u, -4 * u, 0.25 * u], 1), atol=1e-12)
        lap_xy = jax.vmap(lambda p: ph.laplacian(smooth, p, axes=(0, 1)))(x)
        np.testing.assert_allclose(lap_xy, -5 * u, rtol=1e-12, atol=1e-12)
        u_yy = jax.vmap(lambda p: ph.derivative(smooth, p, 1, order=2))(x)
        np.testing.assert_allclose(u_yy, -4 * u, rtol=1e-12, atol=1e-12)
        u_zzz = jax.vmap(lambda p: ph.derivative(smooth, p, 2, order=3))(x)
        np.testing.assert_allclose(u_zzz, u / 8, rtol=1e-12, atol=1e-12)


def test_divergence_of_a_gradient_is_the_laplacian():
    with jax.enable_x64(True):
        x = jnp.asarray(POINTS)
        div = jax.vmap(lambda p: ph.divergence(lambda q: ph.gradient(smooth, q), p))(x)
        lap = jax.vmap(lambda p: ph.laplacian(smooth, p))(x)
        np.testing.assert_allclose(div, lap, rtol=1e-12, atol=1e-12)
        # a flux over two of the three axes: F = (x0 x2, x1²) on axes (0, 1): div = x2 + 2 x1
        flux = lambda p: jnp.stack([p[0] * p[2], p[1] ** 2])
        div = jax.vmap(lambda p: ph.divergence(flux, p, axes=(0, 1)))(x)
        np.testing.assert_allclose(div, x[:, 2] + 2 * x[:, 1], rtol=1e-12)


def test_operators_reject_bad_arguments():
    x = jnp.zeros(3)
    with pytest.raises(ValueError, match="axis 3"):
        ph.derivative(smooth, x, 3)
    with pytest.raises(ValueError, match="scalar field"):
        ph.laplacian(lambda p: p, x)
    with pytest.raises(ValueError, match="one component per axis"):
        ph.divergence(lambda p: p[:2], x)


def _kink(problem):
    """The stationary Allen-Cahn front `tanh(x sqrt(ρ / 2D))`, an exact solution."""
    return lambda p: jnp.tanh(p[1] * jnp.sqrt(problem.reaction / (2 * problem.diffusion)))


PROBLEMS = [
    ph.Helmholtz(),
    ph.Helmholtz(a1=3.0, a2=2.0, lam=2.0),
    ph.KleinGordon(),
    ph.FlowMixing(),
    ph.NonlinearDiffusion(),
    ph.Poisson(1),
    ph.Poisson(6),
]


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: type(p).__name__)
def test_residuals_vanish_on_exact_solutions(problem):
    rng = np.random.default_rng(1)
    domain = problem.domain
    with jax.enable_x64(True):
        interior = jnp.asarray(domain.sample_interior(256, rng), jnp.float64)
        residual = jax.vmap(lambda p: problem.residual(problem.exact, p))(interior)
        assert np.max(np.abs(residual)) < 1e-9
        boundary = jnp.asarray(domain.sample_boundary(16, rng), jnp.float64)
        assert (
            np.max(
                np.abs(jax.vmap(lambda p: problem.boundary_residual(problem.exact, p))(boundary))
            )
            < 1e-12
        )
        # ...and do not vanish for a slightly wrong field (so the check above can fail)
        wrong = lambda p: problem.exact(p) + 0.01 * jnp.sum(p**3)
        assert np.max(np.abs(jax.vmap(lambda p: problem.residual(wrong, p))(interior))) > 1e-4
        if domain.time_axis is not None:
            initial = jnp.asarray(domain.sample_initial(16, rng), jnp.float64)
            res = jax.vmap(lambda p: problem.initial_residual(problem.exact, p))(initial)
            assert np.max(np.abs(res)) < 1e-12


def test_allen_cahn_residual_vanishes_on_its_front_and_its_periodic_condition_pairs_faces():
    problem = ph.AllenCahn(diffusion=0.01)
    assert not problem.has_exact
    with jax.enable_x64(True):
        x = jnp.asarray(problem.domain.sample_interior(256, np.random.default_rng(2)), jnp.float64)
        kink = _kink(problem)
        assert np.max(np.abs(jax.vmap(lambda p: problem.residual(kink, p))(x))) < 1e-9
        periodic = lambda p: jnp.cos(jnp.pi * p[1]) * (1 + p[0])
        faces = jnp.asarray(
            problem.domain.sample_boundary(8, np.random.default_rng(3)), jnp.float64
        )
        assert (
            np.max(np.abs(jax.vmap(lambda p: problem.boundary_residual(periodic, p))(faces))) < 1e-6
        )
        assert np.max(np.abs(jax.vmap(lambda p: problem.boundary_residual(kink, p))(faces))) > 1.0
        initial = jnp.asarray([[0.0, 0.5]])
        field = lambda p: p[1] ** 2 * jnp.cos(jnp.pi * p[1])
        assert abs(float(problem.initial_residual(field, initial[0])[0])) < 1e-12


def test_box_checks_points_and_samples_where_it_says():
    box = ph.Box([0.0, -1.0, -2.0], [1.0, 1.0, 2.0], time_axis=0)
    rng = np.random.default_rng(4)
    inside = box.sample_interior(100, rng)
    assert inside.shape == (100, 3) and inside.dtype == np.float32
    np.testing.assert_array_equal(box.check(inside), inside)
    faces = box.sample_boundary(5, rng)
    assert faces.shape == (20, 3)  # two spatial axes, two faces each, 5 points per face
    on_face = np.isclose(np.abs(faces[:, 1]), 1) | np.isclose(np.abs(faces[:, 2]), 2)
    assert on_face.all()
    assert np.all(box.sample_initial(7, rng)[:, 0] == 0)
    assert box.grid(3).shape == (27, 3)
    with pytest.raises(ValueError, match="outside"):
        box.check([[0.5, 0.0, 2.5]])
    with pytest.raises(ValueError, match=r"shaped \(n, 3\)"):
        box.check(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        box.check([[np.nan, 0.0, 0.0]])
    with pytest.raises(ValueError, match="upper bound"):
        ph.Box([0.0], [0.0])
    with pytest.raises(ValueError, match="no time axis"):
        ph.Box([0.0], [1.0]).sample_initial(3, rng)


def test_collocation_draws_depend_on_seed_and_draw_index_only():
    domain = ph.KleinGordon().domain
    points = ph.Collocation(domain, 64, boundary=4, initial=8, resample_every=3)
    batches = [list(points.batches(16, seed=5, epoch=e)) for e in range(4)]
    assert all(len(b) == 4 for b in batches)
    interior = [np.concatenate([b.interior for b in epoch]) for epoch in batches]
    assert np.array_equal(np.sort(interior[0], 0), np.sort(interior[2], 0))  # same draw
    assert not np.array_equal(np.sort(interior[0], 0), np.sort(interior[3], 0))  # the next one
    batch = batches[0][0]
    assert batch.boundary.shape == (16, 3) and batch.initial.shape == (8, 3)
    fresh = ph.Collocation(domain, 64, boundary=4, initial=8, resample_every=3)
    again = list(fresh.batches(16, seed=5, epoch=3, start=2))
    np.testing.assert_array_equal(again[0].interior, batches[3][2].interior)  # resumable
    host = list(points.batches(16, seed=5, epoch=0, part=(1, 2)))[0]
    np.testing.assert_array_equal(host.interior, batches[0][0].interior[8:])
    with pytest.raises(ValueError, match="time axis"):
        ph.Collocation(ph.Helmholtz().domain, 10, initial=5)


def test_map_points_in_chunks_equals_one_vmap_with_gradients():
    points = jnp.asarray(np.random.default_rng(6).uniform(-1, 1, (300, 3)), jnp.float32)
    weight = jnp.arange(3.0)

    def objective(w, chunk):
        fn = lambda p: jnp.stack([jnp.sin(p @ w), ph.laplacian(lambda q: jnp.exp(q @ w), p)])
        return jnp.sum(ph.map_points(fn, points, chunk) ** 2)

    whole, grad_whole = jax.value_and_grad(objective)(weight, None)
    for chunk in (7, 64, 299):  # 300 points: 50, 5 and 2 chunks
        value, grad = jax.jit(jax.value_and_grad(objective), static_argnums=1)(weight, chunk)
        np.testing.assert_allclose(value, whole, rtol=1e-6)
        np.testing.assert_allclose(grad, grad_whole, rtol=1e-5)
    order = ph.map_points(lambda p: p, points, 64)
    np.testing.assert_array_equal(order, points)


def test_reference_solution_measures_relative_l2_over_all_points():
    problem = ph.Helmholtz()
    reference = ph.ReferenceSolution.from_problem(problem, 30, chunk_size=100)
    scores = jsm.evaluate(exact_model(problem), reference)
    assert scores["relative_l2"] < 1e-6
    shifted = exact_model(problem, offset=0.1)
    expected = 0.1 * np.sqrt(len(reference)) / np.linalg.norm(reference.values)
    scores = jsm.evaluate(shifted, reference)
    np.testing.assert_allclose(scores["relative_l2"], expected, rtol=1e-5)
    np.testing.assert_allclose(scores["max_abs_error"], 0.1, rtol=1e-5)
    small_batches = jsm.evaluate(shifted, reference, batch_size=64)  # 900 = 14 * 64 + 4: padded
    assert small_batches == pytest.approx(scores, rel=1e-5)
    with pytest.raises(ValueError, match="outside"):
        ph.ReferenceSolution(np.full((3, 2), 1.5), np.zeros(3), problem.domain)


class exact_model(eqx.Module):
    """A "model" that returns a problem's exact solution (plus an offset)."""

    problem: object = eqx.field(static=True)
    offset: float = 0.0

    def __call__(self, x):
        return (self.problem.exact(x) + self.offset)[None]


@pytest.mark.parametrize(
    "problem", [ph.Helmholtz(), ph.KleinGordon(), ph.FlowMixing()], ids=lambda p: type(p).__name__
)
def test_physics_loss_vanishes_for_the_exact_solution_only(problem):
    points = ph.Collocation(
        problem.domain, 512, boundary=16, initial=32 if problem.domain.time_axis is not None else 0
    )
    batch = jax.tree.map(jnp.asarray, points.draw(0, 0))
    loss = ph.PhysicsLoss(problem, chunk_size=100)
    terms = loss.terms(exact_model(problem), batch)
    assert set(terms) == (
        {"residual", "boundary", "initial"} if points.initial else {"residual", "boundary"}
    )
    scale = float(jnp.mean(jax.vmap(problem.exact)(batch.interior) ** 2))
    assert float(loss(exact_model(problem), batch)) < 1e-8 * max(1.0, scale) * 1e3
    assert float(loss(exact_model(problem, offset=0.1), batch)) > 1e-3


def test_allen_cahn_reference_is_second_order_in_time_and_exact_without_diffusion():
    problem = ph.AllenCahn()
    solve = lambda p, dt: ph.allen_cahn_solution(p, space_points=128, times=11, time_step=dt)[2]
    fine = solve(problem, 1e-4)
    errors = [np.abs(solve(problem, dt) - fine).max() for dt in (4e-3, 2e-3, 1e-3)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 1.8) & (orders < 2.2)), errors
    # no diffusion: every point follows the logistic law u' = ρ(u − u³) exactly
    pure = ph.AllenCahn(diffusion=0.0, reaction=5.0)
    t, x, u = ph.allen_cahn_solution(pure, space_points=64, times=11, time_step=1e-2)
    u0 = x**2 * np.cos(np.pi * x)
    exact = u0 / np.sqrt(u0**2 + (1 - u0**2) * np.exp(-2 * 5.0 * t[:, None]))
    np.testing.assert_allclose(u, exact, atol=1e-12)
    # finite differences of the default reference satisfy the PDE up to their own error
    t, x, u = ph.allen_cahn_solution(problem, times=1001)
    dt, dx = t[1] - t[0], x[1] - x[0]
    u_t = (u[2:] - u[:-2]) / (2 * dt)
    u_xx = (np.roll(u, -1, 1) - 2 * u + np.roll(u, 1, 1))[1:-1] / dx**2
    v = u[1:-1]
    residual = u_t - problem.diffusion * u_xx + problem.reaction * (v**3 - v)
    assert np.sqrt(np.mean(residual**2)) < 0.02 * np.sqrt(np.mean(u_t**2))
    reference = ph.allen_cahn_reference(problem, times=11)
    assert len(reference) == 11 * 512
