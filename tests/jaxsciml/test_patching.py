"""Multigrid patching: patches that stitch back to the field, periodic neighbours in the padding,
coarse context centred on its patch at 2^level times its extent, and any operator wrapped in it.
(On 32² fields with levels 1-2 and paddings 0-0.125 the patches and the stitching were also
compared with neuraloperator 2.0's `MultigridPatching2D`: bitwise equal.)"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsciml as jsm
from jaxsciml.nn import PointwiseLinear
from jaxsciml.nn.patching import make_patches, stitch_patches
from jaxsciml.operators import MultigridPatching


H = 32
CASES = [(1, 0.0), (1, 0.125), (2, 0.0625), (2, 0.125)]


def coordinate_field():
    """Channel 0 holds each point's row, channel 1 its column."""
    rows, columns = np.meshgrid(np.arange(H), np.arange(H), indexing="ij")
    return jnp.asarray(np.stack([rows, columns])[None], jnp.float32)


@pytest.mark.parametrize("levels, padding", CASES)
def test_patches_stitch_back_to_the_field(levels, padding):
    x = jax.random.normal(jax.random.key(0), (2, 3, H, H))
    patches = make_patches(x, levels, padding)
    n, p = 2**levels, round(H * padding)
    assert patches.shape == (2 * n * n, 3 * (1 + levels), H // n + 2 * p, H // n + 2 * p)
    np.testing.assert_array_equal(stitch_patches(patches[:, :3], levels, H, padding), x)


@pytest.mark.parametrize("levels, padding", CASES)
def test_padding_and_context_are_periodic_and_centred(levels, padding):
    patches = np.asarray(make_patches(coordinate_field(), levels, padding))
    n, p = 2**levels, round(H * padding)
    s = H // n
    for k in range(n * n):
        i, j = divmod(k, n)
        # the padding holds the periodic neighbours
        np.testing.assert_array_equal(patches[k, 0, :, 0], (i * s - p + np.arange(s + 2 * p)) % H)
        np.testing.assert_array_equal(patches[k, 1, 0, :], (j * s - p + np.arange(s + 2 * p)) % H)
        for level in range(1, levels + 1):
            rows = patches[k, 2 * level, :, 0]  # the rows that level samples
            offsets = (rows - (i * s + (s - 1) / 2) + H / 2) % H - H / 2
            unwrapped = np.unwrap(offsets, period=H)
            np.testing.assert_array_equal(np.diff(unwrapped), 2**level)  # every 2^level-th row
            centre = np.mean(unwrapped)  # ... centred on the patch (a window wider than the
            assert abs(centre - H * round(centre / H)) <= 2**level  # domain wraps around it)


def test_a_wrapped_operator_sees_patches_and_returns_the_field():
    """A pointwise map that keeps a patch's own channels returns the field; an FNO wrapped so
    (MG-TFNO: joint Tucker weights) maps fields to fields, jits, differentiates and round-trips
    through a model file."""
    levels, padding = 2, 0.125
    x = jax.random.normal(jax.random.key(1), (2, 1, H, H))
    keep = PointwiseLinear(1 + levels, 1, key=jax.random.key(2))
    keep = eqx.tree_at(lambda m: (m.weight, m.bias), keep,
                       (jnp.eye(1, 1 + levels), jnp.zeros(1)))  # fmt: skip
    np.testing.assert_array_equal(MultigridPatching(keep, levels, padding).batched(x), x)
    fno = jsm.FNO(1 + levels, 1, (4, 4), width=8, depth=2, factorization="tucker",
                  joint_factorization=True, key=jax.random.key(3))  # fmt: skip
    mg_tfno = MultigridPatching(fno, levels, padding)
    y = eqx.filter_jit(lambda m, x: m.batched(x))(mg_tfno, x)
    assert y.shape == x.shape
    gradient = eqx.filter_grad(lambda m: jnp.mean(m.batched(x) ** 2))(mg_tfno)
    assert np.isfinite(float(jnp.sum(gradient.model.joint.core)))


def test_model_files_keep_the_patching(tmp_path):
    fno = jsm.FNO(2, 1, (3, 3), width=4, depth=1, key=jax.random.key(0))
    model = MultigridPatching(fno, 1, 0.125)
    loaded = jsm.load_model(jsm.save_model(tmp_path / "m.jsm", model))
    x = jax.random.normal(jax.random.key(1), (1, 1, H, H))
    np.testing.assert_array_equal(loaded.batched(x), model.batched(x))


def test_grids_that_do_not_split_are_refused():
    with pytest.raises(ValueError, match="multiple of 16"):
        make_patches(jnp.zeros((1, 1, 40, 40)), 2)
    with pytest.raises(ValueError, match="square"):
        make_patches(jnp.zeros((1, 1, 32, 16)), 1)
