"""Progress of long work: a live bar on a terminal or in a notebook, bounded log lines elsewhere.

A batch job's log is a file: a redrawn bar would fill it with one line per update. There, progress
is a line at most every `interval` seconds (and one at the end) with the count, the total, the
rate and the time left.
"""

import sys
import time

from tqdm.auto import tqdm


def interactive() -> bool:
    """Whether a live bar can be drawn: standard error is a terminal, or this process is a
    notebook's kernel (not merely one that imported IPython or ipykernel)."""
    if sys.stderr.isatty():
        return True
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def counts(done: int, total: int, unit: str, recent: int, seconds: float) -> str:
    """`"120/400 samples (30%), 4.1 sample/s, 10 s elapsed, ETA 00:01:08"`: `done` of `total`,
    with the rate of the `recent` units made in the last `seconds` (this run's, on a resume)."""
    rate = recent / max(seconds, 1e-9)
    left = (total - done) / rate if rate > 0 else float("inf")
    eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left < 1e7 else "?"
    share = 100 * done / max(total, 1)
    return (
        f"{done}/{total} {unit}s ({share:.0f}%), {rate:.3g} {unit}/s, {seconds:.0f} s elapsed, "
        f"ETA {eta}"
    )


class LineProgress:
    """`tqdm`'s `update`/`set_postfix`/`close` as a line on standard error at most every
    `interval` seconds, plus a last line when closed."""

    def __init__(self, total: int, description: str, unit: str, interval: float = 30.0):
        self.total, self.description, self.unit, self.interval = total, description, unit, interval
        self.count, self.postfix = 0, ""
        self.start = self.last = time.monotonic()

    def update(self, count: int = 1) -> None:
        self.count += count
        if time.monotonic() - self.last >= self.interval:
            self._line()

    def set_postfix(self, **values) -> None:
        self.postfix = " ".join(f"{k}={v}" for k, v in values.items())

    def _line(self) -> None:
        self.last = time.monotonic()
        counted = counts(self.count, self.total, self.unit, self.count, self.last - self.start)
        print(f"{self.description}: {counted} {self.postfix}".rstrip(), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.count:
            self._line()

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(
    total: int, description: str, unit: str, enabled: bool, *, leave=True, interval=30.0
):
    """A live bar where one can be drawn (`leave`: kept on screen when done), else a
    `LineProgress` every `interval` seconds; `enabled=False`: silent."""
    if enabled and not interactive():
        return LineProgress(total, description, unit, interval)
    return tqdm(total=total, desc=description, unit=unit, disable=not enabled, leave=leave)
