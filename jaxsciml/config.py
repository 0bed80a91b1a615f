"""Experiment configuration: TOML files with `[data]`, `[model]` and `[train]` tables.

Every key has a default, so a file (or a `--set section.key=value` on the command line) only
names what differs. An unknown table or key is an error that names the closest valid key.

```toml
[data]
path = "data/darcy64"      # a dataset: datagen shards, The Well, PDEBench, .pt, .mat, HDF5/NPZ
format = ""                # "" recognises it by its content; the_well, pdebench, torch, ...
options = {}               # the format's options (jaxsciml.data.load): time series are cut into
                           # windows, {n_steps_input = 1, n_steps_output = 4, stride = 1};
                           # plain files need {inputs = "a", outputs = "u", layout = "n h w"}
n_train = 1000             # the first n_train samples train ...
n_test = 200               # ... and the next n_test test
stride = 1                 # sub-sample the grid by this stride (the FNO papers: 421 -> 85 is 5)
normalize = "pointwise"    # Gaussian normalizers: "pointwise" (FNO), "channel", or "none"
cache = true               # read the (strided) splits into memory once; false streams from disk
extra_eval = {}            # more test sets: name -> dataset path, {"test@128" = "data/darcy128"}
sensor_stride = 1          # point models (DeepONet, MultiONet): sensors every k grid points
sensors = ""               # point models: or an index over the input grid, ":, 0" = t index 0
points_per_step = 0        # point models: random query points per step (0: all)
generate = {}              # when path does not exist: a datagen family and its options that
                           # make it, {name = "darcy", resolution = 421} (`jaxsciml datagen --help`)
pde = {}                   # physics-informed models (PIG, PINN): the problem, no dataset,
                           # {name = "helmholtz", a1 = 4.0} (jaxsciml.physics.PDES)
collocation = {}           # their points: {interior = 4096, boundary = 0, initial = 0,
                           # resample_every = 1, reference = 50 (test grid points per axis)}
online = {}                # train while the generate family's solvers run (jaxsciml.data.
                           # OnlineDataset): {samples = 5000, policy = "reservoir", capacity =
                           # 500, workers = 2, keep = false, ...}; path then holds the n_test
                           # test samples only, and the stream draws its own (seed 1)

[model]                    # any registered family (`jaxsciml models`) and its hyperparameters;
name = "fno"               # the data fill in channels, grid and sensors
modes = [12, 12]
width = 32
padding = 0.0              # fraction of the grid; 0.1 for non-periodic problems such as Darcy

[train]
epochs = 500
batch_size = 20
learning_rate = 1e-3
decay_every_epochs = 100
decay_rate = 0.5
weight_decay = 1e-4
seed = 0
eval_every = 1
checkpoint_every = 10
keep = 3
loss = ""                  # "" = the family's paper loss; relative_l2, mse, frequency_relative_l2,
                           # physics (weights: loss_options = {residual_weight = 1e-4}), sobolev
                           # (periodic fields, loss_options = {s = -1.0}: Spectral-Refiner's;
                           # {s = 1.0, lengths = 6.283185307179586, cutoff = 20}: MgNO's H1),
                           # vorticity_residual (no target: the Navier-Stokes estimator,
                           # {viscosity = 1e-3, frame_interval = 0.2, forcing = "fno"})
optimizer = ""             # "" = the family's recipe; fno_adam (Adam, L2 weight decay, step
                           # decay), adam, adamw, adam_step_decay (no weight decay),
                           # adamw_step_decay (decoupled weight decay, step decay),
                           # adam_one_cycle (one cosine cycle peaking at learning_rate),
                           # mgno_adam (L2 weight decay, one cycle over the epochs)
loggers = []               # besides RUN/metrics.jsonl: "tensorboard" (RUN/tensorboard), "wandb"
wandb = {}                 # wandb.init options: {project = "darcy", mode = "offline"}
```
"""

import dataclasses
import difflib
import json
import math
import os
import tomllib
from pathlib import Path


class ConfigError(ValueError):
    """A configuration file or override is malformed or names an unknown key."""


@dataclasses.dataclass
class DataConfig:
    path: str = ""
    format: str = ""  # "" recognises it; else one of jaxsciml.data.formats.OPENERS
    options: dict = dataclasses.field(default_factory=dict)  # the format's (e.g. n_steps_output)
    n_train: int = 1000
    n_test: int = 200
    stride: int = 1
    normalize: str = "pointwise"
    cache: bool = True
    extra_eval: dict = dataclasses.field(default_factory=dict)
    sensor_stride: int = 1  # point models: every sensor_stride-th input grid point is a sensor
    sensors: str = ""  # point models: an index over the input grid instead, e.g. ":, 0"
    points_per_step: int = 0  # point models: query points per step (0: every grid point)
    generate: dict = dataclasses.field(default_factory=dict)  # datagen family making `path`
    pde: dict = dataclasses.field(default_factory=dict)  # physics-informed models: the problem
    collocation: dict = dataclasses.field(default_factory=dict)  # and their points
    online: dict = dataclasses.field(default_factory=dict)  # stream the generate family


def _default_model() -> dict:
    return {"name": "fno", "modes": [12, 12]}


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 500
    batch_size: int = 20
    learning_rate: float = 1e-3
    decay_every_epochs: int = 100
    decay_rate: float = 0.5
    weight_decay: float = 1e-4
    seed: int = 0
    eval_every: int = 1
    checkpoint_every: int = 10
    keep: int = 3
    loss: str = ""  # "" takes the model family's default (jaxsciml models lists them)
    loss_options: dict = dataclasses.field(default_factory=dict)  # e.g. the physics loss weights
    optimizer: str = ""  # one of OPTIMIZERS; "" takes the family's default
    loggers: list = dataclasses.field(default_factory=list)  # of LOGGERS, besides metrics.jsonl
    wandb: dict = dataclasses.field(default_factory=dict)  # wandb.init options


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: dict = dataclasses.field(default_factory=_default_model)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


SECTIONS = {"data": DataConfig, "model": dict, "train": TrainConfig}
NORMALIZERS = ("pointwise", "channel", "none")
LOSSES = (
    "",
    "relative_l2",
    "mse",
    "frequency_relative_l2",
    "physics",
    "sobolev",
    "vorticity_residual",
)
LOGGERS = ("tensorboard", "wandb")
OPTIMIZERS = (
    "",
    "fno_adam",
    "adam",
    "adamw",
    "adam_step_decay",
    "adamw_step_decay",
    "adam_one_cycle",
    "mgno_adam",
)


TINY = 5e-324  # the smallest positive float: "> 0" as a closed bound
RANGES = (
    ("data", "n_train", 1, math.inf),
    ("data", "n_test", 0, math.inf),
    ("data", "stride", 1, math.inf),
    ("data", "sensor_stride", 1, math.inf),
    ("data", "points_per_step", 0, math.inf),
    ("train", "epochs", 1, math.inf),
    ("train", "batch_size", 1, math.inf),
    ("train", "learning_rate", TINY, math.inf),
    ("train", "decay_every_epochs", 1, math.inf),
    ("train", "decay_rate", TINY, 1.0),
    ("train", "weight_decay", 0.0, math.inf),
    ("train", "seed", 0, 2**63 - 1),
    ("train", "eval_every", 1, math.inf),
    ("train", "checkpoint_every", 1, math.inf),
    ("train", "keep", 1, math.inf),
)
"""`(section, key, low, high)`: the closed range of every numeric setting."""
COLLOCATION_LOWEST = {
    "interior": 1,
    "boundary": 0,
    "initial": 0,
    "resample_every": 1,
    "reference": 2,
}


def _unknown(kind: str, name: str, known) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown {kind} {name!r}{hint} Known: {', '.join(sorted(known))}")


def _coerce(section: str, key: str, value, default):
    """Check `value` against the type of the field's default (ints are accepted as floats)."""
    expected = type(default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(
            f"[{section}] {key} must be a {expected.__name__}, got {value!r} "
            f"({type(value).__name__})"
        )
    return value


def from_dict(raw: dict) -> Config:
    """Build and check a `Config` from nested tables (as `tomllib` returns them)."""
    config = Config()
    for section, table in raw.items():
        if section not in SECTIONS:
            raise _unknown("table", section, SECTIONS)
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] must be a table of keys, got {table!r}")
        if section == "model":
            if "name" in table and table["name"] != config.model["name"]:
                config.model = {"name": table["name"]}  # another family: its own defaults
            config.model.update(table)
            continue
        target = getattr(config, section)
        fields = {f.name for f in dataclasses.fields(target)}
        for key, value in table.items():
            if key not in fields:
                raise _unknown(f"key in [{section}]", key, fields)
            setattr(target, key, _coerce(section, key, value, getattr(target, key)))
    validate(config)
    return config


def validate(config: Config) -> None:
    if config.data.normalize not in NORMALIZERS:
        raise ConfigError(f"[data] normalize must be one of {NORMALIZERS}")
    from jaxsciml.data.formats import OPENERS

    if config.data.format and config.data.format not in OPENERS:
        raise ConfigError(f'[data] format must be one of {sorted(OPENERS)} (or "" to recognise it)')
    from jaxsciml import registry

    try:
        family = registry.family(str(config.model.get("name")))
        hyperparameters = {k: v for k, v in config.model.items() if k != "name"}
        family.arguments(hyperparameters, {})
    except ValueError as error:
        raise ConfigError(str(error)) from error
    if config.train.loss not in LOSSES:
        raise ConfigError(f"[train] loss must be one of {LOSSES[1:]}, got {config.train.loss!r}")
    unknown = sorted(set(config.train.loggers) - set(LOGGERS))
    if unknown:
        raise ConfigError(f"[train] loggers must be among {LOGGERS}, not {unknown}")
    if config.train.optimizer not in OPTIMIZERS:
        raise ConfigError(
            f"[train] optimizer must be one of {OPTIMIZERS[1:]}, got {config.train.optimizer!r}"
        )
    for section, key, low, high in RANGES:
        value = getattr(getattr(config, section), key)
        if not (math.isfinite(value) and low <= value <= high):
            raise ConfigError(f"[{section}] {key} must be in [{low}, {high}], got {value!r}")
    parse_index(config.data.sensors)
    if config.data.generate:
        data_generator(config.data.generate)
    collocation_settings(config.data.collocation)
    if config.data.online:
        online_settings(config.data)
    if config.data.pde:
        physics_problem(config.data.pde)
    elif family.data == "collocation":
        raise ConfigError(
            f"[model] {family.name} learns from a PDE: set [data] pde = {{name = ...}}"
        )


def parse_index(text: str) -> tuple:
    """A NumPy index over grid axes from text: `":, 0"` is `np.s_[:, 0]`, `"::2, ::2"` is
    `np.s_[::2, ::2]`; empty text is the empty index."""
    if not text.strip():
        return ()
    parts = []
    for part in text.split(","):
        part = part.strip()
        try:
            if ":" in part:
                bounds = [int(b) if b.strip() else None for b in part.split(":")]
                if len(bounds) > 3:
                    raise ValueError(part)
                parts.append(slice(*bounds))
            else:
                parts.append(int(part))
        except ValueError:
            raise ConfigError(
                f"[data] sensors must be an index such as ':, 0' or '::2, ::2', got {text!r}"
            ) from None
    return tuple(parts)


COLLOCATION = {"interior": 4096, "boundary": 0, "initial": 0, "resample_every": 1, "reference": 50}


def collocation_settings(table: dict) -> dict:
    """`[data] collocation` with its defaults filled in (checked)."""
    unknown = sorted(set(table) - set(COLLOCATION))
    if unknown:
        raise _unknown("key in [data] collocation", unknown[0], COLLOCATION)
    settings = {**COLLOCATION, **table}
    for key, value in settings.items():
        _coerce("data.collocation", key, value, COLLOCATION[key])
        if value < COLLOCATION_LOWEST[key]:
            raise ConfigError(
                f"[data] collocation {key} must be at least {COLLOCATION_LOWEST[key]}, got {value}"
            )
    return settings


ONLINE = {  # [data] online: OnlineDataset's settings and their types (None: a number or unset)
    "samples": int, "policy": str, "capacity": int, "watermark": int, "new_per_step": float,
    "max_reuse": int, "epoch_size": int, "workers": int, "lookahead": int, "shard_size": int,
    "keep": bool,
}  # fmt: skip


def online_settings(data: DataConfig) -> dict:
    """`[data] online`, checked: the keyword arguments of `jaxsciml.data.OnlineDataset`."""
    table = data.online
    unknown = sorted(set(table) - set(ONLINE))
    if unknown:
        raise _unknown("key in [data] online", unknown[0], ONLINE)
    if "samples" not in table:
        raise ConfigError("[data] online needs samples = N, the solver budget of the stream")
    if not data.generate:
        raise ConfigError("[data] online streams the [data] generate family: set its table")
    if data.stride != 1:
        raise ConfigError("[data] online streams the generator's grid: leave [data] stride at 1")
    for key, value in table.items():
        _coerce("data.online", key, value, ONLINE[key]())
    from jaxsciml.data.online import OnlineDataset

    try:  # checks the settings; starts nothing
        OnlineDataset(data_generator(data.generate), directory="unused", **table)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[data] online: {error}") from error
    return dict(table)


def physics_problem(table: dict):
    """The `jaxsciml.physics.PDE` a `[data] pde` table describes (checked)."""
    from jaxsciml.physics import PDES

    options = dict(table)
    name = options.pop("name", None)
    if name not in PDES:
        raise _unknown("PDE in [data] pde", str(name), PDES)
    try:
        return PDES[name](**options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[data] pde {name}: {error}") from error


def data_generator(table: dict):
    """The `datagen.Generator` a `[data] generate` table describes (checked)."""
    import datagen

    options = dict(table)
    name = options.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(
            f"[data] generate needs a name, one of {', '.join(datagen.FAMILIES)}, got {table!r}"
        )
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    try:
        return datagen.family(name).make(**options)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[data] generate: {error}") from error


def parse_override(text: str) -> tuple[str, str, object]:
    """`"section.key=value"` with `value` in TOML syntax (bare words are strings)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"an override looks like section.key=value, got {text!r}")
    name, value = text.split("=", 1)
    section, key = name.strip().split(".", 1)
    return section, key, toml_value(value)


def toml_value(text: str) -> object:
    """`text` read as a TOML value (`4`, `1e-3`, `[8, 8]`, `true`); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def load(path: str | os.PathLike | None = None, overrides=()) -> Config:
    """The configuration in the TOML file `path` (defaults when `None`) with `overrides`
    (`"section.key=value"` strings, or `(section, key, value)` triples) applied."""
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"configuration file {path} does not exist")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path} is not valid TOML: {error}") from error
    for override in overrides:
        section, key, value = parse_override(override) if isinstance(override, str) else override
        raw.setdefault(section, {})[key] = value
    return from_dict(raw)
