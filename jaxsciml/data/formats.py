"""`load(path)`: any dataset the toolkit reads, its format recognised from the content.

The formats and their options:

- `jaxsciml`: a `datagen` dataset, a folder of `shard-NNNNN.h5` files or one shard.
- `the_well`: The Well's HDF5 layout, one file or a split folder (time series); options
  `n_steps_input`, `n_steps_output`, `stride`.
- `pdebench`: PDEBench HDF5: Darcy (`nu`, `tensor`), one array per field, or one group per
  seed; the time series take the options of `the_well`.
- `fno_mat`: the FNO paper's `.mat` files (MATLAB v5 or v7.3); `input_key`, `output_key`.
- `torch`: neuraloperator's `.pt` files, a dict of tensors; `inputs`, `outputs`, `layout`,
  `output_layout` (all optional).
- `arrays`: any other HDF5 or NPZ file, by key and axis layout: `inputs`, `outputs`, `layout`
  (required) and `output_layout`.

Time series become pairs of windows (`jaxsciml.data.TrajectoryPairs`); every format gives a
`jaxsciml.data.Dataset`, read lazily.
"""

import inspect
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py

from datagen.format import SHARD_PATTERN, DatasetFileError
from jaxsciml.data.dataset import Dataset
from jaxsciml.data.pdebench import PDEBenchDarcy, PDEBenchFields, PDEBenchSeeds, pdebench_layout
from jaxsciml.data.plain import KeyedSource
from jaxsciml.data.sources import MATLAB_HEADER, FNOMatSource, ShardedSource, written_by_matlab
from jaxsciml.data.the_well import WellTrajectories, is_well_file, well_files
from jaxsciml.data.torch_files import TorchSource
from jaxsciml.data.trajectories import PairTrajectories, TrajectoryPairs


MATLAB_V5_HEADER = b"MATLAB 5.0 MAT-file"


def _pairs(trajectories, n_steps_input: int = 1, n_steps_output: int = 1, stride: int = 1):
    return TrajectoryPairs(trajectories, n_steps_input, n_steps_output, stride)


def _the_well(path, n_steps_input: int = 1, n_steps_output: int = 1, stride: int = 1):
    return _pairs(WellTrajectories(path), n_steps_input, n_steps_output, stride)


def _pdebench(path, n_steps_input: int = 1, n_steps_output: int = 1, stride: int = 1):
    with h5py.File(path, "r") as f:
        layout = pdebench_layout(f)
    if layout == "darcy":
        return PDEBenchDarcy(path)
    store = PDEBenchFields(path) if layout == "fields" else PDEBenchSeeds(path)
    return _pairs(store, n_steps_input, n_steps_output, stride)


def _jaxsciml(path, n_steps_input: int = 0, n_steps_output: int = 0, stride: int = 1):
    """datagen shards; with `n_steps_output`, trajectory data (one input frame, the frames
    after it as outputs) cut into windows of `n_steps_input` frames in, `n_steps_output` out."""
    source = ShardedSource(path)
    if not n_steps_output:
        if n_steps_input:
            raise ValueError("windows need n_steps_output as well as n_steps_input")
        return source
    interval = source.metadata["parameters"].get("frame_interval")
    return _pairs(PairTrajectories(source, interval), n_steps_input, n_steps_output, stride)


def _arrays(path, inputs: str, outputs: str, layout: str, output_layout: str | None = None):
    return KeyedSource(path, inputs, outputs, layout, output_layout)


OPENERS: dict[str, tuple[str, Callable]] = {
    "jaxsciml": (
        "a datagen dataset (a folder of shards, or one shard); trajectories such as "
        "navier_stokes cut into windows with n_steps_input, n_steps_output",
        _jaxsciml,
    ),
    "the_well": ("The Well's HDF5 layout (a file or a split folder)", _the_well),
    "pdebench": ("PDEBench HDF5 (Darcy, one array per field, one group per seed)", _pdebench),
    "fno_mat": ("the FNO paper's .mat files", FNOMatSource),
    "torch": ("neuraloperator's .pt files (needs the torch extra)", TorchSource),
    "arrays": ("any HDF5 or NPZ file, given inputs=, outputs=, layout=", _arrays),
}


def known_formats() -> str:
    return "; ".join(f"{name!r}: {what}" for name, (what, _) in OPENERS.items())


def _recognise_hdf5(path: Path) -> str | None:
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise DatasetFileError(f"{path} is corrupt: HDF5 cannot open it ({error})") from error
    with f:
        if str(f.attrs.get("format", "")) == "jaxsciml-dataset":
            return "jaxsciml"
        if is_well_file(f):
            return "the_well"
        if pdebench_layout(f):
            return "pdebench"
        fields = [v for v in f.values() if isinstance(v, h5py.Dataset)]
        if written_by_matlab(path, fields):
            return "fno_mat"
    return None


def recognise(path: str | os.PathLike) -> str | None:
    """The format of `path` by its content (see the module table), or `None`."""
    path = Path(path)
    if not path.exists():
        raise DatasetFileError(f"{path} does not exist")
    if SHARD_PATTERN.match(path.name):
        return "jaxsciml"  # one shard; its reader says what is wrong with a damaged one
    if path.is_dir():
        names = [p.name for p in path.iterdir()]
        if "dataset.json" in names or any(SHARD_PATTERN.match(n) for n in names):
            return "jaxsciml"
        files = well_files(path)
        return "the_well" if files and _recognise_hdf5(files[0]) == "the_well" else None
    if h5py.is_hdf5(path):
        return _recognise_hdf5(path)
    with open(path, "rb") as f:
        head = f.read(len(MATLAB_HEADER))
    if head.startswith(MATLAB_V5_HEADER) or head.startswith(MATLAB_HEADER):
        return "fno_mat"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
        if any(m.endswith("data.pkl") for m in members):
            return "torch"
        if members and all(m.endswith(".npy") for m in members):
            return "arrays"
    if path.suffix in (".pt", ".pth"):
        return "torch"  # the legacy pickle format: torch.load decides (weights only)
    return None


def load(path: str | os.PathLike, *, format: str | None = None, **options) -> Dataset:
    """Open the dataset at `path`, lazily, in the format its content shows (or `format`).

        jsm.data.load("data/darcy")                                   # made by datagen
        jsm.data.load("2D_DarcyFlow_beta1.0_Train.hdf5")              # PDEBench Darcy
        jsm.data.load("1D_Burgers_Sols_Nu0.1.hdf5", n_steps_output=5)  # time series: windows
        jsm.data.load("shear_flow/data/train", n_steps_input=2)       # The Well, a split
        jsm.data.load("darcy_train_16.pt")                            # neuraloperator
        jsm.data.load("mine.h5", format="arrays", inputs="a", outputs="u", layout="n h w")

    `options` go to the format's reader (see the module table). A file of no format known here
    raises `DatasetFileError` naming the formats there are.
    """
    path = Path(path)
    if format is None:
        format = recognise(path)
        if format is None:
            if options.get("inputs") and path.is_file():
                format = "arrays"
            else:
                raise DatasetFileError(
                    f"{path} is in no format known here. The formats are: {known_formats()}. "
                    "Name one with format=, or for a plain HDF5/NPZ file give inputs=, "
                    "outputs= and layout= (see jaxsciml.data.load_arrays)."
                )
    if format not in OPENERS:
        raise ValueError(f"unknown format {format!r}; the formats are: {known_formats()}")
    opener = OPENERS[format][1]
    parameters = list(inspect.signature(opener).parameters.values())[1:]
    accepted = [p.name for p in parameters]
    unknown = sorted(set(options) - set(accepted))
    missing = [p.name for p in parameters if p.default is p.empty and p.name not in options]
    if unknown or missing:
        raise ValueError(
            f"format {format!r} takes the options {accepted or 'none'}"
            + (f", not {unknown}" if unknown else "")
            + (f", and needs {missing}" if missing else "")
        )
    return Dataset(opener(path, **options))
