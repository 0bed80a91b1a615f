"""The generator with sorting and recycling: order, determinism, crash safety, parts, the race."""

import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import datagen
from datagen import auto as auto_module
from datagen.auto import Auto
from datagen.format import list_shards, read_header
from datagen.linear_solvers import SolveError
from jaxsciml.data import load


SKR = {"solver": "skr", "workers": 1, "progress": False}


def shard_arrays(directory):
    """Every shard's arrays, by file name."""
    arrays = {}
    for header in list_shards(directory):
        with h5py.File(header.path) as f:
            arrays[header.path.name] = {
                name: f[name][()] for name in ("inputs", "outputs", "sample_index")
            }
    return arrays


def assert_same_shards(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        for key in a[name]:
            np.testing.assert_array_equal(a[name][key], b[name][key], err_msg=f"{name}/{key}")


def test_sorted_shards_hold_scattered_samples_that_readers_present_by_number(tmp_path):
    options = {"resolution": 17, "coefficient": "lognormal", "shard_size": 8}
    report = datagen.generate("darcy", 20, tmp_path / "skr", tolerance=1e-10, **options, **SKR)
    datagen.generate(
        "darcy", 20, tmp_path / "direct", solver="direct", workers=1, progress=False, **options
    )
    assert report.backend == "skr" and report.num_samples == 20 and report.matvecs > 0
    headers = list_shards(tmp_path / "skr")
    numbers = np.concatenate([h.sample_index for h in headers])
    assert sorted(numbers.tolist()) == list(range(20))
    assert not np.array_equal(numbers, np.arange(20))  # the sort moved samples across shards
    with h5py.File(headers[0].path) as f:
        assert f.attrs["backend"] == "skr"
        assert set(f["solve"]) == {
            "iterations",
            "matvecs",
            "seconds",
            "relative_residual",
            "systems",
        }
        assert np.all(f["solve/relative_residual"][()] <= 1e-10)
        assert np.all(f["solve/matvecs"][()] > 0)
    skr, direct = load(tmp_path / "skr"), load(tmp_path / "direct")
    by_skr, by_direct = skr.read(np.arange(20)), direct.read(np.arange(20))
    np.testing.assert_array_equal(by_skr.inputs, by_direct.inputs)  # the same samples, by number
    u_direct = by_direct.outputs
    np.testing.assert_allclose(
        by_skr.outputs, u_direct, rtol=1e-5, atol=1e-6 * np.abs(u_direct).max()
    )


def test_generation_is_deterministic_by_seed(tmp_path):
    options = {"resolution": 25, "shard_size": 5}
    datagen.generate("helmholtz", 10, tmp_path / "a", seed=4, **options, **SKR)
    datagen.generate("helmholtz", 10, tmp_path / "b", seed=4, **options, **SKR)
    datagen.generate("helmholtz", 10, tmp_path / "c", seed=5, **options, **SKR)
    assert_same_shards(shard_arrays(tmp_path / "a"), shard_arrays(tmp_path / "b"))
    first = lambda d: load(d).read(np.arange(10)).inputs
    assert not np.array_equal(first(tmp_path / "a"), first(tmp_path / "c"))


def test_a_generator_killed_mid_run_resumes_to_the_same_files(tmp_path):
    options = dict(resolution=65, coefficient="lognormal", shard_size=2)
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    datagen.generate("darcy", 30, reference, **options, **SKR)
    script = (
        "import datagen\n"
        f"datagen.generate('darcy', 30, {str(killed)!r}, resolution=65, "
        "coefficient='lognormal', shard_size=2, solver='skr', workers=1, progress=False)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 120
    while not list(killed.glob("shard-*.h5")) and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = list(killed.glob("shard-*.h5"))
    assert 0 < len(finished) < 15, "the kill should land mid-run"
    for path in finished:  # whatever is under a final name is complete
        assert read_header(path).num_samples == 2
    report = datagen.generate("darcy", 30, killed, **options, **SKR)
    assert report.shards_skipped == len(finished)
    assert_same_shards(shard_arrays(killed), shard_arrays(reference))


@pytest.mark.slow
def test_parts_and_local_workers_reproduce_a_single_run(tmp_path):
    options = dict(resolution=17, diffusion=0.05, shard_size=3)
    datagen.generate("convection_diffusion", 10, tmp_path / "one", **options, **SKR)
    for i in range(3):
        datagen.generate(
            "convection_diffusion", 10, tmp_path / "parts", part=(i, 3), **options, **SKR
        )
    datagen.generate(
        "convection_diffusion", 10, tmp_path / "workers", **options, **{**SKR, "workers": 2}
    )
    one = shard_arrays(tmp_path / "one")
    assert_same_shards(one, shard_arrays(tmp_path / "parts"))
    assert_same_shards(one, shard_arrays(tmp_path / "workers"))


def test_unconverged_samples_raise_or_are_left_out(tmp_path):
    options = dict(
        resolution=33,
        coefficient="lognormal",
        solver="gmres",
        solver_options={"preconditioner": "none", "max_matvecs": 60},
        workers=1,
        progress=False,
    )
    with pytest.raises(SolveError, match="sample"):
        datagen.generate("darcy", 4, tmp_path / "raise", **options)
    # GMRES(40) needs 184, 211, 190 and 302 matvecs for samples 0-3: a budget of 200 fails two
    options["solver_options"]["max_matvecs"] = 200
    report = datagen.generate("darcy", 4, tmp_path / "skip", on_failure="skip", **options)
    assert report.failed_samples == (1, 3) and report.num_samples == 2
    dataset = load(tmp_path / "skip")
    assert len(dataset) == report.num_samples
    assert set(dataset.source.sample_numbers) == set(range(4)) - set(report.failed_samples)


def test_heat_samples_are_trajectories_with_per_step_statistics(tmp_path):
    datagen.generate("heat", 4, tmp_path, resolution=17, steps=3, **SKR)
    header = list_shards(tmp_path)[0]
    assert header.input_shape == (2, 17, 17) and header.output_shape == (3, 17, 17)
    with h5py.File(header.path) as f:
        np.testing.assert_array_equal(f["solve/systems"][()], 3)
    batch = load(tmp_path).read(np.arange(4))
    inputs, outputs = batch.inputs, batch.outputs
    assert np.all(np.abs(outputs[:, -1]).max(axis=(1, 2)) < np.abs(inputs[:, 1]).max(axis=(1, 2)))


def test_race_picks_the_fastest_candidate_and_generate_records_it(tmp_path):
    problem = datagen.problems.Helmholtz(resolution=25)
    thetas = [problem.sample(np.random.default_rng(i)) for i in range(2)]
    auto = Auto(tolerance=1e-8)
    entries = auto.race(problem, thetas, num_samples=10**6)
    timed = [e for e in entries if e.seconds is not None]
    assert len(timed) >= 2  # a run of a million samples is worth racing
    assert {e.name for e in entries} == {
        "skr",
        "gcrotmk",
        "gmres",
        "bicgstab",
        "batched-bicgstab",
        "direct",
    }
    assert len(entries) == len(auto.candidates(problem))
    assert entries[0].seconds / entries[0].samples == min(e.seconds / e.samples for e in timed)
    # SKR carries its space to the second sample and the batched backend solves both at once;
    # every other backend is timed on the first sample alone
    assert all(e.samples == (2 if e.name in ("skr", "batched-bicgstab") else 1) for e in timed)
    report = datagen.generate("darcy", 6, tmp_path, resolution=17, shard_size=3, progress=False)
    assert report.race and report.backend == report.race[0].name
    assert read_header(tmp_path / "shard-00000.h5").provenance.solver == "auto"
    with h5py.File(tmp_path / "shard-00000.h5") as f:
        assert f.attrs["backend"] == report.backend


def test_a_short_run_keeps_the_lead_timed_on_one_sample():
    """A short run is not worth starting other candidates for, and sparse LU's second sample
    would be the same work again: the race solves one system (which the run solves again)."""
    problem = datagen.problems.Darcy(resolution=17)
    thetas = [problem.sample(np.random.default_rng(i)) for i in range(3)]
    lead, *others = Auto(tolerance=1e-8).race(problem, thetas, num_samples=3)
    assert lead.name == "direct" and lead.seconds > 0 and lead.samples == 1
    assert others and all(e.seconds is None and e.note.startswith("not raced") for e in others)


def test_the_race_starts_as_many_candidates_as_its_share_of_the_run_pays_for(monkeypatch):
    """A further candidate costs a process start and at most its time limit; the race's share
    of the run, at the pace of the fastest so far, pays for so many, and a faster one shrinks it."""
    seconds = iter([1.0, 0.25, 2.0])  # the lead takes 1 s on its sample; the next one 0.25 s
    monkeypatch.setattr(auto_module, "_in_process", lambda *a: ("ok", (next(seconds), 9)))
    monkeypatch.setattr(auto_module, "_in_subprocess", lambda *a: ("ok", (next(seconds), 9)))
    monkeypatch.setattr(auto_module, "PROCESS_SECONDS", 1.0)
    monkeypatch.setattr(auto_module, "RACE_SHARE", 0.1)
    problem = datagen.problems.Darcy(resolution=17)
    entries = Auto(slack=1.25).race(problem, [None, None], num_samples=60)
    # at the lead's 1 s a sample the run takes 60 s, whose tenth would pay for AMG-CG's
    # 1 + 1.25 x 1 s and then SKR's 1 + 1.25 x 1 s x 2 samples; at AMG-CG's 0.25 s a sample it
    # is 1.5 s, which no longer pays for SKR's 1 + 1.25 x 0.25 s x 2
    assert [e.solver().label for e in entries[:2]] == ["cg-amg", "direct"]
    assert [e.seconds for e in entries[:2]] == [0.25, 1.0]
    assert len(entries) == len(Auto().candidates(problem)) > 3
    assert all(e.seconds is None and e.note.startswith("not raced") for e in entries[2:])


@pytest.mark.parametrize(
    "problem, options, match",
    [
        ("darcy", {"resolution": 3}, "at least 4"),
        ("darcy", {"values": (12.0, -3.0)}, "positive"),
        ("convection_diffusion", {"resolution": 33, "solver": "cg-amg"}, "symmetric positive"),
        ("darcy", {"tolerance": 0.0}, "tolerance"),
        ("darcy", {"on_failure": "ignore"}, "on_failure"),
        ("darcy", {"part": (3, 3)}, "part"),
        ("darcy", {"sort": "random"}, "sort method"),
    ],
)
def test_bad_input_gets_a_clear_error(tmp_path, problem, options, match):
    with pytest.raises(ValueError, match=match):
        datagen.generate(problem, 4, tmp_path, **{"progress": False, "workers": 1, **options})
