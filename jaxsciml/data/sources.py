"""Where samples come from: sharded HDF5 datasets, arrays in memory, and the FNO paper's .mat files.

A source reads samples by index and nothing more; `jaxsciml.data.Dataset` builds views, batches
and strides on top. Every source returns float32 NumPy arrays shaped `(n, channels, *spatial)`.
"""

import abc
import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from datagen.format import DatasetFileError, list_shards, open_shard, read_rows


class AbstractSource(abc.ABC):
    """A fixed, indexable collection of (input, output) sample pairs on one grid."""

    @property
    @abc.abstractmethod
    def num_samples(self) -> int: ...

    @property
    @abc.abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """`(in_channels, *spatial)` of one sample."""

    @property
    @abc.abstractmethod
    def output_shape(self) -> tuple[int, ...]:
        """`(out_channels, *spatial)` of one sample."""

    @property
    @abc.abstractmethod
    def grid(self) -> tuple[np.ndarray, ...]:
        """One 1-D coordinate array per spatial axis."""

    @property
    def metadata(self) -> dict:
        """What made the data (problem, solver, seed, ...), where known."""
        return {}

    @abc.abstractmethod
    def read_sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample `index` as float32 `(input, output)` arrays."""

    def read_samples(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Samples `indices` (at least one) stacked: `(n, c_in, *spatial)`, `(n, c_out, ...)`."""
        pairs = [self.read_sample(int(i)) for i in indices]
        return np.stack([a for a, _ in pairs]), np.stack([u for _, u in pairs])

    def describe(self, index: int) -> str:
        """Where sample `index` lives, for error messages."""
        return f"sample {index}"


def unit_grid(spatial_shape: Sequence[int]) -> tuple[np.ndarray, ...]:
    return tuple(np.linspace(0.0, 1.0, n) for n in spatial_shape)


class ArraySource(AbstractSource):
    """Samples held in memory."""

    def __init__(self, inputs, outputs, grid: Sequence[np.ndarray] | None = None, metadata=None):
        inputs = np.asarray(inputs, np.float32)
        outputs = np.asarray(outputs, np.float32)
        if inputs.ndim < 3 or outputs.ndim != inputs.ndim:
            raise ValueError(
                "inputs and outputs must be shaped (n, channels, *spatial) with the same rank; "
                f"got {inputs.shape} and {outputs.shape}"
            )
        if inputs.shape[0] != outputs.shape[0] or inputs.shape[2:] != outputs.shape[2:]:
            raise ValueError(
                f"inputs {inputs.shape} and outputs {outputs.shape} must have the same number "
                "of samples and the same grid"
            )
        self._inputs, self._outputs = inputs, outputs
        self._grid = unit_grid(inputs.shape[2:]) if grid is None else tuple(grid)
        self._metadata = dict(metadata or {})

    num_samples = property(lambda self: self._inputs.shape[0])
    input_shape = property(lambda self: self._inputs.shape[1:])
    output_shape = property(lambda self: self._outputs.shape[1:])
    grid = property(lambda self: self._grid)
    metadata = property(lambda self: self._metadata)

    def read_sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self._inputs[index], self._outputs[index]

    def read_samples(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._inputs[indices], self._outputs[indices]


class ShardedSource(AbstractSource):
    """A dataset in the `datagen.format` layout: one shard file or a directory of shards.

    Samples are presented in the order of their numbers (`sample_numbers`, from each shard's
    `sample_index`), whichever shard holds them: a generator that solved them in a sorted order
    gives the same dataset as one that did not. Samples whose solve failed are absent. Files are
    opened on first read and kept open; only the samples asked for are read.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.headers = list_shards(self.path)
        numbers = np.concatenate([h.sample_index for h in self.headers])
        shards = np.concatenate([np.full(h.num_samples, i) for i, h in enumerate(self.headers)])
        rows = np.concatenate([np.arange(h.num_samples) for h in self.headers])
        by_number = np.argsort(numbers, kind="stable")  # samples are presented by their number
        self.sample_numbers = numbers[by_number]
        self._shard, self._row = shards[by_number], rows[by_number]
        self._files: dict[int, h5py.File] = {}

    num_samples = property(lambda self: len(self.sample_numbers))
    input_shape = property(lambda self: self.headers[0].input_shape)
    output_shape = property(lambda self: self.headers[0].output_shape)
    grid = property(lambda self: self.headers[0].grid)

    @property
    def metadata(self) -> dict:
        header = self.headers[0]
        provenance = header.provenance
        return {
            "path": str(self.path),
            "problem": provenance.problem,
            "parameters": dict(provenance.parameters),
            "solver": provenance.solver,
            "tolerance": provenance.tolerance,
            "seed": provenance.seed,
            "version": header.version,
        }

    def _locate(self, index: int) -> tuple[int, int]:
        return int(self._shard[index]), int(self._row[index])

    def read_sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample `index`, checked against its shard's checksums (`DatasetFileError` if damaged)."""
        shard, local = self._locate(index)
        if shard not in self._files:
            self._files[shard] = open_shard(self.headers[shard].path)
        inputs, outputs = read_rows(self._files[shard], self.headers[shard], [local])
        return inputs[0], outputs[0]

    def describe(self, index: int) -> str:
        shard, local = self._locate(index)
        return f"sample {index} ({self.headers[shard].path}, row {local})"

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


MATLAB_HEADER = b"MATLAB 7.3 MAT-file"  # the start of a v7.3 file's 512-byte user block


def written_by_matlab(path: Path, fields: Sequence[h5py.Dataset]) -> bool:
    """Whether an HDF5 file is a MATLAB v7.3 file (axes stored in reverse): it opens with
    MATLAB's header, or its arrays carry MATLAB's `MATLAB_class` attribute."""
    with open(path, "rb") as f:
        if f.read(len(MATLAB_HEADER)) == MATLAB_HEADER:
            return True
    return bool(fields) and all("MATLAB_class" in field.attrs for field in fields)


class FNOMatSource(AbstractSource):
    """A `.mat` file of the FNO paper (e.g. `piececonst_r421_N1024_smooth1.mat`).

    Reads the input field `input_key` (Darcy: `coeff`) and output field `output_key` (`sol`),
    each shaped `(N, *spatial)` in MATLAB, and adds a channel axis. MATLAB v7.3 files are HDF5
    with the axes stored in reverse order; they are read lazily, one sample at a time. An HDF5
    file that MATLAB did not write is refused (its axis order is unknown). Older (v5) files
    are read whole with `scipy.io.loadmat`.
    """

    def __init__(self, path: str | os.PathLike, input_key: str = "coeff", output_key: str = "sol"):
        self.path = Path(path)
        if not self.path.exists():
            raise DatasetFileError(f"{self.path} does not exist")
        self.keys = (input_key, output_key)
        self._h5: h5py.File | None = None
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        if h5py.is_hdf5(self.path):
            self._h5 = h5py.File(self.path, "r")
            fields = [self._h5.get(key) for key in self.keys]
            if not written_by_matlab(self.path, [f for f in fields if f is not None]):
                self._h5.close()
                raise DatasetFileError(
                    f"{self.path} is a plain HDF5 file, not a MATLAB v7.3 one (no MATLAB header, "
                    "no MATLAB_class attributes), so the order of its axes is unknown and it is "
                    "not guessed. Open it with jaxsciml.data.load_arrays(path, inputs_key, "
                    "outputs_key, layout=...), naming its axes (e.g. 'n h w' or 'n c h w')."
                )
            shapes = [None if f is None else tuple(reversed(f.shape)) for f in fields]
        else:
            import scipy.io

            try:
                content = scipy.io.loadmat(self.path, variable_names=list(self.keys))
            except Exception as error:
                raise DatasetFileError(
                    f"{self.path} is neither HDF5 (MATLAB v7.3) nor a readable MATLAB v5 file "
                    f"({error}); it may be truncated: download it again."
                ) from error
            fields = [content.get(key) for key in self.keys]
            shapes = [None if f is None else f.shape for f in fields]
        for key, shape in zip(self.keys, shapes):
            if shape is None:
                raise DatasetFileError(
                    f"{self.path} has no field {key!r}; pass input_key/output_key naming its fields"
                )
        if shapes[0] != shapes[1] or len(shapes[0]) < 2:
            raise DatasetFileError(f"fields {self.keys} of {self.path} have shapes {shapes}")
        if self._h5 is None:
            self._arrays = tuple(np.asarray(f, np.float32)[:, None] for f in fields)
        self._shape = shapes[0]

    num_samples = property(lambda self: self._shape[0])
    input_shape = property(lambda self: (1, *self._shape[1:]))
    output_shape = property(lambda self: (1, *self._shape[1:]))
    grid = property(lambda self: unit_grid(self._shape[1:]))
    metadata = property(lambda self: {"path": str(self.path), "fields": list(self.keys)})

    def read_sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is not None:
            return self._arrays[0][index], self._arrays[1][index]
        pair = []
        for key in self.keys:
            stored = self._h5[key]  # MATLAB (N, *spatial) stored as (*reversed(spatial), N)
            sample = stored[(Ellipsis, index)]
            pair.append(np.asarray(sample.T, np.float32)[None])
        return pair[0], pair[1]

    def describe(self, index: int) -> str:
        return f"sample {index} of {self.path}"
