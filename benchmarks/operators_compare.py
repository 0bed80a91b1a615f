"""FNO, TFNO, T1 and MgNO side by side: parameters, train-step and inference time, test error.

Questions (issue 4): is T1's train step 3x faster than FNO's at 128² and 5x at 256², at no worse
error? Is MgNO's Darcy error below FNO's at a comparable parameter count? Is TFNO at 10x fewer
parameters within 10% of FNO's error?

Models (the same in every mode):
- FNO: the paper's Darcy model, 12 modes, width 32, 4 layers, projection 128 (2.37M parameters);
  zero padding 0.1 for Darcy, none on the torus.
- TFNO: that FNO with Tucker-factorized Fourier weights at rank 0.1.
- T1: 24x24 DCT modes, width 32, 4 blocks, head 128 (2.5M parameters, as close to FNO's as the
  block structure allows); its step is timed with the frequency-domain loss (no inverse
  transform, the paper's training) and with the physical one.
- MgNO: width 24, 5 layers, 5 levels (64² → 4²), smoothing 1,1,1,1,2; zero padding for Darcy,
  periodic for Navier-Stokes.

Step times: one Adam step on the relative L2 loss with random data, batch `--batch`, at 64², 128²
and 256² (64² only with `--quick`), interleaved (FNO, TFNO, T1, ..., FNO, ...) after a warm-up;
median of `--rounds` repetitions, min and max. Inference: one forward pass of the batch.

Errors: every model trained for the same number of epochs with the same optimizer (Adam, cosine
decay from 1e-3) and Gaussian normalizers on
- Darcy `-∇·(a∇u) = 1`, `a ∈ {3, 12}` thresholded GRF, 64², from `datagen` (direct solves);
- Navier-Stokes on the torus, ν = 1e-3, the one-shot map `w(0) ↦ w(T)` of the T1 paper
  (`datagen.generate("navier_stokes", ...)`; reduced mode: T = 10, solved at 64² with
  Δt = 1e-3; full mode: T = 50, solved at 256² with Δt = 1e-4 and stored at 64², the FNO protocol).

    python benchmarks/operators_compare.py --quick    # step times at 64² only (~2 min on 2 cores)
    python benchmarks/operators_compare.py            # + 128², 256² and reduced error runs (CPU)
    python benchmarks/operators_compare.py --full     # paper-sized data and epochs (a GPU)
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import interleaved_times, package_versions

import datagen
import jaxsciml as jsm
from jaxsciml import parallel
from jaxsciml.data import Batch
from jaxsciml.losses import relative_l2_loss
from jaxsciml.nn import apply_batch
from jaxsciml.operators.t1 import frequency_relative_l2
from jaxsciml.train import make_train_step
from jaxsciml.train.step import split_model


MODES = {
    "quick": dict(step_sizes=[64], darcy=None, ns=None, epochs=0),
    "reduced": dict(
        step_sizes=[64, 128, 256],
        darcy=(400, 100),
        ns=dict(n=(250, 50), resolution=64, time_step=1e-3, frame_interval=10.0),
        epochs=20,
    ),
    "full": dict(
        step_sizes=[64, 128, 256],
        darcy=(1000, 200),
        ns=dict(n=(1000, 200), resolution=256, time_step=1e-4, frame_interval=50.0),
        epochs=500,
    ),
}


def build(name: str, resolution: int, periodic: bool, key) -> eqx.Module:
    """The benchmark's configuration of model `name` for an `resolution²` grid."""
    n = (resolution, resolution)
    if name in ("FNO", "TFNO"):
        factorization = dict(factorization="tucker", rank=0.1) if name == "TFNO" else {}
        padding = 0.0 if periodic else 0.1
        return jsm.FNO(1, 1, (12, 12), 32, 4, 128, padding=padding, key=key, **factorization)
    if name.startswith("T1"):
        return jsm.T1(1, 1, (24, 24), n, width=32, depth=4, key=key)
    padding = "periodic" if periodic else "zeros"
    return jsm.MgNO(1, 1, n, width=24, depth=5, levels=5, padding=padding, key=key)


class Stepper:
    """One model's jitted train step and forward pass on a fixed random batch."""

    def __init__(self, name, resolution, batch_size):
        model = build(name, resolution, periodic=False, key=jax.random.key(0))
        self.parameters = jsm.count_parameters(model)
        loss = frequency_relative_l2 if name == "T1" else relative_l2_loss
        mesh = parallel.data_mesh(jax.devices()[:1])
        params, self.frozen, self.static = split_model(model)
        optimizer = optax.adam(1e-3)
        self.state = (
            parallel.replicate(params, mesh),
            parallel.replicate(optimizer.init(params), mesh),
        )
        self.step = make_train_step(loss, optimizer, self.static, mesh)
        rng = np.random.default_rng(0)
        shape = (batch_size, 1, resolution, resolution)
        self.batch = Batch(*(jnp.asarray(rng.standard_normal(shape), jnp.float32) for _ in "ab"))
        self.key = jax.random.key(0)
        self.forward = eqx.filter_jit(apply_batch)

    def train_step(self):
        params, opt_state, loss = self.step(
            *self.state[:1], self.frozen, self.state[1], self.batch, self.key
        )
        self.state = (params, opt_state)
        return loss

    def inference(self):
        return self.forward(eqx.combine(self.state[0], self.frozen, self.static), self.batch.inputs)

    def compile_seconds(self) -> float:
        start = time.perf_counter()
        jax.block_until_ready(self.train_step())
        jax.block_until_ready(self.inference())
        return time.perf_counter() - start


def step_times(resolutions, batch_size, rounds) -> list[dict]:
    rows = []
    names = ["FNO", "TFNO", "T1", "T1 (physical loss)", "MgNO"]
    for resolution in resolutions:
        print(f"== step times at {resolution}²", flush=True)
        steppers = {name: Stepper(name, resolution, batch_size) for name in names}
        compile_s = {name: s.compile_seconds() for name, s in steppers.items()}
        train = interleaved_times({n: s.train_step for n, s in steppers.items()}, rounds)
        infer = interleaved_times({n: s.inference for n, s in steppers.items()}, rounds)
        for name, s in steppers.items():
            rows.append(
                dict(
                    resolution=resolution,
                    model=name,
                    parameters=s.parameters,
                    compile_s=compile_s[name],
                    train=train[name],
                    inference=infer[name],
                    speedup_vs_fno=train["FNO"]["median_ms"] / train[name]["median_ms"],
                )
            )
    return rows


def darcy_data(root: Path, n_train: int, n_test: int):
    out = root / f"darcy64_{n_train + n_test}"
    datagen.generate("darcy", n_train + n_test, out, resolution=64, solver="direct", seed=0)
    return jsm.data.load(out).cache().split(n_train, n_test)


def navier_stokes_data(root: Path, n, resolution, time_step, frame_interval):
    n_train, n_test = n
    out = root / f"ns_nu1e-3_T{frame_interval:g}_{resolution}_{n_train + n_test}"
    datagen.generate(
        "navier_stokes",
        n_train + n_test,
        out,
        viscosity=1e-3,
        resolution=resolution,
        stored_resolution=64,
        frames=1,
        frame_interval=frame_interval,
        time_step=time_step,
        batch_size=50,
    )
    return jsm.data.load(out).cache().split(n_train, n_test)


def train_and_test(name, data, periodic, epochs, batch_size) -> dict:
    train, test = data
    model = jsm.with_normalizers(build(name, 64, periodic, jax.random.key(1)), train)
    steps = epochs * (len(train) // batch_size)
    optimizer = optax.adam(optax.cosine_decay_schedule(1e-3, steps))
    start = time.perf_counter()
    trained, history = jsm.fit(
        model, train, epochs=epochs, batch_size=batch_size, optimizer=optimizer, progress=False
    )
    seconds = time.perf_counter() - start
    error = jsm.evaluate(trained, test, batch_size=batch_size)["relative_l2"]
    return dict(
        model=name,
        parameters=jsm.count_parameters(build(name, 64, periodic, jax.random.key(1))),
        train_s=seconds,
        final_train_loss=history[-1]["train_loss"],
        test_relative_l2=error,
    )


def errors(mode, root: Path, batch_size) -> dict[str, list[dict]]:
    settings = MODES[mode]
    tasks = {}
    if settings["darcy"]:
        print("== Darcy data", flush=True)
        tasks["Darcy 64²"] = (darcy_data(root, *settings["darcy"]), False)
    if settings["ns"]:
        print("== Navier-Stokes data", flush=True)
        tasks["Navier-Stokes ν=1e-3"] = (navier_stokes_data(root, **settings["ns"]), True)
    results = {}
    for task, (data, periodic) in tasks.items():
        results[task] = []
        for name in ("FNO", "TFNO", "T1", "MgNO"):
            print(f"== {task}: training {name}, {settings['epochs']} epochs", flush=True)
            results[task].append(
                train_and_test(name, data, periodic, settings["epochs"], batch_size)
            )
    return results


def print_tables(steps: list[dict], results: dict) -> None:
    if steps:
        print(
            "\n| grid | model | params | train step ms (median [min, max]) | FNO / model | "
            "inference ms | compile s |"
        )
        print("|---|---|---|---|---|---|---|")
    for r in steps:
        t, i = r["train"], r["inference"]
        print(
            f"| {r['resolution']}² | {r['model']} | {r['parameters']:,} | {t['median_ms']:.1f} "
            f"[{t['min_ms']:.1f}, {t['max_ms']:.1f}] | {r['speedup_vs_fno']:.2f} | "
            f"{i['median_ms']:.1f} | {r['compile_s']:.1f} |"
        )
    for task, rows in results.items():
        fno = next(r for r in rows if r["model"] == "FNO")
        print(f"\n{task}: test relative L2 after the same epochs")
        print("| model | params | params / FNO's | test rel L2 | / FNO's | train s |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            size, error = r["parameters"], r["test_relative_l2"]
            print(
                f"| {r['model']} | {size:,} | {size / fno['parameters']:.3f} | {error:.4f} | "
                f"{error / fno['test_relative_l2']:.2f} | {r['train_s']:.0f} |"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="step times at 64² only")
    group.add_argument("--full", action="store_true", help="paper-sized data and epochs (GPU)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (8 CPU, 20 full)")
    parser.add_argument("--rounds", type=int, default=10, help="timed repetitions per step")
    parser.add_argument("--data-dir", default="/tmp/jaxsciml_operators_compare")
    parser.add_argument("--only", choices=["steps", "errors"], help="one half of the benchmark")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full" if args.full else "reduced"
    batch_size = args.batch or (20 if mode == "full" else 8)
    print("command: python benchmarks/operators_compare.py " + " ".join(sys.argv[1:]))
    print("devices:", jax.devices(), "| CPU cores:", os.cpu_count(), "|", platform.machine())
    print("versions:", package_versions(["jax", "jaxlib", "equinox", "optax"]))
    steps, results = [], {}
    if args.only != "errors":
        steps = step_times(MODES[mode]["step_sizes"], batch_size, args.rounds)
    if args.only != "steps":
        results = errors(mode, Path(args.data_dir), 20)
    print_tables(steps, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "argv": sys.argv,
                    "devices": str(jax.devices()),
                    "steps": steps,
                    "errors": results,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
