"""Write any grid dataset in the `datagen` shard format, so the CLI and every reader take it."""

import math
import os
from pathlib import Path

import numpy as np

from datagen.format import (
    SHARD_PATTERN,
    DatasetFileError,
    Provenance,
    ShardInfo,
    shard_name,
    write_shard,
)
from datagen.progress import progress_bar
from jaxsciml.data.dataset import Dataset


def save(
    dataset: Dataset, out: str | os.PathLike, *, shard_size: int = 256, progress: bool = False
) -> Path:
    """Write `dataset` (e.g. `load_arrays(...)` or `from_arrays(...)`) into the new shard
    directory `out`, `shard_size` samples per shard, with checksums; `jsm.data.load(out)` and
    `jaxsciml train --data out` then read it. Its provenance records the problem `"arrays"` and
    where the samples came from. Refuses a directory that already holds shards. `progress`: a
    bar (or log lines) while it writes."""
    if not (isinstance(shard_size, int) and shard_size >= 1):
        raise ValueError(f"shard_size must be a positive whole number, got {shard_size!r}")
    out = Path(out)
    if out.exists() and (
        not out.is_dir() or any(SHARD_PATTERN.match(p.name) for p in out.iterdir())
    ):
        raise DatasetFileError(f"{out} already holds a dataset (or is a file); save into a new one")
    n = len(dataset)
    source = str(dataset.metadata.get("path", "arrays in memory"))
    provenance = Provenance("arrays", {"source": source}, "none", 0.0, 0)
    num_shards = math.ceil(n / shard_size)
    bar = progress_bar(n, f"writing {out}", "sample", progress)
    for shard in range(num_shards):
        positions = np.arange(shard * shard_size, min(n, (shard + 1) * shard_size))
        batch = dataset.read(positions)
        info = ShardInfo(
            provenance=provenance,
            grid=dataset.grid,
            shard_index=shard,
            num_shards=num_shards,
            sample_offset=int(positions[0]),
            num_samples_total=n,
        )
        write_shard(out / shard_name(shard), batch.inputs, batch.outputs, info)
        bar.update(len(positions))
    bar.close()
    return out
