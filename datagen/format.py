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
- `checksums/inputs`, `checksums/outputs`: int64 `(n_samples,)`, the CRC-32 of each sample's
  float32 bytes; readers verify every sample they read against it.
- root attributes: `format` (`"jaxsciml-dataset"`), `format_version`, the shard's place in the
  dataset (`shard_index`, `num_shards`, `sample_offset` (the position of its first sample in the
  stored order), `num_samples`, `num_samples_total` (planned, failures included)), `failed_samples`
  (numbers of samples whose solve failed and that were left out), `backend` and
  `backend_settings` (JSON: the solver that actually ran) and the provenance of the data:
  `problem`, `parameters` (JSON), `solver`, `tolerance`, `seed`, `version` (of the package that
  wrote it), `created` (UTC, ISO 8601), and `header_checksum`, the CRC-32 of every other
  attribute and of the small arrays (`sample_index`, `grid`, `solve`, `checksums`).

Format versions 1 (no `sample_index`, contiguous shards) and 2 (no checksums) are still read.

A shard is built in memory and written to a temporary name in one piece, then renamed, so an
interrupted run or a full disk never leaves a half-written file under a shard's name. Readers
refuse what could make them read other data than was written: a checksum that does not match,
sizes a file declares but does not hold, and HDF5 links or storage outside the file.
"""

import dataclasses
import datetime
import io
import json
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import h5py
import numpy as np


FORMAT_NAME = "jaxsciml-dataset"
FORMAT_VERSION = 3
CHECKSUMS_SINCE = 3  # the first format version whose shards carry checksums
INPUTS = "inputs"
OUTPUTS = "outputs"
SAMPLE_INDEX = "sample_index"
SOLVE_GROUP = "solve"
GRID_GROUP = "grid"
CHECKSUM_GROUP = "checksums"
HEADER_CHECKSUM = "header_checksum"
AXIS_NAMES = ("x", "y", "z")
SHARD_PATTERN = re.compile(r"^shard-(\d{5})\.h5$")
PROVENANCE_KEYS = ("problem", "parameters", "solver", "tolerance", "seed")


class DatasetFileError(Exception):
    """A dataset file or directory is missing, truncated, corrupt, incomplete or not in this
    format, or could not be written."""


def atomic_write(path: str | os.PathLike, content: bytes) -> Path:
    """Write `content` to `path` in one piece: to a temporary name of this process, flushed to
    disk, then renamed. A write that fails (a full disk, a file-size limit) removes the temporary
    file and raises `DatasetFileError` naming `path` and the cause; `path` is left as it was."""
    path = Path(path)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise DatasetFileError(
            f"writing {path} failed: {error.strerror or error}. Nothing was left under its "
            "name; make room (or fix the cause) and rerun, which keeps what was finished."
        ) from error
    return path


def row_checksums(array: np.ndarray) -> np.ndarray:
    """int64 `(n,)`: the CRC-32 of each row `array[i]`'s bytes (float32, C order)."""
    return np.array(
        [zlib.crc32(np.ascontiguousarray(row, np.float32).tobytes()) for row in array], np.int64
    )


def _plain(value):
    """An attribute or array as JSON would hold it (for the header checksum)."""
    if isinstance(value, bytes | str):
        return value.decode() if isinstance(value, bytes) else value
    return np.asarray(value).tolist()


def header_checksum(f: h5py.File) -> int:
    """The CRC-32 of a shard's attributes (less the checksum itself) and its small arrays."""
    attributes = {k: _plain(v) for k, v in f.attrs.items() if k != HEADER_CHECKSUM}
    arrays = {}
    for group_name in (SAMPLE_INDEX, GRID_GROUP, SOLVE_GROUP, CHECKSUM_GROUP):
        item = f.get(group_name)
        members = {group_name: item} if isinstance(item, h5py.Dataset) else dict(item or {})
        for name, dataset in members.items():
            data = dataset[()]
            arrays[f"{group_name}/{name}"] = [str(data.dtype), list(data.shape), _plain(data)]
    text = json.dumps({"attributes": attributes, "arrays": arrays}, sort_keys=True)
    return zlib.crc32(text.encode())


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
    checksums: tuple[np.ndarray, np.ndarray] | None = None  # per row, of inputs and outputs


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
    """Write one shard atomically (built in memory, written to a temporary file, renamed) and
    return its path; a failed write raises `DatasetFileError` and leaves no file behind.

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
    n = inputs.shape[0]
    if sample_index is None:
        sample_index = np.arange(info.sample_offset, info.sample_offset + n)
    sample_index = np.asarray(sample_index, np.int64)
    if sample_index.shape != (n,):
        raise ValueError(f"sample_index must have shape ({n},), got {sample_index.shape}")
    image = io.BytesIO()
    with h5py.File(image, "w") as f:
        checksums = f.create_group(CHECKSUM_GROUP)
        for name, array in ((INPUTS, inputs), (OUTPUTS, outputs)):
            f.create_dataset(name, data=array, chunks=(1, *array.shape[1:]) if n else None)
            checksums.create_dataset(name, data=row_checksums(array))
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
        f.attrs[HEADER_CHECKSUM] = header_checksum(f)
    return atomic_write(path, image.getvalue())


HDF5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, AttributeError, SystemError)
"""What h5py raises on a damaged file (a bad header, a missing key, an unreadable chunk)."""

REGENERATE = "Delete it and rerun the generator, which regenerates it and keeps the other shards."


def _corrupt(path, what) -> DatasetFileError:
    return DatasetFileError(f"{path} is corrupt ({what}). {REGENERATE}")


def refuse_outside_references(f: h5py.File, path: Path, *, shard: bool = False) -> None:
    """Refuse an HDF5 file with links to other files (or soft links), external storage or
    virtual datasets. For a `shard` (written uncompressed) also datasets that declare more bytes
    than the whole file holds."""
    size = path.stat().st_size
    problems = []

    def visit(name, link):
        if isinstance(link, h5py.ExternalLink | h5py.SoftLink):
            problems.append(f"{name} is a link ({type(link).__name__})")
            return
        item = f.get(name)
        if isinstance(item, h5py.Dataset):
            if item.external or item.is_virtual:
                problems.append(f"{name} keeps its data outside the file")
            elif shard and item.size * item.dtype.itemsize > size:
                problems.append(f"{name} declares {item.shape}, more than the file's {size} bytes")

    f.visititems_links(visit)
    if problems:
        remedy = f" {REGENERATE}" if shard else ""
        raise DatasetFileError(f"{path} is refused: {'; '.join(problems)}.{remedy}")


def open_shard(path: str | os.PathLike) -> h5py.File:
    """Open a shard read-only and check that it is one, self-contained; HDF5's errors become a
    `DatasetFileError` that says what to do."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFileError(f"dataset file {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except HDF5_ERRORS as error:
        raise DatasetFileError(
            f"{path} cannot be read as HDF5 ({error}); it is truncated or corrupt. {REGENERATE}"
        ) from error
    try:
        if f.attrs.get("format") != FORMAT_NAME or INPUTS not in f or OUTPUTS not in f:
            raise DatasetFileError(
                f"{path} is HDF5 but not a {FORMAT_NAME} file (it lacks the format attribute or "
                f"the '{INPUTS}'/'{OUTPUTS}' arrays). To train on arrays of your own, open them "
                "with jaxsciml.data.load_arrays(path, inputs_key, outputs_key, layout='n c h w') "
                "naming their axes; for the FNO paper's MATLAB files use "
                "jaxsciml.data.load_fno_mat."
            )
        refuse_outside_references(f, path, shard=True)
    except DatasetFileError:
        f.close()
        raise
    except HDF5_ERRORS as error:
        f.close()
        raise _corrupt(path, error) from error
    return f


def read_header(path: str | os.PathLike) -> ShardHeader:
    """Read and check a shard's metadata (its checksum included) without reading its arrays."""
    with open_shard(path) as f:
        return _header_of(f, Path(path))


def _header_of(f: h5py.File, path: Path) -> ShardHeader:
    """`_checked_header`, with h5py's errors on a damaged file named as such."""
    try:
        return _checked_header(f, path)
    except HDF5_ERRORS as error:
        raise _corrupt(path, f"{type(error).__name__}: {error}") from error


def _checked_header(f: h5py.File, path: Path) -> ShardHeader:
    attrs = f.attrs
    version = int(attrs["format_version"])
    if version > FORMAT_VERSION:
        raise DatasetFileError(
            f"{path} has format version {version}, newer than this package reads "
            f"({FORMAT_VERSION}); upgrade jaxsciml."
        )
    inputs, outputs = f[INPUTS], f[OUTPUTS]
    n = int(attrs["num_samples"])
    if inputs.shape[0] != n or outputs.shape[0] != n or inputs.ndim != outputs.ndim:
        raise DatasetFileError(
            f"{path} declares {n} samples but holds inputs {inputs.shape} and outputs "
            f"{outputs.shape}. {REGENERATE}"
        )
    checksummed = version >= CHECKSUMS_SINCE or HEADER_CHECKSUM in attrs
    checksums = None
    if checksummed:
        if HEADER_CHECKSUM not in attrs or CHECKSUM_GROUP not in f:
            raise _corrupt(path, "its checksums are missing")
        if int(attrs[HEADER_CHECKSUM]) != header_checksum(f):
            raise _corrupt(path, "its metadata do not match their checksum")
        checksums = (f[CHECKSUM_GROUP][INPUTS][()], f[CHECKSUM_GROUP][OUTPUTS][()])
        if any(c.shape != (n,) for c in checksums):
            raise _corrupt(path, f"checksum arrays of shapes {[c.shape for c in checksums]}")
    grid = tuple(f[GRID_GROUP][name][()] for name in AXIS_NAMES[: inputs.ndim - 2])
    if tuple(len(g) for g in grid) != inputs.shape[2:] or inputs.shape[2:] != outputs.shape[2:]:
        raise _corrupt(path, f"a grid of {[len(g) for g in grid]} points for {inputs.shape}")
    offset = int(attrs["sample_offset"])
    sample_index = f[SAMPLE_INDEX][()] if SAMPLE_INDEX in f else np.arange(offset, offset + n)
    if sample_index.shape != (n,):
        raise _corrupt(path, f"{sample_index.shape[0]} sample numbers for {n} samples")
    return ShardHeader(
        path=path,
        shard_index=int(attrs["shard_index"]),
        num_shards=int(attrs["num_shards"]),
        sample_offset=offset,
        num_samples=n,
        num_samples_total=int(attrs["num_samples_total"]),
        input_shape=tuple(inputs.shape[1:]),
        output_shape=tuple(outputs.shape[1:]),
        grid=grid,
        provenance=Provenance.from_attrs(attrs),
        version=str(attrs["version"]),
        created=str(attrs["created"]),
        sample_index=sample_index,
        failed_samples=tuple(int(i) for i in attrs.get("failed_samples", ())),
        checksums=checksums,
    )


def read_rows(f: h5py.File, header: ShardHeader, rows) -> tuple[np.ndarray, np.ndarray]:
    """Rows `rows` (a slice or sorted indices) of an open shard's inputs and outputs, each row
    checked against its checksum: damaged data raise `DatasetFileError`, never come back."""
    try:
        pair = (np.asarray(f[INPUTS][rows], np.float32), np.asarray(f[OUTPUTS][rows], np.float32))
    except HDF5_ERRORS as error:
        raise _corrupt(header.path, f"reading rows {rows}: {error}") from error
    if header.checksums is not None:
        for name, array, stored in zip((INPUTS, OUTPUTS), pair, header.checksums):
            bad = np.flatnonzero(row_checksums(array) != stored[rows])
            if bad.size:
                row = int(np.arange(header.num_samples)[rows][bad[0]])
                raise _corrupt(header.path, f"{name} row {row} does not match its checksum")
    return pair


def verify_shard(path: str | os.PathLike) -> ShardHeader:
    """The header of shard `path` after every one of its samples has been checked."""
    with open_shard(path) as f:
        header = _header_of(f, Path(path))
        read_rows(f, header, slice(None))
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
