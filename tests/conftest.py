"""Test set-up: CPU with 8 virtual devices, so that every sharded code path runs sharded.

Runtime shape checking (jaxtyping + beartype) is switched on for jaxsciml, datagen and solvers
by the `--jaxtyping-packages` option in pyproject.toml.
"""

import os


os.environ["JAX_PLATFORMS"] = "cpu"
# Most of the suite's time is XLA compiling small programs that then run for milliseconds:
# LLVM's optimization passes are not worth their time here (results agree to rounding).
for _flag in ("--xla_force_host_platform_device_count=8", "--xla_backend_optimization_level=0"):
    if _flag.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()
os.environ.setdefault("MPLBACKEND", "Agg")
# Many tests compile the same programs (initializers, a model's step at the same shapes) in
# different processes (the xdist workers and the notebook kernels): share the compiled
# executables through JAX's persistent cache, kept beside pytest's own cache.
_cache = os.path.join(os.path.dirname(os.path.dirname(__file__)), ".pytest_cache", "jax")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _cache)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import jax  # noqa: E402  (after the flags above)
import pytest  # noqa: E402


def pytest_collection_modifyitems(items):
    """The slow end-to-end tests (and the notebooks) first: with `--dist worksteal`, the fast
    tests then fill the end of both workers' queues and neither idles while the other finishes
    a minute-long test."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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


@pytest.fixture(scope="session")
def one_device():
    """A mesh of one device, for end-to-end training tests whose point is what training
    reaches: on 8 virtual CPU devices every step also pays for the collectives, on 2 cores.
    Sharded training is checked against one device in tests/jaxsciml/test_contract.py."""
    from jaxsciml import parallel

    return parallel.data_mesh(jax.devices()[:1])


@pytest.fixture
def perturb():
    """`perturb(model)`: `model` with every floating array moved by 0.01, so that arrays
    initialized to zero (MultiONet's layer weights) do not zero the gradients of others, and so
    that a model file that kept a fresh skeleton's arrays could not pass for the saved ones."""
    import equinox as eqx

    return lambda model: jax.tree.map(lambda x: x + 0.01 if eqx.is_inexact_array(x) else x, model)


@pytest.fixture
def check_gradients(getkey):
    """`check(objective, params)`: assert that `jax.grad(objective)` at the pytree `params` matches
    a central finite difference (step 1e-6, float64) along three random directions."""
    import equinox as eqx
    import jax.numpy as jnp

    def check(objective, params, tolerance=1e-6):
        objective = eqx.filter_jit(objective)
        grads = jax.grad(objective)(params)
        leaves, treedef = jax.tree.flatten(params)
        for _ in range(3):
            direction = jax.tree.unflatten(
                treedef, [jax.random.normal(getkey(), leaf.shape, leaf.dtype) for leaf in leaves]
            )
            eps = 1e-6
            shift = lambda s: jax.tree.map(lambda p, d: p + s * eps * d, params, direction)
            finite_difference = (objective(shift(1)) - objective(shift(-1))) / (2 * eps)
            analytic = sum(
                jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction))
            )
            assert abs(finite_difference - analytic) <= tolerance * (1 + abs(analytic)), (
                finite_difference,
                analytic,
            )

    return check


@pytest.fixture(scope="session")
def counting():
    """A data family whose sample `i` is the constant field `i` on 4 points (output `2 i`),
    and whose samples numbered 3 modulo 7 fail to converge: cheap, and every sample names
    itself. Made in this process (no workers)."""
    import dataclasses
    from typing import ClassVar

    import numpy as np

    from datagen.format import Provenance
    from datagen.generator import Generator, ShardContent

    @dataclasses.dataclass(frozen=True)
    class Counting(Generator):
        name: ClassVar[str] = "counting"
        summary: ClassVar[str] = "constant fields numbered by sample"
        processes: ClassVar[bool] = False

        def provenance(self, seed):
            return Provenance("counting", {}, "none", 0.0, seed)

        def grid(self):
            return (np.linspace(0, 1, 4),)

        def make_shard(self, seed, indices, progress=None):
            kept = [i for i in indices if i % 7 != 3]
            inputs = np.array([np.full((1, 4), i, float) for i in kept]).reshape(-1, 1, 4)
            failed = [i for i in indices if i % 7 == 3]
            return ShardContent(inputs, 2 * inputs, kept, "none", failed_samples=failed)

    return Counting
