"""solvers: neural ODE and SDE models on diffrax (filled in by the solvers issue).

Stands alone: it imports neither `jaxsciml` nor `datagen`.
"""
