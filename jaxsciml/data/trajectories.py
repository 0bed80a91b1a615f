"""Time series as training pairs: windows of frames cut from trajectories, as The Well's loader
cuts them.

A trajectory store (`AbstractTrajectories`) holds `num_trajectories` trajectories of `num_steps`
frames, each frame `(channels, *spatial)`, and optionally fields constant in time,
`(constant_channels, *spatial)` per trajectory. `TrajectoryPairs` makes it a source of pairs:
window `k` of trajectory `j` starts at frame `k` and takes `n_steps_input` frames `stride` apart
as its input and the `n_steps_output` frames that follow them (same stride) as its output. The
frames are stacked time-major along the channels, the constant fields first:

    input  = [constants, u(t_k), u(t_k+s), ...]          (K + n_in·C, *spatial)
    output = [u(t_k+n_in·s), u(t_k+(n_in+1)·s), ...]     (n_out·C, *spatial)

which is the layout `OperatorODE` trains on (`coefficient_channels=K`, `times` = the output
offsets, see `TrajectoryPairs.output_times`) and the one autoregressive models roll out with.
A trajectory of `T` frames gives `T - stride·(n_in + n_out - 1)` windows; pairs are numbered
trajectory by trajectory. `n_in = 0` maps the constant fields alone to the frames (a map
without time, such as Darcy written in The Well's layout, is one frame per trajectory).
"""

import abc

import numpy as np

from jaxsciml.data.sources import AbstractSource


class AbstractTrajectories(abc.ABC):
    """Trajectories of frames on one grid, read lazily by trajectory and time range."""

    @property
    @abc.abstractmethod
    def num_trajectories(self) -> int: ...

    @property
    @abc.abstractmethod
    def num_steps(self) -> int:
        """Frames per trajectory."""

    @property
    @abc.abstractmethod
    def frame_shape(self) -> tuple[int, ...]:
        """`(channels, *spatial)` of one frame."""

    @property
    def constant_channels(self) -> int:
        """The number of fields constant in time (0 unless the format has them)."""
        return 0

    @property
    @abc.abstractmethod
    def grid(self) -> tuple[np.ndarray, ...]:
        """One 1-D coordinate array per spatial axis."""

    @property
    def times(self) -> np.ndarray | None:
        """The time of each frame, `(num_steps,)`, where the format records it."""
        return None

    @property
    def channel_names(self) -> list[str]:
        """A name per frame channel (`c0`, `c1`, ... unless the format names them)."""
        return [f"c{i}" for i in range(self.frame_shape[0])]

    @property
    def constant_names(self) -> list[str]:
        """A name per constant field (`constant_0`, ... unless the format names them)."""
        return [f"constant_{i}" for i in range(self.constant_channels)]

    @property
    def metadata(self) -> dict:
        return {}

    @abc.abstractmethod
    def read_frames(self, trajectory: int, steps: slice) -> np.ndarray:
        """Frames `steps` of trajectory `trajectory`, float32 `(len(steps), channels, *spatial)`."""

    def read_constants(self, trajectory: int) -> np.ndarray:
        """The constant fields of trajectory `trajectory`, float32 `(K, *spatial)`."""
        return np.zeros((0, *self.frame_shape[1:]), np.float32)

    def describe(self, trajectory: int) -> str:
        """Where trajectory `trajectory` lives, for error messages."""
        return f"trajectory {trajectory}"


class ArrayTrajectories(AbstractTrajectories):
    """Trajectories held in memory: `frames` `(n, T, channels, *spatial)` and optionally
    `constants` `(n, K, *spatial)`; `times` `(T,)`, `grid`, the channels' `names` and the
    `constant_names` as the properties describe."""

    def __init__(
        self, frames, constants=None, *, times=None, grid=None, names=None, constant_names=None
    ):
        self._frames = np.asarray(frames, np.float32)
        if self._frames.ndim < 4:
            raise ValueError(f"frames must be (n, T, channels, *spatial); got {self._frames.shape}")
        n, steps, channels, *spatial = self._frames.shape
        empty = np.zeros((n, 0, *spatial), np.float32)
        self._constants = empty if constants is None else np.asarray(constants, np.float32)
        if self._constants.shape[:1] + self._constants.shape[2:] != (n, *spatial):
            raise ValueError(
                f"constants {self._constants.shape} must be (n, K, *spatial) with n={n} and "
                f"spatial {tuple(spatial)}"
            )
        self._times = None if times is None else np.asarray(times, np.float64)
        if self._times is not None and self._times.shape != (steps,):
            raise ValueError(f"times must hold one per frame ({steps}); got {self._times.shape}")
        self._grid = (
            tuple(np.linspace(0.0, 1.0, m) for m in spatial) if grid is None else tuple(grid)
        )
        self._names = list(names) if names is not None else super().channel_names
        if len(self._names) != channels:
            raise ValueError(f"{len(self._names)} channel names for {channels} channels")
        self._constant_names = constant_names

    num_trajectories = property(lambda self: self._frames.shape[0])
    num_steps = property(lambda self: self._frames.shape[1])
    frame_shape = property(lambda self: self._frames.shape[2:])
    constant_channels = property(lambda self: self._constants.shape[1])
    grid = property(lambda self: self._grid)
    times = property(lambda self: self._times)
    channel_names = property(lambda self: self._names)

    @property
    def constant_names(self) -> list[str]:
        return list(self._constant_names or super().constant_names)

    def read_frames(self, trajectory: int, steps: slice) -> np.ndarray:
        return self._frames[trajectory, steps]

    def read_constants(self, trajectory: int) -> np.ndarray:
        return self._constants[trajectory]


class PairTrajectories(AbstractTrajectories):
    """The trajectories of a pair source whose input is the first frame and whose output the
    frames after it, one channel each, such as datagen's Navier-Stokes data (inputs `(1, *s)`,
    outputs `(frames, *s)`): trajectory `j` is `[inputs_j, outputs_j]`, `1 + frames` frames of
    one channel, `frame_interval` apart when the data record it."""

    def __init__(self, pairs: AbstractSource, frame_interval: float | None = None):
        if pairs.input_shape[0] != 1 or pairs.input_shape[1:] != pairs.output_shape[1:]:
            raise ValueError(
                f"trajectories need one input frame and output frames on its grid; got inputs "
                f"{pairs.input_shape} and outputs {pairs.output_shape}"
            )
        self.pairs = pairs
        self.frame_interval = frame_interval

    num_trajectories = property(lambda self: self.pairs.num_samples)
    num_steps = property(lambda self: 1 + self.pairs.output_shape[0])
    frame_shape = property(lambda self: (1, *self.pairs.input_shape[1:]))
    grid = property(lambda self: self.pairs.grid)
    metadata = property(lambda self: self.pairs.metadata)

    @property
    def times(self) -> np.ndarray | None:
        if self.frame_interval is None:
            return None
        return np.arange(self.num_steps) * self.frame_interval

    def read_frames(self, trajectory: int, steps: slice) -> np.ndarray:
        first, rest = self.pairs.read_sample(trajectory)
        frames = np.concatenate([first, rest])[steps]
        return frames[:, None].astype(np.float32)

    def describe(self, trajectory: int) -> str:
        return self.pairs.describe(trajectory)


def window_count(num_steps: int, n_steps_input: int, n_steps_output: int, stride: int) -> int:
    """The windows a trajectory of `num_steps` frames gives (see the module docstring)."""
    return max(0, num_steps - stride * (n_steps_input + n_steps_output - 1))


class TrajectoryPairs(AbstractSource):
    """The (input, output) windows of a trajectory store (see the module docstring)."""

    def __init__(
        self,
        trajectories: AbstractTrajectories,
        n_steps_input: int = 1,
        n_steps_output: int = 1,
        stride: int = 1,
    ):
        for name, value, lowest in [
            ("n_steps_input", n_steps_input, 0),
            ("n_steps_output", n_steps_output, 1),
            ("stride", stride, 1),
        ]:
            if not (isinstance(value, int | np.integer) and value >= lowest):
                raise ValueError(f"{name} must be a whole number >= {lowest}, got {value!r}")
        if not n_steps_input and not trajectories.constant_channels:
            raise ValueError(
                "n_steps_input=0 leaves no input: these trajectories have no constants"
            )
        self.trajectories = trajectories
        self.n_steps_input, self.n_steps_output, self.stride = n_steps_input, n_steps_output, stride
        self.windows = window_count(trajectories.num_steps, n_steps_input, n_steps_output, stride)
        if not self.windows:
            needed = 1 + stride * (n_steps_input + n_steps_output - 1)
            raise ValueError(
                f"trajectories of {trajectories.num_steps} frames are too short for "
                f"{n_steps_input} input and {n_steps_output} output frames {stride} apart "
                f"(that needs {needed}); ask for fewer steps or a smaller stride"
            )

    @property
    def num_samples(self) -> int:
        return self.trajectories.num_trajectories * self.windows

    @property
    def input_shape(self) -> tuple[int, ...]:
        channels, *spatial = self.trajectories.frame_shape
        constants = self.trajectories.constant_channels
        return (constants + self.n_steps_input * channels, *spatial)

    @property
    def output_shape(self) -> tuple[int, ...]:
        channels, *spatial = self.trajectories.frame_shape
        return (self.n_steps_output * channels, *spatial)

    grid = property(lambda self: self.trajectories.grid)

    @property
    def output_times(self) -> tuple[float, ...] | None:
        """The output frames' times after the last input frame (the `times` of an
        `OperatorODE` started there), when the trajectories record times on a uniform step."""
        times = self.trajectories.times
        if times is None or len(times) < 2:
            return None
        steps = np.diff(times)
        if not np.allclose(steps, steps[0], rtol=1e-5, atol=0.0):
            return None
        dt = float(steps[0]) * self.stride
        return tuple(dt * (i + 1) for i in range(self.n_steps_output))

    @property
    def metadata(self) -> dict:
        return {
            **self.trajectories.metadata,
            "n_steps_input": self.n_steps_input,
            "n_steps_output": self.n_steps_output,
            "stride": self.stride,
            "channels": self.trajectories.channel_names,
            "constant_channels": self.trajectories.constant_channels,
        }

    def read_sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        trajectory, start = divmod(index, self.windows)
        span = self.stride * (self.n_steps_input + self.n_steps_output - 1) + 1
        frames = self.trajectories.read_frames(trajectory, slice(start, start + span, self.stride))
        frames = np.asarray(frames, np.float32)
        spatial = frames.shape[2:]
        inputs = frames[: self.n_steps_input].reshape(-1, *spatial)
        outputs = frames[self.n_steps_input :].reshape(-1, *spatial)
        constants = np.asarray(self.trajectories.read_constants(trajectory), np.float32)
        return np.concatenate([constants, inputs]), outputs

    def describe(self, index: int) -> str:
        trajectory, start = divmod(index, self.windows)
        return f"window from frame {start} of {self.trajectories.describe(trajectory)}"
