"""The dataset format and the generator pipeline: provenance, atomic shards, resume, errors."""

import h5py
import numpy as np
import pytest

import datagen
from datagen import DatasetFileError
from datagen.format import (
    Provenance,
    ShardInfo,
    list_shards,
    read_header,
    shard_name,
    write_shard,
)
from datagen.linear_solvers import DirectSolver, SolveError


def generate(*args, **options):
    """The generator with the direct solver in this process (these tests are about the pipeline)."""
    return datagen.generate(
        *args, **{"solver": "direct", "workers": 1, "progress": False, **options}
    )


def read_all(directory):
    inputs, outputs = [], []
    for header in list_shards(directory):
        with h5py.File(header.path) as f:
            inputs.append(f["inputs"][()])
            outputs.append(f["outputs"][()])
    return np.concatenate(inputs), np.concatenate(outputs)


def test_shards_record_provenance_and_grid(tmp_path):
    report = generate("darcy", 10, tmp_path, resolution=9, shard_size=4, seed=3, tolerance=1e-10)
    headers = list_shards(tmp_path)
    assert [h.path.name for h in headers] == [shard_name(i) for i in range(3)]
    assert [h.num_samples for h in headers] == [4, 4, 2]
    assert report.shards_written == 3 and report.max_relative_residual < 1e-10
    header = headers[0]
    assert header.provenance.problem == "darcy" and header.provenance.seed == 3
    assert header.provenance.parameters["resolution"] == 9
    assert header.provenance.solver == "direct" and header.provenance.tolerance == 1e-10
    assert header.input_shape == header.output_shape == (1, 9, 9)
    np.testing.assert_array_equal(header.grid[0], np.linspace(0, 1, 9))
    assert header.version and header.created
    assert not list(tmp_path.glob("*.tmp"))


def test_samples_depend_on_seed_and_index_only(tmp_path):
    generate("darcy", 12, tmp_path / "a", resolution=9, shard_size=5)
    generate("darcy", 12, tmp_path / "b", resolution=9, shard_size=12)
    generate("darcy", 12, tmp_path / "c", resolution=9, shard_size=12, seed=1, progress=False)
    a, b, c = read_all(tmp_path / "a"), read_all(tmp_path / "b"), read_all(tmp_path / "c")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_stored_solution_solves_the_stored_problem(tmp_path):
    generate("darcy", 2, tmp_path, resolution=17)
    inputs, outputs = read_all(tmp_path)
    system = datagen.Darcy(resolution=17).assemble(inputs[0].astype(np.float64))
    u = outputs[0, 0, 1:-1, 1:-1].ravel().astype(np.float64)
    residual = np.linalg.norm(system.matrix @ u - system.rhs) / np.linalg.norm(system.rhs)
    assert residual < 1e-5  # float32 storage of a float64 solution
    np.testing.assert_array_equal(outputs[0, 0, 0], 0)  # Dirichlet boundary


def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    generate("darcy", 9, reference, resolution=9, shard_size=3)

    calls = {"n": 0}
    original = DirectSolver.solve

    def crash_on_the_fifth_solve(self, state, rhs, initial_guess=None):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, state, rhs, initial_guess)

    out = tmp_path / "resumed"
    monkeypatch.setattr(DirectSolver, "solve", crash_on_the_fifth_solve)
    with pytest.raises(KeyboardInterrupt):
        generate("darcy", 9, out, resolution=9, shard_size=3)
    monkeypatch.setattr(DirectSolver, "solve", original)
    assert sorted(p.name for p in out.glob("shard-*")) == [shard_name(0)]
    (out / (shard_name(1) + ".999999999.tmp")).write_bytes(b"half a file")  # a killed writer's
    with pytest.raises(DatasetFileError, match="incomplete"):
        list_shards(out)

    report = generate("darcy", 9, out, resolution=9, shard_size=3)
    assert (report.shards_skipped, report.shards_written) == (1, 2)
    assert not list(out.glob("*.tmp"))
    for got, want in zip(read_all(out), read_all(reference)):
        np.testing.assert_array_equal(got, want)


def test_a_truncated_shard_is_regenerated_and_reported_clearly(tmp_path):
    generate("darcy", 4, tmp_path, resolution=9, shard_size=2)
    path = tmp_path / shard_name(1)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DatasetFileError, match="truncated or corrupt"):
        read_header(path)
    report = generate("darcy", 4, tmp_path, resolution=9, shard_size=2)
    assert report.shards_written == 1
    assert len(list_shards(tmp_path)) == 2


def test_refuses_to_mix_two_datasets_in_one_directory(tmp_path):
    generate("darcy", 4, tmp_path, resolution=9, shard_size=2)
    with pytest.raises(DatasetFileError, match="different dataset"):
        generate("darcy", 4, tmp_path, resolution=9, shard_size=2, seed=5)
    with pytest.raises(DatasetFileError, match="4 samples, not 6"):
        generate("darcy", 6, tmp_path, resolution=9, shard_size=2)


def test_missing_directory_and_foreign_files_are_named(tmp_path):
    with pytest.raises(DatasetFileError, match="does not exist"):
        list_shards(tmp_path / "nowhere")
    with pytest.raises(DatasetFileError, match="holds no dataset shards"):
        list_shards(tmp_path)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DatasetFileError, match="not a jaxsciml-dataset"):
        read_header(foreign)


def test_writer_refuses_non_finite_values_and_bad_shapes(tmp_path):
    info = ShardInfo(Provenance("test", {}, "none", 0.0, 0), (np.linspace(0, 1, 4),))
    with pytest.raises(ValueError, match="non-finite"):
        write_shard(tmp_path / "a.h5", np.full((1, 1, 4), np.nan), np.zeros((1, 1, 4)), info)
    with pytest.raises(ValueError, match="do not match"):
        write_shard(tmp_path / "b.h5", np.zeros((1, 1, 5)), np.zeros((1, 1, 5)), info)


def test_unconverged_solve_raises():
    system = datagen.Darcy(resolution=5).assemble(np.ones((5, 5)))
    with pytest.raises(SolveError, match="residual"):
        solver = DirectSolver(tolerance=1e-30)
        solver.solve(solver.init(system.matrix), system.rhs)


def test_unknown_problem_and_solver_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown data family 'stokes'; available: darcy"):
        generate("stokes", 1, tmp_path)
    with pytest.raises(ValueError, match="unknown solver 'bicg'"):
        generate("darcy", 1, tmp_path, solver="bicg")
