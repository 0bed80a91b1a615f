"""The generator pipeline: sample -> sort -> solve in sequence -> write shards.

Sample `i` is drawn from `np.random.default_rng([seed, i])`. When the solver profits from similar
neighbours (SKR, or `auto`), all samples are ordered by their parameters (`datagen.krylov.sorting`)
and the sorted order is cut into shards: each shard is one chain of systems solved in sequence by a
fresh solver, which carries its recycled space from each system to the next. A shard is therefore
the unit of work, of resumption and of distribution: shards are written atomically, a rerun skips
finished ones, `part=(i, N)` takes every N-th shard (for Slurm arrays or many machines), and local
workers solve different shards in parallel processes. Every shard records its samples' numbers,
so readers present samples by number whatever the solve order.
"""

import concurrent.futures
import dataclasses
import json
import math
import multiprocessing
import os
import queue
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from datagen.auto import RaceEntry, race
from datagen.format import (
    DatasetFileError,
    Provenance,
    ShardHeader,
    read_header,
    shard_name,
    write_shard,
)
from datagen.krylov.sorting import sort_order
from datagen.linear_solvers import SOLVERS, SolveError, make_solver
from datagen.problems import LinearProblem, make_problem


STATISTICS = ("iterations", "matvecs", "seconds", "relative_residual", "systems")


@dataclasses.dataclass(frozen=True)
class GenerationReport:
    """What a `generate` call did: samples stored by this call's shards and those found finished,
    the backend that solved them (and the `auto` race, if one ran), cost and worst residual of the
    shards written now, and the samples whose solves failed (left out of the data)."""

    directory: Path
    num_samples: int
    shards_written: int
    shards_skipped: int
    seconds: float
    max_relative_residual: float
    backend: str
    matvecs: int
    iterations: int
    failed_samples: tuple[int, ...] = ()
    race: tuple[RaceEntry, ...] = ()


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of sample `index`, whatever the order or machine it is made on."""
    return np.random.default_rng([seed, index])


def solve_order(
    problem: LinearProblem, n: int, seed: int, method: str, progress: bool = False
) -> np.ndarray:
    """The order in which to solve samples `0..n-1`: `sort_order` of their parameter features."""
    if method == "none":
        return np.arange(n)
    features = [
        problem.features(problem.sample(sample_rng(seed, i)))
        for i in tqdm(range(n), desc="sorting", unit="sample", disable=not progress, leave=False)
    ]
    return sort_order(np.stack(features), method)


def _cached(path: Path, key: dict, compute):
    """`compute()`'s JSON-able result, stored at `path` beside `key` and reused while it matches."""
    key = json.loads(json.dumps(key))
    if path.exists():
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return stored["value"]
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"key": key, "value": value}))
    os.replace(temporary, path)
    return value


@dataclasses.dataclass(frozen=True)
class ShardJob:
    """Everything a (possibly remote) worker needs to make one shard."""

    problem: LinearProblem
    seed: int
    indices: tuple[int, ...]
    backend: str
    backend_options: dict
    tolerance: float
    path: Path
    shard_index: int
    num_shards: int
    sample_offset: int
    num_samples_total: int
    provenance: Provenance
    on_failure: str


@dataclasses.dataclass(frozen=True)
class ShardOutcome:
    stored: int
    failed: tuple[int, ...]
    max_relative_residual: float
    matvecs: int
    iterations: int


class _QueueProgress:
    """A picklable progress callback for worker processes."""

    def __init__(self, channel):
        self.channel = channel

    def __call__(self, samples: int, iterations: int) -> None:
        self.channel.put((samples, iterations))


def solve_shard(job: ShardJob, progress=None) -> ShardOutcome:
    """Solve one shard's samples in order with one solver (single-threaded BLAS) and write it."""
    solver = make_solver(job.backend, tolerance=job.tolerance, **job.backend_options)
    inputs, outputs, numbers, failed = [], [], [], []
    statistics = {name: [] for name in STATISTICS}
    with threadpool_limits(1):
        for index in job.indices:
            theta = job.problem.sample(sample_rng(job.seed, index))
            try:
                solved = job.problem.solve(theta, solver)
            except SolveError as error:
                if job.on_failure == "raise":
                    raise SolveError(f"sample {index} of {job.path}: {error}") from error
                failed.append(int(index))
                solver.reset()
                if progress:
                    progress(1, 0)
                continue
            results = solved.results
            inputs.append(solved.inputs)
            outputs.append(solved.outputs)
            numbers.append(index)
            for name in ("iterations", "matvecs", "seconds"):
                statistics[name].append(sum(getattr(r, name) for r in results))
            statistics["relative_residual"].append(max(r.relative_residual for r in results))
            statistics["systems"].append(len(results))
            if progress:
                progress(1, statistics["iterations"][-1])
    if not inputs:
        raise SolveError(f"every sample of {job.path} failed to solve: {failed}")
    write_shard(
        job.path,
        np.stack(inputs),
        np.stack(outputs),
        job.problem.grid(),
        job.provenance,
        shard_index=job.shard_index,
        num_shards=job.num_shards,
        sample_offset=job.sample_offset,
        num_samples_total=job.num_samples_total,
        sample_index=numbers,
        statistics={name: np.asarray(values) for name, values in statistics.items()},
        failed_samples=failed,
        backend=job.backend,
        backend_settings=solver.settings(),
    )
    return ShardOutcome(
        len(numbers),
        tuple(failed),
        max(statistics["relative_residual"]),
        int(sum(statistics["matvecs"])),
        int(sum(statistics["iterations"])),
    )


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


def _run(jobs: list[ShardJob], workers: int, bar: tqdm) -> list[ShardOutcome]:
    """Solve `jobs` in this process (one worker) or in `workers` spawned processes."""
    seen = {"samples": 0, "iterations": 0}

    def advance(samples: int, iterations: int) -> None:
        seen["samples"] += samples
        seen["iterations"] += iterations
        bar.update(samples)
        bar.set_postfix(iterations_per_sample=seen["iterations"] // max(seen["samples"], 1))

    if workers <= 1:
        return [solve_shard(job, advance) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with (
        context.Manager() as manager,
        concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool,
    ):
        channel = manager.Queue()
        futures = [pool.submit(solve_shard, job, _QueueProgress(channel)) for job in jobs]
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


def generate(
    problem: str | LinearProblem,
    n: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    shard_size: int = 256,
    solver: str = "auto",
    tolerance: float = 1e-8,
    solver_options: dict | None = None,
    sort: str = "auto",
    workers: int | None = None,
    part: tuple[int, int] = (0, 1),
    on_failure: str = "raise",
    race_samples: int = 2,
    progress: bool = True,
    **problem_options,
) -> GenerationReport:
    """Generate `n` samples of a PDE family into the shard directory `out`.

    **Arguments:**

    - `problem`: a name from `datagen.problems.PROBLEMS` (e.g. `"darcy"`), configured by
      `problem_options` (e.g. `resolution=64, dim=3`), or a problem object.
    - `n`, `out`, `seed`: how many samples, where, and the base seed.
    - `shard_size`: samples per shard, which is also the length of a recycling chain.
    - `solver`: a backend of `datagen.linear_solvers.SOLVERS` or `"auto"` (race the candidates on
      the first `race_samples` systems and use the fastest); `solver_options` are passed to it
      (e.g. `{"preconditioner": "amg"}`); `tolerance` is the relative residual every stored
      solution meets.
    - `sort`: `"auto"` (sort when the solver recycles across systems), `"greedy"`, `"curve"` or
      `"none"`.
    - `workers`: local processes solving shards in parallel (default: the CPU count).
    - `part`: `(i, N)` makes this call produce only shards `j` with `j % N == i`; every part
      computes the same order, so N machines (or a Slurm array) split the work deterministically.
    - `on_failure`: `"raise"` stops at an unconverged solve; `"skip"` leaves the sample out of the
      data and records its number in the shard.
    - `progress`: show a progress bar (samples/s, iterations per sample).
    """
    if n < 1 or shard_size < 1:
        raise ValueError("n and shard_size must be positive")
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be in (0, 1), got {tolerance}")
    if sort not in ("auto", "greedy", "curve", "none"):
        raise ValueError(f"unknown sort method {sort!r}; use 'auto', 'greedy', 'curve' or 'none'")
    if on_failure not in ("raise", "skip"):
        raise ValueError(f"on_failure must be 'raise' or 'skip', got {on_failure!r}")
    index, parts = part
    if not 0 <= index < parts:
        raise ValueError(f"part must be (i, N) with 0 <= i < N, got {part}")
    if isinstance(problem, str):
        problem = make_problem(problem, **problem_options)
    elif problem_options:
        raise TypeError("problem options are only accepted with a problem name")
    solver_options = dict(solver_options or {})
    if solver != "auto":
        make_solver(solver, tolerance=tolerance, **solver_options)  # fail early on bad options
        if SOLVERS[solver].spd_only and not (problem.symmetric and problem.definite):
            raise ValueError(
                f"{solver} needs symmetric positive definite matrices, which {problem.name} does "
                "not have; use 'auto', 'skr', 'gmres' or 'direct'."
            )
    elif solver_options:
        raise ValueError("solver_options need a named solver, not 'auto'")
    provenance = Provenance(problem.name, problem.parameters(), solver, tolerance, seed)
    out = Path(out)
    start = time.perf_counter()
    if sort == "auto":
        sort = "auto" if solver == "auto" or SOLVERS[solver].sorts else "none"
    key = {**provenance.to_attrs(), "n": n, "sort": sort}
    if sort == "none":
        order = list(range(n))
    else:  # every part of a distributed run computes the same order; the first one keeps it
        order = _cached(
            out / ".order.json", key, lambda: solve_order(problem, n, seed, sort, progress).tolist()
        )
    num_shards = math.ceil(n / shard_size)
    jobs, skipped, samples_skipped = [], 0, 0
    for shard in range(index, num_shards, parts):
        job = ShardJob(
            problem,
            seed,
            tuple(order[shard * shard_size : (shard + 1) * shard_size]),
            solver,
            solver_options,
            tolerance,
            out / shard_name(shard),
            shard,
            num_shards,
            shard * shard_size,
            n,
            provenance,
            on_failure,
        )
        header = finished_shard(
            job.path, job.provenance, job.num_samples_total, job.shard_index, job.indices
        )
        if header is not None:
            skipped += 1
            samples_skipped += header.num_samples
        else:
            jobs.append(job)
    entries = ()
    if solver == "auto":

        def run_race():
            thetas = [problem.sample(sample_rng(seed, i)) for i in order[:race_samples]]
            return [dataclasses.asdict(e) for e in race(problem, thetas, tolerance, num_samples=n)]

        entries = tuple(RaceEntry(**e) for e in _cached(out / ".race.json", key, run_race))
        jobs = [
            dataclasses.replace(job, backend=entries[0].name, backend_options=entries[0].options)
            for job in jobs
        ]
    backend = entries[0].name if entries else solver
    todo = sum(len(job.indices) for job in jobs)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    with tqdm(
        total=todo, desc=f"{problem.name} -> {out}", unit="sample", disable=not progress
    ) as bar:
        outcomes = _run(jobs, workers, bar)
    return GenerationReport(
        directory=out,
        num_samples=sum(o.stored for o in outcomes) + samples_skipped,
        shards_written=len(outcomes),
        shards_skipped=skipped,
        seconds=time.perf_counter() - start,
        max_relative_residual=max((o.max_relative_residual for o in outcomes), default=0.0),
        backend=backend,
        matvecs=sum(o.matvecs for o in outcomes),
        iterations=sum(o.iterations for o in outcomes),
        failed_samples=tuple(i for o in outcomes for i in o.failed),
        race=entries,
    )
