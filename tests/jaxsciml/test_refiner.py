"""Spectral-Refiner's fine-tuning stage: per sample (`refine`) and over a dataset (`fit` with a
trainable filter), on a Taylor-Green vortex whose continuation is known exactly."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxsciml as jsm
from jaxsciml.data import from_arrays
from jaxsciml.operators import output_layer_filter
from jaxsciml.physics.vorticity import VorticityResidualLoss
from jaxsciml.refiner import refine


N, NU, INTERVAL = 16, 0.01, 0.2


def taylor_green(frames: int) -> jax.Array:
    x = np.arange(N) / N
    t = np.arange(frames) * INTERVAL
    shape = np.sin(2 * np.pi * x)[:, None] * np.sin(2 * np.pi * x)[None, :]
    return jnp.asarray(np.exp(-8 * np.pi**2 * NU * t)[:, None, None] * shape, jnp.float32)


def small_model():
    return jsm.SFNO(
        8, modes=(4, 4), modes_t=3, width=6, depth=2, latent_steps=4, key=jax.random.key(0)
    )


def relative_error(prediction, target) -> float:
    return float(np.linalg.norm(prediction - target) / np.linalg.norm(target))


def test_refining_lowers_the_estimator_and_the_true_error():
    """An untrained SFNO's prediction of a decaying vortex: the refinement sees only the input
    frames and the equation, yet moves the prediction toward the exact continuation."""
    w = taylor_green(18)
    model = small_model()
    unrefined = refine(model, w[:10], viscosity=NU, frame_interval=INTERVAL, steps=0)
    np.testing.assert_allclose(unrefined.prediction, model(w[:10]), atol=1e-6)
    refined = refine(
        model, w[:10], viscosity=NU, frame_interval=INTERVAL, steps=300,
        weight_learning_rate=1e-3,
    )  # fmt: skip
    assert refined.estimates.shape == (301,)
    assert refined.estimates[-1] < 0.6 * refined.estimates[0]
    before = relative_error(unrefined.prediction, w[10:])
    assert relative_error(refined.prediction, w[10:]) < 0.7 * before
    assert refined.model.output.modes == (N // 2, N // 2, 4)


def test_fit_trains_the_output_layer_alone_under_the_residual_loss(one_device):
    w = taylor_green(18)
    data = from_arrays(np.stack([w[:10]] * 2), np.stack([w[10:]] * 2))
    model = small_model().with_output_modes((8, 8, 4))
    loss = VorticityResidualLoss(INTERVAL, NU)
    trained, history = jsm.fit(
        model, data, epochs=3, batch_size=2, loss=loss, optimizer=optax.adam(1e-2),
        trainable=output_layer_filter, mesh=one_device, progress=False,
    )  # fmt: skip
    changed = jax.tree.map(
        lambda a, b: bool(jnp.any(a != b)), eqx.filter(trained, eqx.is_array),
        eqx.filter(model, eqx.is_array),
    )  # fmt: skip
    assert all(jax.tree.leaves(changed.output))
    assert not any(jax.tree.leaves(eqx.tree_at(lambda m: m.output, changed, None)))
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_the_refine_command_refines_every_window(tmp_path, capsys):
    """`jaxsciml refine MODEL DATA` on datagen's Navier-Stokes windows: viscosity and frame
    interval come from the dataset's record; the report holds errors and estimators."""
    import datagen
    from jaxsciml.cli import main

    data = tmp_path / "ns"
    datagen.generate(
        "navier_stokes", 2, data, resolution=16, stored_resolution=16, frames=13,
        frame_interval=0.05, time_step=0.01, viscosity=1e-2, seed=0,
    )  # fmt: skip
    model = jsm.save_model(tmp_path / "sfno.jsm", small_model())
    arguments = ["refine", str(model), str(data), "--n", "2", "--steps", "3",
                 "--option", "n_steps_input=10", "--option", "n_steps_output=4"]  # fmt: skip
    assert main(arguments) == 0
    report = json.loads((tmp_path / "refinement-ns.json").read_text())
    assert len(report["samples"]) == 2
    assert report["estimator_after"] < report["estimator_before"]
    assert set(json.loads(capsys.readouterr().out.strip().splitlines()[-1])) == {
        "error_before", "error_after", "estimator_before", "estimator_after"}  # fmt: skip
