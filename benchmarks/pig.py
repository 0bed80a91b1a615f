"""PIG (Physics-Informed Gaussians) against a PINN on the paper's PDEs: accuracy and step time.

Question: does PIG reach the paper's test errors (Kang et al., ICLR 2025, Table 1: Helmholtz
4.13e-5, Klein-Gordon 2.76e-3, flow mixing 4.51e-4), and how far below a PINN trained with the
same loss, points and budget does it land? Goal: within 2x of the paper in full mode, well below
the PINN in every mode.

Set-up per problem (full mode: the released scripts' settings; reduced and quick modes shrink the
Gaussians, points and iterations to fit a 2-core CPU):

- Helmholtz (a1 = 4, a2 = 1): N = 800, σ₀ = 0.1, weights N(0, 0.01²); 10000 interior and
  10000 points per face, new every step; Adam 1e-2 decayed ×0.9995 per step; residual weight
  1e-4; 60 001 iterations.
- Klein-Gordon (k = 2): N = 100, σ₀ = 0.5, weights N(0, 1); 4096 interior, 256 per face, 256
  initial, new every 100 steps; Adam 1e-2 decayed ×0.9 per 2000 steps; 50 001 iterations.
- Flow mixing: N = 4000, σ₀ = 0.1, weights N(0, 1); 27000 interior, 900 per face, 900 initial,
  new every 100 steps; Adam 1e-2 decayed ×0.9 per 2000 steps; 50 000 iterations.

(The paper's Helmholtz figure is from L-BFGS; `--helmholtz-lbfgs` runs optax's L-BFGS with a
zoom line search instead, new points every 20 iterations, as PyTorch's `LBFGS.step` takes up to
20 iterations per call.) Every PIG has 4 feature channels and a 4→16→1 tanh MLP. The PINN is a
tanh MLP with 4 hidden layers of 64 on coordinates mapped to [-1, 1] (Glorot normal), trained
with the same loss, points and iteration count, Adam at 1e-3 with the same decay (1e-2 makes it
diverge). The test error is the relative L2 on the scripts' grids (250², 50³; smaller in the
reduced modes), evaluated every `eval_every` iterations; we report the final value and the best
seen during training (the paper's statistic).

Step time: one optimizer step (loss, gradient, update) on one batch, PIG and PINN interleaved,
median of 10+ after warm-up. Training runs through `jaxsciml.fit` (one epoch = one step).

    python benchmarks/pig.py --quick     # ~2 minutes on 2 CPU cores
    python benchmarks/pig.py             # reduced mode, ~15 minutes on 2 CPU cores
    python benchmarks/pig.py --full      # the paper's sizes (a GPU)
    python benchmarks/pig.py --full --problems klein_gordon --models PIG --seeds 100 200 300
                                         # the paper's Klein-Gordon protocol (on 2 CPU
                                         # cores 39 min per seed with --eval-every 100:
                                         # 48 ms per iteration measured)
"""

import argparse
import dataclasses
import json
import os
import platform
import sys
import time

import jax
import optax
from common import interleaved_times, package_versions

import jaxsciml as jsm
from jaxsciml import physics as ph
from jaxsciml.train.step import make_train_step, split_model


PAPER_PIG = {"helmholtz": 4.13e-5, "klein_gordon": 2.76e-3, "flow_mixing": 4.51e-4}
PAPER_PINN = {"helmholtz": 4.02e-1, "klein_gordon": 3.43e-2, "flow_mixing": None}


@dataclasses.dataclass
class Case:
    """One problem's settings in one mode."""

    gaussians: int
    scale: float
    weight_std: float
    interior: int
    per_face: int
    initial: int
    resample_every: int
    iterations: int
    test_points: int
    eval_every: int
    chunk_size: int = 4096


SETTINGS = {
    "full": {
        "helmholtz": Case(800, 0.1, 0.01, 10_000, 10_000, 0, 1, 60_001, 250, 10),
        "klein_gordon": Case(100, 0.5, 1.0, 4096, 256, 256, 100, 50_001, 50, 10),
        "flow_mixing": Case(4000, 0.1, 1.0, 27_000, 900, 900, 100, 50_000, 50, 10, 2048),
    },
    "reduced": {
        "helmholtz": Case(200, 0.1, 0.01, 2000, 500, 0, 1, 1500, 100, 50),
        "klein_gordon": Case(100, 0.5, 1.0, 1024, 64, 64, 100, 1500, 24, 50),
        "flow_mixing": Case(400, 0.1, 1.0, 2048, 128, 128, 100, 1500, 24, 50),
    },
    "quick": {
        "helmholtz": Case(100, 0.1, 0.01, 1024, 256, 0, 1, 200, 60, 50),
        "klein_gordon": Case(50, 0.5, 1.0, 512, 32, 32, 100, 200, 16, 50),
        "flow_mixing": Case(100, 0.1, 1.0, 512, 32, 32, 100, 200, 16, 50),
    },
}


def make_problem(name: str) -> tuple[ph.PDE, ph.PhysicsLoss]:
    problem = {
        "helmholtz": ph.Helmholtz(a1=4.0, a2=1.0),
        "klein_gordon": ph.KleinGordon(),
        "flow_mixing": ph.FlowMixing(),
    }[name]
    return problem, 1e-4 if name == "helmholtz" else 1.0


def optimizer_for(name: str, model_kind: str, lbfgs: bool) -> optax.GradientTransformation:
    """The scripts' schedules: Helmholtz ×0.9995 per step, the others ×0.9 per 2000 steps."""
    if name == "helmholtz" and lbfgs:
        return optax.lbfgs(memory_size=100)
    rate = 1e-2 if model_kind == "PIG" else 1e-3
    if name == "helmholtz":
        return optax.adam(optax.exponential_decay(rate, 1, 0.9995))
    return optax.adam(optax.exponential_decay(rate, 2000, 0.9))


def build(kind: str, problem: ph.PDE, case: Case, seed: int):
    key = jax.random.key(seed)
    if kind == "PIG":
        return jsm.PIG(
            problem.domain, case.gaussians, scale=case.scale, weight_std=case.weight_std, key=key
        )
    return jsm.PINN(problem.domain, hidden=(64,) * 4, key=key)


def step_times(models: dict, points: ph.Collocation, loss, optimizers: dict, rounds: int):
    """Median milliseconds of one train step per model, interleaved."""
    mesh = jsm.parallel.data_mesh()
    batch = jsm.train.place(points.draw(0, 0), mesh)
    key = jax.random.key(0)
    calls = {}
    for name, model in models.items():
        params, frozen, static = split_model(model)
        params = jax.tree.map(lambda x: x.copy(), params)  # the step donates them
        optimizer = optimizers[name]
        step = make_train_step(loss, optimizer, static, mesh)
        # copies: the step donates both, and optax.lbfgs's state holds the params' own buffers
        opt_state = jax.tree.map(lambda x: x.copy(), optimizer.init(params))
        state = {"params": params, "opt": opt_state}

        def call(step=step, state=state, frozen=frozen):
            params, opt, value = step(state["params"], frozen, state["opt"], batch, key)
            state["params"], state["opt"] = params, opt
            return value

        start = time.perf_counter()
        jax.block_until_ready(call())
        calls[name] = call
        print(f"    compiled {name} step in {time.perf_counter() - start:.1f} s", flush=True)
    for _ in range(3):  # the first calls after compiling re-place the arrays
        for call in calls.values():
            jax.block_until_ready(call())
    return interleaved_times(calls, rounds)


def run_problem(
    name: str,
    mode: str,
    lbfgs: bool,
    seed: int,
    rounds: int,
    kinds: tuple[str, ...],
    eval_every: int | None = None,
    iterations: int | None = None,
) -> list[dict]:
    case = SETTINGS[mode][name]
    if eval_every:
        case = dataclasses.replace(case, eval_every=eval_every)
    if iterations:
        case = dataclasses.replace(case, iterations=iterations)
    problem, residual_weight = make_problem(name)
    resample = 20 if (name == "helmholtz" and lbfgs) else case.resample_every
    points = ph.Collocation(
        problem.domain,
        case.interior,
        boundary=case.per_face,
        initial=case.initial,
        resample_every=resample,
    )
    loss = ph.PhysicsLoss(problem, residual_weight=residual_weight, chunk_size=case.chunk_size)
    test = ph.ReferenceSolution.from_problem(problem, case.test_points)
    models = {kind: build(kind, problem, case, seed) for kind in kinds}
    optimizers = {kind: optimizer_for(name, kind, lbfgs) for kind in kinds}
    print(f"  {name}: timing one step of each model", flush=True)
    times = step_times(models, points, loss, optimizers, rounds)
    rows = []
    for kind in kinds:
        print(f"  {name}: training {kind} for {case.iterations} iterations", flush=True)
        start = time.perf_counter()
        _, history = jsm.fit(
            models[kind],
            points,
            epochs=case.iterations,
            batch_size=case.interior,
            loss=loss,
            optimizer=optimizers[kind],
            evaluation=jsm.Evaluation(test, every=case.eval_every),
            seed=seed,
            progress=False,
        )
        errors = [h["eval.relative_l2"] for h in history if "eval.relative_l2" in h]
        rows.append(
            {
                "problem": name,
                "model": kind,
                "seed": seed,
                "parameters": jsm.count_parameters(models[kind]),
                "iterations": case.iterations,
                "step_ms": times[kind]["median_ms"],
                "step_ms_min": times[kind]["min_ms"],
                "step_ms_max": times[kind]["max_ms"],
                "train_seconds": time.perf_counter() - start,
                "final_error": errors[-1],
                "best_error": min(errors),
                "initial_error": jsm.evaluate(models[kind], test)["relative_l2"],
                "final_loss": history[-1]["train_loss"],
                "paper": (PAPER_PIG if kind == "PIG" else PAPER_PINN)[name],
            }
        )
        print(
            f"    {kind}: final {errors[-1]:.3e}, best {min(errors):.3e}, "
            f"{rows[-1]['train_seconds']:.0f} s",
            flush=True,
        )
    return rows


def print_table(rows: list[dict]) -> None:
    print(
        "\n| problem | model | seed | params | iters | step ms (median; min-max) "
        "| PIG step / PINN step | final rel L2 | best rel L2 | paper |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    by_run = {}
    for row in rows:
        by_run.setdefault((row["problem"], row["seed"]), {})[row["model"]] = row
    for row in rows:
        pinn = by_run[row["problem"], row["seed"]].get("PINN")
        ratio = row["step_ms"] / pinn["step_ms"] if pinn else float("nan")
        paper = "-" if row["paper"] is None else f"{row['paper']:.2e}"
        print(
            f"| {row['problem']} | {row['model']} | {row['seed']} | {row['parameters']:,} "
            f"| {row['iterations']} "
            f"| {row['step_ms']:.1f}; {row['step_ms_min']:.1f}-{row['step_ms_max']:.1f} "
            f"| {ratio:.2f} | {row['final_error']:.2e} | {row['best_error']:.2e} | {paper} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a 2-minute smoke run")
    mode.add_argument("--full", action="store_true", help="the paper's sizes (for a GPU)")
    parser.add_argument("--problems", nargs="+", default=list(PAPER_PIG), choices=list(PAPER_PIG))
    parser.add_argument("--helmholtz-lbfgs", action="store_true", help="L-BFGS for Helmholtz")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[100],
        help="one run per seed (the paper's are 100, 200, 300)",
    )
    parser.add_argument("--models", nargs="+", default=["PIG", "PINN"], choices=["PIG", "PINN"],
                        help="which models to time and train")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=10, help="timed steps per model")
    parser.add_argument(
        "--eval-every",
        type=int,
        help="test every this many iterations instead of the mode's (full: 10); the best error "
        "over fewer tests can only be higher",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        help="train this many iterations instead of the mode's (e.g. a shorter run beside the "
        "official script with the same --epochs)",
    )
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full" if args.full else "reduced"

    print("command: python " + " ".join(sys.argv))
    print(f"devices: {jax.devices()}, CPUs: {os.cpu_count()}, {platform.platform()}")
    print("versions:", package_versions(["jax", "jaxlib", "equinox", "optax", "jaxsciml"]))
    print(f"mode: {mode}")
    rows = []
    kinds = tuple(args.models)
    for name in args.problems:
        for seed in args.seeds:
            rows += run_problem(
                name,
                mode,
                args.helmholtz_lbfgs,
                seed,
                args.rounds,
                kinds,
                args.eval_every,
                args.iterations,
            )
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"mode": mode, "argv": sys.argv, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
