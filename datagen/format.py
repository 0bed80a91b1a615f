"""The dataset file layout: defined here, once, beside its writer; `jaxsciml.data` reads through it.

A dataset is a directory of numbered HDF5 shards `shard-00000.h5, shard-00001.h5, ...` (a single
shard file on its own is a dataset too). Each shard holds:

- `inputs`: float32 `(n_samples, in_channels, *spatial)`, the input functions (e.g. the Darcy
  coefficient `a`), batch axis first, channels before space.
- `outputs`: float32 `(n_samples, out_channels, *spatial)`, the solutions.
- `grid/x`, `grid/y`, `grid/z`: float64 coordinates of the uniform grid, one 1-D array per spatial
  axis (a sample's value `[..., i, j]` lives at `(grid/x[i], grid/y[j])`).
- `sample_index`: int64 `(n_samples,)`, the number of each sample in the dataset (sample `i` was
  drawn from the random stream `[seed, i]`). A generator that sorts its systems stores each shard's
  samples in solve order, so a shard holds scattered numbers; readers present samples by number.
- `solve/iterations`, `solve/matvecs`, `solve/seconds`, `solve/relative_residual`, `solve/systems`:
  per-sample solve statistics (sums over a sample's systems; the worst residual), when recorded.
- root attributes: `format` (`"jaxsciml-dataset"`), `format_version`, the shard's place in the
  dataset (`shard_index`, `num_shards`, `sample_offset` (the position of its first sample in the
  stored order), `num_samples`, `num_samples_total` (planned, failures included)), `failed_samples`
  (numbers of samples whose solve failed and that were left out), `backend` and
  `backend_settings` (JSON: the solver that actually ran) and the provenance of the data:
  `problem`, `parameters` (JSON), `solver`, `tolerance`, `seed`, `version` (of the package that
  wrote it), `created` (UTC, ISO 8601).

Format version 1 (no `sample_index`, contiguous shards) is still read.

Shards are written to a temporary name and renamed when complete, so an interrupted run never
leaves a half-written file under a shard's name.
"""

import dataclasses
import datetime
import json
import os
import re
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import h5py
import numpy as np


FORMAT_NAME = "jaxsciml-dataset"
FORMAT_VERSION = 2
INPUTS = "inputs"
OUTPUTS = "outputs"
SAMPLE_INDEX = "sample_index"
SOLVE_GROUP = "solve"
GRID_GROUP = "grid"
AXIS_NAMES = ("x", "y", "z")
SHARD_PATTERN = re.compile(r"^shard-(\d{5})\.h5$")
PROVENANCE_KEYS = ("problem", "parameters", "solver", "tolerance", "seed")


class DatasetFileError(Exception):
    """A dataset file or directory is missing, truncated, incomplete or not in this format."""


def shard_name(index: int) -> str:
    """File name of shard `index`, e.g. `shard-00003.h5`."""
    return f"shard-{index:05d}.h5"


def package_version() -> str:
    try:
        return version("jaxsciml")
    except PackageNotFoundError:
        return "0+unknown"


@dataclasses.dataclass(frozen=True)
class Provenance:
    """What made a dataset: enough to regenerate it."""

    problem: str
    parameters: Mapping
    solver: str
    tolerance: float
    seed: int

    def to_attrs(self) -> dict:
        return {
            "problem": self.problem,
            "parameters": json.dumps(dict(self.parameters), sort_keys=True),
            "solver": self.solver,
            "tolerance": float(self.tolerance),
            "seed": int(self.seed),
        }

    @classmethod
    def from_attrs(cls, attrs: Mapping) -> "Provenance":
        return cls(
            problem=str(attrs["problem"]),
            parameters=json.loads(attrs["parameters"]),
            solver=str(attrs["solver"]),
            tolerance=float(attrs["tolerance"]),
            seed=int(attrs["seed"]),
        )


@dataclasses.dataclass(frozen=True)
class ShardHeader:
    """Everything about a shard except its arrays."""

    path: Path
    shard_index: int
    num_shards: int
    sample_offset: int
    num_samples: int
    num_samples_total: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    grid: tuple[np.ndarray, ...]
    provenance: Provenance
    version: str
    created: str
    sample_index: np.ndarray  # int64 (num_samples,): each stored sample's number
    failed_samples: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class ShardInfo:
    """What a writer declares about one shard besides its arrays.

    **Fields:** the dataset's `provenance` and `grid` (one 1-D coordinate array per spatial
    axis); the shard's place: `shard_index` of `num_shards`, `sample_offset` (the position of its
    first sample in the stored order), `num_samples_total` (planned, failures included; default:
    this shard's samples); `sample_index`, the number of each stored sample (default
    `sample_offset + arange(n)`); `failed_samples` left out; the `backend` that actually ran and
    its `backend_settings`.
    """

    provenance: Provenance
    grid: tuple[np.ndarray, ...]
    shard_index: int = 0
    num_shards: int = 1
    sample_offset: int = 0
    num_samples_total: int | None = None
    sample_index: Sequence[int] | None = None
    failed_samples: Sequence[int] = ()
    backend: str = ""
    backend_settings: Mapping | None = None


def write_shard(
    path: str | os.PathLike,
    inputs: np.ndarray,
    outputs: np.ndarray,
    info: ShardInfo,
    statistics: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write one shard atomically (temporary file, then rename) and return its path.

    `inputs` is `(n, c_in, *spatial)` and `outputs` is `(n, c_out, *spatial)` on `info.grid`;
    `statistics` maps names to `(n,)` per-sample solve statistics (stored under `solve/`).
    """
    inputs = np.asarray(inputs, np.float32)
    outputs = np.asarray(outputs, np.float32)
    grid, sample_index = info.grid, info.sample_index
    spatial = tuple(len(g) for g in grid)
    if inputs.ndim != 2 + len(spatial) or inputs.shape[2:] != spatial:
        raise ValueError(f"inputs {inputs.shape} do not match (n, channels, *{spatial})")
    if outputs.shape[0] != inputs.shape[0] or outputs.shape[2:] != spatial:
        raise ValueError(f"outputs {outputs.shape} do not match inputs {inputs.shape}")
    if not (np.isfinite(inputs).all() and np.isfinite(outputs).all()):
        raise ValueError("refusing to write non-finite values (NaN or inf) to a dataset")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    n = inputs.shape[0]
    if sample_index is None:
        sample_index = np.arange(info.sample_offset, info.sample_offset + n)
    sample_index = np.asarray(sample_index, np.int64)
    if sample_index.shape != (n,):
        raise ValueError(f"sample_index must have shape ({n},), got {sample_index.shape}")
    with h5py.File(temporary, "w") as f:
        for name, array in ((INPUTS, inputs), (OUTPUTS, outputs)):
            f.create_dataset(name, data=array, chunks=(1, *array.shape[1:]) if n else None)
        f.create_dataset(SAMPLE_INDEX, data=sample_index)
        if statistics:
            solve = f.create_group(SOLVE_GROUP)
            for name, values in statistics.items():
                solve.create_dataset(name, data=np.asarray(values))
        group = f.create_group(GRID_GROUP)
        for axis_name, coordinates in zip(AXIS_NAMES, grid):
            group.create_dataset(axis_name, data=np.asarray(coordinates, np.float64))
        f.attrs.update(
            {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "shard_index": info.shard_index,
                "num_shards": info.num_shards,
                "sample_offset": info.sample_offset,
                "num_samples": n,
                "num_samples_total": info.num_samples_total or n,
                "failed_samples": np.asarray(info.failed_samples, np.int64),
                "backend": info.backend,
                "backend_settings": json.dumps(dict(info.backend_settings or {}), sort_keys=True),
                "version": package_version(),
                "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                **info.provenance.to_attrs(),
            }
        )
    os.replace(temporary, path)
    return path


def open_shard(path: str | os.PathLike) -> h5py.File:
    """Open a shard read-only; HDF5's errors become a `DatasetFileError` that says what to do."""
    path = Path(path)
    if not path.exists():
        raise DatasetFileError(f"dataset file {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise DatasetFileError(
            f"{path} cannot be read as HDF5 ({error}); it is truncated or corrupt. Delete it and "
            "rerun the generator, which regenerates missing shards and keeps finished ones."
        ) from error
    if f.attrs.get("format") != FORMAT_NAME or INPUTS not in f or OUTPUTS not in f:
        f.close()
        raise DatasetFileError(
            f"{path} is HDF5 but not a {FORMAT_NAME} file (it lacks the format attribute or the "
            f"'{INPUTS}'/'{OUTPUTS}' arrays). For the FNO paper's .mat files use "
            "jaxsciml.data.load_fno_mat."
        )
    return f


def read_header(path: str | os.PathLike) -> ShardHeader:
    """Read and check a shard's metadata without reading its arrays."""
    with open_shard(path) as f:
        attrs = f.attrs
        if int(attrs["format_version"]) > FORMAT_VERSION:
            raise DatasetFileError(
                f"{path} has format version {attrs['format_version']}, newer than this package "
                f"reads ({FORMAT_VERSION}); upgrade jaxsciml."
            )
        inputs, outputs = f[INPUTS], f[OUTPUTS]
        grid = tuple(f[GRID_GROUP][name][()] for name in AXIS_NAMES[: inputs.ndim - 2])
        header = ShardHeader(
            path=Path(path),
            shard_index=int(attrs["shard_index"]),
            num_shards=int(attrs["num_shards"]),
            sample_offset=int(attrs["sample_offset"]),
            num_samples=int(attrs["num_samples"]),
            num_samples_total=int(attrs["num_samples_total"]),
            input_shape=tuple(inputs.shape[1:]),
            output_shape=tuple(outputs.shape[1:]),
            grid=grid,
            provenance=Provenance.from_attrs(attrs),
            version=str(attrs["version"]),
            created=str(attrs["created"]),
            sample_index=(
                f[SAMPLE_INDEX][()]
                if SAMPLE_INDEX in f
                else np.arange(
                    int(attrs["sample_offset"]), int(attrs["sample_offset"]) + len(inputs)
                )
            ),
            failed_samples=tuple(int(i) for i in attrs.get("failed_samples", ())),
        )
        if inputs.shape[0] != header.num_samples or outputs.shape[0] != header.num_samples:
            raise DatasetFileError(
                f"{path} declares {header.num_samples} samples but holds {inputs.shape[0]} "
                f"inputs and {outputs.shape[0]} outputs; regenerate it."
            )
    return header


def list_shards(path: str | os.PathLike) -> list[ShardHeader]:
    """The headers of a dataset's shards in order, checked to form one complete dataset.

    `path` is a shard file or a directory of shards. Raises `DatasetFileError` when the directory
    has no shards, a shard is missing or unreadable, or the shards disagree about the dataset.
    """
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if SHARD_PATTERN.match(p.name))
        if not files:
            raise DatasetFileError(
                f"{path} holds no dataset shards (files named shard-00000.h5, ...); generate "
                "data with `jaxsciml datagen` or datagen.generate."
            )
    else:
        raise DatasetFileError(f"dataset {path} does not exist")
    headers = [read_header(f) for f in files]
    first = headers[0]
    if path.is_dir() and len(headers) != first.num_shards:
        present = {h.shard_index for h in headers}
        missing = sorted(set(range(first.num_shards)) - present)
        raise DatasetFileError(
            f"{path} is incomplete: {len(headers)} of {first.num_shards} shards, missing "
            f"{[shard_name(i) for i in missing[:5]]}{' ...' if len(missing) > 5 else ''}. Rerun "
            "the generator with the same arguments to finish it."
        )
    for header in headers:
        if header.provenance != first.provenance or header.grid[0].shape != first.grid[0].shape:
            raise DatasetFileError(
                f"{header.path} was made by different settings than {first.path}; a dataset "
                "directory must hold the shards of one generator run."
            )
        if header.input_shape != first.input_shape or header.output_shape != first.output_shape:
            raise DatasetFileError(
                f"{header.path} holds samples of another shape than {first.path}"
            )
    numbers = np.concatenate([h.sample_index for h in headers])
    if len(np.unique(numbers)) != len(numbers):
        raise DatasetFileError(f"{path}: two shards hold the same sample; regenerate the dataset")
    accounted = len(numbers) + sum(len(h.failed_samples) for h in headers)
    if path.is_dir() and accounted != first.num_samples_total:
        raise DatasetFileError(
            f"{path} accounts for {accounted} of {first.num_samples_total} samples"
        )
    return headers
