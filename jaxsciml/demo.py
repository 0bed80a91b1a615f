"""`jaxsciml demo`: generate Darcy data, train an FNO, evaluate it on the training grid and on a
finer one, and plot a test sample: the whole toolkit, small, in a minute or two on a laptop."""

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt

import datagen
from jaxsciml import config as jconfig, data as jdata
from jaxsciml.experiment import evaluate_run, load_run, train
from jaxsciml.plotting import plot_history, plot_prediction


@dataclasses.dataclass(frozen=True)
class DemoResult:
    test_relative_l2: float
    fine_relative_l2: float
    train_seconds: float
    figure: Path
    run_dir: Path


def run_demo(
    out: str = "jaxsciml-demo",
    *,
    n_train: int = 500,
    n_test: int = 100,
    resolution: int = 33,
    fine_resolution: int = 65,
    epochs: int = 50,
    seed: int = 0,
    progress: bool | None = None,
) -> DemoResult:
    """Run the demo into the directory `out` and return its errors and the figure's path.

    Darcy flow with the FNO protocol's two-valued coefficient on a `resolution`² grid, an FNO
    (8 modes, width 32, 4 layers, 10% padding) trained for `epochs` epochs in batches of about 20
    (a multiple of the device count) with the paper's optimizer on a schedule compressed to the
    run (halving every `epochs/5`), then evaluated zero-shot on `fine_resolution`² data from the
    same distribution.
    """
    out = Path(out)
    shown = progress is not False  # messages and the generator's bars: on unless switched off
    say = print if shown else (lambda *a, **k: None)
    say(f"1/4 generating {n_train + n_test} Darcy samples at {resolution}x{resolution} ...")
    coarse, fine = out / f"darcy{resolution}", out / f"darcy{fine_resolution}"
    # The direct solver is the fastest at these sizes, and exact data keep the demo reproducible.
    datagen.generate(
        "darcy",
        n_train + n_test,
        coarse,
        resolution=resolution,
        seed=seed,
        solver="direct",
        progress=shown,
    )
    datagen.generate(
        "darcy",
        n_test,
        fine,
        resolution=fine_resolution,
        seed=seed + 1,
        solver="direct",
        progress=shown,
    )
    devices = jax.device_count()  # each batch splits evenly over them: 20 on one, 16 on eight
    batch_size = max(devices, min(n_train, 20) // devices * devices)
    config = jconfig.load(
        overrides=[
            ("data", "path", str(coarse)),
            ("train", "batch_size", batch_size),
            ("data", "n_train", n_train),
            ("data", "n_test", n_test),
            ("model", "modes", [8, 8]),
            ("model", "padding", 0.1),
            ("train", "epochs", epochs),
            ("train", "decay_every_epochs", max(1, epochs // 5)),
            ("train", "checkpoint_every", max(1, epochs // 5)),
            ("train", "seed", seed),
        ]
    )
    run_dir = out / "run"
    say(f"2/4 training an FNO for {epochs} epochs (devices: {jax.devices()}) ...")
    started = time.perf_counter()
    _, history = train(config, run_dir, resume=True, progress=progress)
    seconds = time.perf_counter() - started
    say("3/4 evaluating on the training grid and zero-shot on the finer grid ...")
    test_error = history[-1]["test.relative_l2"]
    fine_error = evaluate_run(run_dir, fine)["relative_l2"]
    say("4/4 plotting a test sample ...")
    _, model = load_run(run_dir)
    sample = jdata.load(fine)[0]
    prediction = model(jnp.asarray(sample.inputs))
    figure_path = out / "demo.png"
    figure = plot_prediction(
        sample.inputs,
        sample.outputs,
        prediction,
        title=f"FNO trained at {resolution}x{resolution}, evaluated at "
        f"{fine_resolution}x{fine_resolution}",
        path=figure_path,
    )
    plt.close(figure)
    plt.close(plot_history(history, path=out / "history.png"))
    return DemoResult(test_error, fine_error, seconds, figure_path, run_dir)
