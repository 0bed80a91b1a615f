"""A data family's samples handed out in order while worker processes make them: the
generator's side of online training (`jaxsciml.data.OnlineDataset`).

A stream follows the plan `datagen.generate` would make for `n` samples (the same order, shards
and solver race), makes its shards in worker processes and hands them out in shard order, so
what comes out depends on the settings alone, never on timing. At most `lookahead` shards are
made ahead of the consumer: generation waits when training falls behind (back-pressure). With
`keep=True` every shard is also written to `directory` exactly as `generate` writes it, so an
online run leaves a dataset behind, and a stream restarted there reads the finished shards back
instead of solving them again. Unconverged solves never come out (the generator's
`on_failure="skip"` leaves them out of the shard, as it does on disk).
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from datagen.claim import part_lock, remove_abandoned_temporaries, settle_manifest
from datagen.format import open_shard, read_header, read_rows
from datagen.generator import Generator, ShardContent
from datagen.shards import (
    ShardTask,
    _start_worker,
    check_request,
    finished_shard,
    shard_tasks,
    worker_died,
    write_content,
)


@dataclasses.dataclass(frozen=True)
class StreamPosition:
    """Where a stream stands: `shard`, the ordinal of the next shard among this part's shards,
    and `offset`, how many of its stored samples have been handed out already."""

    shard: int = 0
    offset: int = 0


class StreamSample(NamedTuple):
    """One sample as a stream hands it out: the `position` after it, its `number`, its
    `inputs` `(c_in, *spatial)` and `outputs` `(c_out, *spatial)` as float32 (as a dataset file
    stores them), and `failed`, the unconverged solves left out since the sample before."""

    position: StreamPosition
    number: int
    inputs: np.ndarray
    outputs: np.ndarray
    failed: int


@dataclasses.dataclass
class StreamStatistics:
    """What a stream has done since it started: `samples` handed out, `failed` solves left
    out, `shards_made` by the workers and `shards_read` back from disk, and `waited_seconds`,
    the consumer's time spent waiting for a shard."""

    samples: int = 0
    failed: int = 0
    shards_made: int = 0
    shards_read: int = 0
    waited_seconds: float = 0.0


def make_content(generator: Generator, seed: int, task: ShardTask, keep: bool) -> ShardContent:
    """Make one shard's samples (in a worker process) and, with `keep`, write the shard."""
    content = generator.make_shard(seed, task.indices)
    if keep and len(content.sample_index):
        write_content(task, content)
    return content


def read_content(task: ShardTask) -> ShardContent:
    """A finished shard read back from disk (every row checked against its checksum)."""
    header = read_header(task.path)
    with open_shard(task.path) as f:
        inputs, outputs = read_rows(f, header, slice(None))
    backend = str(header.provenance.solver)
    return ShardContent(
        inputs, outputs, header.sample_index.tolist(), backend, {}, header.failed_samples
    )


class _Deferred:
    """A shard made (or read back) in this process when its result is first asked for."""

    def __init__(self, make):
        self.make = make

    def result(self) -> ShardContent:
        return self.make()

    def cancel(self) -> None:
        pass


class ShardStream:
    """The samples of `n` draws of `generator`, made shard by shard and handed out in order.

    **Arguments:**

    - `generator`: a `datagen.Generator` (`datagen.family(name).make(**options)`).
    - `n`: how many samples the stream holds in all (its solver budget); `seed`: the base seed
      (sample `i` is drawn from `[seed, i]`, as in `generate`).
    - `directory`: where the sorted order and the solver race are kept (so that a restarted
      stream makes the very same samples), and the shards with `keep=True`.
    - `shard_size`: samples per shard, each one recycling chain (default: the generator's).
    - `workers`: processes making shards (0: in this process, as are generators that drive
      JAX); `lookahead`: shards made ahead of the consumer (default `2 * workers`, at least 1).
    - `part`: `(i, N)` hands out only shards `j` with `j % N == i` (one part per host).
    """

    def __init__(
        self,
        generator: Generator,
        n: int,
        directory: str | os.PathLike,
        *,
        seed: int = 0,
        shard_size: int | None = None,
        workers: int = 1,
        lookahead: int | None = None,
        part: tuple[int, int] = (0, 1),
        keep: bool = False,
        progress: bool = False,
    ):
        check_request(n, seed, shard_size, None, part)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"workers must be a whole number >= 0, got {workers!r}")
        if lookahead is not None and (not isinstance(lookahead, int) or lookahead < 1):
            raise ValueError(f"lookahead must be a positive int, got {lookahead!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.seed, self.keep, self.n = seed, keep, n
        self.workers = workers if generator.processes else 0
        self.lookahead = lookahead or max(1, 2 * self.workers)
        self._held = contextlib.ExitStack()
        size = shard_size or generator.default_shard_size
        if keep:
            settings = (self.directory, generator.provenance(seed), n, shard_size)
            settle_manifest(*settings, generator.default_shard_size, write=False)
            lock = self._held.enter_context(part_lock(self.directory, part))
            manifest = settle_manifest(*settings, generator.default_shard_size, own_lock=lock)
            size = manifest.shard_size
            remove_abandoned_temporaries(self.directory)
        order = generator.order(n, seed, self.directory, progress)
        self.tasks = shard_tasks(generator, n, self.directory, seed, order, size, part)
        self.generator, _ = generator.prepared(n, seed, order, self.directory)
        self.statistics = StreamStatistics()
        self._pool = None

    def samples(self, start: StreamPosition = StreamPosition()) -> Iterator[StreamSample]:
        """Every stored sample from `start` on, in order (see `StreamSample`)."""
        unreported = 0  # failures of shards that have handed out nothing yet
        for ordinal, content in enumerate(self._shards(start.shard), start.shard):
            skip = start.offset if ordinal == start.shard else 0
            numbers = list(content.sample_index)
            unreported += len(content.failed_samples) if skip == 0 else 0
            for row in range(skip, len(numbers)):
                self.statistics.samples += 1
                after = StreamPosition(ordinal, row + 1)
                if row + 1 == len(numbers):
                    after = StreamPosition(ordinal + 1, 0)
                yield StreamSample(
                    after,
                    int(numbers[row]),
                    np.asarray(content.inputs[row], np.float32),
                    np.asarray(content.outputs[row], np.float32),
                    unreported,
                )
                unreported = 0

    def _finished(self, task: ShardTask) -> bool:
        return self.keep and (
            finished_shard(task.path, task.provenance, self.n, task.shard_index, task.indices)
            is not None
        )

    def _submit(self, task: ShardTask) -> tuple[concurrent.futures.Future | _Deferred, bool]:
        """The shard `task` on its way, and whether it is read back rather than made."""
        if self._finished(task):
            return _Deferred(lambda: read_content(task)), True
        return self._make(task), False

    def _make(self, task: ShardTask) -> concurrent.futures.Future | _Deferred:
        if self.workers == 0:
            return _Deferred(lambda: make_content(self.generator, self.seed, task, self.keep))
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_start_worker,
                initargs=(context.Queue(), os.getpid()),
            )
        return self._pool.submit(make_content, self.generator, self.seed, task, self.keep)

    def _shards(self, first: int) -> Iterator[ShardContent]:
        """This part's shards from ordinal `first` on, `lookahead` of them made ahead."""
        pending = collections.deque()
        upcoming = iter(self.tasks[first:])
        try:
            for task in upcoming:
                pending.append(self._submit(task))
                if len(pending) >= self.lookahead:
                    break
            while pending:
                waited = time.perf_counter()
                future, read_back = pending.popleft()
                try:
                    content = future.result()
                except concurrent.futures.process.BrokenProcessPool as error:
                    raise worker_died("workers=0") from error
                self.statistics.waited_seconds += time.perf_counter() - waited
                for task in upcoming:
                    pending.append(self._submit(task))
                    break
                self._count(content, read_back)
                yield content
        finally:
            for future, _ in pending:
                future.cancel()

    def _count(self, content: ShardContent, read_back: bool) -> None:
        s = self.statistics
        s.failed += len(content.failed_samples)
        if read_back:
            s.shards_read += 1
        else:
            s.shards_made += 1

    def close(self) -> None:
        """Stop the workers (shards being made are abandoned) and release the directory."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._held.close()

    def __enter__(self) -> "ShardStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
