"""The linear families as generators: sample -> sort -> solve in chains (one per shard).

When the solver profits from similar neighbours (SKR, or `auto`), all samples are ordered by their
parameters (`datagen.krylov.sorting`) and the sorted order is cut into shards: each shard is one
chain of systems solved in sequence by a fresh solver, which carries its recycled space from each
system to the next. `solver="auto"` races the candidates on the first systems of the sorted
sequence (`datagen.auto`) and solves with the fastest; the order and the race are kept in the
dataset directory so that reruns and the other parts of a distributed run reuse them.
"""

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from datagen.auto import Auto, RaceEntry, make_solver
from datagen.chain import solve_in_turn
from datagen.format import Provenance, atomic_write
from datagen.generator import Generator, Progress, ShardContent, sample_rng
from datagen.krylov.sorting import sort_order
from datagen.linear_solvers import LinearSolver, SolveError, check_tolerance
from datagen.problems import LinearProblem
from datagen.progress import progress_bar


STATISTICS = ("iterations", "matvecs", "seconds", "relative_residual", "systems")
SORTS = ("auto", "greedy", "curve", "none")


def solve_order(
    problem: LinearProblem, n: int, seed: int, method: str, progress: bool = False
) -> np.ndarray:
    """The order in which to solve samples `0..n-1`: `sort_order` of their parameter features."""
    if method == "none":
        return np.arange(n)
    features = []
    with progress_bar(n, "sorting", "sample", progress, leave=False) as bar:
        for i in range(n):
            features.append(problem.features(problem.sample(sample_rng(seed, i))))
            bar.update(1)
    return sort_order(np.stack(features), method)


def cached(path: Path, key: dict, compute):
    """`compute()`'s JSON-able result, stored at `path` beside `key` and reused while it matches."""
    key = json.loads(json.dumps(key))
    try:
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return stored["value"]
    except (OSError, ValueError, AttributeError):
        pass  # absent or damaged: computed again
    value = compute()
    atomic_write(path, json.dumps({"key": key, "value": value}).encode())
    return value


@dataclasses.dataclass(frozen=True)
class LinearGenerator(Generator):
    """A linear PDE family `A(θ) x = b(θ)` (`datagen.problems`) solved by one backend.

    **Fields:**

    - `problem`: the family with its settings (e.g. `Darcy(resolution=65)`).
    - `solver`: a backend of `datagen.linear_solvers.SOLVERS` or `"auto"` (race the candidates on
      the first `race_samples` samples, or the first alone for a backend that carries nothing
      from one to the next, and use the fastest); `preconditioner` (`none`,
      `jacobi`, `ilu`, `amg`, `shifted-mg`) and the other `solver_options` are passed to it
      (e.g. `{"restart": 60}`); `tolerance` is the relative residual every stored solution meets.
    - `sort`: `"auto"` (sort when the solver recycles across systems), `"greedy"`, `"curve"` or
      `"none"`.
    - `on_failure`: `"raise"` stops at an unconverged solve; `"skip"` leaves the sample out of
      the data and records its number in the shard.
    """

    problem: LinearProblem = dataclasses.field(metadata={"internal": True})
    solver: str = "auto"
    tolerance: float = 1e-8
    preconditioner: str | None = None
    solver_options: Mapping = dataclasses.field(default_factory=dict)
    sort: str = "auto"
    on_failure: str = "raise"
    race_samples: int = 2
    chosen: LinearSolver | None = dataclasses.field(
        default=None, metadata={"internal": True}
    )  # the backend `auto` settled on; the provenance still says "auto"
    summary: ClassVar[str] = "a linear PDE family solved by SKR, a direct or a multigrid solver"

    def __post_init__(self):
        check_tolerance(self.tolerance)
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort method {self.sort!r}; use one of {SORTS}")
        if self.on_failure not in ("raise", "skip"):
            raise ValueError(f"on_failure must be 'raise' or 'skip', got {self.on_failure!r}")
        if self.solver == Auto.name and self.backend_options:
            raise ValueError("preconditioner and solver_options need a named solver, not 'auto'")
        problem = self.problem
        if self.backend().spd_only and not (problem.symmetric and problem.definite):
            raise ValueError(
                f"{self.solver} needs symmetric positive definite matrices, which "
                f"{problem.name} does not have; use 'auto', 'skr', 'gmres' or 'direct'."
            )

    @property
    def backend_options(self) -> dict:
        """`solver_options` with the `preconditioner`, if one is set; for `shifted-mg`, the grid
        and shift the problem gives (`shifted_laplacian()`) unless the options set them."""
        chosen = {} if self.preconditioner is None else {"preconditioner": self.preconditioner}
        options = {**self.solver_options, **chosen}
        if options.get("preconditioner") == "shifted-mg" and hasattr(
            self.problem, "shifted_laplacian"
        ):
            options = {**self.problem.shifted_laplacian(), **options}
        return options

    def backend(self) -> LinearSolver | Auto:
        """The configured solver object (`auto` included)."""
        return make_solver(self.solver, tolerance=self.tolerance, **self.backend_options)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.problem.name

    @property
    def sort_method(self) -> str:
        """The sort actually used: `auto` sorts when the solver recycles across systems."""
        if self.sort != "auto":
            return self.sort
        return "auto" if self.backend().sorts else "none"

    def quick(self) -> "LinearGenerator":
        """At most 65 points per axis, sparse LU, no sorting, no race."""
        problem = dataclasses.replace(self.problem, resolution=min(self.problem.resolution, 65))
        return dataclasses.replace(
            self, problem=problem, solver="direct", preconditioner=None, solver_options={},
            sort="none", chosen=None,
        )  # fmt: skip

    def provenance(self, seed: int) -> Provenance:
        return Provenance(
            self.problem.name, self.problem.parameters(), self.solver, self.tolerance, seed
        )

    def grid(self) -> tuple[np.ndarray, ...]:
        return self.problem.grid()

    def _cache_key(self, n: int, seed: int) -> dict:
        return {**self.provenance(seed).to_attrs(), "n": n, "sort": self.sort_method}

    def order(self, n: int, seed: int, cache: Path, progress: bool = False) -> list[int]:
        """Samples sorted by their parameters (every part of a distributed run computes the same
        order; the first one keeps it in `cache/.order.json`)."""
        method = self.sort_method
        if method == "none":
            return list(range(n))
        return cached(
            cache / ".order.json",
            self._cache_key(n, seed),
            lambda: solve_order(self.problem, n, seed, method, progress).tolist(),
        )

    def prepared(
        self, n: int, seed: int, order: Sequence[int], cache: Path
    ) -> tuple["LinearGenerator", tuple[RaceEntry, ...]]:
        """With `solver="auto"`: the race's winner (kept in `cache/.race.json`) and the race."""
        auto = self.backend()
        if not isinstance(auto, Auto):
            return self, ()

        def run_race():
            thetas = [self.problem.sample(sample_rng(seed, i)) for i in order[: self.race_samples]]
            entries = auto.race(self.problem, thetas, num_samples=n)
            return [dataclasses.asdict(e) for e in entries]

        stored = cached(cache / ".race.json", self._cache_key(n, seed), run_race)
        entries = tuple(RaceEntry(**e) for e in stored)
        # the generator's tolerance, also for race tables stored before entries recorded it
        winner = dataclasses.replace(entries[0].solver(), tolerance=self.tolerance)
        return dataclasses.replace(self, chosen=winner), entries

    def make_shard(
        self, seed: int, indices: Sequence[int], progress: Progress | None = None
    ) -> ShardContent:
        solver = self.chosen or self.backend()
        if isinstance(solver, Auto):
            raise RuntimeError("solver='auto' must be settled by `prepared` before solving")
        return solve_chain(self, solver, seed, indices, progress)


def solve_chain(
    family: LinearGenerator,
    solver: LinearSolver,
    seed: int,
    indices: Sequence[int],
    progress: Progress | None = None,
) -> ShardContent:
    """Solve samples `indices` in order with `solver` (single-threaded BLAS), each sample
    passing its solver state to the next: one chain (a batched backend takes them in groups,
    `datagen.chain.solve_in_turn`). A failed sample passes nothing on."""
    problem = family.problem
    inputs, outputs, numbers, failed = [], [], [], []
    statistics = {name: [] for name in STATISTICS}
    thetas = (problem.sample(sample_rng(seed, index)) for index in indices)
    with threadpool_limits(1):
        for index, solved in zip(indices, solve_in_turn(problem, solver, thetas)):
            if isinstance(solved, SolveError):
                if family.on_failure == "raise":
                    raise SolveError(f"sample {index}: {solved}") from solved
                failed.append(int(index))
                if progress:
                    progress(1, 0)
                continue
            results = solved.results
            inputs.append(solved.inputs)
            outputs.append(solved.outputs)
            numbers.append(int(index))
            for name in ("iterations", "matvecs", "seconds"):
                statistics[name].append(sum(getattr(r, name) for r in results))
            statistics["relative_residual"].append(max(r.relative_residual for r in results))
            statistics["systems"].append(len(results))
            if progress:
                progress(1, statistics["iterations"][-1])
    if not numbers:
        return ShardContent(
            np.zeros((0,)), np.zeros((0,)), (), solver.name, failed_samples=tuple(failed)
        )
    return ShardContent(
        inputs=np.stack(inputs),
        outputs=np.stack(outputs),
        sample_index=tuple(numbers),
        backend=solver.name,
        statistics={name: np.asarray(values) for name, values in statistics.items()},
        failed_samples=tuple(failed),
        backend_settings=solver.settings(),
    )
