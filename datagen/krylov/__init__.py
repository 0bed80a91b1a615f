"""Krylov solvers for sequences of related sparse systems (float64, NumPy/SciPy).

`gmres` is restarted GMRES(m); `GCRODR` is GCRO-DR(m, k), which carries a recycled subspace from one
system to the next; `sorting` orders a family of systems so that neighbours are similar (SKR).
"""

from datagen.krylov.gcrodr import GCRODR as GCRODR
from datagen.krylov.gmres import gmres as gmres
from datagen.krylov.preconditioners import (
    PRECONDITIONERS as PRECONDITIONERS,
    make_preconditioner as make_preconditioner,
)
from datagen.krylov.result import KrylovOutcome as KrylovOutcome
