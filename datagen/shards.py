"""The one shard driver: plan a dataset's shards, skip the finished ones, make and write the rest.

Every family goes through `write_dataset`, so every family resumes the same way: a shard is the
unit of work, of resumption and of distribution. Shards are written atomically, a rerun checks
each finished shard against the run's provenance and skips it, `part=(i, N)` takes every N-th
shard (for Slurm arrays or many machines), and local workers make different shards in parallel
processes when the generator allows it. Every shard records its samples' numbers, so readers
present samples by number whatever the order they were made in.
"""

import concurrent.futures
import dataclasses
import math
import multiprocessing
import os
import queue
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from datagen.format import (
    DatasetFileError,
    Provenance,
    ShardHeader,
    ShardInfo,
    read_header,
    shard_name,
    write_shard,
)
from datagen.generator import Generator


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
    (or having failed) exactly the samples `indices`, so a rerun can skip it; `None` when it is
    missing, truncated or holds other samples. A shard of another dataset raises."""
    if not path.exists():
        return None
    try:
        header = read_header(path)
    except DatasetFileError:
        return None  # truncated or foreign: regenerate it
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


def make_and_write(generator: Generator, seed: int, task: ShardTask, progress=None) -> ShardOutcome:
    """Make one shard's samples and write the shard (in whichever process runs the task)."""
    content = generator.make_shard(seed, task.indices, progress)
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


class _QueueProgress:
    """A picklable progress callback for worker processes."""

    def __init__(self, channel):
        self.channel = channel

    def __call__(self, samples: int, iterations: int) -> None:
        self.channel.put((samples, iterations))


def _run(
    generator: Generator, seed: int, tasks: list[ShardTask], workers: int, bar: tqdm
) -> list[ShardOutcome]:
    """Make `tasks` in this process (one worker) or in `workers` spawned processes."""
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
    with (
        context.Manager() as manager,
        concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool,
    ):
        channel = manager.Queue()
        futures = [
            pool.submit(make_and_write, generator, seed, task, _QueueProgress(channel))
            for task in tasks
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
        except BaseException:
            for f in futures:
                f.cancel()
            raise


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
    index, parts = part
    provenance, grid = generator.provenance(seed), generator.grid()
    num_shards = math.ceil(n / shard_size)
    tasks, finished = [], []
    for shard in range(index, num_shards, parts):
        task = ShardTask(
            path=out / shard_name(shard),
            indices=tuple(int(i) for i in order[shard * shard_size : (shard + 1) * shard_size]),
            shard_index=shard,
            num_shards=num_shards,
            sample_offset=shard * shard_size,
            num_samples_total=n,
            provenance=provenance,
            grid=grid,
        )
        header = finished_shard(task.path, provenance, n, shard, task.indices)
        if header is None:
            tasks.append(task)
        else:
            finished.append(header)
    return tasks, finished


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
    samples per shard (default: the generator's); `workers`, local processes making shards in
    parallel (default: the CPU count; one for generators that cannot run in processes); `part`
    `(i, N)` makes only shards `j` with `j % N == i`, the same split on every machine; `progress`
    shows a progress bar.
    """
    shard_size = generator.default_shard_size if shard_size is None else shard_size
    if n < 1 or shard_size < 1:
        raise ValueError(f"n and shard_size must be positive, got {n} and {shard_size}")
    index, parts = part
    if not 0 <= index < parts:
        raise ValueError(f"part must be (i, N) with 0 <= i < N, got {part}")
    out = Path(out)
    start = time.perf_counter()
    order = generator.order(n, seed, out, progress)
    tasks, finished = plan_shards(generator, n, out, seed, order, shard_size, part)
    generator, race = generator.prepared(n, seed, order, out)
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    if not generator.processes:
        workers = 1
    todo = sum(len(task.indices) for task in tasks)
    description = f"{generator.name} -> {out}"
    with tqdm(total=todo, desc=description, unit="sample", disable=not progress) as bar:
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
