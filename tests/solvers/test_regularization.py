"""Local and global error regularization: against a NumPy Tsit5 step, zero where the step is
exact, no gradient through the sampled state, the solve left unchanged, every adjoint."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import solvers


TS = jnp.linspace(0.0, 2.0, 5)
Y0 = jnp.array([1.0, -0.5])


def mlp_model(**kwargs):
    field = solvers.MLPVectorField(2, 16, 2, scale=3.0, key=jax.random.key(0))
    return solvers.NeuralODE(field, **kwargs)


def numpy_tsit5_penalty(f, t, y, dt, rtol, atol):
    """EEst · dt of one Tsit5 step in float64, from diffrax's tableau but our own arithmetic."""
    tableau = dfx.Tsit5.tableau
    c = np.concatenate([[0.0], tableau.c])
    stages = []
    for i in range(len(c)):
        increment = sum(a * k for a, k in zip(tableau.a_lower[i - 1], stages)) if i else 0.0
        stages.append(np.asarray(f(t + c[i] * dt, jnp.asarray(y + dt * increment)), np.float64))
    y_next = y + dt * sum(b * k for b, k in zip(tableau.b_sol, stages))
    error = dt * sum(b * k for b, k in zip(tableau.b_error, stages))
    scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_next))
    return np.sqrt(np.mean((error / scale) ** 2)) * dt


def float64(model):
    return jax.tree.map(lambda x: x.astype(jnp.float64) if eqx.is_array(x) else x, model)


@pytest.mark.parametrize("sampling", ["unbiased", "biased"])
def test_penalty_matches_a_numpy_tsit5_step(sampling):
    # float64: the embedded error is a difference of nearly equal sums, rounding-bound in float32
    with jax.enable_x64(True):
        model = float64(mlp_model())
        ts, y0 = TS.astype(jnp.float64), Y0.astype(jnp.float64)
        result = eqx.filter_jit(solvers.local_regularization)(
            model, ts, y0, key=jax.random.key(3), sampling=sampling
        )
        t_k, dt = float(result.time), float(result.step)
        assert float(ts[0]) <= t_k < float(ts[-1]) and 0 < dt <= float(ts[-1]) - t_k
        y_k = np.asarray(model(jnp.array([0.0, t_k]), y0)[-1] if t_k > 0 else y0)
        expected = numpy_tsit5_penalty(model.vector_field, t_k, y_k, dt, 1e-3, 1e-6)
        # y(t_k) here comes from a solve that steps to t_k, not from interpolating the main
        # solve: the two differ within the solver's tolerance, and so do the penalties
        np.testing.assert_allclose(float(result.penalty), expected, rtol=1e-4)


def test_the_solve_is_the_unregularized_one():
    model = mlp_model()
    plain = eqx.filter_jit(model.solve)(TS, Y0)
    local = eqx.filter_jit(solvers.local_regularization)
    for sampling in ("unbiased", "biased"):
        result = local(model, TS, Y0, key=jax.random.key(5), sampling=sampling)
        np.testing.assert_array_equal(result.solution.ys, plain.ys)
        assert int(result.solution.cost.num_steps) == int(plain.cost.num_steps)
        assert int(result.solution.cost.nfe) == int(plain.cost.nfe)


def test_zero_for_a_step_that_is_exact_and_positive_otherwise():
    # float64, so that exact zero is not hidden by float32 rounding of the error weights
    with jax.enable_x64(True):
        ts, y0 = TS.astype(jnp.float64), Y0.astype(jnp.float64)
        local = eqx.filter_jit(solvers.local_regularization)
        penalty = lambda model, sampling: float(
            local(model, ts, y0, key=jax.random.key(1), sampling=sampling).penalty
        )
        nonlinear = penalty(float64(mlp_model()), "unbiased")
        assert nonlinear > 0
        constant = solvers.NeuralODE(lambda t, y, a: jnp.full_like(y, 2.0))
        linear_in_time = solvers.NeuralODE(lambda t, y, a: jnp.full_like(y, 3.0 * t))
        for model in (constant, linear_in_time):  # Tsit5 integrates polynomials in t exactly
            for sampling in ("unbiased", "biased"):
                assert penalty(model, sampling) < 1e-4 * nonlinear


def test_gradient_does_not_flow_through_the_sampled_state():
    model = mlp_model()
    penalty = lambda y0, m: solvers.local_regularization(m, TS, y0, key=jax.random.key(2)).penalty
    grad_y0, grad_model = eqx.filter_jit(eqx.filter_grad(lambda both: penalty(*both)))((Y0, model))
    np.testing.assert_array_equal(grad_y0, jnp.zeros_like(Y0))  # y0 reaches it only via y(t_k)
    assert float(jnp.abs(grad_model.vector_field.mlp.layers[0].weight).sum()) > 0


def test_gradient_matches_finite_differences_through_the_step():
    with jax.enable_x64(True):
        # a tight main solve, so that y(t_k) below agrees with the one the regularizer used;
        # the penalty keeps its own tolerances (rtol 1e-3, atol 1e-6)
        model = float64(mlp_model(stepsize_controller=dfx.PIDController(1e-12, 1e-12)))
        ts, y0 = TS.astype(jnp.float64), Y0.astype(jnp.float64)
        regularize = eqx.filter_jit(
            lambda m: solvers.local_regularization(
                m, ts, y0, key=jax.random.key(2), rtol=1e-3, atol=1e-6
            )
        )
        grad = eqx.filter_grad(lambda m: regularize(m).penalty)(model)
        path = lambda m: m.vector_field.mlp.layers[-1].bias
        direction = jnp.array([0.6, -0.8])
        # finite differences of the same penalty with t_k, y(t_k) and dt held fixed
        result = regularize(model)
        t_k, dt = float(result.time), float(result.step)
        y_k = np.asarray(model(jnp.array([0.0, t_k]), y0)[-1])
        fixed = lambda m: numpy_tsit5_penalty(m.vector_field, t_k, y_k, dt, 1e-3, 1e-6)
        # the penalty is a small difference of O(1) stage sums, known to ~1e-6 relative: a
        # large step keeps rounding out of the difference quotient (its truncation is O(eps²))
        eps = 1e-3
        plus = fixed(eqx.tree_at(path, model, path(model) + eps * direction))
        minus = fixed(eqx.tree_at(path, model, path(model) - eps * direction))
        np.testing.assert_allclose(
            (plus - minus) / (2 * eps), jnp.sum(path(grad) * direction), rtol=1e-4
        )


def test_every_adjoint_gives_the_gradient_of_the_penalized_loss():
    """The penalty reaches the parameters through its one step, so the main solve's adjoint
    changes only how the solution's part is differentiated: `DirectAdjoint` must agree with
    `RecursiveCheckpointAdjoint` to rounding (both differentiate the same discrete solve), and
    the continuous `BacksolveAdjoint` to about the solver's relative tolerance (1e-3)."""

    def gradient(adjoint):
        def loss(m):
            result = solvers.local_regularization(m, TS, Y0, key=jax.random.key(4))
            return jnp.sum(result.solution.ys[-1] ** 2) + 10.0 * result.penalty

        grads = eqx.filter_jit(eqx.filter_grad(loss))(mlp_model(adjoint=adjoint))
        return np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads)])

    reference = gradient(dfx.RecursiveCheckpointAdjoint())
    assert np.linalg.norm(reference) > 0
    for adjoint, rtol in [(dfx.DirectAdjoint(), 1e-5), (dfx.BacksolveAdjoint(), 1e-3)]:
        difference = np.linalg.norm(gradient(adjoint) - reference) / np.linalg.norm(reference)
        assert difference < rtol, (type(adjoint).__name__, difference)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="BacksolveAdjoint cannot save"):
        solvers.local_regularization(
            mlp_model(adjoint=dfx.BacksolveAdjoint()),
            TS,
            Y0,
            key=jax.random.key(0),
            sampling="biased",
        )
    with pytest.raises(ValueError, match="cannot take a state of shape"):
        solvers.local_regularization(mlp_model(), TS, jnp.ones(3), key=jax.random.key(0))
    with pytest.raises(ValueError, match="increase strictly"):
        solvers.global_regularization(mlp_model(), TS[::-1], Y0)
    with pytest.raises(ValueError, match="sampling must be"):
        solvers.local_regularization(mlp_model(), TS, Y0, key=jax.random.key(0), sampling="other")


def test_global_penalty_is_the_sum_over_accepted_steps():
    with jax.enable_x64(True):
        model = float64(mlp_model(dt0=0.05))
        ts, y0 = TS.astype(jnp.float64), Y0.astype(jnp.float64)
        result = solvers.global_regularization(model, ts, y0)
        steps = dfx.diffeqsolve(
            dfx.ODETerm(model.vector_field),
            dfx.Tsit5(),
            ts[0],
            ts[-1],
            0.05,
            y0,
            saveat=dfx.SaveAt(t0=True, steps=True),
            stepsize_controller=dfx.PIDController(1e-3, 1e-6),
        )
        n = int(steps.stats["num_accepted_steps"])
        ends = np.asarray(steps.ts[: n + 1])
        expected = sum(
            numpy_tsit5_penalty(
                model.vector_field,
                ends[i],
                np.asarray(steps.ys[i]),
                ends[i + 1] - ends[i],
                1e-3,
                1e-6,
            )
            for i in range(n)
        )
        np.testing.assert_allclose(float(result.penalty), expected, rtol=1e-6)
        np.testing.assert_allclose(result.solution.ys, model(ts, y0), rtol=1e-12)


def test_sde_penalties():
    sde = solvers.NeuralSDE(
        solvers.MLPVectorField(2, 16, 2, scale=3.0, key=jax.random.key(0)),
        lambda t, y, a: 0.3 * jnp.tanh(y) + 0.1,
    )
    for sampling in ("unbiased", "biased"):
        result = solvers.local_regularization(sde, TS, Y0, key=jax.random.key(0), sampling=sampling)
        assert float(result.penalty) > 0 and float(result.time) + float(result.step) <= float(
            TS[-1]
        )
    assert float(solvers.global_regularization(sde, TS, Y0, key=jax.random.key(0)).penalty) > 0
    with pytest.raises(ValueError, match="needs a key"):
        solvers.global_regularization(sde, TS, Y0)
