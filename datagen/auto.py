"""`solver="auto"`: choose the backend by racing the candidates on the first systems of the run.

Which solver wins depends on the problem (dimension, size, symmetry, definiteness) and on the
machine, so `auto` measures rather than guesses: each candidate that applies to the problem solves
the first systems of the sorted sequence. The most promising candidate runs first, in this
process; every other one runs in a fresh process that is killed once it has run longer than `slack`
times what the fastest so far took per sample (a slow direct factorization cannot hold the race
up). A backend that carries a state from sample to sample (SKR) or solves them as a batch is timed
on all the race samples, any other on the first alone. The race may add at most a twentieth of the
run's projected time (at the pace of the fastest candidate so far): it starts the next candidate,
most promising first, only when what it has spent plus that candidate's worst cost (a process
start, about half a second, more for a JAX backend, and its time limit) stays within it. So a short
run keeps the first candidate, timed on one sample. The fastest candidate per sample wins; the
race table is kept with the dataset.

`make_solver(name, **options)` builds any backend by name, `auto` included.
"""

import dataclasses
import multiprocessing
import time
from typing import ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from datagen.chain import solve_in_turn
from datagen.linear_solvers import SOLVERS, LinearSolver, SolveError, check_tolerance


START_UP_SECONDS = 120.0  # how long a race process may take to start (import NumPy, SciPy)
PROCESS_SECONDS = 0.6  # about what starting one race process costs (0.48-0.57 s measured)
JAX_SECONDS = 1.1  # what a batched (JAX) candidate adds to it: importing JAX and compiling
RACE_SHARE = 0.05  # the largest share of the run's projected time the race may add: half the
# 10% by which `auto` should stay within the fastest backend, the other half for the choice


@dataclasses.dataclass(frozen=True)
class RaceEntry:
    """One candidate's run: the seconds and matvecs it took on its first `samples` race samples,
    or why it dropped out (`note`; `seconds` is then `None`). `samples` is `None` in race tables
    stored before it was kept (those timed every candidate on all the race samples).
    `name` and `options` rebuild the candidate: `make_solver(name, **options)`."""

    name: str
    options: dict
    seconds: float | None
    matvecs: int | None
    note: str = ""
    samples: int | None = None

    @classmethod
    def of(cls, solver: LinearSolver, seconds=None, matvecs=None, note="", samples=None):
        return cls(solver.name, solver.settings(), seconds, matvecs, note, samples)

    def solver(self) -> LinearSolver:
        return make_solver(self.name, **self.options)


def solve_sequence(problem, thetas, solver: LinearSolver) -> tuple[float, int]:
    """Solve `thetas` in order with `solver`, each sample passing its state to the next (a
    batched backend: all at once), with single-threaded BLAS as the generator runs; return the
    seconds and matvecs it took. Raises the first `SolveError`."""
    matvecs = 0
    with threadpool_limits(1):
        start = time.perf_counter()
        for solved in solve_in_turn(problem, solver, thetas):
            if isinstance(solved, SolveError):
                raise solved
            matvecs += sum(r.matvecs for r in solved.results)
        return time.perf_counter() - start, matvecs


def timed_samples(thetas: list, solver: LinearSolver) -> list:
    """The race systems `solver` is timed on: all of them for a backend that carries a state
    from one sample to the next (SKR's recycled space shows only from the second) or solves them
    as one batch; the first alone for any other, whose second sample is the same work again."""
    return thetas if solver.sorts or solver.batched else thetas[:1]


def warm_up(problem, thetas, solver: LinearSolver) -> None:
    """Compile a batched backend for the race's batch before its clock starts: compiling is paid
    once per process and shape, not per system, so charging it to two race systems would
    misjudge the run (it is a second or so). The warm-up run stops after one product (its budget
    is an argument of the compiled iteration, not its shape). Other backends need nothing."""
    if solver.batched:
        try:
            solve_sequence(problem, thetas, dataclasses.replace(solver, max_matvecs=1))
        except Exception:  # noqa: BLE001 - missing the tolerance is expected; the timed run reports
            pass


def _race_process(connection, problem, thetas, solver):
    warm_up(problem, thetas, solver)
    connection.send(("ready", None))  # imports are done: the parent starts its clock now
    try:
        connection.send(("ok", solve_sequence(problem, thetas, solver)))
    except Exception as error:  # reported to the parent, which records why the candidate lost
        connection.send(("error", f"{type(error).__name__}: {error}"))


def _in_process(problem, thetas, solver) -> tuple[str, object]:
    try:
        warm_up(problem, thetas, solver)
        return "ok", solve_sequence(problem, thetas, solver)
    except Exception as error:  # a candidate that fails simply loses the race
        return "error", f"{type(error).__name__}: {error}"


def _in_subprocess(problem, thetas, solver, limit) -> tuple[str, object]:
    """Run one candidate in a spawned process, killed `limit` seconds after it is ready."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_race_process, args=(sender, problem, thetas, solver))
    process.start()
    sender.close()
    try:
        if not (receiver.poll(START_UP_SECONDS) and receiver.recv()[0] == "ready"):
            return "error", "the race process did not start"
        if not receiver.poll(limit):
            return "error", f"stopped after {limit:.2f} s"
        return receiver.recv()
    finally:
        process.kill()
        process.join()


@dataclasses.dataclass(frozen=True)
class Auto:
    """The backend chosen by a race: `race` runs the `candidates` on the first systems of a run;
    its first entry is the fastest, and `entry.solver()` builds it for the rest of the run.

    **Fields:** `tolerance` (every candidate's), `slack` (a candidate still running after `slack`
    times what the fastest so far took for as many samples is stopped).
    """

    tolerance: float = 1e-8
    slack: float = 1.25
    name: ClassVar[str] = "auto"
    sorts: ClassVar[bool] = True  # the candidates include SKR, which profits from sorting
    spd_only: ClassVar[bool] = False

    def __post_init__(self):
        check_tolerance(self.tolerance)
        if not self.slack >= 1:
            raise ValueError(f"slack must be at least 1, got {self.slack}")

    def settings(self) -> dict:
        return dataclasses.asdict(self)

    def candidates(self, problem) -> list[LinearSolver]:
        """The backends worth racing on `problem`, most promising first.

        Sparse LU leads in 2D (its fill grows gently there) and goes last in 3D, where one
        factorization can take minutes. Cheap Jacobi-preconditioned Krylov solvers are raced
        beside the heavier AMG and ILU ones because on small 3D grids they win: above all the
        short recurrences (CG, or BiCGSTAB when not SPD), alone or batched in JAX, which go first
        in 3D (on the small rows, whose race stops after its first candidate because starting
        more would cost more than they could save) and last in 2D, where sparse LU leads. A
        problem that knows its shifted Laplacian (`shifted_laplacian()`, Helmholtz) also races
        BiCGSTAB, gcrotmk and SKR with the `shifted-mg` preconditioner, first among the Krylov
        solvers (restarted GMRES stalls with it): BiCGSTAB first, the fastest at 48³ (k = 20) and
        within 8% of gcrotmk at 24³ (k = 10).
        """

        def build(name, preconditioner=None, **options):
            chosen = {} if preconditioner is None else {"preconditioner": preconditioner}
            return SOLVERS[name](tolerance=self.tolerance, **chosen, **options)

        if problem.symmetric and problem.definite:
            iterative = [build("cg-amg"), build("skr", "jacobi"), build("gmres", "jacobi")]
            light = [build("cg-amg", "jacobi"), build("batched-cg")]
        else:
            iterative = [
                build("skr", "jacobi"),
                build("skr", "ilu"),
                build("gcrotmk", "jacobi"),
                build("gmres", "jacobi"),
            ]
            light = [build("bicgstab", "jacobi"), build("batched-bicgstab")]
        # short recurrences with Jacobi won the small 3D rows, where the race stops early
        iterative = light + iterative if problem.dim >= 3 else iterative + light
        shifted = problem.shifted_laplacian() if hasattr(problem, "shifted_laplacian") else None
        if shifted and shifted["shift"] > 0:  # indefinite Helmholtz: only this one scales
            names = ("bicgstab", "gcrotmk", "skr")
            iterative = [build(name, "shifted-mg", **shifted) for name in names] + iterative
        direct = build("direct")
        return [direct] + iterative if problem.dim <= 2 else iterative + [direct]

    def race(self, problem, thetas, *, num_samples: int) -> list[RaceEntry]:
        """Run the candidates of `problem` on the systems `thetas`, for a run of `num_samples`
        samples. Returns the entries, fastest first; raises if no candidate solved them."""
        started = time.perf_counter()
        entries, best = [], None  # best: the fastest seconds per race sample so far
        remaining = self.candidates(problem)

        def affordable(solver: LinearSolver) -> bool:
            """Whether the race's share of the run, at the best pace so far, pays for what it
            has spent and for `solver` at its worst: a process start and its time limit."""
            spent = time.perf_counter() - started
            start = PROCESS_SECONDS + (JAX_SECONDS if solver.batched else 0.0)
            worst = start + self.slack * best * len(timed_samples(thetas, solver))
            return spent + worst <= RACE_SHARE * best * num_samples

        while remaining:
            if best is not None and not affordable(remaining[0]):
                note = f"not raced: the fastest so far takes about {best * num_samples:.1f} s"
                entries += [RaceEntry.of(other, note=note) for other in remaining]
                break
            solver = remaining.pop(0)
            systems = timed_samples(thetas, solver)
            if best is None:  # the lead runs in this process
                status, value = _in_process(problem, systems, solver)
            else:
                limit = self.slack * best * len(systems) + 0.25  # and a little to send it back
                status, value = _in_subprocess(problem, systems, solver, limit)
            if status != "ok":
                entries.append(RaceEntry.of(solver, note=str(value)))
                continue
            seconds, matvecs = value
            entries.append(RaceEntry.of(solver, seconds, matvecs, samples=len(systems)))
            pace = seconds / len(systems)
            best = pace if best is None else min(best, pace)
        entries.sort(key=lambda e: np.inf if e.seconds is None else e.seconds / e.samples)
        if entries[0].seconds is None:
            raise RuntimeError(
                "no solver could solve the first systems: "
                + "; ".join(f"{e.name}: {e.note}" for e in entries)
            )
        return entries


def make_solver(name: str, **options) -> LinearSolver | Auto:
    """Build the backend `name` (one of `SOLVERS`, or `auto`) with its `options`."""
    if name == Auto.name:
        return Auto(**options)
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; available: {sorted(SOLVERS)} or 'auto'")
    return SOLVERS[name](**options)
