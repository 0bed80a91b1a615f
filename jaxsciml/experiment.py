"""Experiments from a `Config`: data splits, any registered model, loss and optimizer, a training
run in a directory, and evaluation of a finished run. The CLI and the demo are thin layers.

A run directory holds `config.json` (the resolved configuration), `initial.jsm` (the model as
built, a model file: the skeleton checkpoints restore into), `checkpoints/` (orbax),
`metrics.jsonl`, and `model.jsm` (the trained model) once training ends.
"""

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import jax
import numpy as np
import optax

from datagen.format import DatasetFileError, list_shards
from jaxsciml import data as jdata, losses, registry
from jaxsciml.config import (
    Config,
    ConfigError,
    collocation_settings,
    data_generator,
    from_dict,
    online_settings,
    parse_index,
    physics_problem,
)
from jaxsciml.data import Dataset, OnlineDataset, PointDataset
from jaxsciml.losses import relative_h1, relative_l2
from jaxsciml.operators import with_normalizers
from jaxsciml.operators.dgno import DGNOLoss, unlabelled
from jaxsciml.operators.files import load_model, save_model
from jaxsciml.physics import (
    AllenCahn,
    Box,
    Collocation,
    PhysicsLoss,
    ReferenceSolution,
    VorticityResidualLoss,
    WeakForm,
    allen_cahn_reference,
)
from jaxsciml.report import FIGURES, read_history, write_evaluation, write_run_report
from jaxsciml.train import (
    Checkpointing,
    Evaluation,
    evaluate,
    fit,
    fno_adam,
    mgno_adam,
    restore_model,
)


LOSSES = {
    "relative_l2": losses.relative_l2_loss,
    "mse": losses.mse_loss,
    "frequency_relative_l2": lambda model, batch, key: losses.frequency_relative_l2(
        model, batch, key
    ),
}

GENERATE_SEED = 0  # the seed of datasets made from [data] generate (datagen.generate's default)
ONLINE_SEED = 1  # the seed of the samples an online run streams (disjoint from the test set's)
HEAD_SAMPLES = 256  # an online run's normalizers: statistics of the stream's first samples
DGNO_RADIUS = 1e-4  # the support of DGNO's test functions in its paper's code


def ensure_data(config: Config, *, progress=None) -> None:
    """Generate the configured dataset (`n_train + n_test` samples of the `[data] generate`
    family into `[data] path`) when it is not complete yet; resumes an interrupted generation.
    Complete data made by other settings are refused, not reused."""
    import datagen

    d = config.data
    if not d.generate or not d.path:
        return
    generator = data_generator(d.generate)
    if not _complete(config, d.path):
        n = d.n_test if d.online else d.n_train + d.n_test
        datagen.generate(generator, n, d.path, seed=GENERATE_SEED, progress=progress is not False)
        return
    made, wanted = list_shards(d.path)[0].provenance, generator.provenance(GENERATE_SEED)
    if made != wanted:
        raise ConfigError(
            f"{d.path} holds {made.problem} data made with {dict(made.parameters)}, not the "
            f"[data] generate table's {wanted.problem} with {dict(wanted.parameters)}: point "
            "[data] path at another directory."
        )


def _complete(config: Config, path: str | os.PathLike) -> bool:
    """Whether `path` holds a complete dataset (read as `[data]` says)."""
    try:
        load_data(config, path)
    except DatasetFileError:
        return False
    return True


def load_data(config: Config, path: str | os.PathLike) -> Dataset:
    """The dataset at `path`, in `[data] format` (recognised when empty) with its `options`."""
    return jdata.load(path, format=config.data.format or None, **config.data.options)


def load_splits(config: Config) -> tuple[Dataset, Dataset, dict[str, Dataset]]:
    """Training set, test set and the extra test sets (`[data] extra_eval`), strided."""
    if not config.data.path:
        raise ConfigError("[data] path is not set: point it at a dataset (jaxsciml datagen ...)")
    dataset = load_data(config, config.data.path).subsample(config.data.stride)
    n_test = min(config.data.n_test, len(dataset) - config.data.n_train)
    train, test = dataset.split(config.data.n_train, max(n_test, 0))
    if config.data.cache:
        train, test = train.cache(), test.cache()
    return train, test, extra_eval_sets(config)


def training_data(config: Config, *, progress=None, stream_dir=None):
    """`(train, evaluation sets)` in the form the configured family trains on: pairs of fields,
    sensor values and query points, collocation points of a PDE with its exact solution as
    the test set, or samples streamed from running solvers (`[data] online`, kept in
    `stream_dir`). Makes the configured dataset first when it is missing (`[data] generate`)."""
    if registry.family(config.model["name"]).data == "collocation":
        return collocation_data(config)
    if config.data.online:
        return online_data(config, stream_dir, progress=progress)
    ensure_data(config, progress=progress)
    train_set, test_set, extra = load_splits(config)
    evaluation = {"test": test_set, **extra} if len(test_set) else dict(extra)
    evaluation = {name: as_family_data(config, d, training=False) for name, d in evaluation.items()}
    return as_family_data(config, train_set, training=True), evaluation


def online_data(config: Config, directory, *, progress=None):
    """`[data] online`: an `OnlineDataset` of the `[data] generate` family (seed `ONLINE_SEED`,
    its order, race and kept shards in `directory`), and the `n_test` samples at `[data] path`
    (seed `GENERATE_SEED`) as the test set."""
    family = registry.family(config.model["name"])
    if family.data != "grid":
        raise ConfigError(f"[data] online streams grid pairs; [model] {family.name} trains on "
                          f"{family.data}")  # fmt: skip
    d = config.data
    ensure_data(config, progress=progress)
    evaluation = dict(extra_eval_sets(config))
    if d.path and d.n_test:
        test = load_data(config, d.path)
        evaluation = {"test": test.take(np.arange(min(d.n_test, len(test)))).cache(), **evaluation}
    stream = OnlineDataset(
        data_generator(d.generate), seed=ONLINE_SEED, directory=directory,
        progress=progress is not False, **online_settings(d),
    )  # fmt: skip
    return stream, evaluation


def extra_eval_sets(config: Config) -> dict[str, Dataset]:
    """`[data] extra_eval`: name -> dataset, read into memory as `[data] cache` says."""
    extra = {name: load_data(config, path) for name, path in config.data.extra_eval.items()}
    return {name: data.cache() for name, data in extra.items()} if config.data.cache else extra


def collocation_data(config: Config):
    """`[data] collocation` points in the domain of `[data] pde`, and its exact (or numerical)
    solution on a grid of `reference` points per axis as the test set, when it has one."""
    problem = physics_problem(config.data.pde)
    settings = collocation_settings(config.data.collocation)
    points = Collocation(
        problem.domain,
        settings["interior"],
        boundary=settings["boundary"],
        initial=settings["initial"],
        resample_every=settings["resample_every"],
    )
    if problem.has_exact:
        return points, {"test": ReferenceSolution.from_problem(problem, settings["reference"])}
    if isinstance(problem, AllenCahn):
        return points, {"test": allen_cahn_reference(problem)}
    return points, {}


def as_family_data(config: Config, data: Dataset, *, training: bool):
    """`data` in the form the configured family trains on: grids as they are, the input fields
    alone for unlabelled training (test sets keep their solutions), or sensor values and query
    points for branch-trunk models."""
    kind = registry.family(config.model["name"]).data
    if kind == "fields" and training:
        return unlabelled(data.read(np.arange(len(data))).inputs, data.grid)
    if kind in ("grid", "fields"):
        return data
    k = config.data.sensor_stride
    sensors = parse_index(config.data.sensors) or tuple(slice(None, None, k) for _ in data.grid)
    per_step = config.data.points_per_step if training and config.data.points_per_step else None
    view = PointDataset(data, sensors=sensors, points_per_step=per_step)
    return view.cache() if config.data.cache else view


def derived_arguments(config: Config, train) -> dict:
    """The constructor arguments the training data fix, for the configured family."""
    family = registry.family(config.model["name"])
    if family.data == "grid":
        values = {
            "in_channels": train.input_shape[0],
            "out_channels": train.output_shape[0],
            "resolution": train.input_shape[1:],
        }
    elif family.data == "fields":
        values = {
            "a_samples": train.read(np.arange(len(train))).inputs,
            "domain": Box([g[0] for g in train.grid], [g[-1] for g in train.grid]),
        }
    elif family.data == "collocation":
        values = {"domain": train.domain}
    else:
        values = {
            "sensors": train.num_sensors,
            "coordinates": train.coordinates,
            "out_channels": train.out_channels,
        }
    return {name: values[name] for name in family.derived}


def build_model(config: Config, train, *, key):
    """The `[model]` family built for `train` (normalized per `[data] normalize` for grids)."""
    family = registry.family(config.model["name"])
    table = {k: v for k, v in config.model.items() if k != "name"}
    try:
        model = family.build(**family.arguments(table, derived_arguments(config, train)), key=key)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[model] {family.name}: {error}") from error
    if family.data != "grid" or config.data.normalize == "none":
        return model
    pointwise = config.data.normalize == "pointwise"
    return with_normalizers(model, train, pointwise=pointwise)


def loss_for(config: Config, model):
    """The configured loss (`[train] loss`, or the family's) for `model`, with its
    `loss_options`. The DGNO loss takes `radius` (the test functions' support, paper 1e-4) and
    the options of `DGNOLoss`; its weak form lives on the model's domain."""
    name = config.train.loss or registry.family(config.model["name"]).loss
    options = dict(config.train.loss_options)
    if name == "physics" and not config.data.pde:
        raise ConfigError("[train] loss 'physics' needs [data] pde = {name = ...}")
    try:
        if name == "physics":
            return PhysicsLoss(physics_problem(config.data.pde), **options)
        if name == "dgno":
            quadrature = {k: options.pop(k) for k in ("quadrature", "grid_points") if k in options}
            weak_form = WeakForm(model.domain, options.pop("radius", DGNO_RADIUS), **quadrature)
            return DGNOLoss(weak_form, **options)
        if name == "sobolev":
            return losses.SobolevLoss(**options)
        if name == "vorticity_residual":
            return VorticityResidualLoss(**options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[train] loss_options: {error}") from error
    if options:
        raise ConfigError(f"[train] loss {name!r} takes no loss_options, got {options}")
    return LOSSES[name]


def optimizer_for(config: Config, steps_per_epoch: int) -> optax.GradientTransformation:
    """The configured optimizer (`[train] optimizer`, or the family's recipe). The step decays
    multiply the learning rate by `decay_rate` every `decay_every_epochs` epochs."""
    t = config.train
    name = t.optimizer or registry.family(config.model["name"]).optimizer
    every = max(1, t.decay_every_epochs * steps_per_epoch)
    step_decay = optax.exponential_decay(t.learning_rate, every, t.decay_rate, staircase=True)
    if name == "adam":
        return optax.adam(t.learning_rate)
    if name == "adamw":
        return optax.adamw(t.learning_rate, weight_decay=t.weight_decay)
    if name == "adam_step_decay":
        return optax.adam(step_decay)
    if name == "adam_one_cycle":  # PyTorch's OneCycleLR as Spectral-Refiner's code sets it
        total = max(2, t.epochs * steps_per_epoch)
        return optax.adam(optax.cosine_onecycle_schedule(
            total, t.learning_rate, div_factor=1e3, final_div_factor=1e4))  # fmt: skip
    if name == "mgno_adam":  # MgNO's darcy.py: one cycle over epochs, coupled weight decay
        return mgno_adam(steps_per_epoch, t.epochs, t.learning_rate, weight_decay=t.weight_decay)
    if name == "adamw_step_decay":  # decoupled weight decay, scaled by the learning rate
        return optax.adamw(step_decay, weight_decay=t.weight_decay)
    return fno_adam(
        steps_per_epoch,
        t.learning_rate,
        decay_every_epochs=t.decay_every_epochs,
        decay_rate=t.decay_rate,
        weight_decay=t.weight_decay,
    )


def _metrics(config: Config) -> dict | None:
    """Grids (and the solutions of unlabelled training): relative L2 and H1; points: relative
    L2; collocation: the test set's own."""
    kind = registry.family(config.model["name"]).data
    if kind in ("grid", "fields"):
        return {"relative_l2": relative_l2, "relative_h1": relative_h1}
    return {"relative_l2": relative_l2} if kind == "points" else None


def _check_run_dir(run_dir: Path, config: Config, resume: bool) -> None:
    """Refuse, before anything is written, to overwrite a run, to resume it with another
    configuration, or to write where a file stands in the way."""
    for path, kind in ((run_dir, "directory"), (run_dir / "checkpoints", "directory")):
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{path} is a file, where the run needs a {kind}; move it away")
    for name in ("config.json", "initial.jsm", "model.jsm", "metrics.jsonl"):
        if (run_dir / name).is_dir():
            raise ConfigError(f"{run_dir / name} is a directory, where the run writes a file")
    saved = run_dir / "config.json"
    if resume and saved.exists() and json.loads(saved.read_text()) != config.to_dict():
        raise ConfigError(
            f"{run_dir} was trained with a different configuration ({saved}); resume with the "
            "same one or train into a new run directory."
        )
    checkpoints = run_dir / "checkpoints"
    if not resume and checkpoints.is_dir() and any(checkpoints.iterdir()):
        raise ConfigError(
            f"{run_dir} already holds a training run; resume it (--resume, or resume=True) or "
            "train into a new run directory."
        )


def train(
    config: Config,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    progress=None,
    mesh=None,
    report: bool = True,
):
    """Train per `config` into `run_dir` (resuming from its checkpoints with `resume=True`), on
    the devices of `mesh` (default: all).

    **Returns:** `(model, history)` as `jaxsciml.fit` does; the model is also written to
    `run_dir/model.jsm`, and with `report` the run's `evaluation.json` and `figures/`
    (`jaxsciml.report`).
    """
    run_dir = Path(run_dir)
    _check_run_dir(run_dir, config, resume)
    train_data, eval_sets = training_data(config, progress=progress, stream_dir=run_dir / "stream")
    try:
        model, history = _train(config, run_dir, train_data, eval_sets, resume, progress, mesh)
    finally:
        if isinstance(train_data, OnlineDataset):
            train_data.close()
    save_model(run_dir / "model.jsm", model)
    if report and jax.process_index() == 0:
        write_run_report(run_dir, model, eval_sets, history)
    return model, history


def _train(config: Config, run_dir: Path, train_data, eval_sets, resume, progress, mesh):
    t = config.train
    saved = run_dir / "config.json"
    examples = train_data
    if isinstance(train_data, OnlineDataset):  # shapes and normalizers from its first samples
        examples = train_data.head(min(HEAD_SAMPLES, train_data.capacity))
    model = build_model(config, examples, key=jax.random.key(t.seed))
    if not (resume and saved.exists()):  # a resumed run keeps the files it started with
        run_dir.mkdir(parents=True, exist_ok=True)
        config.save(saved)
        save_model(run_dir / "initial.jsm", model)
    return fit(
        model,
        train_data,
        epochs=t.epochs,
        batch_size=t.batch_size,
        loss=loss_for(config, model),
        optimizer=optimizer_for(config, train_data.num_batches(t.batch_size)),
        evaluation=Evaluation(eval_sets, every=t.eval_every, metrics=_metrics(config))
        if eval_sets
        else None,
        checkpointing=Checkpointing(
            run_dir / "checkpoints", every=t.checkpoint_every, keep=t.keep, resume=resume
        ),
        logger=run_loggers(config, run_dir),
        seed=t.seed,
        progress=progress,
        mesh=mesh,
    )


def run_loggers(config: Config, run_dir: Path) -> list:
    """`RUN/metrics.jsonl`, and what `[train] loggers` adds: TensorBoard event files in
    `RUN/tensorboard`, a wandb run (`[train] wandb`: its init options; the configuration is
    its config, the run directory's name its name unless given)."""
    from jaxsciml.train import MetricsFile, TensorBoardLogger, WandbLogger

    loggers = [MetricsFile(run_dir / "metrics.jsonl")]
    if "tensorboard" in config.train.loggers:
        loggers.append(TensorBoardLogger(run_dir / "tensorboard"))
    if "wandb" in config.train.loggers:
        init = {"name": run_dir.name, "config": config.to_dict(), **config.train.wandb}
        loggers.append(WandbLogger(**init))
    return loggers


def plot_run(run_dir: str | os.PathLike) -> Path:
    """Redraw a run's figures (and `evaluation.json`) from its newest checkpoint, its metrics
    log and its configured test data, which must still be there. Returns the figures' folder."""
    run_dir = Path(run_dir)
    config, model = load_run(run_dir)
    path = Path(config.data.path) if config.data.path else None
    if path is not None and not _complete(config, path):
        raise ConfigError(f"{run_dir} was tested on {path}, which is gone or incomplete")
    _, eval_sets = training_data(config, progress=False)
    write_run_report(run_dir, model, eval_sets, read_history(run_dir))
    return run_dir / FIGURES


def load_run(run_dir: str | os.PathLike):
    """The configuration and the newest checkpointed model of a training run directory."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a training run (it has no config.json)")
    config = from_dict(json.loads((run_dir / "config.json").read_text()))
    skeleton = load_model(run_dir / "initial.jsm")
    return config, restore_model(run_dir / "checkpoints", skeleton)


def evaluate_run(
    source: str | os.PathLike,
    data_path: str | os.PathLike,
    *,
    stride: int = 1,
    skip: int = 0,
    n: int | None = None,
    out: str | os.PathLike | None = None,
    format: str | None = None,
    options: dict | None = None,
) -> dict[str, float]:
    """Errors of a trained model (a run directory, or a grid model's `.jsm` file) on a dataset:
    its samples from `skip` on (all, or `n` of them), at a grid stride. At a finer grid than
    training, zero-shot super-resolution. With `out`, also writes the scores to
    `out/evaluation-<dataset>.json` and a sample's figure to `out/figures/`. The dataset is
    read as the run's `[data] format` and `options` say, unless `format` or `options` are given
    (`jaxsciml.data.load`'s)."""
    if Path(source).is_file():
        config, model = Config(), load_model(source)
    else:
        config, model = load_run(source)
    if format is not None or options is not None:
        reading = {"format": format or "", "options": dict(options or {})}
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, **reading))
    dataset = load_data(config, data_path).subsample(stride)
    if not 0 <= skip < len(dataset):
        raise ValueError(f"skip must lie in [0, {len(dataset)}), got {skip}")
    dataset = dataset.split(skip)[1]
    if n is not None:
        dataset = dataset.split(min(n, len(dataset)))[0]
    data = as_family_data(config, dataset, training=False)
    devices = len(jax.devices())
    batch_size = -(-config.train.batch_size // devices) * devices  # a multiple of the devices
    scores = evaluate(model, data, batch_size=batch_size, metrics=_metrics(config))
    if out is not None:
        name = Path(data_path).name + (f"-stride{stride}" if stride != 1 else "")
        model_name = Path(source).stem if Path(source).is_file() else Path(source).name
        write_evaluation(Path(out), name, scores, model, data, model_name)
    return scores


def check(config: Config, *, progress=False, mesh=None) -> dict:
    """Validate `config` and train two steps on a handful of samples of its data, in a
    temporary directory, so that a cluster job fails on a laptop rather than after a queue.
    When the configured dataset does not exist, a handful of samples are made by the quick
    version of its `[data] generate` family (`datagen.Generator.quick`: the same shapes, cheap
    solves; Darcy at 65x65 when no family is configured). Returns the last record."""
    import datagen

    devices = len(jax.devices() if mesh is None else mesh.devices.flat)
    batch = devices * max(1, 4 // devices)
    with tempfile.TemporaryDirectory() as tmp:
        # an online run is checked on stored quick data: its stream settings were checked
        # when the configuration was read
        data = dataclasses.replace(
            config.data, n_train=2 * batch, n_test=batch, extra_eval={}, online={}
        )
        if config.data.pde:  # two steps of `batch` points; a coarse test grid
            few = {"interior": 2 * batch, "reference": 8}
            bounded = {
                k: min(config.data.collocation.get(k, 0), 4) for k in ("boundary", "initial")
            }
            data.collocation = {**config.data.collocation, **few, **bounded}
        elif not _complete(config, config.data.path or ""):
            data.path, data.stride, data.generate = str(Path(tmp) / "data"), 1, {}
            generator = (
                data_generator(config.data.generate).quick()
                if config.data.generate
                else datagen.LinearGenerator(datagen.Darcy(resolution=65), solver="direct")
            )
            datagen.generate(generator, 3 * batch, data.path, workers=1, progress=False)
        small = Config(
            data=data,
            model=dict(config.model),
            train=dataclasses.replace(config.train, epochs=1, batch_size=batch),
        )
        _, history = train(small, Path(tmp) / "run", progress=progress, mesh=mesh, report=False)
    return history[-1]
