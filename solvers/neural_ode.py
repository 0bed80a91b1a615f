"""Neural ODEs: `dy/dt = f_θ(t, y, args)` solved by diffrax, with the solve's cost reported."""

from collections.abc import Callable
from typing import NamedTuple

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from solvers.cost import SolveCost
from solvers.integrate import check_state, check_times, integrate


class ODESolution(NamedTuple):
    """`ys[i]` is the state at `ts[i]` (`ys[0] = y0`); `cost` is the solve's `SolveCost`."""

    ts: Float[Array, " n"]
    ys: PyTree[Float[Array, "n ..."]]
    cost: SolveCost


class NeuralODE(eqx.Module):
    """A neural ODE `dy/dt = vector_field(t, y, args)`.

    One sample per call: `y0` is one state (any shape or PyTree); batches use `jax.vmap`, which
    gives every sample its own adaptive steps (solve a batch as one system by giving the vector
    field a batch axis instead: then the batch shares its steps, as in torchdiffeq).

    **Arguments:**

    - `vector_field`: any callable `(t, y, args) -> dy/dt`, usually an equinox module (its
      parameters are trained).
    - `solver`: a diffrax solver (default `Tsit5`).
    - `stepsize_controller`: default `PIDController(rtol=1e-3, atol=1e-6)`; pass
      `diffrax.ConstantStepSize()` and `dt0` for fixed steps.
    - `adjoint`: how gradients are computed (default `RecursiveCheckpointAdjoint`, i.e.
      backpropagation through the solver with checkpointing; `BacksolveAdjoint` is the
      continuous adjoint of Chen et al.).
    - `dt0`: the first step; `None` chooses it automatically (two evaluations).
    - `max_steps`: a solve that needs more steps raises an error naming `max_steps`.
    """

    vector_field: Callable
    solver: dfx.AbstractSolver = dfx.Tsit5()
    stepsize_controller: dfx.AbstractStepSizeController = dfx.PIDController(rtol=1e-3, atol=1e-6)
    adjoint: dfx.AbstractAdjoint = dfx.RecursiveCheckpointAdjoint()
    dt0: float | None = eqx.field(static=True, default=None)
    max_steps: int = eqx.field(static=True, default=4096)

    def solve(
        self, ts: Float[ArrayLike, " n"], y0: PyTree[ArrayLike], args: PyTree = None
    ) -> ODESolution:
        """Solve from `y0` at `ts[0]` and return the states at every time of `ts` (strictly
        increasing, two or more) with the cost of the solve."""
        ts, y0 = self._checked(ts, y0, args)
        solution, cost = self._integrate(ts, y0, args, dfx.SaveAt(ts=ts))
        return ODESolution(ts, solution.ys, cost)

    def __call__(
        self, ts: Float[ArrayLike, " n"], y0: PyTree[ArrayLike], args: PyTree = None
    ) -> PyTree[Float[Array, "n ..."]]:
        """The states at `ts` (see `solve`)."""
        return self.solve(ts, y0, args).ys

    def _checked(self, ts, y0, args):
        """`(ts, y0)` as arrays, after the checks every solve makes (see `solve`)."""
        ts = check_times(ts)
        y0 = jax.tree.map(jnp.asarray, y0)
        check_state(self.vector_field, ts[0], y0, args)
        return ts, y0

    def _integrate(self, ts, y0, args, saveat: dfx.SaveAt, key: PRNGKeyArray | None = None):
        """`diffeqsolve` over `[ts[0], ts[-1]]` with `saveat` (no checks; see `solve`)."""
        del key
        terms = dfx.ODETerm(self.vector_field)
        controller = self.stepsize_controller
        return integrate(
            self, terms, self.vector_field, controller, ts, y0, args, saveat, sde=False
        )


class MLPVectorField(eqx.Module):
    """`f(t, y) = scale · tanh(MLP([y, t]))` for a state `y` of shape `(size,)`: the vector
    field of diffrax's neural ODE example (softplus hidden layers, a tanh output bounded by
    `scale`), optionally time-dependent."""

    mlp: eqx.nn.MLP
    scale: float = eqx.field(static=True)
    time_dependent: bool = eqx.field(static=True)

    def __init__(
        self,
        size: int,
        width: int,
        depth: int,
        *,
        scale: float = 1.0,
        time_dependent: bool = False,
        activation: Callable = jax.nn.softplus,
        key: PRNGKeyArray,
    ):
        self.mlp = eqx.nn.MLP(
            size + time_dependent,
            size,
            width,
            depth,
            activation=activation,
            final_activation=jnp.tanh,
            key=key,
        )
        self.scale = scale
        self.time_dependent = time_dependent

    def __call__(self, t, y: Float[Array, " size"], args=None) -> Float[Array, " size"]:
        x = jnp.concatenate([y, jnp.reshape(t, (1,)).astype(y.dtype)]) if self.time_dependent else y
        return self.scale * self.mlp(x)
