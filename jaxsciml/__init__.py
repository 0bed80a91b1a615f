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
# mallopt parameters: M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX, M_ARENA_MAX
_MALLOPT = ((-1, 2**31 - 1), (-2, 64 << 20), (-4, 0), (-8, 1))


def keep_host_memory() -> bool:
    """Have glibc's allocator keep freed memory for reuse; whether it was done. Called on import.

    XLA:CPU allocates one scratch block for a computation's temporaries at every execution and
    frees it after (196 MB for an FNO-2D train step at 64², batch 20). By default glibc serves a
    block that large by a fresh `mmap` and unmaps it on free, so every step faults all its pages
    in again: 47,700 faults and 76 ms of kernel time per step there. The settings: the heap is
    never trimmed and grows 64 MiB at a time, large blocks come from the heap rather than from
    `mmap`, and every thread shares the main heap (glibc's per-thread heaps hold at most 64 MiB,
    so a larger block from one of them would be mapped afresh anyway). Measured on 2 cores, the
    FNO step took 184 ms by default and 158 ms so at 64², 622 and 469 ms at 128².

    The price: the process keeps its peak host memory until it exits, and more of it, since
    small blocks cut from a freed large one make the heap grow by another large block now and
    then (the 128² run above peaked at 2.6 GB of resident memory, against 1.3 GB by default);
    and threads share one lock for blocks too large for their caches.
    `JAXSCIML_KEEP_HOST_MEMORY=0` in the environment opts out. It must run before JAX's first
    computation (threads made before keep their own heaps). Linux with glibc only.
    """
    if os.environ.get(HOST_MEMORY_ENV, "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False  # not glibc
    return all(mallopt(number, value) == 1 for number, value in _MALLOPT)


HOST_MEMORY_KEPT = keep_host_memory()  # whether the import tuned the allocator


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
