"""PIG and the PINN baseline: shapes, gradients against finite differences, chunked evaluation,
covariance forms, bad input, and short trainings through `fit`."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsciml as jsm
from jaxsciml import physics as ph


BOX = ph.Box([-1.0, 0.0, 2.0], [1.0, 4.0, 3.0])


def test_pig_shapes_jit_vmap_and_parameter_layout(getkey):
    model = jsm.PIG(BOX, 50, scale=0.1, channels=3, hidden=(16, 16), out_channels=2, key=getkey())
    assert model.features.means.shape == (3, 50, 3) and model.features.weights.shape == (3, 50)
    x = jnp.asarray(BOX.sample_interior(11, np.random.default_rng(0)))
    out = eqx.filter_jit(lambda m, p: jax.vmap(m)(p))(model, x)
    assert out.shape == (11, 2)
    np.testing.assert_allclose(model(x[3]), out[3], rtol=1e-6)
    # the means start uniform in [0, grid_range]: their domain images fill the box
    centres = np.asarray(model.features.centres()).reshape(-1, 3)
    assert np.all(centres >= BOX.lower - 1e-6) and np.all(centres <= BOX.upper + 1e-6)
    # 3·50·(3 + 3 + 1) Gaussian parameters, then 3→16→16→2 tanh layers
    expected = 3 * 50 * 7 + (3 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2)
    assert jsm.count_parameters(model) == expected


def _features_reference(means, scales, weights, z, rotation=None):
    """Σ_i w_i exp(−½ (z−μ_i)ᵀ Σ_i⁻¹ (z−μ_i)) with Σ⁻¹ = R diag(σ⁻²) Rᵀ written out in NumPy."""
    out = np.zeros(means.shape[0])
    for c in range(means.shape[0]):
        for i in range(means.shape[1]):
            r = np.eye(len(z)) if rotation is None else rotation[c, i]
            precision = r @ np.diag(1 / scales[c, i] ** 2) @ r.T
            d = z - means[c, i]
            out[c] += weights[c, i] * np.exp(-0.5 * d @ precision @ d)
    return out


def test_gaussian_features_match_the_formula_for_both_covariances(getkey):
    box = ph.Box([-1.0, -1.0], [1.0, 3.0])
    features = ph_features = jsm.operators.GaussianFeatures(
        box, 2, 5, scale=0.4, covariance="full", key=getkey()
    )
    angles = jax.random.uniform(getkey(), (2, 5), maxval=2 * np.pi)
    features = eqx.tree_at(
        lambda f: f.rotations, ph_features, 3.0 * jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)
    )
    scales = jax.random.uniform(getkey(), (2, 5, 2), minval=0.2, maxval=0.8)
    features = eqx.tree_at(lambda f: f.scales, features, scales)
    x = jnp.asarray([0.3, 1.2])
    z = np.asarray(features.to_grid(x), np.float64)
    c, s = np.cos(np.asarray(angles)), np.sin(np.asarray(angles))
    rotation = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    args = (np.asarray(features.means, np.float64), np.asarray(scales, np.float64))
    weights = np.asarray(features.weights, np.float64)
    np.testing.assert_allclose(
        features(x), _features_reference(*args, weights, z, rotation), rtol=1e-5
    )
    diagonal = eqx.tree_at(lambda f: f.rotations, features, None, is_leaf=lambda v: v is None)
    np.testing.assert_allclose(diagonal(x), _features_reference(*args, weights, z), rtol=1e-5)


def test_full_covariance_starts_equal_to_the_diagonal_model(getkey):
    box = ph.Box([0.0, -1.0, -1.0], [1.0, 1.0, 1.0])
    model = jsm.PIG(box, 20, scale=0.5, key=getkey())
    full = model.with_full_covariance()
    assert full.features.rotations.shape == (4, 20, 4)  # quaternions in 3-D
    x = jnp.asarray(box.sample_interior(9, np.random.default_rng(1)))
    np.testing.assert_allclose(jax.vmap(full)(x), jax.vmap(model)(x), rtol=1e-6, atol=1e-7)


def _rotated(model, key):
    """`model` with random rotations and anisotropic scales, so every closed-form term counts."""
    full = model.with_full_covariance()
    k1, k2 = jax.random.split(key)
    rotations = jax.random.normal(k1, full.features.rotations.shape)
    scales = jax.random.uniform(k2, full.features.scales.shape, minval=0.3, maxval=0.9)
    return eqx.tree_at(lambda m: (m.features.rotations, m.features.scales), full,
                       (rotations, scales))  # fmt: skip


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
@pytest.mark.parametrize("box", [ph.Box([-1.0, 0.0], [1.0, 4.0]), BOX], ids=["2d", "3d"])
def test_closed_form_derivatives_equal_autodiff_of_the_model(covariance, box, getkey):
    model = jsm.PIG(box, 30, scale=0.4, hidden=(8, 8), out_channels=2, key=getkey())
    if covariance == "full":
        model = _rotated(model, getkey())
    x = jnp.asarray(box.sample_interior(1, np.random.default_rng(2))[0])
    value, gradient, hessian_diagonal = model.derivatives(x)
    np.testing.assert_allclose(value, model(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradient, jax.jacfwd(model)(x), rtol=2e-5, atol=1e-5)
    hessian = jax.hessian(model)(x)  # (c, d, d)
    np.testing.assert_allclose(
        hessian_diagonal, jnp.diagonal(hessian, axis1=1, axis2=2), rtol=2e-4, atol=1e-4
    )


def test_physics_operators_use_the_closed_forms_and_agree_in_loss_and_gradient(getkey):
    """The Klein-Gordon loss through PIG's closed forms against the same loss through generic
    autodiff (the model hidden behind a plain function), in value and in parameter gradient."""
    problem = ph.KleinGordon()
    model = _rotated(jsm.PIG(problem.domain, 40, scale=0.5, key=getkey()), getkey())
    field = ph.scalar_field(model)
    assert isinstance(field, ph.FieldWithDerivatives)
    x = jnp.asarray(problem.domain.sample_interior(1, np.random.default_rng(3))[0])
    plain = lambda y: model(y)[0]
    assert not isinstance(plain, ph.FieldWithDerivatives)
    np.testing.assert_allclose(ph.gradient(field, x), ph.gradient(plain, x), rtol=2e-5, atol=1e-5)
    for axis, order in [(0, 1), (2, 1), (1, 2)]:
        np.testing.assert_allclose(
            ph.derivative(field, x, axis, order),
            ph.derivative(plain, x, axis, order),
            rtol=2e-4,
            atol=1e-4,
        )
    np.testing.assert_allclose(
        ph.laplacian(field, x, axes=(1, 2)), ph.laplacian(plain, x, axes=(1, 2)), rtol=2e-4
    )

    class Opaque(eqx.Module):  # the same model without `derivatives`: generic autodiff
        pig: jsm.PIG

        def __call__(self, y):
            return self.pig(y)

    batch = jax.tree.map(
        jnp.asarray, ph.Collocation(problem.domain, 64, boundary=8, initial=8).draw(0, 0)
    )
    loss = ph.PhysicsLoss(problem)
    closed = eqx.filter_value_and_grad(lambda m: loss(m, batch))(model)
    generic = eqx.filter_value_and_grad(lambda m: loss(m, batch))(Opaque(model))
    np.testing.assert_allclose(closed[0], generic[0], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(closed[1]), jax.tree.leaves(generic[1].pig)):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-4 * float(jnp.abs(b).max()))


def test_chunked_evaluation_equals_the_direct_one(getkey):
    model = jsm.PIG(BOX, 100, scale=0.2, key=getkey())
    points = BOX.sample_interior(400, np.random.default_rng(4))
    direct = jax.vmap(model)(jnp.asarray(points))
    np.testing.assert_allclose(model.predict(points, chunk_size=64), direct, rtol=1e-5, atol=1e-6)
    problem = ph.Poisson(3)
    loss = lambda chunk: ph.residual_norm(problem, model, points, chunk_size=chunk)
    np.testing.assert_allclose(loss(100), loss(None), rtol=1e-5)


def test_bad_input_is_refused_with_a_clear_message(getkey):
    model = jsm.PIG(BOX, 10, scale=0.1, key=getkey())
    with pytest.raises(ValueError, match="outside"):
        model.predict(np.array([[0.0, 5.0, 2.5]]))
    with pytest.raises(ValueError, match="dimension 3"):
        model(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"shaped \(n, 3\)"):
        model.predict(np.zeros((4, 2)))
    for scale in (0.0, -0.1):
        with pytest.raises(ValueError, match="scale"):
            jsm.PIG(BOX, 10, scale=scale, key=getkey())
    with pytest.raises(ValueError, match="covariance"):
        jsm.PIG(BOX, 10, scale=0.1, covariance="dense", key=getkey())
    with pytest.raises(ValueError, match="2-D and 3-D"):
        jsm.PIG(ph.Box([0.0] * 4, [1.0] * 4), 10, scale=0.1, covariance="full", key=getkey())
    pinn = jsm.PINN(BOX, hidden=(8, 8), key=getkey())
    with pytest.raises(ValueError, match="dimension 3"):
        pinn(jnp.zeros(4))
    with pytest.raises(ValueError, match="scalar field"):
        ph.PhysicsLoss(ph.Poisson(3))(
            jsm.PIG(BOX, 10, scale=0.1, out_channels=2, key=getkey()),
            jax.tree.map(jnp.asarray, ph.Collocation(BOX, 8).draw(0, 0)),
        )


def test_pinn_maps_the_box_onto_the_unit_cube(getkey):
    pinn = jsm.PINN(BOX, hidden=(8,), key=getkey())
    corner = jnp.asarray(BOX.upper, jnp.float32)
    expected = pinn.mlp(jnp.ones(3))
    np.testing.assert_allclose(pinn(corner), expected, rtol=1e-6)
    assert float(jnp.abs(pinn.mlp.layers[0].bias).max()) == 0.0


def test_lbfgs_through_fit_solves_a_pinn_poisson_problem(getkey):
    problem = ph.Poisson(1)
    model = jsm.PINN(problem.domain, hidden=(16,), key=jax.random.key(1))
    points = ph.Collocation(problem.domain, 64, boundary=8, resample_every=1000)
    test = ph.ReferenceSolution.from_problem(problem, 101)
    loss = ph.PhysicsLoss(problem)
    before = jsm.evaluate(model, test)["relative_l2"]
    _, history = jsm.fit(
        model,
        points,
        epochs=60,
        batch_size=64,
        loss=loss,
        optimizer=optax.lbfgs(),
        evaluation=jsm.Evaluation(test, every=60),
        progress=False,
    )
    assert history[-1]["train_loss"] < 1e-3 * history[0]["train_loss"]
    assert history[-1]["eval.relative_l2"] < before / 20


def test_chunked_residuals_bound_the_memory_of_loss_and_gradient(getkey):
    """XLA's own accounting of the compiled loss-and-gradient: chunking must shrink the
    temporaries by roughly the chunk ratio (at the paper's flow-mixing size, N = 4000 and 27,000
    points, it is 14.5 GiB unchunked against 1.45 GiB in chunks of 2048)."""
    problem = ph.FlowMixing()
    model = jsm.PIG(problem.domain, 200, scale=0.1, key=getkey())
    params, static = eqx.partition(model, eqx.is_array)
    batch = jax.tree.map(jnp.asarray, ph.Collocation(problem.domain, 4096).draw(0, 0))

    def temporaries(chunk_size):
        loss = ph.PhysicsLoss(problem, chunk_size=chunk_size)
        step = jax.jit(jax.value_and_grad(lambda p, b: loss(eqx.combine(p, static), b)))
        return step.lower(params, batch).compile().memory_analysis().temp_size_in_bytes

    whole, chunked = temporaries(None), temporaries(256)
    assert whole > 4096 * 4 * 200 * 4  # at least one (points, k, N) float32 array
    assert chunked < whole / 6, (whole, chunked)


def test_physics_training_is_the_same_on_one_device_and_on_eight():
    problem = ph.FlowMixing()  # interior, boundary and initial terms; residuals in chunks
    model = jsm.PIG(problem.domain, 20, scale=0.5, key=jax.random.key(3))
    points = ph.Collocation(problem.domain, 256, boundary=8, initial=16, resample_every=2)
    loss = ph.PhysicsLoss(problem, chunk_size=64)
    runs = [
        jsm.fit(
            model,
            points,
            epochs=4,
            batch_size=128,
            loss=loss,
            optimizer=optax.adam(1e-2),
            progress=False,
            mesh=jsm.parallel.data_mesh(devices),
        )
        for devices in (jax.devices()[:1], jax.devices())
    ]
    assert len(jax.devices()) == 8
    (one, history_one), (eight, history_eight) = runs
    np.testing.assert_allclose(
        [h["train_loss"] for h in history_one], [h["train_loss"] for h in history_eight], rtol=1e-5
    )
    for a, b in zip(
        jax.tree.leaves(eqx.filter(one, eqx.is_array)),
        jax.tree.leaves(eqx.filter(eight, eqx.is_array)),
    ):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_the_mlp_takes_glorot_normal_or_pytorch_uniform_initialization(getkey):
    """The JAX scripts' Glorot-normal MLP has zero biases; the PyTorch Helmholtz script's
    default layers draw weights and biases from U(±1/√fan_in)."""
    domain = ph.Box([-1.0, -1.0], [1.0, 1.0])
    glorot = jsm.PIG(domain, 8, scale=0.1, hidden=(400,), key=getkey())
    uniform = jsm.PIG(domain, 8, scale=0.1, hidden=(400,), init="uniform", key=getkey())
    assert np.all(np.asarray(glorot.mlp.layers[1].bias) == 0)
    np.testing.assert_allclose(np.std(glorot.mlp.layers[1].weight), np.sqrt(2 / 401), rtol=0.1)
    last = uniform.mlp.layers[1]  # fan-in 400: bound 0.05
    assert np.abs(last.weight).max() <= 0.05 and np.abs(last.bias).max() <= 0.05
    np.testing.assert_allclose(np.std(last.weight), 0.05 / np.sqrt(3), rtol=0.1)
    assert np.abs(uniform.mlp.layers[0].bias).max() > 0.1  # fan-in 4: bound 0.5
    with pytest.raises(ValueError, match="init must be"):
        jsm.PIG(domain, 8, scale=0.1, init="he", key=getkey())
