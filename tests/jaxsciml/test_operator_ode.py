"""OperatorODE: a grid operator advanced in time by a neural ODE, trained on heat trajectories
at some times and evaluated at others."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsciml as jsm
from jaxsciml.losses import relative_l2


class Decay(eqx.Module):
    """`F([u, c]) = -c · u`: the exact solution is `u₀ exp(-c t / τ)`."""

    def __call__(self, x):
        return -x[1:2] * x[0:1]


def test_exact_operator_gives_the_exact_trajectory():
    times = [0.1, 0.25, 0.5]
    model = jsm.OperatorODE(Decay(), times, coefficient_channels=1, time_scale=0.5)
    c = jnp.full((1, 5, 4), 2.0).at[0, 0, 0].set(0.5)
    u0 = jnp.linspace(-1.0, 1.0, 20).reshape(1, 5, 4)
    out = model(jnp.concatenate([c, u0]))
    expected = np.concatenate([u0 * np.exp(-c * t / 0.5) for t in times])
    assert out.shape == (3, 5, 4)
    np.testing.assert_allclose(out, expected, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(
        model.at_times([0.25])(jnp.concatenate([c, u0])), expected[1:2], rtol=2e-4
    )


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="increase strictly"):
        jsm.OperatorODE(Decay(), [0.5, 0.2], coefficient_channels=1)
    with pytest.raises(ValueError, match="increase strictly"):
        jsm.OperatorODE(Decay(), [0.0, 0.2], coefficient_channels=1)
    model = jsm.OperatorODE(Decay(), [0.5], coefficient_channels=1)
    with pytest.raises(ValueError, match="at least one state channel"):
        model.batched(jnp.ones((2, 1, 4)))


@pytest.fixture(scope="module")
def heat(tmp_path_factory):
    import datagen

    out = tmp_path_factory.mktemp("heat17")
    datagen.generate(
        "heat",
        48,
        out,
        resolution=17,
        steps=10,
        time_step=0.002,
        alpha=3.0,  # smooth u0: an FNO keeping 8 modes can represent the decay it sees
        seed=3,
        solver="direct",
        workers=1,
        progress=False,
    )
    return jsm.data.load(out)


@pytest.mark.slow
def test_trained_on_some_times_predicts_the_others(heat, one_device):
    train, test = (part.cache() for part in heat.split(40, 8))
    parameters = heat.metadata["parameters"]
    times = parameters["time_step"] * np.arange(1, parameters["steps"] + 1)
    seen, unseen = np.arange(1, 10, 2), np.arange(0, 10, 2)  # train at 0.004, 0.008, ...
    fno = jsm.FNO(
        2, 1, modes=(8, 8), width=16, depth=2, projection_channels=32, key=jax.random.key(0)
    )
    model = jsm.OperatorODE(fno, times, coefficient_channels=1, time_scale=0.02)
    metrics = {"unseen": lambda p, t: relative_l2(p[unseen], t[unseen])}
    before = jsm.evaluate(model, test, batch_size=8, metrics=metrics, mesh=one_device)["unseen"]
    trained, _ = jsm.fit(
        model.at_times(times[seen]),
        train,
        epochs=9,
        batch_size=8,
        loss=jsm.operators.loss_at_times(seen),
        optimizer=optax.adam(1e-2),
        progress=False,
        mesh=one_device,  # the solver's error norm reduces over the batch at every step
    )
    after = jsm.evaluate(
        trained.at_times(times), test, batch_size=8, metrics=metrics, mesh=one_device
    )["unseen"]
    assert after < 0.2 * before
