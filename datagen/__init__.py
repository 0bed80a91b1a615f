"""datagen: PDE data for neural operators, written as sharded HDF5 datasets.

Stands alone: it imports neither `jaxsciml` nor `solvers`.
"""

from datagen import fields as fields, format as format, problems as problems
from datagen.format import DatasetFileError as DatasetFileError
from datagen.generate import GenerationReport as GenerationReport, generate as generate
from datagen.linear_solvers import SolveError as SolveError
from datagen.problems import Darcy as Darcy
