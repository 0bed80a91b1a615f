"""The fault suite of training: `jaxsciml train` killed by SIGKILL, then resumed."""

import json
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import datagen
from jaxsciml import cli, config as jconfig, experiment, load_model


def arrays(model):
    return [np.asarray(x) for x in jax.tree.leaves(model) if hasattr(x, "shape")]


def latest_step(run) -> int:
    """The newest checkpoint's step (0 before the first)."""
    steps = [int(p.name) for p in (run / "checkpoints").glob("*") if p.name.isdigit()]
    return max(steps, default=0)


@pytest.mark.slow
def test_a_run_killed_at_random_moments_resumes_to_the_uninterrupted_model(tmp_path):
    """Two SIGKILLs at random moments of `jaxsciml train` (mid-step, mid-checkpoint, ...), each
    followed by `--resume`: the final model is bitwise the uninterrupted one, and the metrics
    log holds each epoch once."""
    data = tmp_path / "data"
    datagen.generate("antiderivative", 40, data, sensors=8, fine=50, workers=1, progress=False)
    settings = [
        "model.name='deeponet'", "model.branch_widths=[8]", "model.trunk_widths=[8]",
        "data.n_train=32", "data.n_test=8", "train.batch_size=8", "train.epochs=30",
        "train.checkpoint_every=1", "train.keep=2",
    ]  # fmt: skip
    arguments = ["--data", str(data)] + [w for s in settings for w in ("--set", s)]
    overrides = [("data", "path", str(data)), ("data", "generate", {})] + settings
    straight, _ = experiment.train(jconfig.load(None, overrides), tmp_path / "a", progress=False)

    run, rng = tmp_path / "b", np.random.default_rng(0)
    command = [sys.executable, "-m", "jaxsciml.cli", "train", "--run-dir", str(run), *arguments]
    for kill in range(2):
        resume = ["--resume"] if kill else []
        before = latest_step(run)
        process = subprocess.Popen(command + resume, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while latest_step(run) <= before and process.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert not (run / "model.jsm").exists(), "the kill should land mid-run"
    assert cli.main(["train", "--run-dir", str(run), *arguments, "--resume"]) == 0
    for x, y in zip(arrays(load_model(run / "model.jsm")), arrays(straight)):
        np.testing.assert_array_equal(x, y)
    epochs = [
        json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()
    ]
    assert epochs == list(range(1, 31))
