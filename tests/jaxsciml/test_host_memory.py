"""`import jaxsciml` tunes glibc's allocator, and `keep_host_memory(share_heap=True)` further
(XLA's per-run temporaries then reuse heap memory instead of faulting in fresh mappings), unless
the environment says not to."""

import os
import subprocess
import sys

import pytest


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

# MiB of pages faulted in by each run of a jitted function whose temporaries take 2 x 36 MiB
# (more than glibc serves from a thread's own heap): the median over runs 6 to 16. The tuned heap
# grows over the first few runs (and now and then later, when small blocks have been cut from
# a freed large one), then holds the temporaries.
FAULTED_PER_RUN = """
import resource, statistics, sys
import jaxsciml
shared = jaxsciml.keep_host_memory(share_heap=sys.argv[1] == "share")
import jax, jax.numpy as jnp

@jax.jit
def f(x):
    return ((jnp.sin(x) @ x.T) * (jnp.cos(x) @ x.T)).sum()

x = jnp.ones((3072, 64), jnp.float32)
faulted = []
for _ in range(16):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    f(x).block_until_ready()
    faulted.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
median = statistics.median(faulted[5:])
print(shared, median * resource.getpagesize() / 2**20)
"""


def run(share: bool, environment: dict | None = None) -> tuple[str, float]:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **(environment or {})}
    env.pop("XLA_FLAGS", None)  # one device: the tests' 8 virtual ones change nothing here
    done = subprocess.run(
        [sys.executable, "-c", FAULTED_PER_RUN, "share" if share else "keep"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    shared, faulted = done.stdout.split()
    return shared, float(faulted)


def test_a_shared_heap_stops_large_temporaries_faulting_in_at_every_run():
    shared, faulted = run(share=True)
    assert shared == "True" and faulted < 5
    # what import sets alone, and glibc's defaults: the 72 MiB are mapped afresh at every run
    assert run(share=False)[1] > 50
    off, faulted_by_default = run(share=True, environment={"JAXSCIML_KEEP_HOST_MEMORY": "0"})
    assert off == "False" and faulted_by_default > 50
