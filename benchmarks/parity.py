"""Parity with each paper's official code at equal small budgets (issue 20, item 1).

For one model, the official code (a checkout given by `--reference-dir`, run from there: none of
it is in this project) and ours train on the same `datagen` data, exported in the reference's
own format, with the same architecture, loss, optimizer, schedule and number of steps, over
several seeds. Before training, one forward pass on identical weights compares the two
computations. Prints both test-error curves (mean ± spread over seeds) and the final errors.

    python benchmarks/parity.py mgno --reference-dir /path/to/MgNO --seeds 0 1 2

Needs PyTorch (`pip install -e ".[peers]"`) and what the reference itself imports.
"""

import argparse
import importlib
import json
import os

import numpy as np
from common import print_run_header


MODELS = {
    "dgno": "parity_dgno",
    "mgno": "parity_mgno",
    "multionet": "parity_multionet",
    "pig": "parity_pig",
    "t1": "parity_t1",
}


def summarize(curves: dict, seconds: dict, every: int, unit=("epoch", 1)) -> None:
    """Mean ± (max − min)/2 over seeds of each side at every `every`-th point of the curves
    (a point per `unit[1]` `unit[0]`s), then the final errors."""
    epochs = len(next(iter(curves.values()))[0])
    names = list(curves)
    print(f"\n{unit[0]:>9s} " + " ".join(f"{name:>22s}" for name in names))
    for epoch in [*range(every - 1, epochs - 1, every), epochs - 1]:
        cells = []
        for name in names:
            values = np.array([curve[epoch] for curve in curves[name]])
            cells.append(f"{values.mean():.4f} ± {np.ptp(values) / 2:.4f}")
        print(f"{(epoch + 1) * unit[1]:>9d} " + " ".join(f"{cell:>22s}" for cell in cells))
    for name in names:
        final = [curve[-1] for curve in curves[name]]
        print(f"{name}: final {np.mean(final):.4f} (seeds {', '.join(f'{v:.4f}' for v in final)});"
              f" {np.mean(seconds[name]):.0f} s per run")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=sorted(MODELS), help="the model to compare")
    parser.add_argument("--reference-dir", required=True, help="checkout of the official code")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to run")
    parser.add_argument("--every", type=int, default=5, help="print the curves every N epochs")
    parser.add_argument("--json", help="also write the curves and times to this file")
    known, _ = parser.parse_known_args()
    module = importlib.import_module(MODELS[known.model])
    module.add_arguments(parser)
    args = parser.parse_args()
    args.reference_dir = os.path.abspath(args.reference_dir)
    if not os.path.isdir(args.reference_dir):
        parser.error(f"--reference-dir {args.reference_dir} is not a directory")
    import torch

    torch.set_num_threads(os.cpu_count())
    print_run_header(["jax", "jaxsciml", "torch"])
    result = module.run(args)
    summarize(result["curves"], result["seconds"], args.every, result.get("unit", ("epoch", 1)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
