"""The FNO paper's Burgers data: the solver against Cole–Hopf's exact solution (fourth order in
the step) and the heat equation's in the linear limit; the initial condition's covariance; the
registered generator."""

import numpy as np
import pytest

import datagen
from datagen.burgers import periodic_field_sampler, solve_burgers
from datagen.format import list_shards


def cole_hopf(x, t, viscosity=0.1, amplitude=0.5):
    """`u = −2ν ∂x log φ` with `φ = 1 + a e^{−4π²νt} cos 2πx`, which solves the heat equation:
    an exact periodic solution of viscous Burgers."""
    g = amplitude * np.exp(-viscosity * 4 * np.pi**2 * t)
    return 4 * np.pi * viscosity * g * np.sin(2 * np.pi * x) / (1 + g * np.cos(2 * np.pi * x))


def test_the_solver_meets_cole_hopf_at_fourth_order():
    x = np.arange(64) / 64
    errors = [
        np.abs(solve_burgers(cole_hopf(x, 0.0), steps=steps) - cole_hopf(x, 1.0)).max()
        for steps in (20, 40, 80)
    ]
    assert errors[-1] < 1e-9
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 3.5), orders  # 3.7 and 3.8 when written, tending to 4


def test_small_data_follow_the_heat_equation():
    draw = periodic_field_sampler(128)
    u0 = 1e-7 * draw(np.random.default_rng(0))
    u = solve_burgers(u0, viscosity=0.1, time=0.5, steps=50)
    k = 2 * np.pi * np.fft.rfftfreq(128, d=1 / 128)
    heat = np.fft.irfft(np.fft.rfft(u0) * np.exp(-0.1 * k**2 * 0.5), 128)
    # the product is O(amplitude²): 1e-7 relative here
    assert np.abs(u - heat).max() < 1e-6 * np.abs(heat).max()


def test_the_initial_condition_has_the_papers_covariance():
    points, draws = 64, 4000
    draw = periodic_field_sampler(points)
    samples = np.stack([draw(np.random.default_rng([7, i])) for i in range(draws)])
    coefficients = np.fft.rfft(samples, axis=1) / points
    k = np.arange(1, points // 2)
    expected = 625.0 * ((2 * np.pi * k) ** 2 + 25.0) ** -2.0  # E|C_k|² / N² = λ_k
    measured = np.mean(np.abs(coefficients[:, 1:-1]) ** 2, axis=0)
    np.testing.assert_allclose(measured, expected, rtol=0.08)  # 4000 draws: ~1.6% per mode
    np.testing.assert_allclose(coefficients[:, 0], 0.0, atol=1e-12)  # no constant mode
    with pytest.raises(ValueError, match="even and at least 4"):
        periodic_field_sampler(7)


def test_the_generator_stores_the_map_subsampled(tmp_path):
    report = datagen.generate(
        "burgers", 3, tmp_path, resolution=32, points=128, steps=40, workers=1, progress=False
    )
    assert report.num_samples == 3
    (header,) = list_shards(tmp_path)
    assert header.input_shape == (1, 32) and header.output_shape == (1, 32)
    np.testing.assert_allclose(header.grid[0], np.arange(32) / 32)
    assert header.provenance.solver == "etdrk4" and header.provenance.tolerance < 1e-6
    generator = datagen.family("burgers").make(resolution=32, points=128, steps=40)
    content = generator.make_shard(0, [1])
    u0 = periodic_field_sampler(128)(datagen.sample_rng(0, 1))
    np.testing.assert_array_equal(content.inputs[0, 0], u0[::4])
    np.testing.assert_allclose(content.outputs[0, 0], solve_burgers(u0, steps=40)[::4])
    with pytest.raises(ValueError, match="multiple of resolution"):
        datagen.family("burgers").make(resolution=100, points=128)
