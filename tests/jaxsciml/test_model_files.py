"""Model files: variants round-trip through save_model/load_model; damaged, foreign and
unrecordable files and models are refused."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxsciml as jsm
from jaxsciml.operators.files import ModelFileError, NotRecordable


KEY = jax.random.key(0)
GRID = jnp.linspace(0.0, 1.0, 9 * 9).reshape(1, 9, 9)
TWO_PHASE = np.where(np.random.default_rng(0).random((4, 1, 9, 9)) > 0.5, 10.0, 1.0)


def tiny_fno(in_channels=1):
    return jsm.FNO(in_channels, 1, (3, 3), width=4, depth=1, projection_channels=8, key=KEY)


# Every registered family round-trips in tests/jaxsciml/test_contract.py; these are the
# variants a family's configuration reaches that the contract's cases do not.
MODELS = {
    "tfno_cp": lambda: (
        jsm.FNO(1, 1, (3, 3), width=4, depth=2, factorization="cp", rank=0.5, key=KEY),
        (GRID,),
    ),
    "dgno_gaussian_primal": lambda: (
        jsm.DGNO(
            TWO_PHASE,
            latent=4,
            width=8,
            depth=2,
            num_outputs=1,
            coefficient_width=8,
            posterior="gaussian",
            formulation="primal",
            coefficient="continuous",
            encoder="mlp",
            key=KEY,
        ),
        (jnp.asarray(TWO_PHASE[0]),),
    ),
    "normalized_channelwise": lambda: (
        jsm.Normalized(
            tiny_fno(),
            jsm.data.GaussianNormalizer(jnp.full((1, 1, 1), 2.0), jnp.full((1, 1, 1), 3.0)),
            None,
        ),
        (GRID,),
    ),
}


@pytest.mark.parametrize("name", MODELS)
def test_load_model_returns_the_saved_model(name, tmp_path, perturb):
    model, inputs = MODELS[name]()
    model = perturb(model)
    path = jsm.save_model(tmp_path / f"{name}.jsm", model)
    loaded = jsm.load_model(path)
    assert type(loaded) is type(model)
    assert bool(eqx.tree_equal(loaded, model))
    np.testing.assert_array_equal(loaded(*inputs), model(*inputs))


def test_damaged_foreign_and_unrecordable_files_are_refused(tmp_path):
    path = jsm.save_model(tmp_path / "m.jsm", tiny_fno())
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    (tmp_path / "damaged.jsm").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="damaged"):
        jsm.load_model(tmp_path / "damaged.jsm")
    (tmp_path / "plain.txt").write_text("hello\n")
    with pytest.raises(ModelFileError, match="not a jaxsciml model file"):
        jsm.load_model(tmp_path / "plain.txt")
    odd = jsm.FNO(1, 1, (3, 3), width=4, depth=1, activation=lambda x: x, key=KEY)
    with pytest.raises(NotRecordable, match="activation"):
        jsm.save_model(tmp_path / "odd.jsm", odd)
    with pytest.raises(NotRecordable, match="not a registered model class"):
        jsm.save_model(tmp_path / "mlp.jsm", eqx.nn.Linear(2, 2, key=KEY))
