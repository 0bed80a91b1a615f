"""MG-TFNO's parts against the FNO at equal epochs on Navier-Stokes (Kossaifi et al., TMLR 2024).

Question: what do the per-layer Tucker FNO (TFNO), the joint Tucker factorization of all layers
and MG-TFNO (joint Tucker on multigrid patches) cost and give, next to the dense FNO, in test
error, parameters, train-step time and the step's memory? The paper reports less than half the
FNO's error at more than 150x compression (turbulent NS at high resolution, on GPUs).

Data: `datagen`'s FNO protocol at ν = 1e-4 (GRF initial vorticity, the FNO forcing), solved at
64² with steps of 2e-3, frames every time unit; the first 10 recorded frames in, the next 10
out (the FNO-2D task made one-shot). All models: width 32, 12 modes, 4 layers, Adam 1e-3 halved
every `epochs/5`, batch 20, the relative L2 loss; one seed unless `--seeds`.

    python benchmarks/mg_tfno.py                         # 500 train, 100 test, 50 epochs
    python benchmarks/mg_tfno.py --epochs 2 --train 40 --test 20    # a smoke run
"""

import argparse
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import print_run_header

import datagen
import jaxsciml as jsm
from jaxsciml import parallel
from jaxsciml.data import from_arrays
from jaxsciml.losses import relative_l2


T_IN = T_OUT = 10


def make_data(path: str, samples: int) -> None:
    datagen.generate(
        "navier_stokes", samples, path, viscosity=1e-4, resolution=64, stored_resolution=64,
        frames=T_IN + T_OUT, frame_interval=1.0, time_step=2e-3, batch_size=50, seed=0,
    )  # fmt: skip


def variants(key, rank: float, levels: int, padding: float) -> dict:
    common = dict(width=32, depth=4, key=key)
    tucker = dict(factorization="tucker", rank=rank)
    return {
        "FNO": jsm.FNO(T_IN, T_OUT, (12, 12), **common),
        f"TFNO per layer (rank {rank})": jsm.FNO(T_IN, T_OUT, (12, 12), **tucker, **common),
        f"TFNO joint (rank {rank})": jsm.FNO(
            T_IN, T_OUT, (12, 12), **tucker, joint_factorization=True, **common
        ),
        f"MG-TFNO (levels {levels}, padding {padding})": jsm.operators.mg_tfno(
            T_IN, T_OUT, (12, 12), levels=levels, padding=padding, rank=rank, **common
        ),
    }


def fourier_parameters(model) -> int:
    inner = getattr(model, "model", model)
    convs = [layer.spectral for layer in inner.layers]
    joint = jsm.count_parameters(inner.joint) if inner.joint is not None else 0
    return joint + sum(jsm.count_parameters(c) for c in convs)


def step_cost(model, x, y) -> tuple[float, float]:
    """Seconds per Adam step on the batch `(x, y)` (median of 5) and the compiled step's
    temporary memory in MiB (XLA's memory analysis)."""
    optimizer = optax.adam(1e-3)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    state = optimizer.init(params)

    def loss(p):
        m = eqx.combine(p, static)
        return jnp.mean(jax.vmap(relative_l2)(m.batched(x), y))

    @jax.jit
    def step(p, s):
        value, grads = jax.value_and_grad(loss)(p)
        updates, s = optimizer.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    memory = step.lower(params, state).compile().memory_analysis()
    mib = getattr(memory, "temp_size_in_bytes", float("nan")) / 2**20
    m, s, value = step(params, state)
    jax.block_until_ready(value)
    times = []
    for _ in range(5):
        begin = time.perf_counter()
        m, s, value = step(m, s)
        jax.block_until_ready(value)
        times.append(time.perf_counter() - begin)
    return float(np.median(times)), mib


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/ns64_nu1e-4_mg_tfno")
    parser.add_argument("--train", type=int, default=500)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--rank", type=float, default=0.1)
    parser.add_argument("--levels", type=int, default=1)
    parser.add_argument("--padding", type=float, default=0.0625)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    args = parser.parse_args()
    print_run_header(["jax", "jaxsciml"])
    total = args.train + args.test
    if not os.path.exists(args.data):
        make_data(args.data, total)
    data = jsm.data.load(args.data)
    frames = data.read(np.arange(total)).outputs
    inputs, targets = frames[:, :T_IN], frames[:, T_IN:]
    train = from_arrays(inputs[: args.train], targets[: args.train])
    test = from_arrays(inputs[args.train :], targets[args.train :])
    steps_per_epoch = args.train // 20
    schedule = optax.exponential_decay(
        1e-3, max(1, args.epochs // 5) * steps_per_epoch, 0.5, staircase=True
    )
    mesh = parallel.data_mesh(jax.devices()[:1])
    rows = []
    batch = (jnp.asarray(inputs[:20]), jnp.asarray(targets[:20]))
    for seed in args.seeds:
        for name, model in variants(jax.random.key(seed), args.rank, args.levels,
                                    args.padding).items():  # fmt: skip
            seconds, mib = step_cost(model, *batch)
            begin = time.perf_counter()
            trained, _ = jsm.fit(
                model, train, epochs=args.epochs, batch_size=20,
                optimizer=optax.adam(schedule), seed=seed, progress=False, mesh=mesh,
            )  # fmt: skip
            wall = time.perf_counter() - begin
            error = jsm.evaluate(trained, test, mesh=mesh)["relative_l2"]
            rows.append((name, seed, error, jsm.count_parameters(model),
                         fourier_parameters(model), seconds * 1e3, mib, wall))  # fmt: skip
            print(f"  {name} seed {seed}: test {error:.4f}, {wall:.0f} s", flush=True)
    head = f"{'model':<38s} {'seed':>4s} {'test rel. L2':>12s} {'parameters':>10s} "
    print("\n" + head + f"{'Fourier':>9s} {'step ms':>8s} {'step MiB':>9s} {'train s':>8s}")
    for name, seed, error, params, fourier, ms, mib, wall in rows:
        print(f"{name:<38s} {seed:>4d} {error:>12.4f} {params:>10d} {fourier:>9d} "
              f"{ms:>8.1f} {mib:>9.1f} {wall:>8.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
