"""What `fit` costs over a bare jitted loop, per step.

Question: training a DeepONet on the antiderivative operator (the DeepONet paper's first
problem; [100, 40, 40] / [1, 40, 40], Adam 1e-3, MSE), how much longer does a step of
`jsm.fit` take than a step of the barest loop one could write: one jitted train step called
on batches already on the device, nothing read back until the end?

- **bare**: `make_train_step`'s step called in a Python loop over pre-placed batches.
- **fit**: `jsm.fit` for `2k` steps minus `jsm.fit` for `k` steps, over `k` (so compilation,
  set-up and the final copies cancel), with its defaults (per-epoch records, progress off).

Both at batch 50 and full batch, interleaved (bare, fit k, fit 2k, ...), medians of `--rounds`.
The goal (issue 21): fit within 1.05x of bare.

    python benchmarks/fit_overhead.py --quick    # about two minutes on 2 CPU cores
    python benchmarks/fit_overhead.py
"""

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import package_versions
from deeponet_vs_deepxde import WIDTH, problem_data

import jaxsciml as jsm
from jaxsciml.losses import mse_loss
from jaxsciml.train import make_train_step
from jaxsciml.train.step import split_model


def bare_loop(model, train, batch_size, steps, mesh):
    """Seconds for `steps` steps of the bare loop (after warm-up steps: the second call
    compiles again, for parameters that now carry the step's output sharding)."""
    optimizer = optax.adam(1e-3)
    params, frozen, static = split_model(model)
    step = make_train_step(mse_loss, optimizer, static, mesh)
    batches = [jsm.train.place(b, mesh) for b in train.batches(batch_size, seed=0)]
    state = [jax.tree.map(jnp.copy, params), optimizer.init(params)]
    key = jax.random.key(0)
    for i in range(3):
        state[0], state[1], value = step(state[0], frozen, state[1], batches[i % len(batches)], key)
    jax.block_until_ready(value)
    start = time.perf_counter()
    for i in range(steps):
        state[0], state[1], value = step(state[0], frozen, state[1], batches[i % len(batches)], key)
    jax.block_until_ready(state[0])
    return time.perf_counter() - start


def fit_run(model, train, batch_size, steps, mesh):
    """Seconds of a whole `fit` of `steps` steps."""
    epochs = -(-steps // train.num_batches(batch_size))
    start = time.perf_counter()
    trained, _ = jsm.fit(
        model, train, epochs=epochs, max_steps=steps, batch_size=batch_size, loss=mse_loss,
        optimizer=optax.adam(1e-3), progress=False, mesh=mesh,
    )  # fmt: skip
    jax.block_until_ready(trained)
    return time.perf_counter() - start


def measure(train, batch_size, steps, rounds, mesh):
    model = jsm.DeepONet(
        train.num_sensors, train.coordinates, [WIDTH, WIDTH], [WIDTH, WIDTH],
        key=jax.random.key(0),
    )  # fmt: skip
    bare, fit = [], []
    for _ in range(rounds):
        bare.append(bare_loop(model, train, batch_size, steps, mesh) / steps)
        short = fit_run(model, train, batch_size, steps, mesh)
        long = fit_run(model, train, batch_size, 2 * steps, mesh)
        fit.append((long - short) / steps)
    return float(np.median(bare)) * 1e3, float(np.median(fit)) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 training functions, 3 rounds")
    parser.add_argument("--steps", type=int, default=None, help="k (default 10000, quick 2000)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "jsm-bench")
    args = parser.parse_args()
    steps = args.steps or (2000 if args.quick else 10000)
    rounds = args.rounds or (3 if args.quick else 5)
    n_train = 500 if args.quick else 1000
    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print("devices:", jax.devices(), "| cpus:", os.cpu_count(), "|", platform.processor())
    print("versions:", package_versions(["jax", "equinox", "optax"]))
    train, _ = problem_data("antiderivative", n_train, 100, args.data_dir)
    mesh = jsm.parallel.data_mesh(jax.devices()[:1])
    print(f"\nDeepONet, antiderivative, {n_train} functions; k = {steps} steps, {rounds} rounds")
    print(f"{'batch':>10s} {'bare ms/step':>13s} {'fit ms/step':>12s} {'fit / bare':>11s}")
    for batch_size, label in ((50, "50"), (n_train, f"full {n_train}")):
        bare, fit = measure(train, batch_size, steps, rounds, mesh)
        print(f"{label:>10s} {bare:13.3f} {fit:12.3f} {fit / bare:11.2f}", flush=True)


if __name__ == "__main__":
    main()
