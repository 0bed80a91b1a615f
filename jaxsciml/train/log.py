"""Training metrics: a JSON-lines file and a progress display, written by process 0 only."""

import json
import os
import time
from pathlib import Path

import jax
from tqdm.auto import tqdm

from datagen.progress import counts, interactive


class MetricsFile:
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
