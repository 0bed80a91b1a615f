"""Many small systems at once: the batched JAX backend against SciPy's per-system loop.

Question: how many systems per second does one compiled Krylov iteration over a batch
(`datagen.krylov.batched`: Jacobi-preconditioned CG for Darcy, BiCGSTAB for convection-diffusion)
solve, against the same method in SciPy called once per system, and against sparse LU per system?

Protocol: `--systems` samples of each family (the generator's `[seed, i]` streams), assembled
once; every method solves all of them to a relative residual of 1e-8 (checked with the assembled
matrix), `--repeats` times in turn (SciPy loop, batched at each batch size, direct), and the
fastest repeat of each is reported. The batched times exclude compilation (paid once per process
and shape): the first call, compiling, is printed apart (all systems, in seconds). By default the
process is pinned to one core, as each generator worker is (`--cores`).

    python benchmarks/batched_solves.py                       # 33², 65², 129² grids, 64 systems
    python benchmarks/batched_solves.py --rows darcy --sizes 64 --batch-sizes 8 64
    python benchmarks/batched_solves.py --dim 3 --sizes 16 24 --option diffusion=0.05
    python benchmarks/batched_solves.py --json out.json
"""

import argparse
import os
import sys


def pin(cores: int) -> None:
    """Run on the first `cores` CPUs only (before JAX starts its threads)."""
    if cores > 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rows", nargs="*", default=["darcy", "convection_diffusion"], help="problem families"
    )
    parser.add_argument(
        "--sizes", nargs="*", type=int, default=[33, 65, 129], help="grid points per axis"
    )
    parser.add_argument("--dim", type=int, default=2, help="2 or 3 space dimensions")
    parser.add_argument(
        "--option", nargs="*", default=[], metavar="KEY=VALUE",
        help="a family setting for every row, e.g. diffusion=0.05 (JSON values)",
    )  # fmt: skip
    parser.add_argument("--systems", type=int, default=64, help="systems per row")
    parser.add_argument(
        "--batch-sizes", nargs="*", type=int, default=[4, 8, 32], help="systems per compiled call"
    )
    parser.add_argument(
        "--no-direct", action="store_true", help="skip sparse LU (minutes per system in 3-D)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (fastest kept)")
    parser.add_argument("--cores", type=int, default=1, help="CPUs to run on (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="data seed")
    parser.add_argument("--json", help="also write the results here")
    return parser.parse_args(argv)


ARGS = parse(sys.argv[1:]) if __name__ == "__main__" else None
if ARGS is not None:
    pin(ARGS.cores)

import json  # noqa: E402 - after pinning, so that every thread starts on the chosen cores
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402
from common import package_versions, print_run_header  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from datagen.chain import balanced_groups  # noqa: E402
from datagen.generator import sample_rng  # noqa: E402
from datagen.krylov.batched import SparseBatch, batched_bicgstab, batched_cg  # noqa: E402
from datagen.problems import make_problem  # noqa: E402


TOLERANCE = 1e-8


def scipy_loop(systems, method):
    """Solve each system alone with SciPy's `method` (cg or bicgstab), Jacobi-preconditioned;
    return the solutions and the products each spent."""
    solutions, matvecs = [], []
    for s in systems:
        diagonal = s.matrix.diagonal()
        jacobi = spla.LinearOperator(s.matrix.shape, matvec=lambda v, d=diagonal: v / d)
        steps = []
        x, info = method(
            s.matrix, s.rhs, rtol=TOLERANCE, atol=0.0, M=jacobi, maxiter=10_000,
            callback=lambda _, steps=steps: steps.append(1),
        )  # fmt: skip
        if info != 0:
            raise RuntimeError(f"SciPy's {method.__name__} did not converge (info {info})")
        solutions.append(x)
        matvecs.append(len(steps) * (2 if method is spla.bicgstab else 1))
    return solutions, matvecs


def batched(systems, method, batch_size):
    """Solve the systems in balanced groups of at most `batch_size` with the batched `method`
    (packing included); return the solutions and products."""
    solutions, matvecs = [], []
    for group in balanced_groups(systems, batch_size):
        packed = SparseBatch.of([s.matrix for s in group])
        rhs = np.stack([s.rhs for s in group])
        x, spent = method(packed, rhs, TOLERANCE * np.linalg.norm(rhs, axis=1))
        solutions += list(x)
        matvecs += spent.tolist()
    return solutions, matvecs


def direct(systems):
    return [spla.splu(s.matrix.tocsc()).solve(s.rhs) for s in systems], [0] * len(systems)


def worst_residual(systems, solutions) -> float:
    return max(
        np.linalg.norm(s.rhs - s.matrix @ x) / np.linalg.norm(s.rhs)
        for s, x in zip(systems, solutions, strict=True)
    )


def run_row(family, size, args) -> dict:
    options = {k: json.loads(v) for k, _, v in (o.partition("=") for o in args.option)}
    problem = make_problem(family, resolution=size, dim=args.dim, **options)
    systems = [
        problem.assemble(problem.sample(sample_rng(args.seed, i))) for i in range(args.systems)
    ]
    spd = problem.symmetric and problem.definite
    ours, theirs = (batched_cg, spla.cg) if spd else (batched_bicgstab, spla.bicgstab)
    methods = {f"scipy {theirs.__name__} loop": lambda: scipy_loop(systems, theirs)}
    first_call = {}
    for b in args.batch_sizes:
        label = f"batched {theirs.__name__} ({b})"
        methods[label] = lambda b=b: batched(systems, ours, b)
        start = time.perf_counter()
        methods[label]()  # compiles every group shape
        first_call[label] = time.perf_counter() - start
    if not args.no_direct:
        methods["direct (splu) loop"] = lambda: direct(systems)
    best = dict.fromkeys(methods, np.inf)
    outcome = {}
    for _ in range(args.repeats):
        for label, method in methods.items():
            start = time.perf_counter()
            solutions, matvecs = method()
            best[label] = min(best[label], time.perf_counter() - start)
            outcome[label] = (worst_residual(systems, solutions), float(np.mean(matvecs)))
    n = args.systems
    rows = {
        label: {
            "systems_per_second": n / best[label],
            "ms_per_system": 1e3 * best[label] / n,
            "matvecs_per_system": outcome[label][1],
            "worst_residual": outcome[label][0],
            "first_call_seconds": first_call.get(label),
        }
        for label in methods
    }
    return {
        "family": family, "resolution": size, "dim": args.dim, "unknowns": systems[0].rhs.size,
        "systems": n, "methods": rows,
    }  # fmt: skip


def print_row(row: dict) -> None:
    methods = row["methods"]
    reference = next(v for k, v in methods.items() if k.startswith("scipy"))
    print(
        f"\n{row['family']} {row['resolution']}^{row['dim']} ({row['unknowns']} unknowns), "
        f"{row['systems']} systems"
    )
    print(
        f"  {'method':26s} {'systems/s':>10s} {'ms/system':>10s} {'x scipy':>8s} "
        f"{'matvecs':>8s} {'worst res':>9s} {'1st call s':>10s}"
    )
    for label, m in methods.items():
        first = "" if m["first_call_seconds"] is None else f"{m['first_call_seconds']:10.2f}"
        print(
            f"  {label:26s} {m['systems_per_second']:10.1f} {m['ms_per_system']:10.2f} "
            f"{m['systems_per_second'] / reference['systems_per_second']:8.2f} "
            f"{m['matvecs_per_system']:8.1f} {m['worst_residual']:9.1e} {first}"
        )


def main(args) -> None:
    import jax

    print_run_header(["jax", "jaxlib", "numpy", "scipy"])
    print(f"cores: {sorted(os.sched_getaffinity(0))}; JAX device: {jax.devices()[0]}")
    results = []
    with threadpool_limits(1):
        for family in args.rows:
            for size in args.sizes:
                results.append(run_row(family, size, args))
                print_row(results[-1])
    if args.json:
        payload = {"versions": package_versions(["jax", "scipy"]), "rows": results}
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1)


if __name__ == "__main__":
    main(ARGS)
