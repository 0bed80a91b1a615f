"""Device meshes and shardings for data-parallel training; multi-host start-up.

One code path for every scale: a one-dimensional mesh whose axis `"data"` spans all devices of
all processes. Batches are split along it; parameters are replicated. On one CPU this is a mesh of
one device, in the tests a mesh of 8 virtual CPU devices, on a cluster every GPU or TPU core.

Many hosts (Slurm, TPU pods, Open MPI) start one process per host and call
`initialize_distributed()` first thing, before any other JAX call. A Slurm job script:

```bash
#!/bin/bash
#SBATCH --nodes=2 --ntasks-per-node=1 --gpus-per-node=4
srun jaxsciml train configs/darcy_fno.toml --distributed --resume
```

JAX reads the coordinator address, process count and rank from Slurm's environment; the same
command works in an interactive `salloc`. Each process then reads only its slice of every batch
(`jaxsciml.data.Dataset.batches(part=...)`), and only process 0 writes logs and metrics (every
process takes part in checkpointing, as orbax requires).
"""

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


DATA_AXIS = "data"


def initialize_distributed(**kwargs) -> None:
    """Join a multi-process JAX job: `jax.distributed.initialize(**kwargs)`.

    Call it before any other JAX operation. On Slurm, TPU pods and Open MPI every argument is
    detected from the environment; elsewhere pass `coordinator_address="host:port"`,
    `num_processes` and `process_id` (see `jax.distributed.initialize`).
    """
    jax.distributed.initialize(**kwargs)


def data_mesh(devices=None) -> Mesh:
    """A one-axis mesh (`"data"`) over `devices` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.array(devices), (DATA_AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over the mesh, the other axes whole."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    """Raise unless `batch_size` splits evenly over the mesh's devices and its processes."""
    devices = mesh.devices.size
    if batch_size % devices or batch_size % jax.process_count():
        raise ValueError(
            f"batch_size {batch_size} does not split evenly over the {devices} devices of the "
            f"mesh; use a multiple of {devices} or pass a mesh over fewer devices "
            "(jaxsciml.parallel.data_mesh(jax.devices()[:k]))."
        )


def batch_placements(split, mesh: Mesh):
    """`split` (a pytree of booleans, as `AbstractBatch.batch_axes()` gives it) as shardings:
    the batch sharding where `True`, a full copy on every device where `False`."""
    sharding, everywhere = batch_sharding(mesh), replicated(mesh)
    return jax.tree.map(lambda s: sharding if s else everywhere, split)


def global_batch(local_rows, mesh: Mesh, split=None):
    """The global array(s) from this process's rows of a batch.

    `local_rows` is a pytree of NumPy arrays holding rows `[p*b/P, (p+1)*b/P)` of the global
    batch of `b` rows on process `p` of `P` (all of it on one process), as
    `AbstractDataset.batches(part=(p, P))` yields them. `split` is a pytree of the same structure
    with `True` on the leaves split along their first axis over the mesh and `False` on those
    every process holds whole (replicated), as `AbstractBatch.batch_axes()` gives it; `None`
    splits every leaf.
    """
    split = jax.tree.map(lambda _: True, local_rows) if split is None else split
    placements = batch_placements(split, mesh)
    sharding = batch_sharding(mesh)
    if jax.process_count() == 1:  # one call places every field: the cheap path, per step
        return jax.device_put(local_rows, placements)
    processes = jax.process_count()

    def build(rows, placement):
        batched = placement is sharding
        shape = (rows.shape[0] * processes, *rows.shape[1:]) if batched else rows.shape
        return jax.make_array_from_process_local_data(placement, rows, shape)

    return jax.tree.map(build, local_rows, placements)


def replicate(tree, mesh: Mesh):
    """Place every array leaf of `tree` on every device of `mesh`."""
    return jax.device_put(tree, replicated(mesh))


def replicate_model(model, mesh: Mesh):
    """`model` with every array leaf placed on every device of `mesh` (the rest untouched)."""
    arrays, static = eqx.partition(model, eqx.is_array)
    return eqx.combine(replicate(arrays, mesh), static)
