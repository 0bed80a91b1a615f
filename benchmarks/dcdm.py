"""DCDM against CG, Jacobi-PCG, AMG-PCG and POD-deflated CG on Poisson and Darcy.

Question (issue 23): does the deep conjugate direction method (Kaneda et al., ICML 2023) reach
a tolerance in few iterations, growing little with the grid and on systems it was not trained
on, and is it faster in time than the classical iterations?

Protocol: one network per problem, trained on the Ritz-vector right-hand sides of one reference
matrix at `--train-size`² (Poisson: a = 1; Darcy: one lognormal coefficient field), with the
paper's loss and Adam. Then, for other samples of the family (Darcy: other coefficient fields,
never seen) at each size, every method solves `A x = b` (b the family's forcing) from zero to
relative residuals 1e-6 and 1e-8: iterations (DCDM: network applications) and seconds. The
deflated CG takes `--pod` POD modes of `--pod-snapshots` solutions of other samples (the cheap
data-driven baseline of krylov.md §5.2). Single-threaded BLAS; the network runs on XLA:CPU.

    python benchmarks/dcdm.py --quick      # 32² training, sizes 32² and 64², ~3 minutes
    python benchmarks/dcdm.py              # 64² training, sizes 64², 128², 256²
    python benchmarks/dcdm.py --dim 3      # 16³ training, sizes 16³, 24³, 32³ (the paper's 3-D)
"""

import argparse
import sys
import time

import numpy as np
import pyamg
import scipy.sparse.linalg as spla
from common import print_run_header
from threadpoolctl import threadpool_limits

from datagen.dcdm_network import network_direction, train_direction_network
from datagen.generator import sample_rng
from datagen.krylov import dcdm
from datagen.problems import make_problem


FAMILIES = {"poisson": dict(name="poisson", contrast=0.0), "darcy": dict(name="darcy")}


def system(family: str, size: int, index: int, dim: int = 2):
    """`(A, b)` of sample `index` of `family` with `size ** dim` unknowns."""
    options = dict(FAMILIES[family])
    problem = make_problem(options.pop("name"), resolution=size + 2, dim=dim, **options)
    assembled = problem.assemble(problem.sample(sample_rng(1, index)))
    return assembled.matrix.tocsr(), assembled.rhs


def cg_run(matrix, rhs, tolerance, preconditioner=None):
    """Iterations and seconds of SciPy's CG from zero to `tolerance` (relative to ‖b‖)."""
    count = [0]
    start = time.perf_counter()
    x, _ = spla.cg(
        matrix, rhs, rtol=tolerance, maxiter=20_000, M=preconditioner,
        callback=lambda _: count.__setitem__(0, count[0] + 1),
    )  # fmt: skip
    seconds = time.perf_counter() - start
    converged = np.linalg.norm(rhs - matrix @ x) <= 1.01 * tolerance * np.linalg.norm(rhs)
    return count[0] if converged else None, seconds


def deflated_cg(matrix, rhs, tolerance, modes):
    """CG with the initial guess and projection of deflation by `modes` `(n, k)`
    (Saad et al.'s deflated CG): iterations and seconds, the set-up included."""
    start = time.perf_counter()
    aw = matrix @ modes
    small = np.linalg.inv(modes.T @ aw)

    def project(v):  # v - W (Wᵀ A W)⁻¹ (A W)ᵀ v: the part A-orthogonal to the modes
        return v - modes @ (small @ (aw.T @ v))

    x0 = modes @ (small @ (modes.T @ rhs))
    r = rhs - matrix @ x0
    x, p = x0.copy(), project(r)
    rr, iterations, target = r @ r, 0, tolerance * np.linalg.norm(rhs)
    while np.sqrt(rr) > target and iterations < 20_000:
        ap = matrix @ p
        alpha = rr / (p @ ap)
        x += alpha * p
        r -= alpha * ap
        new = r @ r
        p = project(r) + (new / rr) * p
        rr, iterations = new, iterations + 1
    return iterations, time.perf_counter() - start


def dcdm_run(matrix, rhs, tolerance, direction):
    start = time.perf_counter()
    outcome = dcdm(
        lambda v: matrix @ v, rhs, direction, tolerance * np.linalg.norm(rhs), max_iterations=500
    )
    seconds = time.perf_counter() - start
    converged = outcome.residual_norm <= tolerance * np.linalg.norm(rhs)
    return outcome.iterations if converged else None, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="32² training, sizes 32² and 64² (~3 minutes)"
    )
    parser.add_argument("--train-size", type=int, default=None, help="default 64, quick 32")
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="grid sizes to test")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default 3000)")
    parser.add_argument("--pod", type=int, default=16, help="POD modes that deflate CG")
    parser.add_argument(
        "--pod-snapshots",
        type=int,
        default=40,
        help="solutions of other samples the POD is taken from",
    )
    parser.add_argument(
        "--families", nargs="*", default=list(FAMILIES), help="problem families to run"
    )
    parser.add_argument("--dim", type=int, default=2, choices=(2, 3), help="spatial dimension")
    args = parser.parse_args()
    dim = args.dim
    train_size = args.train_size or (16 if dim == 3 else 32 if args.quick else 64)
    sizes = args.sizes or ([16, 24, 32] if dim == 3 else [32, 64] if args.quick else [64, 128, 256])
    steps = args.steps or (1000 if dim == 3 else 1500 if args.quick else 3000)
    power = "²" if dim == 2 else "³"
    print_run_header(["jax", "numpy", "scipy", "pyamg"])
    for family in args.families:
        reference, _ = system(family, train_size, 0, dim)
        start = time.perf_counter()
        network, losses = train_direction_network(
            reference, (train_size,) * dim, steps=steps, samples=4000, ritz=400
        )
        print(
            f"\n{family}: network trained at {train_size}{power} in "
            f"{time.perf_counter() - start:.0f} s "
            f"({steps} steps, loss {losses[0]:.3g} -> {losses[-1]:.3g})"
        )
        print(f"{'size':>6s} {'method':>16s} {'it 1e-6':>8s} {'s 1e-6':>8s} {'it 1e-8':>8s} "
              f"{'s 1e-8':>8s}")  # fmt: skip
        for size in sizes:
            matrix, rhs = system(family, size, 1, dim)  # a sample the network never saw
            snapshots = np.stack(
                [
                    spla.spsolve(*system(family, size, 100 + i, dim))
                    for i in range(args.pod_snapshots)
                ]
            )
            modes = np.linalg.svd(snapshots.T, full_matrices=False)[0][:, : args.pod]
            amg = pyamg.smoothed_aggregation_solver(matrix).aspreconditioner(cycle="V")
            jacobi = spla.LinearOperator(matrix.shape, lambda v, d=1 / matrix.diagonal(): d * v)
            direction = network_direction(network, (size,) * dim)
            direction(rhs / np.linalg.norm(rhs))  # compile for this size before timing
            methods = {
                "CG": lambda t: cg_run(matrix, rhs, t),
                "Jacobi-PCG": lambda t: cg_run(matrix, rhs, t, jacobi),
                "AMG-PCG": lambda t: cg_run(matrix, rhs, t, amg),
                f"POD({args.pod})-CG": lambda t: deflated_cg(matrix, rhs, t, modes),
                "DCDM": lambda t: dcdm_run(matrix, rhs, t, direction),
            }
            with threadpool_limits(1):
                for name, run in methods.items():
                    cells = []
                    for tolerance in (1e-6, 1e-8):
                        iterations, seconds = run(tolerance)
                        cells += ["-" if iterations is None else str(iterations), f"{seconds:.3f}"]
                    cells = " ".join(f"{c:>8s}" for c in cells)
                    print(f"{size:>5d}{power} {name:>16s} {cells}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
