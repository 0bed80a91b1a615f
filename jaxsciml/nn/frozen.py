"""Constants inside a model: arrays that travel with it and are checkpointed, but not trained."""

import equinox as eqx
import jax


class AbstractFrozen(eqx.Module):
    """Base of modules whose arrays are constants, such as a normalizer's statistics.

    `trainable_filter` marks their arrays as not trainable, so `jaxsciml.fit` neither
    differentiates nor decays them; they are still part of the model's pytree, saved in
    checkpoints and sharded with it.
    """


def trainable_filter(model):
    """A filter spec for `eqx.partition`: `True` on the floating-point arrays that training updates.

    That is every inexact array leaf, except those inside an `AbstractFrozen` module.
    """

    def mark(node):
        if isinstance(node, AbstractFrozen):
            return jax.tree.map(lambda _: False, node)
        return eqx.is_inexact_array(node)

    return jax.tree.map(mark, model, is_leaf=lambda node: isinstance(node, AbstractFrozen))
