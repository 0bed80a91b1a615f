"""The shifted-Laplacian multigrid (`shifted-mg`) for indefinite Helmholtz, and its wiring."""

import json

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import datagen
from datagen.auto import Auto, make_solver
from datagen.format import list_shards, read_rows
from datagen.generator import sample_rng
from datagen.krylov import make_preconditioner
from datagen.krylov.multigrid import ShiftedMultigrid, linear_interpolation, prolongation
from datagen.linear import LinearGenerator
from datagen.linear_solvers import SolveError
from datagen.problems import Darcy, Helmholtz


@pytest.mark.parametrize("fine", [7, 6])
def test_interpolation_is_exact_for_coarse_piecewise_linear_functions(fine):
    """A function linear between the coarse nodes and zero on the boundary is reproduced at
    every fine node, for odd and even numbers of interior nodes."""
    h = 1.0 / (fine + 1)
    x = h * np.arange(1, fine + 1)
    coarse_x = x[1::2]
    kink = coarse_x[len(coarse_x) // 2]  # a coarse node
    f = lambda t: np.where(t <= kink, t / kink, (1 - t) / (1 - kink))  # noqa: E731
    operator = linear_interpolation(fine)
    assert operator.shape == (fine, fine // 2)
    if fine % 2:  # the last coarse node is one fine step from the far boundary otherwise
        np.testing.assert_allclose(operator @ f(coarse_x), f(x), atol=1e-14)
    else:
        np.testing.assert_allclose((operator @ f(coarse_x))[:-1], f(x)[:-1], atol=1e-14)
    expected = np.kron(operator.toarray(), linear_interpolation(5).toarray())
    np.testing.assert_allclose(prolongation((fine, 5)).toarray(), expected)


def shifted_helmholtz(resolution, dim, seed=0, **options):
    problem = Helmholtz(resolution=resolution, dim=dim, **options)
    system = problem.assemble(problem.sample(sample_rng(seed, 0)))
    return problem, system


@pytest.mark.parametrize("resolution, dim", [(66, 2), (34, 3)])
def test_v_cycle_contracts_the_error_of_the_shifted_operator(resolution, dim):
    """As a stand-alone iteration on `M = A + iσI` (σ = k²/2), one V-cycle shrinks the residual
    `‖b - M x‖` by at least 0.7 per cycle (the literature's ~0.5-0.6), coarsening as far as
    2 points per wavelength allow (3 levels in 2-D, 2 in 3-D here)."""
    problem, system = shifted_helmholtz(resolution, dim)
    options = problem.shifted_laplacian()
    cycle = ShiftedMultigrid(system.matrix, **options, coarse_size=10)
    assert len(cycle.levels) == 5 - dim
    assert (
        len(ShiftedMultigrid(system.matrix, options["grid"], 1.0, coarse_size=10).levels) > 5 - dim
    )
    shifted = system.matrix + 1j * options["shift"] * sp.identity(system.rhs.size)
    x = np.zeros(system.rhs.size, complex)
    residuals = [np.linalg.norm(system.rhs)]
    for _ in range(8):
        x += cycle(system.rhs - shifted @ x)
        residuals.append(np.linalg.norm(system.rhs - shifted @ x))
    assert (residuals[-1] / residuals[0]) ** (1 / 8) < 0.7


@pytest.mark.parametrize("name", ["gcrotmk", "gcrodr"])
def test_shifted_mg_solves_indefinite_3d_helmholtz(name):
    """k = 20 on a 22³ grid (indefinite): the recycling Krylov backends, iterating in complex
    arithmetic, reach the tolerance with a real solution equal to the direct solve's. Neither
    Jacobi with the same method nor restarted GMRES(40) with the same preconditioner (which loses
    the near-resonant modes at each restart) gets there in 3 times as many matrix-vector
    products."""
    problem, system = shifted_helmholtz(22, 3)
    x = np.linspace(0, 1, 22)[1:-1]
    mode = np.einsum("i,j,k->ijk", *(np.sin(np.pi * x),) * 3).ravel()
    assert mode @ system.matrix @ mode < 0 < system.matrix.diagonal().min()  # indefinite
    options = problem.shifted_laplacian()
    shifted = make_solver(name, preconditioner="shifted-mg", **options)
    result = shifted.solve(shifted.init(system.matrix), system.rhs)
    assert result.relative_residual <= 1e-8 and result.solution.dtype == np.float64
    direct = spla.spsolve(system.matrix.tocsc(), system.rhs)
    np.testing.assert_allclose(result.solution, direct, rtol=0, atol=1e-5 * np.abs(direct).max())
    budget = 3 * result.matvecs
    for other in (
        make_solver(name, preconditioner="jacobi", max_matvecs=budget),
        make_solver("gmres", preconditioner="shifted-mg", max_matvecs=budget, **options),
    ):
        with pytest.raises(SolveError):
            other.solve(other.init(system.matrix), system.rhs)


def test_shifted_mg_is_refused_where_it_cannot_work():
    problem, system = shifted_helmholtz(22, 3)
    options = problem.shifted_laplacian()
    with pytest.raises(ValueError, match="real arithmetic"):
        make_solver("cg-amg", preconditioner="shifted-mg", **options)
    with pytest.raises(ValueError, match="grid"):
        make_solver("gcrotmk", preconditioner="shifted-mg")
    with pytest.raises(ValueError, match="grid"):
        make_preconditioner("shifted-mg", system.matrix)
    with pytest.raises(ValueError, match="unknowns"):
        ShiftedMultigrid(system.matrix, (20, 20, 19), 1.0)
    with pytest.raises(ValueError, match="shift"):
        ShiftedMultigrid(system.matrix, options["grid"], 0.0)


def test_shifted_mg_settings_survive_json_and_come_from_the_problem():
    problem = Helmholtz(resolution=24, dim=3, wavenumber=10.0)
    assert problem.shifted_laplacian() == {
        "grid": (22, 22, 22),
        "shift": 50.0,
        "wavelength": pytest.approx(2 * np.pi * 23 / 10),
    }
    generator = LinearGenerator(problem=problem, solver="gcrotmk", preconditioner="shifted-mg")
    solver = generator.backend()
    assert (solver.grid, solver.shift) == ((22, 22, 22), 50.0) and solver.wavelength > 14
    stored = json.loads(json.dumps(solver.settings()))
    assert make_solver("gcrotmk", **stored) == solver
    candidates = [c.label for c in Auto().candidates(problem)]
    assert candidates[:3] == ["bicgstab+shifted-mg", "gcrotmk+shifted-mg", "skr+shifted-mg"]
    assert "gcrotmk+shifted-mg" not in [c.label for c in Auto().candidates(Darcy(resolution=16))]


def test_skr_carries_a_complex_recycled_space_along_helmholtz_samples():
    """With the complex preconditioner SKR's recycled space is complex; carried to the next
    (sorted) sample it is refreshed there and the solve still meets the tolerance."""
    problem = Helmholtz(resolution=16, dim=3, wavenumber=10.0)
    solver = make_solver("skr", preconditioner="shifted-mg", **problem.shifted_laplacian())
    state = None
    for i in range(3):
        solved = problem.solve(problem.sample(sample_rng(1, i)), solver, state)
        state = solved.state
        assert solved.results[0].relative_residual <= solver.tolerance
        assert state.recycled is not None and state.recycled.basis.dtype == np.complex128


def test_generate_writes_helmholtz_solved_with_shifted_mg(tmp_path):
    """From the registry by name, as the command line does: the generator fills the grid, shift
    and wavelength in; every solve met the tolerance (recorded in float64) and the stored float32
    solutions agree with sparse LU on the stored (float32) parameters."""
    problem = Helmholtz(resolution=22, dim=3)
    datagen.generate(
        "helmholtz", 2, tmp_path, resolution=22, dim=3, solver="skr",
        preconditioner="shifted-mg", shard_size=2, workers=1,
    )  # fmt: skip
    (header,) = list_shards(tmp_path)
    with h5py.File(header.path) as f:
        inputs, outputs = read_rows(f, header, slice(None))
        assert np.all(f["solve/relative_residual"][()] <= 1e-8)
        assert np.all(f["solve/matvecs"][()] > 0)
    for theta, u in zip(inputs, outputs, strict=True):
        system = problem.assemble(theta.astype(np.float64))
        direct = spla.spsolve(system.matrix.tocsc(), system.rhs)
        stored = u[0][1:-1, 1:-1, 1:-1].ravel()
        assert np.abs(stored - direct).max() <= 1e-4 * np.abs(direct).max()
