"""The FNO paper's Burgers protocol (Li et al., ICLR 2021, Table 1), run in full on a CPU.

Question: does our FNO-1D, on Burgers data our own generator makes the way the paper's did
(`datagen` family `burgers`), reach the paper's test error with the paper's recipe
(`configs/burgers_fno.toml`: 1000 training samples, 500 epochs, 16 modes, width 64)? The paper
reports relative L2 0.0160 at s = 1024 and 0.0149 at s = 256.

    python benchmarks/fno_burgers.py                        # s = 1024 and 256, seed 0
    python benchmarks/fno_burgers.py --strides 1 --seeds 0 1 2
    python benchmarks/fno_burgers.py --epochs 50            # a shorter run, not the protocol
"""

import argparse
import tempfile
import time
from pathlib import Path

from common import print_run_header

from jaxsciml import config as jconfig, experiment


PAPER = {1: ("s = 1024", 0.0160), 4: ("s = 256", 0.0149)}
CONFIG = Path(__file__).parents[1] / "configs" / "burgers_fno.toml"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strides", type=int, nargs="*", default=[1, 4])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the paper's 500")
    parser.add_argument("--data", default="data/burgers1024", help="made here when missing")
    args = parser.parse_args()
    print_run_header(["jax", "jaxsciml"])
    rows = []
    for stride in args.strides:
        for seed in args.seeds:
            overrides = [("data", "path", args.data), ("data", "stride", stride),
                         ("train", "seed", seed)]  # fmt: skip
            if args.epochs:
                overrides.append(("train", "epochs", args.epochs))
            config = jconfig.load(CONFIG, overrides)
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as run:
                _, history = experiment.train(config, run, progress=False, report=False)
            seconds = time.perf_counter() - start
            error = history[-1]["test.relative_l2"]
            label, paper = PAPER.get(stride, (f"stride {stride}", float("nan")))
            rows.append((label, seed, error, paper, seconds))
            print(f"  {label} seed {seed}: {error:.4f} (paper {paper}) in {seconds:.0f} s",
                  flush=True)  # fmt: skip
    print(f"\n{'resolution':>10s} {'seed':>5s} {'test rel. L2':>13s} {'paper':>7s} {'seconds':>8s}")
    for label, seed, error, paper, seconds in rows:
        print(f"{label:>10s} {seed:>5d} {error:>13.4f} {paper:>7.4f} {seconds:>8.0f}")


if __name__ == "__main__":
    main()
