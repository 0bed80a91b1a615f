"""Training: `fit` and its policies, the optimizer recipes, evaluation, checkpoints."""

from jaxsciml.train.checkpoint import (
    Checkpointer as Checkpointer,
    CheckpointMismatchError as CheckpointMismatchError,
)
from jaxsciml.train.evaluate import evaluate as evaluate, place as place
from jaxsciml.train.fit import fit as fit, restore_model as restore_model
from jaxsciml.train.log import (
    AbstractLogger as AbstractLogger,
    Loggers as Loggers,
    MetricsFile as MetricsFile,
)
from jaxsciml.train.optim import (
    fno_adam as fno_adam,
    learning_rate_schedule as learning_rate_schedule,
    mgno_adam as mgno_adam,
    one_cycle_schedule as one_cycle_schedule,
)
from jaxsciml.train.policies import Checkpointing as Checkpointing, Evaluation as Evaluation
from jaxsciml.train.step import make_train_step as make_train_step
from jaxsciml.train.tensorboard import TensorBoardLogger as TensorBoardLogger
from jaxsciml.train.wandb_logger import WandbLogger as WandbLogger
