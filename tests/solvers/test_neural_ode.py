"""NeuralODE: against the matrix exponential, gradients against finite differences for every
adjoint, and the errors a user sees for bad input."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import solvers


class Linear(eqx.Module):
    matrix: jax.Array

    def __call__(self, t, y, args):
        return self.matrix @ y


def test_linear_ode_matches_matrix_exponential(getkey):
    matrix = jnp.array([[-0.3, 2.0, 0.0], [-2.0, -0.3, 0.5], [0.0, -0.5, -1.0]])
    y0 = jnp.array([1.0, -0.5, 0.25])
    ts = jnp.linspace(0.0, 3.0, 7)
    model = solvers.NeuralODE(Linear(matrix), stepsize_controller=dfx.PIDController(1e-6, 1e-7))
    solution = eqx.filter_jit(model.solve)(ts, y0)
    exact = np.stack(
        [scipy.linalg.expm(np.float64(matrix) * t) @ np.float64(y0) for t in np.float64(ts)]
    )
    # float32 states, tolerance 1e-6: the global error stays within a few 1e-6
    np.testing.assert_allclose(solution.ys, exact, atol=2e-5)
    assert solution.ys.shape == (7, 3)
    assert int(solution.cost.num_steps) == int(
        solution.cost.num_accepted_steps + solution.cost.num_rejected_steps
    )


def test_vmap_gives_each_sample_its_own_steps(getkey):
    model = solvers.NeuralODE(Linear(jnp.array([[-1.0]])))
    y0 = jnp.array([[1e-3], [1.0], [100.0]])
    solutions = jax.vmap(model.solve, in_axes=(None, 0))(jnp.array([0.0, 1.0]), y0)
    np.testing.assert_allclose(solutions.ys[:, -1], y0 * np.exp(-1.0), rtol=1e-3)
    assert solutions.cost.nfe.shape == (3,)


def _mlp_model(adjoint):
    field = solvers.MLPVectorField(2, 8, 2, scale=2.0, time_dependent=True, key=jax.random.key(0))
    field = jax.tree.map(lambda x: x.astype(jnp.float64) if eqx.is_array(x) else x, field)
    return solvers.NeuralODE(
        field, stepsize_controller=dfx.PIDController(1e-10, 1e-10), adjoint=adjoint
    )


@pytest.mark.parametrize(
    "adjoint",
    [dfx.RecursiveCheckpointAdjoint(), dfx.BacksolveAdjoint(), dfx.DirectAdjoint()],
    ids=["recursive-checkpoint", "backsolve", "direct"],
)
def test_gradients_match_finite_differences(adjoint, check_gradients):
    """Every weight of the vector field, along random directions; the solver's tolerance
    (1e-10) keeps the discretisation and the adjoint's own solve far below the check's 1e-6."""
    with jax.enable_x64(True):
        model = _mlp_model(adjoint)
        ts = jnp.linspace(0.0, 1.5, 4)
        y0 = jnp.array([0.5, -1.0])
        weights, rest = eqx.partition(model, eqx.is_inexact_array)
        check_gradients(lambda w: jnp.sum(jnp.sin(eqx.combine(w, rest)(ts, y0)[1:])), weights)


@pytest.mark.parametrize(
    "ts", [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0, 0.5]], ids=["reversed", "empty", "unordered"]
)
def test_time_span_must_increase(ts):
    model = solvers.NeuralODE(Linear(-jnp.eye(2)))
    with pytest.raises(ValueError, match="increase strictly"):
        model.solve(jnp.array(ts), jnp.ones(2))


def test_time_span_is_checked_under_jit():
    model = solvers.NeuralODE(Linear(-jnp.eye(2)))
    with pytest.raises(Exception, match="increase strictly"):
        jax.block_until_ready(eqx.filter_jit(model.solve)(jnp.array([1.0, 0.0]), jnp.ones(2)))


def test_too_few_times_and_wrong_state_shape_are_named():
    model = solvers.NeuralODE(Linear(-jnp.eye(2)))
    with pytest.raises(ValueError, match="two or more times"):
        model.solve(jnp.array([0.0]), jnp.ones(2))
    field = solvers.MLPVectorField(3, 8, 1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="cannot take a state of shape"):
        solvers.NeuralODE(field).solve(jnp.array([0.0, 1.0]), jnp.ones(2))


def test_max_steps_reached_is_an_error_not_nan():
    model = solvers.NeuralODE(Linear(-jnp.eye(2)), max_steps=3)
    with pytest.raises(Exception, match="maximum number of solver steps"):
        jax.block_until_ready(model.solve(jnp.array([0.0, 50.0]), jnp.ones(2)).ys)


def test_fixed_steps_need_dt0():
    model = solvers.NeuralODE(Linear(-jnp.eye(2)), dfx.Euler(), dfx.ConstantStepSize())
    with pytest.raises(ValueError, match="pass dt0"):
        model.solve(jnp.array([0.0, 1.0]), jnp.ones(2))
    stepped = solvers.NeuralODE(Linear(-jnp.eye(2)), dfx.Euler(), dfx.ConstantStepSize(), dt0=0.1)
    np.testing.assert_allclose(stepped(jnp.array([0.0, 1.0]), jnp.ones(2))[-1], 0.9**10, rtol=1e-5)


def test_vector_field_returning_another_shape_is_named():
    model = solvers.NeuralODE(lambda t, y, args: jnp.concatenate([y, y]))
    with pytest.raises(ValueError, match="same shape as the state"):
        model.solve(jnp.array([0.0, 1.0]), jnp.ones(2))
