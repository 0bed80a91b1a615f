"""Discretized PDE families `A(θ) x = b(θ)`, by name."""

from datagen.problems.base import LinearProblem as LinearProblem, LinearSystem as LinearSystem
from datagen.problems.darcy import Darcy as Darcy


PROBLEMS = {"darcy": Darcy}


def make_problem(name: str, **options) -> LinearProblem:
    """Build the problem family `name` (one of `PROBLEMS`) with its `options`."""
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; available: {sorted(PROBLEMS)}")
    return PROBLEMS[name](**options)
