"""The `jaxsciml` command: datagen, train, evaluate, refine, plot, models, check, demo. Each
calls the library."""

import argparse
import inspect
import json
import sys
from pathlib import Path


def _whole(lowest: int):
    """An argparse type: a whole number of at least `lowest` (argparse names the flag)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be at least {lowest}, got {value}")
        return value

    return parse


POSITIVE, NON_NEGATIVE = _whole(1), _whole(0)


def _option_value(text: str):
    """A `--option key=value` value: JSON when it parses (numbers, lists as tuples, booleans,
    objects), else text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(value) if isinstance(value, list) else value


def _datagen(args) -> None:
    import datagen

    options = {
        name: value
        for name, value in vars(args).items()
        if name.startswith(OPTION_PREFIX) and value is not None
    }
    options = {name.removeprefix(OPTION_PREFIX): value for name, value in options.items()}
    for item in args.option:
        key, _, value = item.partition("=")
        options[key.replace("-", "_")] = _option_value(value)
    report = datagen.generate(
        args.family,
        args.n,
        args.out,
        seed=args.seed,
        shard_size=args.shard_size,
        workers=args.workers,
        part=(args.shard, args.num_shards),
        progress=not args.quiet,
        **options,
    )
    failed = f", {len(report.failed_samples)} failed" if report.failed_samples else ""
    solver = (
        f", {report.matvecs} matrix-vector products, largest relative residual "
        f"{report.max_relative_residual:.1e}"
        if report.matvecs
        else ""
    )
    print(
        f"{report.num_samples} samples in {report.directory} ({report.backend}{failed}): "
        f"{report.shards_written} shards written, {report.shards_skipped} already there, "
        f"{report.seconds:.1f} s{solver}"
    )
    for entry in report.race:
        on = f" on {entry.samples} samples" if entry.samples else ""
        result = f"{entry.seconds:.3f} s{on}" if entry.seconds is not None else entry.note
        print(f"  race: {entry.solver().label} {result}")


OPTION_PREFIX = "option_"  # argparse destinations of family options, apart from the common ones


DATAGEN_HELP = "generate a PDE dataset (resumable); `jaxsciml datagen --help` lists the families"


def _add_datagen(commands) -> None:
    """`jaxsciml datagen FAMILY ...`: a sub-command per registered family, its options as flags."""
    import datagen
    from datagen.generate import default_text

    gen = commands.add_parser(
        "datagen",
        help=DATAGEN_HELP,
        description="Generate a dataset of a registered family into sharded HDF5 files. A killed "
        "run restarts where it stopped; --shard/--num-shards split the shards between machines.",
        epilog="families and their options (defaults):\n\n" + datagen.describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    families = gen.add_subparsers(dest="family", required=True, metavar="FAMILY")
    for entry in datagen.FAMILIES.values():
        documentation = "\n\n".join(inspect.cleandoc(cls.__doc__ or "") for cls in entry.settings)
        one = families.add_parser(
            entry.name,
            help=entry.summary,
            description=f"{entry.summary}\n\n{documentation}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        common = one.add_argument_group("every family")
        common.add_argument("--n", type=POSITIVE, required=True, help="number of samples")
        common.add_argument("--out", required=True, help="dataset directory")
        common.add_argument(
            "--seed", type=NON_NEGATIVE, default=0, help="sample i uses the stream [seed, i]"
        )
        common.add_argument(
            "--shard-size",
            type=POSITIVE,
            help="samples per shard (default: as begun, or the family's)",
        )
        common.add_argument("--workers", type=POSITIVE, help="local processes (default: all cores)")
        common.add_argument(
            "--shard", type=NON_NEGATIVE, default=0, help="this machine's share i of N"
        )
        common.add_argument(
            "--num-shards", type=POSITIVE, default=1, help="machines sharing the run"
        )
        common.add_argument("--quiet", action="store_true", help="no progress bar")
        common.add_argument(
            "--option", action="append", default=[], metavar="KEY=VALUE",
            help="any option as KEY=VALUE (JSON values: numbers, lists, objects)",
        )  # fmt: skip
        own = one.add_argument_group(f"{entry.name} options (JSON values where not plain text)")
        for field in entry.options():
            own.add_argument(
                "--" + field.name.replace("_", "-"),
                dest=OPTION_PREFIX + field.name,
                type=_option_value,
                metavar=field.name.upper(),
                help=f"default {default_text(field)}",
            )
    gen.set_defaults(run=_datagen)


def _train(args) -> None:
    from jaxsciml import config as jconfig, keep_host_memory, parallel
    from jaxsciml.experiment import train

    keep_host_memory(share_heap=True)  # a long run: its steps outweigh the slower compiling
    if args.distributed:
        parallel.initialize_distributed()
    overrides = list(args.set)
    if args.data:  # an existing dataset: the configuration's recipe for making one is moot
        overrides += [("data", "path", args.data), ("data", "generate", {})]
    if args.epochs is not None:
        overrides.append(("train", "epochs", args.epochs))
    config = jconfig.load(args.config, overrides)
    _, history = train(config, args.run_dir, resume=args.resume)
    print(json.dumps(history[-1]))


def _evaluate(args) -> None:
    from jaxsciml.experiment import evaluate_run

    source = Path(args.run_dir)
    out = args.out or (source.parent if source.is_file() else source)
    options = _format_options(args.option) if args.option else None
    scores = evaluate_run(
        args.run_dir, args.data, stride=args.stride, skip=args.skip, n=args.n, out=out,
        format=args.format, options=options,
    )  # fmt: skip
    print(json.dumps(scores))


def _refine(args) -> None:
    from jaxsciml.refiner import refine_run

    source = Path(args.run_dir)
    out = args.out or (source.parent if source.is_file() else source)
    settings = dict(steps=args.steps, weight_learning_rate=args.weight_learning_rate,
                    bias_learning_rate=args.bias_learning_rate)  # fmt: skip
    options = _format_options(args.option) if args.option else None
    report = refine_run(
        args.run_dir, args.data, skip=args.skip, n=args.n, out=out, options=options, **settings
    )
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}))


def _format_options(texts: list[str]) -> dict:
    """`--option key=value` flags as a dict, each value read as TOML (bare words: strings)."""
    from jaxsciml.config import toml_value

    options = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"an option looks like key=value, got {text!r}")
        options[key.strip()] = toml_value(value)
    return options


def _convert(args) -> None:
    import jaxsciml.data as jdata

    dataset = jdata.load(args.source, format=args.format, **_format_options(args.option))
    out = jdata.convert(
        dataset,
        args.out,
        to=args.to,
        constant_channels=args.constant_channels,
        dataset_name=args.name,
        shard_size=args.shard_size,
        progress=True,
    )
    print(f"{len(dataset)} samples of {args.source} written to {out} ({args.to})")


def _plot(args) -> None:
    from jaxsciml.experiment import plot_run

    print(f"figures redrawn in {plot_run(args.run_dir)}")


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

    result = run_demo(args.out, epochs=args.epochs, n_train=args.n_train, n_test=args.n_test)
    print(
        f"test relative L2 at the training grid: {result.test_relative_l2:.4f}\n"
        f"zero-shot relative L2 on the finer grid: {result.fine_relative_l2:.4f}\n"
        f"training took {result.train_seconds:.0f} s; figure: {result.figure}"
    )


def _add_format_flags(command: argparse.ArgumentParser, format_help: str) -> None:
    """`--format` and `--option KEY=VALUE` (repeatable): how `jaxsciml.data.load` reads data."""
    command.add_argument("--format", help=format_help)
    command.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the format, e.g. n_steps_output=4 or layout='n h w'",
    )


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser. Given the words `argv` it will parse, it builds the `datagen`
    families' sub-commands (which import `datagen`) only for a `datagen` command, so that every
    other command, and `--help`, answers at once."""
    main = argparse.ArgumentParser(prog="jaxsciml", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)

    if argv is None or argv[:1] == ["datagen"]:
        _add_datagen(commands)
    else:
        commands.add_parser("datagen", help=DATAGEN_HELP, add_help=False)

    tr = commands.add_parser("train", help="train an operator from a TOML configuration")
    tr.add_argument("config", nargs="?", default=None, help="TOML file (defaults if omitted)")
    tr.add_argument("--run-dir", required=True, help="checkpoints, metrics and config go here")
    tr.add_argument(
        "--data",
        help="dataset directory to train on (overrides [data] path; [data] generate is not used)",
    )
    tr.add_argument("--epochs", type=POSITIVE, help="overrides [train] epochs")
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
    ev.add_argument(
        "--stride", type=POSITIVE, default=1, help="sub-sample the grid by this stride (default 1)"
    )
    ev.add_argument(
        "--skip", type=NON_NEGATIVE, default=0, help="leave out the first samples (training)"
    )
    ev.add_argument("--n", type=POSITIVE, default=None, help="evaluate n samples only")
    ev.add_argument(
        "--out", help="where the scores and a sample's figure go (default: beside the model)"
    )
    _add_format_flags(ev, "the dataset's format (default: the run's [data] format, or recognised)")
    ev.set_defaults(run=_evaluate)

    rf = commands.add_parser(
        "refine",
        help="Spectral-Refiner: refine a trained SFNO on each Navier-Stokes window (no target)",
    )
    rf.add_argument("run_dir", help="a run directory of an SFNO, or its .jsm file")
    rf.add_argument("data", help="a datagen navier_stokes dataset (windows as the run cuts them)")
    rf.add_argument("--skip", type=NON_NEGATIVE, default=0, help="leave out the first windows")
    rf.add_argument("--n", type=POSITIVE, default=None, help="refine n windows only")
    rf.add_argument("--steps", type=NON_NEGATIVE, default=50, help="Adam steps per window")
    rf.add_argument(
        "--weight-learning-rate", type=float, default=1e-4,
        help="Adam's rate for the output layer's weights (default 1e-4, the paper's)",
    )  # fmt: skip
    rf.add_argument(
        "--bias-learning-rate", type=float, default=0.2,
        help="Adam's rate for its spectral bias (default 0.2, the paper's)",
    )  # fmt: skip
    rf.add_argument("--out", help="where refinement-<data>.json goes (default: the run)")
    rf.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE",
        help="how windows are cut, instead of the run's: n_steps_input=10, n_steps_output=20",
    )  # fmt: skip
    rf.set_defaults(run=_refine)

    cv = commands.add_parser(
        "convert", help="write a dataset in The Well's layout (or as datagen shards)"
    )
    cv.add_argument("source", help="a dataset in any format jaxsciml reads (jaxsciml.data.load)")
    cv.add_argument("out", help="the .hdf5 file to write (with --to jaxsciml: a new folder)")
    cv.add_argument(
        "--to", choices=("the_well", "jaxsciml"), default="the_well", help="default the_well"
    )
    _add_format_flags(cv, "the source's format (default: recognised by its content)")
    cv.add_argument(
        "--constant-channels",
        type=NON_NEGATIVE,
        help="input channels constant in time (default: from a datagen dataset's provenance)",
    )
    cv.add_argument("--name", help="The Well's dataset_name (default: the source's problem)")
    cv.add_argument(
        "--shard-size", type=POSITIVE, default=256, help="samples per shard with --to jaxsciml"
    )
    cv.set_defaults(run=_convert)

    pl = commands.add_parser("plot", help="redraw a run's figures (loss curves, a test sample)")
    pl.add_argument("run_dir", help="a training run directory")
    pl.set_defaults(run=_plot)

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
    demo.add_argument("--out", default="jaxsciml-demo", help="directory for data, run and plots")
    demo.add_argument("--epochs", type=POSITIVE, default=50, help="default 50")
    demo.add_argument(
        "--n-train", type=POSITIVE, default=500, help="training samples (default 500)"
    )
    demo.add_argument("--n-test", type=POSITIVE, default=100, help="test samples (default 100)")
    demo.set_defaults(run=_demo)
    return main


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors a command reports as one line (exit 2) rather than a traceback: what a user
    can fix (settings, files, data). `ConfigError` and `CheckpointMismatchError` are
    `ValueError`s. Imported after the command ran, so `--help` loads nothing."""
    from datagen.format import DatasetFileError

    return (DatasetFileError, OSError, ValueError)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser(argv).parse_args(argv)
    try:
        args.run(args)
    except Exception as error:
        if not isinstance(error, _user_errors()):
            raise
        print(f"jaxsciml {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
