"""The default optimizer: the FNO scripts' Adam with step decay and L2 weight decay."""

import optax


def fno_adam(
    steps_per_epoch: int,
    learning_rate: float = 1e-3,
    *,
    decay_every_epochs: int = 100,
    decay_rate: float = 0.5,
    weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
    """Adam at `learning_rate`, multiplied by `decay_rate` every `decay_every_epochs` epochs, with
    `weight_decay · θ` added to the gradient (PyTorch's `Adam(weight_decay=...)`, coupled L2, as
    the FNO scripts train).

    The reference sums its loss over the batch, we average it: with Adam this changes only the
    relative strength of the weight decay (by the batch size) and of Adam's epsilon.
    """
    schedule = learning_rate_schedule(
        steps_per_epoch, learning_rate, decay_every_epochs, decay_rate
    )
    return optax.chain(
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_adam(),
        optax.scale_by_learning_rate(schedule),
    )


def learning_rate_schedule(
    steps_per_epoch: int,
    learning_rate: float = 1e-3,
    decay_every_epochs: int = 100,
    decay_rate: float = 0.5,
) -> optax.Schedule:
    """The step decay of `fno_adam`, as a function of the optimizer step."""
    return optax.exponential_decay(
        learning_rate,
        transition_steps=steps_per_epoch * decay_every_epochs,
        decay_rate=decay_rate,
        staircase=True,
    )
