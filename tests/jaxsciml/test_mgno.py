"""MgNO: parameter counts of the paper's configurations, the V-cycle's pieces against direct
formulas, the one-level reduction to a convolutional layer, padding modes, gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsciml as jsm
from jaxsciml.nn.convolution import Prolongation


@pytest.mark.parametrize(
    "resolution, depth, expected",
    [((211, 211), 5, 678_093), ((256, 256), 4, 572_661), ((256, 256), 5, 738_573)],
)
def test_paper_darcy_parameter_counts(resolution, depth, expected, getkey):
    """operators.md §2.3, counted by hand from the paper's models.py: smooth Darcy (211², up
    kernels 3,4,3,3,4), rough Darcy (256², all 4), and the 5-layer rough variant."""
    key = getkey()
    model = eqx.filter_eval_shape(lambda: jsm.MgNO(1, 1, resolution, depth=depth, key=key))
    assert jsm.count_parameters(model) == expected


def _correlate_numpy(x, weight, mode):
    """`k×k` cross-correlation of `x` `(c_in, n, n)` padded by `k // 2` in numpy's `mode`."""
    k = weight.shape[-1]
    padded = np.pad(x, [(0, 0), (k // 2, k // 2), (k // 2, k // 2)], mode=mode)
    n1, n2 = x.shape[1:]
    out = np.zeros((weight.shape[0], n1, n2))
    for i in range(k):
        for j in range(k):
            out += np.einsum("oc,cxy->oxy", weight[:, :, i, j], padded[:, i : i + n1, j : j + n2])
    return out


@pytest.mark.parametrize(
    "padding, numpy_mode", [("zeros", "constant"), ("periodic", "wrap"), ("reflect", "reflect")]
)
def test_one_level_is_a_convolutional_layer_with_the_padding_mode(padding, numpy_mode, getkey):
    """With one level and one smoothing step the V-cycle is the 3x3 convolution `S₀`, so a layer
    is `GELU(S₀ ∗ a + W a + b)`; the padding mode only changes the boundary ring."""
    with jax.enable_x64(True):
        model = jsm.MgNO(
            2,
            1,
            (9, 9),
            width=3,
            depth=1,
            levels=1,
            iterations=(1,),
            padding=padding,
            key=getkey(),
        )
        a = np.random.default_rng(0).standard_normal((2, 9, 9))
        layer = model.layers[0]
        conv = _correlate_numpy(a, np.asarray(layer.cycle.first.weight), numpy_mode)
        local = np.einsum("oc,cxy->oxy", layer.local.weight, a) + layer.local.bias[:, None, None]
        expected = jax.nn.gelu(conv + local, approximate=False)
        np.testing.assert_allclose(layer(jnp.asarray(a)), expected, atol=1e-12)
        zero_padded = _correlate_numpy(a, np.asarray(layer.cycle.first.weight), "constant")
        difference = np.abs(expected - jax.nn.gelu(zero_padded + local, approximate=False))
        assert np.all(difference[:, 1:-1, 1:-1] == 0)
        assert (difference.max() > 0) == (padding != "zeros")


@pytest.mark.parametrize("kernel, fine", [(3, 9), (4, 10)])
def test_prolongation_is_the_stride_2_transposed_convolution(kernel, fine, getkey):
    """`ConvTranspose2d(k, stride 2, padding 1)`: `out[o] += w[t] x[i]` where `o = 2i − 1 + t`,
    with the kernel flipped (ours is stored as a cross-correlation)."""
    with jax.enable_x64(True):
        prolong = Prolongation(2, 3, kernel, key=getkey())
        coarse = -(-fine // 2)
        x = np.random.default_rng(1).standard_normal((1, 2, coarse, coarse))
        w = np.asarray(prolong.weight)[:, :, ::-1, ::-1]
        expected = np.zeros((1, 3, fine, fine))
        for i1 in range(coarse):
            for i2 in range(coarse):
                for t1 in range(kernel):
                    for t2 in range(kernel):
                        o1, o2 = 2 * i1 - 1 + t1, 2 * i2 - 1 + t2
                        if 0 <= o1 < fine and 0 <= o2 < fine:
                            expected[0, :, o1, o2] += w[:, :, t1, t2] @ x[0, :, i1, i2]
        np.testing.assert_allclose(prolong(jnp.asarray(x), (fine, fine)), expected, atol=1e-12)


def test_periodic_padding_commutes_with_shifts_by_the_coarsest_cell(getkey):
    """On the torus the whole V-cycle is translation-equivariant for shifts by 2^(levels−1)
    cells; zero padding (a Dirichlet-like boundary) is not."""
    a = jax.random.normal(getkey(), (2, 1, 16, 16))
    shift = lambda u: jnp.roll(u, (4, 8), axis=(2, 3))
    for padding, equivariant in (("periodic", True), ("zeros", False)):
        model = jsm.MgNO(1, 1, (16, 16), width=4, depth=2, levels=3, padding=padding, key=getkey())
        run = eqx.filter_jit(model.batched)
        error = float(jnp.max(jnp.abs(run(shift(a)) - shift(run(a)))))
        assert (error < 1e-5) == equivariant, (padding, error)


def test_shapes_jit_vmap_and_another_grid(getkey):
    model = jsm.MgNO(2, 3, (32, 32), width=6, depth=2, levels=4, key=getkey())
    a = jax.random.normal(getkey(), (3, 2, 32, 32))
    out = eqx.filter_jit(model.batched)(a)
    assert out.shape == (3, 3, 32, 32)
    vmapped = eqx.filter_jit(eqx.filter_vmap(model))(a)
    np.testing.assert_allclose(vmapped, out, rtol=1e-4, atol=1e-5)
    assert eqx.filter_jit(model)(jnp.zeros((2, 27, 40))).shape == (3, 27, 40)


def test_bad_input_is_named(getkey):
    with pytest.raises(ValueError, match="padding must be one of"):
        jsm.MgNO(1, 1, (16, 16), padding="circular", key=getkey())
    with pytest.raises(ValueError, match="below 2 points"):
        jsm.MgNO(1, 1, (16, 16), levels=5, key=getkey())
    with pytest.raises(ValueError, match="one positive count per level"):
        jsm.MgNO(1, 1, (16, 16), levels=3, iterations=(1, 1), key=getkey())
    model = jsm.MgNO(1, 1, (16, 16), width=2, depth=1, levels=3, key=getkey())
    with pytest.raises(ValueError, match="in_channels=1"):
        model(jnp.zeros((2, 16, 16)))
    with pytest.raises(ValueError, match="too coarse"):
        model(jnp.zeros((1, 3, 16)))
