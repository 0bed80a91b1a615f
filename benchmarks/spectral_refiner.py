"""Spectral-Refiner on the FNO Navier-Stokes problem at a size a CPU trains in minutes.

Question (Cao et al., ICLR 2025): an SFNO trained end to end for a few epochs, then refined per
trajectory on the a posteriori estimator alone (output layer only, no frequency truncation, no
reference solution): how do its errors compare before and after the refinement, and with the
numerical solver given the same time?

Data: `datagen`'s FNO protocol (ν = 1e-3, the FNO forcing, GRF initial vorticity), solved at
64² with steps of 2e-3 and stored at 32²; frames every 0.2 time units; after a warm-up of
`--warmup` frames, 10 frames in and `--out` frames out. Errors are the relative L2 norm over the
whole output trajectory (the paper's code divides it further by the square root of the frame
count; these numbers do not).

    python benchmarks/spectral_refiner.py                    # 256 train, 16 test, 10 epochs
    python benchmarks/spectral_refiner.py --epochs 3 --test 4 --steps 20   # a smoke run
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import print_run_header

import datagen
import jaxsciml as jsm
from datagen.problems.navier_stokes import fno_forcing, vorticity_trajectory
from jaxsciml import parallel
from jaxsciml.data import from_arrays
from jaxsciml.physics.vorticity import vorticity_error_estimator
from jaxsciml.refiner import refine


NU, INTERVAL, T_IN = 1e-3, 0.2, 10


def make_data(path: str, samples: int, frames: int) -> None:
    datagen.generate(
        "navier_stokes", samples, path, viscosity=NU, resolution=64, stored_resolution=32,
        frames=frames, frame_interval=INTERVAL, time_step=2e-3, batch_size=48, seed=0,
    )  # fmt: skip


def windows(path: str, warmup: int, out: int) -> np.ndarray:
    """Trajectories `(n, 10 + out, 32, 32)` after `warmup` recorded frames."""
    data = jsm.data.load(path)
    outputs = data.read(np.arange(len(data))).outputs
    return outputs[:, warmup : warmup + T_IN + out]


def relative(prediction, target) -> float:
    return float(np.linalg.norm(prediction - target) / np.linalg.norm(target))


def solver_run(last_frame: np.ndarray, out: int, time_step: float) -> tuple[np.ndarray, float]:
    """The datagen solver on the 32² grid from the last input frame: `out` frames, seconds."""
    forcing = jnp.asarray(fno_forcing(last_frame.shape[-1]), jnp.float32)
    steps = max(1, round(INTERVAL / time_step))
    start = jnp.asarray(last_frame, jnp.float32)
    vorticity_trajectory(start, forcing, NU, INTERVAL / steps, steps, out).block_until_ready()
    begin = time.perf_counter()
    frames = vorticity_trajectory(start, forcing, NU, INTERVAL / steps, steps, out)
    frames.block_until_ready()
    return np.asarray(frames), time.perf_counter() - begin


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/ns32_spectral_refiner")
    parser.add_argument("--train", type=int, default=256)
    parser.add_argument("--test", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=25, help="frames dropped (5 time units)")
    parser.add_argument("--out", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--modes", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--steps", type=int, default=50, help="refinement steps per sample")
    parser.add_argument("--bias-learning-rate", type=float, default=0.2)
    parser.add_argument("--weight-learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print_run_header(["jax", "jaxsciml"])
    total = args.train + args.test
    if not os.path.exists(args.data):
        make_data(args.data, total, args.warmup + T_IN + args.out)
    trajectories = windows(args.data, args.warmup, args.out)[:total]
    inputs, targets = trajectories[:, :T_IN], trajectories[:, T_IN:]
    train = from_arrays(inputs[: args.train], targets[: args.train])

    model = jsm.SFNO(
        args.out, modes=(args.modes, args.modes), modes_t=5, width=args.width, beta=0.02,
        key=jax.random.key(args.seed),
    )  # fmt: skip
    steps_per_epoch = args.train // 4
    schedule = optax.cosine_onecycle_schedule(
        args.epochs * steps_per_epoch, args.learning_rate, div_factor=1e3, final_div_factor=1e4
    )
    start = time.perf_counter()
    model, history = jsm.fit(
        model, train, epochs=args.epochs, batch_size=4, optimizer=optax.adam(schedule),
        seed=args.seed, progress=False, mesh=parallel.data_mesh(jax.devices()[:1]),
    )  # fmt: skip
    train_seconds = time.perf_counter() - start
    print(f"trained {args.epochs} epochs in {train_seconds:.0f} s; "
          f"train loss {history[-1]['train_loss']:.4f}", flush=True)  # fmt: skip

    forcing = fno_forcing(inputs.shape[-1])
    rows = []
    for i in range(args.train, total):
        x, y = inputs[i], targets[i]
        begin = time.perf_counter()
        result = refine(
            model, x, viscosity=NU, frame_interval=INTERVAL, forcing=forcing, steps=args.steps,
            weight_learning_rate=args.weight_learning_rate,
            bias_learning_rate=args.bias_learning_rate,
        )  # fmt: skip
        seconds = time.perf_counter() - begin
        before = np.asarray(model(jnp.asarray(x)))
        truth_estimate = float(
            vorticity_error_estimator(
                jnp.asarray(np.concatenate([x[-1:], y])), INTERVAL, NU, forcing
            )  # fmt: skip
        )
        solver_coarse, coarse_seconds = solver_run(x[-1], args.out, INTERVAL / 2)
        solver_fine, solver_seconds = solver_run(x[-1], args.out, 2e-3)
        rows.append(
            (
                relative(before, y),
                relative(result.prediction, y),
                result.estimates[0],
                result.estimates[-1],
                truth_estimate,
                relative(solver_coarse, y),
                relative(solver_fine, y),
                seconds,
                coarse_seconds,
                solver_seconds,
            )  # fmt: skip
        )
        print(f"  sample {i}: SFNO {rows[-1][0]:.4f} -> refined {rows[-1][1]:.4f}, "
              f"estimator {rows[-1][2]:.3e} -> {rows[-1][3]:.3e} (truth {truth_estimate:.3e}), "
              f"solver 32² {rows[-1][6]:.4f}", flush=True)  # fmt: skip
    table = np.array(rows)
    mean, spread = table.mean(axis=0), table.std(axis=0)
    names = ["SFNO end to end", "SFNO refined", "estimator before", "estimator after",
             "estimator of the truth", "solver 32², 2 steps per frame",
             "solver 32², dt 2e-3 (the data's step)", "refinement seconds per sample",
             "solver seconds (2 steps per frame)", "solver seconds (dt 2e-3)"]  # fmt: skip
    print(f"\n{'quantity (mean ± std over ' + str(len(rows)) + ' test trajectories)':<64s} value")
    for name, m, s in zip(names, mean, spread):
        print(f"{name:<64s} {m:.4g} ± {s:.2g}")


if __name__ == "__main__":
    main()
