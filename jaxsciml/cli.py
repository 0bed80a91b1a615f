"""The `jaxsciml` command: datagen, train, evaluate, models, check, demo. Each calls the library."""

import argparse
import json
import sys


def _option_value(text: str):
    """A `--option key=value` value: JSON when it parses (numbers, lists, booleans), else text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _datagen(args) -> None:
    import datagen

    options = {} if args.resolution is None else {"resolution": args.resolution}
    for item in args.option:
        key, _, value = item.partition("=")
        options[key.replace("-", "_")] = _option_value(value)
    if args.problem == "navier_stokes":
        paths = datagen.generate_navier_stokes(
            args.n, args.out, seed=args.seed, shard_size=args.shard_size, **options
        )
        print(f"{args.n} Navier-Stokes trajectories in {args.out} ({len(paths)} shards)")
        return
    options = {"resolution": 64, "dim": args.dim, **options}
    solver_options = {"preconditioner": args.preconditioner} if args.preconditioner else None
    report = datagen.generate(
        args.problem,
        args.n,
        args.out,
        seed=args.seed,
        shard_size=args.shard_size,
        solver=args.solver,
        tolerance=args.tolerance,
        solver_options=solver_options,
        sort=args.sort,
        workers=args.workers,
        part=(args.shard, args.num_shards),
        on_failure=args.on_failure,
        **options,
    )
    failed = f", {len(report.failed_samples)} failed" if report.failed_samples else ""
    print(
        f"{report.num_samples} samples in {report.directory} ({report.backend}{failed}): "
        f"{report.shards_written} shards written, {report.shards_skipped} already there, "
        f"{report.seconds:.1f} s, {report.matvecs} matrix-vector products, largest relative "
        f"residual {report.max_relative_residual:.1e}"
    )
    for entry in report.race:
        result = f"{entry.seconds:.3f} s" if entry.seconds is not None else entry.note
        print(f"  race: {entry.name} {entry.options or ''} {result}")


def _train(args) -> None:
    from jaxsciml import config as jconfig, parallel
    from jaxsciml.experiment import train

    if args.distributed:
        parallel.initialize_distributed()
    overrides = list(args.set)
    if args.data:
        overrides.append(("data", "path", args.data))
    if args.epochs:
        overrides.append(("train", "epochs", args.epochs))
    config = jconfig.load(args.config, overrides)
    _, history = train(config, args.run_dir, resume=args.resume)
    print(json.dumps(history[-1]))


def _evaluate(args) -> None:
    from jaxsciml.experiment import evaluate_run

    scores = evaluate_run(args.run_dir, args.data, stride=args.stride, skip=args.skip, n=args.n)
    print(json.dumps(scores))


def _models(args) -> None:
    from jaxsciml import registry

    print(registry.describe())


def _check(args) -> None:
    from jaxsciml import config as jconfig
    from jaxsciml.experiment import check

    config = jconfig.load(args.config, args.set)
    record = check(config)
    print(f"{args.config}: ok ({json.dumps(record)})")


def _demo(args) -> None:
    from jaxsciml.demo import run_demo

    result = run_demo(args.out, epochs=args.epochs)
    print(
        f"test relative L2 at the training grid: {result.test_relative_l2:.4f}\n"
        f"zero-shot relative L2 on the finer grid: {result.fine_relative_l2:.4f}\n"
        f"training took {result.train_seconds:.0f} s; figure: {result.figure}"
    )


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="jaxsciml", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("datagen", help="generate a PDE dataset (resumable)")
    gen.add_argument(
        "problem",
        help="darcy, poisson, helmholtz, convection_diffusion, heat, or navier_stokes (settings "
        "of datagen.NavierStokesSettings as --option, e.g. viscosity=1e-4 frames=30)",
    )
    gen.add_argument("--n", type=int, required=True, help="number of samples")
    gen.add_argument("--out", required=True, help="dataset directory")
    gen.add_argument(
        "--resolution", type=int, help="grid points per axis (64; navier_stokes: solver grid 256)"
    )
    gen.add_argument("--dim", type=int, default=2)
    gen.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a problem setting, e.g. coefficient=lognormal or wavenumber=30 (repeatable)",
    )
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--shard-size", type=int, default=256, help="samples per shard (one chain)")
    gen.add_argument(
        "--solver", default="auto", help="auto, direct, cg-amg, gmres, gcrotmk, gcrodr or skr"
    )
    gen.add_argument("--preconditioner", help="none, jacobi, ilu or amg (Krylov solvers)")
    gen.add_argument("--tolerance", type=float, default=1e-8, help="relative residual")
    gen.add_argument("--sort", default="auto", help="auto, greedy, curve or none")
    gen.add_argument("--workers", type=int, help="local processes (default: all cores)")
    gen.add_argument(
        "--shard", type=int, default=0, help="this machine's share i of --num-shards N"
    )
    gen.add_argument("--num-shards", type=int, default=1, help="machines sharing the run")
    gen.add_argument(
        "--on-failure", default="raise", help="raise, or skip (leave unconverged samples out)"
    )
    gen.set_defaults(run=_datagen)

    tr = commands.add_parser("train", help="train an operator from a TOML configuration")
    tr.add_argument("config", nargs="?", default=None, help="TOML file (defaults if omitted)")
    tr.add_argument("--run-dir", required=True, help="checkpoints, metrics and config go here")
    tr.add_argument("--data", help="dataset directory (overrides [data] path)")
    tr.add_argument("--epochs", type=int, help="overrides [train] epochs")
    tr.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a key"
    )
    tr.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    tr.add_argument(
        "--distributed", action="store_true", help="join a multi-host job (Slurm, TPU pods)"
    )
    tr.set_defaults(run=_train)

    ev = commands.add_parser("evaluate", help="errors of a trained run on a dataset")
    ev.add_argument("run_dir", help="a run directory, or a grid model's .jsm file")
    ev.add_argument("data", help="dataset directory, at the training grid or a finer one")
    ev.add_argument("--stride", type=int, default=1)
    ev.add_argument("--skip", type=int, default=0, help="leave out the first samples (training)")
    ev.add_argument("--n", type=int, default=None, help="evaluate n samples only")
    ev.set_defaults(run=_evaluate)

    models = commands.add_parser("models", help="every model family with its hyperparameters")
    models.set_defaults(run=_models)

    ck = commands.add_parser(
        "check", help="validate a configuration and train two steps on a few samples"
    )
    ck.add_argument("config", help="TOML file")
    ck.add_argument(
        "--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a key"
    )
    ck.set_defaults(run=_check)

    demo = commands.add_parser("demo", help="generate, train, evaluate and plot, small")
    demo.add_argument("--out", default="jaxsciml-demo")
    demo.add_argument("--epochs", type=int, default=50)
    demo.set_defaults(run=_demo)
    return main


def main(argv=None) -> int:
    from datagen import DatasetFileError
    from jaxsciml.config import ConfigError
    from jaxsciml.train import CheckpointMismatchError

    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (
        ConfigError,
        DatasetFileError,
        CheckpointMismatchError,
        FileExistsError,
        FileNotFoundError,
        ValueError,
    ) as error:
        print(f"jaxsciml {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
