"""What a solve cost: steps taken, accepted and rejected, and vector-field evaluations.

diffrax reports steps but not function evaluations (NFE). The count follows from the solver:
an explicit Runge-Kutta method with `s` stages evaluates the vector field `s` times a step, or
`s - 1` times if its last stage is the next step's first (FSAL, e.g. Tsit5, Dopri5), plus the
first stage whenever no step has been accepted yet (every rejected first try re-evaluates it).
That last term depends on the run, so `CountingController` wraps the step-size controller (the
one piece of solver state diffrax keeps for rejected steps too) and counts first-stage
evaluations as they happen. The tests compare every count with one made by wrapping the vector
field.
"""

import dataclasses

import diffrax as dfx
import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Int


@dataclasses.dataclass(frozen=True)
class EvaluationRule:
    """Vector-field evaluations of one solver: `per_step` (drift, diffusion) for every step
    tried; `first_stage` more (drift, diffusion) for each try before the first accepted step
    (FSAL methods); `at_start` once per solve."""

    per_step: tuple[int, int]
    first_stage: tuple[int, int] = (0, 0)
    at_start: tuple[int, int] = (0, 0)


# SDE solvers (drift + diffusion per stage), counted on diffrax 0.7 (tests/solvers/test_cost.py).
_SDE_RULES = {
    dfx.Euler: EvaluationRule((1, 1)),
    dfx.EulerHeun: EvaluationRule((1, 2)),
    dfx.Heun: EvaluationRule((2, 2)),
    dfx.Midpoint: EvaluationRule((2, 2)),
    dfx.Ralston: EvaluationRule((2, 2)),
    dfx.SPaRK: EvaluationRule((3, 6)),
    dfx.ReversibleHeun: EvaluationRule((1, 1), at_start=(1, 1)),
}


def evaluation_rule(solver: dfx.AbstractSolver, sde: bool) -> EvaluationRule | None:
    """How many times `solver` evaluates the vector field, or `None` where that is not known
    exactly (implicit solvers, whose Newton iterations vary)."""
    if getattr(solver, "evaluates_like_wrapped", False):
        return evaluation_rule(solver.solver, sde)
    if sde:
        return _SDE_RULES.get(type(solver))
    if isinstance(solver, dfx.Euler):
        return EvaluationRule((1, 0))
    tableau = getattr(solver, "tableau", None)
    if isinstance(solver, dfx.AbstractERK) and isinstance(tableau, dfx.ButcherTableau):
        stages = tableau.num_stages
        if tableau.fsal:
            return EvaluationRule((stages - 1, 0), first_stage=(1, 0))
        return EvaluationRule((stages, 0))
    return None


class SolveCost(eqx.Module):
    """The cost of one solve (per sample under `vmap`).

    - `num_steps`: steps tried; `num_accepted_steps`, `num_rejected_steps` of them.
    - `nfe`: evaluations of the vector field (the drift, for an SDE), including the two the
      automatic initial step size makes; `None` where the solver's count is not known exactly.
    - `nfe_diffusion`: evaluations of an SDE's diffusion (`0` for an ODE).
    """

    num_steps: Int[Array, ""]
    num_accepted_steps: Int[Array, ""]
    num_rejected_steps: Int[Array, ""]
    nfe: Int[Array, ""] | None
    nfe_diffusion: Int[Array, ""] | None


class CountingController(dfx.AbstractAdaptiveStepSizeController):
    """An adaptive step-size controller that counts the first-stage evaluations an FSAL solver
    makes before its first accepted step (and after each jump), then defers to `controller`.

    Its state is `(inner state, first-stage evaluations, accepted yet, jump pending)`.
    """

    controller: dfx.AbstractAdaptiveStepSizeController

    @property
    def rtol(self):
        return self.controller.rtol

    @property
    def atol(self):
        return self.controller.atol

    @property
    def norm(self):
        return self.controller.norm

    def wrap(self, direction):
        return CountingController(self.controller.wrap(direction))

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        t_next, inner = self.controller.init(terms, t0, t1, y0, dt0, args, func, error_order)
        return t_next, (inner, jnp.array(0), jnp.array(False), jnp.array(False))

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        inner, first_stages, accepted, jump_pending = state
        first_stages = first_stages + (~accepted | jump_pending)
        keep, next_t0, next_t1, made_jump, inner, result = self.controller.adapt_step_size(
            t0, t1, y0, y1_candidate, args, y_error, error_order, inner
        )
        jump_pending = jnp.where(keep, made_jump, jump_pending)
        state = (inner, first_stages, accepted | keep, jump_pending)
        return keep, next_t0, next_t1, made_jump, state, result


def solve_cost(
    stats: dict,
    rule: EvaluationRule | None,
    first_stages: Int[Array, ""] | None,
    extra: tuple[int, int] = (0, 0),
) -> SolveCost:
    """The `SolveCost` of a solve from diffrax's `stats`, the solver's `rule`, the
    first-stage evaluations counted by `CountingController` (`None`: every step was accepted,
    so only the first try evaluated it) and `extra` evaluations made outside the solve."""
    steps = stats["num_steps"]
    if rule is None:
        nfe = nfe_diffusion = None
    else:
        if first_stages is None:
            first_stages = jnp.minimum(steps, 1)
        drift, diffusion = (
            per * steps + first * first_stages + start + more
            for per, first, start, more in zip(
                rule.per_step, rule.first_stage, rule.at_start, extra
            )
        )
        nfe, nfe_diffusion = drift, diffusion
    return SolveCost(
        num_steps=steps,
        num_accepted_steps=stats["num_accepted_steps"],
        num_rejected_steps=stats["num_rejected_steps"],
        nfe=nfe,
        nfe_diffusion=nfe_diffusion,
    )
