"""`import jaxsciml` tunes glibc's allocator once (XLA's per-step temporaries then reuse heap
memory instead of faulting in fresh mappings), unless the environment says not to."""

import os
import subprocess
import sys

import pytest


def keeps(environment: dict) -> str:
    code = "import jaxsciml; print(jaxsciml.keep_host_memory())"
    env = {**os.environ, **environment}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_allocator_is_tuned_on_import_unless_switched_off():
    assert keeps({}) == "True"
    assert keeps({"JAXSCIML_KEEP_HOST_MEMORY": "0"}) == "False"
