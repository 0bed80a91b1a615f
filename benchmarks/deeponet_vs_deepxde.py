"""DeepONet training: jaxsciml against DeepXDE (PyTorch backend), and MultiONet against DeepONet.

Question: on the DeepONet paper's antiderivative and diffusion-reaction operators, with the same
network, data, optimizer, batch and number of iterations, how long does an iteration take in
each library, and what test error does each reach?

Configuration: DeepONet [m, 40, 40] / [d, 40, 40], ReLU, Glorot normal, trainable output bias
(the paper's `deeponet_pde.py`), Adam 1e-3, MSE loss, float32, aligned (Cartesian-product) data:
every function of a batch at the same query points (DeepXDE's `TripleCartesianProd` with
`DeepONetCartesianProd`). Data from `datagen.deeponet_data`: antiderivative (100 sensors = output
points) and diffusion-reaction (u at 100 sensors; s on the 100 x 100 (x, t) grid). Both
libraries use every training point of every function in a batch (DeepXDE's tuple batch draws
mismatched index pairs, so its point subsampling is not used here).

- **step**: one iteration, interleaved (ours, theirs, ...) after a warm-up, median of
  repetitions of `--reps` iterations each: batch assembly plus forward, backward and Adam.
  Compilation is reported apart.
- **run**: each library's own loop (`jsm.fit`, `Model.train`) for `--iterations`, wall time
  (ours including compilation), then the test mean relative L2 and MSE of both on the same test
  functions.
- **MultiONet vs DeepONet** (ours): depth 3, width 40 (DeepONet) against MultiONet with the same
  layers and l = 3 (parameters printed), same training, relative L2 loss.

    python benchmarks/deeponet_vs_deepxde.py --quick            # ~2 minutes on 2 CPU cores
    python benchmarks/deeponet_vs_deepxde.py                    # 10k iterations per run
    python benchmarks/deeponet_vs_deepxde.py --iterations 50000 # the paper's budget
"""

import argparse
import json
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
from common import interleaved_times, package_versions

import datagen
import jaxsciml as jsm
from jaxsciml.losses import mse_loss, relative_l2_loss
from jaxsciml.train import make_train_step
from jaxsciml.train.step import split_model


WIDTH = 40


def problem_data(name: str, n_train: int, n_test: int, directory: Path):
    """`(train, test)` PointDatasets, generated once into `directory`."""
    out = directory / f"{name}-{n_train + n_test}"
    if not out.exists():
        datagen.generate(name, n_train + n_test, out, seed=0)
    data = jsm.data.load(out)
    sensors = np.s_[:, 0] if name == "diffusion_reaction" else None  # u(x) at t = 0
    train, test = data.split(n_train, n_test)
    return tuple(jsm.data.PointDataset(part, sensors=sensors).cache() for part in (train, test))


def relative_errors(predictions: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """Mean relative L2 per function and overall MSE, `(functions, points)` arrays."""
    difference = predictions - targets
    relative = np.linalg.norm(difference, axis=1) / np.linalg.norm(targets, axis=1)
    return float(relative.mean()), float(np.mean(difference**2))


def all_points(data):
    batch = data.read(np.arange(len(data)))
    return batch.sensors, batch.points, batch.targets[..., 0]


class Ours:
    def __init__(self, train, batch_size, lr, key=0, model=None, loss=mse_loss):
        sensors, coordinates = train.num_sensors, train.coordinates
        self.model = model or jsm.DeepONet(
            sensors, coordinates, [WIDTH, WIDTH], [WIDTH, WIDTH], key=jax.random.key(key)
        )
        self.train, self.batch_size = train, batch_size
        self.optimizer, self.loss = optax.adam(lr), loss
        self.mesh = jsm.parallel.data_mesh(jax.devices()[:1])

    def parameters(self):
        return jsm.count_parameters(self.model)

    def prepare_steps(self):
        params, frozen, static = split_model(self.model)
        step = make_train_step(self.loss, self.optimizer, static, self.mesh)
        state = [jax.tree.map(jnp.copy, params), self.optimizer.init(params)]
        batches = self._endless()
        key = jax.random.key(0)

        def one():
            batch = jsm.train.place(next(batches), self.mesh)
            state[0], state[1], value = step(state[0], frozen, state[1], batch, key)
            return value

        start = time.perf_counter()
        jax.block_until_ready(one())
        return one, time.perf_counter() - start

    def _endless(self):
        epoch = 0
        while True:
            yield from self.train.batches(self.batch_size, seed=0, epoch=epoch)
            epoch += 1

    def run(self, iterations, test):
        epochs = -(-iterations // self.train.num_batches(self.batch_size))
        start = time.perf_counter()
        model, _ = jsm.fit(
            self.model,
            self.train,
            epochs=epochs,
            max_steps=iterations,
            batch_size=self.batch_size,
            loss=self.loss,
            optimizer=self.optimizer,
            progress=False,
            mesh=self.mesh,
        )
        seconds = time.perf_counter() - start
        sensors, points, targets = all_points(test)
        predictions = np.asarray(model.batched(sensors, points))[..., 0]
        return seconds, relative_errors(predictions, targets)


class DeepXDE:
    def __init__(self, train, test, batch_size, lr):
        import deepxde as dde  # noqa: F401  (DDE_BACKEND=pytorch is set before import)
        import torch

        torch.set_num_threads(os.cpu_count())
        self.dde, self.torch = dde, torch
        u, x, s = all_points(train)
        ut, xt, st = all_points(test)
        self.data = dde.data.TripleCartesianProd((u, x), s, (ut, xt), st)
        self.test = (ut, xt, st)
        net = dde.nn.DeepONetCartesianProd(
            [u.shape[1], WIDTH, WIDTH], [x.shape[1], WIDTH, WIDTH], "relu", "Glorot normal"
        )
        self.model = dde.Model(self.data, net)
        self.model.compile("adam", lr=lr, loss="mse")
        self.batch_size, self.net = batch_size, net

    def parameters(self):
        return sum(p.numel() for p in self.net.parameters())

    def prepare_steps(self):
        model = self.model
        model.net.train()

        def one():
            inputs, targets = self.data.train_next_batch(self.batch_size)
            model.train_step(inputs, targets, None)

        start = time.perf_counter()
        one()
        return one, time.perf_counter() - start

    def run(self, iterations):
        start = time.perf_counter()
        self.model.train(
            iterations=iterations, batch_size=self.batch_size, display_every=iterations
        )
        seconds = time.perf_counter() - start
        ut, xt, st = self.test
        return seconds, relative_errors(self.model.predict((ut, xt)), st)


def interleaved_step_times(libraries, reps, rounds):
    """Median, min, max milliseconds per iteration of each library, alternating rounds."""
    steps = {name: lib.prepare_steps() for name, lib in libraries.items()}
    times = interleaved_times({name: one for name, (one, _) in steps.items()}, rounds, reps)
    for name, (_, first_call_s) in steps.items():
        times[name]["first_call_s"] = first_call_s
    return times


def multionet_against_deeponet(train, test, iterations, batch_size, lr):
    m, d = train.num_sensors, train.coordinates
    widths = [WIDTH] * 3
    models = {
        "DeepONet depth 3": jsm.DeepONet(m, d, widths, widths, key=jax.random.key(0)),
        "MultiONet depth 3, l=3": jsm.MultiONet(
            m, d, widths, widths, num_outputs=3, activation=jax.nn.relu, key=jax.random.key(0)
        ),
    }
    rows = {}
    for name, model in models.items():
        ours = Ours(train, batch_size, lr, model=model, loss=relative_l2_loss)
        seconds, (relative, mse) = ours.run(iterations, test)
        rows[name] = {"parameters": ours.parameters(), "relative_l2": relative, "mse": mse}
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, 2000 iterations")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--reps", type=int, default=50, help="iterations per timed repetition")
    parser.add_argument("--rounds", type=int, default=10, help="timed repetitions per library")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "jsm-bench")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    iterations = args.iterations or (2000 if args.quick else 10000)
    n_train, n_test = (500, 200) if args.quick else (1000, 1000)

    print("command:", " ".join([os.path.basename(sys.executable), *sys.argv]))
    print("devices:", jax.devices(), "| cpus:", os.cpu_count(), "|", platform.processor())
    print("versions:", package_versions(["jax", "equinox", "optax", "torch", "deepxde"]))
    try:
        os.environ.setdefault("DDE_BACKEND", "pytorch")
        import deepxde  # noqa: F401
    except ImportError:
        deepxde = None
        print("DeepXDE is not installed (pip install -e '.[peers]'): peer skipped")
    results = {"iterations": iterations, "batch_size": args.batch_size, "problems": {}}
    for problem in ("antiderivative", "diffusion_reaction"):
        train, test = problem_data(problem, n_train, n_test, args.data_dir)
        ours = Ours(train, args.batch_size, 1e-3)
        libraries = {"jaxsciml": ours}
        if deepxde is not None:
            libraries["deepxde"] = DeepXDE(train, test, args.batch_size, 1e-3)
        steps = interleaved_step_times(libraries, args.reps, args.rounds)
        row = {}
        for name, lib in libraries.items():
            if name == "jaxsciml":  # `Ours` timed steps on a copy; its model is untrained
                seconds, (relative, mse) = lib.run(iterations, test)
            else:  # the timed steps trained this network: run a fresh one
                fresh = DeepXDE(train, test, args.batch_size, 1e-3)
                seconds, (relative, mse) = fresh.run(iterations)
            row[name] = {
                "parameters": lib.parameters(),
                **steps[name],
                "run_s": seconds,
                "relative_l2": relative,
                "mse": mse,
            }
        row["multionet"] = multionet_against_deeponet(
            train, test, iterations, args.batch_size, 1e-3
        )
        results["problems"][problem] = row
        print_problem(problem, train, row, iterations)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def print_problem(problem, train, row, iterations):
    print(
        f"\n{problem}: {len(train)} training functions, {train.num_sensors} sensors, "
        f"{len(train.query_points)} points each, {iterations} iterations"
    )
    print(
        f"{'library':10s} {'params':>7s} {'step ms (min-max)':>20s} {'first s':>8s} "
        f"{'run s':>7s} {'test rel L2':>12s} {'test MSE':>10s}"
    )
    for name in ("jaxsciml", "deepxde"):
        if name not in row:
            continue
        r = row[name]
        span = f"{r['median_ms']:.2f} ({r['min_ms']:.2f}-{r['max_ms']:.2f})"
        print(
            f"{name:10s} {r['parameters']:7d} {span:>20s} {r['first_call_s']:8.2f} "
            f"{r['run_s']:7.1f} {r['relative_l2']:12.2e} {r['mse']:10.2e}"
        )
    if "deepxde" in row:
        ratio = row["deepxde"]["median_ms"] / row["jaxsciml"]["median_ms"]
        print(f"per-iteration speed-up over DeepXDE: {ratio:.2f}x (ratio of medians)")
    for name, r in row["multionet"].items():
        print(f"  {name:24s} {r['parameters']:6d} params  test rel L2 {r['relative_l2']:.2e}")


if __name__ == "__main__":
    main()
