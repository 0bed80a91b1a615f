"""PDEBench's HDF5 files (Takamoto et al., NeurIPS 2022 datasets track), in their three layouts.

- **Darcy** (`2D_DarcyFlow_beta*.hdf5`): `nu` `(N, X, Y)`, the coefficient, and `tensor`
  `(N, 1, X, Y)`, the solution, with `x-coordinate` and `y-coordinate`: pairs `nu -> u`.
- **One array per field** (`1D_Burgers_Sols_Nu*.hdf5`, `1D_Advection_*`, `ReacDiff_*`: a single
  field `tensor` `(N, T, *spatial)`; compressible flow `*_CFD_*`: `density`, `pressure`, `Vx`
  (`Vy`, `Vz`) each `(N, T, *spatial)`), with `t-coordinate` and `x-`(`y-`, `z-`)`coordinate`.
- **One group per seed** (`2D_diff-react_NA_NA.h5`, `2D_rdb_NA_NA.h5`, `1D_diff-sorp_NA_NA.h5`):
  groups `0000`, `0001`, ... each holding `data` `(T, *spatial, C)` and `grid/x` (`grid/y`),
  `grid/t`.

The last two are trajectories (`jaxsciml.data.TrajectoryPairs` cuts them into training pairs);
compressible-flow channels are ordered as PDEBench's own loader orders them (density, pressure,
Vx, Vy, Vz). Everything is read lazily.
"""

import os
from pathlib import Path

import h5py
import numpy as np

from datagen.format import DatasetFileError, refuse_outside_references
from jaxsciml.data.plain import KeyedSource
from jaxsciml.data.trajectories import AbstractTrajectories


COORDINATES = ("x-coordinate", "y-coordinate", "z-coordinate")
CFD_FIELDS = ("density", "pressure", "Vx", "Vy", "Vz")


def pdebench_layout(f: h5py.File) -> str | None:
    """`"darcy"`, `"fields"` or `"seeds"` for a PDEBench file, `None` for anything else."""
    if "nu" in f and "tensor" in f:
        return "darcy"
    if ("tensor" in f or "density" in f) and "x-coordinate" in f:
        return "fields"
    groups = [g for g in f.values() if isinstance(g, h5py.Group)]
    if groups and all("data" in g and "grid" in g for g in groups):
        return "seeds"
    return None


def _open(path: Path, expected: str) -> h5py.File:
    if not path.is_file():
        raise DatasetFileError(f"{path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise DatasetFileError(f"{path} is not a readable HDF5 file ({error})") from error
    refuse_outside_references(f, path)
    if pdebench_layout(f) != expected:
        f.close()
        raise DatasetFileError(
            f"{path} is not a PDEBench file of the {expected!r} layout (see jaxsciml.data.pdebench)"
        )
    return f


def _coordinates(f, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    return tuple(
        np.asarray(f[name], np.float64) if name in f else np.linspace(0.0, 1.0, n)
        for name, n in zip(COORDINATES, shape)
    )


class PDEBenchDarcy(KeyedSource):
    """PDEBench's Darcy files: the coefficient `nu` to the solution `tensor`, on the file's own
    coordinates (cell centres of the unit square)."""

    def __init__(self, path: str | os.PathLike):
        _open(Path(path), "darcy").close()
        super().__init__(path, "nu", "tensor", "n h w", "n c h w")

    @property
    def grid(self) -> tuple[np.ndarray, ...]:
        return _coordinates(self._file, self.input_shape[1:])

    @property
    def metadata(self) -> dict:
        return {**super().metadata, "format": "pdebench", "layout": "darcy"}


class PDEBenchFields(AbstractTrajectories):
    """A PDEBench file with one array per field, `(N, T, *spatial)` each, as trajectories."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.file = _open(self.path, "fields")
        present = ["tensor"] if "tensor" in self.file else [n for n in CFD_FIELDS if n in self.file]
        self.fields = [self.file[name] for name in present]
        self.names = ["u" if name == "tensor" else name for name in present]
        shapes = {field.shape for field in self.fields}
        if len(shapes) != 1 or len(next(iter(shapes))) < 3:
            raise DatasetFileError(
                f"{self.path}: the fields {present} must share one shape (N, T, *spatial); "
                f"got {sorted(shapes)}"
            )
        self._shape = next(iter(shapes))

    num_trajectories = property(lambda self: self._shape[0])
    num_steps = property(lambda self: self._shape[1])
    frame_shape = property(lambda self: (len(self.fields), *self._shape[2:]))
    channel_names = property(lambda self: self.names)
    grid = property(lambda self: _coordinates(self.file, self._shape[2:]))

    @property
    def times(self) -> np.ndarray | None:
        if "t-coordinate" not in self.file:
            return None
        # Some files store one time more than they have frames (the final time): keep T.
        return np.asarray(self.file["t-coordinate"], np.float64)[: self.num_steps]

    @property
    def metadata(self) -> dict:
        return {"path": str(self.path), "format": "pdebench", "layout": "fields"}

    def read_frames(self, trajectory: int, steps: slice) -> np.ndarray:
        return np.stack([np.asarray(f[trajectory, steps], np.float32) for f in self.fields], 1)

    def describe(self, trajectory: int) -> str:
        return f"trajectory {trajectory} of {self.path}"


class PDEBenchSeeds(AbstractTrajectories):
    """A PDEBench file with one group per seed, `data` `(T, *spatial, C)` in each."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.file = _open(self.path, "seeds")
        self.seeds = sorted(self.file.keys())
        shapes = {self.file[s]["data"].shape for s in self.seeds}
        if len(shapes) != 1 or len(next(iter(shapes))) < 3:
            raise DatasetFileError(
                f"{self.path}: every seed's data must have one shape (T, *spatial, C); "
                f"got {sorted(shapes)}"
            )
        self._shape = next(iter(shapes))

    num_trajectories = property(lambda self: len(self.seeds))
    num_steps = property(lambda self: self._shape[0])
    frame_shape = property(lambda self: (self._shape[-1], *self._shape[1:-1]))

    @property
    def grid(self) -> tuple[np.ndarray, ...]:
        grid = self.file[self.seeds[0]]["grid"]
        axes = [a for a in ("x", "y", "z") if a in grid][: len(self._shape) - 2]
        return tuple(np.asarray(grid[a], np.float64) for a in axes)

    @property
    def times(self) -> np.ndarray | None:
        grid = self.file[self.seeds[0]]["grid"]
        return np.asarray(grid["t"], np.float64)[: self.num_steps] if "t" in grid else None

    @property
    def metadata(self) -> dict:
        return {"path": str(self.path), "format": "pdebench", "layout": "seeds"}

    def read_frames(self, trajectory: int, steps: slice) -> np.ndarray:
        data = np.asarray(self.file[self.seeds[trajectory]]["data"][steps], np.float32)
        return np.moveaxis(data, -1, 1)

    def describe(self, trajectory: int) -> str:
        return f"seed group {self.seeds[trajectory]!r} of {self.path}"
