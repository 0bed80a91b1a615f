"""Spectral-Refiner's second stage (Cao et al., ICLR 2025): an SFNO trained for a few epochs is
refined on each trajectory it predicts, with no reference solution.

Everything but the output spectral layer is frozen (its latent frames are computed once); that
layer is given the grid's whole spectrum (no frequency truncation) and trained on the
a posteriori error estimator of the prediction, `‖r‖_{L²(0,T; H⁻¹)}` of the vorticity residual
(`jaxsciml.physics.vorticity`). The output is linear in that layer's weights, so this loss is
convex in them up to the advection term, which is what the paper argues makes the stage cheap
and reliable. The learning rates default to the paper's notebook: `1e-4` for the weights,
`0.2` for the spectral bias, Adam, 50 steps. On the 32² FNO data of
`benchmarks/spectral_refiner.py` those lowered the error by 9%; ten times both rates and 200
steps lowered it six-fold (0.0105 to 0.0018).

`fit(model.with_output_modes(...), data, loss=VorticityResidualLoss(...),
trainable=output_layer_filter)` runs the same refinement over a dataset instead of per sample;
`refine_run` (`jaxsciml refine RUN DATA`) refines every test window of a trained run.
"""

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float

from datagen.problems.navier_stokes import fno_forcing
from jaxsciml.config import Config
from jaxsciml.operators.files import load_model
from jaxsciml.operators.sfno import SFNO
from jaxsciml.physics.vorticity import vorticity_error_estimator


@dataclasses.dataclass(frozen=True)
class Refinement:
    """What `refine` returns: the refined `model`, its `prediction` `(t_out, n, n)`, and the
    estimator before each step and after the last, `estimates` `(steps + 1,)`."""

    model: SFNO
    prediction: np.ndarray
    estimates: np.ndarray


def full_output_modes(model: SFNO, n: int) -> tuple[int, int, int]:
    """The refinement's default output modes on an `n²` grid: every spatial frequency, and one
    temporal mode more than trained (as the paper's notebook)."""
    return (n // 2, n // 2, model.output.modes[2] + 1)


def refine(
    model: SFNO,
    frames: Float[Array | np.ndarray, " t_in n n"],
    *,
    viscosity: float,
    frame_interval: float,
    forcing: Float[Array | np.ndarray, " n n"] | None = None,
    modes: Sequence[int] | None = None,
    steps: int = 50,
    weight_learning_rate: float = 1e-4,
    bias_learning_rate: float = 0.2,
    shift: float = 0.0,
    out_steps: int | None = None,
) -> Refinement:
    """Refine `model`'s prediction from `frames` (one sample, `frame_interval` apart in the time
    unit of `viscosity`) by `steps` Adam steps on the estimator (see the module docstring).

    `modes`: the output layer's modes `(mx, my, mt)` while refining (default
    `full_output_modes`); `shift`: the `H⁻¹` norm's shift (0: the dual of the `H¹` seminorm).
    """
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps}")
    frames = jnp.asarray(frames)
    n = frames.shape[-1]
    modes = full_output_modes(model, n) if modes is None else tuple(modes)
    model = model.with_output_modes(modes)
    latent = model.latent(frames[None])
    last = frames[-1][None]
    forcing = None if forcing is None else jnp.asarray(forcing, frames.dtype)
    layer, static = eqx.partition(model.output, eqx.is_inexact_array)
    labels = jax.tree.map(lambda _: "weight", layer)
    labels = eqx.tree_at(lambda c: (c.bias_real, c.bias_imag), labels, ("bias", "bias"))
    optimizer = optax.multi_transform(
        {"weight": optax.adam(weight_learning_rate), "bias": optax.adam(bias_learning_rate)},
        lambda _: labels,  # a function: the labels are a module, which optax would call
    )

    def predict(layer):
        refined = eqx.tree_at(lambda m: m.output, model, eqx.combine(layer, static))
        return refined.decode(last, latent, out_steps)[0]

    def estimate(layer):
        trajectory = jnp.concatenate([frames[-1:], predict(layer)])
        return vorticity_error_estimator(
            trajectory, frame_interval, viscosity, forcing, shift=shift
        )

    @jax.jit
    def step(layer, state):
        value, gradient = jax.value_and_grad(estimate)(layer)
        updates, state = optimizer.update(gradient, state, layer)
        return optax.apply_updates(layer, updates), state, value

    state = optimizer.init(layer)
    estimates = []
    for _ in range(steps):
        layer, state, value = step(layer, state)
        estimates.append(float(value))
    estimates.append(float(jax.jit(estimate)(layer)))
    refined = eqx.tree_at(lambda m: m.output, model, eqx.combine(layer, static))
    prediction = np.asarray(jax.jit(predict)(layer))
    return Refinement(refined, prediction, np.asarray(estimates))


def refine_run(
    source: str | os.PathLike,
    data_path: str | os.PathLike,
    *,
    skip: int = 0,
    n: int | None = None,
    out: str | os.PathLike | None = None,
    options: dict | None = None,
    **settings,
) -> dict:
    """`refine` on every window of a Navier-Stokes dataset (from `skip` on, `n` of them): the
    trained SFNO of a run directory (or an SFNO's `.jsm` file), the windows as the run's
    `[data] options` cut them, the viscosity and frame interval from the dataset's record, the
    FNO forcing (`options`: the windows' `jaxsciml.data.load` options instead of the run's,
    e.g. `{"n_steps_input": 10, "n_steps_output": 20}`). `settings` go to `refine`. Returns
    (and with `out` writes to `out/refinement-<dataset>.json`) the mean relative L2 error and
    estimator before and after, and the same per sample."""
    from jaxsciml.experiment import load_data, load_run

    if Path(source).is_file():
        config, model = Config(), load_model(source)
    else:
        config, model = load_run(source)
    if options is not None:
        config = dataclasses.replace(
            config, data=dataclasses.replace(config.data, options=dict(options))
        )
    if not isinstance(model, SFNO):
        raise ValueError(
            f"refinement needs a trained SFNO; {source} holds a {type(model).__name__}"
        )
    dataset = load_data(config, data_path)
    parameters = dataset.metadata.get("parameters", {})
    if "viscosity" not in parameters or "frame_interval" not in parameters:
        raise ValueError(
            f"{data_path} does not record viscosity and frame_interval (a datagen navier_stokes "
            "dataset does)"
        )
    if not 0 <= skip < len(dataset):
        raise ValueError(f"skip must lie in [0, {len(dataset)}), got {skip}")
    count = len(dataset) - skip if n is None else min(n, len(dataset) - skip)
    forcing = fno_forcing(dataset.input_shape[-1])
    rows = []
    for index in range(skip, skip + count):
        sample = dataset[index]
        x, y = np.asarray(sample.inputs), np.asarray(sample.outputs)
        before = np.asarray(model(jnp.asarray(x), y.shape[0]))
        result = refine(
            model, x, viscosity=parameters["viscosity"],
            frame_interval=parameters["frame_interval"], forcing=forcing,
            out_steps=y.shape[0], **settings,
        )  # fmt: skip
        rows.append({
            "sample": index,
            "error_before": float(np.linalg.norm(before - y) / np.linalg.norm(y)),
            "error_after": float(np.linalg.norm(result.prediction - y) / np.linalg.norm(y)),
            "estimator_before": float(result.estimates[0]),
            "estimator_after": float(result.estimates[-1]),
        })  # fmt: skip
    summary = {key: float(np.mean([r[key] for r in rows])) for key in rows[0] if key != "sample"}
    report = {**summary, "samples": rows}
    if out is not None:
        path = Path(out) / f"refinement-{Path(data_path).name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1) + "\n")
    return report
