"""Physics for physics-informed models: differential operators by autodiff, PDE residuals,
domains, collocation points, the physics-informed loss, and weak forms with compactly supported
test functions."""

from jaxsciml.physics.autodiff import (
    FieldWithDerivatives as FieldWithDerivatives,
    derivative as derivative,
    divergence as divergence,
    gradient as gradient,
    hessian_diagonal as hessian_diagonal,
    laplacian as laplacian,
)
from jaxsciml.physics.collocation import (
    Collocation as Collocation,
    CollocationBatch as CollocationBatch,
    ReferenceSolution as ReferenceSolution,
)
from jaxsciml.physics.domain import Box as Box
from jaxsciml.physics.loss import (
    PhysicsLoss as PhysicsLoss,
    residual_norm as residual_norm,
    scalar_field as scalar_field,
)
from jaxsciml.physics.pdes import (
    PDE as PDE,
    PDES as PDES,
    AllenCahn as AllenCahn,
    FlowMixing as FlowMixing,
    Helmholtz as Helmholtz,
    KleinGordon as KleinGordon,
    NonlinearDiffusion as NonlinearDiffusion,
    Poisson as Poisson,
)
from jaxsciml.physics.points import map_points as map_points
from jaxsciml.physics.references import (
    allen_cahn_reference as allen_cahn_reference,
    allen_cahn_solution as allen_cahn_solution,
)
from jaxsciml.physics.vorticity import (
    VorticityResidualLoss as VorticityResidualLoss,
    gronwall_error_bound as gronwall_error_bound,
    vorticity_error_estimator as vorticity_error_estimator,
    vorticity_residual as vorticity_residual,
)
from jaxsciml.physics.weak import (
    TestFunctions as TestFunctions,
    WeakForm as WeakForm,
    Wendland as Wendland,
    ball_quadrature as ball_quadrature,
)
