"""jaxsciml: neural operators for PDEs in JAX, trained on generated data.

The names below are imported on first use (PEP 562), so that `import jaxsciml` and the
`jaxsciml` command start in a fraction of a second and load JAX only when it is needed.
"""

import importlib
from importlib.metadata import PackageNotFoundError, version as _version


_SUBMODULES = ("data", "losses", "nn", "nnx", "parallel", "physics", "train")
_NAMES = {
    "jaxsciml.nn": ("SpectralConv", "count_parameters"),
    "jaxsciml.operators": (
        "DGNO", "FNO", "PIG", "PINN", "T1", "DeepONet", "MgNO", "MultiONet", "Normalized",
        "OperatorODE", "with_normalizers",
    ),
    "jaxsciml.operators.files": ("load_model", "save_model"),
    "jaxsciml.train": ("Checkpointing", "Evaluation", "evaluate", "fit"),
}  # fmt: skip
_HOME = {name: module for module, names in _NAMES.items() for name in names}
__all__ = [*_SUBMODULES, *_HOME]


def __getattr__(name: str):
    if name in _SUBMODULES:
        value = importlib.import_module(f"jaxsciml.{name}")
    elif name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
    else:
        raise AttributeError(f"module 'jaxsciml' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


try:
    __version__ = _version("jaxsciml")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"
