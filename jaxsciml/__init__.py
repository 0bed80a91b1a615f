"""jaxsciml: neural operators for PDEs in JAX, trained on generated data.

The names below are imported on first use (PEP 562), so that `import jaxsciml` and the
`jaxsciml` command start in a fraction of a second and load JAX only when it is needed.

Importing jaxsciml has glibc's allocator keep freed memory for reuse (`keep_host_memory`);
`JAXSCIML_KEEP_HOST_MEMORY=0` in the environment leaves the allocator alone.
"""

import ctypes
import importlib
import os
import sys
from importlib.metadata import PackageNotFoundError, version as _version


HOST_MEMORY_ENV = "JAXSCIML_KEEP_HOST_MEMORY"
_MALLOPT = ((-1, 2**31 - 1), (-2, 64 << 20), (-3, 32 << 20))  # trim, top pad, mmap threshold


def keep_host_memory() -> bool:
    """Have glibc's allocator keep freed memory for reuse: no trimming, and blocks up to 32 MiB
    from the heap rather than from fresh `mmap`s; whether it was done. Called on import.

    XLA:CPU allocates a step's temporaries at every execution; by default each large block is
    a fresh mapping whose pages fault in again at every step. Measured on 2 cores (an FNO of
    width 16 on 33x33, batch 20), a jitted train step took 41 ms by default and 28 ms so. It
    must run before JAX's first computation (threads made before keep their behaviour); the
    process then keeps its peak host memory. Linux with glibc only.
    """
    if os.environ.get(HOST_MEMORY_ENV, "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False  # not glibc
    return all(mallopt(number, value) == 1 for number, value in _MALLOPT)


keep_host_memory()


_SUBMODULES = ("data", "losses", "nn", "nnx", "parallel", "physics", "train")
_NAMES = {
    "jaxsciml.nn": ("SpectralConv", "count_parameters"),
    "jaxsciml.operators": (
        "DGNO", "FNO", "PIG", "PINN", "T1", "DeepONet", "MgNO", "MultiONet", "Normalized",
        "OperatorODE", "SFNO", "with_normalizers",
    ),
    "jaxsciml.refiner": ("refine",),
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
