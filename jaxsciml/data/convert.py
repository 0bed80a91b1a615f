"""From any format the toolkit reads to The Well's layout or to `datagen` shards
(`jaxsciml convert`), so that data made or gathered here feeds other tools."""

import os
from pathlib import Path

import numpy as np

from jaxsciml.data.dataset import Dataset
from jaxsciml.data.trajectories import AbstractTrajectories, TrajectoryPairs


TARGETS = ("the_well", "jaxsciml")


class DatasetTrajectories(AbstractTrajectories):
    """A dataset of pairs seen as trajectories: the inputs' first `constant_channels` channels
    are constant fields, the rest the state at the first frame, and the outputs the states at
    the following frames, time-major (`datagen`'s heat and Navier-Stokes layout, that of
    `OperatorODE`). With every input channel constant (a map without time, e.g. Darcy), each
    trajectory is one frame: the outputs. `frame_time` spaces the frames' times. The state is
    named `u` (`u0`, `u1`, ...), the constant fields `a` (`a0`, ...)."""

    def __init__(self, dataset: Dataset, constant_channels: int, frame_time: float = 1.0):
        c_in, *spatial = dataset.input_shape
        c_out = dataset.output_shape[0]
        if not 0 <= constant_channels <= c_in:
            raise ValueError(f"constant_channels must lie in [0, {c_in}], got {constant_channels}")
        state = c_in - constant_channels
        if state and c_out % state:
            raise ValueError(
                f"the outputs' {c_out} channels are not frames of a {state}-channel state "
                f"(inputs {c_in} channels less {constant_channels} constant ones); give the "
                "number of constant input channels"
            )
        self.dataset, self.constants = dataset, constant_channels
        self.state = state or c_out
        self.steps = (1 if state else 0) + c_out // self.state
        self.spatial, self.frame_time = tuple(spatial), frame_time
        self._last = None  # (trajectory, its (inputs, outputs))

    num_trajectories = property(lambda self: len(self.dataset))
    num_steps = property(lambda self: self.steps)
    frame_shape = property(lambda self: (self.state, *self.spatial))
    constant_channels = property(lambda self: self.constants)
    grid = property(lambda self: self.dataset.grid)
    times = property(lambda self: np.arange(self.steps) * self.frame_time)
    channel_names = property(lambda self: _names("u", self.state))
    constant_names = property(lambda self: _names("a", self.constants))

    @property
    def metadata(self) -> dict:
        return self.dataset.metadata

    def _pair(self, trajectory: int):
        """Sample `trajectory`'s arrays, read once for its frames and its constants."""
        if self._last is None or self._last[0] != trajectory:
            sample = self.dataset[trajectory]
            self._last = (trajectory, (np.asarray(sample.inputs), np.asarray(sample.outputs)))
        return self._last[1]

    def read_frames(self, trajectory: int, steps: slice) -> np.ndarray:
        inputs, outputs = self._pair(trajectory)
        frames = outputs.reshape(-1, *self.frame_shape)
        if self.steps > len(frames):  # the initial state is the first frame
            frames = np.concatenate([inputs[None, self.constants :], frames])
        return frames[steps]

    def read_constants(self, trajectory: int) -> np.ndarray:
        return self._pair(trajectory)[0][: self.constants]


def _names(stem: str, count: int) -> list[str]:
    """`[stem]` for one field, `[stem0, stem1, ...]` for several."""
    return [stem] if count == 1 else [f"{stem}{i}" for i in range(count)]


def time_layout(dataset: Dataset) -> tuple[int, float]:
    """`(constant input channels, time between frames)` of a `datagen` dataset, from its
    provenance: a trajectory family (`steps` or `frames` outputs) has the state as its last
    input channels; any other dataset is a map without time, all of its inputs constant."""
    parameters = dataset.metadata.get("parameters", {})
    steps = parameters.get("steps", parameters.get("frames"))
    c_in, c_out = dataset.input_shape[0], dataset.output_shape[0]
    if isinstance(steps, int) and steps >= 1 and c_out % steps == 0 and c_out // steps <= c_in:
        frame_time = parameters.get("time_step", parameters.get("frame_interval", 1.0))
        return c_in - c_out // steps, float(frame_time)
    return c_in, 1.0


def convert(
    dataset: Dataset,
    out: str | os.PathLike,
    *,
    to: str = "the_well",
    constant_channels: int | None = None,
    dataset_name: str | None = None,
    shard_size: int = 256,
    progress: bool = False,
) -> Path:
    """Write `dataset` (from `jsm.data.load`, any format) to `out`: one HDF5 file in The Well's
    layout (`to="the_well"`) or a folder of `datagen` shards (`to="jaxsciml"`).

    For The Well, time series read from a trajectory format are written as the trajectories
    they came from; pairs become trajectories by `DatasetTrajectories`, the number of constant
    input channels given or read off a `datagen` dataset's provenance (`time_layout`).
    `progress`: a bar (or log lines) while it writes.
    """
    from jaxsciml.data.export import save
    from jaxsciml.data.the_well import write_well

    if to not in TARGETS:
        raise ValueError(f"to must be one of {TARGETS}, got {to!r}")
    if to == "jaxsciml":
        return save(dataset, out, shard_size=shard_size, progress=progress)
    metadata = dataset.metadata
    whole = len(dataset) == dataset.source.num_samples and set(dataset.stride) == {1}
    if isinstance(dataset.source, TrajectoryPairs) and whole and constant_channels is None:
        store = dataset.source.trajectories  # the trajectories the windows were cut from
    else:
        constants, frame_time = time_layout(dataset)
        if constant_channels is not None:
            constants = constant_channels
        store = DatasetTrajectories(dataset, constants, frame_time)
    name = dataset_name or str(metadata.get("dataset_name", metadata.get("problem", "jaxsciml")))
    parameters = dict(metadata.get("parameters", metadata.get("simulation_parameters", {})))
    return write_well(store, out, dataset_name=name, parameters=parameters, progress=progress)
