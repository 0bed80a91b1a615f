"""The DeepONet paper's operators: exact integrals, the RBF field, the diffusion-reaction solver's
order and error estimate, the written datasets."""

import numpy as np
import pytest
from scipy.interpolate import CubicSpline

import datagen
from datagen.deeponet_data import antiderivative, rbf_field_sampler, solve_diffusion_reaction
from datagen.format import list_shards
from jaxsciml.data import PointDataset, load


def test_antiderivative_of_a_known_input_is_exact_to_interpolation_accuracy():
    x = np.linspace(0, 1, 1000)
    at = np.linspace(0, 1, 37)
    got = antiderivative(np.cos(2 * np.pi * x), x, at)
    np.testing.assert_allclose(got, np.sin(2 * np.pi * at) / (2 * np.pi), atol=1e-11)
    coarse = antiderivative(np.cos(2 * np.pi * x[::50]), x[::50], at)  # 20 points: visibly off
    assert np.abs(coarse - np.sin(2 * np.pi * at) / (2 * np.pi)).max() > 1e-7


def test_rbf_field_has_the_kernel_covariance():
    x, draw = rbf_field_sampler(200, 0.2)
    rng = np.random.default_rng(0)
    samples = np.stack([draw(rng) for _ in range(4000)])
    i, j = 50, 90  # 0.2 apart: covariance exp(-1/2)
    for a, b, want in [(i, i, 1.0), (i, j, np.exp(-0.5 * ((x[j] - x[i]) / 0.2) ** 2))]:
        got = np.mean(samples[:, a] * samples[:, b])
        assert abs(got - want) < 0.08, (a, b, got, want)  # 4000 samples: std error ~0.02


def test_written_dataset_is_deterministic_and_reads_as_a_1d_grid(tmp_path):
    for name in ("a", "b"):
        datagen.generate("antiderivative", 6, tmp_path / name, seed=2, sensors=50, workers=1)
    a, b = load(tmp_path / "a"), load(tmp_path / "b")
    first, second = a.read(np.arange(6)), b.read(np.arange(6))
    np.testing.assert_array_equal(first.inputs, second.inputs)
    np.testing.assert_array_equal(first.outputs, second.outputs)
    assert first.inputs.shape == first.outputs.shape == (6, 1, 50)
    u, s = first.inputs, first.outputs
    np.testing.assert_allclose(s[:, 0, 0], 0, atol=1e-7)  # s(0) = 0
    header = list_shards(tmp_path / "a")[0]
    assert header.provenance.problem == "antiderivative" and len(header.grid[0]) == 50
    # the output is the integral of the input: trapezoid on the stored samples agrees closely
    x = header.grid[0]
    trapezoid = np.concatenate([[0], np.cumsum(0.5 * (u[0, 0, 1:] + u[0, 0, :-1]) * np.diff(x))])
    np.testing.assert_allclose(s[0, 0], trapezoid, atol=2e-3)


def test_written_shards_resume_after_an_interruption(tmp_path):
    options = dict(seed=1, sensors=20, shard_size=2, workers=1, progress=False)
    datagen.generate("antiderivative", 5, tmp_path, **options)
    first = sorted(tmp_path.glob("shard-*.h5"))
    assert [p.name for p in first] == ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]
    kept = first[0].stat().st_mtime_ns
    first[2].unlink()  # as if the run had stopped before its last shard
    again = datagen.generate("antiderivative", 5, tmp_path, **options)
    assert (again.shards_skipped, again.shards_written, again.num_samples) == (2, 1, 5)
    assert sorted(tmp_path.glob("shard-*.h5")) == first and first[0].stat().st_mtime_ns == kept
    assert len(load(tmp_path)) == 5
    with pytest.raises(datagen.DatasetFileError, match="different dataset"):
        datagen.generate("antiderivative", 5, tmp_path, **{**options, "sensors": 21})


def manufactured(diffusion, reaction):
    """`s = 3 sin(pi x) sin(2t)` and the source that makes it solve s_t = D s_xx + k s^2 + f."""
    exact = lambda x, t: 3 * np.sin(np.pi * x) * np.sin(2 * t)

    def source(x, t):
        s = exact(x, t)
        s_t = 6 * np.sin(np.pi * x) * np.cos(2 * t)
        return s_t + diffusion * np.pi**2 * s - reaction * s**2

    return exact, source


def test_diffusion_reaction_solver_converges_at_second_order():
    exact, source = manufactured(0.5, 0.5)  # strong reaction, so the s^2 term is tested
    errors = []
    for n in (11, 21, 41):
        x = t = np.linspace(0, 1, n)
        s = solve_diffusion_reaction(source, n, n, diffusion=0.5, reaction=0.5)
        errors.append(np.abs(s - exact(x[:, None], t[None])).max())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    np.testing.assert_allclose(orders, 2.0, atol=0.1)
    assert errors[-1] < 3e-3


def test_diffusion_reaction_dataset_and_its_error_estimate(tmp_path):
    datagen.generate("diffusion_reaction", 3, tmp_path, seed=4, nx=21, nt=11, refine=2, workers=1)
    header = list_shards(tmp_path)[0]
    data = load(tmp_path)
    batch = data.read(np.arange(3))
    u, s = batch.inputs, batch.outputs
    assert u.shape == s.shape == (3, 1, 21, 11) and len(header.grid[1]) == 11
    np.testing.assert_array_equal(u, np.repeat(u[..., :1], 11, axis=-1))  # u(x), constant in t
    assert np.abs(s[..., 0]).max() == 0 and np.abs(s[:, :, [0, -1]]).max() == 0
    # the recorded Richardson estimate against a far finer solve of the same sample
    x_fine, draw = rbf_field_sampler(1000, 0.2)
    u0 = CubicSpline(x_fine, draw(np.random.default_rng([4, 0])))
    np.testing.assert_allclose(u[0, 0, :, 0], u0(np.linspace(0, 1, 21)), rtol=1e-5, atol=1e-6)
    reference = solve_diffusion_reaction(lambda x, t: u0(x), 321, 161)[::16, ::16]
    true_error = np.abs(s[0, 0] - reference).max()
    assert 0.5 < header.provenance.tolerance / true_error < 2.0
    # and DeepONet reads u at its 21 sensors from the first time column
    batch = next(PointDataset(data, sensors=np.s_[:, 0]).batches(3))
    assert batch.sensors.shape == (3, 21) and batch.points.shape == (21 * 11, 2)


def test_bad_generator_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="refine"):
        datagen.generate("diffusion_reaction", 2, tmp_path, refine=3)
    with pytest.raises(ValueError, match="positive"):
        datagen.generate("antiderivative", 0, tmp_path)
    with pytest.raises(ValueError, match="takes no option wavenumber; its options: .*sensors"):
        datagen.generate("antiderivative", 2, tmp_path, wavenumber=3)
    with pytest.raises(ValueError, match="nx"):
        solve_diffusion_reaction(lambda x, t: x, 2, 5)
