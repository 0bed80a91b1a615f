"""The physics-informed loss: weighted mean squared residuals at collocation points."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from jaxsciml.physics.collocation import CollocationBatch
from jaxsciml.physics.pdes import PDE
from jaxsciml.physics.points import map_points


def scalar_field(model):
    """The model as a scalar field `x ↦ model(x)[0]` (the model must have one output); a
    `FieldWithDerivatives` when the model has `derivatives` (as PIG does), so that the
    differential operators use its closed forms."""
    if hasattr(model, "derivatives"):
        return _ScalarFieldWithDerivatives(model)

    def u(x):
        return _scalar(model(x))

    return u


class _ScalarFieldWithDerivatives:
    """A one-output model with `derivatives(x)` as a scalar `FieldWithDerivatives`."""

    def __init__(self, model):
        self.model = model
        self._last = None  # (x, its derivatives): a residual asks at one point several times

    def __call__(self, x):
        return self.derivatives(x)[0]

    def derivatives(self, x):
        # A residual such as `u_tt − Δu + u²` asks for the value and the derivatives at the same
        # traced `x`; answering from one computation keeps reverse mode from differentiating
        # the Gaussians twice (the unused outputs are dropped under `jit`).
        if self._last is None or self._last[0] is not x or not isinstance(x, jax.Array):
            value, gradient, hessian_diagonal = self.model.derivatives(x)
            self._last = (x, (_scalar(value), gradient[0], hessian_diagonal[0]))
        return self._last[1]


def _scalar(value):
    if value.shape not in ((), (1,)):
        raise ValueError(
            f"the PDE needs a scalar field; the model returns shape {value.shape} per point"
        )
    return value.reshape(())


class PhysicsLoss:
    """`residual_weight · mean|R|² + boundary_weight · mean|B|² + initial_weight · mean|I|²`,
    with `R`, `B`, `I` the problem's PDE, boundary and initial residuals at the batch's interior,
    boundary and initial points (a term without points is left out). A `jaxsciml.fit` loss:
    `loss(model, batch, key)`.

    Residuals are computed `chunk_size` points at a time (`jaxsciml.physics.map_points`), which
    bounds the memory a Gaussian-feature model needs at the papers' sizes; `None` evaluates
    every point at once.

    The PIG scripts weight every term 1, except Helmholtz: `residual_weight=1e-4`.
    """

    def __init__(
        self,
        problem: PDE,
        *,
        residual_weight: float = 1.0,
        boundary_weight: float = 1.0,
        initial_weight: float = 1.0,
        chunk_size: int | None = 4096,
    ):
        self.problem, self.chunk_size = problem, chunk_size
        self.weights = {
            "residual": residual_weight,
            "boundary": boundary_weight,
            "initial": initial_weight,
        }

    def terms(self, model, batch: CollocationBatch) -> dict[str, Float[Array, ""]]:
        """The unweighted mean squared residual of each term that has points."""
        u = scalar_field(model)
        residuals = {
            "residual": (self.problem.residual, batch.interior),
            "boundary": (self.problem.boundary_residual, batch.boundary),
            "initial": (self.problem.initial_residual, batch.initial),
        }
        return {
            name: jnp.mean(map_points(lambda x: fn(u, x), points, self.chunk_size) ** 2)
            for name, (fn, points) in residuals.items()
            if points.shape[0]
        }

    def __call__(self, model, batch: CollocationBatch, key=None) -> Float[Array, ""]:
        del key
        terms = self.terms(model, batch)
        return sum(self.weights[name] * value for name, value in terms.items())


def residual_norm(problem: PDE, model, points, chunk_size: int | None = 4096) -> jax.Array:
    """The root mean squared PDE residual of `model` at `points` `(n, d)`."""
    u = scalar_field(model)
    r = map_points(lambda x: problem.residual(u, x), jnp.asarray(points), chunk_size)
    return jnp.sqrt(jnp.mean(r**2))
