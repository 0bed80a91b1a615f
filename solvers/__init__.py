"""solvers: neural ODE and SDE models on diffrax, with the cost of every solve and regularizers
that make learned dynamics cheap to solve.

Stands alone: it imports neither `jaxsciml` nor `datagen`.
"""

from solvers.cost import SolveCost as SolveCost, evaluation_rule as evaluation_rule
from solvers.latent import LatentODE as LatentODE
from solvers.neural_ode import (
    MLPVectorField as MLPVectorField,
    NeuralODE as NeuralODE,
    ODESolution as ODESolution,
)
from solvers.neural_sde import NeuralSDE as NeuralSDE
from solvers.regularization import (
    LOCAL_ODE_EVALUATIONS as LOCAL_ODE_EVALUATIONS,
    Regularized as Regularized,
    global_regularization as global_regularization,
    local_regularization as local_regularization,
)
