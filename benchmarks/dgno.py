"""DGNO (trained without labelled pairs) against a supervised MultiONet on Darcy flow, and DGNO's
inverse problem.

Question: how close does DGNO, trained on samples of `a` alone plus weak-form physics, come to
the released DGenNO code's own figures, and to a MultiONet trained on solved pairs? Goals (the
reference notebooks' outputs, relative L2 of u on the in-distribution test set): piecewise Darcy
0.0241 (DGNO) and 0.0097 (MultiONet); smooth Darcy 0.0033 and 0.0008; inversion at SNR 25 dB from
100 observations: a error 0.13 (piecewise) and 0.009 (smooth).

Data (`datagen`, `−∇·(a∇u) = 10`, `u = 0` on the boundary of the unit square, 29×29 grid, direct
solves): piecewise `a ∈ {5, 10}` from a thresholded Gaussian field `(−Δ + 9)^(−2)`; smooth
`a = exp(field)`. The out-of-distribution test sets draw the field with `τ = 6` (shorter
correlation length) instead of 3. DGNO's training set is unsolved fields; solutions are used only
for testing (and for the MultiONet's training pairs).

Models (the paper's configurations, `jaxsciml.operators.dgno`): piecewise, an MLP encoder
`[841, 512, 256, 128]`, Bernoulli coefficient decoder (width 256), mixed formulation (u and two
flux decoders, width 100), 5 layers, l = 4, `R = 1e-4`, 100 test functions per step, Adam 5e-4
(L2 1e-4) halved every fifth of the run, batch 25; smooth, a CNN encoder, Gaussian coefficient
decoder, primal formulation, AdamW 5e-4, batch 50, reconstruction weight 0.25. The MultiONet
baseline takes the normalized `a` on the grid as its branch input (an MLP branch of 5×256, where
the reference uses a CNN branch), trunk 5×256, l = 4, relative-L2 loss, Adam 1e-3 halved every
fifth, batch 50, trained on labelled pairs.

Inversion: one in-distribution test sample, 100 random interior grid points, Gaussian noise at
SNR 25 dB; `dgno_inverse.invert` with the decoders frozen (Adam 1e-2, relaxed Bernoulli with 25
draws for binary media), several restarts; the reported a and u errors are those of the mean over
restarts, and the spread is the mean standard deviation over restarts.

    python benchmarks/dgno.py --quick    # every step at toy sizes, a few minutes
    python benchmarks/dgno.py            # reduced mode, about 25 minutes on 2 CPU cores
    python benchmarks/dgno.py --full     # the paper's sizes and epochs (a GPU)
"""

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import package_versions

import datagen
import jaxsciml as jsm
from datagen.generator import sample_rng
from jaxsciml import physics as ph
from jaxsciml.data.normalize import GaussianNormalizer
from jaxsciml.operators import dgno_inverse
from jaxsciml.operators.dgno import DGNO, DGNOLoss, unlabelled


GOALS = {  # the reference notebooks' outputs
    ("piecewise", "DGNO"): 0.0241,
    ("piecewise", "MultiONet"): 0.0097,
    ("smooth", "DGNO"): 0.0033,
    ("smooth", "MultiONet"): 0.0008,
    ("piecewise", "inverse"): 0.13,
    ("smooth", "inverse"): 0.009,
}


@dataclasses.dataclass
class Case:
    """One coefficient family in one mode."""

    name: str  # "piecewise" or "smooth"
    unlabelled: int  # DGNO's training fields
    labelled: int  # MultiONet's training pairs
    test: int  # per test set (in- and out-of-distribution)
    epochs: int  # DGNO
    baseline_epochs: int  # MultiONet
    batch_size: int
    restarts: int
    inverse_steps: int
    eval_every: int

    @property
    def problem(self) -> dict:
        common = dict(resolution=29, forcing=10.0)
        if self.name == "piecewise":
            return dict(common, coefficient="piecewise", values=(10.0, 5.0))
        return dict(common, coefficient="lognormal")


def cases(mode: str) -> list[Case]:
    if mode == "quick":  # a smoke run of every step, a few minutes
        return [
            Case("piecewise", 100, 100, 20, 2, 10, 25, 2, 20, 1),
            Case("smooth", 100, 100, 20, 2, 10, 50, 2, 20, 1),
        ]
    if mode == "full":  # the reference code's sizes
        return [
            Case("piecewise", 10_000, 1000, 200, 1000, 2000, 25, 10, 500, 25),
            Case("smooth", 1000, 1000, 200, 2000, 2000, 50, 10, 500, 25),
        ]
    return [
        Case("piecewise", 1000, 500, 100, 30, 200, 25, 4, 200, 5),
        Case("smooth", 500, 500, 100, 60, 200, 50, 4, 200, 10),
    ]


def unsolved_fields(problem: dict, n: int, seed: int) -> np.ndarray:
    """`n` coefficient fields `(n, 1, 29, 29)` drawn as `datagen.generate` draws them, unsolved."""
    family = datagen.Darcy(**problem)
    return np.stack([family.sample(sample_rng(seed, i)) for i in range(n)]).astype(np.float32)


def solved(problem: dict, n: int, seed: int, root: str) -> jsm.data.Dataset:
    out = os.path.join(root, f"{problem['coefficient']}-{problem.get('tau', 3.0)}-{seed}-{n}")
    datagen.generate("darcy", n, out, seed=seed, solver="direct", progress=False, **problem)
    return jsm.data.load(out)


def step_decay(lr: float, steps: int) -> optax.Schedule:
    """`lr` halved every fifth of `steps` (the reference's StepLR(epochs / 5, 0.5))."""
    return optax.exponential_decay(lr, max(1, steps // 5), 0.5, staircase=True)


def train_dgno(case: Case, train_a: np.ndarray, test_in, key) -> tuple[DGNO, dict]:
    binary = case.name == "piecewise"
    model = DGNO(train_a, coefficient="binary" if binary else "continuous", key=key)
    loss = DGNOLoss(
        ph.WeakForm(ph.Box([0.0, 0.0], [1.0, 1.0]), 1e-4),
        centres=100,
        data_weight=1.0 if binary else 0.25,
    )
    steps = case.epochs * (case.unlabelled // case.batch_size)
    schedule = step_decay(5e-4, steps)
    optimizer = (
        optax.chain(optax.add_decayed_weights(1e-4), optax.adam(schedule))
        if binary
        else optax.adamw(schedule, weight_decay=1e-4)
    )
    start = time.perf_counter()
    model, history = jsm.fit(
        model,
        unlabelled(train_a),
        epochs=case.epochs,
        batch_size=case.batch_size,
        loss=loss,
        optimizer=optimizer,
        evaluation=jsm.Evaluation(test_in, every=case.eval_every),
    )
    seconds = time.perf_counter() - start
    errors = [h["eval.relative_l2"] for h in history if "eval.relative_l2" in h]
    return model, dict(params=jsm.count_parameters(model), seconds=seconds, best=min(errors))


def train_multionet(case: Case, train: jsm.data.Dataset, test_in, key):
    normalizer = GaussianNormalizer.fit(train)
    sensors = train.input_shape[1] * train.input_shape[2]
    model = jsm.MultiONet(
        sensors, 2, [256] * 5, [256] * 5, num_outputs=4, activation=jnp.tanh, key=key
    )
    points = jsm.data.PointDataset

    def standardize(data):
        batch = everything(data)
        return jsm.data.from_arrays(np.asarray(normalizer.encode(batch.inputs)), batch.outputs)

    train_points, test_points = points(standardize(train)), points(standardize(test_in))
    steps = case.baseline_epochs * (len(train) // 50)
    start = time.perf_counter()
    model, history = jsm.fit(
        model,
        train_points,
        epochs=case.baseline_epochs,
        batch_size=50,
        optimizer=optax.adam(step_decay(1e-3, steps)),
        evaluation=jsm.Evaluation(test_points, every=max(1, case.baseline_epochs // 10)),
    )
    seconds = time.perf_counter() - start
    errors = [h["eval.relative_l2"] for h in history if "eval.relative_l2" in h]
    return (
        model,
        standardize,
        dict(params=jsm.count_parameters(model), seconds=seconds, best=min(errors)),
    )


def everything(data: jsm.data.Dataset):
    """Every sample of `data` as one `Batch` in memory."""
    return data.read(np.arange(len(data)))


def relative(prediction, truth) -> float:
    return float(np.linalg.norm(prediction - truth) / np.linalg.norm(truth))


def invert(case: Case, model: DGNO, test_in, key) -> dict:
    a_true, u_true = (field[0] for field in test_in[0])
    points, values = dgno_inverse.observe_on_grid(model, u_true, 100, np.random.default_rng(7))
    key_noise, key_run = jax.random.split(key)
    noisy = dgno_inverse.noisy_observations(values, 25.0, key_noise)
    loss = DGNOLoss(ph.WeakForm(model.domain, 1e-4), centres=100)
    start = time.perf_counter()
    result = dgno_inverse.invert(
        model, points, noisy, loss, key=key_run, restarts=case.restarts, steps=case.inverse_steps
    )
    restart_errors = [relative(np.asarray(c), a_true) for c in result.coefficient]
    return dict(
        seconds=time.perf_counter() - start,
        a_error=relative(np.asarray(result.coefficient_mean), a_true),
        u_error=relative(np.asarray(result.solution_mean), u_true),
        a_error_restarts=(min(restart_errors), max(restart_errors)),
        a_spread=float(np.mean(result.coefficient_std)),
        u_spread=float(np.mean(result.solution_std)),
    )


def run_case(case: Case, root: str, seed: int) -> dict:
    problem = case.problem
    print(f"== {case.name}: generating data", flush=True)
    test_in = solved(problem, case.test, seed + 1, root)
    test_out = solved(dict(problem, tau=6.0), case.test, seed + 2, root)
    train_a = unsolved_fields(problem, case.unlabelled, seed)
    labelled = solved(problem, case.labelled, seed + 3, root)
    key_dgno, key_mio, key_inv = jax.random.split(jax.random.key(seed), 3)

    print(f"== {case.name}: DGNO, {case.unlabelled} unlabelled fields", flush=True)
    dgno, dgno_row = train_dgno(case, train_a, test_in, key_dgno)
    dgno_row["in"] = jsm.evaluate(dgno, test_in)["relative_l2"]
    dgno_row["out"] = jsm.evaluate(dgno, test_out)["relative_l2"]
    a_test = everything(test_in).inputs
    a_decoded = np.asarray(eqx.filter_jit(dgno.reconstruct)(jnp.asarray(a_test)))
    dgno_row["a_reconstruction"] = float(
        np.mean([relative(d, t) for d, t in zip(a_decoded, a_test)])
    )

    print(f"== {case.name}: MultiONet, {case.labelled} labelled pairs", flush=True)
    mio, standardize, mio_row = train_multionet(case, labelled, test_in, key_mio)
    for name, data in (("in", test_in), ("out", test_out)):
        mio_row[name] = jsm.evaluate(mio, jsm.data.PointDataset(standardize(data)))["relative_l2"]

    print(f"== {case.name}: inversion from 100 observations at 25 dB", flush=True)
    inverse_row = invert(case, dgno, test_in, key_inv)
    return dict(
        case=dataclasses.asdict(case), dgno=dgno_row, multionet=mio_row, inverse=inverse_row
    )


def table(results: list[dict]) -> str:
    lines = [
        "| case | model | labelled pairs | params | train s | u rel L2 (in) | best during "
        "training | goal | u rel L2 (OOD) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        name, c = r["case"]["name"], r["case"]
        for model, row, pairs in (
            ("DGNO", r["dgno"], 0),
            ("MultiONet", r["multionet"], c["labelled"]),
        ):
            lines.append(
                f"| {name} | {model} | {pairs} | {row['params']:,} | {row['seconds']:.0f} | "
                f"{row['in']:.4f} | {row['best']:.4f} | {GOALS[(name, model)]} | {row['out']:.4f} |"
            )
    lines += [
        "",
        "| case | a rel L2 (mean of restarts) | restarts' range | goal | u rel L2 | mean std of a |"
        " mean std of u | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        inv, name = r["inverse"], r["case"]["name"]
        low, high = inv["a_error_restarts"]
        lines.append(
            f"| {name} | {inv['a_error']:.4f} | {low:.4f}-{high:.4f} | {GOALS[(name, 'inverse')]} "
            f"| {inv['u_error']:.4f} | {inv['a_spread']:.3g} | {inv['u_spread']:.3g} | "
            f"{inv['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the paper's sizes (a GPU)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of every step")
    parser.add_argument("--cases", nargs="+", default=["piecewise", "smooth"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as root:
        mode = "full" if args.full else "quick" if args.quick else "reduced"
        for case in cases(mode):
            if case.name in args.cases:
                results.append(run_case(case, root, args.seed))
    print(table(results))
    print(
        f"\n{platform.processor() or platform.machine()}, {jax.devices()[0].platform}, "
        f"{package_versions(['jax', 'equinox', 'optax'])}"
    )
    print("command: python benchmarks/dgno.py " + " ".join(sys.argv[1:]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
