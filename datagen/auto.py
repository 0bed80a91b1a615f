"""`solver="auto"`: choose the backend by racing the candidates on the first systems of the run.

Which solver wins depends on the problem (dimension, size, symmetry, definiteness) and on the
machine, so `auto` measures rather than guesses: each candidate that applies to the problem solves
the same first systems of the sorted sequence. The most promising candidate runs first, in this
process; every other one runs in a fresh process that is killed once it has run longer than `slack`
times the best total so far (a slow direct factorization cannot hold the race up). Starting a
process costs about a second, so when starting the remaining candidates would cost more than a
tenth of what the first candidate needs for the whole run, the race stops there. The fastest total
wins; the race table is kept with the dataset.
"""

import dataclasses
import multiprocessing
import time

import numpy as np
from threadpoolctl import threadpool_limits

from datagen.linear_solvers import make_solver


START_UP_SECONDS = 120.0  # how long a race process may take to start (import NumPy, SciPy)
PROCESS_SECONDS = 1.0  # about what starting one race process costs
RACE_SHARE = 0.1  # the largest share of the run's projected time the race may add


def candidates(problem) -> list[tuple[str, dict]]:
    """The backends worth racing on `problem`, most promising first.

    Sparse LU leads in 2D (its fill grows gently there) and goes last in 3D, where one
    factorization can take minutes. Cheap Jacobi-preconditioned Krylov solvers are raced beside
    the heavier AMG and ILU ones because on small 3D grids they win.
    """
    jacobi, ilu = {"preconditioner": "jacobi"}, {"preconditioner": "ilu"}
    if problem.symmetric and problem.definite:
        iterative = [("cg-amg", {}), ("skr", jacobi), ("gmres", jacobi)]
    else:
        iterative = [("skr", jacobi), ("skr", ilu), ("gcrotmk", jacobi), ("gmres", jacobi)]
    if problem.dim <= 2:
        return [("direct", {})] + iterative
    return iterative + [("direct", {})]


@dataclasses.dataclass(frozen=True)
class RaceEntry:
    """One candidate's run: seconds and matvecs over the race systems, or why it dropped out."""

    name: str
    options: dict
    seconds: float | None
    matvecs: int | None
    note: str = ""


def solve_sequence(
    problem, thetas, name: str, options: dict, tolerance: float
) -> tuple[float, int]:
    """Solve `thetas` in order with one backend (single-threaded BLAS, as the generator runs);
    return the seconds and matvecs it took."""
    solver = make_solver(name, tolerance=tolerance, **options)
    matvecs = 0
    with threadpool_limits(1):
        start = time.perf_counter()
        for theta in thetas:
            matvecs += sum(r.matvecs for r in problem.solve(theta, solver).results)
        return time.perf_counter() - start, matvecs


def _race_process(connection, problem, thetas, name, options, tolerance):
    connection.send(("ready", None))  # imports are done: the parent starts its clock now
    try:
        connection.send(("ok", solve_sequence(problem, thetas, name, options, tolerance)))
    except Exception as error:  # reported to the parent, which records why the candidate lost
        connection.send(("error", f"{type(error).__name__}: {error}"))


def _in_process(problem, thetas, name, options, tolerance) -> tuple[str, object]:
    try:
        return "ok", solve_sequence(problem, thetas, name, options, tolerance)
    except Exception as error:  # a candidate that fails simply loses the race
        return "error", f"{type(error).__name__}: {error}"


def _in_subprocess(problem, thetas, name, options, tolerance, limit) -> tuple[str, object]:
    """Run one candidate in a spawned process, killed `limit` seconds after it is ready."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_race_process, args=(sender, problem, thetas, name, options, tolerance)
    )
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


def race(
    problem, thetas, tolerance: float, *, num_samples: int, slack: float = 1.25
) -> list[RaceEntry]:
    """Run the candidates of `problem` on the systems `thetas`, for a run of `num_samples`
    samples. Returns the entries, fastest first; raises if no candidate solved them."""
    entries, best = [], None
    remaining = candidates(problem)
    while remaining:
        name, options = remaining.pop(0)
        if best is None:
            status, value = _in_process(problem, thetas, name, options, tolerance)
        else:
            limit = slack * best + 0.25  # a little for sending the result back
            status, value = _in_subprocess(problem, thetas, name, options, tolerance, limit)
        if status != "ok":
            entries.append(RaceEntry(name, options, None, None, str(value)))
            continue
        seconds, matvecs = value
        entries.append(RaceEntry(name, options, seconds, matvecs))
        best = seconds if best is None else min(best, seconds)
        projected = best / len(thetas) * num_samples
        if remaining and RACE_SHARE * projected < PROCESS_SECONDS * len(remaining):
            note = f"not raced: {entries[-1].name} finishes the run in about {projected:.1f} s"
            entries += [RaceEntry(n, o, None, None, note) for n, o in remaining]
            break
    entries.sort(key=lambda e: np.inf if e.seconds is None else e.seconds)
    if entries[0].seconds is None:
        raise RuntimeError(
            "no solver could solve the first systems: "
            + "; ".join(f"{e.name}: {e.note}" for e in entries)
        )
    return entries
