"""GMRES, GCRO-DR with recycling, the preconditioners, the solver backends and the sorting."""

import re

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from datagen.auto import make_solver
from datagen.krylov import gcrodr, gmres, make_preconditioner
from datagen.krylov.arnoldi import _orthogonalize
from datagen.krylov.gcrodr import _harmonic_ritz
from datagen.krylov.sorting import (
    curve_order,
    greedy_order,
    hilbert_index,
    path_length,
    sort_order,
)
from datagen.linear_solvers import SOLVERS, SolveError
from datagen.problems import ConvectionDiffusion, Darcy, Helmholtz


def random_nonsymmetric(n, seed, shift=0.0):
    """A sparse non-symmetric matrix with a spread-out, mostly positive spectrum."""
    rng = np.random.default_rng(seed)
    noise = sp.random(n, n, density=4 / n, random_state=rng)
    return (sp.diags(np.linspace(0.05, 5, n) + shift) + noise - 0.5 * noise.T).tocsr()


def relative(matrix, x, b):
    return np.linalg.norm(b - matrix @ x) / np.linalg.norm(b)


def solve_once(solver, system):
    """One system, one fresh state."""
    return solver.solve(solver.init(system.matrix), system.rhs)


def assert_matches_direct(matrix, x, b, rtol=1e-7):
    reference = spla.spsolve(sp.csc_matrix(matrix), b)
    np.testing.assert_allclose(x, reference, rtol=rtol, atol=rtol * np.abs(reference).max())


class CountingMatrix(spla.LinearOperator):
    """`A @ v` that counts its calls."""

    def __init__(self, matrix):
        super().__init__(np.float64, matrix.shape)
        self.matrix, self.calls = matrix, 0

    def _matvec(self, v):
        self.calls += 1
        return self.matrix @ v


def test_gmres_solves_to_tolerance_and_counts_its_matvecs():
    matrix = random_nonsymmetric(300, 0)
    b = np.random.default_rng(1).standard_normal(300)
    counted = CountingMatrix(matrix)
    outcome = gmres(lambda v: counted @ v, b, 1e-10 * np.linalg.norm(b), restart=20)
    assert relative(matrix, outcome.correction, b) <= 1e-10 * 1.01
    assert_matches_direct(matrix, outcome.correction, b)
    assert outcome.matvecs == counted.calls == outcome.iterations
    np.testing.assert_allclose(outcome.residual, b - matrix @ outcome.correction, atol=1e-12)


@pytest.mark.parametrize("restart, recycle", [(20, 5), (30, 10), (40, 20)])
def test_gcrodr_solves_random_nonsymmetric_systems(restart, recycle):
    for seed in range(3):
        matrix = random_nonsymmetric(400, seed, shift=seed * 0.3)
        b = np.random.default_rng(seed + 10).standard_normal(400)
        counted = CountingMatrix(matrix)
        outcome = gcrodr(
            lambda v: counted @ v, b, 1e-10 * np.linalg.norm(b), restart=restart, recycle=recycle
        )
        assert relative(matrix, outcome.correction, b) <= 1e-10 * 1.01
        assert_matches_direct(matrix, outcome.correction, b)
        assert outcome.matvecs == counted.calls


def test_gcrodr_recycled_space_satisfies_a_u_equals_c_with_c_orthonormal():
    matrix = random_nonsymmetric(300, 3)
    b = np.ones(300)
    target = 1e-10 * np.linalg.norm(b)
    space = gcrodr(lambda v: matrix @ v, b, target, restart=30, recycle=10).recycled
    u, c = space.basis, space.image
    assert u.shape == c.shape and 10 <= u.shape[0] <= 11
    np.testing.assert_allclose(c @ c.T, np.eye(len(c)), atol=1e-10)
    np.testing.assert_allclose((matrix @ u.T).T, c, atol=1e-8)
    assert_overlap_is_tracked(space)
    # a new matrix: the space is kept and C recomputed for it
    other = random_nonsymmetric(300, 4)
    carried = space.for_new_operator()
    assert carried.image is None
    space = gcrodr(
        lambda v: other @ v, b, target, restart=30, recycle=10, recycled=carried
    ).recycled
    np.testing.assert_allclose((other @ space.basis.T).T, space.image, atol=1e-8)
    assert_overlap_is_tracked(space)


def assert_overlap_is_tracked(space):
    """The `CᴴU` that `gcrodr` carries through small matrices equals the one from the vectors."""
    direct = space.image.conj() @ space.basis.T
    assert space.overlap is not None
    np.testing.assert_allclose(space.overlap, direct, atol=1e-9 * np.abs(direct).max())


def test_gram_schmidt_refines_only_after_heavy_cancellation():
    """One pass leaves about `ε ‖w‖/‖w'‖` along the rows: for a vector almost inside their span
    that is far from orthogonal, and the second pass must take it out; a mild cancellation
    keeps one pass, which is already orthogonal to rounding."""
    rng = np.random.default_rng(0)
    rows = np.linalg.qr(rng.standard_normal((500, 20)))[0].T
    outside = rng.standard_normal(500)
    outside -= rows.T @ (rows @ outside)
    for share in (1e-9, 0.5):  # the component of w outside span(rows)
        w = rows.T @ rng.standard_normal(20) + share * outside / np.linalg.norm(outside)
        original = w.copy()
        coefficients, norm = _orthogonalize(w, rows)
        assert np.abs(rows @ w).max() <= 1e-14 * norm
        np.testing.assert_allclose(norm, np.linalg.norm(w), rtol=1e-12)
        np.testing.assert_allclose(rows.T @ coefficients + w, original, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_harmonic_ritz_pairs_equal_the_qz_solution_of_the_pencil(dtype):
    """`GᴴG p = θ Gᴴ N p` solved as a standard problem through the QR of `G`, against QZ on the
    pencil; a rank-deficient `G` takes the QZ path itself."""
    rng = np.random.default_rng(1)

    def draw(*shape):
        x = rng.standard_normal(shape)
        return x + 1j * rng.standard_normal(shape) if dtype == np.complex128 else x

    g, inner = draw(13, 12), draw(13, 12)
    for g_case in (g, np.concatenate([g[:, :11], g[:, :1]], axis=1)):  # the second: rank 11
        gh = g_case.conj().T
        values, vectors = _harmonic_ritz(g_case, inner)
        finite = np.isfinite(values)
        assert finite.sum() >= 11
        values, vectors = values[finite], vectors[:, finite]
        residual = gh @ g_case @ vectors - (gh @ inner @ vectors) * values
        scale = np.abs(gh @ g_case).max() * np.abs(vectors).max(axis=0) * (1 + np.abs(values))
        assert np.all(np.abs(residual).max(axis=0) <= 1e-9 * scale)
    gh = g.conj().T
    reference = np.sort_complex(sla.eigvals(gh @ g, gh @ inner))
    np.testing.assert_allclose(np.sort_complex(_harmonic_ritz(g, inner)[0]), reference, rtol=1e-8)


def test_deflated_restarts_beat_plain_restarts_on_a_hard_spectrum():
    """Small eigenvalues stall GMRES(m); GCRO-DR(m, k) deflates them across restarts."""
    problem = Darcy(resolution=40, coefficient="lognormal")
    system = problem.assemble(problem.sample(np.random.default_rng(0)))
    target = 1e-8 * np.linalg.norm(system.rhs)
    apply = lambda v: system.matrix @ v
    plain = gmres(apply, system.rhs, target, restart=30)
    deflated = gcrodr(apply, system.rhs, target, restart=30, recycle=10)
    assert deflated.residual_norm <= target and plain.residual_norm <= target
    assert deflated.matvecs < 0.6 * plain.matvecs, (deflated.matvecs, plain.matvecs)


def slowly_varying_sequence(count):
    problem = Darcy(resolution=40, coefficient="lognormal")
    base = problem.sample(np.random.default_rng(0))
    rng = np.random.default_rng(1)
    thetas = [base * np.exp(0.05 * problem.random_field(rng)) for _ in range(count)]
    return [problem.assemble(theta) for theta in thetas]


def test_carrying_the_recycled_space_saves_matvecs_on_a_slowly_varying_sequence():
    systems = slowly_varying_sequence(6)

    def total(carry):
        matvecs, space = 0, None
        for system in systems:
            target = 1e-8 * np.linalg.norm(system.rhs)
            carried = space.for_new_operator() if carry and space is not None else None
            outcome = gcrodr(
                lambda v: system.matrix @ v,
                system.rhs,
                target,
                restart=30,
                recycle=10,
                recycled=carried,
            )
            assert outcome.residual_norm <= target
            matvecs, space = matvecs + outcome.matvecs, outcome.recycled
        return matvecs

    carried, fresh = total(True), total(False)
    assert carried < 0.8 * fresh, (carried, fresh)


def test_same_operator_reuses_the_deflation_space_without_matvecs():
    system = slowly_varying_sequence(1)[0]
    apply = lambda v: system.matrix @ v
    target = 1e-8 * np.linalg.norm(system.rhs)
    first = gcrodr(apply, system.rhs, target, restart=30, recycle=10)
    rhs = np.random.default_rng(5).standard_normal(system.rhs.shape)
    second = gcrodr(
        apply, rhs, 1e-8 * np.linalg.norm(rhs), restart=30, recycle=10, recycled=first.recycled
    )
    assert second.matvecs == second.iterations  # no k matvecs to refresh C
    assert second.matvecs < first.matvecs


def test_backends_keep_nothing_inside_and_carry_only_through_their_states():
    systems = slowly_varying_sequence(2)
    skr = make_solver("skr", preconditioner="jacobi")
    state = skr.init(systems[0].matrix)
    first = skr.solve(state, systems[0].rhs)
    np.testing.assert_array_equal(skr.solve(state, systems[0].rhs).solution, first.solution)
    assert first.seconds >= state.setup_seconds > 0 and first.state.setup_seconds == 0
    # SKR: the next matrix starts from the recycled space, whose image must be recomputed
    carried = skr.init(systems[1].matrix, first.state)
    assert carried.recycled.image is None
    np.testing.assert_array_equal(carried.recycled.basis, first.state.recycled.basis)
    assert skr.solve(carried, systems[1].rhs).matvecs < solve_once(skr, systems[1]).matvecs
    # GCRO-DR on each system alone, and the other backends, pass nothing on
    for name in ("gcrodr", "gmres", "direct"):
        solver = make_solver(name)
        result = solve_once(solver, systems[0])
        assert result.state.recycled is None
        assert solver.init(systems[1].matrix, result.state).recycled is None


@pytest.mark.parametrize("name", ["jacobi", "ilu", "amg"])
def test_preconditioners_cut_gmres_iterations(name):
    system = slowly_varying_sequence(1)[0]
    target = 1e-8 * np.linalg.norm(system.rhs)
    inverse = make_preconditioner(name, system.matrix)
    plain = gmres(lambda v: system.matrix @ v, system.rhs, target, restart=40)
    preconditioned = gmres(lambda v: system.matrix @ inverse(v), system.rhs, target, restart=40)
    assert preconditioned.matvecs < plain.matvecs
    with pytest.raises(ValueError, match="unknown preconditioner"):
        make_preconditioner("ssor", system.matrix)


def test_krylov_backend_reports_the_matvecs_it_made():
    matrix = random_nonsymmetric(200, 7)
    counted = CountingMatrix(matrix)
    b = np.ones(200)
    for name in ("gmres", "gcrodr", "skr"):
        counted.calls = 0
        solver = make_solver(name, preconditioner="none")
        result = solver.solve(solver.init(counted), b)
        assert result.matvecs == counted.calls - 1  # the backend's own final residual check


@pytest.mark.parametrize(
    "problem",
    [
        Darcy(resolution=24, coefficient="lognormal"),
        Helmholtz(resolution=24, wavenumber=12.0),
        ConvectionDiffusion(resolution=24, diffusion=0.05),
    ],
    ids=["darcy", "helmholtz", "convection"],
)
def test_every_applicable_backend_matches_the_direct_solution(problem):
    system = problem.assemble(problem.sample(np.random.default_rng(0)))
    spd = problem.symmetric and problem.definite
    for name, backend in SOLVERS.items():
        if (backend.spd_only and not spd) or backend.learned:  # dcdm: test_dcdm.py trains one
            continue
        result = solve_once(make_solver(name, tolerance=1e-10), system)
        assert result.relative_residual <= 1e-10
        assert relative(system.matrix, result.solution, system.rhs) == pytest.approx(
            result.relative_residual
        )
        assert_matches_direct(system.matrix, result.solution, system.rhs, rtol=1e-6)


def test_a_preconditioner_that_cannot_be_built_is_a_solve_error():
    """An incomplete factorization that meets an exactly singular pivot (met on a Helmholtz
    sample) fails that sample as a `SolveError`, which the generator can skip, not as SuperLU's
    bare `RuntimeError`."""
    singular = sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(SolveError, match="ilu preconditioner could not be built"):
        make_solver("gmres", preconditioner="ilu").init(singular)


def test_a_tolerance_that_cannot_be_met_in_the_limit_raises():
    system = slowly_varying_sequence(1)[0]
    with pytest.raises(SolveError, match="max_matvecs"):
        solve_once(make_solver("gmres", preconditioner="none", max_matvecs=20), system)
    with pytest.raises(ValueError, match="tolerance"):
        make_solver("skr", tolerance=0.0)
    with pytest.raises(ValueError, match="unknown solver"):
        make_solver("minres")


@pytest.mark.parametrize("name", ["gmres", "gcrodr", "skr"])
def test_a_stagnating_solve_says_it_stagnated_and_stops_early(name):
    """The cyclic shift: restarted GMRES with fewer steps than the size makes no progress at all
    from b = e_1 (each cycle's Krylov space misses the solution e_n); GCRO-DR's deflation space
    of eigenvectors of a unitary matrix cannot help either."""
    n = 60
    shift = sp.csr_matrix(np.roll(np.eye(n), 1, axis=0))
    rhs = np.eye(n)[0]
    recycling = {} if name == "gmres" else {"recycle": 3}
    solver = make_solver(name, preconditioner="none", restart=8, max_matvecs=5000, **recycling)
    with pytest.raises(SolveError, match="stagnated.*after (\\d+) matrix") as caught:
        solver.solve(solver.init(shift), rhs)
    spent = int(re.search(r"after (\d+) matrix", str(caught.value)).group(1))
    assert spent < 200  # stopped after a few idle cycles, not at the limit of 5000


def test_sorting_returns_permutations_that_shorten_the_path():
    rng = np.random.default_rng(0)
    features = np.cumsum(rng.standard_normal((400, 6)), axis=0)[rng.permutation(400)]
    for method in ("greedy", "curve", "auto", "none"):
        order = sort_order(features, method)
        assert sorted(order.tolist()) == list(range(400))
    random_length = path_length(features, np.arange(400))
    assert path_length(features, greedy_order(features)) < 0.5 * random_length
    assert path_length(features, curve_order(features, cell=50)) < 0.5 * random_length
    with pytest.raises(ValueError, match="sort method"):
        sort_order(features, "random")


def test_hilbert_curve_visits_a_grid_in_unit_steps():
    for d, bits in [(2, 4), (3, 3)]:
        points = np.stack(np.meshgrid(*[np.arange(2**bits)] * d, indexing="ij"), -1).reshape(-1, d)
        index = hilbert_index(points, bits)
        assert sorted(index.tolist()) == list(range(len(points)))
        steps = np.abs(np.diff(points[np.argsort(index)], axis=0)).sum(axis=1)
        assert np.all(steps == 1)


@pytest.mark.parametrize("method", ["gmres", "gcrodr"])
def test_krylov_methods_solve_complex_systems(method):
    """A complex non-Hermitian system, against a dense solve: the same code runs in complex
    arithmetic when the residual and operator are complex (a recycled space passes along)."""
    rng = np.random.default_rng(3)
    n = 120
    real = random_nonsymmetric(n, 11).toarray()
    matrix = real + 1j * np.diag(rng.uniform(0.1, 1.0, n)) + 0.05j * rng.standard_normal((n, n))
    b = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    target = 1e-10 * np.linalg.norm(b)
    solve = gmres if method == "gmres" else gcrodr
    options = {"restart": 20} if method == "gmres" else {"restart": 20, "recycle": 8}
    outcome = solve(lambda v: matrix @ v, b, target, **options)
    exact = np.linalg.solve(matrix, b)
    assert outcome.correction.dtype == np.complex128
    np.testing.assert_allclose(outcome.correction, exact, atol=1e-8 * np.abs(exact).max())
    if method == "gcrodr":  # the carried space is complex, and the second solve uses it
        again = gcrodr(lambda v: matrix @ v, b, target, recycled=outcome.recycled, **options)
        assert again.recycled.basis.dtype == np.complex128
        assert_overlap_is_tracked(again.recycled)
        assert again.matvecs < outcome.matvecs
        np.testing.assert_allclose(again.correction, exact, atol=1e-8 * np.abs(exact).max())
    with pytest.raises(TypeError, match="complex"):
        solve(lambda v: matrix @ v, b.real, target, **options)
