"""DeepONet and MultiONet: shapes, separable evaluation, the l = 1 case, gradients, errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsciml as jsm


@pytest.fixture
def multionet(getkey):
    model = jsm.MultiONet(
        12, 2, [16, 16, 16, 16], [16, 16, 16, 16], num_outputs=3, out_channels=2, key=getkey()
    )
    # the reference initialises w to 0; random w exercises every layer's contribution
    return eqx.tree_at(lambda m: m.weights, model, jax.random.normal(getkey(), (3,)))


def test_shapes_jit_and_vmap_agree(multionet, getkey):
    sensors = jax.random.normal(getkey(), (5, 12))
    points = jax.random.uniform(getkey(), (7, 2))
    batched = eqx.filter_jit(lambda m, u, y: m.batched(u, y))(multionet, sensors, points)
    assert batched.shape == (5, 7, 2)
    one_by_one = jax.vmap(multionet, in_axes=(0, None))(sensors, points)
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-6)
    own_points = jnp.broadcast_to(points, (5, 7, 2))
    np.testing.assert_allclose(
        multionet.batched(sensors, own_points), batched, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("channels", [1, 2])
def test_one_output_layer_at_shared_points_equals_each_function_alone(channels, getkey):
    """The l = 1 product at shared points (a matrix product per channel) against `__call__`."""
    model = jsm.MultiONet(12, 2, [16, 16], [16, 16], num_outputs=1, out_channels=channels,
                          key=getkey())  # fmt: skip
    model = eqx.tree_at(
        lambda m: (m.weights, m.bias),
        model,
        (jax.random.normal(getkey(), (1,)), jax.random.normal(getkey(), (channels,))),
    )
    sensors = jax.random.normal(getkey(), (5, 12))
    points = jax.random.uniform(getkey(), (7, 2))
    one_by_one = jax.vmap(model, in_axes=(0, None))(sensors, points)
    np.testing.assert_allclose(model.batched(sensors, points), one_by_one, rtol=1e-5, atol=1e-6)


def test_separable_evaluation_equals_every_pair_evaluated_alone(multionet, getkey):
    sensors = jax.random.normal(getkey(), (3, 12))
    points = jax.random.uniform(getkey(), (4, 2))
    grid = multionet.batched(sensors, points)
    for b in range(3):
        for p in range(4):
            alone = multionet(sensors[b], points[p : p + 1])[0]
            np.testing.assert_allclose(grid[b, p], alone, rtol=1e-5, atol=1e-6)


def test_multionet_with_one_output_layer_is_deeponet(getkey):
    deeponet = jsm.DeepONet(10, 1, [20, 20], [20, 20], key=getkey())
    multionet = jsm.MultiONet(
        10,
        1,
        [20, 20],
        [20, 20],
        num_outputs=1,
        activation=jax.nn.relu,
        linear_branch_output=True,
        key=getkey(),
    )
    multionet = eqx.tree_at(
        lambda m: (m.branch, m.trunk, m.weights),
        multionet,
        (deeponet.branch, deeponet.trunk, jnp.ones(1)),
    )
    sensors = jax.random.normal(getkey(), (4, 10))
    points = jax.random.uniform(getkey(), (6, 1))
    np.testing.assert_allclose(
        multionet.batched(sensors, points), deeponet.batched(sensors, points), rtol=1e-6
    )
    # and DeepONet is the textbook formula: linear branch output · activated trunk output + b0
    b = deeponet.branch[1](jax.nn.relu(deeponet.branch[0](sensors[0])))
    t = jax.nn.relu(deeponet.trunk[1](jax.nn.relu(deeponet.trunk[0](points[0]))))
    np.testing.assert_allclose(deeponet(sensors[0], points[:1])[0, 0], b @ t, rtol=1e-5)


def test_output_is_the_weighted_mean_of_the_last_l_inner_products(multionet, getkey):
    """G(u)(y) = (1/l) Σ_k w_k ⟨a_k(u), x_k(y)⟩ + b over the last l layers, per channel group."""
    sensors = jax.random.normal(getkey(), (12,))
    point = jax.random.uniform(getkey(), (2,))

    def activations(layers, z):
        out = []
        for layer in layers:
            z = jnp.tanh(layer(z))
            out.append(z)
        return out

    branch, trunk = activations(multionet.branch, sensors), activations(multionet.trunk, point)
    expected = multionet.bias
    for w, a, x in zip(multionet.weights, branch[-3:], trunk[-3:]):
        expected = expected + w * (a.reshape(2, 8) * x.reshape(2, 8)).sum(axis=1) / 3
    np.testing.assert_allclose(multionet(sensors, point[None])[0], expected, rtol=1e-5, atol=1e-6)


def test_a_convolutional_encoder_feeds_the_branch_the_encoded_field(getkey):
    """DGenNO's Darcy MultiONet: the sensors are a 9x11 field, two unpadded 3x3 stride-2
    convolutions (9x11 -> 4x5 -> 1x2) and a linear layer encode it, and the branch reads that
    code: the model equals a plain MultiONet fed the encoder's output."""
    model = jsm.MultiONet(
        99, 2, [8, 8, 8], [8, 8, 8], num_outputs=2, sensor_grid=(9, 11), conv_channels=(3, 5),
        encoder_widths=(6, 7), conv_kernel=3, conv_stride=2, init="uniform", key=getkey(),
    )  # fmt: skip
    assert model.sensors == 99 and model.branch[0].in_features == 7
    assert model.encoder.linears[0].in_features == 5 * 1 * 2
    fields = jax.random.normal(getkey(), (3, 99))
    points = jax.random.uniform(getkey(), (4, 2))
    codes = jax.vmap(lambda f: model.encoder(f.reshape(1, 9, 11)))(fields)
    plain = eqx.tree_at(lambda m: m.encoder, model, None, is_leaf=lambda x: x is None)
    np.testing.assert_allclose(model.batched(fields, points), plain.batched(codes, points),
                               rtol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="sensor_grid whose points are the 98 sensors"):
        jsm.MultiONet(98, 2, [8], [8], sensor_grid=(9, 11), conv_channels=(3,), key=getkey())
    with pytest.raises(ValueError, match="too small"):
        jsm.MultiONet(9, 2, [8], [8], sensor_grid=(3, 3), conv_channels=(3, 3), conv_kernel=3,
                      key=getkey())  # fmt: skip


def test_the_initializations_are_glorot_normal_or_pytorch_uniform(getkey):
    widths = [300, 300]
    glorot = jsm.MultiONet(200, 2, widths, widths, key=getkey())
    uniform = jsm.MultiONet(200, 2, widths, widths, init="uniform", key=getkey())
    layer = glorot.branch[1]  # 300 -> 300: std √(2 / 600)
    assert np.all(layer.bias == 0)
    np.testing.assert_allclose(np.std(layer.weight), np.sqrt(2 / 600), rtol=0.02)
    layer = uniform.branch[0]  # fan-in 200: U(±1/√200), weights and biases, std 1/√600
    bound = 1 / np.sqrt(200)
    assert np.abs(layer.weight).max() <= bound and np.abs(layer.bias).max() <= bound
    np.testing.assert_allclose(np.std(layer.weight), bound / np.sqrt(3), rtol=0.02)
    assert np.abs(layer.bias).max() > bound / 2
    with pytest.raises(ValueError, match="init must be one of"):
        jsm.MultiONet(200, 2, widths, widths, init="he", key=getkey())


def test_bad_input_is_named(multionet):
    with pytest.raises(ValueError, match="sensor values"):
        multionet.batched(jnp.ones((2, 11)), jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="query points"):
        multionet.batched(jnp.ones((2, 12)), jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="empty"):
        multionet(jnp.ones(12), jnp.ones((0, 2)))
    with pytest.raises(ValueError, match="sets of query points"):
        multionet.batched(jnp.ones((2, 12)), jnp.ones((3, 4, 2)))
    with pytest.raises(ValueError, match="divisible"):
        jsm.MultiONet(4, 1, [6, 6], [6, 6], out_channels=4, key=jax.random.key(0))
    with pytest.raises(ValueError, match="num_outputs"):
        jsm.MultiONet(4, 1, [6, 6], [6, 6], num_outputs=3, key=jax.random.key(0))


@pytest.mark.slow
def test_deeponet_learns_the_antiderivative_to_one_percent(tmp_path):
    """The paper's DeepONet ([100, 40, 40] / [1, 40, 40], ReLU, Adam 1e-3) on 1000 GRF inputs
    reaches a mean relative L2 error below 1e-2 on 200 unseen ones. It takes thousands of steps,
    not hundreds: 300 steps reach about 5e-2 (see the issue-5 note)."""
    import datagen

    datagen.generate("antiderivative", 1200, tmp_path, seed=0, progress=False)
    train, test = jsm.data.load(tmp_path).split(1000, 200)
    train = jsm.data.PointDataset(train).cache()
    model = jsm.DeepONet(100, 1, [40, 40], [40, 40], key=jax.random.key(0))
    steps = 8000
    schedule = optax.exponential_decay(1e-3, steps, 0.1)  # 1e-3 down to 1e-4
    model, _ = jsm.fit(
        model,
        train,
        epochs=steps // 5,
        batch_size=200,
        optimizer=optax.adam(schedule),
        progress=False,
        mesh=jsm.parallel.data_mesh(jax.devices()[:1]),
    )
    error = jsm.evaluate(
        model,
        jsm.data.PointDataset(test).cache(),
        batch_size=200,
        mesh=jsm.parallel.data_mesh(jax.devices()[:1]),
    )["relative_l2"]
    print(error)
    assert error < 1e-2
