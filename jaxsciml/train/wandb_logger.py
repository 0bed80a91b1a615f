"""Weights & Biases as a logger of `fit` (the `wandb` extra: `pip install 'jaxsciml[wandb]'`)."""

import jax

from jaxsciml.train.log import AbstractLogger, scalars


class WandbLogger(AbstractLogger):
    """Every epoch's numbers logged to a wandb run at its step.

    `init` are the keyword arguments of `wandb.init` (`project`, `name`, `config`, `dir`,
    `mode="offline"` for a cluster without network, `id` and `resume="allow"` to continue the
    same run when training resumes). A resumed run logs only the steps wandb has not seen.
    """

    def __init__(self, **init):
        self.init = init
        self.active = jax.process_index() == 0
        self.run = None

    def _start(self) -> None:
        try:
            import wandb
        except ImportError as error:
            raise ImportError("WandbLogger needs wandb: pip install 'jaxsciml[wandb]'") from error
        self.run = wandb.init(**self.init)

    def _log(self, record: dict) -> None:
        if int(record["step"]) >= self.run.step:  # wandb refuses steps it has passed
            self.run.log(scalars(record), step=int(record["step"]))

    def rewrite(self, records: list[dict]) -> None:
        if not self.active:
            return
        if self.run is None:
            self._start()
        for record in records:
            self._log(record)

    def append(self, record: dict) -> None:
        if self.active:
            if self.run is None:
                self._start()
            self._log(record)

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
