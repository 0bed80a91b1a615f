"""The fault suite of datagen: killed runs, a full disk, two runs on one directory, damaged shards.

Each fault ends in one of two outcomes, and a test checks which: the original data (after a
rerun where the fault interrupted the writing), or a `DatasetFileError` that names the file and
the remedy. Never other data, never a crash, never a silent exit.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import datagen
from datagen import DatasetFileError
from datagen.format import shard_name
from datagen.progress import LineProgress
from jaxsciml import cli
from jaxsciml.data import load


DARCY = {"resolution": 33, "coefficient": "lognormal", "solver": "direct", "progress": False}
SLOW = {**DARCY, "resolution": 65, "solver": "skr"}  # some 0.1 s a shard: kills land mid-run


def run_script(code: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], **popen)


def generate_script(out, workers=1) -> str:
    """A run of the `slow_reference` dataset into `out`."""
    return (
        "import datagen\n"
        f"datagen.generate('darcy', 48, {str(out)!r}, shard_size=2, workers={workers}, "
        f"**{SLOW!r})\n"
    )


def shards(directory) -> dict[str, int]:
    """Every finished shard's name with its modification time."""
    return {p.name: p.stat().st_mtime_ns for p in directory.glob("shard-*.h5")}


def all_samples(directory):
    dataset = load(directory)
    batch = dataset.read(np.arange(len(dataset)))
    return batch.inputs, batch.outputs


def assert_same_data(a, b):
    for x, y in zip(all_samples(a), all_samples(b)):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run faulty ones must end up equal to: 24 samples in 12 shards."""
    out = tmp_path_factory.mktemp("reference")
    datagen.generate("darcy", 24, out, shard_size=2, workers=1, **DARCY)
    return out


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory):
    """The same for runs that are killed or raced: 48 samples in 24 shards, some 3 s of work."""
    out = tmp_path_factory.mktemp("slow_reference")
    datagen.generate("darcy", 48, out, shard_size=2, workers=1, **SLOW)
    return out


def wait_for(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


@pytest.mark.slow
@pytest.mark.parametrize("workers, kills", [(1, 3), (2, 1)])
def test_sigkill_at_random_moments_then_a_rerun_gives_the_uninterrupted_data(
    tmp_path, slow_reference, workers, kills
):
    """Kills at random moments of a run (its workers must die with it: nothing is written after
    the kill), each followed by the rerun that the next kill interrupts."""
    out, rng = tmp_path / "killed", np.random.default_rng(workers)
    for attempt in range(kills):
        before = len(shards(out)) if out.exists() else 0
        process = run_script(generate_script(out, workers=workers))
        wait_for(lambda: out.exists() and len(shards(out)) > before)
        time.sleep(rng.uniform(0.0, 0.2))
        process.send_signal(signal.SIGKILL)
        process.wait()
        after_kill = shards(out)
        time.sleep(1.0)  # an orphaned worker would finish another shard in this time
        assert shards(out) == after_kill, f"attempt {attempt}: shards written after the kill"
    assert len(after_kill) < 24, "the last kill should land mid-run"
    report = datagen.generate("darcy", 48, out, shard_size=2, workers=workers, **SLOW)
    assert report.shards_skipped == len(after_kill) and report.num_samples == 48
    assert not list(out.glob("*.tmp"))
    assert_same_data(out, slow_reference)


def test_a_full_disk_is_a_clear_error_that_leaves_nothing_and_a_rerun_finishes(tmp_path, reference):
    """A file-size limit (as a full disk does) fails the first shard write: the command exits 2
    naming the file and the cause, leaves no temporary file, and a rerun makes the dataset."""
    out = tmp_path / "full"
    arguments = ["datagen", "darcy", "--n", "24", "--out", str(out), "--shard-size", "2"]
    arguments += ["--resolution", "33", "--coefficient", "lognormal", "--solver", "direct"]
    arguments += ["--workers", "1", "--quiet"]
    limited = (  # past the limit, write() fails with EFBIG (SIGXFSZ ignored), as on a full disk
        "import resource, signal, sys\n"
        "from jaxsciml import cli\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        f"sys.exit(cli.main({arguments!r}))\n"
    )
    full = subprocess.run(
        [sys.executable, "-c", limited], capture_output=True, text=True, timeout=300
    )
    assert full.returncode == 2, full.stderr[-2000:]
    assert f"writing {out / shard_name(0)} failed: File too large" in full.stderr
    assert "Traceback" not in full.stderr
    assert not list(out.glob("*.tmp")) and not shards(out)
    assert cli.main(arguments) == 0
    assert_same_data(out, reference)


def test_two_runs_on_one_directory_never_mix(tmp_path, slow_reference):
    """While one run writes, a second with another seed is refused (the manifest) and a second
    with the same settings is refused by the part's lock, naming the process; both leave the
    first run's work alone, and the directory ends as the reference."""
    out = tmp_path / "shared"
    first = run_script(generate_script(out))
    wait_for(lambda: (out / "dataset.json").exists())
    with pytest.raises(DatasetFileError, match="belongs to a different dataset"):
        datagen.generate("darcy", 48, out, seed=1, shard_size=2, workers=1, **SLOW)
    with pytest.raises(DatasetFileError, match=f"process {first.pid}\\) is writing part 0"):
        datagen.generate("darcy", 48, out, shard_size=2, workers=1, **SLOW)
    assert first.wait(timeout=300) == 0
    assert_same_data(out, slow_reference)


def test_another_shard_size_is_refused_and_a_rerun_without_one_finishes(tmp_path, reference):
    out = tmp_path / "resized"
    partial = datagen.generate("darcy", 24, out, shard_size=2, part=(0, 3), workers=1, **DARCY)
    assert partial.shards_written == 4
    with pytest.raises(DatasetFileError, match="shards of 2 samples, not 3; rerun with shard"):
        datagen.generate("darcy", 24, out, shard_size=3, workers=1, **DARCY)
    report = datagen.generate("darcy", 24, out, workers=1, **DARCY)  # the size it began with
    assert (report.shards_skipped, report.shards_written) == (4, 8)
    assert_same_data(out, reference)


def test_a_run_that_failed_before_its_first_shard_binds_nothing(tmp_path, reference):
    """A solver limit too small fails the first sample: no shard is written, and a rerun with
    other solver settings (another dataset, by its provenance) is not refused for it."""
    out = tmp_path / "failed"
    with pytest.raises(datagen.SolveError):
        datagen.generate(
            "darcy", 24, out, shard_size=2, workers=1,
            **{**DARCY, "solver": "gmres", "solver_options": {"max_matvecs": 3}},
        )  # fmt: skip
    assert not shards(out)
    datagen.generate("darcy", 24, out, shard_size=2, workers=1, **DARCY)
    assert_same_data(out, reference)
    with pytest.raises(ValueError, match="seed must be a non-negative"):
        datagen.generate("darcy", 24, tmp_path / "negative", seed=-1, **DARCY)
    assert not (tmp_path / "negative").exists()


def damage(path, rng) -> str:
    """Flip one to three random bits of a file, or cut it at a random length."""
    data = bytearray(path.read_bytes())
    if rng.random() < 0.2:
        cut = int(rng.integers(len(data)))
        path.write_bytes(bytes(data[:cut]))
        return f"truncated at {cut}"
    flips = [(int(rng.integers(len(data))), int(rng.integers(8))) for _ in range(rng.integers(3))]
    for position, bit in flips + [(int(rng.integers(len(data))), int(rng.integers(8)))]:
        data[position] ^= 1 << bit
    path.write_bytes(bytes(data))
    return f"bits flipped at {flips}"


def test_damaged_shards_read_as_the_original_data_or_a_named_error(tmp_path, reference):
    """300 shards damaged at random: every read gives the original samples or a
    `DatasetFileError` naming the file; a rerun of the generator repairs a damaged dataset."""
    rng, outcomes = np.random.default_rng(0), {"original": 0, "named error": 0}
    for trial in range(300):
        shard = reference / shard_name(int(rng.integers(12)))
        victim = tmp_path / shard.name
        shutil.copyfile(shard, victim)
        how = damage(victim, rng)
        try:
            got = all_samples(victim)
        except DatasetFileError as error:
            assert str(victim) in str(error), (how, error)
            outcomes["named error"] += 1
            continue
        outcomes["original"] += 1
        for a, b in zip(got, all_samples(shard)):
            np.testing.assert_array_equal(a, b, err_msg=f"trial {trial}: {how}")
    assert min(outcomes.values()) >= 10, outcomes  # both outcomes were exercised
    work = tmp_path / "work"
    shutil.copytree(reference, work)
    for shard in (3, 7):
        damage(work / shard_name(shard), np.random.default_rng(shard))
    with pytest.raises(DatasetFileError, match="shard-0000[37]"):
        all_samples(work)
    report = datagen.generate("darcy", 24, work, shard_size=2, workers=1, **DARCY)
    assert report.shards_written == 2
    assert_same_data(work, reference)


def test_a_shard_that_reaches_outside_its_file_is_refused(tmp_path, reference):
    import h5py

    work = tmp_path / "linked"
    shutil.copytree(reference, work)
    with h5py.File(work / shard_name(0), "a") as f:
        f["elsewhere"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/data")
    with pytest.raises(DatasetFileError, match="elsewhere is a link"):
        load(work)


def test_a_script_that_starts_a_run_at_import_is_told_to_guard_it(tmp_path):
    """Workers are spawned, and each imports the main module: a script that calls `generate`
    at import runs it again in every worker, which dies. The error says what to write."""
    script = tmp_path / "make_data.py"
    script.write_text(generate_script(tmp_path / "data", workers=2))
    finished = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 1
    assert "if __name__ == '__main__':" in finished.stderr.splitlines()[-1]


def test_progress_in_a_log_file_is_a_bounded_number_of_lines(capsys):
    """Not on a terminal: a line at most every `interval` seconds with count, total, rate and
    time left, and one at the end; never one per sample."""
    progress = LineProgress(total=4000, description="darcy -> out", unit="sample", interval=0.05)
    start = time.monotonic()
    for _ in range(4000):
        progress.update(1)
        time.sleep(0.00005)
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert 1 <= len(lines) <= (time.monotonic() - start) / 0.05 + 2
    assert lines[-1].startswith("darcy -> out: 4000/4000 samples (100%)")
    assert "sample/s" in lines[0] and "ETA" in lines[0]


def test_a_run_writes_no_bar_into_a_log_file(tmp_path, capsys):
    """Even in a process that imported IPython's kernel (as a notebook runner does) without
    being one."""
    import ipykernel  # noqa: F401
    import IPython  # noqa: F401

    datagen.generate("darcy", 4, tmp_path, resolution=9, solver="direct", workers=1)
    err = capsys.readouterr().err
    assert "\r" not in err and len(err.splitlines()) <= 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_regular_file_named_checkpoints_is_refused_before_anything_is_written(tmp_path):
    """The command exits 2 at once (no hang, no traceback) and writes nothing into the run."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").write_text("not a directory")
    data = tmp_path / "data"
    datagen.generate("antiderivative", 8, data, sensors=8, fine=50, workers=1, progress=False)
    command = [sys.executable, "-m", "jaxsciml.cli", "train", "--run-dir", str(run)]
    command += ["--data", str(data), "--set", "model.name='deeponet'"]
    command += ["--set", "model.branch_widths=[4]", "--set", "model.trunk_widths=[4]"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2, finished.stderr[-2000:]
    assert "checkpoints is a file" in finished.stderr and "Traceback" not in finished.stderr
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints"]


def test_a_killed_writer_not_yet_reaped_leaves_no_temporary_behind(tmp_path):
    """A worker killed with its run is a zombie until something reaps it (in some containers,
    nothing does): it answers signals but writes no more, so its temporary file is abandoned."""
    from datagen.claim import remove_abandoned_temporaries

    child = subprocess.Popen(["sleep", "30"])
    child.kill()
    time.sleep(0.3)  # killed, not reaped: a zombie
    abandoned = tmp_path / f"shard-00001.h5.{child.pid}.tmp"
    writing = tmp_path / f"shard-00002.h5.{os.getpid()}.tmp"  # a live writer's file stays
    abandoned.write_bytes(b"half a shard")
    writing.write_bytes(b"being written")
    try:
        assert remove_abandoned_temporaries(tmp_path) == [abandoned]
        assert writing.exists() and not abandoned.exists()
    finally:
        child.wait()
