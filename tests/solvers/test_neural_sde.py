"""NeuralSDE: Ornstein-Uhlenbeck statistics, one path per key, gradients, bad input."""

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import solvers


THETA, SIGMA, Y0 = 1.5, 0.8, 1.0


def ou_model(**kwargs):
    """dy = -θ y dt + σ dW: additive noise, so the Stratonovich (Heun) and Itô solutions agree."""
    return solvers.NeuralSDE(
        lambda t, y, a: -THETA * y, lambda t, y, a: SIGMA * jnp.ones_like(y), **kwargs
    )


@pytest.mark.slow
def test_ornstein_uhlenbeck_mean_and_variance():
    n = 4000
    ts = jnp.array([0.0, 0.5, 1.0])
    model = ou_model()
    keys = jax.random.split(jax.random.key(0), n)
    ys = eqx.filter_jit(jax.vmap(lambda k: model(ts, jnp.array([Y0]), key=k)))(keys)[:, :, 0]
    mean = Y0 * np.exp(-THETA * ts[1:])
    variance = SIGMA**2 / (2 * THETA) * (1 - np.exp(-2 * THETA * ts[1:]))
    # sampling error: the mean's standard error is sqrt(var/n), the variance's var·sqrt(2/(n-1))
    # (Gaussian marginals); allow 4 standard errors, far above the solver's error at rtol 1e-3
    np.testing.assert_array_less(np.abs(ys[:, 1:].mean(0) - mean), 4 * np.sqrt(variance / n))
    np.testing.assert_array_less(
        np.abs(ys[:, 1:].var(0, ddof=1) - variance), 4 * variance * np.sqrt(2 / (n - 1))
    )


def test_same_key_same_path_other_key_other_path():
    model = ou_model()
    ts = jnp.linspace(0.0, 1.0, 5)
    a = model(ts, jnp.ones(2), key=jax.random.key(1))
    b = model(ts, jnp.ones(2), key=jax.random.key(1))
    c = model(ts, jnp.ones(2), key=jax.random.key(2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(a[0], jnp.ones(2))


def test_adaptive_steps_converge_to_the_fixed_step_path():
    # one Brownian path (same key and tree): adaptive solves at tightening tolerances approach
    # a fine fixed-step solve of that path; observations at ts are step ends, not interpolated
    ts = jnp.linspace(0.0, 1.0, 3)
    key = jax.random.key(3)

    def solve(**kwargs):
        return ou_model(brownian_tol=1e-4, max_steps=20_000, **kwargs)(ts, jnp.ones(1), key=key)

    reference = solve(stepsize_controller=dfx.ConstantStepSize(), dt0=1e-4)
    errors = [
        float(jnp.abs(solve(stepsize_controller=dfx.PIDController(tol, tol)) - reference).max())
        for tol in (1e-3, 1e-5)
    ]
    assert errors[1] < errors[0] / 5
    assert errors[1] < 2e-3


def test_general_noise_and_gradients_match_finite_differences(check_gradients):
    """A (3,)-state driven by two Brownian motions; the gradient of a path's loss with respect to
    the drift's weights, at a fixed Brownian path and fixed steps (float64), against central
    differences."""
    with jax.enable_x64(True):
        as64 = lambda tree: jax.tree.map(
            lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x, tree
        )
        drift = as64(solvers.MLPVectorField(3, 8, 1, key=jax.random.key(0)))
        diffusion = as64(eqx.nn.Linear(3, 6, key=jax.random.key(1)))
        model = solvers.NeuralSDE(
            drift,
            lambda t, y, a: 0.1 * diffusion(y).reshape(3, 2),
            noise=2,
            stepsize_controller=dfx.ConstantStepSize(),
            dt0=0.05,
        )
        ts, y0, key = jnp.linspace(0.0, 1.0, 4), jnp.ones(3), jax.random.key(2)
        assert model(ts, y0, key=key).shape == (4, 3)
        weights, rest = eqx.partition(drift, eqx.is_inexact_array)

        def loss(weights):
            path = eqx.tree_at(lambda m: m.drift, model, eqx.combine(weights, rest))(
                ts, y0, key=key
            )
            return jnp.sum(path**2)

        check_gradients(loss, weights)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="noise must be"):
        solvers.NeuralSDE(lambda t, y, a: y, lambda t, y, a: y, noise=0)
    model = solvers.NeuralSDE(lambda t, y, a: -y, lambda t, y, a: jnp.ones((2, 3)), noise=2)
    with pytest.raises(ValueError, match=r"diffusion returns shape \(2, 3\)"):
        model.solve(jnp.array([0.0, 1.0]), jnp.ones(2), key=jax.random.key(0))
    with pytest.raises(ValueError, match="increase strictly"):
        ou_model().solve(jnp.array([1.0, 0.0]), jnp.ones(2), key=jax.random.key(0))
