"""T1 (Transform Once): the orthonormal transforms, the paper's configuration, the
variance-preserving initialization, the reduction to a projection, resolution, gradients and the
frequency-domain loss."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.fft

import jaxsciml as jsm
from jaxsciml.data import Batch
from jaxsciml.losses import batch_mean, relative_l2
from jaxsciml.nn import append_coordinates, transforms
from jaxsciml.operators.t1 import frequency_relative_l2


@pytest.mark.parametrize("kind", ["dct", "dft"])
@pytest.mark.parametrize("n", [7, 8])
def test_transform_pair_is_orthonormal(kind, n):
    """Full transforms: round trip exact and Parseval (float64); the basis is orthonormal."""
    with jax.enable_x64(True):
        b = transforms.basis(kind, n, n)
        np.testing.assert_allclose(b.T @ b, np.eye(n), atol=1e-12)
        x = jnp.asarray(np.random.default_rng(n).standard_normal((2, n, n + 1)))
        c = transforms.forward(x, kind, (n, n + 1))
        np.testing.assert_allclose(transforms.inverse(c, kind, (n, n + 1)), x, atol=1e-12)
        np.testing.assert_allclose(jnp.linalg.norm(c), jnp.linalg.norm(x), rtol=1e-12)


def test_dct_is_scipys_orthonormal_dct_ii_truncated():
    x = np.random.default_rng(0).standard_normal((3, 12, 10))
    with jax.enable_x64(True):
        kept = transforms.forward(jnp.asarray(x), "dct", (5, 4))
    np.testing.assert_allclose(
        kept, scipy.fft.dctn(x, axes=(1, 2), norm="ortho")[:, :5, :4], atol=1e-12
    )


def test_paper_navier_stokes_configuration_parameter_count(getkey):
    """8 blocks of width 48 at 24x24 modes, grid appended, head 48 -> 128 -> 1 without biases."""
    key = getkey()
    model = eqx.filter_eval_shape(lambda: jsm.T1(1, 1, (24, 24), (64, 64), key=key))
    blocks = 8 * (48 * 48 * 24 * 24 + 2 * 48 * 24 * 24)
    lifting = (1 + 2) * 48 + 48
    head = 48 * 128 + 128 * 1
    assert jsm.count_parameters(model) == blocks + lifting + head == 11_065_664


@pytest.mark.parametrize("kind", ["dct", "dft"])
def test_variance_preserving_initialization_keeps_the_variance(kind, getkey):
    """White noise through transform, channel mixing at the VP std, inverse transform: the
    variance is kept (to sampling error), while the `fno` init shrinks it by orders of magnitude."""
    width, n, m = 16, 32, 8
    v = jax.random.normal(getkey(), (64, width, n, n))
    coefficients = transforms.forward(v, kind, (m, m))
    for init, low, high in (("vp", 0.85, 1.15), ("fno", 0, 1e-4)):
        block = jsm.T1(
            width,
            1,
            (m, m),
            (n, n),
            width=width,
            depth=1,
            init=init,
            append_grid=False,
            key=getkey(),
        ).blocks[0]
        mixed = jnp.einsum("bi...,io...->bo...", coefficients, block.channel_mixing)
        variance = float(jnp.var(transforms.inverse(mixed, kind, (n, n))))
        assert low < variance < high, (init, variance)


def test_identity_blocks_reduce_to_the_projection_onto_the_kept_modes(getkey):
    """With the channel mixing at zero every block is the identity (GELU(0) = 0, then the
    residual); the model's encode-decode is then the DCT projection of the lifted field."""
    model = jsm.T1(1, 1, (5, 3), (16, 12), width=4, depth=3, key=getkey())
    model = eqx.tree_at(
        lambda t: [b.channel_mixing for b in t.blocks],
        model,
        [jnp.zeros_like(b.channel_mixing) for b in model.blocks],
    )
    a = jax.random.normal(getkey(), (2, 1, 16, 12))
    x = model.encode(a)
    for block in model.blocks:
        x = block(x)
    np.testing.assert_array_equal(x, model.encode(a))
    lifted = np.asarray(model.lifting.batched(append_coordinates(a)), np.float64)
    spectrum = scipy.fft.dctn(lifted, axes=(2, 3), norm="ortho")
    spectrum[:, :, 5:] = 0
    spectrum[:, :, :, 3:] = 0
    projection = scipy.fft.idctn(spectrum, axes=(2, 3), norm="ortho")
    np.testing.assert_allclose(transforms.inverse(x, "dct", (16, 12)), projection, atol=1e-5)


def _with_unit_head(model, key):
    """The model with an O(1) head (the paper's 1e-8 start makes every output ≈ 0)."""
    k1, k2 = jax.random.split(key)
    return eqx.tree_at(
        lambda t: (t.head_hidden, t.head_out),
        model,
        (
            jax.random.normal(k1, model.head_hidden.shape) / 100,
            jax.random.normal(k2, model.head_out.shape) / 8,
        ),
    )


@pytest.mark.parametrize("kind", ["dct", "dft"])
def test_shapes_jit_vmap_in_1d_and_2d(kind, getkey):
    for modes, spatial in (((6,), (20,)), ((4, 5), (12, 16))):
        model = _with_unit_head(
            jsm.T1(2, 3, modes, spatial, width=8, depth=2, transform=kind, key=getkey()), getkey()
        )
        a = jax.random.normal(getkey(), (4, 2, *spatial))
        out = eqx.filter_jit(model.batched)(a)
        assert out.shape == (4, 3, *spatial) and float(jnp.std(out)) > 1e-3
        vmapped = eqx.filter_jit(eqx.filter_vmap(model))(a)
        np.testing.assert_allclose(vmapped, out, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(eqx.filter_jit(model)(a[1]), out[1], rtol=1e-4, atol=1e-6)


def test_same_weights_evaluate_on_a_second_resolution(getkey):
    """A smooth input at 32² and at 64² gives nearly the same coefficients (hence the same output
    function): the coefficients are rescaled by √(N_train / N_grid). Unscaled, they differ by 2x."""
    model = _with_unit_head(
        jsm.T1(1, 1, (6, 6), (32, 32), width=8, depth=2, key=getkey()), getkey()
    )

    def field(n):
        x = np.linspace(0, 1, n)
        return jnp.asarray(np.sin(2 * x)[:, None] * np.cos(3 * x)[None, :] + x[:, None])[None, None]

    coarse, fine = model.coefficients(field(32)), model.coefficients(field(64))
    difference = float(jnp.linalg.norm(fine - coarse) / jnp.linalg.norm(coarse))
    assert difference < 0.05, difference
    unscaled = transforms.forward(field(64), "dct", (6, 6))
    assert (
        float(
            jnp.linalg.norm(unscaled)
            / jnp.linalg.norm(transforms.forward(field(32), "dct", (6, 6)))
        )
        > 1.9
    )  # the scaling is what makes it work
    out = model.batched(field(64))
    assert out.shape == (1, 1, 64, 64)


def test_gradients_match_finite_differences(getkey, check_gradients):
    with jax.enable_x64(True):
        model = _with_unit_head(
            jsm.T1(1, 1, (3, 4), (8, 8), width=3, depth=2, head_channels=5, key=getkey()),
            getkey(),
        )
        a = jax.random.normal(getkey(), (2, 1, 8, 8))
        params, static = eqx.partition(model, eqx.is_inexact_array)
        check_gradients(lambda p: jnp.sum(eqx.combine(p, static).batched(a) ** 2), params)


@pytest.mark.parametrize("n", [16, 24])
def test_frequency_loss_is_the_physical_relative_l2(n, getkey):
    """Parseval: the loss on coefficients equals the relative L2 of the decoded fields, at the
    training resolution and at another one."""
    with jax.enable_x64(True):
        model = _with_unit_head(
            jsm.T1(1, 2, (5, 5), (16, 16), width=4, depth=1, key=getkey()), getkey()
        )
        a = jax.random.normal(getkey(), (3, 1, n, n))
        y = jax.random.normal(getkey(), (3, 2, n, n))
        batch = Batch(a, y)
        physical = batch_mean(relative_l2, eqx.filter_jit(model.batched)(a), y)
        loss = eqx.filter_jit(frequency_relative_l2)(model, batch)
        np.testing.assert_allclose(loss, physical, rtol=1e-10)


def test_bad_input_is_named(getkey):
    with pytest.raises(ValueError, match="between 1 and the resolution"):
        jsm.T1(1, 1, (40, 4), (32, 32), key=getkey())
    with pytest.raises(ValueError, match="transform must be"):
        jsm.T1(1, 1, (4, 4), (32, 32), transform="fft", key=getkey())
    with pytest.raises(ValueError, match="one entry per spatial axis"):
        jsm.T1(1, 1, (4, 4), (32,), key=getkey())
    model = jsm.T1(1, 1, (8, 8), (16, 16), width=4, depth=1, key=getkey())
    with pytest.raises(ValueError, match="in_channels=1"):
        model(jnp.zeros((2, 16, 16)))
    with pytest.raises(ValueError, match="cannot hold the kept modes"):
        model(jnp.zeros((1, 6, 16)))
