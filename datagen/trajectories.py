"""Time-dependent data: batches of Navier-Stokes trajectories written as dataset shards.

The FNO protocol: initial vorticity from the periodic Gaussian field `N(0, 7^{3/2}(-Δ + 49)^{-2.5})`
on a fine grid (256²), the forcing `0.1 (sin 2π(x+y) + cos 2π(x+y))`, time step 1e-4, one frame
recorded every time unit, every field sub-sampled by a stride to the stored grid (64²). A sample's
`inputs` is the initial vorticity `(1, s, s)` and its `outputs` are the recorded frames
`(frames, s, s)` (time along the channel axis), on the periodic grid `x_i = i / s`.

Sample `i` draws its initial field from `np.random.default_rng([seed, i])`, so any shard can be
made on any machine. `datagen.generate("navier_stokes", n, out, **settings)` writes them through
the one shard driver (atomic shards, resumable).
"""

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from datagen.fields import periodic_gaussian_random_field
from datagen.format import Provenance
from datagen.generator import Generator, Progress, ShardContent, check_finite


SOLVER_NAME = "pseudo-spectral, Crank-Nicolson viscosity, explicit advection"


@dataclasses.dataclass(frozen=True)
class NavierStokesSettings:
    """What defines a Navier-Stokes dataset.

    **Fields:** `viscosity` ν; `resolution` (solver grid points per axis, even); `stored_resolution`
    (a divisor of `resolution`: the stored grid, by striding); `frames` recorded after the
    initial field, one every `frame_interval` time units; `time_step` of the solver; the initial
    field's `alpha`, `tau`.
    """

    viscosity: float = 1e-3
    resolution: int = 256
    stored_resolution: int = 64
    frames: int = 50
    frame_interval: float = 1.0
    time_step: float = 1e-4
    alpha: float = 2.5
    tau: float = 7.0

    def __post_init__(self):
        check_finite(self)
        if not (self.resolution >= 4 and self.stored_resolution >= 1):
            raise ValueError(
                f"resolution must be at least 4 and stored_resolution at least 1, got "
                f"{self.resolution} and {self.stored_resolution}"
            )
        if self.resolution % 2 or self.resolution % self.stored_resolution:
            raise ValueError(
                f"resolution ({self.resolution}) must be even and a multiple of "
                f"stored_resolution ({self.stored_resolution})"
            )
        if not (self.viscosity > 0 and self.time_step > 0 and self.frames >= 1):
            raise ValueError("viscosity, time_step and frames must be positive")
        if abs(self.steps_per_frame * self.time_step - self.frame_interval) > 1e-9:
            raise ValueError(
                f"frame_interval ({self.frame_interval}) must be a whole number of time steps "
                f"({self.time_step})"
            )

    @property
    def steps_per_frame(self) -> int:
        return max(1, round(self.frame_interval / self.time_step))

    @property
    def stride(self) -> int:
        return self.resolution // self.stored_resolution

    def initial_vorticity(self, seed: int, index: int) -> np.ndarray:
        """Sample `index`'s initial field on the solver grid, float64 `(resolution, resolution)`."""
        rng = np.random.default_rng([seed, index])
        return periodic_gaussian_random_field(
            rng, self.resolution, 2, alpha=self.alpha, tau=self.tau
        )


@dataclasses.dataclass(frozen=True)
class NavierStokes(NavierStokesSettings, Generator):
    """Navier-Stokes trajectories as a dataset: the settings of `NavierStokesSettings`, and
    `batch_size` trajectories solved together in one `vmap`ped call (memory: about
    `batch_size · resolution² · 40` bytes on the device). The FNO files: `ν = 1e-3, frames=50`;
    `ν = 1e-4, frames=30`; `ν = 1e-5, frames=20`, all at `resolution=256, stored_resolution=64`.
    """

    batch_size: int = 20
    name: ClassVar[str] = "navier_stokes"
    summary: ClassVar[str] = "2D vorticity trajectories on the torus (the FNO protocol)"
    default_shard_size: ClassVar[int] = 100
    processes: ClassVar[bool] = False  # JAX owns the device

    def __post_init__(self):
        super().__post_init__()
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")

    def quick(self) -> "NavierStokes":
        """Solved on the stored grid with one step of 1e-3 per frame: the same shapes."""
        return dataclasses.replace(
            self, resolution=self.stored_resolution, time_step=1e-3, frame_interval=1e-3
        )

    @property
    def solver_settings(self) -> NavierStokesSettings:
        """The settings that define the data (the batch size does not)."""
        fields = dataclasses.fields(NavierStokesSettings)
        return NavierStokesSettings(**{f.name: getattr(self, f.name) for f in fields})

    def provenance(self, seed: int) -> Provenance:
        parameters = dataclasses.asdict(self.solver_settings)
        return Provenance(self.name, parameters, SOLVER_NAME, 0.0, seed)

    def grid(self) -> tuple[np.ndarray, ...]:
        s = self.stored_resolution
        return (np.arange(s) / s,) * 2

    def make_shard(
        self, seed: int, indices: Sequence[int], progress: Progress | None = None
    ) -> ShardContent:
        # JAX is imported here, when trajectories are made, not with `datagen` (fast --help)
        from datagen.problems.navier_stokes import recorded_frames

        settings, stride = self.solver_settings, self.stride
        inputs, outputs = [], []
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start : start + self.batch_size]
            w0 = np.stack([settings.initial_vorticity(seed, int(i)) for i in batch])
            outputs.append(recorded_frames(w0, settings))
            inputs.append(w0[:, None, ::stride, ::stride])
            if progress:
                progress(len(batch), 0)
        return ShardContent(
            np.concatenate(inputs), np.concatenate(outputs), tuple(indices), backend="jax"
        )
