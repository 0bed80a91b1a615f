"""DCDM: the iteration against direct solves (exact inverse: one step; a fixed SPD
preconditioner: converges to the tolerance), the network's training on Ritz vectors, and the
backend inside the generator."""

import h5py
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse.linalg as spla

import datagen
from datagen.auto import make_solver
from datagen.generator import sample_rng
from datagen.krylov import dcdm
from datagen.problems import make_problem


def _system(name="darcy", resolution=18, **options):
    problem = make_problem(name, resolution=resolution, **options)
    theta = problem.sample(sample_rng(0, 3))
    system = problem.assemble(theta)
    return problem, theta, system.matrix.tocsr(), system.rhs


def test_the_exact_inverse_converges_in_one_step():
    _, _, matrix, rhs = _system()
    lu = spla.splu(matrix.tocsc())
    outcome = dcdm(lambda v: matrix @ v, rhs, lu.solve, 1e-10 * np.linalg.norm(rhs))
    assert outcome.iterations == 1 and outcome.matvecs == 2
    np.testing.assert_allclose(outcome.correction, lu.solve(rhs), rtol=1e-10)


def test_a_fixed_spd_preconditioner_converges_to_the_direct_solution():
    """Jacobi directions on variable-coefficient Darcy: preconditioned CG in exact arithmetic,
    so it must reach 1e-8 within the dimension; the residual is recomputed, so it is true."""
    _, _, matrix, rhs = _system()
    jacobi = 1.0 / matrix.diagonal()
    outcome = dcdm(
        lambda v: matrix @ v, rhs, lambda r: jacobi * r, 1e-8 * np.linalg.norm(rhs),
        max_iterations=matrix.shape[0],
    )  # fmt: skip
    direct = spla.spsolve(matrix.tocsc(), rhs)
    assert np.linalg.norm(rhs - matrix @ outcome.correction) <= 1e-8 * np.linalg.norm(rhs)
    np.testing.assert_allclose(outcome.correction, direct, rtol=1e-6, atol=1e-10)
    assert outcome.iterations < 100  # n = 256 unknowns; CG-like convergence, not a sweep


@pytest.mark.slow
def test_a_trained_network_cuts_the_iterations_and_serves_as_a_backend(tmp_path):
    from datagen.dcdm_network import (
        load_network,
        network_direction,
        save_network,
        train_direction_network,
    )

    problem, theta, matrix, rhs = _system("poisson", resolution=18, contrast=0.0)
    side = int(np.sqrt(matrix.shape[0]))
    network, losses = train_direction_network(
        matrix, (side, side), samples=400, ritz=100, steps=400, batch_size=8
    )
    assert losses[-1] < 0.2 * losses[0]  # the normalized residual of the best multiple
    target = 1e-6 * np.linalg.norm(rhs)
    learned = dcdm(lambda v: matrix @ v, rhs, network_direction(network, (side, side)), target)
    plain = dcdm(lambda v: matrix @ v, rhs, lambda r: r, target, max_iterations=500)
    assert learned.iterations < plain.iterations / 2, (learned.iterations, plain.iterations)

    path = save_network(tmp_path / "poisson16.npz", network)
    probe = jnp.asarray(np.random.default_rng(0).normal(size=(side, side)), jnp.float32)
    np.testing.assert_array_equal(load_network(path)(probe), network(probe))
    solver = make_solver("dcdm", network=str(path), tolerance=1e-8)
    solved = problem.solve(theta, solver, None)
    (result,) = solved.results
    np.testing.assert_allclose(result.solution, spla.spsolve(matrix.tocsc(), rhs), rtol=1e-6)
    assert result.relative_residual <= 1e-8 and result.iterations < plain.iterations

    options = dict(resolution=18, contrast=0.0, workers=1, progress=False)
    network_options = {"network": str(path)}
    datagen.generate(
        "poisson", 2, tmp_path / "d", solver="dcdm", solver_options=network_options, **options
    )
    datagen.generate("poisson", 2, tmp_path / "l", solver="direct", **options)
    made, reference = (datagen.format.list_shards(tmp_path / name) for name in ("d", "l"))
    with h5py.File(made[0].path) as a, h5py.File(reference[0].path) as b:
        np.testing.assert_allclose(a["outputs"][:], b["outputs"][:], rtol=1e-6, atol=1e-12)


def test_the_backend_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ValueError, match="dcdm needs network=PATH"):
        make_solver("dcdm")


def test_the_network_pools_and_upsamples_any_grid_in_two_and_three_dimensions(getkey):
    from datagen.dcdm_network import DirectionNetwork

    for dimensions, shape in ((2, (7, 10)), (3, (5, 6, 7))):
        network = DirectionNetwork(4, dimensions, key=getkey())
        r = jnp.asarray(np.random.default_rng(0).normal(size=shape), jnp.float32)
        assert network(r).shape == shape
        # linear layers around ReLUs with biases: not scale-invariant, but finite everywhere
        assert jnp.isfinite(network(r)).all()
    with pytest.raises(ValueError, match="3-D grids"):
        network(jnp.zeros((4, 4)))
    with pytest.raises(ValueError, match="dimensions must be 2 or 3"):
        DirectionNetwork(4, 1, key=getkey())


@pytest.mark.slow
def test_a_three_dimensional_network_serves_the_backend_on_a_cube(tmp_path):
    from datagen.dcdm_network import save_network, train_direction_network

    problem, theta, matrix, rhs = _system("poisson", resolution=10, contrast=0.0, dim=3)
    assert matrix.shape[0] == 8**3
    network, losses = train_direction_network(
        matrix, (8, 8, 8), samples=200, ritz=60, steps=300, batch_size=8, features=8
    )
    assert losses[-1] < 0.1 * losses[0]
    path = save_network(tmp_path / "poisson8cubed.npz", network)
    solver = make_solver("dcdm", network=str(path), tolerance=1e-8)
    (result,) = problem.solve(theta, solver, None).results
    np.testing.assert_allclose(result.solution, spla.spsolve(matrix.tocsc(), rhs), rtol=1e-6)
    assert result.relative_residual <= 1e-8
    plain = dcdm(lambda v: matrix @ v, rhs, lambda r: r, 1e-8 * np.linalg.norm(rhs))
    # 22 against 33 when written; 300 steps of a small network, so only a clear cut is asked
    assert result.iterations < 0.8 * plain.iterations, (result.iterations, plain.iterations)
    with pytest.raises(ValueError, match="3-D grids of equal sides"):
        _, _, flat, _ = _system("poisson", resolution=10, contrast=0.0)  # 64 unknowns: 4³
        make_solver("dcdm", network=str(path)).init(flat[:63, :63])
