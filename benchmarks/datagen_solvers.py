"""Which linear solver makes PDE data fastest? Every backend on the same sequences of systems.

Question: for each problem family and size, how long do 100 related systems take to solve to a
relative residual of 1e-8 with each backend (direct LU, AMG-preconditioned CG, GMRES(40), SciPy's
gcrotmk, GCRO-DR without carry-over, SKR = sorted GCRO-DR with carry-over), how many matrix-vector
products do the Krylov solvers need, and how close does `solver="auto"` (a race on the first
systems, then the winner) come to the fastest?

Protocol: the samples are those the generator would draw (`[seed, i]` streams), put in the SKR
order (greedy nearest neighbour on the parameter fields) for every backend; the backends take the
systems in turn, interleaved (system 1 with every backend, then system 2, ...), each keeping its own
state, with single-threaded BLAS as the generator runs. The Krylov backends run once per
preconditioner in `--preconditioners` (Jacobi, as in the SKR paper's tables, and ILU by default),
so matvec counts compare like with like; Helmholtz rows add every Krylov backend with its
shifted-Laplacian multigrid (`shifted-mg`, complex arithmetic). A backend whose solves take more
than `--budget` seconds in total on a row stops there, and its per-system mean is over the
systems it did (the table says how many); a backend that misses the tolerance within 10,000
matvecs drops out of the row.
The batched JAX backend (`batched-cg`, or `batched-bicgstab` when not SPD) takes the row's systems
in its groups before the others, timed with its compilation.
`auto` = its race (run here as the generator runs it) plus the chosen backend's own time.

    python benchmarks/datagen_solvers.py --quick            # small sizes, 10 systems per row
    python benchmarks/datagen_solvers.py                    # the issue's sizes, 100 systems
    python benchmarks/datagen_solvers.py --rows darcy3d     # rows whose name contains a word
    python benchmarks/datagen_solvers.py --json out.json
"""

import argparse
import dataclasses
import json
import os
import platform
import signal
import sys
import time

import numpy as np
from common import package_versions
from threadpoolctl import threadpool_limits

from datagen.auto import Auto, make_solver
from datagen.chain import solve_in_turn
from datagen.generator import sample_rng
from datagen.krylov.sorting import sort_order
from datagen.linear_solvers import LinearSolver, SolveError
from datagen.problems import make_problem


KRYLOV = ("gmres", "gcrotmk", "bicgstab", "gcrodr", "skr")
SMOOTH = {"coefficient": "lognormal", "alpha": 2.5, "tau": 7.0}


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    problem: str
    options: dict
    systems: int  # linear systems to solve (heat: samples x steps)


def rows(quick: bool) -> list[Row]:
    if quick:
        return [
            Row("darcy2d-64", "darcy", {"resolution": 64}, 10),
            Row("darcy2d-128", "darcy", {"resolution": 128}, 10),
            Row("helmholtz2d-64", "helmholtz", {"resolution": 64}, 10),
            Row("convdiff2d-64", "convection_diffusion", {"resolution": 64}, 10),
            Row("darcy3d-16", "darcy", {"resolution": 16, "dim": 3}, 10),
            Row(
                "helmholtz3d-24", "helmholtz", {"resolution": 24, "dim": 3, "wavenumber": 10.0}, 10
            ),
            Row(
                "convdiff3d-24",
                "convection_diffusion",
                {"resolution": 24, "dim": 3, "diffusion": 0.05},
                10,
            ),
            Row("heat2d-64", "heat", {"resolution": 64, "steps": 5}, 10),
            Row("paper-darcy2d-64", "darcy", {"resolution": 64, **SMOOTH}, 10),
        ]
    return [
        Row("darcy2d-64", "darcy", {"resolution": 64}, 100),
        Row("darcy2d-128", "darcy", {"resolution": 128}, 100),
        Row("darcy2d-256", "darcy", {"resolution": 256}, 100),
        Row("darcy2d-421", "darcy", {"resolution": 421}, 100),
        Row("helmholtz2d-256", "helmholtz", {"resolution": 256}, 100),
        Row("helmholtz3d-48", "helmholtz", {"resolution": 48, "dim": 3}, 100),
        Row("convdiff2d-256", "convection_diffusion", {"resolution": 256}, 100),
        Row("convdiff3d-48", "convection_diffusion", {"resolution": 48, "dim": 3}, 100),
        Row("darcy3d-32", "darcy", {"resolution": 32, "dim": 3}, 100),
        Row("darcy3d-48", "darcy", {"resolution": 48, "dim": 3}, 100),
        Row("heat2d-128", "heat", {"resolution": 128, "steps": 10}, 100),
        # The SKR paper's own Darcy setting (smooth a = exp(GRF), alpha 2.5, tau 7, n = 100^2):
        # run it with `--preconditioners none jacobi` to compare with the paper's Table 1.
        Row("paper-darcy2d-102", "darcy", {"resolution": 102, **SMOOTH}, 100),
    ]


def backends_for(problem, preconditioners, tolerance) -> dict[str, LinearSolver]:
    """`label -> backend` for every backend that applies to `problem`."""
    solvers = [make_solver("direct", tolerance=tolerance)]
    spd = problem.symmetric and problem.definite
    if spd:
        solvers.append(make_solver("cg-amg", tolerance=tolerance))
        if "jacobi" in preconditioners:  # CG takes a symmetric preconditioner only
            solvers.append(make_solver("cg-amg", tolerance=tolerance, preconditioner="jacobi"))
    for preconditioner in (p for p in preconditioners if p != "shifted-mg"):  # added below
        for name in KRYLOV:
            solvers.append(make_solver(name, tolerance=tolerance, preconditioner=preconditioner))
    if hasattr(problem, "shifted_laplacian"):  # Helmholtz: its own preconditioner, complex
        shifted = {"preconditioner": "shifted-mg", **problem.shifted_laplacian()}
        for name in KRYLOV:
            solvers.append(make_solver(name, tolerance=tolerance, **shifted))
    solvers.append(make_solver("batched-cg" if spd else "batched-bicgstab", tolerance=tolerance))
    return {solver.label: solver for solver in solvers}


def warm_up(preconditioners, tolerance) -> None:
    """Solve one small system with every backend first, so that no row's first backend pays
    for imports, first calls and factorization set-up that the others then skip."""
    problem = make_problem("darcy", resolution=16)
    theta = problem.sample(sample_rng(0, 0))
    with threadpool_limits(1):
        for solver in backends_for(problem, preconditioners, tolerance).values():
            problem.solve(theta, solver, None)


def run_row(row: Row, preconditioners, tolerance, seed, with_auto, budget) -> dict:
    problem = make_problem(row.problem, **row.options)
    steps = getattr(problem, "steps", 1)
    samples = max(1, row.systems // steps)
    thetas = [problem.sample(sample_rng(seed, i)) for i in range(samples)]
    order = sort_order(np.stack([problem.features(t) for t in thetas]), "auto")
    thetas = [thetas[i] for i in order]
    unknowns = (
        problem.assemble(thetas[0]).matrix.shape[0]
        if steps == 1
        else ((problem.resolution - 2) ** problem.dim)
    )
    solvers = backends_for(problem, preconditioners, tolerance)
    batched = {label: s for label, s in solvers.items() if s.batched}
    solvers = {label: s for label, s in solvers.items() if not s.batched}
    states = dict.fromkeys(solvers)  # what each backend passes from one sample to the next
    totals = {
        label: {"seconds": 0.0, "done": 0, "matvecs": 0, "worst": 0.0, "failed": None}
        for label in [*solvers, *batched]
    }
    interrupted = False
    with threadpool_limits(1):
        try:
            for label, solver in batched.items():
                run_batched(problem, thetas, solver, totals[label])
            for theta in thetas:
                for name, solver in solvers.items():
                    entry = totals[name]
                    if entry["failed"] or entry["seconds"] > budget:
                        continue
                    start = time.perf_counter()
                    try:
                        solved = problem.solve(theta, solver, states[name])
                    except (SolveError, MemoryError) as error:
                        entry["failed"] = str(error).split(";")[0]
                        continue
                    states[name] = solved.state
                    entry["seconds"] += time.perf_counter() - start
                    record(entry, solved.results)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (e.g. from `timeout`): report what was done
            interrupted = True
    result = {"row": row.name, "unknowns": unknowns, "systems": samples * steps, "backends": totals}
    if interrupted:
        result["interrupted"] = True
        print(f"\n{row.name}: interrupted; the table holds the systems solved so far")
    elif with_auto:
        start = time.perf_counter()
        entries = Auto(tolerance).race(problem, thetas[:2], num_samples=samples)
        overhead = time.perf_counter() - start
        label = entries[0].solver().label
        chosen = totals.get(label)
        per_system = (
            None if chosen is None or not chosen["done"] else chosen["seconds"] / chosen["done"]
        )
        result["auto"] = {
            "choice": label,
            "race_seconds": overhead,
            "per_system": None if per_system is None else per_system + overhead / result["systems"],
            "choice_per_system": per_system,
        }
    return result


def run_batched(problem, thetas, solver, entry: dict) -> None:
    """A batched backend takes the row's systems in its groups, as the generator gives them
    (not interleaved); its time includes compiling, which a generator process pays once."""
    start = time.perf_counter()
    for solved in solve_in_turn(problem, solver, thetas):
        if isinstance(solved, SolveError):
            entry["failed"] = str(solved).split(";")[0]
            return
        record(entry, solved.results)
    entry["seconds"] = time.perf_counter() - start


def record(entry: dict, results) -> None:
    """Add one sample's solves (`SolveResult`s) to a backend's row totals."""
    entry["done"] += len(results)
    entry["matvecs"] += sum(r.matvecs for r in results)
    entry["worst"] = max(entry["worst"], max(r.relative_residual for r in results))


def print_row(result: dict) -> None:
    backends = result["backends"]
    per_system = {
        label: e["seconds"] / e["done"]
        for label, e in backends.items()
        if e["done"] and not e["failed"]
    }
    fastest = min(per_system.values(), default=float("nan"))
    print(f"\n{result['row']}: {result['unknowns']} unknowns, {result['systems']} systems")
    print(
        f"  {'backend':20s} {'ms/system':>10s} {'x fastest':>9s} {'systems':>8s} "
        f"{'matvecs/system':>14s} {'worst res':>9s}"
    )
    for label, e in backends.items():
        if e["failed"] or not e["done"]:
            print(f"  {label:20s} " + (f"failed: {e['failed'][:90]}" if e["failed"] else "not run"))
            continue
        print(
            f"  {label:20s} {1e3 * per_system[label]:10.1f} {per_system[label] / fastest:9.2f} "
            f"{e['done']:8d} {e['matvecs'] / e['done']:14.1f} {e['worst']:9.1e}"
        )
    for suffix in sorted({label.split("+")[1] for label in backends if "+" in label}):
        gmres, gcrodr, skr = (backends.get(f"{n}+{suffix}") for n in ("gmres", "gcrodr", "skr"))
        mean = lambda e: e["matvecs"] / e["done"] if e and e["done"] and not e["failed"] else None
        if mean(skr):
            parts = [f"with {suffix}: SKR {mean(skr):.0f} matvecs/system"]
            if mean(gmres):
                parts.append(f"GMRES(40)/SKR {mean(gmres) / mean(skr):.2f}")
            if mean(gcrodr):
                parts.append(f"GCRO-DR alone/SKR {mean(gcrodr) / mean(skr):.2f}")
            print("  " + ", ".join(parts))
    auto = result.get("auto")
    if auto and auto["per_system"] is not None:
        print(
            f"  auto: chose {auto['choice']}, race {auto['race_seconds']:.2f} s; "
            f"{auto['per_system'] / fastest:.2f} x fastest with the race spread over the row, "
            f"{auto['choice_per_system'] / fastest:.2f} x for the choice alone"
        )
    elif auto:
        print(f"  auto: chose {auto['choice']} (not in this table)")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 10 systems per row")
    parser.add_argument("--rows", nargs="*", default=None, help="only rows containing these words")
    parser.add_argument("--systems", type=int, help="override the systems per row")
    parser.add_argument(
        "--preconditioners",
        nargs="*",
        default=["jacobi", "ilu"],
        help="Krylov preconditioners (none: only direct, cg-amg, shifted-mg); Helmholtz rows "
        "race shifted-mg (built from the row's grid and wavenumber) whatever this says",
    )
    parser.add_argument(
        "--budget", type=float, help="seconds per backend and row (default 60, quick 10)"
    )
    parser.add_argument("--tolerance", type=float, default=1e-8, help="relative residual")
    parser.add_argument("--seed", type=int, default=0, help="the samples' base seed")
    parser.add_argument("--no-auto", action="store_true", help="skip the auto race")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    print("command: python " + " ".join(sys.argv))
    machine = platform.processor() or platform.machine()
    versions = package_versions(("numpy", "scipy", "pyamg", "jaxsciml"))
    print(f"machine: {machine}, {os.cpu_count()} CPUs; {versions}")
    budget = args.budget or (10.0 if args.quick else 60.0)
    print(
        f"tolerance {args.tolerance}, Krylov preconditioners {args.preconditioners}, budget "
        f"{budget} s per backend and row, single-threaded BLAS"
    )
    warm_up(args.preconditioners, args.tolerance)
    results = []
    for row in rows(args.quick):
        if args.rows and not any(word in row.name for word in args.rows):
            continue
        if args.systems:
            row = dataclasses.replace(row, systems=args.systems)
        result = run_row(
            row, args.preconditioners, args.tolerance, args.seed, not args.no_auto, budget
        )
        print_row(result)
        sys.stdout.flush()
        results.append(result)
        if result.get("interrupted"):
            break
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
