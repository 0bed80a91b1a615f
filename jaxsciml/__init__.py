"""jaxsciml: neural operators for PDEs in JAX, trained on generated data."""

from importlib.metadata import PackageNotFoundError, version as _version

from jaxsciml import (
    data as data,
    losses as losses,
    nn as nn,
    parallel as parallel,
    physics as physics,
    train as train,
)
from jaxsciml.nn import SpectralConv as SpectralConv, count_parameters as count_parameters
from jaxsciml.operators import (
    DGNO as DGNO,
    FNO as FNO,
    PIG as PIG,
    PINN as PINN,
    T1 as T1,
    DeepONet as DeepONet,
    MgNO as MgNO,
    MultiONet as MultiONet,
    Normalized as Normalized,
    OperatorODE as OperatorODE,
    with_normalizers as with_normalizers,
)
from jaxsciml.operators.files import load_model as load_model, save_model as save_model
from jaxsciml.train import (
    Checkpointing as Checkpointing,
    Evaluation as Evaluation,
    evaluate as evaluate,
    fit as fit,
)


try:
    __version__ = _version("jaxsciml")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"
