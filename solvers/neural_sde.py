"""Neural SDEs: `dy = μ_θ(t, y) dt + σ_θ(t, y) ∘ dW` solved by diffrax on a Brownian tree."""

from collections.abc import Callable

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from solvers.integrate import check_state, check_times, integrate
from solvers.neural_ode import ODESolution


class _Diagonal(eqx.Module):
    """A diffusion returning one noise intensity per state entry, as a diagonal operator."""

    diffusion: Callable

    def __call__(self, t, y, args):
        return lx.DiagonalLinearOperator(self.diffusion(t, y, args))


class NeuralSDE(eqx.Module):
    """A neural SDE with drift `drift(t, y, args)` and diffusion `diffusion(t, y, args)`.

    The Brownian motion is a `diffrax.VirtualBrownianTree` drawn from the `key` of each solve:
    exact at any time the solver asks for, so adaptive steps, rejected steps and
    backpropagation all see one consistent path.

    **Arguments:**

    - `drift`, `diffusion`: callables `(t, y, args)`; with `noise="diagonal"` the diffusion
      returns one intensity per entry of `y` (shape of `y`); with `noise=m` (an int) it
      returns a matrix of shape `(*y.shape, m)` driven by an `m`-dimensional Brownian motion.
    - `solver`: default `diffrax.Heun()`, which solves the *Stratonovich* SDE and estimates its
      error, so it can take adaptive steps (for additive noise, Itô and Stratonovich agree).
      Other error-estimating choices: `diffrax.SPaRK()` (general noise), `diffrax.Midpoint()`.
    - `stepsize_controller`: default `PIDController(rtol=1e-3, atol=1e-3)`; `ConstantStepSize()`
      with `dt0` for fixed steps (e.g. with `diffrax.Euler()`, the Itô Euler-Maruyama scheme).
    - `adjoint`: default `RecursiveCheckpointAdjoint` (discretise-then-optimise).
    - `dt0`: the first step; `None` applies the automatic heuristic to the drift.
    - `brownian_tol`: the time resolution of the Brownian tree (steps shorter than it are not
      resolved); default `1e-3`.
    - `max_steps`: as in `NeuralODE`.
    """

    drift: Callable
    diffusion: Callable
    noise: str | int = eqx.field(static=True, default="diagonal")
    solver: dfx.AbstractSolver = dfx.Heun()
    stepsize_controller: dfx.AbstractStepSizeController = dfx.PIDController(rtol=1e-3, atol=1e-3)
    adjoint: dfx.AbstractAdjoint = dfx.RecursiveCheckpointAdjoint()
    dt0: float | None = eqx.field(static=True, default=None)
    brownian_tol: float = eqx.field(static=True, default=1e-3)
    max_steps: int = eqx.field(static=True, default=16384)

    def __check_init__(self):
        if self.noise != "diagonal" and not (isinstance(self.noise, int) and self.noise > 0):
            raise ValueError(f"noise must be 'diagonal' or a positive int, got {self.noise!r}")

    def solve(
        self,
        ts: Float[ArrayLike, " n"],
        y0: Float[ArrayLike, "..."],
        args: PyTree = None,
        *,
        key: PRNGKeyArray,
    ) -> ODESolution:
        """One sample path from `y0` at `ts[0]`, observed at every time of `ts`; `key` draws
        the Brownian motion (the same key gives the same path)."""
        ts, y0 = self._checked(ts, y0, args)
        solution, cost = self._integrate(ts, y0, args, dfx.SaveAt(ts=ts), key)
        return ODESolution(ts, solution.ys, cost)

    def __call__(self, ts, y0, args=None, *, key: PRNGKeyArray) -> Float[Array, "n ..."]:
        """The sample path at `ts` (see `solve`)."""
        return self.solve(ts, y0, args, key=key).ys

    def _checked(self, ts, y0, args):
        """`(ts, y0)` as arrays, after the checks every solve makes (see `solve`)."""
        ts = check_times(ts)
        y0 = jnp.asarray(y0)
        check_state(self.drift, ts[0], y0, args, "drift")
        want = y0.shape if self.noise == "diagonal" else (*y0.shape, self.noise)
        got = jax.eval_shape(self.diffusion, ts[0], y0, args).shape
        if got != want:
            raise ValueError(
                f"the diffusion returns shape {got}; with noise={self.noise!r} and a state of "
                f"shape {y0.shape} it must return {want}"
            )
        return ts, y0

    def brownian_motion(self, t0, t1, y0: Array, key: PRNGKeyArray) -> dfx.VirtualBrownianTree:
        """The Brownian path that a solve over `[t0, t1]` from `y0` with `key` is driven by."""
        shape = y0.shape if self.noise == "diagonal" else (self.noise,)
        levy = dfx.SpaceTimeLevyArea if isinstance(self.solver, dfx.SPaRK) else None
        extra = {} if levy is None else {"levy_area": levy}
        return dfx.VirtualBrownianTree(
            t0,
            t1,
            tol=self.brownian_tol,
            shape=jax.ShapeDtypeStruct(shape, y0.dtype),
            key=key,
            **extra,
        )

    def terms(self, t0, t1, y0: Array, key: PRNGKeyArray) -> dfx.MultiTerm:
        """The drift and diffusion terms of a solve over `[t0, t1]` driven by `key`."""
        diffusion = _Diagonal(self.diffusion) if self.noise == "diagonal" else self.diffusion
        return dfx.MultiTerm(
            dfx.ODETerm(self.drift),
            dfx.ControlTerm(diffusion, self.brownian_motion(t0, t1, y0, key)),
        )

    def _integrate(self, ts, y0, args, saveat: dfx.SaveAt, key: PRNGKeyArray):
        """`diffeqsolve` over `[ts[0], ts[-1]]` with `saveat` (no checks; see `solve`).

        Adaptive steps land on every time of `ts`: between steps diffrax interpolates linearly,
        which would miss the Brownian increments inside a step. With general (non-commutative)
        noise, rejected step times are revisited so that the path's distribution stays right.
        """
        controller = self.stepsize_controller
        if isinstance(controller, dfx.AbstractAdaptiveStepSizeController):
            rejected = None if self.noise == "diagonal" else 100
            controller = dfx.ClipStepSizeController(controller, ts, store_rejected_steps=rejected)
        terms = self.terms(ts[0], ts[-1], y0, key)
        return integrate(self, terms, self.drift, controller, ts, y0, args, saveat, sde=True)
