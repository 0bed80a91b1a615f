"""The generator pipeline: sample -> solve -> write shards; resumable, with progress."""

import dataclasses
import math
import os
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from datagen.format import (
    DatasetFileError,
    Provenance,
    read_header,
    shard_name,
    write_shard,
)
from datagen.linear_solvers import make_solver
from datagen.problems import LinearProblem, make_problem


@dataclasses.dataclass(frozen=True)
class GenerationReport:
    """What a `generate` call did."""

    directory: Path
    num_samples: int
    shards_written: int
    shards_skipped: int
    seconds: float
    max_relative_residual: float


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of sample `index`, whatever the order or machine it is made on."""
    return np.random.default_rng([seed, index])


def _existing_shard_matches(
    path: Path, provenance: Provenance, offset: int, count: int, total: int
) -> bool:
    """Whether `path` is a finished shard of this very run (so a rerun can skip it)."""
    if not path.exists():
        return False
    try:
        header = read_header(path)
    except DatasetFileError:
        return False  # truncated or foreign: regenerate it
    if header.provenance != provenance:
        raise DatasetFileError(
            f"{path} belongs to a different dataset ({header.provenance}); write to a new "
            "directory, or delete the old one to regenerate."
        )
    if header.num_samples_total != total:
        raise DatasetFileError(
            f"{path} belongs to a dataset of {header.num_samples_total} samples, not {total}; "
            "write to a new directory, or delete the old one to regenerate."
        )
    return header.sample_offset == offset and header.num_samples == count


def generate(
    problem: str | LinearProblem,
    n: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    shard_size: int = 256,
    solver: str = "direct",
    tolerance: float = 1e-10,
    progress: bool = True,
    **problem_options,
) -> GenerationReport:
    """Generate `n` samples of a PDE family into the shard directory `out`.

    Sample `i` is drawn from `np.random.default_rng([seed, i])`, so the data do not depend on
    shard size, order or machine. Shards are written atomically; a rerun with the same arguments
    skips the shards that are finished, so an interrupted run resumes where it stopped.

    **Arguments:**

    - `problem`: a name from `datagen.problems.PROBLEMS` (e.g. `"darcy"`), configured by
      `problem_options` (e.g. `resolution=64`), or a problem object.
    - `n`: number of samples.
    - `out`: the dataset directory.
    - `seed`: the base seed.
    - `shard_size`: samples per shard file.
    - `solver`, `tolerance`: the linear solver (from `datagen.linear_solvers.SOLVERS`) and the
      relative residual every stored solution must meet.
    - `progress`: show a progress bar.
    """
    if n < 1 or shard_size < 1:
        raise ValueError("n and shard_size must be positive")
    if isinstance(problem, str):
        problem = make_problem(problem, **problem_options)
    elif problem_options:
        raise TypeError("problem options are only accepted with a problem name")
    linear_solver = make_solver(solver, tolerance=tolerance)
    provenance = Provenance(problem.name, problem.parameters(), solver, tolerance, seed)
    out = Path(out)
    num_shards = math.ceil(n / shard_size)
    grid = problem.grid()
    start = time.perf_counter()
    written = skipped = 0
    max_residual = 0.0
    with tqdm(total=n, desc=f"{problem.name} -> {out}", unit="sample", disable=not progress) as bar:
        for shard in range(num_shards):
            offset = shard * shard_size
            count = min(shard_size, n - offset)
            path = out / shard_name(shard)
            if _existing_shard_matches(path, provenance, offset, count, n):
                skipped += 1
                bar.update(count)
                continue
            inputs, outputs = [], []
            for index in range(offset, offset + count):
                theta = problem.sample(sample_rng(seed, index))
                result = linear_solver.solve(problem.assemble(theta))
                max_residual = max(max_residual, result.relative_residual)
                a, u = problem.to_sample(theta, result.solution)
                inputs.append(a)
                outputs.append(u)
                bar.update(1)
            write_shard(
                path,
                np.stack(inputs),
                np.stack(outputs),
                grid,
                provenance,
                shard_index=shard,
                num_shards=num_shards,
                sample_offset=offset,
                num_samples_total=n,
            )
            written += 1
    return GenerationReport(out, n, written, skipped, time.perf_counter() - start, max_residual)
