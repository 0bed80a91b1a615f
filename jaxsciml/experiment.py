"""Experiments from a `Config`: data splits, model, optimizer, a training run in a directory,
and evaluation of a finished run. The CLI and the demo are thin layers over these functions.

A run directory holds `config.json` (the resolved configuration), `shapes.json` (the sample
shapes the model was built for), `checkpoints/` (orbax) and `metrics.jsonl`.
"""

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp

from jaxsciml import data as jdata
from jaxsciml.config import Config, ConfigError, from_dict
from jaxsciml.data import Dataset, GaussianNormalizer, Normalized, with_normalizers
from jaxsciml.losses import relative_h1, relative_l2
from jaxsciml.operators import FNO
from jaxsciml.train import evaluate, fit, fno_adam, restore_model


def load_splits(config: Config) -> tuple[Dataset, Dataset, dict[str, Dataset]]:
    """Training set, test set and the extra test sets (`[data] extra_eval`), strided."""
    if not config.data.path:
        raise ConfigError("[data] path is not set: point it at a dataset (jaxsciml datagen ...)")
    dataset = jdata.load(config.data.path).subsample(config.data.stride)
    n_test = min(config.data.n_test, len(dataset) - config.data.n_train)
    train, test = dataset.split(config.data.n_train, max(n_test, 0))
    extra = {name: jdata.load(path) for name, path in config.data.extra_eval.items()}
    if config.data.cache:
        train, test = train.cache(), test.cache()
        extra = {name: data.cache() for name, data in extra.items()}
    return train, test, extra


def build_model(config: Config, input_shape, output_shape, *, key) -> FNO:
    """The operator `[model]` describes, for samples shaped `input_shape -> output_shape`."""
    m = config.model
    if len(m.modes) != len(input_shape) - 1:
        raise ConfigError(
            f"[model] modes {m.modes} has {len(m.modes)} entries but the data have "
            f"{len(input_shape) - 1} spatial axes"
        )
    return FNO(
        input_shape[0],
        output_shape[0],
        m.modes,
        m.width,
        m.depth,
        m.projection_channels,
        padding=m.padding,
        append_grid=m.append_grid,
        key=key,
    )


def _normalizer_shape(config: Config, sample_shape) -> tuple[int, ...]:
    if config.data.normalize == "pointwise":
        return tuple(sample_shape)
    return (sample_shape[0],) + (1,) * (len(sample_shape) - 1)


def normalized_model(config: Config, train: Dataset, *, key) -> Normalized:
    """`build_model` wrapped in normalizers fitted on `train` (per `[data] normalize`)."""
    model = build_model(config, train.input_shape, train.output_shape, key=key)
    fitted = config.data.normalize != "none"
    pointwise = config.data.normalize == "pointwise"
    return with_normalizers(model, train, pointwise=pointwise, inputs=fitted, outputs=fitted)


def model_like(config: Config, input_shape, output_shape) -> Normalized:
    """A model of the trained structure (placeholder values), for restoring a checkpoint."""
    model = build_model(config, input_shape, output_shape, key=jax.random.key(0))
    if config.data.normalize == "none":
        return Normalized(model, None, None)

    def placeholder(shape):
        shape = _normalizer_shape(config, shape)
        return GaussianNormalizer(jnp.zeros(shape), jnp.ones(shape))

    return Normalized(model, placeholder(input_shape), placeholder(output_shape))


def optimizer_for(config: Config, steps_per_epoch: int):
    t = config.train
    return fno_adam(
        steps_per_epoch,
        t.learning_rate,
        decay_every_epochs=t.decay_every_epochs,
        decay_rate=t.decay_rate,
        weight_decay=t.weight_decay,
    )


def train(config: Config, run_dir: str | os.PathLike, *, resume: bool = False, progress=None):
    """Train per `config` into `run_dir` (resuming from its checkpoints with `resume=True`).

    **Returns:** `(model, history)` as `jaxsciml.fit` does.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    train_set, test_set, extra = load_splits(config)
    t = config.train
    saved = run_dir / "config.json"
    if resume and saved.exists() and json.loads(saved.read_text()) != config.to_dict():
        raise ConfigError(
            f"{run_dir} was trained with a different configuration ({saved}); resume with the "
            "same one or train into a new run directory."
        )
    config.save(saved)
    shapes = {"input_shape": train_set.input_shape, "output_shape": train_set.output_shape}
    (run_dir / "shapes.json").write_text(json.dumps(shapes) + "\n")
    model = normalized_model(config, train_set, key=jax.random.key(t.seed))
    eval_sets = {"test": test_set, **extra} if len(test_set) else dict(extra)
    return fit(
        model,
        train_set,
        epochs=t.epochs,
        batch_size=t.batch_size,
        optimizer=optimizer_for(config, train_set.num_batches(t.batch_size)),
        eval_data=eval_sets or None,
        eval_every=t.eval_every,
        metrics={"relative_l2": relative_l2, "relative_h1": relative_h1},
        checkpoint_dir=run_dir / "checkpoints",
        checkpoint_every=t.checkpoint_every,
        keep=t.keep,
        resume=resume,
        seed=t.seed,
        metrics_file=run_dir / "metrics.jsonl",
        progress=progress,
    )


def load_run(run_dir: str | os.PathLike) -> tuple[Config, Normalized]:
    """The configuration and the newest checkpointed model of a training run directory."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a training run (it has no config.json)")
    config = from_dict(json.loads((run_dir / "config.json").read_text()))
    shapes = json.loads((run_dir / "shapes.json").read_text())
    like = model_like(config, shapes["input_shape"], shapes["output_shape"])
    return config, restore_model(run_dir / "checkpoints", like, optimizer_for(config, 1))


def evaluate_run(
    run_dir: str | os.PathLike,
    data_path: str | os.PathLike,
    *,
    stride: int = 1,
    skip: int = 0,
    n: int | None = None,
) -> dict[str, float]:
    """Relative L2 and H1 errors of a trained run on a dataset: its samples from `skip` on (all,
    or `n` of them), at a grid stride. At a finer grid than training, zero-shot super-resolution.
    """
    config, model = load_run(run_dir)
    dataset = jdata.load(data_path).subsample(stride)
    if not 0 <= skip < len(dataset):
        raise ValueError(f"skip must lie in [0, {len(dataset)}), got {skip}")
    dataset = dataset.split(skip)[1]
    if n is not None:
        dataset = dataset.split(min(n, len(dataset)))[0]
    metrics = {"relative_l2": relative_l2, "relative_h1": relative_h1}
    devices = len(jax.devices())
    batch_size = -(-config.train.batch_size // devices) * devices  # a multiple of the devices
    return evaluate(model, dataset, batch_size=batch_size, metrics=metrics)
