"""Datasets of function pairs on grids (the generator's HDF5 shards, arrays, plain HDF5/NPZ
files by key and layout, FNO .mat files), written back with `save`,
and their sensor-and-query-point view for DeepONet-type models."""

from datagen.format import DatasetFileError as DatasetFileError
from jaxsciml.data.base import (
    AbstractBatch as AbstractBatch,
    AbstractDataset as AbstractDataset,
    AbstractLabelledBatch as AbstractLabelledBatch,
)
from jaxsciml.data.dataset import (
    Batch as Batch,
    Dataset as Dataset,
    epoch_permutation as epoch_permutation,
    from_arrays as from_arrays,
    load as load,
    load_arrays as load_arrays,
    load_fno_mat as load_fno_mat,
)
from jaxsciml.data.export import save as save
from jaxsciml.data.normalize import GaussianNormalizer as GaussianNormalizer
from jaxsciml.data.points import (
    PointBatch as PointBatch,
    PointDataset as PointDataset,
    grid_points as grid_points,
)
from jaxsciml.data.sources import (
    AbstractSource as AbstractSource,
    ArraySource as ArraySource,
    FNOMatSource as FNOMatSource,
    ShardedSource as ShardedSource,
)
