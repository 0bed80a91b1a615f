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


@pytest.mark.parametrize("kind", ["tucker", "cp"])
def test_contracting_through_the_factors_equals_the_rebuilt_tensor(kind, getkey):
    """Per layer and joint (a leading layer axis): `contract` against an einsum with `dense()`."""
    x = jax.random.normal(getkey(), (2, 4, 6, 3)) + 1j * jax.random.normal(getkey(), (2, 4, 6, 3))
    single = FactorizedWeight((4, 5, 6, 3), kind, 0.3, 0.1, key=getkey())
    expected = jnp.einsum("bixy,ioxy->boxy", x, single.dense())
    np.testing.assert_allclose(single.contract(x), expected, rtol=1e-5, atol=1e-6)
    joint = FactorizedWeight((3, 4, 5, 6, 3), kind, 0.3, 0.1, key=getkey())
    for layer in range(3):
        expected = jnp.einsum("bixy,ioxy->boxy", x, joint.dense()[layer])
        np.testing.assert_allclose(joint.contract(x, layer), expected, rtol=1e-5, atol=1e-6)


def test_a_full_rank_joint_tucker_fno_is_the_dense_fno(getkey):
    """The stacked dense weights as the core, identity factors: the joint FNO computes the dense
    FNO built from the same key (lifting, skips and projection are the same arrays)."""
    key, x = getkey(), jax.random.normal(getkey(), (2, 1, 16, 16))
    settings = dict(width=6, depth=3, key=key)
    dense = jsm.FNO(1, 1, (4, 4), **settings)
    joint = jsm.FNO(1, 1, (4, 4), factorization="tucker", joint_factorization=True, **settings)
    stack = jnp.stack([layer.spectral.complex_weight() for layer in dense.layers])
    identities = tuple(_as_parts(jnp.eye(n, dtype=jnp.complex64)) for n in stack.shape)
    joint = eqx.tree_at(
        lambda m: (m.joint.core, m.joint.factors), joint, (_as_parts(stack), identities)
    )
    np.testing.assert_allclose(joint.batched(x), dense.batched(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("target", [10, 50, 150])
def test_joint_compression_reaches_the_papers_ratios(target, getkey):
    """MG-TFNO reports more than 150x compression of the Fourier weights: `rank = 1/target` of
    the joint tensor stores about `target` times fewer of them (width 64, 32 modes, 4 layers)."""
    model = jsm.FNO(
        1, 1, (32, 32), width=64, depth=4, factorization="tucker", rank=1 / target,
        joint_factorization=True, key=getkey(),
    )  # fmt: skip
    assert 0.9 * target < model.compression_ratio < 1.25 * target
    with pytest.raises(ValueError, match="joint_factorization needs"):
        jsm.FNO(1, 1, (4, 4), joint_factorization=True, key=getkey())
