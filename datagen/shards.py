"""The one shard driver: plan a dataset's shards, skip the finished ones, make and write the rest.

Every family goes through `write_dataset`, so every family resumes the same way: a shard is the
unit of work, of resumption and of distribution. Shards are written atomically, a rerun checks
each finished shard against the run's provenance and skips it, `part=(i, N)` takes every N-th
shard (for Slurm arrays or many machines), and local workers make different shards in parallel
processes when the generator allows it. Every shard records its samples' numbers, so readers
present samples by number whatever the order they were made in.
"""

import concurrent.futures
import ctypes
import dataclasses
import math
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datagen.claim import part_lock, remove_abandoned_temporaries, settle_manifest
from datagen.format import (
    DatasetFileError,
    Provenance,
    ShardHeader,
    ShardInfo,
    shard_name,
    verify_shard,
    write_shard,
)
from datagen.generator import Generator, ShardContent
from datagen.progress import progress_bar


@dataclasses.dataclass(frozen=True)
class GenerationReport:
    """What a `generate` call did.

    **Fields:** the `directory`; `num_samples` stored by this call's shards and those found
    finished; `shards_written` now and `shards_skipped` (finished before); wall-clock `seconds`;
    the `backend` that made the data and the `race` that chose it, if one ran; over the shards
    written now: the worst `max_relative_residual` and the total `matvecs` and `iterations` (zero
    for families without an iterative solver), and the `failed_samples` left out of the data.
    """

    directory: Path
    num_samples: int
    shards_written: int
    shards_skipped: int
    seconds: float
    backend: str
    max_relative_residual: float = 0.0
    matvecs: int = 0
    iterations: int = 0
    failed_samples: tuple[int, ...] = ()
    race: tuple = ()


@dataclasses.dataclass(frozen=True)
class ShardTask:
    """One shard to make: where it goes and what it declares besides its arrays."""

    path: Path
    indices: tuple[int, ...]
    shard_index: int
    num_shards: int
    sample_offset: int
    num_samples_total: int
    provenance: Provenance
    grid: tuple[np.ndarray, ...]


@dataclasses.dataclass(frozen=True)
class ShardOutcome:
    stored: int
    failed: tuple[int, ...]
    backend: str
    max_relative_residual: float
    matvecs: int
    iterations: int


def finished_shard(
    path: Path, provenance: Provenance, num_samples_total: int, shard_index: int, indices
) -> ShardHeader | None:
    """The header of `path` if it is a finished shard `shard_index` of this very dataset holding
    (or having failed) exactly the samples `indices`, every one intact, so a rerun can skip it;
    `None` when it is missing, damaged or holds other samples. A shard of another dataset
    raises."""
    if not path.exists():
        return None
    try:
        header = verify_shard(path)
    except DatasetFileError:
        return None  # truncated, corrupt or foreign: make it again
    if header.provenance != provenance:
        raise DatasetFileError(
            f"{path} belongs to a different dataset ({header.provenance}); write to a new "
            "directory, or delete the old one to regenerate."
        )
    if header.num_samples_total != num_samples_total:
        raise DatasetFileError(
            f"{path} belongs to a dataset of {header.num_samples_total} samples, not "
            f"{num_samples_total}; write to a new directory, or delete the old one to "
            "regenerate."
        )
    held = set(header.sample_index.tolist()) | set(header.failed_samples)
    same = header.shard_index == shard_index and held == {int(i) for i in indices}
    return header if same else None


def write_content(task: ShardTask, content: ShardContent) -> ShardOutcome:
    """Write the shard `task` holding `content` (the samples a generator made for it)."""
    if len(content.sample_index) == 0:
        raise RuntimeError(f"every sample of {task.path} failed: {list(content.failed_samples)}")
    info = ShardInfo(
        provenance=task.provenance,
        grid=task.grid,
        shard_index=task.shard_index,
        num_shards=task.num_shards,
        sample_offset=task.sample_offset,
        num_samples_total=task.num_samples_total,
        sample_index=content.sample_index,
        failed_samples=content.failed_samples,
        backend=content.backend,
        backend_settings=content.backend_settings,
    )
    write_shard(task.path, content.inputs, content.outputs, info, content.statistics)
    statistics = content.statistics
    return ShardOutcome(
        stored=len(content.sample_index),
        failed=tuple(int(i) for i in content.failed_samples),
        backend=content.backend,
        max_relative_residual=float(np.max(statistics.get("relative_residual", 0.0))),
        matvecs=int(np.sum(statistics.get("matvecs", 0))),
        iterations=int(np.sum(statistics.get("iterations", 0))),
    )


def make_and_write(generator: Generator, seed: int, task: ShardTask, progress=None) -> ShardOutcome:
    """Make one shard's samples and write the shard (in whichever process runs the task)."""
    return write_content(task, generator.make_shard(seed, task.indices, progress))


PR_SET_PDEATHSIG = 1  # Linux prctl(2)
_progress_channel = None  # in a worker process: where its progress goes (set by `_start_worker`)


def _report_progress(samples: int, iterations: int) -> None:
    _progress_channel.put((samples, iterations))


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)  # the run that started this worker is gone (killed): write nothing more


def _die_with_parent() -> bool:
    """On Linux, have the kernel kill this process the moment its parent ends; whether it will."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError):
        return False  # not Linux


def _start_worker(channel, parent: int) -> None:
    """In each worker process: send progress to `channel`, and end when the parent ends (at
    once on Linux, within 0.2 s elsewhere), so a killed run leaves no worker writing."""
    global _progress_channel
    _progress_channel = channel
    if not _die_with_parent():
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it ended before the kernel was told
        os._exit(1)


def worker_died(in_this_process: str) -> RuntimeError:
    """The error for a pool whose worker process died (`BrokenProcessPool`). `in_this_process`:
    the option that solves without workers, as the caller spells it."""
    return RuntimeError(
        "a solver process died. Worker processes start by importing the main module, so in a "
        "script the run must start under `if __name__ == '__main__':` (a process killed for "
        f"memory ends the same way); or pass {in_this_process} to solve in this process"
    )


def _run(generator: Generator, seed: int, tasks: list[ShardTask], workers: int, bar) -> list:
    """Make `tasks` in this process (one worker) or in `workers` spawned processes, which end
    with this one however it ends."""
    seen = {"samples": 0, "iterations": 0}

    def advance(samples: int, iterations: int) -> None:
        seen["samples"] += samples
        seen["iterations"] += iterations
        bar.update(samples)
        if seen["iterations"]:
            bar.set_postfix(iterations_per_sample=seen["iterations"] // max(seen["samples"], 1))

    if workers <= 1:
        return [make_and_write(generator, seed, task, advance) for task in tasks]
    context = multiprocessing.get_context("spawn")
    channel = context.Queue()
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(channel, os.getpid())
    ) as pool:
        futures = [
            pool.submit(make_and_write, generator, seed, task, _report_progress) for task in tasks
        ]
        try:
            while not all(f.done() for f in futures):
                try:
                    advance(*channel.get(timeout=0.2))
                except queue.Empty:
                    pass
            while not channel.empty():
                advance(*channel.get())
            return [f.result() for f in futures]
        except concurrent.futures.process.BrokenProcessPool as error:
            raise worker_died("workers=1") from error
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def shard_tasks(
    generator: Generator,
    n: int,
    out: Path,
    seed: int,
    order: Sequence[int],
    shard_size: int,
    part: tuple[int, int],
) -> list[ShardTask]:
    """Every shard of this part of the dataset, in shard order."""
    index, parts = part
    provenance, grid = generator.provenance(seed), generator.grid()
    num_shards = math.ceil(n / shard_size)
    return [
        ShardTask(
            path=out / shard_name(shard),
            indices=tuple(int(i) for i in order[shard * shard_size : (shard + 1) * shard_size]),
            shard_index=shard,
            num_shards=num_shards,
            sample_offset=shard * shard_size,
            num_samples_total=n,
            provenance=provenance,
            grid=grid,
        )
        for shard in range(index, num_shards, parts)
    ]


def plan_shards(
    generator: Generator,
    n: int,
    out: Path,
    seed: int,
    order: Sequence[int],
    shard_size: int,
    part: tuple[int, int],
) -> tuple[list[ShardTask], list[ShardHeader]]:
    """This part's shards of the dataset: those still to make, and the headers of those finished."""
    tasks, finished = [], []
    for task in shard_tasks(generator, n, out, seed, order, shard_size, part):
        header = finished_shard(task.path, task.provenance, n, task.shard_index, task.indices)
        if header is None:
            tasks.append(task)
        else:
            finished.append(header)
    return tasks, finished


def check_request(n, seed, shard_size, workers, part) -> None:
    """Refuse, before anything is touched, settings that cannot describe a run."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative whole number, got {seed!r}")
    for name, value in (("n", n), ("shard_size", shard_size), ("workers", workers)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if value is not None and value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
    index, parts = part
    if not (isinstance(index, int) and isinstance(parts, int) and 0 <= index < parts):
        raise ValueError(f"part must be (i, N) with 0 <= i < N, got {part}")


def write_dataset(
    generator: Generator,
    n: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    shard_size: int | None = None,
    workers: int | None = None,
    part: tuple[int, int] = (0, 1),
    progress: bool = True,
) -> GenerationReport:
    """Write `n` samples of `generator` into the shard directory `out`, resuming a partial run.

    **Arguments:** `seed`, the base seed (sample `i` uses the stream `[seed, i]`); `shard_size`,
    samples per shard (default: the one `out` was started with, else the generator's);
    `workers`, local processes making shards in parallel (default: the CPU count; one for
    generators that cannot run in processes); `part` `(i, N)` makes only shards `j` with
    `j % N == i`, the same split on every machine; `progress` shows a bar on a terminal, else a
    line every 30 s.

    **Safe to rerun and to kill:** the run claims `out` (`datagen.claim`): settings of another
    dataset are refused before anything is written, one part is written by one run at a time,
    worker processes end with the run, and a rerun checks every finished shard (damaged ones
    are made again) and makes the rest.
    """
    check_request(n, seed, shard_size, workers, part)
    if not generator.processes and (workers or 1) > 1:
        raise ValueError(
            f"{generator.name} runs in this process (it drives JAX), not in {workers} worker "
            "processes; leave workers unset"
        )
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DatasetFileError(f"{out} is a file, not a dataset directory")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    settings = (out, generator.provenance(seed), n, shard_size, generator.default_shard_size)
    settle_manifest(*settings, write=False)  # another dataset is named as such, not as a lock
    with part_lock(out, part) as lock:
        manifest = settle_manifest(*settings, own_lock=lock)
        remove_abandoned_temporaries(out)
        order = generator.order(n, seed, out, progress)
        tasks, finished = plan_shards(generator, n, out, seed, order, manifest.shard_size, part)
        generator, race = generator.prepared(n, seed, order, out)
        workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
        if not generator.processes:
            workers = 1
        todo = sum(len(task.indices) for task in tasks)
        with progress_bar(todo, f"{generator.name} -> {out}", "sample", progress) as bar:
            outcomes = _run(generator, seed, tasks, workers, bar)
    backends = [o.backend for o in outcomes]
    return GenerationReport(
        directory=out,
        num_samples=sum(o.stored for o in outcomes) + sum(h.num_samples for h in finished),
        shards_written=len(outcomes),
        shards_skipped=len(finished),
        seconds=time.perf_counter() - start,
        backend=backends[0] if backends else generator.provenance(seed).solver,
        max_relative_residual=max((o.max_relative_residual for o in outcomes), default=0.0),
        matvecs=sum(o.matvecs for o in outcomes),
        iterations=sum(o.iterations for o in outcomes),
        failed_samples=tuple(i for o in outcomes for i in o.failed),
        race=race,
    )
