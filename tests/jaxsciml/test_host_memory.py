"""`import jaxsciml` tunes glibc's allocator once (XLA's per-run temporaries then reuse heap
memory instead of faulting in fresh mappings), unless the environment says not to."""

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
import resource, statistics
import jaxsciml
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
print(jaxsciml.keep_host_memory(), median * resource.getpagesize() / 2**20)
"""


def run(environment: dict) -> tuple[str, float]:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **environment}
    env.pop("XLA_FLAGS", None)  # one device: the tests' 8 virtual ones change nothing here
    done = subprocess.run(
        [sys.executable, "-c", FAULTED_PER_RUN], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    tuned, faulted = done.stdout.split()
    return tuned, float(faulted)


def test_large_temporaries_stop_faulting_in_once_the_heap_holds_them():
    tuned, faulted = run({})
    untouched, faulted_by_default = run({"JAXSCIML_KEEP_HOST_MEMORY": "0"})
    assert (tuned, untouched) == ("True", "False")
    assert faulted_by_default > 50  # the default allocator maps the 72 MiB afresh each run
    assert faulted < 5
