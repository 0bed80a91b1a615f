"""Test set-up: CPU with 8 virtual devices, so that every sharded code path runs sharded.

Runtime shape checking (jaxtyping + beartype) is switched on for jaxsciml, datagen and solvers
by the `--jaxtyping-packages` option in pyproject.toml.
"""

import os


os.environ["JAX_PLATFORMS"] = "cpu"
_flag = "--xla_force_host_platform_device_count=8"
if _flag not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402  (after the flags above)
import pytest  # noqa: E402


@pytest.fixture
def getkey():
    """A fresh PRNG key at every call, so tests never split keys by hand."""
    keys = iter(jax.random.split(jax.random.key(1234), 10_000))
    return lambda: next(keys)


@pytest.fixture(scope="session")
def darcy_dir(tmp_path_factory):
    """A small Darcy dataset (96 samples at 17x17 in 3 shards), generated once per session."""
    import datagen

    out = tmp_path_factory.mktemp("darcy17")
    datagen.generate(
        "darcy",
        96,
        out,
        resolution=17,
        shard_size=32,
        seed=7,
        solver="direct",
        workers=1,
        progress=False,
    )
    return out
