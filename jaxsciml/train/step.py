"""The jitted optimizer step that `fit` takes, usable on its own (benchmarks, custom loops)."""

from collections.abc import Callable

import equinox as eqx
import jax
import optax

from jaxsciml import parallel
from jaxsciml.data.base import AbstractBatch
from jaxsciml.nn.frozen import trainable_filter


Loss = Callable[[eqx.Module, AbstractBatch, jax.Array], jax.Array]


def split_model(model: eqx.Module):
    """`(params, frozen, static)`: the trained arrays, the constant arrays (inside
    `jaxsciml.nn.AbstractFrozen` modules, or not floating-point) and everything else.
    `eqx.combine(params, frozen, static)` rebuilds the model."""
    params, rest = eqx.partition(model, trainable_filter(model))
    frozen, static = eqx.partition(rest, eqx.is_array)
    return params, frozen, static


def make_train_step(loss: Loss, optimizer: optax.GradientTransformation, static, mesh):
    """`step(params, frozen, opt_state, batch, key) -> (params, opt_state, loss_value)`, jitted.

    The model is `eqx.combine(params, frozen, static)`: `params` are the trained arrays, `frozen`
    the constant arrays (e.g. normalizer statistics) and `static` everything else. `params` and
    `opt_state` are donated (updated in place), so they must not share buffers: copy the state
    of an optimizer that stores the parameters (`optax.lbfgs`) before the first step (`fit`
    does). The results are replicated over `mesh`, and the batch may be sharded over it (XLA
    inserts the gradient all-reduce).
    """

    def step(params, frozen, opt_state, batch, key):
        def objective(p):
            return loss(eqx.combine(p, frozen, static), batch, key)

        value, grads = jax.value_and_grad(objective)(params)
        if isinstance(optimizer, optax.GradientTransformationExtraArgs):
            # line searches (optax.lbfgs) evaluate the objective of this batch along the step
            updates, opt_state = optimizer.update(
                grads, opt_state, params, value=value, grad=grads, value_fn=objective
            )
        else:
            updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    everywhere = parallel.replicated(mesh)
    return jax.jit(step, donate_argnums=(0, 2), out_shardings=(everywhere, everywhere, everywhere))
