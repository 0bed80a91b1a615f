"""Helpers shared by the benchmark scripts."""

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version


def package_versions(names) -> dict[str, str]:
    """The installed version of each distribution in `names` ("not installed" if absent)."""
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def print_run_header(packages) -> None:
    """Print the command that ran the benchmark and the machine with the `packages`' versions."""
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print("machine:", platform.processor() or platform.machine(), os.cpu_count(), "CPUs;",
          package_versions(packages))  # fmt: skip


def interleaved_times(calls: dict, rounds: int, reps: int = 1) -> dict[str, dict[str, float]]:
    """Median, min and max milliseconds of each zero-argument callable in `calls`, timed in
    alternating rounds (A B A B ...) of `reps` calls each; a callable returns what must be
    finished before the clock is read (JAX arrays are waited for)."""
    import time

    import jax
    import numpy as np

    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(reps):
                value = call()
            jax.block_until_ready(value)
            times[name].append((time.perf_counter() - start) / reps * 1e3)
    return {
        name: {
            "median_ms": float(np.median(t)),
            "min_ms": float(np.min(t)),
            "max_ms": float(np.max(t)),
        }
        for name, t in times.items()
    }
