"""End to end: a few epochs of training on generated Darcy data cut the test error of each of
the issue-4 operators (TFNO, T1 with its frequency-domain loss, MgNO) at least in half."""

import jax
import optax
import pytest

import jaxsciml as jsm
from jaxsciml.operators.t1 import frequency_relative_l2


@pytest.fixture(scope="module")
def darcy17(darcy_dir):
    return jsm.data.load(darcy_dir).cache().split(80, 16)


def _tfno(train, key):
    model = jsm.FNO(
        1,
        1,
        (4, 4),
        width=8,
        depth=2,
        projection_channels=16,
        factorization="tucker",
        rank=0.2,
        key=key,
    )
    return jsm.with_normalizers(model, train), jsm.losses.relative_l2_loss


def _t1(train, key):
    model = jsm.T1(1, 1, (8, 8), (17, 17), width=8, depth=2, head_channels=16, key=key)
    return model, frequency_relative_l2


def _mgno(train, key):
    model = jsm.MgNO(1, 1, (17, 17), width=8, depth=2, levels=3, key=key)
    return jsm.with_normalizers(model, train), jsm.losses.relative_l2_loss


@pytest.mark.slow
@pytest.mark.parametrize("build", [_tfno, _t1, _mgno], ids=["tfno", "t1", "mgno"])
def test_a_few_epochs_halve_the_test_error(build, darcy17, one_device):
    train, test = darcy17
    model, loss = build(train, jax.random.key(0))
    before = jsm.evaluate(model, test, batch_size=16, mesh=one_device)["relative_l2"]
    trained, _ = jsm.fit(
        model,
        train,
        epochs=15,
        batch_size=16,
        loss=loss,
        optimizer=optax.adam(3e-3),
        progress=False,
        mesh=one_device,
    )
    after = jsm.evaluate(trained, test, batch_size=16, mesh=one_device)["relative_l2"]
    assert after < 0.5 * before, (before, after)
