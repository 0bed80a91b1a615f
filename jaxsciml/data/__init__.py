"""Datasets of function pairs on grids, read from the generator's HDF5 shards, The Well,
PDEBench, neuraloperator's .pt files, FNO .mat files, plain HDF5/NPZ files by key and layout,
or arrays (`load` recognises the format); time series cut into windows (`TrajectoryPairs`);
written back with `save` (shards) or `write_well` (The Well's layout); their
sensor-and-query-point view for DeepONet-type models; and samples streamed from running solvers
through a bounded buffer while training runs (`OnlineDataset`)."""

from datagen.format import DatasetFileError as DatasetFileError
from jaxsciml.data.base import (
    AbstractBatch as AbstractBatch,
    AbstractDataset as AbstractDataset,
    AbstractLabelledBatch as AbstractLabelledBatch,
    AbstractStream as AbstractStream,
)
from jaxsciml.data.convert import convert as convert
from jaxsciml.data.dataset import (
    Batch as Batch,
    Dataset as Dataset,
    epoch_permutation as epoch_permutation,
    from_arrays as from_arrays,
    load_arrays as load_arrays,
    load_fno_mat as load_fno_mat,
)
from jaxsciml.data.export import save as save
from jaxsciml.data.formats import load as load, recognise as recognise
from jaxsciml.data.normalize import GaussianNormalizer as GaussianNormalizer
from jaxsciml.data.online import (
    POLICIES as POLICIES,
    OnlineDataset as OnlineDataset,
    StreamExhausted as StreamExhausted,
)
from jaxsciml.data.pdebench import (
    PDEBenchDarcy as PDEBenchDarcy,
    PDEBenchFields as PDEBenchFields,
    PDEBenchSeeds as PDEBenchSeeds,
)
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
from jaxsciml.data.the_well import WellTrajectories as WellTrajectories, write_well as write_well
from jaxsciml.data.torch_files import TorchSource as TorchSource
from jaxsciml.data.trajectories import (
    AbstractTrajectories as AbstractTrajectories,
    ArrayTrajectories as ArrayTrajectories,
    TrajectoryPairs as TrajectoryPairs,
)
