"""PointDataset: sensors and query points read from grid data; per-step subsets; fit/evaluate."""

import jax
import numpy as np
import optax
import pytest

import jaxsciml as jsm
from jaxsciml.data import PointDataset


def field(x, y, c):
    return (c + 1) * np.sin(3 * x + 1) * np.cos(2 * y - 1)


@pytest.fixture
def grid_data():
    """Inputs a_c = field(x, y, c), outputs (c + 1) (x + y, x - y), on a 9 x 7 grid."""
    x, y = np.linspace(0, 1, 9), np.linspace(0, 2, 7)
    X, Y = np.meshgrid(x, y, indexing="ij")
    inputs = np.stack([field(X, Y, c)[None] for c in range(10)])
    outputs = np.stack([(c + 1) * np.stack([X + Y, X - Y]) for c in range(10)])
    return jsm.data.from_arrays(inputs, outputs, (x, y))


def test_targets_are_the_output_function_at_the_points(grid_data):
    view = PointDataset(grid_data, sensors=np.s_[::2, ::3])
    batch = next(view.batches(4, prefetch=0))
    assert batch.sensors.shape == (4, 5 * 3)
    assert batch.points.shape == (63, 2) and batch.targets.shape == (4, 63, 2)
    x, y = batch.points[:, 0], batch.points[:, 1]
    for c in range(4):
        np.testing.assert_allclose(batch.targets[c, :, 0], (c + 1) * (x + y), rtol=1e-6)
        np.testing.assert_allclose(batch.targets[c, :, 1], (c + 1) * (x - y), atol=1e-5)
    sx, sy = np.meshgrid(np.linspace(0, 1, 9)[::2], np.linspace(0, 2, 7)[::3], indexing="ij")
    np.testing.assert_allclose(batch.sensors[2], field(sx, sy, 2).ravel(), rtol=1e-6, atol=1e-6)


def test_a_column_of_sensors_reads_an_input_stored_on_a_space_time_grid(grid_data):
    view = PointDataset(grid_data, sensors=np.s_[:, 0])
    assert view.num_sensors == 9
    batch = view.to_points(grid_data.read([3]))
    np.testing.assert_allclose(batch.sensors[0], field(np.linspace(0, 1, 9), 0.0, 3), atol=1e-6)


def test_training_subsets_are_random_per_step_reproducible_and_resumable(grid_data):
    view = PointDataset(grid_data, points_per_step=10)
    epoch = list(view.batches(2, seed=5, epoch=1))
    assert all(b.points.shape == (10, 2) and b.targets.shape == (2, 10, 2) for b in epoch)
    assert len({tuple(b.points[:, 0] * 10 + b.points[:, 1]) for b in epoch}) == len(epoch)
    again = list(view.batches(2, seed=5, epoch=1, start=3))
    for a, b in zip(epoch, view.cache().batches(2, seed=5, epoch=1), strict=True):
        for field_a, field_b in zip(
            jax.tree.leaves(a), jax.tree.leaves(b)
        ):  # in memory: the same batches
            np.testing.assert_array_equal(field_a, field_b)
    for a, b in zip(epoch[3:], again, strict=True):
        np.testing.assert_array_equal(a.points, b.points)
        np.testing.assert_array_equal(a.targets, b.targets)
    # every host of a two-host job gets its own rows and the same points
    host0 = next(view.batches(4, seed=5, part=(0, 2)))
    host1 = next(view.batches(4, seed=5, part=(1, 2)))
    whole = next(view.batches(4, seed=5))
    np.testing.assert_array_equal(host0.points, host1.points)
    np.testing.assert_array_equal(np.concatenate([host0.targets, host1.targets]), whole.targets)
    # without a seed (evaluation) every point is used
    assert next(view.batches(2)).points.shape == (63, 2)


def test_evaluate_pads_functions_not_points_and_matches_a_direct_computation(grid_data, getkey):
    model = jsm.DeepONet(63, 2, [8, 8], [8, 8], out_channels=2, key=getkey())
    view = PointDataset(grid_data)
    everything = view.to_points(grid_data.read(np.arange(10)))
    errors = np.asarray(model.batched(everything.sensors, everything.points)) - everything.targets
    norms = np.linalg.norm(everything.targets.reshape(10, -1), axis=1)
    expected = np.mean(np.linalg.norm(errors.reshape(10, -1), axis=1) / norms)
    score = jsm.evaluate(model, view, batch_size=8)  # 8 devices; the last batch holds 2 of 8
    np.testing.assert_allclose(score["relative_l2"], expected, rtol=1e-5)


def test_fit_trains_a_deeponet_on_point_batches_over_every_device(grid_data, getkey):
    model = jsm.DeepONet(63, 2, [16, 16], [16, 16], out_channels=2, key=getkey())
    train = PointDataset(grid_data, points_per_step=16)
    before = jsm.evaluate(model, PointDataset(grid_data), batch_size=8)["relative_l2"]
    model, history = jsm.fit(
        model, train, epochs=100, batch_size=8, optimizer=optax.adam(3e-3), progress=False
    )
    after = jsm.evaluate(model, PointDataset(grid_data), batch_size=8)["relative_l2"]
    assert len(history) == 100 and after < 0.2 * before


def test_bad_views_are_refused(grid_data):
    with pytest.raises(ValueError, match="do not index"):
        PointDataset(grid_data, sensors=np.s_[:, :, 0])
    with pytest.raises(ValueError, match="no point"):
        PointDataset(grid_data, sensors=np.s_[3:3])
    with pytest.raises(ValueError, match="points_per_step"):
        PointDataset(grid_data, points_per_step=0)
    with pytest.raises(ValueError, match="points_per_step"):
        PointDataset(grid_data, points_per_step=64)
