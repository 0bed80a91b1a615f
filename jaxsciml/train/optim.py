"""Optimizers of the papers' recipes: the FNO scripts' Adam with step decay and L2 weight decay
(the default), and MgNO's one-cycle Adam."""

import jax.numpy as jnp
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


def one_cycle_schedule(
    total_steps: int,
    peak: float,
    *,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> optax.Schedule:
    """PyTorch's `OneCycleLR` (cosine annealing, two phases) as a function of its step count:
    from `peak / div_factor` up to `peak` at step `pct_start · total_steps − 1`, then down to
    `peak / div_factor / final_div_factor` at step `total_steps − 1` (held after it). A single
    step stays at `peak / div_factor`."""
    if total_steps < 1:
        raise ValueError(f"a one-cycle schedule needs at least 1 step, got {total_steps}")
    initial = peak / div_factor
    if total_steps == 1:
        return lambda step: jnp.asarray(initial, jnp.float32)
    final = initial / final_div_factor
    warmup_end = pct_start * total_steps - 1
    cosine = lambda start, end, fraction: end + (start - end) / 2 * (jnp.cos(jnp.pi * fraction) + 1)  # noqa: E731, E501

    def schedule(step):
        step = jnp.minimum(jnp.asarray(step, jnp.float32), total_steps - 1)
        rising = cosine(initial, peak, step / warmup_end) if warmup_end > 0 else peak
        falling = cosine(peak, final, (step - warmup_end) / (total_steps - 1 - warmup_end))
        return jnp.where(step <= warmup_end, rising, falling)

    return schedule


def mgno_adam(
    steps_per_epoch: int,
    epochs: int,
    learning_rate: float = 5e-4,
    *,
    weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
    """MgNO's recipe (`darcy.py` of its code): Adam with `weight_decay · θ` added to the gradient
    (coupled L2), the learning rate a `one_cycle_schedule` over epochs (20% rising from
    `learning_rate / 2`, then falling to `learning_rate / 200`) held constant within each epoch.
    """
    by_epoch = one_cycle_schedule(
        epochs, learning_rate, pct_start=0.2, div_factor=2.0, final_div_factor=100.0
    )
    return optax.chain(
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_adam(),
        optax.scale_by_learning_rate(lambda step: by_epoch(step // steps_per_epoch)),
    )
