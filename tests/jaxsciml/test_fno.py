"""The FNO: reference parameter counts, shapes, resolution, gradients, bad input."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsciml as jsm
from jaxsciml.nn import count_parameters


def test_darcy_reference_parameter_count(getkey):
    """The FNO Darcy script: modes 12, width 32, 4 layers, input (a, x, y), projection 128."""
    build = lambda key: jsm.FNO(1, 1, (12, 12), 32, 4, 128, key=key)
    assert count_parameters(eqx.filter_eval_shape(build, getkey())) == 2_368_001


def test_other_reference_parameter_counts(getkey):
    # Burgers script (1D, 16 modes, width 64): 549,569.
    shape_of = lambda *args, **kwargs: eqx.filter_eval_shape(jsm.FNO, *args, **kwargs)
    assert count_parameters(shape_of(1, 1, (16,), width=64, key=getkey())) == 549_569
    # FNO-3D for Navier-Stokes (10 frames + x, y, t; 8 modes; width 20): the paper's 6,558,537
    # counts four unused BatchNorm3d(20) layers (4 x 40 parameters) that the script constructs.
    fno3d = shape_of(10, 1, (8, 8, 8), width=20, key=getkey())
    assert count_parameters(fno3d) + 4 * 40 == 6_558_537


@pytest.mark.parametrize(
    "spatial, modes", [((24,), (6,)), ((16, 12), (4, 4)), ((8, 8, 6), (3, 3, 2))]
)
def test_shapes_in_1d_2d_3d(spatial, modes, getkey):
    model = jsm.FNO(2, 3, modes, width=8, depth=2, projection_channels=16, key=getkey())
    batch = jax.random.normal(getkey(), (2, 2, *spatial))
    out = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(model, batch)
    assert out.shape == (2, 3, *spatial)
    assert jnp.all(jnp.isfinite(out))


def test_same_weights_evaluate_on_a_finer_grid(getkey):
    model = jsm.FNO(1, 1, (6, 6), width=8, depth=2, padding=0.1, key=getkey())
    x = np.linspace(0, 1, 33)
    smooth = np.sin(np.pi * x)[:, None] * np.cos(np.pi * x)[None, :]
    coarse = model(jnp.asarray(smooth[None, ::2, ::2], jnp.float32))
    fine = model(jnp.asarray(smooth[None], jnp.float32))
    assert coarse.shape == (1, 17, 17) and fine.shape == (1, 33, 33)
    # Pointwise nonlinearities create harmonics above the kept modes, so the two grids agree only
    # approximately; on a smooth input they agree closely.
    error = jnp.linalg.norm(fine[:, ::2, ::2] - coarse) / jnp.linalg.norm(coarse)
    assert error < 0.05


def test_padding_scales_with_resolution():
    assert jsm.nn.padding_widths((85, 85), (0.106, 0.106)) == (9, 9)
    assert jsm.nn.padding_widths((169, 169), (0.106, 0.106)) == (18, 18)


def test_padding_changes_the_operator_and_is_cropped(getkey):
    key = getkey()
    periodic = jsm.FNO(1, 1, (4, 4), width=8, depth=2, key=key)
    padded = jsm.FNO(1, 1, (4, 4), width=8, depth=2, padding=0.25, key=key)
    a = jax.random.normal(getkey(), (1, 16, 16))
    assert padded(a).shape == (1, 16, 16)
    assert not jnp.allclose(padded(a), periodic(a))


@pytest.mark.parametrize(
    "shape, match",
    [
        ((2, 16, 16), "in_channels=1"),
        ((16, 16), "in_channels=1"),
        ((1, 16, 16, 4), "2 spatial axes"),
        ((1, 10, 16), "modes\\[0\\]=6"),
    ],
)
def test_bad_input_is_named(shape, match, getkey):
    model = jsm.FNO(1, 1, (6, 6), width=4, depth=1, key=getkey())
    with pytest.raises(ValueError, match=match):
        model(jnp.zeros(shape))


def test_bad_configuration_is_named(getkey):
    with pytest.raises(ValueError, match="1, 2 or 3"):
        jsm.FNO(1, 1, (4, 4, 4, 4), key=getkey())
    with pytest.raises(ValueError, match="padding"):
        jsm.FNO(1, 1, (4, 4), padding=(0.1,), key=getkey())


def test_batched_vmap_and_both_transforms_agree(getkey):
    key = getkey()
    fft = jsm.FNO(1, 2, (4, 3), width=6, depth=2, padding=0.1, transform="fft", key=key)
    dft = jsm.FNO(1, 2, (4, 3), width=6, depth=2, padding=0.1, transform="dft", key=key)
    batch = jax.random.normal(getkey(), (3, 1, 12, 10))
    looped = jnp.stack([fft(a) for a in batch])
    np.testing.assert_allclose(fft.batched(batch), looped, atol=1e-5)
    np.testing.assert_allclose(jax.vmap(fft)(batch), looped, atol=1e-5)
    np.testing.assert_allclose(dft.batched(batch), looped, atol=1e-5)


def test_neuraloperator_defaults_rebuild_its_parameter_count(getkey):
    """neuraloperator 2.0.0's `FNO(n_modes=(16, 16), in_channels=1, out_channels=1,
    hidden_channels=24)` counts 671,113 parameters (complex ones twice), measured with it
    installed; `benchmarks/neuralop_parity.py` also matches its outputs on copied weights."""
    model = jsm.FNO.neuralop((16, 16), 1, 1, 24, key=getkey())
    assert jsm.count_parameters(model) == 671_113
    assert model.layers[0].spectral.modes == (8, 9)  # n_modes counts every kept frequency
    with pytest.raises(ValueError, match="even"):
        jsm.FNO.neuralop((15, 16), 1, 1, 24, key=getkey())


def test_the_block_options_compose_as_neuraloperator_orders_them(getkey):
    """norm₁(K v) + W v, the activation, MLP + gate · v, norm₂: the block recomputed from its
    parts, with group norms; a soft gate starts as the identity."""
    model = jsm.FNO.neuralop((6, 6), 1, 1, 8, n_layers=2, norm="group", key=getkey())
    layer = model.layers[0]
    v = jax.random.normal(getkey(), (2, 8, 12, 12))

    def group_norm(x):
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        return (x - mean) / jnp.sqrt(x.var(axis=(1, 2, 3), keepdims=True) + 1e-5)

    x = group_norm(layer.spectral.batched(v)) + layer.pointwise.batched(v)
    x = layer.mlp.batched(jsm.nn.gelu(x)) + v  # the gate starts at one
    np.testing.assert_allclose(layer.batched(v), group_norm(x), rtol=1e-5, atol=1e-5)
    last = layer.mlp.batched(group_norm(layer.spectral.batched(v)) + layer.pointwise.batched(v))
    np.testing.assert_allclose(layer.batched(v, last=True), group_norm(last + v), atol=1e-5)


def test_periodic_grid_and_padding_on_both_sides(getkey):
    """The periodic embedding is `i / n`; padding on both sides is cropped away again, and the
    model still maps a grid and a finer one to the same function."""
    coordinates = jsm.nn.grid_coordinates((4, 4), periodic=True)
    np.testing.assert_allclose(coordinates[0, :, 0], [0, 0.25, 0.5, 0.75])
    model = jsm.FNO.neuralop((4, 4), 1, 1, 8, domain_padding=0.25, key=getkey())
    x = jnp.sin(2 * jnp.pi * jnp.arange(32) / 32)[None, None, :, None] * jnp.ones((1, 1, 32, 32))
    fine, coarse = model.batched(x), model.batched(x[..., ::2, ::2])
    assert fine.shape == x.shape
    error = jnp.linalg.norm(fine[..., ::2, ::2] - coarse) / jnp.linalg.norm(coarse)
    assert error < 0.05, error


def test_pointwise_mlp_in_chunks_of_grid_points_equals_one_pass(getkey, monkeypatch):
    """A wide pointwise MLP goes through the grid in chunks on CPU (its hidden activations then
    stay in cache): the same values and gradients as one pass, also for a batch split over
    the devices."""
    from jaxsciml.nn import pointwise

    mlp = jsm.nn.PointwiseMLP(3, [64], 2, activation=jsm.nn.gelu, key=getkey())
    x = jax.random.normal(getkey(), (8, 3, 12, 10))
    assert pointwise.spatial_chunks(x, 64) == 1  # 240 KiB of hidden activations: one pass
    assert pointwise.spatial_chunks(x, 64, chunk_bytes=64 * 1024) == 4  # 4 divides 120 points
    prime = jnp.zeros((8, 3, 127))  # no divisor near 4: one pass rather than 127 chunks
    assert pointwise.spatial_chunks(prime, 64, chunk_bytes=64 * 1024) == 1

    def loss(m, a):
        return jnp.sum(jnp.sin(m.batched(a)))

    whole = eqx.filter_value_and_grad(loss)(mlp, x)
    monkeypatch.setattr(pointwise, "CHUNK_BYTES", 64 * 1024)
    mesh = jsm.parallel.data_mesh()
    sharded = jax.device_put(
        x, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    )
    chunked = eqx.filter_jit(eqx.filter_value_and_grad(loss))(mlp, sharded)
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(chunked[1]), jax.tree.leaves(whole[1])):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    jaxpr = str(jax.make_jaxpr(lambda a: mlp.batched(a))(x))
    assert "scan" in jaxpr  # it did run in chunks
