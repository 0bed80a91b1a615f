"""datagen: PDE data for neural operators, written as sharded HDF5 datasets.

Stands alone: it imports neither `jaxsciml` nor `solvers`.
"""

from datagen import fields as fields, format as format, krylov as krylov, problems as problems
from datagen.format import DatasetFileError as DatasetFileError
from datagen.generate import GenerationReport as GenerationReport, generate as generate
from datagen.linear_solvers import (
    SOLVERS as SOLVERS,
    SolveError as SolveError,
    make_solver as make_solver,
)
from datagen.problems import (
    PROBLEMS as PROBLEMS,
    ConvectionDiffusion as ConvectionDiffusion,
    Darcy as Darcy,
    Heat as Heat,
    Helmholtz as Helmholtz,
    Poisson as Poisson,
)
from datagen.trajectories import (
    NavierStokesSettings as NavierStokesSettings,
    generate_navier_stokes as generate_navier_stokes,
)
