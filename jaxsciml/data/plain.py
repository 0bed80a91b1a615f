"""Plain HDF5 and NPZ files of one's own: two arrays by key, their axes named by a layout.

A layout names each axis of a stored array in order, separated by spaces: `n` the samples, `c`
the channels (optional: without it the field has one channel), any other word a spatial axis.
`"n c h w"` is the channels-first layout of PyTorch, `"n h w c"` the channels-last one of
TensorFlow and The Well, `"n x"` a 1-D field with one channel. Samples are read lazily from HDF5,
one at a time, in the axis order the file holds; NPZ files are read whole.
"""

import os
from pathlib import Path

import h5py
import numpy as np

from datagen.format import DatasetFileError, refuse_outside_references
from jaxsciml.data.sources import AbstractSource, unit_grid


def parse_layout(layout: str, ndim: int, what: str) -> tuple[int, int | None, tuple[int, ...]]:
    """The positions of the sample axis, the channel axis (or `None`) and the spatial axes of
    an array of rank `ndim` stored in `layout`."""
    names = layout.split()
    problems = []
    if len(names) != ndim:
        problems.append(f"it names {len(names)} axes for an array of {ndim}")
    if len(set(names)) != len(names):
        problems.append("it names an axis twice")
    if names.count("n") != 1:
        problems.append("it needs one sample axis 'n'")
    if len(names) - names.count("n") - names.count("c") < 1:
        problems.append("it needs at least one spatial axis")
    if problems:
        raise ValueError(f"layout {layout!r} of {what}: {'; '.join(problems)}")
    channel = names.index("c") if "c" in names else None
    spatial = tuple(i for i, name in enumerate(names) if name not in ("n", "c"))
    return names.index("n"), channel, spatial


class KeyedSource(AbstractSource):
    """Inputs and outputs stored under `inputs` and `outputs` of an HDF5 or NPZ file, with axes
    as `layout` names them (`output_layout`: the outputs', when it differs)."""

    def __init__(
        self,
        path: str | os.PathLike,
        inputs: str,
        outputs: str,
        layout: str | None,
        output_layout: str | None = None,
    ):
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetFileError(f"{self.path} does not exist")
        self.keys = (inputs, outputs)
        self._file, self._arrays = self._open(), {}
        arrays = [self._array(key) for key in self.keys]
        layouts = self._layouts(layout, output_layout, arrays)
        self._axes = [
            parse_layout(text, array.ndim, f"{key!r} in {self.path}")
            for text, array, key in zip(layouts, arrays, self.keys)
        ]
        shapes = [self._sample_shape(array, axes) for array, axes in zip(arrays, self._axes)]
        counts = [array.shape[axes[0]] for array, axes in zip(arrays, self._axes)]
        if counts[0] != counts[1] or shapes[0][1:] != shapes[1][1:]:
            raise DatasetFileError(
                f"{self.path}: {inputs!r} holds {counts[0]} samples of {shapes[0]} and "
                f"{outputs!r} {counts[1]} of {shapes[1]} (channels, *spatial) as laid out; "
                "they must agree in number and grid. Check the layouts."
            )
        self._count, self._shapes = counts[0], shapes

    def _layouts(self, layout, output_layout, arrays) -> tuple[str, str]:
        """The layouts of the two arrays, as given (a reader may infer them)."""
        if layout is None:
            raise ValueError(f"name the axes of {self.keys} in {self.path} with layout=")
        return layout, output_layout or layout

    def _open(self):
        """The open file: a mapping from keys to arrays."""
        if h5py.is_hdf5(self.path):
            f = h5py.File(self.path, "r")
            try:
                refuse_outside_references(f, self.path)
            except DatasetFileError:
                f.close()
                raise
            return f
        try:
            return np.load(self.path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise DatasetFileError(
                f"{self.path} is neither HDF5 nor NPZ ({error}); it may be truncated"
            ) from error

    def _array(self, key: str):
        """The array `key`: an h5py dataset (read per sample), or an NPZ member (read once)."""
        if key not in self._arrays:
            if key not in self._file:
                raise DatasetFileError(
                    f"{self.path} has no array {key!r}; it holds {sorted(self._file.keys())}"
                )
            self._arrays[key] = self._file[key]
        return self._arrays[key]

    @staticmethod
    def _sample_shape(array, axes) -> tuple[int, ...]:
        _, channel, spatial = axes
        channels = 1 if channel is None else array.shape[channel]
        return (channels, *(array.shape[i] for i in spatial))

    num_samples = property(lambda self: self._count)
    input_shape = property(lambda self: self._shapes[0])
    output_shape = property(lambda self: self._shapes[1])
    grid = property(lambda self: unit_grid(self._shapes[0][1:]))
    metadata = property(lambda self: {"path": str(self.path), "arrays": list(self.keys)})

    def read_sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        pair = []
        for key, (sample_axis, channel, spatial) in zip(self.keys, self._axes):
            array = self._array(key)
            position = [slice(None)] * array.ndim
            position[sample_axis] = index
            sample = np.asarray(array[tuple(position)], np.float32)
            kept = [a for a in range(array.ndim) if a != sample_axis]  # the sample's own axes
            order = ([kept.index(channel)] if channel is not None else []) + [
                kept.index(a) for a in spatial
            ]
            sample = np.transpose(sample, order)
            pair.append(sample if channel is not None else sample[None])
        return pair[0], pair[1]

    def describe(self, index: int) -> str:
        return f"sample {index} of {self.path}"
