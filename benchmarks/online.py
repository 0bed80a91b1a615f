"""Online training against offline training of an FNO on Darcy (Meyer et al., ICML 2023).

Question: with the solver running while the model trains, does the model get better than one
trained on a stored dataset, at the same number of optimizer steps, and what does it cost in
wall-clock time? The paper reports 16% lower FNO error from the larger data online training
makes affordable.

- **offline**: `N` samples generated (`datagen.generate`, the same workers), then `S` steps.
- **online, same solver budget**: the same `N` solves, streamed (reservoir, buffer `N/2`,
  the rest arriving evenly over the run): the wall-clock saving of overlapping the two.
- **online, 10x data**: `10 N` solves streamed through the same buffer (reservoir).
- **online, FIFO**: every step on new samples, each drawn once (`S x batch` solves).

Every run: the same FNO, Adam with the learning rate halved every `S/4` steps, batch 20, test
relative L2 on 100 samples of another seed, over `--seeds` training seeds. Then the stream's
throughput alone for 0, 1, 2, ... solver processes.

    python benchmarks/online.py --quick     # about ten minutes on 2 CPU cores
    python benchmarks/online.py             # Darcy 65x65, more steps
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
import optax
from common import print_run_header

import datagen
import jaxsciml as jsm
from datagen.stream import ShardStream
from jaxsciml.operators import with_normalizers


BATCH = 20
TEST_SEED, TRAIN_SEED = 0, 1


def settings(quick: bool) -> dict:
    if quick:
        return dict(resolution=33, n=200, steps=1500, modes=8, width=16, workers=2)
    return dict(resolution=65, n=500, steps=5000, modes=12, width=32, workers=2)


def optimizer(steps: int) -> optax.GradientTransformation:
    schedule = optax.exponential_decay(1e-3, steps // 4, 0.5, staircase=True)
    return optax.adam(schedule)


def model_for(examples, s: dict, seed: int):
    fno = jsm.FNO(in_channels=1, out_channels=1, modes=(s["modes"],) * 2, width=s["width"],
                  depth=4, padding=0.1, key=jax.random.key(seed))  # fmt: skip
    return with_normalizers(fno, examples, pointwise=True)


def train(model, data, s: dict, seed: int, test) -> tuple[float, list, float]:
    start = time.perf_counter()
    epochs = -(-s["steps"] // data.num_batches(BATCH))
    model, history = jsm.fit(
        model, data, epochs=epochs, max_steps=s["steps"], batch_size=BATCH,
        optimizer=optimizer(s["steps"]), seed=seed, progress=False,
        mesh=jsm.parallel.data_mesh(jax.devices()[:1]),
    )  # fmt: skip
    seconds = time.perf_counter() - start
    return jsm.evaluate(model, test)["relative_l2"], history, seconds


def offline(s: dict, seed: int, test, directory: Path) -> dict:
    start = time.perf_counter()
    out = directory / f"offline-{seed}"
    datagen.generate("darcy", s["n"], out, seed=TRAIN_SEED, workers=s["workers"],
                     progress=False, resolution=s["resolution"], solver="direct")  # fmt: skip
    generated = time.perf_counter() - start
    data = jsm.data.load(out).cache()
    error, _, seconds = train(model_for(data, s, seed), data, s, seed, test)
    return dict(error=error, distinct=s["n"], solves=s["n"], seconds=generated + seconds,
                waited=0.0)  # fmt: skip


def online(s: dict, seed: int, test, samples: int, policy: str) -> dict:
    capacity = s["n"] // 2
    schedule = {}
    if policy == "reservoir":
        schedule = dict(new_per_step=max((samples - capacity) / s["steps"], 1e-3))
    data = jsm.data.OnlineDataset(
        "darcy", samples, policy=policy, capacity=capacity, epoch_size=capacity,
        seed=TRAIN_SEED, workers=s["workers"], shard_size=16, part=(0, 1),
        resolution=s["resolution"], solver="direct", **schedule,
    )  # fmt: skip
    start = time.perf_counter()
    try:
        model = model_for(data.head(capacity), s, seed)
        error, history, _ = train(model, data, s, seed, test)
    finally:
        data.close()
    last = history[-1]
    return dict(error=error, distinct=int(last["stream.distinct"]),
                solves=int(last["stream.generated"]), seconds=time.perf_counter() - start,
                waited=last["stream.waited_seconds"])  # fmt: skip


def throughput(s: dict, workers: int, samples: int = 2000) -> float:
    """Samples per second of the stream alone, from its first sample on (the processes'
    start-up, about a second, left out)."""
    generator = datagen.family("darcy").make(resolution=s["resolution"], solver="direct")
    with tempfile.TemporaryDirectory() as d:
        with ShardStream(generator, samples, d, shard_size=16, workers=workers) as stream:
            handed = stream.samples()
            next(handed)
            start = time.perf_counter()
            count = sum(1 for _ in handed)
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Darcy 33x33, 1500 steps")
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    s = settings(args.quick)
    print_run_header(["jax", "jaxsciml"])
    print("settings:", s)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        datagen.generate("darcy", 100, tmp / "test", seed=TEST_SEED, workers=s["workers"],
                         progress=False, resolution=s["resolution"], solver="direct")  # fmt: skip
        test = jsm.data.load(tmp / "test").cache()
        runs = {
            "offline": lambda seed: offline(s, seed, test, tmp),
            "online, same solves": lambda seed: online(s, seed, test, s["n"], "reservoir"),
            "online, 10x solves": lambda seed: online(s, seed, test, 10 * s["n"], "reservoir"),
            "online, FIFO": lambda seed: online(s, seed, test, s["steps"] * BATCH, "fifo"),
        }
        results = {name: [] for name in runs}
        for seed in range(args.seeds):  # interleaved: every configuration once per seed
            for name, run in runs.items():
                results[name].append(run(seed))
                print(f"  seed {seed} {name}: {results[name][-1]}", flush=True)
    print(f"\n{'run':>22s} {'test rel. L2':>16s} {'distinct':>9s} {'solves':>7s} "
          f"{'seconds':>8s} {'waited s':>9s}")  # fmt: skip
    for name, rows in results.items():
        errors = np.array([r["error"] for r in rows])
        spread = f"{errors.mean():.4f} ±{(errors.max() - errors.min()) / 2:.4f}"
        mean = {k: np.mean([r[k] for r in rows]) for k in ("distinct", "solves", "seconds")}
        waited = np.mean([r["waited"] for r in rows])
        print(f"{name:>22s} {spread:>16s} {mean['distinct']:>9.0f} {mean['solves']:>7.0f} "
              f"{mean['seconds']:>8.1f} {waited:>9.1f}")  # fmt: skip
    print("\nstream throughput alone (samples/s, after the first):")
    for workers in range(0, (os.cpu_count() or 1) + 1):
        print(f"  workers {workers}: {throughput(s, workers):.0f}")


if __name__ == "__main__":
    main()
