"""datagen: PDE data for neural operators, written as sharded HDF5 datasets.

Every family is reached by name: `datagen.generate(name, n, out, **options)` or
`jaxsciml datagen NAME`; `datagen.FAMILIES` holds them and `datagen.describe()` lists their
options. Stands alone: it imports neither `jaxsciml` nor `solvers`.
"""

from datagen import fields as fields, format as format, krylov as krylov, problems as problems
from datagen.auto import Auto as Auto, make_solver as make_solver
from datagen.burgers import Burgers as Burgers
from datagen.deeponet_data import (
    Antiderivative as Antiderivative,
    DiffusionReaction as DiffusionReaction,
)
from datagen.format import DatasetFileError as DatasetFileError
from datagen.generate import (
    FAMILIES as FAMILIES,
    Family as Family,
    describe as describe,
    family as family,
    generate as generate,
    register as register,
)
from datagen.generator import (
    Generator as Generator,
    ShardContent as ShardContent,
    sample_rng as sample_rng,
)
from datagen.linear import LinearGenerator as LinearGenerator
from datagen.linear_solvers import (
    SOLVERS as SOLVERS,
    LinearSolver as LinearSolver,
    SolveError as SolveError,
    SolveResult as SolveResult,
    SolverState as SolverState,
)
from datagen.problems import (
    PROBLEMS as PROBLEMS,
    ConvectionDiffusion as ConvectionDiffusion,
    Darcy as Darcy,
    Heat as Heat,
    Helmholtz as Helmholtz,
    Poisson as Poisson,
)
from datagen.shards import GenerationReport as GenerationReport
from datagen.trajectories import (
    NavierStokes as NavierStokes,
    NavierStokesSettings as NavierStokesSettings,
)


def __getattr__(name: str):
    """`datagen.dcdm_network` (DCDM's network; it loads JAX) is imported on first use."""
    if name == "dcdm_network":
        import importlib

        return importlib.import_module("datagen.dcdm_network")
    raise AttributeError(f"module 'datagen' has no attribute {name!r}")
