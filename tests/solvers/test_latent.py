"""LatentODE: shapes, masked values ignored, padding, and a short fit lowers the loss."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import solvers


def spirals(n, key, slots=12):
    """Damped rotations sampled at random times (irregular per series), 30% of values hidden."""
    k_times, k_start, k_mask = jax.random.split(key, 3)
    ts = jnp.sort(jax.random.uniform(k_times, (n, slots), maxval=4.0), axis=1)
    ts = ts - ts[:, :1]
    y0 = jax.random.normal(k_start, (n, 2))
    angle, decay = 1.3 * ts, jnp.exp(-0.1 * ts)
    ys = decay[..., None] * jnp.stack(
        [
            jnp.cos(angle) * y0[:, None, 0] + jnp.sin(angle) * y0[:, None, 1],
            -jnp.sin(angle) * y0[:, None, 0] + jnp.cos(angle) * y0[:, None, 1],
        ],
        axis=-1,
    )
    mask = (jax.random.uniform(k_mask, ys.shape) > 0.3).astype(ys.dtype)
    return ts, ys, mask


@pytest.fixture
def model():
    return solvers.LatentODE(2, 4, 16, 16, 1, key=jax.random.key(0))


def test_shapes_and_masked_values_are_ignored(model):
    ts, ys, mask = spirals(1, jax.random.key(1))
    ts, ys, mask = ts[0], ys[0], mask[0]
    mean, std = model.encode(ts, ys, mask)
    assert mean.shape == std.shape == (4,) and bool(jnp.all(std > 0))
    assert model(ts, ys, mask, jnp.linspace(0.0, 5.0, 7)).shape == (7, 2)
    garbage = jnp.where(mask > 0, ys, 1e3)  # hidden values changed: nothing may notice
    key = jax.random.key(2)
    np.testing.assert_array_equal(
        model.loss(ts, ys, mask, key=key), model.loss(ts, garbage, mask, key=key)
    )
    np.testing.assert_array_equal(model.encode(ts, ys, mask)[0], model.encode(ts, garbage, mask)[0])


def test_padded_slots_change_nothing(model):
    ts, ys, mask = (x[0] for x in spirals(1, jax.random.key(3), slots=8))
    padded_ts = jnp.concatenate([ts, jnp.full(4, ts[-1])])
    padded_ys = jnp.concatenate([ys, jnp.full((4, 2), 7.0)])
    padded_mask = jnp.concatenate([mask, jnp.zeros((4, 2))])
    key = jax.random.key(4)
    np.testing.assert_allclose(
        model.loss(ts, ys, mask, key=key),
        model.loss(padded_ts, padded_ys, padded_mask, key=key),
        rtol=1e-5,
    )


@pytest.mark.slow
def test_short_training_lowers_the_loss(model):
    ts, ys, mask = spirals(128, jax.random.key(5))
    optimizer = optax.adam(1e-2)
    state = optimizer.init(eqx.filter(model, eqx.is_inexact_array))

    def batch_loss(m, key):
        keys = jax.random.split(key, ts.shape[0])
        return jnp.mean(jax.vmap(lambda t, y, k_, s: m.loss(t, y, k_, key=s))(ts, ys, mask, keys))

    @eqx.filter_jit
    def step(m, state, key):
        value, grads = eqx.filter_value_and_grad(batch_loss)(m, key)
        updates, state = optimizer.update(grads, state)
        return eqx.apply_updates(m, updates), state, value

    first = float(batch_loss(model, jax.random.key(0)))
    for i in range(80):
        model, state, _ = step(model, state, jax.random.key(i))
    assert float(batch_loss(model, jax.random.key(0))) < 0.3 * first
