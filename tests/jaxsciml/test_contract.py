"""The contract every registered model family passes, and every dataset kind with it.

The shape of lineax's `tests/helpers.py` driving `tests/test_solve.py`: `CASES` gives each
family a tiny `[model]` table; the tests build it through the same path as a configuration file
(`jaxsciml.experiment`: data of the family's kind, derived arguments, normalizers, the family's
own loss and optimizer) and check shapes, jit, `batched` against `vmap`, the loss gradient
against finite differences, a second resolution where the paper claims one, the model-file round
trip, and two `fit` steps on one device and on eight. Registering a family without a case here
fails `test_every_registered_family_has_a_case`. One family of each dataset kind (grid pairs,
sensor/point views, collocation points, unlabelled fields) also goes through `fit` with
evaluation, an interrupted run and its resume, and `evaluate`.
"""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsciml as jsm
from jaxsciml import experiment, parallel, registry
from jaxsciml.config import from_dict
from jaxsciml.data import from_arrays
from jaxsciml.nn.frozen import trainable_filter
from jaxsciml.operators.base import (
    AbstractBranchTrunkOperator,
    AbstractGridOperator,
    AbstractPointOperator,
)


FNO_FIELD = {"name": "fno", "modes": [3, 3], "width": 4, "depth": 1, "projection_channels": 8}
CASES = {
    "fno": {k: v for k, v in FNO_FIELD.items() if k != "name"},
    "tfno": {"modes": [3, 3], "width": 4, "depth": 2, "rank": 0.5},
    "fno_neuralop": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 2, "norm": "group"},
    "t1": {"modes": [3, 3], "width": 4, "depth": 1},
    "mgno": {"width": 4, "depth": 1, "levels": 2},
    "mg_tfno": {"modes": [2, 2], "width": 4, "depth": 2, "levels": 1, "padding": 0.125},
    "sfno": {"modes": [2, 2], "modes_t": 2, "width": 4, "depth": 2, "latent_steps": 3},
    "deeponet": {"branch_widths": [8], "trunk_widths": [8]},
    "multionet": {"branch_widths": [8, 8], "trunk_widths": [8, 8], "num_outputs": 2},
    "pig": {"num_gaussians": 6, "scale": 0.2, "channels": 2, "hidden": [4]},
    "pinn": {"hidden": [8]},
    "dgno": {"latent": 4, "width": 8, "depth": 2, "num_outputs": 1, "coefficient_width": 8},
    "operator_ode": {"vector_field": FNO_FIELD, "times": [0.1, 0.2]},
}
# The families whose papers claim one operator at every grid (zero-shot super-resolution); MgNO
# runs at other grids but is built for one, DGNO's encoder reads one fixed grid.
RESOLUTION_FREE = {"fno", "fno_neuralop", "tfno", "t1", "operator_ode", "sfno"}
# Loss options where the paper's would make the tests slow or float32-noisy (DGNO: 100 test
# functions of radius 1e-4, whose gradients scale as 1/R).
LOSS_OPTIONS = {"dgno": {"centres": 4, "radius": 0.1}}
SAMPLES = 8  # one batch, split over the 8 test devices
PDE = {"name": "helmholtz"}
COLLOCATION = {"interior": SAMPLES, "reference": 6}


@dataclasses.dataclass
class Built:
    config: object
    model: eqx.Module
    train: object  # the training set, of the family's kind
    test: object  # labelled evaluation data


# Families whose grids must split evenly (MG-TFNO's 2x2 patches, each halved once more)
GRID_SIZE = {"mg_tfno": 8}


def grid_pairs(name: str):
    """Smooth random fields on a 9x9 grid (8x8 where `GRID_SIZE` says): one input and one
    output channel (OperatorODE: a state plus a coefficient in, the state at two times out);
    binary inputs for DGNO."""
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 1.0, GRID_SIZE.get(name, 9))
    modes = rng.normal(size=(SAMPLES, 3, 2, 2))
    waves = np.stack([np.sin(np.pi * (i + 1) * x) for i in range(2)])  # (2, grid)
    fields = np.einsum("ncij,ix,jy->ncxy", modes, waves, waves).astype(np.float32)
    if name == "dgno":
        return np.where(fields[:, :1] > 0, 10.0, 5.0).astype(np.float32), fields[:, 1:2]
    if name == "operator_ode":
        return fields[:, :2], fields[:, 1:3]
    return fields[:, :1], fields[:, 1:2]


def build(name: str) -> Built:
    kind = registry.family(name).data
    raw = {"model": {"name": name, **CASES[name]}}
    if name in LOSS_OPTIONS:
        raw["train"] = {"loss_options": LOSS_OPTIONS[name]}
    if kind == "collocation":
        raw["data"] = {"pde": PDE, "collocation": COLLOCATION}
    if kind == "points":
        raw["data"] = {"sensor_stride": 2, "points_per_step": 10}
    config = from_dict(raw)
    if kind == "collocation":
        train, evaluation = experiment.collocation_data(config)
        test = evaluation["test"]
    else:
        data = from_arrays(*grid_pairs(name))
        train = experiment.as_family_data(config, data, training=True)
        test = experiment.as_family_data(config, data, training=False)
    model = experiment.build_model(config, train, key=jax.random.key(0))
    return Built(config, model, train, test)


@pytest.fixture(scope="module", params=sorted(CASES))
def built(request) -> Built:
    return build(request.param)


def first_batch(data):
    """The first batch of `data`, its arrays as JAX arrays (on the default device)."""
    return jax.tree.map(jnp.asarray, next(iter(data.batches(SAMPLES, seed=None))))


def test_every_registered_family_has_a_case():
    assert sorted(registry.FAMILIES) == sorted(CASES), "give every registered family a case"


def test_prediction_shapes_and_jit(built):
    batch = first_batch(built.test)
    prediction = batch.predict(built.model)
    assert prediction.shape == np.shape(batch.target)
    assert np.all(np.isfinite(prediction))
    jitted = eqx.filter_jit(lambda model, batch: batch.predict(model))(built.model, batch)
    np.testing.assert_allclose(jitted, prediction, rtol=1e-5, atol=1e-6)


def test_batched_matches_vmap(built):
    model, rng = built.model, np.random.default_rng(1)
    if isinstance(model, AbstractGridOperator):
        x = jnp.asarray(first_batch(built.test).inputs)
        fast, reference = model.batched(x), jax.vmap(model)(x)
    elif isinstance(model, AbstractBranchTrunkOperator):
        sensors = jnp.asarray(rng.normal(size=(3, model.sensors)), jnp.float32)
        points = jnp.asarray(rng.random((5, model.coordinates)), jnp.float32)
        fast = model.batched(sensors, points)
        reference = jax.vmap(model, (0, None))(sensors, points)
    else:
        assert isinstance(model, AbstractPointOperator)
        points = model.domain.sample_interior(7, rng)
        fast, reference = model.predict(points, chunk_size=3), jax.vmap(model)(jnp.asarray(points))
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-6)


def in_float64(tree):
    return jax.tree.map(
        lambda x: (
            jnp.asarray(x, jnp.promote_types(x.dtype, jnp.float64))
            if eqx.is_inexact_array_like(x) and not isinstance(x, (float, complex))
            else x
        ),
        tree,
    )


def test_loss_gradient_matches_finite_differences(built, check_gradients, perturb):
    """The family's own training loss, differentiated with respect to every trainable array."""
    batch = first_batch(built.train)
    with jax.enable_x64(True):
        model, batch = in_float64(perturb(built.model)), in_float64(batch)
        loss = experiment.loss_for(built.config, model)
        params, static = eqx.partition(model, trainable_filter(model))
        key = jax.random.key(2)
        check_gradients(lambda p: loss(eqx.combine(p, static), batch, key), params)


def test_second_resolution_where_the_paper_claims_one(built):
    """Resolution-free grid operators map a finer grid to the same function: a field of two
    Fourier modes at 9x9 and at 17x17 gives outputs that agree at the common points to a few
    percent."""
    name = built.config.model["name"]
    if name not in RESOLUTION_FREE:
        pytest.skip(f"{name}'s paper builds it for one grid")
    x = jnp.asarray(first_batch(built.test).inputs[:2])
    fine_grid = np.linspace(0.0, 1.0, 17)
    waves = np.sin(np.pi * fine_grid)[:, None] * np.sin(2 * np.pi * fine_grid)[None, :]
    fine = jnp.broadcast_to(jnp.asarray(waves, x.dtype), (2, x.shape[1], 17, 17))
    coarse, refined = built.model.batched(fine[..., ::2, ::2]), built.model.batched(fine)
    assert refined.shape[-2:] == (17, 17)
    error = jnp.linalg.norm(refined[..., ::2, ::2] - coarse) / jnp.linalg.norm(coarse)
    assert error < 0.05, error


def test_model_file_round_trip(built, tmp_path, perturb):
    model = perturb(built.model)
    loaded = jsm.load_model(jsm.save_model(tmp_path / "model.jsm", model))
    assert type(loaded) is type(model) and bool(eqx.tree_equal(loaded, model))
    batch = first_batch(built.test)
    np.testing.assert_array_equal(batch.predict(loaded), batch.predict(model))


def flat_arrays(model) -> np.ndarray:
    return np.concatenate([np.ravel(x) for x in jax.tree.leaves(eqx.filter(model, eqx.is_array))])


def test_two_fit_steps_on_one_and_on_eight_devices(built):
    """Equal losses and equal parameter updates whether each batch is split over eight devices
    or not. Plain gradient steps, so that the updates differ as much as the gradients do (Adam's
    first steps move a parameter by the learning rate whatever its gradient's size)."""
    runs = []
    for devices in (jax.devices()[:1], jax.devices()):
        model, history = jsm.fit(
            built.model,
            built.train,
            epochs=2,
            batch_size=SAMPLES,
            loss=experiment.loss_for(built.config, built.model),
            optimizer=optax.sgd(1e-2),
            mesh=parallel.data_mesh(devices),
            progress=False,
            max_steps=2,
        )
        runs.append((flat_arrays(model) - flat_arrays(built.model), history))
    (update_one, history_one), (update_eight, history_eight) = runs
    losses_one = [r["train_loss"] for r in history_one]
    assert len(losses_one) == 2 and np.all(np.isfinite(losses_one))
    np.testing.assert_allclose([r["train_loss"] for r in history_eight], losses_one, rtol=1e-5)
    assert np.linalg.norm(update_one) > 0
    difference = np.linalg.norm(update_eight - update_one) / np.linalg.norm(update_one)
    assert difference < 1e-4, difference


# One family per dataset kind (the first in alphabetical order), so a new kind is covered too.
KIND_CASES = {}
for _name in sorted(CASES):
    KIND_CASES.setdefault(registry.family(_name).data, _name)


def without_time(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


@pytest.mark.parametrize("kind", sorted(KIND_CASES))
def test_every_dataset_kind_fits_evaluates_and_resumes_bitwise(kind, tmp_path, one_device):
    """Two epochs of two steps each; the interrupted run stops inside the second epoch, and its
    resume must end in the very arrays and history of the uninterrupted run. `evaluate` on the
    result gives the history's last evaluation."""
    built = build(KIND_CASES[kind])
    settings = dict(
        epochs=2,
        batch_size=SAMPLES // 2,
        loss=experiment.loss_for(built.config, built.model),
        optimizer=optax.adam(1e-3),
        evaluation=jsm.Evaluation(built.test),
        progress=False,
        mesh=one_device,
    )
    into = lambda name, resume=False: jsm.Checkpointing(tmp_path / name, resume=resume)
    straight, history = jsm.fit(built.model, built.train, checkpointing=into("a"), **settings)
    assert len(history) == 2 and history[-1]["step"] == 4
    jsm.fit(built.model, built.train, checkpointing=into("b"), max_steps=3, **settings)
    resumed, resumed_history = jsm.fit(
        built.model, built.train, checkpointing=into("b", resume=True), **settings
    )
    np.testing.assert_array_equal(flat_arrays(resumed), flat_arrays(straight))
    assert without_time(resumed_history) == without_time(history)
    metrics = jsm.evaluate(resumed, built.test, mesh=one_device)
    assert metrics and all(np.isfinite(v) for v in metrics.values())
    for name, value in metrics.items():
        np.testing.assert_allclose(value, history[-1][f"eval.{name}"], rtol=1e-6)
