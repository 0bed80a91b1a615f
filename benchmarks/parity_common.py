"""What the parity harnesses (`parity_*.py`, run by `parity.py`) share."""

import os
import time
from collections.abc import Callable

import equinox as eqx
import numpy as np

import datagen
import jaxsciml as jsm


def generated_darcy(path: str, samples: int, **problem) -> tuple[np.ndarray, np.ndarray]:
    """`datagen` Darcy coefficients and solutions `(samples, 1, n, n)` at `path`, generated
    there first (seed 0, `problem`: the family's options) when missing."""
    if not os.path.exists(path):
        datagen.generate("darcy", samples, path, seed=0, **problem)
    batch = jsm.data.load(path).read(np.arange(samples))
    return batch.inputs, batch.outputs


def put_weights(model: eqx.Module, pairs) -> eqx.Module:
    """`model` with each `(where, value)` of `pairs` set (`where(model)` selects one array),
    refusing a value of another shape than the array it replaces."""
    for where, value in pairs:
        if where(model).shape != value.shape:
            raise ValueError(f"shape {where(model).shape} against the reference's {value.shape}")
        model = eqx.tree_at(where, model, value)
    return model


def train_side_by_side(
    seeds, reference: Callable[[int], list], ours: Callable[[int], list], digits: str = ".4f"
) -> dict:
    """For each seed, the reference's then our training (each `seed -> test-error curve`);
    `{"curves": {side: [curve per seed]}, "seconds": {side: [seconds per seed]}}`."""
    curves = {"ours": [], "reference": []}
    seconds = {"ours": [], "reference": []}
    for seed in seeds:
        for side, train in (("reference", reference), ("ours", ours)):
            begin = time.perf_counter()
            curves[side].append(train(seed))
            seconds[side].append(time.perf_counter() - begin)
        print(f"  seed {seed}: final test rel. L2 ours {curves['ours'][-1][-1]:{digits}}, "
              f"reference {curves['reference'][-1][-1]:{digits}}", flush=True)  # fmt: skip
    return {"curves": curves, "seconds": seconds}
