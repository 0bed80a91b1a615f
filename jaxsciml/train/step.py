"""The jitted optimizer step that `fit` takes, usable on its own (benchmarks, custom loops)."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxsciml import parallel
from jaxsciml.data.base import AbstractBatch
from jaxsciml.nn.frozen import trainable_filter


Loss = Callable[[eqx.Module, AbstractBatch, jax.Array], jax.Array]


def split_model(model: eqx.Module, trainable: Callable | None = None):
    """`(params, frozen, static)`: the trained arrays, the constant arrays (inside
    `jaxsciml.nn.AbstractFrozen` modules, not floating-point, or outside what `trainable`
    selects) and everything else. `trainable(model)` is a filter spec (a pytree of bools over
    the model, as `eqx.partition` takes) of the arrays to train; `None` trains all.
    `eqx.combine(params, frozen, static)` rebuilds the model."""
    spec = trainable_filter(model)
    if trainable is not None:
        spec = jax.tree.map(lambda a, b: a and b, spec, trainable(model))
    params, rest = eqx.partition(model, spec)
    frozen, static = eqx.partition(rest, eqx.is_array)
    return params, frozen, static


def train_step(loss: Loss, optimizer: optax.GradientTransformation, static):
    """The pure step `(params, frozen, opt_state, batch, key) -> (params, opt_state, loss)`:
    the model is `eqx.combine(params, frozen, static)`; one optimizer update on `loss`."""

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

    return step


def make_train_step(loss: Loss, optimizer: optax.GradientTransformation, static, mesh):
    """`step(params, frozen, opt_state, batch, key) -> (params, opt_state, loss_value)`, jitted.

    The model is `eqx.combine(params, frozen, static)`: `params` are the trained arrays, `frozen`
    the constant arrays (e.g. normalizer statistics) and `static` everything else. `params` and
    `opt_state` are donated (updated in place), so they must not share buffers: copy the state
    of an optimizer that stores the parameters (`optax.lbfgs`) before the first step (`fit`
    does). The results are replicated over `mesh`, and the batch may be sharded over it (XLA
    inserts the gradient all-reduce).
    """
    everywhere = parallel.replicated(mesh)
    step = train_step(loss, optimizer, static)
    return jax.jit(step, donate_argnums=(0, 2), out_shardings=(everywhere, everywhere, everywhere))


def make_train_chunk(
    loss: Loss, optimizer: optax.GradientTransformation, static, mesh, gather, length: int
):
    """Up to `length` steps in one dispatch, for data resident on the devices, jitted:

    `run(params, frozen, opt_state, arrays, indices, first_step, count, base_key)
    -> (params, opt_state, losses)` takes `count` steps (a traced number, so one compiled
    program serves every count); step `i` trains on `gather(arrays, indices[i])` (each leaf of
    `indices` has a leading axis of `length`, rows past `count` unused) with the key
    `fold_in(base_key, first_step + i)`, and `losses[i]` is its loss (`(length,)`, zero past
    `count`). With `length = 1` it is one step without a loop. The batch is split over `mesh`
    as `AbstractBatch.batch_axes` says; `params` and `opt_state` are donated, the results
    replicated.
    """
    everywhere = parallel.replicated(mesh)
    step = train_step(loss, optimizer, static)

    def run(params, frozen, opt_state, arrays, indices, first_step, count, base_key):
        def body(i, carry):
            params, opt_state, losses = carry
            batch = gather(arrays, jax.tree.map(lambda index: index[i], indices))
            placements = parallel.batch_placements(batch.batch_axes(), mesh)
            batch = jax.lax.with_sharding_constraint(batch, placements)
            key = jax.random.fold_in(base_key, first_step + i)
            params, opt_state, value = step(params, frozen, opt_state, batch, key)
            return params, opt_state, losses.at[i].set(value)

        losses = jnp.zeros(length, jnp.float32)
        if length == 1:  # one step, no loop (see `loops_are_slow`)
            return body(0, (params, opt_state, losses))
        return jax.lax.fori_loop(0, count, body, (params, opt_state, losses))

    return jax.jit(run, donate_argnums=(0, 2), out_shardings=(everywhere, everywhere, everywhere))


def loops_are_slow(step_jaxpr, mesh) -> bool:
    """Whether a train step runs much slower inside a compiled loop than alone: on XLA:CPU a
    convolution in a `while` body takes about 8x its time outside one (measured on MgNO: 1.4 s
    against 0.17 s per step), so steps with convolutions run one per dispatch there.
    `step_jaxpr`: the step's jaxpr (or its text)."""
    on_cpu = all(device.platform == "cpu" for device in mesh.devices.flat)
    return on_cpu and "conv_general_dilated" in str(step_jaxpr)
