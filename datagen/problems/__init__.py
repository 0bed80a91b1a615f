"""Discretized PDE families `A(θ) x = b(θ)`, by name."""

from datagen.problems.base import (
    LinearProblem as LinearProblem,
    LinearSystem as LinearSystem,
    Solved as Solved,
)
from datagen.problems.convection_diffusion import ConvectionDiffusion as ConvectionDiffusion
from datagen.problems.darcy import Darcy as Darcy
from datagen.problems.heat import Heat as Heat
from datagen.problems.helmholtz import Helmholtz as Helmholtz
from datagen.problems.poisson import Poisson as Poisson


PROBLEMS = {cls.name: cls for cls in (Darcy, Poisson, Helmholtz, ConvectionDiffusion, Heat)}


def make_problem(name: str, **options) -> LinearProblem:
    """Build the problem family `name` (one of `PROBLEMS`) with its `options`."""
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; available: {sorted(PROBLEMS)}")
    return PROBLEMS[name](**options)
