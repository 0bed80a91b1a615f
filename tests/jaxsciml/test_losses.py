"""Error measures against values computed by hand or analytically."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsciml import losses


def test_relative_l2_by_hand():
    target = jnp.array([[3.0, 4.0]])
    prediction = jnp.array([[3.0, 5.0]])
    assert float(losses.relative_l2(prediction, target)) == pytest.approx(1 / 5)


def test_relative_l2_is_per_sample_then_averaged():
    targets = jnp.stack([jnp.ones((1, 4)), 10 * jnp.ones((1, 4))])
    predictions = targets * jnp.array([1.1, 1.3])[:, None, None]
    mean = losses.batch_mean(losses.relative_l2, predictions, targets)
    assert float(mean) == pytest.approx((0.1 + 0.3) / 2, rel=1e-6)


def test_relative_h1_against_analytic_norms():
    """For e = sin(πx) sin(πy) and u = 1 + x on the unit square, ‖e‖² = 1/4, ‖∇e‖² = π²/2,
    ‖u‖² = 7/3, ‖∇u‖² = 1, so ‖e‖_H1 / ‖u‖_H1 = sqrt((1/4 + π²/2) / (10/3))."""
    n = 201
    x, y = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    u = (1 + x)[None]
    e = (np.sin(np.pi * x) * np.sin(np.pi * y))[None]
    with jax.enable_x64(True):
        got = float(losses.relative_h1(jnp.asarray(u + e), jnp.asarray(u)))
    want = np.sqrt((0.25 + np.pi**2 / 2) / (10 / 3))
    # Second-order differences and the trapezoidal rule: error O(h²) ~ 1e-4 at h = 1/200.
    assert got == pytest.approx(want, rel=1e-3)


def test_relative_h1_penalizes_gradients_that_l2_misses():
    n = 65
    x = np.linspace(0, 1, n)
    target = jnp.asarray(np.sin(np.pi * x)[None])
    wiggle = 0.01 * np.sin(40 * np.pi * x)[None]
    l2 = float(losses.relative_l2(target + wiggle, target))
    h1 = float(losses.relative_h1(target + wiggle, target))
    assert h1 > 5 * l2


def test_mse():
    assert float(losses.mse(jnp.ones((1, 2, 2)), jnp.zeros((1, 2, 2)))) == 1.0
