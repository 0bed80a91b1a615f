"""The one place where `diffeqsolve` is called: checked times, the automatic first step, cost.

`NeuralODE`, `NeuralSDE` and the regularizers all integrate through `integrate`, so that every
solve validates its input the same way and reports the same `SolveCost`.
"""

import dataclasses
from collections.abc import Callable

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PyTree

from solvers.cost import CountingController, SolveCost, evaluation_rule, solve_cost


def check_times(ts: ArrayLike) -> Float[Array, " n"]:
    """`ts` as a float array, after checking it is 1-D, has two or more entries and increases
    strictly (checked at trace time where `ts` is concrete, at run time under `jit`)."""
    if not isinstance(ts, jax.core.Tracer):
        ts = np.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(
            f"ts must be a 1-D array of two or more times (the first is t0, where y0 is given); "
            f"got shape {ts.shape}"
        )
    if not jnp.issubdtype(ts.dtype, jnp.floating):
        ts = ts.astype(jnp.result_type(float))
    if isinstance(ts, np.ndarray):
        if np.any(np.diff(ts) <= 0):
            raise ValueError(
                f"ts must increase strictly, got {ts.tolist()}: the time span is reversed or "
                "empty, or a time repeats. Integrate backwards by flipping the sign of time in "
                "the vector field."
            )
        return jnp.asarray(ts)
    return eqx.error_if(ts, jnp.any(jnp.diff(ts) <= 0), "ts must increase strictly")


def check_state(vector_field: Callable, t0, y0: PyTree, args, what: str = "vector field"):
    """Raise a clear error when `vector_field(t0, y0, args)` fails on `y0` or does not return
    its shapes (checked by tracing, without evaluating)."""
    want = jax.eval_shape(lambda: y0)
    hint = (
        "Check y0's shape (one sample, no batch axis: use jax.vmap for batches) against the "
        f"{what}'s size."
    )
    try:
        out = jax.eval_shape(vector_field, t0, y0, args)
    except Exception as error:  # whatever the user's module raises on a wrong shape
        shapes = jax.tree.map(lambda x: x.shape, want)
        raise ValueError(
            f"the {what} cannot take a state of shape {shapes} ({error}). {hint}"
        ) from error
    if jax.tree.structure(out) != jax.tree.structure(want) or any(
        o.shape != w.shape for o, w in zip(jax.tree.leaves(out), jax.tree.leaves(want))
    ):
        shapes = jax.tree.map(lambda x: x.shape, (want, out))
        raise ValueError(
            f"the {what} maps a state of shape {shapes[0]} to shape {shapes[1]}; it must return "
            f"a derivative of the same shape as the state y0. {hint}"
        )


def initial_step_size(
    controller: dfx.AbstractAdaptiveStepSizeController,
    solver: dfx.AbstractSolver,
    drift: Callable,
    t0,
    t1,
    y0: PyTree,
    args,
) -> Float[Array, ""]:
    """The automatic first step at `(t0, y0)` (Hairer, Nørsett and Wanner's heuristic, two
    evaluations of `drift`) under `controller`'s tolerances, at most `t1 - t0`; a constant for
    the gradient. For an SDE the heuristic is applied to the drift alone.

    (diffrax 0.7.2's `diffeqsolve(dt0=None)` wraps the terms before calling the controller and
    so always starts with 0.01; calling the controller here with the plain term avoids that.)
    """
    term = dfx.ODETerm(drift)
    t_next, _ = controller.init(
        term,
        t0,
        t1,
        y0,
        None,
        args,
        lambda terms, t, y, a: terms.vf(t, y, a),
        solver.error_order(term),
    )
    return jax.lax.stop_gradient(jnp.minimum(t_next - t0, t1 - t0))


def integrate(
    model,
    terms: dfx.AbstractTerm,
    drift: Callable,
    controller: dfx.AbstractStepSizeController,
    ts: Float[Array, " n"],
    y0: PyTree,
    args,
    saveat: dfx.SaveAt,
    *,
    sde: bool,
) -> tuple[dfx.Solution, SolveCost]:
    """`diffeqsolve` over `[ts[0], ts[-1]]` with `model`'s solver, adjoint, `dt0` and
    `max_steps` and the given `controller`, the first step chosen automatically when `dt0` is
    `None`, and the solve's `SolveCost` (NFE counted through `CountingController`)."""
    solver, dt0, t0, t1 = model.solver, model.dt0, ts[0], ts[-1]
    extra = (0, 0)
    adaptive = isinstance(controller, dfx.AbstractAdaptiveStepSizeController)
    if dt0 is None:
        if not adaptive:
            raise ValueError(
                f"{type(controller).__name__} takes fixed steps: pass dt0, or use an adaptive "
                "step-size controller such as diffrax.PIDController(rtol=..., atol=...)."
            )
        dt0 = initial_step_size(controller, solver, drift, t0, t1, y0, args)
        extra = (2, 0)
    if adaptive:
        controller = CountingController(controller)
        saveat = dataclasses.replace(saveat, controller_state=True)
    solution = dfx.diffeqsolve(
        terms,
        solver,
        t0,
        t1,
        dt0,
        y0,
        args,
        saveat=saveat,
        stepsize_controller=controller,
        adjoint=model.adjoint,
        max_steps=model.max_steps,
    )
    first_stages = solution.controller_state[1] if adaptive else None
    rule = evaluation_rule(solver, sde)
    return solution, solve_cost(solution.stats, rule, first_stages, extra)
