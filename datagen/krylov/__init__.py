"""Krylov solvers for sequences of related sparse systems (float64, NumPy/SciPy).

`gmres` is restarted GMRES(m); `dcdm` the deep conjugate direction method (directions from a
trained network); `gcrodr` is GCRO-DR(m, k), which takes a recycled
subspace (`RecycledSpace`) and returns the one to carry to the next system; `sorting` orders a
family of systems so that neighbours are similar (SKR).
"""

from datagen.krylov.dcdm import dcdm as dcdm
from datagen.krylov.gcrodr import gcrodr as gcrodr
from datagen.krylov.gmres import gmres as gmres
from datagen.krylov.preconditioners import (
    PRECONDITIONERS as PRECONDITIONERS,
    make_preconditioner as make_preconditioner,
)
from datagen.krylov.result import (
    KrylovOutcome as KrylovOutcome,
    RecycledSpace as RecycledSpace,
)
