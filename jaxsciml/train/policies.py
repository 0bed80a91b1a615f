"""The policies `fit` takes: small validated objects, as `diffrax.diffeqsolve` takes `SaveAt`."""

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from jaxsciml.data.base import AbstractDataset
from jaxsciml.train.evaluate import evaluate


def _positive(owner: str, **values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{owner}({name}=...) must be a positive int, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Checkpointing:
    """Save the whole training state to `directory` every `every` epochs (and at the end, at
    `max_steps` and on Ctrl-C), keeping the newest `keep`. `resume=True` continues from the
    newest checkpoint there; without it a directory that holds checkpoints is refused."""

    directory: str | os.PathLike
    every: int = 1
    keep: int = 3
    resume: bool = False

    def __post_init__(self):
        _positive("Checkpointing", every=self.every, keep=self.keep)
        if Path(self.directory).exists() and not Path(self.directory).is_dir():
            raise NotADirectoryError(f"checkpoint directory {self.directory} is a file")


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Evaluate on `data` (a dataset, or `name -> dataset`: a test set, a finer grid, a
    reference solution) every `every` epochs and after the last, with `metrics` (default: each
    dataset's own, see `jaxsciml.evaluate`), `batch_size` samples at a time (default: each
    dataset's own)."""

    data: AbstractDataset | Mapping[str, AbstractDataset]
    every: int = 1
    metrics: Mapping | None = None
    batch_size: int | None = None

    def __post_init__(self):
        _positive("Evaluation", every=self.every)
        for name, data in self.datasets.items():
            if not isinstance(data, AbstractDataset):
                raise TypeError(f"Evaluation data {name!r} is not a dataset: {data!r}")

    @property
    def datasets(self) -> dict[str, AbstractDataset]:
        if isinstance(self.data, AbstractDataset):
            return {"eval": self.data}
        return dict(self.data)

    def due(self, epoch: int, last: bool) -> bool:
        return last or epoch % self.every == 0

    def run(self, model, mesh) -> dict[str, float]:
        """`{"<dataset>.<metric>": value}` for every dataset and metric."""
        record = {}
        for name, data in self.datasets.items():
            scores = evaluate(
                model, data, batch_size=self.batch_size, metrics=self.metrics, mesh=mesh
            )
            record.update({f"{name}.{metric}": value for metric, value in scores.items()})
        return record
