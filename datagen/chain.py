"""A sequence of samples solved by one backend: in turn, each passing its solver state to the
next, or, for a batched backend (`LinearSolver.batched`) on a family of one system per sample
(`StationaryProblem`, which can `assemble`), in groups solved at once."""

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from datagen.linear_solvers import LinearSolver, SolveError
from datagen.problems.base import Solved


def balanced_groups(items: Sequence, largest: int) -> list[Sequence]:
    """`items` cut into the fewest consecutive groups of at most `largest`, of sizes differing by
    at most one (so a compiled batch sees at most two shapes, and no group is a small rest)."""
    count = -(-len(items) // largest)
    bounds = [round(i * len(items) / count) for i in range(count + 1)]
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def solve_in_turn(
    problem, solver: LinearSolver, thetas: Iterable[Any]
) -> Iterator[Solved | SolveError]:
    """Solve the samples `thetas` in order; yield each one's `Solved`, or the `SolveError` that
    stopped it (a failed sample passes no state on)."""
    if solver.batched and hasattr(problem, "assemble"):
        thetas = list(thetas)
        for group in balanced_groups(thetas, solver.batch_size):
            systems = [problem.assemble(theta) for theta in group]
            outcomes = solver.solve_batch([s.matrix for s in systems], [s.rhs for s in systems])
            for theta, outcome in zip(group, outcomes):
                if isinstance(outcome, SolveError):
                    yield outcome
                else:
                    yield Solved(*problem.to_sample(theta, outcome.solution), [outcome])
        return
    state = None
    for theta in thetas:
        try:
            solved = problem.solve(theta, solver, state)
        except SolveError as error:
            state = None
            yield error
            continue
        state = solved.state
        yield solved
