"""Online training (Meyer et al., ICML 2023, "Melissa"): a model trains while solvers run, on
batches drawn from a bounded in-memory buffer that the solvers keep filling; nothing goes
through the disk unless asked to.

`OnlineDataset` feeds `fit` from any registered data family: worker processes solve the
family's samples (`datagen.stream.ShardStream`, the plan `datagen.generate` would make), the
samples enter a `SampleBuffer`, and each step draws its batch from the buffer by one of the
paper's policies:

- `"fifo"`: first in, first out; every sample is drawn exactly once, in the order it was made.
- `"firo"`: first in, random out; every sample is drawn exactly once, at a random step while
  it is in the buffer (the buffer mixes what the solvers made in sequence).
- `"reservoir"`: batches drawn at random from the buffer and kept there, so a sample can be
  drawn again while the solvers catch up; a new sample in a full buffer replaces a random one,
  one already drawn when there is any.

What enters the buffer before each step is fixed by the settings, never by timing: FIFO and
FIRO keep the buffer full, the reservoir takes `new_per_step` new samples per step after its
first `watermark`. Training waits for the solvers when they are behind that schedule, the
solvers wait (`lookahead`) when they are ahead of it. So a run is reproducible, and a killed run
resumed from its checkpoint (which holds the buffer, the stream's position and the counters)
ends bitwise equal to an uninterrupted one on CPU.
"""

import dataclasses
import math
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path

import jax
import numpy as np

from jaxsciml.data.base import AbstractStream
from jaxsciml.data.dataset import Batch, Dataset, from_arrays
from jaxsciml.losses import relative_l2


POLICIES = ("fifo", "firo", "reservoir")
_DRAW, _EVICT = 0, 1  # random streams: which rows a step draws; which slot a new sample takes


class StreamExhausted(RuntimeError):
    """The run needs more samples than the stream's solver budget holds."""


@dataclasses.dataclass
class Ledger:
    """The bookkeeping of a buffer of `capacity` slots.

    **Fields:** per slot, `number` (the sample held, -1 when free), `arrival` (its ordinal
    among all samples taken in) and `draws` (how often it was drawn); and in all: `ingested`
    samples taken from the stream, `drawn` rows handed to training, `distinct` samples drawn at
    least once, `most_draws` of any sample, `evicted_unseen` samples replaced before ever
    being drawn, `failed` solves the stream left out before the samples taken in, and the
    stream `position` `(shard, offset)` of the next sample.
    """

    number: np.ndarray
    arrival: np.ndarray
    draws: np.ndarray
    ingested: int = 0
    drawn: int = 0
    distinct: int = 0
    most_draws: int = 0
    evicted_unseen: int = 0
    failed: int = 0
    position: tuple[int, int] = (0, 0)

    COUNTS = ("ingested", "drawn", "distinct", "most_draws", "evicted_unseen", "failed")

    @classmethod
    def empty(cls, capacity: int) -> "Ledger":
        free = np.full(capacity, -1, np.int64)
        return cls(free, free.copy(), np.zeros(capacity, np.int64))

    def copy(self) -> "Ledger":
        arrays = {k: getattr(self, k).copy() for k in ("number", "arrival", "draws")}
        return dataclasses.replace(self, **arrays)

    @property
    def held(self) -> np.ndarray:
        """The occupied slots, in slot order."""
        return np.flatnonzero(self.number >= 0)

    def free(self, slots) -> None:
        self.number[slots], self.arrival[slots], self.draws[slots] = -1, -1, 0

    def record(self) -> dict:
        return {**{k: getattr(self, k) for k in self.COUNTS}, "position": list(self.position)}


@dataclasses.dataclass
class _Pending:
    """A step's draw, taken but not yet applied: the ledger after it, the samples written into
    slots, and the batch it made."""

    step: int
    ledger: Ledger
    writes: dict
    batch: Batch


class SampleBuffer:
    """A bounded buffer of samples and the policy that fills it and draws from it.

    A step is planned on a copy of the ledger (`plan`) and applied later (`apply`), so the
    state of the buffer after `k` steps stays available while step `k` trains, and an
    interrupted step is simply not applied.

    **Arguments:** `capacity` (samples held), `policy` (one of `POLICIES`), `seed` (of the
    draws and replacements), `watermark` and `new_per_step` (the reservoir's schedule: samples
    taken in before the first step, and per step after it), `max_reuse` (the reservoir: a
    sample drawn this often leaves the buffer; `None`: no bound).
    """

    def __init__(
        self,
        capacity: int,
        policy: str,
        *,
        seed: int,
        watermark: int,
        new_per_step: float,
        max_reuse: int | None = None,
        part: int = 0,
    ):
        self.capacity, self.policy, self.seed, self.part = capacity, policy, seed, part
        self.watermark, self.new_per_step, self.max_reuse = watermark, new_per_step, max_reuse
        self.ledger = Ledger.empty(capacity)
        self.inputs = self.outputs = None  # (capacity, c, *spatial), made with the first sample

    def _rng(self, stream: int, counter: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.part, stream, counter])

    def _due(self, step: int) -> int:
        """How many samples the buffer takes in before step `step` (the reservoir)."""
        return self.watermark + math.floor(self.new_per_step * step)

    def plan(self, step: int, batch_size: int, take) -> _Pending:
        """Step `step`'s draw of `batch_size` rows; `take()` gives the stream's next
        `datagen.stream.StreamSample`, or `None` when it is spent."""
        ledger, writes = self.ledger.copy(), {}

        def take_in() -> bool:
            sample = take()
            if sample is None:
                return False
            position, number, x, y, failed = sample
            free = np.flatnonzero(ledger.number < 0)
            if free.size:
                slot = int(free[0])
            else:  # a full reservoir: replace a random sample, one already drawn if any
                seen = np.flatnonzero(ledger.draws > 0)
                pool = seen if seen.size else np.arange(self.capacity)
                slot = int(pool[self._rng(_EVICT, ledger.ingested).integers(pool.size)])
                ledger.evicted_unseen += int(ledger.draws[slot] == 0)
            ledger.number[slot], ledger.arrival[slot] = number, ledger.ingested
            ledger.draws[slot] = 0
            ledger.ingested += 1
            ledger.failed += failed
            ledger.position = (position.shard, position.offset)
            writes[slot] = (x, y)
            return True

        if self.policy == "reservoir":
            while ledger.ingested < self._due(step) and take_in():
                pass
        else:  # FIFO, FIRO: the buffer stays full
            while (ledger.number < 0).any() and take_in():
                pass
        while ledger.held.size < batch_size and take_in():
            pass
        held = ledger.held
        if held.size < batch_size:
            raise StreamExhausted(
                f"step {step} needs {batch_size} samples but the stream is spent after "
                f"{ledger.ingested} (its solver budget, less failed solves) and the buffer "
                f"holds {held.size} it may still draw; give the stream more samples, train "
                "fewer steps, or use policy='reservoir', which draws samples again"
            )
        if self.policy == "fifo":
            rows = held[np.argsort(ledger.arrival[held], kind="stable")[:batch_size]]
        else:
            rows = self._rng(_DRAW, step).choice(held, batch_size, replace=False)
        ledger.draws[rows] += 1
        ledger.distinct += int(np.sum(ledger.draws[rows] == 1))
        ledger.most_draws = max(ledger.most_draws, int(ledger.draws[rows].max()))
        ledger.drawn += batch_size
        batch = self._batch(rows, writes)
        if self.policy != "reservoir":
            ledger.free(rows)
        elif self.max_reuse is not None:
            ledger.free(rows[ledger.draws[rows] >= self.max_reuse])
        return _Pending(step, ledger, writes, batch)

    def _batch(self, rows: np.ndarray, writes: dict) -> Batch:
        def row(slot):
            return writes[slot] if slot in writes else (self.inputs[slot], self.outputs[slot])

        pairs = [row(int(slot)) for slot in rows]
        return Batch(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))

    def apply(self, pending: _Pending) -> None:
        """Make `pending` the buffer's state."""
        self._write(pending.writes)
        self.ledger = pending.ledger

    def _write(self, writes: dict) -> None:
        for slot, (x, y) in writes.items():
            if self.inputs is None:
                self.inputs = np.zeros((self.capacity, *x.shape), np.float32)
                self.outputs = np.zeros((self.capacity, *y.shape), np.float32)
            self.inputs[slot], self.outputs[slot] = x, y

    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        """The buffer as arrays (the ledger and the samples held) and a JSON-able record."""
        held = self.ledger.held
        arrays = {k: getattr(self.ledger, k) for k in ("number", "arrival", "draws")}
        if self.inputs is not None:
            arrays.update(inputs=self.inputs[held], outputs=self.outputs[held])
        return arrays, self.ledger.record()

    def restore(self, arrays: Mapping[str, np.ndarray], record: dict) -> None:
        ledger = Ledger(
            *(np.asarray(arrays[k], np.int64) for k in ("number", "arrival", "draws")),
            **{k: int(record[k]) for k in Ledger.COUNTS},
            position=tuple(record["position"]),
        )
        if ledger.number.shape != (self.capacity,):
            raise ValueError(
                f"the saved buffer has {ledger.number.size} slots, not {self.capacity}"
            )
        self.ledger, self.inputs, self.outputs = ledger, None, None
        if "inputs" in arrays:
            self._write(dict(zip(ledger.held.tolist(), zip(arrays["inputs"], arrays["outputs"]))))


class OnlineDataset(AbstractStream):
    """Training data made while training runs: a data family's solvers fill a bounded buffer,
    each step draws its batch from it (the module docstring gives the policies).

    **Arguments:**

    - `generator`: a registered family name (configured by `options`, as in
      `datagen.generate`: `resolution=64, solver="direct"`) or a `datagen.Generator`.
    - `samples`: the solver budget, samples made in all; `seed`: the stream's base seed
      (sample `i` is drawn from `[seed, i]`; choose another seed than the test set's).
    - `policy`: `"fifo"`, `"firo"` or `"reservoir"`; `capacity`: samples the buffer holds.
    - `watermark`, `new_per_step`: the reservoir's schedule, samples taken in before the first
      step (default `capacity`) and per step after it (default: the batch size, as many new
      samples as a step draws); `max_reuse`: a reservoir sample drawn this often leaves the
      buffer (default: no bound; the draw counts are reported either way).
    - `epoch_size`: rows drawn per epoch (default `capacity`), which sets how often `fit`
      records, evaluates and checkpoints.
    - `workers`: solver processes (0: solve in this process when a step needs samples);
      `lookahead`: shards made ahead of the buffer (default `2 * workers`); `shard_size`:
      samples per shard, one recycling chain each (default 32).
    - `directory`: where the stream keeps its sorted order and solver race (a resumed run that
      must continue bitwise with `solver="auto"` needs the same directory), and with
      `keep=True` every shard, so that the run leaves the dataset `datagen.generate` would
      write (and a resumed stream reads its shards back instead of solving them again).
      Default: a temporary directory, removed by `close()`.
    - `part`: `(i, N)`, this host's share in a multi-host run (default: from `jax`); each host
      runs its own solvers on shards `j % N == i` and its own buffer, and draws its rows of
      every global batch.
    """

    def __init__(
        self,
        generator,
        samples: int,
        *,
        policy: str = "reservoir",
        capacity: int = 1000,
        watermark: int | None = None,
        new_per_step: int | float | None = None,
        max_reuse: int | None = None,
        epoch_size: int | None = None,
        seed: int = 0,
        workers: int = 1,
        lookahead: int | None = None,
        shard_size: int = 32,
        directory=None,
        keep: bool = False,
        part: tuple[int, int] | None = None,
        progress: bool = False,
        **options,
    ):
        import datagen

        if isinstance(generator, str):
            generator = datagen.family(generator).make(**options)
        elif options:
            raise TypeError("options are only accepted with a family name")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        for name, value in (("capacity", capacity), ("samples", samples)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if watermark is not None and not 1 <= watermark <= capacity:
            raise ValueError(f"watermark must lie in [1, capacity={capacity}], got {watermark}")
        if new_per_step is not None and not new_per_step > 0:
            raise ValueError(f"new_per_step must be positive, got {new_per_step}")
        if max_reuse is not None and (not isinstance(max_reuse, int) or max_reuse < 1):
            raise ValueError(f"max_reuse must be a positive int or None, got {max_reuse!r}")
        if policy != "reservoir" and (watermark, new_per_step, max_reuse) != (None,) * 3:
            raise ValueError(
                f"{policy} draws every sample once and keeps the buffer full: watermark, "
                "new_per_step and max_reuse belong to policy='reservoir'"
            )
        self.generator, self.samples, self.seed = generator, samples, seed
        self.policy, self.capacity, self.watermark = policy, capacity, watermark or capacity
        self.new_per_step, self.max_reuse = new_per_step, max_reuse
        self.epoch_size = epoch_size or capacity
        self.workers, self.lookahead, self.shard_size = workers, lookahead, shard_size
        self.keep, self.progress = keep, progress
        self.part = part
        self._own_directory = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="jaxsciml-online-") if directory is None
                              else directory)  # fmt: skip
        self._stream = None
        self._samples = None  # the stream's samples not yet taken in, in order
        self._peeked = []
        self._buffer: SampleBuffer | None = None
        self._pending: _Pending | None = None
        self._settings_used: dict | None = None  # fixed by the first `batches` call
        self._step = 0
        self._finalizer = weakref.finalize(self, _close, [], self.directory, self._own_directory)

    # -- the stream -------------------------------------------------------------------------

    def _part(self) -> tuple[int, int]:
        return self.part or (jax.process_index(), jax.process_count())

    def _open(self):
        if self._stream is None:
            from datagen.stream import ShardStream

            self._stream = ShardStream(
                self.generator, self.samples, self.directory, seed=self.seed,
                shard_size=self.shard_size, workers=self.workers, lookahead=self.lookahead,
                part=self._part(), keep=self.keep, progress=self.progress,
            )  # fmt: skip
            self._finalizer.detach()
            self._finalizer = weakref.finalize(
                self, _close, [self._stream], self.directory, self._own_directory
            )
        return self._stream

    def _restart(self, position: tuple[int, int]) -> None:
        from datagen.stream import StreamPosition

        if self._samples is not None:
            self._samples.close()
        self._samples, self._peeked = self._open().samples(StreamPosition(*position)), []

    def _made(self):
        """The next sample the stream makes (starting it at the beginning if it has not
        started), or `None` when it is spent."""
        if self._samples is None:
            self._restart((0, 0))
        return next(self._samples, None)

    def _take(self):
        """The stream's next `StreamSample` (those `head` made first), or `None` when spent."""
        return self._peeked.pop(0) if self._peeked else self._made()

    def head(self, n: int) -> Dataset:
        """The stream's first `n` samples (made now, then taken into the buffer as usual), as a
        `Dataset`: its shapes and grid, and statistics for normalizers."""
        if self._buffer is not None or self._step:
            raise RuntimeError("head() comes before training starts")
        while len(self._peeked) < n and (sample := self._made()) is not None:
            self._peeked.append(sample)
        pairs = self._peeked[:n]
        if not pairs:
            raise StreamExhausted("the stream holds no sample")
        inputs = np.stack([p.inputs for p in pairs])
        return from_arrays(inputs, np.stack([p.outputs for p in pairs]), self.generator.grid())

    # -- the dataset seam -------------------------------------------------------------------

    def __len__(self) -> int:
        return self.epoch_size

    def num_batches(self, batch_size: int, drop_last: bool = True) -> int:
        """Steps per epoch: `epoch_size // batch_size` (every batch is whole)."""
        return self.epoch_size // batch_size

    @property
    def default_metrics(self) -> dict:
        return {"relative_l2": relative_l2}

    @property
    def evaluation_batch_size(self) -> int:
        return 20

    def _settings(self, batch_size: int, seed: int) -> dict:
        return {
            "provenance": self.generator.provenance(self.seed).to_attrs(),
            "samples": self.samples, "policy": self.policy, "capacity": self.capacity,
            "watermark": self.watermark, "new_per_step": self.new_per_step,
            "max_reuse": self.max_reuse, "shard_size": self.shard_size, "part": list(self._part()),
            "batch_size": batch_size, "seed": seed,
        }  # fmt: skip

    def _begin(self, batch_size: int, seed: int, part: tuple[int, int]) -> int:
        """The rows this host draws per step; makes the buffer on the first call."""
        if tuple(part) != self._part():
            raise ValueError(f"this stream is part {self._part()}, asked for part {part}")
        index, count = part
        if batch_size < 1 or batch_size % count:
            raise ValueError(f"batch_size {batch_size} must be a positive multiple of {count}")
        local = batch_size // count
        if local > self.capacity:
            raise ValueError(f"a step draws {local} rows but the buffer holds {self.capacity}")
        if self._buffer is None:
            self._buffer = SampleBuffer(
                self.capacity, self.policy, seed=seed, watermark=self.watermark,
                new_per_step=float(self.new_per_step or local), max_reuse=self.max_reuse,
                part=index,
            )  # fmt: skip
            self._settings_used = self._settings(batch_size, seed)
        elif self._settings_used != self._settings(batch_size, seed):
            raise ValueError("a stream trains with one batch size and seed from start to end")
        return local

    def _settle(self) -> None:
        """Apply the step taken last (its batch has gone to training)."""
        if self._pending is not None:
            self._buffer.apply(self._pending)
            self._step, self._pending = self._pending.step + 1, None

    def batches(
        self,
        batch_size: int,
        *,
        seed: int | None = None,
        epoch: int = 0,
        start: int = 0,
        drop_last: bool = True,
        part: tuple[int, int] = (0, 1),
        prefetch: int = 2,
    ) -> Iterator[Batch]:
        """The batches of epoch `epoch` from batch `start` on, drawn from the buffer; the
        stream must stand at that step (it does, in `fit`, and after `restore`)."""
        local = self._begin(batch_size, 0 if seed is None else seed, part)
        steps = self.num_batches(batch_size)
        first = epoch * steps + start
        self._settle()
        if first != self._step:
            raise ValueError(
                f"the stream stands at step {self._step}, not {first}: an online buffer is "
                "read once, in order (a resumed run restores it from its checkpoint)"
            )
        for step in range(first, (epoch + 1) * steps):
            self._settle()
            self._pending = self._buffer.plan(step, local, self._take)
            yield self._pending.batch
        self._settle()

    def state(self, step: int) -> tuple[dict[str, np.ndarray], dict]:
        if self._pending is not None and step == self._pending.step + 1:
            self._settle()
        if self._buffer is None or step != self._step:
            raise ValueError(f"the stream stands at step {self._step}, not {step}")
        arrays, record = self._buffer.state()
        return arrays, {"step": step, "settings": self._settings_used, **record}

    def restore(self, step: int, arrays: Mapping[str, np.ndarray], record: dict) -> None:
        if record["step"] != step:
            raise ValueError(f"the stream state is of step {record['step']}, not {step}")
        batch_size, seed = record["settings"]["batch_size"], record["settings"]["seed"]
        self._buffer, self._pending = None, None
        self._begin(batch_size, seed, self._part())
        if self._settings_used != record["settings"]:
            raise ValueError(
                f"the checkpointed stream was made with {record['settings']}, this one with "
                f"{self._settings_used}; resume with the same stream settings"
            )
        self._buffer.restore(arrays, record)
        self._step = step
        self._restart(self._buffer.ledger.position)

    def metrics(self) -> dict[str, float]:
        """`generated` samples taken in, `drawn` rows, `distinct` samples drawn, `reuse`
        (draws per drawn sample), `max_draws`, `evicted_unseen`, `buffered` now, `failed`
        solves left out; and `waited_seconds`, how long training has waited for the solvers
        since this process started."""
        if self._pending is not None:  # its batch has gone to training: count it
            ledger = self._pending.ledger
        else:
            ledger = self._buffer.ledger if self._buffer is not None else Ledger.empty(1)
        values = {
            "generated": ledger.ingested,
            "drawn": ledger.drawn,
            "distinct": ledger.distinct,
            "reuse": ledger.drawn / max(ledger.distinct, 1),
            "max_draws": ledger.most_draws,
            "evicted_unseen": ledger.evicted_unseen,
            "buffered": int(ledger.held.size) if self._buffer is not None else 0,
            "failed": ledger.failed,
        }
        if self._stream is not None:
            values["waited_seconds"] = self._stream.statistics.waited_seconds
        return {k: float(v) for k, v in values.items()}

    def close(self) -> None:
        """Stop the solver processes and remove a temporary directory."""
        if self._samples is not None:
            self._samples.close()
            self._samples = None
        self._finalizer()

    def __repr__(self) -> str:
        return (
            f"OnlineDataset({self.generator.name}, samples={self.samples}, policy={self.policy}, "
            f"capacity={self.capacity}, workers={self.workers})"
        )


def _close(streams: list, directory: Path, remove: bool) -> None:
    for stream in streams:
        stream.close()
    if remove:
        shutil.rmtree(directory, ignore_errors=True)
