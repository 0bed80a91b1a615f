"""The `jaxsciml` command: datagen, train, evaluate, demo. Each subcommand calls the library."""

import argparse
import json
import sys


def _datagen(args) -> None:
    import datagen

    options = {"resolution": args.resolution, "dim": args.dim, "coefficient": args.coefficient}
    report = datagen.generate(
        args.problem,
        args.n,
        args.out,
        seed=args.seed,
        shard_size=args.shard_size,
        solver=args.solver,
        tolerance=args.tolerance,
        **options,
    )
    print(
        f"{report.num_samples} samples in {report.directory}: {report.shards_written} shards "
        f"written, {report.shards_skipped} already there, {report.seconds:.1f} s, largest "
        f"relative residual {report.max_relative_residual:.1e}"
    )


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
    gen.add_argument("problem", help="problem family, e.g. darcy")
    gen.add_argument("--n", type=int, required=True, help="number of samples")
    gen.add_argument("--out", required=True, help="dataset directory")
    gen.add_argument("--resolution", type=int, default=64, help="grid points per axis")
    gen.add_argument("--dim", type=int, default=2)
    gen.add_argument("--coefficient", default="piecewise", help="piecewise or lognormal")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--shard-size", type=int, default=256)
    gen.add_argument("--solver", default="direct")
    gen.add_argument("--tolerance", type=float, default=1e-10)
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
    ev.add_argument("run_dir")
    ev.add_argument("data", help="dataset directory, at the training grid or a finer one")
    ev.add_argument("--stride", type=int, default=1)
    ev.add_argument("--skip", type=int, default=0, help="leave out the first samples (training)")
    ev.add_argument("--n", type=int, default=None, help="evaluate n samples only")
    ev.set_defaults(run=_evaluate)

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
