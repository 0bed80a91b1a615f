"""Batched JAX solves (`batched-cg`, `batched-bicgstab`): many systems in one compiled iteration."""

import h5py
import jax
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import datagen
from datagen.auto import Auto, solve_sequence, warm_up
from datagen.chain import balanced_groups
from datagen.format import list_shards, read_rows
from datagen.generator import sample_rng
from datagen.krylov.batched import SparseBatch, _apply, _cg_batch, batched_bicgstab, batched_cg
from datagen.linear_solvers import BatchedBiCGSTABSolver, BatchedCGSolver, SolveError
from datagen.problems import ConvectionDiffusion, Darcy, Heat


def systems_of(problem, count, seed=0):
    return [problem.assemble(problem.sample(sample_rng(seed, i))) for i in range(count)]


def targets(rhs, tolerance=1e-10):
    return tolerance * np.linalg.norm(rhs, axis=1)


@pytest.mark.parametrize("layout", ["ell", "banded", "auto"])
def test_both_layouts_multiply_like_the_sparse_matrices(layout):
    """Random matrices (rows of different lengths, an empty one, many diagonals) and a stencil
    batch, packed either way: `A x` of the packed batch is SciPy's product, system by system;
    `auto` packs the random ones as ELLPACK and the stencils by diagonals."""
    rng = np.random.default_rng(0)
    random = [sp.random(30, 30, density=0.2, random_state=s, format="csr") for s in range(3)]
    random[1] = sp.csr_matrix(random[1].multiply(np.arange(30)[:, None] != 4))  # an empty row
    stencils = [s.matrix for s in systems_of(Darcy(resolution=9), 3)]
    for matrices in (random, stencils):
        packed = SparseBatch.of(matrices, jacobi=False, layout=layout)
        if layout == "auto":
            assert (packed.offsets is None) == (matrices is random)
        if packed.offsets is None:
            assert packed.values.shape[-1] == max(np.diff(m.indptr).max() for m in matrices)
        n = matrices[0].shape[0]
        x = rng.normal(size=(3, n))
        expected = np.stack([m @ v for m, v in zip(matrices, x)])
        with jax.enable_x64(True):
            product = _apply(packed.values, packed.columns, packed.offsets, x)
        np.testing.assert_allclose(product, expected, rtol=1e-13, atol=1e-14)
        np.testing.assert_array_equal(packed.inverse_diagonal, 1.0)


def test_packing_refuses_mixed_sizes_and_jacobi_without_a_diagonal():
    with pytest.raises(ValueError, match="one size"):
        SparseBatch.of([sp.identity(4), sp.identity(5)])
    with pytest.raises(ValueError, match="nonzero diagonal"):
        SparseBatch.of([sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))])


def test_batched_cg_solves_darcy_like_a_direct_solve_and_counts_like_scipy():
    """Each system reaches its own target and agrees with sparse LU; the products each system
    spends equal SciPy's Jacobi-preconditioned CG on that system alone (±1 for where the
    stopping test sits), although the batch runs until its slowest system is done."""
    systems = systems_of(Darcy(resolution=20), 4)
    rhs = np.stack([s.rhs for s in systems])
    x, matvecs = batched_cg(SparseBatch.of([s.matrix for s in systems]), rhs, targets(rhs))
    for system, solution, spent in zip(systems, x, matvecs, strict=True):
        direct = spla.spsolve(system.matrix.tocsc(), system.rhs)
        assert np.abs(solution - direct).max() <= 1e-8 * np.abs(direct).max()
        steps = []
        inverse = spla.LinearOperator(
            system.matrix.shape, matvec=lambda v, s=system: v / s.matrix.diagonal()
        )
        spla.cg(system.matrix, system.rhs, rtol=1e-10, M=inverse, callback=steps.append)
        assert abs(int(spent) - len(steps)) <= 1
    assert len(set(matvecs.tolist())) > 1  # the systems really stopped at different steps


def test_a_system_solves_the_same_in_any_batch():
    """Masking converged systems leaves the others' iterations alone: a system's solution and
    count do not depend on its companions or its place in the batch."""
    systems = systems_of(Darcy(resolution=20), 3)
    rhs = np.stack([s.rhs for s in systems])
    together, counts = batched_cg(SparseBatch.of([s.matrix for s in systems]), rhs, targets(rhs))
    order = [2, 0]
    pair, pair_counts = batched_cg(
        SparseBatch.of([systems[i].matrix for i in order]), rhs[order], targets(rhs[order])
    )
    np.testing.assert_allclose(pair, together[order], rtol=0, atol=1e-13)
    np.testing.assert_array_equal(pair_counts, counts[order])


def test_batched_bicgstab_solves_nonsymmetric_systems():
    """Convection-diffusion (nonsymmetric): every system meets its target, checked with the
    assembled matrix, and agrees with sparse LU."""
    systems = systems_of(ConvectionDiffusion(resolution=33), 3)
    rhs = np.stack([s.rhs for s in systems])
    assert any(abs(s.matrix - s.matrix.T).max() > 1e-3 for s in systems)
    x, matvecs = batched_bicgstab(SparseBatch.of([s.matrix for s in systems]), rhs, targets(rhs))
    for system, solution in zip(systems, x, strict=True):
        residual = np.linalg.norm(system.rhs - system.matrix @ solution)
        assert residual <= 1.01e-10 * np.linalg.norm(system.rhs)
        direct = spla.spsolve(system.matrix.tocsc(), system.rhs)
        assert np.abs(solution - direct).max() <= 1e-7 * np.abs(direct).max()
    assert np.all(matvecs > 0)


def test_a_zero_right_hand_side_takes_no_products():
    matrix = Darcy(resolution=8).assemble(Darcy(resolution=8).sample(sample_rng(0, 0))).matrix
    rhs = np.zeros((1, matrix.shape[0]))
    for method in (batched_cg, batched_bicgstab):
        x, matvecs = method(SparseBatch.of([matrix]), rhs, 0.0)
        assert not np.any(x) and matvecs[0] == 0


def test_solve_batch_fails_only_the_systems_that_miss_the_tolerance():
    """A batch's hard system (a stiff, badly scaled Laplacian) runs out of products and comes
    back as a `SolveError`; the easy one in the same batch is a result, with the batch's time
    shared between them."""
    n = 40
    laplacian = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="csr")
    easy = sp.identity(n, format="csr") * 3.0 + 0.1 * laplacian
    rhs = [np.ones(n), np.ones(n)]
    solver = BatchedCGSolver(tolerance=1e-10, max_matvecs=8)
    outcomes = solver.solve_batch([easy, laplacian], rhs)
    assert not isinstance(outcomes[0], SolveError)
    assert outcomes[0].relative_residual <= 1e-10 and outcomes[0].matvecs <= 8
    assert isinstance(outcomes[1], SolveError)
    assert "8 matrix-vector products" in str(outcomes[1])


def test_balanced_groups_cut_evenly():
    assert [len(g) for g in balanced_groups(list(range(100)), 32)] == [25, 25, 25, 25]
    assert [len(g) for g in balanced_groups(list(range(7)), 3)] == [2, 3, 2]
    assert balanced_groups(list(range(3)), 8) == [[0, 1, 2]]
    groups = balanced_groups(list(range(70)), 32)
    assert sum(groups, []) == list(range(70)) and max(map(len, groups)) <= 32


def test_backends_check_their_settings():
    with pytest.raises(ValueError, match="batch_size"):
        BatchedCGSolver(batch_size=0)
    with pytest.raises(ValueError, match="'jacobi' or 'none'"):
        BatchedBiCGSTABSolver(preconditioner="ilu")
    with pytest.raises(ValueError, match="symmetric positive"):
        datagen.generate("convection_diffusion", 2, "unused", solver="batched-cg", progress=False)


def test_generate_with_a_batched_backend_in_groups(tmp_path):
    """From the registry by name, as the command line does: 7 Darcy samples in one shard, solved
    in groups of at most 3; every stored solution matches sparse LU on the stored parameters,
    and the shard records the batched backend and its settings."""
    problem = Darcy(resolution=17)
    datagen.generate(
        "darcy", 7, tmp_path, resolution=17, solver="batched-cg",
        solver_options={"batch_size": 3}, shard_size=7, workers=1, progress=False,
    )  # fmt: skip
    (header,) = list_shards(tmp_path)
    with h5py.File(header.path) as f:
        inputs, outputs = read_rows(f, header, slice(None))
        assert f.attrs["backend"] == "batched-cg"
        assert np.all(f["solve/relative_residual"][()] <= 1e-8)
        assert np.all(f["solve/matvecs"][()] > 0)
    assert len(inputs) == 7
    for theta, u in zip(inputs, outputs, strict=True):
        system = problem.assemble(theta.astype(np.float64))
        direct = spla.spsolve(system.matrix.tocsc(), system.rhs)
        assert np.abs(u[0][1:-1, 1:-1].ravel() - direct).max() <= 1e-5 * np.abs(direct).max()


def test_a_family_with_several_systems_a_sample_is_solved_one_system_at_a_time():
    """Heat takes its implicit steps in turn (each starts from the last), so a batched backend
    solves each as a batch of one from that initial guess; the steps agree with the direct
    solver's."""
    problem = Heat(resolution=12, steps=3)
    theta = problem.sample(sample_rng(0, 0))
    batched = problem.solve(theta, BatchedCGSolver(tolerance=1e-10))
    direct = problem.solve(theta, datagen.linear_solvers.DirectSolver())
    assert len(batched.results) == 3
    np.testing.assert_allclose(batched.outputs, direct.outputs, rtol=0, atol=1e-8)


def test_auto_races_the_batched_backend():
    darcy, convection = Darcy(resolution=17), ConvectionDiffusion(resolution=33)
    assert [c.label for c in Auto().candidates(darcy)][-2:] == [
        "cg-amg+jacobi",
        "batched-cg+jacobi",
    ]
    assert [c.name for c in Auto().candidates(convection)][-2:] == ["bicgstab", "batched-bicgstab"]
    cube = Darcy(resolution=9, dim=3)  # 3D: the short recurrences first, sparse LU last
    labels = [c.label for c in Auto().candidates(cube)]
    assert labels[:2] == ["cg-amg+jacobi", "batched-cg+jacobi"] and labels[-1] == "direct"
    thetas = [darcy.sample(sample_rng(0, i)) for i in range(2)]
    seconds, matvecs = solve_sequence(darcy, thetas, BatchedCGSolver())
    assert seconds > 0 and matvecs > 0


def test_the_race_warm_up_compiles_what_the_timed_run_then_calls():
    """The warm-up spends one product per system but compiles the very shapes of the timed run,
    which then compiles nothing (its budget is an argument, not a shape)."""
    darcy = Darcy(resolution=13)  # a size no other test compiles
    thetas = [darcy.sample(sample_rng(1, i)) for i in range(2)]
    compiled = _cg_batch._cache_size()
    warm_up(darcy, thetas, BatchedCGSolver())
    assert _cg_batch._cache_size() == compiled + 1
    assert solve_sequence(darcy, thetas, BatchedCGSolver())[1] > 2  # it ran to the tolerance
    assert _cg_batch._cache_size() == compiled + 1


def test_systems_left_above_the_tolerance_are_rerun_from_their_true_residual():
    """The batched iteration's tracked residual can drift from the true one; `_iterate` reruns,
    in the same batch, the systems whose true residual is still above the target, starting from
    that residual, while a system already done sits out (target `inf`, nothing added)."""
    matrices = [sp.identity(3, format="csr") * 2.0, sp.identity(3, format="csr") * 4.0]
    calls = []

    class Drifting(BatchedCGSolver):
        def _method(self, batch, rhs, target, budget):
            calls.append(target.copy())
            exact = rhs / np.array([2.0, 4.0])[:, None]
            exact[np.isinf(target)] = 0.0
            if len(calls) == 1:
                exact[1] *= 1 + 1e-6  # the second system stops early, its residual 1e-6
            return exact, np.where(np.isinf(target), 0, 5)

    solver = Drifting(tolerance=1e-10)
    outcomes = solver.solve_batch(matrices, [np.ones(3), np.ones(3)])
    assert len(calls) == 2 and np.isinf(calls[1][0]) and np.isfinite(calls[1][1])
    assert [o.matvecs for o in outcomes] == [6, 12]  # + one true residual per pass it ran in
    np.testing.assert_allclose(outcomes[1].solution, 0.25, rtol=1e-14)
