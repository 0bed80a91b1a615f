"""Training from device memory: the data placed on the devices once, each batch gathered
inside the compiled step, many steps per dispatch (`make_train_chunk`), the host consulted only
between chunks.

A chunk ends where the host must act: at an epoch that evaluates or checkpoints, at the last
step, and after about `seconds` of work (so that progress shows and an interrupt is heard).
Every chunk runs the same compiled program, whatever its length, so a resumed run computes
each step exactly as an uninterrupted one.
"""

import time

import jax
import numpy as np

from jaxsciml import parallel
from jaxsciml.data.base import AbstractResident
from jaxsciml.train.step import loops_are_slow, make_train_chunk, train_step


class ResidentSteps:
    """Runs the steps of `fit` in chunks on resident data (see the module docstring).

    - `resident`: the dataset whole; `batch_size`, `seed`: as `fit`'s.
    - `steps_per_epoch`; `boundary(epoch) -> bool`: whether the host acts at that epoch's end.
    - `length`: the most steps per chunk; `seconds`: the time a chunk aims at.
    """

    def __init__(
        self,
        resident: AbstractResident,
        loss,
        optimizer,
        static,
        mesh,
        *,
        batch_size: int,
        seed: int,
        steps_per_epoch: int,
        boundary,
        length: int = 256,
        seconds: float = 0.5,
    ):
        self.resident, self.batch_size, self.seed = resident, batch_size, seed
        self.steps_per_epoch, self.boundary = steps_per_epoch, boundary
        self.length, self.seconds = length, seconds
        self.arrays = parallel.replicate(resident.arrays, mesh)
        self.everywhere = parallel.replicated(mesh)
        self.loss, self.optimizer, self.static, self.mesh = loss, optimizer, static, mesh
        self.run_chunk = None  # built at the first chunk, which fixes `length` (see `_build`)
        self.epochs: dict[int, object] = {}  # epoch -> its index arrays, computed once
        self.step_seconds = None  # measured on the chunks run so far

    def chunk_end(self, step: int, total: int) -> int:
        """Where the chunk starting at `step` ends."""
        allowed = 1 if self.step_seconds is None else int(self.seconds / self.step_seconds)
        end = min(total, step + max(1, min(self.length, allowed)))
        epoch = step // self.steps_per_epoch + 1
        while epoch * self.steps_per_epoch < end:
            if self.boundary(epoch):
                return epoch * self.steps_per_epoch
            epoch += 1
        return end

    def _epoch(self, epoch: int):
        if epoch not in self.epochs:
            for old in [e for e in self.epochs if e < epoch]:
                del self.epochs[old]
            self.epochs[epoch] = self.resident.epoch_indices(self.batch_size, self.seed, epoch)
        return self.epochs[epoch]

    def indices(self, start: int, end: int):
        """The index rows of steps `[start, end)`, padded to `length` rows."""
        parts, step = [], start
        while step < end:
            epoch, offset = divmod(step, self.steps_per_epoch)
            stop = min(end - step, self.steps_per_epoch - offset)
            parts.append(jax.tree.map(lambda a: a[offset : offset + stop], self._epoch(epoch)))
            step += stop

        def pad(*pieces):
            rows = np.concatenate(pieces)
            filler = np.zeros((self.length - len(rows), *rows.shape[1:]), rows.dtype)
            return np.concatenate([rows, filler])

        return jax.tree.map(pad, *parts)

    def _build(self, state: dict, start: int, base_key) -> None:
        """The chunk program; one step per chunk where compiled loops are slow for this step
        (`loops_are_slow`: convolutions on XLA:CPU). The choice depends on the step alone, so a
        resumed run makes it as the first run did."""
        step = train_step(self.loss, self.optimizer, self.static)
        rows = jax.tree.map(lambda a: a[0], self._epoch(start // self.steps_per_epoch))
        batch = self.resident.gather(self.arrays, rows)
        jaxpr = jax.make_jaxpr(step)(
            state["params"], state["frozen"], state["opt_state"], batch, base_key
        )
        if loops_are_slow(jaxpr, self.mesh):
            self.length = 1
        self.run_chunk = make_train_chunk(
            self.loss, self.optimizer, self.static, self.mesh, self.resident.gather, self.length
        )

    def run(self, state: dict, start: int, end: int, base_key) -> tuple[dict, np.ndarray, float]:
        """Steps `[start, end)`: the new state, their losses and the seconds they took."""
        if self.run_chunk is None:
            self._build(state, start, base_key)
        started = time.perf_counter()
        indices = jax.device_put(self.indices(start, end), self.everywhere)
        params, opt_state, losses = self.run_chunk(
            state["params"], state["frozen"], state["opt_state"], self.arrays, indices,
            start, end - start, base_key,
        )  # fmt: skip
        losses = np.asarray(losses)[: end - start]  # the one wait of the chunk
        elapsed = time.perf_counter() - started
        self.step_seconds = elapsed / (end - start)
        return {**state, "params": params, "opt_state": opt_state}, losses, elapsed
