"""What every data family declares to the one shard driver (`datagen.shards.write_dataset`).

A generator is a frozen dataclass whose fields are the family's settings (so `jaxsciml datagen
--help` lists them from the registry) and that makes the samples of one shard on request:

    class Antiderivative(Generator):
        name = "antiderivative"
        sensors: int = 100

        def provenance(self, seed): ...      # what regenerates the data, stored in every shard
        def grid(self): ...                  # one 1-D coordinate array per spatial axis
        def make_shard(self, seed, indices, progress): ...   # -> ShardContent

Sample `i` is drawn from `sample_rng(seed, i)` whatever the order or machine it is made on, so any
shard can be made anywhere. Generators that profit from an order (SKR's sorting) or from choices
made on the first samples (the `auto` solver race) override `order` and `prepared`.
"""

import abc
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from datagen.format import Provenance


Progress = Callable[[int, int], None]
"""`progress(samples, iterations)`: called as samples are finished (iterations: solver work)."""


def check_finite(settings) -> None:
    """Refuse a settings dataclass with a NaN or an infinity in a number field (or a tuple of
    numbers): every range check downstream would pass it silently."""
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if isinstance(v, float) and not np.isfinite(v):
                raise ValueError(f"{type(settings).__name__} {field.name} must be finite, got {v}")


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of sample `index`, whatever the order or machine it is made on."""
    return np.random.default_rng([seed, index])


@dataclasses.dataclass(frozen=True)
class ShardContent:
    """One shard's samples as a generator made them.

    **Fields:** `inputs` `(n, c_in, *spatial)` and `outputs` `(n, c_out, *spatial)`;
    `sample_index` `(n,)`, the number of each sample; `statistics`, per-sample `(n,)` arrays of
    solver cost (`iterations`, `matvecs`, `seconds`, `relative_residual`, ...; may be empty);
    `failed_samples` left out; the `backend` that made them and its `backend_settings`.
    """

    inputs: np.ndarray
    outputs: np.ndarray
    sample_index: Sequence[int]
    backend: str
    statistics: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    failed_samples: Sequence[int] = ()
    backend_settings: Mapping = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Generator(abc.ABC):
    """A family of samples with its settings as dataclass fields. Subclasses set `name` and
    `summary` and implement `provenance`, `grid` and `make_shard`.

    **Class variables:** `default_shard_size`; `processes`, whether shards may be made in
    separate worker processes (False for generators that run JAX, which owns the device).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    default_shard_size: ClassVar[int] = 256
    processes: ClassVar[bool] = True

    @abc.abstractmethod
    def provenance(self, seed: int) -> Provenance:
        """What made the data: family name, settings, solver and accuracy, and the seed."""

    @abc.abstractmethod
    def grid(self) -> tuple[np.ndarray, ...]:
        """The stored grid: one 1-D coordinate array per spatial axis."""

    @abc.abstractmethod
    def make_shard(
        self, seed: int, indices: Sequence[int], progress: Progress | None = None
    ) -> ShardContent:
        """Make the samples `indices` (in this order) of the dataset with base `seed`."""

    def order(self, n: int, seed: int, cache: Path, progress: bool = False) -> list[int]:
        """The order in which samples `0..n-1` are made and stored (default: by number).
        `cache` is a directory where an expensive order may be kept for reruns."""
        return list(range(n))

    def prepared(
        self, n: int, seed: int, order: Sequence[int], cache: Path
    ) -> tuple["Generator", tuple]:
        """This generator with any choice made on the first samples settled (e.g. the fastest
        solver), and the record of that choice (default: itself, nothing)."""
        return self, ()

    def quick(self) -> "Generator":
        """A cheap generator of data with the same shapes and kinds (for `jaxsciml check`, which
        trains two steps on a handful of samples): coarser solves, a fixed solver. Accuracy is
        not its concern. Default: this generator."""
        return self

    @classmethod
    def settings(cls) -> list[dataclasses.Field]:
        """The family's settings: its dataclass fields (less those marked internal)."""
        return [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]
