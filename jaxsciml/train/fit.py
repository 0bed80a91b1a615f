"""`fit`: one training loop for every model and loss; data-parallel, checkpointed, resumable."""

import dataclasses
import os
import time
from collections.abc import Mapping
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from jaxsciml import parallel
from jaxsciml.data.dataset import Dataset
from jaxsciml.data.points import PointDataset
from jaxsciml.physics.collocation import Collocation, ReferenceSolution
from jaxsciml.train.checkpoint import Checkpointer, CheckpointMismatchError
from jaxsciml.train.evaluate import Measure, evaluate, relative_l2_loss
from jaxsciml.train.log import MetricsFile, Progress
from jaxsciml.train.optim import fno_adam, learning_rate_schedule
from jaxsciml.train.step import Loss, make_train_step, split_model


EvalData = Dataset | PointDataset | ReferenceSolution
_fold_in = jax.jit(jax.random.fold_in)  # compiled: run eagerly it costs ~1 ms per step


@dataclasses.dataclass
class _Run:
    """Where a run stands: what a checkpoint must hold besides the arrays."""

    step: int = 0
    history: list = dataclasses.field(default_factory=list)
    epoch_loss_sum: float = 0.0  # of the steps done so far in the current epoch
    epoch_seconds: float = 0.0


def _initial_state(model: eqx.Module, optimizer: optax.GradientTransformation, seed: int):
    """The arrays a checkpoint holds, and the static rest of the model."""
    params, frozen, static = split_model(model)
    state = {
        "params": params,
        "frozen": frozen,
        "opt_state": optimizer.init(params),
        "key": jax.random.key_data(jax.random.key(seed)),
    }
    return state, static


def restore_model(
    checkpoint_dir: str | os.PathLike,
    model: eqx.Module,
    optimizer: optax.GradientTransformation | None = None,
    step: int | None = None,
) -> eqx.Module:
    """The model saved by `fit` in `checkpoint_dir` (newest step unless `step` is given).

    `model` is a model of the same structure (its values do not matter, e.g. a freshly
    initialized one) and `optimizer` the one the run used (default: `fno_adam`, as in `fit`).
    """
    if not Path(checkpoint_dir).is_dir():
        raise FileNotFoundError(f"checkpoint directory {checkpoint_dir} does not exist")
    optimizer = fno_adam(1) if optimizer is None else optimizer
    like, static = _initial_state(model, optimizer, 0)
    checkpointer = Checkpointer(checkpoint_dir)
    try:
        step = checkpointer.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"{checkpoint_dir} holds no checkpoint")
        state, _ = checkpointer.restore(step, like)
    finally:
        checkpointer.close()
    return eqx.combine(
        jax.tree.map(jnp.asarray, state["params"]),
        jax.tree.map(jnp.asarray, state["frozen"]),
        static,
    )


def fit(
    model: eqx.Module,
    train_data: Dataset | PointDataset | Collocation,
    *,
    epochs: int,
    batch_size: int = 20,
    loss: Loss = relative_l2_loss,
    optimizer: optax.GradientTransformation | None = None,
    eval_data: EvalData | Mapping[str, EvalData] | None = None,
    eval_every: int = 1,
    metrics: Mapping[str, Measure] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    keep: int = 3,
    resume: bool = False,
    max_steps: int | None = None,
    seed: int = 0,
    metrics_file: str | os.PathLike | None = None,
    progress: bool | None = None,
    mesh=None,
) -> tuple[eqx.Module, list[dict]]:
    """Train `model` on `train_data` and return the trained model and the per-epoch history.

    Every epoch visits the training samples in the order `epoch_permutation(n, seed, epoch)` in
    batches of `batch_size` (a last, smaller batch is dropped), takes one optimizer step per batch
    on `loss(model, batch, key)` with `key = fold_in(key(seed), step)`, then evaluates on
    `eval_data`. Batches are split over the devices of `mesh` (default: all), parameters
    replicated; the same code runs on one device or many hosts.

    With a `checkpoint_dir`, the whole state (model, optimizer, step, RNG, partial-epoch loss,
    history) is saved every `checkpoint_every` epochs, at the end, when `max_steps` is reached
    and on Ctrl-C. `resume=True` continues from the newest checkpoint and, on CPU, ends bitwise
    equal to a run that was never interrupted.

    **Arguments:**

    - `model`: any equinox module; arrays inside `jaxsciml.nn.AbstractFrozen` modules (such as
      normalizer statistics) are kept fixed.
    - `train_data`: a `jaxsciml.data.Dataset` (grids), a `jaxsciml.data.PointDataset` (sensor
      values and random query points per step, for DeepONet-type models), or a
      `jaxsciml.physics.Collocation` (collocation points, for PINN and PIG with a
      `jaxsciml.physics.PhysicsLoss`).
    - `epochs`: passes over the training data.
    - `batch_size`: samples per step, a multiple of the number of devices.
    - `loss`: `(model, batch, key) -> scalar`; the default is the mean relative L2 error of
      `batch.predict(model)` against `batch.target`, sample by sample. PINN, PIG or DGNO losses
      fit here.
    - `optimizer`: an optax transformation; the default is `fno_adam` (Adam 1e-3, halved every
      100 epochs, weight decay 1e-4). Line-search methods such as `optax.lbfgs()` get the
      loss's value, gradient and the objective of the current batch.
    - `eval_data`: a dataset or a mapping `name -> dataset` (e.g. a finer grid, for zero-shot
      super-resolution; or a `jaxsciml.physics.ReferenceSolution`), evaluated every
      `eval_every` epochs with `metrics` (`name -> per-sample measure`, default relative L2).
    - `checkpoint_dir`, `checkpoint_every`, `keep`, `resume`: checkpointing (see above). A
      directory that already holds checkpoints is only used with `resume=True`.
    - `max_steps`: stop (and checkpoint) after this many steps in all, e.g. to fit a job into a
      time limit; rerun with `resume=True` to continue.
    - `seed`: seeds the data order and the loss's `key`.
    - `metrics_file`: a JSON-lines log of the history (default `checkpoint_dir/metrics.jsonl`).
    - `progress`: `True`/`False` to force the progress display on or off; `None` shows a bar on a
      terminal or in a notebook and one line per epoch (at most every 10 s) elsewhere.
    - `mesh`: a `jax.sharding.Mesh` with a `"data"` axis (see `jaxsciml.parallel.data_mesh`).

    **Returns:** `(model, history)`, with one dict per epoch: `epoch`, `step`, `train_loss`,
    `learning_rate` (default optimizer), `seconds`, and `<eval name>.<metric>` entries.
    """
    if epochs < 1 or eval_every < 1 or checkpoint_every < 1:
        raise ValueError("epochs, eval_every and checkpoint_every must be positive")
    mesh = parallel.data_mesh() if mesh is None else mesh
    parallel.check_batch_size(batch_size, mesh)
    steps_per_epoch = train_data.num_batches(batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size {batch_size} is larger than the {len(train_data)} samples")
    total_steps = (
        epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    )
    if eval_data is None:
        eval_sets = {}
    elif isinstance(eval_data, (Dataset, PointDataset, ReferenceSolution)):
        eval_sets = {"eval": eval_data}
    else:
        eval_sets = dict(eval_data)
    schedule = None
    if optimizer is None:
        optimizer = fno_adam(steps_per_epoch)
        schedule = learning_rate_schedule(steps_per_epoch)

    state, static = _initial_state(model, optimizer, seed)
    settings = {"batch_size": batch_size, "num_train": len(train_data), "seed": seed}
    run = _Run()
    checkpointer = None
    if checkpoint_dir is not None:
        checkpointer = Checkpointer(checkpoint_dir, keep)
        latest = checkpointer.latest_step()
        if latest is not None and not resume:
            raise FileExistsError(
                f"{checkpoint_dir} already holds checkpoints (newest: step {latest}); pass "
                "resume=True to continue that run, or choose a new checkpoint_dir."
            )
        if latest is not None:
            state, record = checkpointer.restore(latest, state)
            if record["settings"] != settings:
                raise CheckpointMismatchError(
                    f"the checkpoint in {checkpoint_dir} was made with {record['settings']}, this "
                    f"run has {settings}; resuming needs the same data order. Pass the same "
                    "settings or choose a new checkpoint_dir."
                )
            run = _Run(
                record["step"],
                record["history"],
                record["epoch_loss_sum"],
                record["epoch_seconds"],
            )
    if metrics_file is None and checkpoint_dir is not None:
        metrics_file = Path(checkpoint_dir) / "metrics.jsonl"
    log = MetricsFile(metrics_file)
    log.rewrite(run.history)

    # copies: the step donates its inputs, and on one device `replicate` would hand it the
    # caller's own arrays (the model passed in must stay usable)
    state = jax.tree.map(lambda x: x.copy(), parallel.replicate(state, mesh))
    base_key = jax.random.wrap_key_data(state["key"])
    train_step = make_train_step(loss, optimizer, static, mesh)
    part = (jax.process_index(), jax.process_count())

    def current_model():
        return eqx.combine(state["params"], state["frozen"], static)

    last_saved = run.step if run.step else None

    def save():
        nonlocal last_saved
        if checkpointer is not None and run.step != last_saved:
            checkpointer.save(run.step, state, {"settings": settings, **dataclasses.asdict(run)})
            last_saved = run.step

    def finish_epoch():
        epoch = run.step // steps_per_epoch
        record = {
            "epoch": epoch,
            "step": run.step,
            "train_loss": run.epoch_loss_sum / steps_per_epoch,
            "seconds": run.epoch_seconds,
        }
        if schedule is not None:
            record["learning_rate"] = float(schedule(run.step - 1))
        last = run.step == total_steps
        if eval_sets and (epoch % eval_every == 0 or last):
            model = current_model()
            for name, data in eval_sets.items():
                scores = evaluate(model, data, batch_size=batch_size, metrics=metrics, mesh=mesh)
                record.update({f"{name}.{metric}": value for metric, value in scores.items()})
        run.history.append(record)
        run.epoch_loss_sum, run.epoch_seconds = 0.0, 0.0
        log.append(record)
        display.epoch(record, last)
        if epoch % checkpoint_every == 0:
            save()

    losses = []  # losses of the steps taken but not yet added to run.epoch_loss_sum

    def add_losses():
        for value in losses:  # sequentially, so that a resumed epoch sums in the same order
            run.epoch_loss_sum += float(value)
        losses.clear()

    display = Progress(total_steps, run.step, progress)
    try:
        while True:
            if (
                run.step
                and not run.step % steps_per_epoch
                and len(run.history) < run.step // steps_per_epoch
            ):
                finish_epoch()
            if run.step >= total_steps:
                break
            started = time.perf_counter()
            epoch, offset = divmod(run.step, steps_per_epoch)
            for rows in train_data.batches(
                batch_size, seed=seed, epoch=epoch, start=offset, part=part
            ):
                key = _fold_in(base_key, run.step)
                params, opt_state, value = train_step(
                    state["params"],
                    state["frozen"],
                    state["opt_state"],
                    parallel.global_batch(rows, mesh),
                    key,
                )
                state = {**state, "params": params, "opt_state": opt_state}
                losses.append(value)
                run.step += 1
                display.step()
                if run.step == total_steps:
                    break
            add_losses()
            run.epoch_seconds += time.perf_counter() - started
        save()
    except KeyboardInterrupt:
        # `state` and `run` describe the last completed step: save them so that nothing is lost.
        add_losses()
        save()
        raise
    finally:
        display.close()
        if checkpointer is not None:
            checkpointer.close()
    return current_model(), run.history
