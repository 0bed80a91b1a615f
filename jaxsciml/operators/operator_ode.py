"""A neural operator as the right-hand side of an ODE: `du/dt = F([u, c]) / τ` on a grid.

This is how `solvers` advances the operators in time (method of lines with a learned spatial
operator): the state `u` is a field `(state_channels, *spatial)`, the coefficients `c` (e.g. the
diffusivity of the heat equation) are fixed fields beside it, `F` is any grid operator (an FNO),
and `solvers.NeuralODE` integrates with an adaptive Runge-Kutta method. Trained on trajectories
at some times, the model answers at any other time: between them, or beyond the last.
"""

from collections.abc import Sequence

import diffrax as dfx
import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

import solvers
from jaxsciml.losses import batch_mean, relative_l2
from jaxsciml.nn.base import AbstractGridOperator, apply_batch
from jaxsciml.operators.files import recorded


class OperatorField(eqx.Module):
    """`f(t, u, c) = operator([u, c]) / time_scale` for a batch of states `u` `(b, s, *spatial)`
    and coefficients `c` `(b, k, *spatial)` (the operator sees `s + k` channels)."""

    operator: eqx.Module
    time_scale: float = eqx.field(static=True)

    def __call__(
        self, t, u: Float[Array, "b s *spatial"], coefficients: Float[Array, "b k *spatial"]
    ):
        return (
            apply_batch(self.operator, jnp.concatenate([u, coefficients], axis=1)) / self.time_scale
        )


@recorded
class OperatorODE(AbstractGridOperator):
    """Maps `[c, u₀]` `(k + s, *spatial)` to the states at `times`, `(len(times) · s, *spatial)`
    (time-major: the first `s` channels are `u(times[0])`), by solving `du/dt = F([u, c]) / τ`
    from `u₀` at `start`.

    A batch (`model.batched`) is solved as one system, so its samples share their adaptive
    steps; that is faster than one solve per sample and agrees with it to the solver's tolerance.
    The layout matches `datagen`'s heat family (inputs `[a, u₀]`, outputs `u` after each step).

    **Arguments:**

    - `operator`: a grid operator from `s + k` to `s` channels (e.g. `jsm.FNO(2, 1, ...)`).
    - `times`: the output times (increasing, after `start`).
    - `coefficient_channels`: `k`, the leading input channels that stay fixed in time.
    - `start`: the time of `u₀`.
    - `time_scale`: `τ`; choose about the span of the trajectories, so that the operator's
      outputs are of order one.
    - `solver`, `stepsize_controller`, `adjoint`, `dt0`, `max_steps`: as `solvers.NeuralODE`.
    """

    arguments: str = eqx.field(static=True, repr=False)  # see `recorded`

    ode: solvers.NeuralODE
    times: tuple[float, ...]  # Python floats: not trained, and `at_times` can replace them
    start: float = eqx.field(static=True)
    coefficient_channels: int = eqx.field(static=True)

    def __init__(
        self,
        operator: eqx.Module,
        times: Sequence[float] | np.ndarray,
        *,
        coefficient_channels: int,
        start: float = 0.0,
        time_scale: float = 1.0,
        solver: dfx.AbstractSolver = dfx.Tsit5(),
        stepsize_controller: dfx.AbstractStepSizeController = dfx.PIDController(
            rtol=1e-4, atol=1e-6
        ),
        adjoint: dfx.AbstractAdjoint = dfx.RecursiveCheckpointAdjoint(),
        dt0: float | None = None,
        max_steps: int = 4096,
    ):
        times = tuple(float(t) for t in times)
        if not times or np.any(np.diff((start, *times)) <= 0):
            raise ValueError(
                f"times must be non-empty and increase strictly after start={start}; got {times}"
            )
        if coefficient_channels < 0 or not time_scale > 0:
            raise ValueError("coefficient_channels must be >= 0 and time_scale positive")
        field = OperatorField(operator, float(time_scale))
        self.ode = solvers.NeuralODE(field, solver, stepsize_controller, adjoint, dt0, max_steps)
        self.times = times
        self.start = float(start)
        self.coefficient_channels = coefficient_channels

    @property
    def operator(self) -> eqx.Module:
        return self.ode.vector_field.operator

    def at_times(self, times: Sequence[float] | np.ndarray) -> "OperatorODE":
        """The same model answering at other `times`."""
        times = tuple(float(t) for t in times)
        if not times or np.any(np.diff((self.start, *times)) <= 0):
            raise ValueError(f"times must increase strictly after start={self.start}; got {times}")
        return eqx.tree_at(lambda m: m.times, self, times)

    def solve(self, inputs: Float[Array, "b c *spatial"]) -> solvers.ODESolution:
        """The batch's solution at `(start, *times)`: `ys` `(1 + len(times), b, s, *spatial)`,
        with the solve's cost."""
        k = self.coefficient_channels
        if inputs.shape[1] <= k:
            raise ValueError(
                f"inputs have {inputs.shape[1]} channels; this model takes {k} coefficient "
                "channels followed by at least one state channel"
            )
        coefficients, u0 = inputs[:, :k], inputs[:, k:]
        return self.ode.solve(jnp.asarray((self.start, *self.times)), u0, coefficients)

    def batched(self, inputs: Float[Array, "b c *spatial"]) -> Float[Array, "b o *spatial"]:
        ys = self.solve(inputs).ys[1:]  # (times, b, s, *spatial)
        ys = jnp.moveaxis(ys, 0, 1)
        return ys.reshape(ys.shape[0], -1, *ys.shape[3:])


def loss_at_times(indices: Sequence[int] | np.ndarray):
    """A `fit` loss: the mean relative L2 error of the trajectory at the output channels
    `indices` (one per time, for one state channel), for a model built `at_times` those times.
    Train on some times, evaluate on others."""
    indices = np.asarray(indices)

    def loss(model, batch, key):
        del key
        return batch_mean(relative_l2, apply_batch(model, batch.inputs), batch.outputs[:, indices])

    return loss
