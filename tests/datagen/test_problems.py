"""Discretizations against manufactured solutions, the matrices' structure, the random inputs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy import fft

from datagen import Darcy
from datagen.fields import gaussian_random_field, threshold
from datagen.problems import PROBLEMS, ConvectionDiffusion, Heat, Helmholtz, make_problem
from datagen.problems.darcy import assemble_diffusion
from datagen.problems.discretize import (
    convection_matrix,
    diffusion_matrix,
    embed_interior,
    interior,
)


def exact_u(x):
    """A smooth solution vanishing on the boundary of the unit cube: ∏ sin(π xᵢ) · exp(x₀)."""
    return jnp.prod(jnp.sin(jnp.pi * x)) * jnp.exp(x[0])


def coefficient(x):
    return 1.0 + x[0] ** 2 + 0.5 * jnp.sum(x)


def velocity(x):
    return jnp.stack([jnp.cos(3 * x[i] + i) for i in range(x.shape[0])])


def manufactured_forcing(x, k2=0.0, eps=None):
    """`-∇·(a ∇u) - k² u + v·∇u` at `x` (with `a = eps` constant when `eps` is given)."""
    a = (lambda y: eps) if eps is not None else coefficient
    flux = lambda y: a(y) * jax.grad(exact_u)(y)
    divergence = jnp.trace(jax.jacfwd(flux)(x))
    convection = 0.0 if eps is None else velocity(x) @ jax.grad(exact_u)(x)
    return -divergence - k2 * exact_u(x) + convection


def nodes(n, d):
    axes = np.meshgrid(*[np.linspace(0, 1, n)] * d, indexing="ij")
    return np.stack(axes, axis=-1).reshape(-1, d)


def max_error(kind, n, d, scheme="central"):
    points = nodes(n, d)
    shape = (n,) * d

    def at_nodes(function):
        with jax.enable_x64(True):  # float64 forcing; the rest of the test session stays float32
            return np.asarray(jax.jit(jax.vmap(function))(points))

    u = at_nodes(exact_u).reshape(shape)
    if kind == "convection":
        eps = 0.1
        f = at_nodes(lambda x: manufactured_forcing(x, eps=eps))
        v = np.moveaxis(at_nodes(velocity).reshape(shape + (d,)), -1, 0)
        matrix = diffusion_matrix(np.full(shape, eps)) + convection_matrix(v, scheme)
    else:
        k2 = 30.0 if kind == "helmholtz" else 0.0
        f = at_nodes(lambda x: manufactured_forcing(x, k2=k2))
        a = at_nodes(coefficient).reshape(shape)
        matrix = diffusion_matrix(a) - k2 * sp.identity((n - 2) ** d)
    rhs = interior(np.asarray(f).reshape(shape))
    solution = spla.spsolve(sp.csc_matrix(matrix), rhs)
    return np.abs(embed_interior(solution, n, d) - u).max()


@pytest.mark.parametrize("kind", ["diffusion", "helmholtz", "convection"])
@pytest.mark.parametrize("d, sizes", [(2, (17, 33, 65)), (3, (9, 13, 17))])
def test_second_order_convergence_to_manufactured_solutions(kind, d, sizes):
    orders = convergence_orders(kind, d, sizes)
    assert np.all(orders > 1.85) and np.all(orders < 2.3), orders


def test_upwind_convection_converges_at_first_order():
    orders = convergence_orders("convection", 2, (33, 65, 129), scheme="upwind")
    assert np.all(orders > 0.85) and np.all(orders < 1.3), orders


def convergence_orders(kind, d, sizes, scheme="central"):
    """Observed orders log(e₁/e₂) / log(h₁/h₂) between consecutive grids."""
    errors = np.array([max_error(kind, n, d, scheme) for n in sizes])
    spacings = 1.0 / (np.array(sizes) - 1.0)
    return np.log(errors[:-1] / errors[1:]) / np.log(spacings[:-1] / spacings[1:])


def test_darcy_matrix_is_symmetric_positive_definite_and_row_sums_vanish_inside():
    a = threshold(gaussian_random_field(np.random.default_rng(0), 12))
    matrix = assemble_diffusion(a, 1.0).matrix
    assert abs(matrix - matrix.T).max() == 0
    assert np.linalg.eigvalsh(matrix.toarray()).min() > 0
    # A node whose neighbours are all interior has zero row sum (constants are in the kernel of
    # the flux differences); rows next to the boundary carry the Dirichlet coupling.
    row_sums = np.asarray(matrix.sum(axis=1)).reshape(10, 10)
    np.testing.assert_allclose(row_sums[1:-1, 1:-1], 0, atol=1e-9)
    assert np.all(row_sums[0] > 0)


def test_harmonic_averaging_differs_where_the_coefficient_jumps():
    a = np.ones((5, 5))
    a[:, 3:] = 10.0
    arithmetic = assemble_diffusion(a, 1.0, "arithmetic").matrix.toarray()
    harmonic = assemble_diffusion(a, 1.0, "harmonic").matrix.toarray()
    assert not np.allclose(arithmetic, harmonic)
    with pytest.raises(ValueError, match="averaging"):
        assemble_diffusion(a, 1.0, "geometric")


@pytest.mark.parametrize("dim, resolution, k", [(2, 24, 20.0), (3, 12, 8.0)])
def test_helmholtz_with_large_wavenumber_is_symmetric_indefinite(dim, resolution, k):
    problem = Helmholtz(resolution=resolution, dim=dim, wavenumber=k)
    matrix = problem.assemble(problem.sample(np.random.default_rng(0))).matrix
    assert abs(matrix - matrix.T).max() < 1e-12
    eigenvalues = np.linalg.eigvalsh(matrix.toarray())
    assert eigenvalues.min() < 0 < eigenvalues.max()
    small_k = Helmholtz(resolution=resolution, dim=dim, wavenumber=1.0)
    matrix = small_k.assemble(small_k.sample(np.random.default_rng(0))).matrix
    assert np.linalg.eigvalsh(matrix.toarray()).min() > 0


def test_convection_diffusion_is_non_symmetric_and_checks_the_peclet_number():
    problem = ConvectionDiffusion(resolution=33)
    theta = problem.sample(np.random.default_rng(0))
    assert theta.shape == (2, 33, 33)
    np.testing.assert_allclose(np.sqrt((theta**2).sum(axis=0)).max(), problem.speed)
    matrix = problem.assemble(theta).matrix
    assert abs(matrix - matrix.T).max() > 1e-3
    with pytest.raises(ValueError, match="Péclet"):
        ConvectionDiffusion(resolution=17, diffusion=1e-3)
    ConvectionDiffusion(resolution=17, diffusion=1e-3, scheme="upwind")  # allowed


@pytest.mark.parametrize("theta_method", [1.0, 0.5])
def test_heat_steps_decay_an_eigenmode_exactly_as_the_theta_method_predicts(theta_method):
    """sin(πx) sin(πy) is an eigenvector of the 5-point Laplacian with eigenvalue
    λ = 2 (2 - 2 cos πh) / h², so each step multiplies it by (1 - (1-θ)Δt λ) / (1 + θ Δt λ)."""
    from datagen.auto import make_solver

    n, dt = 17, 0.01
    problem = Heat(resolution=n, steps=4, time_step=dt, theta=theta_method)
    x = np.linspace(0, 1, n)
    mode = np.outer(np.sin(np.pi * x), np.sin(np.pi * x))
    solved = problem.solve(np.stack([np.ones((n, n)), mode]), make_solver("direct"))
    h = 1 / (n - 1)
    lam = 2 * (2 - 2 * np.cos(np.pi * h)) / h**2
    factor = (1 - (1 - theta_method) * dt * lam) / (1 + theta_method * dt * lam)
    for step, snapshot in enumerate(solved.outputs, start=1):
        np.testing.assert_allclose(snapshot, factor**step * mode, atol=1e-12)
    assert len(solved.results) == 4 and solved.inputs.shape == (2, n, n)


def test_every_problem_samples_deterministically_and_solves():
    from datagen.auto import make_solver

    for name in PROBLEMS:
        problem = make_problem(name, resolution=33)
        theta = problem.sample(np.random.default_rng(3))
        np.testing.assert_array_equal(theta, problem.sample(np.random.default_rng(3)))
        solved = problem.solve(theta, make_solver("direct"))
        assert solved.outputs.shape[1:] == (33, 33) and np.all(np.isfinite(solved.outputs))
        assert problem.features(theta).ndim == 1


def test_random_field_has_zero_mean_and_the_covariance_spectrum():
    """The constant mode is removed, so every sample has zero grid mean; the DCT coefficients
    have variance proportional to (π²|k|² + τ²)^(-α)."""
    n, alpha, tau = 16, 2.0, 3.0
    rng = np.random.default_rng(1)
    samples = np.stack([gaussian_random_field(rng, n, alpha=alpha, tau=tau) for _ in range(800)])
    np.testing.assert_allclose(samples.mean(axis=(1, 2)), 0, atol=1e-12)
    coefficients = fft.dctn(samples, type=2, norm="ortho", axes=(1, 2))
    variance = coefficients.var(axis=0)
    spectrum = lambda k1, k2: (np.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha)
    for mode in [(0, 1), (1, 1), (2, 1), (0, 3)]:
        ratio = (variance[mode] / variance[1, 0]) / (spectrum(*mode) / spectrum(1, 0))
        assert 0.8 < ratio < 1.25, (mode, ratio)  # 800 samples: ~5% standard error per variance


def test_thresholded_coefficient_takes_two_values_about_evenly():
    problem = Darcy(resolution=33)
    fractions = [np.mean(problem.sample(np.random.default_rng(i)) == 12.0) for i in range(200)]
    assert set(np.unique(problem.sample(np.random.default_rng(0)))) == {3.0, 12.0}
    assert 0.4 < np.mean(fractions) < 0.6  # a zero-mean symmetric field: half above zero


def test_lognormal_coefficient_and_3d():
    a = Darcy(resolution=9, coefficient="lognormal").sample(np.random.default_rng(0))
    assert a.shape == (1, 9, 9) and np.all(a > 0) and len(np.unique(a)) > 2
    assert Darcy(resolution=9, dim=3).sample(np.random.default_rng(0)).shape == (1, 9, 9, 9)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"dim": 4}, "dim 2 or 3"),
        ({"resolution": 3}, "at least 4"),
        ({"coefficient": "gaussian"}, "piecewise"),
        ({"values": (1.0, -1.0)}, "positive"),
    ],
)
def test_bad_settings_are_named(options, match):
    with pytest.raises(ValueError, match=match):
        Darcy(**options)


@pytest.mark.parametrize(
    "name, options, match",
    [
        ("poisson", {"contrast": -1.0}, "non-negative"),
        ("helmholtz", {"resolution": 8, "wavenumber": 40.0}, "points per wavelength"),
        ("convection_diffusion", {"diffusion": -0.1}, "positive"),
        ("heat", {"time_step": 0.0}, "time_step"),
        ("heat", {"theta": 0.2}, "stability"),
    ],
)
def test_bad_settings_of_the_other_families_are_named(name, options, match):
    with pytest.raises(ValueError, match=match):
        make_problem(name, **options)


def test_negative_coefficient_is_refused():
    with pytest.raises(ValueError, match="positive everywhere"):
        diffusion_matrix(-np.ones((5, 5)))
