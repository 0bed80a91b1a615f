"""What a run leaves for a person: the sample figures of every kind of data, the evaluation file."""

import json

import jax
import matplotlib.image
import numpy as np
import pytest

import datagen
import jaxsciml as jsm
from jaxsciml.physics import PDES
from jaxsciml.physics.collocation import ReferenceSolution
from jaxsciml.report import sample_figure, scores_by_set, write_evaluation


def grid_2d(darcy_dir, key):
    data = jsm.data.load(darcy_dir).split(4)[0]
    return jsm.FNO(1, 1, (3, 3), width=4, depth=1, projection_channels=4, key=key), data


def grid_1d(tmp_path, key):
    datagen.generate("antiderivative", 4, tmp_path, sensors=16, fine=64, progress=False)
    data = jsm.data.load(tmp_path)
    return jsm.FNO(1, 1, (4,), width=4, depth=1, projection_channels=4, key=key), data


def points_1d(tmp_path, key):
    _, data = grid_1d(tmp_path, key)
    return jsm.DeepONet(16, 1, [8], [8], key=key), jsm.data.PointDataset(data)


def points_2d(darcy_dir, key):
    data = jsm.data.PointDataset(jsm.data.load(darcy_dir).split(4)[0], sensors=np.s_[::4, ::4])
    return jsm.DeepONet(data.num_sensors, 2, [8], [8], key=key), data


def reference_2d(_, key):
    problem = PDES["poisson"]()
    return jsm.PINN(problem.domain, hidden=(8,), key=key), ReferenceSolution.from_problem(
        problem, 12
    )


KINDS = {"grid 2-D": grid_2d, "grid 1-D": grid_1d, "points 1-D": points_1d,
         "points 2-D": points_2d, "reference 2-D": reference_2d}  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_data_gets_a_sample_figure(kind, darcy_dir, tmp_path):
    where = darcy_dir if "2-D" in kind and "reference" not in kind else tmp_path / "data"
    model, data = KINDS[kind](where, jax.random.key(0))
    path = tmp_path / "sample.png"
    sample_figure(model, data, title=kind, path=path)
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 200 and image[..., :3].std() > 0.05


def test_evaluation_files_hold_the_scores_by_set(darcy_dir, tmp_path):
    record = {"epoch": 3, "step": 9, "train_loss": 0.5, "test.relative_l2": 0.1,
              "test@33.relative_h1": 0.2}  # fmt: skip
    assert scores_by_set(record) == {"test": {"relative_l2": 0.1}, "test@33": {"relative_h1": 0.2}}
    model, data = grid_2d(darcy_dir, jax.random.key(0))
    path = write_evaluation(tmp_path, "darcy17", {"relative_l2": 0.25}, model, data, "fno")
    assert json.loads(path.read_text()) == {"relative_l2": 0.25}
    assert (tmp_path / "figures" / "evaluate-darcy17.png").stat().st_size > 10_000
