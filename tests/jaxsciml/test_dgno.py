"""DGNO: the model, its unlabelled training objective, and inversion from sparse observations."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import datagen
import jaxsciml as jsm
from jaxsciml import physics as ph
from jaxsciml.data.dataset import Batch
from jaxsciml.operators import dgno_inverse
from jaxsciml.operators.dgno import DGNO, DGNOLoss, kl_to_standard_normal


UNIT = ph.Box([0.0, 0.0], [1.0, 1.0])
SMALL = dict(latent=8, width=16, depth=3, num_outputs=2, coefficient_width=16)


def two_phase(n: int, resolution: int = 9, seed: int = 0) -> np.ndarray:
    problem = datagen.Darcy(resolution=resolution, values=(10.0, 5.0), forcing=10.0)
    rng = np.random.default_rng(seed)
    return np.stack([problem.sample(rng) for _ in range(n)]).astype(np.float32)


def smooth(n: int, resolution: int = 9, seed: int = 0) -> np.ndarray:
    problem = datagen.Darcy(resolution=resolution, coefficient="lognormal")
    rng = np.random.default_rng(seed)
    return np.stack([problem.sample(rng) for _ in range(n)]).astype(np.float32)


def test_paper_configuration_parameter_counts():
    """The piecewise-Darcy notebook prints ≈971k: encoder + 4 decoders of the u size."""
    a = two_phase(2, resolution=29)
    model = eqx.filter_eval_shape(lambda: DGNO(a, key=jax.random.key(0)))  # shapes, no arrays
    encoder = jsm.count_parameters(model.encoder)
    decoder = jsm.count_parameters(model.u_decoder)
    assert encoder == (841 * 512 + 512) + (512 * 256 + 256) + (256 * 128 + 128) == 595_328
    assert decoder == 2 * (4 * (100 * 100 + 100)) + (128 + 2) * 100 + 200 + 4 + 1 == 94_005
    assert round((encoder + 4 * decoder) / 1000) == 971
    assert all(jsm.count_parameters(s) == decoder for s in model.flux_decoders)
    assert model.a_decoder.trunk[1].weight.shape == (256, 256)


def test_shapes_jit_and_exact_boundary():
    a = two_phase(4)
    model = DGNO(a, key=jax.random.key(1), **SMALL)
    u = eqx.filter_jit(model.batched)(jnp.asarray(a))
    assert u.shape == a.shape
    np.testing.assert_allclose(eqx.filter_jit(model)(jnp.asarray(a[0])), u[0], atol=1e-6)
    # u vanishes on the boundary exactly (the factor is exactly zero there), not to tolerance
    boundary = jnp.asarray(UNIT.sample_boundary(16, np.random.default_rng(0)))
    beta = jax.random.uniform(jax.random.key(2), (3, 8), minval=-1, maxval=1)
    values, grads = eqx.filter_jit(model.solution_and_gradient)(beta, boundary)
    assert np.all(np.asarray(values) == 0.0) and grads.shape == (3, 64, 2)
    assert eqx.filter_jit(model.flux)(beta, boundary).shape == (3, 64, 2)
    decoded = eqx.filter_jit(model.decoded_coefficient)(beta, boundary)
    assert np.all((decoded >= 5.0) & (decoded <= 10.0))


def test_solution_gradient_matches_autodiff_of_the_solution():
    model = DGNO(two_phase(3), key=jax.random.key(3), **SMALL)
    model = eqx.tree_at(lambda m: m.u_decoder.weights, model, jnp.array([0.7, -0.4]))
    beta = jax.random.uniform(jax.random.key(4), (2, 8), minval=-1, maxval=1)
    points = jax.random.uniform(jax.random.key(5), (6, 2))
    _, grads = eqx.filter_jit(model.solution_and_gradient)(beta, points)
    reference = jax.jit(
        jax.vmap(
            lambda b: jax.vmap(jax.grad(lambda x: model.solution(b[None], x[None])[0, 0]))(points)
        )
    )(beta)
    np.testing.assert_allclose(grads, reference, rtol=1e-5, atol=1e-6)


def test_zero_posterior_variance_gives_the_deterministic_loss():
    a = jnp.asarray(two_phase(4))
    dirac = DGNO(np.asarray(a), key=jax.random.key(8), **SMALL)
    gaussian = DGNO(np.asarray(a), posterior="gaussian", key=jax.random.key(8), **SMALL)
    last = dirac.encoder.network.linears[-1]
    weight = jnp.concatenate([last.weight, jnp.zeros_like(last.weight)])
    bias = jnp.concatenate([last.bias, jnp.full_like(last.bias, -200.0)])  # σ = exp(−200) = 0
    gaussian = eqx.tree_at(
        lambda m: (m.encoder.network.linears[-1].weight, m.encoder.network.linears[-1].bias),
        gaussian,
        (weight, bias),
    )
    loss = DGNOLoss(ph.WeakForm(UNIT, 0.05), centres=20, kl_weight=0.01)
    batch, key = Batch(a, None), jax.random.key(9)
    both = eqx.filter_jit(lambda m: (loss(m, batch, key), loss.terms(m, batch, key)))
    (total_gaussian, terms_gaussian), (total_dirac, terms_dirac) = both(gaussian), both(dirac)
    for name in ("reconstruction", "pde"):
        np.testing.assert_allclose(terms_gaussian[name], terms_dirac[name], rtol=1e-6)
    mean, log_std = gaussian.encode(a)
    assert np.all(np.asarray(jnp.exp(log_std)) == 0.0)
    expected_kl = 0.5 * jnp.mean(jnp.sum(mean**2, -1)) + (200 - 0.5) * 8  # σ² − 1 − 2 log σ
    np.testing.assert_allclose(terms_gaussian["kl"], expected_kl, rtol=1e-6)
    np.testing.assert_allclose(total_gaussian - 0.01 * terms_gaussian["kl"], total_dirac, rtol=1e-6)
    # a positive variance changes the draw, and the KL is that of two Gaussians
    np.testing.assert_allclose(
        kl_to_standard_normal(jnp.array([[0.5, 0.0]]), jnp.log(jnp.array([[1.0, 2.0]]))),
        0.5 * (0.25 + 4 - 1 - math.log(4)),
        rtol=1e-6,
    )


class _ExactDarcy:
    """A stand-in for the model: `u = sin πx sin πy`, `a = 1 + x² + y`, the flux `a∇u`."""

    def __init__(self, formulation):
        self.formulation = formulation
        self.u = lambda p: jnp.sin(math.pi * p[0]) * jnp.sin(math.pi * p[1])
        self.a = lambda p: 1 + p[0] ** 2 + p[1]

    def lookup_coefficient(self, a, points):
        return jax.vmap(self.a)(points)[None]

    def solution_and_gradient(self, beta, points):
        return jax.vmap(self.u)(points)[None], jax.vmap(jax.grad(self.u))(points)[None]

    def flux(self, beta, points):
        return jax.vmap(lambda p: self.a(p) * jax.grad(self.u)(p))(points)[None]


@pytest.mark.parametrize("formulation", ["mixed", "primal"])
def test_pde_loss_vanishes_for_an_exact_solution(formulation):
    def source(p):  # −∇·(a∇u) for the pair of _ExactDarcy
        x, y = p
        pi = math.pi
        u_x = pi * jnp.cos(pi * x) * jnp.sin(pi * y)
        u_y = pi * jnp.sin(pi * x) * jnp.cos(pi * y)
        return -(2 * x * u_x + u_y) + 2 * pi**2 * (1 + x**2 + y) * jnp.sin(pi * x) * jnp.sin(pi * y)

    with jax.enable_x64(True):
        weak = ph.WeakForm(UNIT, 0.02, degree=12)
        exact = _ExactDarcy(formulation)
        centres = weak.sample_centres(jax.random.key(10), 50)
        beta = jnp.zeros((1, 1))
        loss = DGNOLoss(weak, source=source, centres=50)
        assert jax.jit(lambda c: loss.pde(exact, beta, None, c))(centres) < 1e-10
        wrong = DGNOLoss(weak, source=lambda p: 1.1 * source(p), centres=50)
        assert jax.jit(lambda c: wrong.pde(exact, beta, None, c))(centres) > 1e-2


def test_coefficient_lookup_nearest_for_binary_and_bilinear_for_continuous():
    a = two_phase(3)
    binary = DGNO(a, key=jax.random.key(11), **SMALL)
    grid = jnp.asarray(binary.grid_points())
    np.testing.assert_array_equal(binary.lookup_coefficient(jnp.asarray(a), grid), a.reshape(3, -1))
    shifted = grid[:5] + 0.3 / 8  # within a third of a cell: still the nearest node's value
    np.testing.assert_array_equal(
        binary.lookup_coefficient(jnp.asarray(a), shifted), a.reshape(3, -1)[:, :5]
    )
    s = smooth(3)
    continuous = DGNO(s, coefficient="continuous", encoder="mlp", key=jax.random.key(12), **SMALL)
    midpoint = jnp.array([[0.5 / 8, 0.0]])  # halfway between nodes (0, 0) and (1, 0)
    expected = 0.5 * (s[:, 0, 0, 0] + s[:, 0, 1, 0])
    np.testing.assert_allclose(
        continuous.lookup_coefficient(jnp.asarray(s), midpoint)[:, 0], expected, rtol=1e-6
    )


def test_bad_input_is_refused():
    a = two_phase(3)
    with pytest.raises(ValueError, match="exactly two values"):
        DGNO(smooth(3), key=jax.random.key(0), **SMALL)
    with pytest.raises(ValueError, match="posterior"):
        DGNO(a, posterior="flow", key=jax.random.key(0), **SMALL)
    with pytest.raises(ValueError, match="a_samples"):
        DGNO(a[:, 0], key=jax.random.key(0), **SMALL)
    model = DGNO(a, key=jax.random.key(0), **SMALL)
    with pytest.raises(ValueError, match="batch, 1, 9, 9"):
        model.batched(jnp.zeros((2, 1, 8, 8)))
    loss = DGNOLoss(ph.WeakForm(UNIT, 1e-4))
    points, values = np.array([[0.5, 0.5]]), np.array([0.1])
    for bad_points, bad_values, message in [
        (np.array([[0.5, 1.2]]), values, "outside"),
        (np.zeros((0, 2)), np.zeros(0), "no observations"),
        (points, np.array([0.1, 0.2]), "shaped"),
    ]:
        with pytest.raises(ValueError, match=message):
            dgno_inverse.invert(model, bad_points, bad_values, loss, key=jax.random.key(0))
    with pytest.raises(ValueError, match="float32"):
        ph.WeakForm(UNIT, 5e-5)


def test_noise_has_the_requested_signal_to_noise_ratio():
    values = jnp.sin(jnp.linspace(0, 20, 20_000))
    noisy = dgno_inverse.noisy_observations(values, 25.0, jax.random.key(0))
    snr = 10 * np.log10(np.mean(values**2) / np.mean((noisy - values) ** 2))
    assert abs(snr - 25.0) < 0.1


def test_a_configuration_chooses_the_weak_forms_quadrature_and_the_decoders_init():
    """`loss_options = {quadrature = "grid"}` gives the DGenNO code's 7x7 rule (25 nodes),
    the default the Gauss rule; `[model] init` reaches every decoder."""
    from types import SimpleNamespace

    from jaxsciml import config as jconfig
    from jaxsciml.experiment import loss_for

    model = SimpleNamespace(domain=UNIT)
    grid = jconfig.from_dict({"model": {"name": "dgno"}, "train": {"loss_options": {
        "quadrature": "grid", "grid_points": 7, "centres": 10}}})  # fmt: skip
    assert loss_for(grid, model).weak_form.nodes.shape == (25, 2)
    gauss = jconfig.from_dict({"model": {"name": "dgno"}})
    assert loss_for(gauss, model).weak_form.nodes.shape[0] != 25
    a = two_phase(4)
    for init, zero_bias in (("uniform", False), ("glorot_normal", True)):
        model = DGNO(a, init=init, key=jax.random.key(0), **SMALL)
        for decoder in (model.a_decoder, model.u_decoder, *model.flux_decoders):
            assert bool(jnp.all(decoder.trunk[0].bias == 0)) == zero_bias
