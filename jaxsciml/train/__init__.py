"""Training: `fit`, its losses and optimizer, evaluation, checkpoints."""

from jaxsciml.train.checkpoint import (
    Checkpointer as Checkpointer,
    CheckpointMismatchError as CheckpointMismatchError,
)
from jaxsciml.train.evaluate import (
    evaluate as evaluate,
    mse_loss as mse_loss,
    relative_l2_loss as relative_l2_loss,
)
from jaxsciml.train.fit import fit as fit, restore_model as restore_model
from jaxsciml.train.optim import (
    fno_adam as fno_adam,
    learning_rate_schedule as learning_rate_schedule,
)
from jaxsciml.train.step import make_train_step as make_train_step
