"""The DeepONet paper's antiderivative data: exact integrals, the RBF field, the written dataset."""

import numpy as np

from datagen.format import list_shards
from datagen.operators import antiderivative, generate_antiderivative, rbf_field_sampler
from jaxsciml.data import load


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
    generate_antiderivative(6, tmp_path / "a", seed=2, sensors=50)
    generate_antiderivative(6, tmp_path / "b", seed=2, sensors=50)
    a, b = load(tmp_path / "a"), load(tmp_path / "b")
    (u, s), (u2, s2) = a.read(np.arange(6)), b.read(np.arange(6))
    np.testing.assert_array_equal(u, u2)
    np.testing.assert_array_equal(s, s2)
    assert u.shape == s.shape == (6, 1, 50)
    np.testing.assert_allclose(s[:, 0, 0], 0, atol=1e-7)  # s(0) = 0
    header = list_shards(tmp_path / "a")[0]
    assert header.provenance.problem == "antiderivative" and len(header.grid[0]) == 50
    # the output is the integral of the input: trapezoid on the stored samples agrees closely
    x = header.grid[0]
    trapezoid = np.concatenate([[0], np.cumsum(0.5 * (u[0, 0, 1:] + u[0, 0, :-1]) * np.diff(x))])
    np.testing.assert_allclose(s[0, 0], trapezoid, atol=2e-3)
