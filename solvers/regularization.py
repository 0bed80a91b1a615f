"""Regularizing a neural differential equation towards dynamics that are cheap to solve.

**Local** (Pal, Edelman and Rackauckas, ICML 2023): at one random time `t_k` per training
iteration take one extra step from the solution `y(t_k)` with an embedded Runge-Kutta pair
(Tsit5 for an ODE, whatever the main solver; the model's own error-estimating solver for an
SDE) and penalize `R = EEst · dt`, the step's error scaled as the step-size controller scales
it, `EEst = rms(err / (atol + rtol · max(|y_k|, |y_k+1|)))`, times the step. `y(t_k)` and
`dt` (the automatic initial step size at `(t_k, y(t_k))`) are constants for the gradient, which
reaches the parameters through the one step alone: the main solve may use any adjoint.

**Global** (Pal et al., ICML 2021; the baseline): the sum of `EEst · dt` over every accepted
step of the solve, differentiated through the solver (discretise-then-optimise).

Both return the penalty beside the ordinary solution, so a loss is `task(ys) + weight · R`.
"""

from typing import NamedTuple

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import optimistix as optx
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

from solvers.integrate import initial_step_size
from solvers.neural_ode import NeuralODE, ODESolution
from solvers.neural_sde import NeuralSDE


# The extra vector-field evaluations of one local regularization step of an ODE: two for the
# automatic step size, one for Tsit5's first stage and six for its other stages.
LOCAL_ODE_EVALUATIONS = 9


class Regularized(NamedTuple):
    """A solve with its penalty: `solution` (as `NeuralODE.solve` returns it), `penalty` (a
    scalar), and where the local step was taken: `time` `t_k` and `step` `dt` (NaN for the
    global regularizer)."""

    solution: ODESolution
    penalty: Float[Array, ""]
    time: Float[Array, ""]
    step: Float[Array, ""]


def scaled_error(error, y0, y1, rtol, atol) -> Float[Array, ""]:
    """The step-size controller's error norm: `rms(error / (atol + rtol · max(|y0|, |y1|)))`."""

    def ratio(e, a, b):
        return e / (atol + rtol * jnp.maximum(jnp.abs(a), jnp.abs(b)))

    return optx.rms_norm(jax.tree.map(ratio, error, y0, y1))


def _tolerances(model, rtol, atol) -> tuple[float, float]:
    controller = model.stepsize_controller
    rtol = getattr(controller, "rtol", None) if rtol is None else rtol
    atol = getattr(controller, "atol", None) if atol is None else atol
    if rtol is None or atol is None:
        raise ValueError(
            f"the model's {type(controller).__name__} has no tolerances: pass rtol and atol to "
            "the regularizer (they scale the error estimate)."
        )
    return rtol, atol


def _solve_with_sample(model, ts, y0, args, key, sampling: str):
    """The solution at `ts` and `(t_k, y(t_k))`, sampled uniformly over the span ("unbiased")
    or among the solver's own step times ("biased"), both constants for the gradient."""
    sample_key, path_key = jax.random.split(key)
    if sampling == "unbiased":
        t_k = ts[0] + jax.random.uniform(sample_key, dtype=ts.dtype) * (ts[-1] - ts[0])
        # one sorted save grid (every adjoint supports that), then t_k's row taken out again
        position = jnp.searchsorted(ts, t_k, side="right")
        grid = jnp.sort(jnp.append(ts, t_k))
        solution, cost = model._integrate(grid, y0, args, dfx.SaveAt(ts=grid), path_key)
        rows = jnp.arange(ts.shape[0])
        ys = jax.tree.map(lambda y: y[rows + (rows >= position)], solution.ys)
        y_k = jax.tree.map(lambda y: y[position], solution.ys)
    elif sampling == "biased":
        if isinstance(model.adjoint, dfx.BacksolveAdjoint):
            raise ValueError(
                "sampling='biased' needs the solver's step times, which BacksolveAdjoint cannot "
                "save; use sampling='unbiased' or another adjoint (e.g. RecursiveCheckpointAdjoint)"
            )
        saveat = dfx.SaveAt(subs=[dfx.SubSaveAt(ts=ts), dfx.SubSaveAt(t0=True, steps=True)])
        solution, cost = model._integrate(ts, y0, args, saveat, path_key)
        ys, (step_ts, step_ys) = solution.ys[0], (solution.ts[1], solution.ys[1])
        # saved: t0 and the end of each accepted step; the last one (t1) is never drawn
        index = jax.random.randint(sample_key, (), 0, solution.stats["num_accepted_steps"])
        t_k = step_ts[index]
        y_k = jax.tree.map(lambda y: y[index], step_ys)
    else:
        raise ValueError(f"sampling must be 'unbiased' or 'biased', got {sampling!r}")
    t_k, y_k = jax.lax.stop_gradient((t_k, y_k))
    return ODESolution(ts, ys, cost), t_k, y_k, path_key


def local_regularization(
    model: NeuralODE | NeuralSDE,
    ts: Float[ArrayLike, " n"],
    y0: PyTree[ArrayLike],
    args: PyTree = None,
    *,
    key: PRNGKeyArray,
    sampling: str = "unbiased",
    rtol: float | None = None,
    atol: float | None = None,
) -> Regularized:
    """Solve `model` at `ts` from `y0` and return the solution with the local error penalty.

    **Arguments:**

    - `model`: a `NeuralODE` (the step is Tsit5) or a `NeuralSDE` (the step is the model's own
      solver, which must estimate its error, e.g. Heun; the same Brownian path as the solve).
    - `ts`, `y0`, `args`: as `model.solve`.
    - `key`: draws `t_k` and, for an SDE, the Brownian path (from a key split off it, so the
      path is not the one `model.solve(key=key)` draws).
    - `sampling`: `"unbiased"` draws `t_k ~ U[ts[0], ts[-1]]`; `"biased"` draws it among the
      solver's accepted step times (excluding the last), where the solver works hardest. Biased
      sampling keeps every step's state, `O(max_steps · |y|)` memory, and needs an adjoint that
      can save steps (not `BacksolveAdjoint`).
    - `rtol`, `atol`: the tolerances that scale the error (default: the model's controller's).

    Under `jax.vmap` each sample draws its own `t_k`; average the penalties over the batch.
    """
    rtol, atol = _tolerances(model, rtol, atol)
    ts, y0 = model._checked(ts, y0, args)
    solution, t_k, y_k, path_key = _solve_with_sample(model, ts, y0, args, key, sampling)
    t1 = ts[-1]
    if isinstance(model, NeuralODE):
        drift, solver, terms = model.vector_field, dfx.Tsit5(), dfx.ODETerm(model.vector_field)
    else:  # the solve's own Brownian path: the step stays inside [t_k, t1]
        drift, solver, terms = model.drift, model.solver, model.terms(ts[0], t1, y0, path_key)
    controller = dfx.PIDController(rtol=rtol, atol=atol)
    dt = initial_step_size(controller, solver, drift, t_k, t1, y_k, args)
    state = solver.init(terms, t_k, t_k + dt, y_k, args)
    y_next, error, _, _, _ = solver.step(terms, t_k, t_k + dt, y_k, args, state, made_jump=False)
    if error is None:
        raise ValueError(f"{type(solver).__name__} gives no error estimate to regularize")
    penalty = scaled_error(error, y_k, y_next, rtol, atol) * dt
    return Regularized(solution, penalty, t_k, dt)


class ErrorAccumulating(dfx.AbstractAdaptiveSolver, dfx.AbstractWrappedSolver):
    """Wraps an adaptive solver and adds `EEst · dt` of every accepted step to its state (the
    global error regularizer). Its state is `(inner state, accumulated penalty)`."""

    evaluates_like_wrapped = True  # for `solvers.cost.evaluation_rule`

    solver: dfx.AbstractAdaptiveSolver
    rtol: float
    atol: float

    @property
    def term_structure(self):
        return self.solver.term_structure

    @property
    def interpolation_cls(self):
        return self.solver.interpolation_cls

    @property
    def term_compatible_contr_kwargs(self):
        return self.solver.term_compatible_contr_kwargs

    def order(self, terms):
        return self.solver.order(terms)

    def strong_order(self, terms):
        return self.solver.strong_order(terms)

    def error_order(self, terms):
        return self.solver.error_order(terms)

    def func(self, terms, t0, y0, args):
        return self.solver.func(terms, t0, y0, args)

    def init(self, terms, t0, t1, y0, args):
        return self.solver.init(terms, t0, t1, y0, args), jnp.zeros((), jnp.result_type(float))

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        inner, total = solver_state
        y1, error, dense, inner, result = self.solver.step(
            terms, t0, t1, y0, args, inner, made_jump
        )
        total = total + scaled_error(error, y0, y1, self.rtol, self.atol) * (t1 - t0)
        return y1, error, dense, (inner, total), result


def global_regularization(
    model: NeuralODE | NeuralSDE,
    ts: Float[ArrayLike, " n"],
    y0: PyTree[ArrayLike],
    args: PyTree = None,
    *,
    key: PRNGKeyArray | None = None,
    rtol: float | None = None,
    atol: float | None = None,
) -> Regularized:
    """Solve `model` at `ts` from `y0` and return the solution with the global penalty
    `Σ EEst_j · dt_j` over the accepted steps of the model's own solver (which must estimate
    its error). The gradient runs through the solver, so the adjoint must differentiate the
    discretisation (`RecursiveCheckpointAdjoint` or `DirectAdjoint`). `key`: an SDE's path."""
    rtol, atol = _tolerances(model, rtol, atol)
    if isinstance(model.adjoint, dfx.BacksolveAdjoint):
        raise ValueError(
            "the global regularizer differentiates through the solver's steps; use "
            "RecursiveCheckpointAdjoint or DirectAdjoint, not BacksolveAdjoint"
        )
    if isinstance(model, NeuralSDE) and key is None:
        raise ValueError("a NeuralSDE needs a key for its Brownian path")
    ts, y0 = model._checked(ts, y0, args)
    wrapped = eqx.tree_at(lambda m: m.solver, model, ErrorAccumulating(model.solver, rtol, atol))
    saveat = dfx.SaveAt(ts=ts, solver_state=True)
    solution, cost = wrapped._integrate(ts, y0, args, saveat, key)
    nan = jnp.full((), jnp.nan, ts.dtype)
    return Regularized(ODESolution(ts, solution.ys, cost), solution.solver_state[1], nan, nan)
