"""Training metrics: loggers of the per-epoch history (a JSON-lines file by default;
TensorBoard and wandb in their own modules) and a progress display, by process 0 only."""

import abc
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import jax
from tqdm.auto import tqdm

from datagen.progress import counts, interactive


class AbstractLogger(abc.ABC):
    """Where `fit` sends its history: `rewrite(records)` once at the start with the history so
    far (empty, or the checkpoint's on resume), `append(record)` after every epoch, `close()`
    at the end. A record is a dict of `epoch`, `step` and numbers (`train_loss`,
    `<eval set>.<metric>`, `learning_rate`, `seconds`)."""

    @abc.abstractmethod
    def rewrite(self, records: list[dict]) -> None: ...

    @abc.abstractmethod
    def append(self, record: dict) -> None: ...

    def close(self) -> None:
        """Flush and let go of files and services (default: nothing to do)."""


def scalars(record: dict) -> dict[str, float]:
    """A record's numbers other than `epoch` and `step`, named as dashboards group them
    (`test.relative_l2` -> `test/relative_l2`)."""
    return {
        key.replace(".", "/"): float(value)
        for key, value in record.items()
        if key not in ("epoch", "step")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }


class Loggers(AbstractLogger):
    """Several loggers as one."""

    def __init__(self, loggers: Sequence[AbstractLogger]):
        self.loggers = list(loggers)

    def rewrite(self, records: list[dict]) -> None:
        for logger in self.loggers:
            logger.rewrite(records)

    def append(self, record: dict) -> None:
        for logger in self.loggers:
            logger.append(record)

    def close(self) -> None:
        for logger in self.loggers:
            logger.close()


class MetricsFile(AbstractLogger):
    """One JSON record per line (one per epoch), rewritten whole on resume so that it always
    matches the checkpointed history."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = None if path is None or jax.process_index() != 0 else Path(path)

    def rewrite(self, records: list[dict]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(json.dumps(r) + "\n" for r in records))
        os.replace(temporary, self.path)

    def append(self, record: dict) -> None:
        if self.path is None:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


class Progress:
    """A progress bar over training steps where one can be drawn; otherwise (batch jobs, log
    files) one line per epoch, at most every `interval` seconds, plus the last epoch, with the
    steps done of the total, the rate, the time left and the epoch's metrics.

    `enabled=None` decides by `interactive()`; `False` silences both.
    """

    def __init__(self, total: int, initial: int, enabled: bool | None, interval: float = 10.0):
        self.quiet = enabled is False or jax.process_index() != 0
        use_bar = not self.quiet and (enabled is True or interactive())
        self.bar = tqdm(total=total, initial=initial, unit="step", desc="fit") if use_bar else None
        self.interval, self.total, self.initial = interval, total, initial
        self.start = time.monotonic()
        self.last_line = -float("inf")

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def epoch(self, record: dict, last: bool) -> None:
        summary = {k: f"{v:.4g}" for k, v in record.items() if isinstance(v, float)}
        if self.bar is not None:
            self.bar.set_postfix(summary, refresh=True)
        elif not self.quiet and (last or time.monotonic() - self.last_line >= self.interval):
            self.last_line = time.monotonic()
            step, elapsed = record["step"], self.last_line - self.start
            done = counts(step, self.total, "step", step - self.initial, elapsed)
            items = " ".join(f"{k}={v}" for k, v in summary.items())
            print(f"epoch {record['epoch']}: {done} {items}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
