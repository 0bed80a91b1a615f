"""`fit`: one training loop for every model and loss; data-parallel, checkpointed, resumable."""

import contextlib
import dataclasses
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxsciml import parallel
from jaxsciml.data.base import AbstractDataset, AbstractStream
from jaxsciml.losses import relative_l2_loss
from jaxsciml.train.checkpoint import Checkpointer, CheckpointMismatchError
from jaxsciml.train.evaluate import place
from jaxsciml.train.log import AbstractLogger, Loggers, MetricsFile, Progress
from jaxsciml.train.optim import fno_adam, learning_rate_schedule
from jaxsciml.train.policies import Checkpointing, Evaluation
from jaxsciml.train.resident import ResidentSteps
from jaxsciml.train.step import Loss, make_train_step, split_model


_fold_in = jax.jit(jax.random.fold_in)  # compiled: run eagerly it costs ~1 ms per step


@dataclasses.dataclass
class _Run:
    """Where a run stands: the arrays (`state`), the step, the history and the current epoch's
    loss sum and time. A checkpoint holds all of it."""

    state: dict
    step: int = 0
    history: list = dataclasses.field(default_factory=list)
    epoch_loss_sum: float = 0.0  # of the steps done so far in the current epoch
    epoch_seconds: float = 0.0
    pending: list = dataclasses.field(default_factory=list)  # losses not yet in the sum

    RECORDED = ("step", "history", "epoch_loss_sum", "epoch_seconds")  # with the arrays

    def record(self) -> dict:
        return {key: getattr(self, key) for key in self.RECORDED}

    def settle(self) -> None:
        """Add the pending losses to the epoch's sum in order (a resumed epoch sums the same)."""
        for value in self.pending:
            self.epoch_loss_sum += float(value)
        self.pending.clear()


@dataclasses.dataclass
class _Plan:
    """What the run is to do: steps per epoch and in all; the settings a resume must share."""

    steps_per_epoch: int
    total_steps: int
    settings: dict

    def epoch_done(self, run: _Run) -> bool:
        """Whether the run stands at the end of an epoch it has not recorded yet."""
        epochs = run.step // self.steps_per_epoch
        return bool(run.step) and not run.step % self.steps_per_epoch and len(run.history) < epochs


class _Store:
    """The checkpoints of a run (or none): open, restore, save each step at most once."""

    def __init__(self, policy: Checkpointing | None, plan: _Plan, data: AbstractDataset):
        self.policy, self.plan = policy, plan
        self.stream = data if isinstance(data, AbstractStream) else None
        self.checkpointer = None if policy is None else Checkpointer(policy.directory, policy.keep)
        self.saved_step = None

    def restore(self, run: _Run) -> _Run:
        latest = None if self.checkpointer is None else self.checkpointer.latest_step()
        if latest is None:
            return run
        if not self.policy.resume:
            raise FileExistsError(
                f"{self.policy.directory} already holds checkpoints (newest: step {latest}); pass "
                "Checkpointing(..., resume=True) to continue that run, or choose a new directory."
            )
        state, record = self.checkpointer.restore(latest, run.state)
        if record["settings"] != self.plan.settings:
            raise CheckpointMismatchError(
                f"the checkpoint in {self.policy.directory} was made with {record['settings']}, "
                f"this run has {self.plan.settings}; resuming needs the same data order. Pass "
                "the same settings or choose a new checkpoint directory."
            )
        self.saved_step = record["step"]
        if self.stream is not None:
            self.stream.restore(latest, *self.checkpointer.load_stream(latest))
        return _Run(state, **{key: record[key] for key in _Run.RECORDED})

    def save(self, run: _Run, epoch_end: bool = False) -> None:
        if self.checkpointer is None or run.step in (self.saved_step, 0):
            return
        if epoch_end and (run.step // self.plan.steps_per_epoch) % self.policy.every:
            return
        if self.stream is not None:
            self.checkpointer.save_stream(run.step, *self.stream.state(run.step))
        self.checkpointer.save(
            run.step, run.state, {"settings": self.plan.settings, **run.record()}
        )
        self.saved_step = run.step

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()


def _initial_state(
    model: eqx.Module, optimizer: optax.GradientTransformation, seed: int, trainable=None
):
    """The arrays a checkpoint holds, and the static rest of the model."""
    params, frozen, static = split_model(model, trainable)
    state = {
        "params": params,
        "frozen": frozen,
        "opt_state": optimizer.init(params),
        "key": jax.random.key_data(jax.random.key(seed)),
    }
    return state, static


def _model(state: dict, static) -> eqx.Module:
    return eqx.combine(state["params"], state["frozen"], static)


def _plan(data: AbstractDataset, epochs, batch_size, drop_last, max_steps, seed, mesh) -> _Plan:
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    parallel.check_batch_size(batch_size, mesh)
    steps_per_epoch = data.num_batches(batch_size, drop_last)
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size {batch_size} is larger than the {len(data)} samples")
    total = epochs * steps_per_epoch
    total = total if max_steps is None else min(max_steps, total)
    settings = {"batch_size": batch_size, "num_train": len(data), "seed": seed}
    if not drop_last:
        settings["drop_last"] = False
    return _Plan(steps_per_epoch, total, settings)


def _epoch_record(run: _Run, plan: _Plan, schedule, stream: AbstractStream | None) -> dict:
    record = {
        "epoch": run.step // plan.steps_per_epoch,
        "step": run.step,
        "train_loss": run.epoch_loss_sum / plan.steps_per_epoch,
        "seconds": run.epoch_seconds,
    }
    if schedule is not None:
        record["learning_rate"] = float(schedule(run.step - 1))
    if stream is not None:
        record.update({f"stream.{k}": v for k, v in stream.metrics().items()})
    return record


def _logger(logger, checkpointing: Checkpointing | None) -> AbstractLogger:
    if isinstance(logger, AbstractLogger):
        return logger
    if isinstance(logger, list | tuple):
        return Loggers([_logger(one, checkpointing) for one in logger])
    if logger is None and checkpointing is not None:
        logger = Path(checkpointing.directory) / "metrics.jsonl"
    return MetricsFile(logger)


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold a Ctrl-C (SIGINT) until the block is done, then raise it; where Python's own
    handler is not installed (another thread, a custom handler), change nothing."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    received = []
    signal.signal(signal.SIGINT, lambda *_: received.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt


RESIDENT_BYTES = 2**31  # in-memory data up to this size train from device memory by default


def _resident_steps(data: AbstractDataset, wanted: bool | None, drop_last: bool, batch_size: int):
    """The data whole for training from device memory, or `None` to stream batches."""
    if wanted is False:
        return None
    reason = None
    if jax.process_count() > 1:
        reason = "a multi-host run streams its batches"
    elif not drop_last and len(data) % batch_size:
        reason = "a last partial batch (drop_last=False) changes the batch shape"
    resident = None if reason else data.resident()
    if resident is not None and wanted is None and resident.nbytes > RESIDENT_BYTES:
        resident = None  # a copy on every device: large data stream instead
    if resident is None and wanted:
        raise ValueError(
            "resident=True needs the data in memory (jaxsciml.data.from_arrays, Dataset.cache(), "
            f"PointDataset.cache()) on one host{f': {reason}' if reason else ''}"
        )
    return resident


@dataclasses.dataclass
class _Loop:
    """The parts of `fit` that run the steps and close the epochs."""

    plan: _Plan
    schedule: object
    evaluation: Evaluation | None
    store: _Store
    log: AbstractLogger
    display: Progress
    static: object
    mesh: object

    def end_epoch(self, run: _Run) -> None:
        """Record the epoch `run` has just finished: evaluate, log, checkpoint when due."""
        last = run.step == self.plan.total_steps
        record = _epoch_record(run, self.plan, self.schedule, self.store.stream)
        if self.evaluation is not None and self.evaluation.due(record["epoch"], last):
            record.update(self.evaluation.run(_model(run.state, self.static), self.mesh))
        run.history.append(record)
        run.epoch_loss_sum, run.epoch_seconds = 0.0, 0.0
        self.log.append(record)
        self.display.epoch(record, last)
        self.store.save(run, epoch_end=True)

    def stream(self, run, data, train_step, base_key, batch_size, seed, drop_last) -> None:
        """One dispatch per step, each batch read on the host and placed on the devices."""
        part = (jax.process_index(), jax.process_count())
        while True:
            if self.plan.epoch_done(run):
                self.end_epoch(run)
            if run.step >= self.plan.total_steps:
                return
            started = time.perf_counter()
            epoch, offset = divmod(run.step, self.plan.steps_per_epoch)
            for rows in data.batches(
                batch_size, seed=seed, epoch=epoch, start=offset, drop_last=drop_last, part=part
            ):
                s = run.state
                params, opt_state, value = train_step(
                    s["params"], s["frozen"], s["opt_state"], place(rows, self.mesh),
                    _fold_in(base_key, run.step),
                )  # fmt: skip
                run.state = {**s, "params": params, "opt_state": opt_state}
                run.pending.append(value)
                run.step += 1
                self.display.step()
                if run.step == self.plan.total_steps:
                    break
            run.settle()
            run.epoch_seconds += time.perf_counter() - started

    def resident(self, run, chunks: ResidentSteps, base_key) -> None:
        """Chunks of steps on data in device memory; the epochs inside a chunk are recorded
        after it (none of them evaluates or checkpoints: chunks end at those)."""
        while True:
            if self.plan.epoch_done(run):
                self.end_epoch(run)
            if run.step >= self.plan.total_steps:
                return
            end = chunks.chunk_end(run.step, self.plan.total_steps)
            state, losses, seconds = chunks.run(run.state, run.step, end, base_key)
            with _interrupts_deferred():  # `run` moves to the chunk's end in one piece
                run.state = state
                for value in losses:
                    run.epoch_loss_sum += float(value)
                    run.epoch_seconds += seconds / len(losses)
                    run.step += 1
                    self.display.step()
                    if run.step < end and self.plan.epoch_done(run):
                        self.end_epoch(run)


def restore_model(
    checkpoint_dir: str | os.PathLike,
    model: eqx.Module,
    step: int | None = None,
    trainable: Callable | None = None,
) -> eqx.Module:
    """The model saved by `fit` in `checkpoint_dir` (newest step unless `step` is given).

    `model` is a model of the same structure (its values do not matter, e.g. a freshly
    initialized one); the optimizer's state is not read. A model file (`jaxsciml.save_model`)
    needs no such skeleton. `trainable`: the filter the run was trained with (`fit`).
    """
    if not Path(checkpoint_dir).is_dir():
        raise FileNotFoundError(f"checkpoint directory {checkpoint_dir} does not exist")
    params, frozen, static = split_model(model, trainable)
    checkpointer = Checkpointer(checkpoint_dir)
    try:
        step = checkpointer.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"{checkpoint_dir} holds no checkpoint")
        state = checkpointer.restore_items(step, {"params": params, "frozen": frozen})
    finally:
        checkpointer.close()
    return eqx.combine(*(jax.tree.map(jnp.asarray, state[k]) for k in ("params", "frozen")), static)


def fit(
    model: eqx.Module,
    data: AbstractDataset,
    *,
    epochs: int,
    batch_size: int = 20,
    loss: Loss = relative_l2_loss,
    optimizer: optax.GradientTransformation | None = None,
    drop_last: bool = True,
    checkpointing: Checkpointing | None = None,
    evaluation: Evaluation | None = None,
    logger: AbstractLogger | Sequence | str | os.PathLike | None = None,
    progress: bool | None = None,
    max_steps: int | None = None,
    seed: int = 0,
    mesh=None,
    resident: bool | None = None,
    trainable: Callable | None = None,
) -> tuple[eqx.Module, list[dict]]:
    """Train `model` on `data` and return the trained model and the per-epoch history.

    Every epoch visits the samples in the order `epoch_permutation(n, seed, epoch)` in batches
    of `batch_size`, takes one optimizer step per batch on `loss(model, batch, key)` with
    `key = fold_in(key(seed), step)`, then records the epoch (and evaluates, when due). Batches
    are split over the devices of `mesh` (default: all), parameters replicated; the same code
    runs on one device or many hosts. A run resumed from a checkpoint ends, on CPU, bitwise
    equal to one that was never interrupted.

    **Arguments:**

    - `model`: any equinox module; arrays inside `jaxsciml.nn.AbstractFrozen` modules (such as
      normalizer statistics) are kept fixed.
    - `data`: any `jaxsciml.data.AbstractDataset`: grid pairs, a `PointDataset` (sensors and
      random query points per step), `jaxsciml.physics.Collocation` points, unlabelled fields.
    - `epochs`: passes over the data; `batch_size`: samples per step, a multiple of the devices.
    - `loss`: `(model, batch, key) -> scalar` (see `jaxsciml.losses`); the default is the mean
      relative L2 error of `batch.predict(model)` against `batch.target`.
    - `optimizer`: an optax transformation (default `fno_adam`: Adam 1e-3 halved every 100
      epochs, weight decay 1e-4; each family's paper recipe is `jaxsciml.registry`'s default).
      Line searches (`optax.lbfgs()`) get the batch's objective.
    - `drop_last`: drop a last batch smaller than `batch_size` (default), or train on it too.
    - `checkpointing`: a `Checkpointing` policy (directory, every, keep, resume).
    - `evaluation`: an `Evaluation` policy (data, every, metrics, batch size).
    - `logger`: where the history goes: a JSON-lines file's path (default
      `<checkpoint dir>/metrics.jsonl`), a `jaxsciml.train.AbstractLogger`
      (`TensorBoardLogger(dir)`, `WandbLogger(project=...)`, `MetricsFile(path)`), or a list of
      them (`None` in the list: the default file).
    - `progress`: `True`/`False` force the progress display; `None` shows a bar on a terminal or
      in a notebook and one line per epoch (at most every 10 s) elsewhere.
    - `max_steps`: stop (and checkpoint) after this many steps in all; resume to continue.
    - `seed`: seeds the data order and the loss's `key`; `mesh`: a mesh with a `"data"` axis.
    - `resident`: train from device memory: the data placed on every device once, each batch
      gathered inside the compiled step, many steps per dispatch, the host waited for only
      between chunks (at evaluations, checkpoints, and about every half second). `None` (the
      default) does so whenever the data are in memory (`from_arrays`, `Dataset.cache()`,
      `PointDataset.cache()`) on one host and take at most 2 GiB (each device holds a copy);
      `True` insists; `False` streams batches from the host, one step per dispatch. The
      batches are the same either way; the per-epoch `seconds` of a chunk are shared evenly
      among its steps.
    - `trainable`: `model -> filter spec` (a pytree of bools, as `eqx.partition` takes) of the
      arrays to train, the rest held fixed: fine-tuning a part of a trained model, such as
      `jaxsciml.operators.output_layer_filter` (Spectral-Refiner). `None` trains every
      floating-point array outside `AbstractFrozen` modules. Resuming needs the same filter.

    **Returns:** `(model, history)`, one dict per epoch: `epoch`, `step`, `train_loss`,
    `learning_rate` (default optimizer), `seconds`, and `<eval name>.<metric>` entries.
    """
    mesh = parallel.data_mesh() if mesh is None else mesh
    plan = _plan(data, epochs, batch_size, drop_last, max_steps, seed, mesh)
    schedule = None
    if optimizer is None:
        optimizer = fno_adam(plan.steps_per_epoch)
        schedule = learning_rate_schedule(plan.steps_per_epoch)
    state, static = _initial_state(model, optimizer, seed, trainable)
    store = _Store(checkpointing, plan, data)
    run = store.restore(_Run(state))
    log = _logger(logger, checkpointing)
    log.rewrite(run.history)
    # copies: the step donates its inputs, and on one device `replicate` would hand it the
    # caller's own arrays (the model passed in must stay usable)
    run.state = jax.tree.map(lambda x: x.copy(), parallel.replicate(run.state, mesh))
    base_key = jax.random.wrap_key_data(run.state["key"])
    display = Progress(plan.total_steps, run.step, progress)
    loop = _Loop(plan, schedule, evaluation, store, log, display, static, mesh)
    steps = _resident_steps(data, resident, drop_last, batch_size)
    try:
        if steps is None:
            train_step = make_train_step(loss, optimizer, static, mesh)
            loop.stream(run, data, train_step, base_key, batch_size, seed, drop_last)
        else:

            def boundary(epoch: int) -> bool:
                evaluates = evaluation is not None and evaluation.due(epoch, False)
                return evaluates or (checkpointing is not None and not epoch % checkpointing.every)

            chunks = ResidentSteps(
                steps, loss, optimizer, static, mesh, batch_size=batch_size, seed=seed,
                steps_per_epoch=plan.steps_per_epoch, boundary=boundary,
            )  # fmt: skip
            loop.resident(run, chunks, base_key)
        store.save(run)
    except KeyboardInterrupt:
        run.settle()  # `run` describes the last completed step: save it, so nothing is lost
        store.save(run)
        raise
    finally:
        display.close()
        store.close()
        log.close()
    return _model(run.state, static), run.history
