"""The Well's HDF5 layout (Ohana et al., NeurIPS 2024 datasets track): read it, and write it.

A file holds `n_trajectories` trajectories on a uniform grid. Root attributes name the dataset
(`dataset_name`, `n_spatial_dims`, `n_trajectories`, `grid_type`, `simulation_parameters`);
`dimensions` holds `time` and one coordinate array per name in its `spatial_dims` attribute;
`t0_fields`, `t1_fields`, `t2_fields` hold scalar, vector and rank-2 tensor fields, channels
last: `(n_trajectories, n_steps, *spatial, D**order)`, where the flags `sample_varying` and
`time_varying` say whether the first two axes are present and `dim_varying` which spatial axes
are; `boundary_conditions` and `scalars` describe the rest. A split (`data/train`) is a folder
of such files.

Read as The Well's own loader reads: the time-varying fields, vectors and tensors flattened
into components (`velocity_x`, `velocity_y`, ...; t0 then t1 then t2 fields, each in the
order of its group's `field_names`), are the frames; fields constant in time are the
trajectory's constant fields. Missing axes are broadcast. Wrap it in
`jaxsciml.data.TrajectoryPairs` (or call `jaxsciml.data.load`) for training pairs.
"""

import itertools
import os
from pathlib import Path

import h5py
import numpy as np

from datagen.format import DatasetFileError, refuse_outside_references
from datagen.progress import progress_bar
from jaxsciml.data.trajectories import AbstractTrajectories


ROOT_ATTRIBUTES = ("dataset_name", "n_spatial_dims", "n_trajectories")
FIELD_GROUPS = ("t0_fields", "t1_fields", "t2_fields")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _names(attribute) -> list[str]:
    return [_text(v) for v in np.atleast_1d(attribute)] if attribute is not None else []


def is_well_file(f: h5py.File) -> bool:
    """Whether an open HDF5 file follows The Well's layout."""
    return all(a in f.attrs for a in ROOT_ATTRIBUTES) and "dimensions" in f and "t0_fields" in f


def well_files(path: Path) -> list[Path]:
    """The HDF5 files of a split folder (`*.h5`, `*.hdf5`, sorted), or `[path]` for a file."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".h5", ".hdf5") and p.is_file())
    return [path]


class _Field:
    """One stored field: where it is and which of its axes are present."""

    def __init__(self, dataset: h5py.Dataset, name: str, order: int, spatial_dims: list[str]):
        attrs = dataset.attrs
        self.dataset, self.name, self.order = dataset, name, order
        self.sample_varying = bool(attrs.get("sample_varying", True))
        self.time_varying = bool(attrs.get("time_varying", True))
        self.dim_varying = [bool(v) for v in np.atleast_1d(attrs.get("dim_varying", True))]
        if len(self.dim_varying) == 1:
            self.dim_varying *= len(spatial_dims)
        self.components = ["".join(c) for c in itertools.product(spatial_dims, repeat=order)]

    @property
    def channel_names(self) -> list[str]:
        return [f"{self.name}_{c}" if c else self.name for c in self.components]

    def read(self, trajectory: int, steps: slice, spatial: tuple[int, ...]) -> np.ndarray:
        """`(len(steps), components, *spatial)`, or `(components, *spatial)` if constant."""
        index = ((trajectory,) if self.sample_varying else ()) + (
            (steps,) if self.time_varying else ()
        )
        data = np.asarray(self.dataset[index], np.float32)
        lead = 1 if self.time_varying else 0
        present = data.shape[lead : lead + sum(self.dim_varying)]
        full, k = [], 0
        for varying in self.dim_varying:  # size-one axes where the field does not vary
            full.append(present[k] if varying else 1)
            k += varying
        tensor_axes = data.shape[lead + sum(self.dim_varying) :]
        data = data.reshape(*data.shape[:lead], *full, int(np.prod(tensor_axes, dtype=int)))
        data = np.broadcast_to(data, (*data.shape[:lead], *spatial, data.shape[-1]))
        return np.moveaxis(data, -1, lead)


class _WellFile:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.file = h5py.File(path, "r")
        except OSError as error:
            raise DatasetFileError(f"{path} is not a readable HDF5 file ({error})") from error
        refuse_outside_references(self.file, path)
        if not is_well_file(self.file):
            self.file.close()
            raise DatasetFileError(
                f"{path} does not follow The Well's layout (it needs the root attributes "
                f"{', '.join(ROOT_ATTRIBUTES)} and the groups dimensions and t0_fields)"
            )
        f = self.file
        self.spatial_dims = _names(f["dimensions"].attrs.get("spatial_dims"))
        self.num_trajectories = int(f.attrs["n_trajectories"])
        self.num_steps = int(f["dimensions"]["time"].shape[-1])
        self.spatial = tuple(int(f["dimensions"][d].shape[-1]) for d in self.spatial_dims)
        self.fields = [
            _Field(f[group][name], name, order, self.spatial_dims)
            for order, group in enumerate(FIELD_GROUPS)
            if group in f
            for name in _names(f[group].attrs.get("field_names"))
        ]

    def signature(self) -> tuple:
        return (
            _text(self.file.attrs["dataset_name"]),
            self.spatial,
            self.num_steps,
            [(fl.name, fl.time_varying) for fl in self.fields],
        )


class WellTrajectories(AbstractTrajectories):
    """A file of The Well, or a folder of them (one split), as trajectories; read lazily.

    The files of a folder must hold the same dataset (name, grid, fields) and the same number
    of steps; their trajectories follow one another in file-name order.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise DatasetFileError(f"{self.path} does not exist")
        paths = well_files(self.path)
        if not paths:
            raise DatasetFileError(f"{self.path} holds no .h5 or .hdf5 files")
        self.files = [_WellFile(p) for p in paths]
        first = self.files[0]
        for other in self.files[1:]:
            if other.signature() != first.signature():
                raise DatasetFileError(
                    f"{other.path} and {first.path} do not hold the same dataset: (name, grid, "
                    f"steps, fields) differ: {other.signature()} against {first.signature()}"
                )
        self._variable = [fl for fl in first.fields if fl.time_varying]
        self._constant = [fl for fl in first.fields if not fl.time_varying]
        if not self._variable:
            raise DatasetFileError(f"{first.path} has no field that varies in time")
        counts = [wf.num_trajectories for wf in self.files]
        self._offsets = np.cumsum([0, *counts])

    def _locate(self, trajectory: int) -> tuple[_WellFile, int]:
        i = int(np.searchsorted(self._offsets, trajectory, side="right") - 1)
        return self.files[i], trajectory - int(self._offsets[i])

    num_trajectories = property(lambda self: int(self._offsets[-1]))
    num_steps = property(lambda self: self.files[0].num_steps)

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return (len(self.channel_names), *self.files[0].spatial)

    @property
    def channel_names(self) -> list[str]:
        return [name for fl in self._variable for name in fl.channel_names]

    @property
    def constant_names(self) -> list[str]:
        return [name for fl in self._constant for name in fl.channel_names]

    constant_channels = property(lambda self: len(self.constant_names))

    @property
    def grid(self) -> tuple[np.ndarray, ...]:
        dims = self.files[0].file["dimensions"]
        return tuple(
            np.asarray(dims[d], np.float64).reshape(-1, dims[d].shape[-1])[0]
            for d in self.files[0].spatial_dims
        )

    @property
    def times(self) -> np.ndarray:
        time = self.files[0].file["dimensions"]["time"]
        return np.asarray(time, np.float64).reshape(-1, time.shape[-1])[0]

    @property
    def metadata(self) -> dict:
        f = self.files[0].file
        boundaries = {
            name: {
                "bc_type": _text(group.attrs.get("bc_type", "")),
                "associated_dims": _names(group.attrs.get("associated_dims")),
            }
            for name, group in f.get("boundary_conditions", {}).items()
        }
        parameters = {
            name: np.asarray(f.attrs[name]).tolist()
            for name in _names(f.attrs.get("simulation_parameters"))
            if name in f.attrs
        }
        return {
            "path": str(self.path),
            "format": "the_well",
            "dataset_name": _text(f.attrs["dataset_name"]),
            "simulation_parameters": parameters,
            "boundary_conditions": boundaries,
            "constant_fields": self.constant_names,
        }

    def read_frames(self, trajectory: int, steps: slice) -> np.ndarray:
        wf, local = self._locate(trajectory)
        parts = [fl.read(local, steps, wf.spatial) for fl in wf.fields if fl.time_varying]
        return np.concatenate(parts, axis=1)

    def read_constants(self, trajectory: int) -> np.ndarray:
        wf, local = self._locate(trajectory)
        parts = [fl.read(local, slice(None), wf.spatial) for fl in wf.fields if not fl.time_varying]
        if not parts:
            return super().read_constants(trajectory)
        return np.concatenate(parts, axis=0)

    def describe(self, trajectory: int) -> str:
        wf, local = self._locate(trajectory)
        return f"trajectory {local} of {wf.path}"


def _spatial_dim_names(d: int) -> list[str]:
    return ["x", "y", "z"][:d] if d <= 3 else [f"x{i}" for i in range(d)]


def write_well(
    trajectories: AbstractTrajectories,
    path: str | os.PathLike,
    *,
    dataset_name: str,
    parameters: dict | None = None,
    progress: bool = False,
) -> Path:
    """Write `trajectories` as one file in The Well's layout: every frame channel a time-varying
    scalar field (`t0_fields`, named by `channel_names`), the constant fields time-invariant
    ones (named by `constant_names`), numeric `parameters` as
    simulation parameters (root attributes and constant `scalars`). Written trajectory by
    trajectory into `path.tmp` and renamed, so `path` never holds a partial file; `progress`
    shows a bar (or log lines in a batch job)."""
    path = Path(path)
    n, steps = trajectories.num_trajectories, trajectories.num_steps
    _, *spatial = trajectories.frame_shape
    dims = _spatial_dim_names(len(spatial))
    names = list(trajectories.channel_names)
    constants = list(trajectories.constant_names)
    if len(set(names + constants)) != len(names + constants):
        raise ValueError(
            f"field names must be unique, one per channel: {names} and constants {constants}"
        )
    parameters = {
        k: float(v)
        for k, v in (parameters or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    times = trajectories.times
    times = np.arange(steps, dtype=np.float64) if times is None else np.asarray(times)
    temporary = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with h5py.File(temporary, "w") as f:
            f.attrs.update(
                {
                    "dataset_name": dataset_name,
                    "grid_type": "cartesian",
                    "n_spatial_dims": len(spatial),
                    "n_trajectories": n,
                    "simulation_parameters": list(parameters),
                    **parameters,
                }
            )
            group = f.create_group("dimensions")
            group.attrs["spatial_dims"] = dims
            group.create_dataset("time", data=times.astype(np.float32))
            group["time"].attrs.update({"sample_varying": False, "time_varying": True})
            for d, coordinates in zip(dims, trajectories.grid):
                group.create_dataset(d, data=np.asarray(coordinates, np.float32))
                group[d].attrs.update({"sample_varying": False, "time_varying": False})
            f.create_group("boundary_conditions")
            scalars = f.create_group("scalars")
            scalars.attrs["field_names"] = list(parameters)
            for name, value in parameters.items():
                scalars.create_dataset(name, data=np.float32(value))
                scalars[name].attrs.update({"sample_varying": False, "time_varying": False})
            fields = f.create_group("t0_fields")
            fields.attrs["field_names"] = names + constants
            for group_name in ("t1_fields", "t2_fields"):
                f.create_group(group_name).attrs["field_names"] = []
            for name in names:
                shape, chunks = (n, steps, *spatial), (1, 1, *spatial)
                fields.create_dataset(name, shape, np.float32, chunks=chunks)
            for name in constants:
                fields.create_dataset(name, (n, *spatial), np.float32)
            for name in names + constants:
                fields[name].attrs.update(
                    {
                        "dim_varying": [True] * len(spatial),
                        "sample_varying": True,
                        "time_varying": name in names,
                    }
                )
            with progress_bar(n, f"writing {path.name}", "sample", progress) as bar:
                for j in range(n):
                    frames = trajectories.read_frames(j, slice(None))
                    for c, name in enumerate(names):
                        fields[name][j] = frames[:, c]
                    fixed = trajectories.read_constants(j)
                    for c, name in enumerate(constants):
                        fields[name][j] = fixed[c]
                    bar.update(1)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
