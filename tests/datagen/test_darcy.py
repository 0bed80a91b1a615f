"""The Darcy discretization against a manufactured solution, and the random coefficients."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from scipy import fft

from datagen import Darcy
from datagen.fields import gaussian_random_field, threshold
from datagen.problems.darcy import assemble_diffusion, embed_interior


def manufactured_2d(n):
    """u = sin(πx) sin(πy), a = 1 + x² + y, f = -∇·(a∇u) worked out by hand."""
    x, y = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    s, c = np.sin, np.cos
    u = s(np.pi * x) * s(np.pi * y)
    a = 1 + x**2 + y
    f = (
        2 * np.pi**2 * a * u
        - 2 * x * np.pi * c(np.pi * x) * s(np.pi * y)
        - np.pi * s(np.pi * x) * c(np.pi * y)
    )
    return a, f, u


def manufactured_3d(n):
    """u = sin(πx) sin(πy) sin(πz), a = 2 + x y z, f = -∇·(a∇u)."""
    x, y, z = np.meshgrid(*[np.linspace(0, 1, n)] * 3, indexing="ij")
    s, c = np.sin, np.cos
    u = s(np.pi * x) * s(np.pi * y) * s(np.pi * z)
    a = 2 + x * y * z
    gradient_a_dot_gradient_u = np.pi * (
        y * z * c(np.pi * x) * s(np.pi * y) * s(np.pi * z)
        + x * z * s(np.pi * x) * c(np.pi * y) * s(np.pi * z)
        + x * y * s(np.pi * x) * s(np.pi * y) * c(np.pi * z)
    )
    f = 3 * np.pi**2 * a * u - gradient_a_dot_gradient_u
    return a, f, u


def max_error(manufactured, n):
    a, f, u = manufactured(n)
    system = assemble_diffusion(a, f)
    solution = spla.spsolve(system.matrix.tocsc(), system.rhs)
    return np.abs(embed_interior(solution, n, a.ndim) - u).max()


@pytest.mark.parametrize(
    "manufactured, sizes", [(manufactured_2d, (17, 33, 65)), (manufactured_3d, (9, 17, 33))]
)
def test_second_order_convergence(manufactured, sizes):
    errors = [max_error(manufactured, n) for n in sizes]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.9) and np.all(orders < 2.1), (errors, orders)


def test_matrix_is_symmetric_positive_definite_and_row_sums_vanish_inside():
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
    assert a.shape == (9, 9) and np.all(a > 0) and len(np.unique(a)) > 2
    assert Darcy(resolution=9, dim=3).sample(np.random.default_rng(0)).shape == (9, 9, 9)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"dim": 4}, "dim 2 or 3"),
        ({"resolution": 2}, "at least 3"),
        ({"coefficient": "gaussian"}, "piecewise"),
        ({"values": (1.0, -1.0)}, "positive"),
    ],
)
def test_bad_settings_are_named(options, match):
    with pytest.raises(ValueError, match=match):
        Darcy(**options)
