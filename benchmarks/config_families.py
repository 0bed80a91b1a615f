"""Every shipped configuration trained for a few epochs at a small size: does each registered family
train from its TOML file, and how long does a short run take?

    python benchmarks/config_families.py [--only darcy_fno,pig_helmholtz] [--out runs/families]

Each file of `configs/` is loaded as a user would (`jaxsciml.config.load`), then shrunk: fewer
samples, a smaller grid where the data are generated (the `[data] generate` table), a few epochs,
fewer collocation points. The table gives the training loss of the first and the last epoch, the
final test error and the seconds of `jaxsciml.experiment.train` (data generation included).
These are smoke-sized runs, not the papers' protocols: the errors say that training moves, not
what the model reaches.
"""

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import jax

from jaxsciml import config as jconfig
from jaxsciml.experiment import train


ROOT = Path(__file__).resolve().parents[1]

# per configuration: changes to [data] generate, [data], [data] collocation and [train]
SMALL = {
    "darcy": dict(generate={"resolution": 33, "solver": "direct"}, data={"stride": 1}),
    "navier_stokes": dict(
        generate={
            "resolution": 64,
            "stored_resolution": 64,
            "time_step": 1e-3,
            "frame_interval": 1.0,
        },  # fmt: skip
        model={"modes": [12, 12]},
    ),
    "antiderivative": dict(generate={}),
    "diffusion_reaction": dict(generate={"nx": 33, "nt": 33, "refine": 2}),
    "heat": dict(generate={"resolution": 17}),
}
SIZES = dict(n_train=64, n_test=16)
EPOCHS = {"grid": 10, "collocation": 300}


def shrink(config: jconfig.Config, directory: Path) -> jconfig.Config:
    """`config` at smoke size, its data in `directory` (one per configuration: two configs of
    one family may generate different data, e.g. Darcy for the FNO and for DGNO)."""
    from jaxsciml import registry

    family = registry.family(config.model["name"])
    data = dataclasses.replace(config.data, extra_eval={})
    model = dict(config.model)
    if config.data.generate:
        kind = config.data.generate["name"]
        small = SMALL.get(kind, {})
        data.generate = {**config.data.generate, **small.get("generate", {})}
        data.path = str(directory)
        data.n_train, data.n_test = SIZES["n_train"], SIZES["n_test"]
        for key, value in small.get("data", {}).items():
            setattr(data, key, value)
        if "modes" in model:
            model.update(small.get("model", {}))
        if data.points_per_step:
            data.points_per_step = min(data.points_per_step, 32)
    if config.data.pde:
        data.collocation = {**config.data.collocation, "interior": 1024, "reference": 40}
        for side in ("boundary", "initial"):
            if data.collocation.get(side):
                data.collocation[side] = 64
    kind = "collocation" if family.data == "collocation" else "grid"
    batch = 1024 if kind == "collocation" else 16
    devices = len(jax.devices())
    batch = -(-batch // devices) * devices
    epochs = EPOCHS[kind]
    train_config = dataclasses.replace(
        config.train,
        epochs=epochs,
        batch_size=batch,
        eval_every=epochs,
        checkpoint_every=epochs,
        decay_every_epochs=max(1, min(config.train.decay_every_epochs, epochs // 2)),
    )
    return jconfig.Config(data=data, model=model, train=train_config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated configuration names (file stems)")
    parser.add_argument("--out", help="keep data and runs here (default: a temporary directory)")
    args = parser.parse_args()
    paths = sorted((ROOT / "configs").glob("*.toml"))
    if args.only:
        wanted = set(args.only.split(","))
        paths = [p for p in paths if p.stem in wanted]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.out or tmp)
        for path in paths:
            config = shrink(jconfig.load(path), root / "data" / path.stem)  # own data each
            start = time.perf_counter()
            _, history = train(config, root / "runs" / path.stem, progress=False)
            seconds = time.perf_counter() - start
            last = history[-1]
            error = {k: v for k, v in last.items() if k.startswith("test.")}
            row = {
                "config": path.stem,
                "model": config.model["name"],
                "epochs": config.train.epochs,
                "first_train_loss": history[0]["train_loss"],
                "train_loss": last["train_loss"],
                **error,
                "seconds": round(seconds, 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| config | model | epochs | train loss first -> last | test error | seconds |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        test = r.get("test.relative_l2", float("nan"))
        print(f"| {r['config']} | {r['model']} | {r['epochs']} | {r['first_train_loss']:.3g} -> "
              f"{r['train_loss']:.3g} | {test:.3g} | {r['seconds']} |")  # fmt: skip
    print(f"\n{jax.devices()}")


if __name__ == "__main__":
    main()
