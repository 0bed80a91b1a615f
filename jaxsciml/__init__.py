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
# mallopt parameters: M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD; M_MMAP_MAX, M_ARENA_MAX
_KEEP = ((-1, 2**31 - 1), (-2, 64 << 20), (-3, 32 << 20))
_SHARE = ((-4, 0), (-8, 1))


def keep_host_memory(share_heap: bool = False) -> bool:
    """Have glibc's allocator keep freed memory for reuse; whether it was done.

    XLA:CPU allocates a computation's temporaries at every execution and frees them after. By
    default glibc maps each large block afresh and unmaps it on free, so its pages fault in again
    at every step. On import (`share_heap=False`) the heap is never trimmed, grows 64 MiB at a
    time and serves blocks up to 32 MiB (glibc's largest threshold): a small FNO's step on 2
    cores went from 41 to 28 ms.

    A step's scratch block is often larger (196 MB for an FNO-2D train step at 64², batch 20):
    it is still mapped afresh, 47,700 page faults and 76 ms of kernel time a step there.
    `share_heap=True` also serves every large block from the heap and has all threads share the
    main heap (glibc's per-thread heaps hold at most 64 MiB, so a larger block from one of them
    is mapped afresh anyway). Measured on 2 cores, the FNO step took 184 ms by default and 158 ms
    so at 64², 622 and 469 ms at 128². The price: one lock for the threads' large blocks, which
    slows XLA's multithreaded compilation (an operator-ODE test dominated by compiling took 31.6 s
    against 25.6 s), and more peak memory, since small blocks cut from a freed large one make the
    heap grow by another now and then (2.6 GB resident at 128² against 1.3 GB). So it suits long
    training runs, and `jaxsciml train` sets it; call it first thing in a script to have it.

    Either must run before JAX's first computation (threads made before keep their own heaps);
    the process then keeps its peak host memory. `JAXSCIML_KEEP_HOST_MEMORY=0` in the
    environment turns both off. Linux with glibc only.
    """
    if os.environ.get(HOST_MEMORY_ENV, "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False  # not glibc
    settings = _KEEP + (_SHARE if share_heap else ())
    return all(mallopt(number, value) == 1 for number, value in settings)


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
