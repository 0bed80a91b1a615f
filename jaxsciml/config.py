"""Experiment configuration: TOML files with `[data]`, `[model]` and `[train]` tables.

Every key has a default, so a file (or a `--set section.key=value` on the command line) only
names what differs. An unknown table or key is an error that names the closest valid key.

```toml
[data]
path = "data/darcy64"      # a datagen dataset directory (or a shard file)
n_train = 1000             # the first n_train samples train ...
n_test = 200               # ... and the next n_test test
stride = 1                 # sub-sample the grid by this stride (the FNO papers: 421 -> 85 is 5)
normalize = "pointwise"    # Gaussian normalizers: "pointwise" (FNO), "channel", or "none"
cache = true               # read the (strided) splits into memory once; false streams from disk
extra_eval = {}            # more test sets: name -> dataset path, {"test@128" = "data/darcy128"}

[model]
name = "fno"
modes = [12, 12]
width = 32
depth = 4
projection_channels = 128
padding = 0.0              # fraction of the grid; 0.1 for non-periodic problems such as Darcy
append_grid = true

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
```
"""

import dataclasses
import difflib
import json
import os
import tomllib
from pathlib import Path


class ConfigError(ValueError):
    """A configuration file or override is malformed or names an unknown key."""


@dataclasses.dataclass
class DataConfig:
    path: str = ""
    n_train: int = 1000
    n_test: int = 200
    stride: int = 1
    normalize: str = "pointwise"
    cache: bool = True
    extra_eval: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ModelConfig:
    name: str = "fno"
    modes: list = dataclasses.field(default_factory=lambda: [12, 12])
    width: int = 32
    depth: int = 4
    projection_channels: int = 128
    padding: float = 0.0
    append_grid: bool = True


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


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
NORMALIZERS = ("pointwise", "channel", "none")
MODELS = ("fno",)


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
    if config.model.name not in MODELS:
        raise ConfigError(f"[model] name must be one of {MODELS}, got {config.model.name!r}")
    if not config.model.modes or not all(isinstance(m, int) and m > 0 for m in config.model.modes):
        raise ConfigError(
            f"[model] modes must be a list of positive ints, got {config.model.modes}"
        )
    for key in ("n_train", "stride"):
        if getattr(config.data, key) < 1:
            raise ConfigError(f"[data] {key} must be positive")
    for key in ("epochs", "batch_size", "eval_every", "checkpoint_every", "keep"):
        if getattr(config.train, key) < 1:
            raise ConfigError(f"[train] {key} must be positive")


def parse_override(text: str) -> tuple[str, str, object]:
    """`"section.key=value"` with `value` in TOML syntax (bare words are strings)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"an override looks like section.key=value, got {text!r}")
    name, value = text.split("=", 1)
    section, key = name.strip().split(".", 1)
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return section, key, parsed


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
