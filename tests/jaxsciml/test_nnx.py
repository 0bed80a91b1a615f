"""Flax NNX adapters: a jaxsciml model inside an nnx.Module trains with nnx.Optimizer, an
nnx.Module trains with jsm.fit, and the gradients agree with the equinox path both ways."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest


nnx = pytest.importorskip("flax.nnx")  # the flax extra; CI installs it

import jaxsciml as jsm  # noqa: E402
from jaxsciml.train.step import split_model  # noqa: E402


RNG = np.random.default_rng(0)
DATA = jsm.data.from_arrays(RNG.normal(size=(16, 1, 12)), RNG.normal(size=(16, 1, 12)))
X, Y = jnp.asarray(DATA.read(np.arange(8)).inputs), jnp.asarray(DATA.read(np.arange(8)).outputs)


def _loss(model):
    return jnp.mean((jax.vmap(model)(X) - Y) ** 2)


def _assert_trees_close(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-7)


def test_a_jaxsciml_model_inside_an_nnx_module_trains_with_nnx_optimizer():
    fno = jsm.FNO(1, 1, modes=(4,), width=6, depth=2, key=jax.random.key(0))
    model = jsm.with_normalizers(fno, DATA)  # normalizer statistics: constants

    class Outer(nnx.Module):  # the failing case of the issue: a model as an attribute
        def __init__(self):
            self.operator = jsm.nnx.to_nnx(model)
            self.scale = nnx.Param(jnp.ones(()))

        def __call__(self, x):
            return self.scale[...] * self.operator(x)

    outer = Outer()
    np.testing.assert_array_equal(outer(X[0]), model(X[0]))
    grads = nnx.grad(_loss)(outer)
    params, _, _ = split_model(model)
    expected = eqx.filter_grad(lambda p: _loss(eqx.combine(p, *split_model(model)[1:])))(params)
    got = [v[...] for v in grads["operator"]["params"].values()]
    _assert_trees_close(got, jax.tree.leaves(expected))
    constants = nnx.state(outer, jsm.nnx.Constant)
    assert len(jax.tree.leaves(constants)) == 4  # input and output mean and std: not Params

    optimizer = nnx.Optimizer(outer, optax.adam(1e-2), wrt=nnx.Param)
    before = float(_loss(outer))
    for _ in range(20):
        optimizer.update(outer, nnx.grad(_loss)(outer))
    assert float(_loss(outer)) < 0.9 * before
    np.testing.assert_array_equal(  # the statistics did not move
        jax.tree.leaves(split_model(outer.operator.model)[1]),
        jax.tree.leaves(split_model(model)[1]),
    )


class ConvNet(nnx.Module):
    """A 1-D convolutional net on (channels, points) fields, with batch statistics."""

    def __init__(self, rngs):
        self.lift = nnx.Conv(1, 8, (3,), rngs=rngs)
        self.norm = nnx.BatchNorm(8, use_running_average=True, rngs=rngs)
        self.project = nnx.Conv(8, 1, (1,), rngs=rngs)

    def __call__(self, u):
        h = jnp.moveaxis(u, 0, -1)[None]
        h = self.project(jax.nn.gelu(self.norm(self.lift(h))))
        return jnp.moveaxis(h[0], -1, 0)


def test_an_nnx_module_trains_with_fit_and_its_gradients_agree():
    net = ConvNet(nnx.Rngs(0))
    model = jsm.nnx.from_nnx(net)
    np.testing.assert_array_equal(model(X[0]), net(X[0]))
    params, constants, static = split_model(model)
    grads = eqx.filter_grad(lambda p: _loss(eqx.combine(p, constants, static)))(params)
    expected = nnx.grad(_loss)(net)  # nnx.grad differentiates the Params
    _assert_trees_close(jax.tree.leaves(grads), jax.tree.leaves(expected))
    assert len(jax.tree.leaves(constants)) == 2  # BatchNorm's running mean and variance

    trained, history = jsm.fit(
        model, DATA, epochs=15, batch_size=8, optimizer=optax.adam(1e-2), progress=False
    )
    assert history[-1]["train_loss"] < 0.9 * history[0]["train_loss"]
    assert isinstance(trained.module, ConvNet)
    np.testing.assert_array_equal(trained.module.norm.mean[...], net.norm.mean[...])
