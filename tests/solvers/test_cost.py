"""The reported number of function evaluations equals a count made inside the vector field."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import solvers


class Counted:
    """Vector fields that count their evaluations at run time (a host callback per call)."""

    def __init__(self):
        self.drift_calls = self.diffusion_calls = 0

    def _bump(self, which):
        setattr(self, which, getattr(self, which) + 1)

    def drift(self, t, y, args):
        jax.debug.callback(lambda: self._bump("drift_calls"))
        return -y * (1.0 + jnp.sin(5.0 * t)) + jnp.cos(3.0 * t)

    def diagonal(self, t, y, args):
        jax.debug.callback(lambda: self._bump("diffusion_calls"))
        return 0.3 + 0.1 * jnp.tanh(y)

    def general(self, t, y, args):
        jax.debug.callback(lambda: self._bump("diffusion_calls"))
        return 0.3 * jnp.ones((3, 2)) + 0.1 * jnp.tanh(y)[:, None]


ODE_SOLVERS = [dfx.Tsit5(), dfx.Dopri8(), dfx.Bosh3(), dfx.Heun()]  # FSAL and not
TS = jnp.linspace(0.0, 3.0, 7)


@pytest.mark.parametrize("solver", ODE_SOLVERS, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dt0", [None, 0.1], ids=["auto", "dt0=0.1"])
def test_ode_nfe_equals_count(solver, dt0):
    counted = Counted()
    model = solvers.NeuralODE(counted.drift, solver, dfx.PIDController(1e-6, 1e-6), dt0=dt0)
    solution = eqx.filter_jit(model.solve)(TS, jnp.ones(3))
    jax.block_until_ready(solution.ys)
    assert int(solution.cost.nfe) == counted.drift_calls > 0
    assert int(solution.cost.nfe_diffusion) == 0


def test_rejected_first_steps_are_counted():
    # a first step of 1.0 is far too long at this tolerance: FSAL solvers re-evaluate f(t0)
    counted = Counted()
    model = solvers.NeuralODE(counted.drift, dfx.Bosh3(), dfx.PIDController(1e-8, 1e-8), dt0=1.0)
    solution = eqx.filter_jit(model.solve)(TS, jnp.ones(3))
    jax.block_until_ready(solution.ys)
    assert int(solution.cost.num_rejected_steps) > 0
    assert int(solution.cost.nfe) == counted.drift_calls


def test_fixed_step_nfe_equals_count():
    counted = Counted()
    model = solvers.NeuralODE(counted.drift, dfx.Euler(), dfx.ConstantStepSize(), dt0=0.1)
    solution = eqx.filter_jit(model.solve)(TS, jnp.ones(3))
    jax.block_until_ready(solution.ys)
    assert int(solution.cost.nfe) == counted.drift_calls == 30


SDE_CASES = [  # (solver, adaptive, noise)
    (dfx.Heun(), True, "diagonal"),
    (dfx.Heun(), True, 2),
    (dfx.SPaRK(), True, "diagonal"),
    (dfx.SPaRK(), True, 2),
    (dfx.ReversibleHeun(), True, "diagonal"),
    (dfx.EulerHeun(), False, 2),
    (dfx.Euler(), False, "diagonal"),
]


@pytest.mark.parametrize(
    "solver, adaptive, noise", SDE_CASES, ids=lambda c: getattr(type(c), "__name__", str(c))
)
def test_sde_nfe_equals_count(solver, adaptive, noise):
    counted = Counted()
    diffusion = counted.diagonal if noise == "diagonal" else counted.general
    controller = dfx.PIDController(1e-2, 1e-2) if adaptive else dfx.ConstantStepSize()
    model = solvers.NeuralSDE(
        counted.drift, diffusion, noise, solver, controller, dt0=None if adaptive else 0.05
    )
    solution = eqx.filter_jit(model.solve)(TS, jnp.ones(3), key=jax.random.key(1))
    jax.block_until_ready(solution.ys)
    assert int(solution.cost.nfe) == counted.drift_calls > 0
    assert int(solution.cost.nfe_diffusion) == counted.diffusion_calls > 0


def test_implicit_solver_nfe_is_unknown_not_wrong():
    model = solvers.NeuralODE(lambda t, y, a: -y, dfx.Kvaerno3(), dfx.PIDController(1e-4, 1e-4))
    solution = model.solve(TS, jnp.ones(3))
    assert solution.cost.nfe is None
    assert int(solution.cost.num_steps) > 0


def test_local_regularization_costs_the_stated_evaluations():
    counted = Counted()
    model = solvers.NeuralODE(counted.drift, stepsize_controller=dfx.PIDController(1e-5, 1e-5))
    result = eqx.filter_jit(solvers.local_regularization)(
        model, TS, jnp.ones(3), key=jax.random.key(0)
    )
    jax.block_until_ready(result.penalty)
    extra = counted.drift_calls - int(result.solution.cost.nfe)
    assert extra == solvers.LOCAL_ODE_EVALUATIONS
