"""The tensorized FNO: Tucker and CP weights, their rebuilt tensors, their compression, and a
factorized spectral convolution against a dense one holding the same tensor."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsciml as jsm
from jaxsciml.nn import SpectralConv
from jaxsciml.nn.factorized import FactorizedWeight, tucker_ranks


def _as_parts(z):
    return jnp.stack([jnp.real(z), jnp.imag(z)])


def test_tucker_with_identity_factors_is_its_core(getkey):
    """`G ×₁ I ×₂ I ...` is `G`: any tensor is a full-rank Tucker tensor."""
    shape = (3, 4, 2, 5)
    weight = FactorizedWeight(shape, "tucker", 1.0, 1.0, key=getkey())
    target = jax.random.normal(getkey(), shape) + 1j * jax.random.normal(getkey(), shape)
    weight = eqx.tree_at(
        lambda w: (w.core, w.factors),
        weight,
        (_as_parts(target), tuple(_as_parts(jnp.eye(n, dtype=jnp.complex64)) for n in shape)),
    )
    np.testing.assert_allclose(weight.dense(), target, rtol=1e-6)


def test_cp_of_rank_one_is_an_outer_product(getkey):
    shape = (3, 2, 4)
    weight = FactorizedWeight(shape, "cp", 0.01, 1.0, key=getkey())
    assert weight.factors[0].shape[-1] == 1
    vectors = [np.asarray(f[0, :, 0]) + 1j * np.asarray(f[1, :, 0]) for f in weight.factors]
    expected = np.multiply.outer(np.multiply.outer(vectors[0], vectors[1]), vectors[2])
    np.testing.assert_allclose(weight.dense(), expected, rtol=1e-5)


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.3])
def test_tucker_ranks_keep_the_budget(fraction):
    shape = (32, 32, 24, 12)
    ranks = tucker_ranks(shape, fraction)
    size = math.prod(ranks) + sum(n * r for n, r in zip(shape, ranks))
    assert 0.7 * fraction * math.prod(shape) < size <= fraction * math.prod(shape)


@pytest.mark.parametrize("factorization", ["tucker", "cp"])
def test_factorized_conv_equals_a_dense_conv_with_the_rebuilt_tensor(factorization, getkey):
    conv = SpectralConv(3, 2, (4, 3), factorization=factorization, rank=0.3, key=getkey())
    dense = SpectralConv(3, 2, (4, 3), key=getkey())
    weight = conv.complex_weight()
    dense = eqx.tree_at(
        lambda c: (c.weight_real, c.weight_imag), dense, (jnp.real(weight), jnp.imag(weight))
    )
    x = jax.random.normal(getkey(), (2, 3, 12, 10))
    np.testing.assert_allclose(conv.batched(x), dense.batched(x), rtol=1e-5, atol=1e-7)
    rms = float(jnp.sqrt(jnp.mean(jnp.abs(weight) ** 2)))
    assert 0.3 / 6 < rms < 3 / 6  # the reference's scale 1/(in·out), within a factor 3


@pytest.mark.parametrize("factorization", ["tucker", "cp"])
def test_tfno_compression_at_a_tenth_of_the_parameters(factorization, getkey):
    key = getkey()
    build = lambda **kw: eqx.filter_eval_shape(
        lambda: jsm.FNO(1, 1, (12, 12), width=32, depth=4, key=key, **kw)
    )
    dense, tensorized = build(), build(factorization=factorization, rank=0.1)
    assert dense.compression_ratio == 1.0
    assert 9 < tensorized.compression_ratio < 11.5
    spectral = 4 * 2 * 32 * 32 * 24 * 12  # the dense Fourier weights of the paper's Darcy FNO
    saved = jsm.count_parameters(dense) - jsm.count_parameters(tensorized)
    np.testing.assert_allclose(saved, spectral * (1 - 1 / tensorized.compression_ratio), rtol=1e-9)


def test_bad_factorization_is_named(getkey):
    with pytest.raises(ValueError, match="factorization must be one of"):
        SpectralConv(2, 2, (3,), factorization="tt", key=getkey())
    with pytest.raises(ValueError, match="fraction in \\(0, 1\\]"):
        SpectralConv(2, 2, (3,), factorization="cp", rank=2.0, key=getkey())
